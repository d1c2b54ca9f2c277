"""`partida verify`: walk the journal's text and check the hash chain.

Fast enough for millions of transactions because it never builds Beancount
entries: the writer's layout is canonical, so each transaction's block of text
is exactly what its chain hash was computed over (minus the chain line).
Each block is checked against the chain value recorded on the previous
``seq``, so the first edited, removed or reordered transaction is named.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from .layout import included

_CHAIN = re.compile(r'\n  chain: "([0-9a-f]{64})"')
_SEQ = re.compile(r'\n  seq: "(\d+)"')
_ESCAPE = re.compile(r"\\.")
GENESIS = "partida"


@dataclass(frozen=True, slots=True)
class Block:
    path: str
    line: int
    seq: int
    chain: str
    text: str  # the block without its chain line and trailing blank line


def _blocks(path: Path, rel: str) -> list[Block]:
    """Split one segment into transaction blocks (blank-line separated,
    outside quoted strings, which may hold blank lines of their own)."""
    data = path.read_text(encoding="utf-8")
    out: list[Block] = []
    start, line = 0, 1
    pos = data.find("\n\n")
    while pos != -1:
        chunk = data[start:pos]
        quotes = chunk.count('"') if "\\" not in chunk else _ESCAPE.sub("", chunk).count('"')
        if quotes % 2 == 0:  # the blank line is not inside a string
            if chunk.strip():
                out.append(_block(rel, line, chunk))
            line += chunk.count("\n") + 2
            start = pos + 2
        pos = data.find("\n\n", pos + 1)
    if data[start:].strip():
        out.append(_block(rel, line, data[start:].rstrip("\n")))
    return out


def _block(rel: str, line: int, chunk: str) -> Block:
    chain, seq = _CHAIN.search(chunk), _SEQ.search(chunk)
    text = chunk[: chain.start()] + chunk[chain.end():] if chain else chunk
    return Block(rel, line, int(seq.group(1)) if seq else 0, chain.group(1) if chain else "", text)


def _journal_files(root: Path) -> list[tuple[Path, str]]:
    files = []
    for name in included(root / "main.beancount"):
        if name.startswith("journal/"):
            index = root / name
            files += [(index.parent / seg, (Path(name).parent / seg).as_posix()) for seg in included(index)]
    return files


def verify(root: Path) -> tuple[int, str | None]:
    """Returns (transactions checked, the first problem or None).

    Blocks are hashed as soon as the chain value of ``seq - 1`` is known
    (always, in a one-year ledger), so memory holds only the chain values.
    """
    chains: dict[int, str] = {}
    waiting: dict[int, Block] = {}  # blocks whose predecessor has not been read yet
    broken: list[tuple[int, str]] = []
    count = 0
    for path, rel in _journal_files(root):
        last = 0
        for block in _blocks(path, rel):
            count += 1
            where = f"{block.path}:{block.line}"
            if not block.chain or not block.seq:
                return count, f"{where}: a transaction without a readable seq or chain: edited, or added by hand"
            if block.seq in chains or block.seq in waiting:
                broken.append((block.seq, f"{where}: seq {block.seq} appears twice: a transaction was duplicated"))
            if block.seq <= last:
                broken.append((block.seq, f"{where}: seq {block.seq} follows seq {last}: transactions were reordered"))
            last = block.seq
            chains[block.seq] = block.chain
            waiting[block.seq] = block
            _drain(waiting, chains, block.seq, broken)
    for seq in sorted(waiting):
        broken.append((seq, f"{waiting[seq].path}:{waiting[seq].line} (seq {seq}): seq {seq - 1} is missing: "
                            "a transaction was removed"))
    return count, min(broken)[1] if broken else None


def _drain(waiting: dict[int, Block], chains: dict[int, str], seq: int, broken: list[tuple[int, str]]) -> None:
    """Check every waiting block whose predecessor's chain value is now known."""
    ready = [seq] if seq == 1 or seq - 1 in chains else []
    ready += [seq + 1] if seq + 1 in waiting else []
    while ready:
        current = ready.pop()
        block = waiting.pop(current, None)
        if block is None:
            continue
        previous = GENESIS if current == 1 else chains[current - 1]
        if hashlib.sha256((previous + "\n" + block.text).encode("utf-8")).hexdigest() != block.chain:
            broken.append((current, f"{block.path}:{block.line} (seq {current}): edited after it was written "
                                    "(hash chain broken)"))
        if current + 1 in waiting:
            ready.append(current + 1)
