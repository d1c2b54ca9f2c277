"""Webhook secrets: one per ledger, in an owner-only file outside the ledgers.

Kept like the provider tokens (``connectors.tokens``): one JSON file,
``~/.config/partida/webhook-secrets.json`` (or ``$PARTIDA_WEBHOOK_SECRETS``),
mode 0600 in a 0700 folder, keyed by the ledger's resolved path — never inside
a served ledger folder, so nothing that serves or copies ledgers carries it.
Writes go through a temporary file, fsync and rename, under a file lock.

``partida secret rotate`` makes a new random secret (32 bytes, as
``whsec_`` + 64 hex digits) and prints it once; it is never printed again.
The previous secret stays valid for a grace period (10 minutes by default,
``--grace 0`` to revoke it at once when it leaked), so a platform can switch
to the new one without refused deliveries. The server re-reads the file when
it changes, so a rotation needs no restart.
"""

from __future__ import annotations

import os
import secrets as random_source
import time
from dataclasses import dataclass
from pathlib import Path

from connectors.private_file import PrivateJsonFile

SECRETS_ENV = "PARTIDA_WEBHOOK_SECRETS"
GRACE_S = 600
PREFIX = "whsec_"


def secrets_path() -> Path:
    return Path(os.environ.get(SECRETS_ENV) or Path.home() / ".config" / "partida" / "webhook-secrets.json")


def ledger_key(root: Path) -> str:
    return str(root.resolve())


@dataclass(frozen=True)
class LedgerSecrets:
    """The secret in force for a ledger, and the previous one until its grace ends."""

    current: str
    created: float
    previous: str = ""
    previous_until: float = 0.0

    def valid(self, now: float) -> list[str]:
        return [self.current] + ([self.previous] if self.previous and now < self.previous_until else [])

    def __repr__(self) -> str:  # never show a secret, even in a traceback
        return f"LedgerSecrets(created={self.created}, previous_until={self.previous_until})"


class SecretStore:
    def __init__(self, path: Path | None = None):
        self.file = PrivateJsonFile(path or secrets_path())
        self.path = self.file.path
        self._lock = self.file.lock
        self._cache: tuple[tuple[int, int], dict[str, dict[str, object]]] | None = None

    def _read(self) -> dict[str, dict[str, object]]:
        return self.file.read()

    def _write(self, data: dict[str, dict[str, object]]) -> None:
        self.file.write(data)

    def get(self, root: Path) -> LedgerSecrets | None:
        """The ledger's secrets; the file is read again only when it changed."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        if self._cache is None or self._cache[0] != stamp:
            self._cache = (stamp, self._read())
        entry = self._cache[1].get(ledger_key(root))
        return LedgerSecrets(**entry) if entry else None  # type: ignore[arg-type]

    def rotate(self, root: Path, grace_s: float = GRACE_S, now: float | None = None) -> tuple[str, LedgerSecrets]:
        """Make a new secret for ``root``; returns it with what is now in force."""
        moment = time.time() if now is None else now
        fresh = PREFIX + random_source.token_hex(32)
        with self._lock:
            data = self._read()
            old = data.get(ledger_key(root))
            previous = str(old["current"]) if old and grace_s > 0 else ""
            entry = LedgerSecrets(fresh, moment, previous, moment + grace_s if previous else 0.0)
            data[ledger_key(root)] = {"current": entry.current, "created": entry.created,
                                      "previous": entry.previous, "previous_until": entry.previous_until}
            self._write(data)
        return fresh, entry
