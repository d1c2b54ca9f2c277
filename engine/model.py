"""Domain values: transactions to write and the ledger state they change.

All values are frozen; state changes are new values (``evolve``).
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

Meta = tuple[tuple[str, str], ...]
T = TypeVar("T")
_FIELDS: dict[type, tuple[tuple[str, ...], frozenset[str]]] = {}


def evolve(value: T, **changes: Any) -> T:
    """``dataclasses.replace`` for these frozen values, with the field names
    looked up once per class: ``replace`` introspects the class on every call,
    and the rules call it for most events."""
    cls = type(value)
    names, known = _FIELDS.get(cls) or _FIELDS.setdefault(cls, _field_names(cls))
    if not known.issuperset(changes):
        raise TypeError(f"{cls.__name__} has no field {sorted(set(changes) - known)[0]!r}")
    return cls(*[changes[n] if n in changes else getattr(value, n) for n in names])  # type: ignore[call-arg]


def _field_names(cls: type) -> tuple[tuple[str, ...], frozenset[str]]:
    names = tuple(f.name for f in dataclasses.fields(cls))
    return names, frozenset(names)


@dataclass(frozen=True, slots=True)
class Posting:
    account: str
    amount: Decimal  # debit positive, credit negative
    meta: Meta = ()


@dataclass(frozen=True, slots=True)
class Txn:
    """A balanced transaction ready to be rendered into the journal."""

    date: datetime.date
    payee: str | None
    narration: str
    tags: frozenset[str]
    links: frozenset[str]
    meta: Meta
    postings: tuple[Posting, ...]

    def residual(self) -> Decimal:
        return sum((p.amount for p in self.postings), Decimal(0))


@dataclass(frozen=True, slots=True)
class Open:
    """An account to open (customer sub-accounts appear as customers do)."""

    account: str
    meta: Meta = ()


# ---------------------------------------------------------------------------
# State: what the rules need to know about earlier events.


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    ref: str
    name: str
    component: str  # account component shared by its 411 and 4191 sub-accounts


@dataclass(frozen=True, slots=True)
class Credit:
    """Money held on 4191 for a holder: a deposit, or an overpayment."""

    event_id: str
    date: datetime.date
    customer: str  # customer ref whose 4191 sub-account holds it
    amount: Decimal  # still held
    vat: Decimal  # VAT of that amount still parked on 44588 (ca-qc: prepayment tax already payable)
    # ca-qc: that tax per component, (percent, amount); its deposits account
    # holds amount - vat. Empty on fr-pcg.
    taxes: tuple[tuple[Decimal, Decimal], ...] = ()
    nature: str = ""  # ca-qc: "security" or "prepayment"; "" for fr-pcg and overpayments


@dataclass(frozen=True, slots=True)
class Holder:
    """A booking (``b:<ref>``) or an invoice without booking (``i:<number>``)."""

    key: str
    credits: tuple[Credit, ...] = ()
    invoices: tuple[str, ...] = ()

    def held(self) -> Decimal:
        return sum((c.amount for c in self.credits), Decimal(0))


@dataclass(frozen=True, slots=True)
class Invoice:
    number: str
    event_id: str
    customer: str
    holder: str
    date: datetime.date
    gross: Decimal
    open: Decimal  # still due on 411; negative when the customer is in credit
    vat_pending: Decimal  # invoiced VAT not yet due (44574), receipts policy
    credited: Decimal = Decimal(0)  # gross of credit notes issued against it
    prices_include_tax: bool = False


@dataclass(frozen=True, slots=True)
class Voucher:
    code: str
    event_id: str
    purpose: str
    amount: Decimal  # still unused
    vat: Decimal  # VAT already due for the unused amount (single-purpose)


@dataclass(frozen=True, slots=True)
class Booked:
    """What one event produces: transactions, accounts to open, new state."""

    txns: tuple[Txn, ...]
    opens: tuple[Open, ...] = ()
    changes: tuple[object, ...] = field(default=())
