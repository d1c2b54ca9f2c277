"""The example season replayed to the QuickBooks sandbox (FR edition) with the real replay loop.

``ledgers/example/season.jsonl`` is recorded into a fresh ``fr-pcg`` ledger
once per module; each test replays a copy (its own replay state) with
``connectors.replay.sync`` into a new company over real HTTP on 127.0.0.1,
then compares the company with the ledger (see ``qbo_support``).
"""

from __future__ import annotations

import dataclasses
import datetime
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from qbo_support import WINDOW
from qbo_support import Ledger
from qbo_support import XsdTransport
from qbo_support import assert_one_object_per_transaction
from qbo_support import invoice_balance_differences
from qbo_support import sandbox
from qbo_support import season_ledger
from qbo_support import trial_balance_differences

from connectors.errors import ConflictError
from connectors.pacing import Pacer
from connectors.quickbooks import mapping
from connectors.quickbooks import references
from connectors.quickbooks import xsd
from connectors.quickbooks.client import QuickBooksClient
from connectors.quickbooks.connector import QuickBooksConnector
from connectors.replay import SyncSummary
from connectors.replay import sync
from connectors.retry import RetryPolicy
from connectors.sandbox.faults import parse_fault_plan

NO_WAIT = RetryPolicy(attempts_max=30, sleep=lambda _s: None)


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    return season_ledger(tmp_path_factory.mktemp("qbo-season") / "ledger")


@pytest.fixture
def ledger(season: Ledger, tmp_path: Path) -> Ledger:
    return season.copy(tmp_path / "ledger")


def replay(ledger: Ledger, connector: QuickBooksConnector, runs: int = 5) -> SyncSummary:
    """``sync`` until nothing is left (a run stops when the provider keeps failing)."""
    total = SyncSummary("quickbooks")
    for _ in range(runs):
        summary = sync(ledger.root, connector, since=datetime.date(2000, 1, 1), retry=NO_WAIT)
        total.sent, total.exists, total.skipped = (total.sent + summary.sent, total.exists + summary.exists,
                                                   total.skipped + summary.skipped)
        total.failed += summary.failed
        total.parked += summary.parked
        if summary.stopped is None:
            return total
    pytest.fail(f"the replay did not finish in {runs} runs: {summary.stopped}")


def assert_books_match(connector: QuickBooksConnector, ledger: Ledger, company: dict[str, Any]) -> None:
    assert trial_balance_differences(connector, ledger) == {}
    assert invoice_balance_differences(connector, ledger) == {}
    assert_one_object_per_transaction(company, ledger)


@pytest.fixture(scope="module")
def schema() -> Any:
    try:
        return xsd.load_schema()
    except FileNotFoundError:
        pytest.skip(f"Intuit's XSD is not at {xsd.default_schema_dir().resolve()}: payloads not checked")


def test_the_season_syncs_once_equals_the_ledger_and_fits_intuits_xsd(ledger: Ledger, schema: Any) -> None:
    transport = XsdTransport(schema)
    with sandbox() as remote:
        connector = remote.connector(transport=transport)
        summary = replay(ledger, connector)
        assert (summary.sent, summary.failed, summary.parked) == (len(ledger.txns), [], [])
        company, requests, sent = remote.company(), remote.state()["requests"], connector.api.requests
        assert requests["api_requests"] == sent and requests.get("requestid_replays", 0) == 0
        assert sent < 1.5 * len(ledger.txns)
        assert_books_match(connector, ledger, company)

        # A second sync has nothing to send and creates nothing.
        again = sync(ledger.root, connector, since=datetime.date(2000, 1, 1), retry=NO_WAIT)
        assert (again.sent, again.exists, again.left) == (0, 0, 0)
        assert remote.company()["counts"] == company["counts"]
    print(f"\nseason: {len(ledger.txns)} transactions -> {company['counts']}; {sent} requests "
          f"({connector.api.batches} batches of {connector.api.batch_items} items); "
          f"XSD-checked bodies: {dict(transport.checked)}")
    assert sum(transport.checked.values()) > len(ledger.txns)
    assert transport.problems == []


@pytest.mark.parametrize("window", [1, WINDOW], ids=["one-by-one", "batched"])
def test_a_lost_replay_state_or_a_cold_uncertain_replay_creates_nothing(ledger: Ledger, window: int) -> None:
    with sandbox() as remote:
        replay(ledger, remote.connector(window=window))
        before = remote.company()

        # The replay state is lost: everything goes again, under the same keys.
        (ledger.root / "sync" / "quickbooks.sqlite3").unlink()
        summary = replay(ledger, remote.connector(window=window))
        assert remote.company()["counts"] == before["counts"]
        if window == 1:  # the same requestids: QuickBooks answers with what it stored
            assert remote.state()["requests"]["requestid_replays"] > 0
        else:  # the window's first document is there: every transaction is looked up, none written
            assert (summary.sent, summary.exists) == (0, len(ledger.txns))

        # A new process, every push uncertain: found by its key, nothing sent.
        cold = remote.connector()
        outcomes = {cold.push(t, ledger.key(t), True).outcome for t in ledger.txns}
        assert outcomes == {"exists"}
        after = remote.company()
        assert after["counts"] == before["counts"]
        assert_books_match(cold, ledger, after)


