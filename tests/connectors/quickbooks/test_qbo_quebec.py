"""A Québec (``ca-qc``) ledger replayed to the sandbox's CA-QC edition with the real replay loop.

Each scenario records events into a fresh ``ca-qc`` ledger, replays it with
``connectors.replay.sync`` into a new CA-QC company over real HTTP on
127.0.0.1, then compares the company with the ledger: the TrialBalance per
QuickBooks account against the ledger's balances folded through
``charts.CA_QC``, every invoice's ``Balance`` against its open amount, and
Customer Deposits per customer (deposits stay a liability until applied).
Every body sent goes through Intuit's XSD on the way.

The season is ``ledgers/example-qc/season.jsonl`` when it is there; until
then, the French example season translated to Québec (tax codes, deposit
natures, accounts; printed totals dropped since they were French VAT).
"""

from __future__ import annotations

import dataclasses
import datetime
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
from conftest import REPO
from conftest import jsonl
from factories import deposit
from factories import forfeit
from factories import invoice
from factories import payment
from factories import refund
from qbo_support import UNPACED
from qbo_support import Ledger
from qbo_support import XsdTransport
from qbo_support import invoice_balance_differences
from qbo_support import objects_by_key
from qbo_support import trial_balance_differences

from connectors import audit as auditing
from connectors.pacing import Pacer
from connectors.quickbooks import mapping
from connectors.quickbooks import references
from connectors.quickbooks import xsd
from connectors.quickbooks.audit import QuickBooksExpectations
from connectors.quickbooks.audit import QuickBooksReader
from connectors.quickbooks.charts import CA_QC
from connectors.quickbooks.charts import AccountSpec
from connectors.quickbooks.charts import remote_account
from connectors.quickbooks.connector import QuickBooksConnector
from connectors.quickbooks.sandbox import create_app
from connectors.replay import SyncSummary
from connectors.replay import sync
from connectors.retry import RetryPolicy
from connectors.sandbox.server import running
from engine.chart import customer_component
from engine.journal import LedgerPosting
from engine.journal import LedgerTxn
from engine.journal import read_transactions
from engine.ledger import init_ledger
from engine.ledger import record_batch
from engine.settings import Settings
from engine.settings import load_settings

NO_WAIT = RetryPolicy(attempts_max=30, sleep=lambda _s: None)
QC_SEASON = REPO / "ledgers" / "example-qc" / "season.jsonl"
FR_SEASON = REPO / "ledgers" / "example" / "season.jsonl"
SINCE = datetime.date(2000, 1, 1)
MARIE = {"ref": "Q-001", "name": "Marie Tremblay", "kind": "individual"}
LUC = {"ref": "Q-002", "name": "Luc Gagnon", "kind": "individual"}
CLUB = {"ref": "Q-003", "name": "Club de kayak Mauricie", "kind": "company"}
D = Decimal


# -- ledgers --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuebecLedger(Ledger):
    """A ``ca-qc`` ledger: balances folded through ``CA_QC``."""

    def copy(self, where: Path) -> QuebecLedger:
        shutil.copytree(self.root, where)
        return QuebecLedger(where, self.txns)

    def reread(self) -> QuebecLedger:
        return QuebecLedger(self.root, read_transactions(self.root))

    def plans(self) -> list[tuple[str, mapping.Plan | None]]:
        return [(self.key(t), mapping.plan(t, self.key(t), CA_QC)) for t in self.txns]

    def balances(self) -> dict[AccountSpec, Decimal]:
        sums: dict[AccountSpec, Decimal] = {}
        for txn in self.txns:
            for posting in txn.postings:
                spec = remote_account(CA_QC, posting.account)[0]
                sums[spec] = sums.get(spec, D(0)) + posting.amount
        return {spec: amount for spec, amount in sums.items() if amount}

    def deposits(self) -> dict[str, Decimal]:
        """Customer component -> what Customer Deposits holds for it (credit positive)."""
        held: dict[str, Decimal] = {}
        for txn in self.txns:
            for posting in txn.postings:
                spec, customer = remote_account(CA_QC, posting.account)
                if spec.name == "Customer Deposits" and customer:
                    held[customer] = held.get(customer, D(0)) - posting.amount
        return {customer: amount for customer, amount in held.items() if amount}


