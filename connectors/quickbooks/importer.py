"""The set-up import's matching: QuickBooks customers and items against the ledger's (pure: no I/O).

``partida import quickbooks customers|items`` lets a company that already
keeps its customers and products/services in QuickBooks have Partida use
*those* records instead of creating its own. This module decides, for each
customer ref (or item Sku) the ledger uses, which QuickBooks record it is;
``import_command`` does the I/O around it and ``refsfile`` stores the result.

Keys, strongest first (a weaker key is tried only for what a stronger one
left open, and only against records nobody claimed yet):

- customers: the decision already in the references file (``file``), the
  ``Notes`` marker Partida writes on the customers it creates (``marker``),
  the e-mail address (``email``: any of the comma-separated
  ``PrimaryEmailAddr``, case ignored), then the name (``name``: the
  ``DisplayName``, ``CompanyName`` or given + family name, compared after
  Unicode NFKC, case folding, spaces collapsed and ``:`` read as ``-`` as
  ``references.display_name`` writes it; accents are *not* ignored);
- items: the file, the ``Sku`` (Partida's own ``partida-<number>`` or a
  product ref the company already uses as its Sku), then the ``Name``.

Never guessed: when a key gives a ledger customer several QuickBooks
candidates and the weaker keys do not narrow them to exactly one (for
example two QuickBooks customers sharing an e-mail, one of them also under
the same name: that one is taken, ``email+name``), or when one QuickBooks
record is the single candidate of several ledger customers (a name shared by
two people), each such ledger entry is **ambiguous** and listed with its
candidates. A record that is a candidate of an ambiguous entry is held: a
later, weaker key landing on it makes that entry ambiguous too, so no choice
is made behind the person who has to decide. Ledger entries no key matched
are to **create** (the import creates them at once, the way a sync would);
QuickBooks records nothing matched are **remote-only** (listed, left alone).

A decision in the file wins over every key: an Id (even one a marker says
belongs elsewhere), or ``new`` (create one even though a record matches).
An Id QuickBooks no longer lists (deleted, made inactive, merged) is noted
and the entry matched again as if undecided.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any
from typing import Literal

from connectors.errors import ConnectorError
from connectors.quickbooks import mapping
from connectors.quickbooks.charts import ChartMap
from connectors.quickbooks.mapping import ApplicationPlan
from connectors.quickbooks.mapping import CustomerPlan
from connectors.quickbooks.mapping import EntryPlan
from connectors.quickbooks.mapping import ItemPlan
from connectors.quickbooks.mapping import PaymentPlan
from connectors.quickbooks.mapping import SalesPlan
from connectors.quickbooks.references import marker_ref
from engine.journal import LedgerTxn

__all__ = [
    "CUSTOMER_KEYS",
    "ITEM_KEYS",
    "NEW",
    "SALE_ITEM_TYPES",
    "UNDECIDED",
    "Candidate",
    "ImportPlan",
    "Local",
    "Remote",
    "Row",
    "ledger_entries",
    "local_customer",
    "local_item",
    "match",
    "normal_name",
    "remote_customer",
    "remote_item",
]

Record = dict[str, Any]
Status = Literal["matched", "create", "created", "ambiguous", "remote-only"]
CUSTOMER_KEYS = ("marker", "email", "name")
ITEM_KEYS = ("sku", "name")
SALE_ITEM_TYPES = frozenset({"Service", "NonInventory", "Inventory"})  # what an invoice line can carry
NEW = "new"  # a decision in the file: create a record for this entry
UNDECIDED = "?"  # an ambiguous entry waiting for a person


def normal_name(text: str | None) -> str:
    """A name as compared: NFKC, case folded, spaces collapsed, ``:`` as ``-``."""
    folded = unicodedata.normalize("NFKC", text or "").replace(":", "-").casefold()
    return re.sub(r"\s+", " ", folded).strip()


def _emails(text: str | None) -> frozenset[str]:
    return frozenset(part.strip().casefold() for part in re.split(r"[,;]", text or "") if "@" in part)


@dataclass(frozen=True, slots=True)
class Local:
    """A customer ref or item Sku of the ledger, and what it can be matched by.

    Attributes:
        ref: the customer ref, or the item's Sku (product ref or ``partida-<number>``).
        name: its name in the ledger.
        keys: key -> the values it answers to (``email`` -> addresses...).
        detail: shown beside it (e-mail, income account).
        account_id: items: the QuickBooks income account the ledger's
            sales of it go to, when that account exists there.
    """

    ref: str
    name: str
    keys: Mapping[str, frozenset[str]]
    detail: str = ""
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class Remote:
    """A QuickBooks customer or sale item, reduced to what matching reads."""

    id: str
    name: str
    keys: Mapping[str, frozenset[str]]
    detail: str = ""
    account_id: str | None = None


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    name: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the report.

    Attributes:
        status: ``matched``, ``create`` (``created`` once done), ``ambiguous``
            or ``remote-only``.
        ref: the ledger's ref / Sku (None for a remote-only record).
        name: the ledger's name (the remote name for a remote-only record).
        remote: the QuickBooks record it is (matched, created, remote-only).
        by: the key that matched (``file``, ``marker``, ``email``, ``name``,
            ``email+name``, ``sku``...), or that made it ambiguous.
        candidates: an ambiguous entry's QuickBooks candidates.
        note: why, in words, when there is more to say.
    """

    status: Status
    ref: str | None
    name: str
    remote: Candidate | None = None
    by: str = ""
    candidates: tuple[Candidate, ...] = ()
    note: str = ""
    detail: str = ""


