"""The Pennylane Company API v2 over an injected ``httpx.Client``: the connector's only I/O.

The ``httpx.Client`` comes from the caller, with ``base_url`` set to the API
root (``<base>/api/external/v2``) and an ``httpx.Auth`` that adds the bearer
token (and refreshes it). This module adds, in one place (``request``):

- pacing: at most 25 requests per 5 s from this client (``connectors.pacing``),
  so a replay does not meet 429s from its own traffic;
- error translation: 429 -> ``RateLimited`` (``retry-after``), 5xx, timeouts
  and transport failures -> ``TransientError``, 401/403 -> ``AuthError``, other
  4xx -> ``PermanentError`` with the provider's message. Nothing else in the
  connector catches ``httpx`` exceptions. No token is ever put in a message.

Lists follow the cursor and re-send ``filter`` and ``sort`` on every page
(Pennylane's cursor does not carry them), with an explicit sort so the
default descending order never surprises.
"""

from __future__ import annotations

import datetime
import email.utils
import json
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any

import httpx

from connectors.errors import AuthError
from connectors.errors import PermanentError
from connectors.errors import RateLimited
from connectors.errors import TransientError
from connectors.pacing import Pacer

__all__ = ["DEFAULT_RATE_LIMIT", "PennylaneClient"]

Record = dict[str, Any]
Filter = list[dict[str, Any]]

DEFAULT_RATE_LIMIT = (25, 5.0)  # requests per window (s), per token
_DEFAULT_RETRY_AFTER_S = 5.0
_MESSAGE_MAX = 500


class PennylaneClient:
    """Pennylane endpoints the connector uses, paced, with errors translated."""

    def __init__(self, http: httpx.Client, *, pacer: Pacer | None = None) -> None:
        """Wrap ``http`` (base_url = the API root, auth = the caller's).

        Args:
            http: the injected client; this object closes it on ``close``.
            pacer: request pacing; default 25 requests per 5 s.
        """
        self.http = http
        self.pacer = pacer if pacer is not None else Pacer(*DEFAULT_RATE_LIMIT)
        self.requests = 0

    def close(self) -> None:
        """Close the underlying HTTP client."""
        self.http.close()

    # -- the one place that sends -----------------------------------------------------

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None,
                body: Any = None) -> Any:
        """Send one request; the decoded JSON answer (None when empty).

        Raises:
            RateLimited: 429.
            TransientError: 5xx, timeout, transport failure, undecodable answer.
            AuthError: 401 or 403.
            PermanentError: any other 4xx.
        """
        where = f"{method} {path}"
        with self.pacer.slot():
            self.requests += 1
            try:
                response = self.http.request(method, path, params=params, json=body)
            except httpx.TimeoutException as exc:
                raise TransientError(f"{where}: timed out ({type(exc).__name__})") from exc
            except httpx.TransportError as exc:
                raise TransientError(f"{where}: {type(exc).__name__}: {exc}") from exc
            except httpx.HTTPError as exc:
                raise PermanentError(f"{where}: {type(exc).__name__}: {exc}") from exc
        return _answer(where, response)

    # -- lists ---------------------------------------------------------------------------

    def list_all(self, path: str, *, filters: Filter | None = None, sort: str | None = "id",
                 limit: int = 100, params: dict[str, Any] | None = None) -> Iterator[Record]:
        """Every item of a list endpoint, page after page (``sort`` None: the endpoint's own)."""
        query: dict[str, Any] = {**(params or {}), "limit": limit}
        if sort:
            query["sort"] = sort
        if filters:
            query["filter"] = json.dumps(filters, separators=(",", ":"))
        cursor: str | None = None
        while True:
            page = self.request("GET", path, params={**query, "cursor": cursor} if cursor else query)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return

    def _first(self, path: str, filters: Filter) -> Record | None:
        return next(self.list_all(path, filters=filters, limit=2), None)

    # -- customers and products ----------------------------------------------------------

    def find_customer(self, external_reference: str) -> Record | None:
        """The customer with this ``external_reference``, if any."""
        return self._first("/customers", [_eq("external_reference", external_reference)])

    def customer_by_account(self, ledger_account_id: int) -> Record | None:
        """The customer whose auxiliary account is ``ledger_account_id``, if any."""
        return self._first("/customers", [_eq("ledger_account_id", ledger_account_id)])

    def create_customer(self, path: str, body: Record) -> Record:
        """``POST /company_customers`` or ``/individual_customers``."""
        return dict(self.request("POST", path, body=body))

    def find_product(self, external_reference: str) -> Record | None:
        """The product with this ``external_reference``, if any."""
        return self._first("/products", [_eq("external_reference", external_reference)])

    def create_product(self, body: Record) -> Record:
        """``POST /products``."""
        return dict(self.request("POST", "/products", body=body))

    # -- chart and journals ----------------------------------------------------------------

    def journals(self) -> list[Record]:
        """Every journal."""
        return list(self.list_all("/journals"))

    def create_journal(self, code: str, label: str) -> Record:
        """``POST /journals``."""
        return dict(self.request("POST", "/journals", body={"code": code, "label": label}))

    def accounts(self, numbers: Sequence[str]) -> list[Record]:
        """The ledger accounts with these exact numbers."""
        return list(self.list_all("/ledger_accounts", filters=[{"field": "number", "operator": "in",
                                                                 "value": list(numbers)}], limit=1000))

    def create_account(self, number: str, label: str) -> Record:
        """``POST /ledger_accounts``."""
        return dict(self.request("POST", "/ledger_accounts", body={"number": number, "label": label}))

    # -- invoices ----------------------------------------------------------------------

    def find_invoice(self, external_reference: str) -> Record | None:
        """The invoice or credit note with this ``external_reference``, if any."""
        return self._first("/customer_invoices", [_eq("external_reference", external_reference)])

    def invoices_of(self, customer_id: int) -> Iterator[Record]:
        """The customer's invoices and credit notes."""
        return self.list_all("/customer_invoices", filters=[_eq("customer_id", customer_id)])

    def create_invoice(self, body: Record) -> Record:
        """``POST /customer_invoices``."""
        return dict(self.request("POST", "/customer_invoices", body=body))

    def link_credit_note(self, invoice_id: int, credit_note_id: int) -> None:
        """``POST /customer_invoices/{id}/link_credit_note``."""
        self.request("POST", f"/customer_invoices/{invoice_id}/link_credit_note",
                     body={"credit_note_id": credit_note_id})

    # -- entries and lettering --------------------------------------------------------------

    def create_entry(self, body: Record) -> Record:
        """``POST /ledger_entries``; the answer holds the lines and their ids."""
        return dict(self.request("POST", "/ledger_entries", body=body))

    def entry_lines(self, entry_id: int) -> list[Record]:
        """The lines of one entry (``ledger_account.id``, ``debit``, ``credit``)."""
        return list(self.list_all(f"/ledger_entries/{entry_id}/ledger_entry_lines"))

    def find_entry(self, journal_id: int, date: datetime.date, piece_number: str) -> Record | None:
        """The entry of ``journal_id`` dated ``date`` with this piece number, if any.

        Pennylane cannot filter on ``piece_number``: the day's entries of the
        journal are scanned.
        """
        filters = [_eq("journal_id", journal_id), _eq("date", date.isoformat())]
        return next((e for e in self.list_all("/ledger_entries", filters=filters)
                     if e.get("piece_number") == piece_number), None)

    def letter(self, body: Record) -> list[int]:
        """``POST /ledger_entry_lines/lettering``; the ids of the whole group."""
        return [item["id"] for item in self.request("POST", "/ledger_entry_lines/lettering", body=body)]

    # -- reports ---------------------------------------------------------------------------

    def trial_balance(self, start: datetime.date, end: datetime.date) -> list[Record]:
        """Debits and credits per account number (auxiliary accounts folded)."""
        params = {"period_start": start.isoformat(), "period_end": end.isoformat(), "is_auxiliary": "false"}
        return list(self.list_all("/trial_balance", params=params, sort=None, limit=1000))


