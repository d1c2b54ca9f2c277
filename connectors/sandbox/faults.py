"""Seeded fault plans: the misbehaviour a sandbox injects into its answers.

A plan is written ``SEED:PLAN``:

- ``42:10%``: 10 % of the faultable requests fail, kinds mixed
  (429 bursts 30 %, 5xx 30 %, slow 20 %, drop 20 % of that share);
- ``7:429=5%,5xx=3%,slow=1%,drop=2%``: one rate per kind.

Kinds:

- ``429``: a burst of consecutive 429 answers (2 to 5 requests in a row) with
  ``retry-after``, as a provider's own limiter does under load;
- ``5xx``: one 500, 502 or 503 answer; the request is **not** executed;
- ``slow``: the request is executed after a bounded delay (``slow_s``, 2 s);
- ``drop``: the request **is executed and committed**, then the connection is
  closed before the answer is complete, so the client sees a transport error
  and cannot know whether its write happened.

Invariant: for one plan, the faults depend only on the sequence of faultable
requests (every draw comes from one ``random.Random(seed)``, in request
order), never on time or on the answers. Which requests are faultable is the provider's choice;
the sandboxes never fault their OAuth and ``/sandbox/`` endpoints.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections import Counter
from collections.abc import Awaitable
from collections.abc import Callable
from collections.abc import MutableMapping
from dataclasses import dataclass
from decimal import Decimal
from decimal import InvalidOperation
from typing import Any

__all__ = [
    "KINDS",
    "DroppedConnectionError",
    "Fault",
    "FaultAnswer",
    "FaultInjector",
    "FaultMiddleware",
    "FaultPlan",
    "FaultRenderer",
    "parse_fault_plan",
    "preview",
    "render_plain_fault",
]

KINDS = ("429", "5xx", "slow", "drop")
# How a bare ``N%`` is shared out between the kinds.
_MIXED_SHARES = (("429", Decimal("0.3")), ("5xx", Decimal("0.3")), ("slow", Decimal("0.2")), ("drop", Decimal("0.2")))
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Which share of requests fails, and how.

    Attributes:
        seed: seed of the plan's random generator.
        rates: ``(kind, probability)`` pairs, probabilities in ``[0, 1]``.
        slow_s: delay of a ``slow`` answer, in seconds.
        burst_min: shortest 429 burst, in requests.
        burst_max: longest 429 burst, in requests.
        retry_after_s: the ``retry-after`` of an injected 429 or 503.
    """

    seed: int
    rates: tuple[tuple[str, Decimal], ...]
    slow_s: float = 2.0
    burst_min: int = 2
    burst_max: int = 5
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        total = sum((rate for _, rate in self.rates), Decimal(0))
        if total > 1:
            raise ValueError(f"fault rates add up to {total * 100}%, more than 100%")
        for kind, rate in self.rates:
            if kind not in KINDS or rate < 0:
                raise ValueError(f"bad fault rate {kind}={rate}")
        if not 0 < self.burst_min <= self.burst_max:
            raise ValueError("429 bursts need 0 < burst_min <= burst_max")
        if not 0 <= self.slow_s <= 30:
            raise ValueError("slow_s must stay between 0 and 30 seconds")

    def rate(self, kind: str) -> Decimal:
        """The probability of ``kind`` for one request."""
        return sum((rate for name, rate in self.rates if name == kind), Decimal(0))

    def describe(self) -> str:
        """The plan in the ``SEED:PLAN`` syntax."""
        parts = [f"{kind}={_fmt_percent(rate)}" for kind, rate in self.rates if rate]
        return f"{self.seed}:{','.join(parts) or '0%'}"


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault.

    Attributes:
        kind: ``"429"``, ``"5xx"``, ``"slow"`` or ``"drop"``.
        status: the HTTP status sent for ``429`` and ``5xx``; None otherwise.
        delay_s: how long a ``slow`` answer waits.
    """

    kind: str
    status: int | None = None
    delay_s: float = 0.0


# status, headers and body of an injected 429 or 5xx answer.
FaultAnswer = tuple[int, list[tuple[bytes, bytes]], bytes]
FaultRenderer = Callable[[Fault, int], FaultAnswer]


def parse_fault_plan(text: str) -> FaultPlan:
    """Parse ``SEED:PLAN`` (see the module docstring).

    Raises:
        ValueError: with a message naming what is wrong.
    """
    seed_text, sep, plan_text = text.partition(":")
    if not sep or not seed_text.strip().lstrip("-").isdigit():
        raise ValueError(f"fault plan {text!r} is not SEED:PLAN, e.g. 42:10% or 7:429=5%,drop=2%")
    seed = int(seed_text)
    if "=" not in plan_text:
        total = _parse_percent(plan_text, text)
        return FaultPlan(seed, tuple((kind, total * share) for kind, share in _MIXED_SHARES))
    rates: dict[str, Decimal] = {}
    for item in plan_text.split(","):
        kind, eq, value = item.partition("=")
        kind = kind.strip()
        if not eq or kind not in KINDS:
            raise ValueError(f"fault plan {text!r}: {item!r} is not KIND=N% with KIND in {', '.join(KINDS)}")
        if kind in rates:
            raise ValueError(f"fault plan {text!r}: {kind} is given twice")
        rates[kind] = _parse_percent(value, text)
    return FaultPlan(seed, tuple(rates.items()))


def _parse_percent(value: str, text: str) -> Decimal:
    match = _PERCENT.match(value)
    if not match:
        raise ValueError(f"fault plan {text!r}: {value!r} is not a percentage like 10%")
    try:
        return Decimal(match.group(1)) / 100
    except InvalidOperation as exc:  # pragma: no cover - the regex already guards
        raise ValueError(f"fault plan {text!r}: bad percentage {value!r}") from exc


def _fmt_percent(rate: Decimal) -> str:
    return f"{(rate * 100).normalize():f}%"


class FaultInjector:
    """Draws the fault of each faultable request, in order.

    Not thread-safe: the sandboxes call it from their event loop only.
    """

    def __init__(self, plan: FaultPlan, counts: Counter[str] | None = None) -> None:
        """Start drawing; ``counts`` (faults injected per kind) may be shared across plans."""
        self.plan = plan
        self._rng = random.Random(plan.seed)
        self._burst_left = 0
        # Cumulative thresholds, drawn against one uniform number per request.
        self._thresholds: list[tuple[float, str]] = []
        edge = Decimal(0)
        for kind, rate in plan.rates:
            edge += rate
            self._thresholds.append((float(edge), kind))
        self.counts: Counter[str] = Counter() if counts is None else counts

    def next_fault(self) -> Fault | None:
        """The fault for the next request, or None when it is served normally."""
        fault = self._draw()
        if fault is not None:
            self.counts[fault.kind] += 1
        return fault

    def _draw(self) -> Fault | None:
        if self._burst_left:
            self._burst_left -= 1
            return Fault("429", 429)
        roll = self._rng.random()
        kind = next((name for edge, name in self._thresholds if roll < edge), None)
        if kind == "429":
            self._burst_left = self._rng.randint(self.plan.burst_min, self.plan.burst_max) - 1
            return Fault("429", 429)
        if kind == "5xx":
            return Fault("5xx", self._rng.choice((500, 502, 503)))
        if kind == "slow":
            return Fault("slow", delay_s=self.plan.slow_s)
        if kind == "drop":
            return Fault("drop")
        return None


def preview(plan: FaultPlan, requests: int) -> tuple[Fault | None, ...]:
    """The faults the first ``requests`` faultable requests would get."""
    injector = FaultInjector(plan)
    return tuple(injector.next_fault() for _ in range(requests))


class DroppedConnectionError(Exception):
    """Raised on purpose to make the ASGI server close a connection mid-answer."""


class FaultMiddleware:
    """ASGI middleware that applies a fault plan to the faultable requests.

    ``injector`` is called on each request, so the plan in force can change
    while the server runs (the sandboxes expose that under ``/sandbox/``).
    ``render_fault(fault, retry_after_s)`` shapes the injected 429 and 5xx
    answers in the provider's own error format; by default they are plain
    text (Pennylane's shape).
    """

    def __init__(
        self,
        app: ASGIApp,
        injector: Callable[[], FaultInjector | None],
        is_faultable: Callable[[Scope], bool],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        render_fault: FaultRenderer | None = None,
    ) -> None:
        self.app = app
        self._injector = injector
        self._is_faultable = is_faultable
        self._sleep = sleep
        self._render_fault = render_fault or render_plain_fault

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        injector = self._injector() if scope["type"] == "http" else None
        if injector is None or not self._is_faultable(scope):
            await self.app(scope, receive, send)
            return
        fault = injector.next_fault()
        if fault is None:
            await self.app(scope, receive, send)
        elif fault.kind == "slow":
            await self._sleep(fault.delay_s)
            await self.app(scope, receive, send)
        elif fault.kind == "drop":
            await self._commit_then_drop(scope, receive, send)
        else:
            status, headers, body = self._render_fault(fault, injector.plan.retry_after_s)
            headers = [*headers, (b"content-length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})

    async def _commit_then_drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 200

        async def swallow(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])

        await self.app(scope, receive, swallow)
        # Start a chunked answer and never finish it: the client has sent its
        # request and gets no usable response. A body-less status would make a
        # headers-only answer complete, hence 200 for those.
        await send({
            "type": "http.response.start",
            "status": 200 if status in (204, 304) else status,
            "headers": [(b"content-type", b"application/json")],
        })
        await send({"type": "http.response.body", "body": b"", "more_body": True})
        raise DroppedConnectionError("fault plan: connection dropped after the write was committed")


def render_plain_fault(fault: Fault, retry_after_s: int) -> FaultAnswer:
    """The default injected answer: plain text, ``retry-after`` on 429 and 503."""
    status = fault.status or 500
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if status == 429:
        body = f"Rate limit exceeded. Please retry in {retry_after_s} seconds.".encode()
        headers.append((b"retry-after", str(retry_after_s).encode()))
    elif status == 500:
        body = json.dumps({"error": "Internal Server Error", "status": 500}).encode()
        headers = [(b"content-type", b"application/json")]
    else:
        body = b"Bad Gateway" if status == 502 else b"Service Unavailable"
        if status == 503:
            headers.append((b"retry-after", str(retry_after_s).encode()))
    return status, headers, body
