"""Amounts as the sandbox computes them: ``Decimal``, rounded half away from zero.

Amounts arrive as JSON numbers (parsed as ``int`` or ``Decimal``, never
float) or as numeric strings, which QuickBooks' JSON reader also accepts.
They are stored in the state as decimal strings and sent back as JSON
numbers (``240.0``), as QuickBooks does.

QuickBooks rounds tax **line by line** to the cent (accounting-rules §6.1);
``cents`` rounds half away from zero, so ``-9.975`` becomes ``-9.98`` exactly
as ``9.975`` becomes ``9.98`` (§6.2: pin the mode down and test negatives).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

__all__ = ["DECIMAL_PATTERN", "ZERO", "cents", "decimal_of", "fmt", "places", "to_json_number"]

ZERO = Decimal(0)
_CENT = Decimal("0.01")
DECIMAL_PATTERN = r"-?\d{1,15}(\.\d{1,10})?"
_DECIMAL = re.compile(DECIMAL_PATTERN)


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half away from zero."""
    return value.quantize(_CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal) -> str:
    """An amount as stored: two decimals, never ``-0.00``."""
    rounded = cents(value)
    return f"{rounded if rounded else ZERO:.2f}"


def decimal_of(value: Any) -> Decimal | None:
    """The ``Decimal`` of a stored or received number; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, str) and _DECIMAL.fullmatch(value.strip()):
        try:
            return Decimal(value.strip())
        except InvalidOperation:  # pragma: no cover - the regex already guards
            return None
    return None


def places(value: Decimal) -> int:
    """How many decimals ``value`` is written with."""
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def to_json_number(value: Decimal) -> int | float:
    """The JSON number QuickBooks would print (``240.0``, ``9.975``, ``2``).

    Floats are exact enough here: every amount has at most 15 significant
    digits, and Python prints a float with the shortest text that reads back
    to it, so ``Decimal("275.94")`` goes out as ``275.94``.
    """
    return float(value)
