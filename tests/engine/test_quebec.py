"""Québec chart (ca-qc): accounting-rules §5.2 cases A and B, forfeits, per-line
rounding, vouchers, refunds, credit notes and bad input — through the real CLI,
balances read back with the real bean-query."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import assert_clean, bean_query, jsonl, number_balances, partida, snapshot
from factories import credit_note, deposit, forfeit, invoice, payment, refund, voucher

QC = {"ref": "QC-0001", "name": "Marie-Ève Tremblay", "kind": "individual"}
BOOKING_300 = [("1", "300.00", "14.975")]  # 300.00 + GST 15.00 + QST 29.93 = 344.93


def qc_deposit(id: str, booking: str, amount: str, vat_rate: str | None = None, **extra: object) -> dict:
    return deposit(id, booking, amount, vat_rate=vat_rate, customer=QC, **extra)


def qc_invoice(id: str, number: str, lines: list[tuple[str, str, str]], **extra: object) -> dict:
    return invoice(id, number, lines, customer=QC, **extra)


@pytest.fixture
def qc(tmp_path: Path) -> Path:
    root = tmp_path / "qc"
    result = partida("init", "--ledger", str(root), "--company", "Aventures Laurentides inc.", "--chart", "ca-qc",
                     check=True)
    assert "chart ca-qc, CAD, VAT on debits" in result.stdout
    return root


def record(root: Path, *events: dict) -> None:
    partida("record", "--ledger", str(root), "-", input=jsonl(*events), check=True)
    assert_clean(root)


def postings_of(root: Path, event_id: str) -> list[tuple[str, Decimal]]:
    rows = bean_query(root / "main.beancount",
                      f"SELECT account, number WHERE entry_meta('event-id') = '{event_id}' ORDER BY lineno")
    return [(r["account"].split(":")[1], Decimal(r["number"])) for r in rows]


def assert_balances(root: Path, expected: dict[str, str]) -> None:
    got = number_balances(root)
    for number, amount in expected.items():
        assert got.get(number, Decimal(0)) == Decimal(amount), (number, got)


def test_init_writes_a_cad_chart_with_numbered_accounts(qc: Path) -> None:
    toml = (qc / "partida.toml").read_text()
    assert 'chart = "ca-qc"' in toml and 'currency = "CAD"' in toml and 'vat_policy = "debits"' in toml
    assert 'cheque = "1300"' in toml  # cheques wait in Undeposited Funds
    accounts = (qc / "accounts.beancount").read_text()
    for name in ("Assets:1200-AccountsReceivable", "Liabilities:2400-CustomerDeposits",
                 "Liabilities:2310-GSTHSTPayable", "Liabilities:2320-QSTPayable", "Income:4000-Sales",
                 "Liabilities:2400-CustomerDeposits:GiftCertificates"):
        assert f"open {name} CAD" in accounts
    assert 'number: "2320"' in accounts
    assert_clean(qc)


def test_init_refuses_the_receipts_policy_on_ca_qc(tmp_path: Path) -> None:
    result = partida("init", "--ledger", str(tmp_path / "x"), "--company", "X", "--chart", "ca-qc",
                     "--vat-policy", "receipts")
    assert result.returncode != 0
    assert result.stderr.count("error:") == 1 and "debits only" in result.stderr
    assert not (tmp_path / "x").exists()


def test_case_a_security_deposit_applied_then_balance_paid(qc: Path) -> None:
    record(qc, qc_deposit("a1", "B-A", "100.00"),
           qc_invoice("a2", "INV-1", BOOKING_300, booking="B-A",
                      totals={"net": "300.00", "vat": [{"rate": "5", "amount": "15.00"},
                                                       {"rate": "9.975", "amount": "29.93"}], "gross": "344.93"}))
    # Deposit received: no tax; invoice: full tax; deposit applied: 2400 -> 1200.
    assert postings_of(qc, "a1") == [("1000-Bank", Decimal("100.00")), ("2400-CustomerDeposits", Decimal("-100.00"))]
    assert_balances(qc, {"1200": "244.93", "2400": "0", "2310": "-15.00", "2320": "-29.93", "4000": "-300.00"})
    record(qc, payment("a3", "INV-1", "244.93", method="cheque"))
    assert_balances(qc, {"1200": "0", "2400": "0", "1000": "100.00", "1300": "244.93",
                         "2310": "-15.00", "2320": "-29.93"})


def test_case_a_alternative_security_deposit_forfeited(qc: Path) -> None:
    record(qc, qc_deposit("f1", "B-F", "100.00"), forfeit("f2", "B-F", "100.00", "penalty"))
    # Taxes deemed included, each on the whole deposit (ETA s. 182).
    assert postings_of(qc, "f2") == [
        ("2400-CustomerDeposits", Decimal("100.00")), ("2310-GSTHSTPayable", Decimal("-4.76")),
        ("2320-QSTPayable", Decimal("-9.07")), ("4900-ForfeitedDeposits", Decimal("-86.17"))]
    assert_balances(qc, {"2400": "0"})


def test_security_deposit_kept_as_consideration_is_taxed_as_included_in_the_price(qc: Path) -> None:
    record(qc, qc_deposit("g1", "B-G", "114.98"), forfeit("g2", "B-G", "114.98", "consideration"))
    assert_balances(qc, {"2400": "0", "2310": "-5.00", "2320": "-9.98", "4000": "-100.00"})


def test_case_b_prepayment_taxed_on_receipt_and_not_twice_at_invoice(qc: Path) -> None:
    record(qc, qc_deposit("b1", "B-B", "114.98", nature="prepayment", vat_rate="14.975"))
    assert postings_of(qc, "b1") == [
        ("1000-Bank", Decimal("114.98")), ("2400-CustomerDeposits", Decimal("-100.00")),
        ("2310-GSTHSTPayable", Decimal("-5.00")), ("2320-QSTPayable", Decimal("-9.98"))]
    record(qc, qc_invoice("b2", "INV-2", BOOKING_300, booking="B-B"))
    assert_balances(qc, {"1200": "229.95", "2400": "0", "2310": "-15.00", "2320": "-29.93", "4000": "-300.00"})
    record(qc, payment("b3", "INV-2", "229.95", method="transfer"))
    assert_balances(qc, {"1200": "0", "1000": "344.93", "2310": "-15.00", "2320": "-29.93"})


def test_prepayment_sent_as_acompte_with_explicit_taxes(qc: Path) -> None:
    record(qc, qc_deposit("b1", "B-B", "114.98", nature="acompte",
                          vat=[{"rate": "9.975", "amount": "9.98"}, {"rate": "5", "amount": "5.00"}]))
    assert_balances(qc, {"2400": "-100.00", "2310": "-5.00", "2320": "-9.98"})


def test_forfeited_prepayment_keeps_the_tax_already_paid(qc: Path) -> None:
    record(qc, qc_deposit("p1", "B-P", "114.98", nature="prepayment", vat_rate="14.975"),
           forfeit("p2", "B-P", "114.98", "penalty"))
    assert postings_of(qc, "p2") == [("2400-CustomerDeposits", Decimal("100.00")),
                                     ("4900-ForfeitedDeposits", Decimal("-100.00"))]
    assert_balances(qc, {"2400": "0", "2310": "-5.00", "2320": "-9.98"})


def test_refunded_prepayment_takes_its_tax_back_and_security_deposit_has_none(qc: Path) -> None:
    record(qc, qc_deposit("r1", "B-R", "114.98", nature="prepayment", vat_rate="14.975"),
           qc_deposit("r2", "B-S", "50.00"),
           refund("r3", "114.98", booking="B-R"), refund("r4", "50.00", booking="B-S"))
    assert_balances(qc, {"2400": "0", "2310": "0", "2320": "0", "1000": "0"})


def test_three_lines_at_9_99_round_per_line_like_quickbooks(qc: Path) -> None:
    record(qc, qc_invoice("l1", "INV-3", [("1", "9.99", "14.975")] * 3))
    # Per line 0.4995 -> 0.50 and 0.9965 -> 1.00; on the total QST would be 2.99.
    assert_balances(qc, {"2310": "-1.50", "2320": "-3.00", "4000": "-29.97", "1200": "34.47"})


def test_a_negative_line_rounds_half_away_from_zero(qc: Path) -> None:
    record(qc, qc_invoice("n1", "INV-4", [("1", "300.00", "14.975"), ("1", "-100.00", "14.975")]))
    # -9.975 -> -9.98 (half away from zero), so QST 29.93 - 9.98 = 19.95, not 19.96.
    assert_balances(qc, {"2310": "-10.00", "2320": "-19.95", "1200": "229.95"})


def test_codes_gst_only_qst_only_and_zero_rated(qc: Path) -> None:
    record(qc, qc_invoice("c1", "INV-5", [("2", "10.00", "5"), ("1", "10.00", "9.975"), ("1", "7.00", "0")],
                          totals={"net": "37.00", "vat": [{"rate": "5", "amount": "1.00"},
                                                          {"rate": "9.975", "amount": "1.00"}], "gross": "39.00"}))
    assert_balances(qc, {"2310": "-1.00", "2320": "-1.00", "4000": "-37.00", "1200": "39.00"})


def test_printed_amounts_are_booked_and_their_gaps_stay_visible(qc: Path) -> None:
    # Lines: 3 x 9.99 -> GST 1.50, QST 3.00 per line. The invoice printed QST on
    # the total (2.99, as Revenu Québec allows) and a net one cent off.
    record(qc, qc_invoice("t1", "INV-6", [("1", "9.99", "14.975")] * 3,
                          totals={"net": "29.98", "vat": [{"rate": "5", "amount": "1.50"},
                                                          {"rate": "9.975", "amount": "2.99"}], "gross": "34.47"}))
    assert_balances(qc, {"2320": "-2.99", "2310": "-1.50", "4000": "-29.97", "5810": "-0.01", "1200": "34.47"})
    rows = bean_query(qc / "main.beancount",
                      "SELECT account, meta('per-line') AS per_line WHERE account ~ '2320'")
    assert [r["per_line"] for r in rows] == ["3.00"]


def test_credit_note_reverses_each_component(qc: Path) -> None:
    record(qc, qc_invoice("k1", "INV-7", BOOKING_300), payment("k2", "INV-7", "344.93"),
           credit_note("k3", "CN-1", "INV-7", [("1", "100.00", "14.975")]),
           refund("k4", "114.98", invoice="INV-7"))
    assert postings_of(qc, "k3") == [
        ("1200-AccountsReceivable", Decimal("-114.98")), ("4000-Sales", Decimal("100.00")),
        ("2310-GSTHSTPayable", Decimal("5.00")), ("2320-QSTPayable", Decimal("9.98"))]
    assert_balances(qc, {"1200": "0", "2400": "0", "2310": "-10.00", "2320": "-19.95", "1000": "229.95"})


def test_gift_voucher_is_untaxed_when_sold_and_taxed_when_used(qc: Path) -> None:
    record(qc, voucher("v1", "GC-1", "50.00", "multi"), voucher("v0", "GC-0", "20.00", "single"))
    assert_balances(qc, {"2310": "0", "2320": "0", "2400": "-70.00"})
    record(qc, qc_invoice("v2", "INV-8", [("1", "43.49", "14.975")]),
           payment("v3", "INV-8", "50.00", method="voucher", voucher="GC-1"))
    assert_balances(qc, {"2310": "-2.17", "2320": "-4.34", "2400": "-20.00", "1200": "0"})


def test_bad_input_on_ca_qc_one_clear_line_each_and_nothing_written(qc: Path) -> None:
    record(qc, qc_deposit("ok", "B-OK", "10.00"))
    before = snapshot(qc)
    cases = [
        (qc_invoice("rate", "INV-9", [("1", "10.00", "20")]), "field lines[0].vat_rate", "tax code 20 is not in the chart ca-qc"),
        (qc_deposit("sec", "B-X", "10.00", vat_rate="14.975"), "field nature", "security deposit"),
        (qc_deposit("pre", "B-Y", "10.00", nature="prepayment"), "field vat_rate", "required for a prepayment"),
        (voucher("vch", "GC-9", "10.00", "single", vat_rate="14.975"), "field vat_rate", "no GST/QST when sold"),
        (qc_invoice("tot", "INV-10", BOOKING_300,
                    totals={"net": "300.00", "vat": [{"rate": "14.975", "amount": "44.93"}], "gross": "344.93"}),
         "field totals.vat", "differ from the lines' rates {5, 9.975}"),
        (qc_invoice("off", "INV-11", BOOKING_300,
                    totals={"net": "300.00", "vat": [{"rate": "5", "amount": "15.00"},
                                                     {"rate": "9.975", "amount": "29.95"}], "gross": "344.95"}),
         "field totals.vat", "VAT at 9.975% is 29.95 but the lines give 29.93"),
    ]
    result = partida("record", "--ledger", str(qc), "-", input=jsonl(*(c[0] for c in cases)))
    assert result.returncode != 0
    problems = [line for line in result.stderr.splitlines() if line.startswith("line ")]
    for event, field, words in cases:
        mine = [p for p in problems if f"event {event['id']!r}" in p]
        assert len(mine) == 1 and field in mine[0] and words in mine[0], (event["id"], problems)
    assert "nothing was written" in result.stderr
    assert snapshot(qc) == before


def test_fr_pcg_still_refuses_quebec_codes(tmp_path: Path) -> None:
    root = tmp_path / "fr"
    partida("init", "--ledger", str(root), "--company", "X", check=True)
    result = partida("record", "--ledger", str(root), "-",
                     input=jsonl(invoice("i", "F-1", [("1", "10.00", "14.975")])))
    assert result.returncode != 0 and "VAT rate 14.975 is not in the chart fr-pcg" in result.stderr
    assert json.loads((root / "partida.toml").read_text().split("chart = ")[1].split("\n")[0]) == "fr-pcg"