@dataclass(frozen=True)
class ImportPlan:
    """What the import found: a row per ledger entry, then per remote-only record."""

    entity: Literal["customers", "items"]
    rows: tuple[Row, ...]
    unknown: tuple[str, ...] = ()  # refs decided in the file that the ledger does not use (kept)

    def count(self, status: str) -> int:
        return sum(1 for row in self.rows if row.status == status)

    @property
    def ambiguous(self) -> tuple[Row, ...]:
        return tuple(row for row in self.rows if row.status == "ambiguous")

    def decisions(self) -> dict[str, str]:
        """ref -> what the references file holds for it: an Id, ``new`` or ``?``."""
        out: dict[str, str] = {}
        for row in self.rows:
            if row.ref is None:
                continue
            if row.status in ("matched", "created") and row.remote is not None:
                out[row.ref] = row.remote.id
            elif row.status == "ambiguous":
                out[row.ref] = UNDECIDED
            elif row.status == "create":
                out[row.ref] = NEW
        return out

    def with_created(self, ids: Mapping[str, Candidate]) -> ImportPlan:
        """The plan once the entries to create were created (ref -> the new record)."""
        rows = tuple(replace(row, status="created", remote=ids[row.ref], by=row.by or "created")
                     if row.status == "create" and row.ref in ids else row for row in self.rows)
        return ImportPlan(self.entity, rows, self.unknown)


# -- the ledger's side --------------------------------------------------------------------------------

def ledger_entries(txns: Iterable[LedgerTxn], chart: ChartMap) -> tuple[dict[str, CustomerPlan], dict[str, ItemPlan]]:
    """The customers (by ref) and items (by Sku) a sync of ``txns`` would find or create.

    Read through ``mapping.plan``, so the import sees exactly what the sync
    sends. A customer's name, kind and e-mail are the latest the ledger
    holds; an item is the first plan of its Sku. Transactions the mapping
    refuses are left to the sync to report.
    """
    customers: dict[str, CustomerPlan] = {}
    items: dict[str, ItemPlan] = {}
    for txn in txns:
        try:
            target = mapping.plan(txn, "import", chart)
        except ConnectorError:
            continue
        for customer in _customers_of(target):
            if customer.ref is None:
                continue
            known = customers.get(customer.ref)
            if known is not None:
                customer = CustomerPlan(customer.component, customer.ref, customer.name or known.name,
                                        customer.kind, customer.email or known.email)
            customers[customer.ref] = customer
        if isinstance(target, SalesPlan):
            for item in target.items:
                items.setdefault(item.sku, item)
    return customers, items


def _customers_of(target: mapping.Plan | None) -> tuple[CustomerPlan, ...]:
    if isinstance(target, (SalesPlan, PaymentPlan, ApplicationPlan)):
        return (target.customer,)
    if isinstance(target, EntryPlan):
        return target.customers
    return ()


