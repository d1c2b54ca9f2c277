"""Posting rules (DESIGN §3): one pure function per event type.

Each rule takes a validated event, a read-only view of the ledger state and
the settings, and returns the balanced transactions to append with the new
state — or the problems that make the event impossible (unknown invoice,
refund larger than what was received...). No clock, no file.

Conventions: debit amounts are positive, credit amounts negative; every
transaction balances to the cent (asserted); VAT on deposits is due when the
money is received and waits on 44588 until the invoice is issued.

Multi-component charts (``ca-qc``, Québec, accounting-rules §5) use the same
rules with these differences, each marked ``multi_component`` below:

- tax is payable when invoiced (no pending account) and each component (GST,
  QST) is booked on its own account, computed per line (``documents``);
- a deposit's ``nature`` decides its tax. A *security deposit* (``security``
  or ``arrhes``, the default: the law reads a deposit as not consideration
  until applied) bears no tax on receipt and Customer Deposits holds it all.
  A *prepayment* (``prepayment`` or ``acompte``) is an instalment on the price,
  taxable when paid: Bank D gross / Customer Deposits C pre-tax / GST C / QST C.
  When the invoice exists the credit is applied to the receivable; the
  invoice carried the tax of the whole price, so a prepayment's tax leaves
  GST/QST at that moment (case B: net GST 15.00, QST 29.93, A/R 229.95);
- a refunded prepayment takes its tax back; a refunded security deposit has none;
- a forfeited deposit: a prepayment keeps the tax already paid and its
  pre-tax part goes to income. A security deposit kept as a ``penalty`` is
  deemed to include each tax computed on the whole amount (GST x 5/105, QST x
  9.975/109.975, ETA s. 182: 100.00 -> 4.76 / 9.07 / 86.17 to Forfeited
  Deposits); kept as ``consideration`` for the service it is applied to the
  price, taxes included at the standard code (x 5/114.975, x 9.975/114.975),
  the rest to Sales;
- gift vouchers bear no tax when sold, only when used (as cash);
- a printed net off the lines' net goes to the rounding account (5810); a
  printed tax off the per-line computation is booked as printed, the tax
  posting carrying the per-line amount in ``per-line`` metadata.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Callable, Protocol

from . import documents
from .chart import customer_component, link
from .events import EVENT_TYPES, Customer, Event, RateAmount, is_prepayment
from .model import Booked, Credit, CustomerRecord, Holder, Invoice, Open, Posting, Txn, Voucher, evolve
from .money import ZERO, cents, share, vat_included
from .settings import Settings

FieldProblems = list[tuple[str, str]]


class StateView(Protocol):
    """What the rules may read of the ledger state."""

    def customer(self, ref: str) -> CustomerRecord | None: ...
    def component_owner(self, component: str) -> str | None: ...
    def holder(self, key: str) -> Holder | None: ...
    def invoice(self, number: str) -> Invoice | None: ...
    def document(self, number: str) -> str | None: ...
    def voucher(self, code: str) -> Voucher | None: ...


@dataclasses.dataclass(frozen=True, slots=True)
class DocumentNumber:
    """An invoice or credit-note number, taken once per ledger."""

    number: str
    event_id: str


class Rejected(Exception):
    """Raised inside a rule to abandon the event with field problems."""

    def __init__(self, problems: FieldProblems):
        super().__init__(problems)
        self.problems = problems


def reject(field: str, message: str) -> Rejected:
    return Rejected([(field, message)])


# ---------------------------------------------------------------------------
# Helpers shared by the rules


class _Builder:
    """Collects postings, opens and state changes for one event."""

    def __init__(self, event: Event, view: StateView, settings: Settings):
        self.event = event
        self.view = view
        self.settings = settings
        self.chart = settings.chart
        self.txns: list[Txn] = []
        self.opens: list[Open] = []
        self.changes: dict[tuple[type, str], object] = {}
        self._components: dict[str, str] = {}  # customer ref -> account component (never changes)

    # state reads see this event's own earlier changes
    def customer(self, ref: str) -> CustomerRecord | None:
        return self.changes.get((CustomerRecord, ref)) or self.view.customer(ref)  # type: ignore[return-value]

    def holder(self, key: str) -> Holder | None:
        return self.changes.get((Holder, key)) or self.view.holder(key)  # type: ignore[return-value]

    def invoice(self, number: str) -> Invoice | None:
        return self.changes.get((Invoice, number)) or self.view.invoice(number)  # type: ignore[return-value]

    def voucher(self, code: str) -> Voucher | None:
        return self.changes.get((Voucher, code)) or self.view.voucher(code)  # type: ignore[return-value]

    def put(self, record: object, key: str) -> None:
        self.changes[(type(record), key)] = record

    def account(self, role: str) -> str:
        return self.chart.role(role)

    def ensure_customer(self, customer: Customer) -> CustomerRecord:
        known = self.customer(customer.ref)
        if known is not None:
            if known.name != customer.name:
                self.put(evolve(known, name=customer.name), customer.ref)
            return known
        component = customer_component(customer.ref)
        owner = self.view.component_owner(component)
        if owner is not None and owner != customer.ref:  # pragma: no cover - hash collision
            raise reject("customer.ref", f"customer ref collides with {owner!r}; use another ref")
        record = CustomerRecord(customer.ref, customer.name, component)
        self.put(record, customer.ref)
        meta = (("customer-ref", customer.ref), ("customer-name", customer.name), ("customer-kind", customer.kind))
        for role in ("receivable", "customer_deposits"):
            self.opens.append(Open(self.chart.customer_account(role, component), meta))
        return record

    def _component(self, customer_ref: str) -> str:
        component = self._components.get(customer_ref)
        if component is None:
            record = self.customer(customer_ref)
            assert record is not None
            component = self._components[customer_ref] = record.component
        return component

    def receivable(self, customer_ref: str) -> str:
        return self.chart.customer_account("receivable", self._component(customer_ref))

    def deposits_account(self, customer_ref: str) -> str:
        return self.chart.customer_account("customer_deposits", self._component(customer_ref))

    def payee(self, customer_ref: str | None) -> str | None:
        record = self.customer(customer_ref) if customer_ref else None
        return record.name if record else None

    def add(
        self,
        narration: str,
        postings: list[Posting],
        *,
        payee: str | None = None,
        links: tuple[str, ...] = (),
        meta: tuple[tuple[str, str], ...] = (),
    ) -> None:
        event = self.event
        kept = tuple([p for p in postings if p.amount])
        base = (("event-id", event.id), ("event-type", event.type))
        if not self.txns:
            base += (("source-event", event.source),)
        txn = Txn(event.date, payee, narration, _TAGS[event.type], frozenset(links), base + meta, kept)
        assert txn.residual() == 0, f"unbalanced transaction for {event.id}: {txn}"
        self.txns.append(txn)

    def result(self) -> Booked:
        return Booked(tuple(self.txns), tuple(self.opens), tuple(self.changes.values()))


# The tag of each event type's transactions (deposit.received -> #deposit-received).
_TAGS = {kind: frozenset({kind.replace(".", "-")}) for kind in EVENT_TYPES}


def _holder_key(booking: str | None, invoice_number: str) -> str:
    return f"b:{booking}" if booking is not None else f"i:{invoice_number}"


def _holder_links(key: str) -> tuple[str, ...]:
    kind, ref = key.split(":", 1)
    return (link("booking" if kind == "b" else "invoice", ref),)


def _holder_meta(key: str) -> tuple[tuple[str, str], ...]:
    kind, ref = key.split(":", 1)
    return (("booking" if kind == "b" else "invoice", ref),)


Taxes = tuple[tuple[Decimal, Decimal], ...]  # (component percent, amount)
Taken = tuple[Credit, Decimal, Decimal, Taxes]  # credit, amount taken, its VAT, per component


def _take_credits(holder: Holder, amount: Decimal) -> tuple[Holder, list[Taken]]:
    """Consume ``amount`` from a holder's credits, oldest first.

    Returns the new holder and, per credit touched, (credit, amount taken,
    VAT of that amount, that VAT per component).
    """
    taken: list[Taken] = []
    left = amount
    kept: list[Credit] = []
    for credit in holder.credits:
        if left <= 0:
            kept.append(credit)
            continue
        part = min(credit.amount, left)
        vat = share(credit.vat, part, credit.amount)
        taxes = tuple((rate, share(tax, part, credit.amount)) for rate, tax in credit.taxes)
        if taxes:
            vat = sum((t for _, t in taxes), ZERO)
        taken.append((credit, part, vat, taxes))
        left -= part
        if part < credit.amount:
            rest = tuple((rate, tax - t) for (rate, tax), (_, t) in zip(credit.taxes, taxes))
            kept.append(evolve(credit, amount=credit.amount - part, vat=credit.vat - vat, taxes=rest))
    assert left <= 0, "caller must check the holder holds enough"
    return evolve(holder, credits=tuple(kept)), taken


def _debit_credits(b: _Builder, taken: list[Taken]) -> list[Posting]:
    """Debit each customer's 4191 sub-account for what was taken from it.

    On a multi-component chart a prepayment's tax went to GST/QST on receipt:
    the deposits account holds, and gives back, the rest.
    """
    multi = b.chart.multi_component
    per_account: dict[str, Decimal] = {}
    for credit, part, vat, _ in taken:
        account = b.deposits_account(credit.customer)
        per_account[account] = per_account.get(account, ZERO) + (part - vat if multi else part)
    return [Posting(acc, amt) for acc, amt in per_account.items()]


def _tax_postings(b: _Builder, taxes: Taxes, sign: int) -> list[Posting]:
    """Postings on each component's account (multi-component charts), debit when ``sign`` > 0."""
    per_account: dict[str, Decimal] = {}
    for rate, tax in taxes:
        account = b.chart.tax_account(rate)
        per_account[account] = per_account.get(account, ZERO) + tax
    return [Posting(acc, sign * amt) for acc, amt in per_account.items() if amt]


