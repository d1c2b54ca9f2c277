"""Pennylane's side of ``partida audit``: a read-only reader, and what the ledger should look like there.

Reading (``PennylaneReader``; GET only, paced by the client, each page
retried on 429 and 5xx):

- the trial balance: ``GET /trial_balance`` with ``is_auxiliary=false``, so
  customer accounts fold into 411 as in the ledger's report;
- invoices and credit notes dated in the period: ``GET /customer_invoices``;
  the business key is ``external_reference`` (Partida's key), the amount
  ``amount`` (negative for a credit note), the status ``paid`` and ``remaining_amount_with_tax`` (invoices);
- the entries dated in the period: ``GET /ledger_entries``; every entry that
  is not an invoice's own is a document under its ``piece_number``, and its
  amount is its total debit, summed from ``GET /ledger_entry_lines`` over the
  same days and journals (lines carry their entry's id): one request per 100
  lines rather than one per entry.

So N documents cost about (invoices + entries + their lines) / 100 + 2
requests, at 25 requests / 5 s.

Expectations (``PennylaneExpectations``, pure, from the mapping the
connector replays with):

- an invoice or credit note: a document under the transaction's key, for
  the ledger's 411 amount, with 0.01 of rounding allowed per invoice line
  carrying VAT (Pennylane rounds VAT line by line); and, when the mapping
  predicts one, the reconciliation entry under ``<key>-od``;
- any other transaction with a non-zero posting: an entry under its key, for
  the total debit of its postings;
- trial-balance accounts are PCG numbers (customer sub-accounts folded).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.audit import Expected
from connectors.audit import RemoteAccount
from connectors.audit import RemoteDoc
from connectors.errors import PermanentError
from connectors.pennylane import mapping
from connectors.pennylane.client import PennylaneClient
from connectors.retry import RetryPolicy
from engine.journal import LedgerTxn

__all__ = ["PennylaneExpectations", "PennylaneReader", "open_reader"]

Record = dict[str, Any]
ZERO = Decimal("0.00")
PAGE = 100  # the documents' lists allow 100 items a page at most
TRIAL_BALANCE_PAGE = 1000
# An audit only reads: a few retries, then a clear message, rather than the
# replay's long patience.
READ_RETRY = RetryPolicy(attempts_max=4)


def _debits(amounts: Any) -> Decimal:
    return sum((amount for amount in amounts if amount > 0), ZERO)


class PennylaneExpectations:
    """What each ledger transaction should be on Pennylane (pure)."""

    def account(self, ledger_account: str) -> str:
        """The trial-balance account: the PCG number (customer sub-accounts folded)."""
        return mapping.pcg_number(ledger_account)

    def expected(self, txn: LedgerTxn, key: str) -> list[Expected]:
        """The documents ``txn`` becomes when replayed under ``key`` (see the module docstring)."""
        try:
            target = mapping.plan(txn, key)
        except PermanentError as exc:
            return [self._unreplayable(txn, key, exc.message)]
        if target is None:
            return []
        if isinstance(target, mapping.EntryPlan):
            return [Expected(key, "entry", target.label, _debits(line.amount for line in target.lines))]
        return self._document(txn, target)

    def _document(self, txn: LedgerTxn, doc: mapping.DocumentPlan) -> list[Expected]:
        tax_lines = sum(1 for line in doc.lines if line.rate)
        out = [Expected(doc.key, doc.kind, doc.label, _receivable(txn), tax_lines,
                        doc.number if doc.kind == "invoice" else None)]
        reconciliation = mapping.predicted_reconciliation(doc)
        if reconciliation:
            out.append(Expected(mapping.reconciliation_piece(doc.key), "entry", f"Régularisation {doc.label}",
                                _debits(reconciliation.values())))
        return out

    def _unreplayable(self, txn: LedgerTxn, key: str, message: str) -> Expected:
        # The sync refuses it too: still expected, so the audit shows it missing with the reason.
        kind = mapping.DOCUMENT_KINDS.get(txn.event_type) if txn.get("step") is None else None
        amount = _receivable(txn) if kind else _debits(p.amount for p in txn.postings)
        return Expected(key, kind or "entry", txn.narration, amount, note=f"cannot be replayed: {message}")


def _receivable(txn: LedgerTxn) -> Decimal:
    """A document's total as Pennylane signs it: the ledger's 411 movement."""
    return sum((p.amount for p in txn.postings if mapping.pcg_number(p.account) == mapping.RECEIVABLE), ZERO)


class PennylaneReader:
    """Pennylane's trial balance and documents over a period, read-only (``connectors.audit.RemoteReader``)."""

    provider = "pennylane"

    def __init__(self, api: PennylaneClient, retry: RetryPolicy = READ_RETRY) -> None:
        self.api = api
        self.retry = retry

    def close(self) -> None:
        self.api.close()

    def stats(self) -> dict[str, float]:
        """Requests sent and seconds spent waiting for the rate limit (for the report's timing)."""
        return {"requests": float(self.api.requests), "paced_s": self.api.pacer.waited_s}

    def trial_balance(self, start: datetime.date, end: datetime.date) -> list[RemoteAccount]:
        params = {"period_start": start.isoformat(), "period_end": end.isoformat(), "is_auxiliary": "false"}
        return [RemoteAccount(row["number"], row.get("label") or "",
                              Decimal(row["debits"]) - Decimal(row["credits"]))
                for row in self._pages("/trial_balance", params=params, sort=None, limit=TRIAL_BALANCE_PAGE)]

    def documents(self, start: datetime.date, end: datetime.date) -> list[RemoteDoc]:
        period = [_filter("date", "gteq", start.isoformat()), _filter("date", "lteq", end.isoformat())]
        invoices = list(self._pages("/customer_invoices", filters=period))
        own = {invoice["ledger_entry"]["id"] for invoice in invoices if invoice.get("ledger_entry")}
        # An invoice's own entry is the invoice; every other entry is a document of its own.
        entries = [e for e in self._pages("/ledger_entries", filters=period)
                   if e["id"] not in own and not e.get("invoice_number")]
        debits = self._entry_debits(period, {e["journal_id"] for e in entries}) if entries else {}
        return [_invoice(i) for i in invoices] + [_entry(e, debits.get(e["id"], ZERO)) for e in entries]

    def _entry_debits(self, period: list[Record], journals: set[int]) -> dict[int, Decimal]:
        filters = [*period, _filter("journal_id", "in", sorted(journals))]
        totals: dict[int, Decimal] = {}
        for line in self._pages("/ledger_entry_lines", filters=filters):
            entry_id = line["ledger_entry"]["id"]
            totals[entry_id] = totals.get(entry_id, ZERO) + Decimal(line["debit"])
        return totals

    def _pages(self, path: str, *, filters: list[Record] | None = None, sort: str | None = "id",
               limit: int = PAGE, params: Record | None = None) -> Iterator[Record]:
        """Every item of a list, page by page; filter and sort re-sent with each cursor
        (Pennylane's cursor does not carry them), each page retried on its own."""
        query: Record = {**(params or {}), "limit": limit}
        if sort:
            query["sort"] = sort
        if filters:
            query["filter"] = json.dumps(filters, separators=(",", ":"))
        cursor: str | None = None
        while True:
            page_query = {**query, "cursor": cursor} if cursor else query
            page = self.retry.run(lambda: self.api.request("GET", path, params=page_query))
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return


