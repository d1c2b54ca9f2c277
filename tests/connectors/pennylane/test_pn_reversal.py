"""A reversed event replays to Pennylane as an entry that negates it: books stay equal."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import REPO, partida
from test_pn_replay import Season, replay, sandbox

from engine.journal import read_transactions
from engine.ledger import init_ledger, record_batch
from engine.settings import Settings


@pytest.fixture(scope="module")
def reversed_season(tmp_path_factory: pytest.TempPathFactory) -> tuple[Season, str]:
    root: Path = tmp_path_factory.mktemp("pn-reversal") / "ledger"
    init_ledger(root, Settings(company="Les Gorges Vives SARL"))
    assert not record_batch(root, (REPO / "ledgers" / "example" / "season.jsonl").read_bytes()).problems
    payments = [t.event_id for t in read_transactions(root) if t.event_type == "payment.received"]
    for event_id in reversed(payments):  # the last payment nothing later was booked on
        if partida("reverse", "--ledger", str(root), event_id, "--reason", "charged back",
                   "--date", "2026-12-30").returncode == 0:
            break
    else:
        pytest.fail("no payment of the season could be reversed")
    rows = json.loads(partida("balance", "--ledger", str(root), "--format", "json", check=True).stdout)
    season = Season(root, read_transactions(root), {r["number"]: Decimal(r["balance"]) for r in rows
                                                    if Decimal(r["balance"])}, {})
    return season, event_id


def test_a_reversal_replays_as_an_entry_and_the_trial_balances_stay_equal(reversed_season: tuple[Season, str]) -> None:
    season, event_id = reversed_season
    reversal = [t for t in season.txns if t.event_type == "reversal"]
    assert [t.get("reverses") for t in reversal] == [event_id]
    with sandbox() as remote:
        connector = remote.connector()
        outcomes = replay(connector, season)
        assert sum(outcomes.values()) == len(season.txns)
        days = [t.date for t in season.txns]
        rows = connector.trial_balance(min(days), max(days))
        tb = {r["number"]: Decimal(r["debits"]) - Decimal(r["credits"]) for r in rows}
        assert {n: v for n, v in tb.items() if v} == season.balances
        state = remote.state()
        assert state["piece_numbers"].get(season.key(reversal[0])) == 1
        assert not any(state["duplicates"].values())
