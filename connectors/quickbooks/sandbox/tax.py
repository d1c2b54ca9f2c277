"""Sales tax as QuickBooks computes it: per line, per rate, rounded, then summed.

For each taxable line and each rate of its tax code, the line's tax is
``cents(line amount x rate / 100)`` (half away from zero); a rate's total is
the sum of its lines' rounded taxes, and ``NetAmountTaxable`` the sum of the
lines' amounts. So three lines at 9.99 with ``GST/QST QC`` give GST
3 x 0.50 = 1.50 and QST 3 x 1.00 = 3.00, where a computation on the total
would give 2.99 (accounting-rules §6.2). Every rate applies to the pre-tax
amount (Québec's QST since 2013).

A client may send its own ``TxnTaxDetail.TaxLine`` amounts (the ledger's
printed VAT): the sandbox keeps them when each is within one cent per line
of the computed rate total (the most per-line and per-total rounding can
differ), and refuses the document (6000) otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace
from decimal import Decimal

from connectors.quickbooks.sandbox.money import ZERO
from connectors.quickbooks.sandbox.money import cents

__all__ = ["Rate", "TaxTotal", "TaxedLine", "apply_overrides", "compute_taxes", "line_tax"]

_TOLERANCE_PER_LINE = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Rate:
    """One tax rate of a tax code.

    Attributes:
        rate_id: the TaxRate Id.
        name: its name (``GST``).
        percent: the rate, in percent (``9.975``).
        account_id: the liability account its tax is posted to.
    """

    rate_id: str
    name: str
    percent: Decimal
    account_id: str


@dataclass(frozen=True, slots=True)
class TaxedLine:
    """A sales line's pre-tax amount and the rates that apply to it."""

    amount: Decimal
    rates: tuple[Rate, ...]


@dataclass(frozen=True, slots=True)
class TaxTotal:
    """One rate's tax over a document.

    Attributes:
        rate: the rate.
        net: sum of the taxed lines' amounts.
        amount: the tax (sum of the per-line rounded taxes, or the client's).
        lines: how many lines carry this rate.
    """

    rate: Rate
    net: Decimal
    amount: Decimal
    lines: int


def line_tax(amount: Decimal, rate: Rate) -> Decimal:
    """The tax of one line at one rate, rounded to the cent."""
    return cents(amount * rate.percent / 100)


def compute_taxes(lines: Iterable[TaxedLine]) -> tuple[TaxTotal, ...]:
    """The per-rate totals of a document, in the order rates first appear."""
    totals: dict[str, TaxTotal] = {}
    for line in lines:
        for rate in line.rates:
            total = totals.get(rate.rate_id) or TaxTotal(rate, ZERO, ZERO, 0)
            totals[rate.rate_id] = replace(total, net=total.net + line.amount,
                                           amount=total.amount + line_tax(line.amount, rate), lines=total.lines + 1)
    return tuple(totals.values())


def apply_overrides(totals: tuple[TaxTotal, ...], supplied: Mapping[str, Decimal]) -> tuple[TaxTotal, ...] | str:
    """Replace computed rate totals by the client's, or say why they are refused.

    Args:
        totals: the computed totals.
        supplied: rate Id -> the client's tax amount for that rate.

    Returns:
        The totals with the client's amounts, or an error message.
    """
    known = {total.rate.rate_id: total for total in totals}
    unknown = sorted(set(supplied) - set(known))
    if unknown:
        return f"TaxRateRef {', '.join(unknown)} does not apply to any line of this transaction"
    result = []
    for total in totals:
        if total.rate.rate_id not in supplied:
            result.append(total)
            continue
        given = supplied[total.rate.rate_id]
        if abs(given - total.amount) > _TOLERANCE_PER_LINE * total.lines:
            return (f"the tax amount {given} for {total.rate.name} differs from the computed {total.amount} "
                    f"by more than 0.01 per line")
        result.append(replace(total, amount=given))
    return tuple(result)
