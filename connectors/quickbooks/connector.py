"""The QuickBooks Online connector: make one company hold one ledger transaction, exactly once.

``push`` maps the transaction (``mapping``, pure), resolves the QuickBooks
records it refers to, and writes (``client``, the only I/O). What each
transaction becomes, and why, is in ``mapping``'s docstring.

Exactly once
------------
Every write carries ``requestid`` = ``references.request_id(key, part)``,
derived from the key the replay loop persisted before the first attempt, so
QuickBooks answers a repeated write with its first answer. QuickBooks'
requestid is not a promise (reference §3.5), so an ``uncertain`` push
(an earlier attempt may have landed) looks the object up before anything
is sent: invoices and credit memos by ``DocNumber``, journal entries by
their ``DocNumber`` (``doc_ref(key)``), payments by customer and date then
the key in ``PrivateNote``, deposits by date then the key. A document found
with another customer or total raises ``ConflictError``. A refused
duplicate (6140, duplicate number) is looked up the same way. Deposit
applications record themselves in the payments they change, and credit
applications are computed from the open amounts, so both are safe to
repeat. Customers, items and accounts are unique by name on QuickBooks:
a create refused as a duplicate name (6240) adopts the existing record when
it is Partida's (same ``Notes`` marker, ``Sku`` or account name).

Batches (30 items at most)
--------------------------
- the reference data, once per connector: accounts, tax codes, tax rates,
  items and customers in one batch of five queries (reads carry no
  requestid: a stored answer would be stale on the next run);
- creating what one push needs at once: the missing accounts in one batch,
  then the customer and items of a document in another. Batch items are
  not transactional; what landed is kept and only the rest is sent again.
  A batch whose every item failed for a transient reason landed nothing,
  so its retry gets a new (still deterministic) requestid: QuickBooks
  would otherwise replay the stored failures.

Many transactions at once (``push_many``)
-----------------------------------------
The replay loop hands over a window of consecutive transactions (``window``,
600 by default; 1 sends one at a time through ``push``). The names they
need are created first, in batches; then each transaction's requests are
the same *steps* as ``push`` makes (generators yielding ``waves.Query``,
``Read``, ``Write``), run side by side by ``waves.WaveRunner``: an invoice
before what pays, credits or applies to it, independent writes grouped in
batches of 30 plus single requests in the rest of the minute's budget,
every outcome per transaction. When the replay state says a window was
never sent but its first document is on QuickBooks (a lost or restored
state), every transaction of it is looked up before anything is written:
a batch's requestid cannot play the replay state's part across runs.

Caches (per connector, i.e. per replay run): reference data, and the Id of
each invoice number; each is rebuilt from QuickBooks when missing, so a
replay resumed in a new process needs no local state beyond the replay
loop's.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Callable
from collections.abc import Generator
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from typing import Any

import httpx

from connectors.base import PushResult
from connectors.errors import AuthError
from connectors.errors import ConflictError
from connectors.errors import ConnectorError
from connectors.errors import PermanentError
from connectors.errors import TransientError
from connectors.pacing import Pacer
from connectors.quickbooks import charts
from connectors.quickbooks import mapping
from connectors.quickbooks import references
from connectors.quickbooks.charts import AccountSpec
from connectors.quickbooks.charts import ChartMap
from connectors.quickbooks.client import BATCH_MAX
from connectors.quickbooks.client import FaultError
from connectors.quickbooks.client import QuickBooksClient
from connectors.quickbooks.mapping import ApplicationPlan
from connectors.quickbooks.mapping import CustomerPlan
from connectors.quickbooks.mapping import EntryPlan
from connectors.quickbooks.mapping import ItemPlan
from connectors.quickbooks.mapping import PaymentPlan
from connectors.quickbooks.mapping import SalesPlan
from connectors.quickbooks.mapping import TaxRef
from connectors.quickbooks.waves import Op
from connectors.quickbooks.waves import Query
from connectors.quickbooks.waves import Read
from connectors.quickbooks.waves import Steps
from connectors.quickbooks.waves import WaveRunner
from connectors.quickbooks.waves import Work
from connectors.quickbooks.waves import Write
from connectors.quickbooks.waves import run_single
from connectors.quickbooks.refsfile import ImportedRefs
from engine.chart import customer_component
from engine.journal import LedgerTxn
from engine.money import ZERO
from engine.money import cents

__all__ = ["QuickBooksConnector"]

Record = dict[str, Any]
DUPLICATE_DOC_NUMBER = "6140"
DUPLICATE_NAME = "6240"
WINDOW = 600  # transactions handed over at once: about 20 batches per round of waves


def _money(value: Any) -> Decimal:
    return cents(Decimal(str(value if value is not None else 0)))


def _quote(text: str) -> str:
    """A query string literal (backslash escapes, as QuickBooks reads them)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _digest(value: Any) -> str:
    return hashlib.sha256(repr(value).encode("utf-8")).hexdigest()[:10]


