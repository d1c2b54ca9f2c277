"""Property tests: random interleaved bookings always balance and close to zero."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from conftest import jsonl
from factories import credit_note, deposit, forfeit, invoice, payment, refund
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import beans
from engine.check import run_check
from engine.ledger import init_ledger, record_batch
from engine.settings import Settings

CENT = Decimal("0.01")
RATES = ["20", "10", "5.5", "0"]


def expected_gross(lines: list[tuple[str, str, str]], include_tax: bool) -> Decimal:
    """Independent re-statement of the per-rate totals rule (not the engine's code)."""
    by_rate: dict[str, Decimal] = defaultdict(Decimal)
    for q, p, r in lines:
        by_rate[r] += (Decimal(q) * Decimal(p)).quantize(CENT, ROUND_HALF_UP)
    if include_tax:
        return sum(by_rate.values(), Decimal(0))
    return sum((n + (n * Decimal(r) / 100).quantize(CENT, ROUND_HALF_UP) for r, n in by_rate.items()), Decimal(0))


def split(total: Decimal, cuts: list[int]) -> list[Decimal]:
    """Split ``total`` into positive parts at the given per-mille cut points."""
    cents = int(total * 100)
    points = sorted({c * cents // 1000 for c in cuts if 0 < c * cents // 1000 < cents})
    edges = [0, *points, cents]
    return [Decimal(b - a) / 100 for a, b in zip(edges, edges[1:]) if b > a]


line_st = st.tuples(st.sampled_from(["1", "2", "3"]), st.integers(1, 40000).map(lambda c: f"{c / 100:.2f}"),
                    st.sampled_from(RATES))


@st.composite
def booking_plan(draw: st.DrawFn, n: int) -> list[dict]:
    ref = f"B{n}"
    customer = {"ref": f"C{draw(st.integers(0, 2))}", "name": f"Client {n}", "kind": "individual"}
    if draw(st.integers(0, 4)) == 0:  # a cancelled booking: refund part, forfeit the rest
        amount = Decimal(draw(st.integers(100, 50000))) / 100
        parts = split(amount, draw(st.lists(st.integers(1, 999), max_size=1)))
        events = [deposit(f"{ref}-d", ref, f"{amount:.2f}", customer=customer, vat_rate=draw(st.sampled_from(RATES)))]
        events.append(refund(f"{ref}-r", f"{parts[0]:.2f}", booking=ref))
        if len(parts) > 1:
            events.append(forfeit(f"{ref}-f", ref, f"{parts[1]:.2f}", draw(st.sampled_from(["penalty", "consideration"]))))
        return events
    lines = draw(st.lists(line_st, min_size=1, max_size=3))
    include_tax = draw(st.booleans())
    gross = expected_gross(lines, include_tax)
    pieces = split(gross, draw(st.lists(st.integers(1, 999), max_size=3)))
    n_deposits = draw(st.integers(0, min(2, len(pieces) - 1))) if len(pieces) > 1 else draw(st.integers(0, 1))
    deposits = [deposit(f"{ref}-d{i}", ref, f"{a:.2f}", customer=customer, vat_rate=draw(st.sampled_from(RATES)))
                for i, a in enumerate(pieces[:n_deposits])]
    inv = invoice(f"{ref}-i", f"F-{n}", lines, booking=ref, customer=customer, include_tax=include_tax)
    payments = [payment(f"{ref}-p{i}", f"F-{n}", f"{a:.2f}", method=draw(st.sampled_from(["card", "cash", "cheque"])))
                for i, a in enumerate(pieces[n_deposits:])]
    rate = lines[0][2]
    ending = draw(st.sampled_from(["paid", "credited-after", "credited-rest"]))
    if ending == "credited-rest" and payments:
        # The last instalment never comes: a credit note cancels exactly what is left.
        last = payments.pop()
        payments.append(credit_note(f"{ref}-c", f"AV-{n}", f"F-{n}", [("1", last["amount"], rate)],
                                    prices_include_tax=True))
    elif ending == "credited-after":
        # Paid in full, then a commercial credit note, refunded.
        amount = Decimal(draw(st.integers(1, max(1, int(gross * 100))))) / 100
        payments.append(credit_note(f"{ref}-c", f"AV-{n}", f"F-{n}", [("1", f"{amount:.2f}", rate)],
                                    prices_include_tax=True))
        payments.append(refund(f"{ref}-rc", f"{amount:.2f}", invoice=f"F-{n}"))
    # The platform may send a deposit after the invoice; payments always follow it.
    position = draw(st.integers(0, len(deposits)))
    return deposits[:position] + [inv] + deposits[position:] + payments


@st.composite
def season(draw: st.DrawFn) -> list[dict]:
    plans = [draw(booking_plan(n)) for n in range(draw(st.integers(1, 5)))]
    order = draw(st.permutations([i for i, plan in enumerate(plans) for _ in plan]))
    cursors = [0] * len(plans)
    events = []
    for i in order:  # interleave bookings, keeping each booking's own order
        events.append(plans[i][cursors[i]])
        cursors[i] += 1
    return events


CLOSING = ("411", "4191", "44574", "44588")


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=season(), policy=st.sampled_from(["receipts", "debits"]))
def test_every_sequence_balances_and_closed_bookings_are_zero(events: list[dict], policy: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "l"
        init_ledger(root, Settings(company="P", vat_policy=policy))
        result = record_batch(root, jsonl(*events))
        assert not result.problems, [str(p) for p in result.problems]
        entries, errors, _ = beans.load(root / "main.beancount")
        assert not errors, beans.format_errors(errors)
        per_booking: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
        for entry in entries:
            if not beans.is_transaction(entry):
                continue
            assert sum(p.units.number for p in entry.postings) == 0
            for p in entry.postings:
                number = p.account.split(":")[1].split("-")[0]
                for lk in entry.links:
                    if lk.startswith("booking-"):
                        per_booking[lk][number] += p.units.number
        for lk, sums in per_booking.items():
            for number in CLOSING:
                assert sums[number] == 0, (lk, number, dict(sums))
        bean_errors, problems, _ = run_check(root)
        assert not bean_errors and not problems, problems
