"""Payment and Deposit, and how payments apply to invoices and credit memos.

A Payment (reference §2.5) has a ``TotalAmt`` and lines, each linking one
Invoice or CreditMemo of the same customer (``{"Amount", "LinkedTxn":
[{"TxnId", "TxnType"}]}``). Links are the single source of truth: an
invoice's ``Balance``, a credit memo's ``RemainingCredit`` and a payment's
``UnappliedAmt`` are computed from them when rendered, never stored.

- a line may apply at most the target's open amount (6000);
- ``TotalAmt`` = invoice lines - credit-memo lines + ``UnappliedAmt``, with
  ``UnappliedAmt`` >= 0: an overpayment, or a payment with no line at all,
  stays on the customer as a credit, and a later update may apply it;
- money goes to ``DepositToAccountRef``, Undeposited Funds when absent.

A Deposit moves whole payments out of Undeposited Funds (a line linking a
Payment, for its full amount) and records other money (``DepositLineDetail``
with its ``AccountRef``), less an optional ``CashBack``. A deposited payment
cannot be changed or deleted (6540).

Deleting or voiding an invoice takes it out of the payments that applied it
(their money becomes unapplied credit, as in QuickBooks); an applied credit
memo must be unapplied before it can go.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox.books import Books
from connectors.quickbooks.sandbox.books import Record
from connectors.quickbooks.sandbox.books import ref_to
from connectors.quickbooks.sandbox.fields import Options
from connectors.quickbooks.sandbox.fields import amount
from connectors.quickbooks.sandbox.fields import check_currency
from connectors.quickbooks.sandbox.fields import check_length
from connectors.quickbooks.sandbox.fields import passthrough
from connectors.quickbooks.sandbox.fields import receivable_account
from connectors.quickbooks.sandbox.money import ZERO
from connectors.quickbooks.sandbox.money import fmt

__all__ = [
    "DEPOSIT_DERIVED",
    "PAYMENT_DERIVED",
    "Applications",
    "applications",
    "applied_to",
    "build_deposit",
    "build_payment",
    "check_not_applied",
    "check_not_deposited",
    "deposit_of",
    "open_amount",
    "unapplied_amount",
    "unlink_invoice",
    "void_payment",
]

PAYMENT_DERIVED = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status", "UnappliedAmt",
                             "LinkedTxn", "Line"})
DEPOSIT_DERIVED = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status", "TotalAmt",
                             "HomeTotalAmt", "LinkedTxn", "Line", "TxnTaxDetail"})
_APPLIES_TO = ("Invoice", "CreditMemo")
# (TxnType, TxnId) -> [(payment Id, amount applied)]
Applications = dict[tuple[str, str], list[tuple[str, Decimal]]]


def applications(books: Books) -> Applications:
    """Every application of a payment line, by target."""
    index: Applications = defaultdict(list)
    for payment in books.records("Payment"):
        for line in payment.get("Line", []):
            for linked in line.get("LinkedTxn", []):
                index[(linked["TxnType"], linked["TxnId"])].append((payment["Id"], Decimal(line["Amount"])))
    return index


def applied_to(books: Books, entity: str, ident: str, *, excluding: str | None = None,
               index: Applications | None = None) -> Decimal:
    """How much payments apply to an invoice or credit memo."""
    found = (index if index is not None else applications(books)).get((entity, ident), [])
    return sum((value for payment_id, value in found if payment_id != excluding), ZERO)


def open_amount(books: Books, record: Record, entity: str, *, excluding: str | None = None,
                index: Applications | None = None) -> Decimal:
    """An invoice's balance or a credit memo's remaining credit."""
    total = Decimal(record["TotalAmt"]) - Decimal(record.get("Deposit") or 0)
    return total - applied_to(books, entity, record["Id"], excluding=excluding, index=index)


def unapplied_amount(payment: Record) -> Decimal:
    """``TotalAmt`` less what the payment's lines apply (credit memos count negative)."""
    applied = ZERO
    for line in payment.get("Line", []):
        sign = -1 if line["LinkedTxn"][0]["TxnType"] == "CreditMemo" else 1
        applied += sign * Decimal(line["Amount"])
    return Decimal(payment["TotalAmt"]) - applied


def deposit_of(books: Books, payment_id: str) -> str | None:
    """The Id of the deposit holding a payment, or None."""
    for deposit in books.records("Deposit"):
        for line in deposit.get("Line", []):
            if any(link["TxnType"] == "Payment" and link["TxnId"] == payment_id for link in line.get("LinkedTxn", [])):
                return str(deposit["Id"])
    return None


# -- Payment --------------------------------------------------------------------------------------

