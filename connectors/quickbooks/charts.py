"""How a ledger chart maps to QuickBooks: one small table per chart (``ChartMap``).

The table gives: ledger account number ->
QuickBooks account (``AccountSpec``: name, type, sub-type, ``AcctNum``), tax
code (a line's ``vat_rate``) -> TaxCode name and the component rates it is
made of, component rate -> the tax account QuickBooks posts it to, and which
numbers hold customer balances. Numbers the table does not list become
accounts named ``<number> <label>`` typed by the chart's number classes
(PCG: 6 -> Expense, 7 -> Income...; ca-qc: 1 -> asset ... 5 -> Expense).

Decisions for ``fr-pcg`` (the FR edition):

- **VAT**: 44571, 44574 and 44588 all map to QuickBooks' one tax account
  (``TVA collectée``), because that is where QuickBooks' tax engine posts an
  invoice's or credit memo's VAT, and a Payment cannot carry the ledger's
  44574 -> 44571 move (VAT due on receipt). Inside that account the ledger's
  VAT moves between 44571/44574/44588 net to zero, so each remote object
  holds only what QuickBooks can express; the split stays in the ledger
  (and the FEC), the source for the VAT return.
- **Customer balances**: 411 *and* the customers' 4191 sub-accounts map to
  QuickBooks' Accounts Receivable, per customer. A deposit received before
  its invoice is an **unapplied Payment** (a customer credit, QuickBooks'
  own model of a prepayment, shown as a negative A/R); an overpayment
  leaves ``UnappliedAmt`` on its Payment for the same reason. The gift
  vouchers' 4191 sub-account (no customer) maps to the liability
  ``Clients - avances et acomptes reçus``.
- **Money**: 512 -> ``Banque``, 530 -> ``Caisse``, 5112 (cheques to cash)
  -> ``Fonds non déposés`` (Undeposited Funds), 58 -> ``Virements internes``.

Decisions for ``ca-qc`` (the CA-QC edition, accounting-rules §5.3):

- **Taxes**: a line's ``vat_rate`` names a tax code by its total percent:
  14.975 -> ``GST/QST QC`` (components GST 5 and QST 9.975), 5 -> ``GST``,
  9.975 -> ``QST QC``, 0 -> ``Zero-rated``. Each component has its own
  account, as on QuickBooks: 2310 -> ``GST/HST Payable``, 2320 -> ``QST
  Payable`` (both QuickBooks' own). Lines that bear no tax by nature (a
  security deposit applied, a printed-net rounding) carry ``Out of scope``.
- **Customer balances**: 1200 -> ``Accounts Receivable (A/R)`` per customer.
  Customer Deposits (2400) stays a **liability** on QuickBooks too
  (``Customer Deposits``, Other Current Liability): a customer's 2400
  sub-account keeps the customer as the line's ``Entity``; the gift
  certificates' sub-account has none. ``mapping`` says how deposits move
  (a JournalEntry on receipt, a CreditMemo on the deposit item when applied).
- **Money**: 1000 -> ``Chequing``, 1050 -> ``Cash on hand``, 1300 ->
  ``Undeposited Funds``, 1060 -> ``Internal Transfers``; incomes and expenses
  by the names of a new Québec company (``Sales``, ``Bank charges``...),
  the others created with their number as ``AcctNum``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from types import MappingProxyType

from connectors.errors import PermanentError

__all__ = ["CA_QC", "CHART_MAPS", "FR_PCG", "AccountSpec", "ChartMap", "account_spec", "number_of",
           "remote_account"]

NAME_MAX = 100


@dataclass(frozen=True, slots=True)
class AccountSpec:
    """A QuickBooks account that ledger accounts map to.

    Attributes:
        name: its ``Name`` (found by it when ``number`` finds nothing).
        account_type: ``AccountType`` (``Bank``, ``Income``...).
        sub_type: ``AccountSubType``.
        number: ``AcctNum``: found by it first, and set when Partida creates it.
        system: one of QuickBooks' own accounts (A/R, the tax account,
            Undeposited Funds): found, never created.
    """

    name: str
    account_type: str
    sub_type: str
    number: str = ""
    system: bool = False


@dataclass(frozen=True, slots=True)
class ChartMap:
    """How one ledger chart maps to a QuickBooks company.

    Attributes:
        name: the ledger chart (``fr-pcg``).
        accounts: ledger account number -> QuickBooks account.
        receivable: the Accounts Receivable account.
        customer_numbers: numbers whose customer sub-accounts are customer
            balances on ``receivable``.
        tax_numbers: the ledger's VAT accounts (their postings carry
            ``vat-rate`` on documents).
        tax_account: where QuickBooks' tax engine posts the tax of a
            document, for a component ``component_accounts`` does not list.
        tax_codes: tax code (a line's rate, percent) -> TaxCode name.
        goods_income: revenue numbers sold as goods (``NonInventory`` items).
        code_components: tax code -> the component rates it is made of
            (a code it does not list is one component: itself).
        component_accounts: component rate -> its tax account.
        customer_liabilities: numbers whose customer sub-accounts stay on
            their own (liability) account, the customer named on the line.
        deposit_liability: the customer-deposits number when deposits are a
            liability on QuickBooks too (``mapping``: JournalEntry on receipt,
            CreditMemo when applied); None: deposits are customer credits on A/R.
        untaxed_code: TaxCode name of lines that bear no tax by nature.
        classes: number prefixes -> (AccountType, AccountSubType) of accounts
            the table does not list, first match wins.
    """

    name: str
    accounts: Mapping[str, AccountSpec]
    receivable: AccountSpec
    customer_numbers: frozenset[str]
    tax_numbers: frozenset[str]
    tax_account: AccountSpec
    tax_codes: Mapping[Decimal, str]
    default_income: str
    goods_income: frozenset[str] = frozenset()
    code_components: Mapping[Decimal, tuple[Decimal, ...]] = field(default_factory=lambda: MappingProxyType({}))
    component_accounts: Mapping[Decimal, AccountSpec] = field(default_factory=lambda: MappingProxyType({}))
    customer_liabilities: frozenset[str] = frozenset()
    deposit_liability: str | None = None
    untaxed_code: str | None = None
    classes: tuple[tuple[tuple[str, ...], str, str], ...] = ()

    @property
    def receivable_numbers(self) -> frozenset[str]:
        """The ledger numbers of the receivable itself (411)."""
        return frozenset(n for n, spec in self.accounts.items() if spec == self.receivable)

    def components(self, code: Decimal) -> tuple[Decimal, ...]:
        """The component rates of a tax code (fr-pcg: the rate itself)."""
        return self.code_components.get(code, (code,))

    def tax_account_for(self, component: Decimal) -> AccountSpec:
        """The QuickBooks account a tax component is posted to."""
        return self.component_accounts.get(component, self.tax_account)

    def component_of(self, number: str) -> Decimal | None:
        """The one component rate a ledger tax number holds (ca-qc: 2310 -> 5);
        None when it holds several or none (fr-pcg's 44571)."""
        spec = self.accounts.get(number)
        found = [rate for rate, account in self.component_accounts.items() if account == spec]
        return found[0] if len(found) == 1 else None

    def code_of(self, components: frozenset[Decimal]) -> Decimal | None:
        """The tax code made of exactly these components, if the chart has one."""
        return next((code for code in self.tax_codes if frozenset(self.components(code)) == components), None)


_FR_RECEIVABLE = AccountSpec("Clients", "Accounts Receivable", "AccountsReceivable", system=True)
_FR_VAT = AccountSpec("TVA collectée", "Other Current Liability", "GlobalTaxPayable", system=True)

FR_PCG = ChartMap(
    name="fr-pcg",
    accounts=MappingProxyType({
        "411": _FR_RECEIVABLE,
        "4191": AccountSpec("Clients - avances et acomptes reçus", "Other Current Liability",
                            "OtherCurrentLiabilities", "4191"),
        "44571": _FR_VAT,
        "44574": _FR_VAT,
        "44588": _FR_VAT,
        "512": AccountSpec("Banque", "Bank", "Checking", "512"),
        "530": AccountSpec("Caisse", "Bank", "CashOnHand", "530"),
        "5112": AccountSpec("Fonds non déposés", "Other Current Asset", "UndepositedFunds", system=True),
        "58": AccountSpec("Virements internes", "Other Current Asset", "OtherCurrentAssets", "58"),
        "706": AccountSpec("Prestations de services", "Income", "ServiceFeeIncome", "706"),
        "707": AccountSpec("Ventes de marchandises", "Income", "SalesOfProductIncome", "707"),
        "708": AccountSpec("Produits des activités annexes", "Income", "OtherPrimaryIncome", "708"),
        "7581": AccountSpec("Dédits et pénalités perçus", "Other Income", "OtherMiscellaneousIncome", "7581"),
        "758": AccountSpec("Produits divers de gestion courante", "Other Income", "OtherMiscellaneousIncome", "758"),
        "627": AccountSpec("Services bancaires", "Expense", "BankCharges", "627"),
        "658": AccountSpec("Charges diverses de gestion courante", "Other Expense", "OtherMiscellaneousExpense",
                           "658"),
    }),
    receivable=_FR_RECEIVABLE,
    customer_numbers=frozenset({"411", "4191"}),
    tax_numbers=frozenset({"44571", "44574", "44588"}),
    tax_account=_FR_VAT,
    tax_codes=MappingProxyType({Decimal("20"): "TVA 20 %", Decimal("10"): "TVA 10 %", Decimal("5.5"): "TVA 5,5 %",
                                Decimal("2.1"): "TVA 2,1 %", Decimal("0"): "Exonéré"}),
    default_income="706",
    goods_income=frozenset({"707"}),
    classes=(
        (("60", "61", "62", "63", "64"), "Expense", "OtherBusinessExpenses"),
        (("65", "66", "67", "68", "69"), "Other Expense", "OtherMiscellaneousExpense"),
        (("70", "71", "72", "73", "74"), "Income", "OtherPrimaryIncome"),
        (("75", "76", "77", "78", "79"), "Other Income", "OtherMiscellaneousIncome"),
        (("5",), "Other Current Asset", "OtherCurrentAssets"),
        (("4",), "Other Current Liability", "OtherCurrentLiabilities"),
    ),
)

_QC_RECEIVABLE = AccountSpec("Accounts Receivable (A/R)", "Accounts Receivable", "AccountsReceivable", system=True)
_QC_GST = AccountSpec("GST/HST Payable", "Other Current Liability", "GlobalTaxPayable", system=True)
_QC_QST = AccountSpec("QST Payable", "Other Current Liability", "GlobalTaxPayable", system=True)
_GST, _QST = Decimal("5"), Decimal("9.975")

CA_QC = ChartMap(
    name="ca-qc",
    accounts=MappingProxyType({
        "1000": AccountSpec("Chequing", "Bank", "Checking", "1000"),
        "1050": AccountSpec("Cash on hand", "Bank", "CashOnHand", "1050"),
        "1060": AccountSpec("Internal Transfers", "Other Current Asset", "OtherCurrentAssets", "1060"),
        "1200": _QC_RECEIVABLE,
        "1300": AccountSpec("Undeposited Funds", "Other Current Asset", "UndepositedFunds", system=True),
        "2310": _QC_GST,
        "2320": _QC_QST,
        "2400": AccountSpec("Customer Deposits", "Other Current Liability", "OtherCurrentLiabilities", "2400"),
        "4000": AccountSpec("Sales", "Income", "SalesOfProductIncome", "4000"),
        "4100": AccountSpec("Product Sales", "Income", "SalesOfProductIncome", "4100"),
        "4200": AccountSpec("Equipment Rental", "Income", "OtherPrimaryIncome", "4200"),
        "4300": AccountSpec("Ancillary Fees", "Income", "OtherPrimaryIncome", "4300"),
        "4900": AccountSpec("Forfeited Deposits", "Other Income", "OtherMiscellaneousIncome", "4900"),
        "4910": AccountSpec("Other Income", "Other Income", "OtherMiscellaneousIncome", "4910"),
        "5100": AccountSpec("Supplies", "Expense", "SuppliesMaterials", "5100"),
        "5200": AccountSpec("Office Expenses", "Expense", "OfficeGeneralAdministrativeExpenses", "5200"),
        "5300": AccountSpec("Repairs and Maintenance", "Expense", "RepairMaintenance", "5300"),
        "5400": AccountSpec("Advertising", "Expense", "AdvertisingPromotional", "5400"),
        "5500": AccountSpec("Travel and Meals", "Expense", "TravelMeals", "5500"),
        "5600": AccountSpec("Telephone", "Expense", "Utilities", "5600"),
        "5700": AccountSpec("Bank charges", "Expense", "BankCharges", "5700"),
        "5800": AccountSpec("Cash Over and Short", "Expense", "OtherMiscellaneousServiceCost", "5800"),
        "5810": AccountSpec("Rounding Differences", "Expense", "OtherMiscellaneousServiceCost", "5810"),
    }),
    receivable=_QC_RECEIVABLE,
    customer_numbers=frozenset({"1200"}),
    tax_numbers=frozenset({"2310", "2320"}),
    tax_account=_QC_GST,
    tax_codes=MappingProxyType({Decimal("14.975"): "GST/QST QC", _GST: "GST", _QST: "QST QC",
                                Decimal("0"): "Zero-rated"}),
    default_income="4000",
    goods_income=frozenset({"4100"}),
    code_components=MappingProxyType({Decimal("14.975"): (_QST, _GST), _GST: (_GST,), _QST: (_QST,),
                                      Decimal("0"): ()}),
    component_accounts=MappingProxyType({_GST: _QC_GST, _QST: _QC_QST}),
    customer_liabilities=frozenset({"2400"}),
    deposit_liability="2400",
    untaxed_code="Out of scope",
    classes=(
        (("1",), "Other Current Asset", "OtherCurrentAssets"),
        (("2",), "Other Current Liability", "OtherCurrentLiabilities"),
        (("3",), "Equity", "OwnersEquity"),
        (("49",), "Other Income", "OtherMiscellaneousIncome"),
        (("4",), "Income", "OtherPrimaryIncome"),
        (("5", "6", "7", "8", "9"), "Expense", "OtherMiscellaneousServiceCost"),
    ),
)

CHART_MAPS: dict[str, ChartMap] = {FR_PCG.name: FR_PCG, CA_QC.name: CA_QC}


def number_of(account: str) -> str:
    """The PCG number of a Beancount account (``Income:706-Prestations`` -> ``706``)."""
    return account.split(":")[1].split("-")[0]


def _generated(account: str, chart: ChartMap) -> AccountSpec:
    number = number_of(account)
    label = re.sub(r"(?<=[a-zà-ÿ])(?=[A-Z])", " ", account.split(":")[1].partition("-")[2]).strip()
    for prefixes, account_type, sub_type in chart.classes:
        if number.startswith(prefixes):
            return AccountSpec(f"{number} {label}".strip()[:NAME_MAX], account_type, sub_type, number)
    raise PermanentError(f"no QuickBooks account type for ledger account {account}")


def account_spec(chart: ChartMap, account: str) -> AccountSpec:
    """The QuickBooks account of a Beancount account (or of a bare number), customers aside."""
    account = account if ":" in account else f"Unknown:{account}"
    return chart.accounts.get(number_of(account)) or _generated(account, chart)


def remote_account(chart: ChartMap, account: str) -> tuple[AccountSpec, str | None]:
    """The QuickBooks account of a Beancount account, and its customer
    (ledger component ``C-...``) when it is a customer balance, or a
    customer's part of a liability the chart keeps per customer (ca-qc 2400)."""
    parts = account.split(":")
    number = number_of(account)
    customer = parts[2] if len(parts) > 2 and parts[2].startswith("C-") else None
    if number in chart.customer_numbers and customer:
        return chart.receivable, customer
    if number in chart.customer_liabilities and customer:
        return account_spec(chart, account), customer
    return account_spec(chart, account), None


