"""The ledger writer: the only code that writes ledger files.

A ``LedgerSession`` holds the writers' lock, brings the state index up to date
with the files (replaying what a crash left unindexed), books a batch of
events through the rules and appends the result. Writes happen in a fixed
order so that the ledger loads cleanly after a crash at any instant:

1. customer ``open`` directives (accounts segments), before anything uses them;
2. journal segments, each replaced whole by rename;
3. the indexes that include new segments, and ``main.beancount`` for a new year;
4. only then the state index (one SQLite transaction).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from filelock import FileLock

from . import beans, rules
from .events import Context, Event, parse_event, parse_lines
from .layout import FileOp, Layout, SegmentedFile, included, render_index, write_atomic
from .model import Open, Txn
from .problems import ExternallyChangedError, LedgerError, LedgerNotFoundError, Problem
from .settings import Settings, load_settings, render_settings
from .state import StateIndex, to_cents

LOCK_TIMEOUT_S = 600
GENESIS = "partida"


@dataclass
class RecordResult:
    recorded: list[str] = field(default_factory=list)  # event ids newly written
    unchanged: list[str] = field(default_factory=list)  # already in the ledger, same content
    problems: list[Problem] = field(default_factory=list)
    transactions: int = 0
    written: bool = False


# ---------------------------------------------------------------------------
# Creating a ledger


def _main_text(settings: Settings, years: Iterable[int]) -> str:
    lines = [
        "; Partida ledger. Written by Partida only: open it with",
        "; bean-check, bean-query or `fava --read-only`; never edit it by hand.",
        f"option \"title\" {beans.escape(settings.company)}",
        f"option \"operating_currency\" \"{settings.currency}\"",
        'include "accounts.beancount"',
    ]
    lines += [f'include "journal/{year}.beancount"' for year in sorted(years)]
    return "\n".join(lines) + "\n"


def _accounts_header(settings: Settings) -> str:
    chart = settings.chart
    lines = [f"; Chart {chart.name}: one account per PCG number; customer sub-accounts follow.", ""]
    for number, account in chart.accounts.items():
        lines.append(f"{settings.open_date.isoformat()} open {account} {settings.currency}")
        lines.append(f'  pcg: "{number}"')
    voucher = chart.voucher_account()
    lines += [f"{settings.open_date.isoformat()} open {voucher} {settings.currency}", '  purpose: "gift vouchers"', ""]
    return "\n".join(lines) + "\n"


def _journal_header(year: int) -> str:
    return f"; Journal of fiscal year {year}: segments in append order.\n"


def init_ledger(root: Path, settings: Settings) -> Layout:
    """Create the layout of DESIGN §4 for a new ledger."""
    layout = Layout(root)
    if layout.main.exists():
        raise LedgerError(f"{layout.main} already exists; not overwriting a ledger")
    root.mkdir(parents=True, exist_ok=True)
    layout.journal.mkdir(exist_ok=True)
    layout.sync.mkdir(exist_ok=True)
    write_atomic(layout.settings, render_settings(settings).encode("utf-8"))
    write_atomic(layout.accounts, _accounts_header(settings).encode("utf-8"))
    write_atomic(layout.main, _main_text(settings, []).encode("utf-8"))
    return layout


def open_layout(root: Path) -> tuple[Layout, Settings]:
    layout = Layout(root)
    if not layout.main.exists() or not layout.settings.exists():
        raise LedgerNotFoundError(f"no Partida ledger at {root} (run `partida init` first)")
    return layout, load_settings(layout.settings)


def journal_years(layout: Layout) -> list[int]:
    return sorted(int(name.split("/")[1].split(".")[0]) for name in included(layout.main) if name.startswith("journal/"))


def all_segments(layout: Layout) -> list[Path]:
    """Every segment file the ledger includes (accounts, then journals)."""
    paths = [layout.accounts.parent / n for n in included(layout.accounts)]
    for year in journal_years(layout):
        index = layout.year_index(year)
        paths += [index.parent / n for n in included(index)]
    return paths


# ---------------------------------------------------------------------------
# Derived figures kept in the state index


def _holder_of(meta: dict[str, str]) -> str:
    if "booking" in meta:
        return f"b:{meta['booking']}"
    return f"i:{meta.get('invoice', '')}"


def _figures(
    txns: Iterable[tuple[int, datetime.date, dict[str, str], list[tuple[str, Decimal]]]],
    deposits_root: str,
    voucher_account: str,
) -> tuple[dict[tuple[str, str], int], list[tuple[int, str, str, str, str, int]]]:
    daily: dict[tuple[str, str], int] = {}
    moves = []
    for seq, date, meta, postings in txns:
        day = date.isoformat()
        for account, amount in postings:
            n = to_cents(amount)
            daily[(account, day)] = daily.get((account, day), 0) + n
            if account.startswith(deposits_root + ":") and account != voucher_account:
                moves.append((seq, _holder_of(meta), meta.get("customer", ""), account, day, n))
    return daily, moves


def _locate(entries: list[Any], rel: str, offset: int, text: str) -> dict[int, tuple[str, int, int]]:
    """Byte span of each parsed entry of ``text`` (a tail of file ``rel``
    starting at byte ``offset``): from its first line to the next entry's."""
    starts = [0]
    for line in text.encode("utf-8").splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    firsts = sorted((e.meta["lineno"], id(e)) for e in entries if "lineno" in e.meta)
    spans = {}
    for i, (lineno, key) in enumerate(firsts):
        begin = starts[lineno - 1]
        end = starts[firsts[i + 1][0] - 1] if i + 1 < len(firsts) else starts[-1]
        spans[key] = (rel, offset + begin, end - begin)
    return spans


