"""JournalEntry: balanced lines on accounts (reference §2.7).

- at least one line; each is a ``JournalEntryLineDetail`` with a
  ``PostingType`` (Debit / Credit), an active ``AccountRef`` and a positive
  or zero ``Amount`` (the posting type carries the sign);
- debits must equal credits (6000);
- a line on an Accounts Receivable account names its customer in
  ``Entity`` (6000); only customers are emulated as entities (vendors and
  employees do not exist in the sandbox);
- ``DocNumber`` is optional, at most 21 characters, unique among journal
  entries while the company warns about duplicate numbers (6140);
- tax fields on lines (``TaxCodeRef``, ``TaxAmount``) are kept as sent but
  compute nothing: the entry posts exactly its lines.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox.books import Books
from connectors.quickbooks.sandbox.books import Record
from connectors.quickbooks.sandbox.books import ref_to
from connectors.quickbooks.sandbox.fields import Options
from connectors.quickbooks.sandbox.fields import amount
from connectors.quickbooks.sandbox.fields import check_currency
from connectors.quickbooks.sandbox.fields import check_doc_number
from connectors.quickbooks.sandbox.fields import passthrough
from connectors.quickbooks.sandbox.money import ZERO
from connectors.quickbooks.sandbox.money import fmt

__all__ = ["JOURNAL_DERIVED", "build_journal_entry"]

JOURNAL_DERIVED = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status", "TotalAmt",
                             "HomeTotalAmt", "LinkedTxn", "Line"})
_NEEDS_NAME = {"Accounts Receivable": "customer", "Accounts Payable": "vendor"}


def build_journal_entry(books: Books, body: Record, previous: Record | None, options: Options) -> Record:
    """The record of a journal entry from its body (create or update).

    Raises:
        QboError: 2020/2500 for missing or unknown references, 6000 when it
            does not balance or an A/R line has no customer, 6140 for a
            duplicate DocNumber.
    """
    record = passthrough(body, JOURNAL_DERIVED)
    record["DocNumber"] = check_doc_number(books, "JournalEntry", body, previous, options, auto=False)
    if record["DocNumber"] is None:
        record.pop("DocNumber")
    record.update(CurrencyRef=check_currency(books, body), TxnDate=body.get("TxnDate") or books.today())
    lines = [_line(books, line, number) for number, line in enumerate(body.get("Line") or [], 1)]
    if not lines:
        raise errors.business("a journal entry needs lines", "Line")
    debits = _total(lines, "Debit")
    credits = _total(lines, "Credit")
    if debits != credits:
        raise errors.business(f"the journal entry does not balance: debits {fmt(debits)}, credits {fmt(credits)}; "
                              "the total of the debits must equal the total of the credits", "Line")
    record["Line"] = lines
    record["TotalAmt"] = fmt(debits)
    return record


def _total(lines: list[Record], posting_type: str) -> Decimal:
    return sum((Decimal(line["Amount"]) for line in lines
                if line["JournalEntryLineDetail"]["PostingType"] == posting_type), ZERO)


def _line(books: Books, line: Record, number: int) -> Record:
    if line.get("DetailType") is None:
        raise errors.required("Line.DetailType")
    detail = line.get("JournalEntryLineDetail")
    if detail is None:
        raise errors.required("Line.JournalEntryLineDetail")
    if detail.get("PostingType") is None:
        raise errors.required("Line.JournalEntryLineDetail.PostingType")
    value = amount(line.get("Amount"), "Line.Amount", required=True, minimum=ZERO)
    assert value is not None
    account = books.resolve("Account", detail.get("AccountRef"), "Line.JournalEntryLineDetail.AccountRef")
    kept = passthrough(detail, ("AccountRef", "Entity"))
    kept["AccountRef"] = ref_to(account)
    entity = _entity(books, detail.get("Entity"))
    needed = _NEEDS_NAME.get(account["AccountType"])
    if needed is not None and entity is None:
        raise errors.business(f"When you use {account['AccountType']}, you must choose a {needed} in the Name "
                              "field.", "Line.JournalEntryLineDetail.Entity")
    if entity is not None:
        kept["Entity"] = entity
    record = {"Id": str(number - 1), "Amount": fmt(value), "DetailType": "JournalEntryLineDetail",
              "JournalEntryLineDetail": kept}
    if line.get("Description") is not None:
        record["Description"] = line["Description"]
    return record


def _entity(books: Books, entity: Any) -> Record | None:
    if entity is None:
        return None
    if entity.get("Type", "Customer") != "Customer":
        raise errors.business(f"{entity.get('Type')} names are not emulated by the sandbox; use a Customer",
                              "Line.JournalEntryLineDetail.Entity.Type")
    customer = books.resolve("Customer", entity.get("EntityRef"), "Line.JournalEntryLineDetail.Entity.EntityRef")
    return {"Type": "Customer", "EntityRef": ref_to(customer, "DisplayName")}
