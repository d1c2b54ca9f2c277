"""The audit: what the ledger holds against what a provider holds, over a period (DESIGN §6).

``partida audit <provider>`` compares, for the days ``[start, end]``:

1. the **trial balance** per account of the provider's chart (for Pennylane
   the PCG number, customer sub-accounts folded; for QuickBooks the
   QuickBooks account, several ledger numbers summed into one where the
   chart map folds them): the ledger's movements in
   the period (from the state index) against the provider's trial balance,
   each side's amount, debit positive, and the difference (provider - ledger);
2. every **document** by business key: what each ledger transaction of the
   period should be on the provider (``Expectations.expected``; the key is
   the one the replay state stored, or the one it will store) against the
   documents the provider holds (``RemoteReader.documents``). Each gets one
   class, decided by ``classify``:

   - ``match``: same key, same amount, same paid status;
   - ``missing_remote``: the ledger's document is not on the provider (never
     synced, or synced and since deleted there: the note says which);
   - ``missing_local``: the provider holds a document no ledger transaction
     of the period accounts for (added behind Partida's back, or a second
     document under a key already matched);
   - ``amount_differs``: the amounts differ by more than the rounding allowance;
   - ``status_differs``: amounts agree (within rounding) but one side says
     paid and the other open, and what is still due differs by more than the
     allowance (invoices only);
   - ``rounding``: the amounts differ by at most 0.01 per tax line of the
     document (Pennylane rounds VAT line by line), and the paid status agrees
     or differs only by what such a cent leaves to pay; kept apart from the
     real differences, never a failure;

3. a **summary**: drift per account, counts per class, and the oldest
   transaction not synced (which often explains the rest).

The audit only reads, on both sides: a document changed or deleted on the
provider is a finding, never something to put back. Each run is kept as
JSON under ``<ledger>/audit/<provider>-<UTC timestamp>.json``.

Layers: local facts (``read_local``: ledger + replay state, generic) and
remote facts (a provider's ``RemoteReader``, the only network I/O) feed the
pure comparison (``compare_accounts``, ``compare_documents``); ``render_*``
turn a ``Report`` into a table, CSV or JSON. A provider plugs in with a
``RemoteReader`` and an ``Expectations`` (see ``connectors.pennylane.audit``
and ``connectors.quickbooks.audit``).
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from decimal import Decimal
from pathlib import Path
from typing import Any
from typing import Literal
from typing import Protocol
from typing import TextIO

from engine import beans
from engine.journal import LedgerTxn
from engine.journal import to_ledger_txn
from engine.ledger import LedgerSession
from engine.model import Invoice

from .syncstate import idempotency_key

Kind = Literal["invoice", "credit_note", "entry"]
CLASSES = ("match", "rounding", "amount_differs", "status_differs", "missing_remote", "missing_local")
PASSING = frozenset({"match", "rounding"})
CENT = Decimal("0.01")
ZERO = Decimal("0.00")
AUDIT_FOLDER = "audit"


class AuditError(Exception):
    """The audit could not run (bad period, unreadable ledger, no data): one clear line."""


# -- facts ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Expected:
    """What one ledger transaction should be on the provider (from ``Expectations.expected``).

    ``amount`` is signed as the provider shows it: a document's total tax
    included (negative for a credit note), an entry's total debit.
    ``tax_lines`` sets the rounding allowance (0.01 each); ``number`` is the
    ledger's invoice number, for the paid status.
    """

    key: str
    kind: Kind
    label: str
    amount: Decimal
    tax_lines: int = 0
    number: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class LocalDoc:
    """An expected document with where it comes from and its replay state."""

    expected: Expected
    date: datetime.date
    seq: int
    event_id: str
    sync: str = "pending"  # replay state: pending, uncertain, synced, failed, parked
    remote_id: str = ""
    due: Decimal | None = None  # invoices only: what is still to pay (never below zero)

    @property
    def paid(self) -> bool | None:
        return None if self.due is None else self.due <= 0


@dataclass(frozen=True, slots=True)
class RemoteDoc:
    """A document as the provider holds it, under the business key it carries."""

    key: str
    kind: Kind
    label: str
    date: datetime.date
    amount: Decimal
    due: Decimal | None = None  # invoices only: what is still to pay
    remote_id: str = ""

    @property
    def paid(self) -> bool | None:
        return None if self.due is None else self.due <= 0


@dataclass(frozen=True, slots=True)
class RemoteAccount:
    """One row of the provider's trial balance: movements of the period, debit positive."""

    account: str
    label: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LocalFacts:
    accounts: dict[str, Decimal]  # provider account -> movements of the period, debit positive
    labels: dict[str, str]
    documents: list[LocalDoc]
    transactions: int  # ledger transactions in the period
    oldest_unsynced: tuple[int, str, str, str] | None  # (seq, event id, day, state), whole ledger


