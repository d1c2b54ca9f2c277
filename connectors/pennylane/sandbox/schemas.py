"""Shapes of the request bodies the sandbox accepts (Company API v2 subset).

Written from the field tables of ``reference/pennylane.md`` §4: unknown
fields are refused, amounts are decimal strings, invoice-line ``quantity`` is
a JSON number. Enumerations too long to restate (currencies, VAT codes) are
checked by pattern here and by meaning in the domain code.
"""

from __future__ import annotations

from typing import Any

from connectors.sandbox.schema import Arr
from connectors.sandbox.schema import Bool
from connectors.sandbox.schema import Int
from connectors.sandbox.schema import Num
from connectors.sandbox.schema import Obj
from connectors.sandbox.schema import OneOf
from connectors.sandbox.schema import Str

AMOUNT = Str(pattern=r"(-?\d+(\.\d+)?)?")
DATE = Str(date=True)
CURRENCY = Str(pattern=r"[A-Z]{3}")
VAT_CODE = Str(pattern=r"[A-Za-z0-9_]{2,40}")
LANGUAGE = Str(enum=frozenset({"fr_FR", "en_GB", "de_DE"}))
PAYMENT_CONDITIONS = Str(enum=frozenset({
    "upon_receipt", "custom", "7_days", "15_days", "30_days", "30_days_end_of_month",
    "45_days", "45_days_end_of_month", "60_days",
}))
DISCOUNT = Obj({"type": Str(enum=frozenset({"absolute", "relative"})), "value": AMOUNT},
               frozenset({"type", "value"}))


def _address(nullable: bool = False) -> Obj:
    return Obj(
        {"address": Str(), "postal_code": Str(), "city": Str(), "country_alpha2": Str(pattern=r"[A-Z]{2}")},
        frozenset({"address", "postal_code", "city", "country_alpha2"}),
        nullable=nullable,
    )


_CUSTOMER_COMMON: dict[str, Any] = {
    "phone": Str(),
    "billing_address": _address(),
    "delivery_address": _address(nullable=True),
    "payment_conditions": PAYMENT_CONDITIONS,
    "billing_iban": Str(nullable=True),
    "recipient": Str(),
    "reference": Str(nullable=True),
    "notes": Str(nullable=True),
    "emails": Arr(Str()),
    "external_reference": Str(),
    "billing_language": LANGUAGE,
}
_LEDGER_ACCOUNT_REF = Obj({"number": Str(pattern=r"[0-9A-Za-z]{1,20}")}, frozenset({"number"}), nullable=True)

COMPANY_CUSTOMER = Obj(
    {**_CUSTOMER_COMMON, "name": Str(min_length=1), "vat_number": Str(), "reg_no": Str(),
     "ledger_account": _LEDGER_ACCOUNT_REF},
    frozenset({"name", "billing_address"}),
)
COMPANY_CUSTOMER_UPDATE = Obj({**_CUSTOMER_COMMON, "name": Str(min_length=1), "vat_number": Str(), "reg_no": Str()})
INDIVIDUAL_CUSTOMER = Obj(
    {**_CUSTOMER_COMMON, "first_name": Str(max_length=1000), "last_name": Str(max_length=1000),
     "ledger_account": _LEDGER_ACCOUNT_REF},
    frozenset({"first_name", "last_name", "billing_address"}),
)
INDIVIDUAL_CUSTOMER_UPDATE = Obj(
    {**_CUSTOMER_COMMON, "first_name": Str(max_length=1000), "last_name": Str(max_length=1000)}
)

_PRODUCT_FIELDS: dict[str, Any] = {
    "label": Str(min_length=1),
    "description": Str(max_length=5000),
    "external_reference": Str(),
    "price_before_tax": AMOUNT,
    "vat_rate": VAT_CODE,
    "unit": Str(),
    "currency": CURRENCY,
    "reference": Str(),
    "ledger_account_id": Int(),
}
PRODUCT = Obj(_PRODUCT_FIELDS, frozenset({"label", "price_before_tax", "vat_rate"}))
PRODUCT_UPDATE = Obj(_PRODUCT_FIELDS)

