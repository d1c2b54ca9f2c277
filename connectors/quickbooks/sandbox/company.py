"""Companies (realms) and what a new one holds: chart of accounts and sales tax.

The sandbox state is one JSON document::

    {"format": 1, "created_at": ..., "oauth": {...}, "realm_seq": 1,
     "default_realm": "9130355000000001",
     "realms": {"<realmId>": {"realm_id", "edition", "company", "prefs",
                              "seq", "keys", "entities": {Entity: {Id: record}},
                              "requests": {requestid: stored answer}}}}

Three editions, as QuickBooks sets up a new company in each country:

- ``CA-QC`` (Québec, CAD, the default): tax codes ``GST/QST QC`` (GST 5 % and
  QST 9.975 %, both on the pre-tax amount), ``GST``, ``QST QC``,
  ``Zero-rated``, ``Exempt`` and ``Out of scope`` (0 % rates); GST goes to
  *GST/HST Payable* and QST to *QST Payable* (accounting-rules §5.3);
- ``US`` (USD): the pseudo codes ``TAX`` and ``NON`` on lines, and the rate
  chosen by the transaction's ``TxnTaxDetail.TxnTaxCodeRef`` (a combined
  state + city code, 8.25 %);
- ``FR`` (EUR): one code per French VAT rate (20, 10, 5.5, 2.1, 0 %).

Every seeded account, rate and code has a key (``ar``, ``uf``, ``gst``...)
kept in the realm's ``keys``, so the sandbox can find them whatever their Id.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

__all__ = [
    "ACCOUNT_TYPES",
    "EDITIONS",
    "ENTITIES",
    "FORMAT",
    "Edition",
    "classification_of",
    "new_realm",
    "new_state",
]

FORMAT = 1
ENTITIES = ("Account", "Customer", "Item", "TaxAgency", "TaxRate", "TaxCode", "Invoice", "CreditMemo",
            "RefundReceipt", "Payment", "JournalEntry", "Deposit")
_FIRST_REALM = 9_130_355_000_000_000

# AccountType -> (Classification, default AccountSubType).
ACCOUNT_TYPES: dict[str, tuple[str, str]] = {
    "Bank": ("Asset", "Checking"),
    "Accounts Receivable": ("Asset", "AccountsReceivable"),
    "Other Current Asset": ("Asset", "OtherCurrentAssets"),
    "Fixed Asset": ("Asset", "OtherFixedAssets"),
    "Other Asset": ("Asset", "OtherLongTermAssets"),
    "Accounts Payable": ("Liability", "AccountsPayable"),
    "Credit Card": ("Liability", "CreditCard"),
    "Other Current Liability": ("Liability", "OtherCurrentLiabilities"),
    "Long Term Liability": ("Liability", "OtherLongTermLiabilities"),
    "Equity": ("Equity", "OwnersEquity"),
    "Income": ("Revenue", "SalesOfProductIncome"),
    "Other Income": ("Revenue", "OtherMiscellaneousIncome"),
    "Cost of Goods Sold": ("Expense", "SuppliesMaterialsCogs"),
    "Expense": ("Expense", "OtherMiscellaneousServiceCost"),
    "Other Expense": ("Expense", "OtherMiscellaneousExpense"),
    "Non-Posting": ("Asset", "OtherMiscellaneousNonPosting"),
}


def classification_of(account_type: str) -> str:
    """``Asset``, ``Liability``, ``Equity``, ``Revenue`` or ``Expense``."""
    return ACCOUNT_TYPES[account_type][0]


@dataclass(frozen=True, slots=True)
class AccountSeed:
    key: str
    name: str
    account_type: str
    sub_type: str


@dataclass(frozen=True, slots=True)
class RateSeed:
    key: str
    name: str
    percent: Decimal
    agency: str
    account: str
    special: str = "NONE"


@dataclass(frozen=True, slots=True)
class CodeSeed:
    key: str
    name: str
    description: str
    rates: tuple[str, ...]
    fixed_id: str | None = None


@dataclass(frozen=True, slots=True)
class Edition:
    """What a new company of one country holds.

    Attributes:
        code: ``CA-QC``, ``US`` or ``FR``.
        country: ISO country code of the company.
        currency: home currency (ISO 4217) and its name.
        company_name: default company name.
        accounts: the seeded chart.
        agencies: ``(key, name)`` of the tax agencies.
        rates: the seeded tax rates.
        codes: the seeded tax codes.
        us_tax: US model (line codes ``TAX``/``NON``, rate chosen per transaction).
        tax_word: how the missing-tax-code error names the tax (``GST/HST``, ``VAT``).
    """

    code: str
    country: str
    currency: tuple[str, str]
    company_name: str
    accounts: tuple[AccountSeed, ...]
    agencies: tuple[tuple[str, str], ...]
    rates: tuple[RateSeed, ...]
    codes: tuple[CodeSeed, ...]
    us_tax: bool
    tax_word: str


def _accounts(*rows: tuple[str, str, str, str]) -> tuple[AccountSeed, ...]:
    return tuple(AccountSeed(*row) for row in rows)


_CA_QC = Edition(
    code="CA-QC", country="CA", currency=("CAD", "Canadian Dollar"), company_name="Partida Sandbox Québec inc.",
    accounts=_accounts(
        ("ar", "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
        ("uf", "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
        ("bank", "Chequing", "Bank", "Checking"),
        ("cash", "Cash on hand", "Bank", "CashOnHand"),
        ("deposits", "Customer Deposits", "Other Current Liability", "OtherCurrentLiabilities"),
        ("gst", "GST/HST Payable", "Other Current Liability", "GlobalTaxPayable"),
        ("qst", "QST Payable", "Other Current Liability", "GlobalTaxPayable"),
        ("obe", "Opening Balance Equity", "Equity", "OpeningBalanceEquity"),
        ("re", "Retained Earnings", "Equity", "RetainedEarnings"),
        ("sales", "Sales", "Income", "SalesOfProductIncome"),
        ("services", "Services", "Income", "ServiceFeeIncome"),
        ("other_income", "Other Income", "Other Income", "OtherMiscellaneousIncome"),
        ("bank_charges", "Bank charges", "Expense", "BankCharges"),
    ),
    agencies=(("cra", "Canada Revenue Agency"), ("rq", "Revenu Québec")),
    rates=(
        RateSeed("gst", "GST", Decimal("5"), "cra", "gst"),
        RateSeed("qst", "QST", Decimal("9.975"), "rq", "qst"),
        RateSeed("zero", "GST ZR", Decimal("0"), "cra", "gst", "ZERO_RATE"),
        RateSeed("exempt", "Exempt", Decimal("0"), "cra", "gst", "ZERO_RATE"),
        RateSeed("oos", "Out of scope", Decimal("0"), "cra", "gst", "ZERO_RATE"),
    ),
    codes=(
        CodeSeed("gst_qst", "GST/QST QC", "GST 5% + QST 9.975%", ("gst", "qst")),
        CodeSeed("gst_only", "GST", "GST 5%", ("gst",)),
        CodeSeed("qst_only", "QST QC", "QST 9.975%", ("qst",)),
        CodeSeed("zero", "Zero-rated", "Zero-rated supplies", ("zero",)),
        CodeSeed("exempt", "Exempt", "Exempt supplies", ("exempt",)),
        CodeSeed("oos", "Out of scope", "Outside the scope of GST/QST", ("oos",)),
    ),
    us_tax=False, tax_word="GST/HST",
)

_US = Edition(
    code="US", country="US", currency=("USD", "United States Dollar"), company_name="Partida Sandbox LLC",
    accounts=_accounts(
        ("ar", "Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable"),
        ("uf", "Undeposited Funds", "Other Current Asset", "UndepositedFunds"),
        ("bank", "Checking", "Bank", "Checking"),
        ("deposits", "Customer Deposits", "Other Current Liability", "OtherCurrentLiabilities"),
        ("sales_tax", "Sales Tax Payable", "Other Current Liability", "SalesTaxPayable"),
        ("obe", "Opening Balance Equity", "Equity", "OpeningBalanceEquity"),
        ("re", "Retained Earnings", "Equity", "RetainedEarnings"),
        ("sales", "Sales", "Income", "SalesOfProductIncome"),
        ("services", "Services", "Income", "ServiceFeeIncome"),
        ("bank_charges", "Bank Charges", "Expense", "BankCharges"),
    ),
    agencies=(("state", "State Department of Revenue"),),
    rates=(
        RateSeed("state", "State sales tax", Decimal("6.25"), "state", "sales_tax"),
        RateSeed("city", "City sales tax", Decimal("2"), "state", "sales_tax"),
    ),
    codes=(
        CodeSeed("tax", "TAX", "Taxable line (rate chosen per transaction)", (), fixed_id="TAX"),
        CodeSeed("non", "NON", "Non-taxable line", (), fixed_id="NON"),
        CodeSeed("combined", "Sales tax 8.25%", "State 6.25% + city 2%", ("state", "city")),
    ),
    us_tax=True, tax_word="sales tax",
)

_FR = Edition(
    code="FR", country="FR", currency=("EUR", "Euro"), company_name="Partida Sandbox SAS",
    accounts=_accounts(
        ("ar", "Clients", "Accounts Receivable", "AccountsReceivable"),
        ("uf", "Fonds non déposés", "Other Current Asset", "UndepositedFunds"),
        ("bank", "Banque", "Bank", "Checking"),
        ("cash", "Caisse", "Bank", "CashOnHand"),
        ("deposits", "Clients - avances et acomptes reçus", "Other Current Liability", "OtherCurrentLiabilities"),
        ("vat", "TVA collectée", "Other Current Liability", "GlobalTaxPayable"),
        ("obe", "Capitaux propres d'ouverture", "Equity", "OpeningBalanceEquity"),
        ("re", "Report à nouveau", "Equity", "RetainedEarnings"),
        ("sales", "Ventes de marchandises", "Income", "SalesOfProductIncome"),
        ("services", "Prestations de services", "Income", "ServiceFeeIncome"),
        ("bank_charges", "Services bancaires", "Expense", "BankCharges"),
    ),
    agencies=(("dgfip", "DGFiP"),),
    rates=(
        RateSeed("vat20", "TVA 20 %", Decimal("20"), "dgfip", "vat"),
        RateSeed("vat10", "TVA 10 %", Decimal("10"), "dgfip", "vat"),
        RateSeed("vat55", "TVA 5,5 %", Decimal("5.5"), "dgfip", "vat"),
        RateSeed("vat21", "TVA 2,1 %", Decimal("2.1"), "dgfip", "vat"),
        RateSeed("vat0", "TVA 0 %", Decimal("0"), "dgfip", "vat", "ZERO_RATE"),
    ),
    codes=(
        CodeSeed("vat20", "TVA 20 %", "Taux normal", ("vat20",)),
        CodeSeed("vat10", "TVA 10 %", "Taux intermédiaire", ("vat10",)),
        CodeSeed("vat55", "TVA 5,5 %", "Taux réduit", ("vat55",)),
        CodeSeed("vat21", "TVA 2,1 %", "Taux particulier", ("vat21",)),
        CodeSeed("vat0", "Exonéré", "Exonéré de TVA", ("vat0",)),
    ),
    us_tax=False, tax_word="VAT",
)

EDITIONS: dict[str, Edition] = {edition.code: edition for edition in (_CA_QC, _US, _FR)}


def new_state(stamp: str) -> dict[str, Any]:
    """A sandbox with no company and no credentials (``new_realm`` adds companies)."""
    return {"format": FORMAT, "created_at": stamp, "oauth": {}, "realms": {}, "realm_seq": 0,
            "default_realm": None}


def new_realm(state: dict[str, Any], edition: Edition, stamp: str, *, name: str | None = None,
              realm_id: str | None = None) -> dict[str, Any]:
    """Add a company of ``edition`` to ``state``, seeded with its chart and taxes.

    Raises:
        ValueError: when ``realm_id`` is already taken or not digits.
    """
    if realm_id is None:
        state["realm_seq"] += 1
        realm_id = str(_FIRST_REALM + state["realm_seq"])
    if not realm_id.isdigit() or realm_id in state["realms"]:
        raise ValueError(f"realm id {realm_id!r} must be digits and not already used")
    realm: dict[str, Any] = {
        "realm_id": realm_id, "edition": edition.code, "created_at": stamp,
        "company": {"CompanyName": name or edition.company_name, "Country": edition.country},
        "prefs": {"warn_duplicate_doc_number": True, "fiscal_year_start_month": 1},
        "seq": 0, "keys": {}, "entities": {entity: {} for entity in ENTITIES}, "requests": {},
    }
    _seed(realm, edition, stamp)
    state["realms"][realm_id] = realm
    state["default_realm"] = state["default_realm"] or realm_id
    return realm


def _new_id(realm: dict[str, Any]) -> str:
    realm["seq"] += 1
    return str(realm["seq"])


def _base(ident: str, stamp: str) -> dict[str, Any]:
    return {"Id": ident, "SyncToken": "0", "domain": "QBO", "sparse": False,
            "MetaData": {"CreateTime": stamp, "LastUpdatedTime": stamp}}


def _seed(realm: dict[str, Any], edition: Edition, stamp: str) -> None:
    entities, keys = realm["entities"], realm["keys"]
    currency = {"value": edition.currency[0], "name": edition.currency[1]}
    for seed in edition.accounts:
        ident = _new_id(realm)
        entities["Account"][ident] = {
            **_base(ident, stamp), "Name": seed.name, "FullyQualifiedName": seed.name, "SubAccount": False,
            "Active": True, "AccountType": seed.account_type, "AccountSubType": seed.sub_type,
            "Classification": classification_of(seed.account_type), "CurrencyRef": currency,
        }
        keys[f"account:{seed.key}"] = ident
    for key, agency_name in edition.agencies:
        ident = _new_id(realm)
        entities["TaxAgency"][ident] = {**_base(ident, stamp), "DisplayName": agency_name, "TaxTrackedOnSales": True,
                                        "TaxTrackedOnPurchases": False}
        keys[f"agency:{key}"] = ident
    for rate in edition.rates:
        ident = _new_id(realm)
        entities["TaxRate"][ident] = {
            **_base(ident, stamp), "Name": rate.name, "Description": rate.name, "Active": True,
            "RateValue": str(rate.percent), "AgencyRef": {"value": keys[f"agency:{rate.agency}"]},
            "SpecialTaxType": rate.special, "DisplayType": "ReadOnly",
            "_account": keys[f"account:{rate.account}"],
        }
        keys[f"rate:{rate.key}"] = ident
    for code in edition.codes:
        ident = code.fixed_id or _new_id(realm)
        rates = [keys[f"rate:{key}"] for key in code.rates]
        entities["TaxCode"][ident] = {
            **_base(ident, stamp), "Name": code.name, "Description": code.description, "Active": True,
            "Hidden": False, "Taxable": bool(rates) or code.fixed_id == "TAX", "TaxGroup": len(rates) > 1,
            "_rates": rates,
        }
        keys[f"code:{code.key}"] = ident
