"""Name lists: Customer, Item, Account (reference §2.2, §2.3, §2.8).

- names are unique, compared without case or surrounding spaces (6240), and
  may not contain ``:`` (QuickBooks uses it for ``Parent:Child``; 6000);
- Customer: ``DisplayName`` defaults to ``CompanyName``, else the person's
  name parts; one of them is required (2020); ``Balance`` is computed;
- Item: ``Name`` is required; sale items (Service, NonInventory, Inventory)
  need an ``IncomeAccountRef`` (2020); ``Type`` defaults to Service; group,
  bundle and assembly items are not emulated (6000);
- Account: ``Name`` and ``AccountType`` are required; ``Classification`` and a
  default ``AccountSubType`` follow the type; ``ParentRef`` makes a
  sub-account (``FullyQualifiedName`` ``Parent:Child``);
- none of them can be deleted: set ``Active`` to false (inactive objects are
  left out of queries unless the query filters on ``Active``).
"""

from __future__ import annotations

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox.books import Books
from connectors.quickbooks.sandbox.books import Record
from connectors.quickbooks.sandbox.books import ref_to
from connectors.quickbooks.sandbox.company import ACCOUNT_TYPES
from connectors.quickbooks.sandbox.fields import Options
from connectors.quickbooks.sandbox.fields import amount
from connectors.quickbooks.sandbox.fields import check_currency
from connectors.quickbooks.sandbox.fields import check_length
from connectors.quickbooks.sandbox.fields import passthrough

__all__ = ["ACCOUNT_DERIVED", "CUSTOMER_DERIVED", "ITEM_DERIVED", "build_account", "build_customer", "build_item"]

_BASE = frozenset({"Id", "SyncToken", "MetaData", "domain", "sparse", "status", "FullyQualifiedName"})
CUSTOMER_DERIVED = _BASE | {"Balance", "BalanceWithJobs"}
ITEM_DERIVED = _BASE | {"Level"}
ACCOUNT_DERIVED = _BASE | {"CurrentBalance", "CurrentBalanceWithSubAccounts", "Classification"}
_SALE_ITEMS = ("Service", "NonInventory", "Inventory")
_PLAIN_ITEMS = (*_SALE_ITEMS, "Category", "Other Charge")
_NAME_PARTS = ("Title", "GivenName", "MiddleName", "FamilyName", "Suffix")


def _check_name(books: Books, entity: str, key: str, name: str, previous: Record | None, maximum: int) -> str:
    name = name.strip()
    check_length(name, key, maximum)
    if ":" in name:
        raise errors.business(f"{key} {name!r} may not contain ':'", key)
    own_id = previous["Id"] if previous else None
    folded = name.casefold()
    for record in books.table(entity).values():
        if str(record.get(key, "")).strip().casefold() == folded and record["Id"] != own_id:
            raise errors.duplicate_name(name, entity)
    return name


def build_customer(books: Books, body: Record, previous: Record | None, options: Options) -> Record:
    """The record of a customer from its body (create or update)."""
    parts = " ".join(str(body[key]).strip() for key in _NAME_PARTS if body.get(key))
    display = body.get("DisplayName") or body.get("CompanyName") or parts
    if not display or not display.strip():
        raise errors.required("DisplayName")
    record = passthrough(body, CUSTOMER_DERIVED)
    name = _check_name(books, "Customer", "DisplayName", display, previous, 500)
    record.update(DisplayName=name, FullyQualifiedName=name, Active=body.get("Active", True),
                  CurrencyRef=check_currency(books, body))
    record.setdefault("PrintOnCheckName", name)
    if body.get("DefaultTaxCodeRef") is not None:
        code = books.resolve("TaxCode", body["DefaultTaxCodeRef"], "DefaultTaxCodeRef")
        record["DefaultTaxCodeRef"] = {"value": code["Id"]}
    return record


def build_item(books: Books, body: Record, previous: Record | None, options: Options) -> Record:
    """The record of an item from its body (create or update)."""
    if not body.get("Name"):
        raise errors.required("Name")
    item_type = body.get("Type") or "Service"
    if item_type not in _PLAIN_ITEMS:
        raise errors.business(f"items of type {item_type} are not emulated by the sandbox", "Type")
    record = passthrough(body, ITEM_DERIVED)
    name = _check_name(books, "Item", "Name", body["Name"], previous, 100)
    record.update(Name=name, FullyQualifiedName=name, Type=item_type, Active=body.get("Active", True))
    amount(body.get("UnitPrice"), "UnitPrice", decimals=7)
    if item_type in _SALE_ITEMS:
        if body.get("IncomeAccountRef") is None:
            raise errors.required("IncomeAccountRef")
        record["IncomeAccountRef"] = ref_to(books.resolve("Account", body["IncomeAccountRef"], "IncomeAccountRef"))
    for key in ("SalesTaxCodeRef", "PurchaseTaxCodeRef"):
        if body.get(key) is not None:
            record[key] = {"value": books.resolve("TaxCode", body[key], key)["Id"]}
    return record


def build_account(books: Books, body: Record, previous: Record | None, options: Options) -> Record:
    """The record of an account from its body (create or update)."""
    if not body.get("Name"):
        raise errors.required("Name")
    account_type = body.get("AccountType")
    if account_type is None:
        raise errors.required("AccountType")
    if '"' in body["Name"]:
        raise errors.business("an account name may not contain '\"'", "Name")
    record = passthrough(body, ACCOUNT_DERIVED)
    name = _check_name(books, "Account", "Name", body["Name"], previous, 100)
    classification, default_sub_type = ACCOUNT_TYPES[account_type]
    record.update(Name=name, AccountType=account_type, Classification=classification,
                  AccountSubType=body.get("AccountSubType") or default_sub_type, Active=body.get("Active", True),
                  CurrencyRef=check_currency(books, body), FullyQualifiedName=name, SubAccount=False)
    if body.get("ParentRef") is not None:
        parent = books.resolve("Account", body["ParentRef"], "ParentRef")
        if previous is not None and parent["Id"] == previous["Id"]:
            raise errors.business("an account cannot be its own parent", "ParentRef")
        if parent["Classification"] != classification:
            raise errors.business("a sub-account has the classification of its parent", "ParentRef")
        record.update(ParentRef=ref_to(parent), SubAccount=True,
                      FullyQualifiedName=f"{parent['FullyQualifiedName']}:{name}")
    return record
