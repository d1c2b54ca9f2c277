"""The ``partida`` command line: the engine's commands.

Provider commands (sandbox, connect, sync, status) are added by
``connectors.cli``, which is the console script's entry point, so that
``engine`` never imports ``connectors``. ``record --sync`` reaches them
through ``AFTER_RECORD``, a registry connectors fill in.
"""

from __future__ import annotations

import datetime
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import click

from .ledger import LedgerSession, init_ledger, open_layout, record_batch
from .problems import LedgerError
from .chart import CHARTS
from .settings import VAT_POLICIES, Settings

if TYPE_CHECKING:
    from rich.console import Console

# provider name -> function(ledger_root) run after `record --sync <provider>`
AFTER_RECORD: dict[str, Callable[[Path], int]] = {}

ledger_option = click.option(
    "--ledger",
    "ledger",
    envvar="PARTIDA_LEDGER",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Ledger folder (env PARTIDA_LEDGER).",
)


def out() -> Console:
    # Wide, markup-free output: names from the ledger are data, never markup.
    # rich is imported here, not at the top: `record` never prints a table
    # and importing rich costs ~20 ms of every process start.
    from rich.console import Console

    return Console(width=120, markup=False, highlight=False, soft_wrap=True)


def fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@click.group()
@click.version_option(package_name="partida")
def cli() -> None:
    """Partida: booking events -> balanced Beancount ledger -> accounting providers."""


