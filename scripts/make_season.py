"""Generate the example season of booking events: ``ledgers/example/season.jsonl``.

The season belongs to "Les Gorges Vives SARL", a small French activity centre
(canyoning, escape game, kayak rental, guided hikes and snowshoe walks, a small shop),
over the calendar year 2026 (events dated 2026-01-10 .. 2026-12-20). It holds about
100 bookings for about 70 customers (some come back), one JSON event per line in the
format of DESIGN.md §1, sorted by date:

- 55 bookings paid by deposit(s), invoiced on the activity day, then the balance paid
  (one or two payments, every method). Among them: two bookings fully prepaid (no
  balance), one deliberate overpayment of 3.00, one balance left half paid, and one
  company (a works council) booking invoiced excluding tax after a deposit by transfer;
- 20 walk-ins invoiced and paid on the spot (three shop sales without a booking), six of
  their payments by gift voucher, one voucher used across two payments;
- 8 company bookings invoiced excluding tax and paid later by transfer (the two December
  ones are still unpaid at season end; one line has a fractional quantity, "1.5" hours);
- 6 bookings cancelled before the invoice: deposit refunded in full (3), or partly
  refunded with the rest forfeited (3);
- 5 forfeited deposits: no-shows (consideration) and late cancellations of arrhes (penalty);
- 4 credit notes after full payment, each refunded against its invoice;
- 3 late-December bookings whose deposits are still open at season end;
- 8 gift vouchers sold (single- and multi-purpose), and the cash drawer: a float at season
  start and a summer top-up, weekly bank deposits of the cash, small expenses, one till
  short and one over.

VAT rates: 20 (canyoning, hikes, kayak, ancillaries, shop goods), 10 (escape-game
admission), 5.5 (shop food). Deterministic (``random.Random(2026)``), standard library
only. After writing, the script re-reads the file, re-derives every open amount and
asserts the season's invariants, then prints one summary line.

Usage, from the repository root: ``python scripts/make_season.py``.
"""

from __future__ import annotations

import json
import random
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import timedelta
from decimal import ROUND_DOWN
from decimal import ROUND_HALF_UP
from decimal import Decimal
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "ledgers" / "example" / "season.jsonl"

SEASON_START = date(2026, 1, 10)
SEASON_END = date(2026, 12, 20)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")

# Relative weight of each month in the booking calendar (the summer is the season).
MONTH_WEIGHTS = {1: 2, 2: 3, 3: 4, 4: 7, 5: 9, 6: 13, 7: 18, 8: 18, 9: 10, 10: 7, 11: 3, 12: 3}

TYPES = (
    "deposit.received", "invoice.issued", "payment.received", "credit_note.issued",
    "refund.issued", "deposit.forfeited", "voucher.sold", "cash.movement",
)
METHODS = ("cash", "card", "transfer", "cheque", "online", "voucher")
RATES = ("20", "10", "5.5")
EXPENSE_ACCOUNTS = ("606", "6061", "6063", "6064", "6068", "613", "615", "618", "623",
                    "625", "626", "627")

# Temporary references are numbered in final (date) order once the season is sorted.
NUMBER_FORMATS = {
    "B": "B-2026-{:03d}",      # bookings
    "F": "F-2026-{:04d}",      # invoices (continuous sequence)
    "AV": "AV-2026-{:04d}",    # credit notes (continuous sequence)
    "BON": "BON-2026-{:03d}",  # gift vouchers
    "C": "CUST-{:04d}",        # customers
}


# ---------------------------------------------------------------------------
# Money


