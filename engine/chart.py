"""Charts of accounts: account numbers and roles mapped to Beancount account names.

Every account carries its number first in its second component
(``Assets:411-Clients``, ``Assets:1200-AccountsReceivable``) so an accountant
can select it with ``account ~ ':411'``. Customer-side accounts (receivable and
customer deposits) get one sub-account per customer, named from the
platform's stable customer ref.

Two charts:

- ``fr-pcg`` (default): the French PCG. A line's ``vat_rate`` is one VAT rate;
  VAT is computed per rate on the rate's total (EN 16931) and booked on 44571
  (or 44574 under the receipts policy); VAT on deposits waits on 44588.
- ``ca-qc``: a QuickBooks Online (Canada, Québec) style chart, CAD. A line's
  ``vat_rate`` names a *tax code* by its total percent, and a code is made of
  *components*, each with its own percent and liability account:
  ``14.975`` = GST 5 (2310) + QST 9.975 (2320), ``5`` = GST only, ``9.975`` =
  QST only, ``0`` = zero-rated or exempt (no component). Each component is
  computed on the pre-tax amount, per line, rounded half away from zero, then
  summed per component — as QuickBooks does — so both sides end on the same
  cents. Tax is payable when invoiced or paid, whichever is first (the
  ``debits`` policy only); a prepayment's tax goes straight to 2310/2320 and
  Customer Deposits holds its pre-tax part (accounting-rules §5.2 case B).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Mapping

_FR_PCG_ACCOUNTS = {
    "411": "Assets:411-Clients",
    "4191": "Liabilities:4191-ClientsAcomptes",
    "44571": "Liabilities:44571-TVACollectee",
    "44574": "Liabilities:44574-TVASurEncaissements",
    "44588": "Liabilities:44588-TVASurAcomptes",
    "512": "Assets:512-Banque",
    "530": "Assets:530-Caisse",
    "5112": "Assets:5112-ChequesAEncaisser",
    "58": "Assets:58-VirementsInternes",
    "706": "Income:706-Prestations",
    "707": "Income:707-VentesMarchandises",
    "708": "Income:708-ProduitsAnnexes",
    "7083": "Income:7083-LocationsDiverses",
    "7085": "Income:7085-PortsFraisAccessoires",
    "7088": "Income:7088-AutresProduitsAnnexes",
    "7581": "Income:7581-DeditsPenalites",
    "758": "Income:758-ProduitsDivers",
    "606": "Expenses:606-AchatsNonStockes",
    "6061": "Expenses:6061-FournituresNonStockables",
    "6063": "Expenses:6063-FournituresEntretien",
    "6064": "Expenses:6064-FournituresAdministratives",
    "6068": "Expenses:6068-AutresMatieresFournitures",
    "613": "Expenses:613-Locations",
    "615": "Expenses:615-EntretienReparations",
    "618": "Expenses:618-DiversDocumentation",
    "623": "Expenses:623-PublicitePublications",
    "625": "Expenses:625-DeplacementsMissions",
    "626": "Expenses:626-FraisPostauxTelecom",
    "627": "Expenses:627-ServicesBancaires",
    "658": "Expenses:658-ChargesDiverses",
}

# Which account plays which part in the posting rules.
_FR_PCG_ROLES = {
    "receivable": "411",
    "customer_deposits": "4191",
    "vat_due": "44571",
    "vat_pending": "44574",
    "vat_on_deposits": "44588",
    "default_income": "706",
    "penalties": "7581",
    "gains": "758",
    "losses": "658",
    "cash": "530",
    "transit": "58",
    "default_expense": "606",
}

METHODS = ("cash", "card", "transfer", "cheque", "online", "voucher")
DEFAULT_METHOD_ACCOUNTS = {
    "cash": "530",
    "card": "512",
    "transfer": "512",
    "cheque": "5112",
    "online": "512",
}
VOUCHER_COMPONENT = "BonsCadeaux"

# ca-qc: QuickBooks-style names, numbered by QuickBooks' usual blocks (1xxx
# assets, 2xxx liabilities, 4xxx income, 5xxx expenses).
_CA_QC_ACCOUNTS = {
    "1000": "Assets:1000-Bank",
    "1050": "Assets:1050-CashOnHand",
    "1060": "Assets:1060-InternalTransfers",
    "1200": "Assets:1200-AccountsReceivable",
    "1300": "Assets:1300-UndepositedFunds",
    "2310": "Liabilities:2310-GSTHSTPayable",
    "2320": "Liabilities:2320-QSTPayable",
    "2400": "Liabilities:2400-CustomerDeposits",
    "4000": "Income:4000-Sales",
    "4100": "Income:4100-ProductSales",
    "4200": "Income:4200-EquipmentRental",
    "4300": "Income:4300-AncillaryFees",
    "4900": "Income:4900-ForfeitedDeposits",
    "4910": "Income:4910-OtherIncome",
    "5100": "Expenses:5100-Supplies",
    "5200": "Expenses:5200-OfficeExpenses",
    "5300": "Expenses:5300-RepairsMaintenance",
    "5400": "Expenses:5400-Advertising",
    "5500": "Expenses:5500-TravelMeals",
    "5600": "Expenses:5600-Telephone",
    "5700": "Expenses:5700-BankCharges",
    "5800": "Expenses:5800-CashOverShort",
    "5810": "Expenses:5810-RoundingDifferences",
}

# The same roles as fr-pcg, less the VAT suspense accounts Québec has no use
# for (no pending tax: payable when invoiced or paid; no deposit suspense: a
# prepayment's tax is payable on receipt and Customer Deposits holds its
# pre-tax part). A drawer over and a drawer short share Cash Over/Short, as
# is usual in North America. ``rounding`` takes the gap between a printed
# net and the lines' net (never a tax account: tax is what the invoice shows).
_CA_QC_ROLES = {
    "receivable": "1200",
    "customer_deposits": "2400",
    "default_income": "4000",
    "penalties": "4900",
    "gains": "5800",
    "losses": "5800",
    "rounding": "5810",
    "cash": "1050",
    "transit": "1060",
    "default_expense": "5100",
}

_CA_QC_METHOD_ACCOUNTS = {
    "cash": "1050",
    "card": "1000",
    "transfer": "1000",
    "cheque": "1300",
    "online": "1000",
}


@dataclass(frozen=True, slots=True)
class TaxComponent:
    """One tax of a tax code: its name, percent of the pre-tax amount and account number."""

    name: str
    percent: Decimal
    account: str

_PLAIN_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,47}$")
_PLAIN_LINK = re.compile(r"^[A-Za-z0-9_./-]{1,64}$")
_NOT_ACCOUNT_CHAR = re.compile(r"[^A-Za-z0-9]+")
_NOT_LINK_CHAR = re.compile(r"[^A-Za-z0-9_./-]+")


@dataclass(frozen=True, slots=True)
class Chart:
    """A chart: PCG number -> account name, role -> number, known VAT rates."""

    name: str
    accounts: Mapping[str, str]
    roles: Mapping[str, str]
    vat_rates: frozenset[Decimal]
    income_numbers: frozenset[str]
    expense_numbers: frozenset[str]
    # Tax code (normalised total percent) -> its components. Empty: one
    # component per rate, booked by the VAT-policy roles (fr-pcg).
    tax_codes: Mapping[Decimal, tuple[TaxComponent, ...]] = field(default_factory=lambda: MappingProxyType({}))
    default_currency: str = "EUR"
    vat_policies: tuple[str, ...] = ("receipts", "debits")
    default_methods: Mapping[str, str] = field(default_factory=lambda: MappingProxyType(dict(DEFAULT_METHOD_ACCOUNTS)))
    voucher_component: str = VOUCHER_COMPONENT
    # False: gift vouchers bear no tax when sold, only when used (Québec).
    vouchers_taxed_at_sale: bool = True
    # The code whose components are deemed included in a forfeited security
    # deposit (Québec, ETA s. 182); None: the fr-pcg treatments apply.
    deemed_tax_code: Decimal | None = None
    number_meta: str = "pcg"  # metadata key of the number on the chart's open directives

    def account(self, number: str) -> str:
        """The Beancount account of a PCG number of this chart."""
        return self.accounts[number]

    def role(self, role: str) -> str:
        """The Beancount account that plays ``role`` in the posting rules."""
        return self.accounts[self.roles[role]]

    def number_of(self, account: str) -> str:
        """The PCG number of a Beancount account of this chart."""
        return account.split(":")[1].split("-")[0]

    def customer_account(self, role: str, component: str) -> str:
        """The per-customer sub-account of a customer-side role."""
        return f"{self.role(role)}:{component}"

    def voucher_account(self) -> str:
        """The customer-deposits sub-account that holds gift vouchers sold, not yet used."""
        return f"{self.role('customer_deposits')}:{self.voucher_component}"

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def multi_component(self) -> bool:
        """Whether tax codes split into components computed per line (ca-qc)."""
        return bool(self.tax_codes)

    def components(self, rate: Decimal) -> tuple[TaxComponent, ...]:
        """The components of a line's tax code (``rate`` as sent)."""
        return self.tax_codes[rate.normalize()]

    @property
    def component_rates(self) -> frozenset[Decimal]:
        """Normalised percents a printed ``totals.vat`` or a deposit's ``vat`` may list."""
        if not self.tax_codes:
            return frozenset(r.normalize() for r in self.vat_rates)
        return frozenset(c.percent.normalize() for code in self.tax_codes.values() for c in code)

    def tax_account(self, percent: Decimal) -> str:
        """The liability account of the component of ``percent`` (ca-qc)."""
        wanted = percent.normalize()
        for code in self.tax_codes.values():
            for c in code:
                if c.percent.normalize() == wanted:
                    return self.accounts[c.account]
        raise KeyError(percent)


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


