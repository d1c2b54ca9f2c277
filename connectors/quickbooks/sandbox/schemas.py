"""The request bodies the sandbox accepts, as ``connectors.sandbox.schema`` nodes.

Field names are the XSD element names (``tests`` check every one exists in
Intuit's schema). The sandbox accepts the subset Partida uses plus the common
descriptive fields; anything else is refused with code 2010, so a connector
never relies on a field the sandbox silently drops. Amounts may be JSON
numbers or numeric strings (QuickBooks' JSON reader coerces both).

Read-only fields (``TotalAmt`` of a sales form, ``Balance``, ``MetaData``...)
are accepted and ignored, so an object read from the API can be sent back.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.quickbooks.sandbox.money import DECIMAL_PATTERN
from connectors.sandbox.schema import Arr
from connectors.sandbox.schema import Bool
from connectors.sandbox.schema import Int
from connectors.sandbox.schema import Num
from connectors.sandbox.schema import Obj
from connectors.sandbox.schema import OneOf
from connectors.sandbox.schema import Schema
from connectors.sandbox.schema import Str

__all__ = ["ENTITY_SCHEMAS", "TAMPER", "COMPANY", "OAUTH_CLIENT", "FAULTS", "PREFERENCES"]

DEC = OneOf((Num(), Str(pattern=DECIMAL_PATTERN)), pick=lambda value: 0)
TEXT = Str()
DATE = Str(date=True)
BOOL = Bool()
REF = Obj({"value": TEXT, "name": TEXT, "type": TEXT}, required=frozenset({"value"}))
LINE_NUM = OneOf((Int(minimum=1), Str(pattern=r"\d{1,9}")), pick=lambda value: 0)


def _obj(props: Mapping[str, Schema]) -> Obj:
    return Obj(dict(props))


def _enum(*values: str) -> Str:
    return Str(enum=frozenset(values))


META = _obj({"CreatedByRef": REF, "CreateTime": TEXT, "LastModifiedByRef": REF, "LastUpdatedTime": TEXT,
             "LastChangedInQB": TEXT, "Synchronized": BOOL})
EMAIL = _obj({"Id": TEXT, "Address": TEXT, "Default": BOOL, "Tag": TEXT})
PHONE = _obj({"Id": TEXT, "DeviceType": TEXT, "CountryCode": TEXT, "AreaCode": TEXT, "ExchangeCode": TEXT,
              "Extension": TEXT, "FreeFormNumber": TEXT, "Default": BOOL, "Tag": TEXT})
ADDRESS = _obj({key: TEXT for key in (
    "Id", "Line1", "Line2", "Line3", "Line4", "Line5", "City", "Country", "CountryCode", "County",
    "CountrySubDivisionCode", "PostalCode", "PostalCodeSuffix", "Lat", "Long", "Tag", "Note")})
MEMO = _obj({"value": TEXT, "id": TEXT})
LINKED_TXN = Obj({"TxnId": TEXT, "TxnType": TEXT, "TxnLineId": TEXT}, required=frozenset({"TxnId", "TxnType"}))
GLOBAL_TAX = _enum("TaxInclusive", "TaxExcluded", "NotApplicable")

_ENTITY: dict[str, Schema] = {"Id": TEXT, "SyncToken": TEXT, "domain": TEXT, "sparse": BOOL, "status": TEXT, "MetaData": META}
_TXN: dict[str, Schema] = {**_ENTITY, "DocNumber": TEXT, "TxnDate": DATE, "DepartmentRef": REF, "CurrencyRef": REF,
        "ExchangeRate": DEC, "PrivateNote": TEXT, "TxnSource": TEXT, "ProjectRef": REF}

SALES_ITEM = _obj({"ItemRef": REF, "ClassRef": REF, "UnitPrice": DEC, "Qty": DEC, "ItemAccountRef": REF,
                   "TaxCodeRef": REF, "ServiceDate": DATE, "TaxInclusiveAmt": DEC, "DiscountRate": DEC,
                   "DiscountAmt": DEC})
SALES_LINE = _obj({
    "Id": TEXT, "LineNum": LINE_NUM, "Description": TEXT, "Amount": DEC, "LinkedTxn": Arr(LINKED_TXN),
    "DetailType": _enum("SalesItemLineDetail", "SubTotalLineDetail", "DescriptionOnly", "DiscountLineDetail",
                        "GroupLineDetail"),
    "SalesItemLineDetail": SALES_ITEM,
    "SubTotalLineDetail": _obj({"ItemRef": REF, "ServiceDate": DATE}),
    "DescriptionLineDetail": _obj({"ServiceDate": DATE, "TaxCodeRef": REF}),
    "DiscountLineDetail": _obj({"PercentBased": BOOL, "DiscountPercent": DEC, "DiscountAccountRef": REF,
                                "TaxCodeRef": REF, "ClassRef": REF}),
    "ProjectRef": REF,
})
TAX_LINE = _obj({
    "Id": TEXT, "LineNum": LINE_NUM, "Description": TEXT, "Amount": DEC, "DetailType": _enum("TaxLineDetail"),
    "TaxLineDetail": _obj({"TaxRateRef": REF, "PercentBased": BOOL, "TaxPercent": DEC, "NetAmountTaxable": DEC,
                           "TaxInclusiveAmount": DEC, "OverrideDeltaAmount": DEC, "ServiceDate": DATE}),
})
TXN_TAX_DETAIL = _obj({"DefaultTaxCodeRef": REF, "TxnTaxCodeRef": REF, "TotalTax": DEC, "TaxLine": Arr(TAX_LINE)})

_SALES: dict[str, Schema] = {
    **_TXN, "LinkedTxn": Arr(LINKED_TXN), "Line": Arr(SALES_LINE), "TxnTaxDetail": TXN_TAX_DETAIL,
    "AutoDocNumber": BOOL, "CustomerRef": REF, "CustomerMemo": MEMO, "BillAddr": ADDRESS, "ShipAddr": ADDRESS,
    "ClassRef": REF, "SalesTermRef": REF, "DueDate": DATE, "ShipDate": DATE, "TrackingNum": TEXT,
    "GlobalTaxCalculation": GLOBAL_TAX, "TotalAmt": DEC, "HomeTotalAmt": DEC, "ApplyTaxAfterDiscount": BOOL,
    "PrintStatus": _enum("NotSet", "NeedToPrint", "PrintComplete"),
    "EmailStatus": _enum("NotSet", "NeedToSend", "EmailSent"), "BillEmail": EMAIL, "ARAccountRef": REF,
    "Balance": DEC, "HomeBalance": DEC, "PaymentMethodRef": REF, "PaymentRefNum": TEXT, "DepositToAccountRef": REF,
    "TaxExemptionRef": REF,
}
INVOICE = _obj({**_SALES, "Deposit": DEC, "AllowIPNPayment": BOOL, "AllowOnlinePayment": BOOL,
                "AllowOnlineCreditCardPayment": BOOL, "AllowOnlineACHPayment": BOOL})
CREDIT_MEMO = _obj({**_SALES, "RemainingCredit": DEC, "InvoiceRef": REF})
REFUND_RECEIPT = _obj({**_SALES, "RemainingCredit": DEC, "CheckPayment": _obj({
    "CheckNum": TEXT, "Status": TEXT, "NameOnAcct": TEXT, "AcctNum": TEXT, "BankName": TEXT})})

PAYMENT_LINE = _obj({"Id": TEXT, "LineNum": LINE_NUM, "Description": TEXT, "Amount": DEC,
                     "LinkedTxn": Arr(LINKED_TXN)})
PAYMENT = _obj({
    **_TXN, "LinkedTxn": Arr(LINKED_TXN), "Line": Arr(PAYMENT_LINE), "CustomerRef": REF, "ARAccountRef": REF,
    "DepositToAccountRef": REF, "PaymentMethodRef": REF, "PaymentRefNum": TEXT, "TotalAmt": DEC,
    "UnappliedAmt": DEC, "ProcessPayment": BOOL,
})

ENTITY_REF = Obj({"Type": _enum("Customer", "Employee", "Job", "Other", "Vendor"), "EntityRef": REF},
                 required=frozenset({"EntityRef"}))
JOURNAL_LINE = _obj({
    "Id": TEXT, "LineNum": LINE_NUM, "Description": TEXT, "Amount": DEC, "LinkedTxn": Arr(LINKED_TXN),
    "DetailType": _enum("JournalEntryLineDetail"),
    "JournalEntryLineDetail": _obj({
        "PostingType": _enum("Debit", "Credit"), "Entity": ENTITY_REF, "AccountRef": REF, "ClassRef": REF,
        "DepartmentRef": REF, "TaxCodeRef": REF, "TaxRateRef": REF, "TaxApplicableOn": _enum("Sales", "Purchase"),
        "TaxAmount": DEC, "TaxInclusiveAmt": DEC,
        "BillableStatus": _enum("Billable", "NotBillable", "HasBeenBilled"), "JournalCodeRef": REF,
    }),
    "ProjectRef": REF,
})
JOURNAL_ENTRY = _obj({**_TXN, "LinkedTxn": Arr(LINKED_TXN), "Line": Arr(JOURNAL_LINE),
                      "TxnTaxDetail": TXN_TAX_DETAIL, "Adjustment": BOOL, "GlobalTaxCalculation": GLOBAL_TAX,
                      "TotalAmt": DEC, "HomeTotalAmt": DEC})

DEPOSIT_LINE = _obj({
    "Id": TEXT, "LineNum": LINE_NUM, "Description": TEXT, "Amount": DEC, "LinkedTxn": Arr(LINKED_TXN),
    "DetailType": _enum("DepositLineDetail"),
    "DepositLineDetail": _obj({"Entity": REF, "ClassRef": REF, "AccountRef": REF, "PaymentMethodRef": REF,
                               "CheckNum": TEXT, "TxnType": TEXT, "TaxCodeRef": REF,
                               "TaxApplicableOn": _enum("Sales", "Purchase")}),
    "ProjectRef": REF,
})
DEPOSIT = _obj({**_TXN, "LinkedTxn": Arr(LINKED_TXN), "Line": Arr(DEPOSIT_LINE), "TxnTaxDetail": TXN_TAX_DETAIL,
                "DepositToAccountRef": REF, "CashBack": _obj({"AccountRef": REF, "Amount": DEC, "Memo": TEXT}),
                "GlobalTaxCalculation": GLOBAL_TAX, "TotalAmt": DEC, "HomeTotalAmt": DEC})

CUSTOMER = _obj({
    **_ENTITY, "Title": TEXT, "GivenName": TEXT, "MiddleName": TEXT, "FamilyName": TEXT, "Suffix": TEXT,
    "FullyQualifiedName": TEXT, "CompanyName": TEXT, "DisplayName": TEXT, "PrintOnCheckName": TEXT,
    "Active": BOOL, "PrimaryPhone": PHONE, "AlternatePhone": PHONE, "Mobile": PHONE, "Fax": PHONE,
    "PrimaryEmailAddr": EMAIL, "WebAddr": _obj({"Id": TEXT, "URI": TEXT, "Default": BOOL, "Tag": TEXT}),
    "DefaultTaxCodeRef": REF, "Taxable": BOOL, "BillAddr": ADDRESS, "ShipAddr": ADDRESS, "ContactName": TEXT,
    "Notes": TEXT, "Job": BOOL, "BillWithParent": BOOL, "ParentRef": REF, "Level": Int(minimum=0),
    "CustomerTypeRef": REF, "SalesTermRef": REF, "PaymentMethodRef": REF, "Balance": DEC,
    "OpenBalanceDate": DATE, "BalanceWithJobs": DEC, "AcctNum": TEXT, "CurrencyRef": REF,
    "PreferredDeliveryMethod": TEXT, "ResaleNum": TEXT, "ARAccountRef": REF, "PrimaryTaxIdentifier": TEXT,
    "TaxExemptionReasonId": TEXT, "IsProject": BOOL, "BusinessNumber": TEXT, "GSTIN": TEXT,
    "GSTRegistrationType": TEXT, "Source": TEXT,
})
ITEM = _obj({
    **_ENTITY, "Name": TEXT, "Sku": TEXT, "Description": TEXT, "Active": BOOL, "SubItem": BOOL, "ParentRef": REF,
    "Level": Int(minimum=0), "FullyQualifiedName": TEXT, "Taxable": BOOL, "SalesTaxIncluded": BOOL,
    "UnitPrice": DEC,
    "Type": _enum("Assembly", "Category", "Fixed Asset", "Group", "Inventory", "NonInventory", "Other Charge",
                  "Payment", "Service", "Subtotal", "Discount", "Tax", "Tax Group", "Bundle"),
    "IncomeAccountRef": REF, "PurchaseDesc": TEXT, "PurchaseTaxIncluded": BOOL, "PurchaseCost": DEC,
    "ExpenseAccountRef": REF, "AssetAccountRef": REF, "TrackQtyOnHand": BOOL, "QtyOnHand": DEC,
    "InvStartDate": DATE, "SalesTaxCodeRef": REF, "PurchaseTaxCodeRef": REF, "ClassRef": REF,
})
ACCOUNT = _obj({
    **_ENTITY, "Name": TEXT, "SubAccount": BOOL, "ParentRef": REF, "Description": TEXT, "FullyQualifiedName": TEXT,
    "Active": BOOL, "Classification": _enum("Asset", "Equity", "Expense", "Liability", "Revenue"),
    "AccountType": _enum("Bank", "Accounts Receivable", "Other Current Asset", "Fixed Asset", "Other Asset",
                         "Accounts Payable", "Credit Card", "Other Current Liability", "Long Term Liability",
                         "Equity", "Income", "Cost of Goods Sold", "Expense", "Other Income", "Other Expense",
                         "Non-Posting"),
    "AccountSubType": TEXT, "AcctNum": TEXT, "CurrentBalance": DEC, "CurrentBalanceWithSubAccounts": DEC,
    "CurrencyRef": REF, "TaxCodeRef": REF, "JournalCodeRef": REF, "TaxAccount": BOOL,
})

ENTITY_SCHEMAS: dict[str, Obj] = {
    "Invoice": INVOICE, "CreditMemo": CREDIT_MEMO, "RefundReceipt": REFUND_RECEIPT, "Payment": PAYMENT,
    "JournalEntry": JOURNAL_ENTRY, "Deposit": DEPOSIT, "Customer": CUSTOMER, "Item": ITEM, "Account": ACCOUNT,
}

# -- /sandbox/ bodies ----------------------------------------------------------------------

COMPANY = _obj({"edition": _enum("CA-QC", "US", "FR"), "name": Str(min_length=1, max_length=100),
                "realm_id": Str(pattern=r"\d{1,20}")})
OAUTH_CLIENT = Obj({"redirect_uris": Arr(Str(max_length=2000), min_items=1, max_items=10),
                    "client_id": Str(pattern=r"[A-Za-z0-9._~-]{8,100}"), "client_secret": Str(min_length=16)},
                   required=frozenset({"redirect_uris"}))
FAULTS = Obj({"plan": Str(nullable=True)}, required=frozenset({"plan"}))
PREFERENCES = _obj({"warn_duplicate_doc_number": BOOL, "fiscal_year_start_month": Int(minimum=1, maximum=12)})
TAMPER = _obj({"Amount": DEC, "LineNum": Int(minimum=1), "TotalAmt": DEC, "TxnDate": DATE, "DocNumber": TEXT,
               "PrivateNote": TEXT})