def local_customer(customer: CustomerPlan) -> Local:
    assert customer.ref is not None
    emails = _emails(customer.email)
    return Local(customer.ref, customer.name or customer.ref, {
        "marker": frozenset({customer.ref}),
        "email": emails,
        "name": frozenset({normal_name(customer.name)} if customer.name else ()),
    }, detail=", ".join(sorted(emails)))


def local_item(item: ItemPlan, account_id: str | None) -> Local:
    """An item; ``account_id`` is the QuickBooks account its sales go to, if it exists there."""
    return Local(item.sku, item.name, {"sku": frozenset({item.sku}), "name": frozenset({normal_name(item.name)})},
                 detail=f"{item.account.number} {item.account.name}".strip(), account_id=account_id)


# -- remote records -----------------------------------------------------------------------------------

def remote_customer(record: Record) -> Remote:
    """A QuickBooks Customer as matching sees it."""
    names = (record.get("DisplayName"), record.get("CompanyName"),
             " ".join(str(record[k]) for k in ("GivenName", "FamilyName") if record.get(k)))
    emails = _emails((record.get("PrimaryEmailAddr") or {}).get("Address"))
    marker = marker_ref(record.get("Notes"))
    return Remote(str(record["Id"]), str(record.get("DisplayName") or ""), {
        "marker": frozenset({marker} if marker else ()),
        "email": emails,
        "name": frozenset(n for n in map(normal_name, names) if n),
    }, detail=", ".join(sorted(emails)))


def remote_item(record: Record) -> Remote | None:
    """A QuickBooks Item as matching sees it; None for what no invoice line can carry."""
    if record.get("Type", "Service") not in SALE_ITEM_TYPES:
        return None
    sku = str(record.get("Sku") or "").strip()
    account = (record.get("IncomeAccountRef") or {})
    return Remote(str(record["Id"]), str(record.get("Name") or ""), {
        "sku": frozenset({sku} if sku else ()),
        "name": frozenset({normal_name(record.get("Name"))}),
    }, detail=f"Sku {sku}" if sku else "", account_id=str(account["value"]) if account.get("value") else None)


# -- matching ---------------------------------------------------------------------------------------------

@dataclass
class _Matching:
    """The state of one matching run, key after key."""

    locals: Sequence[Local]
    remotes: Mapping[str, Remote]
    results: dict[str, Row] = field(default_factory=dict)  # ref -> its row, once decided
    claimed: set[str] = field(default_factory=set)  # remote Ids matched
    held: dict[str, set[str]] = field(default_factory=dict)  # remote Id -> ambiguous refs it is a candidate of
    notes: dict[str, str] = field(default_factory=dict)  # ref -> a note carried to its row

    def candidate(self, remote: Remote) -> Candidate:
        return Candidate(remote.id, remote.name, remote.detail)

    def open(self) -> list[Local]:
        return [local for local in self.locals if local.ref not in self.results]

    def row(self, local: Local, status: Status, **fields: Any) -> None:
        note = "; ".join(n for n in (self.notes.get(local.ref, ""), fields.pop("note", "")) if n)
        self.results[local.ref] = Row(status, local.ref, local.name, note=note, detail=local.detail, **fields)

    def matched(self, local: Local, remote: Remote, by: str) -> None:
        self.claimed.add(remote.id)
        self.row(local, "matched", remote=self.candidate(remote), by=by, note=_account_note(local, remote))

    def ambiguous(self, local: Local, found: Iterable[Remote], by: str, note: str) -> None:
        found = sorted(found, key=lambda r: _id_order(r.id))
        for remote in found:
            self.held.setdefault(remote.id, set()).add(local.ref)
        self.row(local, "ambiguous", by=by, candidates=tuple(self.candidate(r) for r in found), note=note)


def _id_order(ident: str) -> tuple[int, str]:
    return (int(ident), "") if ident.isdigit() else (0, ident)


