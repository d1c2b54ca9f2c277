"""One ledger transaction -> Pennylane Company API v2 payloads (pure: no I/O).

The connector looks remote records up and passes their ids in; everything
decided here depends on the transaction and the idempotency key only, so
``partida sync --dry-run`` can show it.

What each transaction becomes
-----------------------------
- **Invoice** (first transaction of an ``invoice.issued`` event): a
  finalized customer invoice, one line per event line (product lines when
  the line names a product), ``external_reference`` = the key, ``label`` and
  PDF subject ``Facture <ledger number>`` (Pennylane numbers the document
  itself; the ledger's number stays readable in the label).
- **Credit note** (first transaction of ``credit_note.issued``): the same,
  with negative quantities (Pennylane has no credit-note flag), then linked
  to its invoice.
- **Everything else** is a ledger entry, one line per posting, dated as in
  the ledger, ``piece_number`` = the key: deposits, payments, refunds,
  forfeits, voucher sales and cash movements in the cash journal;
  deposit applications (``step: deposit-applied``) and reconciliations in
  the OD journal.

Accounts
--------
Each posting goes to the Pennylane account with its PCG number (``706``,
``44574``, ``58``...; created when missing, so the trial balance compares
number by number). Customer sub-accounts of 411 become the customer's own
auxiliary account, numbered ``411`` + the ledger's customer component
(letters and digits, 11 at most) + 6 hex digits of its hash, e.g.
``411CUST0001A1B2C3``: deterministic, so a later transaction that names no
customer (a deposit application) still finds it, and unique even when two
refs differ only in punctuation. 4191 sub-accounts (customers' deposits,
gift vouchers) fold into one general ``4191``: Pennylane letters 411 only,
and the trial balance folds them anyway.

Amounts: the document equals the ledger
---------------------------------------
Pennylane recomputes an invoice from its lines: net per line rounded to the
cent, VAT per line rounded (that is what the sandbox does; the real rule is
undocumented). The ledger books the printed totals: per-rate VAT on the
rate's total. So each line's net is the ledger's net of its (account, rate)
shared over the lines, its unit price is that net / quantity to 6 decimals,
and when per-line VAT rounding misses the booked VAT of a rate, a few cents
of net are moved between lines of the rate (same account first) until it
hits it. The document's net, VAT and total then equal the ledger's.

Reconciliation (the 44571 / 44574 decision)
-------------------------------------------
Pennylane posts an invoice's VAT on 44571; under the receipts policy the
ledger books it on 44574 (not yet due) and moves it to 44571 as the invoice
is paid. Replaying the payments as they are and reclassifying each
document's VAT once, right after it, keeps both books equal account by
account at every date: so after each invoice or credit note, the connector
reads the entry Pennylane posted and posts the difference with the ledger's
transaction as one OD entry (piece ``<key>-od``, same date): 44571 D /
44574 C for an invoice's VAT, reversed for the part of a credit note that
cancels pending VAT, plus any cent a line shift moved between revenue
accounts. Under the debits policy there is usually nothing to post.

Lettering
---------
Every 411 line of a transaction that names an invoice (deposit application,
payment, credit note, refund of a credit) is lettered with that invoice's
receivable line, ``unbalanced_lettering_strategy: partial``: the group then
holds exactly the ledger's movements of that invoice, so Pennylane shows it
paid (open amount zero) exactly when the ledger does, and partially paid in
between. Lettering merges groups, so repeating it is harmless.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from decimal import ROUND_HALF_UP
from decimal import Decimal
from typing import Any
from typing import Literal
from typing import TypeVar

from connectors.errors import PermanentError
from engine.chart import FR_PCG
from engine.chart import customer_component
from engine.documents import allocate
from engine.journal import LedgerTxn
from engine.money import ZERO
from engine.money import cents
from engine.money import fmt

__all__ = [
    "Account",
    "CustomerPlan",
    "DocLine",
    "DocumentPlan",
    "EntryLine",
    "EntryPlan",
    "ProductPlan",
    "customer_account_number",
    "customer_request",
    "describe",
    "document_body",
    "document_label",
    "document_plan",
    "entry_body",
    "entry_plan",
    "lettering_body",
    "map_account",
    "plan",
    "predicted_reconciliation",
    "predicted_remote",
    "product_body",
    "reconcile",
    "reconciliation_body",
    "reconciliation_piece",
    "vat_code",
]

Journal = Literal["cash", "od"]
K = TypeVar("K")

RECEIVABLE = "411"
DEPOSITS = "4191"
REMOTE_INVOICE_VAT = "44571"  # where Pennylane posts an invoice's VAT
DEFAULT_REVENUE = FR_PCG.roles["default_income"]
UNIT = "piece"
CASH_EVENT_TYPES = frozenset({
    "deposit.received", "payment.received", "refund.issued", "deposit.forfeited", "voucher.sold", "cash.movement",
})
DOCUMENT_KINDS = {"invoice.issued": "invoice", "credit_note.issued": "credit_note"}
_MICRO = Decimal("0.000001")
_MAX_SHIFT_CENTS = 100
_FIT_CANDIDATES = 8

_FR_VAT_CODES = ("FR_1_05", "FR_1_75", "FR_09", "FR_21", "FR_40", "FR_50", "FR_55", "FR_60", "FR_65", "FR_85",
                 "FR_92", "FR_100", "FR_130", "FR_160", "FR_196", "FR_200")
_LABELS = {
    "4191": "Clients - avances et acomptes reçus",
    "44571": "TVA collectée",
    "44574": "TVA collectée non exigible (sur encaissements)",
    "44588": "TVA sur acomptes reçus (en attente de facture)",
    "5112": "Chèques à encaisser",
    "58": "Virements internes",
    "7581": "Dédits et pénalités perçus",
    "758": "Produits divers de gestion courante",
    "658": "Charges diverses de gestion courante",
}


# -- values -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Account:
    """A Pennylane ledger account, named by number; ``customer`` is set for a
    customer's auxiliary 411 account (the ledger's customer component)."""

    number: str
    label: str = field(default="", compare=False)  # only used when creating the account
    customer: str = ""


@dataclass(frozen=True, slots=True)
class EntryLine:
    """One entry line: ``amount`` is signed, a debit when positive."""

    account: Account
    amount: Decimal


@dataclass(frozen=True, slots=True)
class EntryPlan:
    """A ledger entry to post; ``invoice`` is the ledger number of the invoice
    its 411 lines settle (they are lettered with it), ``customer`` the ref of
    their customer when the transaction names it."""

    journal: Journal
    date: datetime.date
    label: str
    piece_number: str
    lines: tuple[EntryLine, ...]
    invoice: str | None = None
    customer: str | None = None

    @property
    def receivable_lines(self) -> tuple[EntryLine, ...]:
        """The lines on a customer's 411 account."""
        return tuple(line for line in self.lines if line.account.customer)


