"""The replay loop: send, in ledger order, every transaction not yet synced.

Generic over providers: a ``Connector`` pushes one transaction; this module
owns which transactions go, the replay state transitions, retries, the
progress bar and the summary. Nothing here parses the whole ledger: the
transactions to send are read by their byte spans.

Windows. A connector that can send many transactions at once (``push_many``
and a ``window`` above 1, e.g. QuickBooks' batches) gets them a window of
consecutive transactions at a time. The whole window's keys and
``uncertain`` states are written in one SQLite transaction before anything
is sent; each outcome is recorded on its own item (synced, failed with the
provider's message, parked); a transient outcome is sent again, looked up
first, after the retry policy's delay, and an item the connector did not
send (``Deferred``: it waits for another) is sent again without a lookup.
The next window starts when this one is finished, so a transaction never
goes before an earlier one it may depend on.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from engine.journal import LedgerTxn, read_transactions
from engine.ledger import LedgerSession

from .base import Connector
from .errors import AuthError, ConflictError, ConnectorError, Deferred, PermanentError, RateLimited, TransientError
from .retry import RetryPolicy
from .syncstate import Item, SyncState, idempotency_key

# A transaction whose push failed permanently this many times is parked.
PARK_AFTER_FAILURES = 3


@dataclass
class SyncSummary:
    provider: str
    sent: int = 0
    exists: int = 0
    skipped: int = 0
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (seq, event id, provider's message)
    parked: list[tuple[int, str, str]] = field(default_factory=list)
    planned: list[tuple[int, str, list[str]]] = field(default_factory=list)  # dry run
    left: int = 0  # not attempted because the run stopped
    stopped: str | None = None  # why the run stopped early (auth, provider unavailable)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.parked and self.stopped is None


def candidates(root: Path, state: SyncState, since: datetime.date | None) -> list[tuple[int, str, str]]:
    """(seq, event id, day) of the transactions to send, in ledger order."""
    start = state.first_not_done()
    with LedgerSession(root) as session:
        assert session.index is not None
        locations = session.index.locations(start - 1)
    done = state.done_seqs(start)
    floor = since.isoformat() if since else ""
    return [(seq, event_id, day) for seq, _p, _o, _l, event_id, day, _t in locations
            if seq not in done and day >= floor]


def _load(root: Path, wanted: list[tuple[int, str, str]]) -> list[LedgerTxn]:
    if not wanted:
        return []
    seqs = {seq for seq, _, _ in wanted}
    return [t for t in read_transactions(root, min(seqs) - 1) if t.seq in seqs]


def sync(
    root: Path,
    connector: Connector,
    *,
    since: datetime.date | None = None,
    dry_run: bool = False,
    retry: RetryPolicy | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> SyncSummary:
    """Replay to ``connector`` every transaction dated ``since`` or later not yet synced."""
    retry = retry or RetryPolicy()
    state = SyncState(root, connector.provider)
    summary = SyncSummary(connector.provider)
    try:
        wanted = candidates(root, state, since)
        txns = _load(root, wanted)
        window = int(getattr(connector, "window", 0) or 0)
        if not dry_run and window > 1 and hasattr(connector, "push_many"):
            for start in range(0, len(txns), window):
                if progress is not None:
                    progress(start, len(txns))
                if not _replay_window(state, connector, txns[start:start + window], retry, summary):
                    summary.left += len(txns) - start - window if len(txns) > start + window else 0
                    break
            else:
                if progress is not None:
                    progress(len(txns), len(txns))
            return summary
        for done, txn in enumerate(txns):
            if progress is not None:
                progress(done, len(txns))
            if dry_run:
                summary.planned.append((txn.seq, txn.event_id, connector.describe(txn)))
                continue
            if not _replay_one(state, connector, txn, retry, summary):
                summary.left = len(txns) - done
                break
        if progress is not None and summary.stopped is None:
            progress(len(txns), len(txns))
    finally:
        state.close()
    return summary


def _replay_one(state: SyncState, connector: Connector, txn: LedgerTxn, retry: RetryPolicy,
                summary: SyncSummary) -> bool:
    """Push one transaction; False when the whole run must stop."""
    item = state.get(txn.seq)
    if item is None:
        key = idempotency_key(connector.provider, txn.event_id, txn.seq)
        item = Item(txn.seq, txn.event_id, txn.date.isoformat(), "pending", key)
    uncertain = item.state != "pending"
    # The key and the "uncertain" state are on disk before anything is sent.
    item = state.transition(item, "uncertain", attempt=True)

    def attempt() -> object:
        nonlocal uncertain
        try:
            return connector.push(txn, item.key, uncertain)
        except TransientError:
            uncertain = True  # the request may have landed: look it up next time
            raise

    try:
        result = retry.run(attempt)
    except AuthError as exc:
        summary.stopped = f"{exc.message} — run `partida connect {connector.provider}` again"
        return False
    except TransientError as exc:
        summary.stopped = f"{connector.provider} is not answering ({exc.message}); run the sync again later"
        return False
    except (PermanentError, ConflictError) as exc:
        _record(state, item, txn, exc, summary)
        return True
    _record(state, item, txn, result, summary)
    return True


def _replay_window(state: SyncState, connector: Connector, txns: list[LedgerTxn], retry: RetryPolicy,
                   summary: SyncSummary) -> bool:
    """Push a window of transactions with ``push_many``; False when the whole run must stop."""
    items: dict[int, Item] = {}
    uncertain: dict[int, bool] = {}
    with state.atomic():  # every key and "uncertain" state on disk before anything is sent
        for txn in txns:
            item = state.get(txn.seq) or Item(txn.seq, txn.event_id, txn.date.isoformat(), "pending",
                                              idempotency_key(connector.provider, txn.event_id, txn.seq))
            uncertain[txn.seq] = item.state != "pending"
            items[txn.seq] = state.transition(item, "uncertain", attempt=True)
    todo = txns
    for attempt in range(1, retry.attempts_max + 1):
        try:
            results: list[object] = list(connector.push_many(  # type: ignore[attr-defined]
                [(txn, items[txn.seq].key, uncertain[txn.seq]) for txn in todo]))
        except ConnectorError as exc:  # the call as a whole failed: the same for every item
            results = [exc] * len(todo)
        again: list[LedgerTxn] = []
        stop: AuthError | None = None
        waits: list[float | None] = []
        with state.atomic():
            for txn, result in zip(todo, results, strict=True):
                if isinstance(result, AuthError):
                    stop = stop or result
                elif isinstance(result, TransientError):
                    again.append(txn)
                    # Sent with an unknown outcome: look it up next time. Not sent: no need.
                    uncertain[txn.seq] = uncertain[txn.seq] or not isinstance(result, Deferred)
                    if not isinstance(result, Deferred):
                        waits.append(result.retry_after_s if isinstance(result, RateLimited) else None)
                else:
                    _record(state, items[txn.seq], txn, result, summary)
        if stop is not None:
            summary.stopped = f"{stop.message} — run `partida connect {connector.provider}` again"
            summary.left += sum(1 for t in todo if state.get(t.seq).state == "uncertain")  # type: ignore[union-attr]
            return False
        if not again:
            return True
        todo = again
        if attempt < retry.attempts_max:
            known = [w for w in waits if w is not None]
            retry.sleep(retry.next_delay(attempt, max(known) if known else None))
    last = next((r for r in results if isinstance(r, TransientError) and not isinstance(r, Deferred)), results[0])
    message = getattr(last, "message", str(last))
    summary.stopped = f"{connector.provider} is not answering ({message}); run the sync again later"
    summary.left += len(todo)
    return False


def _record(state: SyncState, item: Item, txn: LedgerTxn, result: object, summary: SyncSummary) -> None:
    """Record one item's final outcome of this run."""
    if isinstance(result, (PermanentError, ConflictError)):
        target = "parked" if item.attempts >= PARK_AFTER_FAILURES or isinstance(result, ConflictError) else "failed"
        state.transition(item, target, error=result.message)
        (summary.parked if target == "parked" else summary.failed).append((txn.seq, txn.event_id, result.message))
        return
    if isinstance(result, ConnectorError):  # any other error this loop does not know: failed, never lost
        state.transition(item, "failed", error=result.message)
        summary.failed.append((txn.seq, txn.event_id, result.message))
        return
    state.transition(item, "synced", remote_id=result.remote_id)  # type: ignore[attr-defined]
    outcome = result.outcome  # type: ignore[attr-defined]
    if outcome == "sent":
        summary.sent += 1
    elif outcome == "exists":
        summary.exists += 1
    else:
        summary.skipped += 1