def cents(value: Decimal) -> Decimal:
    """Round to the cent, half up (away from zero), as the engine does."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal) -> str:
    """Money on the wire: a string with exactly two decimals."""
    return f"{cents(value):.2f}"


def whole_euros(value: Decimal) -> Decimal:
    """Round down to whole euros (how deposits are usually asked for)."""
    return value.quantize(Decimal("1"), rounding=ROUND_DOWN).quantize(CENT)


def document_amounts(lines: list[dict], include_tax: bool) -> dict[str, dict[str, Decimal]]:
    """Net, VAT and gross per rate string, computed exactly as the engine will.

    Lines are grouped by ``vat_rate`` (in order of first appearance). Prices including
    tax: the rate's gross is the sum of quantity * unit price, its VAT is extracted and
    rounded half up, net = gross - VAT. Prices excluding tax: each line's net is rounded
    to the cent, VAT on the rate's net is rounded half up, gross = net + VAT.
    """
    bases: dict[str, Decimal] = {}
    for line in lines:
        amount = Decimal(line["quantity"]) * Decimal(line["unit_price"])
        if not include_tax:
            amount = cents(amount)
        bases[line["vat_rate"]] = bases.get(line["vat_rate"], ZERO) + amount
    result = {}
    for rate, base in bases.items():
        r = Decimal(rate)
        if include_tax:
            vat = cents(base * r / (100 + r))
            result[rate] = {"net": base - vat, "vat": vat, "gross": base}
        else:
            vat = cents(base * r / 100)
            result[rate] = {"net": base, "vat": vat, "gross": base + vat}
    return result


def printed_totals(lines: list[dict], include_tax: bool) -> dict:
    """The ``totals`` object of an invoice, as printed on it."""
    per_rate = document_amounts(lines, include_tax)
    return {
        "net": fmt(sum((a["net"] for a in per_rate.values()), ZERO)),
        "vat": [{"rate": rate, "amount": fmt(a["vat"])} for rate, a in per_rate.items()],
        "gross": fmt(sum((a["gross"] for a in per_rate.values()), ZERO)),
    }


def gross_of(lines: list[dict], include_tax: bool) -> Decimal:
    """Total including tax of a document."""
    return sum((a["gross"] for a in document_amounts(lines, include_tax).values()), ZERO)


# ---------------------------------------------------------------------------
# Catalogue


@dataclass(frozen=True)
class Item:
    """Something sold: price incl. tax for individuals, excl. tax for companies."""

    label: str
    ttc: str
    ht: str
    rate: str
    account: str | None = None          # None: services, the engine's default 706
    product: tuple[str, str] | None = None
    months: tuple[int, ...] = tuple(range(1, 13))


CANYON_HALF = Item("Canyoning — Canyon des Écouges, demi-journée encadrée", "55.00", "46.00",
                   "20", months=(5, 6, 7, 8, 9))
CANYON_DAY = Item("Canyoning — Canyon du Furon, journée encadrée", "89.00", "74.00", "20",
                  months=(6, 7, 8, 9))
ESCAPE = Item("Escape game « La Grotte oubliée » — entrée", "25.00", "23.00", "10")
KAYAK = Item("Location kayak biplace — 2 h", "30.00", "25.00", "20", months=tuple(range(4, 11)))
HIKE = Item("Randonnée accompagnée — Gorges de la Bourne", "28.00", "24.00", "20",
            months=tuple(range(3, 12)))
SNOWSHOE = Item("Sortie raquettes accompagnée — plateau du Vercors", "32.00", "27.00", "20",
                months=(1, 2, 3, 12))
ACTIVITIES = (CANYON_HALF, CANYON_DAY, ESCAPE, KAYAK, HIKE, SNOWSHOE)

WETSUIT = Item("Location combinaison néoprène", "8.00", "6.67", "20", account="708")
PHOTOS = Item("Photos souvenir (clé USB)", "15.00", "12.50", "20", account="708")
GUIDE_HOUR = Item("Encadrement séminaire — guide (heure)", "54.30", "45.25", "20")

SHOP = (
    Item("T-shirt Gorges Vives", "22.00", "18.33", "20", "707", ("P-TSH-01", "T-shirt Gorges Vives")),
    Item("Gourde inox 50 cl", "18.00", "15.00", "20", "707", ("P-GOU-01", "Gourde inox 50 cl")),
    Item("Chaussettes néoprène", "14.00", "11.67", "20", "707", ("P-CHS-01", "Chaussettes néoprène")),
    Item("Miel de lavande 250 g", "7.90", "7.49", "5.5", "707", ("P-MIE-250", "Miel de lavande 250 g")),
    Item("Nougat artisanal 100 g", "4.60", "4.36", "5.5", "707", ("P-NOU-100", "Nougat artisanal 100 g")),
    Item("Barre de céréales bio", "2.50", "2.37", "5.5", "707", ("P-BAR-01", "Barre de céréales bio")),
)
TSHIRT, GOURDE = SHOP[0], SHOP[1]
PICNIC = Item("Panier pique-nique à emporter", "10.02", "9.50", "5.5", "707",
              ("P-PIQ-01", "Panier pique-nique"))


def make_line(item: Item, quantity: int | str, include_tax: bool = True,
              explicit_account: bool = False) -> dict:
    """One invoice or credit-note line for ``quantity`` of ``item``."""
    line = {
        "label": item.label,
        "quantity": str(quantity),
        "unit_price": item.ttc if include_tax else item.ht,
        "vat_rate": item.rate,
    }
    if item.account or explicit_account:
        line["account"] = item.account or "706"
    if item.product:
        line["product"] = {"ref": item.product[0], "name": item.product[1]}
    return line


# ---------------------------------------------------------------------------
# Customers

FIRST_NAMES = (
    "Élodie", "François", "Hélène", "Jérôme", "Anaïs", "Gaëlle", "Cécile", "Benoît", "Chloé",
    "Léa", "Maëlys", "Noémie", "Raphaël", "Théo", "Zoé", "Loïc", "Agnès", "Clément", "Inès",
    "Joël", "Thérèse", "André", "Aurélien", "Frédéric", "Sébastien", "Valérie", "Amélie",
    "Camille", "Lucas", "Manon", "Hugo", "Julie", "Nicolas", "Sophie", "Thomas", "Claire",
)
LAST_NAMES = (
    "Lefèvre", "Dubois", "Bérard", "Giraud", "Château", "Moreau", "Fournier", "Girard",
    "Bonnet", "Dupré", "Lemaître", "Rousseau", "Féraud", "Gauthier", "Perrin", "Chevalier",
    "Mercier", "Brémond", "Faure", "Roux", "Vidal", "Peyronnet", "Lœuillet", "Guérin",
    "Noël", "Bénézet", "Garnier", "Müller", "Da Silva", "Núñez",
)
SPECIAL_INDIVIDUALS = ("山田 花子", "Siobhán O'Connor", "Łukasz Wójcik")
COMPANIES = (  # (name, e-mail, has an intra-EU VAT number)
    ('Comité d\'entreprise "Les Pins"; Lyon', "ce.lespins@example.org", False),
    ("Alpes Ingénierie SAS", "compta@alpes-ingenierie.example", True),
    ("Vercors Numérique SARL", "factures@vercors-numerique.example", True),
    ("Association sportive du lycée Jean-Prévost", "as.jeanprevost@example.org", False),
    ("Cabinet Dumas & Fils", "compta@dumas-fils.example", True),
    ("Grenoble Énergies Nouvelles SA", "fournisseurs@gen-sa.example", True),
    ("Club alpin de Villard-de-Lans", "tresorier@ca-villard.example", False),
    ("Hôtel Le Belvédère SAS", "direction@hotel-belvedere.example", True),
)
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")


def ascii_slug(text: str) -> str:
    """Lower-case ASCII form of a name, for a plausible e-mail address."""
    text = text.replace("œ", "oe").replace("Œ", "Oe").replace("ł", "l").replace("Ł", "L")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", ".", text.lower()).strip(".")


def french_vat_number(rng: random.Random) -> str:
    """An intra-EU VAT number with a valid key over a Luhn-valid SIREN."""
    while True:
        siren = rng.randrange(300_000_000, 999_999_999)
        digits = [int(d) for d in str(siren)]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2)
                    for i, d in enumerate(digits))
        if total % 10 == 0:
            return f"FR{(12 + 3 * (siren % 97)) % 97:02d}{siren:09d}"


def build_individuals(rng: random.Random, count: int) -> list[dict]:
    """``count`` individuals, French names with accents plus a few foreign ones."""
    pairs = [(f, l) for f in FIRST_NAMES for l in LAST_NAMES]
    names = [f"{f} {l}" for f, l in rng.sample(pairs, count - len(SPECIAL_INDIVIDUALS))]
    names += SPECIAL_INDIVIDUALS
    people = []
    for name in names:
        person = {"ref": None, "name": name, "kind": "individual"}
        if name == "山田 花子":
            person["email"] = "hanako.yamada@example.com"
        elif rng.random() < 0.8:
            person["email"] = f"{ascii_slug(name)}@{rng.choice(EMAIL_DOMAINS)}"
        people.append(person)
    return people


def build_companies(rng: random.Random) -> list[dict]:
    """The company customers, some with a VAT number."""
    companies = []
    for name, email, registered in COMPANIES:
        company = {"ref": None, "name": name, "kind": "company", "email": email}
        if registered:
            company["vat_number"] = french_vat_number(rng)
        companies.append(company)
    return companies


# ---------------------------------------------------------------------------
# The season being built


@dataclass
class Voucher:
    """A gift voucher planned for the season (code numbered at the end)."""

    code: str
    amount: Decimal
    sold_on: date
    purpose: str
    rate: str | None = None


@dataclass
class Season:
    """Collects events with temporary references; ``finalize`` sorts and numbers them."""

    rng: random.Random
    pending: list[tuple[date, int, int, dict]] = field(default_factory=list)
    tmp_counter: Counter = field(default_factory=Counter)
    individuals: list[dict] = field(default_factory=list)
    companies: list[dict] = field(default_factory=list)
    used: list[int] = field(default_factory=list)

    # -- plumbing ---------------------------------------------------------

    def tmp(self, prefix: str) -> str:
        """A temporary reference, renumbered in date order by ``finalize``."""
        self.tmp_counter[prefix] += 1
        return f"TMP-{prefix}-{self.tmp_counter[prefix]}"

    def emit(self, day: date, event_type: str, phase: int = 0, /, **fields) -> dict:
        """Queue one event. Within a day, phase -1 comes first and phase 1 last."""
        assert SEASON_START <= day <= SEASON_END, (event_type, day)
        event = {"type": event_type, "date": day.isoformat(), **fields}
        self.pending.append((day, phase, len(self.pending), event))
        return event

    def individual(self) -> dict:
        """Mostly a new customer, sometimes a returning one."""
        unused = [i for i in range(len(self.individuals)) if i not in self.used]
        if unused and (not self.used or self.rng.random() < 0.72):
            index = self.rng.choice(unused)
        else:
            index = self.rng.choice(self.used)
        if index not in self.used:
            self.used.append(index)
        return self.individuals[index]

    # -- calendar ---------------------------------------------------------

    def day(self, lo: date = SEASON_START, hi: date = SEASON_END) -> date:
        """A day between ``lo`` and ``hi``, weighted by the season's months."""
        months = [m for m in MONTH_WEIGHTS if lo.month <= m <= hi.month]
        while True:
            month = self.rng.choices(months, [MONTH_WEIGHTS[m] for m in months])[0]
            candidate = date(2026, month, self.rng.randint(1, 28 if month == 2 else 30))
            if lo <= candidate <= hi:
                return candidate

    def activity(self, day: date, rates: tuple[str, ...] = RATES) -> Item:
        """An activity open on ``day``."""
        return self.rng.choice([a for a in ACTIVITIES if day.month in a.months and a.rate in rates])

    # -- documents --------------------------------------------------------

    def b2c_lines(self, main: Item, people: int, extras: bool = True) -> list[dict]:
        """Lines of an individual's booking: the activity, maybe rentals, photos, shop."""
        lines = [make_line(main, people)]
        if not extras:
            return lines
        if main in (CANYON_HALF, CANYON_DAY) and self.rng.random() < 0.4:
            lines.append(make_line(WETSUIT, self.rng.randint(1, people)))
        if main in (CANYON_HALF, CANYON_DAY, KAYAK) and self.rng.random() < 0.25:
            lines.append(make_line(PHOTOS, 1))
        if main is not ESCAPE and self.rng.random() < 0.12:
            lines.append(make_line(ESCAPE, people))
        if self.rng.random() < 0.25:
            for item in self.rng.sample(SHOP, self.rng.randint(1, 2)):
                lines.append(make_line(item, self.rng.randint(1, 2)))
        return lines

    def invoice(self, day: date, customer: dict, lines: list[dict], booking: str | None,
                include_tax: bool = True, due: date | None = None) -> tuple[str, Decimal]:
        """Issue an invoice; return its temporary number and its gross."""
        number = self.tmp("F")
        fields = {"number": number, "customer": customer}
        if booking:
            fields["booking"] = booking
        fields |= {"prices_include_tax": include_tax, "lines": lines,
                   "totals": printed_totals(lines, include_tax)}
        if due:
            fields["due_date"] = due.isoformat()
        self.emit(day, "invoice.issued", **fields)
        return number, gross_of(lines, include_tax)

    def credit_note(self, day: date, invoice: str, lines: list[dict], include_tax: bool,
                    reason: str) -> Decimal:
        """Issue a credit note against ``invoice``; return its gross."""
        fields = {"number": self.tmp("AV"), "invoice": invoice, "lines": lines}
        if include_tax:
            fields["prices_include_tax"] = True
        self.emit(day, "credit_note.issued", **fields, reason=reason)
        return gross_of(lines, include_tax)

    # -- money movements --------------------------------------------------

    def reference(self, method: str) -> dict:
        """An optional payment reference, as a PSP, a bank or a cheque would give."""
        n = self.rng.randrange(10_000, 99_999)
        if method == "online":
            return {"reference": f"PAY-2026-{n}"}
        if method == "transfer":
            return {"reference": f"VIR SEPA {n}"}
        if method == "cheque":
            return {"reference": f"CHQ 00{n}"}
        return {}

    def deposit(self, day: date, booking: str, customer: dict, amount: Decimal, rate: str,
                nature: str, method: str) -> None:
        """A deposit on a booking, tax included, at the booking's main rate."""
        self.emit(day, "deposit.received", booking=booking, customer=customer, amount=fmt(amount),
                  method=method, vat_rate=rate, nature=nature, **self.reference(method))

    def pay(self, day: date, invoice: str, amount: Decimal, method: str,
            voucher: Voucher | None = None) -> None:
        """A payment on an invoice."""
        extra = {"voucher": voucher.code} if voucher else self.reference(method)
        self.emit(day, "payment.received", invoice=invoice, amount=fmt(amount), method=method,
                  **extra)

    def balance_method(self) -> str:
        return self.rng.choices(("card", "cash", "cheque", "transfer", "online"),
                                (45, 20, 10, 15, 10))[0]

    def pay_day(self, day: date, method: str) -> date:
        """On site the same day; by transfer or online a few days later."""
        if method in ("transfer", "online"):
            return min(day + timedelta(days=self.rng.randint(1, 7)), SEASON_END)
        return day

    def deposit_days(self, activity_day: date, count: int) -> list[date]:
        """``count`` increasing deposit days before the activity."""
        first = max(SEASON_START, activity_day - timedelta(days=self.rng.randint(6, 45)))
        days = [first]
        if count == 2:
            gap = (activity_day - first).days
            days.append(first + timedelta(days=self.rng.randint(1, max(1, gap - 1))))
        return days


