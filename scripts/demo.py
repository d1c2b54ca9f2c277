"""`make demo`: the main job on the embedded defaults.

Creates a fresh ledger under build/demo/, records the committed example
season (about a hundred bookings of a small activity centre), shows the
balances and the open deposits, runs `partida check` and `bean-check`, records
the season again to show that nothing changes; then starts the local Pennylane
sandbox in the background, connects the ledger to it with a company API token,
syncs the season, shows `partida status`, compares the sandbox's trial balance
with the ledger, and stops the sandbox.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
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
    replay_to_sandbox(ledger)
    print(f"\nThe ledger is in {ledger}; try:\n"
          f"  .venv/bin/bean-query {ledger}/main.beancount \"SELECT account, sum(position) GROUP BY account\"")


def _post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def replay_to_sandbox(ledger: str) -> None:
    """Start the Pennylane sandbox, connect, sync, show status, stop."""
    env = {**os.environ, "PARTIDA_TOKENS": str(DEMO / "tokens.json")}
    print("\n$ partida sandbox pennylane &", flush=True)
    sandbox = subprocess.Popen([str(BIN / "partida"), "sandbox", "pennylane"], stdout=subprocess.PIPE, text=True)
    try:
        assert sandbox.stdout is not None
        base = sandbox.stdout.readline().strip()
        print(base)
        token = _post(f"{base}/sandbox/company_tokens", {})["token"]
        print(f"\n$ partida connect pennylane --ledger {ledger} --base-url {base} --stdin   # token from the sandbox")
        subprocess.run([str(BIN / "partida"), "connect", "pennylane", "--ledger", ledger, "--base-url", base,
                        "--stdin"], input=token + "\n", text=True, env=env, check=True)
        for args in (["sync", "pennylane", "--ledger", ledger], ["status", "--ledger", ledger]):
            print(f"\n$ partida {' '.join(args)}", flush=True)
            subprocess.run([str(BIN / "partida"), *args], env=env, check=True)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        print("\n(sandbox stopped)")


if __name__ == "__main__":
    main()
