"""The ``/api/external/v2`` routes: authentication, rate limit, scopes, handlers.

Every call goes through ``_guard``, in this order:

1. ``Authorization: Bearer`` (company API token or OAuth access token) -> 401;
2. the per-token sliding window (25 requests / 5 s by default) -> 429 with a
   plain-text body and ``retry-after``; every other answer carries
   ``ratelimit-limit``, ``ratelimit-remaining`` and ``ratelimit-reset``
   (a Unix timestamp);
3. the endpoint's scopes (``<resource>:readonly`` or ``<resource>:all`` to
   read, ``<resource>:all`` to write) -> 403;
4. the handler; ``ApiError`` becomes its documented JSON body, and any other
   exception a JSON 500, so the server keeps serving;
5. after any write method, the state is saved.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Awaitable
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import PlainTextResponse
from starlette.responses import Response
from starlette.routing import Route

from connectors.pennylane.sandbox import render
from connectors.pennylane.sandbox import schemas
from connectors.pennylane.sandbox.amounts import vat_percent
from connectors.pennylane.sandbox.context import SANDBOX_USER
from connectors.pennylane.sandbox.context import Caller
from connectors.pennylane.sandbox.context import Sandbox
from connectors.pennylane.sandbox.errors import ApiError
from connectors.pennylane.sandbox.errors import bad_request
from connectors.pennylane.sandbox.errors import forbidden
from connectors.pennylane.sandbox.errors import from_violation
from connectors.pennylane.sandbox.errors import not_found
from connectors.pennylane.sandbox.errors import unprocessable
from connectors.pennylane.sandbox.invoices import create_invoice
from connectors.pennylane.sandbox.invoices import is_credit_note
from connectors.pennylane.sandbox.invoices import link_credit_note
from connectors.pennylane.sandbox.invoices import mark_as_paid
from connectors.pennylane.sandbox.querying import ALL_OPS
from connectors.pennylane.sandbox.querying import CMP_OPS
from connectors.pennylane.sandbox.querying import SET_OPS
from connectors.pennylane.sandbox.querying import FieldSpec
from connectors.pennylane.sandbox.querying import ListSpec
from connectors.pennylane.sandbox.querying import paginate
from connectors.pennylane.sandbox.querying import parse_list_query
from connectors.sandbox.ratelimit import RateDecision
from connectors.sandbox.schema import Schema
from connectors.sandbox.schema import validate

API_PREFIX = "/api/external/v2"
_log = logging.getLogger(__name__)
Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated API call, as handlers see it."""

    request: Request
    sandbox: Sandbox
    caller: Caller

    @property
    def api(self) -> str:
        """Absolute base URL of the API, for the ``url`` links."""
        return f"{str(self.request.base_url).rstrip('/')}{API_PREFIX}"

    @property
    def query(self) -> dict[str, str]:
        """The query parameters (last value wins)."""
        return dict(self.request.query_params)

    def path_id(self, name: str, model: str) -> int:
        """An integer path parameter; 404 when it is not one."""
        raw = self.request.path_params[name]
        try:
            return int(raw)
        except ValueError:
            raise not_found(model, raw) from None

    async def body(self, schema: Schema) -> Record:
        """The JSON body, checked against ``schema``."""
        record = await parse_json(self.request)
        violation = validate(schema, record)
        if violation is not None:
            raise from_violation(violation)
        assert isinstance(record, dict)
        return record


async def parse_json(request: Request) -> Any:
    """Parse a JSON body; numbers become ``int`` or ``Decimal``, never float.

    Raises:
        ApiError: 400 for an empty or malformed body.
    """
    raw = await request.body()
    if not raw.strip():
        raise bad_request("A JSON body is required")

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=refuse_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise bad_request(f"Malformed JSON body: {exc}") from None


Handler = Callable[[Call], Awaitable[Response]]


def ok(body: Any, status: int = 200) -> Response:
    """A JSON answer."""
    return JSONResponse(body, status_code=status)


