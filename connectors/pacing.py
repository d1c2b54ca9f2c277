"""Client-side pacing: never send more than N requests in any window of W seconds.

A provider's limit is counted where the request *arrives* (Pennylane: 25
requests per 5 s per token, over a sliding window). A client cannot see
arrival times, but it knows an upper bound of each one: the moment the
response came back. So the pacer logs completion times, and lets a request
go only when fewer than ``limit`` requests completed in the last
``window_s`` seconds, counting those still in flight as if they completed
now. Then any ``limit + 1`` arrivals are more than ``window_s`` apart,
whatever the latency, and a replay never meets a 429 from its own traffic,
while it still uses nearly the whole budget (one window plus one round trip
per ``limit`` requests).

Thread-safe; the clock and the sleep are injected so tests can run on a fake
clock shared with the server's limiter.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from collections.abc import Iterator

__all__ = ["Pacer"]


class Pacer:
    """At most ``limit`` requests per ``window_s`` seconds (sliding window)."""

    def __init__(self, limit: int, window_s: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("a pacer needs limit >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self.clock, self.sleep = clock, sleep  # for callers that wait on the same time
        self._done: deque[float] = deque()
        self._in_flight = 0
        self._lock = threading.Lock()
        self.waited_s = 0.0  # total time spent waiting (for reports and tests)

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Wait for room, then hold one request slot for the ``with`` block."""
        self._acquire()
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._done.append(self._clock())

    def wait_s(self) -> float:
        """Seconds until a request could go (0: now), without taking a slot."""
        with self._lock:
            return self._wait_s(self._clock())

    def _acquire(self) -> None:
        while True:
            with self._lock:
                wait_s = self._wait_s(self._clock())
                if wait_s <= 0:
                    self._in_flight += 1
                    return
            self.waited_s += wait_s
            self._sleep(wait_s)

    def _wait_s(self, now: float) -> float:
        """Seconds until a request may go (0: now). Called with the lock held."""
        while self._done and self._done[0] <= now - self.window_s:
            self._done.popleft()
        if len(self._done) + self._in_flight < self.limit:
            return 0.0
        # The oldest completions must leave the window to make room.
        excess = len(self._done) + self._in_flight - self.limit
        if excess >= len(self._done):
            # Every slot is taken by requests in flight: poll until one completes.
            return min(0.05, self.window_s)
        return self._done[excess] + self.window_s - now
