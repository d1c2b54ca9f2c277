"""The ``partida`` console script: the engine's commands plus the providers'.

Provider commands live here, not in ``engine.cli``, so ``engine`` never
imports ``connectors``. Connectors register ``record --sync`` through
``engine.cli.AFTER_RECORD``.
"""

from __future__ import annotations

import datetime
import os
import sys
from pathlib import Path

import click

from engine.cli import AFTER_RECORD, cli, fail, ledger_option, parse_date
from engine.problems import LedgerError

PROVIDERS = ("pennylane", "quickbooks")


@cli.command()
@click.argument("provider", type=click.Choice(PROVIDERS))
@click.option("--port", default=0, show_default=True, help="Port on 127.0.0.1 (0: any free port).")
@click.option("--state", type=click.Path(dir_okay=False, path_type=Path), help="Keep the sandbox's data in FILE.")
@click.option("--faults", metavar="SEED:PLAN", help="Inject faults, e.g. 42:10% or 7:429=5%,5xx=3%,slow=1%,drop=2%.")
def sandbox(provider: str, port: int, state: Path | None, faults: str | None) -> None:
    """Run a local sandbox of PROVIDER's API on 127.0.0.1 (prints its base URL)."""
    if provider == "pennylane":
        from connectors.pennylane.sandbox import main as run
    else:
        from connectors.quickbooks.sandbox import main as run  # type: ignore[no-redef]
    try:
        run(port=port, state=state, faults=faults)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--faults") from exc


def _secret(env: str, from_stdin: bool, what: str) -> str:
    value = sys.stdin.readline().strip() if from_stdin else os.environ.get(env, "")
    if not value:
        fail(f"no {what}: set {env} or pass --stdin and write it on standard input")
    return value


@cli.command()
@click.argument("provider", type=click.Choice(PROVIDERS))
@ledger_option
@click.option("--base-url", required=True, help="The provider's (or a sandbox's) base URL.")
@click.option("--oauth", "use_oauth", is_flag=True, help="Authorization-code flow instead of an API token.")
@click.option("--client-id", help="OAuth client id (the secret comes from the environment or standard input).")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the token or client secret from standard input.")
@click.option("--timeout", default=300, show_default=True, help="Seconds to wait for the OAuth redirect.")
@click.option("--redirect-port", default=8719, show_default=True,
              help="Port of the local redirect listener: register http://127.0.0.1:PORT/callback with the provider.")
def connect(provider: str, ledger: Path, base_url: str, use_oauth: bool, client_id: str | None,
            from_stdin: bool, timeout: int, redirect_port: int) -> None:
    """Store credentials for PROVIDER (never on the command line, never printed)."""
    from connectors import providers
    from connectors.errors import ConnectorError

    try:
        info = providers.describe_connection(provider, ledger, base_url, use_oauth, client_id, from_stdin, timeout,
                                             secret=_secret, announce=lambda url: click.echo(
                                                 f"Open this URL to authorize Partida:\n{url}", err=True),
                                             port=redirect_port)
    except (ConnectorError, LedgerError) as exc:
        fail(f"could not connect to {provider}: {getattr(exc, 'message', str(exc))}")
    click.echo(info)


def _fiscal_year_start(root: Path) -> datetime.date:
    from engine.ledger import open_layout

    _, settings = open_layout(root)
    today = datetime.date.today()
    return settings.fiscal_year_bounds(settings.fiscal_year(today))[0]


