"""The company's general ledger, derived from its transactions, and its reports.

Postings are recomputed from the stored transactions whenever needed (never
stored), so the books always agree with the documents. Amounts are signed:
positive is a debit.

- Invoice: A/R D total (customer); each line's income account C its amount;
  each tax rate's account C its tax; a ``Deposit``: deposit account D / A/R C;
- CreditMemo: A/R C total (customer); income D; tax D;
- RefundReceipt: ``DepositToAccountRef`` C total; income D; tax D;
- Payment: ``DepositToAccountRef`` (Undeposited Funds) D / A/R C (customer);
- JournalEntry: each line as posted;
- Deposit: bank D total; each deposited payment's account C; each other
  line's account C; ``CashBack`` account D.

**TrialBalance** (``reports/TrialBalance?start_date&end_date``): one row per
account with a non-zero balance, net in the Debit or the Credit column,
then a ``GrandTotal`` section. Balance-sheet accounts (Asset, Liability,
Equity) are cumulative up to ``end_date``; income and expense accounts hold
the activity from ``start_date`` to ``end_date``, and their activity before
``start_date`` is folded into Retained Earnings, so the report always
balances. ``start_date`` defaults to the start of the fiscal year holding
``end_date`` (January by default), ``end_date`` to today: with the defaults
this is QuickBooks' year-to-date trial balance. Only the accrual basis is
emulated.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox.books import Books
from connectors.quickbooks.sandbox.books import Record
from connectors.quickbooks.sandbox.money import ZERO
from connectors.quickbooks.sandbox.money import fmt

__all__ = ["Posting", "account_balances", "customer_balances", "postings", "trial_balance"]

_BALANCE_SHEET = ("Asset", "Liability", "Equity")
_ORDER = {"Asset": 0, "Liability": 1, "Equity": 2, "Revenue": 3, "Expense": 4}


@dataclass(frozen=True, slots=True)
class Posting:
    """One line of the general ledger.

    Attributes:
        date: the transaction date (ISO).
        account_id: the account.
        amount: signed, debit positive.
        customer_id: the customer for receivable postings, else None.
        entity: the transaction's entity (``Invoice``...).
        txn_id: the transaction's Id.
    """

    date: str
    account_id: str
    amount: Decimal
    customer_id: str | None
    entity: str
    txn_id: str


def postings(books: Books) -> Iterator[Posting]:
    """Every posting of every transaction."""
    for entity, explode in _EXPLODE.items():
        for record in books.records(entity):
            for account_id, value, customer_id in explode(books, record):
                if value:
                    yield Posting(record["TxnDate"], account_id, value, customer_id, entity, record["Id"])


Leg = tuple[str, Decimal, str | None]


def _receivable(books: Books, record: Record) -> str:
    return str((record.get("ARAccountRef") or {}).get("value") or books.key("account:ar"))


def _sales_legs(record: Record, sign: int) -> Iterator[Leg]:
    # sign = 1 for an invoice (income credited), -1 for a credit memo or refund.
    for line in record["Line"]:
        if line.get("DetailType") == "SalesItemLineDetail":
            yield line["SalesItemLineDetail"]["_account"], -sign * Decimal(line["Amount"]), None
    for tax_line in record["TxnTaxDetail"].get("TaxLine", []):
        yield tax_line["TaxLineDetail"]["_account"], -sign * Decimal(tax_line["Amount"]), None


def _invoice(books: Books, record: Record) -> Iterator[Leg]:
    customer = record["CustomerRef"]["value"]
    receivable = _receivable(books, record)
    yield receivable, Decimal(record["TotalAmt"]), customer
    yield from _sales_legs(record, 1)
    deposit = Decimal(record.get("Deposit") or 0)
    if deposit:
        yield record["DepositToAccountRef"]["value"], deposit, None
        yield receivable, -deposit, customer


def _credit_memo(books: Books, record: Record) -> Iterator[Leg]:
    yield _receivable(books, record), -Decimal(record["TotalAmt"]), record["CustomerRef"]["value"]
    yield from _sales_legs(record, -1)


def _refund_receipt(books: Books, record: Record) -> Iterator[Leg]:
    yield record["DepositToAccountRef"]["value"], -Decimal(record["TotalAmt"]), None
    yield from _sales_legs(record, -1)


def _payment(books: Books, record: Record) -> Iterator[Leg]:
    total = Decimal(record["TotalAmt"])
    yield record["DepositToAccountRef"]["value"], total, None
    yield _receivable(books, record), -total, record["CustomerRef"]["value"]


def _journal_entry(books: Books, record: Record) -> Iterator[Leg]:
    for line in record["Line"]:
        detail = line["JournalEntryLineDetail"]
        sign = 1 if detail["PostingType"] == "Debit" else -1
        customer = (detail.get("Entity") or {}).get("EntityRef", {}).get("value")
        yield detail["AccountRef"]["value"], sign * Decimal(line["Amount"]), customer


def _deposit(books: Books, record: Record) -> Iterator[Leg]:
    yield record["DepositToAccountRef"]["value"], Decimal(record["TotalAmt"]), None
    for line in record["Line"]:
        if line.get("LinkedTxn"):
            payment = books.get("Payment", line["LinkedTxn"][0]["TxnId"])
            yield payment["DepositToAccountRef"]["value"], -Decimal(line["Amount"]), None
        else:
            yield line["DepositLineDetail"]["AccountRef"]["value"], -Decimal(line["Amount"]), None
    cash_back = record.get("CashBack")
    if cash_back:
        yield cash_back["AccountRef"]["value"], Decimal(cash_back["Amount"]), None


_EXPLODE = {
    "Invoice": _invoice, "CreditMemo": _credit_memo, "RefundReceipt": _refund_receipt, "Payment": _payment,
    "JournalEntry": _journal_entry, "Deposit": _deposit,
}


def account_balances(books: Books) -> dict[str, Decimal]:
    """Account Id -> ``CurrentBalance``: debit-positive for assets and expenses,
    credit-positive for liabilities, equity and revenue (all dates)."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for posting in postings(books):
        totals[posting.account_id] += posting.amount
    result = {}
    for account in books.records("Account"):
        signed = totals.get(account["Id"], ZERO)
        result[account["Id"]] = signed if account["Classification"] in ("Asset", "Expense") else -signed
    return result


