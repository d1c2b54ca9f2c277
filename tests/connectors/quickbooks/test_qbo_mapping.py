"""The pure mapping: ledger transactions of the example season -> QuickBooks plans and bodies.

No network. The season is recorded once into a fresh ``fr-pcg`` ledger and
each event type is checked on a real transaction of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from decimal import Decimal
from types import MappingProxyType

import pytest
from qbo_support import Ledger
from qbo_support import season_ledger

from connectors.errors import PermanentError
from connectors.quickbooks import charts
from connectors.quickbooks import mapping
from connectors.quickbooks import references
from connectors.quickbooks.charts import FR_PCG
from connectors.quickbooks.charts import AccountSpec
from connectors.quickbooks.mapping import ApplicationPlan
from connectors.quickbooks.mapping import EntryPlan
from connectors.quickbooks.mapping import PaymentPlan
from connectors.quickbooks.mapping import SalesPlan
from connectors.quickbooks.mapping import TaxRef
from engine.journal import LedgerTxn
from engine.money import cents

D = Decimal
TAX = {rate: TaxRef(f"code-{rate}", f"rate-{rate}") for rate in FR_PCG.tax_codes}
VAT = FR_PCG.accounts["44571"]
RECEIVABLE = FR_PCG.receivable
DEPOSITS = FR_PCG.accounts["4191"]


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    return season_ledger(tmp_path_factory.mktemp("qbo-mapping") / "ledger")


def first(season: Ledger, test: Callable[[LedgerTxn], bool]) -> LedgerTxn:
    return next(t for t in season.txns if test(t))


def planned(season: Ledger, txn: LedgerTxn) -> mapping.Plan | None:
    return mapping.plan(txn, season.key(txn))


def test_every_transaction_posts_on_quickbooks_what_the_ledger_posts(season: Ledger) -> None:
    # Per transaction, what QuickBooks will post for the plan equals the
    # ledger's postings mapped and summed per account and customer: the
    # trial balances agree by construction.
    kinds: dict[str, int] = {}
    for txn in season.txns:
        target = planned(season, txn)
        assert target is not None, txn.seq
        assert sorted(map(repr, mapping.remote_postings(target))) == sorted(map(repr, mapping.entry_lines(txn, FR_PCG)))
        name = type(target).__name__ + (f"/{target.entity}" if isinstance(target, (SalesPlan, EntryPlan)) else "")
        kinds[name] = kinds.get(name, 0) + 1
    assert kinds == {"PaymentPlan": 176, "SalesPlan/Invoice": 87, "ApplicationPlan": 58,
                     "EntryPlan/JournalEntry": 49, "EntryPlan/Deposit": 8, "SalesPlan/CreditMemo": 4}


def test_an_invoice_is_an_invoice_numbered_as_in_the_ledger_with_a_tax_code_per_line(season: Ledger) -> None:
    txn = first(season, lambda t: t.get("invoice") == "F-2026-0001" and t.event_type == "invoice.issued")
    doc = planned(season, txn)
    assert isinstance(doc, SalesPlan) and doc.entity == "Invoice"
    body = mapping.sales_body(doc, "58", {item.sku: f"i-{item.sku}" for item in doc.items}, TAX)
    assert body["DocNumber"] == "F-2026-0001" and body["GlobalTaxCalculation"] == "TaxExcluded"
    assert body["CustomerRef"] == {"value": "58"} and body["TxnDate"] == "2026-02-23"
    [line] = body["Line"]
    detail = line["SalesItemLineDetail"]
    assert detail["TaxCodeRef"] == {"value": "code-20"} and detail["ItemRef"] == {"value": "i-partida-706"}
    assert line["Amount"] == D("186.67") and cents(detail["Qty"] * detail["UnitPrice"]) == line["Amount"]
    assert body["TxnTaxDetail"]["TaxLine"][0]["Amount"] == D("37.33")
    assert body["TxnTaxDetail"]["TaxLine"][0]["TaxLineDetail"]["TaxRateRef"] == {"value": "rate-20"}
    assert doc.total == D("224.00") == next(p.amount for p in txn.postings if ":411-" in p.account)
    assert references.note_key(body["PrivateNote"]) == season.key(txn)


def test_documents_carry_the_ledgers_vat_where_per_line_rounding_differs(season: Ledger) -> None:
    txn = first(season, lambda t: t.get("invoice") == "F-2026-0038" and t.get("step") is None)
    doc = planned(season, txn)
    assert isinstance(doc, SalesPlan)
    twenty = D("20")
    per_line = sum((cents(line.amount * twenty / 100) for line in doc.lines if line.rate == twenty), D(0))
    assert (per_line, dict(doc.vat)[twenty]) == (D("54.49"), D("54.50"))  # QuickBooks alone would lose a cent
    body = mapping.sales_body(doc, "1", {item.sku: "9" for item in doc.items}, TAX)
    tax_lines = {line["TaxLineDetail"]["TaxPercent"]: line["Amount"] for line in body["TxnTaxDetail"]["TaxLine"]}
    assert tax_lines == dict(doc.vat) and tax_lines[twenty] == D("54.50")
    assert sum((line["Amount"] for line in body["Line"]), D(0)) + body["TxnTaxDetail"]["TotalTax"] == doc.total


def test_a_credit_note_is_a_credit_memo_with_its_vat_total_shared_per_rate(season: Ledger) -> None:
    txn = first(season, lambda t: t.get("credit-note") == "AV-2026-0004")
    doc = planned(season, txn)
    assert isinstance(doc, SalesPlan) and doc.entity == "CreditMemo" and doc.credited == "F-2026-0070"
    assert dict(doc.vat) == {D("20"): D("9.60"), D("5.5"): D("1.05")}  # booked as one 10.65 on 44571
    assert doc.total == D("77.65") and all(line.amount > 0 for line in doc.lines)
    body = mapping.sales_body(doc, "1", {item.sku: "9" for item in doc.items}, TAX)
    assert "DueDate" not in body and {line["SalesItemLineDetail"]["ItemRef"]["value"] for line in body["Line"]} == {"9"}
    assert [item.sku for item in doc.items] == ["partida-706", "P-PIQ-01"]
    assert doc.items[1].account == FR_PCG.accounts["707"] and doc.items[1].kind == "NonInventory"


def test_a_payment_links_its_invoice_and_an_overpayment_stays_unapplied(season: Ledger) -> None:
    txn = first(season, lambda t: t.event_type == "payment.received" and t.get("invoice") == "F-2026-0033")
    pay = planned(season, txn)
    assert isinstance(pay, PaymentPlan)
    assert (pay.total, pay.applied, pay.invoice, pay.reference) == (D("45.00"), D("42.00"), "F-2026-0033",
                                                                    "VIR SEPA 55097")
    body = mapping.payment_body(pay, "7", "35", "145")
    assert body["Line"] == [{"Amount": D("42.00"), "LinkedTxn": [{"TxnId": "145", "TxnType": "Invoice"}]}]
    assert body["TotalAmt"] == D("45.00") and body["DepositToAccountRef"] == {"value": "35"}
    assert references.note_holder(body["PrivateNote"]) == "b:B-2026-031"


def test_a_deposit_before_its_invoice_is_an_unapplied_payment_of_its_booking(season: Ledger) -> None:
    txn = first(season, lambda t: t.event_type == "deposit.received")
    pay = planned(season, txn)
    assert isinstance(pay, PaymentPlan)
    assert (pay.total, pay.applied, pay.invoice, pay.holder) == (D("67.00"), 0, None, "b:B-2026-001")
    assert pay.deposit_to == FR_PCG.accounts["530"] and pay.customer.name == "Hugo Giraud"
    assert mapping.payment_body(pay, "7", "35", None)["Line"] == []


def test_a_voucher_pays_from_the_vouchers_liability(season: Ledger) -> None:
    txn = first(season, lambda t: t.event_type == "payment.received" and t.get("invoice") == "F-2026-0007")
    pay = planned(season, txn)
    assert isinstance(pay, PaymentPlan) and pay.deposit_to == DEPOSITS and pay.applied == pay.total == D("50.00")


def test_a_deposit_application_adds_its_line_and_records_itself(season: Ledger) -> None:
    txn = first(season, lambda t: t.get("step") == "deposit-applied")
    application = planned(season, txn)
    assert isinstance(application, ApplicationPlan)
    assert (application.invoice, application.amount, application.holder) == ("F-2026-0001", D("67.00"),
                                                                             "b:B-2026-001")
    payment = {"Id": "12", "SyncToken": "0", "CustomerRef": {"value": "7"}, "TotalAmt": 100.0,
               "PrivateNote": references.note("k1", "Arrhes", "b:B-2026-001"),
               "Line": [{"Amount": 10.0, "LinkedTxn": [{"TxnId": "40", "TxnType": "Invoice"}]}]}
    body = mapping.application_body(payment, "40", D("67.00"), "k2")
    assert body["Line"] == [{"Amount": D("77.00"), "LinkedTxn": [{"TxnId": "40", "TxnType": "Invoice"}]}]
    assert body["sparse"] is True and body["SyncToken"] == "0" and body["TotalAmt"] == D("100.00")
    assert references.applied_marks(body["PrivateNote"]) == {"k2": D("67.00")}
    assert references.note_key(body["PrivateNote"]) == "k1" and references.note_holder(body["PrivateNote"]) == "b:B-2026-001"
    other = mapping.application_body({**payment, "PrivateNote": body["PrivateNote"]}, "41", D("3.00"), "k3")
    assert len(other["Line"]) == 2 and references.applied_marks(other["PrivateNote"]) == {"k2": 67, "k3": 3}


def test_refunds_forfeits_and_cash_are_journal_entries(season: Ledger) -> None:
    def entry(test: Callable[[LedgerTxn], bool]) -> EntryPlan:
        target = planned(season, first(season, test))
        assert isinstance(target, EntryPlan) and target.entity == "JournalEntry"
        return target

    refund = entry(lambda t: t.event_type == "refund.issued" and t.get("booking") == "B-2026-023")
    assert [(l.account, l.amount, l.customer) for l in refund.lines] == [
        (RECEIVABLE, D("59.00"), "C-CUST-0022"), (FR_PCG.accounts["512"], D("-59.00"), None)]
    assert [c.ref for c in refund.customers] == ["CUST-0022"]
    body = mapping.entry_body(refund, {RECEIVABLE: "2", FR_PCG.accounts["512"]: "3"}, {"C-CUST-0022": "77"})
    detail = body["Line"][0]["JournalEntryLineDetail"]
    assert detail["Entity"] == {"Type": "Customer", "EntityRef": {"value": "77"}} and detail["PostingType"] == "Debit"
    assert len(body["DocNumber"]) <= 21 and body["DocNumber"] == references.doc_ref(refund.key)

    penalty = entry(lambda t: t.get("treatment") == "penalty")
    assert {l.account.name for l in penalty.lines} == {"Clients", "Dédits et pénalités perçus"}  # VAT nets to zero
    kept = entry(lambda t: t.get("treatment") == "consideration")
    assert [(l.account, l.amount) for l in kept.lines] == [(RECEIVABLE, D("12.00")), (FR_PCG.accounts["706"],
                                                                                     D("-10.00")), (VAT, D("-2.00"))]
    expense = entry(lambda t: t.get("cash-kind") == "expense")
    generated = expense.lines[0].account
    assert generated == AccountSpec("6064 Fournitures Administratives", "Expense", "OtherBusinessExpenses", "6064")
    assert mapping.account_body(generated)["AcctNum"] == "6064"


def test_a_voucher_sold_into_the_bank_is_a_deposit(season: Ledger) -> None:
    target = planned(season, first(season, lambda t: t.event_type == "voucher.sold" and t.get("voucher") ==
                                   "BON-2026-002"))
    assert isinstance(target, EntryPlan) and target.entity == "Deposit"
    body = mapping.entry_body(target, {FR_PCG.accounts["530"]: "4", DEPOSITS: "5"}, {})
    assert body["DepositToAccountRef"] == {"value": "4"}
    assert body["Line"] == [{"Amount": D("50.00"), "DetailType": "DepositLineDetail",
                             "DepositLineDetail": {"AccountRef": {"value": "5"}}}]


def test_keys_and_references_are_deterministic_and_fit_quickbooks_limits(season: Ledger) -> None:
    keys = [season.key(t) for t in season.txns]
    ids = [references.request_id(k, "Invoice") for k in keys]
    assert ids == [references.request_id(k, "Invoice") for k in keys] and len(set(ids)) == len(keys)
    assert max(map(len, ids)) <= 36 and len(references.request_id("x" * 80, "names:abc")) == 36
    refs = [references.doc_ref(k) for k in keys]
    assert len(set(refs)) == len(keys) and max(map(len, refs)) <= 21
    assert references.doc_number("F-2026-0001") == "F-2026-0001"
    long = references.doc_number("FACTURE-2026-ABCDEFGHIJ-0001")
    assert len(long) == 21 and long != references.doc_number("FACTURE-2026-ABCDEFGHIJ-0002")
    assert references.display_name("Acme: Loisirs  SARL") == "Acme- Loisirs SARL"
    assert references.display_name("Jean Dupont", "C0043") == "Jean Dupont (C0043)"


def test_describe_lists_the_requests_without_io(season: Ledger) -> None:
    lines = [mapping.describe(t, "<key>") for t in season.txns]
    assert all(lines)
    assert any("POST /invoice F-2026-0001" in line for batch in lines for line in batch)
    assert any("sparse update" in line for batch in lines for line in batch)


def test_the_table_is_the_only_french_part(season: Ledger) -> None:
    # Another chart brings its own table; here one that keeps cash in the bank.
    other = dataclasses.replace(FR_PCG, name="test", accounts=MappingProxyType(
        {**FR_PCG.accounts, "530": FR_PCG.accounts["512"]}))
    txn = first(season, lambda t: t.event_type == "deposit.received")
    target = mapping.plan(txn, "k", other)
    assert isinstance(target, PaymentPlan) and target.deposit_to == FR_PCG.accounts["512"]
    with pytest.raises(PermanentError, match="no QuickBooks account type"):
        charts.remote_account(FR_PCG, "Equity:101-Capital")
