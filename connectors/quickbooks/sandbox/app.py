"""Build the QuickBooks sandbox app, and run it for the CLI."""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.responses import PlainTextResponse
from starlette.responses import Response
from starlette.routing import Route

from connectors.quickbooks.sandbox import errors
from connectors.quickbooks.sandbox.admin import admin_routes
from connectors.quickbooks.sandbox.api import API_PREFIX
from connectors.quickbooks.sandbox.api import api_routes
from connectors.quickbooks.sandbox.batch import run_batch
from connectors.quickbooks.sandbox.books import iso_stamp
from connectors.quickbooks.sandbox.company import EDITIONS
from connectors.quickbooks.sandbox.company import new_state
from connectors.quickbooks.sandbox.context import Sandbox
from connectors.quickbooks.sandbox.context import intuit_token
from connectors.sandbox.faults import Fault
from connectors.sandbox.faults import FaultAnswer
from connectors.sandbox.faults import FaultMiddleware
from connectors.sandbox.faults import FaultPlan
from connectors.sandbox.faults import Scope
from connectors.sandbox.faults import parse_fault_plan
from connectors.sandbox.oauth import oauth_routes
from connectors.sandbox.server import serve
from connectors.sandbox.state import StateStore

__all__ = [
    "AUTHORIZE_PATH",
    "DEFAULT_BATCH_RATE_LIMIT",
    "DEFAULT_RATE_LIMIT",
    "REVOKE_PATH",
    "TOKEN_PATH",
    "create_app",
    "main",
]

DEFAULT_RATE_LIMIT = (500, 60.0)
DEFAULT_BATCH_RATE_LIMIT = (40, 60.0)
AUTHORIZE_PATH = "/connect/oauth2"
TOKEN_PATH = "/oauth2/v1/tokens/bearer"
REVOKE_PATH = "/v2/oauth2/tokens/revoke"


def create_app(
    state_path: str | Path | None = None,
    faults: FaultPlan | str | None = None,
    rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
    concurrency: int | None = 10,
    clock: Callable[[], float] = time.monotonic,
    *,
    wall_clock: Callable[[], float] = time.time,
    batch_rate_limit: tuple[int, float] | None = DEFAULT_BATCH_RATE_LIMIT,
    batch_max: int = 30,
    require_pkce: bool = False,
    edition: str = "CA-QC",
) -> Starlette:
    """The sandbox as a Starlette app.

    Args:
        state_path: JSON file keeping the state across restarts; None keeps it
            in memory.
        faults: a fault plan (or its ``SEED:PLAN`` text) applied to the API
            routes; None for none.
        rate_limit: ``(requests, window_s)`` per company; None disables it.
        concurrency: requests in flight at once per company; None: unlimited.
        clock: monotonic clock of the rate limiters (injectable for tests).
        wall_clock: Unix time for timestamps, token expiry and "today".
        batch_rate_limit: ``(batch requests, window_s)`` per company; None
            disables it.
        batch_max: most items in one batch.
        require_pkce: refuse authorization requests without PKCE S256
            (Intuit does not require it).
        edition: the country setup of the company created with a new state
            (``CA-QC``, ``US`` or ``FR``).

    Returns:
        The app; ``app.state.sandbox`` is its ``Sandbox`` (tests may peek).

    Raises:
        ValueError: for a malformed fault plan or an unknown edition.
        StateError: when ``state_path`` exists but is not a sandbox state.
    """
    plan = parse_fault_plan(faults) if isinstance(faults, str) else faults
    if edition not in EDITIONS:
        raise ValueError(f"unknown edition {edition!r}: one of {', '.join(EDITIONS)}")
    store = StateStore(state_path, lambda: new_state(iso_stamp(wall_clock())))
    sandbox = Sandbox(store, rate_limit=rate_limit, batch_rate_limit=batch_rate_limit, concurrency=concurrency,
                      batch_max=batch_max, clock=clock, wall_clock=wall_clock, faults=plan,
                      require_pkce=require_pkce)
    if not store.data["realms"]:
        sandbox.create_company(EDITIONS[edition])
    store.save()
    routes = [
        *oauth_routes(sandbox.oauth, subject=lambda: str(store.data["default_realm"]), title="QuickBooks sandbox",
                      authorize_path=AUTHORIZE_PATH, token_path=TOKEN_PATH, revoke_path=REVOKE_PATH,
                      subject_for=sandbox.choose_realm, subject_param="realmId", shape_token=intuit_token),
        Route("/.well-known/openid_configuration", _discovery, methods=["GET"]),
        Route("/.well-known/openid_sandbox_configuration", _discovery, methods=["GET"]),
        *admin_routes(sandbox),
        *api_routes(sandbox, run_batch),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(FaultMiddleware, injector=lambda: sandbox.injector, is_faultable=_is_api,
                               render_fault=_fault_renderer(sandbox))],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.sandbox = sandbox
    return app


