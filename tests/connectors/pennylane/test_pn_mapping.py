"""The Pennylane mapping (pure) on real ledger transactions, and the client's
error translation over ``httpx.MockTransport`` (no server here)."""

from __future__ import annotations

import datetime
import email.utils
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import jsonl
from factories import cash, credit_note, deposit, forfeit, invoice, payment, refund, voucher

from connectors.errors import AuthError, PermanentError, RateLimited, TransientError
from connectors.pacing import Pacer
from connectors.pennylane import mapping as m
from connectors.pennylane.client import PennylaneClient, retry_after_s
from engine.journal import LedgerTxn, read_transactions
from engine.ledger import record_batch

D = Decimal
COMPANY = {"ref": "ACME-1", "name": "Acme SARL", "kind": "company", "vat_number": "FR12345678901"}
CODES = {"cash": "CA", "od": "OD"}


def _line(label: str, quantity: str, price: str, rate: str, account: str | None = None,
          product: dict[str, str] | None = None) -> dict[str, Any]:
    line: dict[str, Any] = {"label": label, "quantity": quantity, "unit_price": price, "vat_rate": rate}
    if account:
        line["account"] = account
    if product:
        line["product"] = product
    return line


SCENARIO = [
    deposit("d1", "B1", "90.00", "2026-05-10"),
    invoice("i1", "F-1", [("2", "125.00", "20")], "2026-06-20", booking="B1",
            totals={"net": "250.00", "vat": [{"rate": "20", "amount": "50.00"}], "gross": "300.00"}),
    payment("p1", "F-1", "210.00", "2026-06-20"),
    # Per-rate VAT (EN 16931) vs Pennylane's per-line rounding: 97.00 at 20 % split over 706 and 708.
    {"id": "i2", "type": "invoice.issued", "date": "2026-06-21", "number": "F-2", "customer": COMPANY,
     "prices_include_tax": True,
     "lines": [_line("Canyoning", "1", "89.00", "20"), _line("Combinaison", "1", "8.00", "20", "708"),
               _line("Miel 250 g", "2", "7.90", "5.5", "707", {"ref": "P-MIE", "name": "Miel 250 g"})]},
    credit_note("c2", "AV-1", "F-2", [("1", "8.00", "20")], "2026-06-22"),
    payment("p2", "F-2", "104.80", "2026-07-02", method="transfer"),
    credit_note("c1", "AV-2", "F-1", [("1", "30.00", "20")], "2026-07-05"),
    refund("r1", "36.00", "2026-07-06", invoice="F-1"),
    # The same split on one account: the cent moves between lines of 706 only.
    {"id": "i4", "type": "invoice.issued", "date": "2026-07-07", "number": "F-4", "customer": COMPANY,
     "prices_include_tax": True, "lines": [_line("Canyoning", "1", "89.00", "20"), _line("Casque", "1", "8.00", "20")]},
    deposit("d3", "B3", "60.00", "2026-05-11"),
    forfeit("f3", "B3", "60.00", "penalty", "2026-06-01"),
    deposit("d4", "B4", "30.00", "2026-05-12", method="cheque"),
    forfeit("f4", "B4", "30.00", "consideration", "2026-06-02"),
    deposit("d5", "B5", "50.00", "2026-05-13", method="cash"),
    refund("r5", "50.00", "2026-05-20", booking="B5", method="transfer"),
    voucher("v1", "BON-1", "100.00", "multi"),
    voucher("v2", "BON-2", "60.00", "single", vat_rate="20", method="cash"),
    invoice("i3", "F-3", [("1", "60.00", "20")], "2026-07-08"),
    payment("p3", "F-3", "72.00", "2026-07-09", method="voucher", voucher="BON-1"),
    cash("k1", "float", "150.00"),
    cash("k2", "bank_deposit", "100.00"),
    cash("k3", "expense", "12.40", account="6064", label="Ramettes"),
    cash("k4", "difference", "-0.50"),
]


@pytest.fixture(scope="module")
def txns(tmp_path_factory: pytest.TempPathFactory) -> list[LedgerTxn]:
    from engine.ledger import init_ledger
    from engine.settings import Settings

    root = tmp_path_factory.mktemp("pn-mapping") / "ledger"
    init_ledger(root, Settings(company="Gorges Vives SARL"))
    result = record_batch(root, jsonl(*SCENARIO))
    assert not result.problems, [str(p) for p in result.problems]
    return read_transactions(root)


