"""``partida serve`` and ``partida secret rotate``, added to the ``partida`` group.

``connectors.cli`` imports this module so the console script has them; the
service's heavier modules (uvicorn, the app) load only when ``serve`` runs.
"""

from __future__ import annotations

import datetime
import sys
from pathlib import Path

import click

from engine.cli import cli, fail, ledger_option, parse_date
from engine.problems import LedgerError


@cli.command()
@click.option("--ledgers-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="Serve every ledger in DIR: each subfolder is a ledger, named after the folder.")
@click.option("--ledger", "ledger_paths", multiple=True, type=click.Path(file_okay=False, path_type=Path),
              help="Serve this ledger too, named after its folder (repeatable).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on (anything but loopback belongs behind a TLS proxy).")
@click.option("--port", default=8720, show_default=True, help="TCP port (0: any free port).")
@click.option("--since", callback=parse_date, metavar="DATE",
              help="First day replayed (default: start of each ledger's current fiscal year, as `partida sync`).")
@click.option("--no-replay", is_flag=True, help="Only take events in; replay nothing.")
@click.option("--max-body-bytes", default=5 * 1024 * 1024, show_default=True,
              help="Largest request body accepted (413 beyond).")
@click.option("--backoff-max", default=60.0, show_default=True,
              help="Longest pause of a replay worker while its provider is down (seconds).")
@click.option("--poll", default=5.0, show_default=True,
              help="Seconds between looks for transactions written by other processes.")
def serve(ledgers_dir: Path | None, ledger_paths: tuple[Path, ...], host: str, port: int,
          since: datetime.date | None, no_replay: bool, max_body_bytes: int, backoff_max: float,
          poll: float) -> None:
    """Take signed events over HTTP into the ledgers and replay them to their providers continuously."""
    import logging

    from .app import ServiceConfig, find_ledgers
    from .secrets import SecretStore
    from .server import serve as run

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per provider request is noise
    if ledgers_dir is None and not ledger_paths:
        fail("name the ledgers to serve: --ledgers-dir DIR and/or --ledger PATH")
    try:
        ledgers = find_ledgers(ledgers_dir, ledger_paths)
    except LedgerError as exc:
        fail(str(exc))
    if not ledgers:
        fail(f"no ledger in {ledgers_dir} (each subfolder holding a main.beancount is one)")
    config = ServiceConfig(ledgers=ledgers, secrets=SecretStore(), body_limit=max_body_bytes, replay=not no_replay,
                           since=since, worker_options={"poll_s": poll, "backoff_max_s": backoff_max})
    try:
        run(config, host, port)
    except LedgerError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


@cli.group()
def secret() -> None:
    """Webhook secrets of the intake service (`partida serve`)."""


@secret.command()
@ledger_option
@click.option("--grace", default=600, show_default=True,
              help="Seconds the previous secret stays valid (0: revoke it now, e.g. after a leak).")
def rotate(ledger: Path, grace: int) -> None:
    """Create or rotate LEDGER's webhook secret; it is printed this once, on standard output."""
    from engine.ledger import open_layout

    from .secrets import SecretStore

    try:
        open_layout(ledger)
    except LedgerError as exc:
        fail(str(exc))
    store = SecretStore()
    fresh, entry = store.rotate(ledger, grace_s=max(grace, 0))
    click.echo(fresh)
    note = "new webhook secret (shown this once; put it in the platform's settings)"
    if entry.previous:
        until = datetime.datetime.fromtimestamp(entry.previous_until, datetime.timezone.utc)
        note += f"; the previous one stays valid until {until.isoformat(timespec='seconds')}"
    elif grace <= 0:
        note += "; any previous one is revoked"
    click.echo(f"{note}. Stored in {store.path} (owner-only).", err=True)
