"""Sales forms: Invoice, CreditMemo and RefundReceipt.

Rules the sandbox applies (reference §2.4, §2.6; accounting-rules §5.3, §6):

- ``CustomerRef`` is required and must name an active customer (2020 / 2500);
- at least one ``SalesItemLineDetail`` line; each names an active item with
  an income account, and its ``Amount`` equals ``cents(Qty x UnitPrice)``
  when both are given (6000); ``DescriptionOnly`` lines carry text only; a
  ``SubTotalLineDetail`` line sent back is ignored and recomputed;
  discount and group lines are not emulated (6000);
- outside the US every line needs a ``TaxCodeRef`` unless
  ``GlobalTaxCalculation`` is ``NotApplicable`` (6000, "Make sure all your
  transactions have a GST/HST rate before you save."); ``TaxInclusive`` is not
  emulated (6000); in the US a line is ``TAX`` or ``NON`` and the rate is the
  transaction's ``TxnTaxDetail.TxnTaxCodeRef`` (no code: no tax);
- tax is computed line by line (``tax``), summed per rate into
  ``TxnTaxDetail.TaxLine``; ``TotalAmt`` = lines + tax and may not be negative;
  QuickBooks' trailing ``SubTotalLineDetail`` line is appended;
- ``DocNumber``: at most 21 characters, unique per entity (6140), generated
  (1001, 1002...) when absent or ``AUTO_GENERATE``;
- Invoice: ``DueDate`` defaults to ``TxnDate``; ``Deposit`` (money received
  with the invoice) goes to ``DepositToAccountRef`` (Undeposited Funds by
  default); RefundReceipt: ``DepositToAccountRef`` (the account paid from) is
  required;
- an update may not bring a total under what payments already applied.

Each stored line keeps its income account (``_account``) and each tax line
its liability account, so later changes to items do not rewrite history.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox import tax
from connectors.quickbooks.sandbox.books import Books
from connectors.quickbooks.sandbox.books import Record
from connectors.quickbooks.sandbox.books import ref_to
from connectors.quickbooks.sandbox.fields import Options
from connectors.quickbooks.sandbox.fields import amount
from connectors.quickbooks.sandbox.fields import check_currency
from connectors.quickbooks.sandbox.fields import check_doc_number
from connectors.quickbooks.sandbox.fields import passthrough
from connectors.quickbooks.sandbox.fields import receivable_account
from connectors.quickbooks.sandbox.money import ZERO
from connectors.quickbooks.sandbox.money import cents
from connectors.quickbooks.sandbox.money import fmt
from connectors.quickbooks.sandbox.payments import applied_to

__all__ = ["SALES_DERIVED", "SALES_ENTITIES", "build_sales", "void_sales"]

SALES_ENTITIES = ("Invoice", "CreditMemo", "RefundReceipt")
SALES_DERIVED = frozenset({
    "Id", "SyncToken", "MetaData", "domain", "sparse", "status", "TotalAmt", "HomeTotalAmt", "Balance",
    "HomeBalance", "RemainingCredit", "LinkedTxn", "TxnTaxDetail", "Line",
})
_UNSUPPORTED_LINES = ("DiscountLineDetail", "GroupLineDetail")
_PRICE_DECIMALS = 7


def build_sales(entity: str, books: Books, body: Record, previous: Record | None, options: Options) -> Record:
    """The record of a sales form from its body (create or update).

    Raises:
        QboError: for any broken rule (see the module docstring).
    """
    customer = books.resolve("Customer", body.get("CustomerRef"), "CustomerRef")
    record = passthrough(body, SALES_DERIVED)
    record["CustomerRef"] = ref_to(customer, "DisplayName")
    record["CurrencyRef"] = check_currency(books, body)
    record["DocNumber"] = check_doc_number(books, entity, body, previous, options, auto=True)
    record["TxnDate"] = body.get("TxnDate") or books.today()
    mode = _tax_mode(books, body)
    if not books.edition.us_tax:
        record["GlobalTaxCalculation"] = mode
    txn_code = _txn_code(books, body)
    lines, taxed = _build_lines(books, body.get("Line"), mode, txn_code)
    totals = _overridden(tax.compute_taxes(taxed), body)
    subtotal = sum((line_amount(line) for line in lines), ZERO)
    total = subtotal + sum((t.amount for t in totals), ZERO)
    if total < ZERO:
        raise errors.business(f"the {entity} total cannot be negative ({fmt(total)})", "TotalAmt")
    record["Line"] = [*lines, {"Amount": fmt(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}]
    record["TxnTaxDetail"] = _tax_detail(totals, txn_code)
    record["TotalAmt"] = fmt(total)
    if body.get("ARAccountRef") is not None:
        record["ARAccountRef"] = receivable_account(books, body["ARAccountRef"])
    _EXTRAS[entity](books, record, body, total)
    _check_applied(books, entity, previous, total - amount_of(record, "Deposit"))
    return record


def line_amount(line: Record) -> Decimal:
    """A stored line's amount (0 for description lines)."""
    return Decimal(line["Amount"]) if line.get("DetailType") == "SalesItemLineDetail" else ZERO