def customer_balances(books: Books) -> dict[str, Decimal]:
    """Customer Id -> open balance (what they owe; negative for a credit)."""
    receivables = {a["Id"] for a in books.records("Account") if a["AccountType"] == "Accounts Receivable"}
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for posting in postings(books):
        if posting.customer_id is not None and posting.account_id in receivables:
            totals[posting.customer_id] += posting.amount
    return dict(totals)


# -- TrialBalance ------------------------------------------------------------------------------

def _fiscal_start(end: datetime.date, month: int) -> datetime.date:
    year = end.year if end.month >= month else end.year - 1
    return datetime.date(year, month, 1)


def _parse_date(value: str | None, name: str) -> datetime.date | None:
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise errors.invalid_property(f"{name} {value!r} is not a YYYY-MM-DD date", name) from None


def report_period(books: Books, params: dict[str, str]) -> tuple[datetime.date, datetime.date]:
    """The ``(start, end)`` of a report request.

    Raises:
        QboError: 2010 for a malformed date, 6000 for start after end or a
            cash basis.
    """
    if params.get("accounting_method", "Accrual") != "Accrual":
        raise errors.business("only the Accrual basis is emulated by the sandbox", "accounting_method")
    end = _parse_date(params.get("end_date"), "end_date") or datetime.date.fromisoformat(books.today())
    start = _parse_date(params.get("start_date"), "start_date") or _fiscal_start(
        end, books.realm["prefs"]["fiscal_year_start_month"])
    if start > end:
        raise errors.business("start_date is after end_date", "start_date")
    return start, end


def _period_totals(books: Books, start: str, end: str) -> dict[str, Decimal]:
    accounts = {a["Id"]: a for a in books.records("Account")}
    retained = books.key("account:re")
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for posting in postings(books):
        if posting.date > end:
            continue
        balance_sheet = accounts[posting.account_id]["Classification"] in _BALANCE_SHEET
        if balance_sheet or posting.date >= start:
            totals[posting.account_id] += posting.amount
        else:
            totals[retained] += posting.amount  # earlier profit and loss rolls into Retained Earnings
    return totals


def trial_balance(books: Books, params: dict[str, str], stamp: str) -> Record:
    """The TrialBalance report (see the module docstring)."""
    start, end = report_period(books, params)
    totals = _period_totals(books, start.isoformat(), end.isoformat())
    accounts = sorted((a for a in books.records("Account") if totals.get(a["Id"])),
                      key=lambda a: (_ORDER[a["Classification"]], a["FullyQualifiedName"].casefold()))
    rows: list[Record] = []
    debit_total = credit_total = ZERO
    for account in accounts:
        value = totals[account["Id"]]
        debit, credit = (value, ZERO) if value > 0 else (ZERO, -value)
        debit_total, credit_total = debit_total + debit, credit_total + credit
        rows.append({"ColData": [{"value": account["FullyQualifiedName"], "id": account["Id"]},
                                 {"value": fmt(debit) if debit else ""}, {"value": fmt(credit) if credit else ""}],
                     "type": "Data"})
    rows.append({"group": "GrandTotal", "type": "Section", "Summary": {"ColData": [
        {"value": "TOTAL"}, {"value": fmt(debit_total)}, {"value": fmt(credit_total)}]}})
    header = {"Time": stamp, "ReportName": "TrialBalance", "ReportBasis": "Accrual",
              "StartPeriod": start.isoformat(), "EndPeriod": end.isoformat(), "Currency": books.currency["value"],
              "Option": [{"Name": "NoReportData", "Value": "false" if accounts else "true"}]}
    columns = [{"ColTitle": "", "ColType": "Account", "MetaData": [{"Name": "ColKey", "Value": "account"}]},
               {"ColTitle": "Debit", "ColType": "Money", "MetaData": [{"Name": "ColKey", "Value": "debit"}]},
               {"ColTitle": "Credit", "ColType": "Money", "MetaData": [{"Name": "ColKey", "Value": "credit"}]}]
    return {"Header": header, "Columns": {"Column": columns}, "Rows": {"Row": rows if accounts else []}}
