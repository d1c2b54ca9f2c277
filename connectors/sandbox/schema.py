"""A small validator for JSON request bodies, written as Python values.

The sandboxes describe each request body they accept with these frozen
schema nodes and report the first problem as a ``Violation``: a machine code,
the path of the offending field (``invoice_lines[0].quantity``) and a message.
The codes are the ones the providers' own validators use (``ValidateError``,
``NotExistRequiredKey``, ``NotExistPropertyDefinition``, ``InvalidPattern``,
``NotEnumInclude``, ``InvalidDateFormat``, ``LessThanMinItems``,
``MoreThanMaxItems``, ``MoreThanMaxLength``, ``NotNullError``, ``NotOneOf``...);
each provider maps a violation to its own error body.

Bodies are parsed with ``parse_float=Decimal``, so a JSON number arrives as an
``int`` or a ``Decimal``, never a float, and a decimal-string field given as a
number is a type error, as on the real APIs.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

__all__ = ["Arr", "Bool", "Int", "Num", "Obj", "OneOf", "Schema", "Str", "Violation", "validate"]


@dataclass(frozen=True, slots=True)
class Violation:
    """The first thing wrong with a body."""

    code: str
    field: str
    message: str


@dataclass(frozen=True, slots=True)
class Str:
    """A JSON string, optionally with a regex, an enum, a length cap or a date format."""

    pattern: str | None = None
    enum: frozenset[str] | None = None
    max_length: int | None = None
    min_length: int | None = None
    date: bool = False
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Int:
    """A JSON integer (booleans are not integers here)."""

    minimum: int | None = None
    maximum: int | None = None
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Num:
    """A JSON number, integer or decimal."""

    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Bool:
    """A JSON boolean, optionally restricted to one value."""

    only: bool | None = None
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Arr:
    """A JSON array whose items all match ``items``."""

    items: Schema
    min_items: int | None = None
    max_items: int | None = None
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class Obj:
    """A JSON object with known properties; unknown ones are refused."""

    props: Mapping[str, Schema]
    required: frozenset[str] = field(default_factory=frozenset)
    nullable: bool = False


@dataclass(frozen=True, slots=True)
class OneOf:
    """Exactly one of ``options``; ``pick`` chooses the one to report on."""

    options: tuple[Schema, ...]
    pick: Callable[[Any], int] | None = None
    nullable: bool = False


Schema = Str | Int | Num | Bool | Arr | Obj | OneOf


def validate(schema: Schema, value: Any, path: str = "") -> Violation | None:
    """The first violation of ``schema`` by ``value``, or None when it fits."""
    if value is None:
        return None if schema.nullable else Violation("NotNullError", path, f"{_name(path)} must not be null")
    return _CHECKS[type(schema)](schema, value, path)


def _name(path: str) -> str:
    return path or "the body"


def _type_error(path: str, expected: str, value: Any) -> Violation:
    return Violation("ValidateError", path, f"{_name(path)} must be {expected}, got {_json_type(value)}")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, Decimal, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "null"


def _check_str(schema: Str, value: Any, path: str) -> Violation | None:
    if not isinstance(value, str):
        return _type_error(path, "a string", value)
    if schema.max_length is not None and len(value) > schema.max_length:
        return Violation("MoreThanMaxLength", path, f"{_name(path)} is longer than {schema.max_length} characters")
    if schema.min_length is not None and len(value) < schema.min_length:
        return Violation("LessThanMinLength", path, f"{_name(path)} is shorter than {schema.min_length} characters")
    if schema.enum is not None and value not in schema.enum:
        return Violation("NotEnumInclude", path, f"{_name(path)} {value!r} is not an accepted value")
    if schema.pattern is not None and not re.fullmatch(schema.pattern, value):
        return Violation("InvalidPattern", path, f"{_name(path)} {value!r} does not match {schema.pattern}")
    if schema.date and not _is_date(value):
        return Violation("InvalidDateFormat", path, f"{_name(path)} {value!r} is not a YYYY-MM-DD date")
    return None


def _is_date(value: str) -> bool:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return False
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _check_int(schema: Int, value: Any, path: str) -> Violation | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return _type_error(path, "an integer", value)
    if schema.minimum is not None and value < schema.minimum:
        return Violation("LessThanMinimum", path, f"{_name(path)} must be at least {schema.minimum}")
    if schema.maximum is not None and value > schema.maximum:
        return Violation("MoreThanMaximum", path, f"{_name(path)} must be at most {schema.maximum}")
    return None


def _check_num(schema: Num, value: Any, path: str) -> Violation | None:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        return _type_error(path, "a number", value)
    if isinstance(value, Decimal) and not value.is_finite():
        return _type_error(path, "a finite number", value)
    return None


def _check_bool(schema: Bool, value: Any, path: str) -> Violation | None:
    if not isinstance(value, bool):
        return _type_error(path, "a boolean", value)
    if schema.only is not None and value is not schema.only:
        return Violation("NotEnumInclude", path, f"{_name(path)} must be {str(schema.only).lower()}")
    return None


def _check_arr(schema: Arr, value: Any, path: str) -> Violation | None:
    if not isinstance(value, list):
        return _type_error(path, "an array", value)
    if schema.min_items is not None and len(value) < schema.min_items:
        return Violation("LessThanMinItems", path, f"{_name(path)} needs at least {schema.min_items} item(s)")
    if schema.max_items is not None and len(value) > schema.max_items:
        return Violation("MoreThanMaxItems", path, f"{_name(path)} takes at most {schema.max_items} items")
    for index, item in enumerate(value):
        problem = validate(schema.items, item, f"{path}[{index}]")
        if problem is not None:
            return problem
    return None


def _check_obj(schema: Obj, value: Any, path: str) -> Violation | None:
    if not isinstance(value, dict):
        return _type_error(path, "an object", value)
    prefix = f"{path}." if path else ""
    for key in value:
        if key not in schema.props:
            return Violation("NotExistPropertyDefinition", prefix + key, f"{prefix + key} is not a known field")
    for key in sorted(schema.required):
        if key not in value:
            return Violation("NotExistRequiredKey", prefix + key, f"{prefix + key} is required")
    for key, item in value.items():
        problem = validate(schema.props[key], item, prefix + key)
        if problem is not None:
            return problem
    return None


def _check_one_of(schema: OneOf, value: Any, path: str) -> Violation | None:
    problems = [validate(option, value, path) for option in schema.options]
    fits = sum(problem is None for problem in problems)
    if fits == 1:
        return None
    if fits == 0 and schema.pick is not None:
        return problems[schema.pick(value)]
    return Violation("NotOneOf", path, f"{_name(path)} matches {fits} of the accepted shapes instead of one")


_CHECKS: dict[type, Callable[[Any, Any, str], Violation | None]] = {
    Str: _check_str,
    Int: _check_int,
    Num: _check_num,
    Bool: _check_bool,
    Arr: _check_arr,
    Obj: _check_obj,
    OneOf: _check_one_of,
}
