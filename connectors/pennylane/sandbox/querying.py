"""List endpoints: the ``filter`` JSON string, ``sort``, cursor pagination.

As on Pennylane:

- ``filter`` is a JSON string holding ``[{"field", "operator", "value"}, ...]``,
  ANDed; each endpoint accepts its own fields and operators, and ``in`` /
  ``not_in`` need an array; ``filter[0][field]=...`` (a hash) is refused;
- ``sort`` is a field name, ``-`` for descending; the default is ``-id``;
- ``limit`` is 1..100 (1..1000 on some endpoints), 20 by default; out of range
  is a 400, not a silent cap;
- the cursor is opaque (base64 JSON of the sort and the last key) and does
  **not** carry the filter: a client that drops the filter on page 2 gets
  unfiltered items, exactly the bug the real API lets through. A cursor used
  with another sort is refused.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from connectors.pennylane.sandbox.errors import bad_request

__all__ = [
    "ALL_OPS",
    "CMP_OPS",
    "SET_OPS",
    "Clause",
    "FieldSpec",
    "ListQuery",
    "ListSpec",
    "Page",
    "paginate",
    "parse_list_query",
]

CMP_OPS = frozenset({"eq", "not_eq", "lt", "lteq", "gt", "gteq"})
SET_OPS = frozenset({"in", "not_in"})
ALL_OPS = CMP_OPS | SET_OPS
_KNOWN_OPS = ALL_OPS | {"start_with"}

Record = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A filterable field: its value kind, operators and how to read it.

    ``kind`` is ``int``, ``date``, ``str``, ``bool`` or ``strs`` (a list of
    strings, matched by ``in`` when any element is in the values).
    """

    kind: str
    operators: frozenset[str]
    get: Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class ListSpec:
    """What one list endpoint accepts."""

    fields: Mapping[str, FieldSpec] = field(default_factory=dict)
    sorts: Mapping[str, Callable[[Record], Any]] = field(default_factory=lambda: {"id": _id})
    default_sort: str = "-id"
    max_limit: int = 100


@dataclass(frozen=True, slots=True)
class Clause:
    """One ``{field, operator, value}`` filter item, value already coerced."""

    field: str
    operator: str
    value: Any


@dataclass(frozen=True, slots=True)
class ListQuery:
    """A checked list request."""

    clauses: tuple[Clause, ...]
    sort: str
    limit: int
    after: tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class Page:
    """One page of records (not yet rendered)."""

    items: tuple[Record, ...]
    has_more: bool
    next_cursor: str | None


def _id(record: Record) -> Any:
    return record["id"]


def parse_list_query(params: Mapping[str, str], spec: ListSpec) -> ListQuery:
    """Check ``filter``, ``sort``, ``limit`` and ``cursor``.

    Raises:
        ApiError: 400 naming the bad parameter.
    """
    sort = params.get("sort") or spec.default_sort
    if sort.lstrip("-") not in spec.sorts:
        raise bad_request(f"Sort on {sort.lstrip('-')!r} is not supported. Available: {', '.join(spec.sorts)}")
    return ListQuery(
        clauses=_parse_filter(params, spec),
        sort=sort,
        limit=_parse_limit(params.get("limit"), spec.max_limit),
        after=_decode_cursor(params.get("cursor"), sort),
    )


def _parse_limit(raw: str | None, maximum: int) -> int:
    if raw is None or raw == "":
        return 20
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request(f"limit {raw!r} is not an integer", "limit", "ValidateError") from None
    if limit < 1:
        raise bad_request("limit must be at least 1", "limit", "LessThanMinimum")
    if limit > maximum:
        raise bad_request(f"limit must be at most {maximum}", "limit", "MoreThanMaximum")
    return limit


def _parse_filter(params: Mapping[str, str], spec: ListSpec) -> tuple[Clause, ...]:
    hashed = sorted(key for key in params if key.startswith("filter["))
    if hashed:
        raise bad_request(
            f"The filter's value ({', '.join(hashed)}) should be a string, but we received a hash. "
            'Send it as a JSON string: filter=[{"field": ..., "operator": ..., "value": ...}]'
        )
    raw = params.get("filter")
    if raw is None or raw == "":
        return ()
    try:
        items = json.loads(raw)
    except ValueError:
        raise bad_request(f"The filter's value ({raw}) is not valid JSON") from None
    if not isinstance(items, list):
        raise bad_request("The filter must be a JSON array of {field, operator, value} objects")
    return tuple(_parse_clause(item, spec) for item in items)


