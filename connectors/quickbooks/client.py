"""QuickBooks Online Accounting API v3 over an injected ``httpx.Client``: the connector's only I/O.

The ``httpx.Client`` comes from the caller (``connectors.providers``): its
``base_url`` is ``<base>/v3/company/<realmId>`` and its ``httpx.Auth`` adds
the bearer token and refreshes the rotating pair. This module adds, in one
place (``request``):

- pacing per company: at most 500 requests per sliding minute and 40 batch
  requests per minute (``connectors.pacing.Pacer``, which counts a request
  until its answer is back, so the server never sees more), and at most 10
  requests in flight (a semaphore, for callers that use threads); a caller
  that sends batches and single requests side by side may also pace the
  single ones apart (``single_pacer``, e.g. 460 per minute), so they never
  take the minute's last requests from the batches;
- ``minorversion=75`` on every call, ``requestid`` on every write (the
  caller derives it from its idempotency key);
- error translation (``classify``), for whole answers and for batch items
  alike: 429 or code 3001 -> ``RateLimited`` (``Retry-After``, else the 60 s
  QuickBooks asks for); 5xx, code 10000, timeouts and transport failures ->
  ``TransientError``; 401/3200 and 403/3100 -> ``AuthError``; any other
  Fault (6140, 6240, 6000, 2020, 2500...) -> ``FaultError``, a
  ``PermanentError`` carrying QuickBooks' code and its own words. The three
  Fault shapes are read: ``{"Fault": {"Error": [...]}}``, the gateway's
  lowercase ``{"fault": {"error": [...]}}``, and the XML throttle fault.
  Nothing else in the connector catches ``httpx`` exceptions; no token is
  ever put in a message.

Bodies are written by ``dumps``: amounts are ``Decimal`` and go out as JSON
numbers with their exact digits (``224.00``); a float is refused. Answers
are read with ``parse_float=Decimal``.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import re
import threading
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import httpx

from connectors.errors import AuthError
from connectors.errors import ConnectorError
from connectors.errors import PermanentError
from connectors.errors import RateLimited
from connectors.errors import TransientError
from connectors.pacing import Pacer
# The Retry-After parser is provider-neutral; it lives in the Pennylane client for now.
from connectors.pennylane.client import retry_after_s

__all__ = [
    "DEFAULT_BATCH_RATE_LIMIT",
    "DEFAULT_RATE_LIMIT",
    "BATCH_MAX",
    "FaultError",
    "QuickBooksClient",
    "classify",
    "dumps",
]

Record = dict[str, Any]

DEFAULT_RATE_LIMIT = (500, 60.0)  # requests per window (s), per company
DEFAULT_BATCH_RATE_LIMIT = (40, 60.0)  # batch requests per window (s), per company and app
MAX_IN_FLIGHT = 10
BATCH_MAX = 30
MINOR_VERSION = "75"
PAGE = 1000  # the most rows one query returns
THROTTLE_WAIT_S = 60.0  # "wait 60 seconds before retrying" (reference §3.7)
_MESSAGE_MAX = 500


class FaultError(PermanentError):
    """QuickBooks refused the request (or one batch item) for good.

    Attributes:
        code: the Fault's code (``6140``, ``6240``...), "" when it had none.
    """

    def __init__(self, message: str, *, code: str, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.code = code


# -- wire format -------------------------------------------------------------------------------------

def dumps(value: Any) -> bytes:
    """JSON with ``Decimal`` written as exact numbers; floats are refused.

    Raises:
        TypeError: for a float or any other type JSON cannot carry.
    """
    return _encode(value).encode("utf-8")


def _encode(value: Any) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"{value} is not an amount")
        return format(value, "f")
    if value is None or isinstance(value, (bool, str, int)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    raise TypeError(f"{type(value).__name__} cannot go on the wire (amounts are Decimal, never float)")


def _decode(content: bytes) -> Any:
    return json.loads(content, parse_float=Decimal)


# -- error translation ------------------------------------------------------------------------------------

def _fault_parts(body: Any) -> tuple[str, str] | None:
    """``(code, "Message: Detail (element)")`` of a JSON Fault, either casing."""
    if not isinstance(body, dict):
        return None
    fault = body.get("Fault") or body.get("fault")
    if not isinstance(fault, dict):
        return None
    errors = fault.get("Error") or fault.get("error") or [{}]
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    message = str(first.get("Message") or first.get("message") or "").strip()
    detail = str(first.get("Detail") or first.get("detail") or "").strip()
    element = first.get("element")
    text = ": ".join(part for part in (message, detail) if part) or json.dumps(fault, ensure_ascii=False)
    return str(first.get("code") or ""), text + (f" (element {element})" if element else "")


def _xml_fault(text: str) -> tuple[str, str] | None:
    code = re.search(r'<Error[^>]*\bcode="(\d+)"', text)
    if code is None:
        return None
    parts = [m.strip() for m in re.findall(r"<(?:Message|Detail)>(.*?)</(?:Message|Detail)>", text, re.S)]
    return code.group(1), ": ".join(parts)


def classify(status: int | None, code: str, text: str, *, retry_after: str | None = None) -> ConnectorError:
    """The connector error of a refused request or batch item (the one mapping).

    Args:
        status: the HTTP status (None for a batch item).
        code: QuickBooks' Fault code, "" when unknown.
        text: what QuickBooks said, already prefixed with the request.
        retry_after: the ``Retry-After`` header, if any.
    """
    if status == 429 or code == "3001":
        wait = retry_after_s(retry_after) if retry_after else THROTTLE_WAIT_S
        return RateLimited(text, retry_after_s=wait, status=status)
    if (status or 0) >= 500 or code == "10000":
        return TransientError(text, status=status)
    if status in (401, 403) or code in ("3200", "3100", "100", "120"):
        return AuthError(text, status=status)
    return FaultError(text, code=code, status=status)


def _error_of(where: str, response: httpx.Response) -> ConnectorError:
    try:
        parts = _fault_parts(_decode(response.content))
    except ValueError:
        parts = _xml_fault(response.text)
    code, said = parts or ("", response.text.strip()[:_MESSAGE_MAX] or response.reason_phrase)
    message = f"QuickBooks {where}: {response.status_code} {said}"[:_MESSAGE_MAX]
    return classify(response.status_code, code, message, retry_after=response.headers.get("retry-after"))


def _item_error(where: str, fault: Any) -> ConnectorError:
    """The connector error of one batch item's Fault."""
    code, said = _fault_parts({"Fault": fault}) or ("", json.dumps(fault, ensure_ascii=False, default=str))
    return classify(None, code, f"QuickBooks {where}: {said}"[:_MESSAGE_MAX])


