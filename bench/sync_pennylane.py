"""Pennylane replay benchmark: how much of the 25 requests / 5 s budget a sync uses.

Records N transactions (default 5,000: bookings of a deposit, an invoice, the
deposit applied and the balance paid, in date order) into a fresh ledger,
then replays them with the real connector and the real replay loop into the
local sandbox with its real limit on, and prints: requests/s against the
5 requests/s budget, transactions/min, 429 answers received, failed items.
Then the same into a fresh sandbox with the 10% fault plan (429 bursts, 5xx,
slow answers, connections dropped after the write was committed).

At 5 requests/s a 5,000-transaction run takes about 40 minutes per phase.
Usage: ``.venv/bin/python bench/sync_pennylane.py [--transactions N] [--faults SEED:PLAN] [--only clean|faults]``
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from connectors.pennylane.connector import PennylaneConnector  # noqa: E402
from connectors.pennylane.sandbox import create_app  # noqa: E402
from connectors.replay import sync  # noqa: E402
from connectors.sandbox.server import running  # noqa: E402
from engine.ledger import init_ledger, record_batch  # noqa: E402
from engine.settings import Settings  # noqa: E402


def season(transactions: int) -> bytes:
    """Bookings of four transactions each, dated in order over 2026."""
    events = []
    bookings = max(1, transactions // 4)
    for i in range(bookings):
        day = f"2026-{1 + i * 12 // bookings:02d}-{1 + (i * 28 // max(1, bookings // 12)) % 28:02d}"
        customer = {"ref": f"B{i % 700}", "name": f"Client {i % 700}", "kind": "individual"}
        booking, number = f"BK-{i}", f"F-{i:06d}"
        events += [
            {"id": f"d{i}", "type": "deposit.received", "date": day, "booking": booking, "customer": customer,
             "amount": "30.00", "method": "card", "vat_rate": "20"},
            {"id": f"i{i}", "type": "invoice.issued", "date": day, "number": number, "booking": booking,
             "customer": customer, "lines": [{"label": "Canyoning", "quantity": "2", "unit_price": "50.00",
                                              "vat_rate": "20"}]},
            {"id": f"p{i}", "type": "payment.received", "date": day, "invoice": number, "amount": "90.00",
             "method": "transfer"},
        ]
    events.sort(key=lambda e: e["date"])
    return ("\n".join(json.dumps(e) for e in events) + "\n").encode()


class Counting(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.statuses: collections.Counter[int] = collections.Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.statuses[response.status_code] += 1
        return response


def phase(name: str, root: Path, faults: str | None) -> None:
    with running(create_app(faults=faults)) as base:  # the real 25 requests / 5 s limit
        token = httpx.post(f"{base}/sandbox/company_tokens", json={}).json()["token"]
        transport = Counting()
        client = httpx.Client(base_url=f"{base}/api/external/v2", transport=transport, timeout=30,
                              headers={"Authorization": f"Bearer {token}"})
        connector = PennylaneConnector(client)
        began = time.monotonic()
        runs, summary, synced, failed = 0, None, 0, 0
        while runs < 10:  # a long outage streak stops a run; the next run resumes
            runs += 1
            summary = sync(root, connector, since=None)
            synced += summary.sent + summary.exists
            failed += len(summary.failed) + len(summary.parked)
            if summary.stopped is None:
                break
        elapsed = time.monotonic() - began
        connector.close()
        state = httpx.get(f"{base}/sandbox/state").json()
    assert summary is not None
    requests = sum(transport.statuses.values())
    dupes = sum(len(v) for v in state["duplicates"].values())
    print(f"[{name}] {requests} requests in {elapsed:.0f} s = {requests / elapsed:.2f} requests/s "
          f"({requests / elapsed / 5 * 100:.0f}% of the 5 requests/s budget); "
          f"{synced / elapsed * 60:.0f} transactions/min; 429 received: {transport.statuses[429]}; "
          f"failed items: {failed}; runs: {runs}; "
          f"faults injected: {state['requests']['faults']}; duplicates: {dupes}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=5000)
    parser.add_argument("--faults", default="42:10%")
    parser.add_argument("--only", choices=["clean", "faults"], help="run one phase only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for name, faults in (("real limit", None), (f"real limit + faults {args.faults}", args.faults)):
            if args.only and args.only != ("clean" if faults is None else "faults"):
                continue
            root = Path(tmp) / name.replace(" ", "-").replace("%", "").replace(":", "")
            init_ledger(root, Settings(company="Bench"))
            result = record_batch(root, season(args.transactions))
            assert not result.problems, result.problems[:3]
            print(f"[{name}] ledger of {result.transactions} transactions", flush=True)
            phase(name, root, faults)


if __name__ == "__main__":
    main()