def run_sync(ledger: Path, provider: str, since: datetime.date | None, dry_run: bool) -> int:
    """Replay ``ledger`` to ``provider``; prints progress and the summary; returns an exit code."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from connectors import providers, replay
    from connectors.errors import AuthError, ConnectorError

    since = since or _fiscal_year_start(ledger)
    try:
        connector = providers.build(provider, ledger)
    except ConnectorError as exc:
        advice = f" — run `partida connect {provider}` first" if isinstance(exc, AuthError) else ""
        click.echo(f"error: {exc.message}{advice}", err=True)
        return 1
    columns = (TextColumn(f"sync {provider}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, transient=False, disable=dry_run) as bar:
        task = bar.add_task("sync", total=None)
        try:
            summary = replay.sync(ledger, connector, since=since, dry_run=dry_run,
                                  progress=lambda done, total: bar.update(task, completed=done, total=total))
        finally:
            connector.close()
    return _print_summary(summary, since)


def _print_summary(summary: "replay.SyncSummary", since: datetime.date) -> int:  # type: ignore[name-defined]
    if summary.planned:
        for seq, event_id, lines in summary.planned:
            for line in lines:
                click.echo(f"seq {seq} ({event_id}): {line}")
        click.echo(f"dry run: {len(summary.planned)} transaction(s) since {since} would be sent; nothing was sent")
        return 0
    click.echo(f"{summary.provider}: {summary.sent} sent, {summary.exists} already there, "
               f"{len(summary.failed)} failed, {len(summary.parked)} parked"
               + (f", {summary.left} left for the next run" if summary.left else ""))
    for seq, event_id, message in summary.failed + summary.parked:
        click.echo(f"failed: seq {seq} (event {event_id}): {message}", err=True)
    if summary.stopped:
        click.echo(f"stopped: {summary.stopped}", err=True)
    return 0 if summary.ok else 1


@cli.command()
@click.argument("provider", type=click.Choice(PROVIDERS))
@ledger_option
@click.option("--since", callback=parse_date, metavar="DATE", help="First day to replay (default: start of the current fiscal year).")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send nothing.")
def sync(provider: str, ledger: Path, since: datetime.date | None, dry_run: bool) -> None:
    """Replay to PROVIDER, in ledger order, every transaction not yet synced."""
    try:
        sys.exit(run_sync(ledger, provider, since, dry_run))
    except LedgerError as exc:
        fail(str(exc))


@cli.command()
@ledger_option
def status(ledger: Path) -> None:
    """Per provider: pending, synced, uncertain, failed, parked, and the oldest pending."""
    from connectors import replay

    try:
        for provider in PROVIDERS:
            st = replay.status(ledger, provider)
            c = st.counts
            oldest = f"; oldest pending: seq {st.oldest_pending[0]} ({st.oldest_pending[2]}, event {st.oldest_pending[1]})" \
                if st.oldest_pending else ""
            click.echo(f"{provider}: {c['pending']} pending, {c['synced']} synced, {c['uncertain']} uncertain, "
                       f"{c['failed']} failed, {c['parked']} parked{oldest}")
    except LedgerError as exc:
        fail(str(exc))


@cli.command("import")
@click.argument("provider", type=click.Choice(["quickbooks"]))
@click.argument("what", type=click.Choice(["customers", "items"]))
@ledger_option
@click.option("--dry-run", is_flag=True, help="Report only: create nothing, write nothing.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def import_(provider: str, what: str, ledger: Path, dry_run: bool, fmt: str) -> None:
    """Set-up import: match PROVIDER's existing customers or items to the ledger's.

    Matched, created, ambiguous and remote-only entries are reported; the
    references go to <ledger>/sync/quickbooks-refs.toml, which the sync uses.
    Exit status: 0 done, 1 ambiguous entries need a decision, 2 the import
    could not run.
    """
    from connectors.quickbooks import import_command

    sys.exit(import_command.command(ledger, what, dry_run, fmt))  # type: ignore[arg-type]


for _provider in PROVIDERS:
    AFTER_RECORD[_provider] = lambda root, p=_provider: run_sync(root, p, None, False)

# `partida serve` and `partida secret rotate` (the intake service, service/).
import service.cli  # noqa: E402,F401


def main() -> None:
    cli()


@cli.command()
@click.argument("provider", type=click.Choice(PROVIDERS))
@ledger_option
@click.option("--from", "start", callback=parse_date, metavar="DATE",
              help="First day of the period (default: first day of the fiscal year).")
@click.option("--to", "end", callback=parse_date, metavar="DATE",
              help="Last day of the period (default: last day of that fiscal year).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the report to FILE instead of standard output.")
def audit(provider: str, ledger: Path, start: datetime.date | None, end: datetime.date | None, fmt: str,
          output: Path | None) -> None:
    """Compare the ledger with PROVIDER over a period: trial balance, documents, summary.

    Read-only on both sides; each run is kept in <ledger>/audit/. Exit status:
    0 nothing differs beyond rounding, 1 differences found, 2 the audit could not run.
    """
    from connectors import audit as auditing

    sys.exit(auditing.command(provider, ledger, start, end, fmt, output))