def error_response(error: ApiError) -> Response:
    """The JSON answer of an ``ApiError``."""
    return JSONResponse(error.body, status_code=error.status)


def _read(resource: str) -> tuple[str, ...]:
    return (f"{resource}:readonly", f"{resource}:all")


def _write(resource: str) -> tuple[str, ...]:
    return (f"{resource}:all",)


def _guard(sandbox: Sandbox, handler: Handler, scopes: tuple[str, ...], method: str) -> Callable[..., Any]:
    async def endpoint(request: Request) -> Response:
        sandbox.stats["api_requests"] += 1
        try:
            caller = sandbox.authenticate(request.headers.get("authorization"))
        except ApiError as exc:
            return error_response(exc)
        decision = sandbox.limiter.hit(caller.key) if sandbox.limiter else None
        if decision is not None and not decision.allowed:
            sandbox.stats["rate_limited"] += 1
            return _too_many(decision, sandbox.wall_clock())
        try:
            if scopes and not caller.scopes & set(scopes):
                raise forbidden(scopes)
            response = await handler(Call(request, sandbox, caller))
        except ApiError as exc:
            response = error_response(exc)
        except Exception:  # the sandbox must keep serving whatever a request does
            _log.exception("sandbox handler failed")
            response = JSONResponse({"error": "Internal Server Error", "status": 500}, status_code=500)
        if method != "GET":
            sandbox.save()
        if decision is not None:
            response.headers.update(_rate_headers(decision, sandbox.wall_clock()))
        return response

    return endpoint


def _rate_headers(decision: RateDecision, now_s: float) -> dict[str, str]:
    return {
        "ratelimit-limit": str(decision.limit),
        "ratelimit-remaining": str(decision.remaining),
        "ratelimit-reset": str(math.ceil(now_s + decision.reset_s)),
    }


def _too_many(decision: RateDecision, now_s: float) -> Response:
    wait = decision.retry_after_s
    return PlainTextResponse(
        f"Rate limit exceeded. Please retry in {wait} seconds.",
        status_code=429,
        headers={**_rate_headers(decision, now_s), "retry-after": str(wait)},
    )


def _list(call: Call, records: Any, spec: ListSpec, draw: Callable[[Any], Record], *,
          null_pages: bool = False) -> Response:
    query = parse_list_query(call.query, spec)
    page = paginate(records, query, spec)
    return ok(render.envelope([draw(r) for r in page.items], page.has_more, page.next_cursor, null_pages=null_pages))


def _field(kind: str, operators: frozenset[str], key: str) -> FieldSpec:
    return FieldSpec(kind, operators, lambda record: record.get(key))


# -- me, customers, products ---------------------------------------------------

async def get_me(call: Call) -> Response:
    data = call.sandbox.store.data
    return ok({"user": dict(SANDBOX_USER) if call.caller.oauth else None, "company": dict(data["company"]),
               "scopes": sorted(call.caller.scopes)})


_CUSTOMERS = ListSpec({
    "id": _field("int", ALL_OPS, "id"),
    "customer_type": _field("str", frozenset({"eq", "not_eq"}), "kind"),
    "ledger_account_id": _field("int", frozenset({"eq", "not_eq"}), "ledger_account_id"),
    "name": _field("str", frozenset({"start_with", "eq"}), "name"),
    "external_reference": _field("str", frozenset({"start_with", "eq", "not_eq", "in", "not_in"}),
                                 "external_reference"),
    "reg_no": _field("str", frozenset({"eq", "not_eq", "in", "not_in"}), "reg_no"),
    "emails": _field("strs", frozenset({"in"}), "emails"),
})


async def list_customers(call: Call) -> Response:
    return _list(call, call.sandbox.books.table("customers").values(), _CUSTOMERS,
                 lambda c: render.customer(call.api, c, with_type=True))


async def get_customer(call: Call) -> Response:
    record = call.sandbox.books.get("customers", "Customer", call.path_id("id", "Customer"))
    return ok(render.customer(call.api, record, with_type=True))


