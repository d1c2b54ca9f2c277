"""Generate the Québec example season: ``ledgers/example-qc/season.jsonl``.

The season belongs to "Aventures Laurentides inc.", an outdoor activity centre
near Mont-Tremblant (rafting, via ferrata, canoe and kayak rental, guided hikes;
dog sledding and snowshoeing in winter; a small shop), over 2026. Its ledger
uses the ``ca-qc`` chart (CAD, GST 5 % + QST 9.975 %, computed per line as
QuickBooks does). Prices are quoted before tax, as is usual in Québec. About 90
bookings for about 60 customers, one JSON event per line, sorted by date:

- 36 bookings with a **security deposit** (nature absent, ``security`` or
  ``arrhes``: untaxed until applied), invoiced on the activity day, balance
  paid (one or two payments, every method);
- 16 bookings with a **prepayment** (``prepayment`` or ``acompte``, tax code
  14.975: taxed when paid), invoiced, balance paid; one fully prepaid;
- 14 walk-ins invoiced and paid on the spot (shop sales among them: a
  GST-only book, zero-rated groceries), four paid by gift certificate;
- 6 company bookings invoiced and paid later by transfer or cheque (one still
  unpaid at season end), one with a fractional quantity;
- 5 cancellations before the invoice: security deposits refunded (2), a
  prepayment refunded with its tax (1), partly refunded with the rest kept (2);
- 5 kept deposits: security deposits kept as a penalty (taxes deemed included,
  ETA s. 182) or for a no-show (consideration), prepayments kept (tax stays);
- 3 credit notes after payment, each refunded; 3 December deposits still open;
- 6 gift certificates sold (untaxed at sale), one used on a deposit;
- the cash drawer: a float, weekly bank deposits of the cash, small
  expenses, one short and one over;
- one invoice printing QST on its total (2.99, as Revenu Québec allows) where
  the per-line computation gives 3.00: booked as printed, the gap shown.

Deterministic (``random.Random(2026)``), standard library only. Every amount a
payment settles is derived with the engine's rule (per line, per component,
half away from zero), so each booking ends exactly at zero.

Usage, from the repository root: ``python scripts/make_season_qc.py``.
"""

from __future__ import annotations

import random
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from pathlib import Path

from make_season import finalize, write  # numbering and output shared with the French season

OUTPUT = Path(__file__).resolve().parent.parent / "ledgers" / "example-qc" / "season.jsonl"
START, END = date(2026, 1, 8), date(2026, 12, 20)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
CODES = {"14.975": (Decimal("5"), Decimal("9.975")), "5": (Decimal("5"),), "9.975": (Decimal("9.975"),), "0": ()}
MONTH_WEIGHTS = {1: 5, 2: 6, 3: 4, 4: 2, 5: 5, 6: 12, 7: 18, 8: 18, 9: 9, 10: 6, 11: 2, 12: 4}
EXPENSE_ACCOUNTS = ("5100", "5200", "5300", "5400", "5500", "5600", "5700")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt(value: Decimal) -> str:
    return f"{cents(value):.2f}"


def dollars(value: Decimal) -> Decimal:
    """Round down to whole dollars (how deposits are asked for)."""
    return value.quantize(Decimal("1"), rounding=ROUND_DOWN).quantize(CENT)


def document(lines: list[dict]) -> tuple[Decimal, dict[Decimal, Decimal], Decimal]:
    """Net, tax per component and gross: per line, per component, rounded (QuickBooks)."""
    net, taxes = ZERO, {}
    for line in lines:
        amount = cents(Decimal(line["quantity"]) * Decimal(line["unit_price"]))
        net += amount
        for percent in CODES[line["vat_rate"]]:
            taxes[percent] = taxes.get(percent, ZERO) + cents(amount * percent / 100)
    return net, taxes, net + sum(taxes.values(), ZERO)


def printed_totals(lines: list[dict]) -> dict:
    net, taxes, gross = document(lines)
    return {"net": fmt(net), "vat": [{"rate": str(p), "amount": fmt(t)} for p, t in sorted(taxes.items())],
            "gross": fmt(gross)}


