"""Invoice and credit-note arithmetic: totals per rate from the lines.

Totals follow the per-rate rule of EN 16931: with prices excluding tax, line
nets are rounded then summed per rate and the VAT of a rate is computed on that
sum; with prices including tax, the VAT of a rate is extracted from the rate's
gross. Printed totals may differ from the computed ones by at most 0.01 per
rate; the printed amounts are the ones booked.

A chart whose tax codes split into components (``ca-qc``: GST + QST) computes
tax as QuickBooks does instead: per line and per component, each rounded half
away from zero on the line's pre-tax amount, then summed per component (three
lines at 9.99 under 14.975: GST 3 x 0.50 = 1.50, QST 3 x 1.00 = 3.00, where the
total would give 2.99). ``vat`` then lists components by their own percent (5,
9.975). With prices including tax, each component is extracted from the line's
price (price x percent / (100 + code's total)) and the line's net is the rest,
so the line's total is the price sent. A printed net that differs from the
lines' net (within the tolerance) is kept apart as ``rounding``, booked on the
chart's rounding account, instead of being folded into a revenue line.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .chart import Chart
from .events import Line, RateAmount, Totals
from .money import CENT, ZERO, cents, vat_included, vat_on_net

TOLERANCE = CENT


@dataclass(frozen=True, slots=True)
class DocumentAmounts:
    """What a document books: revenue per (account, rate), VAT per rate, gross."""

    revenue: tuple[tuple[str, Decimal, Decimal], ...]  # (account number, rate, net)
    vat: tuple[RateAmount, ...]
    gross: Decimal
    # Printed net - lines' net, when kept apart (multi-component charts).
    rounding: Decimal = ZERO
    # The lines' own tax per rate, when printed amounts replaced it.
    computed_vat: tuple[RateAmount, ...] = ()

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


def compute(lines: tuple[Line, ...], prices_include_tax: bool, default_account: str,
            chart: Chart | None = None) -> DocumentAmounts:
    """Amounts of a document computed from its lines."""
    if chart is not None and chart.multi_component:
        return _compute_per_line(lines, prices_include_tax, default_account, chart)
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


def _compute_per_line(lines: tuple[Line, ...], prices_include_tax: bool, default_account: str,
                      chart: Chart) -> DocumentAmounts:
    """Per line, per component, rounded, then summed (QuickBooks' computation)."""
    groups: dict[tuple[str, Decimal], Decimal] = {}
    taxes: dict[Decimal, Decimal] = {}
    gross = ZERO
    for line in lines:
        amount = cents(line.quantity * line.unit_price)
        components = chart.components(line.vat_rate)
        if prices_include_tax:
            total = sum((c.percent for c in components), ZERO)
            line_taxes = [cents(amount * c.percent / (100 + total)) for c in components]
            net = amount - sum(line_taxes, ZERO)
        else:
            line_taxes = [cents(amount * c.percent / 100) for c in components]
            net = amount
        for component, tax in zip(components, line_taxes):
            taxes[component.percent] = taxes.get(component.percent, ZERO) + tax
        key = (line.account or default_account, line.vat_rate.normalize())
        groups[key] = groups.get(key, ZERO) + net
        gross += net + sum(line_taxes, ZERO)
    codes = sorted({code for _, code in groups}, reverse=True)
    revenue = tuple((k[0], code, groups[k]) for code in codes for k in groups if k[1] == code)
    vat = tuple(RateAmount(percent, taxes[percent]) for percent in sorted(taxes))
    return DocumentAmounts(revenue, vat, gross)


def apply_printed(computed: DocumentAmounts, printed: Totals, separate_rounding: bool = False,
                  ) -> tuple[DocumentAmounts | None, list[tuple[str, str]]]:
    """Check printed totals against the lines and return the amounts to book.

    ``separate_rounding``: a printed net off the lines' net is booked apart
    (``rounding``) rather than on the largest revenue line.
    """
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
    if separate_rounding:
        vat = tuple(RateAmount(r.rate, printed_rates[r.rate.normalize()]) for r in computed.vat)
        return DocumentAmounts(computed.revenue, vat, printed.gross, printed.net - net, computed.vat), []
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
