"""Two processes racing to refresh one QuickBooks connection: one refresh, nobody disconnected.

Intuit's refresh tokens rotate: once a refresh token has been used, presenting
it again is ``invalid_grant`` (the sandbox enforces it). Two real child
processes share one token store (``connectors.tokens``) and call the
sandbox's API through the real client (``providers.api_client``, its
``StoredAuth``) at the same moment, with the access token expired: both get a
401 and want to refresh. The store's lock lets one refresh; the other re-reads
the store and uses the pair already rotated onto disk. Round after round:
exactly one refresh grant per round at the sandbox, both processes keep
working, and the pair on disk is the live one.
"""

from __future__ import annotations

import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
from conftest import REPO
from qbo_support import Remote
from qbo_support import sandbox

from connectors.quickbooks.sandbox import TOKEN_PATH
from connectors.tokens import Credentials
from connectors.tokens import TokenStore
from connectors.tokens import connection_key

ROUNDS = 3
CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from connectors import providers
    from connectors.tokens import TokenStore
    tokens, ledger, realm, go, ready = sys.argv[1:6]
    api = providers.api_client("quickbooks", Path(ledger), TokenStore(Path(tokens)))
    Path(ready).touch()
    while not Path(go).exists():  # start together
        time.sleep(0.005)
    with api:
        codes = [api.get(f"/companyinfo/{realm}").status_code for _ in range(3)]
    print(" ".join(map(str, codes)))
    sys.exit(0 if set(codes) == {200} else 1)
""")


def refresh_grants(remote: Remote) -> list[str]:
    """Count the refresh grants the sandbox's OAuth server answers (a wrapper on the real one)."""
    server = remote.app.state.sandbox.oauth
    seen: list[str] = []
    real = server.token

    def counting(form, authorization):  # type: ignore[no-untyped-def]
        answer = real(form, authorization)
        if form.get("grant_type") == "refresh_token":
            seen.append("ok" if isinstance(answer, dict) else getattr(answer, "error", "refused"))
        return answer

    server.token = counting
    return seen


def refresh(remote: Remote, creds: Credentials) -> httpx.Response:
    return httpx.post(remote.base + TOKEN_PATH, auth=(creds.client_id, creds.client_secret),
                      data={"grant_type": "refresh_token", "refresh_token": creds.refresh_token})


def test_two_processes_refreshing_at_once_refresh_once_and_stay_connected(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger"
    tokens = tmp_path / "secrets" / "tokens.json"
    key = connection_key("quickbooks", ledger)
    with sandbox() as remote:
        seen = refresh_grants(remote)
        minted = remote.admin.post(f"/sandbox/companies/{remote.realm}/tokens").json()
        store = TokenStore(tokens)
        store.put(key, Credentials("oauth", remote.base, minted["access_token"], minted["refresh_token"],
                                   time.time() + 3600, remote.base + TOKEN_PATH, minted["client_id"],
                                   minted["client_secret"], {"realmId": remote.realm}))
        spent: list[Credentials] = []
        raced = 0
        for round_ in range(ROUNDS):
            requests_before = remote.state()["requests"].get("api_requests", 0)
            before = store.get(key)
            assert before is not None
            spent.append(before)
            # Every access token dies now: both processes' first call is a 401, then a refresh.
            assert remote.admin.post("/sandbox/oauth/expire_access_tokens").json()["expired"] >= 1
            go = tmp_path / f"go-{round_}"
            ready = [tmp_path / f"ready-{round_}-{i}" for i in range(2)]
            procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(tokens), str(ledger), remote.realm, str(go),
                                       str(flag)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for flag in ready]
            deadline = time.monotonic() + 30
            while not all(flag.exists() for flag in ready) and time.monotonic() < deadline:
                time.sleep(0.01)  # both started, imported and waiting
            go.touch()
            outputs = [proc.communicate(timeout=60) for proc in procs]
            # Neither lost the connection: every call of both processes answered 200.
            assert [proc.returncode for proc in procs] == [0, 0], outputs
            assert all(out.split() == ["200"] * 3 for out, _ in outputs)
            # One refresh at a time, and only one: the second process used the pair on disk.
            assert seen == ["ok"] * (round_ + 1)
            # 8 requests: both processes met the 401 (each wanted to refresh), then made their 3 calls.
            raced += remote.state()["requests"]["api_requests"] - requests_before == 8
            after = store.get(key)
            assert after is not None and after.refresh_token != before.refresh_token
            for out, err in outputs:  # no secret in what the processes print
                assert after.refresh_token not in out + err and after.access_token not in out + err

        assert raced >= 1  # in some round, both processes really did race to refresh
        # The pair on disk is the live one; every earlier refresh token is spent.
        for old in spent:
            answer = refresh(remote, old)
            assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")
        assert seen[ROUNDS:] == ["invalid_grant"] * ROUNDS
        current = store.get(key)
        assert current is not None and refresh(remote, current).status_code == 200
    assert stat.S_IMODE(tokens.stat().st_mode) == 0o600
    assert stat.S_IMODE(tokens.parent.stat().st_mode) == 0o700

