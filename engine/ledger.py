"""The ledger writer: the only code that writes ledger files.

A ``LedgerSession`` holds the writers' lock, brings the state index up to date
with the files (replaying what a crash left unindexed), books a batch of
events through the rules and appends the result. Writes happen in a fixed
order so that the ledger loads cleanly after a crash at any instant:

0. new segments, which no index includes yet (so no reader sees them), as
   rendering goes on; then the redo log of the steps below;
1. customer ``open`` directives (accounts segments), before anything uses them;
2. the text appended to the last journal segments, each replaced whole by rename;
3. the indexes that include new segments, and ``main.beancount`` for a new year;
4. only then the state index (one SQLite transaction).
"""

from __future__ import annotations

import datetime
import gc
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable, Iterator

from . import beans, reversal, rules
from .events import Context, Event, parse_event, parse_lines
from .layout import (FileOp, Layout, SegmentAppender, SegmentWriter, WriterLock, included, render_index,
                     write_atomic)
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
    what = "PCG number" if chart.number_meta == "pcg" else "account number"
    lines = [f"; Chart {chart.name}: one account per {what}; customer sub-accounts follow.", ""]
    for number, account in chart.accounts.items():
        lines.append(f"{settings.open_date.isoformat()} open {account} {settings.currency}")
        lines.append(f'  {chart.number_meta}: "{number}"')
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