# ---------------------------------------------------------------------------
# Catalogue (prices before tax, CAD)


@dataclass(frozen=True)
class Item:
    label: str
    price: str
    code: str = "14.975"
    account: str | None = None
    months: tuple[int, ...] = tuple(range(1, 13))


RAFT_HALF = Item("Rafting — Rivière Rouge, demi-journée", "89.00", months=tuple(range(5, 10)))
RAFT_DAY = Item("Rafting — Rivière Rouge, journée avec dîner", "139.00", months=tuple(range(6, 9)))
VIA_FERRATA = Item("Via ferrata du Diable — parcours guidé", "79.00", months=tuple(range(5, 11)))
CANOE = Item("Location canot — journée", "65.00", account="4200", months=tuple(range(5, 11)))
KAYAK = Item("Location kayak — 2 heures", "45.00", account="4200", months=tuple(range(5, 11)))
HIKE = Item("Randonnée guidée — parc national du Mont-Tremblant", "49.00", months=tuple(range(4, 12)))
DOGSLED = Item("Traîneau à chiens — randonnée de 2 heures", "169.00", months=(1, 2, 3, 12))
SNOWSHOE = Item("Raquette guidée au clair de lune", "39.00", months=(1, 2, 3, 12))
ACTIVITIES = (RAFT_HALF, RAFT_DAY, VIA_FERRATA, CANOE, KAYAK, HIKE, DOGSLED, SNOWSHOE)
WETSUIT = Item("Location combinaison isothermique", "12.00", account="4200")
PHOTOS = Item("Forfait photos de l'excursion", "25.00", account="4300")
SHUTTLE = Item("Navette aller-retour", "15.00", account="4300")
GUIDE_HOUR = Item("Guide accompagnateur — heure", "62.50")
SHOP = (Item("T-shirt Aventures Laurentides", "29.99", account="4100"),
        Item("Casquette brodée", "24.99", account="4100"),
        Item("Gourde isotherme 750 ml", "19.99", account="4100"),
        Item("Guide des sentiers des Laurentides (livre)", "24.95", "5", account="4100"),
        Item("Sac de mélange montagnard 500 g", "8.49", "0", account="4100"))


def line(item: Item, quantity: int | str) -> dict:
    out = {"label": item.label, "quantity": str(quantity), "unit_price": item.price, "vat_rate": item.code}
    if item.account:
        out["account"] = item.account
    return out


FIRST = ("Marie-Ève", "Jean-François", "Geneviève", "Mathieu", "Émilie", "Alexandre", "Isabelle", "Olivier",
         "Catherine", "Maxime", "Julie", "Sébastien", "Annie", "Félix", "Chloé", "Étienne", "Noémie",
         "William", "Léa", "Samuel", "Gabrielle", "Louis-Philippe", "Rosalie", "Zacharie")
LAST = ("Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin", "Gagné",
        "Ouellet", "Pelletier", "Bélanger", "Lévesque", "Bergeron", "Leblanc", "Paquette", "Girard",
        "Simard", "Boucher", "Nguyen", "O'Brien")
COMPANIES = ("Club de plein air de Saint-Jérôme", "Les Entreprises Boréal inc.", "École secondaire des Monts",
             "Groupe Conseil Laurentien s.e.n.c.", "CPE Les Petits Sentiers", "Technologies Nordiques ltée")


def slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch if ch.isalnum() else "." for ch in plain).strip(".").replace("..", ".")


# ---------------------------------------------------------------------------
# The season