class RemoteReader(Protocol):
    """The provider's side, read-only: what a provider adapter implements."""

    provider: str

    def trial_balance(self, start: datetime.date, end: datetime.date) -> list[RemoteAccount]:
        """Movements per account over ``[start, end]``, customer sub-accounts folded."""

    def documents(self, start: datetime.date, end: datetime.date) -> list[RemoteDoc]:
        """Every document dated in ``[start, end]`` with its business key, amount and paid status."""

    def close(self) -> None:
        """Release the HTTP client."""


class Expectations(Protocol):
    """How ledger facts read on the provider (pure)."""

    def expected(self, txn: LedgerTxn, key: str) -> list[Expected]:
        """What ``txn``, replayed under ``key``, should be on the provider (empty: nothing)."""

    def account(self, ledger_account: str) -> str:
        """The provider's trial-balance account of a ledger account."""


# -- findings -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AccountLine:
    account: str
    label: str
    local: Decimal
    remote: Decimal

    @property
    def difference(self) -> Decimal:
        return self.remote - self.local


@dataclass(frozen=True, slots=True)
class Finding:
    """One document, classified; ``difference`` is remote - local."""

    cls: str
    kind: Kind
    key: str
    label: str
    date: datetime.date
    local: Decimal | None
    remote: Decimal | None
    local_due: Decimal | None = None
    remote_due: Decimal | None = None
    seq: int | None = None
    event_id: str = ""
    remote_id: str = ""
    note: str = ""

    @property
    def difference(self) -> Decimal | None:
        return self.remote - self.local if self.local is not None and self.remote is not None else None

    @property
    def local_paid(self) -> bool | None:
        return None if self.local_due is None else self.local_due <= 0

    @property
    def remote_paid(self) -> bool | None:
        return None if self.remote_due is None else self.remote_due <= 0


def compare_accounts(local: dict[str, Decimal], remote: Iterable[RemoteAccount],
                     labels: dict[str, str] | None = None) -> list[AccountLine]:
    """One line per account moved on either side, in account order."""
    remote_amounts: dict[str, Decimal] = {}
    names = dict(labels or {})
    for row in remote:
        remote_amounts[row.account] = remote_amounts.get(row.account, ZERO) + row.amount
        names[row.account] = row.label or names.get(row.account, "")
    lines = [AccountLine(a, names.get(a, ""), local.get(a, ZERO), remote_amounts.get(a, ZERO))
             for a in sorted(set(local) | set(remote_amounts))]
    return [line for line in lines if line.local or line.remote]


def compare_documents(local: Iterable[LocalDoc], remote: Iterable[RemoteDoc]) -> list[Finding]:
    """Match by key; every document of either side ends in exactly one finding."""
    by_key: dict[str, RemoteDoc] = {}
    extra: list[RemoteDoc] = []
    for doc in remote:
        if doc.key in by_key:
            extra.append(doc)  # a second document under one key is a finding of its own
        else:
            by_key[doc.key] = doc
    findings = [classify(doc, by_key.pop(doc.expected.key, None)) for doc in local]
    findings += [_unknown(doc, "") for doc in by_key.values()]
    findings += [_unknown(doc, f"a second document under key {doc.key}") for doc in extra]
    return findings


