"""The intake service's HTTP API, as a Starlette app.

Why Starlette on uvicorn: both are already Partida's dependencies (the
provider sandboxes are served the same way), they are well kept, and an
asyncio server keeps thousands of slow clients open cheaply while one thread
per ledger does the blocking disk work. No framework beyond that is needed
for three routes.

Routes:

- ``POST /v1/ledgers/<name>/events`` — one event or a JSON-lines batch,
  signed (``service.signing``). 202 once every event is durably in the
  ledger; 400/422 with one problem per line, event and field; 401; 404; 413;
  503 while shutting down or overloaded (with ``Retry-After``).
- ``GET /v1/ledgers/<name>/status`` — signed like a POST with an empty body:
  the ``partida status`` figures as JSON, with each replay worker's state.
- ``GET /healthz`` — unauthenticated liveness: 200, or 503 while draining.

Checks run cheapest first, and nothing is parsed before it is authenticated:
ledger name (an allow-list pattern: letters, digits, ``-`` and ``_``; so no
``..``, ``/``, NUL or absolute path can reach the file system), then the
timestamp's freshness, the presence of a signature, the body's size — counted
while it streams in, so an oversized body is refused at the limit, never
held whole — and only then the HMAC.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.events import Context, parse_lines
from engine.layout import LockTimeout
from engine.ledger import open_layout, read_batch
from engine.problems import LedgerError, Problem

from . import signing
from .intake import Job, LedgerWriter, Outcome, Overloaded
from .secrets import SecretStore
from .worker import ReplayWorker

log = logging.getLogger("partida.serve")

LEDGER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
BODY_LIMIT = 5 * 1024 * 1024
RETRY_AFTER_S = "5"
INLINE_PARSE_BYTES = 16 * 1024


@dataclass
class ServedLedger:
    name: str
    root: Path
    context: Context
    lock: threading.Lock = field(default_factory=threading.Lock)  # one LedgerSession at a time in this process
    writer: LedgerWriter | None = None
    workers: dict[str, ReplayWorker] = field(default_factory=dict)

    def wake_workers(self) -> None:
        for worker in self.workers.values():
            worker.wake.set()


@dataclass
class ServiceConfig:
    ledgers: dict[str, Path]
    secrets: SecretStore
    body_limit: int = BODY_LIMIT
    replay: bool = True
    since: datetime.date | None = None  # None: each ledger's current fiscal year, as `partida sync`
    worker_options: dict[str, Any] = field(default_factory=dict)
    build_connector: Callable[[str, Path], Any] | None = None  # (provider, root) -> Connector
    clock: Callable[[], float] = time.time


def find_ledgers(ledgers_dir: Path | None, ledger_paths: tuple[Path, ...]) -> dict[str, Path]:
    """Name -> folder of every ledger to serve: each subfolder of ``ledgers_dir``
    holding a ledger, and each ``ledger_paths`` folder (named after the folder)."""
    found: dict[str, Path] = {}
    candidates = sorted(p for p in ledgers_dir.iterdir() if p.is_dir()) if ledgers_dir else []
    for path in candidates:
        if LEDGER_NAME.fullmatch(path.name) and (path / "main.beancount").is_file() \
                and (path / "partida.toml").is_file():
            found[path.name] = path.resolve()
    for path in ledger_paths:
        open_layout(path)  # a clear error now rather than 404s later
        if not LEDGER_NAME.fullmatch(path.name):
            raise LedgerError(f"cannot serve {path}: a served ledger's folder name must match "
                              f"{LEDGER_NAME.pattern} (letters, digits, - and _)")
        found[path.name] = path.resolve()
    return found


def _fiscal_year_start(root: Path) -> datetime.date:
    _, settings = open_layout(root)
    return settings.fiscal_year_bounds(settings.fiscal_year(datetime.date.today()))[0]


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    headers = {"Retry-After": RETRY_AFTER_S} if status == 503 else None
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def _problem(p: Problem) -> dict[str, Any]:
    return {"line": p.line, "id": p.event_id, "field": p.field, "message": p.message, "text": str(p)}


class Service:
    """What the app serves: ledgers, their writers and workers, and the draining flag."""

    def __init__(self, config: ServiceConfig):
        self.config = config
        self.draining = False
        self.ledgers: dict[str, ServedLedger] = {}
        for name, root in config.ledgers.items():
            _, settings = open_layout(root)
            self.ledgers[name] = ServedLedger(name, root, Context(settings.chart, settings.currency))

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        for served in self.ledgers.values():
            served.writer = LedgerWriter(served.root, served.lock, served.wake_workers)
            served.writer.start()
            if self.config.replay:
                self._start_workers(served)
            if self.config.secrets.get(served.root) is None:
                log.warning("ledger %s has no webhook secret: its requests are refused until "
                            "`partida secret rotate --ledger %s`", served.name, served.root)

    def _start_workers(self, served: ServedLedger) -> None:
        from connectors import providers
        from connectors.cli import PROVIDERS
        from connectors.tokens import TokenStore, connection_key

        store = TokenStore()
        build = self.config.build_connector or (lambda provider, root: providers.build(provider, root))
        since = self.config.since or _fiscal_year_start(served.root)
        for provider in PROVIDERS:
            if self.config.build_connector is None and store.get(connection_key(provider, served.root)) is None:
                continue
            worker = ReplayWorker(served.root, provider, served.lock, lambda p=provider, r=served.root: build(p, r),
                                  since=since, **self.config.worker_options)
            served.workers[provider] = worker
            worker.start()
            log.info("ledger %s: replaying to %s", served.name, provider)

    async def stop(self) -> None:
        """Finish the writes in flight, then stop the workers (their state is on disk)."""
        self.draining = True
        for served in self.ledgers.values():
            if served.writer is not None:
                await served.writer.stop()
        for served in self.ledgers.values():
            for worker in served.workers.values():
                await run_in_threadpool(worker.stop)

    # -- requests ------------------------------------------------------------------------

    def lookup(self, name: str) -> ServedLedger | None:
        return self.ledgers.get(name) if LEDGER_NAME.fullmatch(name) else None

    def authenticate_headers(self, request: Request, served: ServedLedger) -> tuple[str, list[str]] | JSONResponse:
        """The timestamp and the secrets to check the body against, or a 401."""
        timestamp = request.headers.get(signing.TIMESTAMP_HEADER)
        reason = signing.check_timestamp(timestamp, self.config.clock())
        if reason is None and not request.headers.get(signing.SIGNATURE_HEADER):
            reason = f"missing {signing.SIGNATURE_HEADER} header"
        secrets = self.config.secrets.get(served.root)
        if reason is None and secrets is None:
            reason = "no webhook secret is set for this ledger (`partida secret rotate`)"
        if reason is not None:
            return _error(401, reason)
        assert timestamp is not None and secrets is not None
        return timestamp, secrets.valid(self.config.clock())

    async def read_body(self, request: Request) -> bytes | None:
        """The body, or None as soon as it exceeds the limit."""
        limit = self.config.body_limit
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)


async def post_events(request: Request) -> JSONResponse:
    service: Service = request.app.state.service
    served = service.lookup(request.path_params["name"])
    if served is None or served.writer is None:
        return _error(404, "no such ledger")
    if service.draining:
        return _error(503, "the service is shutting down; retry shortly")
    auth = service.authenticate_headers(request, served)
    if isinstance(auth, JSONResponse):
        return auth
    timestamp, secrets = auth
    body = await service.read_body(request)
    if body is None:
        return _error(413, f"the body is larger than {service.config.body_limit} bytes; send smaller batches")
    reason = signing.check_signature(request.headers.get(signing.SIGNATURE_HEADER), timestamp, body, secrets)
    if reason is not None:
        return _error(401, reason)
    keep_valid = request.query_params.get("keep_valid", "").lower() in ("1", "true", "yes")
    # A small body is parsed here (~30 µs an event); a large one on a thread, so the loop keeps serving.
    if len(body) <= INLINE_PARSE_BYTES:
        events, problems = _parse(body, served.context)
    else:
        events, problems = await run_in_threadpool(_parse, body, served.context)
    if not events and not problems:
        return _error(400, "the body holds no event (send one JSON object per line)")
    try:
        outcome = await served.writer.submit(Job(events, problems, keep_valid))
    except Overloaded as exc:
        return _error(503, f"the ledger's writer is busy ({exc}); retry shortly")
    except LockTimeout as exc:
        return _error(503, f"the ledger is locked by another writer ({exc}); retry shortly")
    except LedgerError as exc:
        log.error("ledger %s: write failed: %s", served.name, exc)
        return _error(500, f"the ledger could not be written: {exc}")
    except Exception:  # a disk error, say: nothing is confirmed, the client retries later
        log.exception("ledger %s: write failed", served.name)
        return _error(500, "the ledger could not be written; nothing is confirmed, retry later")
    return _answer(outcome)


def _parse(body: bytes, context: Context) -> tuple[list[Any], list[Problem]]:
    lines, problems = read_batch(body)
    events, found = parse_lines(lines, context)
    return events, sorted(problems + found, key=lambda p: p.line)


def _answer(outcome: Outcome) -> JSONResponse:
    problems = [_problem(p) for p in outcome.problems]
    if not outcome.written:
        # 400: a line could not be read as an event object at all; 422: events that break the contract.
        status = 400 if any(p.field is None for p in outcome.problems) else 422
        return JSONResponse({"error": f"rejected: {len(problems)} problem(s); nothing was written",
                             "written": False, "problems": problems}, status_code=status)
    return JSONResponse({"written": True, "recorded": len(outcome.recorded), "unchanged": len(outcome.unchanged),
                         "rejected": len(problems),
                         "ids": {"recorded": outcome.recorded, "unchanged": outcome.unchanged},
                         "problems": problems}, status_code=202)


async def get_status(request: Request) -> JSONResponse:
    service: Service = request.app.state.service
    served = service.lookup(request.path_params["name"])
    if served is None:
        return _error(404, "no such ledger")
    auth = service.authenticate_headers(request, served)
    if isinstance(auth, JSONResponse):
        return auth
    timestamp, secrets = auth
    body = await service.read_body(request)
    if body is None:
        return _error(413, "a status request has no body")
    reason = signing.check_signature(request.headers.get(signing.SIGNATURE_HEADER), timestamp, body, secrets)
    if reason is not None:
        return _error(401, reason)
    try:
        figures = await run_in_threadpool(_status, served)
    except LockTimeout as exc:
        return _error(503, f"the ledger is locked by another writer ({exc}); retry shortly")
    return JSONResponse(figures)


def _status(served: ServedLedger) -> dict[str, Any]:
    from connectors import replay
    from connectors.cli import PROVIDERS
    from engine.journal import last_seq

    out: dict[str, Any] = {"ledger": served.name, "providers": {},
                           "writer": served.writer.describe() if served.writer else None}
    with served.lock:
        out["transactions"] = last_seq(served.root)
        for provider in PROVIDERS:
            st = replay.status(served.root, provider)
            oldest = None
            if st.oldest_pending:
                seq, event_id, day = st.oldest_pending
                oldest = {"seq": seq, "event_id": event_id, "date": day}
            worker = served.workers.get(provider)
            out["providers"][provider] = {**st.counts, "oldest_pending": oldest,
                                          "replay": worker.describe() if worker else None}
    return out


async def healthz(request: Request) -> JSONResponse:
    service: Service = request.app.state.service
    if service.draining:
        return JSONResponse({"status": "draining"}, status_code=503, headers={"Retry-After": RETRY_AFTER_S})
    return JSONResponse({"status": "ok"})


def create_app(config: ServiceConfig) -> Starlette:
    service = Service(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = Starlette(routes=[
        Route("/v1/ledgers/{name}/events", post_events, methods=["POST"]),
        Route("/v1/ledgers/{name}/status", get_status, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ], lifespan=lifespan)
    app.state.service = service
    return app