def txn(txns: list[LedgerTxn], event_id: str, step: str | None = None) -> LedgerTxn:
    return next(t for t in txns if t.event_id == event_id and t.get("step") == step)


def by_number(lines: Any) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for account, amount in lines:
        out[account.number] = out.get(account.number, D(0)) + amount
    return {k: v for k, v in out.items() if v}


def ledger_total(t: LedgerTxn, prefix: str) -> Decimal:
    return sum((p.amount for p in t.postings if m.pcg_number(p.account).startswith(prefix)), D(0))


# -- documents ------------------------------------------------------------------------------

def test_invoice_becomes_a_finalized_invoice_with_the_ledger_amounts(txns: list[LedgerTxn]) -> None:
    t = txn(txns, "i1")
    doc = m.plan(t, "key-i1")
    assert isinstance(doc, m.DocumentPlan)
    assert (doc.kind, doc.number, doc.label, doc.date, doc.deadline) == (
        "invoice", "F-1", "Facture F-1", datetime.date(2026, 6, 20), datetime.date(2026, 6, 20))
    assert doc.total == ledger_total(t, "411") == D("300.00")
    body = m.document_body(doc, 42, {line.account: 706 for line in doc.lines}, {})
    assert body == {
        "date": "2026-06-20", "deadline": "2026-06-20", "customer_id": 42, "draft": False,
        "external_reference": "key-i1", "label": "Facture F-1", "pdf_invoice_subject": "Facture F-1",
        "invoice_lines": [{"label": "line 0", "quantity": 2, "raw_currency_unit_price": "125.00", "unit": "piece",
                           "vat_rate": "FR_200", "ledger_account_id": 706}],
    }
    # Pennylane posts the VAT on 44571; the ledger (receipts policy) on 44574.
    assert by_number(m.predicted_reconciliation(doc).items()) == {"44571": D("50.00"), "44574": D("-50.00")}


def test_lines_are_fitted_so_the_document_equals_the_printed_totals(txns: list[LedgerTxn]) -> None:
    t = txn(txns, "i2")
    doc = m.plan(t, "key-i2")
    assert isinstance(doc, m.DocumentPlan)
    assert [(line.vat_code, line.account.number, line.quantity) for line in doc.lines] == [
        ("FR_200", "706", D(1)), ("FR_200", "708", D(1)), ("FR_55", "707", D(2))]
    assert doc.total == ledger_total(t, "411") == D("112.80")
    vat = {rate: sum((line.tax for line in doc.lines if line.rate == rate), D(0)) for rate in (D(20), D("5.5"))}
    assert vat == {D(20): D("16.17"), D("5.5"): D("0.82")}  # the booked VAT per rate, not 16.16
    assert sum((line.net for line in doc.lines), D(0)) == -ledger_total(t, "70")
    # One cent of net moved from 706 to 708 to reach 16.17: the reconciliation puts it back.
    assert by_number(m.predicted_reconciliation(doc).items()) == {
        "44571": D("16.99"), "44574": D("-16.99"), "706": D("-0.01"), "708": D("0.01")}
    product = doc.products[0]
    assert (product.ref, product.vat_code, product.account.number) == ("P-MIE", "FR_55", "707")
    body = m.document_body(doc, 7, {line.account: 1 for line in doc.lines}, {"P-MIE": 99})
    assert body["invoice_lines"][2]["product_id"] == 99
    assert body["invoice_lines"][2]["raw_currency_unit_price"] == "7.49"
    for line, sent in zip(doc.lines, body["invoice_lines"], strict=True):
        # Pennylane's own arithmetic on what is sent gives the planned net.
        net = (D(str(sent["quantity"])) * D(sent["raw_currency_unit_price"])).quantize(D("0.01"))
        assert net == line.net


def test_the_fit_prefers_lines_of_the_same_account(txns: list[LedgerTxn]) -> None:
    doc = m.plan(txn(txns, "i4"), "key-i4")
    assert isinstance(doc, m.DocumentPlan)
    assert doc.total == D("97.00")
    assert by_number(m.predicted_reconciliation(doc).items()) == {"44571": D("16.17"), "44574": D("-16.17")}


