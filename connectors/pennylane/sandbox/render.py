"""Stored records -> the JSON shapes of the Company API v2 answers.

Each function returns exactly the fields of the documented response schema
(the spec forbids additional properties), with sub-collections as ``{url}``
links, ids as integers and amounts as two-decimal strings. ``api`` is the
absolute base of the API (``http://127.0.0.1:PORT/api/external/v2``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.pennylane.sandbox.amounts import cents
from connectors.pennylane.sandbox.amounts import fmt
from connectors.pennylane.sandbox.books import Books
from connectors.pennylane.sandbox.invoices import is_credit_note
from connectors.pennylane.sandbox.invoices import settlement
from connectors.pennylane.sandbox.invoices import status

Record = dict[str, Any]
_NULL_PAGES = {"total_pages": None, "current_page": None, "total_items": None, "per_page": None}


def envelope(items: list[Record], has_more: bool, next_cursor: str | None, *, null_pages: bool = False) -> Record:
    """The list envelope; accounting lists also carry null page counters."""
    body: Record = {"items": items, "has_more": has_more, "next_cursor": next_cursor}
    return {**_NULL_PAGES, **body} if null_pages else body


def customer(api: str, record: Record, *, with_type: bool = False) -> Record:
    """A company or individual customer (``customer_type`` in the mixed list only)."""
    url = f"{api}/customers/{record['id']}"
    body: Record = {
        "id": record["id"], "name": record["name"], "billing_iban": record["billing_iban"],
        "payment_conditions": record["payment_conditions"], "recipient": record["recipient"],
        "phone": record["phone"], "reference": record["reference"], "notes": record["notes"],
    }
    if record["kind"] == "company":
        body.update(vat_number=record["vat_number"], reg_no=record["reg_no"])
    else:
        body.update(first_name=record["first_name"], last_name=record["last_name"])
    body.update(
        ledger_account={"id": record["ledger_account_id"]} if record["ledger_account_id"] else None,
        emails=list(record["emails"]), billing_address=dict(record["billing_address"]),
        delivery_address=dict(record["delivery_address"] or record["billing_address"]),
        created_at=record["created_at"], updated_at=record["updated_at"],
    )
    if with_type:
        body["customer_type"] = record["kind"]
    body.update(
        external_reference=record["external_reference"], billing_language=record["billing_language"],
        mandates={"url": f"{url}/mandates"}, pro_account_mandates={"url": f"{url}/pro_account_mandates"},
        contacts={"url": f"{url}/contacts"},
    )
    return body


def product(record: Record, rate: Decimal) -> Record:
    """A product; ``price`` is the tax-included unit price."""
    price = Decimal(record["price_before_tax"] or "0")
    return {
        "id": record["id"], "label": record["label"], "description": record["description"],
        "external_reference": record["external_reference"], "price_before_tax": record["price_before_tax"],
        "vat_rate": record["vat_rate"], "price": fmt(price * (1 + rate / 100)), "unit": record["unit"],
        "currency": record["currency"], "reference": record["reference"],
        "ledger_account": {"id": record["ledger_account_id"]} if record["ledger_account_id"] else None,
        "archived_at": record["archived_at"], "created_at": record["created_at"], "updated_at": record["updated_at"],
    }


def invoice(api: str, books: Books, record: Record) -> Record:
    """A customer invoice or credit note, payment state derived from the ledger."""
    url = f"{api}/customer_invoices/{record['id']}"
    settled = settlement(books, record)
    amount = Decimal(record["amount"])
    net = Decimal(record["currency_amount_before_tax"])
    remaining_net = cents(settled.remaining * net / amount) if amount else settled.remaining
    credited = record["credited_invoice_id"]
    template = record["customer_invoice_template_id"]
    return {
        "id": record["id"], "label": record["label"], "invoice_number": record["invoice_number"],
        "currency": record["currency"], "amount": record["amount"], "currency_amount": record["amount"],
        "currency_amount_before_tax": record["currency_amount_before_tax"], "exchange_rate": "1.0",
        "date": record["date"], "deadline": record["deadline"], "currency_tax": record["currency_tax"],
        "tax": record["currency_tax"], "language": record["language"], "paid": settled.paid,
        "status": status(record, settled, books.today()), "discount": dict(record["discount"]),
        "ledger_entry": {"id": record["ledger_entry_id"]}, "public_file_url": None, "filename": None,
        "remaining_amount_with_tax": fmt(settled.remaining), "remaining_amount_without_tax": fmt(remaining_net),
        "draft": False, "special_mention": record["special_mention"],
        "customer": {"id": record["customer_id"], "url": f"{api}/customers/{record['customer_id']}"},
        "invoice_line_sections": {"url": f"{url}/invoice_line_sections"},
        "invoice_lines": {"url": f"{url}/invoice_lines"},
        "custom_header_fields": {"url": f"{url}/custom_header_fields"},
        "categories": {"url": f"{url}/categories"},
        "pdf_invoice_free_text": record["pdf_invoice_free_text"] or "",
        "pdf_invoice_subject": record["pdf_invoice_subject"] or "", "pdf_description": record["pdf_description"],
        "billing_subscription": None,
        "credited_invoice": {"id": credited, "url": f"{api}/customer_invoices/{credited}"} if credited else None,
        "customer_invoice_template": {"id": template} if template else None,
        "transaction_reference": record["transaction_reference"],
        "payments": {"url": f"{url}/payments"}, "matched_transactions": {"url": f"{url}/matched_transactions"},
        "appendices": {"url": f"{url}/appendices"}, "quote": None,
        "external_reference": record["external_reference"], "e_invoicing": None, "archived_at": None,
        "created_at": record["created_at"], "updated_at": record["updated_at"],
    }


def invoice_line(api: str, line: Record) -> Record:
    """One line of ``GET /customer_invoices/{id}/invoice_lines``."""
    product_id = line["product_id"]
    return {
        "id": line["id"], "label": line["label"], "unit": line["unit"], "quantity": line["quantity"],
        "amount": line["currency_amount"], "currency_amount": line["currency_amount"],
        "description": line["description"] or "",
        "product": {"id": product_id, "url": f"{api}/products/{product_id}"} if product_id else None,
        "vat_rate": line["vat_rate"], "currency_amount_before_tax": line["currency_amount_before_tax"],
        "currency_tax": line["currency_tax"], "tax": line["currency_tax"],
        "raw_currency_unit_price": line["raw_currency_unit_price"],
        "discount": dict(line["discount"] or {"type": "relative", "value": "0"}),
        "section_rank": line["section_rank"], "imputation_dates": line["imputation_dates"],
        "created_at": line["created_at"], "updated_at": line["updated_at"],
    }


def journal(record: Record) -> Record:
    """A journal."""
    return {"code": record["code"], "id": record["id"], "label": record["label"], "type": record["type"]}


def ledger_account(record: Record) -> Record:
    """A ledger account."""
    return {key: record[key] for key in ("id", "number", "label", "vat_rate", "country_alpha2", "enabled", "type",
                                         "letterable", "created_at", "updated_at")}


def _account_ref(api: str, books: Books, account_id: int) -> Record:
    account = books.table("ledger_accounts").get(str(account_id)) or {"number": ""}
    return {"id": account_id, "number": account["number"], "url": f"{api}/ledger_accounts/{account_id}"}


def _entry_header(api: str, record: Record) -> Record:
    return {
        "id": record["id"], "label": record["label"], "piece_number": record["piece_number"], "date": record["date"],
        "due_date": record["due_date"], "invoice_number": record["invoice_number"],
    }


def entry_created(api: str, books: Books, record: Record) -> Record:
    """The 201 answer of ``POST /ledger_entries``."""
    journal_id = record["journal_id"]
    lines = [{"id": line["id"], "debit": line["debit"], "credit": line["credit"],
              "ledger_account_id": line["ledger_account_id"],
              "ledger_account": _account_ref(api, books, line["ledger_account_id"]), "label": line["label"]}
             for line in books.entry_lines(record)]
    return {**_entry_header(api, record), "journal_id": journal_id,
            "journal": {"id": journal_id, "url": f"{api}/journals/{journal_id}"}, "categories": [],
            "ledger_attachment_filename": None, "ledger_attachment_id": None, "attachment": None,
            "ledger_entry_lines": lines}


def entry(api: str, books: Books, record: Record) -> Record:
    """``GET /ledger_entries/{id}``: the entry with its lines."""
    journal_id = record["journal_id"]
    lines = [{"id": line["id"], "debit": line["debit"], "credit": line["credit"],
              "ledger_account": _account_ref(api, books, line["ledger_account_id"]), "label": line["label"]}
             for line in books.entry_lines(record)]
    return {**_entry_header(api, record), "created_at": record["created_at"], "updated_at": record["updated_at"],
            "journal": {"id": journal_id, "url": f"{api}/journals/{journal_id}"}, "categories": [],
            "attachment": None, "ledger_entry_lines": lines}


def entry_item(api: str, record: Record) -> Record:
    """An item of ``GET /ledger_entries`` (no lines)."""
    journal_id = record["journal_id"]
    return {"id": record["id"], "created_at": record["created_at"], "updated_at": record["updated_at"],
            **{k: v for k, v in _entry_header(api, record).items() if k != "id"},
            "journal_id": journal_id, "journal": {"id": journal_id, "url": f"{api}/journals/{journal_id}"},
            "categories": [], "ledger_attachment_filename": None, "attachment": None}


def entry_line_short(api: str, books: Books, line: Record) -> Record:
    """An item of ``GET /ledger_entries/{id}/ledger_entry_lines``."""
    return {"id": line["id"], "debit": line["debit"], "credit": line["credit"], "label": line["label"],
            "ledger_account_id": line["ledger_account_id"],
            "ledger_account": _account_ref(api, books, line["ledger_account_id"])}


def entry_line(api: str, books: Books, view: Record) -> Record:
    """A ledger entry line (``view`` carries its entry's date and journal)."""
    ident, journal_id = view["id"], view["journal_id"]
    return {
        "id": ident, "debit": view["debit"], "credit": view["credit"], "label": view["label"], "categories": [],
        "ledger_account": _account_ref(api, books, view["ledger_account_id"]),
        "journal": {"id": journal_id, "url": f"{api}/journals/{journal_id}"}, "date": view["date"],
        "ledger_entry": {"id": view["entry_id"]},
        "lettered_ledger_entry_lines": {
            "ids": books.lettered_ids(view),
            "url": f"{api}/ledger_entry_lines/{ident}/lettered_ledger_entry_lines",
        },
        "created_at": view["created_at"], "updated_at": view["updated_at"],
    }


def counts(books: Books) -> Record:
    """Document counts for ``GET /sandbox/state``."""
    customers = list(books.table("customers").values())
    invoices = list(books.table("invoices").values())
    credit_notes = sum(is_credit_note(i) for i in invoices)
    return {
        "customers": len(customers),
        "company_customers": sum(c["kind"] == "company" for c in customers),
        "individual_customers": sum(c["kind"] == "individual" for c in customers),
        "products": len(books.table("products")),
        "customer_invoices": len(invoices) - credit_notes,
        "credit_notes": credit_notes,
        "journals": len(books.table("journals")),
        "ledger_accounts": len(books.table("ledger_accounts")),
        "ledger_entries": len(books.table("ledger_entries")),
        "ledger_entry_lines": len(books.table("ledger_lines")),
        "letterings": len(books.table("letterings")),
    }
