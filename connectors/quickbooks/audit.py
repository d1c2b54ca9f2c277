"""QuickBooks' side of ``partida audit``: a read-only reader, and what the ledger should look like there.

Trial balance, at QuickBooks' granularity
-----------------------------------------
The ledger's chart is finer than a QuickBooks company: the ``ChartMap`` of
the ledger's chart (``charts.CHART_MAPS``) folds several ledger numbers into
one QuickBooks account (for ``fr-pcg``: 44571, 44574 and 44588 into the tax
account; 411 and the customers' 4191 sub-accounts into Accounts Receivable).
A difference inside such an account cannot be seen on QuickBooks, so the
audit compares per **QuickBooks account** and sums the ledger's side
accordingly; each line's label names the ledger numbers it holds. An
account is named by its ``AcctNum`` when it has one (Partida sets the PCG
number on the accounts it creates), else by its QuickBooks name (its own
system accounts: ``Clients``, ``TVA collectée``, ``Fonds non déposés``).

QuickBooks has no "movements of a period" report: ``reports/TrialBalance``
gives balance-sheet accounts cumulated up to ``end_date`` and profit-and-loss
accounts over ``[start_date, end_date]``, earlier profit and loss folded into
Retained Earnings. So the reader asks for two reports, ``[start, end]`` and
the day before ``start``, and takes: a balance-sheet account's movement =
its balance at ``end`` - its balance the day before ``start``; a P&L
account's = its figure in the first report; Retained Earnings' = minus the
sum of all the others (every posting balances, so this is its own
movement, without the fold). This assumes the period lies in one fiscal
year, as the default period does.

Documents, by business key
--------------------------
- invoices and credit memos by ``DocNumber`` (the ledger's number): amount
  ``TotalAmt`` (negative for a credit memo), and for an invoice its
  ``Balance`` as what is still due;
- payments, journal entries, deposits and refund receipts by the key
  Partida writes first in ``PrivateNote`` (``partida:<key>``; a journal
  entry also by its ``DocNumber``); a journal entry's amount is its total
  debit, the others' ``TotalAmt``. A document with no reference of
  Partida's is keyed ``(no reference: QuickBooks <Entity> <Id>)``: found on
  QuickBooks, carried by no ledger transaction.
- The zero payment that applies a credit memo to its invoice
  (``<key>/apply``) and the deposit applications (which edit the payments
  they apply) create nothing to compare of their own: QuickBooks' way of
  applying a credit; their effect is the invoice's ``Balance``, compared as
  the paid status.

Each entity is read with paged queries (1000 rows a page, ``ORDERBY Id``)
over the period, through the connector's ``QuickBooksClient`` and its pacing
(500 requests a minute per company), each page retried on its own on 429
and 5xx. N documents cost about N / 1000 + 9 requests.

Rounding: the connector sends the ledger's VAT per rate, which QuickBooks
keeps within 0.01 per tax line of its own computation; the allowance is
0.01 per tax line (rate with VAT) of the document.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.audit import AuditError
from connectors.audit import Expected
from connectors.audit import RemoteAccount
from connectors.audit import RemoteDoc
from connectors.errors import PermanentError
from connectors.quickbooks import charts
from connectors.quickbooks import mapping
from connectors.quickbooks import references
from connectors.quickbooks.charts import AccountSpec
from connectors.quickbooks.charts import ChartMap
from connectors.quickbooks.client import PAGE
from connectors.quickbooks.client import QuickBooksClient
from connectors.retry import RetryPolicy
from engine.journal import LedgerTxn

__all__ = ["QuickBooksExpectations", "QuickBooksReader", "account_key", "open_reader"]

Record = dict[str, Any]
ZERO = Decimal("0.00")
# An audit only reads: a few retries, then a clear message.
READ_RETRY = RetryPolicy(attempts_max=4)
BALANCE_SHEET = frozenset({"Asset", "Liability", "Equity"})
RETAINED_EARNINGS = "RetainedEarnings"
# entity -> the audit's kind of document
ENTITIES = {"Invoice": "invoice", "CreditMemo": "credit_note", "RefundReceipt": "credit_note",
            "Payment": "entry", "JournalEntry": "entry", "Deposit": "entry"}


def account_key(spec: AccountSpec) -> str:
    """How the audit names a QuickBooks account: its ``AcctNum``, else its name."""
    return spec.number or spec.name


def _money(value: Any) -> Decimal:
    return Decimal(str(value if value not in (None, "") else "0")).quantize(Decimal("0.01"))


# -- expectations (pure) ----------------------------------------------------------------------------

class QuickBooksExpectations:
    """What each ledger transaction should be on QuickBooks, from the mapping the connector replays with."""

    def __init__(self, chart: ChartMap) -> None:
        self.chart = chart

    def account(self, ledger_account: str) -> str:
        """The QuickBooks account a ledger account is summed into."""
        try:
            return account_key(charts.remote_account(self.chart, ledger_account)[0])
        except PermanentError:  # no QuickBooks type for it: the sync refuses it too
            return charts.number_of(ledger_account)

    def expected(self, txn: LedgerTxn, key: str) -> list[Expected]:
        """The documents ``txn`` becomes when replayed under ``key`` (see the module docstring)."""
        try:
            target = mapping.plan(txn, key, self.chart)
        except PermanentError as exc:
            return [self._unreplayable(txn, key, exc.message)]
        if target is None or isinstance(target, mapping.ApplicationPlan):
            return []
        if isinstance(target, mapping.SalesPlan):
            tax_lines = sum(1 for rate, _ in target.vat if rate)
            if target.entity == "Invoice":
                return [Expected(references.doc_number(target.number), "invoice", target.memo, target.total,
                                 tax_lines, target.number)]
            return [Expected(references.doc_number(target.number), "credit_note", target.memo, -target.total,
                             tax_lines)]
        if isinstance(target, mapping.PaymentPlan):
            payment = [Expected(key, "entry", target.memo, target.total)]
            # ca-qc: an overpayment's excess is its own JournalEntry on Customer Deposits
            rest = target.rest
            return payment + ([Expected(rest.key, "entry", rest.memo, rest.total)] if rest is not None else [])
        return [Expected(key, "entry", target.memo, target.total)]

    def _unreplayable(self, txn: LedgerTxn, key: str, message: str) -> Expected:
        # The sync refuses it too: still expected, so the audit shows it missing with the reason.
        document = txn.get("step") is None and txn.event_type in mapping.DOCUMENT_ENTITIES
        number = txn.get("invoice") if txn.event_type == "invoice.issued" else None
        amount = sum((p.amount for p in txn.postings if p.amount > 0), ZERO)
        kind = "invoice" if number else "credit_note" if document else "entry"
        return Expected(references.doc_number(number) if number else key, kind, txn.narration,
                        amount if kind != "credit_note" else -amount, note=f"cannot be replayed: {message}")


# -- the reader -----------------------------------------------------------------------------------------

class QuickBooksReader:
    """QuickBooks' trial balance and documents over a period, read-only (``connectors.audit.RemoteReader``)."""

    provider = "quickbooks"

    def __init__(self, api: QuickBooksClient, chart: ChartMap, retry: RetryPolicy = READ_RETRY) -> None:
        self.api = api
        self.chart = chart
        self.retry = retry

    def close(self) -> None:
        self.api.close()

    def stats(self) -> dict[str, float]:
        """Requests sent and seconds spent waiting for the rate limit (for the report's timing)."""
        return {"requests": float(self.api.requests),
                "paced_s": self.api.pacer.waited_s + self.api.batch_pacer.waited_s}

    # -- trial balance ---------------------------------------------------------------------------

    def trial_balance(self, start: datetime.date, end: datetime.date) -> list[RemoteAccount]:
        """Movements per QuickBooks account over ``[start, end]`` (see the module docstring)."""
        accounts = {str(a["Id"]): a for a in self._rows("SELECT * FROM Account WHERE Active IN (true, false)")}
        closing = self._report(start, end)
        before = start - datetime.timedelta(days=1)
        opening = self._report(before, before)
        moved: dict[str, Decimal] = {}
        retained: list[str] = []
        for ident in set(closing) | set(opening) | set(accounts):
            account = accounts.get(ident, {})
            if account.get("AccountSubType") == RETAINED_EARNINGS:
                retained.append(ident)
            elif account.get("Classification") in BALANCE_SHEET:
                moved[ident] = closing.get(ident, ZERO) - opening.get(ident, ZERO)
            else:  # profit and loss (or an account the list does not show): the report's period
                moved[ident] = closing.get(ident, ZERO)
        rest = -sum(moved.values(), ZERO)
        if retained:
            moved[retained[0]] = rest
        elif rest:
            moved["(retained earnings)"] = rest
        names = self._names()
        rows: dict[str, RemoteAccount] = {}
        for ident, amount in moved.items():
            key, label = names(accounts.get(ident) or {"Id": ident, "Name": ident})
            previous = rows.get(key)
            rows[key] = RemoteAccount(key, label, amount + (previous.amount if previous else ZERO))
        return sorted(rows.values(), key=lambda row: row.account)

    def _report(self, start: datetime.date, end: datetime.date) -> dict[str, Decimal]:
        return self.retry.run(lambda: self.api.trial_balance(start, end))

    def _names(self) -> Any:
        """A function: QuickBooks account -> (audit key, label naming the ledger numbers it holds)."""
        held: dict[AccountSpec, list[str]] = {}
        for number, spec in self.chart.accounts.items():
            held.setdefault(spec, []).append(number)
        receivable = held.setdefault(self.chart.receivable, [])
        receivable += [f"{n} (customers)" for n in sorted(self.chart.customer_numbers)
                       if n not in self.chart.receivable_numbers]
        by_number = {spec.number: spec for spec in held if spec.number}
        by_name = {spec.name.casefold(): spec for spec in held}

        def name(account: Record) -> tuple[str, str]:
            number, title = str(account.get("AcctNum") or ""), str(account.get("Name") or account.get("Id"))
            spec = by_number.get(number) if number else None
            spec = spec or by_name.get(title.casefold())
            if spec is None:
                return number or title, title
            numbers = held[spec]
            label = f"{title} — ledger {', '.join(numbers)}" if len(numbers) > 1 else title
            return account_key(spec), label

        return name

    # -- documents -------------------------------------------------------------------------------

    def documents(self, start: datetime.date, end: datetime.date) -> list[RemoteDoc]:
        """Every transaction dated in ``[start, end]``, with its business key, amount and paid status."""
        period = f"TxnDate >= '{start.isoformat()}' AND TxnDate <= '{end.isoformat()}'"
        docs: list[RemoteDoc] = []
        for entity in ENTITIES:
            for record in self._rows(f"SELECT * FROM {entity} WHERE {period} ORDERBY Id"):
                doc = _document(entity, record)
                if doc is not None:
                    docs.append(doc)
        return docs

    def _rows(self, statement: str) -> Iterator[Record]:
        """Every row of a query, page by page (1000 rows), each page retried on its own."""
        position = 1
        while True:
            params = {"query": f"{statement} STARTPOSITION {position} MAXRESULTS {PAGE}"}
            answer = self.retry.run(lambda: self.api.request("GET", "/query", params=params))
            response = answer.get("QueryResponse") or {}
            page = next((list(value) for value in response.values() if isinstance(value, list)), [])
            yield from page
            if len(page) < PAGE:
                return
            position += len(page)