def test_credit_note_has_negative_quantities_and_names_its_invoice(txns: list[LedgerTxn]) -> None:
    t = txn(txns, "c2")
    doc = m.plan(t, "key-c2")
    assert isinstance(doc, m.DocumentPlan)
    assert (doc.kind, doc.number, doc.credited, doc.label) == ("credit_note", "AV-1", "F-2", "Avoir AV-1")
    assert doc.total == ledger_total(t, "411") == D("-8.00")
    assert [line.quantity for line in doc.lines] == [D(-1)]
    body = m.document_body(doc, 7, {line.account: 1 for line in doc.lines}, {})
    assert (body["invoice_lines"][0]["quantity"], body["invoice_lines"][0]["raw_currency_unit_price"]) == (-1, "6.67")
    # F-2 was unpaid: the ledger cancels its share of pending VAT (44574, pro rata of the
    # invoice's mixed rates: 1.20) and 0.13 of due VAT; Pennylane reverses all 1.33 on 44571.
    assert by_number((line.account, line.amount) for line in doc.local if line.account.number.startswith("445")) \
        == {"44574": D("1.20"), "44571": D("0.13")}
    assert by_number(m.predicted_reconciliation(doc).items()) == {"44574": D("1.20"), "44571": D("-1.20")}
    paid_off = m.plan(txn(txns, "c1"), "key-c1")
    assert isinstance(paid_off, m.DocumentPlan)
    assert m.predicted_reconciliation(paid_off) == {}  # F-1 was paid: its VAT was already due


def test_debits_policy_needs_no_vat_reconciliation(debits_ledger: Path) -> None:
    result = record_batch(debits_ledger, jsonl(invoice("i", "F-9", [("3", "10.00", "10")])))
    assert not result.problems
    doc = m.plan(read_transactions(debits_ledger)[0], "k")
    assert isinstance(doc, m.DocumentPlan)
    assert m.predicted_reconciliation(doc) == {}


# -- entries --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("event_id", "expected"), [
    ("d1", {"512": D("90.00"), "4191": D("-90.00"), "44588": D("15.00"), "44571": D("-15.00")}),
    ("p1", {"512": D("210.00"), "411": D("-210.00"), "44574": D("35.00"), "44571": D("-35.00")}),
    ("r1", {"411": D("36.00"), "512": D("-36.00")}),
    ("f3", {"4191": D("60.00"), "7581": D("-60.00"), "44571": D("10.00"), "44588": D("-10.00")}),
    ("f4", {"4191": D("30.00"), "706": D("-25.00"), "44588": D("-5.00")}),
    ("r5", {"4191": D("50.00"), "512": D("-50.00"), "44571": D("8.33"), "44588": D("-8.33")}),
    ("v1", {"512": D("100.00"), "4191": D("-100.00")}),
    ("v2", {"530": D("60.00"), "4191": D("-60.00"), "44588": D("10.00"), "44571": D("-10.00")}),
    ("p3", {"4191": D("72.00"), "411": D("-72.00"), "44574": D("12.00"), "44571": D("-12.00")}),
    ("k1", {"530": D("150.00"), "58": D("-150.00")}),
    ("k2", {"58": D("100.00"), "530": D("-100.00")}),
    ("k3", {"6064": D("12.40"), "530": D("-12.40")}),
    ("k4", {"658": D("0.50"), "530": D("-0.50")}),
])
def test_cash_movements_are_cash_journal_entries_one_line_per_posting(txns: list[LedgerTxn], event_id: str,
                                                                      expected: dict[str, Decimal]) -> None:
    t = txn(txns, event_id)
    entry = m.plan(t, f"key-{event_id}")
    assert isinstance(entry, m.EntryPlan)
    assert (entry.journal, entry.date, entry.piece_number) == ("cash", t.date, f"key-{event_id}")
    assert len(entry.lines) == len([p for p in t.postings if p.amount])
    folded = {("411" if n.startswith("411") else n): v
              for n, v in by_number((line.account, line.amount) for line in entry.lines).items()}
    assert folded == expected


def test_customer_receivables_stay_on_the_customers_account_and_settle_their_invoice(txns: list[LedgerTxn]) -> None:
    applied = m.plan(txn(txns, "i1", "deposit-applied"), "key-a")
    assert isinstance(applied, m.EntryPlan)
    assert (applied.journal, applied.invoice, applied.customer) == ("od", "F-1", None)
    receivable = applied.receivable_lines[0]
    assert receivable.account.customer == "C-C0042" and receivable.amount == D("-90.00")
    assert receivable.account == m.map_account("Assets:411-Clients:C-C0042")
    for event_id in ("p1", "r1", "p3"):
        entry = m.plan(txn(txns, event_id), "k")
        assert isinstance(entry, m.EntryPlan) and entry.invoice is not None and entry.customer == "C0042"
    deposit_entry = m.plan(txn(txns, "d1"), "k")
    assert isinstance(deposit_entry, m.EntryPlan)
    assert deposit_entry.invoice is None and not deposit_entry.receivable_lines
    # Every 4191 sub-account (customers, gift vouchers) is the general 4191.
    assert {line.account for line in deposit_entry.lines if line.account.number == "4191"} == {m.Account("4191")}