def amount_of(record: Record, key: str) -> Decimal:
    """A stored amount field, 0 when absent."""
    return Decimal(record.get(key) or 0)


def void_sales(record: Record) -> Record:
    """A voided copy of a sales form: every amount zero, noted ``Voided``."""
    voided = dict(record)
    voided["Line"] = [{**line, "Amount": "0.00"} if "Amount" in line else line for line in record["Line"]]
    detail = record.get("TxnTaxDetail") or {}
    voided["TxnTaxDetail"] = {**detail, "TotalTax": "0.00",
                              "TaxLine": [{**line, "Amount": "0.00"} for line in detail.get("TaxLine", [])]}
    voided["TotalAmt"] = "0.00"
    voided.pop("Deposit", None)
    voided["PrivateNote"] = "Voided"
    return voided


# -- tax codes -------------------------------------------------------------------------------

def _tax_mode(books: Books, body: Record) -> str:
    if books.edition.us_tax:
        return "US"
    mode = body.get("GlobalTaxCalculation") or "TaxExcluded"
    if mode == "TaxInclusive":
        raise errors.business("GlobalTaxCalculation TaxInclusive is not emulated by the sandbox; send "
                              "tax-exclusive amounts with TaxExcluded", "GlobalTaxCalculation")
    return str(mode)


def _rates_of(books: Books, code: Record) -> tuple[tax.Rate, ...]:
    rates = []
    for rate_id in code.get("_rates", []):
        rate = books.get("TaxRate", rate_id)
        rates.append(tax.Rate(rate_id, rate["Name"], Decimal(rate["RateValue"]), rate["_account"]))
    return tuple(rates)


def _txn_code(books: Books, body: Record) -> Record | None:
    ref = (body.get("TxnTaxDetail") or {}).get("TxnTaxCodeRef")
    if ref is None or not books.edition.us_tax:
        return None
    return books.resolve("TaxCode", ref, "TxnTaxDetail.TxnTaxCodeRef")


def _line_rates(books: Books, ref: Any, mode: str, txn_code: Record | None) -> tuple[Record | None,
                                                                                      tuple[tax.Rate, ...]]:
    element = "Line.SalesItemLineDetail.TaxCodeRef"
    if ref is None:
        if mode in ("US", "NotApplicable"):
            return None, ()
        raise errors.business(f"Make sure all your transactions have a {books.edition.tax_word} rate before you "
                              "save.", element)
    code = books.resolve("TaxCode", ref, element)
    if mode == "NotApplicable":
        return code, ()
    if mode == "US" and code["Id"] == "TAX":
        return code, _rates_of(books, txn_code) if txn_code is not None else ()
    return code, _rates_of(books, code)


def _overridden(totals: tuple[tax.TaxTotal, ...], body: Record) -> tuple[tax.TaxTotal, ...]:
    supplied: dict[str, Decimal] = {}
    for line in (body.get("TxnTaxDetail") or {}).get("TaxLine") or []:
        rate_ref = (line.get("TaxLineDetail") or {}).get("TaxRateRef") or {}
        value = amount(line.get("Amount"), "TxnTaxDetail.TaxLine.Amount")
        if rate_ref.get("value") and value is not None:
            supplied[str(rate_ref["value"])] = value
    if not supplied:
        return totals
    result = tax.apply_overrides(totals, supplied)
    if isinstance(result, str):
        raise errors.business(result, "TxnTaxDetail")
    return result


def _tax_detail(totals: tuple[tax.TaxTotal, ...], txn_code: Record | None) -> Record:
    detail: Record = {}
    if txn_code is not None:
        detail["TxnTaxCodeRef"] = {"value": txn_code["Id"]}
    detail["TotalTax"] = fmt(sum((t.amount for t in totals), ZERO))
    detail["TaxLine"] = [{
        "Amount": fmt(t.amount), "DetailType": "TaxLineDetail",
        "TaxLineDetail": {"TaxRateRef": {"value": t.rate.rate_id}, "PercentBased": True,
                          "TaxPercent": str(t.rate.percent), "NetAmountTaxable": fmt(t.net),
                          "_account": t.rate.account_id},
    } for t in totals]
    return detail


# -- lines -------------------------------------------------------------------------------------