def _account_note(local: Local, remote: Remote) -> str:
    """A matched item whose sales QuickBooks would post to another income account than the ledger's."""
    if remote.account_id is None or remote.account_id == local.account_id:
        return ""
    return (f"QuickBooks posts this item's sales to another income account than the ledger's "
            f"({local.detail}): sync sells it through a variant item on that account so both books agree; "
            f"change the item's income account in QuickBooks to have sync use it as it is")


def match(entity: Literal["customers", "items"], local: Sequence[Local], remote: Sequence[Remote],
          keys: Sequence[str], decided: Mapping[str, str] | None = None) -> ImportPlan:
    """Match the ledger's entries to QuickBooks records (see the module docstring).

    Args:
        entity: ``customers`` or ``items``.
        local: the ledger's entries, one per ref.
        remote: QuickBooks' records (active ones).
        keys: the keys to try, strongest first (``CUSTOMER_KEYS``, ``ITEM_KEYS``).
        decided: what the references file holds: ref -> Id, ``new`` or ``?``.

    Returns:
        A row per ledger entry (in the order given), then a row per
        remote-only record (by Id).
    """
    decided = decided or {}
    state = _Matching(local, {r.id: r for r in remote})
    for entry in local:
        _decide_from_file(state, entry, decided.get(entry.ref))
    for position, key in enumerate(keys):
        _match_key(state, key, keys[position + 1:])
    for entry in state.open():
        state.row(entry, "create")
    others = [r for r in sorted(remote, key=lambda r: _id_order(r.id))
              if r.id not in state.claimed and r.id not in state.held]
    rows = [state.results[entry.ref] for entry in local]
    rows += [Row("remote-only", None, r.name, remote=state.candidate(r)) for r in others]
    known = {entry.ref for entry in local}
    return ImportPlan(entity, tuple(rows), tuple(sorted(ref for ref in decided if ref not in known)))


def _decide_from_file(state: _Matching, entry: Local, decision: str | None) -> None:
    if decision is None or decision == UNDECIDED:
        return
    if decision == NEW:
        state.row(entry, "create", by="file")
    elif decision in state.remotes:
        state.matched(entry, state.remotes[decision], "file")
    else:
        state.notes[entry.ref] = f"the file said QuickBooks Id {decision}, which QuickBooks no longer lists " \
                                 f"(deleted, inactive or merged): matched again"


def _match_key(state: _Matching, key: str, weaker: Sequence[str]) -> None:
    """One key: each open entry's candidates among the records nobody claimed."""
    index: dict[str, list[Remote]] = {}
    for remote in state.remotes.values():
        if remote.id not in state.claimed:
            for value in remote.keys.get(key, ()):
                index.setdefault(value, []).append(remote)
    found: dict[str, tuple[list[Remote], str]] = {}
    for entry in state.open():
        hits = list({r.id: r for v in entry.keys.get(key, ()) for r in index.get(v, [])}.values())
        if hits:
            found[entry.ref] = _narrowed(entry, hits, key, weaker)
    pickers: dict[str, set[str]] = {}
    for ref, (hits, _) in found.items():
        if len(hits) == 1:
            pickers.setdefault(hits[0].id, set()).add(ref)
    for entry in state.open():  # several candidates first: they hold them for the single ones below
        if entry.ref in found and len(found[entry.ref][0]) > 1:
            hits, by = found[entry.ref]
            state.ambiguous(entry, hits, by, f"{len(hits)} QuickBooks records share this {key}")
    for entry in state.open():
        if entry.ref not in found:
            continue
        hits, by = found[entry.ref]
        rivals = (pickers[hits[0].id] | state.held.get(hits[0].id, set())) - {entry.ref}
        if rivals:
            state.ambiguous(entry, hits, by, f"the same QuickBooks record also matches {', '.join(sorted(rivals))}")
        else:
            state.matched(entry, hits[0], by)


def _narrowed(entry: Local, hits: list[Remote], key: str, weaker: Sequence[str]) -> tuple[list[Remote], str]:
    """Several candidates: the one that also agrees on a weaker key, if exactly one does."""
    if len(hits) > 1:
        for other in weaker:
            agree = [r for r in hits if entry.keys.get(other, frozenset()) & r.keys.get(other, frozenset())]
            if len(agree) == 1:
                return agree, f"{key}+{other}"
    return hits, key
