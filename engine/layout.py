"""Where a ledger's files live (DESIGN §4) and how they are written safely.

```
ledgers/<name>/
  main.beancount            options and includes: what bean-check, bean-query and fava open
  partida.toml              settings
  accounts.beancount        chart opens, then includes of accounts/NNNN.beancount (customer opens)
  journal/<year>.beancount  includes of journal/<year>/NNNN.beancount, in append order
  sync/                     replay state per provider
  .partida/                 the state index and the writers' lock (derived, rebuildable)
```

Why segments: every write replaces a whole file by rename, so a reader — or
``bean-check`` right after a ``kill -9`` — only ever sees complete
transactions. Appending in place cannot promise that: a killed ``write()`` may
leave half a transaction. Segments are capped in size, so the copy made by each
write stays small (the cost of one record does not grow with the ledger), and
files only ever grow: text once written is never changed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .problems import ExternallyChangedError

# Size at which a new segment starts. Tunable for tests that need many segments.
SEGMENT_BYTES = int(os.environ.get("PARTIDA_SEGMENT_BYTES", 512 * 1024))
_INCLUDE = re.compile(r'^include "([^"]+)"$', re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Layout:
    root: Path

    @property
    def main(self) -> Path:
        return self.root / "main.beancount"

    @property
    def settings(self) -> Path:
        return self.root / "partida.toml"

    @property
    def accounts(self) -> Path:
        return self.root / "accounts.beancount"

    @property
    def journal(self) -> Path:
        return self.root / "journal"

    @property
    def sync(self) -> Path:
        return self.root / "sync"

    @property
    def private(self) -> Path:
        return self.root / ".partida"

    @property
    def state_db(self) -> Path:
        return self.private / "state.sqlite3"

    @property
    def intent(self) -> Path:
        return self.private / "intent.json"

    @property
    def lock(self) -> Path:
        return self.private / "lock"

    def year_index(self, year: int) -> Path:
        return self.journal / f"{year}.beancount"

    def rel(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: readers see the old or the new file, whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def included(index: Path) -> list[str]:
    """The files an index includes, relative to the index's folder, in order."""
    if not index.exists():
        return []
    return _INCLUDE.findall(index.read_text(encoding="utf-8"))


def render_index(header: str, includes: list[str]) -> str:
    return header + "".join(f'include "{name}"\n' for name in includes)


@dataclass(frozen=True, slots=True)
class FileOp:
    """One idempotent step of a batch write.

    ``base`` is the size the file must have before the step (``None``: replace
    the file whole with ``data``); with a base, the step appends ``data``.
    Replaying a step that already happened changes nothing, which is what
    makes the intent log of ``ledger.LedgerSession`` a redo log.
    """

    path: str  # relative to the ledger root
    data: str
    base: int | None = None

    def apply(self, root: Path) -> None:
        target = root / self.path
        data = self.data.encode("utf-8")
        if self.base is None:
            if not target.exists() or target.read_bytes() != data:
                write_atomic(target, data)
            return
        size = target.stat().st_size if target.exists() else 0
        if size == self.base + len(data):
            return  # done before the crash
        if size != self.base:
            raise ExternallyChangedError(f"{self.path} has {size} bytes; Partida expected {self.base}")
        head = b""
        if self.base:
            with open(target, "rb") as f:
                head = f.read(self.base)
        write_atomic(target, head + data)


@dataclass(frozen=True, slots=True)
class SegmentedFile:
    """An index file (fixed header + includes) and its capped segments."""

    root: Path
    index: str  # relative to root
    folder: str  # segment folder, relative to the index's folder
    header: str

    def plan(self, texts: list[str]) -> tuple[list[FileOp], list[tuple[str, int, int]]]:
        """The steps that append entry texts: segments first, then the index.

        Segments are written before the index that includes them, so an
        included segment is always complete. Also returns where each text
        lands: (segment path, byte offset, byte length).
        """
        placements: list[tuple[str, int, int]] = []
        if not texts:
            return [], placements
        index = self.root / self.index
        parent = Path(self.index).parent
        names = included(index)
        ops: list[FileOp] = []
        current = names[-1] if names else None
        size = (index.parent / current).stat().st_size if current else 0
        base, pending, new_names = size, [], []
        for text in texts:
            length = len(text.encode("utf-8"))
            if current is None or (size and size + length > SEGMENT_BYTES):
                if pending:
                    ops.append(FileOp((parent / current).as_posix(), "".join(pending), base))  # type: ignore[operator]
                current = f"{self.folder}/{len(names) + len(new_names) + 1:06d}.beancount"
                new_names.append(current)
                size = base = 0
                pending = []
            pending.append(text)
            placements.append(((parent / current).as_posix(), size, length))
            size += length
        ops.append(FileOp((parent / current).as_posix(), "".join(pending), base))  # type: ignore[operator]
        if new_names:
            ops.append(FileOp(self.index, render_index(self.header, names + new_names)))
        return ops, placements