class _Figures:
    """Per-day account totals and 4191 movements of appended transactions."""

    def __init__(self, deposits_root: str, voucher_account: str):
        self._deposits = deposits_root + ":"
        self._voucher = voucher_account
        self.daily: dict[tuple[str, str], int] = {}
        self.moves: list[tuple[int, str, str, str, str, int]] = []

    def add(self, seq: int, day: str, meta: Any, postings: Iterable[tuple[str, Decimal]]) -> None:
        """``meta`` is a dict or ``(key, value)`` pairs; read only for 4191 moves."""
        daily = self.daily
        for account, amount in postings:
            n = to_cents(amount)
            key = (account, day)
            daily[key] = daily.get(key, 0) + n
            if account.startswith(self._deposits) and account != self._voucher:
                fields = meta if isinstance(meta, dict) else dict(meta)
                self.moves.append((seq, _holder_of(fields), fields.get("customer", ""), account, day, n))


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
        self._lock = WriterLock(self.layout.lock, timeout_s)
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
        transactions indexed. Only the segments that can grow are looked at
        (``_growable``): a hand edit of an older segment is left to ``partida
        check``, whose hash chain names it.
        """
        assert self.index is not None
        self._redo()
        if self._rebuild_marker.exists():  # a reversal was cut short: its state was not rebuilt yet
            return self.rebuild()
        tails: list[tuple[str, int, str]] = []
        sizes: dict[str, int] = {}
        for rel, seen in self._growable():
            path = self.layout.root / rel
            size = path.stat().st_size if path.exists() else 0
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

    def _growable(self) -> list[tuple[str, int]]:
        """The segments that may hold text the index has not seen, with the
        size it knows of each.

        Text is only ever appended to an index's last segment or to new
        segments after it, and the index learns every segment a batch wrote
        in the batch's commit: so the segments it knows are a prefix of each
        index's list. Walking back from the end to the first known segment
        costs a few lookups per index, however long the ledger.
        """
        assert self.index is not None
        indexes = [self.layout.accounts] + [self.layout.year_index(y) for y in journal_years(self.layout)]
        found: list[tuple[str, int]] = []
        for index in indexes:
            folder = self.layout.rel(index.parent)
            prefix = "" if folder == "." else folder + "/"
            unknown: list[tuple[str, int]] = []
            for name in reversed(included(index)):
                seen = self.index.file_size(prefix + name)
                unknown.append((prefix + name, seen or 0))
                if seen is not None:
                    break
            found += reversed(unknown)
        return found

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
        undone = reversal.reversed_ids(txns)
        if undone and self.index.meta("seq", "0") != "0":
            # A reversal the index has not seen: the state must become that of
            # a ledger that never held the event, which only a rebuild gives.
            return self.rebuild()
        for entry in txns:
            if "source-event" in entry.meta:
                self._rebook(entry, undone)
        chart = self.settings.chart
        figures = _Figures(chart.role("customer_deposits"), chart.voucher_account())
        locations = []
        for entry in txns:
            meta = {k: v for k, v in entry.meta.items() if isinstance(v, str)}
            seq = int(meta.get("seq", "0"))
            figures.add(seq, entry.date.isoformat(), meta, [(p.account, p.units.number) for p in entry.postings])
            if "seq" in meta and id(entry) in where:
                locations.append((seq, *where[id(entry)], meta.get("event-id", ""),
                                  entry.date.isoformat(), meta.get("event-type", "")))
        meta_out = {}
        chained = [e for e in txns if "chain" in e.meta]
        if chained:
            meta_out = {"seq": chained[-1].meta["seq"], "chain": chained[-1].meta["chain"]}
        self.index.commit(figures.daily, figures.moves, sizes, meta_out, locations)
        self.layout.intent.unlink(missing_ok=True)
        return len(txns)

    def _rebook(self, entry: Any, undone: set[str]) -> None:
        assert self.index is not None
        event, problems = parse_event(json.loads(entry.meta["source-event"]), 0, self.context)
        if event is None:
            raise LedgerError(f"cannot re-read event {entry.meta.get('event-id')!r}: {problems[0]}")
        if event.id in undone:  # reversed: its id stays taken, its effects are gone
            self.index.stage_event(event.id, event.digest)
            return
        booked, found = rules.book(event, self.index, self.settings)
        if booked is None:
            raise LedgerError(f"cannot re-book event {event.id!r} while indexing: {found}")
        self.index.stage(booked.changes)
        self.index.stage_event(event.id, event.digest)

    def rebuild(self) -> int:
        """Throw the state index away and index the whole ledger again."""
        assert self.index is not None
        self.index.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(self.layout.state_db) + suffix).unlink(missing_ok=True)
        self.index = StateIndex(self.layout.state_db)
        self._rebuild_marker.unlink(missing_ok=True)
        return self.catch_up()

    @property
    def _rebuild_marker(self) -> Path:
        return self.layout.private / "rebuild-needed"

    # -- corrections -------------------------------------------------------------

    def reverse(self, event_id: str, reason: str, day: datetime.date) -> int:
        """Append the reversal of ``event_id`` (see ``reversal``) and rebuild
        the state without it. Returns the number of transactions appended."""
        assert self.index is not None
        entries, errors, _ = beans.load(self.layout.main)
        if errors:
            raise LedgerError(f"the ledger does not load cleanly ({beans.format_errors(errors)[0]}): run `partida check`")
        txns = reversal.plan(entries, self.settings, event_id, reason, day)
        # Until the rebuild is done, the index's records still hold the event:
        # the marker makes the next session rebuild if this one is killed.
        write_atomic(self._rebuild_marker, b"")
        self._append([], txns)
        self.rebuild()
        return len(txns)

    # -- recording -------------------------------------------------------------

    def record(self, events: list[Event], keep_valid: bool = False, dry_run: bool = False) -> RecordResult:
        """Book and append a batch of parsed events (idempotent per event id).

        With ``dry_run`` the batch is booked and checked but nothing is written.
        """
        assert self.index is not None
        result = RecordResult()
        opens: list[Open] = []
        txns: list[Txn] = []
        self.index.prefetch_events([event.id for event in events])
        self.index.prefetch(rules.likely_reads(events))
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
        """Render, place and write the batch, then commit the state index.

        Each full new segment goes to disk while rendering goes on, so the
        batch's text is never held whole in memory; the steps readers see
        are then logged and carried out (``_run_intent``).
        """
        assert self.index is not None
        s, root = self.settings, self.layout.root
        figures = _Figures(s.chart.role("customer_deposits"), s.chart.voucher_account())
        journals: dict[int, SegmentAppender] = {}
        with SegmentWriter(root) as writer:
            accounts = SegmentAppender(root, "accounts.beancount", "accounts", _accounts_header(s), writer)
            for opening in opens:
                accounts.add(beans.render_open(s.open_date, opening, s.currency).encode("utf-8"))
            head, locations = self._write_txns(txns, journals, writer, figures)
            ops = accounts.finish() + self._journal_steps(journals)
        appenders = [accounts, *journals.values()]
        self._run_intent([w for a in appenders for w in a.written], ops)
        sizes = {path: size for a in appenders for path, size in a.sizes.items()}
        self.index.commit(figures.daily, figures.moves, sizes, head, locations)
        self.layout.intent.unlink()

    def _write_txns(
        self, txns: list[Txn], journals: dict[int, SegmentAppender], writer: SegmentWriter, figures: _Figures
    ) -> tuple[dict[str, str], list[tuple[int, str, int, int, str, str, str]]]:
        """Number, render and chain each transaction after the index's head,
        into its fiscal year's journal. Returns the new head and where each
        transaction landed."""
        assert self.index is not None
        s, root = self.settings, self.layout.root
        seq = int(self.index.meta("seq", "0"))
        chain = self.index.meta("chain", GENESIS)
        locations = []
        for txn in txns:
            seq += 1
            text, chain = beans.render_txn(txn, s.currency, seq, chain)
            year = s.fiscal_year(txn.date)
            journal = journals.get(year) or journals.setdefault(year, SegmentAppender(
                root, f"journal/{year}.beancount", str(year), _journal_header(year), writer))
            where = journal.add(text.encode("utf-8"))
            meta, day = dict(txn.meta), txn.date.isoformat()
            figures.add(seq, day, meta, [(p.account, p.amount) for p in txn.postings])
            locations.append((seq, *where, meta["event-id"], day, meta["event-type"]))
        return {"seq": str(seq), "chain": chain}, locations

    def _journal_steps(self, journals: dict[int, SegmentAppender]) -> list[FileOp]:
        """The remaining steps of each year's journal; a new year's (empty)
        index and ``main.beancount`` come first, so main never names a missing file."""
        years = journal_years(self.layout)
        ops: list[FileOp] = []
        for year, journal in sorted(journals.items()):
            if year not in years:
                years.append(year)
                ops.append(FileOp(journal.index, render_index(journal.header, [])))
                ops.append(FileOp("main.beancount", _main_text(self.settings, years)))
            ops += journal.finish()
        return ops

    def _run_intent(self, segments: list[tuple[str, int]], ops: list[FileOp]) -> None:
        """Log the batch's remaining file steps durably, then carry them out.

        The new ``segments`` are on disk already, durably, and no index
        includes them yet: the log names them with their sizes. It holds the
        data of the steps readers see (the text appended to each index's last
        segment, the rewritten indexes), so it stays small however large the
        batch. After a crash the log is replayed whole (``_redo``), so a batch
        that spans several files always ends up complete, never half-visible.
        """
        log = {"segments": segments, "steps": [[op.path, op.data, op.base] for op in ops]}
        write_atomic(self.layout.intent, json.dumps(log, ensure_ascii=False).encode("utf-8"))
        for op in ops:
            op.apply(self.layout.root)

    def _redo(self) -> None:
        intent = self.layout.intent
        if not intent.exists():
            return
        log = json.loads(intent.read_text(encoding="utf-8"))
        if isinstance(log, list):  # written by an earlier Partida: every step with its data
            log = {"segments": [], "steps": log}
        for path, size in log["segments"]:
            target = self.layout.root / path
            found = target.stat().st_size if target.exists() else None
            if found != size:
                raise ExternallyChangedError(f"{path} has {found} bytes; Partida wrote {size}")
        for path, data, base in log["steps"]:
            FileOp(path, data, base).apply(self.layout.root)


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


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a batch is recorded.

    A batch allocates millions of small acyclic objects (events, postings,
    records) that stay alive until it ends, and the collector keeps scanning
    them: ~20% of a large batch's time. Whatever is cyclic is collected when
    it resumes.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def record_batch(root: Path, data: bytes, keep_valid: bool = False) -> RecordResult:
    """Parse and record a JSON-lines batch into the ledger at ``root``.

    Without ``keep_valid``, a batch with any problem writes nothing, and every
    problem of the batch is reported at once.
    """
    session = LedgerSession(root)  # reads the settings; the lock waits for ``with``
    with _collector_paused():
        lines, problems = read_batch(data)
        events, found = parse_lines(lines, session.context)
        problems += found
        with session:
            result = session.record(events, keep_valid=keep_valid, dry_run=bool(problems) and not keep_valid)
    result.problems = sorted(problems + result.problems, key=lambda p: p.line)
    if result.problems and not keep_valid:
        result.recorded.clear()
    return result
