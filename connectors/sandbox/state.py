"""A sandbox's state: one JSON document, in memory or kept in a file.

With a path, every ``save()`` replaces the file atomically (a temporary file
in the same directory, flushed and fsynced, then ``os.replace``), so a killed
sandbox leaves either the previous state or the new one, never half a file.
The file is created owner-only (0600): it holds the sandbox's OAuth clients
and token digests. Without a path the state lives and dies with the process.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["StateError", "StateStore"]


class StateError(Exception):
    """The state file exists but cannot be read back."""


class StateStore:
    """Holds ``data`` (a JSON-compatible dict) and persists it on ``save()``."""

    def __init__(self, path: str | os.PathLike[str] | None, factory: Callable[[], dict[str, Any]]) -> None:
        """Load ``path`` when it exists, else start from ``factory()``.

        Raises:
            StateError: when the file is not a JSON object.
        """
        self.path = Path(path) if path is not None else None
        self._factory = factory
        self.data: dict[str, Any] = self._load()

    def _load(self) -> dict[str, Any]:
        if self.path is None or not self.path.exists():
            return self._factory()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read sandbox state {self.path}: {exc}") from exc
        if not isinstance(data, dict):
            raise StateError(f"sandbox state {self.path} is not a JSON object")
        return data

    def save(self) -> None:
        """Write the state to its file (no-op in memory)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.data, separators=(",", ":"), sort_keys=True)
        # mkstemp creates the file 0600, and os.replace keeps that mode.
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _fsync_dir(self.path.parent)

    def reset(self) -> None:
        """Start over from ``factory()`` and save."""
        self.data = self._factory()
        self.save()


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platform dependent
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - platform dependent
        pass
    finally:
        os.close(fd)
