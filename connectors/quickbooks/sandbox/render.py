"""Stored records -> API JSON: private keys dropped, amounts as numbers, derived fields.

A ``View`` is built per request: the cross-entity figures (payment
applications, account and customer balances) are computed once, on first
use, and shared by every record the request renders.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import cached_property
from typing import Any

from connectors.quickbooks.sandbox.books import Books
from connectors.quickbooks.sandbox.books import Record
from connectors.quickbooks.sandbox.ledger import account_balances
from connectors.quickbooks.sandbox.ledger import customer_balances
from connectors.quickbooks.sandbox.money import ZERO
from connectors.quickbooks.sandbox.money import decimal_of
from connectors.quickbooks.sandbox.money import fmt
from connectors.quickbooks.sandbox.payments import Applications
from connectors.quickbooks.sandbox.payments import applications
from connectors.quickbooks.sandbox.payments import open_amount
from connectors.quickbooks.sandbox.payments import unapplied_amount

__all__ = ["NUMERIC_FIELDS", "View", "clean", "render"]

# The XSD's decimal elements the sandbox stores: sent out as JSON numbers.
NUMERIC_FIELDS = frozenset({
    "Amount", "TotalAmt", "HomeTotalAmt", "Balance", "HomeBalance", "UnitPrice", "Qty", "TaxPercent",
    "NetAmountTaxable", "TotalTax", "UnappliedAmt", "RemainingCredit", "RateValue", "ExchangeRate",
    "CurrentBalance", "CurrentBalanceWithSubAccounts", "TaxAmount", "TaxInclusiveAmt", "TaxInclusiveAmount",
    "OverrideDeltaAmount", "DiscountAmt", "DiscountRate", "Deposit", "PurchaseCost", "QtyOnHand",
    "BalanceWithJobs", "DiscountPercent",
})


class View:
    """The derived figures of one company, computed on first use."""

    def __init__(self, books: Books) -> None:
        self.books = books

    @cached_property
    def applications(self) -> Applications:
        """Payment applications by target."""
        return applications(self.books)

    @cached_property
    def account_balances(self) -> dict[str, Decimal]:
        """Account Id -> current balance."""
        return account_balances(self.books)

    @cached_property
    def customer_balances(self) -> dict[str, Decimal]:
        """Customer Id -> open balance."""
        return customer_balances(self.books)


def clean(value: Any, key: str = "") -> Any:
    """``value`` without private keys, with stored amounts as JSON numbers."""
    if isinstance(value, dict):
        return {k: clean(v, k) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [clean(item, key) for item in value]
    if key in NUMERIC_FIELDS and isinstance(value, (str, Decimal)):
        number = decimal_of(value)
        return number if number is not None else value  # written exactly by dumps_json
    return value


def render(view: View, entity: str, record: Record) -> Record:
    """The API JSON of one record."""
    derived = _DERIVED.get(entity)
    extra = derived(view, record) if derived else {}
    result: Record = clean({**record, **extra})
    return result


def _links(view: View, entity: str, record: Record) -> list[Record]:
    found = view.applications.get((entity, record["Id"]), [])
    return [{"TxnId": payment_id, "TxnType": "Payment"} for payment_id, _ in found]


def _invoice(view: View, record: Record) -> Record:
    balance = fmt(open_amount(view.books, record, "Invoice", index=view.applications))
    extra: Record = {"Balance": balance}
    links = _links(view, "Invoice", record)
    if links:
        extra["LinkedTxn"] = links
    return extra


def _credit_memo(view: View, record: Record) -> Record:
    remaining = fmt(open_amount(view.books, record, "CreditMemo", index=view.applications))
    extra: Record = {"RemainingCredit": remaining, "Balance": remaining}
    links = _links(view, "CreditMemo", record)
    if links:
        extra["LinkedTxn"] = links
    return extra


def _refund_receipt(view: View, record: Record) -> Record:
    return {"Balance": "0.00"}


def _payment(view: View, record: Record) -> Record:
    return {"UnappliedAmt": fmt(unapplied_amount(record))}


def _customer(view: View, record: Record) -> Record:
    balance = fmt(view.customer_balances.get(record["Id"], ZERO))
    return {"Balance": balance, "BalanceWithJobs": balance}


def _account(view: View, record: Record) -> Record:
    own = view.account_balances.get(record["Id"], ZERO)
    children = sum((view.account_balances.get(a["Id"], ZERO) for a in view.books.records("Account")
                    if (a.get("ParentRef") or {}).get("value") == record["Id"]), ZERO)
    return {"CurrentBalance": fmt(own), "CurrentBalanceWithSubAccounts": fmt(own + children)}


def _tax_code(view: View, record: Record) -> Record:
    details = []
    for order, rate_id in enumerate(record.get("_rates", [])):
        rate = view.books.get("TaxRate", rate_id)
        details.append({"TaxRateRef": {"value": rate_id, "name": rate["Name"]}, "TaxTypeApplicable": "TaxOnAmount",
                        "TaxOrder": order})
    return {"SalesTaxRateList": {"TaxRateDetail": details}, "PurchaseTaxRateList": {"TaxRateDetail": []}}


_DERIVED: dict[str, Callable[[View, Record], Record]] = {
    "Invoice": _invoice, "CreditMemo": _credit_memo, "RefundReceipt": _refund_receipt, "Payment": _payment,
    "Customer": _customer, "Account": _account, "TaxCode": _tax_code,
}
