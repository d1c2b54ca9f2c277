"""Security of `partida serve`: every bad request is refused with the right status,
nothing is written, and the service keeps serving. Real processes on loopback."""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from pathlib import Path

import pytest
from conftest import assert_clean, jsonl, snapshot
from factories import deposit
from serve_support import Env, Server, post

from service.signing import sign

BODY = jsonl(deposit("s1", "B-1", "90.00"))


def raw(url: str, head: str, body_parts: list[bytes] = (), read_timeout_s: float = 20) -> tuple[int, bytes]:
    """Send a request byte for byte (no client-side path normalisation); the status and body."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=read_timeout_s) as sock:
        sock.sendall(head.encode("latin-1"))
        for part in body_parts:
            sock.sendall(part)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


@pytest.fixture
def served(tmp_path: Path):
    env = Env.make(tmp_path)
    root, secret = env.ledger("acme")
    other, _ = env.ledger("other")
    os.unlink(Path(env.vars["PARTIDA_WEBHOOK_SECRETS"]))  # only acme gets a secret back
    secret = env.partida("secret", "rotate", "--ledger", str(root), check=True).stdout.strip()
    outside = tmp_path / "outside"  # a ledger next to the served folder, never served
    env.partida("init", "--ledger", str(outside), "--company", "Outside", check=True)
    server = Server(env, tmp_path / "ledgers").start()
    try:
        yield env, server, root, other, outside, secret
    finally:
        assert server.stop() in (0, -15)


def test_bad_requests_are_refused_and_nothing_is_written(served) -> None:
    env, server, root, other, outside, secret = served
    before = {p: snapshot(p) for p in (root, other, outside)}
    url, now = server.url, int(time.time())

    def status_of(response) -> tuple[int, str]:
        return response.status_code, response.json()["error"]

    # Missing or wrong authentication: 401.
    import httpx

    assert httpx.post(f"{url}/v1/ledgers/acme/events", content=BODY).status_code == 401
    only_ts = {"X-Partida-Timestamp": str(now)}
    code, error = status_of(httpx.post(f"{url}/v1/ledgers/acme/events", content=BODY, headers=only_ts))
    assert code == 401 and "missing X-Partida-Signature" in error
    code, error = status_of(post(url, "acme", "whsec_" + "0" * 64, BODY))
    assert code == 401 and "does not match" in error
    tampered = sign(secret, now, BODY)
    code, _ = status_of(httpx.post(f"{url}/v1/ledgers/acme/events", content=BODY.replace(b"90.00", b"9.00"),
                                   headers=tampered))
    assert code == 401
    # A captured request replayed after the window (or signed by a clock far ahead): 401.
    for stamp in (now - 301, now - 3600, now + 400):
        code, error = status_of(post(url, "acme", secret, BODY, timestamp=stamp))
        assert code == 401 and "5 minutes" in error
    bad_header = {"X-Partida-Timestamp": str(now), "X-Partida-Signature": "sha256=abc"}
    assert httpx.post(f"{url}/v1/ledgers/acme/events", content=BODY, headers=bad_header).status_code == 401
    # A served ledger with no secret refuses everything.
    code, error = status_of(post(url, "other", secret, BODY))
    assert code == 401 and "secret rotate" in error

    # Bodies over the 5 MB limit: 413, announced or streamed.
    limit = 5 * 1024 * 1024
    ts = str(int(time.time()))
    head = (f"POST /v1/ledgers/acme/events HTTP/1.1\r\nHost: x\r\nX-Partida-Timestamp: {ts}\r\n"
            f"X-Partida-Signature: v1={'a' * 64}\r\n")
    code, body = raw(url, head + f"Content-Length: {limit + 1}\r\n\r\n")
    assert code == 413 and b"larger than" in body
    chunk = b"x" * (1024 * 1024)
    parts = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * 5 + [b"1\r\nx\r\n"]
    code, body = raw(url, head + "Transfer-Encoding: chunked\r\n\r\n", parts)
    assert code == 413

    # Ledger names with path tricks: 404, nothing reached.
    signed = sign(secret, int(time.time()), BODY)
    for path in ("..%2Foutside", "%2E%2E%2Foutside", "..", "%2e%2e", "%2Fetc%2Fpasswd", "%2Ftmp", "acme%00",
                 "ac%00me", ".acme", "acme%2F..%2Foutside", "a" * 65, "outside", "acme.beancount"):
        head = (f"POST /v1/ledgers/{path}/events HTTP/1.1\r\nHost: x\r\nContent-Length: {len(BODY)}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in signed.items()) + "\r\n")
        code, _ = raw(url, head, [BODY])
        assert code == 404, path
    code, _ = raw(url, "POST /v1/ledgers/../outside/events HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert code in (400, 404)

    assert {p: snapshot(p) for p in (root, other, outside)} == before
    # Still serving: a good request goes in, and a replay of it within the window changes nothing.
    good = post(url, "acme", secret, BODY)
    assert good.status_code == 202 and good.json()["ids"]["recorded"] == ["s1"]
    again = post(url, "acme", secret, BODY)
    assert again.status_code == 202 and again.json()["ids"]["unchanged"] == ["s1"]
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}
    assert server.status("acme", secret)["transactions"] == 1
    for path in (root, other, outside):
        assert_clean(path)
    # No secret ever reaches the server's log.
    assert secret not in server.log.read_text()


def test_rotation_keeps_the_previous_secret_for_its_grace_only(served) -> None:
    env, server, root, _other, _outside, first = served
    path = Path(env.vars["PARTIDA_WEBHOOK_SECRETS"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert first not in json.dumps(env.partida("status", "--ledger", str(root)).stdout)

    second = env.partida("secret", "rotate", "--ledger", str(root), check=True)
    new = second.stdout.strip()
    assert new != first and new.startswith("whsec_") and "valid until" in second.stderr
    assert post(server.url, "acme", first, jsonl(deposit("r1", "B-r1", "10.00"))).status_code == 202  # grace
    assert post(server.url, "acme", new, jsonl(deposit("r2", "B-r2", "10.00"))).status_code == 202

    revoked = env.partida("secret", "rotate", "--ledger", str(root), "--grace", "0", check=True).stdout.strip()
    for old in (first, new):
        assert post(server.url, "acme", old, jsonl(deposit("r3", "B-r3", "10.00"))).status_code == 401
    assert post(server.url, "acme", revoked, jsonl(deposit("r3", "B-r3", "10.00"))).status_code == 202
    assert server.status("acme", revoked)["transactions"] == 3
    assert_clean(root)


def test_invalid_events_get_one_error_each_and_write_nothing(served) -> None:
    env, server, root, _other, _outside, secret = served
    before = snapshot(root)
    body = jsonl(deposit("v1", "B-v1", "10.00"),
                 {"id": "v2", "type": "payment.received", "date": "2026-06-20", "invoice": "F-9999",
                  "amount": "10.00", "method": "card"}) + jsonl(deposit("v3", "B-v3", "12.50")).replace(b'"12.50"', b"12.5")
    response = post(server.url, "acme", secret, body)
    assert response.status_code == 422
    answer = response.json()
    assert answer["written"] is False
    found = {(p["line"], p["id"], p["field"]) for p in answer["problems"]}
    assert (2, "v2", "invoice") in found and (3, "v3", "amount") in found and not any(p[0] == 1 for p in found)
    assert snapshot(root) == before
    assert post(server.url, "acme", secret, b"not json\n").status_code == 400
    assert post(server.url, "acme", secret, b"\n\n").status_code == 400
    kept = post(server.url, "acme", secret, body, keep_valid=True)
    assert kept.status_code == 202 and kept.json()["ids"]["recorded"] == ["v1"] and kept.json()["rejected"] == 2
    # Same id, other content: refused, naming the id.
    clash = post(server.url, "acme", secret, jsonl(deposit("v1", "B-v1", "11.00")))
    assert clash.status_code == 422 and clash.json()["problems"][0]["field"] == "id"
    assert_clean(root)
