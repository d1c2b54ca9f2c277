"""The entity registry and the write operations every entity shares.

``write(books, entity, operation, body, options)`` is the one entry point of
the API and the batch:

- ``create``: a body without ``Id``;
- ``update``: ``Id`` + the current ``SyncToken`` (2020 when missing, 5010 when
  stale, 610 for an unknown Id); ``"sparse": true`` changes only the fields
  sent, otherwise the body replaces the object (omitted fields are cleared);
  lines are all-or-nothing, as on QuickBooks; the SyncToken goes up by one;
- ``delete``: ``Id`` + ``SyncToken``; answers ``{"domain": "QBO", "status":
  "Deleted", "Id"}``; name lists cannot be deleted (code 500: set
  ``Active`` to false instead);
- ``void``: Invoice (``?operation=void``) and Payment
  (``?operation=update&include=void``): amounts become zero, the object stays.

Tax codes, tax rates and tax agencies are read-only (code 500 on any write).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox import payments
from connectors.quickbooks.sandbox import schemas
from connectors.quickbooks.sandbox.books import Books
from connectors.quickbooks.sandbox.books import Record
from connectors.quickbooks.sandbox.fields import Options
from connectors.quickbooks.sandbox.journal import JOURNAL_DERIVED
from connectors.quickbooks.sandbox.journal import build_journal_entry
from connectors.quickbooks.sandbox.names import ACCOUNT_DERIVED
from connectors.quickbooks.sandbox.names import CUSTOMER_DERIVED
from connectors.quickbooks.sandbox.names import ITEM_DERIVED
from connectors.quickbooks.sandbox.names import build_account
from connectors.quickbooks.sandbox.names import build_customer
from connectors.quickbooks.sandbox.names import build_item
from connectors.quickbooks.sandbox.sales import SALES_DERIVED
from connectors.quickbooks.sandbox.sales import build_sales
from connectors.quickbooks.sandbox.sales import void_sales
from connectors.sandbox.schema import Obj

__all__ = ["KINDS", "OPERATIONS", "Kind", "input_of", "kind_of", "operation_of", "options_from", "remove", "write"]

Builder = Callable[[Books, Record, Record | None, Options], Record]
OPERATIONS = ("create", "update", "delete", "void")


@dataclass(frozen=True, slots=True)
class Kind:
    """What the sandbox knows of one entity.

    Attributes:
        name: the entity name (``Invoice``).
        schema: its request body, None when read-only.
        build: body (+ previous record) -> stored record; None when read-only.
        derived: fields computed by the sandbox (dropped from a sparse merge).
        transaction: a transaction (deletable) rather than a name list.
        before_remove: refuses or cascades a delete or a void.
        void: the voided copy of a record, when the entity can be voided.
    """

    name: str
    schema: Obj | None
    build: Builder | None
    derived: frozenset[str]
    transaction: bool = False
    before_remove: Callable[[Books, Record], None] | None = None
    void: Callable[[Books, Record], Record] | None = None


def _sales(entity: str) -> Builder:
    def build(books: Books, body: Record, previous: Record | None, options: Options) -> Record:
        return build_sales(entity, books, body, previous, options)

    return build


def _before_invoice_removed(books: Books, record: Record) -> None:
    payments.unlink_invoice(books, record["Id"])


def _before_credit_memo_removed(books: Books, record: Record) -> None:
    payments.check_not_applied(books, "CreditMemo", record["Id"])


def _before_payment_removed(books: Books, record: Record) -> None:
    payments.check_not_deposited(books, record["Id"])


KINDS: dict[str, Kind] = {kind.name: kind for kind in (
    Kind("Invoice", schemas.INVOICE, _sales("Invoice"), SALES_DERIVED, True, _before_invoice_removed,
         lambda books, record: void_sales(record)),
    Kind("CreditMemo", schemas.CREDIT_MEMO, _sales("CreditMemo"), SALES_DERIVED, True, _before_credit_memo_removed),
    Kind("RefundReceipt", schemas.REFUND_RECEIPT, _sales("RefundReceipt"), SALES_DERIVED, True),
    Kind("Payment", schemas.PAYMENT, payments.build_payment, payments.PAYMENT_DERIVED, True,
         _before_payment_removed, payments.void_payment),
    Kind("JournalEntry", schemas.JOURNAL_ENTRY, build_journal_entry, JOURNAL_DERIVED, True),
    Kind("Deposit", schemas.DEPOSIT, payments.build_deposit, payments.DEPOSIT_DERIVED, True),
    Kind("Customer", schemas.CUSTOMER, build_customer, CUSTOMER_DERIVED),
    Kind("Item", schemas.ITEM, build_item, ITEM_DERIVED),
    Kind("Account", schemas.ACCOUNT, build_account, ACCOUNT_DERIVED),
    Kind("TaxCode", None, None, frozenset()),
    Kind("TaxRate", None, None, frozenset()),
    Kind("TaxAgency", None, None, frozenset()),
)}


def kind_of(name: str) -> Kind | None:
    """The kind of an entity named in any case (``invoice``, ``Invoice``)."""
    for kind in KINDS.values():
        if kind.name.lower() == name.lower():
            return kind
    return None


def write(books: Books, kind: Kind, operation: str, body: Record, options: Options) -> Record:
    """Run one write; returns the stored record (or the deletion notice).

    The body has already been checked against ``kind.schema``.

    Raises:
        QboError: for any refused write.
    """
    if kind.build is None:
        raise errors.unsupported(f"{operation.capitalize()} on {kind.name}")
    if operation == "create":
        return _create(books, kind, body, options)
    if operation == "update":
        return _update(books, kind, body, options)
    if operation == "delete":
        return _delete(books, kind, body)
    if operation == "void":
        return _void(books, kind, body)
    raise errors.unsupported(f"{operation} on {kind.name}")


def _create(books: Books, kind: Kind, body: Record, options: Options) -> Record:
    assert kind.build is not None
    record = kind.build(books, body, None, options)
    record.update(Id=books.next_id(), SyncToken="0", domain="QBO", sparse=False, MetaData=books.meta())
    return books.put(kind.name, _ordered(record))


def _current(books: Books, kind: Kind, body: Record) -> Record:
    if not body.get("Id"):
        raise errors.required("Id")
    previous = books.get(kind.name, body["Id"])
    token = body.get("SyncToken")
    if token is None:
        raise errors.required("SyncToken")
    if str(token) != previous["SyncToken"]:
        raise errors.stale(kind.name, previous["Id"])
    return previous


def input_of(kind: Kind, record: Record) -> Record:
    """A stored record's writable fields: what a sparse update starts from."""
    return {key: value for key, value in record.items() if key not in kind.derived and not key.startswith("_")}


