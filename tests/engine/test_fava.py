"""Fava, read-only, on a Partida ledger: the real ``fava`` process on 127.0.0.1, asked over HTTP.

Fava is in the ``test`` extra (and the ``fava`` extra for users), so this
runs wherever ``make test`` runs. What Fava must show is computed from the
ledger's own text: every account the chart opens, under its PCG name, and
every link a transaction carries (``^booking-…``, ``^invoice-…``), with
the transactions of a booking found by its link.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import BIN, REPO

EXAMPLE = REPO / "ledgers" / "example"
START_S = 90  # Fava loads the ledger before it answers; bounded


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fava") / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".partida", "sync", "audit"))
    return root


@pytest.fixture(scope="module")
def fava(ledger: Path) -> Iterator[httpx.Client]:
    """A running ``fava --read-only`` on the ledger; its base URL is the ledger's page."""
    port = free_port()
    process = subprocess.Popen([str(BIN / "fava"), "--read-only", "-H", "127.0.0.1", "-p", str(port),
                                str(ledger / "main.beancount")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            slug = _wait_for(http, process)
            http.base_url = httpx.URL(f"http://127.0.0.1:{port}/{slug}/")
            yield http
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait_for(http: httpx.Client, process: subprocess.Popen[bytes]) -> str:
    """The ledger's slug, once Fava answers (it redirects / to the ledger's first page)."""
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            pytest.fail(f"fava exited with {process.returncode}: {output}")
        try:
            response = http.get("/")
        except httpx.TransportError:
            time.sleep(0.3)
            continue
        assert response.status_code == 302, response.text
        return urllib.parse.urlsplit(response.headers["location"]).path.strip("/").split("/")[0]
    pytest.fail(f"fava did not answer within {START_S} s")


def data(http: httpx.Client, path: str, **params: str) -> Any:
    response = http.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def journal_text(ledger: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((ledger / "journal").rglob("*.beancount")))


def test_fava_loads_the_ledger_without_errors_with_the_charts_names(fava: httpx.Client, ledger: Path) -> None:
    assert data(fava, "api/errors") == []
    info = data(fava, "api/ledger_data")
    title = re.search(r'option "title" "([^"]+)"', (ledger / "main.beancount").read_text(encoding="utf-8"))
    assert title is not None and info["options"]["title"] == title.group(1)
    accounts_text = "\n".join(p.read_text(encoding="utf-8") for p in [ledger / "accounts.beancount",
                                                                      *sorted((ledger / "accounts").glob("*"))])
    opened = set(re.findall(r"^\d{4}-\d\d-\d\d open (\S+)", accounts_text, re.M))
    assert "Liabilities:4191-ClientsAcomptes" in opened and "Assets:411-Clients" in opened
    assert opened <= set(info["accounts"])
    # The account page shows the chart's name and its number.
    page = fava.get("account/Liabilities:4191-ClientsAcomptes/")
    assert page.status_code == 200 and "4191-ClientsAcomptes" in page.text


def test_fava_shows_the_booking_links(fava: httpx.Client, ledger: Path) -> None:
    headers = re.findall(r"^\d{4}-\d\d-\d\d [*!] .*$", journal_text(ledger), re.M)
    carried = Counter(link for header in headers for link in re.findall(r"\^(\S+)", header))
    assert any(link.startswith("booking-") for link in carried)
    assert set(data(fava, "api/ledger_data")["links"]) == set(carried)
    booking = max((link for link in carried if link.startswith("booking-")), key=lambda link: carried[link])
    entries = data(fava, "api/journal", filter=f"^{booking}")
    assert len(entries) == carried[booking] > 1
    assert all(booking in entry["links"] for entry in entries)


def test_fava_is_read_only(fava: httpx.Client, ledger: Path) -> None:
    main = ledger / "main.beancount"
    before = main.read_bytes()
    response = fava.put("api/source", json={"file_path": str(main), "source": "; edited\n", "sha256sum": "x"})
    assert response.status_code == 401
    assert main.read_bytes() == before