# ---------------------------------------------------------------------------
# The session


class LedgerSession:
    """Exclusive access to one ledger for the duration of a ``with`` block."""

    def __init__(self, root: Path, timeout_s: float = LOCK_TIMEOUT_S, catch_up: bool = True):
        self.layout, self.settings = open_layout(root)
        self._catch_up = catch_up
        self.layout.private.mkdir(exist_ok=True)
        self._lock = FileLock(str(self.layout.lock), timeout=timeout_s)
        self.index: StateIndex | None = None

    def __enter__(self) -> LedgerSession:
        self._lock.acquire()
        try:
            self.index = StateIndex(self.layout.state_db)
            if self._catch_up:
                self.catch_up()
        except BaseException:
            self._lock.release()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if self.index is not None:
            self.index.close()
        self._lock.release()

    @property
    def context(self) -> Context:
        return Context(self.settings.chart, self.settings.currency)

    # -- recovery ---------------------------------------------------------------

    def catch_up(self) -> int:
        """Index whatever the files hold beyond what the index knows.

        After a crash between a file write and the index commit, or with no
        index at all (a fresh clone), the unindexed tails are parsed and their
        events re-booked from ``source-event`` metadata. Returns the number of
        transactions indexed.
        """
        assert self.index is not None
        self._redo()
        known = self.index.file_sizes()
        tails: list[tuple[str, int, str]] = []
        sizes: dict[str, int] = {}
        for path in all_segments(self.layout):
            rel = self.layout.rel(path)
            size = path.stat().st_size if path.exists() else 0
            seen = known.get(rel, 0)
            if size < seen:
                raise ExternallyChangedError(f"{rel} is shorter than Partida wrote it; the ledger was edited by hand")
            if size > seen:
                with open(path, "rb") as f:
                    f.seek(seen)
                    tails.append((rel, seen, f.read().decode("utf-8")))
                sizes[rel] = size
        if not tails:
            self.layout.intent.unlink(missing_ok=True)
            return 0
        return self._reindex(tails, sizes)

    def _reindex(self, tails: list[tuple[str, int, str]], sizes: dict[str, int]) -> int:
        assert self.index is not None
        from .chart import customer_component
        from .model import CustomerRecord

        entries, where = [], {}
        for rel, offset, text in tails:
            parsed = beans.parse_text(text)
            entries += parsed
            where.update(_locate(parsed, rel, offset, text))
        for entry in entries:
            if beans.is_open(entry) and "customer-ref" in entry.meta:
                ref = entry.meta["customer-ref"]
                name = entry.meta.get("customer-name", ref)
                self.index.stage([CustomerRecord(ref, name, customer_component(ref))])
        txns = sorted((e for e in entries if beans.is_transaction(e)), key=lambda e: int(e.meta.get("seq", "0")))
        for entry in txns:
            if "source-event" in entry.meta:
                self._rebook(entry)
        rows, locations = [], []
        for entry in txns:
            meta = {k: v for k, v in entry.meta.items() if isinstance(v, str)}
            rows.append((int(meta.get("seq", "0")), entry.date, meta, [(p.account, p.units.number) for p in entry.postings]))
            if "seq" in meta and id(entry) in where:
                locations.append((int(meta["seq"]), *where[id(entry)], meta.get("event-id", ""),
                                  entry.date.isoformat(), meta.get("event-type", "")))
        chart = self.settings.chart
        daily, moves = _figures(rows, chart.role("customer_deposits"), chart.voucher_account())
        meta_out = {}
        chained = [e for e in txns if "chain" in e.meta]
        if chained:
            meta_out = {"seq": chained[-1].meta["seq"], "chain": chained[-1].meta["chain"]}
        self.index.commit(daily, moves, sizes, meta_out, locations)
        self.layout.intent.unlink(missing_ok=True)
        return len(txns)

    def _rebook(self, entry: Any) -> None:
        assert self.index is not None
        event, problems = parse_event(json.loads(entry.meta["source-event"]), 0, self.context)
        if event is None:
            raise LedgerError(f"cannot re-read event {entry.meta.get('event-id')!r}: {problems[0]}")
        booked, found = rules.book(event, self.index, self.settings)
        if booked is None:
            raise LedgerError(f"cannot re-book event {event.id!r} while indexing: {found}")
        self.index.stage(booked.changes)
        self.index.stage_event(event.id, event.digest)

    # -- recording -------------------------------------------------------------

    def record(self, events: list[Event], keep_valid: bool = False, dry_run: bool = False) -> RecordResult:
        """Book and append a batch of parsed events (idempotent per event id).

        With ``dry_run`` the batch is booked and checked but nothing is written.
        """
        assert self.index is not None
        result = RecordResult()
        opens: list[Open] = []
        txns: list[Txn] = []
        for event in events:
            known = self.index.event_digest(event.id)
            if known is not None:
                if known == event.digest:
                    result.unchanged.append(event.id)
                else:
                    result.problems.append(Problem(event.line, event.id, "id", "this id was already recorded with other content"))
                continue
            booked, found = rules.book(event, self.index, self.settings)
            if booked is None:
                result.problems += [Problem(event.line, event.id, f, m) for f, m in found]
                continue
            self.index.stage(booked.changes)
            self.index.stage_event(event.id, event.digest)
            opens += booked.opens
            txns += booked.txns
            result.recorded.append(event.id)
        if (result.problems and not keep_valid) or not txns or dry_run:
            self.index.discard()
            if (result.problems and not keep_valid) or dry_run:
                result.recorded.clear()
            return result
        self._append(opens, txns)
        result.transactions = len(txns)
        result.written = True
        return result

    def _append(self, opens: list[Open], txns: list[Txn]) -> None:
        assert self.index is not None
        s = self.settings
        seq = int(self.index.meta("seq", "0"))
        chain = self.index.meta("chain", GENESIS)
        by_year: dict[int, list[tuple[int, str]]] = {}
        rows = []
        for txn in txns:
            seq += 1
            text, chain = beans.render_txn(txn, s.currency, seq, chain)
            by_year.setdefault(s.fiscal_year(txn.date), []).append((id(txn), text))
            rows.append((seq, txn.date, dict(txn.meta), [(p.account, p.amount) for p in txn.postings]))
        journal_ops, placed = self._plan_journals(by_year)
        ops = self._plan_opens(opens) + journal_ops
        self._run_intent(ops)
        sizes = {op.path: (self.layout.root / op.path).stat().st_size for op in ops if op.base is not None}
        daily, moves = _figures(rows, s.chart.role("customer_deposits"), s.chart.voucher_account())
        locations = [(row[0], *placed[id(txn)], row[2]["event-id"], row[1].isoformat(), row[2]["event-type"])
                     for row, txn in zip(rows, txns)]
        self.index.commit(daily, moves, sizes, {"seq": str(seq), "chain": chain}, locations)
        self.layout.intent.unlink()

    def _run_intent(self, ops: list[FileOp]) -> None:
        """Log the batch's file steps durably, then carry them out.

        After a crash the log is replayed whole (``_redo``), so a batch that
        spans several files always ends up complete, never half-visible twice.
        """
        payload = json.dumps([[op.path, op.data, op.base] for op in ops], ensure_ascii=False)
        write_atomic(self.layout.intent, payload.encode("utf-8"))
        for op in ops:
            op.apply(self.layout.root)

    def _redo(self) -> None:
        intent = self.layout.intent
        if not intent.exists():
            return
        for path, data, base in json.loads(intent.read_text(encoding="utf-8")):
            FileOp(path, data, base).apply(self.layout.root)

    def _plan_opens(self, opens: list[Open]) -> list[FileOp]:
        s = self.settings
        texts = [beans.render_open(s.open_date, o, s.currency) for o in opens]
        return SegmentedFile(self.layout.root, "accounts.beancount", "accounts", _accounts_header(s)).plan(texts)[0]

    def _plan_journals(
        self, by_year: dict[int, list[tuple[int, str]]]
    ) -> tuple[list[FileOp], dict[int, tuple[str, int, int]]]:
        """File steps for the journal texts, and where each transaction lands."""
        years = journal_years(self.layout)
        ops: list[FileOp] = []
        placed: dict[int, tuple[str, int, int]] = {}
        for year, keyed in sorted(by_year.items()):
            index = f"journal/{year}.beancount"
            if year not in years:
                years.append(year)
                ops.append(FileOp(index, render_index(_journal_header(year), [])))
                ops.append(FileOp("main.beancount", _main_text(self.settings, years)))
            segmented = SegmentedFile(self.layout.root, index, str(year), _journal_header(year))
            year_ops, placements = segmented.plan([text for _, text in keyed])
            ops += year_ops
            placed.update((key, where) for (key, _), where in zip(keyed, placements))
        return ops, placed


def read_batch(data: bytes) -> tuple[list[str], list[Problem]]:
    """Split a JSON-lines batch into lines (JSON strings hold no raw newline).

    A line that is not UTF-8 becomes a problem and an empty line.
    """
    lines: list[str] = []
    problems: list[Problem] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8").removesuffix("\r"))
        except UnicodeDecodeError:
            problems.append(Problem(number, None, None, "the line is not valid UTF-8"))
            lines.append("")
    return lines, problems


def record_batch(root: Path, data: bytes, keep_valid: bool = False) -> RecordResult:
    """Parse and record a JSON-lines batch into the ledger at ``root``.

    Without ``keep_valid``, a batch with any problem writes nothing, and every
    problem of the batch is reported at once.
    """
    _, settings = open_layout(root)
    lines, problems = read_batch(data)
    events, found = parse_lines(lines, Context(settings.chart, settings.currency))
    problems += found
    with LedgerSession(root) as session:
        result = session.record(events, keep_valid=keep_valid, dry_run=bool(problems) and not keep_valid)
    result.problems = sorted(problems + result.problems, key=lambda p: p.line)
    if result.problems and not keep_valid:
        result.recorded.clear()
    return result
