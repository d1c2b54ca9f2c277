"""The example season replayed to the Pennylane sandbox over real HTTP on 127.0.0.1.

Each test records ``ledgers/example/season.jsonl`` into a fresh ledger (once
per module), pushes every transaction in seq order with a plain loop, and
compares the sandbox with the ledger: trial balance per PCG number, paid
status and open amount per invoice, one remote document per key.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import REPO, partida
from test_sandbox import SPEC_PATH, check_exchange

from connectors.errors import ConflictError, TransientError
from connectors.pacing import Pacer
from connectors.pennylane import mapping
from connectors.pennylane.connector import PennylaneConnector
from connectors.pennylane.sandbox import create_app
from connectors.sandbox.server import running
from engine.journal import LedgerTxn, read_transactions
from engine.ledger import LedgerSession, init_ledger, record_batch
from engine.settings import Settings

API = "/api/external/v2"
UNPACED = Pacer(1_000_000, 1.0)  # the sandbox's limit is off in most tests: no client pacing either
Exchange = tuple[httpx.Request, httpx.Response]


@dataclass(frozen=True)
class Season:
    root: Path
    txns: list[LedgerTxn]
    balances: dict[str, Decimal]  # per PCG number, debit positive, customer sub-accounts folded
    open_amounts: dict[str, Decimal]  # invoice number -> what is still due

    def key(self, txn: LedgerTxn) -> str:
        return f"partida-{txn.event_id}-{txn.seq}"


@pytest.fixture(scope="module")
def season(tmp_path_factory: pytest.TempPathFactory) -> Season:
    root = tmp_path_factory.mktemp("pn-replay") / "ledger"
    init_ledger(root, Settings(company="Les Gorges Vives SARL"))
    result = record_batch(root, (REPO / "ledgers" / "example" / "season.jsonl").read_bytes())
    assert not result.problems
    rows = json.loads(partida("balance", "--ledger", str(root), "--format", "json", check=True).stdout)
    txns = read_transactions(root)
    numbers = {t.get("invoice") for t in txns if t.event_type == "invoice.issued" and t.get("step") is None}
    with LedgerSession(root) as session:
        assert session.index is not None
        opens = {n: session.index.invoice(n).open for n in numbers if n}  # type: ignore[union-attr]
    return Season(root, txns, {r["number"]: Decimal(r["balance"]) for r in rows if Decimal(r["balance"])}, opens)


class Recorder(httpx.BaseTransport):
    """A real transport that keeps every exchange (for the OpenAPI check)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.exchanges: list[Exchange] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        response.read()
        self.exchanges.append((request, response))
        return response

    def close(self) -> None:
        self.inner.close()


@dataclass
class Remote:
    base: str
    admin: httpx.Client

    def connector(self, pacer: Pacer | None = UNPACED, transport: httpx.BaseTransport | None = None,
                  **options: Any) -> PennylaneConnector:
        token = self.admin.post("/sandbox/company_tokens", json={}).json()["token"]
        http = httpx.Client(base_url=self.base + API, headers={"authorization": f"Bearer {token}"},
                            transport=transport, timeout=10)
        return PennylaneConnector(http, pacer=pacer, **options)

    def state(self) -> dict[str, Any]:
        return dict(self.admin.get("/sandbox/state").json())


@contextlib.contextmanager
def sandbox(**options: Any) -> Iterator[Remote]:
    options.setdefault("rate_limit", None)
    with running(create_app(**options)) as base, httpx.Client(base_url=base, timeout=10) as admin:
        yield Remote(base, admin)


def replay(connector: PennylaneConnector, season: Season, txns: list[LedgerTxn] | None = None, *,
           uncertain: bool = False) -> Counter[str]:
    """Push in seq order; a transient failure is pushed again as uncertain, as the replay loop does."""
    outcomes: Counter[str] = Counter()
    for txn in txns if txns is not None else season.txns:
        again = uncertain
        for _ in range(20):
            try:
                outcomes[connector.push(txn, season.key(txn), again).outcome] += 1
                break
            except TransientError:
                again = True
        else:
            pytest.fail(f"seq {txn.seq} kept failing")
    return outcomes


def documents_of(season: Season) -> list[mapping.DocumentPlan]:
    plans = [mapping.plan(t, season.key(t)) for t in season.txns]
    return [p for p in plans if isinstance(p, mapping.DocumentPlan)]


def assert_books_match(connector: PennylaneConnector, season: Season) -> None:
    """Trial balance per PCG number, and each invoice's payment state, equal the ledger's."""
    days = [t.date for t in season.txns]
    rows = connector.trial_balance(min(days), max(days))
    remote = {r["number"]: Decimal(r["debits"]) - Decimal(r["credits"]) for r in rows}
    assert {n: v for n, v in remote.items() if v} == season.balances
    invoices = {i["external_reference"]: i for i in connector.api.list_all("/customer_invoices")}
    by_key = {doc.number: invoices[doc.key] for doc in documents_of(season) if doc.kind == "invoice"}
    assert set(by_key) == set(season.open_amounts)
    for number, open_amount in season.open_amounts.items():
        remote_invoice = by_key[number]
        assert remote_invoice["paid"] is (open_amount <= 0), number
        assert Decimal(remote_invoice["remaining_amount_with_tax"]) == max(open_amount, Decimal(0)), number
    for doc in documents_of(season):
        remote_doc = invoices[doc.key]
        assert Decimal(remote_doc["amount"]) == doc.total  # the document equals the ledger
        if doc.credited:
            assert remote_doc["credited_invoice"]["id"] == by_key[doc.credited]["id"]


