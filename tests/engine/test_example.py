"""The committed example ledgers are exactly what recording their seasons gives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import REPO, assert_clean, partida, snapshot

EXAMPLES = [
    pytest.param("example", ("--company", "Les Gorges Vives SARL"), id="fr-pcg"),
    pytest.param("example-qc", ("--company", "Aventures Laurentides inc.", "--chart", "ca-qc"), id="ca-qc"),
]


@pytest.mark.parametrize(("name", "init"), EXAMPLES)
def test_example_ledger_is_the_recorded_season(tmp_path: Path, name: str, init: tuple[str, ...]) -> None:
    example, root = REPO / "ledgers" / name, tmp_path / name
    partida("init", "--ledger", str(root), *init, check=True)
    partida("record", "--ledger", str(root), str(example / "season.jsonl"), check=True)
    committed = {k: v for k, v in snapshot(example).items() if k != "season.jsonl"}
    assert snapshot(root) == committed


@pytest.mark.parametrize(("name", "init"), EXAMPLES)
def test_example_ledger_is_clean_and_recording_again_changes_nothing(tmp_path: Path, name: str,
                                                                     init: tuple[str, ...]) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(REPO / "ledgers" / name, copy, ignore=shutil.ignore_patterns(".partida"))
    assert_clean(copy)
    before = snapshot(copy)
    result = partida("record", "--ledger", str(copy), str(copy / "season.jsonl"), check=True)
    assert "recorded 0 event(s)" in result.stdout
    assert snapshot(copy) == before
    check = partida("check", "--ledger", str(copy))
    assert check.returncode == 0, check.stderr
    types = {line.split('"type":"')[1].split('"')[0] for line in (copy / "season.jsonl").read_text().splitlines()}
    assert len(types) == 8
