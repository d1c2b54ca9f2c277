"""The one module that talks to Beancount: render, parse, load, check, query.

Rendering is done here by hand rather than with ``beancount.parser.printer``:
the format is fixed and small, and a hand renderer is several times faster on
the record hot path. ``tests/engine/test_beans.py`` proves, with hypothesis,
that what it writes parses back to exactly the values given — hostile text
included.
"""

from __future__ import annotations

import datetime
import gc
import hashlib
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from .model import Open, Posting, Txn

CHAIN_KEY = "chain"
SEQ_KEY = "seq"


def escape(text: str) -> str:
    """Quote a string the way Beancount's lexer reads it back."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _meta_lines(meta: Iterable[tuple[str, str]], indent: str) -> list[str]:
    return [f"{indent}{key}: {escape(value)}" for key, value in meta]


def _posting_lines(posting: Posting, currency: str) -> list[str]:
    lines = [f"  {posting.account}  {posting.amount:.2f} {currency}"]
    lines += _meta_lines(posting.meta, "    ")
    return lines


def canonical(
    date: datetime.date,
    payee: str | None,
    narration: str,
    tags: Iterable[str],
    links: Iterable[str],
    meta: Iterable[tuple[str, str]],
    postings: Iterable[tuple[str, Decimal, str]],
) -> str:
    """The text a transaction's chain hash is computed over.

    Built from values, not from file text, so that the writer (from a ``Txn``)
    and the verifier (from a parsed entry) compute it the same way.
    """
    return json.dumps(
        [
            date.isoformat(),
            payee or "",
            narration,
            sorted(tags),
            sorted(links),
            [[k, v] for k, v in meta if k != CHAIN_KEY],
            [[a, f"{n:.2f}", c] for a, n, c in postings],
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def chain_hash(previous: str, canonical_text: str) -> str:
    """The next link of the hash chain."""
    return hashlib.sha256((previous + "\n" + canonical_text).encode("utf-8")).hexdigest()


def render_txn(txn: Txn, currency: str, seq: int, previous_chain: str) -> tuple[str, str]:
    """Render a transaction with its sequence number and chain hash.

    Returns the text (ending with a blank line) and the new chain hash.
    """
    meta = txn.meta + ((SEQ_KEY, str(seq)),)
    text_canonical = canonical(
        txn.date, txn.payee, txn.narration, txn.tags, txn.links, meta,
        ((p.account, p.amount, currency) for p in txn.postings),
    )
    chain = chain_hash(previous_chain, text_canonical)
    head = [txn.date.isoformat(), "*"]
    if txn.payee:
        head.append(escape(txn.payee))
    head.append(escape(txn.narration))
    head += [f"#{t}" for t in sorted(txn.tags)] + [f"^{lk}" for lk in sorted(txn.links)]
    lines = [" ".join(head)]
    lines += _meta_lines(meta + ((CHAIN_KEY, chain),), "  ")
    for posting in txn.postings:
        lines += _posting_lines(posting, currency)
    return "\n".join(lines) + "\n\n", chain


def render_open(date: datetime.date, opening: Open, currency: str) -> str:
    lines = [f"{date.isoformat()} open {opening.account} {currency}"]
    lines += _meta_lines(opening.meta, "  ")
    return "\n".join(lines) + "\n\n"


# ---------------------------------------------------------------------------
# Reading


def parse_text(text: str) -> list[Any]:
    """Parse Beancount text (no includes followed), entries in file order."""
    from beancount.parser import parser

    entries, _errors, _options = parser.parse_string(text)
    return entries


def entry_canonical(entry: Any) -> str:
    """``canonical`` of a parsed transaction entry."""
    meta = [(k, v) for k, v in entry.meta.items() if k not in ("filename", "lineno") and not k.startswith("__")]
    return canonical(
        entry.date, entry.payee, entry.narration, entry.tags, entry.links, meta,
        ((p.account, p.units.number, p.units.currency) for p in entry.postings),
    )


def is_transaction(entry: Any) -> bool:
    from beancount.core import data

    return isinstance(entry, data.Transaction)


def is_open(entry: Any) -> bool:
    from beancount.core import data

    return isinstance(entry, data.Open)


def load(main: Path) -> tuple[list[Any], list[Any], dict[str, Any]]:
    """Load a whole ledger, without Beancount's pickle cache and with GC paused.

    The cache is counter-productive for an append-per-event ledger (stale
    after every write) and the collector slows a full load by ~40%.
    """
    os.environ.setdefault("BEANCOUNT_DISABLE_LOAD_CACHE", "1")
    from beancount import loader

    gc.disable()
    try:
        return loader.load_file(str(main))
    finally:
        gc.enable()


def format_errors(errors: list[Any]) -> list[str]:
    """One line per Beancount error: file, line, message."""
    out = []
    for error in errors:
        source = error.source or {}
        out.append(f"{source.get('filename', '?')}:{source.get('lineno', '?')}: {error.message}")
    return out


def run_query(entries: list[Any], options: dict[str, Any], query: str, **params: Any) -> list[tuple[Any, ...]]:
    """Run a BQL query on loaded entries; rows hold real Decimals and dates."""
    import beanquery

    conn = beanquery.connect("beancount:", entries=entries, errors=[], options=options)
    cursor = conn.execute(query, params or None)
    return list(cursor.fetchall())
