"""The replay worker's schedule, on a real ledger and replay state, with a scripted connector:
an item that keeps failing is parked and does not block the others; an outage
pauses replay, parks nothing, and replay resumes by itself."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from conftest import jsonl
from factories import deposit

from connectors.base import PushResult
from connectors.errors import TransientError
from connectors.syncstate import SyncState
from engine.ledger import record_batch
from service.worker import ReplayWorker


class Scripted:
    """Succeeds, except for ``poison`` event ids, and for everything while ``down`` is set."""

    provider = "pennylane"

    def __init__(self, poison: set[str]):
        self.poison = poison
        self.down = threading.Event()
        self.pushed: list[str] = []

    def describe(self, txn) -> list[str]:
        return []

    def push(self, txn, key: str, uncertain: bool) -> PushResult:
        if self.down.is_set() or txn.event_id in self.poison:
            raise TransientError("503 Service Unavailable")
        self.pushed.append(txn.event_id)
        return PushResult("sent", f"r-{txn.seq}")

    def close(self) -> None:
        pass


def wait_for(condition, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def counts(root: Path) -> dict[str, int]:
    state = SyncState(root, "pennylane")
    try:
        return state.counts()
    finally:
        state.close()


def test_a_failing_item_is_parked_and_the_others_go_on(ledger: Path) -> None:
    record_batch(ledger, jsonl(*(deposit(f"w{i}", f"B{i}", "10.00") for i in range(6))))
    connector = Scripted({"w2"})
    worker = ReplayWorker(ledger, "pennylane", threading.Lock(), lambda: connector, poll_s=0.1,
                          backoff_max_s=0.2, retry_attempts=1)
    lock = worker.session_lock
    worker.start()
    try:
        wait_for(lambda: len(connector.pushed) == 5)
        assert counts(ledger)["parked"] == 0  # one round is not enough to blame it
        for later in ("w6", "w7"):  # two more rounds in which the provider takes the others
            with lock:
                record_batch(ledger, jsonl(deposit(later, f"B-{later}", "10.00")))
            worker.wake.set()
            wait_for(lambda: later in connector.pushed)
        wait_for(lambda: counts(ledger)["parked"] == 1)
        assert sorted(connector.pushed) == ["w0", "w1", "w3", "w4", "w5", "w6", "w7"]
        state = SyncState(ledger, "pennylane")
        parked = state.items(("parked",))
        state.close()
        assert [i.event_id for i in parked] == ["w2"] and "kept failing" in parked[0].error
    finally:
        worker.stop()


def test_an_outage_pauses_parks_nothing_and_resumes(ledger: Path) -> None:
    lock = threading.Lock()
    connector = Scripted(set())
    connector.down.set()
    worker = ReplayWorker(ledger, "pennylane", lock, lambda: connector, poll_s=0.1, backoff_max_s=0.5,
                          retry_attempts=1)
    worker.start()
    try:
        with lock:
            record_batch(ledger, jsonl(*(deposit(f"o{i}", f"B{i}", "10.00") for i in range(5))))
        worker.wake.set()
        wait_for(lambda: worker.state == "paused")
        time.sleep(2)  # several passes fail meanwhile
        assert connector.pushed == [] and counts(ledger)["parked"] == 0
        connector.down.clear()
        wait_for(lambda: counts(ledger)["synced"] == 5)
        assert connector.pushed == [f"o{i}" for i in range(5)]  # in ledger order, each once
        assert counts(ledger)["parked"] == 0 and counts(ledger)["failed"] == 0
    finally:
        worker.stop()
