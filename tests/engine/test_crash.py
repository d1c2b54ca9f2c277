"""Crashes and concurrent writers, for real: subprocesses, SIGKILL, bean-check."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import BIN, assert_clean, jsonl, partida
from factories import many_events

from engine import beans

pytestmark = pytest.mark.slow


def event_ids(root: Path) -> list[str]:
    """The event ids of the ledger, once per event (first transaction of each)."""
    entries, errors, _ = beans.load(root / "main.beancount")
    assert not errors, beans.format_errors(errors)
    return [e.meta["event-id"] for e in entries if beans.is_transaction(e) and "source-event" in e.meta]


# Small segments: many atomic file replacements per run, so kills land among them.
SMALL_SEGMENTS = {"PARTIDA_SEGMENT_BYTES": "16384"}


def start_record(root: Path, batch: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(BIN / "partida"), "record", "--ledger", str(root), str(batch)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **SMALL_SEGMENTS})


def orphan_segments(root: Path) -> bool:
    """Segment files on disk that no index includes yet: a batch was being written."""
    from engine.layout import included

    names = set()
    for index in [root / "accounts.beancount", *(root / "journal").glob("*.beancount")]:
        names |= {(index.parent / n).resolve() for n in included(index)}
    on_disk = {p.resolve() for p in root.glob("accounts/*.beancount")} | {p.resolve() for p in root.glob("journal/*/*.beancount")}
    return bool(on_disk - names)


def index_behind(root: Path) -> bool:
    """True when the ledger holds transactions the state index has not seen."""
    db = root / ".partida" / "state.sqlite3"
    seq = 0
    if db.exists():
        with sqlite3.connect(db) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
            seq = int(row[0]) if row else 0
    entries, _, _ = beans.load(root / "main.beancount")
    return any(beans.is_transaction(e) and int(e.meta["seq"]) > seq for e in entries)


def test_kill_9_at_random_moments_then_rerun_completes(tmp_path: Path) -> None:
    events = many_events(1500)
    expected = sorted(e["id"] for e in events)
    batch = tmp_path / "batch.jsonl"
    batch.write_bytes(jsonl(*events))
    # Time one uninterrupted run, to spread the kills over every phase of a run.
    scratch = tmp_path / "scratch"
    partida("init", "--ledger", str(scratch), "--company", "S", check=True)
    began = time.monotonic()
    partida("record", "--ledger", str(scratch), str(batch), check=True, env=SMALL_SEGMENTS)
    duration = time.monotonic() - began
    rng = random.Random(1234)
    kills = partial = 0
    for round_ in range(5):  # bounded: stops once enough kills hit the write phase
        if kills >= 4 and partial >= 2:
            break
        root = tmp_path / f"round{round_}"
        partida("init", "--ledger", str(root), "--company", "S", check=True)
        for _ in range(3):
            proc = start_record(root, batch)
            time.sleep(rng.uniform(0.3 * duration, duration))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(timeout=60)
            assert_clean(root)  # right after the kill, before any recovery ran
            # Evidence the kill hit the write phase: a redo log left behind, new
            # segments not yet included, a partly visible batch, or files
            # written but the state index not yet committed.
            partial += ((root / ".partida" / "intent.json").exists() or orphan_segments(root)
                        or 0 < len(event_ids(root)) < len(expected) or index_behind(root))
        final = partida("record", "--ledger", str(root), str(batch))
        assert final.returncode == 0, final.stderr
        assert sorted(event_ids(root)) == expected  # every event exactly once
        check = partida("check", "--ledger", str(root))
        assert check.returncode == 0, check.stderr
    assert kills >= 3
    assert partial >= 1, "no kill landed while the ledger was being written"


def test_two_writers_started_together_both_finish(ledger: Path, tmp_path: Path) -> None:
    a, b = many_events(1500, "a"), many_events(1500, "b")
    shared = many_events(200, "s")
    batch_a, batch_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    batch_a.write_bytes(jsonl(*a, *shared))
    batch_b.write_bytes(jsonl(*shared, *b))
    procs = [start_record(ledger, batch_a), start_record(ledger, batch_b)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    ids = event_ids(ledger)
    assert sorted(ids) == sorted(e["id"] for e in a + b + shared)
    assert_clean(ledger)
    assert partida("check", "--ledger", str(ledger)).returncode == 0


def test_lost_index_is_rebuilt_from_the_ledger(ledger: Path, tmp_path: Path) -> None:
    events = many_events(300)
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*events), check=True)
    before = partida("balance", "--ledger", str(ledger), "--by-customer", "--format", "json", check=True).stdout
    for p in (ledger / ".partida").iterdir():
        p.unlink()
    result = partida("record", "--ledger", str(ledger), "-", input=jsonl(*events), check=True)
    assert f"{len(events)} already recorded" in result.stdout
    after = partida("balance", "--ledger", str(ledger), "--by-customer", "--format", "json", check=True).stdout
    assert after == before
    assert partida("check", "--ledger", str(ledger)).returncode == 0


def test_a_hand_truncated_journal_is_refused(ledger: Path) -> None:
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*many_events(5)), check=True)
    segment = next((ledger / "journal").glob("*/000001.beancount"))
    segment.write_bytes(segment.read_bytes()[:-200])
    result = partida("record", "--ledger", str(ledger), "-", input=jsonl(*many_events(1, "z")))
    assert result.returncode == 1
    assert "edited by hand" in result.stderr
