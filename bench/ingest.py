"""Ingest benchmark: how fast events are recorded, and how flat one record stays.

Prints figures; asserts nothing (beyond "the engine accepted the events").

1. Batch: one ``partida record`` process on a file of N synthetic events (100,000;
   10,000 with ``--quick``) into a fresh ledger: events/s, transactions/s and the
   child's peak RSS (``os.wait4`` rusage). The same batch is then recorded
   in-process with ``engine.ledger.record_batch`` for the engine-only rate.
2. Single event: ``partida record`` of one new event (end to end, process start
   included; median and p90 over ``--runs`` runs, each a new event id) into ledgers
   of 10k / 100k / 1M transactions (1k / 10k / 100k with ``--quick``), then the
   ratio of the largest to the smallest. The same is measured in-process, and
   the bare start-up of the console script, to separate the engine from imports.

Ledgers are built with the engine (``record_batch`` of ``BUILD_CHUNK`` events at a
time) under ``--workdir`` (default ``/tmp/partida-bench``) and reused by later runs;
the single-event runs append to them (they are bench data). ``--profile``
records the batch once more in-process under cProfile and prints the top 15
functions by cumulative and by total time.

Events come from a seeded simulation of a booking business: bookings with
deposits, invoices of 1-3 lines at 20 / 10 / 5.5 % VAT with exact printed totals,
payments that never exceed the open amount, credit notes refunded, deposits
refunded or forfeited, gift vouchers sold and spent, and the cash drawer.

Usage: ``.venv/bin/python bench/ingest.py [--quick] [--workdir DIR] [--profile]``.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import heapq
import io
import json
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, Iterator

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from engine.ledger import init_ledger, record_batch  # noqa: E402
from engine.settings import Settings  # noqa: E402

GENERATOR_VERSION = 1  # bump when the event stream changes: cached ledgers are rebuilt
SEED = 20260523
# Events per record_batch call while building a ledger. Batches of 10,000 keep
# the rate steady (a batch's in-memory overlay grows with it; earlier engines
# were quadratic in it); part 1 measures the rate of one large batch.
BUILD_CHUNK = 10_000
COMPANY = "Bench Aventures SAS"

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


# ---------------------------------------------------------------------------
# Synthetic events


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal) -> str:
    return f"{cents(value):.2f}"


def document_totals(lines: list[dict[str, Any]]) -> tuple[dict[str, Any], Decimal]:
    """Printed totals of a document with prices excluding tax, and its gross.

    Lines are grouped by vat_rate; line net = round_half_up(q * unit_price);
    rate VAT = round_half_up(sum of nets * rate / 100); gross = net + VAT.
    """
    nets: dict[str, Decimal] = {}
    for line in lines:
        net = cents(Decimal(line["quantity"]) * Decimal(line["unit_price"]))
        nets[line["vat_rate"]] = nets.get(line["vat_rate"], ZERO) + net
    vat = {rate: cents(net * Decimal(rate) / 100) for rate, net in nets.items()}
    net_total = sum(nets.values(), ZERO)
    gross = net_total + sum(vat.values(), ZERO)
    totals = {
        "net": fmt(net_total),
        "vat": [{"rate": r, "amount": fmt(vat[r])} for r in sorted(nets, key=Decimal, reverse=True)],
        "gross": fmt(gross),
    }
    return totals, gross


# (label, vat rate, unit price range excl. tax in cents, income account or None for 706)
CATALOGUE = (
    ("Canyoning demi-journée", "20", (3800, 5200), None),
    ("Canyoning journée", "20", (6500, 8200), None),
    ("Randonnée accompagnée", "20", (2000, 3000), None),
    ("Location kayak 2 h", "20", (1800, 2800), "7083"),
    ("Escape game — entrée", "10", (1900, 2600), None),
    ("Nuit en gîte d'étape", "10", (3500, 6500), None),
    ("Location combinaison", "20", (500, 900), "708"),
    ("T-shirt « Bench »", "20", (1500, 2200), "707"),
    ("Panier pique-nique", "5.5", (800, 1200), "707"),
    ("Barre de céréales bio", "5.5", (150, 300), "707"),
)
CATALOGUE_WEIGHTS = (14, 8, 12, 10, 12, 6, 8, 5, 8, 5)
QUANTITIES = ("1", "2", "3", "4", "5", "6", "1.5", "2.5")
QUANTITY_WEIGHTS = (30, 28, 12, 12, 5, 5, 5, 3)
FIRST = ("Jean", "Marie", "Élodie", "Hugo", "Chloé", "Léa", "Karim", "Inès", "Thomas", "Zoé",
         "François", "Aurélie", "Mathéo", "Nadia", "Pierre-Louis", "Anaïs", "Yann", "Sofia")
LAST = ("Dupont", "Martin", "Lefèvre", "Giraud", "N'Diaye", "Moreau", "Rousseau", "Da Silva",
        "Bernard", "Faure", "Lambert", "Nguyen", "Roux", "Mercier", "Garnier", "Chevalier")
COMPANIES = ("CSE Airbus Helicopters", "Mairie de Villard", "Lycée Champollion", "SARL Alpes Événements",
             "Association « Les Marcheurs »", "Decathlon Pro", "Groupe Seb — CE", "École Polytechnique")
PAY_METHODS = ("card", "card", "card", "online", "online", "cash", "transfer", "cheque")
DEPOSIT_METHODS = ("card", "card", "online", "online", "transfer", "cheque", "cash")
EXPENSE_ACCOUNTS = ("606", "6061", "6063", "6064", "6068", "625", "626")
MONTH_WEIGHTS = {1: 3, 2: 4, 3: 5, 4: 8, 5: 10, 6: 13, 7: 18, 8: 18, 9: 11, 10: 8, 11: 4, 12: 4}
FLOWS = ("standard", "walkin", "company", "cancel", "noshow", "credit")
FLOW_WEIGHTS = (55, 20, 8, 6, 4, 7)


class EventStream:
    """A seeded, day-by-day simulation of a booking business.

    Every booking is planned whole when it starts (its events may fall on later
    days); events come out in date order. ``txns`` of each yielded pair is the
    number of transactions the engine will write for the event.
    """

    def __init__(self, seed: int = SEED, start: date = date(2022, 1, 3), bookings_per_day: int = 450):
        self.rng = random.Random(seed)
        self.day = start
        self.bookings_per_day = bookings_per_day
        self.heap: list[tuple[int, int, dict[str, Any], int]] = []
        self.seq = 0
        self.n_events = 0
        self.n_bookings = 0
        self.n_invoices = 0
        self.n_credit_notes = 0
        self.n_vouchers = 0
        self.customers: list[dict[str, Any]] = []
        self.companies: list[dict[str, Any]] = []
        self.vouchers: deque[list[Any]] = deque()  # [code, sold ordinal, remaining]
        self.types: Counter[str] = Counter()
        self.last_date = start

    # -- planning helpers ---------------------------------------------------------

    def _push(self, day: date, event: dict[str, Any], txns: int = 1) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (day.toordinal(), self.seq, event, txns))

    def _customer(self, company: bool = False) -> dict[str, Any]:
        pool = self.companies if company else self.customers
        if pool and self.rng.random() >= 1 / 3:
            return self.rng.choice(pool)
        n = len(self.customers) + len(self.companies) + 1
        if company:
            c = {"ref": f"CO{n:07d}", "name": f"{self.rng.choice(COMPANIES)} #{n}", "kind": "company",
                 "vat_number": f"FR{self.rng.randint(10, 99)}{self.rng.randint(100000000, 999999999)}"}
        else:
            first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
            c = {"ref": f"C{n:07d}", "name": f"{first} {last}", "kind": "individual"}
            if self.rng.random() < 0.6:
                c["email"] = f"client{n}@example.org"
        pool.append(c)
        return c

    def _lines(self) -> tuple[list[dict[str, Any]], dict[str, Any], Decimal]:
        rng = self.rng
        lines = []
        for _ in range(rng.choices((1, 2, 3), (50, 35, 15))[0]):
            label, rate, (lo, hi), account = rng.choices(CATALOGUE, CATALOGUE_WEIGHTS)[0]
            line = {"label": label, "quantity": rng.choices(QUANTITIES, QUANTITY_WEIGHTS)[0],
                    "unit_price": fmt(Decimal(rng.randint(lo, hi)) / 100), "vat_rate": rate}
            if account is not None:
                line["account"] = account
            lines.append(line)
        totals, gross = document_totals(lines)
        return lines, totals, gross

    def _booking_ref(self) -> str:
        self.n_bookings += 1
        return f"B-{self.n_bookings:08d}"

    def _invoice(self, day: date, customer: dict[str, Any], booking: str | None, deposits: bool,
                 due: int | None = None) -> tuple[str, list[dict[str, Any]], Decimal]:
        self.n_invoices += 1
        number = f"F-{self.n_invoices:08d}"
        lines, totals, gross = self._lines()
        event = {"type": "invoice.issued", "date": day.isoformat(), "number": number, "customer": customer,
                 "lines": lines, "totals": totals}
        if booking is not None:
            event["booking"] = booking
        if due is not None:
            event["due_date"] = (day + timedelta(days=due)).isoformat()
        # An invoice applies the booking's deposits at once: a second transaction.
        self._push(day, event, 2 if deposits else 1)
        return number, lines, gross

    def _deposit(self, day: date, booking: str, customer: dict[str, Any], amount: Decimal, rate: str,
                 nature: str | None = None) -> None:
        event = {"type": "deposit.received", "date": day.isoformat(), "booking": booking, "customer": customer,
                 "amount": fmt(amount), "method": self.rng.choice(DEPOSIT_METHODS), "vat_rate": rate}
        if nature is not None:
            event["nature"] = nature
        if self.rng.random() < 0.3:
            event["reference"] = f"PSP-{self.rng.getrandbits(40):010x}"
        self._push(day, event)

    def _payment(self, day: date, invoice: str, amount: Decimal, method: str | None = None,
                 voucher: str | None = None) -> None:
        event = {"type": "payment.received", "date": day.isoformat(), "invoice": invoice, "amount": fmt(amount),
                 "method": method or self.rng.choice(PAY_METHODS)}
        if voucher is not None:
            event["method"], event["voucher"] = "voucher", voucher
        self._push(day, event)

    def _pay(self, day: date, invoice: str, open_amount: Decimal, method: str | None = None) -> None:
        """Pay ``open_amount`` in one or two payments (never more than is open)."""
        if open_amount <= 0:
            return
        if open_amount > 2 and self.rng.random() < 0.3:
            first = cents(open_amount * Decimal(self.rng.randint(30, 70)) / 100)
            self._payment(day, invoice, first, method)
            self._payment(day + timedelta(days=self.rng.randint(0, 14)), invoice, open_amount - first, method)
        else:
            self._payment(day, invoice, open_amount, method)

    def _deposits_for(self, day: date, gross: Decimal, booking: str, customer: dict[str, Any], rate: str,
                      last_day: date, nature: str | None = None) -> Decimal:
        """One or two deposits, dated from ``day`` to before ``last_day``; returns their total."""
        total = cents(gross * Decimal(self.rng.choice((20, 25, 30, 40, 50))) / 100)
        if total <= 0:
            total = CENT
        if total > 1 and (last_day - day).days >= 2 and self.rng.random() < 0.25:
            first = cents(total / 2)
            self._deposit(day, booking, customer, first, rate, nature)
            later = day + timedelta(days=self.rng.randint(1, (last_day - day).days - 1))
            self._deposit(later, booking, customer, total - first, rate, nature)
        else:
            self._deposit(day, booking, customer, total, rate, nature)
        return total

    # -- flows --------------------------------------------------------------------

    def _standard(self, day: date) -> None:
        rng = self.rng
        customer, booking = self._customer(), self._booking_ref()
        lines, totals, gross = self._lines()  # planned now to size the deposit
        invoice_day = day + timedelta(days=rng.randint(2, 40))
        held = ZERO
        if rng.random() < 0.7:
            held = self._deposits_for(day, gross, booking, customer, lines[0]["vat_rate"], invoice_day)
        self.n_invoices += 1
        number = f"F-{self.n_invoices:08d}"
        self._push(invoice_day, {"type": "invoice.issued", "date": invoice_day.isoformat(), "number": number,
                                 "customer": customer, "booking": booking, "lines": lines, "totals": totals},
                   2 if held else 1)
        open_amount = gross - held
        if rng.random() < 0.05:  # left partly unpaid
            open_amount = cents(open_amount * Decimal(rng.randint(0, 60)) / 100)
        self._pay(invoice_day + timedelta(days=rng.randint(0, 3)), number, open_amount)

    def _walkin(self, day: date) -> None:
        rng = self.rng
        customer = self._customer()
        booking = self._booking_ref() if rng.random() < 0.7 else None
        number, _, gross = self._invoice(day, customer, booking, deposits=False)
        today = day.toordinal()
        if self.vouchers and self.vouchers[0][1] < today and rng.random() < 0.25:
            code, _, remaining = self.vouchers[0]
            used = min(remaining, gross)
            self._payment(day, number, used, voucher=code)
            self.vouchers[0][2] -= used
            if self.vouchers[0][2] <= 0:
                self.vouchers.popleft()
            if gross - used > 0:
                self._payment(day, number, gross - used, method="card")
        else:
            self._payment(day, number, gross)

    def _company(self, day: date) -> None:
        rng = self.rng
        customer, booking = self._customer(company=True), self._booking_ref()
        number, _, gross = self._invoice(day, customer, booking, deposits=False, due=30)
        if rng.random() < 0.9:
            self._pay(day + timedelta(days=rng.randint(10, 45)), number, gross, method="transfer")

    def _cancel(self, day: date) -> None:
        rng = self.rng
        customer, booking = self._customer(), self._booking_ref()
        _, _, gross = self._lines()
        cancel_day = day + timedelta(days=rng.randint(2, 20))
        held = self._deposits_for(day, gross, booking, customer, "20", cancel_day, nature="arrhes")
        method = rng.choice(("card", "transfer"))
        if rng.random() < 0.5 or held < 1:
            self._push(cancel_day, {"type": "refund.issued", "date": cancel_day.isoformat(), "booking": booking,
                                    "amount": fmt(held), "method": method, "reason": "Annulation"})
            return
        refunded = cents(held * Decimal(rng.randint(20, 80)) / 100)
        self._push(cancel_day, {"type": "refund.issued", "date": cancel_day.isoformat(), "booking": booking,
                                "amount": fmt(refunded), "method": method, "reason": "Annulation tardive"})
        kept_day = cancel_day + timedelta(days=rng.randint(0, 5))
        self._push(kept_day, {"type": "deposit.forfeited", "date": kept_day.isoformat(), "booking": booking,
                              "amount": fmt(held - refunded), "treatment": "penalty"})

    def _noshow(self, day: date) -> None:
        rng = self.rng
        customer, booking = self._customer(), self._booking_ref()
        _, _, gross = self._lines()
        kept_day = day + timedelta(days=rng.randint(5, 30))
        penalty = rng.random() < 0.5
        held = self._deposits_for(day, gross, booking, customer, "20", kept_day,
                                  nature="arrhes" if penalty else "acompte")
        self._push(kept_day, {"type": "deposit.forfeited", "date": kept_day.isoformat(), "booking": booking,
                              "amount": fmt(held), "treatment": "penalty" if penalty else "consideration"})

    def _credit(self, day: date) -> None:
        rng = self.rng
        customer, booking = self._customer(), self._booking_ref()
        number, lines, gross = self._invoice(day, customer, booking, deposits=False)
        self.n_credit_notes += 1
        cn_number = f"AV-{self.n_credit_notes:08d}"
        line = dict(rng.choice(lines), quantity="1", label="Avoir — prestation non réalisée")
        cn_totals, cn_gross = document_totals([line])
        before = rng.random() < 0.3
        cn_day = day + timedelta(days=rng.randint(0, 3) if before else rng.randint(1, 20))
        cn = {"type": "credit_note.issued", "date": cn_day.isoformat(), "number": cn_number, "invoice": number,
              "lines": [line], "totals": cn_totals, "reason": "Météo défavorable"}
        if before:  # credit note first, then the rest is paid
            self._push(cn_day, cn)
            self._pay(cn_day + timedelta(days=rng.randint(0, 5)), number, gross - cn_gross)
            return
        self._payment(day, number, gross)
        self._push(cn_day, cn)
        refund_day = cn_day + timedelta(days=rng.randint(0, 5))
        self._push(refund_day, {"type": "refund.issued", "date": refund_day.isoformat(), "invoice": number,
                                "amount": fmt(cn_gross), "method": rng.choice(("card", "transfer"))})

    def _vouchers_and_cash(self, day: date, bookings: int) -> None:
        rng = self.rng
        for _ in range(max(0, round(bookings * 0.03 + rng.uniform(-1, 1)))):
            self.n_vouchers += 1
            code = f"BON-{self.n_vouchers:07d}"
            amount = Decimal(rng.choice((30, 50, 75, 100, 150)))
            event = {"type": "voucher.sold", "date": day.isoformat(), "code": code, "amount": fmt(amount),
                     "method": rng.choice(("card", "online", "cash")), "purpose": "single"}
            if rng.random() < 0.6:
                event["vat_rate"] = "20"
            else:
                event["purpose"] = "multi"
            self._push(day, event)
            self.vouchers.append([code, day.toordinal(), amount])
        cash = lambda kind, amount, **kw: self._push(  # noqa: E731
            day, {"type": "cash.movement", "date": day.isoformat(), "kind": kind, "amount": amount, **kw})
        if day.weekday() == 0:
            cash("float", fmt(Decimal(rng.choice((100, 150, 200)))), label="Fonds de caisse")
        cash("bank_deposit", fmt(Decimal(rng.randint(5000, 90000)) / 100))
        if rng.random() < 0.4:
            cash("expense", fmt(Decimal(rng.randint(300, 6000)) / 100), account=rng.choice(EXPENSE_ACCOUNTS),
                 label="Petites fournitures")
        if rng.random() < 0.1:
            gap = Decimal(rng.randint(10, 500)) / 100
            cash("difference", fmt(-gap if rng.random() < 0.6 else gap))

    def _plan_day(self, day: date) -> None:
        rng = self.rng
        scale = MONTH_WEIGHTS[day.month] / 10
        n = max(1, round(self.bookings_per_day * scale * rng.uniform(0.7, 1.3)))
        flows = {"standard": self._standard, "walkin": self._walkin, "company": self._company,
                 "cancel": self._cancel, "noshow": self._noshow, "credit": self._credit}
        for flow in rng.choices(FLOWS, FLOW_WEIGHTS, k=n):
            flows[flow](day)
        self._vouchers_and_cash(day, n)

    # -- the stream ---------------------------------------------------------------

    def __iter__(self) -> Iterator[tuple[dict[str, Any], int]]:
        while True:
            self._plan_day(self.day)
            today = self.day.toordinal()
            while self.heap and self.heap[0][0] <= today:
                _, _, event, txns = heapq.heappop(self.heap)
                self.n_events += 1
                out = {"id": f"ev-{self.n_events:09d}", **event}
                self.types[event["type"]] += 1
                self.last_date = self.day
                yield out, txns
            self.day += timedelta(days=1)


def take(stream: Iterator[tuple[dict[str, Any], int]], events: int | None = None,
         txns: int | None = None) -> tuple[bytes, int, int]:
    """JSON lines of the next events: ``events`` of them, or until ``txns`` transactions."""
    out = io.StringIO()
    n = t = 0
    while (events is None or n < events) and (txns is None or t < txns):
        event, k = next(stream)
        if txns is not None and t + k > txns and n:
            # would overshoot (an invoice applying a deposit): stop at the target
            break
        out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
        n += 1
        t += k
    return out.getvalue().encode("utf-8"), n, t


# ---------------------------------------------------------------------------
# Running things


def partida_exe() -> str:
    exe = Path(sys.executable).parent / "partida"
    if exe.exists():
        return str(exe)
    found = shutil.which("partida")
    if found is None:
        sys.exit("cannot find the partida console script (install the project into the venv)")
    return found


# Peak RSS of a child comes from wait4's rusage. Linux carries the parent's
# high-water mark into a forked child across exec, so a child spawned straight
# from this (large) bench process would report the bench's own peak. A small
# launcher, started with ``python -S``, spawns the command instead, times it
# and reports the child's own rusage on its last output line.
LAUNCHER = r"""
import json, os, sys, time
t0 = time.perf_counter()
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - t0
sys.stdout.write("\nBENCH-CHILD " + json.dumps([elapsed, os.waitstatus_to_exitcode(status), usage.ru_maxrss]) + "\n")
"""


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, int, str]:
    """Run a command; returns (seconds, exit code, peak RSS in KiB, its output).

    The time runs from spawning the command to reaping it: process start-up,
    imports and exit are included; the launcher's own start-up is not.
    """
    with tempfile.TemporaryFile() as out:
        subprocess.run([sys.executable, "-S", "-c", LAUNCHER, *cmd], stdout=out, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL, env=env, check=True)
        out.seek(0)
        text = out.read().decode("utf-8", "replace")
    text, _, report = text.rpartition("\nBENCH-CHILD ")
    elapsed, code, rss_kib = json.loads(report)
    return elapsed, code, rss_kib, text


def fresh_ledger(root: Path) -> None:
    if root.exists():
        shutil.rmtree(root)
    init_ledger(root, Settings(company=COMPANY))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def human(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def say(text: str = "") -> None:
    print(text, flush=True)


def dir_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------
# 1. Batch


def batch_file(workdir: Path, n: int) -> tuple[Path, int, int]:
    path = workdir / f"batch-{n}-s{SEED}-v{GENERATOR_VERSION}.jsonl"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        info = json.loads(meta.read_text())
        return path, info["events"], info["txns"]
    stream = EventStream(SEED)
    data, events, txns = take(iter(stream), events=n)
    path.write_bytes(data)
    meta.write_text(json.dumps({"events": events, "txns": txns, "types": dict(stream.types),
                                "customers": len(stream.customers) + len(stream.companies),
                                "bookings": stream.n_bookings}))
    return path, events, txns


def bench_batch(workdir: Path, n: int, profile: bool) -> None:
    say(f"== 1. Batch: {n:,} events in one record")
    path, events, expected_txns = batch_file(workdir, n)
    info = json.loads(path.with_suffix(".json").read_text())
    mix = ", ".join(f"{k} {v}" for k, v in sorted(info["types"].items(), key=lambda kv: -kv[1]))
    say(f"   input: {path.name}, {path.stat().st_size / 1e6:.1f} MB, {events:,} events "
        f"({info['bookings']:,} bookings, {info['customers']:,} customers); mix: {mix}")

    root = workdir / "batch-cli"
    fresh_ledger(root)
    env = child_envs(workdir)["cached"]
    run_child([partida_exe(), "--version"], env)  # fill the bytecode cache
    elapsed, code, rss_kib, text = run_child([partida_exe(), "record", "--ledger", str(root), str(path)], env)
    if code != 0:
        say(text[-3000:])
        sys.exit(f"partida record failed (exit {code})")
    say(f"   partida record (one process): {elapsed:.2f} s -> {events / elapsed:,.0f} events/s, "
        f"{expected_txns / elapsed:,.0f} transactions/s; peak RSS {rss_kib / 1024:.0f} MiB")
    say(f"     says: {text.strip()}")
    say(f"     ledger on disk: {dir_size(root) / 1e6:.1f} MB (journal + state index)")

    root = workdir / "batch-inproc"
    fresh_ledger(root)
    data = path.read_bytes()
    start = time.perf_counter()
    result = record_batch(root, data)
    elapsed = time.perf_counter() - start
    if result.problems:
        sys.exit(f"in-process record rejected the batch: {result.problems[:5]}")
    say(f"   record_batch in-process:      {elapsed:.2f} s -> {events / elapsed:,.0f} events/s, "
        f"{result.transactions / elapsed:,.0f} transactions/s ({result.transactions:,} transactions)")
    if result.transactions != expected_txns:
        say(f"   note: the generator expected {expected_txns:,} transactions")

    if profile:
        root = workdir / "batch-profile"
        fresh_ledger(root)
        profiler = cProfile.Profile()
        start = time.perf_counter()
        profiler.runcall(record_batch, root, data)
        elapsed = time.perf_counter() - start
        dump = workdir / f"profile-{n}.pstats"
        profiler.dump_stats(str(dump))
        say(f"   cProfile of record_batch ({elapsed:.1f} s under the profiler; stats in {dump}):")
        for key in ("cumulative", "tottime"):
            buf = io.StringIO()
            pstats.Stats(profiler, stream=buf).strip_dirs().sort_stats(key).print_stats(15)
            body = buf.getvalue()
            body = body[body.index("   ncalls"):] if "   ncalls" in body else body
            say(f"   -- top 15 by {key} --")
            for line in body.rstrip().splitlines():
                say(f"   {line}")
    say()


# ---------------------------------------------------------------------------
# 2. Single event into ledgers of growing size


def engine_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted((REPO / "engine").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def build_ledger(workdir: Path, size: int, rebuild: bool = False) -> dict[str, Any]:
    """The cached ledger of ``size`` transactions (built with the engine if missing)."""
    root = workdir / f"ledger-{human(size)}"
    marker = workdir / f"ledger-{human(size)}.json"
    if root.exists() and marker.exists() and not rebuild:
        info = json.loads(marker.read_text())
        if info.get("seed") == SEED and info.get("version") == GENERATOR_VERSION:
            say(f"   ledger {human(size)}: reused {root} ({info['txns']:,} transactions, "
                f"built earlier in {info['build_s']:.0f} s at {info['txns'] / info['build_s']:,.0f} transactions/s)")
            if info.get("engine") != engine_fingerprint():
                say("     note: built by another version of engine/ (pass --rebuild to build it again)")
            return info
    marker.unlink(missing_ok=True)
    fresh_ledger(root)
    stream = EventStream(SEED)
    it = iter(stream)
    start = last_report = time.perf_counter()
    events = txns = reported = 0
    step = max(size // 10, BUILD_CHUNK)
    while txns < size:
        data, n, _ = take(it, events=BUILD_CHUNK, txns=size - txns)
        result = record_batch(root, data)
        if result.problems:
            sys.exit(f"building {root}: the engine rejected events: {result.problems[:5]}")
        events += n
        txns += result.transactions
        if size > step and (txns - reported >= step or txns >= size):
            now = time.perf_counter()
            say(f"     building {human(size)}: {txns:,} transactions, {events:,} events, {now - start:.0f} s "
                f"(last {txns - reported:,} at {(txns - reported) / (now - last_report):,.0f} transactions/s)")
            reported, last_report = txns, now
    build_s = time.perf_counter() - start
    customer = stream.customers[0]
    info = {"seed": SEED, "version": GENERATOR_VERSION, "engine": engine_fingerprint(), "txns": txns,
            "events": events, "build_s": build_s, "last_date": stream.last_date.isoformat(), "customer": customer,
            "bytes": dir_size(root)}
    marker.write_text(json.dumps(info, ensure_ascii=False))
    say(f"   ledger {human(size)}: built {root} in {build_s:.1f} s ({txns:,} transactions, {events:,} events "
        f"in batches of {BUILD_CHUNK:,}, "
        f"{txns / build_s:,.0f} transactions/s, {info['bytes'] / 1e6:.0f} MB)")
    return info


def single_event(info: dict[str, Any], tag: str, i: int) -> bytes:
    """A deposit for a new booking of a customer the ledger knows, with a new event id."""
    stamp = f"{time.time_ns():x}-{i}"
    event = {"id": f"single-{tag}-{stamp}", "type": "deposit.received", "date": info["last_date"],
             "booking": f"B-single-{stamp}", "customer": info["customer"], "amount": "90.00",
             "method": "card", "vat_rate": "20"}
    return (json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def child_envs(workdir: Path) -> dict[str, dict[str, str]]:
    """Environments for the ``partida`` child processes.

    ``cached``: bytecode cached (``PYTHONPYCACHEPREFIX`` under the workdir), as
    after a normal install. ``as-is``: this shell's environment; with
    ``PYTHONDONTWRITEBYTECODE`` set and no ``__pycache__`` in the source tree,
    every process compiles the project's modules again.
    """
    cached = dict(os.environ)
    cached.pop("PYTHONDONTWRITEBYTECODE", None)
    cached["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    envs = {"cached": cached}
    if os.environ.get("PYTHONDONTWRITEBYTECODE") and not (REPO / "engine" / "__pycache__").exists():
        envs["as-is"] = dict(os.environ)
    return envs


def bench_single(workdir: Path, sizes: list[int], runs: int, rebuild: bool) -> None:
    say(f"== 2. One event per `partida record` (end to end, {runs} runs per ledger, a new event id each run)")
    exe = partida_exe()
    envs = child_envs(workdir)
    infos = {size: build_ledger(workdir, size, rebuild) for size in sizes}
    roots = {size: workdir / f"ledger-{human(size)}" for size in sizes}
    event_file = workdir / "single.jsonl"

    def once(size: int, env: str, i: int) -> tuple[float, int]:
        event_file.write_bytes(single_event(infos[size], f"{human(size)}-{env}", i))
        elapsed, code, rss_kib, text = run_child([exe, "record", "--ledger", str(roots[size]), str(event_file)],
                                                 envs[env])
        if code != 0 or "recorded 1 event" not in text:
            sys.exit(f"single record into {roots[size]} failed: {text}")
        return elapsed, rss_kib

    # untimed: fill the bytecode cache and warm the page cache after building
    first = {size: once(size, "cached", -1)[0] for size in sizes}
    # Sizes and environments are interleaved run by run, so that a drift of the
    # machine (other processes) weighs on every size alike.
    times: dict[tuple[int, str], list[float]] = {(s, e): [] for s in sizes for e in envs}
    rss: dict[int, int] = {s: 0 for s in sizes}
    startup: dict[str, list[float]] = {e: [] for e in envs}
    for i in range(runs):
        for env in envs:
            startup[env].append(run_child([sys.executable, "-c", "import connectors.cli"], envs[env])[0])
            for size in sizes:
                elapsed, rss_kib = once(size, env, i)
                times[(size, env)].append(elapsed)
                rss[size] = max(rss[size], rss_kib)
    inproc: dict[int, list[float]] = {s: [] for s in sizes}
    for i in range(runs):
        for size in sizes:
            data = single_event(infos[size], human(size) + "-inproc", i)
            t0 = time.perf_counter()
            result = record_batch(roots[size], data)
            inproc[size].append(time.perf_counter() - t0)
            if result.transactions != 1:
                sys.exit(f"in-process single record into {roots[size]} failed: {result.problems}")

    ms = lambda values: f"median {statistics.median(values) * 1000:6.1f} ms, p90 {percentile(values, 0.9) * 1000:6.1f} ms"  # noqa: E731
    for env in envs:
        say(f"   [{env:>6}] start-up floor, `python -c 'import connectors.cli'`: {ms(startup[env])}")
    for size in sizes:
        say(f"   ledger {human(size):>5} ({infos[size]['txns']:,} transactions, {infos[size]['bytes'] / 1e6:.0f} MB):")
        for env in envs:
            say(f"     partida record [{env:>6}]: {ms(times[(size, env)])}")
        say(f"     record_batch in-process:  {ms(inproc[size])}")
        say(f"     peak RSS {rss[size] / 1024:.0f} MiB; first (untimed) run {first[size] * 1000:.0f} ms")
    small, big = sizes[0], sizes[-1]
    for env in envs:
        a, b = statistics.median(times[(small, env)]), statistics.median(times[(big, env)])
        met = "met" if b / a < 1.2 and b < 0.150 else "NOT met"
        say(f"   ratio {human(big)}/{human(small)} [{env}], median end to end: {b / a:.2f} "
            f"({b * 1000:.0f} / {a * 1000:.0f} ms; target < 1.20 and < 150 ms: {met})")
    a, b = statistics.median(inproc[small]), statistics.median(inproc[big])
    say(f"   ratio {human(big)}/{human(small)} in-process: {b / a:.2f} ({b * 1000:.1f} / {a * 1000:.1f} ms)")
    say()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/partida-bench"))
    parser.add_argument("--runs", type=int, default=15, help="single-event runs per ledger size")
    parser.add_argument("--profile", action="store_true", help="also profile the batch in-process (cProfile)")
    parser.add_argument("--rebuild", action="store_true", help="build the cached ledgers again")
    parser.add_argument("--skip-batch", action="store_true", help="only the single-event part")
    parser.add_argument("--skip-single", action="store_true", help="only the batch part")
    args = parser.parse_args()

    batch = 10_000 if args.quick else 100_000
    sizes = [1_000, 10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    workdir = args.workdir / ("quick" if args.quick else "full")
    workdir.mkdir(parents=True, exist_ok=True)
    say(f"Partida ingest bench ({'quick' if args.quick else 'full'}): Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, workdir {workdir}, seed {SEED}")
    say()
    started = time.perf_counter()
    if not args.skip_batch:
        bench_batch(workdir, batch, args.profile)
    if not args.skip_single:
        bench_single(workdir, sizes, args.runs, args.rebuild)
    say(f"total bench time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
