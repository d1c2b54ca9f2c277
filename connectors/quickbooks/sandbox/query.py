"""The query language subset (reference §3.1), parsed and run over rendered records.

    SELECT * | COUNT(*) FROM <Entity>
        [WHERE <field> <op> <value> [AND ...]]
        [ORDERBY <field> [ASC|DESC] [, ...]]
        [STARTPOSITION n] [MAXRESULTS m]

- operators ``=``, ``<``, ``>``, ``<=``, ``>=``, ``IN ('a', 'b')`` and ``LIKE``
  with ``%`` wildcards; conditions are joined by ``AND`` only: ``OR`` is a
  parse error (4000), as on QuickBooks;
- strings are single-quoted, ``\\'`` escapes a quote; keywords and entity
  names are case-insensitive; values are case-sensitive;
- only the fields listed in ``FILTERABLE`` may be filtered or sorted on
  (4001 otherwise); a reference field (``CustomerRef``) compares its Id;
  ``MetaData.LastUpdatedTime`` compares as a moment (any offset);
- ``STARTPOSITION`` is 1-based (0 is refused, 4001); ``MAXRESULTS`` defaults to
  100 and is capped at 1000;
- name lists (Customer, Item, Account, TaxCode, TaxRate) return active rows
  only, unless the query filters on ``Active``;
- the answer is ``{"QueryResponse": {"Invoice": [...], "startPosition": 1,
  "maxResults": <rows returned>}}``, ``{"QueryResponse": {}}`` for no row,
  ``{"QueryResponse": {"totalCount": n}}`` for ``COUNT(*)``.

The filterable fields are the sandbox's choice, kept narrow on purpose
(``DocNumber`` of a Payment and ``PrivateNote`` are not filterable, as on
QuickBooks): a connector that works here does not depend on a filter
QuickBooks may refuse.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox.books import INTUIT_TZ
from connectors.quickbooks.sandbox.books import Record
from connectors.quickbooks.sandbox.money import decimal_of
from connectors.quickbooks.sandbox.render import View
from connectors.quickbooks.sandbox.render import render

__all__ = ["FILTERABLE", "NAME_LISTS", "Condition", "Query", "parse_query", "run_query"]

MAX_RESULTS = 1000
DEFAULT_RESULTS = 100
NAME_LISTS = frozenset({"Customer", "Item", "Account", "TaxCode", "TaxRate"})

_COMMON = {"Id": "id", "MetaData.CreateTime": "datetime", "MetaData.LastUpdatedTime": "datetime"}
_SALES = {"DocNumber": "str", "TxnDate": "date", "CustomerRef": "ref", "TotalAmt": "num"}
FILTERABLE: dict[str, dict[str, str]] = {
    "Invoice": {**_COMMON, **_SALES, "DueDate": "date", "Balance": "num"},
    "CreditMemo": {**_COMMON, **_SALES, "Balance": "num"},
    "RefundReceipt": {**_COMMON, **_SALES},
    "Payment": {**_COMMON, "TxnDate": "date", "CustomerRef": "ref", "TotalAmt": "num"},
    "JournalEntry": {**_COMMON, "DocNumber": "str", "TxnDate": "date", "TotalAmt": "num"},
    "Deposit": {**_COMMON, "TxnDate": "date", "TotalAmt": "num"},
    "Customer": {**_COMMON, "DisplayName": "str", "GivenName": "str", "FamilyName": "str", "CompanyName": "str",
                 "PrimaryEmailAddr": "email", "Active": "bool", "Balance": "num"},
    "Item": {**_COMMON, "Name": "str", "Sku": "str", "Type": "str", "Active": "bool"},
    "Account": {**_COMMON, "Name": "str", "AcctNum": "str", "AccountType": "str", "AccountSubType": "str",
                "Classification": "str", "Active": "bool", "CurrentBalance": "num"},
    "TaxCode": {**_COMMON, "Name": "str", "Active": "bool"},
    "TaxRate": {**_COMMON, "Name": "str", "Active": "bool"},
    "TaxAgency": {**_COMMON, "DisplayName": "str"},
}
_TOKEN = re.compile(r"""\s*(?:(?P<string>'(?:\\.|[^'\\])*')|(?P<number>-?\d+(?:\.\d+)?)(?![\w.])
    |(?P<op><=|>=|!=|=|<|>)|(?P<punct>[(),*])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))""", re.X)
_OPERATORS = frozenset({"=", "<", ">", "<=", ">=", "in", "like"})


@dataclass(frozen=True, slots=True)
class Condition:
    """``field op values`` (one value except for IN)."""

    field: str
    kind: str
    op: str
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query."""

    entity: str
    count: bool
    where: tuple[Condition, ...]
    order: tuple[tuple[str, str, bool], ...]  # (field, kind, descending)
    start: int
    max_results: int


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise errors.query_parse(f"Encountered unexpected character at column {position + 1}: "
                                     f"{text[position:position + 10]!r}")
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind), match.start(kind) + 1))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.index = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def word(self) -> str:
        token = self.peek()
        return token.text.lower() if token is not None and token.kind == "word" else ""

    def take(self, expected: str | None = None) -> _Token:
        token = self.peek()
        if token is None:
            raise errors.query_parse(f"Encountered end of query; was expecting {expected or 'more'}")
        if token.kind == "word" and token.text.lower() == "or":
            raise errors.query_parse(f"Encountered \"OR\" at column {token.position}: OR is not supported, "
                                     "run one query per alternative or use IN")
        if expected is not None and token.text.lower() != expected:
            raise errors.query_parse(f"Encountered \"{token.text}\" at column {token.position}; was expecting "
                                     f"\"{expected.upper()}\"")
        self.index += 1
        return token


