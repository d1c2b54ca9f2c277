"""`partida audit pennylane` against the sandbox, as a user runs it.

The example season is synced once (module fixture); each test gets its own
copy of the ledger and of the sandbox's state, connects to it, and may then
alter the sandbox behind Partida's back with the sandbox's tampering
endpoints. What each alteration must produce is computed from the ledger
and from Pennylane's own entries, not from the audit.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import REPO, partida
from sandbox_oauth import oauth_credentials

from connectors.audit import Expected
from connectors.pennylane import mapping
from connectors.pennylane.audit import PennylaneExpectations, PennylaneReader
from connectors.pennylane.client import PennylaneClient
from connectors.pennylane.sandbox import create_app
from connectors.pacing import Pacer
from connectors.sandbox.server import running
from connectors.syncstate import SyncState
from connectors.tokens import TokenStore, connection_key
from engine.journal import LedgerTxn, read_transactions
from engine.ledger import LedgerSession

API = "/api/external/v2"
FAST = {"PARTIDA_RATE_LIMIT": "1000/1"}
YEAR = ("--from", "2026-01-01", "--to", "2026-12-31")
D = Decimal


@dataclass(frozen=True)
class Template:
    ledger: Path
    state: Path  # the sandbox's data right after the sync
    token: str


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    folder = tmp_path_factory.mktemp("pn-audit")
    root = folder / "ledger"
    partida("init", "--ledger", str(root), "--company", "Les Gorges Vives SARL", check=True)
    partida("record", "--ledger", str(root), str(REPO / "ledgers" / "example" / "season.jsonl"), check=True)
    app = create_app(rate_limit=None)
    with running(app) as base:
        token = httpx.post(f"{base}/sandbox/company_tokens", json={}).json()["token"]
        env = {"PARTIDA_TOKENS": str(folder / "tokens.json"), **FAST}
        partida("connect", "pennylane", "--ledger", str(root), "--base-url", base, "--stdin",
                input=(token + "\n").encode(), env=env, check=True)
        result = partida("sync", "pennylane", "--ledger", str(root), "--since", "2026-01-01", env=env, check=True)
        assert "382 sent" in result.stdout
    state = folder / "sandbox.json"
    state.write_text(json.dumps(app.state.sandbox.store.data), encoding="utf-8")
    return Template(root, state, token)


@dataclass
class World:
    """A synced ledger and its own sandbox, connected."""

    root: Path
    base: str
    env: dict[str, str]
    admin: httpx.Client  # /sandbox/ endpoints
    api: httpx.Client  # the Pennylane API, with the company token

    def audit(self, *args: str) -> Any:
        return partida("audit", "pennylane", "--ledger", str(self.root), *args, env=self.env)

    def audit_json(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = self.audit(*YEAR, "--format", "json", *args)
        assert result.returncode in (0, 1), result.stderr
        assert "Traceback" not in result.stderr
        return result.returncode, json.loads(result.stdout)

    def state(self) -> dict[str, Any]:
        state = dict(self.admin.get("/sandbox/state").json())
        state.pop("requests")
        return state

    def entry_lines(self, entry_id: int) -> Counter[str]:
        """Pennylane's lines of one entry, per account number (customer accounts folded), debit positive."""
        lines = self.api.get(f"/ledger_entries/{entry_id}/ledger_entry_lines", params={"limit": 100}).json()
        out: Counter[str] = Counter()
        for line in lines["items"]:
            number = line["ledger_account"]["number"]
            out["411" if number.startswith("411") else number] += D(line["debit"]) - D(line["credit"])
        return out


def connect(root: Path, base: str, token: str, tokens: Path) -> dict[str, str]:
    env = {"PARTIDA_TOKENS": str(tokens), **FAST}
    partida("connect", "pennylane", "--ledger", str(root), "--base-url", base, "--stdin",
            input=(token + "\n").encode(), env=env, check=True)
    return env


@pytest.fixture
def world(template: Template, tmp_path: Path) -> Iterator[World]:
    root = tmp_path / "ledger"
    shutil.copytree(template.ledger, root, ignore=shutil.ignore_patterns("audit"))
    state = tmp_path / "sandbox.json"
    shutil.copyfile(template.state, state)
    with running(create_app(state_path=state, rate_limit=None)) as base, \
            httpx.Client(base_url=base, timeout=10) as admin, \
            httpx.Client(base_url=base + API, headers={"authorization": f"Bearer {template.token}"},
                         timeout=10) as api:
        env = connect(root, base, template.token, tmp_path / "tokens.json")
        yield World(root, base, env, admin, api)


