"""The sandbox company's books: customers, products, chart, journals, entries.

All records live in one JSON-compatible dict (``StateStore.data``), keyed by
table then by the id as a string; amounts are stored as decimal strings and
computed as ``Decimal``. Every write checks everything first and mutates
after, so a refused request leaves the books untouched.

Invariants kept here:

- every ledger entry balances (sum of debits = sum of credits);
- journal codes, ledger account numbers and the ``external_reference`` of
  customers and products are unique;
- a lettering groups at least two lines of one letterable account, and each
  line belongs to at most one lettering.

Ids come from one counter per resource, each in its own range (customers
from 1001, ledger accounts from 5001, entries from 70001...), so a client
that passes one kind of id where another is expected hits a 404, not a
random record.
"""

from __future__ import annotations

import datetime
import secrets
import time
from collections.abc import Callable
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from connectors.pennylane.sandbox.amounts import ZERO
from connectors.pennylane.sandbox.amounts import fmt
from connectors.pennylane.sandbox.amounts import parse_amount
from connectors.pennylane.sandbox.amounts import vat_percent
from connectors.pennylane.sandbox.errors import bad_request
from connectors.pennylane.sandbox.errors import conflict
from connectors.pennylane.sandbox.errors import not_found
from connectors.pennylane.sandbox.errors import unprocessable
from connectors.sandbox.state import StateStore

Record = dict[str, Any]
Posting = tuple[int, Decimal, Decimal, str]  # (ledger account id, debit, credit, label)

FORMAT = 1
_ID_BASES = {
    "customer": 1000, "product": 2000, "invoice": 3000, "invoice_line": 40000, "journal": 100,
    "ledger_account": 5000, "ledger_entry": 70000, "ledger_line": 900000, "lettering": 0,
}
# A small French chart, as a new company has; the connector creates the rest.
_CHART = (
    ("401", "Fournisseurs", True), ("411", "Clients", True),
    ("44566", "TVA déductible sur autres biens et services", False),
    ("44571", "TVA collectée", False), ("512", "Banque", False), ("530", "Caisse", False),
    ("580", "Virements internes", False), ("606", "Achats non stockés", False), ("627", "Services bancaires", False),
    ("706", "Prestations de services", False), ("707", "Ventes de marchandises", False),
    ("708", "Produits des activités annexes", False),
)
_JOURNALS = (("VT", "Journal de ventes", "sale"), ("HA", "Journal d'achats", "purchase"),
             ("BQ", "Banque", "bank"), ("OD", "Opérations diverses", "miscellaneous"))
SALES_JOURNAL_CODE = "VT"
CUSTOMER_GENERAL_ACCOUNT = "411"
VAT_COLLECTED_ACCOUNT = "44571"
DEFAULT_REVENUE_ACCOUNT = "706"


