"""Shared pieces of the QuickBooks connector tests: ledgers, a FR-edition sandbox, the checks.

The checks compare a sandbox company with a ledger the way the brief puts
it: the TrialBalance per mapped account, each invoice's Balance against its
open amount, and one remote object per local transaction.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from conftest import REPO
from conftest import jsonl

from connectors.pacing import Pacer
from connectors.quickbooks import charts
from connectors.quickbooks import mapping
from connectors.quickbooks import references
from connectors.quickbooks import xsd
from connectors.quickbooks.connector import WINDOW
from connectors.quickbooks.connector import QuickBooksConnector
from connectors.quickbooks.mapping import ApplicationPlan
from connectors.quickbooks.sandbox import create_app
from connectors.sandbox.server import running
from connectors.syncstate import idempotency_key
from engine.journal import LedgerTxn
from engine.journal import read_transactions
from engine.ledger import LedgerSession
from engine.ledger import init_ledger
from engine.ledger import record_batch
from engine.settings import Settings

UNPACED = (1_000_000, 1.0)  # for sandboxes whose limits are off: no client pacing either
SEASON = REPO / "ledgers" / "example" / "season.jsonl"
TRANSACTION_ENTITIES = ("Invoice", "CreditMemo", "RefundReceipt", "Payment", "JournalEntry", "Deposit")
# POST /<path> -> the XSD element of its body.
XSD_ENTITIES = {name.lower(): name for name in ("Invoice", "CreditMemo", "RefundReceipt", "Payment",
                                                 "JournalEntry", "Deposit", "Customer", "Item", "Account")}


# -- ledgers ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Ledger:
    root: Path
    txns: list[LedgerTxn]

    def key(self, txn: LedgerTxn) -> str:
        """The key the replay loop gives ``txn``."""
        return idempotency_key("quickbooks", txn.event_id, txn.seq)

    def copy(self, where: Path) -> Ledger:
        """The same ledger in another folder (its own replay state)."""
        shutil.copytree(self.root, where)
        return Ledger(where, self.txns)

    def plans(self) -> list[tuple[str, mapping.Plan | None]]:
        return [(self.key(t), mapping.plan(t, self.key(t))) for t in self.txns]

    def balances(self) -> dict[charts.AccountSpec, Decimal]:
        """Local balances folded per mapped QuickBooks account (debit positive)."""
        sums: dict[charts.AccountSpec, Decimal] = {}
        for txn in self.txns:
            for posting in txn.postings:
                spec = charts.remote_account(charts.FR_PCG, posting.account)[0]
                sums[spec] = sums.get(spec, Decimal(0)) + posting.amount
        return {spec: amount for spec, amount in sums.items() if amount}

    def open_amounts(self) -> dict[str, Decimal]:
        """Invoice number -> what is still due (negative: the customer is in credit)."""
        numbers = {t.get("invoice") for t in self.txns if t.event_type == "invoice.issued" and t.get("step") is None}
        with LedgerSession(self.root) as session:
            assert session.index is not None
            return {n: session.index.invoice(n).open for n in numbers if n}  # type: ignore[union-attr]


def make_ledger(root: Path, events: bytes, **settings: Any) -> Ledger:
    init_ledger(root, Settings(company="Les Gorges Vives SARL", **settings))
    result = record_batch(root, events)
    assert not result.problems, result.problems
    return Ledger(root, read_transactions(root))


def season_ledger(root: Path) -> Ledger:
    return make_ledger(root, SEASON.read_bytes())


def events_ledger(root: Path, *events: dict[str, Any], **settings: Any) -> Ledger:
    return make_ledger(root, jsonl(*events), **settings)


# -- the sandbox -----------------------------------------------------------------------------------------

class XsdTransport(httpx.BaseTransport):
    """A real transport that checks every body sent against Intuit's XSD."""

    def __init__(self, schema: Any) -> None:
        self.inner = httpx.HTTPTransport()
        self.schema = schema
        self.checked: Counter[str] = Counter()
        self.problems: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.content:
            self._check(request.url.path.rsplit("/", 1)[-1], json.loads(request.content, parse_float=Decimal))
        return self.inner.handle_request(request)

    def _check(self, path: str, body: Any) -> None:
        if path == "batch":
            for item in body["BatchItemRequest"]:
                for name in set(item) & set(XSD_ENTITIES.values()):
                    self._validate(name, item[name])
        elif path in XSD_ENTITIES:
            self._validate(XSD_ENTITIES[path], body)

    def _validate(self, entity: str, body: Any) -> None:
        self.checked[entity] += 1
        self.problems += [f"{entity}: {problem}" for problem in xsd.validate(entity, body, self.schema)]

    def close(self) -> None:
        self.inner.close()


