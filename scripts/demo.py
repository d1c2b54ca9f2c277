"""`make demo`: the main job on the embedded defaults.

Creates a fresh ledger under build/demo/, records the committed example
season (about a hundred bookings of a small activity centre), shows the
balances and the open deposits, runs `partida check` and `bean-check`, then
records the season again to show that nothing changes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SEASON = REPO / "ledgers" / "example" / "season.jsonl"
DEMO = REPO / "build" / "demo"


def run(*args: str) -> None:
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    print(f"\n$ {shown}", flush=True)
    subprocess.run([str(BIN / args[0]), *args[1:]], check=True)


def main() -> None:
    shutil.rmtree(DEMO, ignore_errors=True)
    ledger = str(DEMO / "gorges-vives")
    run("partida", "init", "--ledger", ledger, "--company", "Les Gorges Vives SARL")
    run("partida", "record", "--ledger", ledger, str(SEASON))
    run("partida", "balance", "--ledger", ledger)
    run("partida", "deposits", "--ledger", ledger, "--as-of", "2026-12-31")
    run("partida", "check", "--ledger", ledger)
    run("bean-check", f"{ledger}/main.beancount")
    run("partida", "record", "--ledger", ledger, str(SEASON))
    print(f"\nThe ledger is in {ledger}; try:\n"
          f"  .venv/bin/bean-query {ledger}/main.beancount \"SELECT account, sum(position) GROUP BY account\"")


if __name__ == "__main__":
    main()
