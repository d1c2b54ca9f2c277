"""Provider credentials: one owner-only file, refreshed one process at a time.

Tokens live outside the ledger, in ``~/.config/partida/tokens.json`` (or the
file named by ``PARTIDA_TOKENS``), mode 0600 in a 0700 folder, keyed by
provider and ledger. OAuth refresh tokens rotate on every use, so a refresh
holds a lock on the file, re-reads it (another process may have refreshed
already), and writes the new pair to disk before the new access token is
used. No token is ever printed or logged.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Generator

import httpx

from .errors import AuthError
from .private_file import PrivateJsonFile

TOKENS_ENV = "PARTIDA_TOKENS"
EXPIRY_MARGIN_S = 60


def tokens_path() -> Path:
    return Path(os.environ.get(TOKENS_ENV) or Path.home() / ".config" / "partida" / "tokens.json")


def connection_key(provider: str, ledger_root: Path) -> str:
    return f"{provider}:{ledger_root.resolve()}"


@dataclass(frozen=True)
class Credentials:
    kind: str  # "api_token" or "oauth"
    base_url: str
    access_token: str
    refresh_token: str = ""
    expires_at: float = 0.0  # epoch seconds; 0 = does not expire
    token_url: str = ""
    client_id: str = ""
    client_secret: str = ""
    extra: dict[str, str] = dataclasses.field(default_factory=dict)  # e.g. realmId

    def expired(self, now: float) -> bool:
        return bool(self.expires_at) and now >= self.expires_at - EXPIRY_MARGIN_S

    def __repr__(self) -> str:  # never show a secret, even in a traceback
        return f"Credentials(kind={self.kind!r}, base_url={self.base_url!r}, expires_at={self.expires_at})"


class TokenStore:
    def __init__(self, path: Path | None = None):
        self.file = PrivateJsonFile(path or tokens_path())
        self.path = self.file.path
        self._lock = self.file.lock

    def _read(self) -> dict[str, dict[str, object]]:
        return self.file.read()

    def _write(self, data: dict[str, dict[str, object]]) -> None:
        self.file.write(data)

    def get(self, key: str) -> Credentials | None:
        entry = self._read().get(key)
        return Credentials(**entry) if entry else None  # type: ignore[arg-type]

    def put(self, key: str, creds: Credentials) -> None:
        with self._lock:
            data = self._read()
            data[key] = dataclasses.asdict(creds)
            self._write(data)

    def refresh(self, key: str, stale: Credentials, http: httpx.Client, now: float | None = None) -> Credentials:
        """New credentials for ``key``; at most one process refreshes at a time."""
        with self._lock:
            current = self.get(key)
            if current is None:
                raise AuthError("not connected")
            moment = time.time() if now is None else now
            if current.access_token != stale.access_token and not current.expired(moment):
                return current  # another process refreshed while we waited
            if current.kind != "oauth" or not current.refresh_token:
                raise AuthError("the access token was refused (expired or revoked)")
            response = http.post(current.token_url, data={
                "grant_type": "refresh_token", "refresh_token": current.refresh_token,
                "client_id": current.client_id, "client_secret": current.client_secret,
            })
            if response.status_code != 200:
                raise AuthError(f"the refresh token was refused ({_oauth_error(response)})")
            body = response.json()
            fresh = dataclasses.replace(
                current,
                access_token=body["access_token"],
                refresh_token=body.get("refresh_token", current.refresh_token),
                expires_at=moment + float(body.get("expires_in", 3600)),
            )
            data = self._read()
            data[key] = dataclasses.asdict(fresh)
            self._write(data)  # the rotated refresh token is on disk before it is used
            return fresh


def _oauth_error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", response.status_code))
    except ValueError:
        return str(response.status_code)


class StoredAuth(httpx.Auth):
    """Bearer auth from the token store, refreshing once on expiry or a 401."""

    def __init__(self, store: TokenStore, key: str, token_http: httpx.Client | None = None):
        self.store = store
        self.key = key
        self.token_http = token_http or httpx.Client(timeout=30)
        self._creds: Credentials | None = None

    def _current(self) -> Credentials:
        if self._creds is None:
            self._creds = self.store.get(self.key)
            if self._creds is None:
                raise AuthError("not connected")
        if self._creds.expired(time.time()):
            self._creds = self.store.refresh(self.key, self._creds, self.token_http)
        return self._creds

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        creds = self._current()
        request.headers["Authorization"] = f"Bearer {creds.access_token}"
        response = yield request
        if response.status_code == 401 and creds.kind == "oauth":
            self._creds = self.store.refresh(self.key, creds, self.token_http)
            request.headers["Authorization"] = f"Bearer {self._creds.access_token}"
            yield request