@dataclass(frozen=True, slots=True)
class CustomerPlan:
    """A customer: its ref (Pennylane ``external_reference``), its 411 account,
    and its details when the transaction carries them (needed to create it)."""

    ref: str
    account: Account
    name: str | None = None
    kind: str = "individual"
    email: str | None = None
    vat_number: str | None = None


@dataclass(frozen=True, slots=True)
class ProductPlan:
    """A product, found or created by ``external_reference`` = its ref."""

    ref: str
    name: str
    unit_price: Decimal
    vat_code: str
    account: Account


@dataclass(frozen=True, slots=True)
class DocLine:
    """An invoice line; ``net`` and ``tax`` are what Pennylane will compute."""

    label: str
    quantity: Decimal
    unit_price: Decimal
    vat_code: str
    rate: Decimal
    account: Account
    product: ProductPlan | None
    net: Decimal
    tax: Decimal


@dataclass(frozen=True, slots=True)
class DocumentPlan:
    """A customer invoice or credit note to create (finalized)."""

    kind: Literal["invoice", "credit_note"]
    number: str
    credited: str | None
    customer: CustomerPlan
    date: datetime.date
    deadline: datetime.date
    label: str
    key: str
    lines: tuple[DocLine, ...]
    local: tuple[EntryLine, ...]

    @property
    def total(self) -> Decimal:
        """Tax included, signed (negative for a credit note)."""
        return sum((line.net + line.tax for line in self.lines), ZERO)

    @property
    def products(self) -> tuple[ProductPlan, ...]:
        """Products named by the lines, first occurrence of each ref."""
        seen: dict[str, ProductPlan] = {}
        for line in self.lines:
            if line.product is not None:
                seen.setdefault(line.product.ref, line.product)
        return tuple(seen.values())