def new_ledger(root: Path, events: bytes = b"", settings: Settings | None = None) -> QuebecLedger:
    init_ledger(root, settings or Settings(company="Aventures Mauricie inc.", chart_name="ca-qc"))
    return record(QuebecLedger(root, []), events)


def record(ledger: QuebecLedger, events: bytes) -> QuebecLedger:
    if events:
        result = record_batch(ledger.root, events)
        assert not result.problems, result.problems
    return ledger.reread()


_RATES = {"20": "14.975", "10": "5", "5.5": "0"}  # standard, GST only (admissions), zero-rated (groceries)
_INCOME = {"706": "4000", "707": "4100", "708": "4300"}
_EXPENSES = {"6061": "5100", "6063": "5300", "6064": "5200", "6068": "5100", "613": "5300", "615": "5300",
             "623": "5400", "625": "5500", "626": "5600"}


def quebec_season() -> bytes:
    """The Québec example season, or the French one translated to Québec until it exists."""
    if QC_SEASON.exists():
        return QC_SEASON.read_bytes()
    out = []
    for line in FR_SEASON.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        event.pop("totals", None)
        for item in event.get("lines", []):
            item["vat_rate"] = _RATES[item["vat_rate"]]
            if "account" in item:
                item["account"] = _INCOME[item["account"]]
        if event["type"] == "deposit.received":
            del event["vat_rate"]
            prepaid = event["nature"] == "acompte"
            event["nature"] = "prepayment" if prepaid else "security"
            if prepaid:
                event["vat_rate"] = "14.975"
        if event["type"] == "voucher.sold":
            event.pop("vat_rate", None)  # no GST/QST on a gift certificate sold
        if event["type"] == "cash.movement" and "account" in event:
            event["account"] = _EXPENSES[event["account"]]
        out.append(json.dumps(event, ensure_ascii=False))
    return "\n".join(out).encode("utf-8") + b"\n"


# -- the sandbox ------------------------------------------------------------------------------------