def _document(entity: str, record: Record) -> RemoteDoc | None:
    """One QuickBooks transaction as the audit sees it; None for a credit memo's application."""
    ident = str(record["Id"])
    note_key = references.note_key(record.get("PrivateNote"))
    total = _money(record.get("TotalAmt"))
    if entity == "Payment" and note_key and note_key.endswith("/apply") and not total:
        return None  # applies a credit memo: its effect is the invoice's Balance
    if entity in ("Invoice", "CreditMemo"):
        key = record.get("DocNumber") or note_key
    elif entity == "JournalEntry":
        key = note_key or record.get("DocNumber")
    else:
        key = note_key
    key = key or f"(no reference: QuickBooks {entity} {ident})"
    customer = str((record.get("CustomerRef") or {}).get("name") or "")
    label = " ".join(part for part in (entity, str(record.get("DocNumber") or ""), customer) if part)
    if entity == "JournalEntry":
        amount = sum((_money(line.get("Amount")) for line in record.get("Line") or []
                      if (line.get("JournalEntryLineDetail") or {}).get("PostingType") == "Debit"), ZERO)
    elif ENTITIES[entity] == "credit_note":
        amount = -total
    else:
        amount = total
    due = _money(record.get("Balance")) if entity == "Invoice" else None
    return RemoteDoc(str(key), ENTITIES[entity], label, _day(record["TxnDate"]), amount, due, ident)  # type: ignore[arg-type]


