"""The fast write path's parts: writers' lock, segment appender and writer,
intent log redo, catch-up of unindexed segments, state prefetch."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_clean, jsonl, snapshot
from factories import many_events

from engine import layout, ledger
from engine.layout import FileOp, LockTimeout, SegmentAppender, SegmentWriter, WriterLock
from engine.ledger import LedgerSession, record_batch
from engine.problems import ExternallyChangedError, LedgerError
from engine.rules import likely_reads
from engine.settings import Settings
from engine.state import StateIndex

HOLD = """
import sys, time
sys.path.insert(0, {repo!r})
from pathlib import Path
from engine.layout import WriterLock
lock = WriterLock(Path({path!r}), 5)
lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def _holder(path: Path) -> subprocess.Popen[str]:
    repo = str(Path(__file__).resolve().parents[2])
    proc = subprocess.Popen([sys.executable, "-c", HOLD.format(repo=repo, path=str(path))],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_writer_lock_excludes_other_processes_until_its_holder_dies(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    holder = _holder(path)
    try:
        waiting = WriterLock(path, timeout_s=0.2)
        began = time.monotonic()
        with pytest.raises(LockTimeout) as raised:
            waiting.acquire()
        assert time.monotonic() - began >= 0.2
        assert isinstance(raised.value, LedgerError) and isinstance(raised.value, TimeoutError)
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # the kernel drops a dead holder's lock
        holder.wait()
    waiting.acquire()
    waiting.release()
    waiting.acquire()  # released locks can be taken again
    waiting.release()


def test_a_waiting_writer_gets_the_lock_once_it_is_released(tmp_path: Path) -> None:
    first, second = WriterLock(tmp_path / "lock", 5), WriterLock(tmp_path / "lock", 5)
    first.acquire()
    with pytest.raises(LockTimeout):
        WriterLock(tmp_path / "lock", 0).acquire()
    first.release()
    second.acquire()
    second.release()


def test_segment_writer_writes_in_the_background_and_reports_errors(tmp_path: Path) -> None:
    with SegmentWriter(tmp_path) as writer:
        for i in range(10):
            writer(f"journal/2026/{i:06d}.beancount", f"text {i}\n".encode())
    assert [(tmp_path / f"journal/2026/{i:06d}.beancount").read_text() for i in range(10)] == \
           [f"text {i}\n" for i in range(10)]
    (tmp_path / "file").write_text("not a folder")
    writer = SegmentWriter(tmp_path)
    writer("file/000001.beancount", b"x")
    with pytest.raises(OSError):  # the thread's error, raised in the producer
        writer.close()


def test_segment_writer_starts_no_thread_when_nothing_is_written(tmp_path: Path) -> None:
    writer = SegmentWriter(tmp_path)
    writer.close()
    assert writer._thread is None


def test_segment_appender_fills_the_last_segment_then_new_ones(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(layout, "SEGMENT_BYTES", 100)
    (tmp_path / "journal" / "2026").mkdir(parents=True)
    (tmp_path / "journal" / "2026" / "000001.beancount").write_bytes(b"a" * 60)
    (tmp_path / "journal" / "2026.beancount").write_text('; header\ninclude "2026/000001.beancount"\n')
    written: dict[str, bytes] = {}
    appender = SegmentAppender(tmp_path, "journal/2026.beancount", "2026", "; header\n",
                               lambda path, data: written.setdefault(path, data))
    texts = [b"b" * 30, b"c" * 30, b"d" * 80, b"e" * 150, b"f" * 10]
    places = [appender.add(t) for t in texts]
    ops = appender.finish()
    assert places == [("journal/2026/000001.beancount", 60, 30), ("journal/2026/000002.beancount", 0, 30),
                      ("journal/2026/000003.beancount", 0, 80), ("journal/2026/000004.beancount", 0, 150),
                      ("journal/2026/000005.beancount", 0, 10)]
    assert written == {"journal/2026/000002.beancount": b"c" * 30, "journal/2026/000003.beancount": b"d" * 80,
                       "journal/2026/000004.beancount": b"e" * 150, "journal/2026/000005.beancount": b"f" * 10}
    assert appender.written == [(path, len(data)) for path, data in written.items()]
    assert ops == [FileOp("journal/2026/000001.beancount", "b" * 30, 60),
                   FileOp("journal/2026.beancount", "; header\n" + "".join(
                       f'include "2026/{i:06d}.beancount"\n' for i in range(1, 6)))]
    assert appender.sizes["journal/2026/000001.beancount"] == 90


def _crash_after_steps(monkeypatch, steps: int) -> None:
    """Make a batch die like a killed process once ``steps`` of its logged
    file steps are done (the intent log is on disk by then)."""
    real_apply = FileOp.apply
    done: list[FileOp] = []

    def apply(op: FileOp, root: Path) -> None:
        if len(done) == steps:
            raise KeyboardInterrupt("killed")
        done.append(op)
        real_apply(op, root)

    monkeypatch.setattr(FileOp, "apply", apply)


def _clean_run(tmp_path: Path, data: bytes) -> Path:
    root = tmp_path / "clean"
    ledger.init_ledger(root, Settings(company="Gorges Vives SARL"))
    record_batch(root, data)
    return root


@pytest.mark.parametrize("after", [0, 1, 2])
def test_a_batch_cut_short_while_writing_is_completed_from_the_intent(
        ledger: Path, tmp_path: Path, monkeypatch, after: int) -> None:
    monkeypatch.setattr(layout, "SEGMENT_BYTES", 4096)
    data = jsonl(*many_events(40))
    record_batch(ledger, jsonl(*many_events(5, "w")))  # something to append to
    clean = _clean_run(tmp_path, jsonl(*many_events(5, "w")))
    record_batch(clean, data)
    _crash_after_steps(monkeypatch, after)
    with pytest.raises(KeyboardInterrupt):
        record_batch(ledger, data)
    monkeypatch.undo()
    assert (ledger / ".partida" / "intent.json").exists()
    assert_clean(ledger)
    result = record_batch(ledger, data)  # redo, catch up, then nothing left to record
    assert result.recorded == [] and len(result.unchanged) == 120
    assert snapshot(ledger) == snapshot(clean)
    assert not (ledger / ".partida" / "intent.json").exists()


def test_files_written_but_index_not_committed_are_caught_up(ledger: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(layout, "SEGMENT_BYTES", 4096)
    first, second = jsonl(*many_events(20, "a")), jsonl(*many_events(20, "b"))
    record_batch(ledger, first)

    def die(*args, **kwargs):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(StateIndex, "commit", die)
    with pytest.raises(KeyboardInterrupt):
        record_batch(ledger, second)
    monkeypatch.undo()
    monkeypatch.setattr(layout, "SEGMENT_BYTES", 4096)
    with LedgerSession(ledger) as session:  # catch_up re-books the unindexed tail and new segments
        assert session.index is not None
        indexed = int(session.index.meta("seq"))
        balances = session.index.balances(None)
    clean = _clean_run(tmp_path, first)
    record_batch(clean, second)
    with LedgerSession(clean) as session:
        assert session.index is not None
        assert indexed == int(session.index.meta("seq"))
        assert balances == session.index.balances(None)
    assert snapshot(ledger) == snapshot(clean)


def test_an_intent_names_new_segments_by_size_only(ledger: Path, monkeypatch) -> None:
    monkeypatch.setattr(layout, "SEGMENT_BYTES", 4096)
    _crash_after_steps(monkeypatch, 0)
    with pytest.raises(KeyboardInterrupt):
        record_batch(ledger, jsonl(*many_events(40)))
    monkeypatch.undo()
    log = json.loads((ledger / ".partida" / "intent.json").read_text())
    assert log["segments"] and all((ledger / path).stat().st_size == size for path, size in log["segments"])
    new_segments = {path for path, _ in log["segments"]}
    assert not new_segments & {path for path, _, _ in log["steps"]}  # their text is not in the log
    assert len((ledger / ".partida" / "intent.json").read_bytes()) < 4 * 4096  # tails and indexes only
    # A new segment that vanished cannot be redone: refused, never half-applied.
    missing = ledger / log["segments"][-1][0]
    missing.unlink()
    with pytest.raises(ExternallyChangedError):
        record_batch(ledger, b"")


def test_an_intent_written_by_an_earlier_partida_is_redone(ledger: Path) -> None:
    record_batch(ledger, jsonl(*many_events(2)))
    segment = next((ledger / "journal").glob("*/000001.beancount"))
    rel = segment.relative_to(ledger).as_posix()
    size = segment.stat().st_size
    (ledger / ".partida" / "intent.json").write_text(json.dumps([[rel, "; appended\n", size]]))
    with LedgerSession(ledger):
        pass
    assert segment.read_text().endswith("; appended\n")
    assert not (ledger / ".partida" / "intent.json").exists()


def test_prefetched_reads_equal_plain_reads(ledger: Path) -> None:
    record_batch(ledger, jsonl(*many_events(30)))
    events, _ = ledger_events(ledger, many_events(30, "y") + many_events(30))
    with LedgerSession(ledger) as session:
        assert session.index is not None
        keys = likely_reads(events)
        plain = {(cls, key): _read(session.index, cls, key) for cls, wanted in keys.items() for key in wanted}
    with LedgerSession(ledger) as session:
        assert session.index is not None
        session.index.prefetch(keys)
        prefetched = {(cls, key): _read(session.index, cls, key) for cls, wanted in keys.items() for key in wanted}
        session.index.prefetch_events([e.id for e in events])
        digests = [session.index.event_digest(e.id) for e in events]
    assert prefetched == plain and any(v is not None for v in plain.values()) and None in plain.values()
    assert digests[:90] == [None] * 90 and digests[90:] == [e.digest for e in events[90:]]


def ledger_events(root: Path, raw: list[dict]) -> tuple[list, list]:
    from engine.events import parse_lines

    with LedgerSession(root, catch_up=False) as session:
        return parse_lines([json.dumps(e) for e in raw], session.context)


def _read(index: StateIndex, cls: type, key: str) -> object:
    name = {"CustomerRecord": "customer", "Holder": "holder", "Invoice": "invoice", "Voucher": "voucher",
            "DocumentNumber": "document"}[cls.__name__]
    return getattr(index, name)(key)


def test_recording_pauses_the_collector_and_restores_it(ledger: Path) -> None:
    assert gc.isenabled()
    record_batch(ledger, jsonl(*many_events(3)))
    assert gc.isenabled()
    with pytest.raises(LedgerError):
        record_batch(ledger.parent / "nope", b"")
    assert gc.isenabled()


@pytest.mark.parametrize("text", ["12.30", "-5.00", "0.00", "-0.00", "1234567890.12", "5", "0.1", "12.345", "12.355",
                                  "1E+2", "1.00E+3", "1E-7", "-1.5E+2", "100", "0.01", "-0.005"])
def test_amounts_render_as_with_two_decimals(text: str) -> None:
    from decimal import Decimal

    from engine.beans import _amount

    assert _amount(Decimal(text)) == f"{Decimal(text):.2f}"


def test_a_new_segment_never_overwrites_an_included_one(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(layout, "SEGMENT_BYTES", 100)
    (tmp_path / "journal" / "2026").mkdir(parents=True)
    for name in ("000001", "000003"):  # 000002 dropped from the index by hand
        (tmp_path / "journal" / "2026" / f"{name}.beancount").write_bytes(b"a" * 90)
    (tmp_path / "journal" / "2026.beancount").write_text(
        'include "2026/000001.beancount"\ninclude "2026/000003.beancount"\n')
    appender = SegmentAppender(tmp_path, "journal/2026.beancount", "2026", "", lambda path, data: None)
    with pytest.raises(ExternallyChangedError):
        appender.add(b"b" * 50)
