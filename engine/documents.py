"""Invoice and credit-note arithmetic: totals per rate from the lines.

Totals follow the per-rate rule of EN 16931: with prices excluding tax, line
nets are rounded then summed per rate and the VAT of a rate is computed on that
sum; with prices including tax, the VAT of a rate is extracted from the rate's
gross. Printed totals may differ from the computed ones by at most 0.01 per
rate; the printed amounts are the ones booked.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .events import Line, RateAmount, Totals
from .money import CENT, ZERO, cents, vat_included, vat_on_net

TOLERANCE = CENT


@dataclass(frozen=True, slots=True)
class DocumentAmounts:
    """What a document books: revenue per (account, rate), VAT per rate, gross."""

    revenue: tuple[tuple[str, Decimal, Decimal], ...]  # (account number, rate, net)
    vat: tuple[RateAmount, ...]
    gross: Decimal

    @property
    def net(self) -> Decimal:
        return sum((n for _, _, n in self.revenue), ZERO)


def allocate(total: Decimal, weights: list[Decimal]) -> list[Decimal]:
    """Split ``total`` in cents proportionally to ``weights``; the last takes the rest."""
    whole = sum(weights, ZERO)
    parts: list[Decimal] = []
    for weight in weights[:-1]:
        parts.append(cents(total * weight / whole) if whole else ZERO)
    parts.append(total - sum(parts, ZERO))
    return parts


def compute(lines: tuple[Line, ...], prices_include_tax: bool, default_account: str) -> DocumentAmounts:
    """Amounts of a document computed from its lines."""
    groups: dict[tuple[str, Decimal], Decimal] = {}
    for line in lines:
        key = (line.account or default_account, line.vat_rate)
        groups[key] = groups.get(key, ZERO) + cents(line.quantity * line.unit_price)
    rates = sorted({rate for _, rate in groups}, reverse=True)
    revenue: list[tuple[str, Decimal, Decimal]] = []
    vat: list[RateAmount] = []
    gross = ZERO
    for rate in rates:
        keys = [k for k in groups if k[1] == rate]
        base = groups[keys[0]] if len(keys) == 1 else sum([groups[k] for k in keys], ZERO)
        if prices_include_tax:
            rate_vat = vat_included(base, rate)
            nets = allocate(base - rate_vat, [groups[k] for k in keys])
            gross += base
        else:
            rate_vat = vat_on_net(base, rate)
            nets = [groups[k] for k in keys]
            gross += base + rate_vat
        revenue += [(k[0], rate, n) for k, n in zip(keys, nets)]
        vat.append(RateAmount(rate, rate_vat))
    return DocumentAmounts(tuple(revenue), tuple(vat), gross)


def apply_printed(computed: DocumentAmounts, printed: Totals) -> tuple[DocumentAmounts | None, list[tuple[str, str]]]:
    """Check printed totals against the lines and return the amounts to book."""
    problems: list[tuple[str, str]] = []
    by_rate = {v.rate.normalize(): v.amount for v in computed.vat}
    printed_rates = {v.rate.normalize(): v.amount for v in printed.vat}
    if len(printed_rates) != len(printed.vat):
        problems.append(("totals.vat", "a VAT rate is listed twice"))
    if printed_rates.keys() != by_rate.keys():
        problems.append(("totals.vat", f"rates {_rates(printed_rates)} differ from the lines' rates {_rates(by_rate)}"))
        return None, problems
    for rate, amount in printed_rates.items():
        if abs(amount - by_rate[rate]) > TOLERANCE:
            problems.append(("totals.vat", f"VAT at {rate:f}% is {amount} but the lines give {by_rate[rate]}"))
    slack = TOLERANCE * len(by_rate)
    net = computed.net
    if abs(printed.net - net) > slack:
        problems.append(("totals.net", f"net is {printed.net} but the lines give {net}"))
    if abs(printed.gross - computed.gross) > slack:
        problems.append(("totals.gross", f"gross is {printed.gross} but the lines give {computed.gross}"))
    vat_total = sum(printed_rates.values(), ZERO)
    if printed.net + vat_total != printed.gross:
        problems.append(("totals.gross", f"net {printed.net} + VAT {vat_total} is not gross {printed.gross}"))
    if problems:
        return None, problems
    return _book_printed(computed, net, printed), []


def _book_printed(computed: DocumentAmounts, net: Decimal, printed: Totals) -> DocumentAmounts:
    revenue = computed.revenue
    gap = printed.net - net
    if gap:
        # A cent of rounding on the printed net goes to the largest revenue line.
        lines = list(revenue)
        i = max(range(len(lines)), key=lambda j: abs(lines[j][2]))
        account, rate, line_net = lines[i]
        lines[i] = (account, rate, line_net + gap)
        revenue = tuple(lines)
    return DocumentAmounts(revenue, tuple(printed.vat), printed.gross)


def _rates(rates: dict[Decimal, Decimal]) -> str:
    return "{" + ", ".join(f"{r:f}" for r in sorted(rates)) + "}"