def _day(text: str) -> datetime.date:
    return datetime.date.fromisoformat(str(text)[:10])


def chart_of(ledger: Path) -> ChartMap:
    """The ``ChartMap`` of the ledger's chart.

    Raises:
        AuditError: when QuickBooks has no mapping for it.
    """
    from engine.ledger import open_layout

    _, settings = open_layout(ledger)
    chart = charts.CHART_MAPS.get(settings.chart_name)
    if chart is None:
        raise AuditError(f"QuickBooks has no account mapping for the ledger's chart {settings.chart_name!r} "
                         f"(known: {', '.join(sorted(charts.CHART_MAPS))})")
    return chart


def open_reader(ledger: Path) -> tuple[QuickBooksReader, QuickBooksExpectations]:
    """A reader on the company ``ledger`` is connected to (stored credentials, paced as the sync is),
    and the expectations of the ledger's chart.

    Raises:
        AuthError: the ledger is not connected to QuickBooks.
        AuditError: the ledger's chart has no QuickBooks mapping.
    """
    from connectors import providers

    chart = chart_of(ledger)
    http = providers.api_client("quickbooks", ledger)
    api = QuickBooksClient(http, pacer=providers.pacer_from_env())  # type: ignore[arg-type]
    return QuickBooksReader(api, chart), QuickBooksExpectations(chart)