def _customer_routes(kind: str) -> tuple[Handler, Handler, Handler]:
    model = "CompanyCustomer" if kind == "company" else "IndividualCustomer"
    create_schema = schemas.COMPANY_CUSTOMER if kind == "company" else schemas.INDIVIDUAL_CUSTOMER
    update_schema = schemas.COMPANY_CUSTOMER_UPDATE if kind == "company" else schemas.INDIVIDUAL_CUSTOMER_UPDATE

    async def create(call: Call) -> Response:
        record = call.sandbox.books.create_customer(kind, await call.body(create_schema))
        return ok(render.customer(call.api, record), 201)

    async def read(call: Call) -> Response:
        record = call.sandbox.books.get("customers", model, call.path_id("id", model))
        if record["kind"] != kind:
            raise not_found(model, record["id"])
        return ok(render.customer(call.api, record))

    async def update(call: Call) -> Response:
        ident = call.path_id("id", model)
        record = call.sandbox.books.update_customer(kind, ident, await call.body(update_schema))
        return ok(render.customer(call.api, record))

    return create, read, update


_PRODUCTS = ListSpec({
    "id": _field("int", ALL_OPS, "id"),
    "label": _field("str", frozenset({"eq", "in"}), "label"),
    "reference": _field("str", frozenset({"eq", "in"}), "reference"),
    "external_reference": _field("str", SET_OPS | {"eq", "not_eq"}, "external_reference"),
})


def _product(record: Record) -> Record:
    return render.product(record, vat_percent(record["vat_rate"]) or Decimal(0))


async def list_products(call: Call) -> Response:
    return _list(call, call.sandbox.books.table("products").values(), _PRODUCTS, _product)


async def create_product(call: Call) -> Response:
    return ok(_product(call.sandbox.books.create_product(await call.body(schemas.PRODUCT))), 201)


async def get_product(call: Call) -> Response:
    return ok(_product(call.sandbox.books.get("products", "Product", call.path_id("id", "Product"))))


async def update_product(call: Call) -> Response:
    ident = call.path_id("id", "Product")
    return ok(_product(call.sandbox.books.update_product(ident, await call.body(schemas.PRODUCT_UPDATE))))


# -- customer invoices -----------------------------------------------------------

_INVOICES = ListSpec(
    {
        "id": _field("int", ALL_OPS, "id"),
        "date": _field("date", ALL_OPS, "date"),
        "customer_id": _field("int", ALL_OPS, "customer_id"),
        "billing_subscription_id": _field("int", ALL_OPS, "billing_subscription_id"),
        "quote_id": _field("int", ALL_OPS, "quote_id"),
        "invoice_number": _field("str", SET_OPS | {"eq", "not_eq"}, "invoice_number"),
        "draft": FieldSpec("bool", frozenset({"eq"}), lambda record: False),
        "credit_note": FieldSpec("bool", frozenset({"eq"}), is_credit_note),
        "external_reference": _field("str", frozenset({"eq"}), "external_reference"),
        "category_id": _field("int", frozenset({"in"}), "category_id"),
    },
    sorts={"id": lambda r: r["id"], "date": lambda r: r["date"]},
)


async def list_invoices(call: Call) -> Response:
    books = call.sandbox.books
    return _list(call, books.table("invoices").values(), _INVOICES, lambda i: render.invoice(call.api, books, i))


async def create_customer_invoice(call: Call) -> Response:
    books = call.sandbox.books
    body = await call.body(schemas.CUSTOMER_INVOICE)
    record = create_invoice(books, body, enforce_chronology=call.sandbox.enforce_chronology)
    return ok(render.invoice(call.api, books, record), 201)


def _invoice(call: Call) -> Record:
    return call.sandbox.books.get("invoices", "CustomerInvoice", call.path_id("id", "CustomerInvoice"))


async def get_invoice(call: Call) -> Response:
    return ok(render.invoice(call.api, call.sandbox.books, _invoice(call)))


