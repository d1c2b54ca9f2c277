"""`partida sync`/`status`/`record --sync` against the real sandbox, as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from conftest import jsonl, partida

from connectors.pennylane.sandbox import create_app
from connectors.sandbox.server import running
from connectors.tokens import TokenStore, connection_key
from sandbox_oauth import oauth_credentials

FAST = {"PARTIDA_RATE_LIMIT": "1000/1"}


def invoice(i: int, date: str) -> dict:
    return {"id": f"i{i}", "type": "invoice.issued", "date": date, "number": f"F-{i}",
            "customer": {"ref": "C1", "name": "Ada", "kind": "individual"},
            "lines": [{"label": "Kayak", "quantity": "1", "unit_price": "40.00", "vat_rate": "20"}]}


@pytest.fixture
def sandbox():
    with running(create_app(rate_limit=None)) as base:
        yield base


def connect(tmp_path: Path, base: str) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "l"
    env = {"PARTIDA_TOKENS": str(tmp_path / "tokens.json"), **FAST}
    partida("init", "--ledger", str(root), "--company", "X", check=True)
    token = httpx.post(f"{base}/sandbox/company_tokens", json={}).json()["token"]
    partida("connect", "pennylane", "--ledger", str(root), "--base-url", base, "--stdin",
            input=(token + "\n").encode(), env=env, check=True)
    return root, env


def test_a_rejected_transaction_is_reported_and_the_others_go_on(sandbox: str, tmp_path: Path) -> None:
    root, env = connect(tmp_path, sandbox)
    # Pennylane refuses an invoice dated before the last one: F-2 is back-dated.
    events = [invoice(1, "2026-03-10"), invoice(2, "2026-03-01"), invoice(3, "2026-03-12"),
              {"id": "p3", "type": "payment.received", "date": "2026-03-12", "invoice": "F-3", "amount": "48.00",
               "method": "card"}]
    partida("record", "--ledger", str(root), "-", input=jsonl(*events), check=True)
    result = partida("sync", "pennylane", "--ledger", str(root), "--since", "2026-01-01", env=env)
    assert result.returncode == 1
    assert "3 sent, 0 already there, 1 failed, 0 parked" in result.stdout
    failed = [l for l in result.stderr.splitlines() if l.startswith("failed:")]
    assert len(failed) == 1 and "(event i2)" in failed[0] and "422" in failed[0]
    status = partida("status", "--ledger", str(root), env=env, check=True).stdout
    assert "pennylane: 0 pending, 3 synced, 0 uncertain, 1 failed, 0 parked" in status
    state = httpx.get(f"{sandbox}/sandbox/state").json()
    assert state["counts"]["customer_invoices"] == 2 and len(state["paid_invoices"]) == 1


def test_dry_run_sends_nothing(sandbox: str, tmp_path: Path) -> None:
    root, env = connect(tmp_path, sandbox)
    partida("record", "--ledger", str(root), "-", input=jsonl(invoice(1, "2026-03-10")), check=True)
    before = httpx.get(f"{sandbox}/sandbox/state").json()["requests"]["api_requests"]
    result = partida("sync", "pennylane", "--ledger", str(root), "--since", "2026-01-01", "--dry-run", env=env,
                     check=True)
    assert "dry run: 1 transaction(s) since 2026-01-01 would be sent; nothing was sent" in result.stdout
    assert "seq 1 (i1):" in result.stdout
    assert httpx.get(f"{sandbox}/sandbox/state").json()["counts"]["customer_invoices"] == 0
    assert httpx.get(f"{sandbox}/sandbox/state").json()["requests"]["api_requests"] == before
    assert "pennylane: 1 pending" in partida("status", "--ledger", str(root), env=env, check=True).stdout


def test_since_defaults_to_the_current_fiscal_year(sandbox: str, tmp_path: Path) -> None:
    import datetime
    root, env = connect(tmp_path, sandbox)
    this_year = datetime.date.today().year
    events = [invoice(1, f"{this_year - 1}-06-01"), invoice(2, f"{this_year}-01-05")]
    partida("record", "--ledger", str(root), "-", input=jsonl(*events), check=True)
    result = partida("sync", "pennylane", "--ledger", str(root), env=env, check=True)
    assert "1 sent" in result.stdout
    assert f"oldest pending: seq 1 ({this_year - 1}-06-01, event i1)" in partida(
        "status", "--ledger", str(root), env=env, check=True).stdout


def test_record_with_sync_is_the_real_time_path(sandbox: str, tmp_path: Path) -> None:
    root, env = connect(tmp_path, sandbox)
    import datetime
    today = datetime.date.today().isoformat()
    result = partida("record", "--ledger", str(root), "--sync", "pennylane", "-",
                     input=jsonl(invoice(1, today)), env=env)
    assert result.returncode == 0, result.stderr
    assert "recorded 1 event(s)" in result.stdout and "pennylane: 1 sent" in result.stdout
    assert httpx.get(f"{sandbox}/sandbox/state").json()["counts"]["customer_invoices"] == 1


def test_revoked_oauth_token_says_connect_again(sandbox: str, tmp_path: Path) -> None:
    root = tmp_path / "l"
    env = {"PARTIDA_TOKENS": str(tmp_path / "tokens.json"), **FAST}
    partida("init", "--ledger", str(root), "--company", "X", check=True)
    partida("record", "--ledger", str(root), "-", input=jsonl(invoice(1, "2026-03-10")), check=True)
    store = TokenStore(Path(env["PARTIDA_TOKENS"]))
    creds = oauth_credentials(sandbox, store, connection_key("pennylane", root))
    httpx.post(f"{sandbox}/oauth/revoke", data={"token": creds.refresh_token, "client_id": creds.client_id,
                                                "client_secret": creds.client_secret})
    result = partida("sync", "pennylane", "--ledger", str(root), "--since", "2026-01-01", env=env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("stopped: ") and "run `partida connect pennylane` again" in lines[-1]
    assert "Traceback" not in result.stderr
    for secret in (creds.access_token, creds.refresh_token, creds.client_secret):
        assert secret not in result.stdout + result.stderr


def test_sync_without_connection_is_one_clear_line(tmp_path: Path) -> None:
    root = tmp_path / "l"
    partida("init", "--ledger", str(root), "--company", "X", check=True)
    result = partida("sync", "pennylane", "--ledger", str(root), env={"PARTIDA_TOKENS": str(tmp_path / "t.json")})
    assert result.returncode == 1 and "run `partida connect pennylane` first" in result.stderr
