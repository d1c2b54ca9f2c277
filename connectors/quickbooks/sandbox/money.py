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

import json
import re
from decimal import ROUND_HALF_UP
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

__all__ = ["DECIMAL_PATTERN", "ZERO", "cents", "decimal_of", "fmt", "places", "dumps_json"]

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


def dumps_json(value: Any) -> bytes:
    """JSON as QuickBooks prints it, with every ``Decimal`` written exactly
    (``240.00``, ``9.975``): amounts never pass through a float on the way out.
    Other numbers (seconds, counters) are written as Python writes them."""
    return _encode(value).encode("utf-8")


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)
