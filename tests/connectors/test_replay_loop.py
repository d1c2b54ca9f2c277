"""The generic replay loop with a scripted connector: states, retries, failures.

The real connectors are tested end to end against their sandboxes; this file
pins down the loop's own rules, which do not depend on a provider.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import jsonl, partida
from factories import many_events

from connectors.base import PushResult
from connectors.errors import AuthError, PermanentError, RateLimited, TransientError
from connectors.replay import status, sync
from connectors.retry import RetryPolicy
from connectors.syncstate import SyncState
from engine.journal import LedgerTxn


class Scripted:
    """Fails as told per seq, else records the push."""

    provider = "pennylane"

    def __init__(self, script: dict[int, list[Exception]] | None = None):
        self.script = script or {}
        self.calls: list[tuple[int, str, bool]] = []

    def describe(self, txn: LedgerTxn) -> list[str]:
        return [f"POST something for {txn.event_id}"]

    def push(self, txn: LedgerTxn, key: str, uncertain: bool) -> PushResult:
        self.calls.append((txn.seq, key, uncertain))
        queue = self.script.get(txn.seq, [])
        if queue:
            raise queue.pop(0)
        return PushResult("exists" if uncertain else "sent", f"r{txn.seq}")

    def close(self) -> None:
        pass


NO_WAIT = RetryPolicy(sleep=lambda s: None)


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    root = tmp_path / "l"
    partida("init", "--ledger", str(root), "--company", "X", check=True)
    partida("record", "--ledger", str(root), "-", input=jsonl(*many_events(3)), check=True)
    return root  # 3 bookings x (deposit, invoice, application, payment) = 12 transactions


def test_everything_is_sent_once_in_ledger_order(ledger: Path) -> None:
    connector = Scripted()
    summary = sync(ledger, connector, retry=NO_WAIT)
    assert [c[0] for c in connector.calls] == list(range(1, 13))
    assert summary.sent == 12 and summary.ok
    again = sync(ledger, connector, retry=NO_WAIT)
    assert again.sent == 0 and len(connector.calls) == 12
    assert status(ledger, "pennylane").counts["synced"] == 12


def test_transient_errors_are_retried_with_the_same_key_and_looked_up(ledger: Path) -> None:
    waits: list[float] = []
    connector = Scripted({2: [TransientError("502"), RateLimited("slow down", retry_after_s=3.0)]})
    summary = sync(ledger, connector, retry=RetryPolicy(sleep=waits.append))
    calls = [c for c in connector.calls if c[0] == 2]
    assert len(calls) == 3 and len({key for _, key, _ in calls}) == 1
    assert [u for _, _, u in calls] == [False, True, True]  # after an unknown outcome: look up first
    assert waits[1] == 3.0  # retry-after honoured
    assert summary.exists == 1 and summary.sent == 11


def test_permanent_error_is_reported_and_the_others_go_on(ledger: Path) -> None:
    connector = Scripted({5: [PermanentError("422: amount is invalid")]})
    summary = sync(ledger, connector, retry=NO_WAIT)
    assert summary.failed == [(5, summary.failed[0][1], "422: amount is invalid")]
    assert summary.sent == 11 and not summary.ok
    counts = status(ledger, "pennylane").counts
    assert counts["failed"] == 1 and counts["synced"] == 11 and counts["pending"] == 0


def test_auth_error_stops_the_run_with_one_clear_message(ledger: Path) -> None:
    connector = Scripted({4: [AuthError("the refresh token was refused (invalid_grant)")]})
    summary = sync(ledger, connector, retry=NO_WAIT)
    assert summary.stopped == "the refresh token was refused (invalid_grant) — run `partida connect pennylane` again"
    assert summary.sent == 3 and summary.left == 9
    st = status(ledger, "pennylane")
    assert st.counts["uncertain"] == 1 and st.oldest_pending is not None and st.oldest_pending[0] == 4


def test_provider_outage_stops_and_the_next_run_resumes_without_duplicates(ledger: Path) -> None:
    connector = Scripted({7: [TransientError("down")] * 10})
    first = sync(ledger, connector, retry=NO_WAIT)
    assert first.stopped and first.sent == 6
    second = sync(ledger, connector, retry=NO_WAIT)
    assert second.exists == 1 and second.sent == 5 and second.ok  # seq 7 looked up, found
    assert SyncState(ledger, "pennylane").counts()["synced"] == 12


def test_dry_run_sends_nothing_and_since_filters(ledger: Path) -> None:
    connector = Scripted()
    summary = sync(ledger, connector, dry_run=True)
    assert connector.calls == [] and len(summary.planned) == 12
    import datetime
    later = sync(ledger, connector, since=datetime.date(2027, 1, 1), retry=NO_WAIT)
    assert later.sent == 4  # only booking 1 is dated 2027


class ScriptedMany(Scripted):
    """A connector that takes windows (``push_many``): per call, each item's outcome as told."""

    def __init__(self, window: int, script: dict[int, list[Exception]] | None = None):
        super().__init__(script)
        self.window = window
        self.windows: list[list[int]] = []

    def push_many(self, work: list[tuple[LedgerTxn, str, bool]]) -> list[object]:
        self.windows.append([txn.seq for txn, _, _ in work])
        out: list[object] = []
        for txn, key, uncertain in work:
            try:
                out.append(self.push(txn, key, uncertain))
            except Exception as exc:  # noqa: BLE001 - handed back as the item's outcome
                out.append(exc)
        return out


def test_windows_record_each_outcome_and_look_up_only_what_may_have_landed(ledger: Path) -> None:
    from connectors.errors import Deferred

    connector = ScriptedMany(5, {2: [TransientError("502")], 3: [Deferred("waits for seq 2")],
                                 7: [PermanentError("422: refused")]})
    summary = sync(ledger, connector, retry=NO_WAIT)
    assert connector.windows == [[1, 2, 3, 4, 5], [2, 3], [6, 7, 8, 9, 10], [11, 12]]  # in order, retried alone
    calls = {(seq, uncertain) for seq, _, uncertain in connector.calls if seq in (2, 3)}
    assert calls == {(2, False), (2, True), (3, False)}  # seq 2 may have landed: looked up; seq 3 was never sent
    assert summary.failed == [(7, summary.failed[0][1], "422: refused")]
    assert (summary.sent, summary.exists) == (10, 1)
    counts = status(ledger, "pennylane").counts
    assert (counts["synced"], counts["failed"], counts["uncertain"]) == (11, 1, 0)


def test_an_auth_error_in_a_window_stops_the_run_and_leaves_the_rest_uncertain(ledger: Path) -> None:
    connector = ScriptedMany(4, {6: [AuthError("the refresh token was refused (invalid_grant)")]})
    summary = sync(ledger, connector, retry=NO_WAIT)
    assert summary.stopped and "partida connect pennylane" in summary.stopped
    assert summary.sent == 7 and summary.left == 5  # seq 6 and the 4 transactions of the last window
    assert status(ledger, "pennylane").counts["uncertain"] == 1
