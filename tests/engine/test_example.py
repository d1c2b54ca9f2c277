"""The committed example ledger is exactly what recording its season gives."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import REPO, assert_clean, partida, snapshot

EXAMPLE = REPO / "ledgers" / "example"


def test_example_ledger_is_the_recorded_season(tmp_path: Path) -> None:
    root = tmp_path / "example"
    partida("init", "--ledger", str(root), "--company", "Les Gorges Vives SARL", check=True)
    partida("record", "--ledger", str(root), str(EXAMPLE / "season.jsonl"), check=True)
    committed = {k: v for k, v in snapshot(EXAMPLE).items() if k != "season.jsonl"}
    assert snapshot(root) == committed


def test_example_ledger_is_clean_and_recording_again_changes_nothing(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".partida"))
    assert_clean(copy)
    before = snapshot(copy)
    result = partida("record", "--ledger", str(copy), str(copy / "season.jsonl"), check=True)
    assert "recorded 0 event(s)" in result.stdout
    assert snapshot(copy) == before
    check = partida("check", "--ledger", str(copy))
    assert check.returncode == 0, check.stderr
    types = {line.split('"type":"')[1].split('"')[0] for line in (copy / "season.jsonl").read_text().splitlines()}
    assert len(types) == 8
