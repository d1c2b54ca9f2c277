"""`partida audit quickbooks` against the QuickBooks sandbox (FR edition), as a user runs it.

The example season is synced once (module fixture) with the real replay
loop over HTTP; each test gets its own copy of the ledger and of the
sandbox's state, connected with OAuth credentials, and may then alter the
company behind Partida's back with the sandbox's tampering endpoints. What
each alteration must produce is computed from the ledger and from the
QuickBooks records themselves, not from the audit.
"""

from __future__ import annotations

import datetime
import json
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import partida
from qbo_support import UNPACED
from qbo_support import Ledger
from qbo_support import season_ledger

from connectors.audit import Expected
from connectors.pacing import Pacer
from connectors.quickbooks import charts
from connectors.quickbooks import mapping
from connectors.quickbooks import references
from connectors.quickbooks.audit import QuickBooksExpectations
from connectors.quickbooks.audit import QuickBooksReader
from connectors.quickbooks.client import QuickBooksClient
from connectors.quickbooks.connector import QuickBooksConnector
from connectors.quickbooks.sandbox import TOKEN_PATH
from connectors.quickbooks.sandbox import create_app
from connectors.replay import sync
from connectors.retry import RetryPolicy
from connectors.sandbox.server import running
from connectors.syncstate import SyncState
from connectors.tokens import Credentials
from connectors.tokens import TokenStore
from connectors.tokens import connection_key
from engine.journal import LedgerTxn
from engine.ledger import LedgerSession

D = Decimal
CENT = D("0.01")
FAST = {"PARTIDA_RATE_LIMIT": "1000/1"}
YEAR = ("--from", "2026-01-01", "--to", "2026-12-31")
NO_LIMITS = {"rate_limit": None, "batch_rate_limit": None, "concurrency": None}
NO_WAIT = RetryPolicy(attempts_max=30, sleep=lambda _s: None)
CHART = charts.CHART_MAPS["fr-pcg"]


@dataclass(frozen=True)
class Template:
    ledger: Ledger
    state: Path  # the sandbox's data right after the sync
    realm: str
    tokens: dict[str, Any]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    folder = tmp_path_factory.mktemp("qbo-audit")
    ledger = season_ledger(folder / "ledger")
    app = create_app(**NO_LIMITS)
    with running(app) as base, httpx.Client(base_url=base, timeout=30) as admin:
        realm = admin.post("/sandbox/companies", json={"edition": "FR"}).json()["realmId"]
        tokens = admin.post(f"/sandbox/companies/{realm}/tokens").json()
        http = httpx.Client(base_url=f"{base}/v3/company/{realm}", timeout=30,
                            headers={"authorization": f"Bearer {tokens['access_token']}"})
        connector = QuickBooksConnector(http, pacer=Pacer(*UNPACED), batch_pacer=Pacer(*UNPACED))
        try:
            for _ in range(5):
                summary = sync(ledger.root, connector, since=datetime.date(2000, 1, 1), retry=NO_WAIT)
                if summary.stopped is None:
                    break
            assert (summary.failed, summary.parked, summary.stopped) == ([], [], None)
        finally:
            connector.close()
    state = folder / "sandbox.json"
    state.write_text(json.dumps(app.state.sandbox.store.data), encoding="utf-8")
    return Template(ledger, state, realm, tokens)


