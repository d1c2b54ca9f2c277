"""`partida connect` and the token store, against the real Pennylane sandbox."""

from __future__ import annotations

import os
import stat
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from conftest import BIN, partida

from connectors.errors import AuthError
from sandbox_oauth import oauth_credentials
from connectors.pennylane.sandbox import create_app
from connectors.sandbox.server import running
from connectors.tokens import Credentials, StoredAuth, TokenStore, connection_key


@pytest.fixture
def sandbox():
    with running(create_app(rate_limit=None)) as base:
        yield base


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"PARTIDA_TOKENS": str(tmp_path / "secrets" / "tokens.json")}


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    root = tmp_path / "l"
    partida("init", "--ledger", str(root), "--company", "X", check=True)
    return root


def test_api_token_from_stdin_is_stored_owner_only_and_never_printed(sandbox: str, env: dict, ledger: Path) -> None:
    token = httpx.post(f"{sandbox}/sandbox/company_tokens", json={}).json()["token"]
    result = partida("connect", "pennylane", "--ledger", str(ledger), "--base-url", sandbox, "--stdin",
                     input=(token + "\n").encode(), env=env, check=True)
    assert token not in result.stdout + result.stderr
    path = Path(env["PARTIDA_TOKENS"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert not str(ledger) in str(path)  # outside the ledger
    assert "pennylane: 0 pending" in partida("status", "--ledger", str(ledger), env=env, check=True).stdout


def test_api_token_from_environment_and_a_wrong_token(sandbox: str, env: dict, ledger: Path) -> None:
    token = httpx.post(f"{sandbox}/sandbox/company_tokens", json={}).json()["token"]
    ok = partida("connect", "pennylane", "--ledger", str(ledger), "--base-url", sandbox,
                 env={**env, "PARTIDA_PENNYLANE_TOKEN": token})
    assert ok.returncode == 0 and token not in ok.stdout + ok.stderr
    bad = partida("connect", "pennylane", "--ledger", str(ledger), "--base-url", sandbox,
                  env={**env, "PARTIDA_PENNYLANE_TOKEN": "not-a-token"})
    assert bad.returncode == 1 and "refused the credentials (401)" in bad.stderr
    assert "not-a-token" not in bad.stdout + bad.stderr


def test_oauth_code_flow_with_local_redirect_listener(sandbox: str, env: dict, ledger: Path) -> None:
    port = 18719
    client = httpx.post(f"{sandbox}/sandbox/oauth_clients",
                        json={"redirect_uris": [f"http://127.0.0.1:{port}/callback"]}).json()
    proc = subprocess.Popen(
        [str(BIN / "partida"), "connect", "pennylane", "--ledger", str(ledger), "--base-url", sandbox, "--oauth",
         "--client-id", client["client_id"], "--redirect-port", str(port), "--timeout", "30"],
        env={**os.environ, **env, "PARTIDA_PENNYLANE_CLIENT_SECRET": client["client_secret"]},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    assert proc.stderr.readline().startswith("Open this URL")
    url = proc.stderr.readline().strip()
    assert "code_challenge_method=S256" in url
    # The user's browser: approve, follow the redirect to the listener.
    httpx.get(url + "&auto_approve=1", follow_redirects=True, timeout=10)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    creds = TokenStore(Path(env["PARTIDA_TOKENS"])).get(connection_key("pennylane", ledger))
    assert creds is not None and creds.kind == "oauth" and creds.refresh_token
    for secret in (creds.access_token, creds.refresh_token, client["client_secret"]):
        assert secret not in out + err


def test_racing_refreshes_never_lose_the_connection(sandbox: str, tmp_path: Path) -> None:
    store, key = TokenStore(tmp_path / "t" / "tokens.json"), "pennylane:/x"
    stale = oauth_credentials(sandbox, store, key)
    results, errors = [], []

    def refresh() -> None:
        try:
            with httpx.Client() as http:
                results.append(TokenStore(store.path).refresh(key, stale, http))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # One refresh happened; everybody got the same, current pair, which works.
    assert len({r.refresh_token for r in results}) == 1
    current = store.get(key)
    assert current is not None and current.refresh_token == results[0].refresh_token != stale.refresh_token
    with httpx.Client() as http:
        assert store.refresh(key, current, http).refresh_token != current.refresh_token


def test_expired_access_token_refreshes_and_revoked_one_says_connect_again(sandbox: str, tmp_path: Path) -> None:
    store, key = TokenStore(tmp_path / "t" / "tokens.json"), "pennylane:/y"
    creds = oauth_credentials(sandbox, store, key)
    httpx.post(f"{sandbox}/sandbox/oauth/expire_access_tokens")
    with httpx.Client(base_url=f"{sandbox}/api/external/v2", auth=StoredAuth(store, key)) as api:
        assert api.get("/me").status_code == 200  # a 401, one refresh, then OK
        assert store.get(key).access_token != creds.access_token  # type: ignore[union-attr]
        current = store.get(key)
        httpx.post(f"{sandbox}/oauth/revoke", data={"token": current.refresh_token, "client_id": current.client_id,  # type: ignore[union-attr]
                                                    "client_secret": current.client_secret})  # type: ignore[union-attr]
        with pytest.raises(AuthError, match="refresh token was refused"):
            api.get("/me")