@dataclass(frozen=True)
class ProviderStatus:
    provider: str
    counts: dict[str, int]
    oldest_pending: tuple[int, str, str] | None  # (seq, event id, day)


def status(root: Path, provider: str) -> ProviderStatus:
    """Pending, synced, uncertain, failed, parked counts and the oldest pending."""
    sync_db = root / "sync" / f"{provider}.sqlite3"
    with LedgerSession(root) as session:
        assert session.index is not None
        total = int(session.index.meta("seq", "0"))
        counts = {"pending": total, "synced": 0, "uncertain": 0, "failed": 0, "parked": 0}
        oldest, start, known = None, 1, set()
        if sync_db.exists():
            state = SyncState(root, provider)
            try:
                counts.update({k: v for k, v in state.counts().items() if k != "pending"})
                # "Oldest pending": the oldest transaction still to reach the
                # provider — never sent, or sent with an unknown outcome.
                start = state.first_not_done()
                known = state.done_seqs(start)
            finally:
                state.close()
            counts["pending"] = total - sum(v for k, v in counts.items() if k != "pending")
        # At most len(known) rows can be skipped before a pending one.
        for seq, _p, _o, _l, event_id, day, _t in session.index.locations(start - 1, len(known) + 1):
            if seq not in known:
                oldest = (seq, event_id, day)
                break
    return ProviderStatus(provider, counts, oldest)


# Public for the intake service's replay worker (service/worker.py), which
# drives the same per-item step on its own schedule.
replay_one = _replay_one
