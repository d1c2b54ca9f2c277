"""`partida serve` under load, killed, and through a provider outage.

Real processes on loopback: the service (`partida serve`), the Pennylane
sandbox (its rate limit raised: ``PARTIDA_RATE_LIMIT`` paces the connector to
match) and 50 concurrent clients in this process. Every test is bounded in
time and ends with: each event that got a 202 in the ledger exactly once,
each rejected one with its own error, one remote document per transaction,
and bean-check clean.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import assert_clean
from serve_support import (Env, Sandbox, Server, check_answers, client_plan, ledger_event_ids, remote_documents,
                           run_load, synced_keys)

pytestmark = pytest.mark.slow

CLIENTS = 50
OUTAGE_S = float(os.environ.get("PARTIDA_TEST_OUTAGE_S", "10"))  # set 60 for the full minute


def plans(total: int, seed: int, clients: int = CLIENTS) -> list:
    rng = random.Random(seed)
    return [client_plan(c, total // clients, rng, invalid_share=0.03) for c in range(clients)]


def assert_exactly_once(root: Path, accepted: set[str], sandbox: Sandbox) -> None:
    """Ledger: each accepted event once, nothing else. Provider: one document per transaction."""
    ids = ledger_event_ids(root / "main.beancount")
    counts = Counter(ids)
    assert set(counts) == accepted
    assert all(n == 1 for n in counts.values()), [e for e, n in counts.items() if n > 1][:5]
    keys = synced_keys(root)
    assert len(keys) == len(ids)  # every transaction synced
    state = sandbox.state_now()
    assert all(not v for v in state["duplicates"].values()), state["duplicates"]
    assert remote_documents(state) == {key: 1 for key in keys.values()}
    assert_clean(root)


@pytest.fixture
def env(tmp_path: Path) -> Env:
    return Env.make(tmp_path)


def test_50_clients_20000_events(env: Env) -> None:
    root, secret = env.ledger("load")
    sandbox = Sandbox(env.tmp)
    sandbox.start()
    server = None
    try:
        sandbox.connect(env, root)
        server = Server(env, root.parent).start()
        load = plans(20_000, seed=6)
        assert sum(len(r.lines) for plan in load for r in plan) == 20_000
        started = time.monotonic()
        run_load(server.url, "load", secret, load, timeout_s=150)
        took = time.monotonic() - started
        accepted = check_answers(load)
        statuses = Counter(r.status for plan in load for r in plan)
        assert statuses[202] and statuses[422] and statuses[400], statuses  # the mix really was mixed
        assert 12_000 < len(accepted) < 19_500
        server.wait_replayed("load", secret, timeout_s=150)
        assert_exactly_once(root, accepted, sandbox)
        print(f"\n{len(accepted)} accepted of 20000 in {took:.1f} s; statuses {dict(statuses)}")
    finally:
        if server is not None:
            assert server.stop() in (0, -15)
        sandbox.stop()


def test_kill_9_mid_load_then_restart(env: Env) -> None:
    root, secret = env.ledger("killed")
    sandbox = Sandbox(env.tmp)
    sandbox.start()
    server = None
    try:
        sandbox.connect(env, root)
        server = Server(env, root.parent).start()
        port = server.port
        load = plans(6_000, seed=9)
        done = threading.Event()
        loader = threading.Thread(target=lambda: (run_load(server.url, "killed", secret, load, timeout_s=120),
                                                  done.set()))
        loader.start()
        answered = lambda: sum(1 for plan in load for r in plan if r.status)  # noqa: E731
        deadline = time.monotonic() + 60
        while answered() < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill9()  # mid-load, and mid-replay: the worker is pushing what came in
        killed_at = answered()
        time.sleep(0.5)  # clients meet a closed port and keep retrying what got no answer
        server = Server(env, root.parent, port).start()
        loader.join(timeout=150)
        assert done.is_set(), "the clients did not finish"
        assert 0 < killed_at < sum(len(plan) for plan in load)
        retried = sum(1 for plan in load for r in plan if r.tries > 1)
        assert retried > 0  # some requests went unanswered and were sent again
        accepted = check_answers(load)
        server.wait_replayed("killed", secret, timeout_s=120)
        assert_exactly_once(root, accepted, sandbox)
    finally:
        if server is not None:
            server.stop()
        sandbox.stop()


def test_provider_outage_pauses_replay_and_it_catches_up(env: Env) -> None:
    root, secret = env.ledger("outage")
    sandbox = Sandbox(env.tmp, persist=True)  # its books survive the stop
    sandbox.start()
    server = None
    try:
        sandbox.connect(env, root)
        server = Server(env, root.parent).start()
        load = plans(1_500, seed=12, clients=10)
        loader = threading.Thread(target=run_load, args=(server.url, "outage", secret, load),
                                  kwargs={"timeout_s": 120, "pause_s": 0.1})
        loader.start()
        time.sleep(2)
        sandbox.stop()
        seen_paused, pending = False, []
        deadline = time.monotonic() + OUTAGE_S
        while time.monotonic() < deadline:
            figures = server.status("outage", secret)["providers"]["pennylane"]
            seen_paused |= figures["replay"]["state"] == "paused"
            pending.append(figures["pending"] + figures["uncertain"])
            time.sleep(0.5)
        assert seen_paused, "replay never paused while the provider was down"
        assert pending[-1] > 0 and max(pending) >= pending[0]  # work piled up instead of being lost
        sandbox.start()  # same port, same books
        loader.join(timeout=150)
        assert not loader.is_alive()
        accepted = check_answers(load)
        figures = server.wait_replayed("outage", secret, timeout_s=120)
        assert figures["replay"]["state"] in ("idle", "replaying") and figures["failed"] == 0
        assert_exactly_once(root, accepted, sandbox)
    finally:
        if server is not None:
            server.stop()
        sandbox.stop()


def test_sigterm_finishes_writes_in_flight_and_keeps_replay_state(env: Env) -> None:
    from connectors.syncstate import SyncState

    root, secret = env.ledger("graceful")
    sandbox = Sandbox(env.tmp)
    sandbox.start()
    server = None
    try:
        sandbox.connect(env, root)
        server = Server(env, root.parent).start()
        port = server.port
        load = plans(2_000, seed=15, clients=20)
        loader = threading.Thread(target=run_load, args=(server.url, "graceful", secret, load),
                                  kwargs={"timeout_s": 120, "pause_s": 0.05})
        loader.start()
        deadline = time.monotonic() + 60
        while sum(1 for plan in load for r in plan if r.status) < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.stop() in (0, -15)  # SIGTERM: in-flight requests answered, workers stopped
        answered_before = [r for plan in load for r in plan if r.status == 202]
        state = SyncState(root, "pennylane")
        try:
            assert state.counts()["uncertain"] == 0  # the push in hand was finished, its state written
        finally:
            state.close()
        in_ledger = set(ledger_event_ids(root / "main.beancount"))
        for request in answered_before:  # a 202 before the stop means on disk
            assert set(request.answer["ids"]["recorded"]) <= in_ledger
        server = Server(env, root.parent, port).start()
        loader.join(timeout=150)
        assert not loader.is_alive()
        accepted = check_answers(load)
        server.wait_replayed("graceful", secret, timeout_s=120)
        assert_exactly_once(root, accepted, sandbox)
    finally:
        if server is not None:
            server.stop()
        sandbox.stop()
