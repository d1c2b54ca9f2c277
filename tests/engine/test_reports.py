"""`partida balance` and `partida deposits` agree with bean-query on the same ledger."""

from __future__ import annotations

import datetime
import json
import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import REPO, amount_of, bean_query, partida

EXAMPLE = REPO / "ledgers" / "example"


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("reports") / "example"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".partida"))
    return root


def cli_balances(root: Path, *args: str) -> dict[str, Decimal]:
    out = partida("balance", "--ledger", str(root), "--format", "json", *args, check=True).stdout
    return {row["account"]: Decimal(row["balance"]) for row in json.loads(out)}


def bq_balances(root: Path, where: str = "") -> dict[str, Decimal]:
    rows = bean_query(root / "main.beancount", f"SELECT account, sum(position) AS total {where} GROUP BY account")
    return {r["account"]: amount_of(r["total"]) for r in rows if amount_of(r["total"])}


@pytest.mark.parametrize("as_of", [None, "2026-03-31", "2026-07-14", "2026-12-31"])
def test_balance_by_customer_equals_bean_query(example: Path, as_of: str | None) -> None:
    args = ("--by-customer",) + (("--as-of", as_of) if as_of else ())
    where = f"WHERE date <= {as_of}" if as_of else ""
    assert cli_balances(example, *args) == bq_balances(example, where)


def test_balance_folds_customer_accounts_and_filters_by_number(example: Path) -> None:
    folded: dict[str, Decimal] = defaultdict(Decimal)
    for account, total in bq_balances(example).items():
        folded[":".join(account.split(":")[:2])] += total
    assert cli_balances(example) == {a: v for a, v in folded.items() if v}
    only_41 = cli_balances(example, "--account", "41")
    assert set(only_41) == {"Assets:411-Clients", "Liabilities:4191-ClientsAcomptes"}
    assert sum(cli_balances(example).values()) == 0


@pytest.mark.parametrize("as_of", ["2026-06-30", "2026-12-31"])
def test_deposits_equal_bean_query_per_booking(example: Path, as_of: str) -> None:
    out = partida("deposits", "--ledger", str(example), "--as-of", as_of, "--format", "json", check=True).stdout
    cli = {row["booking"]: Decimal(row["amount"]) for row in json.loads(out)}
    rows = bean_query(example / "main.beancount",
                      "SELECT entry_meta('booking') AS booking, entry_meta('invoice') AS invoice, sum(number) AS total "
                      f"WHERE account ~ ':4191-[^:]+:C-' AND date <= {as_of} GROUP BY booking, invoice")
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for r in rows:
        key = r["booking"] or f"invoice {r['invoice']}"
        expected[key] -= Decimal(r["total"])
    assert cli == {k: v for k, v in expected.items() if v}
    assert cli  # the example season ends with open deposits


def test_deposit_age_counts_days_since_received(example: Path) -> None:
    out = partida("deposits", "--ledger", str(example), "--as-of", "2026-12-31", "--format", "json", check=True).stdout
    for row in json.loads(out):
        since = row["since"]
        rows = bean_query(example / "main.beancount",
                          f"SELECT min(date) AS first WHERE account ~ ':4191-' AND entry_meta('booking') = '{row['booking']}'")
        assert rows[0]["first"] <= since
        y, m, d = (int(x) for x in since.split("-"))
        assert row["age_days"] == (datetime.date(2026, 12, 31) - datetime.date(y, m, d)).days