def customer_component(ref: str) -> str:
    """A Beancount account component for a customer ref, stable and unique.

    A ref made of ASCII letters, digits and dashes is kept as it is; any other
    ref is reduced to those characters and suffixed with a hash of the full
    ref, so two different refs never share an account.
    """
    if _PLAIN_REF.fullmatch(ref):
        return f"C-{ref}"
    slug = _NOT_ACCOUNT_CHAR.sub("-", ref).strip("-")[:32]
    return f"C-{slug}-{_short_hash(ref)}" if slug else f"C-{_short_hash(ref)}"


def link(kind: str, ref: str) -> str:
    """A Beancount link (without ``^``) for a booking or invoice ref."""
    if _PLAIN_LINK.fullmatch(ref):
        return f"{kind}-{ref}"
    slug = _NOT_LINK_CHAR.sub("-", ref).strip("-")[:40]
    return f"{kind}-{slug}-{_short_hash(ref)}" if slug else f"{kind}-{_short_hash(ref)}"


FR_PCG = Chart(
    name="fr-pcg",
    accounts=MappingProxyType(_FR_PCG_ACCOUNTS),
    roles=MappingProxyType(_FR_PCG_ROLES),
    vat_rates=frozenset(Decimal(r) for r in ("0", "2.1", "5.5", "10", "20")),
    income_numbers=frozenset({"706", "707", "708", "7083", "7085", "7088"}),
    expense_numbers=frozenset(n for n in _FR_PCG_ACCOUNTS if n.startswith("6")),
)

