"""The event contract (DESIGN §1): parse JSON lines into validated events.

Parsing checks everything that can be checked without the ledger's state:
JSON syntax, types, required and unknown fields, decimal strings (a JSON
number for an amount is refused), enums, VAT rates and accounts the chart
knows, and printed totals against the lines. Problems are collected as values,
one per field, and never raised.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Iterable

from .chart import METHODS, Chart
from .money import parse_decimal, parse_money
from .problems import Problem

MAX_TEXT = 100_000
MAX_REF = 1_000


class _Number(str):
    """A JSON number seen while parsing: kept as text so we can refuse it."""


def _refuse_constant(name: str) -> _Number:
    return _Number(name)


# ---------------------------------------------------------------------------
# Event values


@dataclass(frozen=True, slots=True)
class Customer:
    ref: str
    name: str
    kind: str
    email: str | None = None
    vat_number: str | None = None


@dataclass(frozen=True, slots=True)
class Product:
    ref: str
    name: str


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal
    account: str | None = None
    product: Product | None = None


@dataclass(frozen=True, slots=True)
class RateAmount:
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Totals:
    net: Decimal
    vat: tuple[RateAmount, ...]
    gross: Decimal


@dataclass(frozen=True, slots=True)
class Event:
    """One validated event. ``fields`` holds the type-specific values."""

    id: str
    type: str
    date: datetime.date
    line: int
    digest: str  # sha256 of the canonical JSON: the idempotency fingerprint
    source: str  # canonical JSON of the event as sent
    fields: dict[str, Any]

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)


# ---------------------------------------------------------------------------
# Field parsers: each returns (value, None) or (None, message).

Parsed = tuple[Any, str | None]
Parser = Callable[[Any, "Context"], Parsed]


@dataclass(frozen=True, slots=True)
class Context:
    chart: Chart
    currency: str
    # The chart's VAT rates, normalised once: every rate of every event is
    # checked against them.
    rates: frozenset[Decimal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rates", frozenset(r.normalize() for r in self.chart.vat_rates))


def _text(limit: int) -> Parser:
    def parse(value: Any, ctx: Context) -> Parsed:
        if type(value) is not str:  # a _Number is a str subclass: refused too
            return None, "must be a string"
        if value == "" or value.isspace():
            return None, "must not be empty"
        if len(value) > limit:
            return None, f"is longer than {limit} characters"
        if not value.isascii():  # only non-ASCII text can hold a lone surrogate
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return None, "is not valid Unicode (lone surrogate)"
        return value, None

    return parse


_text_field = _text(MAX_TEXT)
_ref_field = _text(MAX_REF)
_MEMO_SIZE = 100_000


def _memoized(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """A bounded memo of a pure parse of text: most amounts, quantities,
    rates and dates of a batch repeat, and the values are immutable."""
    memo: dict[str, Any] = {}

    def cached(text: str) -> Any:
        try:
            return memo[text]
        except KeyError:
            if len(memo) >= _MEMO_SIZE:
                memo.clear()
            value = memo[text] = parse(text)  # an exception caches nothing
            return value

    return cached


_parse_money = _memoized(parse_money)
_parse_decimal = _memoized(parse_decimal)
_parse_date = _memoized(datetime.date.fromisoformat)


def _money(positive: bool) -> Parser:
    def parse(value: Any, ctx: Context) -> Parsed:
        if isinstance(value, _Number):
            return None, f'a JSON number is not allowed, send a decimal string such as "{value}"'
        amount = _parse_money(value) if isinstance(value, str) else None
        if amount is None:
            return None, 'must be a decimal string with at most 2 decimals, such as "120.00"'
        if positive and amount <= 0:
            return None, "must be greater than zero"
        return amount, None

    return parse


_positive_money = _money(positive=True)
_signed_money = _money(positive=False)


def _decimal_field(value: Any, ctx: Context) -> Parsed:
    if isinstance(value, _Number):
        return None, f'a JSON number is not allowed, send a decimal string such as "{value}"'
    number = _parse_decimal(value) if isinstance(value, str) else None
    if number is None:
        return None, 'must be a decimal string such as "2" or "12.50"'
    return number, None


def _quantity(value: Any, ctx: Context) -> Parsed:
    number, err = _decimal_field(value, ctx)
    if err is None and number <= 0:
        return None, "must be greater than zero"
    return number, err


def _vat_rate(value: Any, ctx: Context) -> Parsed:
    number, err = _decimal_field(value, ctx)
    if err is not None:
        return None, err
    if number.normalize() not in ctx.rates:
        known = ", ".join(sorted(str(r) for r in ctx.chart.vat_rates))
        if ctx.chart.multi_component:
            return None, (f"tax code {value} is not in the chart {ctx.chart.name} (known: {known}; "
                          f"14.975 = GST 5 + QST 9.975, 0 = zero-rated or exempt)")
        return None, f"VAT rate {value} is not in the chart {ctx.chart.name} (known: {known})"
    return number, None


def _date(value: Any, ctx: Context) -> Parsed:
    if not isinstance(value, str) or len(value) != 10:
        return None, "must be a date YYYY-MM-DD"
    try:
        return (_parse_date(value) if type(value) is str else datetime.date.fromisoformat(value)), None
    except ValueError:
        return None, "must be a date YYYY-MM-DD"


def _bool(value: Any, ctx: Context) -> Parsed:
    if not isinstance(value, bool):
        return None, "must be true or false"
    return value, None


def _enum(*choices: str) -> Parser:
    def parse(value: Any, ctx: Context) -> Parsed:
        if value not in choices or not isinstance(value, str):
            return None, f"must be one of {', '.join(choices)}"
        return value, None

    return parse


def _account(numbers: Callable[[Chart], frozenset[str]]) -> Parser:
    def parse(value: Any, ctx: Context) -> Parsed:
        if not isinstance(value, str) or isinstance(value, _Number):
            return None, 'must be a PCG account number as a string, such as "706"'
        if value not in numbers(ctx.chart):
            known = ", ".join(sorted(numbers(ctx.chart)))
            return None, f"account {value} cannot be used here in chart {ctx.chart.name} (known: {known})"
        return value, None

    return parse


def _currency(value: Any, ctx: Context) -> Parsed:
    if value != ctx.currency:
        return None, f"currency {value!r} differs from the ledger's currency {ctx.currency}"
    return value, None


# ---------------------------------------------------------------------------
# Objects and lists: problems come back with a dotted field path.

FieldProblems = list[tuple[str, str]]


class _Spec:
    """The fields of a JSON object: name -> (required, parser), in check order."""

    __slots__ = ("fields", "known")

    def __init__(self, fields: dict[str, tuple[bool, Parser]]):
        self.fields = tuple((name, required, parser) for name, (required, parser) in fields.items())
        self.known = frozenset(fields)


def _parse_object(value: Any, spec: _Spec, path: str, ctx: Context) -> tuple[dict[str, Any], FieldProblems]:
    if not isinstance(value, dict):
        return {}, [(path, "must be a JSON object")]
    out: dict[str, Any] = {}
    problems: FieldProblems = []
    if not spec.known.issuperset(value):
        for name in value:
            if name not in spec.known:
                problems.append((f"{path}.{name}" if path else name, "is not a known field"))
    for name, required, parser in spec.fields:
        raw = value.get(name)
        if raw is None:  # absent or null
            if required:
                problems.append((f"{path}.{name}" if path else name, "is required"))
            continue
        parsed, err = parser(raw, ctx)
        if err is None:
            out[name] = parsed
        elif isinstance(err, list):
            problems.extend(err)
        else:
            problems.append((f"{path}.{name}" if path else name, err))
    return out, problems


def _nested(fields: dict[str, tuple[bool, Parser]], build: Callable[..., Any], name: str) -> Parser:
    spec = _Spec(fields)

    def parse(value: Any, ctx: Context) -> Any:
        parsed, problems = _parse_object(value, spec, name, ctx)
        if problems:
            return None, problems
        return build(**parsed), None

    return parse


def _list_of(fields: dict[str, tuple[bool, Parser]], build: Callable[..., Any], name: str,
             allow_empty: bool = False) -> Parser:
    """A JSON array of objects; problems name the element (``lines[1].label``)."""
    spec = _Spec(fields)

    def parse(value: Any, ctx: Context) -> Any:
        if not isinstance(value, list):
            return None, "must be a JSON array"
        if not value and not allow_empty:
            return None, "must not be empty"
        items, problems = [], []
        for i, element in enumerate(value):
            parsed, found = _parse_object(element, spec, f"{name}[{i}]", ctx)
            if found:
                problems.extend(found)
            else:
                items.append(build(**parsed))
        return (None, problems) if problems else (tuple(items), None)

    return parse


# A deposit's nature. fr-pcg: a label only (arrhes or acompte; security and
# prepayment read as arrhes and acompte). ca-qc: security (or arrhes, the
# default) is a security deposit, not consideration until applied, untaxed on
# receipt; prepayment (or acompte) is an instalment on the price, taxed when paid.
DEPOSIT_NATURES = ("acompte", "arrhes", "security", "prepayment")
SECURITY_NATURES = frozenset({"arrhes", "security"})


def is_prepayment(nature: str | None, chart: Chart) -> bool:
    """Whether a deposit of ``nature`` is taxed on receipt as a prepayment (ca-qc)."""
    return chart.multi_component and nature in ("acompte", "prepayment")


_CUSTOMER = {
    "ref": (True, _ref_field),
    "name": (True, _text_field),
    "kind": (True, _enum("individual", "company")),
    "email": (False, _text_field),
    "vat_number": (False, _ref_field),
}
_PRODUCT = {"ref": (True, _ref_field), "name": (True, _text_field)}
_RATE_AMOUNT = {"rate": (True, _vat_rate), "amount": (True, _signed_money)}


_LINE = {
    "label": (True, _text_field),
    "quantity": (True, _quantity),
    "unit_price": (True, _decimal_field),
    "vat_rate": (True, _vat_rate),
    "account": (False, _account(lambda c: c.income_numbers)),
    "product": (False, _nested(_PRODUCT, Product, "product")),
}
_LINES = (True, _list_of(_LINE, Line, "lines"))
_TOTALS = {
    "net": (True, _signed_money),
    "vat": (True, _list_of(_RATE_AMOUNT, RateAmount, "totals.vat", allow_empty=True)),
    "gross": (True, _signed_money),
}

_COMMON = {"id": (True, _ref_field), "type": (True, _ref_field), "date": (True, _date),
           "currency": (False, _currency)}
_METHOD = (True, _enum(*METHODS))
_VOUCHER_CODE = (False, _ref_field)

EVENT_FIELDS: dict[str, dict[str, tuple[bool, Parser]]] = {
    "deposit.received": {
        "booking": (True, _ref_field),
        "customer": (True, _nested(_CUSTOMER, Customer, "customer")),
        "amount": (True, _positive_money),
        "method": _METHOD,
        "vat_rate": (False, _vat_rate),
        "vat": (False, _list_of(_RATE_AMOUNT, RateAmount, "vat")),
        "nature": (False, _enum(*DEPOSIT_NATURES)),
        "reference": (False, _ref_field),
        "voucher": _VOUCHER_CODE,
    },
    "invoice.issued": {
        "number": (True, _ref_field),
        "customer": (True, _nested(_CUSTOMER, Customer, "customer")),
        "lines": _LINES,
        "booking": (False, _ref_field),
        "prices_include_tax": (False, _bool),
        "totals": (False, _nested(_TOTALS, Totals, "totals")),
        "due_date": (False, _date),
    },
    "payment.received": {
        "invoice": (True, _ref_field),
        "amount": (True, _positive_money),
        "method": _METHOD,
        "reference": (False, _ref_field),
        "voucher": _VOUCHER_CODE,
    },
    "credit_note.issued": {
        "number": (True, _ref_field),
        "invoice": (True, _ref_field),
        "lines": _LINES,
        "prices_include_tax": (False, _bool),
        "totals": (False, _nested(_TOTALS, Totals, "totals")),
        "reason": (False, _text_field),
    },
    "refund.issued": {
        "amount": (True, _positive_money),
        "method": (True, _enum(*(m for m in METHODS if m != "voucher"))),
        "booking": (False, _ref_field),
        "invoice": (False, _ref_field),
        "reason": (False, _text_field),
    },
    "deposit.forfeited": {
        "booking": (True, _ref_field),
        "amount": (True, _positive_money),
        "treatment": (True, _enum("penalty", "consideration")),
    },
    "voucher.sold": {
        "code": (True, _ref_field),
        "amount": (True, _positive_money),
        "method": (True, _enum(*(m for m in METHODS if m != "voucher"))),
        "purpose": (True, _enum("single", "multi")),
        "vat_rate": (False, _vat_rate),
    },
    "cash.movement": {
        "kind": (True, _enum("bank_deposit", "float", "expense", "difference")),
        "amount": (True, _signed_money),
        "account": (False, _account(lambda c: c.expense_numbers)),
        "label": (False, _text_field),
    },
}
EVENT_TYPES = tuple(EVENT_FIELDS)
_COMMON_SPEC = _Spec(_COMMON)
_EVENT_SPECS = {kind: _Spec({**_COMMON, **fields}) for kind, fields in EVENT_FIELDS.items()}


# ---------------------------------------------------------------------------
# Cross-field checks that need no ledger state.


def _check_fields(kind: str, f: dict[str, Any], ctx: Context) -> FieldProblems:
    problems: FieldProblems = []
    if ctx.chart.multi_component:
        problems += _check_multi_component(kind, f, ctx.chart)
    if f.get("method") == "voucher" and "voucher" not in f:
        problems.append(("voucher", "is required when method is voucher (the voucher's code)"))
    if "voucher" in f and f.get("method") != "voucher":
        problems.append(("voucher", "is only allowed when method is voucher"))
    if kind == "deposit.received" and "vat_rate" in f and "vat" in f:
        problems.append(("vat", "give either vat_rate or vat, not both"))
    if kind == "deposit.received" and "vat" in f:
        total = sum((v.amount for v in f["vat"]), Decimal(0))
        if any(v.amount < 0 for v in f["vat"]) or total >= f.get("amount", total + 1):
            problems.append(("vat", "VAT amounts must be positive and less than the deposit amount"))
    if kind == "refund.issued" and ("booking" in f) == ("invoice" in f):
        problems.append(("booking", "a refund names exactly one of booking (deposit) or invoice (credit)"))
    if kind == "voucher.sold" and ctx.chart.vouchers_taxed_at_sale:
        if f.get("purpose") == "single" and "vat_rate" not in f:
            problems.append(("vat_rate", "is required for a single-purpose voucher"))
        if f.get("purpose") == "multi" and "vat_rate" in f:
            problems.append(("vat_rate", "a multi-purpose voucher bears no VAT when sold"))
    if kind == "cash.movement":
        problems += _check_cash(f)
    return problems


def _check_multi_component(kind: str, f: dict[str, Any], chart: Chart) -> FieldProblems:
    """ca-qc: deposits taxed by nature, deposit tax listed per component, untaxed vouchers."""
    problems: FieldProblems = []
    if kind == "deposit.received":
        taxed = ("vat_rate" in f and f["vat_rate"] != 0) or any(v.amount for v in f.get("vat", ()))
        if taxed and not is_prepayment(f.get("nature"), chart):
            problems.append(("nature", "a security deposit (the default nature on chart "
                                       f"{chart.name}) bears no GST/QST when received; send nature "
                                       "prepayment for an instalment on account of the price"))
        elif is_prepayment(f.get("nature"), chart) and "vat_rate" not in f and "vat" not in f:
            problems.append(("vat_rate", "is required for a prepayment (taxable when paid): the tax code, "
                                         "such as 14.975 for GST + QST"))
        rates = [v.rate.normalize() for v in f.get("vat", ())]
        if any(r not in chart.component_rates for r in rates) or len(set(rates)) != len(rates):
            known = ", ".join(sorted(str(r) for r in chart.component_rates))
            problems.append(("vat", f"lists each tax once by its own rate ({known})"))
    if kind == "voucher.sold" and "vat_rate" in f:
        problems.append(("vat_rate", f"a gift voucher bears no GST/QST when sold on chart {chart.name}; "
                                     "tax applies when it is used"))
    return problems


def _check_cash(f: dict[str, Any]) -> FieldProblems:
    amount = f.get("amount")
    if amount is None:
        return []
    if f.get("kind") == "difference":
        return [("amount", "a cash difference cannot be zero")] if amount == 0 else []
    if amount <= 0:
        return [("amount", "must be greater than zero (only a difference is signed)")]
    if "account" in f and f.get("kind") != "expense":
        return [("account", "only an expense names an account")]
    return []


# ---------------------------------------------------------------------------
# Lines -> events


# Built once: json.dumps / json.loads with options build a new encoder or
# decoder on every call, which costs more than the work on a small event.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def canonical_json(obj: Any) -> str:
    """The canonical text of a JSON value: sorted keys, no spaces, UTF-8."""
    return _CANONICAL.encode(obj)


def _problems(line: int, event_id: str | None, found: FieldProblems) -> list[Problem]:
    return [Problem(line, event_id, field, message) for field, message in found]


def _load_json(text: str) -> Any:
    if text.startswith("\ufeff"):  # as json.loads says it
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _DECODER.decode(text)


class _DuplicateKey(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):  # rare: find the first key seen twice
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"duplicate key {key!r}")
            seen.add(key)
    return out


_DECODER = json.JSONDecoder(
    parse_float=_Number,
    parse_int=_Number,
    parse_constant=_refuse_constant,
    object_pairs_hook=_no_duplicate_keys,
)


def parse_event(obj: Any, line: int, ctx: Context) -> tuple[Event | None, list[Problem]]:
    """Validate one decoded JSON object against the contract."""
    if not isinstance(obj, dict):
        return None, [Problem(line, None, None, "an event must be a JSON object")]
    raw_id = obj.get("id")
    event_id = raw_id if isinstance(raw_id, str) and not isinstance(raw_id, _Number) else None
    kind = obj.get("type")
    if kind not in EVENT_FIELDS:
        msg = "is required" if kind is None else f"unknown event type {kind!r} (known: {', '.join(EVENT_TYPES)})"
        common, found = _parse_object({k: obj[k] for k in obj if k in _COMMON}, _COMMON_SPEC, "", ctx)
        found = [p for p in found if p[0] != "type"] + [("type", msg)]
        return None, _problems(line, event_id, found)
    fields, found = _parse_object(obj, _EVENT_SPECS[kind], "", ctx)
    if not found:
        found = _check_fields(kind, fields, ctx)
    if found:
        return None, _problems(line, event_id, found)
    # A valid event holds no JSON number (every field refuses them), so the
    # object dumps back as sent, keys sorted.
    source = canonical_json(obj)
    event = Event(
        id=fields.pop("id"),
        type=fields.pop("type"),
        date=fields.pop("date"),
        line=line,
        digest=hashlib.sha256(source.encode("utf-8")).hexdigest(),
        source=source,
        fields=fields,
    )
    return event, []


def parse_lines(lines: Iterable[str], ctx: Context) -> tuple[list[Event], list[Problem]]:
    """Parse a JSON-lines batch. Blank lines are skipped; numbering starts at 1."""
    events: list[Event] = []
    problems: list[Problem] = []
    for number, text in enumerate(lines, start=1):
        if not text or text.isspace():
            continue
        try:
            obj = _load_json(text)
        except (ValueError, RecursionError) as exc:
            problems.append(Problem(number, None, None, f"malformed JSON: {exc}"))
            continue
        event, found = parse_event(obj, number, ctx)
        problems.extend(found)
        if event is not None:
            events.append(event)
    return events, problems
