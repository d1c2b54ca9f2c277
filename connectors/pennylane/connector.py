"""The Pennylane connector: make Pennylane hold one ledger transaction, exactly once.

``push`` maps the transaction (``mapping``, pure), resolves the remote
records it refers to, and sends (``client``, the only I/O):

- an invoice or credit note: find or create its customer and products,
  ``POST /customer_invoices`` (finalized), read the entry Pennylane posted,
  post the reconciliation OD entry when that entry differs from the ledger's
  (see ``mapping``), and for a credit note link it to its invoice and letter
  it with the invoice's receivable line;
- anything else: ``POST /ledger_entries`` in the cash or OD journal, then
  letter its 411 lines with the receivable line of the invoice they settle.

Idempotency: Pennylane has none. The caller's key goes into the document's
``external_reference`` or the entry's ``piece_number``; when ``uncertain``,
the document is looked up by it first (invoices by ``external_reference``;
entries by journal, date and piece number) and ``exists`` is returned
instead of a second copy, after finishing whatever follow-up a failed
attempt may have left undone. Each follow-up is safe to repeat: the
reconciliation entry is looked up by its own piece number before it is
posted again, linking a credit note twice is a no-op, and lettering lines
already lettered together leaves the group as it was. A document found
under the key but with another customer or total raises ``ConflictError``.

Caches (per connector, i.e. per replay run) keep the ids of journals,
accounts, customers, products and invoice receivable lines, so a replay
costs about 2-3 requests per transaction once the chart is known; each is
rebuilt from Pennylane when missing, so a replay resumed in a new process
needs no local state beyond the replay loop's.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from connectors.base import PushResult
from connectors.errors import ConflictError
from connectors.errors import PermanentError
from connectors.pacing import Pacer
from connectors.pennylane import mapping
from connectors.pennylane.client import PennylaneClient
from connectors.pennylane.mapping import Account
from connectors.pennylane.mapping import CustomerPlan
from connectors.pennylane.mapping import DocumentPlan
from connectors.pennylane.mapping import EntryPlan
from connectors.pennylane.mapping import ProductPlan
from engine.chart import customer_component
from engine.journal import LedgerTxn

__all__ = ["PennylaneConnector"]

Record = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Customer:
    id: int
    account_id: int


@dataclass(frozen=True, slots=True)
class _Receivable:
    """An invoice on Pennylane and the id of its line on the customer's account."""

    invoice_id: int
    line_id: int


def _signed(line: Record) -> Decimal:
    return Decimal(line["debit"]) - Decimal(line["credit"])