@dataclass
class World:
    """A synced ledger and its own sandbox, connected."""

    root: Path
    base: str
    realm: str
    env: dict[str, str]
    admin: httpx.Client  # /sandbox/ endpoints
    api: httpx.Client  # the QuickBooks API, with the company's token
    ledger: Ledger

    def audit(self, *args: str, env: dict[str, str] | None = None) -> Any:
        return partida("audit", "quickbooks", "--ledger", str(self.root), *args, env=env or self.env)

    def audit_json(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = self.audit(*YEAR, "--format", "json", *args)
        assert result.returncode in (0, 1), result.stderr
        assert "Traceback" not in result.stderr
        return result.returncode, json.loads(result.stdout)

    def company(self) -> dict[str, Any]:
        state = dict(self.admin.get("/sandbox/state").json())["realms"][self.realm]
        state.pop("inflight")
        return state

    def tamper(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.admin.request(method, f"/sandbox/companies/{self.realm}/{path}", json=body)
        assert response.status_code in (200, 201, 204), response.text
        return dict(response.json()) if response.content else {}

    def read(self, entity: str, ident: str) -> dict[str, Any]:
        return dict(self.api.get(f"/{entity.lower()}/{ident}").json()[entity])

    def query(self, statement: str) -> list[dict[str, Any]]:
        response = self.api.get("/query", params={"query": statement}).json()["QueryResponse"]
        return next((list(v) for v in response.values() if isinstance(v, list)), [])

    def account_key(self, ident: str) -> str:
        return key_of(self.read("Account", ident))


def key_of(account: dict[str, Any]) -> str:
    """How the audit names a QuickBooks account, from the account itself."""
    spec = next((s for s in CHART.accounts.values() if s.number and s.number == account.get("AcctNum")), None) \
        or next((s for s in CHART.accounts.values() if s.name.casefold() == account["Name"].casefold()), None)
    return (spec.number or spec.name) if spec else (account.get("AcctNum") or account["Name"])


def store_credentials(path: Path, root: Path, base: str, realm: str, tokens: dict[str, Any]) -> dict[str, str]:
    creds = Credentials("oauth", base, tokens["access_token"], tokens["refresh_token"], time.time() + 3000,
                        base + TOKEN_PATH, tokens["client_id"], tokens["client_secret"], {"realmId": realm})
    TokenStore(path).put(connection_key("quickbooks", root), creds)
    return {"PARTIDA_TOKENS": str(path), **FAST}


@pytest.fixture
def world(template: Template, tmp_path: Path) -> Iterator[World]:
    root = tmp_path / "ledger"
    shutil.copytree(template.ledger.root, root, ignore=shutil.ignore_patterns("audit"))
    state = tmp_path / "sandbox.json"
    shutil.copyfile(template.state, state)
    realm, tokens = template.realm, template.tokens
    with running(create_app(state_path=state, **NO_LIMITS)) as base, \
            httpx.Client(base_url=base, timeout=30) as admin, \
            httpx.Client(base_url=f"{base}/v3/company/{realm}", timeout=30,
                         headers={"authorization": f"Bearer {tokens['access_token']}"}) as api:
        env = store_credentials(tmp_path / "tokens.json", root, base, realm, tokens)
        yield World(root, base, realm, env, admin, api, Ledger(root, template.ledger.txns))


# -- what the ledger says ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Doc:
    txn: LedgerTxn
    key: str  # the business key: an invoice's DocNumber, a payment's replay key
    remote_id: str
    plan: Any
    amount: Decimal
    open: Decimal | None = None  # invoices: what is still due in the ledger


def ledger_docs(world: World) -> tuple[dict[str, Doc], list[Doc]]:
    """Invoices by number, and the payments, from the ledger and its replay state."""
    state = SyncState(world.root, "quickbooks")
    try:
        items = {item.seq: item for item in state.items(("synced",))}
    finally:
        state.close()
    invoices: dict[str, Doc] = {}
    payments: list[Doc] = []
    with LedgerSession(world.root) as session:
        assert session.index is not None
        for txn in world.ledger.txns:
            item = items[txn.seq]
            plan = mapping.plan(txn, item.key)
            if isinstance(plan, mapping.SalesPlan) and plan.entity == "Invoice":
                record = session.index.invoice(plan.number)
                assert record is not None
                invoices[plan.number] = Doc(txn, references.doc_number(plan.number), item.remote_id, plan,
                                            plan.total, record.open)
            elif isinstance(plan, mapping.PaymentPlan):
                payments.append(Doc(txn, item.key, item.remote_id, plan, plan.total))
    return invoices, payments


def expected_count(ledger: Ledger) -> int:
    """Documents the season should have on QuickBooks: every plan but deposit applications."""
    return sum(1 for _, plan in ledger.plans() if plan is not None and not isinstance(plan, mapping.ApplicationPlan))


def ledger_movements(ledger: Ledger) -> dict[str, Decimal]:
    """The ledger's movements summed per QuickBooks account (as the audit names them)."""
    out: Counter[str] = Counter()
    for txn in ledger.txns:
        for posting in txn.postings:
            spec = charts.remote_account(CHART, posting.account)[0]
            out[spec.number or spec.name] += posting.amount
    return {key: amount for key, amount in out.items() if amount}


def by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["key"]: d for d in report["documents"]}


# -- a clean sync ------------------------------------------------------------------------------------------

def test_a_clean_sync_audits_without_difference(world: World) -> None:
    before = world.company()
    documents = expected_count(world.ledger)
    result = world.audit(*YEAR)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "Trial balance (movements of the period, debit positive)" in result.stdout
    assert f"Documents ({documents}): {documents} match" in lines
    assert "Drift per account: none" in lines and "Oldest unsynced transaction: none" in lines
    assert lines[-1] == "OK: nothing differs beyond rounding"

    code, report = world.audit_json()
    assert code == 0 and report["ok"] is True
    assert report["summary"]["counts"]["match"] == report["summary"]["documents"] == documents
    assert report["summary"]["transactions"] == len(world.ledger.txns)
    # At QuickBooks' granularity: the VAT numbers in one tax account, 411 and the customers' 4191 in A/R.
    lines_ = {a["account"]: a for a in report["trial_balance"]}
    assert {k: D(a["local"]) for k, a in lines_.items()} == ledger_movements(world.ledger)
    assert all(a["difference"] == "0.00" and a["local"] == a["remote"] for a in lines_.values())
    assert lines_["TVA collectée"]["label"] == "TVA collectée — ledger 44571, 44574, 44588"
    assert lines_["Clients"]["label"] == "Clients — ledger 411, 4191 (customers)"
    assert "706" in lines_ and "512" in lines_
    assert world.company() == before  # the audit only reads
    assert len(list((world.root / "audit").glob("quickbooks-*.json"))) == 2  # each run kept


# -- behind Partida's back -----------------------------------------------------------------------------------

def single_line(doc: Doc) -> bool:
    plan = doc.plan
    return len(plan.lines) == 1 and len(plan.vat) == 1 and plan.vat[0][0] > 0


def recomputed_total(doc: Doc, delta: Decimal) -> Decimal:
    """The total QuickBooks computes once the only line's amount moves by ``delta`` (tax per line)."""
    net = doc.plan.lines[0].amount + delta
    rate = doc.plan.vat[0][0]
    return net + (net * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)


def pick(invoices: dict[str, Doc], payments: list[Doc], credited: set[str]) -> dict[str, Doc]:
    """Distinct documents for each alteration."""
    paid_once = Counter(p.plan.invoice for p in payments)
    settling = next(p for p in payments if p.plan.invoice and paid_once[p.plan.invoice] == 1
                    and invoices[p.plan.invoice].open == 0 and p.plan.applied == p.plan.total)
    settled = invoices[settling.plan.invoice]
    other_payment = next(p for p in payments if p.plan.invoice not in (None, settled.plan.number)
                         and p.plan.deposit_to.account_type == "Bank")
    taken = {settled.plan.number, other_payment.plan.invoice}
    free = [d for n, d in invoices.items() if n not in taken and n not in credited]
    open_one = next(d for d in free if d.open and d.open > 0)
    rest = [d for d in free if d is not open_one]
    plus_cent = next(d for d in rest if single_line(d) and recomputed_total(d, CENT) == d.amount + CENT)
    plus_one = next(d for d in rest if single_line(d) and d is not plus_cent)
    deleted = next(d for d in rest if d not in (plus_cent, plus_one))
    return {"deleted": deleted, "plus_one": plus_one, "plus_cent": plus_cent, "marked_paid": open_one,
            "payment": settling, "settled": settled, "payment_plus_one": other_payment}


def test_each_alteration_is_reported_in_its_class(world: World) -> None:
    invoices, payments = ledger_docs(world)
    credited = {p.credited for _, p in world.ledger.plans() if isinstance(p, mapping.SalesPlan) and p.credited}
    docs = pick(invoices, payments, credited)
    expect = QuickBooksExpectations(CHART)
    drift: Counter[str] = Counter()

    def lose(txn: LedgerTxn) -> None:  # what a deleted document no longer posts on QuickBooks
        for posting in txn.postings:
            drift[expect.account(posting.account)] -= posting.amount

    def sales_drift(record: dict[str, Any], sign: int) -> None:  # an invoice's postings (sign -1: removed)
        drift["Clients"] += sign * D(str(record["TotalAmt"]))
        drift["TVA collectée"] -= sign * D(str(record["TxnTaxDetail"]["TotalTax"]))
        for line in record["Line"]:
            if line.get("DetailType") == "SalesItemLineDetail":
                item = world.read("Item", line["SalesItemLineDetail"]["ItemRef"]["value"])
                drift[world.account_key(item["IncomeAccountRef"]["value"])] -= sign * D(str(line["Amount"]))

    # delete an invoice
    lose(docs["deleted"].txn)
    world.tamper("DELETE", f"invoice/{docs['deleted'].remote_id}")
    # change an amount by 1.00 and by 0.01: an invoice line (QuickBooks recomputes its tax), and a payment
    totals = {}
    for name, delta in (("plus_one", D("1.00")), ("plus_cent", CENT)):
        doc = docs[name]
        old = world.read("Invoice", doc.remote_id)
        new = world.tamper("PATCH", f"invoice/{doc.remote_id}", {"Amount": str(doc.plan.lines[0].amount + delta)})
        sales_drift(old, -1)
        sales_drift(new, 1)
        totals[name] = D(str(new["TotalAmt"]))
    assert totals["plus_one"] == recomputed_total(docs["plus_one"], D("1.00"))
    assert totals["plus_cent"] == docs["plus_cent"].amount + CENT
    paid_more = docs["payment_plus_one"]
    world.tamper("PATCH", f"payment/{paid_more.remote_id}", {"TotalAmt": str(paid_more.amount + 1)})
    bank = world.read("Payment", paid_more.remote_id)["DepositToAccountRef"]["value"]
    drift[world.account_key(bank)] += 1
    drift["Clients"] -= 1
    # mark an open invoice paid: a payment of its balance, made in QuickBooks
    marked = world.tamper("POST", f"invoice/{docs['marked_paid'].remote_id}/mark_paid")
    drift[world.account_key(marked["DepositToAccountRef"]["value"])] += D(str(marked["TotalAmt"]))
    drift["Clients"] -= D(str(marked["TotalAmt"]))
    # add unknown documents: an invoice and a journal entry
    template = world.read("Invoice", docs["marked_paid"].remote_id)
    line = next(line for line in template["Line"] if line.get("DetailType") == "SalesItemLineDetail")
    unknown = world.tamper("POST", "invoice", {
        "DocNumber": "HAND-1", "TxnDate": "2026-06-15", "CustomerRef": template["CustomerRef"],
        "Line": [{"Amount": "100.00", "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": line["SalesItemLineDetail"]["ItemRef"], "Qty": 1,
                                          "UnitPrice": "100.00",
                                          "TaxCodeRef": line["SalesItemLineDetail"]["TaxCodeRef"]}}]})
    sales_drift(unknown, 1)
    accounts = {key_of(a): a["Id"] for a in world.query("SELECT * FROM Account MAXRESULTS 1000")}
    entry = world.tamper("POST", "journalentry", {
        "DocNumber": "MANUEL-1", "TxnDate": "2026-06-16", "PrivateNote": "Écriture manuelle",
        "Line": [{"Amount": "50.00", "DetailType": "JournalEntryLineDetail",
                  "JournalEntryLineDetail": {"PostingType": "Debit", "AccountRef": {"value": accounts["512"]}}},
                 {"Amount": "50.00", "DetailType": "JournalEntryLineDetail",
                  "JournalEntryLineDetail": {"PostingType": "Credit", "AccountRef": {"value": accounts["706"]}}}]})
    drift["512"] += 50
    drift["706"] -= 50
    # drop a payment: the one that settled an invoice
    lose(docs["payment"].txn)
    world.tamper("DELETE", f"payment/{docs['payment'].remote_id}")

    before = world.company()
    code, report = world.audit_json()
    assert code == 1 and report["ok"] is False
    found = by_key(report)

    deleted = found[docs["deleted"].key]
    assert (deleted["class"], deleted["kind"], deleted["local"], deleted["remote"]) == (
        "missing_remote", "invoice", f"{docs['deleted'].amount:.2f}", None)
    assert f"synced as {docs['deleted'].remote_id}, no longer on the provider" in deleted["note"]
    plus_one = found[docs["plus_one"].key]
    assert (plus_one["class"], plus_one["local"], plus_one["remote"], plus_one["difference"]) == (
        "amount_differs", f"{docs['plus_one'].amount:.2f}", f"{totals['plus_one']:.2f}",
        f"{totals['plus_one'] - docs['plus_one'].amount:.2f}")
    assert D(plus_one["difference"]) >= 1
    plus_cent = found[docs["plus_cent"].key]
    assert (plus_cent["class"], plus_cent["difference"], plus_cent["remote"]) == (
        "rounding", "0.01", f"{docs['plus_cent'].amount + CENT:.2f}")
    paid = found[paid_more.key]
    assert (paid["class"], paid["kind"], paid["local"], paid["remote"], paid["difference"]) == (
        "amount_differs", "entry", f"{paid_more.amount:.2f}", f"{paid_more.amount + 1:.2f}", "1.00")
    marked_doc = found[docs["marked_paid"].key]
    assert (marked_doc["class"], marked_doc["local_status"], marked_doc["remote_status"]) == (
        "status_differs", "open", "paid")
    assert marked_doc["local"] == marked_doc["remote"] == f"{docs['marked_paid'].amount:.2f}"
    by_hand = found[f"(no reference: QuickBooks Payment {marked['Id']})"]
    assert (by_hand["class"], by_hand["kind"], by_hand["remote"]) == (
        "missing_local", "entry", f"{docs['marked_paid'].open:.2f}")
    hand_invoice, hand_entry = found["HAND-1"], found["MANUEL-1"]
    assert (hand_invoice["class"], hand_invoice["kind"], hand_invoice["local"], hand_invoice["remote"],
            hand_invoice["remote_id"]) == ("missing_local", "invoice", None, f"{D(str(unknown['TotalAmt'])):.2f}",
                                           unknown["Id"])
    assert (hand_entry["class"], hand_entry["kind"], hand_entry["remote"], hand_entry["remote_id"]) == (
        "missing_local", "entry", "50.00", entry["Id"])
    dropped = found[docs["payment"].key]
    assert (dropped["class"], dropped["kind"], dropped["local"], dropped["remote"]) == (
        "missing_remote", "entry", f"{docs['payment'].amount:.2f}", None)
    settled = found[docs["settled"].key]
    assert (settled["class"], settled["local_status"], settled["remote_status"]) == ("status_differs", "paid", "open")

    documents = expected_count(world.ledger)
    counts = report["summary"]["counts"]
    assert counts == {"match": documents - 7, "rounding": 1, "amount_differs": 2, "status_differs": 2,
                      "missing_remote": 2, "missing_local": 3}
    assert {a["account"]: a["difference"] for a in report["summary"]["drift"]} == \
        {account: f"{amount:.2f}" for account, amount in drift.items() if amount}
    assert world.company() == before  # findings, never put back

    table = world.audit(*YEAR)
    assert table.returncode == 1 and table.stdout.rstrip().endswith("DIFFERENCES FOUND")
    assert f"Documents ({documents + 3}): {documents - 7} match, 1 rounding, 2 amount_differs, 2 status_differs, " \
           "2 missing_remote, 3 missing_local" in table.stdout


