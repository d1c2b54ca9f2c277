"""The background replay worker: one thread per ledger and connected provider.

It reuses the replay loop's parts (``connectors.replay``: which transactions
go, the replay state, one item's push with its retries and state changes), so
a transaction goes through exactly the states ``partida sync`` gives it: the
idempotency key and ``uncertain`` are on disk before a request leaves, and an
uncertain item is looked up on the provider before it is sent again. What the
worker adds is the schedule:

- it wakes as soon as the ledger's writer commits new transactions (and every
  ``poll_s`` anyway, for what ``partida record`` wrote from another process),
  so a transaction reaches the provider within seconds;
- each push retries a few times with backoff that honours ``retry-after``
  (``connectors.retry``), paced by the connector's own client-side limit;
- when a push still fails transiently, the next transaction is tried: if it
  fails too, the provider is down — replay pauses (1 s, 2 s, 4 s … up to
  ``backoff_max_s``) and resumes by itself, nothing parked; if it goes
  through, the first one alone is at fault — after ``PARK_AFTER_STRIKES``
  such rounds it is parked with its error and the others go on. A permanent
  refusal (4xx) fails or parks the item at once, as in ``partida sync``;
- refused credentials pause it too (``partida connect`` again, no restart);
- on stop (SIGTERM) it finishes or abandons the push in hand — an abandoned
  one stays ``uncertain``, which is safe — and every state is already on
  disk: each transition is its own SQLite commit.

The service pushes item by item, in ledger order; bulk paths the providers'
``partida sync`` may add apply there only.
"""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from connectors import replay
from connectors.base import Connector
from connectors.errors import AuthError, ConnectorError
from connectors.retry import RetryPolicy
from connectors.syncstate import SyncState
from engine.journal import LedgerTxn, read_transactions

log = logging.getLogger("partida.serve")

PARK_AFTER_STRIKES = 3
CHUNK = 200  # transactions read from the ledger at a time


class _Stopping(Exception):
    """Raised from inside a wait when the worker is asked to stop."""


class _Watched:
    """The connector, remembering the last error a push raised (to tell an
    outage from refused credentials after ``replay_one`` returns False)."""

    def __init__(self, inner: Connector):
        self.inner = inner
        self.provider = inner.provider
        self.last_error: Exception | None = None

    def describe(self, txn: LedgerTxn) -> list[str]:
        return self.inner.describe(txn)

    def push(self, txn: LedgerTxn, key: str, uncertain: bool) -> Any:
        try:
            return self.inner.push(txn, key, uncertain)
        except Exception as exc:
            self.last_error = exc
            raise

    def close(self) -> None:
        self.inner.close()