async def delete_invoice(call: Call) -> Response:
    _invoice(call)
    raise unprocessable("Only draft invoices can be deleted; this one is finalized")


async def finalize_invoice(call: Call) -> Response:
    _invoice(call)
    raise unprocessable("The invoice is already finalized")


async def mark_invoice_paid(call: Call) -> Response:
    mark_as_paid(call.sandbox.books, call.path_id("id", "CustomerInvoice"))
    return Response(status_code=204)


async def link_invoice_credit_note(call: Call) -> Response:
    ident = call.path_id("id", "CustomerInvoice")
    body = await call.body(schemas.LINK_CREDIT_NOTE)
    credit_note = link_credit_note(call.sandbox.books, ident, body["credit_note_id"])
    return ok(render.invoice(call.api, call.sandbox.books, credit_note))


_INVOICE_LINES = ListSpec(sorts={"id": lambda r: r["id"], "rank": lambda r: r["id"]})


async def list_invoice_lines(call: Call) -> Response:
    record = call.sandbox.books.get("invoices", "CustomerInvoice",
                                    call.path_id("customer_invoice_id", "CustomerInvoice"))
    return _list(call, record["lines"], _INVOICE_LINES, lambda line: render.invoice_line(call.api, line))


# -- journals and ledger accounts -----------------------------------------------

_JOURNALS = ListSpec({"type": _field("str", SET_OPS | {"eq", "not_eq"}, "type")})


async def list_journals(call: Call) -> Response:
    return _list(call, call.sandbox.books.table("journals").values(), _JOURNALS, render.journal, null_pages=True)


async def create_journal(call: Call) -> Response:
    return ok(render.journal(call.sandbox.books.create_journal(await call.body(schemas.JOURNAL))), 201)


async def get_journal(call: Call) -> Response:
    return ok(render.journal(call.sandbox.books.get("journals", "Journal", call.path_id("id", "Journal"))))


_ACCOUNTS = ListSpec(
    {"id": _field("int", ALL_OPS, "id"),
     "number": _field("str", frozenset({"start_with", "eq", "in"}), "number"),
     "enabled": _field("bool", frozenset({"eq"}), "enabled")},
    max_limit=1000,
)


async def list_accounts(call: Call) -> Response:
    return _list(call, call.sandbox.books.table("ledger_accounts").values(), _ACCOUNTS, render.ledger_account,
                 null_pages=True)


async def create_account(call: Call) -> Response:
    body = await call.body(schemas.LEDGER_ACCOUNT)
    return ok(render.ledger_account(call.sandbox.books.create_ledger_account(body)), 201)


async def get_account(call: Call) -> Response:
    ident = call.path_id("id", "LedgerAccount")
    return ok(render.ledger_account(call.sandbox.books.get("ledger_accounts", "LedgerAccount", ident)))


async def update_account(call: Call) -> Response:
    ident = call.path_id("id", "LedgerAccount")
    body = await call.body(schemas.LEDGER_ACCOUNT_UPDATE)
    return ok(render.ledger_account(call.sandbox.books.update_ledger_account(ident, body)))


# -- ledger entries, lines, lettering ---------------------------------------------

_ENTRIES = ListSpec(
    {"id": _field("int", ALL_OPS, "id"), "date": _field("date", CMP_OPS, "date"),
     "journal_id": _field("int", ALL_OPS, "journal_id")},
    sorts={"id": lambda r: r["id"], "date": lambda r: r["date"]},
)


async def list_entries(call: Call) -> Response:
    return _list(call, call.sandbox.books.table("ledger_entries").values(), _ENTRIES,
                 lambda e: render.entry_item(call.api, e), null_pages=True)


async def create_entry(call: Call) -> Response:
    books = call.sandbox.books
    record = books.create_entry(await call.body(schemas.LEDGER_ENTRY))
    return ok(render.entry_created(call.api, books, record), 201)