def parse_query(text: str) -> Query:
    """Parse a query statement.

    Raises:
        QboError: 4000 when it does not parse, 4001 when it asks for an
            unsupported entity or field, or a bad page.
    """
    parser = _Parser(text)
    parser.take("select")
    count = _projection(parser)
    parser.take("from")
    entity = _entity(parser.take().text)
    fields = FILTERABLE[entity]
    where: list[Condition] = []
    if parser.word() == "where":
        parser.take()
        where.append(_condition(parser, fields))
        while parser.word() == "and":
            parser.take()
            where.append(_condition(parser, fields))
    order = _order(parser, fields)
    start, max_results = _page(parser)
    if parser.peek() is not None:
        parser.take("end of query")
    return Query(entity, count, tuple(where), tuple(order), start, max_results)


def _projection(parser: _Parser) -> bool:
    token = parser.take()
    if token.text == "*":
        return False
    if token.text.lower() == "count":
        parser.take("(")
        parser.take("*")
        parser.take(")")
        return True
    raise errors.query_parse(f"Encountered \"{token.text}\" at column {token.position}: the sandbox emulates "
                             "SELECT * and SELECT COUNT(*) only")


def _entity(name: str) -> str:
    for entity in FILTERABLE:
        if entity.lower() == name.lower():
            return entity
    raise errors.query_invalid(f"entity {name} is not supported")


def _field(name: str, fields: dict[str, str]) -> tuple[str, str]:
    for field, kind in fields.items():
        if field.lower() == name.lower():
            return field, kind
    raise errors.query_invalid(f"property '{name}' is not queryable")


def _value(token: _Token) -> Any:
    if token.kind == "string":
        return re.sub(r"\\(.)", r"\1", token.text[1:-1])
    if token.kind == "number":
        return Decimal(token.text)
    if token.kind == "word" and token.text.lower() in ("true", "false"):
        return token.text.lower() == "true"
    raise errors.query_parse(f"Encountered \"{token.text}\" at column {token.position}; was expecting a value")


def _condition(parser: _Parser, fields: dict[str, str]) -> Condition:
    field, kind = _field(parser.take().text, fields)
    token = parser.take()
    op = token.text.lower()
    if op not in _OPERATORS:
        raise errors.query_parse(f"Encountered \"{token.text}\" at column {token.position}; was expecting an "
                                 "operator (=, <, >, <=, >=, IN, LIKE)")
    if op == "in":
        parser.take("(")
        values = [_value(parser.take())]
        while parser.take().text == ",":
            values.append(_value(parser.take()))
        parser.index -= 1
        parser.take(")")
        return Condition(field, kind, op, tuple(values))
    value = _value(parser.take())
    if op == "like" and (kind not in ("str", "email") or not isinstance(value, str)):
        raise errors.query_invalid(f"LIKE applies to text properties, not {field}")
    return Condition(field, kind, op, (value,))