def _taken_taxes(taken: list[Taken]) -> Taxes:
    return tuple(t for _, _, _, taxes in taken for t in taxes)


def _vat_move(debit: str, credit: str, amount: Decimal) -> list[Posting]:
    return [Posting(debit, amount), Posting(credit, -amount)] if amount else []


def _pending_or_due(b: _Builder) -> str:
    """Where invoiced VAT waits: 44574 (receipts policy) or 44571 (debits)."""
    return b.account("vat_pending" if b.settings.vat_policy == "receipts" else "vat_due")


def _apply_credits(b: _Builder, holder_key: str) -> None:
    """Apply a holder's open credits to its open invoices (4191 -> 411)."""
    holder = b.holder(holder_key)
    if holder is None or not holder.credits:
        return
    for number in holder.invoices:
        invoice = b.invoice(number)
        if invoice is None or invoice.open <= 0 or not holder.credits:
            continue
        applied = min(invoice.open, holder.held())
        holder, taken = _take_credits(holder, applied)
        deposit_vat = sum((v for _, _, v, _ in taken), ZERO)
        postings = _debit_credits(b, taken) + [Posting(b.receivable(invoice.customer), -applied)]
        if b.chart.multi_component:
            # The invoice charged the tax of the whole price: a prepayment's
            # tax, payable since it was received, is not counted twice.
            postings += _tax_postings(b, _taken_taxes(taken), +1)
            pending = invoice.vat_pending
        else:
            # The deposit's VAT, declared on receipt, leaves the 44588 suspense. Under
            # the receipts policy the invoice VAT of the part now settled becomes
            # due; when it differs from what the deposit declared (other rate,
            # rounding), the difference is declared now, on 44571.
            moved = share(invoice.vat_pending, applied, invoice.open) if b.settings.vat_policy == "receipts" else deposit_vat
            postings += [Posting(_pending_or_due(b), moved), Posting(b.account("vat_on_deposits"), -deposit_vat)]
            postings += [Posting(b.account("vat_due"), deposit_vat - moved)] if b.settings.vat_policy == "receipts" else []
            pending = invoice.vat_pending - moved if b.settings.vat_policy == "receipts" else invoice.vat_pending
        b.put(evolve(invoice, open=invoice.open - applied, vat_pending=pending), number)
        what = "dépôt" if b.chart.multi_component else "acompte"
        b.add(
            f"Imputation {what} sur facture {number}",
            postings,
            payee=b.payee(invoice.customer),
            links=_holder_links(holder_key) + (link("invoice", number),),
            meta=_holder_meta(holder_key) + (("invoice", number), ("step", "deposit-applied")),
        )
    b.put(holder, holder_key)


