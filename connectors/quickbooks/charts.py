"""How a ledger chart maps to QuickBooks: one small table per chart (``ChartMap``).

The table gives: ledger account number ->
QuickBooks account (``AccountSpec``: name, type, sub-type, ``AcctNum``), VAT
rate -> TaxCode name, and which numbers hold customer balances. A Québec
chart adds its own ``ChartMap`` to ``CHART_MAPS``; nothing else here is
French. Numbers the table does not list become accounts named
``<number> <label>`` typed by PCG class (6 -> Expense, 7 -> Income...).

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
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from connectors.errors import PermanentError

__all__ = ["CHART_MAPS", "FR_PCG", "AccountSpec", "ChartMap", "number_of", "remote_account"]

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
        tax_account: where QuickBooks' tax engine posts the VAT of a
            document (a chart with one account per tax makes this per rate).
        tax_codes: VAT rate (percent) -> TaxCode name.
        default_income: the revenue number of a line that names none.
        goods_income: revenue numbers sold as goods (``NonInventory`` items).
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

    @property
    def receivable_numbers(self) -> frozenset[str]:
        """The ledger numbers of the receivable itself (411)."""
        return frozenset(n for n, spec in self.accounts.items() if spec == self.receivable)


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
)

CHART_MAPS: dict[str, ChartMap] = {FR_PCG.name: FR_PCG}

# PCG class -> (AccountType, AccountSubType) of an account the table does not list.
_BY_CLASS = (
    (("60", "61", "62", "63", "64"), "Expense", "OtherBusinessExpenses"),
    (("65", "66", "67", "68", "69"), "Other Expense", "OtherMiscellaneousExpense"),
    (("70", "71", "72", "73", "74"), "Income", "OtherPrimaryIncome"),
    (("75", "76", "77", "78", "79"), "Other Income", "OtherMiscellaneousIncome"),
    (("5",), "Other Current Asset", "OtherCurrentAssets"),
    (("4",), "Other Current Liability", "OtherCurrentLiabilities"),
)


def number_of(account: str) -> str:
    """The PCG number of a Beancount account (``Income:706-Prestations`` -> ``706``)."""
    return account.split(":")[1].split("-")[0]


def _generated(account: str) -> AccountSpec:
    number = number_of(account)
    label = re.sub(r"(?<=[a-zà-ÿ])(?=[A-Z])", " ", account.split(":")[1].partition("-")[2]).strip()
    for prefixes, account_type, sub_type in _BY_CLASS:
        if number.startswith(prefixes):
            return AccountSpec(f"{number} {label}".strip()[:NAME_MAX], account_type, sub_type, number)
    raise PermanentError(f"no QuickBooks account type for ledger account {account}")


def remote_account(chart: ChartMap, account: str) -> tuple[AccountSpec, str | None]:
    """The QuickBooks account of a Beancount account, and its customer
    (ledger component ``C-...``) when it is a customer balance."""
    parts = account.split(":")
    number = number_of(account)
    if number in chart.customer_numbers and len(parts) > 2 and parts[2].startswith("C-"):
        return chart.receivable, parts[2]
    if number in chart.accounts:
        return chart.accounts[number], None
    return _generated(account), None


