"""Sandbox-only endpoints under ``/sandbox/``: companies, credentials, inspection, tampering.

They need no token, are never rate limited nor faulted, and do not exist on
QuickBooks. Tests use them to set the sandbox up and to change a company
behind the client's back (the audit must notice). Errors come as the same
``Fault`` bodies as the API. See the package docstring for the list.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from connectors.quickbooks.sandbox.money import dumps_json
from starlette.responses import Response
from starlette.routing import Route

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox import schemas
from connectors.quickbooks.sandbox.api import checked_body
from connectors.quickbooks.sandbox.api import parse_body
from connectors.quickbooks.sandbox.api import render_write
from connectors.quickbooks.sandbox.books import Books
from connectors.quickbooks.sandbox.books import Record
from connectors.quickbooks.sandbox.company import EDITIONS
from connectors.quickbooks.sandbox.company import new_realm
from connectors.quickbooks.sandbox.context import Sandbox
from connectors.quickbooks.sandbox.entities import KINDS
from connectors.quickbooks.sandbox.entities import Kind
from connectors.quickbooks.sandbox.entities import input_of
from connectors.quickbooks.sandbox.entities import kind_of
from connectors.quickbooks.sandbox.entities import remove
from connectors.quickbooks.sandbox.entities import write
from connectors.quickbooks.sandbox.errors import QboError
from connectors.quickbooks.sandbox.fields import Options
from connectors.quickbooks.sandbox.money import fmt
from connectors.quickbooks.sandbox.payments import open_amount
from connectors.quickbooks.sandbox.render import View
from connectors.quickbooks.sandbox.render import render
from connectors.quickbooks.sandbox.sales import SALES_ENTITIES
from connectors.sandbox.faults import parse_fault_plan

__all__ = ["admin_routes", "realm_state"]

AdminHandler = Callable[[Sandbox, Request], Awaitable[Any]]
_NUMBERED = ("Invoice", "CreditMemo", "RefundReceipt", "JournalEntry", "Payment", "Deposit")
_TAMPER_ALL = Options(allow_duplicate_doc_number=True)


async def _body(request: Request, schema: Any) -> Record:
    raw = await request.body()
    return checked_body(schema, parse_body(raw) if raw.strip() else {})


def _books(sandbox: Sandbox, request: Request) -> Books:
    realm_id = request.path_params["realm"]
    books = sandbox.books(realm_id)
    if books is None:
        raise errors.not_found("Company", realm_id)
    return books


def _kind(request: Request) -> Kind:
    kind = kind_of(request.path_params["entity"])
    if kind is None or kind.schema is None:
        raise errors.unsupported(f"on entity {request.path_params['entity']}")
    return kind


def _counter_dump(books: Books, key: str) -> dict[str, dict[str, int]]:
    result = {}
    for entity in _NUMBERED:
        counts = Counter(str(r[key]) for r in books.records(entity) if r.get(key))
        result[entity] = dict(counts)
    return result


def realm_state(sandbox: Sandbox, books: Books) -> Record:
    """What ``/sandbox/state`` tells about one company."""
    doc_numbers = _counter_dump(books, "DocNumber")
    notes = _counter_dump(books, "PrivateNote")
    refs = Counter(str(p["PaymentRefNum"]) for p in books.records("Payment") if p.get("PaymentRefNum"))

    def repeated(counts: dict[str, int]) -> list[str]:
        return sorted(key for key, count in counts.items() if count > 1)

    return {
        "edition": books.realm["edition"], "company": books.realm["company"], "prefs": books.realm["prefs"],
        "counts": {entity: len(books.table(entity)) for entity in KINDS},
        "doc_numbers": doc_numbers, "private_notes": notes, "payment_ref_nums": dict(refs),
        "duplicates": {
            "DocNumber": {entity: repeated(counts) for entity, counts in doc_numbers.items()},
            "PrivateNote": {entity: repeated(counts) for entity, counts in notes.items()},
            "PaymentRefNum": repeated(refs),
        },
        "inflight": sandbox.inflight.get(books.realm_id, 0),
        "request_ids": len(books.realm["requests"]),
        "keys": dict(books.realm["keys"]),
    }


async def get_state(sandbox: Sandbox, request: Request) -> Record:
    realms = {realm_id: realm_state(sandbox, books) for realm_id in sandbox.store.data["realms"]
              if (books := sandbox.books(realm_id)) is not None}
    return {
        "default_realm": sandbox.store.data["default_realm"], "realms": realms,
        "requests": {**dict(sandbox.stats), "faults": dict(sandbox.fault_counts),
                     "item_faults": dict(sandbox.item_fault_counts)},
        **sandbox.describe(),
    }


def _company_answer(books: Books) -> Record:
    keys = books.realm["keys"]
    return {"realmId": books.realm_id, "edition": books.realm["edition"], "company": books.realm["company"],
            "accounts": {k.split(":", 1)[1]: v for k, v in keys.items() if k.startswith("account:")},
            "tax_codes": {k.split(":", 1)[1]: v for k, v in keys.items() if k.startswith("code:")},
            "tax_rates": {k.split(":", 1)[1]: v for k, v in keys.items() if k.startswith("rate:")}}


async def create_company(sandbox: Sandbox, request: Request) -> tuple[Record, int]:
    body = await _body(request, schemas.COMPANY)
    try:
        books = sandbox.create_company(EDITIONS[body.get("edition", "CA-QC")], body.get("name"),
                                       body.get("realm_id"))
    except ValueError as exc:
        raise errors.business(str(exc), "realm_id") from None
    return _company_answer(books), 201


async def list_companies(sandbox: Sandbox, request: Request) -> Record:
    return {"default_realm": sandbox.store.data["default_realm"],
            "companies": [_company_answer(books) for realm_id in sandbox.store.data["realms"]
                          if (books := sandbox.books(realm_id)) is not None]}


async def mint_tokens(sandbox: Sandbox, request: Request) -> tuple[Record, int]:
    books = _books(sandbox, request)
    raw = await request.body()
    body = parse_body(raw) if raw.strip() else {}
    scope = body.get("scope", "com.intuit.quickbooks.accounting") if isinstance(body, dict) else None
    if not isinstance(scope, str):
        raise errors.invalid_property("scope must be a string", "scope")
    try:
        return sandbox.mint_tokens(books.realm_id, tuple(scope.split())), 201
    except ValueError as exc:
        raise errors.business(str(exc), "scope") from None


async def set_preferences(sandbox: Sandbox, request: Request) -> Record:
    books = _books(sandbox, request)
    books.realm["prefs"].update(await _body(request, schemas.PREFERENCES))
    return dict(books.realm["prefs"])


async def create_oauth_client(sandbox: Sandbox, request: Request) -> tuple[Record, int]:
    body = await _body(request, schemas.OAUTH_CLIENT)
    try:
        client_id, secret = sandbox.oauth.register_client(body["redirect_uris"], body.get("client_id"),
                                                          body.get("client_secret"))
    except ValueError as exc:
        raise errors.business(str(exc), "redirect_uris") from None
    return {"client_id": client_id, "client_secret": secret, "redirect_uris": body["redirect_uris"]}, 201


async def expire_access_tokens(sandbox: Sandbox, request: Request) -> Record:
    return {"expired": sandbox.oauth.expire_access_tokens()}


async def set_faults(sandbox: Sandbox, request: Request) -> Record:
    plan = (await _body(request, schemas.FAULTS))["plan"]
    try:
        sandbox.set_faults(parse_fault_plan(plan) if plan else None)
    except ValueError as exc:
        raise errors.business(str(exc), "plan") from None
    return sandbox.describe()


async def reset(sandbox: Sandbox, request: Request) -> Record:
    """Every company starts over (same realm ids, fresh books); credentials survive."""
    data = sandbox.store.data
    old = data["realms"]
    data["realms"] = {}
    for realm_id, realm in old.items():
        new_realm(data, EDITIONS[realm["edition"]], sandbox.stamp(), name=realm["company"]["CompanyName"],
                  realm_id=realm_id)
    return {"realms": sorted(data["realms"])}


# -- tampering --------------------------------------------------------------------------------

async def hidden_create(sandbox: Sandbox, request: Request) -> tuple[Record, int]:
    books, kind = _books(sandbox, request), _kind(request)
    assert kind.schema is not None  # _kind refuses read-only entities
    body = checked_body(kind.schema, parse_body(await request.body()))
    result = write(books, kind, "create", body, _TAMPER_ALL)
    return render(View(books), kind.name, result), 201


async def hidden_delete(sandbox: Sandbox, request: Request) -> None:
    books, kind = _books(sandbox, request), _kind(request)
    if not kind.transaction:
        raise errors.unsupported(f"Delete on {kind.name}")
    remove(books, kind, books.get(kind.name, request.path_params["ident"]))


async def tamper(sandbox: Sandbox, request: Request) -> Record:
    """Change a transaction as a QuickBooks user would, behind the client's back."""
    books, kind = _books(sandbox, request), _kind(request)
    changes = await _body(request, schemas.TAMPER)
    record = books.get(kind.name, request.path_params["ident"])
    body = {**input_of(kind, record), "Line": record.get("Line", []), "sparse": True}
    txn_code = (record.get("TxnTaxDetail") or {}).get("TxnTaxCodeRef")
    if txn_code is not None:
        body["TxnTaxDetail"] = {"TxnTaxCodeRef": txn_code}
    body.update({key: changes[key] for key in ("TxnDate", "DocNumber", "PrivateNote") if key in changes})
    if "Amount" in changes:
        body["Line"] = _line_changed(kind, record, changes)
    if "TotalAmt" in changes:
        if kind.name != "Payment":
            raise errors.business("TotalAmt can be changed on a Payment only; change a line Amount instead")
        body["TotalAmt"] = changes["TotalAmt"]
    assert kind.build is not None
    new = kind.build(books, body, record, _TAMPER_ALL)
    new.update(Id=record["Id"], SyncToken=str(int(record["SyncToken"]) + 1), domain="QBO", sparse=False,
               MetaData=books.meta(record))
    books.put(kind.name, new)
    return render(View(books), kind.name, new)


