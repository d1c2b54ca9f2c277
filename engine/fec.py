"""The French FEC (LPF art. A47 A-1): every entry of a fiscal year, 18 fields.

One Beancount transaction is one entry (``EcritureNum``); numbering is one
continuous sequence over the file, in chronological order (date, then append
order), after an opening entry (``AN``) that carries the balance-sheet
balances and the earlier years' result. Fields are tab-separated, dates
``AAAAMMJJ``, amounts with a decimal comma and ``0,00`` on the unused side.
Customer lines carry the customer in ``CompAuxNum``/``CompAuxLib``; 411 lines
of a settled invoice and 4191 lines of an emptied booking are lettered.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import re
import string
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from . import beans
from .settings import Settings

FIELDS = (
    "JournalCode", "JournalLib", "EcritureNum", "EcritureDate", "CompteNum", "CompteLib", "CompAuxNum",
    "CompAuxLib", "PieceRef", "PieceDate", "EcritureLib", "Debit", "Credit", "EcritureLet", "DateLet",
    "ValidDate", "Montantdevise", "Idevise",
)
JOURNALS = {
    "VE": "Ventes", "BQ": "Banque", "CA": "Caisse", "OD": "Opérations diverses", "AN": "À-nouveaux",
}
LABELS = {
    "411": "Clients", "4191": "Clients - Avances et acomptes reçus sur commandes", "44571": "TVA collectée",
    "44574": "TVA collectée sur encaissements", "44588": "TVA collectée sur acomptes à imputer",
    "512": "Banques", "530": "Caisse", "5112": "Chèques à encaisser", "58": "Virements internes",
    "706": "Prestations de services", "707": "Ventes de marchandises", "708": "Produits des activités annexes",
    "7083": "Locations diverses", "7085": "Ports et frais accessoires facturés",
    "7088": "Autres produits d'activités annexes", "7581": "Dédits et pénalités perçus sur achats et ventes",
    "758": "Indemnités et autres produits", "606": "Achats non stockés", "6061": "Fournitures non stockables",
    "6063": "Fournitures d'entretien et de petit équipement", "6064": "Fournitures administratives",
    "6068": "Autres matières et fournitures", "613": "Locations", "615": "Entretien et réparations",
    "618": "Divers", "623": "Publicité, publications, relations publiques", "625": "Déplacements, missions",
    "626": "Frais postaux et de télécommunications", "627": "Services bancaires et assimilés",
    "658": "Pénalités et autres charges", "110": "Report à nouveau",
}
_BLANKS = re.compile(r"[\t\r\n]+")


@dataclass(frozen=True, slots=True)
class FecLine:
    journal: str
    num: int
    date: datetime.date
    account: str  # PCG number, 6+ characters
    aux_num: str
    aux_lib: str
    piece: str
    label: str
    debit: Decimal
    credit: Decimal
    letter: str = ""
    letter_date: datetime.date | None = None

    def cells(self) -> list[str]:
        return [
            self.journal, JOURNALS[self.journal], str(self.num), _d(self.date), self.account,
            LABELS.get(self.account.rstrip("0"), LABELS.get(_pcg(self.account), "")), self.aux_num,
            _clean(self.aux_lib), _clean(self.piece), _d(self.date), _clean(self.label),
            _n(self.debit), _n(self.credit), self.letter, _d(self.letter_date) if self.letter_date else "",
            _d(self.date), "", "",
        ]


def _d(day: datetime.date) -> str:
    return day.strftime("%Y%m%d")


def _n(amount: Decimal) -> str:
    return f"{amount:.2f}".replace(".", ",")


def _clean(text: str) -> str:
    # Tabs and line breaks would break the file's structure: each becomes a space.
    return _BLANKS.sub(" ", text).strip()


def _pcg(number: str) -> str:
    for size in (5, 4, 3, 2):
        if number[:size] in LABELS:
            return number[:size]
    return number[:3]


def compte_num(account: str) -> str:
    """``Assets:411-Clients:C-X`` -> ``411000`` (PCG number padded to 6)."""
    return account.split(":")[1].split("-")[0].ljust(6, "0")


def _journal(entry: Any) -> str:
    kind, step = entry.meta.get("event-type", ""), entry.meta.get("step", "")
    if kind in ("invoice.issued", "credit_note.issued") and step != "deposit-applied":
        return "VE"
    numbers = {p.account.split(":")[1].split("-")[0] for p in entry.postings}
    if "530" in numbers and kind == "cash.movement" or "530" in numbers and "512" not in numbers:
        return "CA"
    if numbers & {"512", "5112", "58"}:
        return "BQ"
    return "OD"


def _piece(entry: Any) -> str:
    meta = entry.meta
    return meta.get("credit-note") or meta.get("invoice") or meta.get("voucher") or meta.get("event-id", "")


def _customers(entries: Iterable[Any]) -> dict[str, tuple[str, str]]:
    """Customer sub-account -> (ref, name), from the open directives."""
    return {e.account: (e.meta["customer-ref"], e.meta.get("customer-name", ""))
            for e in entries if beans.is_open(e) and "customer-ref" in e.meta}


def build_fec(entries: list[Any], settings: Settings, year: int) -> list[FecLine]:
    """The FEC lines of fiscal ``year`` (named after its closing year)."""
    start, end = settings.fiscal_year_bounds(year)
    txns = sorted((e for e in entries if beans.is_transaction(e)), key=lambda e: (e.date, int(e.meta.get("seq", 0))))
    customers = _customers(entries)
    lines: list[FecLine] = []
    opening = _opening(txns, start, customers)
    num = 0
    if opening:
        num = 1
        lines += [FecLine("AN", 1, start, acc, ref, name, "AN", "À-nouveaux", d, c) for acc, ref, name, d, c in opening]
    entry_of: dict[int, Any] = {}
    for entry in (e for e in txns if start <= e.date <= end):
        num += 1
        entry_of[num] = entry
        journal, piece = _journal(entry), _piece(entry)
        for p in entry.postings:
            ref, name = customers.get(p.account, ("", ""))
            amount = p.units.number
            lines.append(FecLine(journal, num, entry.date, compte_num(p.account), ref, name, piece,
                                 entry.narration, max(amount, Decimal(0)), max(-amount, Decimal(0))))
    return _letter(lines, entry_of)


def _opening(txns: list[Any], start: datetime.date, customers: dict[str, tuple[str, str]]) -> list[tuple]:
    """Balance-sheet balances before ``start``; earlier results go to 110 (report à nouveau)."""
    totals: dict[str, Decimal] = {}
    result = Decimal(0)
    for entry in (e for e in txns if e.date < start):
        for p in entry.postings:
            if p.account.split(":")[0] in ("Income", "Expenses"):
                result += p.units.number
            else:
                totals[p.account] = totals.get(p.account, Decimal(0)) + p.units.number
    rows = [(compte_num(a), *customers.get(a, ("", "")), max(v, Decimal(0)), max(-v, Decimal(0)))
            for a, v in sorted(totals.items()) if v]
    if result:
        rows.append(("110000", "", "", max(result, Decimal(0)), max(-result, Decimal(0))))
    return rows


def _letter(lines: list[FecLine], entry_of: dict[int, Any]) -> list[FecLine]:
    """Letter 411 lines per (customer, invoice) and 4191 lines per (customer,
    booking) when they net to zero within the year; DateLet is the last date."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, line in enumerate(lines):
        entry = entry_of.get(line.num)
        if entry is None or not line.aux_num:
            continue
        ref = entry.meta.get("invoice" if line.account.startswith("411") else "booking", "")
        if ref:
            groups.setdefault((line.account[:4], line.aux_num, ref), []).append(i)
    codes = _codes()
    out = list(lines)
    for members in groups.values():
        if sum((lines[i].debit - lines[i].credit for i in members), Decimal(0)) != 0:
            continue
        code, last = next(codes), max(lines[i].date for i in members)
        for i in members:
            out[i] = dataclasses.replace(lines[i], letter=code, letter_date=last)
    return out


def _codes() -> Iterable[str]:
    for size in itertools.count(2):
        for combo in itertools.product(string.ascii_uppercase, repeat=size):
            yield "".join(combo)


def render_fec(lines: list[FecLine]) -> str:
    rows = ["\t".join(FIELDS)] + ["\t".join(line.cells()) for line in lines]
    return "\r\n".join(rows) + "\r\n"


def fec_filename(siren: str, settings: Settings, year: int) -> str:
    return f"{siren}FEC{_d(settings.fiscal_year_bounds(year)[1])}.txt"


def export_fec(main: Path, settings: Settings, year: int) -> list[FecLine]:
    entries, errors, _ = beans.load(main)
    if errors:
        raise ValueError(f"the ledger has {len(errors)} error(s); run `partida check`")
    return build_fec(entries, settings, year)
