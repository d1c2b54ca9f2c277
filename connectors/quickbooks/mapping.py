"""One ledger transaction -> QuickBooks Online payloads (pure: no I/O).

The connector resolves QuickBooks Ids (customers, items, accounts, tax codes,
invoices) and passes them in; everything decided here depends on the
transaction, the idempotency key and the chart table, so
``partida sync --dry-run`` can show it.

What each transaction becomes
-----------------------------
- ``invoice.issued`` (first transaction) -> **Invoice**, ``DocNumber`` = the
  invoice number; ``credit_note.issued`` -> **CreditMemo** (DocNumber = its
  number). One line per event line, on an item per product (``Sku`` = its
  ref) or per revenue account, each with the TaxCode of its rate. When the
  credited invoice is still open, the connector applies the credit memo to
  it with a zero Payment (QuickBooks' way to apply a credit).
- ``payment.received`` and ``deposit.received`` -> **Payment**, deposited to
  the method's account (a voucher: the vouchers' liability); a line links
  the invoice for the part the ledger puts on 411, the rest stays unapplied.
- ``step: deposit-applied`` -> the customer's unapplied Payments of the same
  booking get a line linking the invoice (oldest first), so the invoice's
  ``Balance`` drops: QuickBooks applies a credit by editing the payment
  that holds it, so this transaction creates no object of its own. Each
  payment it touches records ``applied:<key>=<amount>`` in its PrivateNote,
  which makes the update safe to repeat.
- ``voucher.sold`` into a bank-type account -> **Deposit**; refunds, forfeits
  and cash movements (and a voucher sold by cheque) -> **JournalEntry**, one
  line per mapped account and customer. A refund is not a RefundReceipt:
  RefundReceipt reverses income, while these refunds pay back a customer
  credit (411 or 4191), so the entry debits A/R for the customer.

Amounts: the document equals the ledger
---------------------------------------
Each line's ``Amount`` is the ledger's net of its (account, rate) shared
over the event's lines; ``UnitPrice`` (7 decimals) x ``Qty`` gives it
exactly, else the line is sent as quantity 1. QuickBooks computes VAT line
by line and the ledger per rate on the total; the documents therefore carry
the ledger's VAT per rate in ``TxnTaxDetail.TaxLine`` (QuickBooks keeps a
supplied amount within 0.01 per line of its own), so ``TotalAmt`` is the
ledger's gross to the cent and no rounding line is ever needed.

Taxes made of components (ca-qc)
--------------------------------
A line's rate is its tax code (14.975 = ``GST/QST QC``); the ledger books
each component on its own account with its own ``vat-rate`` (5 on 2310,
9.975 on 2320). A document's ``vat`` lists the components, and each goes
to QuickBooks as a ``TaxLine`` on its TaxRate, the amount the ledger's.
The engine computes tax per line and per component, as QuickBooks does, so
the amounts agree; a printed tax QuickBooks would not take (more than 0.01
per line off its own) keeps the part it takes on the TaxLine and the rest as
an explicit line on a "tax adjustment" item whose account is that
component's tax account: no cent lost, and each tax account still equals
the ledger's. A printed net off the lines' net (the engine's ``rounding``
posting, 5810) is a line on a "Rounding" item of that account, ``Out of
scope``.

Deposits held as a liability (ca-qc)
------------------------------------
On ``ca-qc`` a deposit is not a customer credit on A/R but Customer Deposits,
a liability, on QuickBooks as in the ledger (accounting-rules §5.2/§5.3):

- ``deposit.received`` -> **JournalEntry**: money account D (bank or
  Undeposited Funds) / Customer Deposits C with the customer as the line's
  ``Entity`` / for a prepayment also GST/HST Payable C and QST Payable C.
  Not an unapplied Payment: that would sit in A/R. Not a bank Deposit: a
  cheque goes to Undeposited Funds, which a Deposit cannot credit.
- ``step: deposit-applied`` -> **CreditMemo** for the invoice's customer,
  ``DocNumber`` = ``doc_ref(key)``, one line on the item "Customer deposit
  applied" (Sku ``partida-deposit-applied``) whose income account is
  Customer Deposits: ``Out of scope`` for a security deposit; for a
  prepayment the tax code of its components (``GST/QST QC``) with the
  ledger's tax as TaxLines, so GST/QST are debited back as in §5.2 case B.
  The connector then applies it to the invoice with a zero Payment (as a
  credit note), so the invoice's ``Balance`` drops to the local open amount.
- a payment that leaves an excess on Customer Deposits -> the **Payment**
  of what the invoice takes, then a **JournalEntry** for the excess
  (money D / Customer Deposits C, key ``<key>/rest``); forfeits and refunds
  are JournalEntries (Customer Deposits lines name the customer).

The account and tax table is ``charts``; the references Partida stores on
QuickBooks objects (keys, notes, markers) are ``references``.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from decimal import Decimal
from typing import Any
from typing import Literal

from connectors.errors import PermanentError
from connectors.quickbooks.charts import FR_PCG
from connectors.quickbooks.charts import AccountSpec
from connectors.quickbooks.charts import account_spec
from connectors.quickbooks.charts import ChartMap
from connectors.quickbooks.charts import number_of
from connectors.quickbooks.charts import remote_account
from connectors.quickbooks.references import NOTE_MAX
from connectors.quickbooks.references import applied_mark
from connectors.quickbooks.references import customer_marker
from connectors.quickbooks.references import doc_number
from connectors.quickbooks.references import doc_ref
from connectors.quickbooks.references import note
from engine.chart import customer_component
from engine.documents import allocate
from engine.journal import LedgerTxn
from engine.money import CENT
from engine.money import ZERO
from engine.money import cents
from engine.money import fmt

__all__ = [
    "ApplicationPlan",
    "CustomerPlan",
    "EntryLine",
    "EntryPlan",
    "ItemPlan",
    "PaymentPlan",
    "Plan",
    "SalesLine",
    "SalesPlan",
    "TaxRef",
    "account_body",
    "application_body",
    "credit_application_body",
    "customer_body",
    "deposit_credit_plan",
    "describe",
    "entry_body",
    "entry_lines",
    "item_body",
    "payment_body",
    "plan",
    "remote_postings",
    "sales_body",
]

Record = dict[str, Any]
NAME_MAX = 100
PAYMENT_REF_MAX = 21
_PRICE = Decimal("0.0000001")  # UnitPrice carries 7 decimals
DOCUMENT_ENTITIES = {"invoice.issued": "Invoice", "credit_note.issued": "CreditMemo"}
PAYMENT_EVENTS = frozenset({"payment.received", "deposit.received"})


# -- plans ------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CustomerPlan:
    """A customer, named by its ledger component; ``ref``, ``name``... when the
    transaction carries them (needed to create it)."""

    component: str
    ref: str | None = None
    name: str | None = None
    kind: str = "individual"
    email: str | None = None


@dataclass(frozen=True, slots=True)
class ItemPlan:
    """An item, found or created by ``sku``; its income account is ``account``."""

    sku: str
    name: str
    account: AccountSpec
    kind: Literal["Service", "NonInventory"]


@dataclass(frozen=True, slots=True)
class SalesLine:
    """``rate`` is the line's tax code (``charts``); None: the chart's untaxed code."""

    description: str
    item: ItemPlan
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    rate: Decimal | None


@dataclass(frozen=True, slots=True)
class SalesPlan:
    """An Invoice or a CreditMemo; ``vat`` is the ledger's tax per component rate."""

    entity: Literal["Invoice", "CreditMemo"]
    key: str
    number: str
    credited: str | None
    customer: CustomerPlan
    date: datetime.date
    due_date: datetime.date | None
    memo: str
    lines: tuple[SalesLine, ...]
    vat: tuple[tuple[Decimal, Decimal], ...]

    @property
    def net(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)

    @property
    def tax(self) -> Decimal:
        return sum((amount for _, amount in self.vat), ZERO)

    @property
    def total(self) -> Decimal:
        return self.net + self.tax

    @property
    def items(self) -> tuple[ItemPlan, ...]:
        return tuple({line.item.sku: line.item for line in self.lines}.values())


