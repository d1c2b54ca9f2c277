"""``partida import quickbooks customers|items``: the set-up import's I/O seam.

Reads the ledger (its transactions, through ``importer.ledger_entries``) and
the connected company's active customers or sale items (the query endpoint,
page after page), matches them (``importer.match``, pure), creates what the
ledger uses and QuickBooks lacks, stores the references
(``refsfile``), and prints the report.

Decisions:

- **Created now**, unless ``--dry-run``: the entries no key matched are
  created at once, through the connector's own path (the ``Notes`` marker or
  ``Sku`` Partida finds them by, a ref suffix when the name is taken, the
  income account created if missing, batches of 30), so the file holds a
  QuickBooks Id for every ref the ledger uses and a re-run matches them by
  marker or Sku. Ambiguous entries are never created: they wait for a person.
- Only active records take part (QuickBooks' query leaves inactive ones
  out, and an invoice cannot use them); items that no invoice line can carry
  (categories, groups, bundles) are ignored.
- ``--dry-run`` creates nothing and does not write the file.
- A transient failure (429, 5xx, a dropped connection) is retried a few
  times within seconds (a 429 waits what QuickBooks asks, 30 s at most),
  then reported: what was created is found again by the next run.
- Exit status: 0 nothing ambiguous, 1 some entries need a decision (the file
  to edit is named), 2 the import could not run (not connected, refused
  credentials, QuickBooks not answering, unreadable file), with one line.
- Re-running is idempotent: every decision is read back from the file first,
  nothing already there is created again, and the file is rewritten only
  when its text changes.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import Literal

import click
import httpx

from connectors import providers
from connectors.errors import AuthError
from connectors.errors import ConnectorError
from connectors.errors import PermanentError
from connectors.errors import TransientError
from connectors.quickbooks import importer
from connectors.quickbooks import refsfile
from connectors.quickbooks.charts import CHART_MAPS
from connectors.quickbooks.connector import QuickBooksConnector
from connectors.quickbooks.importer import Candidate
from connectors.quickbooks.importer import ImportPlan
from connectors.quickbooks.importer import Row
from connectors.retry import RetryPolicy
from connectors.tokens import TokenStore
from connectors.tokens import connection_key
from engine.journal import read_transactions
from engine.ledger import open_layout
from engine.problems import LedgerError

__all__ = ["Outcome", "command", "run"]

Entity = Literal["customers", "items"]
ATTEMPTS = 4  # an interactive command: a few seconds of retries, then one line (running it again is safe)
KEY = "import"  # the idempotency key of the import's creations (their requestids derive from it)
_LABEL = {"matched": "matched", "create": "to create", "created": "created", "ambiguous": "ambiguous",
          "remote-only": "remote-only"}


@dataclass(frozen=True)
class Outcome:
    plan: ImportPlan
    file: Path
    written: bool
    dry_run: bool


def run(ledger: Path, entity: Entity, *, dry_run: bool = False, store: TokenStore | None = None,
        transport: httpx.BaseTransport | None = None, retry: RetryPolicy | None = None) -> Outcome:
    """Import ``entity`` of the company ``ledger`` is connected to.

    Raises:
        LedgerError: no ledger there.
        ConnectorError: not connected, refused, not answering, a bad file.
    """
    _, settings = open_layout(ledger)
    chart = CHART_MAPS.get(settings.chart_name)
    if chart is None:
        raise PermanentError(f"the {settings.chart_name} chart has no QuickBooks mapping")
    store = store or TokenStore()
    creds = store.get(connection_key("quickbooks", ledger))
    realm = creds.extra.get("realmId", "") if creds else ""
    retry = retry or RetryPolicy(attempts_max=ATTEMPTS)
    with refsfile.lock(ledger):
        file = refsfile.path(ledger)
        kept = refsfile.read(file)
        if kept is not None and kept.realm and realm and kept.realm != realm:
            raise PermanentError(f"{file} holds the references of QuickBooks company {kept.realm}, but the ledger "
                                 f"is connected to company {realm}: move the file away to import from {realm}")
        customers, items = importer.ledger_entries(read_transactions(ledger), chart)
        connector = QuickBooksConnector(providers.api_client("quickbooks", ledger, store, transport),
                                        pacer=providers.pacer_from_env(), chart=chart)  # type: ignore[arg-type]
        try:
            decided: Mapping[str, str] = kept.table(entity) if kept is not None else {}
            if entity == "customers":
                plan = _customers(connector, customers, decided, dry_run, retry)
            else:
                plan = _items(connector, items, decided, dry_run, retry)
        finally:
            connector.close()
        old_text = file.read_text(encoding="utf-8") if kept is not None else ""
        written = not dry_run and refsfile.write(file, refsfile.render(realm, plan, kept, old_text))
    return Outcome(plan, file, written, dry_run)


def _customers(connector: QuickBooksConnector, customers: dict[str, Any], decided: Mapping[str, str],
               dry_run: bool, retry: RetryPolicy) -> ImportPlan:
    records = retry.run(lambda: connector.api.query("SELECT * FROM Customer"))
    plan = importer.match("customers", [importer.local_customer(c) for c in customers.values()],
                          [importer.remote_customer(r) for r in records], importer.CUSTOMER_KEYS, decided)
    todo = [customers[row.ref] for row in plan.rows if row.status == "create" and row.ref is not None]
    if dry_run or not todo:
        return plan
    # The connector's own creation path: marker, name rule, batches; what landed is kept on a retry.
    retry.run(lambda: connector._name_ids(KEY, todo, ()))
    made = {c.ref: connector.names.customers[c.component] for c in todo}
    return plan.with_created({ref: Candidate(str(r["Id"]), str(r.get("DisplayName", ""))) for ref, r in made.items()})


def _items(connector: QuickBooksConnector, items: dict[str, Any], decided: Mapping[str, str],
           dry_run: bool, retry: RetryPolicy) -> ImportPlan:
    retry.run(lambda: connector.names)  # the accounts, for the income account each item posts to
    records = retry.run(lambda: connector.api.query("SELECT * FROM Item"))
    remote = [r for r in map(importer.remote_item, records) if r is not None]
    local = [importer.local_item(item, connector.account_id(item.account)) for item in items.values()]
    plan = importer.match("items", local, remote, importer.ITEM_KEYS, decided)
    todo = [items[row.ref] for row in plan.rows if row.status == "create" and row.ref is not None]
    if dry_run or not todo:
        return plan
    retry.run(lambda: connector._name_ids(KEY, (), todo))
    made = {item.sku: connector.names.items[item.sku] for item in todo}
    return plan.with_created({sku: Candidate(str(r["Id"]), str(r.get("Name", ""))) for sku, r in made.items()})


# -- the command ---------------------------------------------------------------------------------------

def command(ledger: Path, entity: Entity, dry_run: bool, fmt: str) -> int:
    """Run the import and print its report; the exit status (see the module docstring)."""
    try:
        outcome = run(ledger, entity, dry_run=dry_run)
    except LedgerError as exc:
        return _fail(str(exc))
    except AuthError as exc:
        return _fail(f"{exc.message} — run `partida connect quickbooks` (again)")
    except TransientError as exc:
        return _fail(f"QuickBooks is not answering ({exc.message}); run the import again later")
    except ConnectorError as exc:
        return _fail(exc.message)
    if fmt == "json":
        click.echo(json.dumps(_json(outcome), ensure_ascii=False, indent=2))
    elif sys.stdout.isatty():
        _table(outcome)
    else:
        for row in outcome.plan.rows:
            click.echo(_plain(row))
    if fmt != "json":
        click.echo(_summary(outcome))
    _advice(outcome, entity)
    return 1 if outcome.plan.ambiguous else 0


def _fail(message: str) -> int:
    click.echo(f"error: {message}", err=True)
    return 2


def _target(row: Row) -> str:
    if row.candidates:
        return " | ".join(f"Id {c.id} {c.name}" for c in row.candidates)
    return f"Id {row.remote.id} {row.remote.name}" if row.remote else ""


def _plain(row: Row) -> str:
    how = f" [{row.by}]" if row.by else ""
    note = f" — {row.note}" if row.note else ""
    return f"{_LABEL[row.status]:<11}  {row.ref or '-':<16}  {row.name}  ->  {_target(row) or 'new'}{how}{note}"


def _table(outcome: Outcome) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"QuickBooks {outcome.plan.entity}")
    for column in ("status", "ledger ref", "ledger name", "QuickBooks", "by", "note"):
        table.add_column(column, overflow="fold")
    for row in outcome.plan.rows:
        table.add_row(_LABEL[row.status], row.ref or "-", row.name, _target(row) or "new", row.by, row.note)
    Console().print(table)


def _summary(outcome: Outcome) -> str:
    plan = outcome.plan
    created = f"{plan.count('create')} to create" if outcome.dry_run else f"{plan.count('created')} created"
    where = (f"dry run: nothing created, {outcome.file} not written" if outcome.dry_run else
             f"references in {outcome.file}" + ("" if outcome.written else " (unchanged)"))
    return (f"{plan.entity}: {plan.count('matched')} matched, {created}, {plan.count('ambiguous')} ambiguous, "
            f"{plan.count('remote-only')} remote-only; {where}")


def _advice(outcome: Outcome, entity: Entity) -> None:
    if outcome.plan.unknown:
        click.echo(f"note: {outcome.file} names refs the ledger does not use (kept): "
                   f"{', '.join(outcome.plan.unknown)}", err=True)
    count = len(outcome.plan.ambiguous)
    if count:
        where = "the file" if outcome.dry_run else str(outcome.file)
        click.echo(f"{count} ambiguous: in {where}, replace each \"?\" with the chosen QuickBooks Id (the candidates "
                   f"are listed) or with \"new\", then run `partida import quickbooks {entity}` again; "
                   f"`partida sync quickbooks` waits until then", err=True)


def _json(outcome: Outcome) -> dict[str, Any]:
    plan = outcome.plan

    def candidate(c: Candidate | None) -> dict[str, str] | None:
        return None if c is None else {"id": c.id, "name": c.name, "detail": c.detail}

    return {
        "provider": "quickbooks", "entity": plan.entity, "dry_run": outcome.dry_run, "file": str(outcome.file),
        "written": outcome.written,
        "summary": {status: plan.count(status) for status in ("matched", "create", "created", "ambiguous",
                                                                 "remote-only")},
        "rows": [{"status": row.status, "ref": row.ref, "name": row.name, "detail": row.detail,
                  "remote": candidate(row.remote), "by": row.by,
                  "candidates": [candidate(c) for c in row.candidates], "note": row.note} for row in plan.rows],
        "unknown": list(plan.unknown),
    }
