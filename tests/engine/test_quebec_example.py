"""The committed Québec example ledger (ca-qc) is exactly what recording its season gives."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

from conftest import REPO, amount_of, assert_clean, bean_query, partida, snapshot

EXAMPLE = REPO / "ledgers" / "example-qc"


def test_quebec_example_ledger_is_the_recorded_season(tmp_path: Path) -> None:
    root = tmp_path / "example-qc"
    partida("init", "--ledger", str(root), "--company", "Aventures Laurentides inc.", "--chart", "ca-qc", check=True)
    partida("record", "--ledger", str(root), str(EXAMPLE / "season.jsonl"), check=True)
    committed = {k: v for k, v in snapshot(EXAMPLE).items() if k != "season.jsonl"}
    assert snapshot(root) == committed


def test_quebec_example_is_clean_covers_every_event_and_nature(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".partida"))
    assert_clean(copy)
    before = snapshot(copy)
    result = partida("record", "--ledger", str(copy), str(copy / "season.jsonl"), check=True)
    assert "recorded 0 event(s)" in result.stdout
    assert snapshot(copy) == before
    check = partida("check", "--ledger", str(copy))
    assert check.returncode == 0, check.stderr
    text = (copy / "season.jsonl").read_text()
    types = {line.split('"type":"')[1].split('"')[0] for line in text.splitlines()}
    assert len(types) == 8
    for nature in ("security", "arrhes", "prepayment", "acompte"):
        assert f'"nature":"{nature}"' in text
    main = copy / "main.beancount"
    natures = {r["n"] for r in bean_query(main, "SELECT DISTINCT entry_meta('deposit-nature') AS n")}
    assert {"security", "prepayment"} <= natures
    # Everything is in CAD, and the two taxes sit on their own accounts.
    currencies = {r["c"] for r in bean_query(main, "SELECT DISTINCT currency AS c")}
    assert currencies == {"CAD"}
    rows = bean_query(main, "SELECT account, sum(position) AS total WHERE account ~ '23[12]0' GROUP BY account")
    assert len(rows) == 2 and all(amount_of(r["total"]) < Decimal(0) for r in rows)
