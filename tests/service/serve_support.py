"""Helpers for the intake service's tests: real `partida serve` and sandbox processes,
signed requests, and a bounded load of concurrent clients."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from conftest import BIN, REPO, partida

from service.signing import sign

DATE = "2026-06-15"  # one accounting date: Pennylane keeps invoices in date order


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _first_line(proc: subprocess.Popen[str], timeout_s: float, what: str) -> str:
    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        assert selector.select(timeout=timeout_s), f"{what} printed nothing within {timeout_s} s"
    line = proc.stdout.readline().strip()
    assert line, f"{what} exited early (status {proc.poll()})"
    return line


@dataclass
class Env:
    """Per-test configuration folders (tokens and webhook secrets outside the ledgers)."""

    tmp: Path
    vars: dict[str, str] = field(default_factory=dict)

    @classmethod
    def make(cls, tmp: Path, rate: str = "100000/1") -> Env:
        config = tmp / "config"
        return cls(tmp, {"PARTIDA_TOKENS": str(config / "tokens.json"),
                         "PARTIDA_WEBHOOK_SECRETS": str(config / "webhook-secrets.json"),
                         "PARTIDA_RATE_LIMIT": rate})

    def partida(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return partida(*args, env=self.vars, **kw)

    def ledger(self, name: str, policy: str = "debits") -> tuple[Path, str]:
        """A new ledger under ``ledgers/`` and its webhook secret."""
        root = self.tmp / "ledgers" / name
        self.partida("init", "--ledger", str(root), "--company", f"{name} SARL", "--vat-policy", policy, check=True)
        secret = self.partida("secret", "rotate", "--ledger", str(root), check=True).stdout.strip()
        return root, secret


class Sandbox:
    """The Pennylane sandbox as a child process; can be stopped and started on the same port."""

    def __init__(self, tmp: Path, rate_limit: tuple[int, float] | None = None, persist: bool = False):
        self.state = tmp / "sandbox-state.json" if persist else None
        self.rate_limit = rate_limit
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        state = repr(str(self.state)) if self.state else "None"
        code = (f"from connectors.pennylane.sandbox import main; "
                f"main({self.port}, {state}, None, rate_limit={self.rate_limit!r})")
        for _ in range(50):  # the port may still be held for a moment after a stop
            self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE,
                                         stderr=subprocess.DEVNULL, text=True)
            with contextlib.suppress(AssertionError):
                assert _first_line(self.proc, 20, "the sandbox") == self.base
                return
            self.proc.wait(timeout=10)
            time.sleep(0.1)
        raise AssertionError("the sandbox did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=30)
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def connect(self, env: Env, root: Path) -> None:
        token = httpx.post(f"{self.base}/sandbox/company_tokens", json={}, timeout=10).json()["token"]
        env.partida("connect", "pennylane", "--ledger", str(root), "--base-url", self.base, "--stdin",
                    input=(token + "\n").encode(), check=True)

    def state_now(self) -> dict[str, Any]:
        return httpx.get(f"{self.base}/sandbox/state", timeout=60).json()


class Server:
    """`partida serve` as a child process."""

    def __init__(self, env: Env, ledgers_dir: Path, port: int = 0, *extra: str):
        self.env = env
        self.args = [str(BIN / "partida"), "serve", "--ledgers-dir", str(ledgers_dir), "--poll", "1",
                     "--backoff-max", "2", *extra]
        self.port = port
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None
        self.log = env.tmp / "serve.log"

    def start(self) -> Server:
        for _ in range(50):
            with open(self.log, "a") as log:
                self.proc = subprocess.Popen([*self.args, "--port", str(self.port)], stdout=subprocess.PIPE,
                                             stderr=log, text=True, env={**os.environ, **self.env.vars})
            try:
                line = _first_line(self.proc, 30, "partida serve")
            except AssertionError:
                self.proc.wait(timeout=10)
                if self.port == 0:
                    raise
                time.sleep(0.1)  # the port of a killed server may still be held for a moment
                continue
            assert line.startswith("serving http://127.0.0.1:"), line
            self.url = line.split()[1]
            self.port = int(self.url.rsplit(":", 1)[1])
            return self
        raise AssertionError("partida serve did not start")

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> int:
        """SIGTERM and wait; returns the exit status."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=60)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return code

    def status(self, name: str, secret: str) -> dict[str, Any]:
        headers = sign(secret, int(time.time()), b"")
        response = httpx.get(f"{self.url}/v1/ledgers/{name}/status", headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_replayed(self, name: str, secret: str, timeout_s: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            figures = self.status(name, secret)["providers"]["pennylane"]
            if figures["pending"] == 0 and figures["uncertain"] == 0:
                return figures
            assert time.monotonic() < deadline, f"replay did not catch up in {timeout_s} s: {figures}"
            time.sleep(0.5)


def post(url: str, name: str, secret: str, body: bytes, keep_valid: bool = False,
         timestamp: int | None = None) -> httpx.Response:
    headers = sign(secret, int(time.time()) if timestamp is None else timestamp, body)
    return httpx.post(f"{url}/v1/ledgers/{name}/events" + ("?keep_valid=1" if keep_valid else ""),
                      content=body, headers=headers, timeout=60)


# -- a load of mixed valid and invalid events ------------------------------------------------------


@dataclass
class Line:
    text: str
    event_id: str | None
    valid: bool
    field: str | None = None  # the field the server must name when it is invalid ("" for: no field)


@dataclass
class Request:
    lines: list[Line]
    keep_valid: bool
    status: int = 0
    answer: dict[str, Any] = field(default_factory=dict)
    tries: int = 0

    @property
    def body(self) -> bytes:
        return ("\n".join(line.text for line in self.lines) + "\n").encode()


def _customer(rng: random.Random) -> dict[str, str]:
    n = rng.randrange(300)
    return {"ref": f"C{n}", "name": f"Client {n}", "kind": "individual"}


def _deposit(eid: str, rng: random.Random) -> dict[str, Any]:
    return {"id": eid, "type": "deposit.received", "date": DATE, "booking": f"B-{eid}", "customer": _customer(rng),
            "amount": f"{rng.randrange(10, 500)}.{rng.randrange(100):02d}", "method": "card", "vat_rate": "20"}


def _dump(event: dict[str, Any]) -> str:
    return json.dumps(event, ensure_ascii=False)


def client_plan(client: int, events: int, rng: random.Random, invalid_share: float = 0.08,
                sizes: tuple[int, ...] = (1, 1, 5, 10, 20, 40)) -> list[Request]:
    """About ``events`` events from one client, in requests of mixed sizes.

    Valid: deposits, invoices with their payment (in the same request or the
    next), cash movements. Invalid, about ``invalid_share`` of lines: a JSON
    number for an amount, an unknown type, a line that is not JSON, a payment
    of an unknown invoice (found only against the ledger's state), an id
    already recorded with other content. Half the clients ask ``keep_valid``.
    """
    keep_valid = client % 2 == 1
    requests: list[Request] = []
    accepted_before: list[dict[str, Any]] = []  # valid events of earlier requests, to reuse an id wrongly
    open_invoice: str | None = None
    made = 0
    n = 0
    while made < events:
        size = min(rng.choice(sizes), events - made)
        lines: list[Line] = []
        pending: list[dict[str, Any]] = []
        for _ in range(size):
            n += 1
            eid = f"c{client}-{n}"
            roll = rng.random()
            if roll < invalid_share:
                lines.append(_invalid(eid, rng, accepted_before))
            elif open_invoice is not None and roll < 0.2:
                event = {"id": eid, "type": "payment.received", "date": DATE, "invoice": open_invoice,
                         "amount": "120.00", "method": "transfer"}
                open_invoice = None
                lines.append(Line(_dump(event), eid, True))
                pending.append(event)
            elif roll < 0.14:
                number = f"F-{eid}"
                event = {"id": eid, "type": "invoice.issued", "date": DATE, "number": number, "customer": _customer(rng),
                         "lines": [{"label": "Canyoning", "quantity": "1", "unit_price": "100.00", "vat_rate": "20"}]}
                open_invoice = number
                lines.append(Line(_dump(event), eid, True))
                pending.append(event)
            elif roll < 0.18:
                event = {"id": eid, "type": "cash.movement", "date": DATE, "kind": "expense",
                         "amount": f"{rng.randrange(1, 90)}.50", "account": "6063"}
                lines.append(Line(_dump(event), eid, True))
                pending.append(event)
            else:
                event = _deposit(eid, rng)
                lines.append(Line(_dump(event), eid, True))
                pending.append(event)
        made += size
        request = Request(lines, keep_valid)
        requests.append(request)
        if keep_valid or all(line.valid for line in lines):
            accepted_before += pending
        elif any(e["type"] == "invoice.issued" for e in pending):
            open_invoice = None  # that invoice is never written: do not pay it later
    return requests


def _invalid(eid: str, rng: random.Random, earlier: list[dict[str, Any]]) -> Line:
    kind = rng.randrange(5)
    if kind == 0:
        event = _deposit(eid, rng)
        return Line(_dump(event).replace(f'"amount": "{event["amount"]}"', f'"amount": {event["amount"]}'),
                    eid, False, "amount")
    if kind == 1:
        return Line(_dump({"id": eid, "type": "deposit.refunded", "date": DATE}), eid, False, "type")
    if kind == 2:
        return Line('{"id": "' + eid + '", "type": "deposit.received", ', None, False, "")
    if kind == 3 or not earlier:
        event = {"id": eid, "type": "payment.received", "date": DATE, "invoice": f"F-none-{eid}",
                 "amount": "10.00", "method": "card"}
        return Line(_dump(event), eid, False, "invoice")
    reused = dict(rng.choice(earlier))
    if reused["type"] == "deposit.received":
        reused["amount"] = "999.99"
    else:
        reused["date"] = "2026-06-16"
    return Line(_dump(reused), reused["id"], False, "id")


async def _send(client: httpx.AsyncClient, url: str, name: str, secret: str, request: Request,
                deadline: float) -> None:
    """Post until the server answers (connection errors, timeouts and 503 are retried)."""
    body = request.body
    query = "?keep_valid=1" if request.keep_valid else ""
    while True:
        request.tries += 1
        try:
            response = await client.post(f"{url}/v1/ledgers/{name}/events{query}", content=body,
                                         headers=sign(secret, int(time.time()), body))
        except httpx.HTTPError:
            response = None
        if response is not None and response.status_code != 503:
            request.status = response.status_code
            request.answer = response.json()
            return
        if time.monotonic() > deadline:
            raise AssertionError("a client got no answer before the deadline")
        await asyncio.sleep(0.2)


async def _client(url: str, name: str, secret: str, requests: list[Request], deadline: float,
                  pause_s: float) -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        for request in requests:
            await _send(client, url, name, secret, request, deadline)
            if pause_s:
                await asyncio.sleep(pause_s)


def run_load(url: str, name: str, secret: str, plans: list[list[Request]], timeout_s: float = 240,
             pause_s: float = 0.0) -> None:
    """Every plan is one client; they all run at once; bounded by ``timeout_s``."""
    deadline = time.monotonic() + timeout_s

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(*(_client(url, name, secret, plan, deadline, pause_s)
                                                for plan in plans)), timeout_s + 30)

    asyncio.run(main())


def check_answers(plans: list[list[Request]]) -> set[str]:
    """Every answer is right for its request; returns the ids accepted."""
    accepted: set[str] = set()
    for request in (r for plan in plans for r in plan):
        answer = request.answer
        problems = {p["line"]: p for p in answer.get("problems", [])}
        bad = [(number, line) for number, line in enumerate(request.lines, start=1) if not line.valid]
        for number, line in bad:  # each invalid line got its own clear error
            assert number in problems, (request.status, answer, line.text)
            problem = problems[number]
            assert problem["text"].startswith(f"line {number}")
            if line.field:
                assert problem["field"] == line.field, (problem, line.text)
                assert problem["id"] == line.event_id
        valid = [(n, line) for n, line in enumerate(request.lines, start=1) if line.valid]
        assert not any(n in problems for n, _ in valid), (answer, request.lines)
        if bad and not request.keep_valid:
            expected = 400 if any(line.field == "" for _, line in bad) else 422
            assert request.status == expected and answer["written"] is False, (request.status, answer)
            continue
        assert request.status == 202, (request.status, answer)
        told = set(answer["ids"]["recorded"]) | set(answer["ids"]["unchanged"])
        ids = {line.event_id for _, line in valid}
        assert told == ids, (told ^ ids)
        accepted |= ids
    return accepted


def ledger_event_ids(main: Path) -> list[str]:
    """The event id of every transaction in the ledger, one entry per transaction (real bean-query)."""
    from conftest import bean_query

    rows = bean_query(main, "SELECT DISTINCT entry_meta('seq') AS seq, entry_meta('event-id') AS eid")
    return [row["eid"] for row in rows]


def remote_documents(state: dict[str, Any]) -> dict[str, int]:
    """Partida's key -> how many documents Pennylane holds under it (reconciliation ODs left out)."""
    found: dict[str, int] = dict(state["external_references"]["customer_invoices"])
    for piece, count in state["piece_numbers"].items():
        if not piece.endswith("-od"):
            found[piece] = found.get(piece, 0) + count
    return found


def synced_keys(root: Path) -> dict[int, str]:
    from connectors.syncstate import SyncState

    state = SyncState(root, "pennylane")
    try:
        return {item.seq: item.key for item in state.items(("synced",))}
    finally:
        state.close()


@contextlib.contextmanager
def running(thing: Any) -> Iterator[Any]:
    try:
        yield thing
    finally:
        thing.stop()
