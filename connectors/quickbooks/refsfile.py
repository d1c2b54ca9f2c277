"""The references file: which QuickBooks customer and item each ledger ref is.

``<ledger>/sync/quickbooks-refs.toml``, written by ``partida import
quickbooks customers|items`` and read by every ``partida sync quickbooks``
(``connectors.providers.build`` hands it to the connector)::

    realm = "9130354718"          # the QuickBooks company these Ids belong to

    [customers]                   # customer ref = QuickBooks Customer Id
    "CUST-0001" = "58"  # Hugo Giraud — by email: Giraud, Hugo
    "CUST-0003" = "?"   # ambiguous: Id 61 Léa F. | Id 62 L. Faure — ...

    [items]                       # product ref or partida-<number> = QuickBooks Item Id
    "P-CHS-01" = "12"  # Chaussettes néoprène — by sku: Chaussettes

A value is a QuickBooks Id, ``"new"`` (create a record for this ref) or
``"?"`` (ambiguous: a person chooses). Why a file of its own rather than a
section of ``partida.toml``: it belongs to one QuickBooks company (the realm
is checked, so Ids never cross companies), it is rewritten by every import,
and the engine owns ``partida.toml``. It sits beside the replay state, is
plain TOML, and is meant to be read and edited: each import keeps the
values (a person's decisions among them) and rewrites the comments.

The sync refuses to run while a ``"?"`` is left: it would otherwise create a
customer that may already exist — the very duplicate the import prevents.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from filelock import FileLock

from connectors.errors import PermanentError
from connectors.quickbooks.importer import NEW
from connectors.quickbooks.importer import UNDECIDED
from connectors.quickbooks.importer import ImportPlan
from connectors.quickbooks.importer import Row
from engine.chart import customer_component

__all__ = ["FILE", "ImportedRefs", "load", "lock", "path", "read", "render", "write"]

FILE = "quickbooks-refs.toml"
TABLES = ("customers", "items")
_ID = re.compile(r"[0-9A-Za-z_-]{1,40}")
_HEADER = """\
# QuickBooks references of this ledger, kept by `partida import quickbooks customers|items`
# and used by `partida sync quickbooks` instead of finding or creating customers and items.
# Each line: ledger ref = QuickBooks Id. A customer's ref is the ledger's customer ref; an
# item's is the product ref, or partida-<account number> for lines sold without a product.
# "new": create a QuickBooks record for it. "?": ambiguous — replace it with the chosen Id
# (the candidates are in the comment) or with "new", then run the import again; the sync
# refuses to run while a "?" is left. Values are kept by each import; comments are rewritten.
"""


def path(ledger: Path) -> Path:
    return ledger / "sync" / FILE


@dataclass(frozen=True)
class ImportedRefs:
    """The file's content: the realm, and per table ref -> Id, ``new`` or ``?``."""

    realm: str
    customers: Mapping[str, str]
    items: Mapping[str, str]

    def table(self, name: str) -> Mapping[str, str]:
        return self.customers if name == "customers" else self.items

    def undecided(self) -> list[str]:
        return [f"{name} {ref}" for name in TABLES for ref, value in self.table(name).items() if value == UNDECIDED]

    def overlay(self, customers: dict[str, Any], items: dict[str, Any], remote_customers: Sequence[Any],
                remote_items: Sequence[Any]) -> None:
        """Make the connector's indexes (ledger component -> Customer, Sku ->
        Item) hold the imported records, over Partida's markers and Skus.

        An Id QuickBooks does not list (any more) is left out: the connector
        then finds or creates the record as it would without the file.
        """
        by_id = {str(r["Id"]): r for r in remote_customers}
        for ref, ident in self.customers.items():
            if ident in by_id:
                customers[customer_component(ref)] = by_id[ident]
        by_id = {str(r["Id"]): r for r in remote_items}
        for sku, ident in self.items.items():
            if ident in by_id:
                items[sku] = by_id[ident]


# -- reading ---------------------------------------------------------------------------------------------

def read(file: Path) -> ImportedRefs | None:
    """The file's content; None when there is no file.

    Raises:
        PermanentError: the file is not what this module writes (one line).
    """
    try:
        with file.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PermanentError(f"{file}: not valid TOML ({exc})") from None
    realm = data.get("realm", "")
    if not isinstance(realm, str):
        raise PermanentError(f"{file}: realm must be a string")
    tables = {name: _table(file, name, data.get(name, {})) for name in TABLES}
    return ImportedRefs(realm, tables["customers"], tables["items"])