# -- accounts and VAT codes -----------------------------------------------------------

def pcg_number(account: str) -> str:
    """The PCG number of a Beancount account (``Income:706-Prestations`` -> ``706``)."""
    return account.split(":")[1].split("-")[0]


def customer_account_number(component: str) -> str:
    """The auxiliary 411 account number of a ledger customer component."""
    readable = re.sub(r"[^A-Za-z0-9]", "", component.removeprefix("C-")).upper()[:11]
    digest = hashlib.sha256(component.encode("utf-8")).hexdigest()[:6].upper()
    return f"{RECEIVABLE}{readable}{digest}"


def _label(number: str, name: str) -> str:
    if number in _LABELS:
        return _LABELS[number]
    words = re.sub(r"(?<=[a-zà-ÿ])(?=[A-Z])", " ", name.partition("-")[2])
    return words or number


def map_account(account: str) -> Account:
    """The Pennylane account of a Beancount account (see the module docstring)."""
    parts = account.split(":")
    number = pcg_number(account)
    if number == RECEIVABLE and len(parts) > 2:
        return Account(customer_account_number(parts[2]), parts[2], customer=parts[2])
    return Account(number, _label(number, parts[1]))


def _code_rate(code: str) -> Decimal:
    digits = code.split("_")[1:]
    return Decimal(f"{digits[0]}.{digits[1]}") if len(digits) == 2 else Decimal(digits[0]) / 10


_VAT_CODES = {_code_rate(code): code for code in _FR_VAT_CODES} | {Decimal(0): "exempt"}


def vat_code(rate: Decimal) -> str:
    """Pennylane's code of a French VAT rate in percent (20 -> ``FR_200``, 0 -> ``exempt``).

    Raises:
        PermanentError: for a rate Pennylane has no French code for.
    """
    code = _VAT_CODES.get(rate)
    if code is None:
        raise PermanentError(f"VAT rate {rate}% has no Pennylane code")
    return code


def line_tax(net: Decimal, rate: Decimal) -> Decimal:
    """The VAT Pennylane computes on one line: per line, rounded to the cent."""
    return cents(net * rate / 100)


# -- dispatch ---------------------------------------------------------------------------

def plan(txn: LedgerTxn, key: str) -> DocumentPlan | EntryPlan | None:
    """What ``txn`` becomes on Pennylane; None when it has nothing to send."""
    if txn.event_type in DOCUMENT_KINDS and txn.get("step") is None and txn.get("source-event"):
        return document_plan(txn, key)
    return entry_plan(txn, key)


def _narration(txn: LedgerTxn) -> str:
    return f"{txn.narration} — {txn.payee}" if txn.payee else txn.narration


def entry_plan(txn: LedgerTxn, key: str) -> EntryPlan | None:
    """A ledger entry with one line per non-zero posting; None when there is none."""
    lines = tuple(EntryLine(map_account(p.account), p.amount) for p in txn.postings if p.amount)
    if not lines:
        return None
    cash = txn.event_type in CASH_EVENT_TYPES and txn.get("step") is None
    settles = any(line.account.customer for line in lines)
    return EntryPlan("cash" if cash else "od", txn.date, _narration(txn), key, lines,
                     txn.get("invoice") if settles else None, txn.get("customer") if settles else None)


# -- documents ----------------------------------------------------------------------------

def document_label(kind: str, number: str) -> str:
    """The label (and PDF subject) of a document: the ledger's number, readable."""
    return f"{'Facture' if kind == 'invoice' else 'Avoir'} {number}"