def _update(books: Books, kind: Kind, body: Record, options: Options) -> Record:
    assert kind.build is not None
    previous = _current(books, kind, body)
    merged = {**input_of(kind, previous), **body} if body.get("sparse") is True else body
    if body.get("sparse") is True:
        _keep_unsent(body, merged, previous)
    record = kind.build(books, merged, previous, options)
    return books.put(kind.name, _ordered(_bump(books, record, previous)))


def _keep_unsent(body: Record, merged: Record, previous: Record) -> None:
    # A sparse update without lines keeps them, and a US transaction keeps its tax code.
    if "Line" not in body and "Line" in previous:
        merged["Line"] = previous["Line"]
    txn_code = (previous.get("TxnTaxDetail") or {}).get("TxnTaxCodeRef")
    if "TxnTaxDetail" not in body and txn_code is not None:
        merged["TxnTaxDetail"] = {"TxnTaxCodeRef": txn_code}


def _bump(books: Books, record: Record, previous: Record) -> Record:
    record.update(Id=previous["Id"], SyncToken=str(int(previous["SyncToken"]) + 1), domain="QBO", sparse=False,
                  MetaData=books.meta(previous))
    return record


def _delete(books: Books, kind: Kind, body: Record) -> Record:
    if not kind.transaction:
        raise errors.unsupported(f"Delete on {kind.name} (make it inactive instead)")
    previous = _current(books, kind, body)
    remove(books, kind, previous)
    return {"domain": "QBO", "status": "Deleted", "Id": previous["Id"]}


def remove(books: Books, kind: Kind, record: Record) -> None:
    """Delete a transaction after its checks and cascades (also used by ``/sandbox/``)."""
    if kind.before_remove is not None:
        kind.before_remove(books, record)
    books.remove(kind.name, record["Id"])


def _void(books: Books, kind: Kind, body: Record) -> Record:
    if kind.void is None:
        raise errors.unsupported(f"Void on {kind.name}")
    previous = _current(books, kind, body)
    if kind.before_remove is not None:
        kind.before_remove(books, previous)
    record = kind.void(books, dict(previous))
    return books.put(kind.name, _bump(books, record, previous))


_LEADING = ("Id", "SyncToken", "domain", "sparse", "MetaData")


def _ordered(record: Record) -> Record:
    # Id, SyncToken and MetaData first, as QuickBooks prints them; the rest as built.
    return {**{key: record[key] for key in _LEADING if key in record},
            **{key: value for key, value in record.items() if key not in _LEADING}}


def options_from(include: str | None, options_data: str | None = None) -> tuple[Options, bool]:
    """The write options and whether a void was asked, from ``include`` / ``optionsData``."""
    flags = {flag.strip().lower() for text in (include, options_data) if text for flag in text.split(",")}
    return Options(allow_duplicate_doc_number="allowduplicatedocnum" in flags), "void" in flags


def operation_of(body: Any, operation: str | None, void: bool) -> str:
    """The operation a POST on an entity means (create, update, delete, void)."""
    if operation in ("delete", "void"):
        return operation
    if operation == "update" and void:
        return "void"
    if operation not in (None, "", "create", "update"):
        raise errors.unsupported(str(operation))
    return "update" if isinstance(body, dict) and body.get("Id") else "create"