# -- what the ledger says -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Doc:
    txn: LedgerTxn
    key: str
    remote_id: int
    amount: Decimal  # as Pennylane signs it: an invoice's total, an entry's total debit
    open: Decimal | None = None  # invoices: what is still due in the ledger


def ledger_docs(root: Path) -> tuple[dict[str, Doc], list[Doc]]:
    """Invoices by number, and the payments, from the ledger and its replay state."""
    state = SyncState(root, "pennylane")
    try:
        items = {item.seq: item for item in state.items(("synced",))}
    finally:
        state.close()
    txns = read_transactions(root)
    invoices: dict[str, Doc] = {}
    payments: list[Doc] = []
    with LedgerSession(root) as session:
        assert session.index is not None
        for txn in txns:
            item = items[txn.seq]
            if txn.event_type == "invoice.issued" and txn.get("step") is None:
                number = txn.get("invoice") or ""
                gross = sum((p.amount for p in txn.postings if mapping.pcg_number(p.account) == "411"), D(0))
                record = session.index.invoice(number)
                assert record is not None
                invoices[number] = Doc(txn, item.key, int(item.remote_id), gross, record.open)
            elif txn.event_type == "payment.received":
                debit = sum((p.amount for p in txn.postings if p.amount > 0), D(0))
                payments.append(Doc(txn, item.key, int(item.remote_id), debit))
    return invoices, payments