def document_plan(txn: LedgerTxn, key: str) -> DocumentPlan:
    """The invoice or credit note of the first transaction of its event.

    Raises:
        PermanentError: when the transaction does not look like a document.
    """
    event = json.loads(txn.get("source-event") or "{}")
    kind: Literal["invoice", "credit_note"] = "invoice" if txn.event_type == "invoice.issued" else "credit_note"
    receivables = [p for p in txn.postings if pcg_number(p.account) == RECEIVABLE]
    if len(receivables) != 1 or not txn.get("customer"):
        raise PermanentError(f"seq {txn.seq}: a document needs exactly one 411 posting and a customer")
    customer = _customer(txn.get("customer") or "", map_account(receivables[0].account), event.get("customer"))
    sign = Decimal(1) if kind == "invoice" else Decimal(-1)
    nets, vat = _booked(txn, sign)
    lines = _document_lines(event.get("lines") or [], nets, vat, sign)
    number = event.get("number") or ""
    deadline = txn.get("due-date")
    return DocumentPlan(
        kind=kind, number=number, credited=event.get("invoice") if kind == "credit_note" else None,
        customer=customer, date=txn.date,
        deadline=datetime.date.fromisoformat(deadline) if deadline else txn.date,
        label=document_label(kind, number), key=key, lines=lines,
        local=tuple(EntryLine(map_account(p.account), p.amount) for p in txn.postings if p.amount),
    )


def _customer(ref: str, account: Account, details: dict[str, Any] | None) -> CustomerPlan:
    if customer_component(ref) != account.customer:
        raise PermanentError(f"customer {ref!r} does not own the 411 account {account.customer!r}")
    if not details:
        return CustomerPlan(ref, account)
    return CustomerPlan(ref, account, details.get("name"), details.get("kind", "individual"),
                        details.get("email"), details.get("vat_number"))


def _booked(txn: LedgerTxn, sign: Decimal) -> tuple[dict[tuple[str, Decimal], Decimal], dict[Decimal, Decimal]]:
    """Nets per (revenue account, rate) and VAT per rate, as magnitudes."""
    nets: dict[tuple[str, Decimal], Decimal] = {}
    vat: dict[Decimal, Decimal] = {}
    vat_without_rate = False
    gross = ZERO
    for posting in txn.postings:
        number = pcg_number(posting.account)
        amount = posting.amount * sign
        rate_text = posting.get("vat-rate")
        if number == RECEIVABLE:
            gross += amount
        elif number.startswith("445"):
            vat_without_rate |= rate_text is None
            rate = Decimal(rate_text or "0")
            vat[rate] = vat.get(rate, ZERO) - amount
        elif rate_text is None:
            raise PermanentError(f"seq {txn.seq}: revenue posting on {number} has no vat-rate")
        else:
            nets[(number, Decimal(rate_text))] = nets.get((number, Decimal(rate_text)), ZERO) - amount
    if vat_without_rate:
        # A credit note books its VAT total only (split over 44574 and 44571).
        return nets, _split_vat(nets, gross - sum(nets.values(), ZERO))
    return nets, vat


def _split_vat(nets: Mapping[tuple[str, Decimal], Decimal], total: Decimal) -> dict[Decimal, Decimal]:
    """VAT per rate when the ledger booked only its total (credit notes):
    each rate's VAT on its net, the rounding rest on the largest."""
    per_rate: dict[Decimal, Decimal] = {}
    for (_, rate), net in nets.items():
        per_rate[rate] = per_rate.get(rate, ZERO) + net
    vat = {rate: cents(net * rate / 100) for rate, net in per_rate.items()}
    if vat:
        largest = max(vat, key=lambda rate: vat[rate])
        vat[largest] += total - sum(vat.values(), ZERO)
    return vat