# ---------------------------------------------------------------------------
# Lifecycles


def deposit_then_invoice(s: Season, variant: str) -> None:
    """Deposit(s) before the activity, invoice on the day, then the balance."""
    booking = s.tmp("B")
    lo, hi = date(2026, 1, 25), date(2026, 12, 10)
    if variant == "overpay":
        lo, hi = date(2026, 6, 1), date(2026, 6, 30)
    elif variant == "unpaid_half":
        lo, hi = date(2026, 11, 10), date(2026, 11, 30)
    day = s.day(lo, hi)
    main = s.activity(day)
    people = s.rng.randint(2, 8)
    customer = s.individual()
    lines = s.b2c_lines(main, people, extras=variant != "prepaid")
    main_gross = Decimal(main.ttc) * people
    if variant == "prepaid":
        amounts = [main_gross]
    elif variant == "two_deposits":
        amounts = [whole_euros(main_gross * Decimal(share)) for share in ("0.3", "0.2")]
    else:
        amounts = [whole_euros(main_gross * s.rng.choice((Decimal("0.3"), Decimal("0.5"))))]
    nature = "acompte" if variant == "prepaid" else s.rng.choice(("arrhes", "arrhes", "acompte"))
    for when, amount in zip(s.deposit_days(day, len(amounts)), amounts):
        method = s.rng.choice(("online", "online", "card", "transfer", "cheque", "cash"))
        s.deposit(when, booking, customer, amount, main.rate, nature, method)
    number, gross = s.invoice(day, customer, lines, booking)
    settle_balance(s, day, number, gross - sum(amounts), variant)


