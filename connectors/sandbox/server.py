"""Serve a sandbox's ASGI app with uvicorn, on the loopback interface only.

A sandbox accepts any registered client and keeps its tokens in a plain file,
so it must never be reachable from another machine: every entry point refuses
any host but ``127.0.0.1``.

The listening socket is bound here, before uvicorn starts, so port 0 works:
the kernel picks a free port and the caller reads it back at once (tests run
many sandboxes side by side without port clashes).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import uvicorn

from connectors.sandbox.faults import DroppedConnectionError

__all__ = ["LOOPBACK", "bind_loopback", "running", "serve"]

LOOPBACK = "127.0.0.1"
_STARTUP_TIMEOUT_S = 10.0


def bind_loopback(port: int = 0, host: str = LOOPBACK) -> socket.socket:
    """A listening TCP socket on ``127.0.0.1:port`` (0: any free port).

    Raises:
        ValueError: for any other host.
        OSError: when the port is taken.
    """
    if host != LOOPBACK:
        raise ValueError(f"a sandbox only listens on {LOOPBACK}, not {host!r}")
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted
    # sockets whose proto says TCP, and without it every answer written in two
    # parts (headers, body) waits ~40 ms for a delayed ACK.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def base_url_of(sock: socket.socket) -> str:
    """``http://127.0.0.1:<port>`` for a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}"


def serve(
    app: Any,
    port: int = 0,
    *,
    host: str = LOOPBACK,
    on_ready: Callable[[str], None] | None = None,
    log_level: str = "warning",
) -> None:
    """Serve ``app`` until interrupted (SIGINT / SIGTERM stop it gracefully).

    Args:
        app: the ASGI application.
        port: TCP port, 0 for any free one.
        host: must be ``127.0.0.1``.
        on_ready: called with the base URL once the socket is bound.
        log_level: uvicorn's log level.
    """
    sock = bind_loopback(port, host)
    server = uvicorn.Server(_config(app, log_level))
    if on_ready is not None:
        on_ready(base_url_of(sock))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@contextlib.contextmanager
def running(app: Any, *, port: int = 0, host: str = LOOPBACK, log_level: str = "warning") -> Iterator[str]:
    """Run ``app`` in a background thread; yields its base URL.

    The server is stopped, and its thread joined, when the block exits.

    Raises:
        RuntimeError: when the server does not start within 10 s.
    """
    sock = bind_loopback(port, host)
    server = uvicorn.Server(_config(app, log_level))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="sandbox-server", daemon=True)
    thread.start()
    try:
        _wait_started(server, thread)
        yield base_url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=_STARTUP_TIMEOUT_S)
        sock.close()


def _config(app: Any, log_level: str) -> uvicorn.Config:
    _hide_deliberate_drops()
    return uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="off",
        # h11 everywhere: the drop fault relies on its close-on-error behaviour.
        http="h11",
        timeout_graceful_shutdown=2,
    )


def _wait_started(server: uvicorn.Server, thread: threading.Thread) -> None:
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the sandbox server did not start")
        time.sleep(0.005)


class _DropFilter(logging.Filter):
    """Keeps uvicorn from logging a traceback for each injected drop."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnectionError)


def _hide_deliberate_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in logger.filters):
        logger.addFilter(_DropFilter())