def _document_lines(raw_lines: list[dict[str, Any]], nets: Mapping[tuple[str, Decimal], Decimal],
                    vat: Mapping[Decimal, Decimal], sign: Decimal) -> tuple[DocLine, ...]:
    groups = [(line.get("account") or DEFAULT_REVENUE, Decimal(line["vat_rate"])) for line in raw_lines]
    if set(groups) != set(nets):
        raise PermanentError("the document's lines do not match the revenue the ledger booked")
    line_nets = [ZERO] * len(raw_lines)
    for group, booked in nets.items():
        members = [i for i, g in enumerate(groups) if g == group]
        weights = [cents(Decimal(raw_lines[i]["quantity"]) * Decimal(raw_lines[i]["unit_price"])) for i in members]
        for i, net in zip(members, allocate(booked, weights), strict=True):
            line_nets[i] = net
    for rate in vat:
        members = [i for i, g in enumerate(groups) if g[1] == rate]
        fitted = _fit_vat([line_nets[i] for i in members], [groups[i][0] for i in members], rate, vat[rate])
        for i, net in zip(members, fitted, strict=True):
            line_nets[i] = net
    return tuple(_doc_line(raw, group, net * sign) for raw, group, net in zip(raw_lines, groups, line_nets,
                                                                             strict=True))


def _fit_vat(nets: list[Decimal], accounts: list[str], rate: Decimal, target: Decimal) -> list[Decimal]:
    """Move the fewest cents of net between lines so per-line VAT sums to ``target``.

    Lines of the same account are tried first (the revenue per account stays
    exact); then any two lines of the rate. Unreachable: unchanged (the
    reconciliation entry then carries the cent).
    """
    taxes = [line_tax(net, rate) for net in nets]
    base = sum(taxes, ZERO)
    if base == target:
        return nets
    # The largest lines absorb a shift with the least relative change; a few suffice.
    candidates = sorted(range(len(nets)), key=lambda i: -nets[i])[:_FIT_CANDIDATES]
    pairs = [(i, j) for i in candidates for j in candidates if i != j]
    for same_account in (True, False):
        for step in range(1, _MAX_SHIFT_CENTS + 1):
            delta = Decimal(step) / 100
            for i, j in pairs:
                if (accounts[i] == accounts[j]) != same_account or nets[j] - delta <= 0:
                    continue
                moved = base - taxes[i] - taxes[j] + line_tax(nets[i] + delta, rate) + line_tax(nets[j] - delta, rate)
                if moved == target:
                    fitted = list(nets)
                    fitted[i] += delta
                    fitted[j] -= delta
                    return fitted
    return nets


def _doc_line(raw: dict[str, Any], group: tuple[str, Decimal], net: Decimal) -> DocLine:
    number, rate = group
    code = vat_code(rate)
    account = map_account(FR_PCG.accounts.get(number, f"Income:{number}"))
    quantity = Decimal(raw["quantity"]) * (1 if net >= 0 else -1)
    quantity, price = _quantity_and_price(net, quantity)
    product = None
    if raw.get("product"):
        product = ProductPlan(raw["product"]["ref"], raw["product"]["name"], abs(price), code, account)
    return DocLine(raw["label"], quantity, price, code, rate, account, product, net, line_tax(net, rate))


def _quantity_and_price(net: Decimal, quantity: Decimal) -> tuple[Decimal, Decimal]:
    """A unit price (6 decimals) that gives exactly ``net`` for ``quantity``;
    quantity 1 when no such price exists (huge or zero quantities)."""
    if quantity:
        price = (net / quantity).quantize(_MICRO, rounding=ROUND_HALF_UP)
        if cents(price * quantity) == net:
            return quantity, price
    return (Decimal(1) if net >= 0 else Decimal(-1)), abs(net)


# -- remote prediction and reconciliation -------------------------------------------------------

def predicted_remote(doc: DocumentPlan) -> tuple[EntryLine, ...]:
    """The entry Pennylane posts for ``doc``: receivable, revenue per account, VAT on 44571."""
    lines = [EntryLine(doc.customer.account, doc.total)]
    revenue: dict[Account, Decimal] = {}
    for line in doc.lines:
        revenue[line.account] = revenue.get(line.account, ZERO) - line.net
    lines += [EntryLine(account, amount) for account, amount in revenue.items() if amount]
    tax = sum((line.tax for line in doc.lines), ZERO)
    if tax:
        lines.append(EntryLine(Account(REMOTE_INVOICE_VAT, _LABELS[REMOTE_INVOICE_VAT]), -tax))
    return tuple(lines)


