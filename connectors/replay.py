"""The replay loop: send, in ledger order, every transaction not yet synced.

Generic over providers: a ``Connector`` pushes one transaction; this module
owns which transactions go, the replay state transitions, retries, the
progress bar and the summary. Nothing here parses the whole ledger: the
transactions to send are read by their byte spans.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from engine.journal import LedgerTxn, read_transactions
from engine.ledger import LedgerSession

from .base import Connector
from .errors import AuthError, ConflictError, PermanentError, TransientError
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
        target = "parked" if item.attempts >= PARK_AFTER_FAILURES or isinstance(exc, ConflictError) else "failed"
        state.transition(item, target, error=exc.message)
        (summary.parked if target == "parked" else summary.failed).append((txn.seq, txn.event_id, exc.message))
        return True
    state.transition(item, "synced", remote_id=result.remote_id)  # type: ignore[attr-defined]
    outcome = result.outcome  # type: ignore[attr-defined]
    if outcome == "sent":
        summary.sent += 1
    elif outcome == "exists":
        summary.exists += 1
    else:
        summary.skipped += 1
    return True


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