def settle_balance(s: Season, day: date, invoice: str, balance: Decimal, variant: str) -> None:
    """Pay what is left after the deposits, according to the variant."""
    if balance <= 0:
        return
    if variant == "overpay":
        s.pay(day + timedelta(days=3), invoice, balance + Decimal("3.00"), "transfer")
    elif variant in ("two_payments", "unpaid_half"):
        first = whole_euros(balance / 2)
        s.pay(day, invoice, first, "card")
        if variant == "two_payments":
            method = s.rng.choice(("card", "cash", "cheque", "transfer"))
            s.pay(s.pay_day(day, method), invoice, balance - first, method)
    else:
        method = s.balance_method()
        s.pay(s.pay_day(day, method), invoice, balance, method)


def works_council_booking(s: Season) -> None:
    """A works council's group day: deposit by transfer, invoice excl. tax, transfer."""
    booking, customer = s.tmp("B"), s.companies[0]
    day, people = date(2026, 6, 13), 18
    lines = [make_line(CANYON_HALF, people, False, True), make_line(WETSUIT, people, False),
             make_line(PICNIC, people, False)]
    deposit = whole_euros(Decimal(CANYON_HALF.ht) * people * Decimal("1.2") * Decimal("0.3"))
    s.deposit(date(2026, 5, 4), booking, customer, deposit, "20", "acompte", "transfer")
    number, gross = s.invoice(day, customer, lines, booking, include_tax=False,
                              due=day + timedelta(days=30))
    s.pay(date(2026, 7, 2), number, gross - deposit, "transfer")


def walk_in(s: Season, day: date | None = None, lines: list[dict] | None = None,
            payments: tuple[tuple[str, Decimal | None, Voucher | None], ...] = (),
            shop_only: bool = False) -> None:
    """Invoiced and paid on the spot; a shop sale has no booking.

    ``payments``: (method, amount or None for what is left, voucher).
    """
    day = day or s.day()
    if lines is None:
        if shop_only:
            items = s.rng.sample(SHOP, s.rng.randint(2, 4))
            lines = [make_line(item, s.rng.randint(1, 3)) for item in items]
        else:
            lines = s.b2c_lines(s.activity(day, ("20", "10")), s.rng.randint(1, 4))
    booking = None if shop_only else s.tmp("B")
    number, gross = s.invoice(day, s.individual(), lines, booking)
    payments = payments or ((s.rng.choice(("card", "card", "cash", "cheque")), None, None),)
    left = gross
    for method, amount, voucher in payments:
        amount = left if amount is None else amount
        s.pay(day, number, amount, method, voucher)
        left -= amount


def company_booking(s: Season, customer: dict, unpaid: bool, fractional: bool) -> None:
    """A company group invoiced excl. tax, paid later by transfer (or not yet)."""
    booking = s.tmp("B")
    if unpaid:  # invoiced in December, due in January
        day = s.day(date(2026, 12, 1), date(2026, 12, 18))
    else:
        day = s.day(date(2026, 2, 1), date(2026, 10, 31))
    people = s.rng.randint(6, 20)
    lines = [make_line(s.activity(day), people, False, True)]
    if s.rng.random() < 0.5:
        other = ("20",) if lines[0]["vat_rate"] == "10" else ("10",)
        lines.append(make_line(s.activity(day, other), people, False, True))
    if fractional:
        lines.append(make_line(GUIDE_HOUR, "1.5", False, True))
    if s.rng.random() < 0.5:
        lines.append(make_line(PICNIC, people, False))
    number, gross = s.invoice(day, customer, lines, booking, include_tax=False,
                              due=day + timedelta(days=30))
    if not unpaid:
        s.pay(day + timedelta(days=s.rng.randint(12, 40)), number, gross, "transfer")


