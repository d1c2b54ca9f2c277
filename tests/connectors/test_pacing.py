"""The client-side pacer: never more than N requests in any window, measured
the way a server counts them (arrival happens before the response returns)."""

from __future__ import annotations

import threading
import time

import pytest

from connectors.pacing import Pacer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.now += seconds


def test_sequential_requests_fill_the_window_then_wait() -> None:
    clock = FakeClock()
    pacer = Pacer(25, 5.0, clock=clock, sleep=clock.sleep)
    starts: list[float] = []
    for _ in range(60):
        with pacer.slot():
            starts.append(clock.now)
            clock.now += 0.01  # the round trip
    # The first 25 go at once; each later one waits for the request 25 before it
    # to have *completed* a whole window ago.
    assert starts[24] - starts[0] == pytest.approx(24 * 0.01)
    for i in range(25, 60):
        assert starts[i] >= starts[i - 25] + 0.01 + 5.0 - 1e-9
    assert starts[59] - starts[0] < 2 * 5.0 + 60 * 0.01 + 0.1  # and no slower than that
    assert pacer.waited_s > 9.0


def test_threads_share_the_budget() -> None:
    pacer = Pacer(5, 0.3)
    finished: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(4):
            with pacer.slot():
                time.sleep(0.005)
                with lock:
                    finished.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    finished.sort()
    assert len(finished) == 16
    for i in range(5, 16):
        assert finished[i] - finished[i - 5] >= 0.3 - 0.01


def test_bad_settings() -> None:
    with pytest.raises(ValueError):
        Pacer(0, 5.0)
    with pytest.raises(ValueError):
        Pacer(25, 0)