def classify(local: LocalDoc, remote: RemoteDoc | None) -> Finding:
    """The class of one ledger document against what the provider holds under its key."""
    exp = local.expected
    if remote is None:
        return Finding("missing_remote", exp.kind, exp.key, exp.label, local.date, exp.amount, None, local.due,
                       None, local.seq, local.event_id, local.remote_id, _why_missing(local))
    difference = remote.amount - exp.amount
    allowance = CENT * exp.tax_lines
    status = _status_gap(local, remote, allowance)
    if abs(difference) > allowance:
        cls = "amount_differs"
    elif status == "differs":
        cls = "status_differs"
    else:
        cls = "rounding" if difference or status else "match"
    notes = [exp.note] if exp.note else []
    if status and cls != "status_differs":  # else the class says it
        notes.append(f"{_paid_word(local.paid)} in the ledger, {_paid_word(remote.paid)} on the provider"
                     + (" by the rounding only" if status == "rounding" else " too"))
    if remote.kind != exp.kind:
        notes.append(f"a {exp.kind.replace('_', ' ')} in the ledger, a {remote.kind.replace('_', ' ')} remotely")
    return Finding(cls, exp.kind, exp.key, exp.label, local.date, exp.amount, remote.amount, local.due,
                   remote.due, local.seq, local.event_id, remote.remote_id, "; ".join(notes))


def _status_gap(local: LocalDoc, remote: RemoteDoc, allowance: Decimal) -> str | None:
    """None when both sides say paid or both say open; else ``rounding`` when
    what is due differs by no more than the rounding allowance (a total a cent
    higher leaves a cent to pay), ``differs`` otherwise."""
    if local.paid is None or remote.paid is None or local.paid == remote.paid:
        return None
    gap = abs((remote.due or ZERO) - (local.due or ZERO))
    return "rounding" if gap <= allowance else "differs"


def _why_missing(local: LocalDoc) -> str:
    note = local.expected.note
    if local.sync == "synced":
        why = f"synced as {local.remote_id or 'a remote document'}, no longer on the provider"
    else:
        why = f"not synced ({local.sync})"
    return f"{why}; {note}" if note else why


def _unknown(doc: RemoteDoc, note: str) -> Finding:
    return Finding("missing_local", doc.kind, doc.key, doc.label, doc.date, None, doc.amount, None, doc.due,
                   None, "", doc.remote_id, note or "no ledger transaction of the period carries this key")


def _paid_word(paid: bool | None) -> str:
    return "" if paid is None else "paid" if paid else "open"


# -- the report -----------------------------------------------------------------------------------

@dataclass
class Report:
    provider: str
    ledger: str
    start: datetime.date
    end: datetime.date
    accounts: list[AccountLine]
    documents: list[Finding]
    transactions: int
    oldest_unsynced: tuple[int, str, str, str] | None
    generated: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.UTC))
    timing: dict[str, float] = field(default_factory=dict)  # local_s, remote_s, requests

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(f.cls for f in self.documents)
        return {cls: found.get(cls, 0) for cls in CLASSES}

    @property
    def drift(self) -> list[AccountLine]:
        return [line for line in self.accounts if line.difference]

    @property
    def ok(self) -> bool:
        """Nothing differs beyond rounding."""
        return not self.drift and all(f.cls in PASSING for f in self.documents)


def build_report(provider: str, ledger: Path, start: datetime.date, end: datetime.date, local: LocalFacts,
                 remote_accounts: list[RemoteAccount], remote_docs: list[RemoteDoc]) -> Report:
    """Compare both sides (pure).

    Raises:
        AuditError: when neither side has anything in the period.
    """
    if not local.transactions and not remote_docs and not any(r.amount for r in remote_accounts) \
            and not any(local.accounts.values()):
        raise AuditError(f"nothing to audit from {start} to {end}: the ledger has no transaction and "
                         f"{provider} no document in that period")
    accounts = compare_accounts(local.accounts, remote_accounts, local.labels)
    documents = compare_documents(local.documents, remote_docs)
    documents.sort(key=lambda f: (f.cls == "match", f.date, f.seq or 0, f.key))  # findings first
    return Report(provider, str(ledger), start, end, accounts, documents, local.transactions, local.oldest_unsynced)