def _parse_clause(item: Any, spec: ListSpec) -> Clause:
    if not isinstance(item, dict) or set(item) != {"field", "operator", "value"}:
        raise bad_request("Each filter item must be an object with exactly field, operator and value")
    name, operator, value = item["field"], item["operator"], item["value"]
    field_spec = spec.fields.get(name) if isinstance(name, str) else None
    if field_spec is None:
        raise bad_request(f"Filtering on {name!r} is not supported. Available: {', '.join(spec.fields) or 'none'}")
    if operator not in field_spec.operators:
        allowed = ", ".join(sorted(field_spec.operators))
        raise bad_request(f"Operator {operator!r} is not supported on {name!r}. Available: {allowed}")
    if operator in SET_OPS:
        if not isinstance(value, list):
            raise bad_request(f"The value of an {operator!r} filter on {name!r} must be an array")
        return Clause(name, operator, tuple(_coerce(name, field_spec.kind, v) for v in value))
    return Clause(name, operator, _coerce(name, field_spec.kind, value))


def _coerce(name: str, kind: str, value: Any) -> Any:
    problem = bad_request(f"Invalid value {value!r} for filter {name!r} ({kind} expected)")
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise problem
        try:
            return int(value)
        except ValueError:
            raise problem from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if value in ("true", "false"):
            return value == "true"
        raise problem
    if kind == "date":
        if not isinstance(value, str):
            raise problem
        try:
            return datetime.date.fromisoformat(value).isoformat()
        except ValueError:
            raise problem from None
    if isinstance(value, (dict, list)) or value is None:
        raise problem
    return value if isinstance(value, str) else json.dumps(value)


def _matches(record: Record, clause: Clause, spec: ListSpec) -> bool:
    field_spec = spec.fields[clause.field]
    actual = field_spec.get(record)
    if field_spec.kind == "strs":
        values = set(actual or ())
        wanted = set(clause.value) if clause.operator in SET_OPS else {clause.value}
        hit = bool(values & wanted)
        return not hit if clause.operator in ("not_in", "not_eq") else hit
    return _compare(actual, clause.operator, clause.value)


def _compare(actual: Any, operator: str, wanted: Any) -> bool:
    if operator == "eq":
        return bool(actual == wanted)
    if operator == "not_eq":
        return bool(actual != wanted)
    if operator == "in":
        return actual in wanted
    if operator == "not_in":
        return actual not in wanted
    if actual is None:
        return False
    if operator == "start_with":
        return str(actual).startswith(str(wanted))
    if operator == "lt":
        return bool(actual < wanted)
    if operator == "lteq":
        return bool(actual <= wanted)
    if operator == "gt":
        return bool(actual > wanted)
    return bool(actual >= wanted)


def paginate(records: Iterable[Record], query: ListQuery, spec: ListSpec) -> Page:
    """Filter, sort and cut one page out of ``records``."""
    descending = query.sort.startswith("-")
    getter = spec.sorts[query.sort.lstrip("-")]

    def key(record: Record) -> tuple[Any, ...]:
        return (getter(record), record.get("id", 0))

    kept = [r for r in records if all(_matches(r, clause, spec) for clause in query.clauses)]
    kept.sort(key=key, reverse=descending)
    if query.after is not None:
        after = query.after
        kept = [r for r in kept if (key(r) < after if descending else key(r) > after)]
    page = kept[: query.limit]
    has_more = len(kept) > query.limit
    cursor = _encode_cursor(query.sort, key(page[-1])) if has_more and page else None
    return Page(tuple(page), has_more, cursor)


def _encode_cursor(sort: str, key: tuple[Any, ...]) -> str:
    raw = json.dumps({"s": sort, "k": list(key)}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str | None, sort: str) -> tuple[Any, ...] | None:
    if cursor is None or cursor == "":
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        key = data["k"]
        cursor_sort = data["s"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise bad_request("Invalid cursor") from None
    if not isinstance(key, list) or len(key) != 2 or not isinstance(key[1], int):
        raise bad_request("Invalid cursor")
    if cursor_sort != sort:
        raise bad_request(f"This cursor was issued for sort={cursor_sort}: send the same sort with it")
    return tuple(key)