def _build_lines(books: Books, lines: Any, mode: str, txn_code: Record | None) -> tuple[list[Record],
                                                                                         list[tax.TaxedLine]]:
    given = [line for line in lines or [] if line.get("DetailType") != "SubTotalLineDetail"]
    if not any(line.get("DetailType") == "SalesItemLineDetail" for line in given):
        raise errors.business("a transaction needs at least one line with an item and an amount", "Line")
    built: list[Record] = []
    taxed: list[tax.TaxedLine] = []
    for number, line in enumerate(given, 1):
        kind = line.get("DetailType")
        if kind is None:
            raise errors.required("Line.DetailType")
        if kind in _UNSUPPORTED_LINES:
            raise errors.business(f"{kind} lines are not emulated by the sandbox", "Line.DetailType")
        if kind == "DescriptionOnly":
            built.append(_description_line(line, number))
            continue
        record, rates = _item_line(books, line, number, mode, txn_code)
        built.append(record)
        taxed.append(tax.TaxedLine(Decimal(record["Amount"]), rates))
    return built, taxed


def _description_line(line: Record, number: int) -> Record:
    record = {"Id": str(number), "LineNum": number, "DetailType": "DescriptionOnly",
              "DescriptionLineDetail": passthrough(line.get("DescriptionLineDetail") or {}, ())}
    if line.get("Description") is not None:
        record["Description"] = line["Description"]
    return record


def _item_line(books: Books, line: Record, number: int, mode: str,
               txn_code: Record | None) -> tuple[Record, tuple[tax.Rate, ...]]:
    detail = line.get("SalesItemLineDetail")
    if detail is None:
        raise errors.required("Line.SalesItemLineDetail")
    item = books.resolve("Item", detail.get("ItemRef"), "Line.SalesItemLineDetail.ItemRef")
    account_id = (item.get("IncomeAccountRef") or {}).get("value")
    if item.get("Type") == "Category" or not account_id:
        raise errors.business(f"item {item['Name']} cannot be sold: it has no income account", "ItemRef")
    value = amount(line.get("Amount"), "Line.Amount", required=True)
    assert value is not None
    _check_price(value, detail)
    code, rates = _line_rates(books, detail.get("TaxCodeRef"), mode, txn_code)
    account = books.get("Account", account_id)
    kept = passthrough(detail, ("ItemRef", "TaxCodeRef", "ItemAccountRef"))
    kept.update(ItemRef=ref_to(item), ItemAccountRef=ref_to(account), _account=account["Id"])
    if code is not None:
        kept["TaxCodeRef"] = {"value": code["Id"]}
    record = {"Id": str(number), "LineNum": number, "Amount": fmt(value), "DetailType": "SalesItemLineDetail",
              "SalesItemLineDetail": kept}
    if line.get("Description") is not None:
        record["Description"] = line["Description"]
    return record, rates


def _check_price(value: Decimal, detail: Record) -> None:
    qty = amount(detail.get("Qty"), "Line.SalesItemLineDetail.Qty", decimals=_PRICE_DECIMALS)
    price = amount(detail.get("UnitPrice"), "Line.SalesItemLineDetail.UnitPrice", decimals=_PRICE_DECIMALS)
    if qty is not None and price is not None and cents(qty * price) != value:
        raise errors.business(f"Amount is not equal to UnitPrice * Qty. Supplied value:{value}", "Line.Amount")


# -- per-entity extras --------------------------------------------------------------------------

def _invoice_extras(books: Books, record: Record, body: Record, total: Decimal) -> None:
    record["DueDate"] = body.get("DueDate") or record["TxnDate"]
    deposit = amount(body.get("Deposit"), "Deposit", minimum=ZERO) or ZERO
    record.pop("Deposit", None)
    record.pop("DepositToAccountRef", None)
    if deposit:
        if deposit > total:
            raise errors.business(f"the deposit {deposit} is more than the invoice total {fmt(total)}", "Deposit")
        ref = body.get("DepositToAccountRef") or {"value": books.key("account:uf")}
        record["Deposit"] = fmt(deposit)
        record["DepositToAccountRef"] = ref_to(books.resolve("Account", ref, "DepositToAccountRef"))


def _credit_memo_extras(books: Books, record: Record, body: Record, total: Decimal) -> None:
    return None


def _refund_extras(books: Books, record: Record, body: Record, total: Decimal) -> None:
    if body.get("DepositToAccountRef") is None:
        raise errors.required("DepositToAccountRef")
    record["DepositToAccountRef"] = ref_to(books.resolve("Account", body["DepositToAccountRef"],
                                                         "DepositToAccountRef"))


_EXTRAS = {"Invoice": _invoice_extras, "CreditMemo": _credit_memo_extras, "RefundReceipt": _refund_extras}


def _check_applied(books: Books, entity: str, previous: Record | None, open_total: Decimal) -> None:
    if previous is None or entity == "RefundReceipt":
        return
    applied = applied_to(books, entity, previous["Id"])
    if applied > open_total:
        raise errors.business(f"payments already apply {fmt(applied)} to this {entity}, more than its new "
                              f"total {fmt(open_total)}", "TotalAmt")