@dataclass
class Quebec:
    """A running sandbox with one CA-QC company, and a connector on it for the ``ca-qc`` chart."""

    admin: httpx.Client
    realm: str
    connector: QuickBooksConnector
    transport: XsdTransport | None

    def state(self) -> dict[str, Any]:
        return dict(self.admin.get("/sandbox/state").json())

    def company(self) -> dict[str, Any]:
        return dict(self.state()["realms"][self.realm])

    def account(self, name: str) -> Decimal:
        """The TrialBalance of one QuickBooks account (debit positive), 0 when absent."""
        ident = self.connector.account_id(next(s for s in CA_QC.accounts.values() if s.name == name))
        balances = self.connector.api.trial_balance(datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
        return balances.get(ident or "", D(0))

    def invoice(self, number: str) -> dict[str, Any]:
        rows = self.connector.api.query(f"SELECT * FROM Invoice WHERE DocNumber = '{references.doc_number(number)}'")
        return dict(rows[0])

    def sync(self, ledger: QuebecLedger) -> SyncSummary:
        return sync(ledger.root, self.connector, since=SINCE, retry=NO_WAIT)


@pytest.fixture(scope="module")
def schema() -> Any:
    try:
        return xsd.load_schema()
    except FileNotFoundError:
        pytest.skip(f"Intuit's XSD is not at {xsd.default_schema_dir().resolve()}: payloads not checked")


@pytest.fixture
def quebec(schema: Any) -> Iterator[Quebec]:
    transport = XsdTransport(schema)
    app = create_app(rate_limit=None, batch_rate_limit=None, concurrency=None)
    with running(app) as base, httpx.Client(base_url=base, timeout=30) as admin:
        realm = admin.post("/sandbox/companies", json={"edition": "CA-QC"}).json()["realmId"]
        token = admin.post(f"/sandbox/companies/{realm}/tokens").json()["access_token"]
        with httpx.Client(base_url=f"{base}/v3/company/{realm}", transport=transport, timeout=30,
                          headers={"authorization": f"Bearer {token}"}) as http:
            # Limits off; the overall pace well above the batches' so singles keep their own share.
            connector = QuickBooksConnector(http, pacer=Pacer(100 * UNPACED[0], UNPACED[1]),
                                            batch_pacer=Pacer(*UNPACED), chart="ca-qc")
            yield Quebec(admin, realm, connector, transport)
    assert transport.problems == []


# -- the checks ---------------------------------------------------------------------------------------

def remote_deposits(quebec: Quebec) -> dict[str, Decimal]:
    """Customer component -> what Customer Deposits holds for it on QuickBooks (credit positive):
    journal-entry lines naming the customer, less the deposit-applied credit memos."""
    api = quebec.connector.api
    deposits = quebec.connector.account_id(CA_QC.accounts["2400"])
    component = {str(c["Id"]): customer_component(references.marker_ref(c.get("Notes")) or "?")
                 for c in api.query("SELECT * FROM Customer")}
    held: dict[str, Decimal] = {}
    for entry in api.query("SELECT * FROM JournalEntry"):
        for line in entry["Line"]:
            detail = line["JournalEntryLineDetail"]
            if detail["AccountRef"]["value"] == deposits and detail.get("Entity"):
                customer = component[str(detail["Entity"]["EntityRef"]["value"])]
                sign = D(1) if detail["PostingType"] == "Credit" else D(-1)
                held[customer] = held.get(customer, D(0)) + sign * D(str(line["Amount"]))
    for memo in api.query("SELECT * FROM CreditMemo"):
        customer = component[str(memo["CustomerRef"]["value"])]
        for line in memo["Line"]:
            detail = line.get("SalesItemLineDetail") or {}
            if (detail.get("ItemAccountRef") or {}).get("value") == deposits:
                held[customer] = held.get(customer, D(0)) - D(str(line["Amount"]))
    return {customer: amount for customer, amount in held.items() if amount}


def assert_books_match(quebec: Quebec, ledger: QuebecLedger) -> None:
    assert trial_balance_differences(quebec.connector, ledger) == {}
    assert invoice_balance_differences(quebec.connector, ledger) == {}
    assert remote_deposits(quebec) == ledger.deposits()
    # No deposit waits in A/R as an unapplied payment: Customer Deposits holds them.
    payments = quebec.connector.api.query("SELECT * FROM Payment")
    assert [p["Id"] for p in payments if D(str(p.get("UnappliedAmt") or 0))] == []


def assert_one_object_per_transaction(company: dict[str, Any], ledger: QuebecLedger) -> None:
    """One remote object per transaction under its key; a payment with an
    excess adds its JournalEntry (``<key>/rest``); a credit memo applied to an
    open invoice adds its zero payment (``<key>/apply``). Nothing twice."""
    plans = [(key, target) for key, target in ledger.plans() if target is not None]
    objects, _ = objects_by_key(company)
    expected = Counter({key: 1 for key, _ in plans})
    expected.update({f"{key}/rest": 1 for key, target in plans
                     if isinstance(target, mapping.PaymentPlan) and target.rest is not None})
    applied = Counter({key: n for key, n in objects.items() if key.endswith("/apply")})
    assert Counter({key: n for key, n in objects.items() if not key.endswith("/apply")}) == expected
    credits = {key for key, target in plans if isinstance(target, mapping.SalesPlan) and target.credited}
    assert set(applied) <= {f"{key}/apply" for key in credits} and all(n == 1 for n in applied.values())
    assert not any(company["duplicates"]["DocNumber"].values())
    assert not any(company["duplicates"]["PrivateNote"].values())


# -- accounting-rules §5.2, one step at a time ---------------------------------------------------------

def test_case_a_a_security_deposit_waits_on_customer_deposits_then_pays_the_invoice(
        quebec: Quebec, tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path / "ledger", jsonl(deposit("a1", "BA", "100.00", "2026-05-10", vat_rate=None,
                                                            customer=MARIE, nature="security")))
    assert quebec.sync(ledger).sent == 1
    # Before its invoice: a liability for Marie, nothing in A/R, no tax.
    assert quebec.account("Customer Deposits") == D("-100.00")
    assert quebec.account("Accounts Receivable (A/R)") == D(0)
    assert remote_deposits(quebec) == {"C-Q-001": D("100.00")}
    assert_books_match(quebec, ledger)

    ledger = record(ledger, jsonl(invoice("a2", "QA-1", [("1", "300.00", "14.975")], "2026-06-20", booking="BA",
                                          customer=MARIE)))
    assert quebec.sync(ledger).sent == 2  # the invoice, and the deposit applied to it
    assert D(str(quebec.invoice("QA-1")["Balance"])) == D("244.93")
    assert (quebec.account("GST/HST Payable"), quebec.account("QST Payable")) == (D("-15.00"), D("-29.93"))
    assert quebec.account("Customer Deposits") == D(0)
    assert_books_match(quebec, ledger)

    ledger = record(ledger, jsonl(payment("a3", "QA-1", "244.93", "2026-06-21")))
    assert quebec.sync(ledger).sent == 1
    assert D(str(quebec.invoice("QA-1")["Balance"])) == D(0)
    assert quebec.account("Chequing") == D("344.93")
    assert_books_match(quebec, ledger)
    assert_one_object_per_transaction(quebec.company(), ledger)


def test_case_b_a_prepayment_is_taxed_on_receipt_and_its_tax_nets_on_the_invoice(
        quebec: Quebec, tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path / "ledger", jsonl(deposit("b1", "BB", "114.98", "2026-05-10", vat_rate="14.975",
                                                            customer=LUC, nature="prepayment")))
    quebec.sync(ledger)
    assert quebec.account("Customer Deposits") == D("-100.00")
    assert (quebec.account("GST/HST Payable"), quebec.account("QST Payable")) == (D("-5.00"), D("-9.98"))
    assert_books_match(quebec, ledger)

    ledger = record(ledger, jsonl(invoice("b2", "QB-1", [("1", "300.00", "14.975")], "2026-06-20", booking="BB",
                                          customer=LUC)))
    quebec.sync(ledger)
    # §5.2 case B: A/R 229.95, GST 15.00 and QST 29.93 in all (10.00 and 19.95 more than on receipt).
    assert D(str(quebec.invoice("QB-1")["Balance"])) == D("229.95")
    assert quebec.account("Accounts Receivable (A/R)") == D("229.95")
    assert (quebec.account("GST/HST Payable"), quebec.account("QST Payable")) == (D("-15.00"), D("-29.93"))
    memo = quebec.connector.api.query("SELECT * FROM CreditMemo")[0]
    assert sorted(D(str(t["Amount"])) for t in memo["TxnTaxDetail"]["TaxLine"]) == [D("5.00"), D("9.98")]
    assert_books_match(quebec, ledger)

    ledger = record(ledger, jsonl(payment("b3", "QB-1", "229.95", "2026-06-21")))
    quebec.sync(ledger)
    assert D(str(quebec.invoice("QB-1")["Balance"])) == D(0)
    assert_books_match(quebec, ledger)
    assert_one_object_per_transaction(quebec.company(), ledger)


def test_forfeited_deposits_and_a_refunded_prepayment(quebec: Quebec, tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path / "ledger", jsonl(
        deposit("f1", "BF", "100.00", "2026-05-10", vat_rate=None, customer=CLUB, nature="security"),
        forfeit("f2", "BF", "100.00", "penalty", "2026-06-01"),
        deposit("g1", "BG", "114.98", "2026-05-11", vat_rate="14.975", customer=LUC, nature="prepayment"),
        forfeit("g2", "BG", "114.98", "consideration", "2026-06-02"),
        deposit("h1", "BH", "57.49", "2026-05-12", vat_rate="14.975", customer=MARIE, nature="prepayment",
                method="cheque"),
        refund("h2", "57.49", "2026-05-20", booking="BH"),
    ))
    summary = quebec.sync(ledger)
    assert (summary.sent, summary.failed) == (len(ledger.txns), [])
    # Security deposit kept: taxes deemed included (4.76 + 9.07), 86.17 to Forfeited Deposits;
    # a prepayment kept keeps the tax paid on receipt (5.00 + 9.98), its 100.00 to Sales.
    assert quebec.account("Forfeited Deposits") == D("-86.17")
    assert (quebec.account("GST/HST Payable"), quebec.account("QST Payable")) == (D("-9.76"), D("-19.05"))
    assert quebec.account("Customer Deposits") == D(0)
    assert_books_match(quebec, ledger)
    assert_one_object_per_transaction(quebec.company(), ledger)


def test_per_line_tax_printed_tax_and_a_printed_net_rounding_end_on_the_ledgers_cents(
        quebec: Quebec, tmp_path: Path) -> None:
    three = [("1", "9.99", "14.975")] * 3
    ledger = new_ledger(tmp_path / "ledger", jsonl(
        # QuickBooks' own computation: per line, GST 3 x 0.50, QST 3 x 1.00.
        invoice("r1", "QR-1", three, "2026-07-01", customer=CLUB),
        # Printed on the total: QST 2.99, one cent under the per-line 3.00 (a TaxLine override).
        invoice("r2", "QR-2", three, "2026-07-01", customer=CLUB,
                totals={"net": "29.97", "vat": [{"rate": "5", "amount": "1.50"}, {"rate": "9.975", "amount": "2.99"}],
                        "gross": "34.46"}),
        # Printed net one cent over the lines: the cent goes to Rounding Differences, out of scope.
        invoice("r3", "QR-3", [("1", "10.00", "14.975")], "2026-07-01", customer=CLUB,
                totals={"net": "10.01", "vat": [{"rate": "5", "amount": "0.50"}, {"rate": "9.975", "amount": "1.00"}],
                        "gross": "11.51"}),
        # Mixed codes: GST only, QST only, zero-rated.
        invoice("r4", "QR-4", [("2", "12.49", "5"), ("1", "7.77", "9.975"), ("3", "4.10", "0")], "2026-07-02",
                customer=CLUB),
    ))
    summary = quebec.sync(ledger)
    assert (summary.sent, summary.failed) == (4, [])
    totals = {number: D(str(quebec.invoice(number)["TotalAmt"])) for number in ("QR-1", "QR-2", "QR-3", "QR-4")}
    assert totals == {"QR-1": D("34.47"), "QR-2": D("34.46"), "QR-3": D("11.51"), "QR-4": D("47.08")}
    assert quebec.account("Rounding Differences") == D("-0.01")
    assert_books_match(quebec, ledger)


def test_a_tax_quickbooks_would_refuse_is_booked_on_its_tax_account_as_a_line(
        quebec: Quebec, tmp_path: Path) -> None:
    """A ledger tax 0.03 over QuickBooks' per-line tax (one line: 0.01 allowed): the TaxLine
    takes 0.01 more, an explicit line on GST/HST Payable the other 0.02."""
    ledger = new_ledger(tmp_path / "ledger", jsonl(invoice("t1", "QT-1", [("1", "100.00", "14.975")], "2026-07-03",
                                                           customer=CLUB)))
    booked = ledger.txns[0]
    changed = tuple(
        dataclasses.replace(p, amount=p.amount - D("0.03")) if p.account.startswith("Liabilities:2310") else
        dataclasses.replace(p, amount=p.amount + D("0.03")) if p.account.startswith("Assets:1200") else p
        for p in booked.postings)
    txn = dataclasses.replace(booked, postings=changed)
    target = mapping.plan(txn, "k", CA_QC)
    assert isinstance(target, mapping.SalesPlan)
    assert dict(target.vat) == {D("5"): D("5.01"), D("9.975"): D("9.98")}
    assert [(line.item.account.name, line.amount) for line in target.lines[1:]] == [("GST/HST Payable", D("0.02"))]
    assert quebec.connector.push(txn, ledger.key(txn), False).outcome == "sent"
    assert D(str(quebec.invoice("QT-1")["TotalAmt"])) == D("114.98") + D("0.03")
    assert quebec.account("GST/HST Payable") == D("-5.03")


def test_a_refused_item_is_reported_and_the_others_go_on(quebec: Quebec, tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path / "ledger", jsonl(
        deposit("a1", "BA", "100.00", "2026-05-10", vat_rate=None, customer=MARIE, nature="security"),
        invoice("a2", "QA-1", [("1", "300.00", "14.975")], "2026-06-20", booking="BA", customer=MARIE),
    ))
    quebec.sync(ledger)
    # Someone marks the invoice paid in QuickBooks: the ledger's payment is now one too many there.
    invoice_id = quebec.invoice("QA-1")["Id"]
    assert quebec.admin.post(f"/sandbox/companies/{quebec.realm}/invoice/{invoice_id}/mark_paid").status_code == 201
    ledger = record(ledger, jsonl(
        payment("a3", "QA-1", "244.93", "2026-06-21"),
        deposit("b1", "BB", "114.98", "2026-06-22", vat_rate="14.975", customer=LUC, nature="prepayment"),
    ))
    summary = quebec.sync(ledger)
    paid = next(t for t in ledger.txns if t.event_id == "a3")
    assert [(seq, event) for seq, event, _ in summary.failed] == [(paid.seq, "a3")]
    assert "open amount" in summary.failed[0][2]
    assert summary.sent == 1  # the prepayment went on
    assert quebec.account("Customer Deposits") == D("-100.00")
    assert remote_deposits(quebec) == ledger.deposits() == {"C-Q-002": D("100.00")}


# -- the season ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> QuebecLedger:
    committed = QC_SEASON.parent / "partida.toml"
    settings = load_settings(committed) if committed.exists() else None
    return new_ledger(tmp_path_factory.mktemp("qbo-quebec") / "ledger", quebec_season(), settings)


def test_the_quebec_season_syncs_once_and_equals_the_ledger(season: QuebecLedger, quebec: Quebec,
                                                             tmp_path: Path) -> None:
    ledger = season.copy(tmp_path / "ledger")
    summary = quebec.sync(ledger)
    assert (summary.sent, summary.failed, summary.parked, summary.stopped) == (len(ledger.txns), [], [], None)
    requests, batches = quebec.connector.api.requests, quebec.connector.api.batches
    company = quebec.company()
    assert_books_match(quebec, ledger)
    assert_one_object_per_transaction(company, ledger)
    # Deposits of bookings not invoiced by season end wait on Customer Deposits, per customer.
    waiting = ledger.deposits()
    assert waiting and all(amount > 0 for amount in waiting.values())
    assert remote_deposits(quebec) == waiting
    assert -quebec.account("Customer Deposits") >= sum(waiting.values())
    # Every kind of document went, and went through Intuit's XSD.
    counts = {entity: n for entity, n in company["counts"].items() if n}
    assert {"Invoice", "CreditMemo", "Payment", "JournalEntry", "Deposit"} <= set(counts)
    assert quebec.transport is not None and quebec.transport.problems == []
    assert sum(quebec.transport.checked.values()) >= len(ledger.txns)

    # The audit of the synced season finds nothing beyond rounding (overpayment excesses included).
    days = [t.date for t in ledger.txns]
    report = auditing.run(ledger.root, QuickBooksReader(quebec.connector.api, CA_QC), QuickBooksExpectations(CA_QC),
                          min(days), max(days))
    assert report.ok, ([a for a in report.drift], [f for f in report.documents if f.cls not in auditing.PASSING])
    assert report.counts["match"] >= len({t.get("invoice") for t in ledger.txns if t.event_type == "invoice.issued"})
    # A new process, every push uncertain: each found by its key, nothing sent twice.
    cold = QuickBooksConnector(quebec.connector.api, chart="ca-qc")
    outcomes = Counter(cold.push(t, ledger.key(t), True).outcome for t in ledger.txns)
    assert set(outcomes) == {"exists"}
    assert quebec.company()["counts"] == company["counts"]
    print(f"\nQuébec season ({'example-qc' if QC_SEASON.exists() else 'translated'}): {len(ledger.txns)} "
          f"transactions -> {counts}; {requests} requests ({batches} batches); "
          f"XSD-checked bodies: {dict(quebec.transport.checked)}")


def test_each_season_transaction_posts_on_quickbooks_what_the_ledger_posts(season: QuebecLedger) -> None:
    """Transaction by transaction, QuickBooks' postings (per account; A/R per customer)
    equal the ledger's folded through the chart map."""
    def folded(lines: Any) -> dict[tuple[str, str | None], Decimal]:
        out: dict[tuple[str, str | None], Decimal] = {}
        for line in lines:
            key = (line.account.name, line.customer if line.account == CA_QC.receivable else None)
            out[key] = out.get(key, D(0)) + line.amount
        return {k: v for k, v in out.items() if v}

    checked = Counter()
    for txn in season.txns:
        target = mapping.plan(txn, season.key(txn), CA_QC)
        if target is None:
            continue
        assert folded(mapping.remote_postings(target, CA_QC)) == folded(mapping.entry_lines(txn, CA_QC)), txn.seq
        checked[type(target).__name__] += 1
    assert checked["SalesPlan"] and checked["PaymentPlan"] and checked["EntryPlan"]
    assert "ApplicationPlan" not in checked  # no deposit applied as a payment on A/R


def test_ledger_postings_built_by_hand_keep_the_customer_on_customer_deposits() -> None:
    txn = LedgerTxn(seq=1, date=datetime.date(2026, 5, 1), payee="Marie", narration="Dépôt", tags=frozenset(),
                    links=frozenset(), meta=(("event-type", "deposit.received"), ("customer", "Q-001"),
                                             ("booking", "BA")),
                    postings=(LedgerPosting("Assets:1300-UndepositedFunds", D("50.00"), ()),
                              LedgerPosting("Liabilities:2400-CustomerDeposits:C-Q-001", D("-50.00"), ())))
    target = mapping.plan(txn, "k", CA_QC)
    assert isinstance(target, mapping.EntryPlan) and target.entity == "JournalEntry"
    body = mapping.entry_body(target, {line.account: str(i) for i, line in enumerate(target.lines)}, {"C-Q-001": "7"})
    assert body["Line"][1]["JournalEntryLineDetail"]["Entity"] == {"Type": "Customer", "EntityRef": {"value": "7"}}
    assert target.lines[0].account.name == "Undeposited Funds"


def test_an_overpayment_audits_clean_with_its_excess_on_customer_deposits(quebec: Quebec, tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path / "ledger", jsonl(
        invoice("o1", "QO-1", [("1", "100.00", "14.975")], "2026-06-20", booking="BO", customer=MARIE),
        payment("o2", "QO-1", "150.00", "2026-06-21")))
    assert quebec.sync(ledger).sent == 2
    assert D(str(quebec.invoice("QO-1")["Balance"])) == D(0)
    assert quebec.account("Customer Deposits") == D("-35.02")  # 150.00 - 114.98
    assert_books_match(quebec, ledger)
    report = auditing.run(ledger.root, QuickBooksReader(quebec.connector.api, CA_QC), QuickBooksExpectations(CA_QC),
                          datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    assert report.ok, [f for f in report.documents if f.cls not in auditing.PASSING]
    assert report.counts["match"] == 3  # the invoice, the payment and the excess's journal entry
