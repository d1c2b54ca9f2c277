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

Why segments: every write to a file that readers see replaces it whole by
rename, so a reader — or ``bean-check`` right after a ``kill -9`` — only ever
sees complete transactions. Appending in place cannot promise that: a killed
``write()`` may leave half a transaction. (A new segment is written in place,
but before any index includes it, so nobody reads it half written.) Segments
are capped in size, so the copy made by each write stays small (the cost of one
record does not grow with the ledger), and files only ever grow: text once
written is never changed.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .problems import ExternallyChangedError, LedgerError

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
    fsync_dir(path.parent)


class LockTimeout(LedgerError, TimeoutError):
    """Another process held the writers' lock for longer than the timeout."""


class WriterLock:
    """An exclusive lock on a file (``fcntl.flock``), for one writer process
    at a time; the kernel releases it when its holder dies, even by ``kill -9``.

    Partida used the filelock package for this. Importing it costs ~19 ms
    (logging, inspect, secrets, threading): a fifth of a one-event ``partida
    record``, process start included, for the twenty lines below.
    """

    POLL_S = 0.05  # as filelock: how often a waiting writer tries again

    def __init__(self, path: Path, timeout_s: float):
        self.path = path
        self.timeout_s = timeout_s
        self._fd: int | None = None

    def acquire(self) -> None:
        assert self._fd is None, "WriterLock is not reentrant"
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            self._wait(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _wait(self, fd: int) -> None:
        deadline = time.monotonic() + self.timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(f"another Partida process held {self.path} for over {self.timeout_s:g} s")
            time.sleep(self.POLL_S)

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def write_unlisted(path: Path, data: bytes) -> None:
    """Write a file that no index includes yet, durably.

    No reader opens it before an index names it, so it is written in place,
    without a rename; a crash leaves at worst a stray, unincluded file, which
    the next batch that needs the name writes again. The directory entry is
    made durable by ``fsync_dir``, once per folder.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
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


class SegmentAppender:
    """Appends entry texts, in order, to an index's capped segments.

    Texts that still fit go to the end of the index's last segment: that file
    is included already, so it is only replaced whole later, by the ``tail``
    step of ``finish``. Texts beyond it fill new segments, handed to ``sink``
    as soon as each is full: no index includes them yet, so no reader sees them
    before the ``index`` step of ``finish``. The batch's text is never all in
    memory at once.
    """

    def __init__(self, root: Path, index: str, folder: str, header: str, sink: Callable[[str, bytes], None]):
        self.index = index
        self.header = header
        self._folder = folder
        self._sink = sink
        self._prefix = index.rsplit("/", 1)[0] + "/" if "/" in index else ""
        self._names = included(root / index)
        self._new: list[str] = []  # names of the new segments, relative to the index's folder
        self._path = self._prefix + self._names[-1] if self._names else None
        self._size = (root / self._path).stat().st_size if self._path else 0
        self._base = self._size
        self._fresh = False  # is the current segment a new one?
        self._pending: list[bytes] = []
        self._tail: FileOp | None = None
        self.written: list[tuple[str, int]] = []  # new segments handed to sink, with their sizes
        self.sizes: dict[str, int] = {}  # every segment written to -> its size afterwards

    def add(self, data: bytes) -> tuple[str, int, int]:
        """Place one entry's bytes; returns (segment path, byte offset, byte length)."""
        length = len(data)
        if self._path is None or (self._size and self._size + length > SEGMENT_BYTES):
            self._flush()
            name = f"{self._folder}/{len(self._names) + len(self._new) + 1:06d}.beancount"
            if name in self._names:  # numbering broken by a hand edit: never overwrite an included file
                raise ExternallyChangedError(f"{self.index} already includes {name}; the index was edited by hand")
            self._new.append(name)
            self._path, self._size, self._base, self._fresh = self._prefix + name, 0, 0, True
        self._pending.append(data)
        where = (self._path, self._size, length)
        self._size += length
        return where

    def _flush(self) -> None:
        """Hand the current segment's pending text on: a new segment to the
        sink, the tail of the last included one to the ``tail`` step."""
        if not self._pending:
            return
        assert self._path is not None
        data = b"".join(self._pending)
        self._pending = []
        self.sizes[self._path] = self._size
        if self._fresh:
            self._sink(self._path, data)
            self.written.append((self._path, self._size))
        else:
            self._tail = FileOp(self._path, data.decode("utf-8"), self._base)

    def finish(self) -> list[FileOp]:
        """The steps left once every new segment went to ``sink``: append the
        tail to the last included segment, then include the new segments."""
        self._flush()
        ops = [self._tail] if self._tail is not None else []
        if self._new:
            ops.append(FileOp(self.index, render_index(self.header, self._names + self._new)))
        return ops


class SegmentWriter:
    """The ``sink`` of new segments: writes them (``write_unlisted``) on a
    background thread, so waiting for the disk overlaps the rendering of the
    next segments.

    ``close`` waits for every write, makes the folders' entries durable and
    raises the thread's first error, if any. A batch that writes no new
    segment (one event, typically) starts no thread.
    """

    def __init__(self, root: Path, depth: int = 4):
        self.root = root
        self._depth = depth  # segments queued at most: bounds the memory held
        self._queue: Any = None
        self._thread: Any = None
        self._error: BaseException | None = None
        self._folders: set[Path] = set()

    def __call__(self, rel: str, data: bytes) -> None:
        if self._error is not None:
            raise self._error
        if self._thread is None:
            self._start()
        self._queue.put((rel, data))

    def _start(self) -> None:
        # Imported here: most processes record a few events and never need them.
        import queue
        import threading

        self._queue = queue.Queue(maxsize=self._depth)
        self._thread = threading.Thread(target=self._run, name="partida-segments", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain, so the producer never blocks
            try:
                path = self.root / item[0]
                write_unlisted(path, item[1])
                self._folders.add(path.parent)
            except BaseException as exc:  # handed to the producer by close()
                self._error = exc

    def _stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def close(self) -> None:
        """Wait for every write; then the new files and their names are durable."""
        self._stop()
        if self._error is not None:
            raise self._error
        for folder in sorted(self._folders):
            fsync_dir(folder)
            fsync_dir(folder.parent)  # a new year's folder is itself a new name

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, kind: object, *rest: object) -> None:
        if kind is None:
            self.close()
        else:
            self._stop()  # the batch failed: do not mask its error