# -- the client --------------------------------------------------------------------------------------------

class QuickBooksClient:
    """The QuickBooks endpoints the connector uses, paced, with errors translated."""

    def __init__(self, http: httpx.Client, *, pacer: Pacer | None = None, batch_pacer: Pacer | None = None,
                 single_pacer: Pacer | None = None, max_in_flight: int = MAX_IN_FLIGHT) -> None:
        """Wrap ``http`` (base_url = ``<base>/v3/company/<realmId>``, auth = the caller's).

        Args:
            http: the injected client; this object closes it on ``close``.
            pacer: pacing of every request; default 500 per minute.
            batch_pacer: pacing of batch requests; default 40 per minute.
            single_pacer: pacing of the other requests on top of ``pacer``;
                default none.
            max_in_flight: requests sent at once, at most (threads).
        """
        self.http = http
        self.pacer = pacer if pacer is not None else Pacer(*DEFAULT_RATE_LIMIT)
        self.batch_pacer = batch_pacer if batch_pacer is not None else Pacer(*DEFAULT_BATCH_RATE_LIMIT)
        self.single_pacer = single_pacer
        self._slots = threading.BoundedSemaphore(max_in_flight)
        self._lock = threading.Lock()
        self.in_flight = 0
        self.in_flight_max = 0
        self.requests = 0
        self.batches = 0
        self.batch_items = 0

    def close(self) -> None:
        """Close the underlying HTTP client."""
        self.http.close()

    # -- the one place that sends ---------------------------------------------------------------

    @contextlib.contextmanager
    def _slot(self, batch: bool) -> Iterator[None]:
        own = self.batch_pacer if batch else self.single_pacer
        with self._slots, own.slot() if own is not None else contextlib.nullcontext(), self.pacer.slot():
            with self._lock:
                self.in_flight += 1
                self.in_flight_max = max(self.in_flight_max, self.in_flight)
                self.requests += 1
            try:
                yield
            finally:
                with self._lock:
                    self.in_flight -= 1

    def request(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
                body: Any = None) -> Any:
        """Send one request; the decoded JSON answer.

        Raises:
            RateLimited: 429 or code 3001.
            TransientError: 5xx, code 10000, timeout, transport failure, an
                answer that is not JSON.
            AuthError: 401 / 403 (codes 3200, 3100).
            FaultError: any other Fault, with QuickBooks' code and message.
        """
        where = f"{method} {path}"
        query = {"minorversion": MINOR_VERSION, **(params or {})}
        headers = {"accept": "application/json"}
        content = None
        if body is not None:
            headers["content-type"] = "application/json"
            content = dumps(body)
        with self._slot(batch=path == "/batch"):
            try:
                response = self.http.request(method, path, params=query, content=content, headers=headers)
            except (httpx.TimeoutException, httpx.TransportError, httpx.DecodingError) as exc:
                # The request may have landed: the caller looks it up before sending it again.
                raise TransientError(f"QuickBooks {where}: {type(exc).__name__}: {exc}") from exc
            except httpx.HTTPError as exc:
                raise PermanentError(f"QuickBooks {where}: {type(exc).__name__}: {exc}") from exc
        return self._answer(where, response)

    def _answer(self, where: str, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise _error_of(where, response)
        try:
            answer = _decode(response.content)
        except ValueError as exc:
            raise TransientError(f"QuickBooks {where}: {response.status_code} with a body that is not JSON",
                                 status=response.status_code) from exc
        if isinstance(answer, dict) and ("Fault" in answer or "fault" in answer):
            raise _error_of(where, response)  # QuickBooks may say 200 and still refuse
        return answer

    # -- entities --------------------------------------------------------------------------------

    def read(self, entity: str, ident: str) -> Record:
        """``GET /{entity}/{Id}``."""
        return dict(self.request("GET", f"/{entity.lower()}/{ident}")[entity])

    def write(self, entity: str, body: Record, request_id: str) -> Record:
        """``POST /{entity}?requestid=``: a create, or an update when ``body`` has an ``Id``."""
        return dict(self.request("POST", f"/{entity.lower()}", params={"requestid": request_id}, body=body)[entity])

    def query(self, statement: str) -> list[Record]:
        """Every row of ``SELECT * FROM <Entity> [WHERE ...]`` (no paging clause), page after page."""
        rows: list[Record] = []
        while True:
            answer = self.request("GET", "/query",
                                  params={"query": f"{statement} STARTPOSITION {len(rows) + 1} MAXRESULTS {PAGE}"})
            page = _rows(answer.get("QueryResponse") or {})
            rows += page
            if len(page) < PAGE:
                return rows

    def batch(self, items: Sequence[Record], request_id: str | None) -> list[Record | ConnectorError]:
        """``POST /batch`` (30 items at most): per item, its answer or its error, in order.

        Items run one after the other and are not transactional: some may
        land while others fail. ``request_id`` is for batches that write; a
        batch of queries goes without (a replayed answer would be stale).
        """
        if not 0 < len(items) <= BATCH_MAX:
            raise ValueError(f"a batch holds 1 to {BATCH_MAX} items, not {len(items)}")
        answer = self.request("POST", "/batch", params={"requestid": request_id} if request_id else None,
                              body={"BatchItemRequest": list(items)})
        self.batches += 1
        self.batch_items += len(items)
        by_bid = {str(item.get("bId")): item for item in answer.get("BatchItemResponse") or []}
        results: list[Record | ConnectorError] = []
        for item in items:
            got = by_bid.get(str(item["bId"]))
            if got is None:
                results.append(TransientError(f"QuickBooks batch item {item['bId']}: no answer"))
            elif "Fault" in got:
                results.append(_item_error(f"batch item {item['bId']}", got["Fault"]))
            else:
                results.append(got)
        return results

    def queries(self, statements: Mapping[str, str], request_id: str | None = None) -> dict[str, list[Record]]:
        """Several queries in one batch request (a name per statement, 10
        characters at most); a full page is followed by ordinary paging.

        Raises:
            ConnectorError: the first item's error, if any.
        """
        items = [{"bId": name, "Query": f"{statement} MAXRESULTS {PAGE}"} for name, statement in statements.items()]
        results: dict[str, list[Record]] = {}
        for name, result in zip(statements, self.batch(items, request_id), strict=True):
            if isinstance(result, ConnectorError):
                raise result
            rows = _rows(result.get("QueryResponse") or {})
            results[name] = rows if len(rows) < PAGE else self.query(statements[name])
        return results

    # -- reports ---------------------------------------------------------------------------------

    def trial_balance(self, start: datetime.date, end: datetime.date) -> dict[str, Decimal]:
        """``reports/TrialBalance`` (accrual): account Id -> balance, debit positive."""
        report = self.request("GET", "/reports/TrialBalance", params={
            "start_date": start.isoformat(), "end_date": end.isoformat(), "accounting_method": "Accrual"})
        balances: dict[str, Decimal] = {}
        for row in (report.get("Rows") or {}).get("Row") or []:
            cells = row.get("ColData")
            if not cells or row.get("type") == "Section" or not cells[0].get("id"):
                continue
            debit, credit = (Decimal(cell.get("value") or "0") for cell in cells[1:3])
            balances[str(cells[0]["id"])] = debit - credit
        return balances


def _rows(response: Record) -> list[Record]:
    """The rows of a ``QueryResponse`` (the one list it holds)."""
    return next((list(value) for value in response.values() if isinstance(value, list)), [])
