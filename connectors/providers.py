"""Per-provider wiring: API roots, OAuth endpoints and scopes, connector factories.

The only place that knows how a stored connection becomes a ``Connector``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import httpx

from .base import Connector
from .errors import AuthError, ConnectorError
from .tokens import Credentials, StoredAuth, TokenStore, connection_key

PENNYLANE_SCOPES = " ".join(sorted({
    "customers:all", "products:all", "customer_invoices:all", "journals:all", "ledger_accounts:all",
    "ledger_entries:all", "trial_balance:readonly", "fiscal_years:readonly",
}))
QUICKBOOKS_SCOPE = "com.intuit.quickbooks.accounting"
HTTP_TIMEOUT_S = 30.0


def api_root(provider: str, creds: Credentials) -> str:
    if provider == "pennylane":
        return creds.base_url.rstrip("/") + "/api/external/v2"
    return creds.base_url.rstrip("/") + f"/v3/company/{creds.extra.get('realmId', '')}"


def oauth_urls(provider: str, base_url: str) -> tuple[str, str]:
    base = base_url.rstrip("/")
    if provider == "pennylane":
        return base + "/oauth/authorize", base + "/oauth/token"
    return base + "/connect/oauth2", base + "/oauth2/v1/tokens/bearer"


def api_client(provider: str, ledger: Path, store: TokenStore | None = None,
               transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """An httpx client on the provider's API root with stored, refreshing auth."""
    store = store or TokenStore()
    key = connection_key(provider, ledger)
    creds = store.get(key)
    if creds is None:
        raise AuthError(f"{ledger} is not connected to {provider}")
    token_http = httpx.Client(timeout=HTTP_TIMEOUT_S, transport=transport)
    return httpx.Client(base_url=api_root(provider, creds), auth=StoredAuth(store, key, token_http),
                        timeout=HTTP_TIMEOUT_S, transport=transport)


RATE_ENV = "PARTIDA_RATE_LIMIT"


def pacer_from_env() -> object | None:
    """A client-side pace other than the provider's documented limit, from
    ``PARTIDA_RATE_LIMIT=N/SECONDS`` — for sandboxes whose limit was raised
    (load tests, demos); unset, each connector paces at the real limit."""
    import os

    from .pacing import Pacer

    value = os.environ.get(RATE_ENV)
    if not value:
        return None
    try:
        limit, window = value.split("/")
        return Pacer(int(limit), float(window))
    except ValueError as exc:
        raise AuthError(f"{RATE_ENV} must look like 25/5 (requests/seconds), not {value!r}") from exc


WINDOW_ENV = "PARTIDA_QUICKBOOKS_WINDOW"


def _window_from_env() -> int:
    """Transactions a QuickBooks sync hands over at once, from
    ``PARTIDA_QUICKBOOKS_WINDOW=N`` (1: one request per document, as a
    baseline for benchmarks); unset, the connector's default."""
    import os

    from .quickbooks.connector import WINDOW

    value = os.environ.get(WINDOW_ENV) or str(WINDOW)
    if not value.isdigit():
        raise AuthError(f"{WINDOW_ENV} must be a number of transactions, not {value!r}")
    return int(value)


def build(provider: str, ledger: Path, store: TokenStore | None = None,
          transport: httpx.BaseTransport | None = None) -> Connector:
    store = store or TokenStore()
    client = api_client(provider, ledger, store, transport)
    if provider == "pennylane":
        from .pennylane.connector import PennylaneConnector

        return PennylaneConnector(client, pacer=pacer_from_env())  # type: ignore[arg-type]
    from engine.ledger import open_layout

    from .quickbooks import refsfile
    from .quickbooks.connector import QuickBooksConnector

    _, settings = open_layout(ledger)
    creds = store.get(connection_key(provider, ledger))
    try:  # the set-up import's references, checked against the connected company
        imported = refsfile.load(ledger, creds.extra.get("realmId", "") if creds else "")
    except ConnectorError:
        client.close()
        raise
    return QuickBooksConnector(client, pacer=pacer_from_env(), chart=settings.chart_name,  # type: ignore[arg-type]
                               imported=imported, window=_window_from_env())


def describe_connection(provider: str, ledger: Path, base_url: str, use_oauth: bool, client_id: str | None,
                        from_stdin: bool, timeout_s: int, *, secret: Callable[[str, bool, str], str],
                        announce: Callable[[str], None], store: TokenStore | None = None,
                        port: int = 8719) -> str:
    """Run `partida connect`: obtain credentials, check them, store them."""
    from engine.ledger import open_layout

    open_layout(ledger)  # a clear error if the ledger does not exist
    store = store or TokenStore()
    env = f"PARTIDA_{provider.upper()}"
    with httpx.Client(timeout=HTTP_TIMEOUT_S) as http:
        if use_oauth:
            creds = _oauth(provider, base_url, client_id, secret(f"{env}_CLIENT_SECRET", from_stdin, "client secret"),
                           http, announce, timeout_s, port)
        else:
            creds = Credentials("api_token", base_url, secret(f"{env}_TOKEN", from_stdin, "API token"))
        _check(provider, creds, http)
    store.put(connection_key(provider, ledger), creds)
    return f"connected {ledger} to {provider} at {base_url} ({'OAuth' if use_oauth else 'API token'}); " \
           f"credentials stored in {store.path} (owner-only)"


def _oauth(provider: str, base_url: str, client_id: str | None, client_secret: str, http: httpx.Client,
           announce: Callable[[str], None], timeout_s: int, port: int) -> Credentials:
    from .oauth_flow import OAuthClient, authorize

    if not client_id:
        raise AuthError("--oauth needs --client-id")
    authorize_url, token_url = oauth_urls(provider, base_url)
    scope = PENNYLANE_SCOPES if provider == "pennylane" else QUICKBOOKS_SCOPE
    body = authorize(OAuthClient(authorize_url, token_url, client_id, client_secret, scope), http, announce,
                     timeout_s, port)
    extra = {"realmId": str(body["realmId"])} if "realmId" in body else {}
    return Credentials("oauth", base_url, str(body["access_token"]), str(body.get("refresh_token", "")),
                       time.time() + float(body.get("expires_in", 3600)), token_url, client_id, client_secret, extra)


def _check(provider: str, creds: Credentials, http: httpx.Client) -> None:
    """One authenticated call, so a wrong token fails now rather than at the first sync."""
    path = "/me" if provider == "pennylane" else f"/companyinfo/{creds.extra.get('realmId', '')}"
    response = http.get(api_root(provider, creds) + path, headers={"Authorization": f"Bearer {creds.access_token}"})
    if response.status_code in (401, 403):
        raise AuthError(f"{provider} refused the credentials ({response.status_code})")
    if response.status_code >= 400:
        raise AuthError(f"{provider} answered {response.status_code} to the check")
