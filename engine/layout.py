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

SEGMENT_BYTES = 512 * 1024
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
class SegmentedFile:
    """An index file (fixed header + includes) and its capped segments."""

    index: Path
    folder: str  # segment folder, relative to the index's folder
    header: str

    def segments(self) -> list[Path]:
        return [self.index.parent / name for name in included(self.index)]

    def append(self, texts: list[str]) -> list[Path]:
        """Append entry texts; returns every segment file written.

        Segments are written (each atomically) before the index that
        includes them, so an included segment is always complete.
        """
        if not texts:
            return []
        names = included(self.index)
        written: list[Path] = []
        current = self.index.parent / names[-1] if names else None
        buffer = bytearray(current.read_bytes()) if current is not None else bytearray()
        new_names: list[str] = []
        for text in texts:
            data = text.encode("utf-8")
            if current is None or (buffer and len(buffer) + len(data) > SEGMENT_BYTES):
                if current is not None:
                    self._flush(current, buffer, written)
                name = f"{self.folder}/{len(names) + len(new_names) + 1:06d}.beancount"
                new_names.append(name)
                current, buffer = self.index.parent / name, bytearray()
            buffer += data
        assert current is not None
        self._flush(current, buffer, written)
        if new_names:
            write_atomic(self.index, render_index(self.header, names + new_names).encode("utf-8"))
        return written

    @staticmethod
    def _flush(path: Path, buffer: bytearray, written: list[Path]) -> None:
        if path.exists() and path.stat().st_size == len(buffer):
            return  # nothing new for this one
        write_atomic(path, bytes(buffer))
        written.append(path)
