"""QuickBooks replay benchmark: documents per minute under QuickBooks' real limits.

Records N transactions (default 10,000: bookings of a deposit, an invoice,
the deposit applied and the balance paid, as ``bench/sync_pennylane.py``
makes them) into an ``fr-pcg`` ledger, cached under ``--workdir``. Each
phase copies it, starts the real sandbox (``partida sandbox quickbooks``) as a
child process with its real limits (500 requests/min per company, 40 batch
requests/min, 10 in flight, batches of 30), makes a FR-edition company and
its OAuth tokens, and replays through the real CLI (``partida sync
quickbooks``). It prints documents/min, requests/min against the 500/min
budget, batch requests/min against 40/min, the average batch fill, the 429s
received, failed items, duplicates (one remote object per local
transaction, checked on the sandbox's state) and the time.

Phases: batched; batched under the ``42:10%`` fault plan; the baseline, one
request per document (``PARTIDA_QUICKBOOKS_WINDOW=1``), on
``--baseline-transactions`` (default 2,000: at about 400 documents/min the
full season would take 25 minutes; the rate does not depend on the size).

Usage: ``.venv/bin/python bench/sync_quickbooks.py [--transactions N]
[--baseline-transactions N] [--faults SEED:PLAN] [--only batched|faults|baseline]``
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import selectors
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent

from sync_pennylane import season  # noqa: E402

from connectors.quickbooks import mapping  # noqa: E402
from connectors.quickbooks.mapping import ApplicationPlan  # noqa: E402
from connectors.quickbooks.sandbox import TOKEN_PATH  # noqa: E402
from connectors.syncstate import SyncState, idempotency_key  # noqa: E402
from connectors.tokens import Credentials, TokenStore, connection_key  # noqa: E402
from engine.journal import read_transactions  # noqa: E402
from engine.ledger import init_ledger, record_batch  # noqa: E402
from engine.settings import Settings  # noqa: E402

REQUESTS_PER_MIN, BATCHES_PER_MIN, BATCH_MAX = 500, 40, 30
SAMPLE_S = 5.0
# The limits are sliding minutes: a run starts with a full minute's budget, so
# rates are also measured from this moment on, where only the limits count.
BURST_S = 60.0
ENTITIES = ("Invoice", "CreditMemo", "RefundReceipt", "Payment", "JournalEntry", "Deposit")


def cached_ledger(workdir: Path, transactions: int) -> Path:
    """The season's ledger, recorded once per size."""
    root = workdir / f"qbo-season-{transactions}" / "ledger"
    if not (root / "main.beancount").exists():
        shutil.rmtree(root.parent, ignore_errors=True)
        init_ledger(root, Settings(company="Bench"))
        result = record_batch(root, season(transactions))
        assert not result.problems, result.problems[:3]
    return root


def ceiling(ops_per_txn: float) -> str:
    """The arithmetic of the limits, for the report."""
    batched = BATCHES_PER_MIN * BATCH_MAX + (REQUESTS_PER_MIN - BATCHES_PER_MIN)
    single = REQUESTS_PER_MIN / ops_per_txn
    return (f"limits: {BATCHES_PER_MIN} batches x {BATCH_MAX} items + {REQUESTS_PER_MIN - BATCHES_PER_MIN} single "
            f"requests = {batched} operations/min at most; this season needs {ops_per_txn:.2f} operations per "
            f"transaction (an application reads the payments, then updates one), so at most "
            f"{batched / ops_per_txn:.0f} documents/min batched against {single:.0f} documents/min one request per "
            f"operation: a ratio of {batched / REQUESTS_PER_MIN:.2f}x at most, so 10x is out of reach under these "
            f"limits (it would need {10 * single * ops_per_txn:.0f} operations/min)")