# ---------------------------------------------------------------------------
# The rules


def book_deposit(b: _Builder) -> None:
    e = b.event
    customer = b.ensure_customer(e.get("customer"))
    amount: Decimal = e.get("amount")
    if b.chart.multi_component:
        _book_deposit_multi(b, customer, amount)
        return
    if e.get("vat") is not None:
        vat = sum((v.amount for v in e.get("vat")), ZERO)
    elif e.get("vat_rate") is not None:
        vat = vat_included(amount, e.get("vat_rate"))
    else:
        vat = ZERO
    key = f"b:{e.get('booking')}"
    holder = b.holder(key) or Holder(key)
    source, voucher_vat = _settlement(b, e.get("method"), amount)
    # VAT on a deposit is due on receipt; what a single-purpose voucher already
    # declared when it was sold is not declared twice.
    postings = [Posting(source, amount), Posting(b.deposits_account(customer.ref), -amount)]
    postings += _vat_move(b.account("vat_on_deposits"), b.account("vat_due"), vat - voucher_vat)
    credit = Credit(e.id, e.date, customer.ref, amount, vat)
    b.put(evolve(holder, credits=holder.credits + (credit,)), key)
    nature = "Arrhes" if e.get("nature") in ("arrhes", "security") else "Acompte"
    _add_deposit(b, customer, f"{nature} réservation {e.get('booking')}", postings)
    _apply_credits(b, key)