async def get_entry(call: Call) -> Response:
    books = call.sandbox.books
    record = books.get("ledger_entries", "LedgerEntry", call.path_id("id", "LedgerEntry"))
    return ok(render.entry(call.api, books, record))


_ENTRY_LINES = ListSpec({"ledger_account_id": _field("int", ALL_OPS, "ledger_account_id")})


async def list_entry_lines(call: Call) -> Response:
    books = call.sandbox.books
    record = books.get("ledger_entries", "LedgerEntry", call.path_id("ledger_entry_id", "LedgerEntry"))
    return _list(call, books.entry_lines(record), _ENTRY_LINES, lambda line: render.entry_line_short(call.api, books,
                                                                                                   line),
                 null_pages=True)


_LINES = ListSpec(
    {name: _field(kind, ALL_OPS, name) for name, kind in
     (("id", "int"), ("journal_id", "int"), ("ledger_account_id", "int"), ("date", "date"))},
    sorts={"id": lambda r: r["id"], "date": lambda r: r["date"]},
)


async def list_lines(call: Call) -> Response:
    books = call.sandbox.books
    views = [books.line_view(line) for line in books.table("ledger_lines").values()]
    return _list(call, views, _LINES, lambda view: render.entry_line(call.api, books, view))


async def get_line(call: Call) -> Response:
    books = call.sandbox.books
    line = books.get("ledger_lines", "LedgerEntryLine", call.path_id("id", "LedgerEntryLine"))
    return ok(render.entry_line(call.api, books, books.line_view(line)))


_LETTERED = ListSpec(sorts={"id": lambda r: r["id"], "date": lambda r: r["date"]})


async def list_lettered_lines(call: Call) -> Response:
    books = call.sandbox.books
    line = books.get("ledger_lines", "LedgerEntryLine", call.path_id("ledger_entry_line_id", "LedgerEntryLine"))
    views = [books.line_view(books.table("ledger_lines")[str(i)]) for i in books.lettered_ids(line)]
    return _list(call, views, _LETTERED, lambda view: render.entry_line(call.api, books, view), null_pages=True)


async def letter_lines(call: Call) -> Response:
    body = await call.body(schemas.LETTERING)
    ids = call.sandbox.books.letter([item["id"] for item in body["ledger_entry_lines"]],
                                    body["unbalanced_lettering_strategy"])
    return ok([{"id": ident} for ident in ids])


async def unletter_lines(call: Call) -> Response:
    body = await call.body(schemas.UNLETTERING)
    call.sandbox.books.unletter([item["id"] for item in body["ledger_entry_lines"]],
                                body["unbalanced_lettering_strategy"])
    return Response(status_code=204)


# -- reports ----------------------------------------------------------------------

_TRIAL_BALANCE = ListSpec(sorts={"number": lambda r: r["number"]}, default_sort="number", max_limit=1000)


async def trial_balance(call: Call) -> Response:
    query = call.query
    bounds = [_query_date(query, name) for name in ("period_start", "period_end")]
    if bounds[0] > bounds[1]:
        raise bad_request("period_start must not be after period_end", "period_start", "ValidateError")
    auxiliary = query.get("is_auxiliary", "false")
    if auxiliary not in ("true", "false"):
        raise bad_request("is_auxiliary must be true or false", "is_auxiliary", "ValidateError")
    rows = call.sandbox.books.trial_balance(bounds[0], bounds[1], auxiliary == "true")
    return _list(call, rows, _TRIAL_BALANCE, lambda row: row, null_pages=True)


def _query_date(query: dict[str, str], name: str) -> str:
    value = query.get(name)
    if value is None:
        raise bad_request(f"{name} is required", name, "NotExistRequiredKey")
    violation = validate(schemas.DATE, value, name)
    if violation is not None:
        raise from_violation(violation)
    return value


_FISCAL_YEARS = ListSpec(sorts={"id": lambda r: r["id"], "start": lambda r: r["start"]})