def _is_api(scope: Scope) -> bool:
    # OAuth and /sandbox/ endpoints are never faulted.
    return str(scope.get("path", "")).startswith(API_PREFIX)


def _fault_renderer(sandbox: Sandbox) -> Callable[[Fault, int], FaultAnswer]:
    def render(fault: Fault, retry_after_s: int) -> FaultAnswer:
        status = fault.status or 500
        if status in (429, 500):
            error = errors.throttled() if status == 429 else errors.system_error()
            body = json.dumps({**error.body, "time": sandbox.stamp(millis=True)}).encode()
            return status, [(b"content-type", b"application/json")], body
        text = b"Bad Gateway" if status == 502 else b"Service Unavailable"
        return status, [(b"content-type", b"text/plain; charset=utf-8")], text

    return render


async def _discovery(request: Request) -> Response:
    base = str(request.base_url).rstrip("/")
    return JSONResponse({
        "issuer": base, "authorization_endpoint": base + AUTHORIZE_PATH, "token_endpoint": base + TOKEN_PATH,
        "revocation_endpoint": base + REVOKE_PATH, "response_types_supported": ["code"],
        "scopes_supported": sorted(["com.intuit.quickbooks.accounting", "com.intuit.quickbooks.payment", "openid",
                                    "profile", "email", "phone", "address"]),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    })


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if path.startswith(API_PREFIX) or path.startswith("/sandbox/"):
        detail = "no such resource" if exc.status_code == 404 else f"{request.method} is not allowed on {path}"
        body = {"Fault": {"Error": [{"Message": "Resource not found" if exc.status_code == 404 else
                                     "Unsupported Operation", "Detail": detail, "code": str(exc.status_code),
                                     "element": ""}], "type": "ValidationFault"}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def main(port: int = 0, state: str | Path | None = None, faults: str | None = None,
         rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT, concurrency: int | None = 10,
         **server_options: Any) -> None:
    """Serve the sandbox on 127.0.0.1 until interrupted (``partida sandbox quickbooks``).

    Prints one line, the base URL (``http://127.0.0.1:<port>``), once the port
    is bound; the API lives under ``<base>/v3/company/<realmId>``. Ctrl-C
    (SIGINT) stops it gracefully and returns.

    Args:
        port: TCP port, 0 for any free one.
        state: state file (kept across restarts); None for in-memory.
        faults: ``SEED:PLAN`` fault plan, None for none.
        rate_limit: ``(requests, window_s)`` per company, None for unlimited.
        concurrency: requests in flight per company, None for unlimited.
        server_options: passed to ``connectors.sandbox.server.serve``.

    Raises:
        ValueError: for a malformed fault plan or a non-loopback host.
    """
    app = create_app(state_path=state, faults=faults, rate_limit=rate_limit, concurrency=concurrency)

    def announce(base_url: str) -> None:
        print(base_url, flush=True)

    # uvicorn re-raises Ctrl-C once it has shut down gracefully: a normal stop.
    with contextlib.suppress(KeyboardInterrupt):
        serve(app, port, on_ready=announce, **server_options)
    sys.stdout.flush()