@pytest.fixture(scope="module")
def clean_run(season: Ledger, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What a clean sync of the season leaves on a company, in comparable form."""
    ledger = season.copy(tmp_path_factory.mktemp("qbo-clean") / "ledger")
    with sandbox() as remote:
        connector = remote.connector()
        replay(ledger, connector)
        return comparable(remote.company(), connector)


def comparable(company: dict[str, Any], connector: QuickBooksConnector) -> dict[str, Any]:
    """A company's documents, independent of Ids and of the order they came in."""
    days = (datetime.date(2026, 1, 1), datetime.date(2026, 12, 31))
    names = {a["Id"]: a["Name"] for a in connector.api.query("SELECT * FROM Account")}
    return {
        "counts": company["counts"], "doc_numbers": company["doc_numbers"],
        "notes": {entity: sorted(notes) for entity, notes in company["private_notes"].items()},
        "trial_balance": {names[k]: v for k, v in connector.api.trial_balance(*days).items()},
        "balances": sorted((r["DocNumber"], r["Balance"]) for r in connector.api.query("SELECT * FROM Invoice")),
    }


def test_under_the_fault_plan_the_result_equals_a_clean_runs(ledger: Ledger, clean_run: dict[str, Any]) -> None:
    # 42:10%: 429 bursts, 5xx, slow answers and connections dropped after the
    # write was committed. Slow answers wait 0.2 s instead of 2 s to keep the
    # suite short; what they test (a late answer) is the same.
    plan = dataclasses.replace(parse_fault_plan("42:10%"), slow_s=0.2)
    with sandbox(faults=plan) as remote:
        # Windows of 20 transactions: more, smaller batches, so more requests meet a fault
        # (with this plan, writes dropped after their commit among them).
        connector = remote.connector(window=20)
        summary = replay(ledger, connector)
        requests = remote.state()["requests"]
        faults, item_faults = requests["faults"], requests["item_faults"]
        assert faults.get("drop", 0) >= 2 and faults.get("429", 0) > 10 and faults.get("5xx", 0) > 3
        assert sum(item_faults.values()) > 3  # batch items failing on their own
        assert summary.exists > 0 and (summary.failed, summary.parked) == ([], [])
        company = remote.company()
        assert comparable(company, connector) == clean_run
        assert_books_match(connector, ledger, company)


class FakeClock:
    """Time shared by the sandbox's limiters and the client's pacers; it moves
    only when the pacer waits, so a minute of limits costs no real minute."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


@pytest.mark.parametrize("window", [1, 8], ids=["one-by-one", "small-batches"])
def test_the_real_limits_give_no_429(ledger: Ledger, window: int) -> None:
    clock = FakeClock()
    with sandbox(rate_limit=(500, 60.0), batch_rate_limit=(40, 60.0), concurrency=10, clock=clock) as remote:
        connector = remote.connector(pacer=Pacer(500, 60.0, clock=clock, sleep=clock.sleep),
                                     batch_pacer=Pacer(40, 60.0, clock=clock, sleep=clock.sleep), window=window)
        started = clock.now
        replay(ledger, connector)
        requests = remote.state()["requests"]
    if window == 1:
        assert connector.api.requests > 500  # more than one minute's budget...
    else:  # windows of 8 make many small batches
        assert connector.api.batches > 40  # more than one minute's batch budget...
    assert clock.now - started >= 60.0  # ...so the pacer waited a (virtual) minute...
    assert requests.get("rate_limited", 0) == 0 and requests.get("concurrency_limited", 0) == 0  # ...and no 429


def test_threads_never_have_more_than_ten_requests_in_flight() -> None:
    with sandbox(rate_limit=(500, 60.0), concurrency=10) as remote:
        http = remote.connector().api.http
        client = QuickBooksClient(http)  # the real pace: 500 per minute, 10 in flight

        def work() -> None:
            for _ in range(3):
                client.query("SELECT * FROM Account")

        threads = [threading.Thread(target=work) for _ in range(40)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        requests = remote.state()["requests"]
    assert client.requests == 120 and 1 < client.in_flight_max <= 10
    assert requests.get("concurrency_limited", 0) == 0 and requests.get("rate_limited", 0) == 0
    assert time.monotonic() - started < 30


def test_a_document_changed_under_its_number_is_a_conflict(ledger: Ledger) -> None:
    invoice_txn = next(t for t in ledger.txns if t.event_type == "invoice.issued" and t.get("step") is None)
    first = ledger.txns[:ledger.txns.index(invoice_txn) + 1]  # up to the first invoice, not yet paid
    with sandbox() as remote:
        connector = remote.connector()
        for txn in first:
            connector.push(txn, ledger.key(txn), False)
        number = invoice_txn.get("invoice") or ""
        found = connector.api.query(f"SELECT * FROM Invoice WHERE DocNumber = '{references.doc_number(number)}'")[0]
        answer = remote.admin.patch(f"/sandbox/companies/{remote.realm}/invoice/{found['Id']}",
                                    json={"Amount": "1.00", "LineNum": 1})
        assert answer.status_code == 200, answer.text
        with pytest.raises(ConflictError, match="another customer or total"):
            QuickBooksConnector(connector.api).push(invoice_txn, ledger.key(invoice_txn), True)