def test_entry_body(txns: list[LedgerTxn]) -> None:
    entry = m.plan(txn(txns, "p1"), "key-p1")
    assert isinstance(entry, m.EntryPlan)
    ids = {line.account: i for i, line in enumerate(entry.lines, start=1)}
    body = m.entry_body(entry, 5, ids)
    assert {k: v for k, v in body.items() if k != "ledger_entry_lines"} == {
        "date": "2026-06-20", "label": "Règlement facture F-1 — Jean Dupont", "journal_id": 5,
        "piece_number": "key-p1"}
    assert [(x["ledger_account_id"], x["debit"], x["credit"]) for x in body["ledger_entry_lines"]] == [
        (1, "210.00", "0.00"), (2, "0.00", "210.00"), (3, "35.00", "0.00"), (4, "0.00", "35.00")]
    assert m.lettering_body([9, 10]) == {"unbalanced_lettering_strategy": "partial",
                                         "ledger_entry_lines": [{"id": 9}, {"id": 10}]}


# -- reference data --------------------------------------------------------------------------------

def test_vat_codes() -> None:
    assert [m.vat_code(D(r)) for r in ("20", "10", "5.5", "2.1", "0", "8.5", "20.0")] == [
        "FR_200", "FR_100", "FR_55", "FR_21", "exempt", "FR_85", "FR_200"]
    with pytest.raises(PermanentError, match="7%"):
        m.vat_code(D(7))


def test_customer_accounts_are_deterministic_readable_and_distinct() -> None:
    number = m.customer_account_number("C-CUST-0001")
    assert number == m.customer_account_number("C-CUST-0001")
    assert number.startswith("411CUST0001") and len(number) <= 20 and number.isalnum()
    assert m.customer_account_number("C-CUST0001") != number
    assert len(m.customer_account_number("C-" + "X" * 40 + "-1234abcd")) == 20


def test_customer_bodies() -> None:
    account = m.map_account("Assets:411-Clients:C-C0042")
    path, body = m.customer_request(m.CustomerPlan("C0042", account, "Jean Dupont", "individual", "j@example.org"))
    assert path == "/individual_customers"
    assert body == {"billing_address": {"address": "", "postal_code": "", "city": "", "country_alpha2": "FR"},
                    "external_reference": "C0042", "ledger_account": {"number": account.number},
                    "emails": ["j@example.org"], "first_name": "Jean", "last_name": "Dupont"}
    path, body = m.customer_request(m.CustomerPlan("ACME-1", account, "Acme SARL", "company", None, "FR1"))
    assert path == "/company_customers" and body["name"] == "Acme SARL" and body["vat_number"] == "FR1"


def test_describe_lists_the_requests_of_every_kind(txns: list[LedgerTxn]) -> None:
    lines = m.describe(txn(txns, "i1"), "K", CODES)
    assert lines[1].startswith("POST /customer_invoices Facture F-1 2026-06-20: 1 line(s), 250.00 + VAT 50.00")
    assert lines[-1] == "POST /ledger_entries journal OD 2026-06-20 piece K-od: 44571 D 50.00 / 44574 C 50.00"
    assert any("link_credit_note" in x for x in m.describe(txn(txns, "c2"), "K", CODES))
    payment_lines = m.describe(txn(txns, "p1"), "K", CODES)
    assert payment_lines[-2].startswith("POST /ledger_entries journal CA 2026-06-20 piece K: 512 D 210.00")
    assert payment_lines[-1].startswith("POST /ledger_entry_lines/lettering")
    assert m.describe(txn(txns, "i1", "deposit-applied"), "K", CODES)[-2].startswith("POST /ledger_entries journal OD")
    for t in txns:
        assert m.describe(t, "K", CODES)


# -- the client's error translation (MockTransport) ---------------------------------------------------

TOKEN = "s3cret-token-never-printed"


