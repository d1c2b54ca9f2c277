"""Read transactions back from the ledger by sequence number, without a full load.

Connectors replay what the ledger holds; this module gives them the
transactions after a given ``seq`` by reading only their bytes (located by the
state index) and parsing just those.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import beans
from .ledger import LedgerSession


@dataclass(frozen=True, slots=True)
class LedgerPosting:
    account: str
    amount: Decimal
    meta: tuple[tuple[str, str], ...] = ()

    def get(self, key: str, default: str | None = None) -> str | None:
        return dict(self.meta).get(key, default)


@dataclass(frozen=True, slots=True)
class LedgerTxn:
    """A transaction as the ledger holds it."""

    seq: int
    date: datetime.date
    payee: str | None
    narration: str
    tags: frozenset[str]
    links: frozenset[str]
    meta: tuple[tuple[str, str], ...]
    postings: tuple[LedgerPosting, ...]

    def get(self, key: str, default: str | None = None) -> str | None:
        return dict(self.meta).get(key, default)

    @property
    def event_id(self) -> str:
        return self.get("event-id") or ""

    @property
    def event_type(self) -> str:
        return self.get("event-type") or ""


def _plain_meta(meta: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    return tuple((k, v) for k, v in (meta or {}).items()
                 if isinstance(v, str) and k not in ("filename",) and not k.startswith("__"))


def to_ledger_txn(entry: Any) -> LedgerTxn:
    return LedgerTxn(
        seq=int(entry.meta.get("seq", "0")),
        date=entry.date,
        payee=entry.payee,
        narration=entry.narration,
        tags=frozenset(entry.tags),
        links=frozenset(entry.links),
        meta=_plain_meta(entry.meta),
        postings=tuple(LedgerPosting(p.account, p.units.number, _plain_meta(p.meta)) for p in entry.postings),
    )


def read_transactions(root: Path, after_seq: int = 0, limit: int | None = None) -> list[LedgerTxn]:
    """Transactions with ``seq > after_seq``, in append order."""
    with LedgerSession(root) as session:
        assert session.index is not None
        locations = session.index.locations(after_seq, limit)
    out: list[LedgerTxn] = []
    handles: dict[str, Any] = {}
    try:
        for seq, path, offset, length, *_ in locations:
            f = handles.get(path) or handles.setdefault(path, open(root / path, "rb"))
            f.seek(offset)
            text = f.read(length).decode("utf-8")
            entries = [e for e in beans.parse_text(text) if beans.is_transaction(e)]
            if len(entries) != 1 or int(entries[0].meta.get("seq", "0")) != seq:
                raise ValueError(f"seq {seq}: the ledger does not hold it where the index says")
            out.append(to_ledger_txn(entries[0]))
    finally:
        for f in handles.values():
            f.close()
    return out


def last_seq(root: Path) -> int:
    """The sequence number of the last transaction appended."""
    with LedgerSession(root) as session:
        assert session.index is not None
        return int(session.index.meta("seq", "0"))