def by_key(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {d["key"]: d for d in report["documents"]}


# -- a clean sync -------------------------------------------------------------------------------------------

def test_a_clean_sync_audits_without_difference(world: World) -> None:
    before = world.state()
    result = world.audit(*YEAR)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert "Trial balance (movements of the period, debit positive)" in result.stdout
    assert "Documents (469): 469 match" in lines
    assert "Drift per account: none" in lines and "Oldest unsynced transaction: none" in lines
    assert lines[-1] == "OK: nothing differs beyond rounding"
    assert "audit kept in" in result.stderr

    code, report = world.audit_json()
    assert code == 0 and report["ok"] is True
    assert report["summary"]["counts"]["match"] == report["summary"]["documents"] == 469
    assert report["summary"]["transactions"] == 382
    # Every ledger amount of the period is on Pennylane: 411 folded, balances as `partida balance` shows.
    balance = json.loads(partida("balance", "--ledger", str(world.root), "--format", "json", check=True).stdout)
    assert {a["account"]: a["local"] for a in report["trial_balance"]} == {r["number"]: r["balance"] for r in balance}
    assert all(a["difference"] == "0.00" for a in report["trial_balance"])
    assert world.state() == before  # the audit only reads
    assert len(list((world.root / "audit").glob("pennylane-*.json"))) == 2  # each run kept


def test_a_period_without_end_ends_with_its_fiscal_year_and_the_report_can_go_to_a_file(world: World) -> None:
    out = world.root.parent / "report.csv"
    result = world.audit("--from", "2026-01-01", "--format", "csv", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert f"report written to {out}" in result.stdout
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert Counter(r["section"] for r in rows) == {"document": 469, "trial_balance": 24}
    assert {r["class"] for r in rows} == {"match"}


# -- behind Partida's back --------------------------------------------------------------------------------

def pick(invoices: dict[str, Doc], payments: list[Doc]) -> dict[str, Doc]:
    """Distinct documents for each alteration."""
    paid_once = Counter(p.txn.get("invoice") for p in payments)
    settling = next(p for p in payments if paid_once[p.txn.get("invoice")] == 1
                    and invoices[p.txn.get("invoice") or ""].open == 0)
    settled = invoices[settling.txn.get("invoice") or ""]
    others = [d for d in invoices.values() if d is not settled]
    open_one = next(d for d in others if d.open and d.open > 0)
    rest = [d for d in others if d is not open_one]
    return {"deleted": rest[0], "plus_one": rest[1], "plus_cent": rest[2], "marked_paid": open_one,
            "payment": settling, "settled": settled}


def test_each_alteration_is_reported_in_its_class(world: World) -> None:
    invoices, payments = ledger_docs(world.root)
    docs = pick(invoices, payments)
    remote = {name: world.api.get(f"/customer_invoices/{d.remote_id}").json() for name, d in docs.items()
              if name != "payment"}
    drift: Counter[str] = Counter()

    # delete an invoice (with its entry)
    drift.subtract(world.entry_lines(remote["deleted"]["ledger_entry"]["id"]))
    assert world.admin.delete(f"/sandbox/customer_invoices/{docs['deleted'].remote_id}").status_code == 204
    # change an amount by 1.00 and by 0.01 (the document only: its entry stays)
    for name, delta in (("plus_one", "1.00"), ("plus_cent", "0.01")):
        amount = f"{docs[name].amount + D(delta):.2f}"
        world.admin.patch(f"/sandbox/customer_invoices/{docs[name].remote_id}", json={"amount": amount})
    # mark an open invoice paid
    assert world.admin.post(f"/sandbox/customer_invoices/{docs['marked_paid'].remote_id}/mark_paid").status_code == 204
    # add unknown documents: an invoice and an entry
    customer = world.api.get("/customers", params={"limit": 1}).json()["items"][0]["id"]
    unknown = world.admin.post("/sandbox/customer_invoices", json={
        "date": "2026-06-15", "deadline": "2026-07-15", "customer_id": customer, "external_reference": "by-hand-1",
        "invoice_lines": [{"label": "Extra", "quantity": 1, "raw_currency_unit_price": "100.00", "unit": "piece",
                           "vat_rate": "FR_200"}]}).json()
    drift.update(world.entry_lines(unknown["ledger_entry"]["id"]))
    accounts = {a["number"]: a["id"] for a in world.api.get("/ledger_accounts", params={"limit": 1000}).json()["items"]}
    journal = next(j["id"] for j in world.api.get("/journals").json()["items"] if j["code"] == "OD")
    entry = world.admin.post("/sandbox/ledger_entries", json={
        "date": "2026-06-16", "label": "Écriture manuelle", "journal_id": journal, "piece_number": "MANUEL-1",
        "ledger_entry_lines": [{"debit": "50.00", "credit": "0.00", "ledger_account_id": accounts["512"]},
                               {"debit": "0.00", "credit": "50.00", "ledger_account_id": accounts["758"]}]}).json()
    drift.update(world.entry_lines(entry["id"]))
    # drop a ledger entry: the payment that settled an invoice
    drift.subtract(world.entry_lines(docs["payment"].remote_id))
    assert world.admin.delete(f"/sandbox/ledger_entries/{docs['payment'].remote_id}").status_code == 204

    before = world.state()
    code, report = world.audit_json()
    assert code == 1 and report["ok"] is False
    found = by_key(report)

    deleted = found[docs["deleted"].key]
    assert (deleted["class"], deleted["local"], deleted["remote"]) == (
        "missing_remote", f"{docs['deleted'].amount:.2f}", None)
    assert f"synced as {docs['deleted'].remote_id}, no longer on the provider" in deleted["note"]
    plus_one = found[docs["plus_one"].key]
    assert (plus_one["class"], plus_one["local"], plus_one["remote"], plus_one["difference"]) == (
        "amount_differs", f"{docs['plus_one'].amount:.2f}", f"{docs['plus_one'].amount + 1:.2f}", "1.00")
    plus_cent = found[docs["plus_cent"].key]
    assert (plus_cent["class"], plus_cent["difference"]) == ("rounding", "0.01")
    marked = found[docs["marked_paid"].key]
    assert (marked["class"], marked["local_status"], marked["remote_status"]) == ("status_differs", "open", "paid")
    assert marked["local"] == marked["remote"] == f"{docs['marked_paid'].amount:.2f}"
    hand_invoice, hand_entry = found["by-hand-1"], found["MANUEL-1"]
    assert (hand_invoice["class"], hand_invoice["kind"], hand_invoice["local"], hand_invoice["remote"],
            hand_invoice["remote_id"]) == ("missing_local", "invoice", None, "120.00", str(unknown["id"]))
    assert (hand_entry["class"], hand_entry["kind"], hand_entry["remote"]) == ("missing_local", "entry", "50.00")
    dropped = found[docs["payment"].key]
    assert (dropped["class"], dropped["kind"], dropped["local"], dropped["remote"]) == (
        "missing_remote", "entry", f"{docs['payment'].amount:.2f}", None)
    settled = found[docs["settled"].key]
    assert (settled["class"], settled["local_status"], settled["remote_status"]) == ("status_differs", "paid", "open")

    counts = report["summary"]["counts"]
    assert counts == {"match": 469 - 6, "rounding": 1, "amount_differs": 1, "status_differs": 2,
                      "missing_remote": 2, "missing_local": 2}
    expected_drift = {number: f"{amount:.2f}" for number, amount in drift.items() if amount}
    assert {a["account"]: a["difference"] for a in report["summary"]["drift"]} == expected_drift
    assert world.state() == before  # findings, never put back

    table = world.audit(*YEAR)
    assert table.returncode == 1 and table.stdout.rstrip().endswith("DIFFERENCES FOUND")
    assert "Documents (471): 463 match, 1 rounding, 1 amount_differs, 2 status_differs, 2 missing_remote, " \
           "2 missing_local" in table.stdout


def test_a_cent_of_rounding_alone_passes(world: World) -> None:
    # A paid invoice's total a cent higher: a cent is left to pay remotely, by the rounding only.
    invoices, _ = ledger_docs(world.root)
    doc = next(d for d in invoices.values() if d.open == 0)
    world.admin.patch(f"/sandbox/customer_invoices/{doc.remote_id}", json={"amount": f"{doc.amount + D('0.01'):.2f}"})
    code, report = world.audit_json()
    assert code == 0 and report["ok"] is True
    assert report["summary"]["counts"]["rounding"] == 1
    found = by_key(report)[doc.key]
    assert (found["class"], found["difference"], found["local_due"], found["remote_due"]) == (
        "rounding", "0.01", "0.00", "0.01")


def test_a_transaction_not_synced_is_missing_and_named_as_the_oldest(world: World) -> None:
    event = {"id": "late-1", "type": "cash.movement", "date": "2026-12-20", "kind": "expense", "amount": "12.00",
             "account": "6063", "label": "Ampoules"}
    partida("record", "--ledger", str(world.root), "-", input=(json.dumps(event) + "\n").encode(), check=True)
    code, report = world.audit_json()
    assert code == 1
    assert report["summary"]["oldest_unsynced"] == {"seq": 383, "event_id": "late-1", "date": "2026-12-20",
                                                    "state": "pending"}
    missing = [d for d in report["documents"] if d["class"] != "match"]
    assert [(d["class"], d["event_id"], d["local"], d["note"]) for d in missing] == [
        ("missing_remote", "late-1", "12.00", "not synced (pending)")]
    assert {a["account"]: a["difference"] for a in report["summary"]["drift"]} == {"530": "12.00", "6063": "-12.00"}


# -- the reader ------------------------------------------------------------------------------------------------

def test_the_reader_only_reads_and_pages_by_100(world: World) -> None:
    methods: Counter[str] = Counter()
    limits: set[str] = set()

    def spy(request: httpx.Request) -> None:
        methods[request.method] += 1
        limits.add(request.url.params.get("limit", ""))

    http = httpx.Client(base_url=world.base + API, headers=dict(world.api.headers), event_hooks={"request": [spy]})
    reader = PennylaneReader(PennylaneClient(http, pacer=Pacer(1000, 1.0)))
    docs = reader.documents(datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    reader.close()
    assert set(methods) == {"GET"} and limits <= {"100"}
    assert len(docs) == 469 and methods["GET"] == reader.stats()["requests"]
    # 91 invoices, 469 entries (91 of them the invoices' own), and the others' 1,2xx lines: pages of 100.
    assert reader.stats()["requests"] == 1 + 5 + 13


def test_expectations_follow_the_mapping(template: Template) -> None:
    txns = read_transactions(template.ledger)
    expect = PennylaneExpectations()
    invoice = next(t for t in txns if t.event_type == "invoice.issued" and t.get("step") is None)
    found = expect.expected(invoice, "k")
    plan = mapping.plan(invoice, "k")
    assert isinstance(plan, mapping.DocumentPlan)
    assert found[0] == Expected("k", "invoice", plan.label, plan.total, sum(1 for l in plan.lines if l.rate),
                                plan.number)
    assert [e.key for e in found[1:]] == (["k-od"] if mapping.predicted_reconciliation(plan) else [])
    assert expect.account("Assets:411-Clients:C-CUST-0001") == "411"
    assert expect.account("Liabilities:4191-ClientsAcomptes:C-CUST-0001") == "4191"


# -- bad input ----------------------------------------------------------------------------------------------------

def assert_clean_failure(result: Any, *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for word in words:
        assert word in result.stderr


def test_a_period_with_no_data_is_a_clear_error(world: World) -> None:
    assert_clean_failure(world.audit("--from", "2031-01-01", "--to", "2031-12-31"),
                         "nothing to audit from 2031-01-01 to 2031-12-31")
    assert_clean_failure(world.audit("--from", "2026-12-31", "--to", "2026-01-01"), "starts (2026-12-31) after")
    assert not (world.root / "audit").exists()


def test_an_unknown_provider_or_one_not_connected_is_a_clear_error(world: World) -> None:
    result = partida("audit", "xero", "--ledger", str(world.root), env=world.env)
    assert result.returncode == 2 and "'xero' is not one of 'pennylane', 'quickbooks'" in result.stderr
    assert "Traceback" not in result.stderr
    # QuickBooks has an audit of its own: on a ledger not connected to it, it says so.
    assert_clean_failure(partida("audit", "quickbooks", "--ledger", str(world.root), *YEAR, env=world.env),
                         "is not connected to quickbooks", "partida connect quickbooks")


def test_a_missing_or_unconnected_ledger_is_a_clear_error(tmp_path: Path, template: Template) -> None:
    env = {"PARTIDA_TOKENS": str(tmp_path / "tokens.json"), **FAST}
    assert_clean_failure(partida("audit", "pennylane", "--ledger", str(tmp_path / "nowhere"), env=env),
                         f"no Partida ledger at {tmp_path / 'nowhere'}")
    root = tmp_path / "copy"
    shutil.copytree(template.ledger, root)
    assert_clean_failure(partida("audit", "pennylane", "--ledger", str(root), *YEAR, env=env),
                         "is not connected to pennylane", "partida connect pennylane")


def test_an_unreadable_ledger_is_a_clear_error(world: World) -> None:
    segment = next((world.root / "journal" / "2026").glob("*.beancount"))
    segment.write_bytes(segment.read_bytes()[:1000])
    assert_clean_failure(world.audit(*YEAR), "shorter than Partida wrote it")
    (world.root / "partida.toml").write_text("[company\nname = ", encoding="utf-8")
    assert_clean_failure(world.audit(*YEAR), "partida.toml")
    assert not (world.root / "audit").exists()


def test_a_remote_that_answers_errors_is_a_clear_error(world: World, tmp_path: Path) -> None:
    world.admin.put("/sandbox/faults", json={"plan": "1:5xx=100%"})
    assert_clean_failure(world.audit(*YEAR), "pennylane is not answering", "run the audit again later")
    world.admin.put("/sandbox/faults", json={"plan": None})

    narrow = world.admin.post("/sandbox/company_tokens", json={"scopes": ["customer_invoices:readonly"]}).json()
    env = connect(world.root, world.base, narrow["token"], tmp_path / "narrow.json")
    assert_clean_failure(partida("audit", "pennylane", "--ledger", str(world.root), *YEAR, env=env),
                         "403", "trial_balance", "partida connect pennylane")

    store = TokenStore(tmp_path / "oauth.json")
    creds = oauth_credentials(world.base, store, connection_key("pennylane", world.root))
    httpx.post(f"{world.base}/oauth/revoke", data={"token": creds.refresh_token, "client_id": creds.client_id,
                                                   "client_secret": creds.client_secret})
    result = partida("audit", "pennylane", "--ledger", str(world.root), *YEAR,
                     env={"PARTIDA_TOKENS": str(tmp_path / "oauth.json"), **FAST})
    assert_clean_failure(result, "partida connect pennylane")
    for secret in (creds.access_token, creds.refresh_token, creds.client_secret):
        assert secret not in result.stdout + result.stderr