def cancelled_with_refund(s: Season, partial: str | None, reason: str,
                          main: Item | None = None) -> None:
    """Cancelled before the invoice: the deposit refunded, or part kept (``partial``)."""
    booking, customer = s.tmp("B"), s.individual()
    if main:
        day = s.day(date(2026, min(main.months), 1), date(2026, max(main.months), 28))
    else:
        day = s.day(date(2026, 2, 1), date(2026, 11, 30))
        main = s.activity(day)
    people = s.rng.randint(2, 6)
    amount = whole_euros(Decimal(main.ttc) * people * Decimal("0.5"))
    if partial is None:
        nature = s.rng.choice(("arrhes", "acompte"))
    else:  # a dédit (penalty) needs arrhes; a cancellation fee is kept on an acompte
        nature = "arrhes" if partial == "penalty" else "acompte"
    method = s.rng.choice(("online", "card", "transfer"))
    (paid_on,) = s.deposit_days(day, 1)
    s.deposit(paid_on, booking, customer, amount, main.rate, nature, method)
    cancelled_on = paid_on + timedelta(days=max(1, (day - paid_on).days // 2))
    refund = amount if partial is None else amount - whole_euros(amount * Decimal("0.3"))
    s.emit(cancelled_on, "refund.issued", booking=booking, amount=fmt(refund), method=method,
           reason=reason)
    if partial:
        s.emit(cancelled_on, "deposit.forfeited", booking=booking, amount=fmt(amount - refund),
               treatment=partial)


def forfeited(s: Season, treatment: str) -> None:
    """No-show (consideration, on the day) or late cancellation of arrhes (penalty)."""
    booking, customer = s.tmp("B"), s.individual()
    day = s.day(date(2026, 2, 1), date(2026, 11, 30))
    main = s.activity(day)
    people = s.rng.randint(2, 6)
    amount = whole_euros(Decimal(main.ttc) * people * Decimal("0.3"))
    nature = "arrhes" if treatment == "penalty" else s.rng.choice(("arrhes", "acompte"))
    (paid_on,) = s.deposit_days(day, 1)
    method = s.rng.choice(("online", "card"))
    s.deposit(paid_on, booking, customer, amount, main.rate, nature, method)
    if treatment == "consideration":  # no-show: kept on the activity day
        kept_on = day
    else:  # arrhes given up by a late cancellation, two days before
        kept_on = max(paid_on + timedelta(days=1), day - timedelta(days=2))
    s.emit(kept_on, "deposit.forfeited", booking=booking, amount=fmt(amount), treatment=treatment)


def credit_note_after_payment(s: Season, variant: str) -> None:
    """Fully paid, then a credit note, then the credit refunded against the invoice."""
    booking = s.tmp("B")
    if variant == "company":
        customer, include_tax = s.companies[1], False
        day, people = date(2026, 9, 18), 12
        lines = [make_line(HIKE, people, False, True), make_line(PICNIC, people, False)]
        number, gross = s.invoice(day, customer, lines, booking, include_tax,
                                  due=day + timedelta(days=30))
        paid_on = day + timedelta(days=20)
        s.pay(paid_on, number, gross, "transfer")
        credit = [make_line(HIKE, 2, False, True), make_line(PICNIC, 2, False)]
        reason, method = "Deux participants absents, facturés par erreur", "transfer"
    else:
        customer, include_tax = s.individual(), True
        main = {"storm": CANYON_HALF, "absent": ESCAPE, "return": KAYAK}[variant]
        day = s.day(date(2026, 5, 1), date(2026, 9, 30))
        people = s.rng.randint(3, 6)
        lines = [make_line(main, people)] + ([make_line(TSHIRT, 2)] if variant == "return" else [])
        deposit = whole_euros(Decimal(main.ttc) * people * Decimal("0.3"))
        (deposit_on,) = s.deposit_days(day, 1)
        s.deposit(deposit_on, booking, customer, deposit, main.rate, "arrhes", "online")
        number, gross = s.invoice(day, customer, lines, booking)
        paid_on = day
        s.pay(paid_on, number, gross - deposit, "card")
        credit, reason = {
            "storm": ([{"label": "Geste commercial — sortie écourtée (orage)", "quantity": "1",
                        "unit_price": "20.00", "vat_rate": "20"}], "Sortie écourtée pour orage"),
            "absent": ([make_line(ESCAPE, 1)], "Un joueur absent, place remboursée"),
            "return": ([make_line(TSHIRT, 1)], "T-shirt rendu (mauvaise taille)"),
        }[variant]
        method = "card"
    credited_on = paid_on + timedelta(days=s.rng.randint(2, 12))
    amount = s.credit_note(credited_on, number, credit, include_tax, reason)
    s.emit(credited_on + timedelta(days=s.rng.randint(0, 3)), "refund.issued", invoice=number,
           amount=fmt(amount), method=method, reason="Remboursement de l'avoir")


def open_december_booking(s: Season, main: Item, people: int) -> None:
    """A booking for the holidays: deposit in December, not yet invoiced."""
    booking, customer = s.tmp("B"), s.individual()
    amount = whole_euros(Decimal(main.ttc) * people * Decimal("0.5"))
    s.deposit(s.day(date(2026, 12, 1), SEASON_END), booking, customer, amount, main.rate,
              "arrhes", s.rng.choice(("online", "card")))


# ---------------------------------------------------------------------------
# Vouchers and the cash drawer


VOUCHERS = (  # (sold on, amount, purpose, rate, method)
    (date(2026, 1, 17), "100.00", "multi", None, "card"),
    (date(2026, 2, 7), "50.00", "single", "10", "cash"),     # 2 escape-game admissions
    (date(2026, 3, 21), "55.00", "single", "20", "online"),  # a half-day canyon
    (date(2026, 5, 2), "50.00", "multi", None, "card"),
    (date(2026, 6, 13), "30.00", "single", "20", "cash"),    # a kayak for 2 hours
    (date(2026, 11, 28), "80.00", "multi", None, "online"),
    (date(2026, 12, 5), "75.00", "single", "10", "card"),    # 3 escape-game admissions
    (date(2026, 12, 12), "40.00", "multi", None, "cash"),
)


def sell_vouchers(s: Season) -> list[Voucher]:
    """Sell the season's gift vouchers."""
    vouchers = []
    for sold_on, amount, purpose, rate, method in VOUCHERS:
        voucher = Voucher(s.tmp("BON"), Decimal(amount), sold_on, purpose, rate)
        fields = {"code": voucher.code, "amount": amount, "method": method, "purpose": purpose}
        if rate:
            fields["vat_rate"] = rate
        s.emit(sold_on, "voucher.sold", **fields)
        vouchers.append(voucher)
    return vouchers


def voucher_walk_ins(s: Season, v: list[Voucher]) -> None:
    """Six walk-in payments by voucher; the first voucher is used across two of them."""
    rest = None  # the rest of the invoice
    walk_in(s, date(2026, 5, 16), [make_line(KAYAK, 2)], (("voucher", Decimal("60.00"), v[0]),))
    walk_in(s, date(2026, 7, 22), [make_line(HIKE, 2)],
            (("voucher", Decimal("40.00"), v[0]), ("cash", rest, None)))
    walk_in(s, date(2026, 4, 11), [make_line(ESCAPE, 2)], (("voucher", Decimal("50.00"), v[1]),))
    walk_in(s, date(2026, 7, 8), [make_line(CANYON_HALF, 2)],
            (("voucher", Decimal("55.00"), v[2]), ("card", rest, None)))
    walk_in(s, date(2026, 8, 19), [make_line(ESCAPE, 3)],
            (("voucher", Decimal("50.00"), v[3]), ("cash", rest, None)))
    walk_in(s, date(2026, 9, 5), [make_line(KAYAK, 1), make_line(GOURDE, 1)],
            (("voucher", Decimal("30.00"), v[4]), ("card", rest, None)))


FLOATS = {date(2026, 1, 10): ("150.00", "Fonds de caisse — ouverture de saison"),
          date(2026, 6, 29): ("100.00", "Complément du fonds de caisse pour l'été")}
EXPENSES = {
    date(2026, 2, 16): ("6064", "12.40", "Rouleaux de papier pour le terminal et la caisse"),
    date(2026, 3, 30): ("626", "17.60", "Timbres pour l'envoi des bons cadeaux"),
    date(2026, 4, 20): ("6063", "24.90", "Piles et lampes frontales de secours"),
    date(2026, 5, 26): ("623", "35.00", "Affiches pour le marché de Pont-en-Royans"),
    date(2026, 6, 22): ("615", "42.00", "Réparation d'une pagaie"),
    date(2026, 7, 15): ("6068", "9.80", "Café et sucre pour l'accueil"),
    date(2026, 8, 10): ("625", "6.30", "Péage autoroute, navette retour de canyon"),
    date(2026, 9, 14): ("613", "30.00", "Location d'une remorque à kayaks (demi-journée)"),
    date(2026, 10, 19): ("6061", "14.50", "Recharge de bouteille de gaz (eau chaude des vestiaires)"),
}
DIFFERENCES = {date(2026, 7, 27): ("-2.50", "Écart de caisse — caisse courte"),
               date(2026, 8, 24): ("1.30", "Écart de caisse — excédent")}


def cash_effect(event: dict) -> Decimal:
    """What an event puts into (or takes out of) the cash drawer."""
    kind, amount = event["type"], Decimal(event["amount"]) if "amount" in event else ZERO
    if kind == "cash.movement":
        return -amount if event["kind"] in ("bank_deposit", "expense") else amount
    if event.get("method") != "cash":
        return ZERO
    if kind in ("deposit.received", "payment.received", "voucher.sold"):
        return amount
    if kind == "refund.issued":
        return -amount
    return ZERO


def drawer_keep(day: date) -> Decimal:
    """Cash left in the drawer after a bank deposit (the float)."""
    return Decimal("250.00") if date(2026, 6, 29) <= day <= date(2026, 9, 30) else Decimal("150.00")


def cash_movements(s: Season) -> None:
    """Float, expenses, till differences and Monday bank deposits, following the drawer."""
    by_day: dict[date, list[dict]] = {}
    for day, _, _, event in sorted(s.pending, key=lambda p: p[:3]):
        by_day.setdefault(day, []).append(event)
    drawer, day = ZERO, SEASON_START
    while day <= SEASON_END:
        if day in FLOATS:
            amount, label = FLOATS[day]
            drawer += cash_effect(s.emit(day, "cash.movement", -1, kind="float", amount=amount,
                                         label=label))
        drawer += sum((cash_effect(e) for e in by_day.get(day, [])), ZERO)
        if day in EXPENSES:
            account, amount, label = EXPENSES[day]
            drawer += cash_effect(s.emit(day, "cash.movement", 1, kind="expense", amount=amount,
                                         account=account, label=label))
        if day in DIFFERENCES:
            amount, label = DIFFERENCES[day]
            drawer += cash_effect(s.emit(day, "cash.movement", 1, kind="difference",
                                         amount=amount, label=label))
        surplus = (drawer - drawer_keep(day)).quantize(Decimal("1E1"), rounding=ROUND_DOWN)
        if day.weekday() == 0 and surplus >= 60:
            drawer += cash_effect(s.emit(day, "cash.movement", 1, kind="bank_deposit",
                                         amount=fmt(surplus), label="Remise d'espèces en banque"))
        day += timedelta(days=1)


# ---------------------------------------------------------------------------
# Building and writing


def build(rng: random.Random) -> list[dict]:
    """Every lifecycle of the season, sorted and numbered."""
    s = Season(rng, individuals=build_individuals(rng, 62), companies=build_companies(rng))
    variants = (["prepaid"] * 2 + ["overpay", "unpaid_half"]
                + ["two_deposits"] * 8 + ["two_payments"] * 9 + ["plain"] * 33)
    for variant in variants:
        deposit_then_invoice(s, variant)
    works_council_booking(s)
    vouchers = sell_vouchers(s)
    voucher_walk_ins(s, vouchers)
    for i in range(14):
        walk_in(s, shop_only=i % 5 == 0)
    for i, customer in enumerate(s.companies[1:] + [s.companies[2]]):
        company_booking(s, customer, unpaid=i in (2, 5), fractional=i == 3)
    cancelled_with_refund(s, None, "Annulation par le client dans les délais — remboursement intégral")
    cancelled_with_refund(s, None, "Sortie annulée par nos soins — crue du Furon", CANYON_DAY)
    cancelled_with_refund(s, None, "Annulation pour raison médicale")
    cancelled_with_refund(s, "consideration", "Annulation tardive : 30 % retenus (frais d'annulation)")
    cancelled_with_refund(s, "consideration", "Report impossible : 30 % retenus selon les CGV")
    cancelled_with_refund(s, "penalty", "Désistement : dédit de 30 % prévu aux CGV")
    for treatment in ("consideration", "consideration", "consideration", "penalty", "penalty"):
        forfeited(s, treatment)
    for variant in ("storm", "absent", "return", "company"):
        credit_note_after_payment(s, variant)
    open_december_booking(s, ESCAPE, 6)
    open_december_booking(s, SNOWSHOE, 4)
    open_december_booking(s, ESCAPE, 4)
    cash_movements(s)
    return finalize(s.pending)


def finalize(pending: list[tuple[date, int, int, dict]], formats: dict[str, str] | None = None,
             id_prefix: str = "evt") -> list[dict]:
    """Sort by date (stable), then give ids, final numbers and new customer refs in that order."""
    formats = formats or NUMBER_FORMATS
    numbers: dict[str, str] = {}
    counters: Counter = Counter()

    def final(tmp: str) -> str:
        if tmp not in numbers:
            prefix = tmp.split("-")[1]
            counters[prefix] += 1
            numbers[tmp] = formats[prefix].format(counters[prefix])
        return numbers[tmp]

    events = []
    for index, (_, _, _, event) in enumerate(sorted(pending, key=lambda p: p[:3]), start=1):
        for key in ("booking", "number", "invoice", "code", "voucher"):
            if key in event:
                event[key] = final(event[key])
        if "customer" in event and event["customer"]["ref"] is None:
            counters["C"] += 1
            event["customer"]["ref"] = formats["C"].format(counters["C"])
        events.append({"id": f"{id_prefix}-{index:06d}", **event})
    return events


def write(events: list[dict], path: Path) -> None:
    """One compact JSON object per line, UTF-8, non-ASCII kept as is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for event in events:
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")


# ---------------------------------------------------------------------------
# Self-check: re-read the file and re-derive everything


MONEY = re.compile(r"^\d+\.\d{2}$")
SIGNED_MONEY = re.compile(r"^-?\d+\.\d{2}$")
QUANTITY = re.compile(r"^\d+(\.\d+)?$")


def _refuse_number(text: str):
    raise AssertionError(f"a JSON number in the season: {text}")


def read(path: Path) -> list[dict]:
    """Parse the season back, refusing any JSON number."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line, parse_int=_refuse_number, parse_float=_refuse_number,
                           parse_constant=_refuse_number) for line in lines]


