"""The ``/v3/company/{realmId}/...`` routes: guard, idempotency, handlers.

Every call goes through ``_endpoint``, in this order:

1. authentication (401 / 403, see ``context``);
2. the company's request windows (429, code 3001);
3. an in-flight slot of the company (429 when 10 are taken);
4. the body is read, then the handler runs; ``QboError`` becomes its Fault
   body, any other exception a 500 SystemFault, so the server keeps serving;
5. writes (entity POSTs and batches) honour ``?requestid=``: the first answer
   (status and exact bytes, ``time`` included) is stored per company and
   sent again for the same requestid, without running the request again
   (the last 10,000 are kept; server errors are not stored). Then the state
   is saved.

Every answer carries an ``intuit_tid`` header and a ``time`` field.

Routes: ``GET /{entity}/{Id}``, ``POST /{entity}`` (create, update,
``?operation=delete``, ``?operation=void``, ``?operation=update&include=void``,
``include=allowduplicatedocnum``), ``GET|POST /query``, ``POST /batch``,
``GET /reports/TrialBalance``, ``GET /companyinfo/{realmId}``,
``GET /preferences``. ``minorversion`` is accepted and ignored.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from starlette.requests import Request

from connectors.quickbooks.sandbox.money import dumps_json
from starlette.responses import Response
from starlette.routing import Route

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox.books import Books
from connectors.quickbooks.sandbox.books import Record
from connectors.quickbooks.sandbox.context import Sandbox
from connectors.quickbooks.sandbox.entities import Kind
from connectors.quickbooks.sandbox.entities import kind_of
from connectors.quickbooks.sandbox.entities import operation_of
from connectors.quickbooks.sandbox.entities import options_from
from connectors.quickbooks.sandbox.entities import write
from connectors.quickbooks.sandbox.errors import QboError
from connectors.quickbooks.sandbox.ledger import trial_balance
from connectors.quickbooks.sandbox.query import parse_query
from connectors.quickbooks.sandbox.query import run_query
from connectors.quickbooks.sandbox.render import View
from connectors.quickbooks.sandbox.render import render
from connectors.sandbox.schema import Schema
from connectors.sandbox.schema import Violation
from connectors.sandbox.schema import validate

__all__ = ["API_PREFIX", "Call", "api_routes", "checked_body", "json_response", "parse_body", "render_write"]

API_PREFIX = "/v3/company/"
REQUEST_IDS_KEPT = 10_000
_log = logging.getLogger(__name__)
Answer = tuple[int, Record]


@dataclass(frozen=True, slots=True)
class Call:
    """One authenticated API call, as handlers see it."""

    request: Request
    sandbox: Sandbox
    books: Books
    raw: bytes

    @property
    def params(self) -> dict[str, str]:
        """The query parameters (last value wins)."""
        return dict(self.request.query_params)


Handler = Callable[[Call], Answer]


# -- bodies and answers ------------------------------------------------------------------

def parse_body(raw: bytes) -> Any:
    """Parse a JSON body; numbers become ``int`` or ``Decimal``, never float.

    Raises:
        QboError: 2010 for an empty or malformed body.
    """

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    if not raw.strip():
        raise errors.invalid_property("failed to parse json object; the body is empty")
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise errors.invalid_property(f"failed to parse json object ({type(exc).__name__}: {exc})") from None


def violation_error(violation: Violation) -> QboError:
    """The Fault of a body that does not fit its schema."""
    element = violation.field or "body"
    if violation.code == "NotExistRequiredKey":
        return errors.required(element)
    if violation.code == "NotEnumInclude":
        return errors.invalid_enum(element, violation.message)
    return errors.invalid_property(f"{element}: {violation.message};", element)


def checked_body(schema: Schema, value: Any) -> Record:
    """``value`` once it fits ``schema``.

    Raises:
        QboError: 2010 / 2020 / 2170 naming the first problem.
    """
    violation = validate(schema, value)
    if violation is not None:
        raise violation_error(violation)
    assert isinstance(value, dict)
    return value


def _encode(body: Any) -> bytes:
    return dumps_json(body)


def json_response(sandbox: Sandbox, status: int, body: Record, content: bytes | None = None) -> Response:
    """A JSON answer with ``time`` and an ``intuit_tid`` header."""
    if content is None:
        content = _encode({**body, "time": sandbox.stamp(millis=True)})
    return Response(content, status_code=status, media_type="application/json",
                    headers={"intuit_tid": str(uuid.uuid4())})


def _safe(handler: Handler, call: Call) -> Answer:
    try:
        return handler(call)
    except QboError as exc:
        return exc.status, exc.body
    except Exception:  # the sandbox must keep serving whatever a request does
        _log.exception("quickbooks sandbox handler failed")
        error = errors.system_error()
        return error.status, error.body


def _idempotent(call: Call, handler: Handler) -> Response:
    sandbox, request_id = call.sandbox, call.params.get("requestid")
    stored_answers = call.books.realm["requests"]
    digest = hashlib.sha256(call.raw).hexdigest()
    if request_id:
        stored = stored_answers.get(request_id)
        if stored is not None:
            sandbox.stats["requestid_replays"] += 1
            if stored["digest"] != digest:
                sandbox.stats["requestid_other_body"] += 1
            return json_response(sandbox, stored["status"], {}, stored["body"].encode())
    status, body = _safe(handler, call)
    content = _encode({**body, "time": sandbox.stamp(millis=True)})
    if request_id and status < 500:
        _store_answer(call.books, request_id, {"status": status, "body": content.decode(), "digest": digest})
    sandbox.save()
    return json_response(sandbox, status, body, content)


def _store_answer(books: Books, request_id: str, answer: Record) -> None:
    realm = books.realm
    realm["request_seq"] = realm.get("request_seq", 0) + 1
    stored_answers = realm["requests"]
    stored_answers[request_id] = {**answer, "n": realm["request_seq"]}
    if len(stored_answers) > REQUEST_IDS_KEPT:
        # The oldest goes; arrival numbers survive a restart, dict order does not.
        del stored_answers[min(stored_answers, key=lambda key: stored_answers[key]["n"])]


def _endpoint(sandbox: Sandbox, handler: Handler, *, batch: bool = False,
              write_call: bool = False) -> Callable[[Request], Any]:
    async def endpoint(request: Request) -> Response:
        sandbox.stats["api_requests"] += 1
        realm_id = request.path_params["realm"]
        try:
            books = sandbox.authenticate(realm_id, request.headers.get("authorization"))
            sandbox.throttle(realm_id, batch=batch)
        except QboError as exc:
            return json_response(sandbox, exc.status, exc.body)
        if not sandbox.acquire(realm_id):
            error = errors.throttled(f"More than {sandbox.concurrency} concurrent requests for this company. "
                                     "Try again later")
            return json_response(sandbox, error.status, error.body)
        try:
            call = Call(request, sandbox, books, await request.body())
            if write_call:
                return _idempotent(call, handler)
            status, body = _safe(handler, call)
            return json_response(sandbox, status, body)
        finally:
            sandbox.release(realm_id)

    return endpoint


# -- handlers ------------------------------------------------------------------------------

def _kind(name: str) -> Kind:
    kind = kind_of(name)
    if kind is None:
        raise errors.unsupported(f"on entity {name} (not emulated by the sandbox)")
    return kind


def read_entity(call: Call) -> Answer:
    kind = _kind(call.request.path_params["entity"])
    record = call.books.get(kind.name, call.request.path_params["ident"])
    return 200, {kind.name: render(View(call.books), kind.name, record)}


def render_write(books: Books, kind: Kind, operation: str, result: Record) -> Record:
    """What a write answers: the object, or the deletion notice."""
    return result if operation == "delete" else render(View(books), kind.name, result)


def write_entity(call: Call) -> Answer:
    kind = _kind(call.request.path_params["entity"])
    if kind.schema is None:
        raise errors.unsupported(f"Create/Update on {kind.name}")
    body = checked_body(kind.schema, parse_body(call.raw))
    options, void = options_from(call.params.get("include"))
    operation = operation_of(body, call.params.get("operation"), void)
    result = write(call.books, kind, operation, body, options)
    return 200, {kind.name: render_write(call.books, kind, operation, result)}


def query(call: Call) -> Answer:
    text = call.params.get("query")
    if call.request.method == "POST":
        text = call.raw.decode("utf-8", errors="replace")
    if not text or not text.strip():
        raise errors.query_parse("the query is empty; send ?query=SELECT ... or the statement as the body")
    return 200, {"QueryResponse": run_query(View(call.books), parse_query(text))}


def report(call: Call) -> Answer:
    name = call.request.path_params["report"]
    if name.lower() != "trialbalance":
        raise errors.unsupported(f"report {name} (the sandbox emulates TrialBalance only)")
    return 200, trial_balance(call.books, call.params, call.sandbox.stamp())


def company_info(call: Call) -> Answer:
    books = call.books
    if call.request.path_params["ident"] != books.realm_id:
        raise errors.not_found("CompanyInfo", call.request.path_params["ident"])
    company = books.realm["company"]
    info = {"Id": books.realm_id, "SyncToken": "0", "domain": "QBO", "sparse": False,
            "CompanyName": company["CompanyName"], "LegalName": company["CompanyName"],
            "Country": company["Country"], "SupportedLanguages": "fr" if company["Country"] == "FR" else "en",
            "FiscalYearStartMonth": _MONTHS[books.realm["prefs"]["fiscal_year_start_month"] - 1],
            "MetaData": {"CreateTime": books.realm["created_at"]}}
    return 200, {"CompanyInfo": info}


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def preferences(call: Call) -> Answer:
    books = call.books
    prefs = books.realm["prefs"]
    return 200, {"Preferences": {
        "Id": "1", "SyncToken": "0", "domain": "QBO", "sparse": False,
        "AccountingInfoPrefs": {"FiscalYearStartMonth": _MONTHS[prefs["fiscal_year_start_month"] - 1]},
        "SalesFormsPrefs": {"CustomTxnNumbers": True},
        "CurrencyPrefs": {"HomeCurrency": {"value": books.currency["value"]}, "MultiCurrencyEnabled": False},
        "TaxPrefs": {"UsingSalesTax": True, "PartnerTaxEnabled": False},
        "OtherPrefs": {"NameValue": [{"Name": "WarnDuplicateDocNum",
                                      "Value": str(prefs["warn_duplicate_doc_number"]).lower()}]},
    }}


def api_routes(sandbox: Sandbox, batch_handler: Handler) -> list[Route]:
    """Every ``/v3/company/{realm}/`` route."""
    prefix = "/v3/company/{realm}"
    return [
        Route(f"{prefix}/query", _endpoint(sandbox, query), methods=["GET", "POST"]),
        Route(f"{prefix}/batch", _endpoint(sandbox, batch_handler, batch=True, write_call=True), methods=["POST"]),
        Route(f"{prefix}/reports/{{report}}", _endpoint(sandbox, report), methods=["GET"]),
        Route(f"{prefix}/companyinfo/{{ident}}", _endpoint(sandbox, company_info), methods=["GET"]),
        Route(f"{prefix}/preferences", _endpoint(sandbox, preferences), methods=["GET"]),
        Route(f"{prefix}/{{entity}}/{{ident}}", _endpoint(sandbox, read_entity), methods=["GET"]),
        Route(f"{prefix}/{{entity}}", _endpoint(sandbox, write_entity, write_call=True), methods=["POST"]),
    ]