def _filter(field: str, operator: str, value: Any) -> Record:
    return {"field": field, "operator": operator, "value": value}


def _invoice(record: Record) -> RemoteDoc:
    amount = Decimal(record["amount"])
    credit_note = amount < 0
    key = record.get("external_reference") or f"(no reference: Pennylane invoice {record['id']})"
    # What is still to pay; ``paid`` wins (an invoice marked paid by hand has nothing left to pay).
    due = None if credit_note else ZERO if record.get("paid") else Decimal(record["remaining_amount_with_tax"])
    return RemoteDoc(key, "credit_note" if credit_note else "invoice",
                     record.get("label") or record.get("invoice_number") or "", _day(record["date"]), amount, due,
                     str(record["id"]))


def _entry(record: Record, debit: Decimal) -> RemoteDoc:
    key = record.get("piece_number") or f"(no piece number: Pennylane entry {record['id']})"
    return RemoteDoc(key, "entry", record.get("label") or "", _day(record["date"]), debit, None, str(record["id"]))


def _day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(text[:10])


def open_reader(ledger: Path) -> PennylaneReader:
    """A reader on the company ``ledger`` is connected to (stored credentials, paced as the sync is).

    Raises:
        AuthError: the ledger is not connected to Pennylane.
    """
    from connectors import providers

    http = providers.api_client("pennylane", ledger)
    return PennylaneReader(PennylaneClient(http, pacer=providers.pacer_from_env()))  # type: ignore[arg-type]