def money(event: dict, key: str = "amount", signed: bool = False) -> Decimal:
    value = event[key]
    pattern = SIGNED_MONEY if signed else MONEY
    assert isinstance(value, str) and pattern.match(value), (event["id"], key, value)
    return Decimal(value)


def check_lines(event: dict) -> None:
    assert event["lines"], event["id"]
    for line in event["lines"]:
        assert set(line) <= {"label", "quantity", "unit_price", "vat_rate", "account", "product"}, line
        assert line["label"] and QUANTITY.match(line["quantity"]), (event["id"], line)
        assert MONEY.match(line["unit_price"]) and line["vat_rate"] in RATES, (event["id"], line)
        assert line.get("account", "706") in ("706", "707", "708"), (event["id"], line)
        if event.get("prices_include_tax"):
            exact = Decimal(line["quantity"]) * Decimal(line["unit_price"])
            assert exact == cents(exact), ("line gross must be whole cents", event["id"])


@dataclass
class Open:
    """What the self-check tracks while replaying the season."""

    bookings: dict = field(default_factory=dict)
    invoices: dict = field(default_factory=dict)
    vouchers: dict = field(default_factory=dict)
    customers: dict = field(default_factory=dict)
    overpayments: list = field(default_factory=list)
    voucher_uses: Counter = field(default_factory=Counter)
    drawer: Decimal = ZERO