class Sandbox:
    """``partida sandbox quickbooks`` as a child process, with its real limits."""

    def __init__(self, faults: str | None) -> None:
        args = [str(BIN / "partida"), "sandbox", "quickbooks"] + (["--faults", faults] if faults else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=REPO)
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            assert selector.select(timeout=30), "the sandbox printed nothing"
        self.base = self.proc.stdout.readline().strip()
        self.admin = httpx.Client(base_url=self.base, timeout=60)
        self.realm = self.admin.post("/sandbox/companies", json={"edition": "FR"}).json()["realmId"]

    def connect(self, root: Path, tokens: Path) -> None:
        """Store OAuth credentials for the ledger, as `partida connect --oauth` would."""
        minted = self.admin.post(f"/sandbox/companies/{self.realm}/tokens").json()
        creds = Credentials("oauth", self.base, minted["access_token"], minted["refresh_token"],
                            time.time() + float(minted["expires_in"]), self.base + TOKEN_PATH,
                            minted["client_id"], minted["client_secret"], {"realmId": self.realm})
        TokenStore(tokens).put(connection_key("quickbooks", root), creds)

    def state(self) -> dict[str, Any]:
        return dict(self.admin.get("/sandbox/state").json())

    def stop(self) -> None:
        self.admin.close()
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)


def duplicates_and_missing(root: Path, company: dict[str, Any]) -> tuple[int, int, int]:
    """(objects beyond one per key, transactions with no remote object, objects with no transaction)."""
    expected = set()
    for txn in read_transactions(root):
        key = idempotency_key("quickbooks", txn.event_id, txn.seq)
        plan = mapping.plan(txn, key)
        if plan is not None and not isinstance(plan, ApplicationPlan):
            expected.add(key)
    held: collections.Counter[str] = collections.Counter()
    for entity in ENTITIES:
        for note, count in company["private_notes"][entity].items():
            first = note.split("\n", 1)[0]
            if first.startswith("partida:"):
                held[first[len("partida:"):]] += count
    dupes = sum(n - 1 for n in held.values() if n > 1)
    return dupes, len(expected - set(held)), len(set(held) - expected)


def sample(root: Path, sandbox: Sandbox, began: float) -> tuple[float, int, int, int]:
    """(seconds since the start, transactions synced, requests, batch requests) now."""
    synced = 0
    db = root / "sync" / "quickbooks.sqlite3"
    if db.exists():
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)) as conn:
            try:
                synced = conn.execute("SELECT count(*) FROM items WHERE state = 'synced'").fetchone()[0]
            except sqlite3.OperationalError:  # not created yet
                synced = 0
    requests = sandbox.state()["requests"]
    return time.monotonic() - began, synced, requests.get("api_requests", 0), requests.get("batch_requests", 0)