async def list_fiscal_years(call: Call) -> Response:
    return _list(call, call.sandbox.books.fiscal_years(), _FISCAL_YEARS, lambda row: row, null_pages=True)


def api_routes(sandbox: Sandbox) -> list[Route]:
    """Every ``/api/external/v2`` route, guarded."""
    company = _customer_routes("company")
    individual = _customer_routes("individual")
    table: list[tuple[str, str, Handler, tuple[str, ...]]] = [
        ("GET", "/me", get_me, ()),
        ("GET", "/customers", list_customers, _read("customers")),
        ("GET", "/customers/{id}", get_customer, _read("customers")),
        ("POST", "/company_customers", company[0], _write("customers")),
        ("GET", "/company_customers/{id}", company[1], _read("customers")),
        ("PUT", "/company_customers/{id}", company[2], _write("customers")),
        ("POST", "/individual_customers", individual[0], _write("customers")),
        ("GET", "/individual_customers/{id}", individual[1], _read("customers")),
        ("PUT", "/individual_customers/{id}", individual[2], _write("customers")),
        ("GET", "/products", list_products, _read("products")),
        ("POST", "/products", create_product, _write("products")),
        ("GET", "/products/{id}", get_product, _read("products")),
        ("PUT", "/products/{id}", update_product, _write("products")),
        ("GET", "/customer_invoices", list_invoices, _read("customer_invoices")),
        ("POST", "/customer_invoices", create_customer_invoice, _write("customer_invoices")),
        ("GET", "/customer_invoices/{id}", get_invoice, _read("customer_invoices")),
        ("DELETE", "/customer_invoices/{id}", delete_invoice, _write("customer_invoices")),
        ("PUT", "/customer_invoices/{id}/finalize", finalize_invoice, _write("customer_invoices")),
        ("PUT", "/customer_invoices/{id}/mark_as_paid", mark_invoice_paid, _write("customer_invoices")),
        ("POST", "/customer_invoices/{id}/link_credit_note", link_invoice_credit_note, _write("customer_invoices")),
        ("GET", "/customer_invoices/{customer_invoice_id}/invoice_lines", list_invoice_lines,
         _read("customer_invoices")),
        ("GET", "/journals", list_journals, _read("journals")),
        ("POST", "/journals", create_journal, _write("journals")),
        ("GET", "/journals/{id}", get_journal, _read("journals")),
        ("GET", "/ledger_accounts", list_accounts, _read("ledger_accounts")),
        ("POST", "/ledger_accounts", create_account, _write("ledger_accounts")),
        ("GET", "/ledger_accounts/{id}", get_account, _read("ledger_accounts")),
        ("PUT", "/ledger_accounts/{id}", update_account, _write("ledger_accounts")),
        ("GET", "/ledger_entries", list_entries, _read("ledger_entries")),
        ("POST", "/ledger_entries", create_entry, _write("ledger_entries")),
        ("GET", "/ledger_entries/{id}", get_entry, _read("ledger_entries")),
        ("GET", "/ledger_entries/{ledger_entry_id}/ledger_entry_lines", list_entry_lines, _read("ledger_entries")),
        ("POST", "/ledger_entry_lines/lettering", letter_lines, _write("ledger_entries")),
        ("DELETE", "/ledger_entry_lines/lettering", unletter_lines, _write("ledger_entries")),
        ("GET", "/ledger_entry_lines", list_lines, _read("ledger_entries")),
        ("GET", "/ledger_entry_lines/{id}", get_line, _read("ledger_entries")),
        ("GET", "/ledger_entry_lines/{ledger_entry_line_id}/lettered_ledger_entry_lines", list_lettered_lines,
         _read("ledger_entries")),
        ("GET", "/trial_balance", trial_balance, ("trial_balance:readonly",)),
        ("GET", "/fiscal_years", list_fiscal_years, ("fiscal_years:readonly",)),
    ]
    return [Route(API_PREFIX + path, _guard(sandbox, handler, scopes, method), methods=[method])
            for method, path, handler, scopes in table]