def _table(file: Path, name: str, table: Any) -> dict[str, str]:
    if not isinstance(table, dict):
        raise PermanentError(f"{file}: [{name}] must be a table of ref = \"Id\"")
    for ref, value in table.items():
        if not isinstance(value, str) or not (value in (NEW, UNDECIDED) or _ID.fullmatch(value)):
            raise PermanentError(f"{file}: [{name}] {ref} = {value!r}: expected a QuickBooks Id in quotes, "
                                 f"\"{NEW}\" or \"{UNDECIDED}\"")
    return dict(table)


def load(ledger: Path, realm: str) -> ImportedRefs | None:
    """The references a sync of ``ledger`` to company ``realm`` uses.

    Raises:
        PermanentError: the file is unreadable, belongs to another company,
            or still holds an undecided entry.
    """
    file = path(ledger)
    refs = read(file)
    if refs is None:
        return None
    if refs.realm and realm and refs.realm != realm:
        raise PermanentError(f"{file} holds the references of QuickBooks company {refs.realm}, but the ledger is "
                             f"connected to company {realm}: move the file away and run `partida import quickbooks "
                             f"customers` and `items` again")
    undecided = refs.undecided()
    if undecided:
        raise PermanentError(f"{file}: {len(undecided)} ambiguous entr{'y' if len(undecided) == 1 else 'ies'} "
                             f"({', '.join(undecided[:5])}{', ...' if len(undecided) > 5 else ''}) wait for a "
                             f"decision: replace each \"?\" with the chosen QuickBooks Id or \"new\", then run "
                             f"`partida import quickbooks` again")
    return refs


# -- writing ---------------------------------------------------------------------------------------------

def _string(text: str) -> str:
    # A JSON string literal is a TOML basic string once DEL is escaped too.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _comment(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _line(ref: str, value: str, row: Row | None) -> str:
    entry = f"{_string(ref)} = {_string(value)}"
    if row is None:
        return f"{entry}  # not used by the ledger (kept)"
    if row.status == "ambiguous":
        choices = " | ".join(f"Id {c.id} {c.name}" + (f" <{c.detail}>" if c.detail else "") for c in row.candidates)
        return f"{entry}  # {_comment(row.name)} — ambiguous ({_comment(row.note)}): {_comment(choices)}"
    if row.status == "create":
        return f"{entry}  # {_comment(row.name)} — to create"
    assert row.remote is not None
    return f"{entry}  # {_comment(row.name)} — {row.by}: {_comment(row.remote.name)}"


def _section(text: str, name: str) -> list[str]:
    """The lines of ``[name]`` in a file's text, up to the next table."""
    lines = text.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.strip() == f"[{name}]"), len(lines))
    end = next((i for i in range(start, len(lines)) if lines[i].lstrip().startswith("[")), len(lines))
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def _kept_lines(name: str, kept: ImportedRefs, old_text: str) -> list[str]:
    """The other table as it stands, its comments with it when its text still says the same."""
    raw = _section(old_text, name)
    try:
        same = tomllib.loads(f"[{name}]\n" + "\n".join(raw)).get(name) == dict(kept.table(name))
    except tomllib.TOMLDecodeError:
        same = False
    return raw if same else [f"{_string(ref)} = {_string(value)}" for ref, value in kept.table(name).items()]


def render(realm: str, plan: ImportPlan, kept: ImportedRefs | None, old_text: str = "") -> str:
    """The file's text once ``plan`` is stored; the other table is kept as it was."""
    lines = [_HEADER, f"realm = {_string(realm)}"]
    rows = {row.ref: row for row in plan.rows if row.ref is not None}
    for name in TABLES:
        lines += ["", f"[{name}]"]
        if name == plan.entity:
            values = plan.decisions()
            old = kept.table(name) if kept else {}
            values.update({ref: old[ref] for ref in plan.unknown if ref in old})
            lines += [_line(ref, value, rows.get(ref)) for ref, value in values.items()]
        elif kept is not None:
            lines += _kept_lines(name, kept, old_text)
    return "\n".join(lines) + "\n"


def write(file: Path, text: str) -> bool:
    """Replace the file by ``text`` (a rename, so a reader never sees half of it); False when unchanged."""
    if file.exists() and file.read_text(encoding="utf-8") == text:
        return False
    file.parent.mkdir(parents=True, exist_ok=True)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, file)
    return True


def lock(ledger: Path) -> FileLock:
    """One import at a time per ledger (customers and items share the file)."""
    file = path(ledger)
    file.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(file.with_name(f".{file.name}.lock")), timeout=60)