def _eq(field: str, value: Any) -> dict[str, Any]:
    return {"field": field, "operator": "eq", "value": value}


def _answer(where: str, response: httpx.Response) -> Any:
    """The JSON of a success, or the connector error of a failure."""
    status = response.status_code
    if status < 400:
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise TransientError(f"{where}: {status} with a body that is not JSON", status=status) from exc
    message = f"{where}: {status} {provider_message(response)}"
    if status == 429:
        raise RateLimited(message, retry_after_s=retry_after_s(response.headers.get("retry-after")))
    if status >= 500:
        raise TransientError(message, status=status)
    if status in (401, 403):
        raise AuthError(message, status=status)
    raise PermanentError(message, status=status)


def provider_message(response: httpx.Response) -> str:
    """The provider's own words: ``error``/``message``/``details`` of a JSON
    body (the guide and the spec disagree on the shape), else the text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:_MESSAGE_MAX] or response.reason_phrase
    if not isinstance(body, dict):
        return json.dumps(body, ensure_ascii=False)[:_MESSAGE_MAX]
    parts = [str(body[k]) for k in ("error", "message") if body.get(k)]
    if body.get("field"):
        parts.append(f"(field {body['field']})")
    if body.get("details"):
        parts.append(json.dumps(body["details"], ensure_ascii=False))
    return (" ".join(parts) or json.dumps(body, ensure_ascii=False))[:_MESSAGE_MAX]


def retry_after_s(value: str | None, now: datetime.datetime | None = None) -> float:
    """Seconds to wait from a ``retry-after`` header (seconds or an HTTP date);
    one rate window when it is missing or unreadable."""
    if not value:
        return _DEFAULT_RETRY_AFTER_S
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return _DEFAULT_RETRY_AFTER_S
    now = now or datetime.datetime.now(datetime.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - now).total_seconds())
