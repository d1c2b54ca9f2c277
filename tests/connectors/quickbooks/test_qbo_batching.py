"""Many transactions per request: batches, waves, and every outcome on its own item.

Against the real sandbox (FR edition) over HTTP on 127.0.0.1: the batched
replay (``QuickBooksConnector.push_many``, ``waves``) must leave exactly the
documents a one-by-one replay leaves, with a fraction of the requests; a
refused item fails alone inside its batch; a transaction whose invoice could
not be written waits (``Deferred``) instead of going without it.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from factories import invoice
from factories import payment
from qbo_support import Ledger
from qbo_support import Remote
from qbo_support import assert_one_object_per_transaction
from qbo_support import events_ledger
from qbo_support import invoice_balance_differences
from qbo_support import sandbox
from qbo_support import season_ledger
from qbo_support import trial_balance_differences

from connectors.base import PushResult
from connectors.errors import Deferred
from connectors.errors import PermanentError
from connectors.errors import TransientError
from connectors.quickbooks import references
from connectors.quickbooks.connector import QuickBooksConnector
from connectors.quickbooks.waves import SINGLES_PER_BATCH
from connectors.quickbooks.waves import split
from connectors.replay import sync
from connectors.retry import RetryPolicy

NO_WAIT = RetryPolicy(attempts_max=30, sleep=lambda _s: None)
CUSTOMERS = [{"ref": f"K{i}", "name": f"Client {i}", "kind": "individual"} for i in range(12)]


def documents(remote: Remote, connector: QuickBooksConnector) -> dict[str, Any]:
    company = remote.company()
    return {"counts": company["counts"], "doc_numbers": company["doc_numbers"],
            "notes": {entity: sorted(notes) for entity, notes in company["private_notes"].items()},
            "balances": sorted((r["DocNumber"], Decimal(str(r["Balance"])))
                               for r in connector.api.query("SELECT * FROM Invoice"))}


def test_batched_replay_leaves_the_same_documents_with_a_fraction_of_the_requests(tmp_path: Path) -> None:
    season = season_ledger(tmp_path / "season")
    results = {}
    for window in (1, 600):
        ledger = season.copy(tmp_path / f"ledger-{window}")
        with sandbox() as remote:
            connector = remote.connector(window=window)
            summary = sync(ledger.root, connector, since=datetime.date(2000, 1, 1), retry=NO_WAIT)
            assert (summary.sent, summary.failed, summary.parked) == (len(ledger.txns), [], [])
            company = remote.company()
            assert_one_object_per_transaction(company, ledger)
            assert trial_balance_differences(connector, ledger) == {}
            assert invoice_balance_differences(connector, ledger) == {}
            results[window] = (documents(remote, connector), remote.state()["requests"], connector.runner.stats)
    (alone, alone_requests, _), (batched, batched_requests, stats) = results[1], results[600]
    assert batched == alone  # the same objects, notes, numbers and invoice Balances
    assert batched_requests["api_requests"] < alone_requests["api_requests"] / 3
    # Both budgets used: batches (well filled) and single requests beside them.
    assert stats.batches > 5 and stats.singles > 0
    assert batched_requests["batch_items"] / batched_requests["batch_requests"] > 15


def invoices_and_payments(root: Path) -> Ledger:
    events = []
    for i, customer in enumerate(CUSTOMERS):
        number = f"FB-{i:02d}"
        events.append(invoice(f"i{i}", number, [("1", "100.00", "20")], "2026-05-02", customer=customer))
        events.append(payment(f"p{i}", number, "120.00", "2026-05-03"))
    return events_ledger(root, *sorted(events, key=lambda e: e["date"]))


def work(ledger: Ledger, kind: str, uncertain: bool = False) -> list[tuple[Any, str, bool]]:
    return [(t, ledger.key(t), uncertain) for t in ledger.txns if t.event_type == kind]


def test_a_refused_item_fails_alone_inside_its_batch(tmp_path: Path) -> None:
    ledger = invoices_and_payments(tmp_path / "ledger")
    with sandbox() as remote:
        connector = remote.connector()
        outcomes = connector.push_many(work(ledger, "invoice.issued"))
        assert [type(o) for o in outcomes] == [PushResult] * len(CUSTOMERS)
        # Invoice FB-03 is deleted in QuickBooks behind Partida's back: its payment is refused.
        gone = connector.api.query("SELECT * FROM Invoice WHERE DocNumber = 'FB-03'")[0]["Id"]
        assert remote.admin.delete(f"/sandbox/companies/{remote.realm}/invoice/{gone}").status_code == 204
        batches = connector.api.batches
        outcomes = connector.push_many(work(ledger, "payment.received"))
        assert connector.api.batches == batches + 1  # the twelve payments went in one batch
    refused = outcomes.pop(3)
    assert isinstance(refused, PermanentError) and "QuickBooks batch item" in refused.message
    assert all(isinstance(o, PushResult) and o.outcome == "sent" for o in outcomes)


def test_an_invoice_that_could_not_be_written_defers_its_payment_then_nothing_is_twice(tmp_path: Path) -> None:
    ledger = invoices_and_payments(tmp_path / "ledger")
    txns = [(t, ledger.key(t)) for t in ledger.txns]
    with sandbox() as remote:
        connector = remote.connector()
        assert connector.names.tax  # reference data read before the outage
        remote.admin.put("/sandbox/faults", json={"plan": "3:5xx=100%"})
        outcomes = connector.push_many([(t, key, False) for t, key in txns])
        kinds = {(t.event_type, type(o)) for (t, _), o in zip(txns, outcomes, strict=True)}
        assert kinds == {("invoice.issued", TransientError), ("payment.received", Deferred)}  # never sent alone
        remote.admin.put("/sandbox/faults", json={"plan": None})
        # Again, as the replay loop does: the invoices looked up first (sent, maybe), the payments not.
        again = connector.push_many([(t, key, t.event_type == "invoice.issued") for t, key in txns])
        assert all(isinstance(o, PushResult) for o in again)
        company = remote.company()
    assert_one_object_per_transaction(company, ledger)
    assert company["doc_numbers"]["Invoice"] == {references.doc_number(f"FB-{i:02d}"): 1 for i in range(12)}


@pytest.mark.parametrize("size", [0, 1, 3, 4, 29, 30, 41, 45, 100, 600])
def test_a_round_splits_into_full_batches_and_singles_the_same_way_every_time(size: int) -> None:
    tasks = list(range(size))
    batches, singles = split(tasks)  # type: ignore[arg-type]
    assert sorted(sum(batches, []) + singles) == tasks  # each request once
    assert all(1 <= len(b) <= 30 for b in batches)
    assert len(singles) <= SINGLES_PER_BATCH * len(batches) + 3  # singles follow batches, or a short rest
    assert split(tasks) == (batches, singles)  # type: ignore[arg-type]
    if size >= 41:
        assert len(batches[0]) == 30 and len(singles) >= SINGLES_PER_BATCH