@dataclass
class Season:
    rng: random.Random
    pending: list[tuple[date, int, int, dict]] = field(default_factory=list)
    counters: Counter = field(default_factory=Counter)
    people: list[dict] = field(default_factory=list)
    companies: list[dict] = field(default_factory=list)
    vouchers: list[list] = field(default_factory=list)  # [code, amount left, sold on]

    def ref(self, prefix: str) -> str:
        self.counters[prefix] += 1
        return f"TMP-{prefix}-{self.counters[prefix]}"

    def emit(self, day: date, kind: str, phase: int = 0, /, **fields) -> dict:
        assert START <= day <= END, (kind, day)
        event = {"type": kind, "date": day.isoformat(), "currency": "CAD", **fields}
        self.pending.append((day, phase, len(self.pending), event))
        return event

    def day(self, lo: date = START, hi: date = END, months: tuple[int, ...] = tuple(range(1, 13))) -> date:
        allowed = [m for m in MONTH_WEIGHTS if lo.month <= m <= hi.month and m in months]
        while True:
            month = self.rng.choices(allowed, [MONTH_WEIGHTS[m] for m in allowed])[0]
            candidate = date(2026, month, self.rng.randint(1, 28))
            if lo <= candidate <= hi:
                return candidate

    def person(self) -> dict:
        if self.people and self.rng.random() < 0.2:
            return self.rng.choice(self.people)
        name = f"{self.rng.choice(FIRST)} {self.rng.choice(LAST)}"
        customer = {"ref": None, "name": name, "kind": "individual",
                    "email": f"{slug(name)}@example.ca"}
        self.people.append(customer)
        return customer

    def activity_day(self, lo: date = date(2026, 1, 20), hi: date = date(2026, 11, 30)) -> tuple[Item, date]:
        day = self.day(lo, hi)
        return self.rng.choice([a for a in ACTIVITIES if day.month in a.months]), day

    def lines(self, main: Item, people: int) -> list[dict]:
        out = [line(main, people)]
        if main in (RAFT_HALF, RAFT_DAY) and self.rng.random() < 0.5:
            out.append(line(WETSUIT, self.rng.randint(1, people)))
        if main in (RAFT_HALF, RAFT_DAY, VIA_FERRATA, DOGSLED) and self.rng.random() < 0.3:
            out.append(line(PHOTOS, 1))
        if self.rng.random() < 0.2:
            out.append(line(SHUTTLE, people))
        if self.rng.random() < 0.2:
            out.append(line(self.rng.choice(SHOP), self.rng.randint(1, 2)))
        return out

    def invoice(self, day: date, customer: dict, lines: list[dict], booking: str | None = None,
                due: date | None = None, totals: dict | None = None) -> tuple[str, Decimal]:
        number = self.ref("INV")
        fields = {"number": number, "customer": customer, "lines": lines, "totals": totals or printed_totals(lines)}
        if booking:
            fields["booking"] = booking
        if due:
            fields["due_date"] = due.isoformat()
        self.emit(day, "invoice.issued", **fields)
        return number, Decimal(fields["totals"]["gross"])

    def reference(self, method: str) -> dict:
        n = self.rng.randrange(10_000, 99_999)
        return {"online": {"reference": f"STRIPE-{n}"}, "transfer": {"reference": f"VIR-INTERAC-{n}"},
                "cheque": {"reference": f"CHQ-{n}"}}.get(method, {})

    def deposit(self, day: date, booking: str, customer: dict, amount: Decimal, nature: str | None,
                method: str, phase: int = 0, **extra) -> None:
        fields = {"booking": booking, "customer": customer, "amount": fmt(amount), "method": method}
        if nature:
            fields["nature"] = nature
        if nature in ("prepayment", "acompte"):
            fields["vat_rate"] = "14.975"
        self.emit(day, "deposit.received", phase, **fields, **(extra or self.reference(method)))

    def pay(self, day: date, invoice: str, amount: Decimal, method: str, phase: int = 1, **extra) -> None:
        self.emit(day, "payment.received", phase, invoice=invoice, amount=fmt(amount), method=method,
                  **(extra or self.reference(method)))

    def method(self) -> str:
        return self.rng.choices(("card", "cash", "cheque", "transfer", "online"), (45, 20, 8, 12, 15))[0]


