"""Property tests on the Québec chart: random interleaved bookings balance, close
to zero on receivables and customer deposits, and book GST/QST exactly as a
per-line, per-component computation gives."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from conftest import jsonl
from factories import credit_note, deposit, forfeit, invoice, payment, refund
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import split

from engine import beans
from engine.check import run_check
from engine.ledger import init_ledger, record_batch
from engine.settings import Settings

CENT = Decimal("0.01")
CODES = {"14.975": ("5", "9.975"), "5": ("5",), "9.975": ("9.975",), "0": ()}


def c(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def expected(lines: list[tuple[str, str, str]], include_tax: bool) -> tuple[Decimal, dict[str, Decimal]]:
    """Independent re-statement of QuickBooks' rule: per line, per component, rounded."""
    gross, taxes = Decimal(0), {"5": Decimal(0), "9.975": Decimal(0)}
    for q, p, code in lines:
        amount = c(Decimal(q) * Decimal(p))
        total = sum((Decimal(r) for r in CODES[code]), Decimal(0))
        for r in CODES[code]:
            tax = c(amount * Decimal(r) / (100 + total)) if include_tax else c(amount * Decimal(r) / 100)
            taxes[r] += tax
            gross += 0 if include_tax else tax
        gross += amount
    return gross, taxes


line_st = st.tuples(st.sampled_from(["1", "2", "3"]), st.integers(1, 40000).map(lambda n: f"{n / 100:.2f}"),
                    st.sampled_from(list(CODES)))


@st.composite
def booking_plan(draw: st.DrawFn, n: int) -> tuple[list[dict], dict[str, Decimal] | None]:
    """Events of one booking, and the GST/QST it must end with (None: not checked)."""
    ref = f"B{n}"
    customer = {"ref": f"Q{draw(st.integers(0, 2))}", "name": f"Client {n}", "kind": "individual"}

    def dep(i: int, amount: Decimal) -> dict:
        if draw(st.booleans()):
            return deposit(f"{ref}-d{i}", ref, f"{amount:.2f}", customer=customer, vat_rate=None,
                           nature=draw(st.sampled_from(["security", "arrhes"])))
        return deposit(f"{ref}-d{i}", ref, f"{amount:.2f}", customer=customer,
                       nature=draw(st.sampled_from(["prepayment", "acompte"])),
                       vat_rate=draw(st.sampled_from(list(CODES))))

    if draw(st.integers(0, 4)) == 0:  # cancelled: refund part, forfeit the rest
        amount = Decimal(draw(st.integers(100, 50000))) / 100
        parts = split(amount, draw(st.lists(st.integers(1, 999), max_size=1)))
        events = [dep(0, amount), refund(f"{ref}-r", f"{parts[0]:.2f}", booking=ref)]
        if len(parts) > 1:
            events.append(forfeit(f"{ref}-f", ref, f"{parts[1]:.2f}", draw(st.sampled_from(["penalty", "consideration"]))))
        return events, None
    lines = draw(st.lists(line_st, min_size=1, max_size=3))
    include_tax = draw(st.booleans())
    gross, taxes = expected(lines, include_tax)
    pieces = split(gross, draw(st.lists(st.integers(1, 999), max_size=3)))
    n_deposits = draw(st.integers(0, min(2, len(pieces) - 1))) if len(pieces) > 1 else draw(st.integers(0, 1))
    deposits = [dep(i, a) for i, a in enumerate(pieces[:n_deposits])]
    inv = invoice(f"{ref}-i", f"F-{n}", lines, booking=ref, customer=customer, include_tax=include_tax)
    payments = [payment(f"{ref}-p{i}", f"F-{n}", f"{a:.2f}", method=draw(st.sampled_from(["card", "cash", "cheque"])))
                for i, a in enumerate(pieces[n_deposits:])]
    checked: dict[str, Decimal] | None = taxes
    if draw(st.booleans()):  # paid in full, then a commercial credit note, refunded
        amount = Decimal(draw(st.integers(1, max(1, int(gross * 100))))) / 100
        payments.append(credit_note(f"{ref}-c", f"CN-{n}", f"F-{n}", [("1", f"{amount:.2f}", "0")],
                                    prices_include_tax=True))
        payments.append(refund(f"{ref}-rc", f"{amount:.2f}", invoice=f"F-{n}"))
    position = draw(st.integers(0, len(deposits)))
    return deposits[:position] + [inv] + deposits[position:] + payments, checked


@st.composite
def season(draw: st.DrawFn) -> tuple[list[dict], dict[str, dict[str, Decimal]]]:
    plans = [draw(booking_plan(n)) for n in range(draw(st.integers(1, 5)))]
    order = draw(st.permutations([i for i, (events, _) in enumerate(plans) for _ in events]))
    cursors = [0] * len(plans)
    events = []
    for i in order:
        events.append(plans[i][0][cursors[i]])
        cursors[i] += 1
    taxes = {f"booking-B{n}": t for n, (_, t) in enumerate(plans) if t is not None}
    return events, taxes


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(drawn=season())
def test_quebec_sequences_balance_close_and_tax_per_line(drawn: tuple[list[dict], dict[str, dict[str, Decimal]]]) -> None:
    events, taxes = drawn
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "l"
        init_ledger(root, Settings(company="P", chart_name="ca-qc"))
        result = record_batch(root, jsonl(*events))
        assert not result.problems, [str(p) for p in result.problems]
        entries, errors, _ = beans.load(root / "main.beancount")
        assert not errors, beans.format_errors(errors)
        per_booking: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for entry in entries:
            if not beans.is_transaction(entry):
                continue
            assert sum(p.units.number for p in entry.postings) == 0
            assert {p.units.currency for p in entry.postings} == {"CAD"}
            for p in entry.postings:
                number = p.account.split(":")[1].split("-")[0]
                for lk in entry.links:
                    if lk.startswith("booking-"):
                        per_booking[lk][number] += p.units.number
        for lk, sums in per_booking.items():
            assert sums["1200"] == 0 and sums["2400"] == 0, (lk, dict(sums))
            if lk in taxes:  # invoiced and paid: the booking's tax is the invoice's per-line tax
                assert -sums["2310"] == taxes[lk]["5"], (lk, dict(sums), taxes[lk])
                assert -sums["2320"] == taxes[lk]["9.975"], (lk, dict(sums), taxes[lk])
        bean_errors, problems, _ = run_check(root)
        assert not bean_errors and not problems, problems