def assert_one_document_per_transaction(state: dict[str, Any], season: Season) -> None:
    """Every key is held by exactly one remote document, plus one reconciliation
    entry per document whose entry differs from the ledger's."""
    docs = documents_of(season)
    doc_keys = {doc.key for doc in docs}
    entry_keys = {season.key(t) for t in season.txns} - doc_keys
    reconciliations = {mapping.reconciliation_piece(doc.key) for doc in docs if mapping.predicted_reconciliation(doc)}
    assert state["external_references"]["customer_invoices"] == dict.fromkeys(doc_keys, 1)
    assert state["piece_numbers"] == dict.fromkeys(entry_keys | reconciliations, 1)
    assert not any(state["duplicates"].values())
    counts = state["counts"]
    assert counts["customer_invoices"] + counts["credit_notes"] == len(doc_keys)
    # Ledger entries: the documents' own, one per other transaction, the reconciliations.
    assert counts["ledger_entries"] == len(season.txns) + len(reconciliations)


def test_the_season_replays_once_equals_the_ledger_and_fits_the_spec(season: Season) -> None:
    recorder = Recorder()
    with sandbox() as remote:
        connector = remote.connector(transport=recorder)
        assert replay(connector, season) == {"sent": len(season.txns)}
        first, first_requests = remote.state(), connector.api.requests
        assert first["requests"]["api_requests"] == first_requests
        assert first_requests < 2.5 * len(season.txns)
        assert_books_match(connector, season)
        assert_one_document_per_transaction(first, season)

        # Everything again, each push uncertain: found by key, nothing created.
        before = connector.api.requests
        assert replay(connector, season, uncertain=True) == {"exists": len(season.txns)}
        again_requests = connector.api.requests - before
        again = remote.state()
        assert again["counts"] == first["counts"]
        assert_one_document_per_transaction(again, season)
        assert_books_match(connector, season)

        # And from a new process: nothing cached, the same answer.
        fresh = remote.connector()
        assert replay(fresh, season, uncertain=True) == {"exists": len(season.txns)}
        assert remote.state()["counts"] == first["counts"]
    print(f"\nseason: {len(season.txns)} transactions -> {first['counts']}; {first_requests} requests "
          f"for the first replay, {again_requests} for the uncertain one, {fresh.api.requests} from a cold start")
    if not SPEC_PATH.exists():
        pytest.skip(f"OpenAPI check skipped: {SPEC_PATH} is absent")
    from openapi_core import OpenAPI

    openapi = OpenAPI.from_dict(json.loads(SPEC_PATH.read_text(encoding="utf-8")))
    assert len(recorder.exchanges) == connector.api.requests
    problems = [p for exchange in recorder.exchanges if (p := check_exchange(openapi, *exchange))]
    assert not problems, "\n".join(problems[:20])


def test_a_replay_through_faults_converges_without_duplicates(season: Season) -> None:
    # 5xx answers (not executed) and dropped connections (executed, answer lost),
    # on any request of a push: each push is retried as uncertain until it lands.
    with sandbox(faults="11:5xx=4%,drop=4%") as remote:
        connector = remote.connector()
        outcomes = replay(connector, season)
        state = remote.state()
        assert sum(outcomes.values()) == len(season.txns) and outcomes["exists"] > 0
        assert state["requests"]["faults"].get("drop", 0) > 10
        assert_one_document_per_transaction(state, season)
        assert_books_match(connector, season)


def test_the_pacer_keeps_a_replay_under_the_real_rate_limit(season: Season) -> None:
    with sandbox(rate_limit=(25, 5.0)) as remote:
        connector = remote.connector(pacer=None)  # the default: 25 requests per 5 s
        started = time.monotonic()
        replay(connector, season, season.txns[:12])
        elapsed = time.monotonic() - started
        state = remote.state()
    assert state["requests"]["api_requests"] > 25  # more than one window's worth...
    assert elapsed >= 5.0  # ...so the pacer had to wait...
    assert state["requests"].get("rate_limited", 0) == 0  # ...and the sandbox never said 429


def test_a_document_changed_under_its_key_is_a_conflict(season: Season) -> None:
    first = season.txns[:11]  # up to the first invoice, its deposit application and payment
    invoice_txn = next(t for t in first if t.event_type == "invoice.issued" and t.get("step") is None)
    payment_txn = next(t for t in first if t.event_type == "payment.received")
    with sandbox() as remote:
        connector = remote.connector()
        replay(connector, season, first)
        remote_invoice = connector.api.find_invoice(season.key(invoice_txn))
        assert remote_invoice is not None
        remote.admin.patch(f"/sandbox/customer_invoices/{remote_invoice['id']}", json={"amount": "1.00"})
        with pytest.raises(ConflictError, match="another customer or total"):
            connector.push(invoice_txn, season.key(invoice_txn), True)
        cash_journal = next(j["id"] for j in connector.api.journals() if j["code"] == connector.journal_codes["cash"])
        entry = connector.api.find_entry(cash_journal, payment_txn.date, season.key(payment_txn))
        assert entry is not None
        line = connector.api.entry_lines(entry["id"])[0]
        remote.admin.patch(f"/sandbox/ledger_entry_lines/{line['id']}", json={"debit": "1.00"})
        with pytest.raises(ConflictError, match="other amounts"):
            connector.push(payment_txn, season.key(payment_txn), True)
        assert not any(remote.state()["duplicates"].values())