def _prepayment_taxes(b: _Builder, amount: Decimal) -> Taxes:
    """The tax inside a prepayment, per component: as sent, or extracted from
    the tax-included amount with the code's total (114.98 -> 5.00 + 9.98)."""
    e = b.event
    if e.get("vat") is not None:
        return tuple(sorted((v.rate.normalize(), v.amount) for v in e.get("vat")))
    components = b.chart.components(e.get("vat_rate"))
    total = sum((c.percent for c in components), ZERO)
    return tuple((c.percent, cents(amount * c.percent / (100 + total))) for c in components)


def _book_deposit_multi(b: _Builder, customer: CustomerRecord, amount: Decimal) -> None:
    """ca-qc: a security deposit is held untaxed; a prepayment is taxed on receipt."""
    e = b.event
    prepayment = is_prepayment(e.get("nature"), b.chart)
    taxes = _prepayment_taxes(b, amount) if prepayment else ()
    vat = sum((t for _, t in taxes), ZERO)
    key = f"b:{e.get('booking')}"
    holder = b.holder(key) or Holder(key)
    source, _ = _settlement(b, e.get("method"), amount)  # vouchers carry no tax here
    postings = [Posting(source, amount), Posting(b.deposits_account(customer.ref), -(amount - vat))]
    postings += _tax_postings(b, taxes, -1)
    nature = "prepayment" if prepayment else "security"
    credit = Credit(e.id, e.date, customer.ref, amount, vat, taxes, nature)
    b.put(evolve(holder, credits=holder.credits + (credit,)), key)
    label = "Acompte" if prepayment else "Dépôt de garantie"
    _add_deposit(b, customer, f"{label} réservation {e.get('booking')}", postings,
                 (("deposit-nature", nature),))
    _apply_credits(b, key)


def _add_deposit(b: _Builder, customer: CustomerRecord, narration: str, postings: list[Posting],
                 extra: tuple[tuple[str, str], ...] = ()) -> None:
    e = b.event
    b.add(
        narration,
        postings,
        payee=customer.name,
        links=(link("booking", e.get("booking")),),
        meta=(("booking", e.get("booking")), ("customer", customer.ref)) + extra + _reference(e),
    )


def _settlement(b: _Builder, method: str, amount: Decimal) -> tuple[str, Decimal]:
    """The account money comes from, and VAT a voucher already declared for it."""
    if method != "voucher":
        return b.settings.method_account(method), ZERO
    code = b.event.get("voucher")
    voucher = b.voucher(code)
    if voucher is None:
        raise reject("voucher", f"unknown voucher {code!r}")
    if amount > voucher.amount:
        raise reject("amount", f"{amount} is more than the {voucher.amount} left on voucher {code!r}")
    vat = share(voucher.vat, amount, voucher.amount)
    b.put(evolve(voucher, amount=voucher.amount - amount, vat=voucher.vat - vat), code)
    return b.chart.voucher_account(), vat