def check_customer(state: Open, event: dict) -> None:
    c = event["customer"]
    assert set(c) <= {"ref", "name", "kind", "email", "vat_number"} and c["name"], c
    assert c["kind"] in ("individual", "company"), c
    assert "vat_number" not in c or (c["kind"] == "company" and c["vat_number"].startswith("FR")), c
    assert state.customers.setdefault(c["ref"], c) == c, ("customer changed", c["ref"])


def on_deposit(state: Open, e: dict) -> None:
    check_customer(state, e)
    assert e["nature"] in ("acompte", "arrhes") and e["vat_rate"] in RATES, e["id"]
    b = state.bookings.setdefault(e["booking"], {
        "customer": e["customer"]["ref"], "rate": e["vat_rate"], "unapplied": ZERO, "total": ZERO,
        "natures": [], "last_deposit": e["date"], "invoice": None, "cancelled": False})
    assert b["invoice"] is None and not b["cancelled"], ("deposit after invoice/cancellation", e["id"])
    assert b["customer"] == e["customer"]["ref"] and b["rate"] == e["vat_rate"], e["id"]
    b["unapplied"] += money(e)
    b["total"] += money(e)
    b["natures"].append(e["nature"])
    b["last_deposit"] = e["date"]


def on_invoice(state: Open, e: dict) -> None:
    check_customer(state, e)
    check_lines(e)
    include_tax = e["prices_include_tax"]
    assert include_tax == (e["customer"]["kind"] == "individual"), e["id"]
    assert e["totals"] == printed_totals(e["lines"], include_tax), ("totals", e["id"])
    per_rate = {r: a["gross"] for r, a in document_amounts(e["lines"], include_tax).items()}
    gross = money(e["totals"], "gross")
    open_amount = gross
    if "booking" in e:
        b = state.bookings.setdefault(e["booking"], {"invoice": None, "cancelled": False,
                                                     "unapplied": ZERO, "total": ZERO})
        assert b["invoice"] is None and not b["cancelled"], ("booking invoiced twice/cancelled", e["id"])
        if b["total"]:
            assert b["last_deposit"] <= e["date"] and b["customer"] == e["customer"]["ref"], e["id"]
            assert per_rate.get(b["rate"], ZERO) >= b["total"], ("deposits above invoice", e["id"])
        open_amount -= b["unapplied"]
        b["unapplied"], b["invoice"] = ZERO, e["number"]
    state.invoices[e["number"]] = {"date": e["date"], "gross": gross, "open": open_amount,
                                   "include_tax": include_tax, "per_rate": per_rate,
                                   "credited": ZERO, "refunded": ZERO, "payments": 0}


def on_payment(state: Open, e: dict) -> None:
    assert e["invoice"] in state.invoices, ("payment on an unknown invoice", e["id"])
    inv = state.invoices[e["invoice"]]
    amount = money(e)
    assert e["date"] >= inv["date"] and inv["open"] > 0, ("payment on a settled invoice", e["id"])
    if amount > inv["open"]:
        state.overpayments.append(amount - inv["open"])
    if e["method"] == "voucher":
        assert e["voucher"] in state.vouchers, ("unknown voucher", e["id"])
        v = state.vouchers[e["voucher"]]
        assert v["date"] < e["date"] and amount <= v["left"], ("voucher", e["id"])
        if v["rate"]:
            assert inv["per_rate"].get(v["rate"], ZERO) >= amount, ("single voucher rate", e["id"])
        v["left"] -= amount
        state.voucher_uses[e["voucher"]] += 1
    inv["open"] -= amount
    inv["payments"] += 1


