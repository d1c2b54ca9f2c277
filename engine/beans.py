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
import os
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from .model import Open, Txn

CHAIN_KEY = "chain"
SEQ_KEY = "seq"


def escape(text: str) -> str:
    """Quote a string the way Beancount's lexer reads it back."""
    if '"' in text or "\\" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def _meta_lines(meta: Iterable[tuple[str, str]], indent: str) -> list[str]:
    return [f"{indent}{key}: {escape(value)}" for key, value in meta]


def _amount(number: Decimal) -> str:
    """``f"{number:.2f}"``, faster for the usual number with two decimals,
    whose ``str`` is already that text (never in exponent form)."""
    text = str(number)
    if len(text) > 3 and text[-3] == "." and "E" not in text:
        return text
    return f"{number:.2f}"


def _body(
    date: datetime.date,
    payee: str | None,
    narration: str,
    tags: Iterable[str],
    links: Iterable[str],
    meta: Iterable[tuple[str, str]],
    postings: Iterable[tuple[str, Decimal, str, Iterable[tuple[str, str]]]],
) -> tuple[list[str], list[str]]:
    """Header-and-meta lines and posting lines of a transaction, chain excluded."""
    head = [date.isoformat(), "*"]
    if payee:
        head.append(escape(payee))
    head.append(escape(narration))
    head += [f"#{t}" for t in sorted(tags)] + [f"^{lk}" for lk in sorted(links)]
    top = [" ".join(head)]
    top += [f"  {key}: {escape(value)}" for key, value in meta]
    bottom: list[str] = []
    for account, number, currency, posting_meta in postings:
        bottom.append(f"  {account}  {_amount(number)} {currency}")
        if posting_meta:
            bottom += [f"    {key}: {escape(value)}" for key, value in posting_meta]
    return top, bottom


def chain_hash(previous: str, top: list[str], bottom: list[str]) -> str:
    """The next link of the hash chain: over the previous link and the text
    of the transaction without its chain line."""
    text = "\n".join([previous, *top, *bottom])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render_txn(txn: Txn, currency: str, seq: int, previous_chain: str) -> tuple[str, str]:
    """Render a transaction with its sequence number and chain hash.

    Returns the text (ending with a blank line) and the new chain hash.
    """
    top, bottom = _body(
        txn.date, txn.payee, txn.narration, txn.tags, txn.links, txn.meta + ((SEQ_KEY, str(seq)),),
        [(p.account, p.amount, currency, p.meta) for p in txn.postings],
    )
    # As chain_hash(previous_chain, top, bottom), each half joined once for
    # both the hash and the text.
    head, tail = "\n".join(top), ("\n" + "\n".join(bottom) if bottom else "")
    chain = hashlib.sha256(f"{previous_chain}\n{head}{tail}".encode("utf-8")).hexdigest()
    return f'{head}\n  {CHAIN_KEY}: "{chain}"{tail}\n\n', chain


def entry_chain(previous: str, entry: Any) -> str:
    """``chain_hash`` recomputed from a parsed transaction.

    The renderer is canonical (fixed layout, sorted tags and links, metadata
    in file order), so re-rendering parsed values gives back the written text.
    """

    def plain(meta: dict[str, Any] | None) -> list[tuple[str, str]]:
        return [(k, v) for k, v in (meta or {}).items()
                if k not in ("filename", "lineno", CHAIN_KEY) and not k.startswith("__")]

    top, bottom = _body(
        entry.date, entry.payee, entry.narration, entry.tags, entry.links, plain(entry.meta),
        ((p.account, p.units.number, p.units.currency, plain(p.meta)) for p in entry.postings),
    )
    return chain_hash(previous, top, bottom)


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