def reconcile(local: Iterable[tuple[K, Decimal]], remote: Iterable[tuple[K, Decimal]]) -> dict[K, Decimal]:
    """What to post so ``remote`` becomes ``local``, per account (non-zero only)."""
    difference: dict[K, Decimal] = {}
    for key, amount in local:
        difference[key] = difference.get(key, ZERO) + amount
    for key, amount in remote:
        difference[key] = difference.get(key, ZERO) - amount
    return {key: amount for key, amount in difference.items() if amount}


def predicted_reconciliation(doc: DocumentPlan) -> dict[Account, Decimal]:
    """The reconciliation entry ``doc`` should need, as far as the mapping can tell."""
    return reconcile(((line.account, line.amount) for line in doc.local),
                     ((line.account, line.amount) for line in predicted_remote(doc)))


def reconciliation_piece(key: str) -> str:
    """The piece number of a document's reconciliation entry."""
    return f"{key}-od"


# -- request bodies ---------------------------------------------------------------------------

def _json_number(value: Decimal) -> int | float:
    # Quantities travel as JSON numbers; a decimal quantity of up to 6
    # places survives float's shortest repr unchanged.
    return int(value) if value == value.to_integral_value() else float(value)


def _price_text(price: Decimal) -> str:
    text = f"{price.quantize(_MICRO):f}".rstrip("0")
    whole, _, decimals = text.partition(".")
    return f"{whole}.{decimals.ljust(2, '0')}"


def _entry_body(date: datetime.date, label: str, journal_id: int, piece: str,
                lines: Sequence[tuple[int, Decimal]]) -> dict[str, Any]:
    return {
        "date": date.isoformat(), "label": label, "journal_id": journal_id, "piece_number": piece,
        "ledger_entry_lines": [
            {"debit": fmt(max(amount, ZERO)), "credit": fmt(max(-amount, ZERO)), "ledger_account_id": account_id,
             "label": label}
            for account_id, amount in lines
        ],
    }


def entry_body(entry: EntryPlan, journal_id: int, account_ids: Mapping[Account, int]) -> dict[str, Any]:
    """``POST /ledger_entries`` for an entry plan."""
    return _entry_body(entry.date, entry.label, journal_id, entry.piece_number,
                       [(account_ids[line.account], line.amount) for line in entry.lines])


def reconciliation_body(doc: DocumentPlan, journal_id: int, difference: Mapping[int, Decimal]) -> dict[str, Any]:
    """``POST /ledger_entries`` bringing a document's remote entry to the ledger's."""
    label = f"Régularisation {doc.label} (TVA sur encaissements, arrondis)"
    lines = sorted(difference.items(), key=lambda item: (item[1] < 0, item[0]))
    return _entry_body(doc.date, label, journal_id, reconciliation_piece(doc.key), lines)


def customer_request(customer: CustomerPlan) -> tuple[str, dict[str, Any]]:
    """Path and body creating ``customer`` (its details must be known).

    The events carry no postal address: the address fields are left empty.
    """
    body: dict[str, Any] = {
        "billing_address": {"address": "", "postal_code": "", "city": "", "country_alpha2": "FR"},
        "external_reference": customer.ref,
        "ledger_account": {"number": customer.account.number},
    }
    if customer.email:
        body["emails"] = [customer.email]
    name = customer.name or customer.ref
    if customer.kind == "company":
        body["name"] = name
        if customer.vat_number:
            body["vat_number"] = customer.vat_number
        return "/company_customers", body
    first, _, last = name.partition(" ")
    body.update(first_name=first if last else "", last_name=last or first)
    return "/individual_customers", body


def product_body(product: ProductPlan, account_id: int) -> dict[str, Any]:
    """``POST /products``."""
    return {"label": product.name, "price_before_tax": _price_text(product.unit_price), "vat_rate": product.vat_code,
            "unit": UNIT, "external_reference": product.ref, "ledger_account_id": account_id}


