"""Sandbox-only endpoints under ``/sandbox/``: credentials, inspection, tampering.

They need no token, are never rate limited nor faulted, and do not exist on
Pennylane. Tests use them to set the sandbox up and to change data behind the
client's back; see the package docstring for the list.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Awaitable
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import Response
from starlette.routing import Route

from connectors.pennylane.sandbox import render
from connectors.pennylane.sandbox import schemas
from connectors.pennylane.sandbox.amounts import fmt
from connectors.pennylane.sandbox.api import API_PREFIX
from connectors.pennylane.sandbox.api import error_response
from connectors.pennylane.sandbox.api import parse_json
from connectors.pennylane.sandbox.context import SCOPES
from connectors.pennylane.sandbox.context import Sandbox
from connectors.pennylane.sandbox.errors import ApiError
from connectors.pennylane.sandbox.errors import from_violation
from connectors.pennylane.sandbox.errors import not_found
from connectors.pennylane.sandbox.errors import unprocessable
from connectors.pennylane.sandbox.invoices import create_invoice
from connectors.pennylane.sandbox.invoices import delete_invoice
from connectors.pennylane.sandbox.invoices import is_credit_note
from connectors.pennylane.sandbox.invoices import mark_as_paid
from connectors.pennylane.sandbox.invoices import tamper_invoice
from connectors.sandbox.faults import parse_fault_plan
from connectors.sandbox.schema import Schema
from connectors.sandbox.schema import validate

Record = dict[str, Any]
AdminHandler = Callable[[Sandbox, Request], Awaitable[Any]]


async def _body(request: Request, schema: Schema) -> Record:
    raw = await request.body()
    record = await parse_json(request) if raw.strip() else {}
    violation = validate(schema, record)
    if violation is not None:
        raise from_violation(violation)
    assert isinstance(record, dict)
    return record


def _path_id(request: Request, model: str) -> int:
    raw = request.path_params["id"]
    try:
        return int(raw)
    except ValueError:
        raise not_found(model, raw) from None


def _api(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}{API_PREFIX}"


async def get_state(sandbox: Sandbox, request: Request) -> Record:
    books = sandbox.books
    invoices = list(books.table("invoices").values())
    references = {
        "customers": Counter(c["external_reference"] for c in books.table("customers").values()),
        "products": Counter(p["external_reference"] for p in books.table("products").values()),
        "customer_invoices": Counter(i["external_reference"] for i in invoices),
    }
    manual_pieces = Counter(e["piece_number"] for e in books.table("ledger_entries").values()
                            if e["invoice_id"] is None)
    return {
        "counts": render.counts(books),
        "external_references": {name: dict(counter) for name, counter in references.items()},
        "piece_numbers": dict(manual_pieces),
        "duplicates": {
            **{name: sorted(k for k, n in counter.items() if n > 1) for name, counter in references.items()},
            "ledger_entries": sorted(k for k, n in manual_pieces.items() if n > 1),
        },
        "paid_invoices": sorted(i["invoice_number"] for i in invoices
                                if not is_credit_note(i) and render.invoice(_api(request), books, i)["paid"]),
        "requests": {**dict(sandbox.stats), "faults": dict(sandbox.fault_counts)},
        **sandbox.describe(),
    }


async def create_company_token(sandbox: Sandbox, request: Request) -> tuple[Record, int]:
    body = await _body(request, schemas.COMPANY_TOKEN)
    scopes = frozenset(body.get("scopes", SCOPES))
    unknown = sorted(scopes - SCOPES)
    if unknown:
        raise unprocessable(f"Unknown scope(s): {', '.join(unknown)}")
    token = body.get("token") or secrets.token_urlsafe(32)
    sandbox.add_company_token(token, scopes, body.get("label", "sandbox token"))
    return {"token": token, "scopes": sorted(scopes)}, 201


async def create_oauth_client(sandbox: Sandbox, request: Request) -> tuple[Record, int]:
    body = await _body(request, schemas.OAUTH_CLIENT)
    try:
        client_id, secret = sandbox.oauth.register_client(body["redirect_uris"], body.get("client_id"),
                                                          body.get("client_secret"))
    except ValueError as exc:
        raise unprocessable(str(exc)) from None
    return {"client_id": client_id, "client_secret": secret, "redirect_uris": body["redirect_uris"]}, 201


async def expire_access_tokens(sandbox: Sandbox, request: Request) -> Record:
    return {"expired": sandbox.oauth.expire_access_tokens()}


async def set_faults(sandbox: Sandbox, request: Request) -> Record:
    plan = (await _body(request, schemas.FAULTS))["plan"]
    try:
        sandbox.set_faults(parse_fault_plan(plan) if plan else None)
    except ValueError as exc:
        raise unprocessable(str(exc)) from None
    return sandbox.describe()


async def reset(sandbox: Sandbox, request: Request) -> Record:
    """Forget every document; credentials and the company survive."""
    kept = {key: sandbox.store.data[key] for key in ("company_tokens", "oauth")}
    sandbox.store.reset()
    sandbox.store.data.update(kept)
    return render.counts(sandbox.books)


async def create_hidden_invoice(sandbox: Sandbox, request: Request) -> tuple[Record, int]:
    body = await _body(request, schemas.CUSTOMER_INVOICE)
    record = create_invoice(sandbox.books, body, enforce_chronology=False)
    return render.invoice(_api(request), sandbox.books, record), 201


async def remove_invoice(sandbox: Sandbox, request: Request) -> None:
    delete_invoice(sandbox.books, _path_id(request, "CustomerInvoice"))


async def change_invoice(sandbox: Sandbox, request: Request) -> Record:
    body = await _body(request, schemas.INVOICE_TAMPER)
    record = tamper_invoice(sandbox.books, _path_id(request, "CustomerInvoice"), body)
    return render.invoice(_api(request), sandbox.books, record)


async def pay_invoice(sandbox: Sandbox, request: Request) -> None:
    mark_as_paid(sandbox.books, _path_id(request, "CustomerInvoice"))


async def create_hidden_entry(sandbox: Sandbox, request: Request) -> tuple[Record, int]:
    body = await _body(request, schemas.LEDGER_ENTRY)
    record = sandbox.books.create_entry(body)
    return render.entry_created(_api(request), sandbox.books, record), 201


async def remove_entry(sandbox: Sandbox, request: Request) -> None:
    sandbox.books.delete_entry(_path_id(request, "LedgerEntry"))


async def change_line(sandbox: Sandbox, request: Request) -> Record:
    body = await _body(request, schemas.LINE_TAMPER)
    line = sandbox.books.get("ledger_lines", "LedgerEntryLine", _path_id(request, "LedgerEntryLine"))
    for key, value in body.items():
        line[key] = fmt(Decimal(value or "0"))
    line["updated_at"] = sandbox.books.stamp()
    return render.entry_line(_api(request), sandbox.books, sandbox.books.line_view(line))


def _route(sandbox: Sandbox, method: str, path: str, handler: AdminHandler) -> Route:
    async def endpoint(request: Request) -> Response:
        try:
            result = await handler(sandbox, request)
        except ApiError as exc:
            return error_response(exc)
        if method != "GET":
            sandbox.save()
        if result is None:
            return Response(status_code=204)
        body, status = result if isinstance(result, tuple) else (result, 200)
        return JSONResponse(body, status_code=status)

    return Route(f"/sandbox{path}", endpoint, methods=[method])


def admin_routes(sandbox: Sandbox) -> list[Route]:
    """Every ``/sandbox/`` route."""
    table: list[tuple[str, str, AdminHandler]] = [
        ("GET", "/state", get_state),
        ("POST", "/company_tokens", create_company_token),
        ("POST", "/oauth_clients", create_oauth_client),
        ("POST", "/oauth/expire_access_tokens", expire_access_tokens),
        ("PUT", "/faults", set_faults),
        ("POST", "/reset", reset),
        ("POST", "/customer_invoices", create_hidden_invoice),
        ("DELETE", "/customer_invoices/{id}", remove_invoice),
        ("PATCH", "/customer_invoices/{id}", change_invoice),
        ("POST", "/customer_invoices/{id}/mark_paid", pay_invoice),
        ("POST", "/ledger_entries", create_hidden_entry),
        ("DELETE", "/ledger_entries/{id}", remove_entry),
        ("PATCH", "/ledger_entry_lines/{id}", change_line),
    ]
    return [_route(sandbox, method, path, handler) for method, path, handler in table]
