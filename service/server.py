"""Run the intake app on uvicorn, with a graceful SIGTERM.

The listening socket is bound here, before uvicorn starts, so ``--port 0``
works (the kernel picks a free port, printed once the server is up). On
SIGTERM or Ctrl-C the service first marks itself draining (new requests on
open connections get 503 with ``Retry-After``; the listening socket closes),
uvicorn waits for the requests in flight — each of which waits for its write
to reach the disk — and the app's shutdown then stops the writers and the
replay workers (``Service.stop``).
"""

from __future__ import annotations

import logging
import socket
import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

from .app import Service, ServiceConfig, create_app

log = logging.getLogger("partida.serve")

GRACEFUL_S = 30  # longest wait for requests in flight after SIGTERM


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY only on sockets that say TCP;
    # without it an answer written in two parts waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, service: Service, on_ready: Callable[[], None]):
        super().__init__(config)
        self.service = service
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.on_ready()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.service.draining = True
        super().handle_exit(sig, frame)


def serve(config: ServiceConfig, host: str, port: int, **uvicorn_options: Any) -> None:
    """Serve until SIGTERM / SIGINT; prints ``serving http://HOST:PORT`` once ready."""
    # The event loop shares the GIL with the ledgers' writer threads; a shorter
    # switch interval (default 5 ms) keeps requests from waiting on a long booking.
    sys.setswitchinterval(0.001)
    sock = bind(host, port)
    bound = sock.getsockname()
    url = f"http://{host if ':' not in host else f'[{host}]'}:{bound[1]}"
    app = create_app(config)
    service: Service = app.state.service

    def ready() -> None:
        print(f"serving {url} ({len(service.ledgers)} ledger(s))", flush=True)

    options = {"log_level": "warning", "access_log": False, "lifespan": "on",
               "timeout_graceful_shutdown": GRACEFUL_S, **uvicorn_options}
    server = _Server(uvicorn.Config(app, **options), service, ready)
    if host not in ("127.0.0.1", "::1", "localhost"):
        log.warning("listening on %s: put a TLS-terminating proxy in front (signatures authenticate, "
                    "they do not encrypt)", host)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        sys.stdout.flush()