def test_a_transaction_not_synced_is_missing_and_named_as_the_oldest(world: World) -> None:
    event = {"id": "late-1", "type": "cash.movement", "date": "2026-12-20", "kind": "expense", "amount": "12.00",
             "account": "6063", "label": "Ampoules"}
    partida("record", "--ledger", str(world.root), "-", input=(json.dumps(event) + "\n").encode(), check=True)
    code, report = world.audit_json()
    assert code == 1
    seq = len(world.ledger.txns) + 1
    assert report["summary"]["oldest_unsynced"] == {"seq": seq, "event_id": "late-1", "date": "2026-12-20",
                                                    "state": "pending"}
    missing = [d for d in report["documents"] if d["class"] != "match"]
    assert [(d["class"], d["event_id"], d["local"], d["note"]) for d in missing] == [
        ("missing_remote", "late-1", "12.00", "not synced (pending)")]
    assert {a["account"]: a["difference"] for a in report["summary"]["drift"]} == {"530": "12.00", "6063": "-12.00"}


# -- the reader -------------------------------------------------------------------------------------------------

def test_the_reader_only_reads_in_pages_of_1000(world: World) -> None:
    methods: Counter[str] = Counter()
    pages: set[str] = set()

    def spy(request: httpx.Request) -> None:
        methods[request.method] += 1
        query = request.url.params.get("query")
        if query:
            pages.add(query.rsplit("MAXRESULTS", 1)[1].strip())

    http = httpx.Client(base_url=f"{world.base}/v3/company/{world.realm}", headers=dict(world.api.headers),
                        event_hooks={"request": [spy]})
    reader = QuickBooksReader(QuickBooksClient(http, pacer=Pacer(1000, 1.0)), CHART)
    days = (datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    docs = reader.documents(*days)
    accounts = reader.trial_balance(*days)
    reader.close()
    assert set(methods) == {"GET"} and pages == {"1000"}
    assert len(docs) == expected_count(world.ledger)
    # six entities, the account list and two TrialBalance reports
    assert reader.stats()["requests"] == methods["GET"] == 6 + 1 + 2
    assert sum((a.amount for a in accounts), D(0)) == 0


def test_expectations_follow_the_mapping(template: Template) -> None:
    expect = QuickBooksExpectations(CHART)
    plans = [(t, mapping.plan(t, "k")) for t in template.ledger.txns]
    invoice, plan = next((t, p) for t, p in plans if isinstance(p, mapping.SalesPlan) and p.entity == "Invoice")
    assert expect.expected(invoice, "k") == [Expected(references.doc_number(plan.number), "invoice", plan.memo,
                                                      plan.total, sum(1 for r, _ in plan.vat if r), plan.number)]
    memo, plan = next((t, p) for t, p in plans if isinstance(p, mapping.SalesPlan) and p.entity == "CreditMemo")
    assert [(e.kind, e.amount) for e in expect.expected(memo, "k")] == [("credit_note", -plan.total)]
    applied = next(t for t, p in plans if isinstance(p, mapping.ApplicationPlan))
    assert expect.expected(applied, "k") == []
    assert expect.account("Assets:411-Clients:C-CUST-0001") == "Clients"
    assert expect.account("Liabilities:4191-ClientsAcomptes:C-CUST-0001") == "Clients"
    assert expect.account("Liabilities:4191-ClientsAcomptes") == "4191"
    assert expect.account("Liabilities:44574-TVACollecteeNonExigible") == "TVA collectée"
    assert expect.account("Expenses:6063-FournituresEntretien") == "6063"


# -- bad input ---------------------------------------------------------------------------------------------------

def assert_clean_failure(result: Any, *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in result.stderr, result.stderr


def test_a_period_with_no_data_is_a_clear_error(world: World) -> None:
    assert_clean_failure(world.audit("--from", "2031-01-01", "--to", "2031-12-31"),
                         "nothing to audit from 2031-01-01 to 2031-12-31")
    assert not (world.root / "audit").exists()


def test_an_unconnected_or_unreadable_ledger_is_a_clear_error(world: World, tmp_path: Path) -> None:
    env = {"PARTIDA_TOKENS": str(tmp_path / "none.json"), **FAST}
    assert_clean_failure(world.audit(*YEAR, env=env), "is not connected to quickbooks", "partida connect quickbooks")
    segment = next((world.root / "journal" / "2026").glob("*.beancount"))
    segment.write_bytes(segment.read_bytes()[:1000])
    assert_clean_failure(world.audit(*YEAR), "shorter than Partida wrote it")
    assert not (world.root / "audit").exists()


def test_a_remote_that_answers_errors_is_a_clear_error(world: World) -> None:
    world.admin.put("/sandbox/faults", json={"plan": "1:5xx=100%"})
    assert_clean_failure(world.audit(*YEAR), "quickbooks is not answering", "run the audit again later")
    world.admin.put("/sandbox/faults", json={"plan": None})

    # The access token expired and the refresh token revoked: the user must connect again.
    assert world.admin.post("/sandbox/oauth/expire_access_tokens").status_code == 200
    store = TokenStore(Path(world.env["PARTIDA_TOKENS"]))
    stored = store.get(connection_key("quickbooks", world.root))
    assert stored is not None
    httpx.post(f"{world.base}/v2/oauth2/tokens/revoke", json={"token": stored.refresh_token},
               auth=(stored.client_id, stored.client_secret))
    result = world.audit(*YEAR)
    assert_clean_failure(result, "partida connect quickbooks")
    for secret in (stored.access_token, stored.refresh_token, stored.client_secret):
        assert secret not in result.stdout + result.stderr