_IMPUTATION = Obj({"start_date": DATE, "end_date": DATE}, frozenset({"start_date", "end_date"}), nullable=True)
_LINE_FIELDS: dict[str, Any] = {
    "label": Str(),
    "ledger_account_id": Int(),
    "raw_currency_unit_price": Str(),
    "unit": Str(),
    "vat_rate": VAT_CODE,
    "quantity": Num(),
    "section_rank": Int(),
    "discount": DISCOUNT,
    "description": Str(nullable=True),
    "imputation_dates": _IMPUTATION,
}
PRODUCT_LINE = Obj({**_LINE_FIELDS, "product_id": Int()}, frozenset({"product_id", "quantity"}))
STANDARD_LINE = Obj(_LINE_FIELDS, frozenset({"label", "raw_currency_unit_price", "unit", "vat_rate", "quantity"}))
INVOICE_LINE = OneOf(
    (PRODUCT_LINE, STANDARD_LINE),
    pick=lambda line: 0 if isinstance(line, dict) and "product_id" in line else 1,
)
CUSTOMER_INVOICE = Obj(
    {
        "date": DATE,
        "deadline": DATE,
        "customer_id": Int(),
        "customer_invoice_template_id": Int(),
        "pdf_invoice_free_text": Str(nullable=True),
        "pdf_invoice_subject": Str(nullable=True),
        "pdf_description": Str(nullable=True, max_length=5000),
        "currency": CURRENCY,
        "special_mention": Str(nullable=True, max_length=20000),
        "language": LANGUAGE,
        "discount": DISCOUNT,
        "invoice_line_sections": Arr(Obj({"title": Str(), "description": Str(), "rank": Int(minimum=1)},
                                         frozenset({"rank"}))),
        "label": Str(nullable=True, max_length=2000),
        "external_reference": Str(),
        "draft": Bool(),
        "transaction_reference": Obj(
            {"banking_provider": Str(), "provider_field_name": Str(), "provider_field_value": Str()},
            frozenset({"banking_provider", "provider_field_name", "provider_field_value"}),
        ),
        "invoice_lines": Arr(INVOICE_LINE, min_items=1),
    },
    frozenset({"date", "deadline", "customer_id", "invoice_lines"}),
)
LINK_CREDIT_NOTE = Obj({"credit_note_id": Int()}, frozenset({"credit_note_id"}))

JOURNAL = Obj({"code": Str(), "label": Str(min_length=1)}, frozenset({"code", "label"}))
LEDGER_ACCOUNT = Obj(
    {"number": Str(min_length=1), "label": Str(min_length=1), "vat_rate": VAT_CODE,
     "country_alpha2": Str(pattern=r"[A-Z]{2}")},
    frozenset({"number", "label"}),
)
LEDGER_ACCOUNT_UPDATE = Obj({"label": Str(min_length=1), "letterable": Bool()})
LEDGER_ENTRY = Obj(
    {
        "date": DATE,
        "due_date": Str(date=True, nullable=True),
        "label": Str(),
        "journal_id": Int(),
        "ledger_attachment_id": Int(),
        "file_attachment_id": Int(),
        "currency": CURRENCY,
        "piece_number": Str(),
        "ledger_entry_lines": Arr(
            Obj({"debit": AMOUNT, "credit": AMOUNT, "ledger_account_id": Int(), "label": Str()},
                frozenset({"debit", "credit", "ledger_account_id"})),
            min_items=1,
            max_items=1000,
        ),
    },
    frozenset({"date", "label", "journal_id", "ledger_entry_lines"}),
)
_STRATEGY = Str(enum=frozenset({"none", "partial"}))
LETTERING = Obj(
    {"unbalanced_lettering_strategy": _STRATEGY,
     "ledger_entry_lines": Arr(Obj({"id": Int()}, frozenset({"id"})), min_items=2)},
    frozenset({"unbalanced_lettering_strategy", "ledger_entry_lines"}),
)
UNLETTERING = Obj(
    {"unbalanced_lettering_strategy": _STRATEGY,
     "ledger_entry_lines": Arr(Obj({"id": Int()}, frozenset({"id"})), min_items=1)},
    frozenset({"unbalanced_lettering_strategy", "ledger_entry_lines"}),
)

# Sandbox-only bodies.
COMPANY_TOKEN = Obj({"token": Str(min_length=16), "scopes": Arr(Str()), "label": Str()})
OAUTH_CLIENT = Obj(
    {"redirect_uris": Arr(Str(), min_items=1), "client_id": Str(min_length=8), "client_secret": Str(min_length=16)},
    frozenset({"redirect_uris"}),
)
FAULTS = Obj({"plan": Str(nullable=True)}, frozenset({"plan"}))
INVOICE_TAMPER = Obj({"amount": AMOUNT, "date": DATE, "label": Str(), "deadline": DATE})
LINE_TAMPER = Obj({"debit": AMOUNT, "credit": AMOUNT})