def build_payment(books: Books, body: Record, previous: Record | None, options: Options) -> Record:
    """The record of a payment from its body (create or update).

    Raises:
        QboError: 2020/2500 for missing or unknown references, 6000 when an
            application exceeds an open amount or the total, 6540 when the
            payment is deposited.
    """
    if previous is not None and deposit_of(books, previous["Id"]):
        raise errors.deposited(previous["Id"])
    customer = books.resolve("Customer", body.get("CustomerRef"), "CustomerRef")
    total = amount(body.get("TotalAmt"), "TotalAmt", required=True, minimum=ZERO)
    assert total is not None
    check_length(body.get("DocNumber"), "DocNumber", 21)
    record = passthrough(body, PAYMENT_DERIVED)
    record.update(CustomerRef=ref_to(customer, "DisplayName"), CurrencyRef=check_currency(books, body),
                  TxnDate=body.get("TxnDate") or books.today(), TotalAmt=fmt(total))
    deposit_ref = body.get("DepositToAccountRef") or {"value": books.key("account:uf")}
    record["DepositToAccountRef"] = ref_to(books.resolve("Account", deposit_ref, "DepositToAccountRef"))
    if body.get("ARAccountRef") is not None:
        record["ARAccountRef"] = receivable_account(books, body["ARAccountRef"])
    record["Line"] = _payment_lines(books, body.get("Line") or [], customer, previous)
    unapplied = unapplied_amount(record)
    if unapplied < ZERO:
        raise errors.business(f"the amounts applied exceed the payment total {fmt(total)}", "TotalAmt")
    if total - unapplied < ZERO:
        raise errors.business("credit memos applied exceed the invoices they pay", "Line")
    return record


def _payment_lines(books: Books, lines: list[Record], customer: Record, previous: Record | None) -> list[Record]:
    index = applications(books)
    seen: set[tuple[str, str]] = set()
    built = []
    for line in lines:
        links = line.get("LinkedTxn") or []
        if len(links) != 1:
            raise errors.business("each payment line links exactly one invoice or credit memo", "Line.LinkedTxn")
        target_type, target_id = links[0]["TxnType"], str(links[0]["TxnId"])
        if target_type not in _APPLIES_TO:
            raise errors.business(f"a payment applies to invoices and credit memos, not {target_type}",
                                  "Line.LinkedTxn.TxnType")
        if (target_type, target_id) in seen:
            raise errors.business(f"{target_type} {target_id} is linked twice", "Line.LinkedTxn")
        seen.add((target_type, target_id))
        value = amount(line.get("Amount"), "Line.Amount", required=True, minimum=ZERO)
        assert value is not None
        target = _target(books, target_type, target_id, customer)
        open_value = open_amount(books, target, target_type, excluding=previous["Id"] if previous else None,
                                 index=index)
        if value > open_value:
            raise errors.business(f"{value} is more than the open amount {fmt(open_value)} of {target_type} "
                                  f"{target_id}", "Line.Amount")
        built.append({"Amount": fmt(value), "LinkedTxn": [{"TxnId": target_id, "TxnType": target_type}]})
    return built


def _target(books: Books, entity: str, ident: str, customer: Record) -> Record:
    target = books.find(entity, ident)
    if target is None:
        raise errors.invalid_reference(entity, ident, "Line.LinkedTxn.TxnId")
    if target["CustomerRef"]["value"] != customer["Id"]:
        raise errors.business(f"{entity} {ident} belongs to another customer", "Line.LinkedTxn")
    return target


def void_payment(books: Books, record: Record) -> Record:
    """A voided copy of a payment: no lines, total zero, noted ``Voided``.

    Raises:
        QboError: 6540 when it is deposited.
    """
    if deposit_of(books, record["Id"]):
        raise errors.deposited(record["Id"])
    return {**record, "Line": [], "TotalAmt": "0.00", "PrivateNote": "Voided"}


def unlink_invoice(books: Books, invoice_id: str) -> None:
    """Take an invoice out of the payments applying it (it is deleted or voided).

    A payment left applying more credit than invoices also drops its credit
    memo lines: the credit becomes available again.
    """
    for payment in books.records("Payment"):
        lines = payment.get("Line", [])
        kept = [line for line in lines if line["LinkedTxn"][0] != {"TxnId": invoice_id, "TxnType": "Invoice"}]
        if len(kept) == len(lines):
            continue
        if not any(line["LinkedTxn"][0]["TxnType"] == "Invoice" for line in kept):
            kept = []
        payment.update(Line=kept, SyncToken=str(int(payment["SyncToken"]) + 1), MetaData=books.meta(payment))


def check_not_applied(books: Books, entity: str, ident: str) -> None:
    """Refuse (6000) to remove a credit memo that a payment applies."""
    if entity == "CreditMemo" and applied_to(books, entity, ident):
        raise errors.business(f"CreditMemo {ident} is applied by a payment; unapply it first")