def _skipped(_uncertain: bool) -> Steps:
    """The steps of a transaction with nothing to send."""
    return PushResult("skipped")
    yield  # a generator that sends nothing


def _customers(target: mapping.Plan) -> tuple[CustomerPlan, ...]:
    if isinstance(target, (SalesPlan, PaymentPlan, ApplicationPlan)):
        return (target.customer,)
    return target.customers


def _resources(txn: LedgerTxn, target: mapping.Plan) -> frozenset[str]:
    """What a transaction touches on QuickBooks that a later one may need
    done first: invoices (by number) and payment holders (bookings)."""
    found = {f"invoice:{txn.get('invoice')}" if txn.get("invoice") else "",
             f"holder:b:{txn.get('booking')}" if txn.get("booking") else ""}
    if isinstance(target, SalesPlan):
        found |= {f"invoice:{target.number}", f"invoice:{target.credited}" if target.credited else ""}
    elif isinstance(target, (PaymentPlan, ApplicationPlan)):
        found |= {f"holder:{target.holder}", f"invoice:{target.invoice}" if target.invoice else ""}
    return frozenset(found - {""})


@dataclass
class _Names:
    """QuickBooks reference data, loaded once and kept up to date by the connector."""

    accounts: list[Record]
    tax: dict[Decimal | None, TaxRef]  # tax code (None: the chart's untaxed code) -> TaxCode and rates
    items: dict[str, Record]  # Sku -> item
    customers: dict[str, Record]  # ledger component -> customer Partida created
    taken: dict[str, set[str]] = field(default_factory=dict)  # entity -> names in use (casefolded)
    account_ids: dict[AccountSpec, str] = field(default_factory=dict)

    def take(self, entity: str, name: str) -> None:
        self.taken.setdefault(entity, set()).add(name.strip().casefold())

    def is_taken(self, entity: str, name: str) -> bool:
        return name.strip().casefold() in self.taken.get(entity, set())


@dataclass(frozen=True)
class _Create:
    """One name-list record to create, what to do with it, and how to find it
    when QuickBooks says the name exists already."""

    entity: str
    body: Record
    remember: Callable[[Record], None]
    adopt: Callable[[], Record | None]