@dataclass(frozen=True, slots=True)
class PaymentPlan:
    """A Payment of ``total`` into ``deposit_to``, ``applied`` of it to ``invoice``."""

    key: str
    date: datetime.date
    customer: CustomerPlan
    total: Decimal
    deposit_to: AccountSpec
    invoice: str | None
    applied: Decimal
    reference: str | None
    holder: str
    memo: str
    rest: EntryPlan | None = None  # ca-qc: the excess put on Customer Deposits, its own JournalEntry


@dataclass(frozen=True, slots=True)
class ApplicationPlan:
    """Apply ``amount`` of the holder's unapplied payments to ``invoice``."""

    key: str
    date: datetime.date
    customer: CustomerPlan
    invoice: str
    amount: Decimal
    holder: str


@dataclass(frozen=True, slots=True)
class EntryLine:
    """One line: ``amount`` signed, a debit when positive; ``customer`` for A/R."""

    account: AccountSpec
    amount: Decimal
    customer: str | None = None


@dataclass(frozen=True, slots=True)
class EntryPlan:
    """A JournalEntry, or a Deposit into ``lines[0]`` (its only debit)."""

    entity: Literal["JournalEntry", "Deposit"]
    key: str
    date: datetime.date
    memo: str
    lines: tuple[EntryLine, ...]
    customers: tuple[CustomerPlan, ...] = ()

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines if line.amount > 0), ZERO)


Plan = SalesPlan | PaymentPlan | ApplicationPlan | EntryPlan


@dataclass(frozen=True, slots=True)
class TaxRef:
    """A TaxCode and its TaxRates: ``rates`` (component percent, rate Id);
    empty: one rate, ``rate_id``, at the code's own percent."""

    code_id: str
    rate_id: str
    rates: tuple[tuple[Decimal, str], ...] = ()

    def rate_ids(self, code: Decimal | None) -> dict[Decimal, str]:
        """Component percent -> TaxRate Id for lines of tax code ``code``."""
        if self.rates:
            return dict(self.rates)
        return {code: self.rate_id} if code is not None else {}


