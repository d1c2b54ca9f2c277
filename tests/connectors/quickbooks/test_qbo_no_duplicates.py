"""No duplicate QuickBooks object, ever: `partida sync quickbooks` killed with SIGKILL, and the 10% fault plan.

Real processes: the sandbox (FR edition) runs in this test process on
127.0.0.1; `partida sync quickbooks` runs as a child process through the real
CLI, credentials in a real token store, batched as it is by default. The
reference is a clean sync of the same ledger into a fresh company: the
killed and the faulted runs must end with exactly one remote object per
local transaction (``qbo_support.assert_one_object_per_transaction``, on the
sandbox's own state), none twice, and the same invoice Balances.
"""

from __future__ import annotations

import dataclasses
import os
import random
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from conftest import BIN
from conftest import partida
from factories import cash
from factories import credit_note
from factories import many_events
from qbo_support import Ledger
from qbo_support import Remote
from qbo_support import assert_one_object_per_transaction
from qbo_support import events_ledger
from qbo_support import invoice_balance_differences
from qbo_support import sandbox

from connectors.quickbooks.sandbox import TOKEN_PATH
from connectors.sandbox.faults import parse_fault_plan
from connectors.syncstate import SyncState
from connectors.tokens import Credentials
from connectors.tokens import TokenStore
from connectors.tokens import connection_key

pytestmark = pytest.mark.slow

EVENTS = many_events(40, "q") + [
    credit_note("q-cn", "qAV1", "qF3", [("1", "20.00", "20")], "2027-04-10"),
    cash("q-cash", "expense", "12.00", "2026-03-03", account="6063"),
]
FAST = {"PARTIDA_RATE_LIMIT": "1000/1"}  # the sandboxes here run with their limits off


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Ledger:
    return events_ledger(tmp_path_factory.mktemp("qbo-nodup") / "ledger", *EVENTS)


def connect(remote: Remote, ledger: Ledger, tmp: Path) -> dict[str, str]:
    """Store OAuth credentials for the ledger (as `partida connect --oauth` would); the env to use them."""
    minted = remote.admin.post(f"/sandbox/companies/{remote.realm}/tokens").json()
    tokens = tmp / "secrets" / "tokens.json"
    TokenStore(tokens).put(connection_key("quickbooks", ledger.root), Credentials(
        "oauth", remote.base, minted["access_token"], minted["refresh_token"], time.time() + 3600,
        remote.base + TOKEN_PATH, minted["client_id"], minted["client_secret"], {"realmId": remote.realm}))
    return {"PARTIDA_TOKENS": str(tokens)}


def sync_args(ledger: Ledger) -> list[str]:
    return [str(BIN / "partida"), "sync", "quickbooks", "--ledger", str(ledger.root), "--since", "2000-01-01"]


def documents(remote: Remote, ledger: Ledger) -> dict[str, Any]:
    """What a company holds, comparable across companies, after the one-object-per-transaction check."""
    company = remote.company()
    assert_one_object_per_transaction(company, ledger)
    connector = remote.connector()
    assert invoice_balance_differences(connector, ledger) == {}
    balances = sorted((r["DocNumber"], Decimal(str(r["Balance"]))) for r in connector.api.query("SELECT * FROM Invoice"))
    return {"counts": company["counts"], "doc_numbers": company["doc_numbers"],
            "notes": {entity: sorted(notes) for entity, notes in company["private_notes"].items()},
            "balances": balances}


@pytest.fixture(scope="module")
def reference(source: Ledger, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("qbo-reference")
    ledger = source.copy(tmp / "ledger")
    with sandbox() as remote:
        env = {**connect(remote, ledger, tmp), **FAST}
        result = partida(*sync_args(ledger)[1:], env=env)
        assert result.returncode == 0, result.stderr
        assert "0 failed, 0 parked" in result.stdout
        assert remote.state()["requests"].get("batch_requests", 0) > 0  # the default sync batches
        return documents(remote, ledger)


def replay_states(ledger: Ledger) -> dict[str, int]:
    state = SyncState(ledger.root, "quickbooks")
    try:
        return state.counts()
    finally:
        state.close()


def test_kill_9_at_random_moments_then_rerun(source: Ledger, reference: dict[str, Any], tmp_path: Path) -> None:
    rng = random.Random(1234)
    ledger = source.copy(tmp_path / "ledger")
    total = len(ledger.txns)
    with sandbox() as remote:
        env = {**os.environ, **connect(remote, ledger, tmp_path),
               # Paced at 15 requests/s in windows of 8 transactions, a full run takes about
               # 10 s over many small batches: the kills land mid-sync.
               "PARTIDA_RATE_LIMIT": "15/1", "PARTIDA_QUICKBOOKS_WINDOW": "8"}
        mid_sync, uncertain_seen, synced_before, progress = 0, 0, -1, []
        for _ in range(7):
            proc = subprocess.Popen(sync_args(ledger), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(1.0, 2.5))
            alive = proc.poll() is None
            if alive:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            states = replay_states(ledger)
            # Evidence the kill landed mid-sync: the process was running, some of the
            # ledger was synced, not all, and more than after the previous kill.
            if alive and synced_before < states["synced"] < total:
                mid_sync += 1
            uncertain_seen += states["uncertain"] > 0
            progress.append((alive, states["synced"], states["uncertain"]))
            synced_before = states["synced"]
        assert mid_sync >= 4, f"only {mid_sync} kills landed mid-sync: (alive, synced, uncertain) {progress}"
        assert uncertain_seen >= 1  # some kills caught transactions sent with their outcome unknown

        final = partida(*sync_args(ledger)[1:], env={k: env[k] for k in ("PARTIDA_TOKENS",)} | FAST)
        assert final.returncode == 0, final.stderr
        assert documents(remote, ledger) == reference
        states = replay_states(ledger)
        assert states["synced"] == total and states["uncertain"] == states["failed"] == states["parked"] == 0


def test_ten_percent_fault_plan_drops_after_commit_included(source: Ledger, reference: dict[str, Any],
                                                            tmp_path: Path) -> None:
    ledger = source.copy(tmp_path / "ledger")
    # 42:10%: 429 bursts, 5xx, slow answers and connections dropped after the
    # write was committed, on whole requests and on batch items; slow answers
    # wait 0.2 s instead of 2 s to keep the test short.
    plan = dataclasses.replace(parse_fault_plan("42:10%"), slow_s=0.2)
    with sandbox(faults=plan) as remote:
        # Windows of 8 transactions: many small batches, so more requests meet a fault.
        env = {**connect(remote, ledger, tmp_path), **FAST, "PARTIDA_QUICKBOOKS_WINDOW": "8"}
        for _ in range(6):  # a run may stop on a long outage streak; the next one resumes
            result = partida(*sync_args(ledger)[1:], env=env)
            if result.returncode == 0:
                break
        assert result.returncode == 0, result.stderr
        requests = remote.state()["requests"]
        assert requests["faults"].get("drop", 0) > 0  # writes committed whose answer was lost
        assert sum(requests["item_faults"].values()) > 0  # batch items failing on their own
        assert remote.admin.put("/sandbox/faults", json={"plan": None}).status_code == 200  # for the checks
        assert documents(remote, ledger) == reference