def _line_changed(kind: Kind, record: Record, changes: Record) -> list[Record]:
    if kind.name not in SALES_ENTITIES:
        raise errors.business("Amount can be changed on invoice, credit memo and refund receipt lines")
    number = changes.get("LineNum", 1)
    lines = [dict(line) for line in record["Line"] if line.get("DetailType") == "SalesItemLineDetail"]
    if not 1 <= number <= len(lines):
        raise errors.business(f"no sales line {number}", "LineNum")
    line = lines[number - 1]
    value = Decimal(changes["Amount"])
    detail = {key: v for key, v in line["SalesItemLineDetail"].items() if key not in ("Qty", "UnitPrice")}
    lines[number - 1] = {**line, "Amount": value, "SalesItemLineDetail": {**detail, "Qty": 1, "UnitPrice": value}}
    return lines


async def mark_paid(sandbox: Sandbox, request: Request) -> tuple[Record, int]:
    """Record a payment of the invoice's whole balance, unknown to the client."""
    books = _books(sandbox, request)
    invoice = books.get("Invoice", request.path_params["ident"])
    raw = await request.body()
    body = parse_body(raw) if raw.strip() else {}
    balance = open_amount(books, invoice, "Invoice")
    if balance <= 0:
        raise errors.business(f"Invoice {invoice['Id']} is already paid")
    payment = {"CustomerRef": invoice["CustomerRef"], "TotalAmt": fmt(balance),
               "TxnDate": body.get("TxnDate") if isinstance(body, dict) and body.get("TxnDate") else invoice["TxnDate"],
               "PrivateNote": "Marked paid in QuickBooks",
               "Line": [{"Amount": fmt(balance), "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]}
    result = write(books, KINDS["Payment"], "create", payment, _TAMPER_ALL)
    return render_write(books, KINDS["Payment"], "create", result), 201


def _route(sandbox: Sandbox, method: str, path: str, handler: AdminHandler) -> Route:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(sandbox, request)
        except QboError as exc:
            return JSONResponse({**exc.body, "time": sandbox.stamp(millis=True)}, status_code=exc.status)
        if method != "GET":
            sandbox.save()
        if result is None:
            return Response(status_code=204)
        body, status = result if isinstance(result, tuple) else (result, 200)
        return Response(dumps_json(body), status_code=status, media_type="application/json")

    return Route(f"/sandbox{path}", endpoint, methods=[method])


def admin_routes(sandbox: Sandbox) -> list[Route]:
    """Every ``/sandbox/`` route."""
    company = "/companies/{realm}"
    table: list[tuple[str, str, AdminHandler]] = [
        ("GET", "/state", get_state),
        ("GET", "/companies", list_companies),
        ("POST", "/companies", create_company),
        ("POST", f"{company}/tokens", mint_tokens),
        ("PATCH", f"{company}/preferences", set_preferences),
        ("POST", f"{company}/invoice/{{ident}}/mark_paid", mark_paid),
        ("POST", f"{company}/{{entity}}", hidden_create),
        ("DELETE", f"{company}/{{entity}}/{{ident}}", hidden_delete),
        ("PATCH", f"{company}/{{entity}}/{{ident}}", tamper),
        ("POST", "/oauth_clients", create_oauth_client),
        ("POST", "/oauth/expire_access_tokens", expire_access_tokens),
        ("PUT", "/faults", set_faults),
        ("POST", "/reset", reset),
    ]
    return [_route(sandbox, method, path, handler) for method, path, handler in table]