def booked(s: Season, nature: str | None, variant: str = "plain") -> None:
    """Deposit(s) before the activity, the invoice on the day, then the balance."""
    main, day = s.activity_day()
    customer, booking = s.person(), s.ref("B")
    lines = s.lines(main, s.rng.randint(1, 5))
    _, _, gross = document(lines)
    share = Decimal("1") if variant == "prepaid" else Decimal(s.rng.choice(("0.25", "0.3", "0.5")))
    paid = dollars(gross * share) if variant != "prepaid" else gross
    days = sorted({max(START, day - timedelta(days=s.rng.randint(7, 40))) for _ in range(2 if variant == "two_deposits" else 1)})
    parts = [paid] if len(days) == 1 else [dollars(paid / 2), paid - dollars(paid / 2)]
    for d, amount in zip(days, parts):
        s.deposit(d, booking, customer, amount, nature, s.rng.choice(("card", "online", "transfer")))
    number, gross = s.invoice(day, customer, lines, booking)
    balance = gross - paid
    if not balance:
        return
    if variant == "two_payments":
        first = dollars(balance / 2)
        s.pay(day, number, first, "card")
        s.pay(day + timedelta(days=s.rng.randint(1, 10)), number, balance - first, "transfer")
    else:
        method = s.method()
        s.pay(day if method not in ("transfer", "online") else day + timedelta(days=2), number, balance, method)


def walk_in(s: Season, shop_only: bool = False, voucher: list | None = None) -> None:
    customer = s.person()
    if shop_only:
        day = s.day()
        lines = [line(item, s.rng.randint(1, 3)) for item in s.rng.sample(SHOP, s.rng.randint(2, 3))]
    else:
        main, day = s.activity_day()
        lines = s.lines(main, s.rng.randint(1, 3))
    if voucher is not None:
        day = max(day, voucher[2] + timedelta(days=5))
    number, gross = s.invoice(day, customer, lines)
    if voucher is None:
        s.pay(day, number, gross, s.rng.choice(("card", "cash")))
        return
    used = min(voucher[1], gross)
    voucher[1] -= used
    s.pay(day, number, used, "voucher", voucher=voucher[0])
    if gross > used:
        s.pay(day, number, gross - used, "card")


def company_booking(s: Season, customer: dict, unpaid: bool, fractional: bool) -> None:
    main, day = s.activity_day(date(2026, 2, 1), date(2026, 11, 30))
    lines = [line(main, s.rng.randint(8, 25)), line(GUIDE_HOUR, "2.5" if fractional else s.rng.randint(2, 6))]
    if unpaid:
        day = date(2026, 12, s.rng.randint(1, 10))
        lines = [line(SNOWSHOE, 18), line(GUIDE_HOUR, 3)]
    number, gross = s.invoice(day, customer, lines, s.ref("B"), due=day + timedelta(days=30))
    if not unpaid:
        s.pay(min(day + timedelta(days=s.rng.randint(10, 30)), END), number, gross,
              s.rng.choice(("transfer", "cheque")))


def cancelled(s: Season, nature: str | None, kept: str | None, reason: str) -> None:
    """A deposit, then a cancellation: refunded in full, or partly kept."""
    main, day = s.activity_day()
    customer, booking = s.person(), s.ref("B")
    _, _, gross = document(s.lines(main, s.rng.randint(2, 4)))
    amount = dollars(gross * Decimal("0.3"))
    paid_on = max(START, day - timedelta(days=30))
    s.deposit(paid_on, booking, customer, amount, nature, "card")
    when = paid_on + timedelta(days=s.rng.randint(3, 20))
    back = amount if kept is None else dollars(amount / 2)
    s.emit(when, "refund.issued", booking=booking, amount=fmt(back), method="card", reason=reason)
    if kept is not None:
        s.emit(when, "deposit.forfeited", 1, booking=booking, amount=fmt(amount - back), treatment=kept)


def kept(s: Season, nature: str | None, treatment: str) -> None:
    """A deposit kept whole: a late cancellation (penalty) or a no-show (consideration)."""
    main, day = s.activity_day()
    customer, booking = s.person(), s.ref("B")
    _, _, gross = document(s.lines(main, s.rng.randint(1, 4)))
    amount = dollars(gross * Decimal("0.4"))
    s.deposit(max(START, day - timedelta(days=21)), booking, customer, amount, nature, "online")
    s.emit(day, "deposit.forfeited", booking=booking, amount=fmt(amount), treatment=treatment)


