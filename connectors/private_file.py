"""A JSON file only its owner can read: provider tokens and webhook secrets.

The file is 0600 in a 0700 folder (whatever the umask, whoever made the
folder), replaced whole by rename after an fsync so a reader never sees half
of it, and guarded by a lock file for read-modify-write (filelock: it works
across processes and threads, where a hand-written flock would not cover
threads of one process).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from filelock import FileLock


class PrivateJsonFile:
    """Read and replace one owner-only JSON object; ``lock`` serialises writers."""

    def __init__(self, path: Path):
        self.path = path
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        self.lock = FileLock(str(self.path) + ".lock", timeout=60, mode=0o600)

    def read(self) -> dict[str, dict[str, object]]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def write(self, data: dict[str, dict[str, object]]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)
