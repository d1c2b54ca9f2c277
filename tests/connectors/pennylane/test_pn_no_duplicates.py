"""No duplicate remote document, ever: kill -9 during sync, and a 10% fault plan.

Real processes: the sandbox runs in this test process on 127.0.0.1, `partida
sync` runs as a child process and is killed with SIGKILL at random moments.
The reference is a clean sync of the same ledger into a fresh sandbox: the
faulted or killed runs must end with exactly the same documents, none twice.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from conftest import BIN, jsonl, partida
from factories import many_events

from connectors.pennylane.sandbox import create_app
from connectors.sandbox.server import running

pytestmark = pytest.mark.slow

# In date order, as a platform sends them (Pennylane refuses an invoice dated
# before the last one).
EVENTS = sorted(many_events(25, "k") + [
    {"id": "k-cash", "type": "cash.movement", "date": "2026-03-03", "kind": "expense", "amount": "12.00", "account": "6063"},
], key=lambda e: e["date"])
FAST = {"PARTIDA_RATE_LIMIT": "1000/1"}  # the sandboxes here run with their limit off


def connected_ledger(tmp_path: Path, name: str, base: str) -> tuple[Path, dict[str, str]]:
    root = tmp_path / name
    env = {"PARTIDA_TOKENS": str(tmp_path / f"{name}-tokens.json"), **FAST}
    partida("init", "--ledger", str(root), "--company", "X", check=True)
    partida("record", "--ledger", str(root), "-", input=jsonl(*EVENTS), check=True)
    token = httpx.post(f"{base}/sandbox/company_tokens", json={}).json()["token"]
    partida("connect", "pennylane", "--ledger", str(root), "--base-url", base, "--stdin",
            input=(token + "\n").encode(), env=env, check=True)
    return root, env


def sync_args(root: Path) -> list[str]:
    return [str(BIN / "partida"), "sync", "pennylane", "--ledger", str(root), "--since", "2000-01-01"]


def documents(base: str) -> dict:
    state = httpx.get(f"{base}/sandbox/state").json()
    return {"counts": state["counts"], "duplicates": state["duplicates"], "paid": sorted(state["paid_invoices"])}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("reference")
    with running(create_app(rate_limit=None)) as base:
        root, env = connected_ledger(tmp, "clean", base)
        result = partida(*sync_args(root)[1:], env=env)
        assert result.returncode == 0, result.stderr
        return documents(base)


def test_reference_run_has_no_duplicates(reference: dict) -> None:
    assert all(not v for v in reference["duplicates"].values())
    assert reference["counts"]["customer_invoices"] == 25


def test_kill_9_at_random_moments_then_rerun(tmp_path: Path, reference: dict) -> None:
    rng = random.Random(99)
    with running(create_app(rate_limit=None)) as base:
        root, env = connected_ledger(tmp_path, "killed", base)
        kills = 0
        for _ in range(6):
            # Paced at 40 requests/s, a full run takes several seconds: the kills land mid-sync.
            proc = subprocess.Popen(sync_args(root), env={**os.environ, **env, "PARTIDA_RATE_LIMIT": "40/1"},
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.5, 3.0))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(timeout=30)
        final = partida(*sync_args(root)[1:], env=env)
        assert final.returncode == 0, final.stderr
        assert kills >= 4
        assert documents(base) == reference
        st = partida("status", "--ledger", str(root), env=env, check=True).stdout
        assert "0 pending" in st and "0 uncertain" in st


def test_ten_percent_fault_plan_drops_after_commit_included(tmp_path: Path, reference: dict) -> None:
    with running(create_app(rate_limit=None, faults="42:10%")) as base:
        root, env = connected_ledger(tmp_path, "faulted", base)
        for _ in range(5):  # a run may stop on a long outage streak; the next one resumes
            result = partida(*sync_args(root)[1:], env=env)
            if result.returncode == 0:
                break
        assert result.returncode == 0, result.stderr
        faults = httpx.get(f"{base}/sandbox/state").json()["requests"]["faults"]
        assert faults.get("drop", 0) > 0  # writes committed whose answer was lost
        assert documents(base) == reference
