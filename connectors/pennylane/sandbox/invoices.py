"""Customer invoices and credit notes: totals, numbering, posting, settlement.

A finalized invoice is computed line by line: net = quantity x unit price less
the line discount, rounded to the cent; the invoice-level discount is shared
over the nets (the rounding remainder on the last line); VAT = net x rate,
rounded per line. A negative total makes a **credit note** (negative
quantities or prices, as Pennylane expects; there is no ``credit_note`` flag).

Finalizing numbers the invoice ``F<year><seq>`` (one sequence for invoices and
credit notes), refuses a date earlier than the last finalized one (422, as
Pennylane since 2024-12), and posts the invoice's own entry in the sales
journal: customer account (411xxxxx) debit of the total, revenue accounts
credit of the nets, 44571 credit of the VAT (all mirrored for a credit note).

Settlement is derived, never stored: the invoice's receivable line, lettered
with payments (or credit notes) on the same customer account, is covered by
the group's opposite side in date order; what is left is
``remaining_amount_with_tax``, and ``paid`` means nothing is left.
``mark_as_paid`` sets ``paid`` without any lettering, as on Pennylane.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.pennylane.sandbox.amounts import ZERO
from connectors.pennylane.sandbox.amounts import cents
from connectors.pennylane.sandbox.amounts import fmt
from connectors.pennylane.sandbox.amounts import parse_amount
from connectors.pennylane.sandbox.books import DEFAULT_REVENUE_ACCOUNT
from connectors.pennylane.sandbox.books import SALES_JOURNAL_CODE
from connectors.pennylane.sandbox.books import VAT_COLLECTED_ACCOUNT
from connectors.pennylane.sandbox.books import Books
from connectors.pennylane.sandbox.books import Posting
from connectors.pennylane.sandbox.books import check_vat_code
from connectors.pennylane.sandbox.errors import not_found
from connectors.pennylane.sandbox.errors import unprocessable

Record = dict[str, Any]
_HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class Settlement:
    """How much of an invoice is still due (tax included, signed like the invoice)."""

    remaining: Decimal
    paid: bool


def create_invoice(books: Books, body: Record, *, enforce_chronology: bool = True) -> Record:
    """``POST /customer_invoices`` (finalized): check, number, post, store."""
    customer = books.get("customers", "Customer", body["customer_id"])
    _check_header(books, body, enforce_chronology)
    lines = [_resolve_line(books, i, line) for i, line in enumerate(body["invoice_lines"])]
    _check_sections(body.get("invoice_line_sections", []), lines)
    _price_lines(lines, body.get("discount"))
    net = sum((Decimal(line["currency_amount_before_tax"]) for line in lines), ZERO)
    tax = sum((Decimal(line["currency_tax"]) for line in lines), ZERO)
    if net + tax == 0:
        raise unprocessable("An invoice total cannot be zero")
    ident = books.next_id("invoice")
    number = _next_number(books, body["date"])
    kind = "Avoir" if net + tax < 0 else "Facture"
    label = body.get("label") or f"{kind} {customer['name']} - {number}"
    stamp = books.stamp()
    for line in lines:
        line["id"] = books.next_id("invoice_line")
        line["created_at"] = line["updated_at"] = stamp
    entry = books.post_entry(
        books.journal_by_code(SALES_JOURNAL_CODE)["id"], body["date"], label,
        _postings(books, customer, lines, net + tax, label),
        piece_number=number, due_date=body["deadline"], invoice_number=number, invoice_id=ident,
    )
    invoice = {
        "id": ident, "label": label, "invoice_number": number, "currency": "EUR", "date": body["date"],
        "deadline": body["deadline"], "language": body.get("language") or customer["billing_language"],
        "customer_id": customer["id"], "amount": fmt(net + tax), "currency_amount_before_tax": fmt(net),
        "currency_tax": fmt(tax), "discount": body.get("discount") or {"type": "relative", "value": "0"},
        "external_reference": body.get("external_reference") or f"sandbox-invoice-{ident}",
        "special_mention": body.get("special_mention"), "pdf_invoice_free_text": body.get("pdf_invoice_free_text"),
        "pdf_invoice_subject": body.get("pdf_invoice_subject"), "pdf_description": body.get("pdf_description"),
        "transaction_reference": body.get("transaction_reference"),
        "customer_invoice_template_id": body.get("customer_invoice_template_id"),
        "sections": body.get("invoice_line_sections", []), "lines": lines,
        "ledger_entry_id": entry["id"], "receivable_line_id": entry["line_ids"][0],
        "marked_paid": False, "credited_invoice_id": None, "created_at": stamp, "updated_at": stamp,
    }
    books.table("invoices")[str(ident)] = invoice
    return invoice


def _check_header(books: Books, body: Record, enforce_chronology: bool) -> None:
    if body.get("draft"):
        raise unprocessable("The sandbox creates finalized invoices only: send draft=false or omit it")
    if body.get("currency", "EUR") != "EUR":
        raise unprocessable("The sandbox company only works in EUR")
    if body["deadline"] < body["date"]:
        raise unprocessable("The deadline cannot be before the invoice date")
    reference = body.get("external_reference")
    if reference is not None and any(i["external_reference"] == reference for i in books.table("invoices").values()):
        raise unprocessable("External reference has already been taken")
    if "customer_invoice_template_id" in body:
        raise not_found("CustomerInvoiceTemplate", body["customer_invoice_template_id"])
    last = max((i["date"] for i in books.table("invoices").values()), default=None)
    if enforce_chronology and last is not None and body["date"] < last:
        raise unprocessable(
            f"The invoice date {body['date']} is earlier than the last finalized invoice ({last}): "
            "invoices are finalized in date order"
        )


def _resolve_line(books: Books, index: int, line: Record) -> Record:
    """Fill a line from its product, check its fields; amounts come later."""
    field = f"invoice_lines[{index}]"
    merged: Record = {"product_id": None, "description": None, "section_rank": None, "imputation_dates": None,
                      "discount": None, "ledger_account_id": None}
    if "product_id" in line:
        product = books.get("products", "Product", line["product_id"])
        merged.update(label=product["label"], raw_currency_unit_price=product["price_before_tax"],
                      unit=product["unit"], vat_rate=product["vat_rate"],
                      ledger_account_id=product["ledger_account_id"])
    merged.update(line)
    price = parse_amount(merged["raw_currency_unit_price"], 6)
    if price is None:
        raise unprocessable(f"{field}.raw_currency_unit_price must be a decimal string with up to 6 decimals")
    merged["rate"] = str(check_vat_code(merged["vat_rate"], f"{field}.vat_rate"))
    if merged["ledger_account_id"] is not None:
        books.get("ledger_accounts", "LedgerAccount", merged["ledger_account_id"])
    if merged["discount"] is not None and parse_amount(merged["discount"]["value"], 6) is None:
        raise unprocessable(f"{field}.discount.value must be a decimal string")
    merged["quantity"] = _plain(Decimal(merged["quantity"]))
    return merged


def _plain(value: Decimal) -> str:
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _check_sections(sections: list[Record], lines: list[Record]) -> None:
    ranks = [s["rank"] for s in sections]
    if sorted(ranks) != list(range(1, len(ranks) + 1)):
        raise unprocessable("invoice_line_sections ranks must be 1, 2, 3... without gaps or repeats")
    for index, line in enumerate(lines):
        if line["section_rank"] is not None and line["section_rank"] not in ranks:
            raise unprocessable(f"invoice_lines[{index}].section_rank matches no section")


def _discounted(amount: Decimal, discount: Record | None) -> Decimal:
    if not discount:
        return amount
    value = Decimal(discount["value"])
    return amount * (1 - value / _HUNDRED) if discount["type"] == "relative" else amount - value


def _price_lines(lines: list[Record], invoice_discount: Record | None) -> None:
    """Set each line's net, VAT and total (strings), invoice discount included."""
    nets = [cents(_discounted(Decimal(line["quantity"]) * Decimal(line["raw_currency_unit_price"]), line["discount"]))
            for line in lines]
    if invoice_discount and invoice_discount["type"] == "relative":
        nets = [cents(_discounted(net, invoice_discount)) for net in nets]
    elif invoice_discount:
        nets = _share_out(nets, Decimal(invoice_discount["value"]))
    for line, net in zip(lines, nets, strict=True):
        tax = cents(net * Decimal(line["rate"]) / _HUNDRED)
        line.update(currency_amount_before_tax=fmt(net), currency_tax=fmt(tax), currency_amount=fmt(net + tax))