class PennylaneConnector:
    """Replays ledger transactions to one Pennylane company (``connectors.base.Connector``)."""

    provider = "pennylane"

    def __init__(
        self,
        client: httpx.Client | PennylaneClient,
        journal_code: str = "CA",
        *,
        journal_label: str = "Caisse et banque (Partida)",
        od_journal_code: str = "OD",
        od_journal_label: str = "Opérations diverses",
        pacer: Pacer | None = None,
    ) -> None:
        """Build a connector on one Pennylane company.

        Args:
            client: an ``httpx.Client`` on the API root with the caller's auth
                (wrapped in a ``PennylaneClient``), or a ``PennylaneClient``.
            journal_code: code (2 to 5 letters) of the journal that receives
                the cash movements; found, or created with ``journal_label``.
            od_journal_code: the journal of deposit applications and
                reconciliation entries (``OD`` exists in a new company).
            pacer: request pacing when ``client`` is an ``httpx.Client``
                (default 25 requests per 5 s).
        """
        self.api = client if isinstance(client, PennylaneClient) else PennylaneClient(client, pacer=pacer)
        self.journal_codes = {"cash": journal_code, "od": od_journal_code}
        self._journal_labels = {journal_code: journal_label, od_journal_code: od_journal_label}
        self._journals: dict[str, int] = {}
        self._accounts: dict[str, int] = {}
        self._customer_accounts: dict[str, int] = {}  # ledger customer component -> account id
        self._customers: dict[str, _Customer] = {}
        self._products: dict[str, int] = {}
        self._receivables: dict[str, _Receivable] = {}  # ledger invoice number -> remote

    # -- the Connector protocol ------------------------------------------------------------

    def describe(self, txn: LedgerTxn) -> list[str]:
        """What ``push`` would send for ``txn``, one line per request (no I/O)."""
        return mapping.describe(txn, "<key>", self.journal_codes)

    def push(self, txn: LedgerTxn, key: str, uncertain: bool) -> PushResult:
        """Make Pennylane hold ``txn`` once (see the module docstring)."""
        target = mapping.plan(txn, key)
        if target is None:
            return PushResult("skipped")
        if isinstance(target, DocumentPlan):
            return self._push_document(target, uncertain)
        return self._push_entry(target, uncertain)

    def close(self) -> None:
        """Close the HTTP client."""
        self.api.close()

    # -- documents ------------------------------------------------------------------------------

    def _push_document(self, doc: DocumentPlan, uncertain: bool) -> PushResult:
        customer = self._customer(doc.customer)
        # A credit note's invoice must be there first: no orphan credit note.
        credited = self._receivable(doc.credited, customer.account_id) if doc.credited else None
        found = self.api.find_invoice(doc.key) if uncertain else None
        if found is not None:
            self._check_document(doc, found, customer)
            invoice = found
        else:
            invoice = self._create_document(doc, customer)
        lines = self.api.entry_lines(invoice["ledger_entry"]["id"])
        line_id = self._receivable_line(lines, customer.account_id, doc.label)
        if doc.kind == "invoice":
            self._receivables[doc.number] = _Receivable(invoice["id"], line_id)
        if credited is not None:
            self.api.link_credit_note(credited.invoice_id, invoice["id"])
        self._reconcile(doc, lines, look_up=found is not None)
        if credited is not None:
            self.api.letter(mapping.lettering_body([credited.line_id, line_id]))
        return PushResult("exists" if found is not None else "sent", str(invoice["id"]))

    def _create_document(self, doc: DocumentPlan, customer: _Customer) -> Record:
        accounts = self._account_ids([line.account for line in doc.lines])
        products = {p.ref: self._product(p, accounts[p.account]) for p in doc.products}
        return self.api.create_invoice(mapping.document_body(doc, customer.id, accounts, products))

    def _check_document(self, doc: DocumentPlan, found: Record, customer: _Customer) -> None:
        # Pennylane's rounding may differ from the mapping's by a cent per line.
        tolerance = Decimal("0.01") * len(doc.lines)
        if found["customer"]["id"] != customer.id or abs(Decimal(found["amount"]) - doc.total) > tolerance:
            raise ConflictError(f"{doc.label}: Pennylane holds document {found['id']} under key {doc.key} with "
                                f"another customer or total ({found['amount']} instead of {doc.total})")

    def _receivable_line(self, lines: list[Record], account_id: int, label: str) -> int:
        for line in lines:
            if line["ledger_account"]["id"] == account_id:
                return int(line["id"])
        raise PermanentError(f"{label}: Pennylane's entry has no line on the customer's account")

    def _reconcile(self, doc: DocumentPlan, remote: list[Record], *, look_up: bool) -> None:
        """Post what the document's remote entry lacks to equal the ledger's transaction."""
        local_ids = self._account_ids([line.account for line in doc.local])
        difference = mapping.reconcile(((local_ids[line.account], line.amount) for line in doc.local),
                                       ((line["ledger_account"]["id"], _signed(line)) for line in remote))
        if not difference:
            return
        journal_id = self._journal("od")
        if look_up and self.api.find_entry(journal_id, doc.date, mapping.reconciliation_piece(doc.key)):
            return
        self.api.create_entry(mapping.reconciliation_body(doc, journal_id, difference))

    # -- entries ---------------------------------------------------------------------------------

    def _push_entry(self, entry: EntryPlan, uncertain: bool) -> PushResult:
        journal_id = self._journal(entry.journal)
        accounts = self._account_ids([line.account for line in entry.lines], entry.customer)
        found = self.api.find_entry(journal_id, entry.date, entry.piece_number) if uncertain else None
        if found is not None:
            lines = self.api.entry_lines(found["id"])
            self._check_entry(entry, found, lines)
            entry_id = found["id"]
        else:
            created = self.api.create_entry(mapping.entry_body(entry, journal_id, accounts))
            lines, entry_id = created["ledger_entry_lines"], created["id"]
        if entry.invoice and entry.receivable_lines:
            own = {accounts[line.account] for line in entry.receivable_lines}
            settled = self._receivable(entry.invoice, next(iter(own)))
            ids = [int(line["id"]) for line in lines if line["ledger_account"]["id"] in own]
            self.api.letter(mapping.lettering_body([settled.line_id, *ids]))
        return PushResult("exists" if found is not None else "sent", str(entry_id))

    def _check_entry(self, entry: EntryPlan, found: Record, lines: list[Record]) -> None:
        wanted = sum((line.amount for line in entry.lines if line.amount > 0), Decimal(0))
        held = sum((Decimal(line["debit"]) for line in lines), Decimal(0))
        if wanted != held:
            raise ConflictError(f"{entry.label}: Pennylane holds entry {found['id']} under piece number "
                                f"{entry.piece_number} with other amounts ({held} debited, not {wanted})")

    # -- invoices settled by a transaction ------------------------------------------------------------

    def _receivable(self, number: str, account_id: int) -> _Receivable:
        """Invoice ``number``'s receivable line, from the cache or found again on Pennylane."""
        known = self._receivables.get(number)
        if known is not None:
            return known
        customer = self.api.customer_by_account(account_id)
        label = mapping.document_label("invoice", number)
        invoice = next((i for i in self.api.invoices_of(customer["id"]) if i.get("label") == label),
                       None) if customer else None
        if invoice is None:
            raise PermanentError(f"invoice {number} is not on Pennylane: replay it first")
        line_id = self._receivable_line(self.api.entry_lines(invoice["ledger_entry"]["id"]), account_id, label)
        self._receivables[number] = _Receivable(invoice["id"], line_id)
        return self._receivables[number]

    # -- remote records: found, else created ------------------------------------------------------------

    def _journal(self, kind: str) -> int:
        code = self.journal_codes[kind]
        if code.upper() not in self._journals:
            self._journals.update({j["code"].upper(): j["id"] for j in self.api.journals()})
        if code.upper() not in self._journals:
            self._journals[code.upper()] = self.api.create_journal(code, self._journal_labels[code])["id"]
        return self._journals[code.upper()]

    def _customer(self, plan: CustomerPlan) -> _Customer:
        known = self._customers.get(plan.ref)
        if known is not None:
            return known
        record = self.api.find_customer(plan.ref)
        if record is None:
            if plan.name is None:
                raise PermanentError(f"customer {plan.ref} is not on Pennylane and this transaction "
                                     "does not carry its details: replay its invoice first")
            record = self.api.create_customer(*mapping.customer_request(plan))
        if not record.get("ledger_account"):
            raise PermanentError(f"Pennylane customer {record['id']} ({plan.ref}) has no ledger account")
        customer = _Customer(record["id"], record["ledger_account"]["id"])
        self._customers[plan.ref] = customer
        self._customer_accounts[plan.account.customer] = customer.account_id
        return customer

    def _account_ids(self, accounts: Iterable[Account], customer_ref: str | None = None) -> dict[Account, int]:
        """Ids of ``accounts``: cached, else found by number (one request), else
        created; a customer's account is found through its customer when its
        number is not the one this connector gives."""
        wanted = set(accounts)
        missing = [a for a in wanted if not self._known(a)]
        if missing:
            found = self.api.accounts(sorted({a.number for a in missing}))
            self._accounts.update({record["number"]: record["id"] for record in found})
        for account in missing:
            if account.customer and account.number in self._accounts:
                self._customer_accounts[account.customer] = self._accounts[account.number]
            elif account.customer:
                self._customer_account(account, customer_ref)
            elif account.number not in self._accounts:
                self._accounts[account.number] = self.api.create_account(account.number, account.label)["id"]
        return {a: self._customer_accounts.get(a.customer) or self._accounts[a.number] for a in wanted}

    def _known(self, account: Account) -> bool:
        return account.customer in self._customer_accounts if account.customer else account.number in self._accounts

    def _customer_account(self, account: Account, customer_ref: str | None) -> None:
        """Find a customer's account through the customer (created outside Partida)."""
        refs = [ref for ref in (customer_ref, account.customer.removeprefix("C-"))
                if ref and customer_component(ref) == account.customer]
        if not refs:
            raise PermanentError(f"no Pennylane account for the ledger's customer {account.customer}")
        self._customer(CustomerPlan(refs[0], account))

    def _product(self, plan: ProductPlan, account_id: int) -> int:
        if plan.ref not in self._products:
            record = self.api.find_product(plan.ref) or self.api.create_product(mapping.product_body(plan, account_id))
            self._products[plan.ref] = record["id"]
        return self._products[plan.ref]

    # -- for reports and tests ---------------------------------------------------------------------

    def trial_balance(self, start: datetime.date, end: datetime.date) -> list[Record]:
        """Pennylane's trial balance over ``[start, end]`` (auxiliary accounts folded)."""
        return self.api.trial_balance(start, end)