# -- the local side -------------------------------------------------------------------------------

def read_local(root: Path, provider: str, expectations: Expectations, start: datetime.date,
               end: datetime.date) -> LocalFacts:
    """The ledger's side of the period: movements per account, expected documents, replay states."""
    items = _sync_items(root, provider)
    # One session: balances, transactions and open amounts are one snapshot
    # (a `record` waits for it; the writer's lock allows 10 minutes).
    with LedgerSession(root) as session:
        index = session.index
        assert index is not None
        locations = index.locations()
        moved = _movements(index.balances(start - datetime.timedelta(days=1)), index.balances(end))
        wanted = [loc for loc in locations if start.isoformat() <= loc[5] <= end.isoformat()]
        txns = read_located(root, wanted)
        documents = [doc for txn in txns for doc in _expected(txn, provider, expectations, items)]
        due = _due(index, {d.expected.number for d in documents if d.expected.number})
    documents = [_with_due(doc, due) for doc in documents]
    accounts: dict[str, Decimal] = {}
    labels: dict[str, str] = {}
    for name, amount in moved.items():
        account = expectations.account(name)
        accounts[account] = accounts.get(account, ZERO) + amount
        labels.setdefault(account, name.split(":")[1] if ":" in name else name)
    return LocalFacts(accounts, labels, documents, len(txns), _oldest_unsynced(locations, items))


def _sync_items(root: Path, provider: str) -> dict[int, tuple[str, str, str]]:
    """seq -> (key, state, remote id) from the replay state, read-only (absent: nothing synced)."""
    path = root / "sync" / f"{provider}.sqlite3"
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=60)
    try:
        rows = conn.execute("SELECT seq, key, state, remote_id FROM items")
        return {seq: (key, state, remote_id) for seq, key, state, remote_id in rows}
    except sqlite3.DatabaseError as exc:
        raise AuditError(f"cannot read the replay state {path}: {exc}") from exc
    finally:
        conn.close()


def _movements(before: dict[str, int], after: dict[str, int]) -> dict[str, Decimal]:
    """Per ledger account, what moved between the two balances (cents -> Decimal)."""
    out = {}
    for name in set(before) | set(after):
        cents = after.get(name, 0) - before.get(name, 0)
        if cents:
            out[name] = (Decimal(cents) / 100).quantize(CENT)
    return out


