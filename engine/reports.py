"""Read-side figures: balances per account and the open-deposit monitor.

Both read the state index, not the ledger, so they answer in milliseconds on
any ledger size; ``tests/engine/test_reports.py`` proves they agree with
``bean-query`` on the same ledger.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal

from .chart import Chart
from .state import StateIndex


@dataclass(frozen=True, slots=True)
class BalanceRow:
    account: str
    number: str
    balance: Decimal  # debit positive

    @property
    def debit(self) -> Decimal:
        return self.balance if self.balance > 0 else Decimal("0.00")

    @property
    def credit(self) -> Decimal:
        return -self.balance if self.balance < 0 else Decimal("0.00")


def _money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def balances(
    index: StateIndex,
    chart: Chart,
    *,
    account: str | None = None,
    by_customer: bool = False,
    as_of: datetime.date | None = None,
) -> list[BalanceRow]:
    """Balance per account, customer sub-accounts folded into their parent
    unless ``by_customer``; ``account`` keeps the accounts whose PCG number
    starts with it. Zero balances are left out."""
    totals: dict[str, int] = {}
    for name, cents in index.balances(as_of).items():
        key = name if by_customer else ":".join(name.split(":")[:2])
        totals[key] = totals.get(key, 0) + cents
    rows = []
    for name, cents in sorted(totals.items()):
        number = chart.number_of(name)
        if account is not None and not number.startswith(account):
            continue
        if cents:
            rows.append(BalanceRow(name, number, _money(cents)))
    return rows


@dataclass(frozen=True, slots=True)
class OpenDeposit:
    holder: str  # booking ref, or "invoice <number>" for a credit left on an invoice
    customer: str
    customer_name: str
    amount: Decimal  # held on 4191 (credit balance, shown positive)
    since: datetime.date
    age_days: int


def open_deposits(index: StateIndex, as_of: datetime.date) -> list[OpenDeposit]:
    """What each booking still holds on 4191 at ``as_of``, oldest first.

    ``since`` is the day the holder's 4191 balance last left zero.
    """
    held: dict[str, int] = {}
    since: dict[str, str] = {}
    account_of: dict[str, str] = {}
    for holder, _customer, account, day, cents in index.deposit_moves(as_of):
        before = held.get(holder, 0)
        held[holder] = before + cents
        if before == 0 and held[holder] != 0:
            since[holder] = day
        account_of.setdefault(holder, account)
    by_component = {c.component: c for c in index.customers()}
    rows = []
    for holder, cents in held.items():
        if cents == 0:
            continue
        start = datetime.date.fromisoformat(since[holder])
        kind, ref = holder.split(":", 1)
        label = ref if kind == "b" else f"invoice {ref}"
        record = by_component.get(account_of[holder].rsplit(":", 1)[-1])
        cust, name = (record.ref, record.name) if record else ("?", "?")
        rows.append(OpenDeposit(label, cust, name, _money(-cents), start, (as_of - start).days))
    return sorted(rows, key=lambda r: (r.since, r.holder))