def _reference(e: Event) -> tuple[tuple[str, str], ...]:
    return (("reference", e.get("reference")),) if e.get("reference") else ()


def _document_amounts(b: _Builder, include_tax: bool) -> documents.DocumentAmounts:
    e = b.event
    default = b.chart.roles["default_income"]
    amounts = documents.compute(e.get("lines"), include_tax, default, b.chart)
    if e.get("totals") is not None:
        printed, problems = documents.apply_printed(amounts, e.get("totals"), b.chart.has_role("rounding"))
        if problems:
            raise Rejected(problems)
        assert printed is not None
        amounts = printed
    if amounts.gross <= 0:
        raise reject("lines", f"the document's total is {amounts.gross}; it must be greater than zero")
    return amounts


def _check_number_free(b: _Builder, number: str) -> None:
    owner = b.changes.get((DocumentNumber, number)) or b.view.document(number)
    if owner is not None:
        owner_id = owner.event_id if isinstance(owner, DocumentNumber) else owner
        raise reject("number", f"number {number!r} was already used by event {owner_id!r}")
    b.put(DocumentNumber(number, b.event.id), number)


def _revenue_postings(b: _Builder, amounts: documents.DocumentAmounts, sign: int) -> list[Posting]:
    postings = []
    for number, rate, net in amounts.revenue:
        postings.append(Posting(b.chart.account(number), sign * -net, (("vat-rate", str(rate)),)))
    if amounts.rounding:
        # The printed net's gap to the lines' net: kept apart, never in a tax account.
        postings.append(Posting(b.account("rounding"), sign * -amounts.rounding, (("rounding", "printed net"),)))
    return postings


def _component_postings(b: _Builder, amounts: documents.DocumentAmounts, sign: int) -> list[Posting]:
    """Multi-component charts: each component on its own account, as printed.

    When the printed amount differs from the per-line computation (within the
    tolerance), the posting says what the lines gave (``per-line``).
    """
    computed = {v.rate: v.amount for v in amounts.computed_vat}
    postings = []
    for v in amounts.vat:
        meta: tuple[tuple[str, str], ...] = (("vat-rate", str(v.rate)),)
        if v.rate in computed and computed[v.rate] != v.amount:
            meta += (("per-line", str(computed[v.rate])),)
        postings.append(Posting(b.chart.tax_account(v.rate), sign * -v.amount, meta))
    return postings


def book_invoice(b: _Builder) -> None:
    e = b.event
    number = e.get("number")
    _check_number_free(b, number)
    customer = b.ensure_customer(e.get("customer"))
    include_tax = bool(e.get("prices_include_tax", False))
    amounts = _document_amounts(b, include_tax)
    postings = [Posting(b.receivable(customer.ref), amounts.gross)]
    postings += _revenue_postings(b, amounts, +1)
    if b.chart.multi_component:
        postings += _component_postings(b, amounts, +1)
    else:
        vat_account = _pending_or_due(b)
        postings += [Posting(vat_account, -v.amount, (("vat-rate", str(v.rate)),)) for v in amounts.vat]
    vat_total = sum((v.amount for v in amounts.vat), ZERO)
    key = _holder_key(e.get("booking"), number)
    holder = b.holder(key) or Holder(key)
    b.put(evolve(holder, invoices=holder.invoices + (number,)), key)
    pending = vat_total if b.settings.vat_policy == "receipts" else ZERO
    b.put(Invoice(number, e.id, customer.ref, key, e.date, amounts.gross, amounts.gross, pending,
                  prices_include_tax=include_tax), number)
    meta = (("invoice", number), ("customer", customer.ref))
    if e.get("booking") is not None:
        meta += (("booking", e.get("booking")),)
    if e.get("due_date") is not None:
        meta += (("due-date", e.get("due_date").isoformat()),)
    b.add(f"Facture {number}", postings, payee=customer.name,
          links=tuple(dict.fromkeys(_holder_links(key) + (link("invoice", number),))), meta=meta)
    _apply_credits(b, key)


def _known_invoice(b: _Builder, field: str = "invoice") -> Invoice:
    number = b.event.get(field)
    invoice = b.invoice(number)
    if invoice is None:
        raise reject(field, f"unknown invoice {number!r}")
    return invoice