def document_body(doc: DocumentPlan, customer_id: int, account_ids: Mapping[Account, int],
                  product_ids: Mapping[str, int]) -> dict[str, Any]:
    """``POST /customer_invoices`` (finalized) for an invoice or credit note."""
    lines = []
    for line in doc.lines:
        body: dict[str, Any] = {
            "label": line.label, "quantity": _json_number(line.quantity),
            "raw_currency_unit_price": _price_text(line.unit_price), "unit": UNIT, "vat_rate": line.vat_code,
            "ledger_account_id": account_ids[line.account],
        }
        if line.product is not None:
            body = {"product_id": product_ids[line.product.ref], **body}
        lines.append(body)
    return {
        "date": doc.date.isoformat(), "deadline": doc.deadline.isoformat(), "customer_id": customer_id,
        "draft": False, "external_reference": doc.key, "label": doc.label, "pdf_invoice_subject": doc.label,
        "invoice_lines": lines,
    }


def lettering_body(line_ids: Sequence[int]) -> dict[str, Any]:
    """``POST /ledger_entry_lines/lettering``; ``partial`` because a group may
    hold an invoice and only part of its settlement (see the module docstring)."""
    return {"unbalanced_lettering_strategy": "partial", "ledger_entry_lines": [{"id": i} for i in line_ids]}


# -- dry run ------------------------------------------------------------------------------------

def _lines_text(lines: Iterable[tuple[Account, Decimal]]) -> str:
    return " / ".join(f"{account.number} {'D' if amount > 0 else 'C'} {fmt(abs(amount))}" for account, amount in lines)


def describe(txn: LedgerTxn, key: str, journal_codes: Mapping[str, str]) -> list[str]:
    """The requests pushing ``txn`` would make, one line each (no I/O).

    Lookups of records the connector may already know (customers, products,
    accounts, journals) are listed as "find or create".
    """
    target = plan(txn, key)
    if target is None:
        return ["nothing to send (no non-zero posting)"]
    if isinstance(target, EntryPlan):
        return _describe_entry(target, journal_codes)
    return _describe_document(target, journal_codes["od"])


def _describe_entry(entry: EntryPlan, journal_codes: Mapping[str, str]) -> list[str]:
    general = sorted({line.account.number for line in entry.lines if not line.account.customer})
    out = [f"find or create accounts {', '.join(general)}"]
    out += [f"find customer account {number}" for number in sorted({line.account.number for line in
                                                                     entry.receivable_lines})]
    out += [f"POST /ledger_entries journal {journal_codes[entry.journal]} {entry.date} piece {entry.piece_number}: "
           + _lines_text((line.account, line.amount) for line in entry.lines)]
    if entry.invoice and entry.receivable_lines:
        out.append(f"POST /ledger_entry_lines/lettering: its 411 line(s) with invoice {entry.invoice} (partial)")
    return out


def _describe_document(doc: DocumentPlan, od_code: str) -> list[str]:
    tax = sum((line.tax for line in doc.lines), ZERO)
    codes = ", ".join(sorted({line.vat_code for line in doc.lines}))
    out = [f"find or create customer {doc.customer.ref} (account {doc.customer.account.number})"]
    out += [f"find or create product {p.ref}" for p in doc.products]
    out.append(f"POST /customer_invoices {doc.label} {doc.date}: {len(doc.lines)} line(s), "
               f"{fmt(doc.total - tax)} + VAT {fmt(tax)} = {fmt(doc.total)} ({codes}), external_reference {doc.key}")
    if doc.credited:
        out.append(f"POST /customer_invoices/{{invoice {doc.credited}}}/link_credit_note")
    out.append("GET /ledger_entries/{its entry}/ledger_entry_lines")
    difference = predicted_reconciliation(doc)
    if difference:
        out.append(f"POST /ledger_entries journal {od_code} {doc.date} piece {reconciliation_piece(doc.key)}: "
                   + _lines_text(sorted(difference.items(), key=lambda item: (item[1] < 0, item[0].number))))
    if doc.credited:
        out.append(f"POST /ledger_entry_lines/lettering: its 411 line with invoice {doc.credited} (partial)")
    return out