def client_for(handler: Any) -> PennylaneClient:
    http = httpx.Client(base_url="https://pennylane.test/api/external/v2", transport=httpx.MockTransport(handler),
                        headers={"authorization": f"Bearer {TOKEN}"})
    return PennylaneClient(http, pacer=Pacer(1000, 1.0))


@pytest.mark.parametrize(("status", "body", "error", "needle"), [
    (401, {"error": "The access token is invalid", "status": 401}, AuthError, "access token is invalid"),
    (403, {"error": 'Access to this resource requires scope "ledger_entries:all".', "status": 403}, AuthError,
     "ledger_entries:all"),
    (422, {"error": "Entry lines are not balanced", "status": 422}, PermanentError, "not balanced"),
    (400, {"message": "quantity must be a number", "field": "invoice_lines[0].quantity", "code": "ValidateError"},
     PermanentError, "field invoice_lines[0].quantity"),
    (404, {"error": "Couldn't find Journal with 'id'=1", "status": 404}, PermanentError, "Couldn't find Journal"),
    (409, {"error": "unprocessable_entity", "message": "Duplicate", "details": {"ref": "x"}}, PermanentError,
     'Duplicate {"ref": "x"}'),
    (500, {"error": "Internal Server Error", "status": 500}, TransientError, "Internal Server Error"),
    (503, None, TransientError, "503"),
])
def test_http_errors_are_translated_once(status: int, body: Any, error: type[Exception], needle: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body) if body is not None else httpx.Response(status, text="")

    with pytest.raises(error) as caught:
        client_for(handler).request("POST", "/ledger_entries", body={"x": 1})
    assert needle in str(caught.value)
    assert str(caught.value).startswith(f"POST /ledger_entries: {status}")
    assert caught.value.status == status  # type: ignore[attr-defined]
    assert TOKEN not in str(caught.value)
    if error is PermanentError:
        assert not isinstance(caught.value, TransientError)


def test_429_carries_retry_after() -> None:
    answers = iter([
        httpx.Response(429, text="Rate limit exceeded. Please retry in 3 seconds.", headers={"retry-after": "3"}),
        httpx.Response(429, text="slow down"),
    ])
    client = client_for(lambda request: next(answers))
    with pytest.raises(RateLimited) as caught:
        client.request("GET", "/journals")
    assert caught.value.retry_after_s == 3.0 and "Please retry in 3 seconds" in caught.value.message
    assert isinstance(caught.value, TransientError)
    with pytest.raises(RateLimited) as caught:
        client.request("GET", "/journals")
    assert caught.value.retry_after_s == 5.0  # missing header: one whole window


def test_retry_after_as_a_date() -> None:
    now = datetime.datetime(2026, 11, 23, 12, 0, 0, tzinfo=datetime.UTC)
    later = email.utils.format_datetime(now + datetime.timedelta(seconds=7), usegmt=True)
    assert retry_after_s(later, now) == 7.0
    assert retry_after_s("garbage", now) == 5.0
    assert retry_after_s("0", now) == 0.0


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"),
                                 httpx.RemoteProtocolError("peer closed connection")])
def test_transport_failures_are_transient(exc: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(TransientError) as caught:
        client_for(handler).request("POST", "/customer_invoices", body={})
    assert caught.value.__cause__ is exc
    assert caught.value.message.startswith("POST /customer_invoices:")


def test_success_bodies() -> None:
    answers = iter([httpx.Response(204), httpx.Response(200, text="<html>oops</html>")])
    client = client_for(lambda request: next(answers))
    assert client.request("PUT", "/customer_invoices/1/mark_as_paid") is None
    with pytest.raises(TransientError, match="not JSON"):
        client.request("GET", "/me")


def test_lists_resend_filter_and_sort_with_the_cursor() -> None:
    seen: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        seen.append(params)
        if "cursor" not in params:
            return httpx.Response(200, json={"items": [{"id": 1}], "has_more": True, "next_cursor": "abc"})
        return httpx.Response(200, json={"items": [{"id": 2}], "has_more": False, "next_cursor": None})

    client = client_for(handler)
    assert [c["id"] for c in client.list_all("/customers", filters=[{"field": "name", "operator": "eq",
                                                                     "value": "A"}])] == [1, 2]
    assert seen[1]["cursor"] == "abc"
    for params in seen:
        assert json.loads(params["filter"]) == [{"field": "name", "operator": "eq", "value": "A"}]
        assert params["sort"] == "id" and params["limit"] == "100"
    assert client.requests == 2