def check_not_deposited(books: Books, payment_id: str) -> None:
    """Refuse (6540) to remove a deposited payment."""
    if deposit_of(books, payment_id):
        raise errors.deposited(payment_id)


# -- Deposit --------------------------------------------------------------------------------------

def build_deposit(books: Books, body: Record, previous: Record | None, options: Options) -> Record:
    """The record of a deposit from its body (create or update).

    Raises:
        QboError: 2020/2500 for references, 6000 when a payment is not in
            Undeposited Funds, already deposited or not deposited whole.
    """
    if body.get("DepositToAccountRef") is None:
        raise errors.required("DepositToAccountRef")
    target = books.resolve("Account", body["DepositToAccountRef"], "DepositToAccountRef")
    check_length(body.get("DocNumber"), "DocNumber", 21)
    record = passthrough(body, DEPOSIT_DERIVED)
    record.update(DepositToAccountRef=ref_to(target), CurrencyRef=check_currency(books, body),
                  TxnDate=body.get("TxnDate") or books.today())
    lines = [_deposit_line(books, line, number, previous) for number, line in enumerate(body.get("Line") or [], 1)]
    if not lines:
        raise errors.business("a deposit needs at least one line", "Line")
    gross = sum((Decimal(line["Amount"]) for line in lines), ZERO)
    cash_back = _cash_back(books, body.get("CashBack"), gross)
    if cash_back is not None:
        record["CashBack"] = cash_back
    record["Line"] = lines
    record["TotalAmt"] = fmt(gross - Decimal(cash_back["Amount"] if cash_back else 0))
    return record


def _deposit_line(books: Books, line: Record, number: int, previous: Record | None) -> Record:
    value = amount(line.get("Amount"), "Line.Amount", required=True, minimum=ZERO)
    assert value is not None
    base: Record = {"Id": str(number), "LineNum": number, "Amount": fmt(value)}
    if line.get("Description") is not None:
        base["Description"] = line["Description"]
    links = line.get("LinkedTxn") or []
    if links:
        return {**base, "LinkedTxn": [_deposited_payment(books, links, value, previous)]}
    detail = line.get("DepositLineDetail")
    if detail is None:
        raise errors.required("Line.DepositLineDetail")
    account = books.resolve("Account", detail.get("AccountRef"), "Line.DepositLineDetail.AccountRef")
    kept = passthrough(detail, ("AccountRef", "Entity"))
    kept["AccountRef"] = ref_to(account)
    if detail.get("Entity") is not None:
        kept["Entity"] = _deposit_entity(books, detail["Entity"])
    return {**base, "DetailType": "DepositLineDetail", "DepositLineDetail": kept}


def _deposited_payment(books: Books, links: list[Record], value: Decimal, previous: Record | None) -> Record:
    if len(links) != 1 or links[0]["TxnType"] != "Payment":
        raise errors.business("a deposit line links exactly one Payment", "Line.LinkedTxn")
    payment_id = str(links[0]["TxnId"])
    payment = books.find("Payment", payment_id)
    if payment is None:
        raise errors.invalid_reference("Payment", payment_id, "Line.LinkedTxn.TxnId")
    if payment["DepositToAccountRef"]["value"] != books.key("account:uf"):
        raise errors.business(f"Payment {payment_id} is not in Undeposited Funds", "Line.LinkedTxn")
    holder = deposit_of(books, payment_id)
    if holder is not None and (previous is None or holder != previous["Id"]):
        raise errors.business(f"Payment {payment_id} is already in deposit {holder}", "Line.LinkedTxn")
    if value != Decimal(payment["TotalAmt"]):
        raise errors.business(f"Payment {payment_id} is deposited whole ({payment['TotalAmt']}), not {value}",
                              "Line.Amount")
    return {"TxnId": payment_id, "TxnType": "Payment", "TxnLineId": "0"}


def _deposit_entity(books: Books, ref: Any) -> Record:
    if ref.get("type", "Customer") != "Customer":
        raise errors.business("only customers are emulated as deposit line names", "Line.DepositLineDetail.Entity")
    customer = books.resolve("Customer", ref, "Line.DepositLineDetail.Entity")
    return {"value": customer["Id"], "name": customer["DisplayName"], "type": "Customer"}


def _cash_back(books: Books, cash_back: Record | None, gross: Decimal) -> Record | None:
    if cash_back is None:
        return None
    value = amount(cash_back.get("Amount"), "CashBack.Amount", minimum=ZERO) or ZERO
    if value > gross:
        raise errors.business("the cash back is more than the deposit", "CashBack.Amount")
    account = books.resolve("Account", cash_back.get("AccountRef"), "CashBack.AccountRef")
    kept = passthrough(cash_back, ("AccountRef", "Amount"))
    return {**kept, "AccountRef": ref_to(account), "Amount": fmt(value)}
