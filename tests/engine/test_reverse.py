"""`partida reverse`: corrections are new, negating transactions, never edits."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

from conftest import BIN, assert_clean, bean_query, jsonl, number_balances, partida, snapshot
from factories import deposit, invoice, many_events, payment

WORKED = [
    deposit("e1", "B-1001", "90.00", "2026-05-10"),
    invoice("e2", "F-1", [("2", "125.00", "20")], "2026-06-20", booking="B-1001"),
    payment("e3", "F-1", "210.00", "2026-06-20"),
]


def reverse(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return partida("reverse", "--ledger", str(root), *args)


def test_a_reversed_payment_nets_to_zero_and_reopens_its_invoice(ledger: Path) -> None:
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*WORKED), check=True)
    before = snapshot(ledger)
    done = reverse(ledger, "e3", "--reason", "card payment charged back", "--date", "2026-06-25")
    assert done.returncode == 0, done.stderr
    # append-only: every byte written before is still there, in place
    after = snapshot(ledger)
    assert all(after[path].startswith(data) for path, data in before.items())
    rows = bean_query(ledger / "main.beancount",
                      "SELECT account, sum(number) AS total WHERE entry_meta('event-id') = 'e3' GROUP BY account")
    assert rows and all(Decimal(r["total"]) == 0 for r in rows), rows
    reason = bean_query(ledger / "main.beancount",
                        "SELECT DISTINCT entry_meta('reason') AS reason, date WHERE entry_meta('event-type') = 'reversal'")
    assert reason == [{"reason": "card payment charged back", "date": "2026-06-25"}]
    totals = number_balances(ledger)
    assert totals["411"] == Decimal("210.00") and totals["44574"] == Decimal("-35.00")
    assert partida("check", "--ledger", str(ledger)).returncode == 0
    assert partida("verify", "--ledger", str(ledger)).returncode == 0
    assert_clean(ledger)
    # The state forgot the payment: the invoice is open again, so the right
    # payment settles it (were it still paid, 210.00 would land on 4191).
    partida("record", "--ledger", str(ledger), "-", check=True,
            input=jsonl(payment("e3-bis", "F-1", "210.00", "2026-06-26")))
    totals = number_balances(ledger)
    assert totals["411"] == 0 and totals.get("4191", Decimal(0)) == 0 and totals["44574"] == 0
    assert partida("check", "--ledger", str(ledger)).returncode == 0


def test_the_state_rebuilt_from_files_knows_the_reversal(ledger: Path) -> None:
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*WORKED), check=True)
    reverse(ledger, "e3", "--reason", "duplicate", "--date", "2026-06-25")
    for path in (ledger / ".partida").glob("state.sqlite3*"):
        path.unlink()
    partida("record", "--ledger", str(ledger), "-", check=True,
            input=jsonl(payment("e3-bis", "F-1", "210.00", "2026-06-26")))
    assert number_balances(ledger)["411"] == 0
    assert partida("check", "--ledger", str(ledger)).returncode == 0


def test_refusals_change_nothing(ledger: Path) -> None:
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*WORKED), check=True)
    before = snapshot(ledger)
    cases = [
        (("e2", "--reason", "wrong price"), "credit note"),
        (("e1", "--reason", "typo"), "'e2'"),  # the invoice applied that deposit
        (("nope", "--reason", "typo"), "no event 'nope'"),
        (("e3", "--reason", "  "), "--reason"),
        (("e3", "--reason", "late", "--date", "2026-01-01"), "before the event's date"),
    ]
    for args, expected in cases:
        result = reverse(ledger, *args)
        assert result.returncode == 1, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr, (args, result.stderr)
        assert snapshot(ledger) == before, args


def test_twice_is_refused_and_the_reversed_id_stays_taken(ledger: Path) -> None:
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*WORKED), check=True)
    assert reverse(ledger, "e3", "--reason", "mistake").returncode == 0
    before = snapshot(ledger)
    again = reverse(ledger, "e3", "--reason", "mistake")
    assert again.returncode == 1 and "already reversed" in again.stderr
    replay = partida("record", "--ledger", str(ledger), "-", input=jsonl(WORKED[2]))
    assert replay.returncode == 0 and "1 already recorded" in replay.stdout
    assert snapshot(ledger) == before


def test_an_event_with_later_independent_events_can_be_reversed(ledger: Path) -> None:
    """Only what depends on the event blocks it: other bookings don't."""
    events = many_events(30, prefix="r")
    partida("record", "--ledger", str(ledger), "-", input=jsonl(*events), check=True)
    extra = deposit("wrong", "B-other", "40.00", "2026-03-03")
    partida("record", "--ledger", str(ledger), "-", input=jsonl(extra, *many_events(5, prefix="s")), check=True)
    assert reverse(ledger, "wrong", "--reason", "recorded on the wrong ledger").returncode == 0
    assert partida("check", "--ledger", str(ledger)).returncode == 0
    held = partida("deposits", "--ledger", str(ledger), "--format", "json", check=True).stdout
    assert "B-other" not in held


def test_kill_9_during_reverse_leaves_a_clean_ledger_reversed_once_or_not(tmp_path: Path) -> None:
    rng = random.Random(7)
    root = tmp_path / "big"
    partida("init", "--ledger", str(root), "--company", "Big", check=True)
    partida("record", "--ledger", str(root), "-", input=jsonl(*many_events(700, prefix="k")), check=True)
    partida("record", "--ledger", str(root), "-", check=True, input=jsonl(deposit("oops", "B-oops", "15.00")))
    reversed_now, kills = False, 0
    for _ in range(6):
        proc = subprocess.Popen([str(BIN / "partida"), "reverse", "--ledger", str(root), "oops", "--reason", "test"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=os.environ.copy())
        time.sleep(rng.uniform(0.3, 1.4))  # a whole reverse takes about 1.2 s here
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
        assert_clean(root)  # before any recovery
        status = partida("check", "--ledger", str(root))
        assert status.returncode == 0, status.stderr
        count = len(bean_query(root / "main.beancount",
                               "SELECT DISTINCT entry_meta('seq') AS seq WHERE entry_meta('event-type') = 'reversal'"))
        assert count in (0, 1)
        reversed_now = count == 1
        if reversed_now:
            break
    assert kills >= 1
    if not reversed_now:
        assert reverse(root, "oops", "--reason", "test").returncode == 0
    held = partida("deposits", "--ledger", str(root), "--format", "json", check=True).stdout
    assert "B-oops" not in held
    assert partida("check", "--ledger", str(root)).returncode == 0