def _invoice_links(invoice: Invoice) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_holder_links(invoice.holder) + (link("invoice", invoice.number),)))


def _invoice_meta(invoice: Invoice) -> tuple[tuple[str, str], ...]:
    meta = (("invoice", invoice.number), ("customer", invoice.customer))
    if invoice.holder.startswith("b:"):
        meta += (("booking", invoice.holder[2:]),)
    return meta


def book_payment(b: _Builder) -> None:
    e = b.event
    invoice = _known_invoice(b)
    amount: Decimal = e.get("amount")
    source, voucher_vat = _settlement(b, e.get("method"), amount)
    applied = min(amount, max(invoice.open, ZERO))
    excess = amount - applied
    postings = [Posting(source, amount), Posting(b.receivable(invoice.customer), -applied)]
    moved = ZERO
    if b.settings.vat_policy == "receipts" and applied:
        moved = share(invoice.vat_pending, applied, invoice.open)
    if moved:
        postings += _vat_move(b.account("vat_pending"), b.account("vat_due"), moved)
    if voucher_vat:
        postings += _vat_move(b.account("vat_due"), b.account("vat_on_deposits"), voucher_vat)
    if excess:
        # An overpayment stays the customer's money, on 4191, never a lost cent.
        postings.append(Posting(b.deposits_account(invoice.customer), -excess))
        holder = b.holder(invoice.holder) or Holder(invoice.holder)
        credit = Credit(e.id, e.date, invoice.customer, excess, ZERO)
        b.put(evolve(holder, credits=holder.credits + (credit,)), invoice.holder)
    b.put(evolve(invoice, open=invoice.open - applied, vat_pending=invoice.vat_pending - moved),
          invoice.number)
    b.add(f"Règlement facture {invoice.number}", postings, payee=b.payee(invoice.customer),
          links=_invoice_links(invoice), meta=_invoice_meta(invoice) + _reference(e))


def book_credit_note(b: _Builder) -> None:
    e = b.event
    number = e.get("number")
    invoice = _known_invoice(b)
    _check_number_free(b, number)
    include_tax = e.get("prices_include_tax", invoice.prices_include_tax)
    amounts = _document_amounts(b, bool(include_tax))
    room = invoice.gross - invoice.credited
    if amounts.gross > room:
        raise reject("lines", f"credit note of {amounts.gross} exceeds the {room} left to credit on invoice {invoice.number!r}")
    vat_total = sum((v.amount for v in amounts.vat), ZERO)
    # The unpaid part credited cancels its share of the VAT not yet due (44574);
    # the rest of the credit note's VAT had been declared and is reversed on 44571.
    unpaid = min(amounts.gross, max(invoice.open, ZERO))
    from_pending = ZERO
    if b.settings.vat_policy == "receipts" and unpaid:
        from_pending = share(invoice.vat_pending, unpaid, invoice.open)
    postings = [Posting(b.receivable(invoice.customer), -amounts.gross)]
    postings += _revenue_postings(b, amounts, -1)
    if b.chart.multi_component:
        postings += _component_postings(b, amounts, -1)  # each component reversed on its account
    else:
        postings += [Posting(b.account("vat_pending"), from_pending)] if from_pending else []
        postings += [Posting(b.account("vat_due"), vat_total - from_pending)] if vat_total - from_pending else []
    b.put(evolve(invoice, open=invoice.open - amounts.gross, credited=invoice.credited + amounts.gross,
                              vat_pending=invoice.vat_pending - from_pending), invoice.number)
    reason = f" ({e.get('reason')})" if e.get("reason") else ""
    b.add(f"Avoir {number} sur facture {invoice.number}{reason}", postings, payee=b.payee(invoice.customer),
          links=_invoice_links(invoice), meta=_invoice_meta(invoice) + (("credit-note", number),))


