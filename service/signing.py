"""Webhook signatures: HMAC-SHA256 of a timestamp and the body, pure functions.

A request carries two headers::

    X-Partida-Timestamp: 1767225600            (Unix seconds, when it was signed)
    X-Partida-Signature: v1=<hex HMAC-SHA256(secret, timestamp + "." + body)>

The key is the secret's text as printed by ``partida secret rotate`` (UTF-8);
the signed bytes are the timestamp's digits, one ``.``, then the body exactly
as sent (for a GET, the empty body). Signing the timestamp bounds how long a
captured request can be replayed: requests signed more than five minutes
before or after the server's clock are refused; within that window a replay
is harmless because events are idempotent by id. ``v1=`` names the scheme so
another can be added later; a sender may put several comma-separated
signatures (``v1=…,v1=…``) in the header, and one that matches any secret in
force is enough. Comparisons are constant-time (``hmac.compare_digest``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

TIMESTAMP_HEADER = "X-Partida-Timestamp"
SIGNATURE_HEADER = "X-Partida-Signature"
SCHEME = "v1"
WINDOW_S = 300  # a request signed more than 5 minutes away from now is refused
MAX_SIGNATURES = 4  # bounds the work a header can ask for


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``timestamp + "." + body`` under ``secret``."""
    return hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def sign(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The two headers of a request signed at ``timestamp`` (what a sender does)."""
    stamp = str(int(timestamp))
    return {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: f"{SCHEME}={signature(secret, stamp, body)}"}


def check_timestamp(value: str | None, now: float) -> str | None:
    """Why the timestamp header is unacceptable, or None when it is fresh."""
    if not value:
        return f"missing {TIMESTAMP_HEADER} header"
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        return f"{TIMESTAMP_HEADER} must be Unix seconds, such as 1767225600"
    if abs(now - int(value)) > WINDOW_S:
        return f"{TIMESTAMP_HEADER} is more than {WINDOW_S // 60} minutes away from the server's clock " \
               "(a replayed request, or a clock to set right)"
    return None


def _candidates(header: str) -> list[str]:
    found = []
    for part in header.split(",")[:MAX_SIGNATURES]:
        scheme, _, value = part.strip().partition("=")
        if scheme == SCHEME and value:
            found.append(value.strip())
    return found


def check_signature(header: str | None, timestamp: str, body: bytes, secrets: Iterable[str]) -> str | None:
    """Why the signature header does not authenticate ``body``, or None when it does."""
    if not header:
        return f"missing {SIGNATURE_HEADER} header"
    given = _candidates(header)
    if not given:
        return f"{SIGNATURE_HEADER} must look like {SCHEME}=<hex HMAC-SHA256>"
    matched = False
    for secret in secrets:
        expected = signature(secret, timestamp, body)
        for value in given:
            # Every pair is compared (no early exit), in constant time each.
            matched |= hmac.compare_digest(expected, value.lower() if value.isascii() else "")
    return None if matched else "the signature does not match (wrong secret, or the body was changed)"