def read_located(root: Path, wanted: list[tuple[Any, ...]]) -> list[LedgerTxn]:
    """The transactions at ``wanted`` locations, one parse per segment file.

    Parsing a whole segment at once costs far less than one parse per
    transaction (``engine.journal.read_transactions``), which matters at
    100,000 documents.
    """
    by_path: dict[str, set[int]] = {}
    for seq, path, *_ in wanted:
        by_path.setdefault(path, set()).add(seq)
    found: dict[int, LedgerTxn] = {}
    for path, seqs in by_path.items():
        try:
            text = (root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AuditError(f"cannot read {root / path}: {exc}") from exc
        for entry in beans.parse_text(text):
            if beans.is_transaction(entry) and int(entry.meta.get("seq", "0")) in seqs:
                found[int(entry.meta["seq"])] = to_ledger_txn(entry)
    missing = [seq for seq, *_ in wanted if seq not in found]
    if missing:
        raise AuditError(f"the ledger does not hold transaction seq {missing[0]} where its index says "
                         f"(run `partida check`)")
    return [found[seq] for seq, *_ in wanted]


def _expected(txn: LedgerTxn, provider: str, expectations: Expectations,
              items: dict[int, tuple[str, str, str]]) -> list[LocalDoc]:
    item = items.get(txn.seq)
    # Not synced yet: the key the replay loop will derive and store.
    key, state, remote_id = item or (idempotency_key(provider, txn.event_id, txn.seq), "pending", "")
    return [LocalDoc(exp, txn.date, txn.seq, txn.event_id, state, remote_id)
            for exp in expectations.expected(txn, key)]


def _due(index: Any, numbers: set[str]) -> dict[str, Decimal]:
    """What is still to pay on each invoice; a customer in credit owes nothing."""
    index.prefetch({Invoice: numbers})
    out = {}
    for number in numbers:
        record = index.invoice(number)
        if record is not None:
            out[number] = max(record.open, ZERO)
    return out


def _with_due(doc: LocalDoc, due: dict[str, Decimal]) -> LocalDoc:
    exp = doc.expected
    if exp.kind != "invoice" or exp.number not in due:
        return doc
    return LocalDoc(exp, doc.date, doc.seq, doc.event_id, doc.sync, doc.remote_id, due[exp.number])


def _oldest_unsynced(locations: list[tuple[Any, ...]],
                     items: dict[int, tuple[str, str, str]]) -> tuple[int, str, str, str] | None:
    for seq, _path, _offset, _length, event_id, day, _type in locations:
        state = items[seq][1] if seq in items else "pending"
        if state != "synced":
            return seq, event_id, day, state
    return None


# -- one run --------------------------------------------------------------------------------------

def run(root: Path, reader: RemoteReader, expectations: Expectations, start: datetime.date,
        end: datetime.date) -> Report:
    """Read both sides and compare; the report carries the time spent on each.

    Raises:
        AuditError: bad period, no data, unreadable ledger.
        ConnectorError: the provider refused or kept failing.
        LedgerError: the ledger cannot be opened.
    """
    if start > end:
        raise AuditError(f"the period starts ({start}) after it ends ({end})")
    began = time.perf_counter()
    local = read_local(root, reader.provider, expectations, start, end)
    local_s = time.perf_counter() - began
    remote_began = time.perf_counter()
    remote_accounts = reader.trial_balance(start, end)
    remote_docs = reader.documents(start, end)
    remote_s = time.perf_counter() - remote_began
    compare_began = time.perf_counter()
    report = build_report(reader.provider, root, start, end, local, remote_accounts, remote_docs)
    report.timing = {"local_s": local_s + time.perf_counter() - compare_began, "remote_s": remote_s}
    return report


def keep(report: Report, root: Path) -> Path:
    """Write the report under ``<ledger>/audit/`` (never overwriting an earlier run)."""
    folder = root / AUDIT_FOLDER
    folder.mkdir(exist_ok=True)
    stamp = report.generated.strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{report.provider}-{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = folder / f"{report.provider}-{stamp}-{n}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report_dict(report), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)
    return path


# -- rendering ------------------------------------------------------------------------------------

def _money(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def finding_dict(f: Finding) -> dict[str, Any]:
    return {
        "class": f.cls, "kind": f.kind, "key": f.key, "label": f.label, "date": f.date.isoformat(),
        "local": _money(f.local) or None, "remote": _money(f.remote) or None,
        "difference": _money(f.difference) or None, "local_status": _paid_word(f.local_paid) or None,
        "remote_status": _paid_word(f.remote_paid) or None, "local_due": _money(f.local_due) or None,
        "remote_due": _money(f.remote_due) or None, "seq": f.seq, "event_id": f.event_id or None,
        "remote_id": f.remote_id or None, "note": f.note or None,
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The JSON form: what ``--format json`` prints and what each run keeps."""
    oldest = report.oldest_unsynced
    return {
        "provider": report.provider, "ledger": report.ledger,
        "period": {"from": report.start.isoformat(), "to": report.end.isoformat()},
        "generated_at": report.generated.isoformat(timespec="seconds"), "ok": report.ok,
        "summary": {
            "counts": report.counts, "documents": len(report.documents), "transactions": report.transactions,
            "drift": [{"account": a.account, "label": a.label, "local": _money(a.local), "remote": _money(a.remote),
                       "difference": _money(a.difference)} for a in report.drift],
            "oldest_unsynced": {"seq": oldest[0], "event_id": oldest[1], "date": oldest[2], "state": oldest[3]}
            if oldest else None,
        },
        "trial_balance": [{"account": a.account, "label": a.label, "local": _money(a.local),
                           "remote": _money(a.remote), "difference": _money(a.difference)} for a in report.accounts],
        "documents": [finding_dict(f) for f in report.documents],
        "timing": {k: round(v, 3) for k, v in report.timing.items()},
    }


CSV_COLUMNS = ("section", "class", "reference", "kind", "label", "date", "local", "remote", "difference",
               "local_status", "remote_status", "local_due", "remote_due", "seq", "event_id", "remote_id", "note")


def render_csv(report: Report, out: TextIO) -> None:
    """One table: the trial-balance lines, then every document."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for a in report.accounts:
        writer.writerow(["trial_balance", "drift" if a.difference else "match", a.account, "account", a.label, "",
                         _money(a.local), _money(a.remote), _money(a.difference), "", "", "", "", "", "", "", ""])
    for f in report.documents:
        d = finding_dict(f)
        writer.writerow(["document", f.cls, f.key, f.kind, f.label, d["date"], d["local"] or "", d["remote"] or "",
                         d["difference"] or "", d["local_status"] or "", d["remote_status"] or "",
                         d["local_due"] or "", d["remote_due"] or "",
                         "" if f.seq is None else f.seq, f.event_id, f.remote_id, f.note])


def render_json(report: Report, out: TextIO) -> None:
    json.dump(report_dict(report), out, ensure_ascii=False, indent=1)
    out.write("\n")


def render_table(report: Report, out: TextIO) -> None:
    """Rich tables: the trial balance, the documents that are not a match, the summary."""
    from rich.console import Console

    console = Console(file=out, width=150, markup=False, highlight=False, soft_wrap=False,
                      force_terminal=False, color_system=None)
    console.print(f"Audit of {report.ledger} against {report.provider}, {report.start} to {report.end}")
    console.print(_accounts_table(report))
    differing = [f for f in report.documents if f.cls != "match"]
    if differing:
        console.print(_documents_table(report, differing))
    for line in summary_lines(report):
        console.print(line)


def _display(provider: str) -> str:
    return {"quickbooks": "QuickBooks"}.get(provider, provider.capitalize())


def _accounts_table(report: Report) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title="Trial balance (movements of the period, debit positive)")
    for col in ("Account", "Label", "Ledger", _display(report.provider), "Difference"):
        table.add_column(col, justify="left" if col in ("Account", "Label") else "right")
    for a in report.accounts:
        table.add_row(a.account, Text(a.label), _money(a.local), _money(a.remote),
                      _money(a.difference) if a.difference else "")
    return table


def _documents_table(report: Report, findings: list[Finding]) -> Any:
    from rich.table import Table
    from rich.text import Text

    provider = _display(report.provider)
    table = Table(title=f"Documents that are not a match ({len(findings)} of {len(report.documents)})")
    for col in ("Class", "Document (key)", "Date", "Ledger", provider, "Difference", "Paid", "Note"):
        table.add_column(col, justify="right" if col in ("Ledger", provider, "Difference") else "left")
    for f in findings:
        paid = f"{_paid_word(f.local_paid) or '-'} / {_paid_word(f.remote_paid) or '-'}" \
            if f.local_paid is not None or f.remote_paid is not None else ""
        where = f"seq {f.seq}: " if f.seq is not None else ""
        table.add_row(f.cls, Text(f"{where}{f.label}\n{f.key}", overflow="fold"), f.date.isoformat(),
                      _money(f.local), _money(f.remote), _money(f.difference), paid, Text(f.note))
    return table


def summary_lines(report: Report) -> list[str]:
    """The summary: counts per class, drift per account, oldest unsynced, verdict."""
    counts = ", ".join(f"{n} {cls}" for cls, n in report.counts.items() if n) or "no document"
    drift = ", ".join(f"{a.account} {a.difference:+.2f}" for a in report.drift) or "none"
    oldest = report.oldest_unsynced
    unsynced = f"seq {oldest[0]} ({oldest[2]}, event {oldest[1]}, {oldest[3]})" if oldest else "none"
    verdict = "OK: nothing differs beyond rounding" if report.ok else "DIFFERENCES FOUND"
    return [f"Documents ({len(report.documents)}): {counts}", f"Drift per account: {drift}",
            f"Oldest unsynced transaction: {unsynced}", verdict]


RENDERERS = {"table": render_table, "csv": render_csv, "json": render_json}


def render(report: Report, fmt: str) -> str:
    buffer = io.StringIO()
    RENDERERS[fmt](report, buffer)
    return buffer.getvalue()


# -- the command ----------------------------------------------------------------------------------

EXIT_OK, EXIT_DIFFERENCES, EXIT_CANNOT_AUDIT = 0, 1, 2


def open_provider(provider: str, ledger: Path) -> tuple[RemoteReader, Expectations]:
    """The reader and expectations of ``provider``: where a new provider plugs in.

    Raises:
        AuditError: the provider has no audit yet.
        AuthError: the ledger is not connected to it.
    """
    if provider == "pennylane":
        from connectors.pennylane.audit import PennylaneExpectations
        from connectors.pennylane.audit import open_reader

        return open_reader(ledger), PennylaneExpectations()
    if provider == "quickbooks":
        from connectors.quickbooks.audit import open_reader as open_quickbooks

        return open_quickbooks(ledger)
    raise AuditError(f"the audit does not read {provider} yet (available: pennylane, quickbooks)")


def default_period(ledger: Path, start: datetime.date | None,
                   end: datetime.date | None) -> tuple[datetime.date, datetime.date]:
    """Missing bounds come from the fiscal year of the other bound (or of today)."""
    from engine.ledger import open_layout

    try:
        _, settings = open_layout(ledger)
    except (ValueError, KeyError, TypeError, OSError) as exc:  # a hand-damaged partida.toml
        raise AuditError(f"cannot read {ledger / 'partida.toml'}: {exc}") from exc
    anchor = start or end or datetime.date.today()
    first, last = settings.fiscal_year_bounds(settings.fiscal_year(anchor))
    return start or first, end or last


def command(provider: str, ledger: Path, start: datetime.date | None, end: datetime.date | None, fmt: str,
            output: Path | None) -> int:
    """``partida audit``: run, keep, print; the exit status (see ``EXIT_*``)."""
    import click

    try:
        report = _audit(provider, ledger, start, end)
        kept = keep(report, ledger)
        text = render(report, fmt)
        if output is not None:
            output.write_text(text, encoding="utf-8")
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line, never a traceback
        click.echo(f"error: {_failure(provider, exc)}", err=True)
        return EXIT_CANNOT_AUDIT
    if output is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"report written to {output}")
        for line in summary_lines(report):
            click.echo(line)
    click.echo(f"audit kept in {kept}", err=True)
    return EXIT_OK if report.ok else EXIT_DIFFERENCES


def _audit(provider: str, ledger: Path, start: datetime.date | None, end: datetime.date | None) -> Report:
    start, end = default_period(ledger, start, end)
    reader, expectations = open_provider(provider, ledger)
    try:
        report = run(ledger, reader, expectations, start, end)
        stats = getattr(reader, "stats", None)  # optional: requests and rate-limit waits
        if stats is not None:
            report.timing.update(stats())
        return report
    finally:
        reader.close()


def _failure(provider: str, exc: Exception) -> str:
    """One line for whatever stopped the audit."""
    from engine.problems import LedgerError

    from .errors import AuthError
    from .errors import ConnectorError
    from .errors import TransientError

    if isinstance(exc, AuthError):
        return f"{exc.message} — run `partida connect {provider}` (the audit needs read access)"
    if isinstance(exc, TransientError):
        return f"{provider} is not answering ({exc.message}); nothing was compared, run the audit again later"
    if isinstance(exc, ConnectorError):
        return f"{provider} refused to answer the audit: {exc.message}"
    if isinstance(exc, (AuditError, LedgerError)):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.filename or 'a file'}: {exc.strerror or exc}"
    return f"the audit stopped: {type(exc).__name__}: {exc}"