def book_refund(b: _Builder) -> None:
    e = b.event
    amount: Decimal = e.get("amount")
    if e.get("booking") is not None:
        key = f"b:{e.get('booking')}"
        holder = b.holder(key)
        if holder is None:
            raise reject("booking", f"unknown booking {e.get('booking')!r}")
        from_411, invoice = ZERO, None
    else:
        invoice = _known_invoice(b)
        key, holder = invoice.holder, b.holder(invoice.holder) or Holder(invoice.holder)
        from_411 = min(amount, max(-invoice.open, ZERO))
    from_4191 = amount - from_411
    if from_4191 > holder.held():
        available = from_411 + holder.held()
        raise reject("amount", f"refund of {amount} is more than the {available} the customer has in credit")
    holder, taken = _take_credits(holder, from_4191)
    vat = sum((v for _, _, v, _ in taken), ZERO)
    postings = _debit_credits(b, taken) + [Posting(b.settings.method_account(e.get("method")), -amount)]
    if b.chart.multi_component:
        postings += _tax_postings(b, _taken_taxes(taken), +1)  # a refunded prepayment's tax is taken back
    elif vat:
        postings += _vat_move(b.account("vat_due"), b.account("vat_on_deposits"), vat)
    links, meta, payee = _holder_links(key), _holder_meta(key), None
    if invoice is not None:
        postings.append(Posting(b.receivable(invoice.customer), from_411))
        b.put(evolve(invoice, open=invoice.open + from_411), invoice.number)
        links, meta, payee = _invoice_links(invoice), _invoice_meta(invoice), b.payee(invoice.customer)
    elif taken:
        payee = b.payee(taken[0][0].customer)
    b.put(holder, key)
    what = f"réservation {e.get('booking')}" if invoice is None else f"avoir facture {invoice.number}"
    reason = f" ({e.get('reason')})" if e.get("reason") else ""
    b.add(f"Remboursement {what}{reason}", postings, payee=payee, links=links, meta=meta)


def book_forfeit(b: _Builder) -> None:
    e = b.event
    key = f"b:{e.get('booking')}"
    holder = b.holder(key)
    if holder is None:
        raise reject("booking", f"unknown booking {e.get('booking')!r}")
    amount: Decimal = e.get("amount")
    if amount > holder.held():
        raise reject("amount", f"{amount} is more than the {holder.held()} held for booking {e.get('booking')!r}")
    holder, taken = _take_credits(holder, amount)
    vat = sum((v for _, _, v, _ in taken), ZERO)
    postings = _debit_credits(b, taken)
    if b.chart.multi_component:
        postings, narration = _forfeit_multi(b, taken, postings)
    elif e.get("treatment") == "penalty":
        # Arrhes kept as a penalty are outside VAT: the VAT paid on receipt is reversed.
        postings += [Posting(b.account("penalties"), -amount)]
        postings += _vat_move(b.account("vat_due"), b.account("vat_on_deposits"), vat)
        narration = f"Arrhes conservées réservation {e.get('booking')} (dédit)"
    else:
        # Money kept for a service the customer was entitled to: VAT stays due.
        postings += [Posting(b.chart.account(b.chart.roles["default_income"]), -(amount - vat)),
                     Posting(b.account("vat_on_deposits"), -vat)]
        narration = f"Acompte conservé réservation {e.get('booking')} (prestation due)"
    b.put(holder, key)
    payee = b.payee(taken[0][0].customer) if taken else None
    b.add(narration, postings, payee=payee, links=_holder_links(key),
          meta=_holder_meta(key) + (("treatment", e.get("treatment")),))


def _forfeit_multi(b: _Builder, taken: list[Taken], postings: list[Posting]) -> tuple[list[Posting], str]:
    """ca-qc: a prepayment keeps its tax; a security deposit becomes taxable now.

    ``penalty``: taxes deemed included, each on the whole amount (ETA s. 182);
    ``consideration``: applied to the price, taxes included at the code's total.
    """
    e = b.event
    penalty = e.get("treatment") == "penalty"
    income = b.account("penalties") if penalty else b.chart.account(b.chart.roles["default_income"])
    security = sum((part for credit, part, _, _ in taken if credit.nature != "prepayment"), ZERO)
    prepaid_net = sum((part - vat for credit, part, vat, _ in taken if credit.nature == "prepayment"), ZERO)
    components = b.chart.components(b.chart.deemed_tax_code) if security else ()
    total = sum((c.percent for c in components), ZERO)
    deemed = tuple((c.percent, cents(security * c.percent / (100 + (c.percent if penalty else total))))
                   for c in components)
    kept = security - sum((t for _, t in deemed), ZERO) + prepaid_net
    postings = postings + _tax_postings(b, deemed, -1) + [Posting(income, -kept)]
    what = "Dépôt conservé" if penalty else "Dépôt conservé (prestation due)"
    return postings, f"{what} réservation {e.get('booking')}"