def _share_out(nets: list[Decimal], discount: Decimal) -> list[Decimal]:
    whole = sum(nets, ZERO)
    if whole == 0:
        return nets
    shares = [cents(discount * net / whole) for net in nets]
    shares[-1] += discount - sum(shares, ZERO)
    return [net - share for net, share in zip(nets, shares, strict=True)]


def _next_number(books: Books, date: str) -> str:
    year = date[:4]
    numbers = books.data["invoice_numbers"]
    numbers[year] = numbers.get(year, 0) + 1
    return f"F{year}{numbers[year]:04d}"


def _postings(books: Books, customer: Record, lines: list[Record], total: Decimal, label: str) -> list[Posting]:
    revenue_default = books.account_by_number(DEFAULT_REVENUE_ACCOUNT)
    vat_account = books.account_by_number(VAT_COLLECTED_ACCOUNT)
    assert revenue_default is not None and vat_account is not None, "the seeded chart has 706 and 44571"
    nets: dict[int, Decimal] = {}
    taxes: dict[str, Decimal] = {}
    for line in lines:
        account_id = line["ledger_account_id"] or revenue_default["id"]
        nets[account_id] = nets.get(account_id, ZERO) + Decimal(line["currency_amount_before_tax"])
        taxes[line["rate"]] = taxes.get(line["rate"], ZERO) + Decimal(line["currency_tax"])
    # The receivable comes first: create_invoice reads its id as line_ids[0].
    postings = [_side(customer["ledger_account_id"], total, label)]
    postings += [_side(account_id, -net, label) for account_id, net in nets.items() if net]
    postings += [_side(vat_account["id"], -tax, f"TVA {_plain(Decimal(rate))} %") for rate, tax in taxes.items() if tax]
    return postings