_GST = TaxComponent("GST", Decimal("5"), "2310")
_QST = TaxComponent("QST", Decimal("9.975"), "2320")

CA_QC = Chart(
    name="ca-qc",
    accounts=MappingProxyType(_CA_QC_ACCOUNTS),
    roles=MappingProxyType(_CA_QC_ROLES),
    vat_rates=frozenset(Decimal(r) for r in ("0", "5", "9.975", "14.975")),
    income_numbers=frozenset({"4000", "4100", "4200", "4300", "4910"}),
    expense_numbers=frozenset(n for n in _CA_QC_ACCOUNTS if n.startswith("5")),
    tax_codes=MappingProxyType({
        Decimal("14.975"): (_GST, _QST),  # QuickBooks "GST/QST QC"
        Decimal("5"): (_GST,),  # "GST"
        Decimal("9.975"): (_QST,),  # "QST QC"
        Decimal("0"): (),  # "Zero-rated", "Exempt", "Out of scope"
    }),
    default_currency="CAD",
    vat_policies=("debits",),
    default_methods=MappingProxyType(_CA_QC_METHOD_ACCOUNTS),
    voucher_component="GiftCertificates",
    vouchers_taxed_at_sale=False,
    deemed_tax_code=Decimal("14.975"),
    number_meta="number",
)

CHARTS = {FR_PCG.name: FR_PCG, CA_QC.name: CA_QC}


def get_chart(name: str) -> Chart:
    """The chart registered under ``name``."""
    return CHARTS[name]
