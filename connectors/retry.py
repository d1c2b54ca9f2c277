"""Bounded retries with backoff that honour the provider's retry-after.

Built on tenacity (well kept, and it gets the attempt bookkeeping right);
the policy is a small frozen value with an injectable sleep so tests run
with no real delay.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Callable, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from .errors import RateLimited, TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts_max: int = 10
    base_delay_s: float = 0.5
    delay_s_max: float = 30.0
    jitter: float = 0.2
    sleep: Callable[[float], None] = field(default=time.sleep)
    rng: random.Random = field(default_factory=lambda: random.Random(0))

    def next_delay(self, attempt: int, retry_after_s: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1``; a retry-after wins."""
        if retry_after_s is not None:
            return min(max(retry_after_s, 0.0), self.delay_s_max)
        delay = min(self.base_delay_s * 2 ** (attempt - 1), self.delay_s_max)
        return delay * (1 + self.jitter * self.rng.random())

    def run(self, call: Callable[[], T], on_retry: Callable[[Exception], None] | None = None) -> T:
        """Call until it succeeds, a non-transient error is raised, or attempts run out
        (then the last TransientError is raised)."""

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            after = exc.retry_after_s if isinstance(exc, RateLimited) else None
            return self.next_delay(state.attempt_number, after)

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            if on_retry is not None and isinstance(exc, Exception):
                on_retry(exc)

        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.attempts_max),
            wait=wait,
            sleep=self.sleep,
            before_sleep=before_sleep,
            reraise=True,
        )
        return retrying(call)