def on_credit_note(state: Open, e: dict) -> None:
    check_lines(e)
    assert e["invoice"] in state.invoices, ("credit note on an unknown invoice", e["id"])
    inv = state.invoices[e["invoice"]]
    assert e.get("prices_include_tax", False) == inv["include_tax"], e["id"]
    assert "prices_include_tax" not in e or e["prices_include_tax"] is True, e["id"]
    gross = gross_of(e["lines"], inv["include_tax"])
    assert inv["open"] == 0 and e["date"] >= inv["date"], ("credit note before full payment", e["id"])
    assert inv["credited"] + gross <= inv["gross"], ("credit notes above the invoice", e["id"])
    inv["credited"] += gross
    inv["open"] -= gross


def on_refund(state: Open, e: dict) -> None:
    amount = money(e)
    assert ("booking" in e) != ("invoice" in e) and e["method"] != "voucher", e["id"]
    if "booking" in e:
        b = state.bookings[e["booking"]]
        assert b["invoice"] is None and amount <= b["unapplied"], ("deposit refund", e["id"])
        b["unapplied"] -= amount
        b["cancelled"] = True
    else:
        inv = state.invoices[e["invoice"]]
        assert amount <= inv["credited"] - inv["refunded"], ("refund above the credit", e["id"])
        assert amount <= -inv["open"], ("refund above what the customer is owed", e["id"])
        inv["refunded"] += amount
        inv["open"] += amount


def on_forfeit(state: Open, e: dict) -> None:
    b = state.bookings[e["booking"]]
    amount = money(e)
    assert b["invoice"] is None and 0 < amount <= b["unapplied"], ("forfeit", e["id"])
    assert e["treatment"] in ("penalty", "consideration"), e["id"]
    if e["treatment"] == "penalty":
        assert set(b["natures"]) == {"arrhes"}, ("a penalty needs arrhes", e["id"])
    b["unapplied"] -= amount
    b["cancelled"] = True


def on_voucher(state: Open, e: dict) -> None:
    assert e["code"] not in state.vouchers and e["method"] != "voucher", e["id"]
    assert e["purpose"] in ("single", "multi"), e["id"]
    assert ("vat_rate" in e) == (e["purpose"] == "single"), e["id"]
    state.vouchers[e["code"]] = {"left": money(e), "rate": e.get("vat_rate"), "date": e["date"]}


def on_cash(state: Open, e: dict) -> None:
    assert e["kind"] in ("bank_deposit", "float", "expense", "difference"), e["id"]
    money(e, signed=e["kind"] == "difference")
    if e["kind"] == "expense":
        assert e["account"] in EXPENSE_ACCOUNTS, e["id"]


HANDLERS = {
    "deposit.received": on_deposit, "invoice.issued": on_invoice, "payment.received": on_payment,
    "credit_note.issued": on_credit_note, "refund.issued": on_refund,
    "deposit.forfeited": on_forfeit, "voucher.sold": on_voucher, "cash.movement": on_cash,
}


def check_envelope(events: list[dict]) -> None:
    """Ids, dates, order, methods and document numbering."""
    assert len({e["id"] for e in events}) == len(events), "duplicate ids"
    days = [e["date"] for e in events]
    assert days == sorted(days), "events not sorted by date"
    assert SEASON_START.isoformat() <= days[0] and days[-1] <= SEASON_END.isoformat()
    for e in events:
        date.fromisoformat(e["date"])
        assert list(e)[:3] == ["id", "type", "date"] and e["type"] in HANDLERS, e
        assert e.get("method", "card") in METHODS, e["id"]
        assert ("voucher" in e) == (e.get("method") == "voucher"), e["id"]
    for kind, fmt_ in (("invoice.issued", "F-2026-{:04d}"), ("credit_note.issued", "AV-2026-{:04d}")):
        numbers = [e["number"] for e in events if e["type"] == kind]
        assert numbers == [fmt_.format(i) for i in range(1, len(numbers) + 1)], kind


def check_season(events: list[dict]) -> Counter:
    """Replay the season, assert every invariant; return the count per event type."""
    check_envelope(events)
    state = Open()
    for e in events:
        HANDLERS[e["type"]](state, e)
        state.drawer += cash_effect(e)
        assert state.drawer >= 0, ("cash drawer negative", e["id"])
    counts = Counter(e["type"] for e in events)
    assert all(counts[t] >= 3 for t in TYPES), counts
    assert len(state.overpayments) == 1 and state.overpayments[0] <= 10, state.overpayments
    unpaid = [n for n, inv in state.invoices.items() if inv["open"] > 0]
    assert 2 <= len(unpaid) <= 6, unpaid
    still_open = [b for b in state.bookings.values()
                  if b["unapplied"] > 0 and b["invoice"] is None and not b["cancelled"]]
    assert len(still_open) >= 2 and all(b["last_deposit"] >= "2026-12-01" for b in still_open)
    assert max(state.voucher_uses.values()) == 2, "a voucher must be used across two payments"
    differences = [Decimal(e["amount"]) for e in events if e.get("kind") == "difference"]
    assert sorted(d > 0 for d in differences) == [False, True], differences
    assert 90 <= len(state.bookings) <= 110 and 60 <= len(state.customers) <= 80
    names = [c["name"] for c in state.customers.values()]
    assert any('"' in n and ";" in n for n in names), "no name with quotes and a semicolon"
    assert any(ord(ch) > 0x3000 for n in names for ch in n), "no non-Latin name"
    assert any(len(inv["per_rate"]) > 1 for inv in state.invoices.values()), "no mixed-rate invoice"
    return counts


def main() -> None:
    events = build(random.Random(2026))
    write(events, OUTPUT)
    counts = check_season(read(OUTPUT))
    summary = ", ".join(f"{t} {counts[t]}" for t in TYPES)
    print(f"{OUTPUT.relative_to(OUTPUT.parents[2])}: {sum(counts.values())} events ({summary})")


if __name__ == "__main__":
    main()
