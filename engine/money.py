"""Money as Decimal: parsing from the wire, rounding, proportional shares.

Amounts are cents-scaled ``Decimal`` values. Rounding is ROUND_HALF_UP on the
absolute value (half away from zero), so ``-9.975`` rounds to ``-9.98`` just as
``9.975`` rounds to ``9.98`` — the rule is pinned here and nowhere else.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
HUNDRED = Decimal(100)

_MONEY = re.compile(r"^-?\d{1,12}(\.\d{1,2})?$")
_DECIMAL = re.compile(r"^-?\d{1,12}(\.\d{1,6})?$")


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half away from zero."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def parse_money(text: str) -> Decimal | None:
    """Parse a wire amount like ``"120.00"``; None when it is not one."""
    if not isinstance(text, str) or not _MONEY.fullmatch(text):
        return None
    return cents(Decimal(text))


def parse_decimal(text: str) -> Decimal | None:
    """Parse a decimal string (quantity, unit price, rate); None when invalid."""
    if not isinstance(text, str) or not _DECIMAL.fullmatch(text):
        return None
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex already guards
        return None


def vat_included(gross: Decimal, rate: Decimal) -> Decimal:
    """VAT contained in a tax-inclusive amount at ``rate`` percent."""
    return cents(gross * rate / (HUNDRED + rate))


def vat_on_net(net: Decimal, rate: Decimal) -> Decimal:
    """VAT due on a tax-exclusive amount at ``rate`` percent."""
    return cents(net * rate / HUNDRED)


def share(total: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """The cents of ``total`` that belong to ``part`` out of ``whole``.

    When ``part`` is the whole, the whole ``total`` is returned, so that a
    sequence of partial shares always ends exactly on ``total``.
    """
    if whole == 0 or part == whole:
        return total
    return cents(total * part / whole)


def fmt(value: Decimal) -> str:
    """Render an amount with exactly two decimals."""
    return f"{cents(value):.2f}"