# -- dispatch ---------------------------------------------------------------------------------------

def plan(txn: LedgerTxn, key: str, chart: ChartMap = FR_PCG) -> Plan | None:
    """What ``txn`` becomes on QuickBooks; None when it has nothing to send.

    Raises:
        PermanentError: when the transaction cannot be expressed.
    """
    step = txn.get("step")
    held = chart.deposit_liability is not None  # ca-qc: deposits are a liability, not A/R credits
    if step == "deposit-applied":
        return deposit_credit_plan(txn, key, chart) if held else application_plan(txn, key, chart)
    if step is None and txn.event_type in DOCUMENT_ENTITIES and txn.get("source-event"):
        return sales_plan(txn, key, chart)
    if step is None and txn.event_type == "deposit.received" and held:
        return entry_plan(txn, key, chart)
    if step is None and txn.event_type in PAYMENT_EVENTS:
        return payment_plan(txn, key, chart)
    return entry_plan(txn, key, chart)


def _memo(txn: LedgerTxn) -> str:
    return f"{txn.narration} — {txn.payee}" if txn.payee else txn.narration


def entry_lines(txn: LedgerTxn, chart: ChartMap) -> tuple[EntryLine, ...]:
    """The transaction's postings summed per QuickBooks account and customer,
    zeros dropped, debits first (moves inside one remote account vanish)."""
    sums: dict[tuple[AccountSpec, str | None], Decimal] = {}
    for posting in txn.postings:
        target = remote_account(chart, posting.account)
        sums[target] = sums.get(target, ZERO) + posting.amount
    lines = [EntryLine(spec, amount, customer) for (spec, customer), amount in sums.items() if amount]
    return tuple(sorted(lines, key=lambda line: line.amount < 0))


def entry_plan(txn: LedgerTxn, key: str, chart: ChartMap) -> EntryPlan | None:
    """A Deposit for a voucher sold into a bank-type account, else a JournalEntry."""
    lines = entry_lines(txn, chart)
    if not lines:
        return None
    debits = [line for line in lines if line.amount > 0]
    depositable = (txn.event_type == "voucher.sold" and len(debits) == 1 and debits[0].account.account_type == "Bank"
                   and all(line.customer is None for line in lines))
    customers = tuple(_customer(txn, c) for c in dict.fromkeys(line.customer for line in lines if line.customer))
    return EntryPlan("Deposit" if depositable else "JournalEntry", key, txn.date, _memo(txn), lines, customers)


def _holder(txn: LedgerTxn) -> str:
    booking = txn.get("booking")
    return f"b:{booking}" if booking else f"i:{txn.get('invoice')}"


def _customer(txn: LedgerTxn, component: str) -> CustomerPlan:
    """The customer of ``component``, with what the transaction tells of it."""
    ref = txn.get("customer")
    if ref is not None and customer_component(ref) != component:
        raise PermanentError(f"seq {txn.seq}: customer {ref!r} does not own the ledger account {component!r}")
    event = json.loads(txn.get("source-event") or "{}")
    details = event.get("customer") if isinstance(event.get("customer"), dict) else None
    if details:
        return CustomerPlan(component, ref or details.get("ref"), details.get("name"),
                            details.get("kind", "individual"), details.get("email"))
    if ref is None and customer_component(component[2:]) == component:
        ref = component[2:]  # a plain ref is its own component, less the "C-"
    return CustomerPlan(component, ref, txn.payee)


def _one_customer(txn: LedgerTxn, lines: Sequence[EntryLine]) -> str:
    customers = {line.customer for line in lines if line.customer}
    if len(customers) != 1:
        raise PermanentError(f"seq {txn.seq}: expected the postings of one customer, found {sorted(customers)}")
    return customers.pop()


def payment_plan(txn: LedgerTxn, key: str, chart: ChartMap) -> PaymentPlan | EntryPlan:
    """A payment or a deposit: money in, the customer's A/R credited.

    Raises:
        PermanentError: when the postings are not money in against one customer.
    """
    lines = entry_lines(txn, chart)
    kept = [line for line in lines if line.customer and line.account != chart.receivable]
    if kept:
        return _split_payment(txn, key, chart, lines, kept)
    money = [line for line in lines if line.customer is None]
    if len(money) != 1 or money[0].amount <= 0 or len(lines) != 2:
        raise PermanentError(f"seq {txn.seq}: a payment must move money against one customer's balance")
    component = _one_customer(txn, lines)
    # What the ledger puts on 411 is applied to the invoice; a 4191 rest stays unapplied.
    applied = -sum((p.amount for p in txn.postings if number_of(p.account) in chart.receivable_numbers), ZERO)
    reference = txn.get("reference")
    return PaymentPlan(key, txn.date, _customer(txn, component), money[0].amount, money[0].account,
                       txn.get("invoice") if applied > 0 else None, max(applied, ZERO),
                       reference[:PAYMENT_REF_MAX] if reference else None, _holder(txn), _memo(txn))