def _side(account_id: int, signed: Decimal, label: str) -> Posting:
    """A posting from a signed amount: positive is a debit."""
    return (account_id, signed, ZERO, label) if signed >= 0 else (account_id, ZERO, -signed, label)


def is_credit_note(invoice: Record) -> bool:
    """Whether the document is a credit note (negative total)."""
    return Decimal(invoice["amount"]) < 0


def settlement(books: Books, invoice: Record) -> Settlement:
    """What remains due on ``invoice``, from the lettering of its receivable line."""
    amount = Decimal(invoice["amount"])
    if invoice["marked_paid"]:
        return Settlement(ZERO, True)
    line = books.table("ledger_lines").get(str(invoice["receivable_line_id"]))
    if line is None or line["lettering_id"] is None:
        return Settlement(amount, amount == 0)
    group = [books.table("ledger_lines")[str(i)] for i in books.lettered_ids(line)]
    covered = _covered(books, line, group, debit_side=Decimal(line["debit"]) > 0)
    remaining = amount - covered if amount >= 0 else amount + covered
    if (amount >= 0 and remaining < 0) or (amount < 0 and remaining > 0):
        remaining = ZERO
    return Settlement(remaining, remaining == 0)


def _covered(books: Books, line: Record, group: Iterable[Record], *, debit_side: bool) -> Decimal:
    """The part of ``line`` its lettering covers, opposite amounts taken in date order."""
    side, other = ("debit", "credit") if debit_side else ("credit", "debit")
    group = list(group)
    available = sum((Decimal(g[other]) for g in group), ZERO)
    entries = books.table("ledger_entries")
    same_side = sorted((g for g in group if Decimal(g[side]) > 0),
                       key=lambda g: (entries[str(g["entry_id"])]["date"], g["id"]))
    for candidate in same_side:
        share = min(Decimal(candidate[side]), available)
        if candidate["id"] == line["id"]:
            return share
        available -= share
    return ZERO


def status(invoice: Record, settled: Settlement, today: str) -> str:
    """The payment status Pennylane shows."""
    if is_credit_note(invoice):
        return "credit_note"
    if settled.paid:
        return "paid"
    if settled.remaining != Decimal(invoice["amount"]):
        return "partially_paid"
    return "late" if invoice["deadline"] < today else "upcoming"


def link_credit_note(books: Books, invoice_id: Any, credit_note_id: int) -> Record:
    """``POST /customer_invoices/{id}/link_credit_note``; returns the credit note."""
    invoice = books.get("invoices", "CustomerInvoice", invoice_id)
    credit_note = books.get("invoices", "CustomerInvoice", credit_note_id)
    if is_credit_note(invoice):
        raise unprocessable(f"Customer invoice {invoice['id']} is a credit note")
    if not is_credit_note(credit_note):
        raise unprocessable(f"Customer invoice {credit_note['id']} is not a credit note")
    if credit_note["customer_id"] != invoice["customer_id"]:
        raise unprocessable("The credit note and the invoice belong to different customers")
    if credit_note["credited_invoice_id"] not in (None, invoice["id"]):
        raise unprocessable(f"Credit note {credit_note['id']} is already linked to another invoice")
    credit_note["credited_invoice_id"] = invoice["id"]
    credit_note["updated_at"] = books.stamp()
    return credit_note


def mark_as_paid(books: Books, invoice_id: Any) -> None:
    """``PUT /customer_invoices/{id}/mark_as_paid``."""
    invoice = books.get("invoices", "CustomerInvoice", invoice_id)
    invoice["marked_paid"] = True
    invoice["updated_at"] = books.stamp()


def delete_invoice(books: Books, invoice_id: Any) -> None:
    """Remove an invoice and its entry (sandbox tampering: the API only deletes drafts)."""
    invoice = books.get("invoices", "CustomerInvoice", invoice_id)
    if str(invoice["ledger_entry_id"]) in books.table("ledger_entries"):
        books.delete_entry(invoice["ledger_entry_id"])
    for other in books.table("invoices").values():
        if other["credited_invoice_id"] == invoice["id"]:
            other["credited_invoice_id"] = None
    del books.table("invoices")[str(invoice["id"])]


def tamper_invoice(books: Books, invoice_id: Any, body: Record) -> Record:
    """Change an invoice's document fields behind the client's back (the entry is left alone)."""
    invoice = books.get("invoices", "CustomerInvoice", invoice_id)
    if "amount" in body:
        amount = Decimal(body["amount"] or "0")
        invoice["amount"] = fmt(amount)
        invoice["currency_amount_before_tax"] = fmt(amount - Decimal(invoice["currency_tax"]))
    for key in ("date", "deadline", "label"):
        if key in body:
            invoice[key] = body[key]
    invoice["updated_at"] = books.stamp()
    return invoice