def phase(name: str, source: Path, faults: str | None, window: str | None, runs_max: int = 5) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="qbo-bench-") as tmp:
        root = Path(tmp) / "ledger"
        shutil.copytree(source, root, ignore=shutil.ignore_patterns("sync"))
        tokens = Path(tmp) / "secrets" / "tokens.json"
        sandbox = Sandbox(faults)
        try:
            sandbox.connect(root, tokens)
            env = {**os.environ, "PARTIDA_TOKENS": str(tokens)}
            if window:
                env["PARTIDA_QUICKBOOKS_WINDOW"] = window
            began = time.monotonic()
            runs, codes, last, samples = 0, [], "", []
            while runs < runs_max:  # a long outage streak stops a run; the next run resumes
                runs += 1
                proc = subprocess.Popen([str(BIN / "partida"), "sync", "quickbooks", "--ledger", str(root),
                                         "--since", "2000-01-01"], env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True)
                while proc.poll() is None:
                    time.sleep(SAMPLE_S)
                    samples.append(sample(root, sandbox, began))
                out, err = proc.communicate()
                codes.append(proc.returncode)
                last = (out.strip().splitlines() or [""])[-1] + " " + err.strip()[-300:]
                if proc.returncode == 0 or "stopped:" not in err:
                    break
            elapsed = time.monotonic() - began
            state = sandbox.state()
        finally:
            sandbox.stop()
        store = SyncState(root, "quickbooks")
        try:
            counts = store.counts()
        finally:
            store.close()
        company = state["realms"][sandbox.realm]
        dupes, missing, strays = duplicates_and_missing(root, company)
    requests = state["requests"]
    minutes = elapsed / 60
    txns = sum(counts.values())
    received_429 = (requests.get("rate_limited", 0) + requests.get("concurrency_limited", 0)
                    + requests["faults"].get("429", 0) + requests["item_faults"].get("429", 0))
    batches = requests.get("batch_requests", 0)
    figures = {
        "documents/min": counts["synced"] / minutes, "requests": requests.get("api_requests", 0),
        "batches": batches, "elapsed": elapsed, "synced": counts["synced"],
    }
    fill = f"{Decimal(requests.get('batch_items', 0)) / batches:.1f}" if batches else "-"
    steady = [x for x in samples if x[0] >= BURST_S]
    if len(steady) >= 2 and steady[-1][0] - steady[0][0] >= 30:
        (t0, d0, r0, b0), (t1, d1, r1, b1) = steady[0], steady[-1]
        per_min = 60 / (t1 - t0)
        figures["steady"] = (d1 - d0) * per_min
        after = (f"after the first minute ({t1 - t0:.0f} s measured): {(d1 - d0) * per_min:.0f} documents/min, "
                 f"{(r1 - r0) * per_min:.0f} requests/min, {(b1 - b0) * per_min:.1f} batch requests/min")
    else:
        after = "too short to measure after the first minute's burst"
    print(f"[{name}] {txns} transactions, {counts['synced']} synced in {elapsed:.0f} s ({runs} run(s), exit "
          f"{codes}): {counts['synced'] / minutes:.0f} documents/min; "
          f"{requests.get('api_requests', 0) / minutes:.0f} requests/min (budget {REQUESTS_PER_MIN}); "
          f"{batches / minutes:.1f} batch requests/min (budget {BATCHES_PER_MIN}), average fill {fill} of "
          f"{BATCH_MAX}; 429s received: {received_429} (throttled {requests.get('rate_limited', 0)}, "
          f"injected {requests['faults'].get('429', 0)} + {requests['item_faults'].get('429', 0)} batch items); "
          f"failed items: {counts['failed'] + counts['parked']}; uncertain left: {counts['uncertain']}; "
          f"duplicates: {dupes}; transactions missing remotely: {missing}; strays: {strays}; "
          f"faults injected: {requests['faults']} items {requests['item_faults']}; {after}; "
          f"last run: {last.strip()}",
          flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=10_000)
    parser.add_argument("--baseline-transactions", type=int, default=2_000)
    parser.add_argument("--faults", default="42:10%")
    parser.add_argument("--only", choices=["batched", "faults", "baseline"], help="run one phase only")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/partida-bench"))
    args = parser.parse_args()
    big = cached_ledger(args.workdir, args.transactions)
    small = cached_ledger(args.workdir, args.baseline_transactions)
    print(f"ledgers of {args.transactions} and {args.baseline_transactions} transactions "
          f"(bookings: deposit, invoice, deposit applied, balance paid)", flush=True)
    print(ceiling(1.25), flush=True)
    results: dict[str, dict[str, Any]] = {}
    plan = [("batched", big, None, None), (f"batched + faults {args.faults}", big, args.faults, None),
            ("baseline, one request per document", small, None, "1")]
    for name, source, faults, window in plan:
        if args.only and not name.startswith(args.only if args.only != "faults" else "batched +"):
            continue
        if args.only == "batched" and faults:
            continue
        results[name] = phase(name, source, faults, window)
    base = results.get("baseline, one request per document")
    for name in ("batched", f"batched + faults {args.faults}"):
        if name in results and base:
            ratio = results[name]["documents/min"] / base["documents/min"]
            line = f"{name} / one request per document: {ratio:.2f}x overall"
            if "steady" in results[name] and "steady" in base:
                line += f", {results[name]['steady'] / base['steady']:.2f}x after the first minute"
            print(line + " (target 10x; see the limits line above)", flush=True)


if __name__ == "__main__":
    main()