def _split_payment(txn: LedgerTxn, key: str, chart: ChartMap, lines: tuple[EntryLine, ...],
                   kept: list[EntryLine]) -> PaymentPlan | EntryPlan:
    """ca-qc: a payment whose excess the ledger keeps on Customer Deposits.

    The Payment takes what goes to A/R; the excess is a JournalEntry from the
    same money account to Customer Deposits (a Payment's unapplied amount
    would sit in A/R). All excess: the JournalEntry alone.
    """
    money = [line for line in lines if line.customer is None]
    own = [line for line in lines if line.account == chart.receivable]
    if len(money) != 1 or money[0].amount <= 0 or len(own) > 1 or len(lines) != len(kept) + len(own) + 1:
        raise PermanentError(f"seq {txn.seq}: a payment must move money against one customer's balance")
    excess = -sum((line.amount for line in kept), ZERO)
    rest = EntryPlan("JournalEntry", f"{key}/rest", txn.date, _memo(txn),
                     (EntryLine(money[0].account, excess), *kept),
                     tuple(_customer(txn, c) for c in dict.fromkeys(line.customer for line in kept if line.customer)))
    if not own:
        return EntryPlan("JournalEntry", key, txn.date, _memo(txn), (money[0], *kept), rest.customers)
    applied = -own[0].amount
    if applied <= 0 or money[0].amount != applied + excess:
        raise PermanentError(f"seq {txn.seq}: a payment must move money against one customer's balance")
    reference = txn.get("reference")
    return PaymentPlan(key, txn.date, _customer(txn, _one_customer(txn, own)), applied, money[0].account,
                       txn.get("invoice"), applied, reference[:PAYMENT_REF_MAX] if reference else None, _holder(txn),
                       _memo(txn), rest)


def application_plan(txn: LedgerTxn, key: str, chart: ChartMap) -> ApplicationPlan:
    """A deposit application: the 411 credit it settles, for one customer.

    Raises:
        PermanentError: when the deposit belongs to another customer than the
            invoice (QuickBooks applies a payment to its own customer's invoices).
    """
    if entry_lines(txn, chart):
        raise PermanentError(f"seq {txn.seq}: the deposits applied belong to another customer than invoice "
                             f"{txn.get('invoice')}; QuickBooks cannot apply them")
    receivable = [p for p in txn.postings if number_of(p.account) in chart.receivable_numbers]
    component = remote_account(chart, receivable[0].account)[1] if receivable else None
    if component is None or not txn.get("invoice"):
        raise PermanentError(f"seq {txn.seq}: a deposit application needs an invoice and its customer")
    amount = -sum((p.amount for p in receivable), ZERO)
    return ApplicationPlan(key, txn.date, _customer(txn, component), txn.get("invoice") or "", amount, _holder(txn))


# -- documents -----------------------------------------------------------------------------------------

def sales_plan(txn: LedgerTxn, key: str, chart: ChartMap) -> SalesPlan:
    """The Invoice or CreditMemo of the first transaction of its event.

    Raises:
        PermanentError: when the lines do not match what the ledger booked.
    """
    entity: Literal["Invoice", "CreditMemo"] = "Invoice" if txn.event_type == "invoice.issued" else "CreditMemo"
    event = json.loads(txn.get("source-event") or "{}")
    receivables = [p for p in txn.postings if number_of(p.account) in chart.receivable_numbers]
    component = remote_account(chart, receivables[0].account)[1] if len(receivables) == 1 else None
    if component is None:
        raise PermanentError(f"seq {txn.seq}: a document needs exactly one customer 411 posting")
    sign = Decimal(1) if entity == "Invoice" else Decimal(-1)
    nets, vat, rounding = _booked(txn, sign, chart)
    lines = _lines(event.get("lines") or [], nets, chart)
    for number, amount in rounding.items():
        item = ItemPlan(f"partida-rounding-{number}", "Rounding", account_spec(chart, number), "Service")
        lines += (SalesLine("Rounding (printed net)", item, Decimal(1), amount, amount, _untaxed(txn, chart)),)
    lines, taxes = _taxes(txn, lines, vat, chart)
    due = txn.get("due-date")
    return SalesPlan(
        entity=entity, key=key, number=event.get("number") or "",
        credited=event.get("invoice") if entity == "CreditMemo" else None,
        customer=_customer(txn, component), date=txn.date,
        due_date=datetime.date.fromisoformat(due) if due else None, memo=_memo(txn), lines=lines, vat=taxes,
    )


def _untaxed(txn: LedgerTxn, chart: ChartMap) -> None:
    """The rate of a line that bears no tax by nature: None, the chart's untaxed code."""
    if chart.untaxed_code is None:
        raise PermanentError(f"seq {txn.seq}: chart {chart.name} has no QuickBooks code for an untaxed line")