@dataclass
class Remote:
    """A running sandbox, one FR-edition company and ways to look at it."""

    base: str
    app: Any
    admin: httpx.Client
    realm: str
    clients: list[httpx.Client] = field(default_factory=list)

    def connector(self, *, pacer: Pacer | None = None, batch_pacer: Pacer | None = None,
                  transport: httpx.BaseTransport | None = None, window: int = WINDOW) -> QuickBooksConnector:
        token = self.admin.post(f"/sandbox/companies/{self.realm}/tokens").json()["access_token"]
        http = httpx.Client(base_url=f"{self.base}/v3/company/{self.realm}", transport=transport, timeout=30,
                            headers={"authorization": f"Bearer {token}"})
        self.clients.append(http)
        return QuickBooksConnector(http, pacer=pacer or Pacer(*UNPACED), batch_pacer=batch_pacer or Pacer(*UNPACED),
                                   window=window)

    def state(self) -> dict[str, Any]:
        return dict(self.admin.get("/sandbox/state").json())

    def company(self) -> dict[str, Any]:
        return dict(self.state()["realms"][self.realm])


@contextlib.contextmanager
def sandbox(**options: Any) -> Iterator[Remote]:
    """The sandbox with a new FR-edition company; its limits are off unless given."""
    for limit in ("rate_limit", "batch_rate_limit", "concurrency"):
        options.setdefault(limit, None)
    app = create_app(**options)
    with running(app) as base, httpx.Client(base_url=base, timeout=30) as admin:
        realm = admin.post("/sandbox/companies", json={"edition": "FR"}).json()["realmId"]
        remote = Remote(base, app, admin, realm)
        try:
            yield remote
        finally:
            for client in remote.clients:
                client.close()


# -- the checks ------------------------------------------------------------------------------------------

def trial_balance_differences(connector: QuickBooksConnector, ledger: Ledger) -> dict[str, tuple[Any, Any]]:
    """Per QuickBooks account: (local, remote) where they differ; {} when the books agree."""
    days = [t.date for t in ledger.txns]
    start = datetime.date(min(days).year, 1, 1)
    remote = {k: v for k, v in connector.api.trial_balance(start, max(days)).items() if v}
    local: dict[str, Decimal] = {}
    for spec, amount in ledger.balances().items():
        ident = connector.account_id(spec)
        assert ident is not None, f"{spec.name} is not on QuickBooks"
        local[ident] = local.get(ident, Decimal(0)) + amount
    local = {k: v for k, v in local.items() if v}
    return {k: (local.get(k), remote.get(k)) for k in set(local) | set(remote) if local.get(k) != remote.get(k)}


def invoice_balance_differences(connector: QuickBooksConnector, ledger: Ledger) -> dict[str, tuple[Any, Any]]:
    """Invoice number -> (open locally, Balance on QuickBooks) where they differ."""
    remote = {row["DocNumber"]: Decimal(str(row["Balance"])) for row in connector.api.query("SELECT * FROM Invoice")}
    out = {}
    for number, open_amount in ledger.open_amounts().items():
        balance = remote.get(references.doc_number(number))
        if balance != max(open_amount, Decimal(0)):
            out[number] = (open_amount, balance)
    return out


def objects_by_key(company: dict[str, Any]) -> tuple[Counter[str], Counter[str]]:
    """(key -> remote transaction objects whose PrivateNote starts with it,
    application key -> payments that record it), from ``/sandbox/state``."""
    objects: Counter[str] = Counter()
    applications: Counter[str] = Counter()
    for entity in TRANSACTION_ENTITIES:
        for text, count in company["private_notes"][entity].items():
            objects[references.note_key(text) or ""] += count
            for key in references.applied_marks(text):
                applications[key] += count
    return objects, applications


def assert_one_object_per_transaction(company: dict[str, Any], ledger: Ledger) -> None:
    """Each transaction is held by exactly one remote object under its key; a
    deposit application (it edits the payments it applies) by the payments
    that record it; a credit note applied to its open invoice adds its zero
    payment (``<key>/apply``). Nothing twice."""
    plans = ledger.plans()
    objects, applications = objects_by_key(company)
    own = Counter({key: n for key, n in objects.items() if not key.endswith("/apply")})
    assert own == Counter({key: 1 for key, p in plans if p is not None and not isinstance(p, ApplicationPlan)})
    assert set(applications) == {key for key, p in plans if isinstance(p, ApplicationPlan)}
    assert all(n == 1 for n in objects.values())
    assert not any(company["duplicates"]["DocNumber"].values())
    assert not any(company["duplicates"]["PrivateNote"].values())
    entities = Counter(p.entity for _, p in plans if isinstance(p, (mapping.SalesPlan, mapping.EntryPlan)))
    entities["Payment"] = sum(1 for _, p in plans if isinstance(p, mapping.PaymentPlan)) + \
        sum(1 for key in objects if key.endswith("/apply"))
    assert {e: company["counts"][e] for e in TRANSACTION_ENTITIES if company["counts"][e]} == +entities
