"""DESIGN §3's worked example, checked through bean-query on the real ledger."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from conftest import assert_clean, bean_query, jsonl, number_balances, partida
from factories import deposit, invoice, payment

WORKED = [
    deposit("e1", "B-1001", "90.00", "2026-05-10"),
    invoice("e2", "F-1", [("2", "125.00", "20")], "2026-06-20", booking="B-1001",
            totals={"net": "250.00", "vat": [{"rate": "20", "amount": "50.00"}], "gross": "300.00"}),
    payment("e3", "F-1", "210.00", "2026-06-20"),
]

EXPECTED = {
    "411": Decimal("0"), "4191": Decimal("0"), "44574": Decimal("0"), "44588": Decimal("0"),
    "44571": Decimal("-50.00"), "706": Decimal("-250.00"), "512": Decimal("300.00"),
}


@pytest.mark.parametrize("policy", ["receipts", "debits"])
def test_worked_example_balances_through_bean_query(tmp_path: Path, policy: str) -> None:
    root = tmp_path / "l"
    partida("init", "--ledger", str(root), "--company", "Demo", "--vat-policy", policy, check=True)
    partida("record", "--ledger", str(root), "-", input=jsonl(*WORKED), check=True)
    assert_clean(root)
    balances = number_balances(root)
    for number, expected in EXPECTED.items():
        assert balances.get(number, Decimal(0)) == expected, (number, balances)


def test_worked_example_postings_are_the_designs(ledger: Path) -> None:
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*WORKED), check=True)
    rows = bean_query(ledger / "main.beancount",
                      "SELECT entry_meta('event-id') AS evt, entry_meta('step') AS step, account, number "
                      "ORDER BY date, lineno")
    got = [(r["evt"], r["step"], r["account"].split(":")[1].split("-")[0], Decimal(r["number"])) for r in rows]
    assert got == [
        ("e1", "", "512", Decimal("90.00")), ("e1", "", "4191", Decimal("-90.00")),
        ("e1", "", "44588", Decimal("15.00")), ("e1", "", "44571", Decimal("-15.00")),
        ("e2", "", "411", Decimal("300.00")), ("e2", "", "706", Decimal("-250.00")),
        ("e2", "", "44574", Decimal("-50.00")),
        ("e2", "deposit-applied", "4191", Decimal("90.00")), ("e2", "deposit-applied", "411", Decimal("-90.00")),
        ("e2", "deposit-applied", "44574", Decimal("15.00")), ("e2", "deposit-applied", "44588", Decimal("-15.00")),
        ("e3", "", "512", Decimal("210.00")), ("e3", "", "411", Decimal("-210.00")),
        ("e3", "", "44574", Decimal("35.00")), ("e3", "", "44571", Decimal("-35.00")),
    ]


def test_booking_link_gathers_everything_of_the_booking(ledger: Path) -> None:
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*WORKED), check=True)
    rows = bean_query(ledger / "main.beancount",
                      "SELECT DISTINCT entry_meta('event-id') AS evt WHERE 'booking-B-1001' IN links")
    assert sorted(r["evt"] for r in rows) == ["e1", "e2", "e3"]
    rows = bean_query(ledger / "main.beancount",
                      "SELECT DISTINCT entry_meta('event-id') AS evt WHERE 'invoice-F-1' IN links")
    assert sorted(r["evt"] for r in rows) == ["e2", "e3"]
