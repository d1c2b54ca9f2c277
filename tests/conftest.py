"""Shared fixtures: real ledgers in tmp folders, the real CLI, real bean-query."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from engine.ledger import init_ledger
from engine.settings import Settings

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SHARED = REPO.parent / "shared"


def partida(*args: str, input: bytes | None = None, check: bool = False, env: dict[str, str] | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run the real ``partida`` console script."""
    proc = subprocess.run(
        [str(BIN / "partida"), *args], input=input, capture_output=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    result = subprocess.CompletedProcess(proc.args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    if check and result.returncode != 0:
        raise AssertionError(f"partida {' '.join(args)} failed: {result.stderr}")
    return result


def bean_check(main: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "bean-check"), str(main)], capture_output=True, text=True,
                          env={**os.environ, "BEANCOUNT_DISABLE_LOAD_CACHE": "1"})


def assert_clean(root: Path) -> None:
    result = bean_check(root / "main.beancount")
    assert result.returncode == 0, result.stdout + result.stderr


def bean_query(main: Path, query: str) -> list[dict[str, str]]:
    """Run the real ``bean-query`` CLI with CSV output; cells stripped."""
    proc = subprocess.run(
        [str(BIN / "bean-query"), "-q", "-f", "csv", str(main), query],
        capture_output=True, text=True, env={**os.environ, "BEANCOUNT_DISABLE_LOAD_CACHE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    reader = csv.DictReader(io.StringIO(proc.stdout))
    return [{k.strip(): (v or "").strip() for k, v in row.items()} for row in reader]


def amount_of(cell: str) -> Decimal:
    """``'-90.00 EUR'`` -> Decimal('-90.00'); empty inventory -> 0."""
    return Decimal(cell.split()[0]) if cell else Decimal("0")


def number_balances(root: Path) -> dict[str, Decimal]:
    """Balance per account number (``Assets:411-Clients:C-X`` -> ``411``), customer
    sub-accounts folded in, read with the real ``bean-query``."""
    rows = bean_query(root / "main.beancount", "SELECT account, sum(position) AS total GROUP BY account")
    out: dict[str, Decimal] = {}
    for row in rows:
        number = row["account"].split(":")[1].split("-")[0]
        out[number] = out.get(number, Decimal(0)) + amount_of(row["total"])
    return out


def jsonl(*events: dict[str, Any]) -> bytes:
    return ("\n".join(json.dumps(e, ensure_ascii=False) for e in events) + "\n").encode()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every ledger file's bytes (the derived .partida index excluded)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".partida" not in p.relative_to(root).parts
    }


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    root = tmp_path / "ledger"
    init_ledger(root, Settings(company="Gorges Vives SARL"))
    return root


@pytest.fixture
def debits_ledger(tmp_path: Path) -> Path:
    root = tmp_path / "debits"
    init_ledger(root, Settings(company="Gorges Vives SARL", vat_policy="debits"))
    return root
