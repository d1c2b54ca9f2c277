"""Build the Pennylane sandbox app, and run it for the CLI."""

from __future__ import annotations

import contextlib
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

from connectors.pennylane.sandbox.admin import admin_routes
from connectors.pennylane.sandbox.api import API_PREFIX
from connectors.pennylane.sandbox.api import api_routes
from connectors.pennylane.sandbox.books import new_state
from connectors.pennylane.sandbox.context import Sandbox
from connectors.sandbox.faults import FaultMiddleware
from connectors.sandbox.faults import FaultPlan
from connectors.sandbox.faults import Scope
from connectors.sandbox.faults import parse_fault_plan
from connectors.sandbox.oauth import oauth_routes
from connectors.sandbox.server import serve
from connectors.sandbox.state import StateStore

__all__ = ["DEFAULT_RATE_LIMIT", "create_app", "main"]

DEFAULT_RATE_LIMIT = (25, 5.0)


def create_app(
    state_path: str | Path | None = None,
    faults: FaultPlan | str | None = None,
    rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
    clock: Callable[[], float] = time.monotonic,
    *,
    wall_clock: Callable[[], float] = time.time,
    enforce_chronology: bool = True,
    require_pkce: bool = True,
) -> Starlette:
    """The sandbox as a Starlette app.

    Args:
        state_path: JSON file keeping the state across restarts; None keeps it
            in memory.
        faults: a fault plan (or its ``SEED:PLAN`` text) applied to the API
            routes; None for none.
        rate_limit: ``(requests, window_s)`` per token; None disables it.
        clock: monotonic clock of the rate limiter (injectable for tests).
        wall_clock: Unix time for timestamps, token expiry and "today".
        enforce_chronology: refuse an invoice dated before the last one (422).
        require_pkce: refuse OAuth authorization requests without PKCE S256.

    Returns:
        The app; ``app.state.sandbox`` is its ``Sandbox`` (tests may peek).

    Raises:
        ValueError: for a malformed fault plan.
        StateError: when ``state_path`` exists but is not a sandbox state.
    """
    plan = parse_fault_plan(faults) if isinstance(faults, str) else faults
    store = StateStore(state_path, lambda: new_state(wall_clock()))
    sandbox = Sandbox(
        store, rate_limit=rate_limit, clock=clock, wall_clock=wall_clock,
        faults=plan, enforce_chronology=enforce_chronology,
        require_pkce=require_pkce,
    )
    store.save()
    routes = [
        *oauth_routes(sandbox.oauth, subject=lambda: str(store.data["company"]["id"]), title="Pennylane sandbox"),
        *admin_routes(sandbox),
        *api_routes(sandbox),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(FaultMiddleware, injector=lambda: sandbox.injector, is_faultable=_is_api)],
        exception_handlers={HTTPException: _http_error},
    )
    app.state.sandbox = sandbox
    return app


def _is_api(scope: Scope) -> bool:
    # OAuth and /sandbox/ endpoints are never faulted.
    return str(scope.get("path", "")).startswith(API_PREFIX + "/")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(API_PREFIX) or request.url.path.startswith("/sandbox/"):
        message = "Not Found" if exc.status_code == 404 else exc.detail
        return JSONResponse({"error": message, "status": exc.status_code}, status_code=exc.status_code,
                            headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


def main(port: int = 0, state: str | Path | None = None, faults: str | None = None,
         rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT, **server_options: Any) -> None:
    """Serve the sandbox on 127.0.0.1 until interrupted (``partida sandbox pennylane``).

    Prints one line, the base URL (``http://127.0.0.1:<port>``), once the port
    is bound; the API lives under ``<base>/api/external/v2``. Ctrl-C (SIGINT)
    stops it gracefully and returns; SIGTERM stops it gracefully too, then
    uvicorn re-raises the signal (exit status -15).

    Args:
        port: TCP port, 0 for any free one.
        state: state file (kept across restarts); None for in-memory.
        faults: ``SEED:PLAN`` fault plan, None for none.
        rate_limit: ``(requests, window_s)`` per token, None for unlimited.
        server_options: passed to ``connectors.sandbox.server.serve``.

    Raises:
        ValueError: for a malformed fault plan or a non-loopback host.
    """
    app = create_app(state_path=state, faults=faults, rate_limit=rate_limit)

    def announce(base_url: str) -> None:
        print(base_url, flush=True)

    # uvicorn re-raises Ctrl-C once it has shut down gracefully: a normal stop.
    with contextlib.suppress(KeyboardInterrupt):
        serve(app, port, on_ready=announce, **server_options)
    sys.stdout.flush()