def credit_after_payment(s: Season, reason: str, customer: dict | None = None) -> None:
    main, day = s.activity_day(date(2026, 5, 1), date(2026, 10, 31))
    customer = customer or s.person()
    lines = [line(main, s.rng.randint(2, 4))]
    number, gross = s.invoice(day, customer, lines, s.ref("B"))
    s.pay(day, number, gross, "card")
    credited = [line(Item(f"Crédit — {main.label}", main.price, account=main.account), 1)]
    _, _, amount = document(credited)
    later = day + timedelta(days=3)
    s.emit(later, "credit_note.issued", number=s.ref("CN"), invoice=number, lines=credited, reason=reason)
    s.emit(later + timedelta(days=1), "refund.issued", invoice=number, amount=fmt(amount), method="card",
           reason=reason)


def per_line_rounding_invoice(s: Season) -> None:
    """Three caps sold at 9.99: QST printed on the total (2.99), per line 3.00."""
    day, customer = date(2026, 7, 18), s.person()
    cap = Item("Casquette promotionnelle", "9.99", account="4100")
    lines = [line(cap, 1), line(cap, 1), line(cap, 1)]
    totals = {"net": "29.97", "vat": [{"rate": "5", "amount": "1.50"}, {"rate": "9.975", "amount": "2.99"}],
              "gross": "34.46"}
    number, gross = s.invoice(day, customer, lines, totals=totals)
    s.pay(day, number, gross, "cash")


def vouchers(s: Season) -> None:
    for sold_on, amount, method in ((date(2026, 1, 12), "100.00", "card"), (date(2026, 2, 14), "150.00", "online"),
                                    (date(2026, 5, 10), "75.00", "cash"), (date(2026, 6, 15), "200.00", "card"),
                                    (date(2026, 11, 28), "100.00", "online"), (date(2026, 12, 12), "50.00", "card")):
        code = s.ref("GC")
        s.emit(sold_on, "voucher.sold", -1, code=code, amount=amount, method=method,
               purpose="multi" if amount != "75.00" else "single")
        s.vouchers.append([code, Decimal(amount), sold_on])
    for v in s.vouchers[:3]:
        walk_in(s, voucher=v)
    # The 200.00 certificate pays a booking's security deposit; the last two stay open.
    v = s.vouchers[3]
    main, day = s.activity_day(date(2026, 8, 1), date(2026, 9, 30))
    customer, booking = s.person(), s.ref("B")
    lines = s.lines(main, 3)
    amount = min(v[1], dollars(document(lines)[2] * Decimal("0.3")))
    v[1] -= amount
    s.deposit(day - timedelta(days=10), booking, customer, amount, "security", "voucher", voucher=v[0])
    number, gross = s.invoice(day, customer, lines, booking)
    s.pay(day, number, gross - amount, "card")


def open_december(s: Season, main: Item, people: int, nature: str | None) -> None:
    customer, booking = s.person(), s.ref("B")
    _, _, gross = document([line(main, people)])
    s.deposit(date(2026, 12, s.rng.randint(5, 18)), booking, customer, dollars(gross * Decimal("0.3")), nature, "online")


def cash_drawer(s: Season) -> None:
    """A float, small expenses, a short and an over, and weekly bank deposits keeping 200.00."""
    s.emit(START, "cash.movement", -1, kind="float", amount="200.00", label="Fonds de caisse — ouverture")
    s.emit(date(2026, 6, 20), "cash.movement", -1, kind="float", amount="150.00", label="Fonds de caisse — été")
    for day, amount, account, label in ((date(2026, 2, 3), "18.45", "5100", "Cire à skis et bougies"),
                                        (date(2026, 5, 22), "42.10", "5300", "Rustines et colle pour radeaux"),
                                        (date(2026, 6, 30), "23.75", "5200", "Timbres et enveloppes"),
                                        (date(2026, 7, 14), "36.00", "5500", "Repas des guides"),
                                        (date(2026, 8, 11), "15.99", "5100", "Crème solaire pour l'accueil")):
        s.emit(day, "cash.movement", 1, kind="expense", amount=amount, account=account, label=label)
    s.emit(date(2026, 7, 28), "cash.movement", 1, kind="difference", amount="-3.25", label="Caisse courte")
    s.emit(date(2026, 8, 25), "cash.movement", 1, kind="difference", amount="1.10", label="Caisse en trop")
    drawer, week_end = ZERO, START
    for day, _, _, event in sorted(s.pending, key=lambda p: p[:3]):
        while day > week_end + timedelta(days=7):
            week_end += timedelta(days=7)
            if drawer > Decimal("400.00"):
                out = dollars(drawer - Decimal("200.00"))
                s.emit(week_end, "cash.movement", 1, kind="bank_deposit", amount=fmt(out),
                       label="Dépôt de l'encaisse à la banque")
                drawer -= out
        drawer += cash_effect(event)