def _month_day(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        datetime.date.fromisoformat(f"2000-{value}")
    except ValueError:
        raise click.BadParameter("expected MM-DD, such as 01-01 or 09-01")
    return value


@cli.command()
@ledger_option
@click.option("--company", required=True, help="Company name, shown as the ledger's title.")
@click.option("--chart", "chart_name", type=click.Choice(sorted(CHARTS)), default="fr-pcg", show_default=True,
              help="fr-pcg: French PCG; ca-qc: QuickBooks-style Québec chart (GST + QST).")
@click.option("--currency", help="ISO 4217 code  [default: the chart's: EUR for fr-pcg, CAD for ca-qc]")
@click.option("--vat-policy", type=click.Choice(VAT_POLICIES),
              help="receipts: VAT on services due when paid; debits: due when invoiced  "
                   "[default: receipts for fr-pcg; ca-qc allows debits only]")
@click.option("--fiscal-year-start", default="01-01", show_default=True, callback=_month_day, metavar="MM-DD")
def init(ledger: Path, company: str, chart_name: str, currency: str | None, vat_policy: str | None,
         fiscal_year_start: str) -> None:
    """Create a new ledger (main.beancount, partida.toml, accounts, journal/, sync/)."""
    chart = CHARTS[chart_name]
    currency = currency or chart.default_currency
    vat_policy = vat_policy or chart.vat_policies[0]
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        fail(f"currency {currency!r} is not an ISO 4217 code such as EUR")
    if vat_policy not in chart.vat_policies:
        fail(f"chart {chart_name} allows --vat-policy {', '.join(chart.vat_policies)} only "
             f"(Québec: tax is payable when invoiced or paid, whichever is first)")
    settings = Settings(company=company, currency=currency, chart_name=chart_name, vat_policy=vat_policy,
                        fiscal_year_start=fiscal_year_start)
    try:
        layout = init_ledger(ledger, settings)
    except LedgerError as exc:
        fail(str(exc))
    click.echo(f"created ledger {company!r} in {layout.root} (chart {chart_name}, {currency}, VAT on {vat_policy}, "
               f"fiscal year from {fiscal_year_start})")
    click.echo(f"check it with: bean-check {layout.main}")


@cli.command()
@ledger_option
@click.argument("source", type=click.File("rb"))
@click.option("--keep-valid", is_flag=True, help="Write the valid events and list the rejected ones.")
@click.option("--sync", "sync_to", metavar="PROVIDER", help="Replay to PROVIDER right after recording.")
def record(ledger: Path, source: Any, keep_valid: bool, sync_to: str | None) -> None:
    """Append a JSON-lines batch of events (FILE, or - for standard input)."""
    if sync_to is not None and sync_to not in AFTER_RECORD:
        fail(f"unknown provider {sync_to!r} (known: {', '.join(sorted(AFTER_RECORD)) or 'none'})")
    try:
        result = record_batch(ledger, source.read(), keep_valid=keep_valid)
    except LedgerError as exc:
        fail(str(exc))
    for problem in result.problems:
        click.echo(str(problem), err=True)
    if result.problems and not keep_valid:
        click.echo(f"rejected: {len(result.problems)} problem(s); nothing was written", err=True)
        sys.exit(1)
    click.echo(f"recorded {len(result.recorded)} event(s) as {result.transactions} transaction(s); "
               f"{len(result.unchanged)} already recorded")
    if result.problems:
        click.echo(f"rejected {len(result.problems)} problem(s) (--keep-valid: the valid events were written)", err=True)
    code = 1 if result.problems else 0
    if sync_to is not None:
        code = max(code, AFTER_RECORD[sync_to](ledger))
    sys.exit(code)


def parse_date(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime.date | None:
    """Click callback for a YYYY-MM-DD option (shared with the connectors' commands)."""
    if value is None:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("expected a date YYYY-MM-DD")


as_of_option = click.option("--as-of", callback=parse_date, metavar="DATE", help="Balances at the end of DATE.")
format_option = click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)


@cli.command()
@ledger_option
@click.option("--account", metavar="NUMBER", help="Only accounts whose PCG number starts with NUMBER.")
@click.option("--by-customer", is_flag=True, help="One line per customer sub-account of 411 and 4191.")
@as_of_option
@format_option
def balance(ledger: Path, account: str | None, by_customer: bool, as_of: datetime.date | None, fmt: str) -> None:
    """Balance per account (debit / credit), from the state index."""
    from rich.table import Table
    from rich.text import Text

    from . import reports

    try:
        with LedgerSession(ledger) as session:
            assert session.index is not None
            rows = reports.balances(session.index, session.settings.chart, account=account,
                                    by_customer=by_customer, as_of=as_of)
            currency = session.settings.currency
    except LedgerError as exc:
        fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps([{"account": r.account, "number": r.number, "balance": f"{r.balance:.2f}"}
                               for r in rows], indent=1))
        return
    table = Table(title=f"Balances{' at ' + as_of.isoformat() if as_of else ''} ({currency})")
    for col in ("Account", "Debit", "Credit"):
        table.add_column(col, justify="right" if col != "Account" else "left")
    for r in rows:
        table.add_row(Text(r.account), f"{r.debit:.2f}" if r.debit else "", f"{r.credit:.2f}" if r.credit else "")
    debit = sum((r.debit for r in rows), Decimal("0.00"))
    credit = sum((r.credit for r in rows), Decimal("0.00"))
    table.add_row("Total", f"{debit:.2f}", f"{credit:.2f}")
    out().print(table)


@cli.command()
@ledger_option
@as_of_option
@format_option
def deposits(ledger: Path, as_of: datetime.date | None, fmt: str) -> None:
    """Open deposits (4191) per booking and customer, with their age."""
    from rich.table import Table
    from rich.text import Text

    from . import reports

    day = as_of or datetime.date.today()
    try:
        with LedgerSession(ledger) as session:
            assert session.index is not None
            rows = reports.open_deposits(session.index, day)
    except LedgerError as exc:
        fail(str(exc))
    if fmt == "json":
        click.echo(json.dumps([{"booking": r.holder, "customer": r.customer, "name": r.customer_name,
                                "amount": f"{r.amount:.2f}", "since": r.since.isoformat(), "age_days": r.age_days}
                               for r in rows], indent=1, ensure_ascii=False))
        return
    table = Table(title=f"Open deposits at {day.isoformat()}")
    for col in ("Booking", "Customer", "Since", "Age (days)", "Amount"):
        table.add_column(col, justify="right" if col in ("Age (days)", "Amount") else "left")
    for r in rows:
        table.add_row(Text(r.holder), Text(r.customer_name), r.since.isoformat(), str(r.age_days), f"{r.amount:.2f}")
    total = sum((r.amount for r in rows), Decimal("0.00"))
    table.add_row("Total", f"{len(rows)} booking(s)", "", "", f"{total:.2f}")
    out().print(table)