def book_voucher(b: _Builder) -> None:
    e = b.event
    code = e.get("code")
    if b.voucher(code) is not None:
        raise reject("code", f"voucher {code!r} was already sold")
    amount: Decimal = e.get("amount")
    single = e.get("purpose") == "single" and b.chart.vouchers_taxed_at_sale
    vat = vat_included(amount, e.get("vat_rate")) if single else ZERO
    postings = [Posting(b.settings.method_account(e.get("method")), amount),
                Posting(b.chart.voucher_account(), -amount)]
    # A single-purpose voucher is taxed when sold; a multi-purpose one when
    # used. On ca-qc no voucher is taxed when sold (vat_rate is refused).
    if vat:
        postings += _vat_move(b.account("vat_on_deposits"), b.account("vat_due"), vat)
    b.put(Voucher(code, e.id, e.get("purpose"), amount, vat), code)
    kind = "usage unique" if single else "usages multiples"
    b.add(f"Bon cadeau {code} ({kind})", postings, links=(link("voucher", code),), meta=(("voucher", code),))


def book_cash(b: _Builder) -> None:
    e = b.event
    kind, amount = e.get("kind"), e.get("amount")
    cash, transit = b.account("cash"), b.account("transit")
    label = e.get("label")
    if kind == "bank_deposit":
        postings, narration = [Posting(transit, amount), Posting(cash, -amount)], "Remise d'espèces en banque"
    elif kind == "float":
        postings, narration = [Posting(cash, amount), Posting(transit, -amount)], "Fonds de caisse"
    elif kind == "expense":
        account = b.chart.account(e.get("account") or b.chart.roles["default_expense"])
        postings, narration = [Posting(account, amount), Posting(cash, -amount)], "Dépense de caisse"
    elif amount < 0:
        postings, narration = [Posting(b.account("losses"), -amount), Posting(cash, amount)], "Écart de caisse (manquant)"
    else:
        postings, narration = [Posting(cash, amount), Posting(b.account("gains"), -amount)], "Écart de caisse (excédent)"
    if label:
        narration = f"{narration} : {label}"
    b.add(narration, postings, meta=(("cash-kind", kind),))


RULES: dict[str, Callable[[_Builder], None]] = {
    "deposit.received": book_deposit,
    "invoice.issued": book_invoice,
    "payment.received": book_payment,
    "credit_note.issued": book_credit_note,
    "refund.issued": book_refund,
    "deposit.forfeited": book_forfeit,
    "voucher.sold": book_voucher,
    "cash.movement": book_cash,
}


def book(event: Event, view: StateView, settings: Settings) -> tuple[Booked | None, FieldProblems]:
    """Turn one event into transactions and state changes, or problems."""
    builder = _Builder(event, view, settings)
    try:
        RULES[event.type](builder)
    except Rejected as exc:
        return None, exc.problems
    return builder.result(), []


def likely_reads(events: list[Event]) -> dict[type, set[str]]:
    """The state records booking ``events`` will read, by record type.

    Only a hint, for speed: the index can read these in a few queries
    instead of one per event. A record missed here is read when asked for.
    """
    reads: dict[type, set[str]] = {CustomerRecord: set(), Holder: set(), Invoice: set(), Voucher: set(),
                                   DocumentNumber: set()}
    for event in events:
        f = event.fields
        if "customer" in f:
            reads[CustomerRecord].add(f["customer"].ref)
        if "booking" in f:
            reads[Holder].add(f"b:{f['booking']}")
        if "invoice" in f:
            reads[Invoice].add(f["invoice"])
        if "voucher" in f:
            reads[Voucher].add(f["voucher"])
        if event.type == "voucher.sold":
            reads[Voucher].add(f["code"])
        if event.type in ("invoice.issued", "credit_note.issued"):
            reads[DocumentNumber].add(f["number"])
        if event.type == "invoice.issued" and "booking" not in f:
            reads[Holder].add(_holder_key(None, f["number"]))
    return reads