class QuickBooksConnector:
    """Replays ledger transactions to one QuickBooks company (``connectors.base.Connector``)."""

    provider = "quickbooks"

    def __init__(self, client: httpx.Client | QuickBooksClient, *, pacer: Pacer | None = None,
                 batch_pacer: Pacer | None = None, chart: str | ChartMap = "fr-pcg",
                 imported: ImportedRefs | None = None, window: int = WINDOW) -> None:
        """Build a connector on one QuickBooks company.

        Args:
            client: an ``httpx.Client`` on ``<base>/v3/company/<realmId>`` with
                the caller's auth (wrapped in a ``QuickBooksClient``), or a
                ``QuickBooksClient``.
            pacer: pacing of all requests when ``client`` is an ``httpx.Client``
                (default 500 per minute).
            batch_pacer: pacing of batch requests (default 40 per minute).
            chart: the ledger's chart, by name or as a ``ChartMap``.
            window: transactions the replay loop hands over at once
                (``push_many``); 1 or less: one at a time (``push``), every
                document in its own request.
            imported: the set-up import's references (``refsfile``): they
                win over Partida's own markers and Skus.

        Raises:
            KeyError: for a chart with no QuickBooks mapping.
        """
        self.api = client if isinstance(client, QuickBooksClient) else QuickBooksClient(
            client, pacer=pacer, batch_pacer=batch_pacer)
        self.chart = charts.CHART_MAPS[chart] if isinstance(chart, str) else chart
        self.window = window
        if window > 1 and self.api.single_pacer is None:
            # Singles leave the batches their share of the minute (500 - 40 at QuickBooks' limits).
            overall, batches = self.api.pacer, self.api.batch_pacer
            reserved = round(batches.limit * overall.window_s / batches.window_s)
            if reserved < overall.limit / 2:  # else the budget is no real limit: nothing to share
                self.api.single_pacer = Pacer(overall.limit - reserved, overall.window_s,
                                              clock=overall.clock, sleep=overall.sleep)
        self.runner = WaveRunner(self.api, clock=self.api.pacer.clock, sleep=self.api.pacer.sleep)
        self._names: _Names | None = None
        self.imported = imported
        self._invoices: dict[str, str] = {}  # ledger invoice number -> Id
        self._failed_batches: dict[str, int] = {}  # content digest -> all-transient answers seen

    # -- the Connector protocol ------------------------------------------------------------------

    def describe(self, txn: LedgerTxn) -> list[str]:
        """What ``push`` would send for ``txn``, one line per request (no I/O)."""
        return mapping.describe(txn, "<key>", self.chart)

    def push(self, txn: LedgerTxn, key: str, uncertain: bool) -> PushResult:
        """Make QuickBooks hold ``txn`` once, one request at a time (see the module docstring)."""
        target = mapping.plan(txn, key, self.chart)
        if target is None:
            return PushResult("skipped")
        return run_single(self.api, self._steps(target, uncertain))

    def push_many(self, work: Sequence[tuple[LedgerTxn, str, bool]]) -> list[PushResult | ConnectorError]:
        """Make QuickBooks hold each transaction once, their requests grouped
        in batches and waves (``waves``); one outcome per transaction, in order."""
        works: list[Work | ConnectorError] = []
        plans: list[mapping.Plan] = []
        for txn, key, uncertain in work:
            try:
                target = mapping.plan(txn, key, self.chart)
            except ConnectorError as exc:
                works.append(exc)
                continue
            if target is None:
                works.append(Work(frozenset(), _skipped, uncertain))
                continue
            plans.append(target)
            works.append(Work(_resources(txn, target), functools.partial(self._steps, target), uncertain))
        self._prepare_names(plans)
        if not any(uncertain for _, _, uncertain in work) and self._already_there(plans):
            works = [dataclasses.replace(w, uncertain=True) if isinstance(w, Work) else w for w in works]
        return self.runner.run(works)

    def _already_there(self, plans: Sequence[mapping.Plan]) -> bool:
        """Whether the window's first document is on QuickBooks although the
        replay state says it was never sent (a lost or restored state).

        A batch's requestid covers a whole batch, and the same transactions
        do not make the same batches in another run, so QuickBooks' memory of
        requestids cannot stand in for the replay state as it does for single
        requests: when the state is wrong, every transaction of the window is
        looked up before anything is written. One lookup per window.
        """
        first = next((p for p in plans if not isinstance(p, ApplicationPlan)), None)
        if first is None:
            return False
        try:
            return run_single(self.api, self._lookup(first)) is not None  # type: ignore[arg-type]
        except AuthError:
            raise
        except ConnectorError:
            return True  # unknown: looking everything up is the safe side

    def _lookup(self, target: mapping.Plan) -> Generator[Op, Any, Record | None]:
        if isinstance(target, SalesPlan):
            return (yield from self._find_document(target))
        if isinstance(target, EntryPlan):
            return (yield from self._find_entry(target))
        assert isinstance(target, PaymentPlan)
        customer = self.names.customers.get(target.customer.component)
        if customer is None:
            return None
        where = f"CustomerRef = {_quote(str(customer['Id']))} AND TxnDate = {_quote(target.date.isoformat())}"
        return (yield from self._find_noted("Payment", target.key, where))

    def close(self) -> None:
        """Close the HTTP client."""
        self.api.close()

    def _steps(self, target: mapping.Plan, uncertain: bool) -> Steps:
        if isinstance(target, SalesPlan):
            return self._sales_steps(target, uncertain)
        if isinstance(target, PaymentPlan):
            return self._payment_steps(target, uncertain) if target.rest is None else \
                self._split_payment_steps(target, target.rest, uncertain)
        if isinstance(target, ApplicationPlan):
            return self._application_steps(target)
        return self._entry_steps(target, uncertain)

    # -- documents ------------------------------------------------------------------------------

    def _sales_steps(self, doc: SalesPlan, uncertain: bool) -> Steps:
        customer_ids, item_ids = self._name_ids(doc.key, [doc.customer], doc.items)
        customer_id = customer_ids[doc.customer.component]
        tax = self._tax({line.rate for line in doc.lines})
        # A credit memo's invoice must be there first: no orphan credit.
        credited = (yield from self._invoice_id(doc.credited)) if doc.credited else None
        found = (yield from self._find_document(doc)) if uncertain else None
        record = found
        if found is None:
            try:
                record = yield Write(doc.entity, mapping.sales_body(doc, customer_id, item_ids, tax),
                                     references.request_id(doc.key, doc.entity))
            except FaultError as exc:
                found = (yield from self._find_document(doc)) if exc.code == DUPLICATE_DOC_NUMBER else None
                if found is None:
                    raise
                record = found
        assert record is not None
        if found is not None:
            self._check_document(doc, found, customer_id)
        if doc.entity == "Invoice":
            self._invoices[doc.number] = str(record["Id"])
        elif credited is not None:
            yield from self._apply_credit(doc, record, credited, customer_id)
        return PushResult("exists" if found is not None else "sent", str(record["Id"]))

    def _find_document(self, doc: SalesPlan) -> Generator[Op, Any, Record | None]:
        rows = yield Query(f"SELECT * FROM {doc.entity} WHERE DocNumber = "
                           f"{_quote(references.doc_number(doc.number))}")
        return rows[0] if rows else None

    def _check_document(self, doc: SalesPlan, found: Record, customer_id: str) -> None:
        if str(found["CustomerRef"]["value"]) != customer_id or _money(found["TotalAmt"]) != doc.total:
            raise ConflictError(f"{doc.entity} {doc.number}: QuickBooks holds {found['Id']} under this number with "
                                f"another customer or total ({found['TotalAmt']} instead of {doc.total})")

    def _apply_credit(self, doc: SalesPlan, memo: Record, invoice_id: str, customer_id: str) -> Generator[Op, Any, None]:
        """Apply the credit memo to its invoice for what the invoice still owes.

        Computed from both open amounts, so repeating it applies nothing twice.
        """
        invoice = yield Read("Invoice", invoice_id)
        amount = min(_money(invoice.get("Balance")), _money(memo.get("RemainingCredit", memo.get("TotalAmt"))))
        if amount <= 0:
            return
        body = mapping.credit_application_body(doc, customer_id, invoice_id, str(memo["Id"]), amount)
        yield Write("Payment", body, references.request_id(doc.key, "apply"))

    def _invoice_id(self, number: str) -> Generator[Op, Any, str]:
        if number not in self._invoices:
            rows = yield Query(f"SELECT * FROM Invoice WHERE DocNumber = {_quote(references.doc_number(number))}")
            if not rows:
                raise PermanentError(f"invoice {number} is not on QuickBooks: replay it first")
            self._invoices[number] = str(rows[0]["Id"])
        return self._invoices[number]

    # -- payments and deposit applications -------------------------------------------------------

    def _payment_steps(self, payment: PaymentPlan, uncertain: bool) -> Steps:
        customer_id = self._name_ids(payment.key, [payment.customer], ())[0][payment.customer.component]
        account_id = self._account_ids([payment.deposit_to], payment.key)[payment.deposit_to]
        invoice_id = (yield from self._invoice_id(payment.invoice)) if payment.invoice else None
        where = f"CustomerRef = {_quote(customer_id)} AND TxnDate = {_quote(payment.date.isoformat())}"
        found = (yield from self._find_noted("Payment", payment.key, where)) if uncertain else None
        if found is not None:
            if _money(found["TotalAmt"]) != payment.total:
                raise ConflictError(f"QuickBooks holds payment {found['Id']} under key {payment.key} with another "
                                    f"total ({found['TotalAmt']} instead of {payment.total})")
            return PushResult("exists", str(found["Id"]))
        record = yield Write("Payment", mapping.payment_body(payment, customer_id, account_id, invoice_id),
                             references.request_id(payment.key, "Payment"))
        return PushResult("sent", str(record["Id"]))

    def _split_payment_steps(self, payment: PaymentPlan, rest: EntryPlan, uncertain: bool) -> Steps:
        """ca-qc: the Payment of what the invoice takes, then the excess's JournalEntry (``mapping``)."""
        paid = yield from self._payment_steps(payment, uncertain)
        kept = yield from self._entry_steps(rest, uncertain)
        outcome = "sent" if "sent" in (paid.outcome, kept.outcome) else "exists"
        return PushResult(outcome, f"{paid.remote_id},{kept.remote_id}")

    def _application_steps(self, plan: ApplicationPlan) -> Steps:
        """Apply the holder's unapplied payments to the invoice, oldest first.

        Always looked up first (it edits existing payments): a payment whose
        PrivateNote records this key is not touched again.
        """
        customer_id = self._name_ids(plan.key, [plan.customer], ())[0][plan.customer.component]
        invoice_id = yield from self._invoice_id(plan.invoice)
        rows = yield Query(f"SELECT * FROM Payment WHERE CustomerRef = {_quote(customer_id)}")
        payments = [p for p in rows if references.note_holder(p.get("PrivateNote")) == plan.holder]
        payments.sort(key=lambda p: (str(p.get("TxnDate")), int(p["Id"]) if str(p["Id"]).isdigit() else 0))
        touched = [p for p in payments if plan.key in references.applied_marks(p.get("PrivateNote"))]
        left = plan.amount - sum((references.applied_marks(p.get("PrivateNote"))[plan.key] for p in touched), ZERO)
        sent = False
        for payment in payments:
            free = _money(payment.get("UnappliedAmt"))
            if left <= 0 or any(p is payment for p in touched) or free <= 0:
                continue
            amount = min(free, left)
            body = mapping.application_body(payment, invoice_id, amount, plan.key)
            yield Write("Payment", body, references.request_id(plan.key, f"apply:{payment['Id']}:"
                                                                         f"{payment['SyncToken']}"))
            touched.append(payment)
            left -= amount
            sent = True
        if left > 0:
            raise PermanentError(f"{plan.holder}: the customer's unapplied payments on QuickBooks lack {left} to "
                                 f"apply to invoice {plan.invoice}")
        return PushResult("sent" if sent else "exists", ",".join(str(p["Id"]) for p in touched))

    # -- journal entries and deposits ----------------------------------------------------------------

    def _entry_steps(self, entry: EntryPlan, uncertain: bool) -> Steps:
        account_ids = self._account_ids([line.account for line in entry.lines], entry.key)
        customer_ids = self._name_ids(entry.key, entry.customers, ())[0] if entry.customers else {}
        found = (yield from self._find_entry(entry)) if uncertain else None
        if found is None:
            try:
                record = yield Write(entry.entity, mapping.entry_body(entry, account_ids, customer_ids),
                                     references.request_id(entry.key, entry.entity))
                return PushResult("sent", str(record["Id"]))
            except FaultError as exc:
                found = (yield from self._find_entry(entry)) if exc.code == DUPLICATE_DOC_NUMBER else None
                if found is None:
                    raise
        if _money(found["TotalAmt"]) != entry.total:
            raise ConflictError(f"QuickBooks holds {entry.entity} {found['Id']} under key {entry.key} with another "
                                f"total ({found['TotalAmt']} instead of {entry.total})")
        return PushResult("exists", str(found["Id"]))

    def _find_entry(self, entry: EntryPlan) -> Generator[Op, Any, Record | None]:
        if entry.entity == "JournalEntry":
            where = f"DocNumber = {_quote(references.doc_ref(entry.key))}"
        else:
            where = f"TxnDate = {_quote(entry.date.isoformat())}"
        return (yield from self._find_noted(entry.entity, entry.key, where))

    def _find_noted(self, entity: str, key: str, where: str) -> Generator[Op, Any, Record | None]:
        """The ``entity`` matching ``where`` whose PrivateNote starts with ``key``."""
        rows = yield Query(f"SELECT * FROM {entity} WHERE {where}")
        return next((row for row in rows if references.note_key(row.get("PrivateNote")) == key), None)

    # -- names a window needs, created up front --------------------------------------------------------

    def _prepare_names(self, plans: Sequence[mapping.Plan]) -> None:
        """Create, in as few batches as possible, the accounts, customers and
        items the plans need and QuickBooks lacks.

        Best effort: whatever fails here is tried again by the transaction
        that needs it, and fails there, on that transaction alone. A
        customer or item whose plain name another one of this window wants
        too is left to its transaction (the second one takes its ref).
        """
        accounts: list[AccountSpec] = []
        customers: dict[str, CustomerPlan] = {}
        items: dict[str, ItemPlan] = {}
        for target in plans:
            if isinstance(target, SalesPlan):
                accounts += [item.account for item in target.items]
                items.update({item.sku: item for item in target.items if item.sku not in items})
            elif isinstance(target, PaymentPlan):
                accounts.append(target.deposit_to)
            elif isinstance(target, EntryPlan):
                accounts += [line.account for line in target.lines]
            for customer in _customers(target):
                if customer.ref is not None and customer.component not in customers:
                    customers[customer.component] = customer
        key = f"names:{_digest(sorted(customers))}:{_digest(sorted(items))}"
        try:
            self._account_ids([spec for spec in dict.fromkeys(accounts) if not spec.system], key)
            names = {}
            for customer in customers.values():
                if customer.component not in self.names.customers:
                    names.setdefault(references.display_name(customer.name or customer.ref or "").casefold(),
                                     customer)
            by_name = {}
            for item in items.values():
                by_name.setdefault(references.display_name(item.name).casefold(), item)
            self._name_ids(key, list(names.values()), list(by_name.values()))
        except AuthError:
            raise
        except ConnectorError:
            pass  # each transaction tries again for itself

    # -- reference data -------------------------------------------------------------------------------

    @property
    def names(self) -> _Names:
        """The reference data, loaded on first use with one batch of queries."""
        if self._names is None:
            found = self.api.queries({"acct": "SELECT * FROM Account", "code": "SELECT * FROM TaxCode",
                                      "rate": "SELECT * FROM TaxRate", "item": "SELECT * FROM Item",
                                      "cust": "SELECT * FROM Customer"}, request_id=None)
            self._names = self._index(found)
        return self._names

    def _index(self, found: dict[str, list[Record]]) -> _Names:
        customers = {}
        for record in found["cust"]:
            ref = references.marker_ref(record.get("Notes"))
            if ref is not None:
                customers[customer_component(ref)] = record
        names = _Names(found["acct"], self._tax_refs(found["code"], found["rate"]),
                       {str(i["Sku"]): i for i in found["item"] if i.get("Sku")}, customers)
        for entity, key in (("Customer", "cust"), ("Item", "item"), ("Account", "acct")):
            for record in found[key]:
                names.take(entity, str(record.get("DisplayName") or record.get("Name") or ""))
        if self.imported is not None:
            self.imported.overlay(names.customers, names.items, found["cust"], found["item"])
        return names

    def _tax_refs(self, codes: list[Record], rates: list[Record]) -> dict[Decimal | None, TaxRef]:
        """Tax code -> TaxCode and its TaxRates: by the table's code name, else
        (one-rate codes) by the rate's value; None -> the chart's untaxed code."""
        value_of = {str(r["Id"]): Decimal(str(r.get("RateValue", "-1"))) for r in rates}
        refs: dict[Decimal | None, TaxRef] = {}
        for code in codes:
            details = (code.get("SalesTaxRateList") or {}).get("TaxRateDetail") or []
            rate_ids = [str(detail["TaxRateRef"]["value"]) for detail in details]
            if not rate_ids:
                continue
            ref = TaxRef(str(code["Id"]), rate_ids[0],
                         tuple((value_of.get(rate_id, Decimal(-1)), rate_id) for rate_id in rate_ids))
            named = [rate for rate, name in self.chart.tax_codes.items() if name == code.get("Name")]
            for rate in named:
                refs[rate] = ref
            if self.chart.untaxed_code is not None and code.get("Name") == self.chart.untaxed_code:
                refs[None] = ref
            if not named and len(rate_ids) == 1 and value_of.get(rate_ids[0]) in self.chart.tax_codes:
                refs.setdefault(value_of[rate_ids[0]], ref)
        return refs

    def _tax(self, rates: Iterable[Decimal | None]) -> dict[Decimal | None, TaxRef]:
        missing = [rate for rate in set(rates) if rate not in self.names.tax]
        if missing:
            names = sorted(f"{r:f} %" if r is not None else str(self.chart.untaxed_code) for r in missing)
            raise PermanentError(f"no QuickBooks tax code for VAT {', '.join(names)}")
        return {rate: self.names.tax[rate] for rate in rates}

    def account_id(self, spec: AccountSpec) -> str | None:
        """The Id of the QuickBooks account ``spec`` maps to, if it exists (no write)."""
        names = self.names
        if spec not in names.account_ids:
            found = next((a for a in names.accounts if spec.number and a.get("AcctNum") == spec.number), None) or \
                next((a for a in names.accounts if str(a.get("Name", "")).casefold() == spec.name.casefold()), None)
            if found is None:
                return None
            names.account_ids[spec] = str(found["Id"])
        return names.account_ids[spec]

    def _account_ids(self, specs: Iterable[AccountSpec], key: str) -> dict[AccountSpec, str]:
        """Ids of the accounts, the missing ones created (one batch when several)."""
        wanted = list(dict.fromkeys(specs))
        missing = [spec for spec in wanted if self.account_id(spec) is None]
        system = [spec.name for spec in missing if spec.system]
        if system:
            raise PermanentError(f"QuickBooks has no account {', '.join(system)}: it is one of QuickBooks' own "
                                 "(receivable, tax, undeposited funds) and Partida does not create it")
        self._create(key, "accounts", [self._account_create(spec) for spec in missing])
        return {spec: self.names.account_ids[spec] for spec in wanted}

    def _account_create(self, spec: AccountSpec) -> _Create:
        def remember(record: Record) -> None:
            self.names.accounts.append(record)
            self.names.account_ids[spec] = str(record["Id"])

        def adopt() -> Record | None:
            rows = self.api.query(f"SELECT * FROM Account WHERE Name = {_quote(spec.name)}")
            return rows[0] if rows else None

        return _Create("Account", mapping.account_body(spec), remember, adopt)

    # -- customers and items ---------------------------------------------------------------------------

    def _name_ids(self, key: str, customers: Sequence[CustomerPlan],
                  items: Sequence[ItemPlan]) -> tuple[dict[str, str], dict[str, str]]:
        """Ids of customers (by component) and items (by Sku): the missing ones
        created together, in one batch when there are several."""
        accounts = self._account_ids([item.account for item in items], key)
        creates = [self._customer_create(c) for c in customers if c.component not in self.names.customers]
        item_skus = {item.sku: self._item_sku(item, accounts[item.account]) for item in items}
        creates += [self._item_create(item, sku, accounts[item.account]) for item in items
                    if (sku := item_skus[item.sku]) not in self.names.items]
        self._create(key, "names", creates)
        customer_ids = {c.component: str(self.names.customers[c.component]["Id"]) for c in customers}
        return customer_ids, {item.sku: str(self.names.items[item_skus[item.sku]]["Id"]) for item in items}

    def _customer_create(self, customer: CustomerPlan) -> _Create:
        if customer.ref is None:
            raise PermanentError(f"customer {customer.component} is not on QuickBooks and this transaction does not "
                                 "name it: replay the customer's first transaction first")
        name = references.display_name(customer.name or customer.ref)
        if self.names.is_taken("Customer", name):
            name = references.display_name(customer.name or customer.ref, customer.ref)

        def remember(record: Record) -> None:
            self.names.customers[customer.component] = record
            self.names.take("Customer", name)

        def adopt() -> Record | None:
            rows = self.api.query(f"SELECT * FROM Customer WHERE DisplayName = {_quote(name)}")
            return next((r for r in rows if references.marker_ref(r.get("Notes")) == customer.ref), None)

        return _Create("Customer", mapping.customer_body(customer, name), remember, adopt)

    def _item_sku(self, item: ItemPlan, account_id: str) -> str:
        """The item's Sku; a variant when QuickBooks' item of that Sku sells
        through another income account (an item has one)."""
        found = self.names.items.get(item.sku)
        if found is None or str((found.get("IncomeAccountRef") or {}).get("value")) == account_id:
            return item.sku
        return f"{item.sku}@{item.account.number or account_id}"

    def _item_create(self, item: ItemPlan, sku: str, account_id: str) -> _Create:
        name = references.display_name(item.name if sku == item.sku else f"{item.name} ({item.account.name})")
        if self.names.is_taken("Item", name):
            name = references.display_name(item.name, sku)
        plan = ItemPlan(sku, item.name, item.account, item.kind)

        def remember(record: Record) -> None:
            self.names.items[sku] = record
            self.names.take("Item", name)

        def adopt() -> Record | None:
            rows = self.api.query(f"SELECT * FROM Item WHERE Name = {_quote(name)}")
            return next((r for r in rows if r.get("Sku") == sku), None)

        return _Create("Item", mapping.item_body(plan, name, account_id), remember, adopt)

    # -- creating name-list records --------------------------------------------------------------------

    def _create(self, key: str, purpose: str, creates: Sequence[_Create]) -> None:
        """Create the records; a duplicate name adopts Partida's own record.

        Raises:
            TransientError: when some could not be created for now (after
                keeping those that were).
        """
        transient: ConnectorError | None = None
        refused: ConnectorError | None = None
        for create, result in zip(creates, self._send(key, purpose, creates), strict=True):
            if isinstance(result, FaultError) and result.code == DUPLICATE_NAME:
                result = create.adopt() or result
            if isinstance(result, TransientError):
                transient = transient or result
            elif isinstance(result, ConnectorError):
                refused = refused or result
            else:
                create.remember(result)  # kept even when another one was refused
        if refused is not None:
            raise refused
        if transient is not None:
            raise transient

    def _send(self, key: str, purpose: str, creates: Sequence[_Create]) -> list[Record | ConnectorError]:
        if len(creates) == 1:
            create = creates[0]
            try:
                return [self.api.write(create.entity, create.body,
                                       references.request_id(key, f"{purpose}:{_digest(create.body)}"))]
            except FaultError as exc:
                return [exc]
        results: list[Record | ConnectorError] = []
        for start in range(0, len(creates), BATCH_MAX):
            chunk = creates[start:start + BATCH_MAX]
            items = [{"bId": f"b{i}", "operation": "create", c.entity: c.body} for i, c in enumerate(chunk)]
            content = _digest(items)
            round_ = self._failed_batches.get(content, 0)
            answers = self.api.batch(items, references.request_id(key, f"{purpose}:{content}:{round_}"))
            if all(isinstance(a, TransientError) for a in answers):
                # Nothing landed: the retry needs a fresh requestid, or the stored failures come back.
                self._failed_batches[content] = round_ + 1
            results += [a if isinstance(a, ConnectorError) else dict(a[c.entity]) for a, c in zip(answers, chunk)]
        return results
