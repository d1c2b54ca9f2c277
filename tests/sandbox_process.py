"""Run a sandbox's ``main`` as a real child process and stop it with Ctrl-C."""

from __future__ import annotations

import contextlib
import selectors
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def sandbox_main(package: str, state: Path, faults: str) -> Iterator[tuple[subprocess.Popen[str], dict]]:
    """Start ``package.main(0, state, faults)``; yield the process and its /sandbox/state.

    On exit the child gets SIGINT (a graceful stop) and is waited for.
    """
    code = f"from {package} import main; main(0, {str(state)!r}, {faults!r})"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=20), "the sandbox printed nothing"
        base = proc.stdout.readline().strip()
        assert base.startswith("http://127.0.0.1:")
        yield proc, httpx.get(base + "/sandbox/state", timeout=10).json()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        if proc.stdout is not None:
            proc.stdout.close()