def _order(parser: _Parser, fields: dict[str, str]) -> list[tuple[str, str, bool]]:
    if parser.word() == "order":
        parser.take()
        parser.take("by")
    elif parser.word() == "orderby":
        parser.take()
    else:
        return []
    order = []
    while True:
        field, kind = _field(parser.take().text, fields)
        descending = parser.word() == "desc"
        if parser.word() in ("asc", "desc"):
            parser.take()
        order.append((field, kind, descending))
        token = parser.peek()
        if token is None or token.text != ",":
            return order
        parser.take()


def _page(parser: _Parser) -> tuple[int, int]:
    start, max_results = 1, DEFAULT_RESULTS
    while parser.word() in ("startposition", "maxresults"):
        keyword = parser.take().text.lower()
        token = parser.take()
        if token.kind != "number" or "." in token.text:
            raise errors.query_parse(f"Encountered \"{token.text}\" at column {token.position}; was expecting an "
                                     "integer")
        value = int(token.text)
        if value < 1:
            raise errors.query_invalid(f"{keyword.upper()} value {value} is too small. Min allowed value is 1")
        if keyword == "startposition":
            start = value
        else:
            max_results = min(value, MAX_RESULTS)
    return start, max_results


# -- evaluation -----------------------------------------------------------------------------------

def _extract(record: Record, field: str, kind: str) -> Any:
    value: Any = record
    for part in field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if kind == "ref" and isinstance(value, dict):
        return value.get("value")
    if kind == "email" and isinstance(value, dict):
        return value.get("Address")
    return value


def _moment(value: Any) -> datetime.datetime | None:
    try:
        moment = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=INTUIT_TZ)


def _comparable(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "num":
        return decimal_of(value) if not isinstance(value, float) else Decimal(str(value))
    if kind == "datetime":
        return _moment(value)
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if kind == "id" and str(value).isdigit():
        return int(value)
    return str(value)


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: bool(a == b), "<": lambda a, b: bool(a < b), ">": lambda a, b: bool(a > b),
    "<=": lambda a, b: bool(a <= b), ">=": lambda a, b: bool(a >= b),
}


def _like(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("%")), re.S)


def _matches(record: Record, condition: Condition) -> bool:
    actual = _comparable(_extract(record, condition.field, condition.kind), condition.kind)
    if actual is None:
        return False
    if condition.op == "like":
        return bool(_like(str(condition.values[0])).fullmatch(str(actual)))
    wanted = [_comparable(value, condition.kind) for value in condition.values]
    if condition.op == "in":
        return actual in wanted
    try:
        return _COMPARE[condition.op](actual, wanted[0])
    except TypeError:  # e.g. a number compared with text: no match, as a filter would
        return False


def _sort_key(record: Record, field: str, kind: str) -> tuple[int, Any]:
    value = _comparable(_extract(record, field, kind), kind)
    return (0, "") if value is None else (1, value)


def run_query(view: View, query: Query) -> Record:
    """The ``QueryResponse`` of a parsed query."""
    rows = [render(view, query.entity, record) for record in view.books.records(query.entity)]
    if query.entity in NAME_LISTS and not any(c.field == "Active" for c in query.where):
        rows = [row for row in rows if row.get("Active", True)]
    rows = [row for row in rows if all(_matches(row, condition) for condition in query.where)]
    if query.count:
        return {"totalCount": len(rows)}
    for field, kind, descending in reversed(query.order):
        rows.sort(key=lambda row: _sort_key(row, field, kind), reverse=descending)
    page = rows[query.start - 1:query.start - 1 + query.max_results]
    if not page:
        return {}
    return {query.entity: page, "startPosition": query.start, "maxResults": len(page)}
