"""The references Partida stores on QuickBooks objects, and the keys of its writes.

Every transaction object carries ``PrivateNote`` starting with
``partida:<key>`` (payments add ``holder:b:<booking>`` or
``holder:i:<invoice>``); journal entries also carry ``DocNumber`` =
``doc_ref(key)``; customers carry ``Notes`` = ``partida:customer:<ref>``;
items ``Sku`` = product ref (or ``partida-<number>``); created accounts
``AcctNum`` = the PCG number.

All of them are deterministic: derived from the idempotency key the replay
loop persisted, or from the ledger's own numbers and refs, so a replay in a
new process finds what an earlier one wrote.
"""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal

from engine.money import ZERO
from engine.money import fmt

__all__ = [
    "applied_mark",
    "applied_marks",
    "customer_marker",
    "display_name",
    "doc_number",
    "doc_ref",
    "marker_ref",
    "note",
    "note_holder",
    "note_key",
    "request_id",
]

DOC_NUMBER_MAX = 21
REQUEST_ID_MAX = 36  # QuickBooks allows 50, but 36 inside a batch: one rule for both
NAME_MAX = 100
NOTE_MAX = 4000
_CUSTOMER_MARK = "partida:customer:"
_NOTE_MARK = "partida:"
_HOLDER_MARK = "holder:"
_APPLIED_MARK = "applied:"


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def _short(text: str, size: int) -> str:
    # Deterministic and collision-resistant: a readable head and a hash of the whole.
    return text if len(text) <= size else f"{text[:size - 9]}~{_digest(text, 8)}"


def doc_number(number: str) -> str:
    """A ledger document number as a ``DocNumber`` (21 characters at most)."""
    return _short(number, DOC_NUMBER_MAX)


def doc_ref(key: str) -> str:
    """The ``DocNumber`` of a journal entry: its key, shortened to 21 characters."""
    return _short(key, DOC_NUMBER_MAX)


def request_id(key: str, part: str = "") -> str:
    """The ``requestid`` of one write made for ``key`` (``part`` names which)."""
    text = f"{key}:{part}" if part else key
    return text if len(text) <= REQUEST_ID_MAX and re.fullmatch(r"[A-Za-z0-9:_.-]+", text) \
        else f"r{_digest(text, REQUEST_ID_MAX - 1)}"


def note(key: str, memo: str, holder: str | None = None) -> str:
    """A ``PrivateNote``: the key first, the holder for payments, then the narration."""
    head = [f"{_NOTE_MARK}{key}"] + ([f"{_HOLDER_MARK}{holder}"] if holder else [])
    return "\n".join([*head, memo.replace("\n", " ")])[:1000]


def _note_lines(text: str | None) -> list[str]:
    return (text or "").split("\n")


def note_key(text: str | None) -> str | None:
    """The key a PrivateNote starts with, if Partida wrote it."""
    first = _note_lines(text)[0]
    return first[len(_NOTE_MARK):] if first.startswith(_NOTE_MARK) else None


def note_holder(text: str | None) -> str | None:
    """The holder (``b:<booking>`` or ``i:<invoice>``) of a payment's note."""
    return next((line[len(_HOLDER_MARK):] for line in _note_lines(text) if line.startswith(_HOLDER_MARK)), None)


def applied_mark(key: str, amount: Decimal) -> str:
    """The PrivateNote line recording that deposit application ``key`` took ``amount`` of a payment."""
    return f"{_APPLIED_MARK}{key}={fmt(amount)}"


def applied_marks(text: str | None) -> dict[str, Decimal]:
    """Deposit applications recorded on a payment: key -> amount."""
    marks: dict[str, Decimal] = {}
    for line in _note_lines(text):
        if line.startswith(_APPLIED_MARK):
            key, _, amount = line[len(_APPLIED_MARK):].rpartition("=")
            marks[key] = marks.get(key, ZERO) + Decimal(amount)
    return marks


def customer_marker(ref: str) -> str:
    """The ``Notes`` of a customer Partida created."""
    return f"{_CUSTOMER_MARK}{ref}"


def marker_ref(notes: str | None) -> str | None:
    """The ledger ref in a customer's ``Notes``, if Partida wrote it."""
    return notes[len(_CUSTOMER_MARK):] if notes and notes.startswith(_CUSTOMER_MARK) else None


def display_name(name: str, ref: str | None = None) -> str:
    """A ``DisplayName`` (no ``:``, 100 characters); with ``ref`` when the plain name is taken."""
    clean = re.sub(r"\s+", " ", name.replace(":", "-")).strip() or "?"
    if ref is None:
        return clean[:NAME_MAX]
    suffix = f" ({_short(ref.replace(':', '-'), 40)})"
    return clean[:NAME_MAX - len(suffix)] + suffix