def _taxes(txn: LedgerTxn, lines: tuple[SalesLine, ...], vat: Mapping[Decimal, Decimal],
           chart: ChartMap) -> tuple[tuple[SalesLine, ...], tuple[tuple[Decimal, Decimal], ...]]:
    """The document's tax per component of its lines' codes, largest rate first.

    A component QuickBooks would not take (more than 0.01 per line off its
    own per-line computation) keeps what it takes; the rest becomes a line
    on the component's tax account (``chart.untaxed_code``), so it is booked
    where the ledger has it, never lost.
    """
    components = sorted({c for line in lines if line.rate is not None for c in chart.components(line.rate)},
                        reverse=True)
    stray = sorted(f"{rate:f} %" for rate, amount in vat.items() if amount and rate not in components)
    if stray:
        raise PermanentError(f"seq {txn.seq}: tax booked at {', '.join(stray)} that no line of the document bears")
    taxes, extra = [], []
    for component in components:
        taxed = [line.amount for line in lines if line.rate is not None and component in chart.components(line.rate)]
        computed = sum((cents(amount * component / 100) for amount in taxed), ZERO)
        booked, tolerance = vat.get(component, ZERO), CENT * len(taxed)
        gap = booked - computed
        if abs(gap) > tolerance and chart.untaxed_code is not None:
            rest = gap - tolerance if gap > 0 else gap + tolerance
            item = ItemPlan(f"partida-tax-{component:f}", f"Tax adjustment {component:f} %",
                            chart.tax_account_for(component), "Service")
            extra.append(SalesLine(f"Tax adjustment {component:f} % (printed tax)", item, Decimal(1), rest, rest,
                                   None))
            booked -= rest
        taxes.append((component, booked))
    return lines + tuple(extra), tuple(taxes)


def _booked(txn: LedgerTxn, sign: Decimal, chart: ChartMap) -> tuple[dict[tuple[str, Decimal], Decimal],
                                                                        dict[Decimal, Decimal], dict[str, Decimal]]:
    """Nets per (revenue number, rate), tax per component rate and the
    printed-net rounding per number, as magnitudes."""
    nets: dict[tuple[str, Decimal], Decimal] = {}
    vat: dict[Decimal, Decimal] = {}
    rounding: dict[str, Decimal] = {}
    unrated = ZERO  # a credit note books its VAT total only (split over 44574 and 44571)
    for posting in txn.postings:
        number, amount, rate = number_of(posting.account), -posting.amount * sign, posting.get("vat-rate")
        if number in chart.receivable_numbers:
            continue
        if number in chart.tax_numbers:
            component = Decimal(rate) if rate is not None else chart.component_of(number)
            if component is None:
                unrated += amount
            else:
                vat[component] = vat.get(component, ZERO) + amount
        elif posting.get("rounding") is not None:
            rounding[number] = rounding.get(number, ZERO) + amount
        elif rate is None:
            raise PermanentError(f"seq {txn.seq}: revenue posting on {number} has no vat-rate")
        else:
            nets[(number, Decimal(rate))] = nets.get((number, Decimal(rate)), ZERO) + amount
    return nets, _split_vat(nets, vat, unrated), {n: a for n, a in rounding.items() if a}


def deposit_credit_plan(txn: LedgerTxn, key: str, chart: ChartMap) -> SalesPlan:
    """ca-qc: a deposit applied to its invoice -> a CreditMemo on the deposit item.

    The line's amount is what leaves Customer Deposits (a prepayment's
    pre-tax part); a prepayment's tax goes as TaxLines under the code made
    of its components, a security deposit's line is untaxed.

    Raises:
        PermanentError: when the postings are not Customer Deposits (and
            tax) against one customer's receivable for an invoice.
    """
    receivable = [p for p in txn.postings if number_of(p.account) in chart.receivable_numbers]
    component = remote_account(chart, receivable[0].account)[1] if len(receivable) == 1 else None
    invoice = txn.get("invoice")
    if component is None or not invoice:
        raise PermanentError(f"seq {txn.seq}: a deposit application needs an invoice and its customer")
    held, taxes = ZERO, {}
    for posting in txn.postings:
        number = number_of(posting.account)
        if number == chart.deposit_liability:
            held += posting.amount
        elif number in chart.tax_numbers:
            rate = posting.get("vat-rate")
            percent = Decimal(rate) if rate is not None else chart.component_of(number)
            if percent is None:
                raise PermanentError(f"seq {txn.seq}: tax posting on {number} names no component rate")
            taxes[percent] = taxes.get(percent, ZERO) + posting.amount
        elif number not in chart.receivable_numbers:
            raise PermanentError(f"seq {txn.seq}: a deposit application does not post to {number}")
    taxes = {percent: amount for percent, amount in taxes.items() if amount}
    code = chart.code_of(frozenset(taxes)) if taxes else _untaxed(txn, chart)
    if taxes and code is None:
        raise PermanentError(f"seq {txn.seq}: no tax code of chart {chart.name} is made of "
                             f"{', '.join(f'{r:f} %' for r in sorted(taxes))}")
    item = ItemPlan("partida-deposit-applied", "Customer deposit applied",
                    account_spec(chart, str(chart.deposit_liability)), "Service")
    what = f"booking {txn.get('booking')}" if txn.get("booking") else f"invoice {invoice}"
    line = SalesLine(f"Customer deposit applied ({what})", item, Decimal(1), held, held, code)
    lines, vat = _taxes(txn, (line,), taxes, chart)
    return SalesPlan(entity="CreditMemo", key=key, number=doc_ref(key), credited=invoice,
                     customer=_customer(txn, component), date=txn.date, due_date=None, memo=_memo(txn),
                     lines=lines, vat=vat)


