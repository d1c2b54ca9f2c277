"""``POST /batch``: up to 30 independent operations in one request (reference §3.3).

Body: ``{"BatchItemRequest": [item, ...]}``; an item is
``{"bId", "operation": create|update|delete|void, "optionsData"?, "<Entity>": {...}}``
or ``{"bId", "Query": "select ..."}``. Answer (200):
``{"BatchItemResponse": [{"bId", "<Entity>": {...}} | {"bId", "QueryResponse": {...}}
| {"bId", "Fault": {...}}]}`` in request order.

- more than ``batch_max`` (30) items, or none, refuses the whole request
  (400, code 6000); a malformed body is 2010 as for any write;
- items run one after the other and are **not** transactional: one item's
  Fault does not undo or stop the others;
- each ``bId`` is required, at most 10 characters and unique in the batch
  (an item breaking this gets its own Fault);
- under a fault plan, each item may also fail on its own with a throttle
  (3001) or a SystemFault (10000), drawn from the plan's 429 and 5xx rates;
  such an item is not executed;
- the batch as a whole honours ``requestid`` like any write.
"""

from __future__ import annotations

from typing import Any

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox.api import Answer
from connectors.quickbooks.sandbox.api import Call
from connectors.quickbooks.sandbox.api import checked_body
from connectors.quickbooks.sandbox.api import parse_body
from connectors.quickbooks.sandbox.api import render_write
from connectors.quickbooks.sandbox.books import Books
from connectors.quickbooks.sandbox.books import Record
from connectors.quickbooks.sandbox.context import Sandbox
from connectors.quickbooks.sandbox.entities import KINDS
from connectors.quickbooks.sandbox.entities import OPERATIONS
from connectors.quickbooks.sandbox.entities import options_from
from connectors.quickbooks.sandbox.entities import write
from connectors.quickbooks.sandbox.errors import QboError
from connectors.quickbooks.sandbox.query import parse_query
from connectors.quickbooks.sandbox.query import run_query
from connectors.quickbooks.sandbox.render import View

__all__ = ["BID_MAX", "run_batch"]

BID_MAX = 10
_ITEM_KEYS = frozenset({"bId", "operation", "optionsData", "Query"})


def run_batch(call: Call) -> Answer:
    """Run a batch request."""
    body = parse_body(call.raw)
    if not isinstance(body, dict) or set(body) - {"BatchItemRequest"}:
        raise errors.invalid_property("the body holds one property, BatchItemRequest")
    items = body.get("BatchItemRequest")
    if not isinstance(items, list):
        raise errors.required("BatchItemRequest")
    if not items or len(items) > call.sandbox.batch_max:
        raise errors.business(f"a batch holds 1 to {call.sandbox.batch_max} items, not {len(items)}",
                              "BatchItemRequest")
    seen: set[str] = set()
    answers = [_run_item(call.sandbox, call.books, item, seen) for item in items]
    call.sandbox.stats["batch_items"] += len(items)
    call.sandbox.stats["batch_requests"] += 1
    return 200, {"BatchItemResponse": answers}


def _run_item(sandbox: Sandbox, books: Books, item: Any, seen: set[str]) -> Record:
    bid = item.get("bId") if isinstance(item, dict) else None
    try:
        _check_item(item, seen)
        fault = sandbox.item_fault()
        if fault is not None:
            raise errors.throttled() if fault.kind == "429" else errors.system_error(fault.status or 500)
        return {"bId": bid, **_execute(books, item)}
    except QboError as exc:
        return {"bId": bid, "Fault": exc.fault}


def _check_item(item: Any, seen: set[str]) -> None:
    if not isinstance(item, dict):
        raise errors.invalid_property("a BatchItemRequest item must be an object")
    bid = item.get("bId")
    if not isinstance(bid, str) or not bid:
        raise errors.required("bId")
    if len(bid) > BID_MAX:
        raise errors.too_long("bId", BID_MAX, len(bid))
    if bid in seen:
        raise errors.business(f"bId {bid} is used twice in the batch", "bId")
    seen.add(bid)
    unknown = sorted(set(item) - _ITEM_KEYS - set(KINDS))
    if unknown:
        raise errors.invalid_property(f"{', '.join(unknown)}", unknown[0])


def _execute(books: Books, item: Record) -> Record:
    if "Query" in item:
        if not isinstance(item["Query"], str):
            raise errors.invalid_property("Query must be a string", "Query")
        return {"QueryResponse": run_query(View(books), parse_query(item["Query"]))}
    entities = [name for name in item if name in KINDS]
    if len(entities) != 1:
        raise errors.invalid_property("an item holds exactly one entity or one Query", "bId")
    kind = KINDS[entities[0]]
    if kind.schema is None:
        raise errors.unsupported(f"Create/Update on {kind.name}")
    body = checked_body(kind.schema, item[kind.name])
    operation = item.get("operation") or "create"
    options, void = options_from(None, item.get("optionsData") if isinstance(item.get("optionsData"), str) else None)
    if operation not in OPERATIONS:
        raise errors.invalid_enum("operation", operation)
    if operation == "update" and void:
        operation = "void"
    if operation == "create" and body.get("Id"):
        raise errors.business("a create carries no Id; use operation update", "Id")
    result = write(books, kind, operation, body, options)
    return {kind.name: render_write(books, kind, operation, result)}
