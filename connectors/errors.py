"""Connector failures, grouped by what to do next.

```
ConnectorError
├── TransientError      retry with backoff (5xx, dropped connection, timeout)
│   ├── RateLimited     retry after ``retry_after_s`` (429)
│   └── Deferred        not sent at all (it waits for another item): retry, no lookup needed
├── AuthError           stop: the user must run `partida connect <provider>` again
├── PermanentError      the provider refused this item (4xx): record it, go on with the others
└── ConflictError       same idempotency key, different content: park the item
```

Each carries the provider's message (never a token). Exceptions from httpx
are translated into these in one place per client, with ``raise … from exc``.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every failure a connector reports."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status


class TransientError(ConnectorError):
    """Worth retrying: the outcome of the request may be unknown."""


class RateLimited(TransientError):
    """The provider asked us to slow down."""

    def __init__(self, message: str, *, retry_after_s: float, status: int | None = 429):
        super().__init__(message, status=status)
        self.retry_after_s = retry_after_s


class Deferred(TransientError):
    """The item was not sent: it waits for another one that has not finished."""


class AuthError(ConnectorError):
    """Missing, expired or revoked credentials that a refresh cannot fix."""


class PermanentError(ConnectorError):
    """The provider rejected this item; retrying the same request will not help."""


class ConflictError(ConnectorError):
    """The remote holds a different document under this item's key."""