def iso_timestamp(epoch_s: float) -> str:
    """``2026-11-20T10:08:08.146343Z``."""
    return datetime.datetime.fromtimestamp(epoch_s, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_state(now_s: float) -> Record:
    """A fresh company: seeded chart and journals, no documents, no credentials."""
    stamp = iso_timestamp(now_s)
    company_id = 424242
    state: Record = {
        "format": FORMAT,
        "created_at": stamp,
        "company": {"id": company_id, "name": "Partida Sandbox SAS", "reg_no": f"sandbox-{company_id}"},
        "seq": dict(_ID_BASES),
        "invoice_numbers": {},
        "company_tokens": {},
        "oauth": {},
    }
    for table in TABLES:
        state[table] = {}
    books = Books(StateStore(None, lambda: state), lambda: now_s)
    for number, label, letterable in _CHART:
        books.add_account(number, label, letterable=letterable, kind="general")
    for code, label, kind in _JOURNALS:
        books.add_journal(code, label, kind)
    return state


TABLES = ("customers", "products", "invoices", "journals", "ledger_accounts", "ledger_entries", "ledger_lines",
          "letterings")


class Books:
    """Reads and writes the company's records in the store's data."""

    def __init__(self, store: StateStore, now: Callable[[], float] = time.time) -> None:
        self.store = store
        self._now = now

    @property
    def data(self) -> Record:
        """The whole state (re-read each time: a reset replaces it)."""
        return self.store.data

    def table(self, name: str) -> dict[str, Record]:
        """One table: id (as a string) -> record."""
        table: dict[str, Record] = self.data[name]
        return table

    def next_id(self, kind: str) -> int:
        """The next id of ``kind``."""
        seq = self.data["seq"]
        seq[kind] += 1
        return int(seq[kind])

    def stamp(self) -> str:
        """Now, as a timestamp string."""
        return iso_timestamp(self._now())

    def today(self) -> str:
        """Today's date (UTC), ISO."""
        return datetime.datetime.fromtimestamp(self._now(), datetime.UTC).date().isoformat()

    def get(self, table: str, model: str, ident: Any) -> Record:
        """The record ``ident`` of ``table``.

        Raises:
            ApiError: 404 naming ``model`` when it does not exist.
        """
        record = self.table(table).get(str(ident))
        if record is None:
            raise not_found(model, ident)
        return record

    # -- customers ------------------------------------------------------------

    def create_customer(self, kind: str, body: Record) -> Record:
        """A new company or individual customer, with its auxiliary 411 account."""
        reference = body.get("external_reference") or f"sandbox-customer-{secrets.token_hex(6)}"
        if any(c["external_reference"] == reference for c in self.table("customers").values()):
            raise conflict()
        account_number = (body.get("ledger_account") or {}).get("number")
        if account_number is not None:
            if not account_number.startswith(CUSTOMER_GENERAL_ACCOUNT) or account_number == CUSTOMER_GENERAL_ACCOUNT:
                raise unprocessable(f"A customer ledger account number starts with {CUSTOMER_GENERAL_ACCOUNT}")
            if self.account_by_number(account_number) is not None:
                raise unprocessable(f"Ledger account number {account_number} is already used")
        ident = self.next_id("customer")
        stamp = self.stamp()
        customer: Record = {
            "id": ident, "kind": kind, "external_reference": reference, "created_at": stamp, "updated_at": stamp,
            "name": "", "first_name": "", "last_name": "", "vat_number": "", "reg_no": "", "phone": "",
            "emails": [], "payment_conditions": "30_days", "billing_iban": None, "recipient": "",
            "reference": None, "notes": None, "billing_language": "fr_FR", "delivery_address": None,
        }
        self._apply_customer_fields(customer, body)
        number = account_number or f"{CUSTOMER_GENERAL_ACCOUNT}{ident:05d}"
        account = self.add_account(number, customer["name"], letterable=True, kind="customer",
                                   auxiliary_of=CUSTOMER_GENERAL_ACCOUNT)
        customer["ledger_account_id"] = account["id"]
        self.table("customers")[str(ident)] = customer
        return customer

    def update_customer(self, kind: str, ident: Any, body: Record) -> Record:
        """Update the given fields of a customer of ``kind``."""
        model = "CompanyCustomer" if kind == "company" else "IndividualCustomer"
        customer = self.get("customers", model, ident)
        if customer["kind"] != kind:
            raise not_found(model, ident)
        reference = body.get("external_reference")
        if reference is not None and any(
            c["external_reference"] == reference and c["id"] != customer["id"] for c in self.table("customers").values()
        ):
            raise conflict()
        self._apply_customer_fields(customer, body)
        customer["updated_at"] = self.stamp()
        return customer

    def _apply_customer_fields(self, customer: Record, body: Record) -> None:
        for key, value in body.items():
            if key != "ledger_account":
                customer[key] = value
        if customer["kind"] == "individual":
            customer["name"] = f"{customer['first_name']} {customer['last_name']}".strip()

    # -- products -------------------------------------------------------------

    def create_product(self, body: Record) -> Record:
        """A new product."""
        reference = body.get("external_reference") or f"sandbox-product-{secrets.token_hex(6)}"
        self._check_product(body, reference, None)
        ident = self.next_id("product")
        stamp = self.stamp()
        product = {"id": ident, "description": "", "unit": "piece", "currency": "EUR", "reference": None,
                   "ledger_account_id": None, "archived_at": None, "created_at": stamp, "updated_at": stamp,
                   **body, "external_reference": reference}
        self.table("products")[str(ident)] = product
        return product

    def update_product(self, ident: Any, body: Record) -> Record:
        """Update the given fields of a product."""
        product = self.get("products", "Product", ident)
        self._check_product(body, body.get("external_reference"), product["id"])
        product.update(body)
        product["updated_at"] = self.stamp()
        return product

    def _check_product(self, body: Record, reference: str | None, ident: int | None) -> None:
        if reference is not None and any(
            p["external_reference"] == reference and p["id"] != ident for p in self.table("products").values()
        ):
            raise unprocessable("External reference has already been taken")
        if "price_before_tax" in body and parse_amount(body["price_before_tax"], 6) is None:
            raise unprocessable("price_before_tax has more than 6 decimals")
        if "vat_rate" in body:
            check_vat_code(body["vat_rate"], "vat_rate")
        if body.get("currency", "EUR") != "EUR":
            raise unprocessable("The sandbox company only works in EUR")
        if body.get("ledger_account_id") is not None:
            self.get("ledger_accounts", "LedgerAccount", body["ledger_account_id"])

    # -- chart and journals ---------------------------------------------------

    def account_by_number(self, number: str) -> Record | None:
        """The ledger account numbered ``number``, if any."""
        return next((a for a in self.table("ledger_accounts").values() if a["number"] == number), None)

    def add_account(
        self, number: str, label: str, *, letterable: bool = False, kind: str = "custom",
        auxiliary_of: str | None = None, vat_rate: str = "any", country_alpha2: str = "FR",
    ) -> Record:
        """Create a ledger account (the number must be free)."""
        ident = self.next_id("ledger_account")
        stamp = self.stamp()
        account = {"id": ident, "number": number, "label": label, "vat_rate": vat_rate,
                   "country_alpha2": country_alpha2, "enabled": True, "type": kind, "letterable": letterable,
                   "auxiliary_of": auxiliary_of, "created_at": stamp, "updated_at": stamp}
        self.table("ledger_accounts")[str(ident)] = account
        return account

    def create_ledger_account(self, body: Record) -> Record:
        """``POST /ledger_accounts``: a 411... number also creates a company customer."""
        number = body["number"]
        if not number.isalnum():
            raise unprocessable("Number must contain only letters and digits")
        if self.account_by_number(number) is not None:
            raise unprocessable(f"Number {number} has already been taken")
        if "vat_rate" in body:
            check_vat_code(body["vat_rate"], "vat_rate")
        customer_account = number.startswith(CUSTOMER_GENERAL_ACCOUNT) and number != CUSTOMER_GENERAL_ACCOUNT
        if customer_account:
            customer = self.create_customer("company", {
                "name": body["label"], "ledger_account": {"number": number},
                "billing_address": {"address": "", "postal_code": "", "city": "", "country_alpha2": "FR"},
            })
            account = self.get("ledger_accounts", "LedgerAccount", customer["ledger_account_id"])
            account["label"] = body["label"]
            return account
        return self.add_account(number, body["label"], vat_rate=body.get("vat_rate", "any"),
                                country_alpha2=body.get("country_alpha2", "FR"))

    def update_ledger_account(self, ident: Any, body: Record) -> Record:
        """``PUT /ledger_accounts/{id}``: label and letterable only."""
        account = self.get("ledger_accounts", "LedgerAccount", ident)
        if body.get("letterable") is False and any(
            line["lettering_id"] is not None and line["ledger_account_id"] == account["id"]
            for line in self.table("ledger_lines").values()
        ):
            raise unprocessable("The ledger account has lettered lines: unletter them first")
        account.update(body)
        account["updated_at"] = self.stamp()
        return account

    def add_journal(self, code: str, label: str, kind: str = "miscellaneous") -> Record:
        """Create a journal."""
        ident = self.next_id("journal")
        journal = {"id": ident, "code": code, "label": label, "type": kind}
        self.table("journals")[str(ident)] = journal
        return journal

    def create_journal(self, body: Record) -> Record:
        """``POST /journals``: code of 2 to 5 letters, unique."""
        code = body["code"]
        if not (2 <= len(code) <= 5 and code.isalpha() and code.isascii()):
            raise unprocessable("Code must be 2 to 5 letters")
        if any(j["code"].upper() == code.upper() for j in self.table("journals").values()):
            raise unprocessable(f"Code {code} has already been taken")
        return self.add_journal(code, body["label"])

    def journal_by_code(self, code: str) -> Record:
        """The journal with ``code`` (a seeded one)."""
        return next(j for j in self.table("journals").values() if j["code"] == code)

    # -- ledger entries -------------------------------------------------------

    def create_entry(self, body: Record) -> Record:
        """``POST /ledger_entries``: checks, then posts a balanced entry."""
        journal = self.get("journals", "Journal", body["journal_id"])
        if body.get("currency", "EUR") != "EUR":
            raise unprocessable("The sandbox company only works in EUR")
        for key in ("file_attachment_id", "ledger_attachment_id"):
            if key in body:
                raise not_found("FileAttachment", body[key])
        postings = [self._posting(i, line) for i, line in enumerate(body["ledger_entry_lines"])]
        return self.post_entry(journal["id"], body["date"], body["label"], postings,
                               piece_number=body.get("piece_number"), due_date=body.get("due_date"))

    def _posting(self, index: int, line: Record) -> Posting:
        account = self.get("ledger_accounts", "LedgerAccount", line["ledger_account_id"])
        debit, credit = parse_amount(line["debit"]), parse_amount(line["credit"])
        field = f"ledger_entry_lines[{index}]"
        if debit is None or credit is None:
            raise unprocessable(f"{field}: debit and credit take at most 2 decimals")
        if debit < 0 or credit < 0:
            raise unprocessable(f"{field}: debit and credit cannot be negative")
        if (debit == 0) == (credit == 0):
            raise unprocessable(f"{field}: a line has either a debit or a credit")
        return account["id"], debit, credit, line.get("label", "")

    def post_entry(
        self, journal_id: int, date: str, label: str, postings: Iterable[Posting], *,
        piece_number: str | None = None, due_date: str | None = None,
        invoice_number: str | None = None, invoice_id: int | None = None,
    ) -> Record:
        """Record a balanced entry and its lines.

        Raises:
            ApiError: 422 when the lines do not balance.
        """
        postings = list(postings)
        debits = sum((p[1] for p in postings), ZERO)
        credits = sum((p[2] for p in postings), ZERO)
        if debits != credits:
            raise unprocessable(f"Entry lines are not balanced (debits {fmt(debits)}, credits {fmt(credits)})")
        ident = self.next_id("ledger_entry")
        journal = self.get("journals", "Journal", journal_id)
        stamp = self.stamp()
        entry: Record = {"id": ident, "label": label, "date": date, "due_date": due_date,
                 "piece_number": piece_number or f"{journal['code']}-{ident}", "journal_id": journal_id,
                 "invoice_number": invoice_number, "invoice_id": invoice_id, "line_ids": [],
                 "created_at": stamp, "updated_at": stamp}
        for account_id, debit, credit, line_label in postings:
            line_id = self.next_id("ledger_line")
            self.table("ledger_lines")[str(line_id)] = {
                "id": line_id, "entry_id": ident, "ledger_account_id": account_id, "debit": fmt(debit),
                "credit": fmt(credit), "label": line_label or label, "lettering_id": None,
                "created_at": stamp, "updated_at": stamp,
            }
            entry["line_ids"].append(line_id)
        self.table("ledger_entries")[str(ident)] = entry
        return entry

    def entry_lines(self, entry: Record) -> list[Record]:
        """The lines of an entry, in posting order."""
        lines = self.table("ledger_lines")
        return [lines[str(i)] for i in entry["line_ids"] if str(i) in lines]

    def line_view(self, line: Record) -> Record:
        """A line joined with its entry's date and journal (for filters and rendering)."""
        entry = self.table("ledger_entries")[str(line["entry_id"])]
        return {**line, "date": entry["date"], "journal_id": entry["journal_id"]}

    def delete_entry(self, ident: Any) -> None:
        """Remove an entry and its lines, unlettering them (sandbox tampering only)."""
        entry = self.get("ledger_entries", "LedgerEntry", ident)
        lines = self.entry_lines(entry)
        self._drop_from_letterings({line["id"] for line in lines})
        for line in lines:
            del self.table("ledger_lines")[str(line["id"])]
        del self.table("ledger_entries")[str(entry["id"])]

    # -- lettering ------------------------------------------------------------

    def lettered_ids(self, line: Record) -> list[int]:
        """Ids of every line lettered with ``line``, itself included; [] when unlettered."""
        if line["lettering_id"] is None:
            return []
        return sorted(self.table("letterings")[str(line["lettering_id"])]["line_ids"])

    def letter(self, ids: list[int], strategy: str) -> list[int]:
        """Letter lines together, merging the letterings they already belong to."""
        lines = [self.get("ledger_lines", "LedgerEntryLine", i) for i in dict.fromkeys(ids)]
        if len(lines) < 2:
            raise bad_request("ledger_entry_lines needs at least 2 distinct lines", "ledger_entry_lines",
                              "LessThanMinItems")
        accounts = {line["ledger_account_id"] for line in lines}
        if len(accounts) != 1:
            raise unprocessable("Lettered lines must all belong to the same ledger account")
        account = self.get("ledger_accounts", "LedgerAccount", accounts.pop())
        if not account["letterable"]:
            raise unprocessable(f"Ledger account {account['number']} is not letterable")
        group = {line["id"] for line in lines}
        for line in lines:
            group.update(self.lettered_ids(line))
        if strategy == "none" and self._balance(group) != 0:
            raise unprocessable("The lettering is not balanced (use unbalanced_lettering_strategy=partial)")
        self._drop_from_letterings(group)
        gid = self.next_id("lettering")
        self.table("letterings")[str(gid)] = {"id": gid, "line_ids": sorted(group), "created_at": self.stamp()}
        for line_id in group:
            self.table("ledger_lines")[str(line_id)]["lettering_id"] = gid
        return sorted(group)

    def unletter(self, ids: list[int], strategy: str) -> None:
        """Take lines out of their letterings; a lettering left with one line disappears."""
        lines = [self.get("ledger_lines", "LedgerEntryLine", i) for i in dict.fromkeys(ids)]
        for line in lines:
            if line["lettering_id"] is None:
                raise unprocessable(f"Ledger entry line {line['id']} is not lettered")
        removed = {line["id"] for line in lines}
        remaining = {gid: set(self.table("letterings")[str(gid)]["line_ids"]) - removed
                     for gid in {line["lettering_id"] for line in lines}}
        if strategy == "none" and any(len(rest) > 1 and self._balance(rest) != 0 for rest in remaining.values()):
            raise unprocessable("Unlettering would leave an unbalanced lettering (use strategy partial)")
        self._drop_from_letterings(removed)

    def _balance(self, line_ids: Iterable[int]) -> Decimal:
        lines = self.table("ledger_lines")
        return sum((Decimal(lines[str(i)]["debit"]) - Decimal(lines[str(i)]["credit"]) for i in line_ids), ZERO)

    def _drop_from_letterings(self, line_ids: set[int]) -> None:
        letterings, lines = self.table("letterings"), self.table("ledger_lines")
        for gid in {lines[str(i)]["lettering_id"] for i in line_ids if lines[str(i)]["lettering_id"] is not None}:
            rest = [i for i in letterings[str(gid)]["line_ids"] if i not in line_ids]
            for line_id in line_ids:
                if lines[str(line_id)]["lettering_id"] == gid:
                    lines[str(line_id)]["lettering_id"] = None
            if len(rest) < 2:
                for line_id in rest:
                    lines[str(line_id)]["lettering_id"] = None
                del letterings[str(gid)]
            else:
                letterings[str(gid)]["line_ids"] = rest

    # -- reports --------------------------------------------------------------

    def trial_balance(self, start: str, end: str, auxiliary: bool) -> list[Record]:
        """Debits and credits per account number over ``[start, end]``.

        Without ``auxiliary``, customer sub-accounts (411xxxxx) are summed into
        their general account (411), as an accountant's trial balance shows.
        """
        accounts, entries = self.table("ledger_accounts"), self.table("ledger_entries")
        rows: dict[str, list[Any]] = {}
        for line in self.table("ledger_lines").values():
            date = entries[str(line["entry_id"])]["date"]
            if not start <= date <= end:
                continue
            account = accounts[str(line["ledger_account_id"])]
            number, label = account["number"], account["label"]
            if account["auxiliary_of"] and not auxiliary:
                number = account["auxiliary_of"]
                general = self.account_by_number(number)
                label = general["label"] if general else number
            row = rows.setdefault(number, [label, ZERO, ZERO])
            row[1] += Decimal(line["debit"])
            row[2] += Decimal(line["credit"])
        return [{"number": n, "formatted_number": n.ljust(8, "0"), "label": r[0], "debits": fmt(r[1]),
                 "credits": fmt(r[2])} for n, r in sorted(rows.items())]

    def fiscal_years(self) -> list[Record]:
        """Calendar fiscal years from the first entry's year to this year, all open."""
        years = {int(e["date"][:4]) for e in self.table("ledger_entries").values()} | {int(self.today()[:4])}
        stamp = self.data["created_at"]
        return [{"id": year, "start": f"{year}-01-01", "finish": f"{year}-12-31", "status": "open",
                 "created_at": stamp, "updated_at": stamp} for year in range(min(years), max(years) + 1)]


def check_vat_code(code: str, field: str) -> Decimal:
    """The percentage of a VAT code.

    Raises:
        ApiError: 400 NotEnumInclude for an unknown code, 422 for ``mixed``.
    """
    if code == "mixed":
        raise unprocessable(f"{field}: the mixed VAT code cannot be used on a sale line")
    rate = vat_percent(code)
    if rate is None:
        raise bad_request(f"{field} {code!r} is not a known VAT code (e.g. FR_200 for 20 %)", field,
                          "NotEnumInclude")
    return rate
