"""Many transactions at once: their requests grouped into batches, dependencies in waves.

The connector writes what one transaction needs as a *steps* generator: it
yields the requests it needs one after the other (``Query``, ``Read``,
``Write``) and gets each answer back (or the error thrown in, so it can
react, e.g. look up a refused duplicate). ``run_single`` runs one such
generator request by request; ``WaveRunner`` runs many side by side:

- **Dependencies.** Each transaction names what it touches (``resources``:
  an invoice number, a payment holder). A transaction starts only once every
  earlier one of the window that touches the same thing has finished, so an
  invoice exists (and its Id is known) before its payment, credit memo or
  deposit application; a payment before the deposit application that edits
  it. Transactions that touch nothing in common go side by side: QuickBooks'
  batch items are independent and may not see each other's writes
  (reference §3.3), so a dependent item always goes in a later request.
- **Rounds.** Each round gathers the next request of every running
  transaction and sends them: batches of up to 30 items while the batch
  budget (40 per minute) has room, single requests in the rest of the
  minute's budget (500 - 40): each batch of 30 is followed by 11 singles
  (the split is fixed, not timed, so the same round makes the same batches).
- **Outcomes per item.** A batch item's Fault goes to its own transaction
  only. A throttled request (429, or a batch item's 3001) did not run: it
  goes again, as it is, in the next round. Another transient failure (a
  batch item's 10000, a 5xx, a dropped connection) may have landed: that
  transaction starts again *uncertain*, so its first request is the lookup
  by DocNumber or stored key, and only then, if nothing is found, the
  write. After ``RESTARTS`` such failures (or ``THROTTLES`` 429s) it is
  handed back to the replay loop as transient, and the transactions waiting
  on it as ``Deferred`` (never sent). A 429 on a whole request pauses that
  channel (batches or singles), from 0.25 s doubling up to the 60 s
  QuickBooks asks for: Partida's own pace keeps within the budget, so a 429
  means someone else's traffic or a hiccup, and the other channel goes on.
  An authentication failure stops everything.
- **requestid.** Single writes carry their own, derived from the
  transaction's persisted key. A batch holding writes carries one derived
  from its items' requestids and from how many times this process sent that
  very composition before: the first sending is the same in every run, so a
  batch a killed run had sent is answered from QuickBooks' memory, and a
  batch whose stored answer held failures is never replayed as is. A batch
  of lookups carries none, so a lookup is never answered from a stale
  memory.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Generator
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from connectors.base import PushResult
from connectors.errors import AuthError
from connectors.errors import ConnectorError
from connectors.errors import Deferred
from connectors.errors import RateLimited
from connectors.errors import TransientError
from connectors.pacing import Pacer
from connectors.quickbooks import references
from connectors.quickbooks.client import BATCH_MAX
from connectors.quickbooks.client import PAGE
from connectors.quickbooks.client import FaultError
from connectors.quickbooks.client import QuickBooksClient

__all__ = ["Query", "Read", "Steps", "WaveRunner", "Work", "Write", "run_single"]

Record = dict[str, Any]
RESTARTS = 6  # transient failures of one transaction within one call before the replay loop takes over
THROTTLES = 8  # 429s of one request within one call before the replay loop takes over
SINGLES_BELOW = 4  # a round's rest shorter than this goes as single requests
# Per batch of 30, this many single requests: at 40 batches and 460 other
# requests a minute (reference §3.7), both budgets run out together.
SINGLES_PER_BATCH = 11
BACKOFF_FIRST_S = 0.25
NOT_FOUND = "610"


@dataclass(frozen=True, slots=True)
class Query:
    """``SELECT * FROM <Entity> [WHERE ...]`` (no paging clause): every row."""

    statement: str


@dataclass(frozen=True, slots=True)
class Read:
    """One record by Id."""

    entity: str
    ident: str


@dataclass(frozen=True, slots=True)
class Write:
    """A create, or an update when ``body`` has an ``Id``."""

    entity: str
    body: Record
    request_id: str


Op = Query | Read | Write
Steps = Generator[Op, Any, PushResult]


def execute(api: QuickBooksClient, op: Op) -> Any:
    """Send one op as a single request; its answer."""
    if isinstance(op, Query):
        return api.query(op.statement)
    if isinstance(op, Read):
        return api.read(op.entity, op.ident)
    return api.write(op.entity, op.body, op.request_id)


def run_single(api: QuickBooksClient, steps: Steps) -> PushResult:
    """Run one transaction's steps, one request at a time; errors it does not handle propagate."""
    answer: Any = None
    error: ConnectorError | None = None
    while True:
        try:
            op = steps.send(answer) if error is None else steps.throw(error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            answer, error = execute(api, op), None
        except ConnectorError as exc:
            answer, error = None, exc


@dataclass(frozen=True)
class Work:
    """One transaction for the runner: what it touches, and how to start its steps."""

    resources: frozenset[str]
    start: Callable[[bool], Steps]  # uncertain -> steps
    uncertain: bool


@dataclass
class _Task:
    index: int
    work: Work
    after: frozenset[int]
    uncertain: bool
    steps: Steps | None = None
    op: Op | None = None
    restarts: int = 0
    throttled: int = 0
    not_before: float = 0.0
    result: PushResult | ConnectorError | None = None


@dataclass
class _Channel:
    """Batches or single requests: their own pacer and 429 pause."""

    pacer: Pacer | None
    paused_until: float = 0.0
    throttled: int = 0  # 429s in a row

    def wait_s(self, overall: Pacer, now: float) -> float:
        own = self.pacer.wait_s() if self.pacer is not None else 0.0
        return max(own, overall.wait_s(), self.paused_until - now)

    def answered(self, error: ConnectorError | None, now: float) -> None:
        if isinstance(error, RateLimited):
            self.throttled += 1
            self.paused_until = now + _pause(self.throttled, error)
        else:
            self.throttled = 0


def _pause(throttled: int, error: RateLimited) -> float:
    """How long to wait after the ``throttled``-th 429 in a row: from 0.25 s,
    doubling, up to what QuickBooks asks."""
    return float(min(BACKOFF_FIRST_S * 2 ** (throttled - 1), max(error.retry_after_s, BACKOFF_FIRST_S)))


@dataclass
class Stats:
    """What a runner sent, for reports."""

    rounds: int = 0
    batches: int = 0
    batch_items: int = 0
    singles: int = 0
    restarts: int = 0


@dataclass
class WaveRunner:
    """Runs many transactions' steps in rounds over batches and single requests."""

    api: QuickBooksClient
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    stats: Stats = field(default_factory=Stats)
    _sent: Counter[str] = field(default_factory=Counter)  # batch compositions sent, for their requestids

    def __post_init__(self) -> None:
        self._batch = _Channel(self.api.batch_pacer)
        self._single = _Channel(self.api.single_pacer)

    def run(self, works: Sequence[Work | ConnectorError]) -> list[PushResult | ConnectorError]:
        """Each work's outcome, in order: its ``PushResult`` or its error."""
        tasks = self._tasks(works)
        results: list[PushResult | ConnectorError | None] = [w if isinstance(w, ConnectorError) else None
                                                             for w in works]
        try:
            while True:
                self._start_ready(tasks)
                running = [t for t in tasks if t.result is None and t.op is not None]
                if not running:
                    break
                self.stats.rounds += 1
                self._round(running)
        except AuthError as exc:
            for task in tasks:
                if task.result is None:
                    task.result = exc
        for task in tasks:
            if task.result is None:  # never finished: sent with an unknown outcome, or not sent at all
                task.result = TransientError("unfinished") if task.uncertain and not task.work.uncertain \
                    else Deferred("not sent")
            results[task.index] = task.result
        return results  # type: ignore[return-value]

    # -- scheduling ----------------------------------------------------------------------------

    def _tasks(self, works: Sequence[Work | ConnectorError]) -> list[_Task]:
        last: dict[str, int] = {}
        tasks = []
        for index, work in enumerate(works):
            if isinstance(work, ConnectorError):
                continue
            tasks.append(_Task(index, work, frozenset(last[r] for r in work.resources if r in last),
                               work.uncertain))
            for resource in work.resources:
                last[resource] = index
        return tasks

    def _start_ready(self, tasks: list[_Task]) -> None:
        """Start every task whose predecessors have finished; defer those whose
        predecessor ended unfinished (transient)."""
        done = {t.index: t for t in tasks if t.result is not None}
        for task in tasks:
            if task.result is not None or task.steps is not None:
                continue
            if not all(i in done for i in task.after):
                continue
            stuck = [done[i] for i in task.after if isinstance(done[i].result, (TransientError, AuthError))]
            if stuck:
                task.result = Deferred(f"waits for an earlier transaction ({stuck[0].result})")
                done[task.index] = task
                continue
            while task.steps is None and task.result is None:  # a failed start (names, paging) starts again
                pause = task.not_before - self.clock()
                if pause > 0:
                    self.sleep(pause)
                task.steps = task.work.start(task.uncertain)
                self._advance(task, None, None)
            if task.result is not None:
                done[task.index] = task

    def _advance(self, task: _Task, answer: Any, error: ConnectorError | None) -> None:
        """Feed an answer (or an error) to a task; its next op, or its result."""
        assert task.steps is not None
        if isinstance(error, RateLimited) and task.throttled < THROTTLES:
            task.throttled += 1  # refused before it ran: the same request goes again next round
            return
        if isinstance(error, (TransientError, AuthError)):
            self._restart(task, error)
            return
        try:
            task.op = task.steps.send(answer) if error is None else task.steps.throw(error)
        except StopIteration as stop:
            task.op, task.result = None, stop.value
        except AuthError:
            raise
        except RateLimited as exc:  # a synchronous request inside the steps (names, paging), refused unrun
            if task.throttled >= THROTTLES:
                self._restart(task, exc)
            else:
                task.throttled += 1
                task.not_before = self.clock() + _pause(task.throttled, exc)
                task.steps.close()
                task.steps, task.op = None, None  # starts again once the pause is over
        except TransientError as exc:  # the same, with an unknown outcome
            self._restart(task, exc)
        except ConnectorError as exc:
            task.op, task.result = None, exc

    def _restart(self, task: _Task, error: ConnectorError) -> None:
        if isinstance(error, AuthError):
            raise error
        assert task.steps is not None
        task.steps.close()
        task.steps, task.op = None, None
        task.uncertain = True  # it may have landed: look it up first
        task.restarts += 1
        self.stats.restarts += 1
        if task.restarts > RESTARTS:
            task.result = error

    # -- one round ------------------------------------------------------------------------------

    def _round(self, running: list[_Task]) -> None:
        batches, singles = split(running)
        while batches or singles:
            now = self.clock()
            batch_wait = self._batch.wait_s(self.api.pacer, now) if batches else float("inf")
            single_wait = self._single.wait_s(self.api.pacer, now) if singles else float("inf")
            if batch_wait <= 0:
                self._send_batch(batches.pop(0))
            elif single_wait <= 0:
                self._send_single(singles.pop(0))
            else:
                self.sleep(min(batch_wait, single_wait))

    def _send_single(self, task: _Task) -> None:
        assert task.op is not None
        self.stats.singles += 1
        try:
            answer, error = execute(self.api, task.op), None
        except ConnectorError as exc:
            answer, error = None, exc
        self._single.answered(error, self.clock())
        self._advance(task, answer, error)

    def _send_batch(self, chunk: list[_Task]) -> None:
        items = [_item(f"b{i}", task.op) for i, task in enumerate(chunk) if task.op is not None]
        self.stats.batches += 1
        self.stats.batch_items += len(items)
        try:
            answers: list[Any] = self.api.batch(items, self._request_id(chunk))
            error = None
        except ConnectorError as exc:
            answers, error = [exc] * len(chunk), exc
        self._batch.answered(error, self.clock())
        for task, answer in zip(chunk, answers, strict=True):
            if isinstance(answer, ConnectorError):
                self._advance(task, None, answer)
                continue
            try:
                value = self._value(task.op, answer)
            except ConnectorError as exc:
                self._advance(task, None, exc)
                continue
            self._advance(task, value, None)

    def _request_id(self, chunk: list[_Task]) -> str | None:
        writes = sorted(t.op.request_id for t in chunk if isinstance(t.op, Write))
        if not writes:
            return None
        parts = sorted(t.op.request_id if isinstance(t.op, Write) else repr(t.op) for t in chunk)
        content = hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:16]
        sent = self._sent[content]
        self._sent[content] += 1
        return references.request_id(f"batch:{content}:{sent}")

    def _value(self, op: Op | None, answer: Record) -> Any:
        """The answer of one batch item, as ``execute`` would give it."""
        if isinstance(op, Write):
            return dict(answer[op.entity])
        rows = next((list(v) for v in (answer.get("QueryResponse") or {}).values() if isinstance(v, list)), [])
        if isinstance(op, Read):
            if not rows:
                raise FaultError(f"QuickBooks batch: no {op.entity} {op.ident}", code=NOT_FOUND)
            return dict(rows[0])
        assert isinstance(op, Query)
        return rows if len(rows) < PAGE else self.api.query(op.statement)


def split(tasks: list[_Task]) -> tuple[list[list[_Task]], list[_Task]]:
    """A round's requests: batches of 30, each followed by 11 single requests, a
    short rest as singles.

    Deterministic (it does not depend on timing), so a round sent again with
    the same transactions makes the same batches, with the same requestids.
    """
    batches: list[list[_Task]] = []
    singles: list[_Task] = []
    i = 0
    while i < len(tasks):
        if len(tasks) - i < SINGLES_BELOW:
            singles += tasks[i:]
            break
        batches.append(tasks[i:i + BATCH_MAX])
        singles += tasks[i + BATCH_MAX:i + BATCH_MAX + SINGLES_PER_BATCH]
        i += BATCH_MAX + SINGLES_PER_BATCH
    return batches, singles


def _item(bid: str, op: Op | None) -> Record:
    if isinstance(op, Query):
        return {"bId": bid, "Query": f"{op.statement} MAXRESULTS {PAGE}"}
    if isinstance(op, Read):
        return {"bId": bid, "Query": f"SELECT * FROM {op.entity} WHERE Id = '{op.ident}'"}
    assert isinstance(op, Write)
    return {"bId": bid, "operation": "update" if op.body.get("Id") else "create", op.entity: op.body}
