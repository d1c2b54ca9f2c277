"""Posting rules against the worked entries of accounting-rules.md (§2.6–2.9, §3)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from conftest import assert_clean, jsonl
from factories import cash, credit_note, deposit, forfeit, invoice, payment, refund, voucher

from engine import beans
from engine.ledger import record_batch

D = Decimal


def record(root: Path, *events: dict) -> None:
    result = record_batch(root, jsonl(*events))
    assert not result.problems, [str(p) for p in result.problems]


def postings_of(root: Path, event_id: str) -> dict[str, Decimal]:
    """Net amount per PCG number over the transactions of one event."""
    entries, errors, _ = beans.load(root / "main.beancount")
    assert not errors, beans.format_errors(errors)
    out: dict[str, Decimal] = defaultdict(Decimal)
    for e in entries:
        if beans.is_transaction(e) and e.meta.get("event-id") == event_id:
            for p in e.postings:
                out[p.account.split(":")[1].split("-")[0]] += p.units.number
    return {k: v for k, v in out.items() if v}


def balances(root: Path) -> dict[str, Decimal]:
    entries, _, _ = beans.load(root / "main.beancount")
    out: dict[str, Decimal] = defaultdict(Decimal)
    for e in entries:
        if beans.is_transaction(e):
            for p in e.postings:
                out[p.account.split(":")[1].split("-")[0]] += p.units.number
    return {k: v for k, v in out.items() if v}


def test_full_refund_of_a_deposit_reverses_its_vat(ledger: Path) -> None:
    record(ledger, deposit("d", "B1", "90.00"), refund("r", "90.00", booking="B1"))
    assert postings_of(ledger, "r") == {"4191": D("90.00"), "512": D("-90.00"), "44571": D("15.00"), "44588": D("-15.00")}
    assert balances(ledger) == {}
    assert_clean(ledger)


def test_partial_refund_then_penalty_forfeit_reverses_vat_on_both(ledger: Path) -> None:
    record(ledger, deposit("d", "B1", "90.00"), refund("r", "60.00", booking="B1"),
           forfeit("f", "B1", "30.00", "penalty", "2026-07-03"))
    assert postings_of(ledger, "r") == {"4191": D("60.00"), "512": D("-60.00"), "44571": D("10.00"), "44588": D("-10.00")}
    assert postings_of(ledger, "f") == {"4191": D("30.00"), "7581": D("-30.00"), "44571": D("5.00"), "44588": D("-5.00")}
    assert balances(ledger) == {"512": D("30.00"), "7581": D("-30.00")}


def test_forfeit_as_consideration_keeps_the_vat(ledger: Path) -> None:
    record(ledger, deposit("d", "B1", "90.00"), forfeit("f", "B1", "90.00", "consideration"))
    assert postings_of(ledger, "f") == {"4191": D("90.00"), "706": D("-75.00"), "44588": D("-15.00")}
    assert balances(ledger) == {"512": D("90.00"), "706": D("-75.00"), "44571": D("-15.00")}


def test_credit_note_after_payment_then_refund_of_the_credit(ledger: Path) -> None:
    record(ledger,
           invoice("i", "F-1", [("1", "300.00", "20")], include_tax=True),
           payment("p", "F-1", "300.00"),
           credit_note("c", "AV-1", "F-1", [("1", "60.00", "20")]),
           refund("r", "60.00", invoice="F-1"))
    # The credit note follows the invoice's convention: prices include tax.
    assert postings_of(ledger, "c") == {"706": D("50.00"), "44571": D("10.00"), "411": D("-60.00")}
    assert postings_of(ledger, "r") == {"411": D("60.00"), "512": D("-60.00")}
    assert balances(ledger) == {"512": D("240.00"), "706": D("-200.00"), "44571": D("-40.00")}


def test_credit_note_on_unpaid_invoice_cancels_pending_vat(ledger: Path) -> None:
    record(ledger, invoice("i", "F-1", [("1", "100.00", "20")]),
           credit_note("c", "AV-1", "F-1", [("1", "100.00", "20")]))
    assert postings_of(ledger, "c") == {"706": D("100.00"), "44574": D("20.00"), "411": D("-120.00")}
    assert balances(ledger) == {}


def test_invoice_before_payment_moves_vat_when_paid_in_parts(ledger: Path) -> None:
    record(ledger, invoice("i", "F-1", [("1", "1000.00", "20")]),
           payment("p1", "F-1", "400.00"), payment("p2", "F-1", "800.00"))
    assert postings_of(ledger, "p1") == {"512": D("400.00"), "411": D("-400.00"), "44574": D("66.67"), "44571": D("-66.67")}
    assert postings_of(ledger, "p2") == {"512": D("800.00"), "411": D("-800.00"), "44574": D("133.33"), "44571": D("-133.33")}
    assert balances(ledger) == {"512": D("1200.00"), "706": D("-1000.00"), "44571": D("-200.00")}


def test_debits_policy_books_invoice_vat_as_due(debits_ledger: Path) -> None:
    record(debits_ledger, invoice("i", "F-1", [("1", "1000.00", "20")]))
    assert postings_of(debits_ledger, "i") == {"411": D("1200.00"), "706": D("-1000.00"), "44571": D("-200.00")}
    record(debits_ledger, payment("p", "F-1", "1200.00"))
    assert postings_of(debits_ledger, "p") == {"512": D("1200.00"), "411": D("-1200.00")}


def test_overpayment_stays_on_4191_as_a_customer_credit(ledger: Path) -> None:
    record(ledger, invoice("i", "F-1", [("1", "100.00", "20")]), payment("p", "F-1", "125.00"))
    assert postings_of(ledger, "p") == {"512": D("125.00"), "411": D("-120.00"), "4191": D("-5.00"),
                                        "44574": D("20.00"), "44571": D("-20.00")}
    record(ledger, refund("r", "5.00", invoice="F-1"))
    assert balances(ledger) == {"512": D("120.00"), "706": D("-100.00"), "44571": D("-20.00")}


def test_deposit_after_the_invoice_is_applied_at_once(ledger: Path) -> None:
    record(ledger, invoice("i", "F-1", [("1", "100.00", "20")], booking="B1"), deposit("d", "B1", "120.00"))
    assert balances(ledger) == {"512": D("120.00"), "706": D("-100.00"), "44571": D("-20.00")}


def test_deposits_larger_than_the_invoice_leave_the_rest_on_4191(ledger: Path) -> None:
    record(ledger, deposit("d", "B1", "150.00"), invoice("i", "F-1", [("1", "100.00", "20")], booking="B1"))
    assert balances(ledger) == {"512": D("150.00"), "706": D("-100.00"), "44571": D("-25.00"),
                                "4191": D("-30.00"), "44588": D("5.00")}


def test_single_purpose_voucher_taxed_at_sale_and_not_again_when_used(ledger: Path) -> None:
    record(ledger, voucher("v", "BON-1", "55.00", "single", vat_rate="10"))
    assert postings_of(ledger, "v") == {"512": D("55.00"), "4191": D("-55.00"), "44588": D("5.00"), "44571": D("-5.00")}
    record(ledger, invoice("i", "F-1", [("1", "55.00", "10")], include_tax=True),
           payment("p", "F-1", "55.00", method="voucher", voucher="BON-1"))
    assert balances(ledger) == {"512": D("55.00"), "706": D("-50.00"), "44571": D("-5.00")}


def test_multi_purpose_voucher_taxed_only_when_used(ledger: Path) -> None:
    record(ledger, voucher("v", "BON-2", "50.00", "multi"))
    assert postings_of(ledger, "v") == {"512": D("50.00"), "4191": D("-50.00")}
    record(ledger, invoice("i", "F-1", [("1", "50.00", "20")], include_tax=True),
           payment("p", "F-1", "30.00", method="voucher", voucher="BON-2"),
           payment("p2", "F-1", "20.00", method="voucher", voucher="BON-2"))
    assert balances(ledger) == {"512": D("50.00"), "706": D("-41.67"), "44571": D("-8.33")}


def test_cash_movements(ledger: Path) -> None:
    record(ledger, cash("f", "float", "100.00"), cash("x", "expense", "12.50", account="6063", label="Ampoules"),
           cash("b", "bank_deposit", "60.00"), cash("s", "difference", "-0.50"), cash("o", "difference", "0.20"))
    assert postings_of(ledger, "x") == {"6063": D("12.50"), "530": D("-12.50")}
    assert postings_of(ledger, "s") == {"658": D("0.50"), "530": D("-0.50")}
    assert postings_of(ledger, "o") == {"530": D("0.20"), "758": D("-0.20")}
    assert balances(ledger)["530"] == D("27.20")
    assert balances(ledger)["58"] == D("-40.00")


def test_mixed_rates_and_printed_totals_within_a_cent(ledger: Path) -> None:
    # Three lines at 9.99 TTC, 10%: per-rate VAT is 2.72; a till printing 2.73 is within tolerance.
    ev = invoice("i", "F-1", [("1", "9.99", "10")] * 3, include_tax=True,
                 totals={"net": "27.24", "vat": [{"rate": "10", "amount": "2.73"}], "gross": "29.97"})
    record(ledger, ev)
    assert postings_of(ledger, "i") == {"411": D("29.97"), "706": D("-27.24"), "44574": D("-2.73")}
