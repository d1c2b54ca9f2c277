"""Corrections: ``partida reverse EVENT_ID --reason TEXT``.

The ledger is append-only, so a wrong event is corrected by new transactions
that negate its postings, never by an edit. Decisions:

- One reversing transaction per transaction of the event, same accounts,
  links and document metadata, amounts negated, dated the day of the
  correction (``--date`` to choose), narration ``Reversal of …: <reason>``.
  They carry ``event-id`` = the reversed event's id, ``event-type:
  "reversal"``, ``reverses`` and ``reason``: summing an event's postings by
  ``event-id`` gives zero once it is reversed, and the hash chain covers them
  like any other transaction.
- An issued invoice or credit note is never reversed: its number is taken
  for good (continuous numbering); it is cancelled by a credit note.
- An event can be reversed only when no later event built on it. The check
  is exact, not a list of cases: every event of the ledger is booked again,
  in order, without the reversed ones, and each later event must give the
  same postings it gave when it was recorded. A payment that settled an
  invoice the reversed deposit had half-paid, for instance, would post
  differently, so the reversal is refused and names that payment (reverse
  it first). The ledger state after a reversal is then exactly the state
  of a ledger that never held the event, and it is rebuilt that way.
- Reversing twice is refused; recording the reversed event again is a no-op
  (its id stays taken): a corrected event comes with a new id.
"""

from __future__ import annotations

import datetime
import json
import tempfile
from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import beans, rules
from .events import Context, parse_event
from .model import Posting, Txn
from .settings import Settings
from .state import StateIndex

REVERSAL = "reversal"
NOT_REVERSIBLE = {
    "invoice.issued": "an issued invoice keeps its number: cancel it with a credit note (credit_note.issued)",
    "credit_note.issued": "an issued credit note keeps its number: issue an invoice for what it credited",
}
_KEPT_META = ("booking", "invoice", "credit-note", "customer", "voucher", "step")


class ReversalRefused(Exception):
    """The event cannot be reversed; the message says why and what to do."""


def reversed_ids(entries: Iterable[Any]) -> set[str]:
    """The ids of the events a ledger's reversal transactions reverse."""
    return {e.meta["reverses"] for e in entries if beans.is_transaction(e) and "reverses" in e.meta}


def _postings(entry: Any) -> Counter[tuple[str, Decimal]]:
    return Counter((p.account, p.units.number) for p in entry.postings)


def _by_event(txns: Sequence[Any]) -> dict[str, list[Any]]:
    """Event id -> its transactions in append order (reversals left out)."""
    grouped: dict[str, list[Any]] = {}
    for entry in txns:
        if entry.meta.get("event-type") != REVERSAL:
            grouped.setdefault(entry.meta.get("event-id", ""), []).append(entry)
    return grouped


def check_independent(txns: Sequence[Any], settings: Settings, event_id: str, skip: set[str]) -> None:
    """Book every event again without ``event_id`` (and the ``skip``ped ones):
    each event after it must post exactly what the ledger holds."""
    ctx = Context(settings.chart, settings.currency)
    grouped = _by_event(txns)
    after = False
    with tempfile.TemporaryDirectory(prefix="partida-reverse-") as scratch:
        view = StateIndex(Path(scratch) / "state.sqlite3")
        try:
            for eid, held in grouped.items():
                if eid == event_id:
                    after = True
                    continue
                source = held[0].meta.get("source-event")
                if eid in skip or source is None:
                    continue
                event, _ = parse_event(json.loads(source), 0, ctx)
                booked, problems = rules.book(event, view, settings) if event else (None, [])
                if booked is None or (after and not _same(booked.txns, held)):
                    why = f" ({problems[0][0]}: {problems[0][1]})" if problems else ""
                    raise ReversalRefused(
                        f"event {eid!r} ({held[0].meta.get('event-type')}, {held[0].date}) was booked on top of "
                        f"{event_id!r}{why}: reverse it first")
                view.stage(booked.changes)
        finally:
            view.close()


def _same(booked: Sequence[Txn], held: Sequence[Any]) -> bool:
    return len(booked) == len(held) and all(
        Counter((p.account, p.amount) for p in txn.postings) == _postings(entry) for txn, entry in zip(booked, held))


def reversal_txns(held: Sequence[Any], event_id: str, reason: str, day: datetime.date) -> list[Txn]:
    """The transactions that negate ``held`` (the reversed event's)."""
    out = []
    for entry in held:
        meta = (("event-id", event_id), ("event-type", REVERSAL), ("reverses", event_id), ("reason", reason))
        meta += tuple((k, entry.meta[k]) for k in _KEPT_META if isinstance(entry.meta.get(k), str))
        postings = tuple(Posting(p.account, -p.units.number) for p in entry.postings)
        out.append(Txn(day, entry.payee, f"Reversal of {entry.narration}: {reason}", frozenset({REVERSAL}),
                       frozenset(entry.links), meta, postings))
    return out


def plan(entries: list[Any], settings: Settings, event_id: str, reason: str, day: datetime.date) -> list[Txn]:
    """Check that ``event_id`` may be reversed and return its reversal."""
    txns = sorted((e for e in entries if beans.is_transaction(e)), key=lambda e: int(e.meta.get("seq", "0")))
    if not reason.strip():
        raise ReversalRefused("--reason must say why the event is reversed")
    done = reversed_ids(txns)
    if event_id in done:
        raise ReversalRefused(f"event {event_id!r} is already reversed")
    held = _by_event(txns).get(event_id)
    if not held:
        raise ReversalRefused(f"no event {event_id!r} in this ledger")
    kind = held[0].meta.get("event-type", "")
    if kind in NOT_REVERSIBLE:
        raise ReversalRefused(f"event {event_id!r} is {kind}: {NOT_REVERSIBLE[kind]}")
    if day < held[0].date:
        raise ReversalRefused(f"the reversal date {day} is before the event's date {held[0].date}")
    check_independent(txns, settings, event_id, done)
    return reversal_txns(held, event_id, reason, day)