def cash_effect(event: dict) -> Decimal:
    kind = event["type"]
    if kind == "cash.movement":
        amount = Decimal(event["amount"])
        return {"float": amount, "expense": -amount, "difference": amount, "bank_deposit": -amount}[event["kind"]]
    if event.get("method") == "cash":
        return -Decimal(event["amount"]) if kind == "refund.issued" else Decimal(event["amount"])
    return ZERO


def build(rng: random.Random) -> list[dict]:
    s = Season(rng)
    s.companies = [{"ref": None, "name": name, "kind": "company", "email": f"compta@{slug(name)[:20]}.example.ca",
                    "vat_number": f"{rng.randrange(10**9, 10**10)}TQ0001"} for name in COMPANIES]
    security = [None] * 20 + ["security"] * 10 + ["arrhes"] * 6
    variants = ["two_deposits"] * 4 + ["two_payments"] * 6 + ["plain"] * 26
    for nature, variant in zip(security, variants):
        booked(s, nature, variant)
    for i, nature in enumerate(["prepayment"] * 12 + ["acompte"] * 4):
        booked(s, nature, "prepaid" if i == 0 else "two_payments" if i in (3, 7) else "plain")
    for i in range(10):
        walk_in(s, shop_only=i % 4 == 0)
    vouchers(s)
    for i, customer in enumerate(s.companies):
        company_booking(s, customer, unpaid=i == 4, fractional=i == 3)
    cancelled(s, None, None, "Annulation dans les délais — remboursement intégral")
    cancelled(s, "security", None, "Sortie annulée par nos soins — niveau d'eau trop haut")
    cancelled(s, "prepayment", None, "Annulation pour raison médicale — acompte remboursé avec les taxes")
    cancelled(s, None, "penalty", "Annulation tardive : la moitié du dépôt est retenue")
    cancelled(s, "acompte", "penalty", "Report impossible : la moitié de l'acompte est retenue")
    kept(s, None, "penalty")
    kept(s, "arrhes", "penalty")
    kept(s, "security", "consideration")
    kept(s, "prepayment", "penalty")
    kept(s, "prepayment", "consideration")
    credit_after_payment(s, "Sortie écourtée — orage")
    credit_after_payment(s, "Participant absent — geste commercial")
    credit_after_payment(s, "Erreur de tarif groupe", s.companies[1])
    per_line_rounding_invoice(s)
    open_december(s, DOGSLED, 2, None)
    open_december(s, SNOWSHOE, 4, "prepayment")
    open_december(s, DOGSLED, 4, "security")
    cash_drawer(s)
    return finalize(s.pending, FORMATS, "qc")


FORMATS = {"B": "RES-2026-{:03d}", "INV": "FAC-2026-{:04d}", "CN": "NC-2026-{:04d}", "GC": "CC-2026-{:03d}",
           "C": "CLI-{:04d}"}


def main() -> None:
    events = build(random.Random(2026))
    write(events, OUTPUT)
    kinds = Counter(e["type"] for e in events)
    bookings = {e["booking"] for e in events if "booking" in e}
    natures = Counter(e.get("nature", "(default)") for e in events if e["type"] == "deposit.received")
    assert len(kinds) == 8 and {"prepayment", "acompte", "security", "arrhes", "(default)"} <= set(natures)
    print(f"wrote {len(events)} events ({len(bookings)} bookings) to {OUTPUT}: "
          + ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())))


if __name__ == "__main__":
    main()