def _split_vat(nets: Mapping[tuple[str, Decimal], Decimal], vat: dict[Decimal, Decimal],
               unrated: Decimal) -> dict[Decimal, Decimal]:
    """Share VAT booked without a rate over the rates (each on its net, the rest on the largest)."""
    if not unrated:
        return vat
    per_rate: dict[Decimal, Decimal] = {}
    for (_, rate), net in nets.items():
        per_rate[rate] = per_rate.get(rate, ZERO) + net
    shares = {rate: cents(net * rate / 100) for rate, net in per_rate.items()}
    largest = max(shares, key=lambda rate: shares[rate])
    shares[largest] += unrated - sum(shares.values(), ZERO)
    return {rate: vat.get(rate, ZERO) + shares.get(rate, ZERO) for rate in set(vat) | set(shares)}


def _lines(raw: list[dict[str, Any]], nets: Mapping[tuple[str, Decimal], Decimal],
           chart: ChartMap) -> tuple[SalesLine, ...]:
    """The event's lines, each carrying its share of the booked net of its (account, rate)."""
    groups = [(line.get("account") or chart.default_income, Decimal(line["vat_rate"])) for line in raw]
    if set(groups) != set(nets):
        raise PermanentError("the document's lines do not match the revenue the ledger booked")
    amounts = [ZERO] * len(raw)
    for group, booked in nets.items():
        members = [i for i, g in enumerate(groups) if g == group]
        weights = [cents(Decimal(raw[i]["quantity"]) * Decimal(raw[i]["unit_price"])) for i in members]
        for i, amount in zip(members, allocate(booked, weights), strict=True):
            amounts[i] = amount
    return tuple(_line(line, group, amount, chart) for line, group, amount in zip(raw, groups, amounts, strict=True))


def _line(raw: dict[str, Any], group: tuple[str, Decimal], amount: Decimal, chart: ChartMap) -> SalesLine:
    number, rate = group
    account = account_spec(chart, number)
    kind: Literal["Service", "NonInventory"] = "NonInventory" if number in chart.goods_income else "Service"
    product = raw.get("product")
    if product:
        item = ItemPlan(str(product["ref"]), str(product.get("name") or product["ref"]), account, kind)
    else:
        item = ItemPlan(f"partida-{number}", account.name, account, kind)
    quantity, price = _quantity_and_price(amount, Decimal(raw["quantity"]))
    return SalesLine(str(raw.get("label") or item.name), item, quantity, price, amount, rate)


def _quantity_and_price(amount: Decimal, quantity: Decimal) -> tuple[Decimal, Decimal]:
    """A unit price (7 decimals) that gives exactly ``amount`` for ``quantity``;
    quantity 1 when none does (QuickBooks checks Amount = Qty x UnitPrice)."""
    if quantity > 0:
        price = (amount / quantity).quantize(_PRICE, rounding=ROUND_HALF_UP)
        if cents(price * quantity) == amount:
            return quantity, _plain(price)
    return Decimal(1), amount


