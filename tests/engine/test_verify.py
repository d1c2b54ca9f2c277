"""`verify` names the first transaction edited, removed or reordered by hand."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from conftest import REPO, jsonl

from engine.ledger import init_ledger, record_batch
from engine.settings import Settings
from engine.verify import _blocks, verify
from factories import many_events

EXAMPLE = REPO / "ledgers" / "example"


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    root = tmp_path / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".partida"))
    return root


def segment(root: Path) -> Path:
    return root / "journal" / "2026" / "000001.beancount"


def test_untouched_ledgers_verify(copy: Path, tmp_path: Path) -> None:
    assert verify(copy) == (382, None)
    root = tmp_path / "hostile"
    init_ledger(root, Settings(company="X"))
    events = many_events(30)
    events[0]["customer"] = {**events[0]["customer"], "name": 'x\n\n2026-01-01 * "y"\n  seq: "1"\n\n"'}
    record_batch(root, jsonl(*events))
    count, problem = verify(root)
    assert problem is None and count > 90


def test_a_one_character_edit_anywhere_is_named(copy: Path) -> None:
    seg = segment(copy)
    original = seg.read_text(encoding="utf-8")
    blocks = _blocks(seg, "journal/2026/000001.beancount")
    rng = random.Random(7)
    for _ in range(40):
        block = rng.choice(blocks[:-1])  # a past transaction
        start = original.index(f'  seq: "{block.seq}"')
        begin = original.rfind("\n\n", 0, start) + 2
        end = original.index("\n\n", start)
        at = rng.randrange(begin, end)
        if original[at] == "\n":
            continue
        replacement = "X" if original[at] != "X" else "Y"
        seg.write_text(original[:at] + replacement + original[at + 1:], encoding="utf-8")
        count, problem = verify(copy)
        assert problem is not None, (at, original[at])
        line = original[:begin].count("\n") + 1
        # Named by place: the edited transaction, or (edit in its seq) the one whose seq went missing.
        assert f"000001.beancount:{line}" in problem or f"seq {block.seq} is missing" in problem, problem
    seg.write_text(original, encoding="utf-8")
    assert verify(copy)[1] is None


def test_a_removed_transaction_is_named(copy: Path) -> None:
    seg = segment(copy)
    text = seg.read_text(encoding="utf-8")
    start = text.index('  seq: "100"')
    begin, end = text.rfind("\n\n", 0, start) + 2, text.index("\n\n", start) + 2
    seg.write_text(text[:begin] + text[end:], encoding="utf-8")
    assert "seq 100 is missing: a transaction was removed" in (verify(copy)[1] or "")


def test_two_swapped_transactions_are_named(copy: Path) -> None:
    seg = segment(copy)
    text = seg.read_text(encoding="utf-8")
    spans = []
    for seq in (50, 51):
        start = text.index(f'  seq: "{seq}"')
        spans.append((text.rfind("\n\n", 0, start) + 2, text.index("\n\n", start) + 2))
    (a0, a1), (b0, b1) = spans
    seg.write_text(text[:a0] + text[b0:b1] + text[a0:a1] + text[b1:], encoding="utf-8")
    problem = verify(copy)[1] or ""
    assert "reordered" in problem and "seq 50" in problem
