"""Replay state per ledger and provider: one row per local transaction sent.

States (DESIGN §5): ``pending`` (no row yet), ``uncertain`` (sent or about to
be: outcome unknown), ``synced`` (with the remote id), ``failed`` (the
provider's permanent error), ``parked`` (set aside after repeated failures).
The idempotency key is written, with the ``uncertain`` state, before the first
request leaves, and reused on every retry. Stored in SQLite under
``<ledger>/sync/<provider>.sqlite3`` so each transition is one atomic write.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal

State = Literal["pending", "uncertain", "synced", "failed", "parked"]
STATES: tuple[State, ...] = ("pending", "uncertain", "synced", "failed", "parked")

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
  seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, day TEXT NOT NULL, state TEXT NOT NULL,
  key TEXT NOT NULL, remote_id TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '', updated TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS items_state ON items (state);
"""

# Which transitions the replay loop may make (from -> allowed to).
ALLOWED: dict[str, frozenset[str]] = {
    "pending": frozenset({"uncertain"}),
    "uncertain": frozenset({"uncertain", "synced", "failed", "parked"}),
    "failed": frozenset({"uncertain", "parked"}),
    "parked": frozenset({"uncertain"}),
    "synced": frozenset(),
}


def idempotency_key(provider: str, event_id: str, seq: int) -> str:
    """A deterministic key for one local transaction on one provider."""
    digest = hashlib.sha256(f"{provider}\x00{event_id}\x00{seq}".encode()).hexdigest()[:20]
    return f"ptd-{seq}-{digest}"


@dataclass(frozen=True, slots=True)
class Item:
    seq: int
    event_id: str
    day: str
    state: State
    key: str
    remote_id: str = ""
    attempts: int = 0
    error: str = ""


class SyncState:
    def __init__(self, ledger_root: Path, provider: str):
        folder = ledger_root / "sync"
        folder.mkdir(exist_ok=True)
        self.provider = provider
        self.conn = sqlite3.connect(folder / f"{provider}.sqlite3", isolation_level=None, timeout=60)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Make the transitions inside one transaction: on disk together, or not at all."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def get(self, seq: int) -> Item | None:
        row = self.conn.execute(
            "SELECT seq, event_id, day, state, key, remote_id, attempts, error FROM items WHERE seq=?", (seq,)
        ).fetchone()
        return Item(*row) if row else None

    def items(self, states: tuple[State, ...]) -> list[Item]:
        marks = ",".join("?" * len(states))
        rows = self.conn.execute(
            f"SELECT seq, event_id, day, state, key, remote_id, attempts, error FROM items "
            f"WHERE state IN ({marks}) ORDER BY seq", states)
        return [Item(*r) for r in rows]

    def done_seqs(self, from_seq: int = 0) -> set[int]:
        """Transactions that need nothing more (synced) or wait for a person (failed, parked)."""
        rows = self.conn.execute(
            "SELECT seq FROM items WHERE state IN ('synced','failed','parked') AND seq >= ?", (from_seq,))
        return {r[0] for r in rows}

    def first_not_done(self) -> int:
        """The smallest seq that is not done: where a replay has to start looking."""
        done = "state IN ('synced','failed','parked')"
        if not self.conn.execute(f"SELECT 1 FROM items WHERE seq = 1 AND {done}").fetchone():
            return 1
        row = self.conn.execute(
            f"SELECT MIN(a.seq) + 1 FROM items a WHERE a.{done} AND NOT EXISTS "
            f"(SELECT 1 FROM items b WHERE b.seq = a.seq + 1 AND b.{done})").fetchone()
        return int(row[0])

    def transition(self, item: Item, state: State, *, remote_id: str = "", error: str = "",
                   attempt: bool = False) -> Item:
        """Move one item to ``state``: the only function that writes states."""
        assert state in ALLOWED[item.state], f"{item.state} -> {state} is not a legal transition"
        now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        attempts = item.attempts + (1 if attempt else 0)
        self.conn.execute(
            "INSERT INTO items (seq, event_id, day, state, key, remote_id, attempts, error, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (seq) DO UPDATE SET state=excluded.state, "
            "remote_id=excluded.remote_id, attempts=excluded.attempts, error=excluded.error, updated=excluded.updated",
            (item.seq, item.event_id, item.day, state, item.key, remote_id or item.remote_id, attempts, error, now),
        )
        return Item(item.seq, item.event_id, item.day, state, item.key, remote_id or item.remote_id, attempts, error)

    def counts(self) -> dict[str, int]:
        out = {s: 0 for s in STATES}
        out.update(dict(self.conn.execute("SELECT state, count(*) FROM items GROUP BY state")))
        return out
