"""Verify benchmark: `partida verify`'s walk of the hash chain on a large ledger.

Prints the time, the rate and the peak memory of `verify` on the cached
1,000,000-transaction ledger that ``bench/ingest.py`` builds (``--size`` picks
another of its sizes), then the time to find a one-character edit near the
middle of the last segment of a copy of the 100k ledger.

Usage: ``.venv/bin/python bench/verify.py [--workdir DIR] [--size 1M|100k|10k]``
(run ``bench/ingest.py`` first to build the ledgers).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.verify import _journal_files, verify  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/partida-bench"))
    parser.add_argument("--size", default="1M", choices=["1M", "100k", "10k"])
    args = parser.parse_args()
    root = args.workdir / "full" / f"ledger-{args.size}"
    if not (root / "main.beancount").exists():
        sys.exit(f"no ledger at {root}: run `.venv/bin/python bench/ingest.py` first")
    began = time.perf_counter()
    count, problem = verify(root)
    elapsed = time.perf_counter() - began
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"verify {root}: {count:,} transactions in {elapsed:.1f} s "
          f"({count / elapsed:,.0f} transactions/s), peak RSS {rss_mb:.0f} MiB, target < 30 s")
    print(f"result: {problem or 'chain intact'}")
    # Tamper with a copy (never with the cached ledger, which other benches append to).
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy"
        shutil.copytree(args.workdir / "full" / "ledger-100k", copy, ignore=shutil.ignore_patterns(".partida"))
        last, _rel = _journal_files(copy)[-1]
        data = last.read_bytes()
        at = len(data) // 2
        last.write_bytes(data[:at] + (b"X" if data[at:at + 1] != b"X" else b"Y") + data[at + 1:])
        began = time.perf_counter()
        _count, found = verify(copy)
        print(f"one-character edit in a copy of the 100k ledger: found in {time.perf_counter() - began:.1f} s: {found}")


if __name__ == "__main__":
    main()