def _plain(value: Decimal) -> Decimal:
    """``32.0000000`` -> ``32``, ``12.5000000`` -> ``12.5`` (never an exponent)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


# -- what QuickBooks will post ------------------------------------------------------------------------------

def remote_postings(target: Plan, chart: ChartMap = FR_PCG) -> tuple[EntryLine, ...]:
    """The general-ledger lines QuickBooks posts for a plan, summed like
    ``entry_lines``: they equal the transaction's own (the tests check it
    transaction by transaction, so the trial balances agree by construction)."""
    raw: list[EntryLine] = []
    if isinstance(target, SalesPlan):
        sign = Decimal(1) if target.entity == "Invoice" else Decimal(-1)
        raw.append(EntryLine(chart.receivable, sign * target.total, target.customer.component))
        raw += [EntryLine(line.item.account, -sign * line.amount) for line in target.lines]
        raw += [EntryLine(chart.tax_account_for(rate), -sign * amount) for rate, amount in target.vat]
    elif isinstance(target, PaymentPlan):
        raw += [EntryLine(target.deposit_to, target.total),
                EntryLine(chart.receivable, -target.total, target.customer.component)]
        raw += target.rest.lines if target.rest is not None else ()
    elif isinstance(target, EntryPlan):
        raw += target.lines
    sums: dict[tuple[AccountSpec, str | None], Decimal] = {}
    for line in raw:
        sums[(line.account, line.customer)] = sums.get((line.account, line.customer), ZERO) + line.amount
    lines = [EntryLine(spec, amount, customer) for (spec, customer), amount in sums.items() if amount]
    return tuple(sorted(lines, key=lambda line: line.amount < 0))


# -- request bodies ---------------------------------------------------------------------------------------

def _ref(ident: str) -> Record:
    return {"value": ident}


def customer_body(customer: CustomerPlan, name: str) -> Record:
    """``POST /customer``: ``Notes`` holds the ledger ref Partida finds it by."""
    assert customer.ref is not None, "a customer is created under its ledger ref"
    body: Record = {"DisplayName": name, "Notes": customer_marker(customer.ref)}
    full = (customer.name or customer.ref).strip()
    given, _, family = full.partition(" ")
    if customer.kind == "company":
        body["CompanyName"] = full[:NAME_MAX]
    elif family:
        body.update(GivenName=given[:NAME_MAX], FamilyName=family[:NAME_MAX])
    if customer.email:
        body["PrimaryEmailAddr"] = {"Address": customer.email}
    return body


def item_body(item: ItemPlan, name: str, account_id: str) -> Record:
    """``POST /item``: a sale item on its income account (no default tax code:
    each line carries its own)."""
    return {"Name": name, "Sku": item.sku, "Type": item.kind, "IncomeAccountRef": _ref(account_id)}


def account_body(spec: AccountSpec) -> Record:
    """``POST /account``."""
    body: Record = {"Name": spec.name, "AccountType": spec.account_type, "AccountSubType": spec.sub_type}
    if spec.number:
        body["AcctNum"] = spec.number
    return body


def sales_body(doc: SalesPlan, customer_id: str, item_ids: Mapping[str, str],
               tax: Mapping[Decimal | None, TaxRef]) -> Record:
    """``POST /invoice`` or ``/creditmemo``, carrying the ledger's tax per component rate."""
    lines = [{
        "Description": line.description[:4000], "Amount": line.amount, "DetailType": "SalesItemLineDetail",
        "SalesItemLineDetail": {"ItemRef": _ref(item_ids[line.item.sku]), "Qty": line.quantity,
                                "UnitPrice": line.unit_price, "TaxCodeRef": _ref(tax[line.rate].code_id)},
    } for line in doc.lines]
    rates_of = [tax[line.rate].rate_ids(line.rate) for line in doc.lines]
    tax_lines = []
    for rate, amount in doc.vat:
        rate_id = next((ids[rate] for ids in rates_of if rate in ids), None)
        if rate_id is None:
            raise PermanentError(f"{doc.entity} {doc.number}: no QuickBooks tax rate of {rate:f} % in the lines' codes")
        net = sum((line.amount for line, ids in zip(doc.lines, rates_of, strict=True) if rate in ids), ZERO)
        tax_lines.append({"Amount": amount, "DetailType": "TaxLineDetail",
                          "TaxLineDetail": {"TaxRateRef": _ref(rate_id), "PercentBased": True, "TaxPercent": rate,
                                            "NetAmountTaxable": net}})
    body: Record = {
        "DocNumber": doc_number(doc.number), "TxnDate": doc.date.isoformat(), "CustomerRef": _ref(customer_id),
        "GlobalTaxCalculation": "TaxExcluded", "Line": lines,
        "TxnTaxDetail": {"TotalTax": doc.tax, "TaxLine": tax_lines}, "PrivateNote": note(doc.key, doc.memo),
    }
    if doc.entity == "Invoice":
        body["DueDate"] = (doc.due_date or doc.date).isoformat()
    return body


def payment_body(payment: PaymentPlan, customer_id: str, account_id: str, invoice_id: str | None) -> Record:
    """``POST /payment``: what is not applied to the invoice stays ``UnappliedAmt``."""
    body: Record = {
        "TxnDate": payment.date.isoformat(), "CustomerRef": _ref(customer_id), "TotalAmt": payment.total,
        "DepositToAccountRef": _ref(account_id), "PrivateNote": note(payment.key, payment.memo, payment.holder),
        "Line": [{"Amount": payment.applied, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}]
        if invoice_id and payment.applied else [],
    }
    if payment.reference:
        body["PaymentRefNum"] = payment.reference
    return body


def _money(value: Any) -> Decimal:
    return cents(Decimal(str(value)))


