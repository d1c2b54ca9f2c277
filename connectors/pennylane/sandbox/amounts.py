"""Decimal amounts and VAT codes as the sandbox computes them.

Amounts travel as decimal strings and are computed as ``Decimal``; results are
rounded half away from zero to the cent, line by line (Pennylane's exact
policy is not documented; per-line rounding is the common French practice).

VAT codes are ``<COUNTRY>_<rate x 10>`` (``FR_200`` is 20 %, ``FR_55`` 5.5 %,
``FR_09`` 0.9 %) or ``<COUNTRY>_<units>_<decimals>`` (``FR_1_05`` is 1.05 %);
``exempt``, ``extracom``, ``crossborder``, ``intracom_*`` and the
``*_construction`` (reverse-charge) codes collect no VAT on a sale.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP
from decimal import Decimal

__all__ = ["ZERO", "cents", "fmt", "parse_amount", "vat_percent"]

ZERO = Decimal(0)
_CENT = Decimal("0.01")
_DECIMAL = re.compile(r"^-?\d{1,15}(\.\d+)?$")
_COUNTRY_RATE = re.compile(r"^[A-Z]{2}_(\d+)(?:_(\d+))?$")
_NO_VAT = re.compile(r"^(exempt|extracom|crossborder|intracom_\d+|[A-Z]{2}_\d+_construction)$")


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half away from zero."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal) -> str:
    """An amount as the API prints it: two decimals (never ``-0.00``)."""
    rounded = cents(value)
    return f"{rounded if rounded else ZERO:.2f}"


def parse_amount(text: str, places: int = 2) -> Decimal | None:
    """Parse a decimal string with at most ``places`` decimals; None if it is not one.

    The empty string is zero, as the API's amount pattern allows it.
    """
    if text == "":
        return ZERO
    if not _DECIMAL.match(text):
        return None
    value = Decimal(text)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        return None
    return value


def vat_percent(code: str) -> Decimal | None:
    """The VAT percentage a sale at ``code`` collects; None for an unknown code."""
    if _NO_VAT.match(code):
        return ZERO
    match = _COUNTRY_RATE.match(code)
    if match is None:
        return None
    units, decimals = match.groups()
    if decimals is not None:
        return Decimal(f"{units}.{decimals}")
    return Decimal(units) / 10
