"""The ledger's state index: what the rules need, without re-parsing the ledger.

An SQLite file under ``<ledger>/.partida/`` holds, per ledger: the events
already recorded (id -> digest), customers, holders (bookings) with their open
credits, invoices, vouchers, document numbers, per-day account totals (for
``balance``), 4191 movements (for ``deposits``), the size of every journal
file it has seen, and the sequence and hash-chain head.

It is derived data: the ledger files are the truth. The index is committed
*after* the files are written, so a crash in between leaves the ledger ahead of
the index, and ``ledger.LedgerSession`` replays the difference from the
``source-event`` metadata. Deleting the folder rebuilds it from the ledger.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from .model import Credit, CustomerRecord, Holder, Invoice, Voucher
from .rules import DocumentNumber

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, digest TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (kind TEXT, key TEXT, body TEXT NOT NULL, PRIMARY KEY (kind, key));
CREATE TABLE IF NOT EXISTS components (component TEXT PRIMARY KEY, ref TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS daily (account TEXT, day TEXT, cents INTEGER NOT NULL, PRIMARY KEY (account, day));
CREATE TABLE IF NOT EXISTS deposit_moves (
  seq INTEGER, holder TEXT, customer TEXT, account TEXT, day TEXT, cents INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS deposit_moves_holder ON deposit_moves (holder);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS txns (
  seq INTEGER PRIMARY KEY, path TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL,
  event_id TEXT NOT NULL, day TEXT NOT NULL, type TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_KINDS: dict[type, str] = {
    CustomerRecord: "customer",
    Holder: "holder",
    Invoice: "invoice",
    Voucher: "voucher",
    DocumentNumber: "document",
}
_TYPES = {v: k for k, v in _KINDS.items()}
# Field names per record type, looked up once (dataclasses.fields is slow).
_FIELDS = {cls: tuple(f.name for f in dataclasses.fields(cls)) for cls in (*_KINDS, Credit)}
_KEY_FIELD = {CustomerRecord: "ref", Holder: "key", Invoice: "number", Voucher: "code", DocumentNumber: "number"}
_CHUNK = 500  # keys per IN (...) query, under SQLite's limit on parameters


def _encode(value: Any) -> Any:
    """The JSON form of what plain JSON lacks (Decimal, date, Credit); the
    encoder calls it for those only, the rest it writes itself."""
    if isinstance(value, Decimal):
        return {"$d": str(value)}
    if isinstance(value, datetime.date):
        return {"$t": value.isoformat()}
    if isinstance(value, Credit):
        return {"$c": [getattr(value, name) for name in _FIELDS[Credit]]}
    raise TypeError(f"cannot store {type(value).__name__} in the state index")


_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_encode).encode


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "$d" in value:
            return Decimal(value["$d"])
        if "$t" in value:
            return datetime.date.fromisoformat(value["$t"])
        if "$c" in value:
            return Credit(*(_decode(v) for v in value["$c"]))
    if isinstance(value, list):
        return tuple(_decode(v) for v in value)
    return value


def dump_record(record: Any) -> str:
    names = _FIELDS.get(type(record)) or tuple(f.name for f in dataclasses.fields(record))
    return _DUMPS({name: getattr(record, name) for name in names})


def load_record(kind: str, body: str) -> Any:
    return _TYPES[kind](**{k: _decode(v) for k, v in json.loads(body).items()})


def record_key(record: Any) -> str:
    if type(record) in _KEY_FIELD:
        return getattr(record, _KEY_FIELD[type(record)])
    for name in ("ref", "key", "number", "code"):
        if hasattr(record, name):
            return getattr(record, name)
    raise TypeError(record)  # pragma: no cover


def to_cents(amount: Decimal) -> int:
    return int(amount.scaleb(2))


class StateIndex:
    """SQLite-backed state; reads see the writes of the open batch (overlay)."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)
        self.overlay: dict[tuple[str, str], Any] = {}
        self.new_events: dict[str, str] = {}
        self.new_components: dict[str, str] = {}
        self._dirty: set[tuple[str, str]] = set()
        # Reads that found nothing, so a batch of new keys asks SQLite once each.
        self._missing: set[tuple[str, str]] = set()
        self._digests: dict[str, str | None] = {}  # prefetched event id -> digest (None: unknown)

    def close(self) -> None:
        self.conn.close()

    # -- reads (the rules' StateView) ---------------------------------------

    def _record(self, kind: str, key: str) -> Any:
        found = self.overlay.get((kind, key))
        if found is not None or (kind, key) in self._missing:
            return found
        row = self.conn.execute("SELECT body FROM records WHERE kind=? AND key=?", (kind, key)).fetchone()
        if row is None:
            self._missing.add((kind, key))
            return None
        record = load_record(kind, row[0])
        self.overlay[(kind, key)] = record  # cached for the batch; written back only if staged
        return record

    def prefetch(self, keys: dict[type, set[str]]) -> None:
        """Read many records at once (see ``rules.likely_reads``): a large
        batch then asks SQLite once per few hundred keys, not once per key."""
        for cls, wanted in keys.items():
            kind = _KINDS[cls]
            todo = [k for k in wanted if (kind, k) not in self.overlay and (kind, k) not in self._missing]
            for i in range(0, len(todo), _CHUNK):
                chunk = todo[i:i + _CHUNK]
                sql = f"SELECT key, body FROM records WHERE kind=? AND key IN ({','.join('?' * len(chunk))})"
                found = dict(self.conn.execute(sql, (kind, *chunk)))
                for key in chunk:
                    if key in found:
                        self.overlay[(kind, key)] = load_record(kind, found[key])
                    else:
                        self._missing.add((kind, key))

    def customer(self, ref: str) -> CustomerRecord | None:
        return self._record("customer", ref)

    def holder(self, key: str) -> Holder | None:
        return self._record("holder", key)

    def invoice(self, number: str) -> Invoice | None:
        return self._record("invoice", number)

    def voucher(self, code: str) -> Voucher | None:
        return self._record("voucher", code)

    def document(self, number: str) -> str | None:
        record = self._record("document", number)
        return record.event_id if record else None

    def component_owner(self, component: str) -> str | None:
        if component in self.new_components:
            return self.new_components[component]
        row = self.conn.execute("SELECT ref FROM components WHERE component=?", (component,)).fetchone()
        return row[0] if row else None

    def event_digest(self, event_id: str) -> str | None:
        if event_id in self.new_events:
            return self.new_events[event_id]
        if event_id in self._digests:
            return self._digests[event_id]
        row = self.conn.execute("SELECT digest FROM events WHERE id=?", (event_id,)).fetchone()
        return row[0] if row else None

    def prefetch_events(self, event_ids: list[str]) -> None:
        """Look many event ids up at once: a large batch then asks SQLite once
        per few hundred events instead of once per event."""
        for i in range(0, len(event_ids), _CHUNK):
            chunk = event_ids[i:i + _CHUNK]
            self._digests.update(dict.fromkeys(chunk))
            sql = f"SELECT id, digest FROM events WHERE id IN ({','.join('?' * len(chunk))})"
            self._digests.update(self.conn.execute(sql, chunk))

    def meta(self, key: str, default: str = "") -> str:
        row = self.conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def file_sizes(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT path, size FROM files"))

    def file_size(self, path: str) -> int | None:
        """The size of one ledger file when the index last saw it (None: never seen)."""
        row = self.conn.execute("SELECT size FROM files WHERE path=?", (path,)).fetchone()
        return row[0] if row else None

    # -- batch writes ---------------------------------------------------------

    def stage(self, changes: Iterable[Any]) -> None:
        for record in changes:
            slot = (_KINDS[type(record)], record_key(record))
            self.overlay[slot] = record
            self._dirty.add(slot)
            if slot[0] == "customer":
                self.new_components.setdefault(record.component, record.ref)

    def stage_event(self, event_id: str, digest: str) -> None:
        self.new_events[event_id] = digest

    def discard(self) -> None:
        self.overlay.clear()
        self.new_events.clear()
        self.new_components.clear()
        self._missing.clear()
        self._dirty.clear()
        self._digests.clear()

    def commit(
        self,
        daily: dict[tuple[str, str], int],
        moves: list[tuple[int, str, str, str, str, int]],
        files: dict[str, int],
        meta: dict[str, str],
        locations: Iterable[tuple[int, str, int, int, str, str, str]] = (),
    ) -> None:
        """Write the staged batch and its derived figures in one transaction."""
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        try:
            c.executemany("INSERT OR REPLACE INTO events VALUES (?, ?)", self.new_events.items())
            c.executemany(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?)",
                ((kind, key, dump_record(self.overlay[(kind, key)])) for kind, key in self._dirty),
            )
            c.executemany("INSERT OR IGNORE INTO components VALUES (?, ?)", self.new_components.items())
            c.executemany(
                "INSERT INTO daily VALUES (?, ?, ?) ON CONFLICT (account, day) DO UPDATE SET cents = cents + excluded.cents",
                ((a, d, n) for (a, d), n in daily.items()),
            )
            c.executemany("INSERT INTO deposit_moves VALUES (?, ?, ?, ?, ?, ?)", moves)
            c.executemany("INSERT OR REPLACE INTO files VALUES (?, ?)", files.items())
            c.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", meta.items())
            c.executemany("INSERT OR REPLACE INTO txns VALUES (?, ?, ?, ?, ?, ?, ?)", locations)
            c.execute("COMMIT")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        self.discard()

    # -- reports ----------------------------------------------------------------

    def balances(self, as_of: datetime.date | None) -> dict[str, int]:
        sql = "SELECT account, SUM(cents) FROM daily"
        args: tuple[Any, ...] = ()
        if as_of is not None:
            sql, args = sql + " WHERE day <= ?", (as_of.isoformat(),)
        return dict(self.conn.execute(sql + " GROUP BY account", args))

    def deposit_moves(self, as_of: datetime.date | None) -> list[tuple[str, str, str, str, int]]:
        sql = "SELECT holder, customer, account, day, cents FROM deposit_moves"
        args: tuple[Any, ...] = ()
        if as_of is not None:
            sql, args = sql + " WHERE day <= ?", (as_of.isoformat(),)
        return list(self.conn.execute(sql + " ORDER BY seq", args))

    def locations(self, after_seq: int = 0, limit: int | None = None) -> list[tuple[int, str, int, int, str, str, str]]:
        """Where transactions with ``seq > after_seq`` are, in append order."""
        sql = "SELECT seq, path, offset, length, event_id, day, type FROM txns WHERE seq > ? ORDER BY seq"
        args: tuple[Any, ...] = (after_seq,)
        if limit is not None:
            sql, args = sql + " LIMIT ?", (after_seq, limit)
        return list(self.conn.execute(sql, args))

    def customers(self) -> list[CustomerRecord]:
        rows = self.conn.execute("SELECT body FROM records WHERE kind='customer'")
        return [load_record("customer", body) for (body,) in rows]
