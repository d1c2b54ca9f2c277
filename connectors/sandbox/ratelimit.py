"""Sliding-window rate limiter: at most N requests per window, per key.

The window is a log of the accepted requests' times, so the limit holds over
*every* window of ``window_s`` seconds, not only over aligned ones (a fixed
window lets 2N requests through around a boundary). Refused requests are not
logged: a client hammering through its 429s does not push its own reset back.

The clock is injected (``time.monotonic`` by default) so tests can move time
by hand instead of sleeping.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["RateDecision", "SlidingWindowLimiter"]


@dataclass(frozen=True, slots=True)
class RateDecision:
    """The limiter's answer for one request.

    Attributes:
        allowed: whether the request may proceed.
        limit: requests allowed per window.
        remaining: requests still allowed in the current window.
        reset_s: seconds until the oldest counted request leaves the window
            (0 when nothing is counted).
    """

    allowed: bool
    limit: int
    remaining: int
    reset_s: float

    @property
    def retry_after_s(self) -> int:
        """Whole seconds to wait before retrying a refused request (at least 1)."""
        return max(1, math.ceil(self.reset_s))


class SlidingWindowLimiter:
    """At most ``limit`` requests per ``window_s`` seconds for each key."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._log: dict[str, deque[float]] = {}

    def hit(self, key: str) -> RateDecision:
        """Count one request for ``key`` if the window has room."""
        now = self._clock()
        log = self._prune(key, now)
        if len(log) >= self.limit:
            return self._decision(False, log, now)
        log.append(now)
        return self._decision(True, log, now)

    def peek(self, key: str) -> RateDecision:
        """The state of ``key``'s window, without counting a request."""
        now = self._clock()
        return self._decision(len(self._prune(key, now)) < self.limit, self._log.get(key, deque()), now)

    def _prune(self, key: str, now: float) -> deque[float]:
        log = self._log.setdefault(key, deque())
        while log and log[0] <= now - self.window_s:
            log.popleft()
        return log

    def _decision(self, allowed: bool, log: deque[float], now: float) -> RateDecision:
        reset_s = max(0.0, log[0] + self.window_s - now) if log else 0.0
        return RateDecision(allowed, self.limit, max(0, self.limit - len(log)), reset_s)