def application_body(payment: Record, invoice_id: str, amount: Decimal, key: str) -> Record:
    """Sparse update of a payment: ``amount`` more applied to the invoice, and
    the application recorded in its PrivateNote (lines go all or none)."""
    lines: list[Record] = []
    merged = False
    for line in payment.get("Line") or []:
        linked = line["LinkedTxn"][0]
        value = _money(line["Amount"])
        if (linked["TxnType"], str(linked["TxnId"])) == ("Invoice", invoice_id):
            value, merged = value + amount, True
        lines.append({"Amount": value, "LinkedTxn": [{"TxnId": str(linked["TxnId"]), "TxnType": linked["TxnType"]}]})
    if not merged:
        lines.append({"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]})
    text = f"{payment.get('PrivateNote') or ''}\n{applied_mark(key, amount)}"
    return {"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": True,
            "CustomerRef": _ref(payment["CustomerRef"]["value"]), "TotalAmt": _money(payment["TotalAmt"]),
            "Line": lines, "PrivateNote": text[-NOTE_MAX:]}


def credit_application_body(doc: SalesPlan, customer_id: str, invoice_id: str, credit_id: str,
                            amount: Decimal) -> Record:
    """A zero Payment applying a credit memo to its open invoice."""
    return {"TxnDate": doc.date.isoformat(), "CustomerRef": _ref(customer_id), "TotalAmt": ZERO,
            "PrivateNote": note(f"{doc.key}/apply", f"Imputation de l'avoir {doc.number}"),
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]},
                     {"Amount": amount, "LinkedTxn": [{"TxnId": credit_id, "TxnType": "CreditMemo"}]}]}


def entry_body(entry: EntryPlan, account_ids: Mapping[AccountSpec, str], customer_ids: Mapping[str, str]) -> Record:
    """``POST /journalentry`` or ``/deposit``."""
    if entry.entity == "Deposit":
        return {"TxnDate": entry.date.isoformat(), "DepositToAccountRef": _ref(account_ids[entry.lines[0].account]),
                "PrivateNote": note(entry.key, entry.memo),
                "Line": [{"Amount": -line.amount, "DetailType": "DepositLineDetail",
                          "DepositLineDetail": {"AccountRef": _ref(account_ids[line.account])}}
                         for line in entry.lines[1:]]}
    lines = []
    for line in entry.lines:
        detail: Record = {"PostingType": "Debit" if line.amount > 0 else "Credit",
                          "AccountRef": _ref(account_ids[line.account])}
        if line.customer:
            detail["Entity"] = {"Type": "Customer", "EntityRef": _ref(customer_ids[line.customer])}
        lines.append({"Description": entry.memo[:4000], "Amount": abs(line.amount),
                      "DetailType": "JournalEntryLineDetail", "JournalEntryLineDetail": detail})
    return {"DocNumber": doc_ref(entry.key), "TxnDate": entry.date.isoformat(),
            "PrivateNote": note(entry.key, entry.memo), "Line": lines}


# -- dry run ------------------------------------------------------------------------------------------------

def _lines_text(lines: Sequence[EntryLine]) -> str:
    return " / ".join(f"{line.account.name}{f' ({line.customer})' if line.customer else ''} "
                      f"{'D' if line.amount > 0 else 'C'} {fmt(abs(line.amount))}" for line in lines)


def describe(txn: LedgerTxn, key: str, chart: ChartMap = FR_PCG) -> list[str]:
    """The requests pushing ``txn`` would make, one line each (no I/O).

    Records the connector may already know (customers, items, accounts) are
    listed as "find or create".
    """
    target = plan(txn, key, chart)
    if target is None:
        return ["nothing to send (no posting left once mapped to QuickBooks accounts)"]
    if isinstance(target, SalesPlan):
        return _describe_sales(target)
    if isinstance(target, PaymentPlan):
        applied = f", {fmt(target.applied)} applied to invoice {target.invoice}" if target.invoice else ""
        rest = [f"POST /journalentry {target.date}: {_lines_text(target.rest.lines)}"] if target.rest else []
        return [f"find or create customer {target.customer.ref or target.customer.component}",
                f"POST /payment {target.date}: {fmt(target.total)} into {target.deposit_to.name}{applied}, "
                f"{fmt(target.total - target.applied)} unapplied", *rest]
    if isinstance(target, ApplicationPlan):
        return [f"GET /query payments of customer {target.customer.ref or target.customer.component}",
                f"POST /payment (sparse update): apply {fmt(target.amount)} of {target.holder}'s unapplied "
                f"payments to invoice {target.invoice}"]
    return [f"find or create accounts {', '.join(sorted({line.account.name for line in target.lines}))}",
            f"POST /{target.entity.lower()} {target.date}: {_lines_text(target.lines)}"]


def _describe_sales(doc: SalesPlan) -> list[str]:
    codes = ", ".join(f"{rate:f} %" for rate, _ in doc.vat) or "none"
    out = [f"find or create customer {doc.customer.ref or doc.customer.component}"]
    out += [f"find or create item {item.sku} ({item.name}, {item.account.name})" for item in doc.items]
    out.append(f"POST /{doc.entity.lower()} {doc.number} {doc.date}: {len(doc.lines)} line(s), {fmt(doc.net)} + "
               f"VAT {fmt(doc.tax)} = {fmt(doc.total)} (VAT {codes}, the ledger's amounts per rate)")
    if doc.credited:
        out.append(f"if invoice {doc.credited} is open: POST /payment of 0 applying this credit memo to it")
    return out
