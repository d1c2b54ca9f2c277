"""Charts of accounts: PCG numbers and roles mapped to Beancount account names.

Every account carries its PCG number first in its second component
(``Assets:411-Clients``) so an accountant can select it with
``account ~ ':411'``. Customer-side accounts (411, 4191) get one sub-account
per customer, named from the platform's stable customer ref.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
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
        """The 4191 sub-account that holds gift vouchers sold, not yet used."""
        return f"{self.role('customer_deposits')}:{VOUCHER_COMPONENT}"


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

CHARTS = {FR_PCG.name: FR_PCG}


def get_chart(name: str) -> Chart:
    """The chart registered under ``name``."""
    return CHARTS[name]