@cli.command()
@ledger_option
def check(ledger: Path) -> None:
    """bean-check plus the engine's invariants (balance, hash chain, index, open items)."""
    from .check import run_check

    try:
        errors, problems, count = run_check(ledger)
    except LedgerError as exc:
        fail(str(exc))
    for line in errors:
        click.echo(f"bean-check: {line}", err=True)
    for line in problems:
        click.echo(f"invariant: {line}", err=True)
    click.echo(f"bean-check: {'OK' if not errors else f'{len(errors)} error(s)'}; "
               f"invariants: {'OK' if not problems else f'{len(problems)} problem(s)'}; {count} transactions")
    sys.exit(1 if errors or problems else 0)


@cli.command()
@ledger_option
@click.argument("event_id")
@click.option("--reason", required=True, help="Why the event is reversed (kept on the reversing transactions).")
@click.option("--date", "day", callback=parse_date, metavar="DATE", help="Date of the reversal (default: today).")
def reverse(ledger: Path, event_id: str, reason: str, day: datetime.date | None) -> None:
    """Correct EVENT_ID by appending transactions that negate it (never an edit)."""
    from .reversal import ReversalRefused

    try:
        with LedgerSession(ledger) as session:
            count = session.reverse(event_id, reason, day or datetime.date.today())
    except (LedgerError, ReversalRefused) as exc:
        fail(str(exc))
    click.echo(f"reversed event {event_id!r} with {count} transaction(s)")


@cli.command()
@ledger_option
def verify(ledger: Path) -> None:
    """Walk the hash chain: name the first transaction edited, removed or reordered by hand."""
    from .ledger import open_layout
    from .verify import verify as walk

    try:
        layout, _ = open_layout(ledger)
    except LedgerError as exc:
        fail(str(exc))
    count, problem = walk(layout.root)
    if problem:
        click.echo(f"verify: {problem}", err=True)
        sys.exit(1)
    click.echo(f"verify: {count} transactions, hash chain intact")


@cli.group()
def export() -> None:
    """Exports for the accountant and the tax office."""


@export.command()
@ledger_option
@click.option("--year", required=True, type=int, help="Fiscal year, named after the year it closes in.")
@click.option("--siren", help="The company's SIREN (9 digits); default: `siren` in partida.toml.")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True)
def fec(ledger: Path, year: int, siren: str | None, output_dir: Path) -> None:
    """The FEC of a fiscal year (LPF art. A47 A-1): <SIREN>FEC<closing date>.txt."""
    from .fec import export_fec, fec_filename, render_fec
    from .ledger import open_layout

    try:
        layout, settings = open_layout(ledger)
    except LedgerError as exc:
        fail(str(exc))
    if settings.chart_name != "fr-pcg":
        fail(f"the FEC is the French tax office's format: it needs the fr-pcg chart, and this ledger uses "
             f"{settings.chart_name}")
    siren = siren or settings.siren
    if not siren or len(siren) != 9 or not siren.isdigit():
        fail("a FEC needs the company's SIREN: 9 digits, with --siren or `siren` in partida.toml")
    try:
        lines = export_fec(layout.main, settings, year)
    except ValueError as exc:
        fail(str(exc))
    if not lines:
        fail(f"fiscal year {year} holds no entry")
    path = output_dir / fec_filename(siren, settings, year)
    output_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(render_fec(lines), encoding="utf-8")
    entries = len({line.num for line in lines})
    debit = sum((line.debit for line in lines), Decimal("0.00"))
    click.echo(f"wrote {path}: {entries} entries, {len(lines)} lines, total debit = total credit = {debit:.2f}")


def main() -> None:
    cli()