class ReplayWorker:
    """Replays one ledger to one provider, continuously, on its own thread."""

    def __init__(self, root: Path, provider: str, session_lock: threading.Lock,
                 build: Callable[[], Connector], *, since: datetime.date | None = None,
                 poll_s: float = 5.0, backoff_max_s: float = 60.0, retry_attempts: int = 3):
        self.root = root
        self.provider = provider
        self.session_lock = session_lock
        self.build = build
        self.since = since
        self.poll_s = poll_s
        self.backoff_max_s = backoff_max_s
        self.retry_attempts = retry_attempts
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"replay-{root.name}-{provider}", daemon=True)
        self._connector: _Watched | None = None
        self._strikes: dict[int, int] = {}
        self._streak: list[LedgerTxn] = []  # consecutive transient failures in this pass
        self._outages = 0
        # What GET /status shows.
        self.state = "starting"
        self.paused_until: float | None = None
        self.last_error = ""
        self.pushed = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self.wake.set()
        self._thread.join(timeout_s)
        if self._connector is not None:
            self._connector.close()
        self.state = "stopped"

    def describe(self) -> dict[str, Any]:
        until = None
        if self.paused_until is not None:
            until = datetime.datetime.fromtimestamp(self.paused_until, datetime.timezone.utc).isoformat(
                timespec="seconds")
        return {"state": self.state, "paused_until": until, "last_error": self.last_error, "pushed": self.pushed}

    def _sleep(self, seconds: float) -> None:
        if self._stop.wait(seconds):
            raise _Stopping()

    def _run(self) -> None:
        self.wake.set()  # a first pass at start: whatever is pending since the last run
        while not self._stop.is_set():
            self.state = "idle"
            self.wake.wait(self.poll_s)
            self.wake.clear()
            if self._stop.is_set():
                break
            try:
                self._pass()
            except _Stopping:
                break
            except Exception as exc:  # never let the thread die: log, pause, try again
                log.exception("%s/%s: replay pass failed", self.root.name, self.provider)
                try:
                    self._pause(f"{type(exc).__name__}: {exc}")
                except _Stopping:
                    break

    # -- one pass over what is pending -----------------------------------------------------------

    def _pass(self) -> None:
        self.state = "replaying"
        if self._connector is None:
            try:
                self._connector = _Watched(self.build())
            except ConnectorError as exc:
                self._pause(f"{exc.message} — run `partida connect {self.provider}` again")
                return
        state = SyncState(self.root, self.provider)
        self._streak = []
        try:
            with self.session_lock:
                wanted = replay.candidates(self.root, state, self.since)
            for start in range(0, len(wanted), CHUNK):
                if not self._push_chunk(state, wanted[start:start + CHUNK]):
                    return
            if self._streak:  # the last one failed and nothing came after it to tell an outage
                self._pause(self.last_error)
        finally:
            state.close()

    def _push_chunk(self, state: SyncState, chunk: list[tuple[int, str, str]]) -> bool:
        """Push a run of transactions; False when the pass must end (paused, stopping)."""
        seqs = {seq for seq, _, _ in chunk}
        first, last = min(seqs), max(seqs)
        with self.session_lock:
            txns = [t for t in read_transactions(self.root, first - 1, last - first + 1) if t.seq in seqs]
        retry = RetryPolicy(attempts_max=self.retry_attempts, delay_s_max=min(30.0, self.backoff_max_s),
                            sleep=self._sleep)
        connector = self._connector
        assert connector is not None
        for txn in txns:
            if self._stop.is_set():
                raise _Stopping()
            summary = replay.SyncSummary(self.provider)
            connector.last_error = None
            if replay.replay_one(state, connector, txn, retry, summary):
                self.pushed += 1
                self._outages = 0
                if len(self._streak) == 1:
                    self._strike(state, self._streak[0])
                self._streak = []
                self.last_error = ""
                self._strikes.pop(txn.seq, None)
                for seq, event_id, message in summary.failed + summary.parked:
                    log.warning("%s/%s: seq %s (event %s) refused: %s", self.root.name, self.provider, seq,
                                event_id, message)
                continue
            error = connector.last_error
            if isinstance(error, AuthError):
                self._connector = None  # rebuilt from the token store after the pause
                connector.close()
                self._pause(f"{error.message} — run `partida connect {self.provider}` again")
                return False
            self._streak.append(txn)
            self.last_error = getattr(error, "message", None) or summary.stopped or "the provider is not answering"
            if len(self._streak) >= 2:  # two in a row: the provider is down, not one item
                self._pause(self.last_error)
                return False
        return True

    def _strike(self, state: SyncState, txn: LedgerTxn) -> None:
        """``txn`` failed while the next one went through: count it; park it when it keeps failing."""
        strikes = self._strikes.get(txn.seq, 0) + 1
        self._strikes[txn.seq] = strikes
        if strikes < PARK_AFTER_STRIKES:
            return
        item = state.get(txn.seq)
        if item is not None and item.state == "uncertain":
            state.transition(item, "parked", error=f"kept failing while the provider answered the others "
                                                   f"({self.last_error or 'transient errors'})")
            log.warning("%s/%s: parked seq %s (event %s): it keeps failing", self.root.name, self.provider,
                        txn.seq, txn.event_id)
        self._strikes.pop(txn.seq, None)

    def _pause(self, reason: str) -> None:
        """Back off before the next pass: 1 s, 2 s, 4 s … up to ``backoff_max_s``."""
        self._outages += 1
        delay = min(self.backoff_max_s, 2.0 ** (self._outages - 1))
        self.state = "paused"
        self.last_error = reason
        self.paused_until = time.time() + delay
        log.warning("%s/%s: replay paused for %.0f s: %s", self.root.name, self.provider, delay, reason)
        try:
            self._sleep(delay)
        finally:
            self.paused_until = None
        self.wake.set()  # resume at once after the pause
