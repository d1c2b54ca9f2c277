"""One writer per ledger: concurrent requests are group-committed.

Every request's body is parsed (``engine.events``, the same validation as
``partida record``) before it reaches the writer. The writer is an asyncio
task with a queue: it takes every request waiting, books them together in one
``LedgerSession`` and appends them in one write — one set of fsyncs for the
whole group, which is how many small concurrent requests reach thousands of
events per second. The booking and the disk writes run on a thread of the
ledger's own, so the event loop keeps reading requests meanwhile.

Each request keeps ``partida record``'s semantics inside the group: without
``keep_valid`` a request with any problem writes nothing (its problems are
all reported); with it, its valid events go in and the others are listed. A
request's events can depend on an earlier request of the same group (an
invoice, then its payment). The group is booked with the requests in arrival
order; when the engine reports problems it writes nothing, the requests (or,
with ``keep_valid``, the events) at fault are taken out and the rest is
booked again, until a pass is clean — at most one pass per request taken out.
"""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from engine.events import Event
from engine.layout import LockTimeout
from engine.ledger import LedgerSession
from engine.problems import Problem

MAX_GROUP_EVENTS = 5_000  # events booked in one write at most
MAX_QUEUED_EVENTS = 50_000  # beyond this, requests get 503 and retry (bounded memory)
LOCK_WAIT_S = 30  # another process holding the ledger longer: the group gets 503, the clients retry


@dataclass
class Job:
    """One request's parsed events, on its way to the ledger."""

    events: list[Event]
    problems: list[Problem]  # found while parsing
    keep_valid: bool
    future: asyncio.Future[Outcome] | None = None


@dataclass
class Outcome:
    written: bool  # False: this request wrote nothing (a problem, without keep_valid)
    recorded: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class Overloaded(Exception):
    """The writer has too much waiting: answer 503 and let the client retry."""


def commit_group(session: LedgerSession, jobs: list[Job]) -> list[Outcome]:
    """Book and append ``jobs`` in one write; one ``Outcome`` per job.

    ``session`` is entered (the writers' lock held).
    """
    outcomes = [Outcome(written=False, problems=list(job.problems)) for job in jobs]
    live: list[int] = []
    for i, job in enumerate(jobs):
        if job.problems and not job.keep_valid:
            # As `partida record`: nothing is written, every problem is told at once.
            found = session.record(job.events, dry_run=True).problems if job.events else []
            outcomes[i].problems = sorted(outcomes[i].problems + found, key=lambda p: p.line)
        else:
            live.append(i)
    dropped: dict[int, set[int]] = {i: set() for i in live}  # keep_valid: event positions taken out
    while live:
        combined: list[Event] = []
        where: dict[int, tuple[int, int]] = {}  # group line -> (job, position in the job)
        for i in live:
            for pos, event in enumerate(jobs[i].events):
                if pos not in dropped[i]:
                    combined.append(dataclasses.replace(event, line=len(combined) + 1))
                    where[len(combined)] = (i, pos)
        if not combined:
            break
        result = session.record(combined, keep_valid=False)
        if not result.problems:
            _distribute(jobs, outcomes, live, dropped, set(result.recorded))
            return outcomes
        at_fault: set[int] = set()
        for problem in result.problems:
            i, pos = where[problem.line]
            own = dataclasses.replace(problem, line=jobs[i].events[pos].line)
            outcomes[i].problems.append(own)
            if jobs[i].keep_valid:
                dropped[i].add(pos)
            else:
                at_fault.add(i)
        live = [i for i in live if i not in at_fault]
    for i in live:  # every event of these was taken out: nothing to write
        outcomes[i].written = True
    for outcome in outcomes:
        outcome.problems.sort(key=lambda p: p.line)
    return outcomes


def _distribute(jobs: list[Job], outcomes: list[Outcome], live: list[int], dropped: dict[int, set[int]],
                recorded: set[str]) -> None:
    """Tell each job which of its events were written now and which were there already."""
    first: set[str] = set()
    for i in live:
        outcome = outcomes[i]
        outcome.written = True
        for pos, event in enumerate(jobs[i].events):
            if pos in dropped[i]:
                continue
            if event.id in recorded and event.id not in first:
                first.add(event.id)  # the same id twice in a group: the first one wrote it
                outcome.recorded.append(event.id)
            else:
                outcome.unchanged.append(event.id)
        outcome.problems.sort(key=lambda p: p.line)


class LedgerWriter:
    """The only writer of one ledger in this process."""

    def __init__(self, root: Path, session_lock: threading.Lock, on_commit: Callable[[], None]):
        self.root = root
        self.session_lock = session_lock  # shared with the replay workers and status readers
        self.on_commit = on_commit
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._queued_events = 0
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"writer-{root.name}")
        self._task: asyncio.Task[None] | None = None
        # Figures for GET /status: how the group commit is doing.
        self.commits = 0
        self.committed_events = 0
        self.commit_s_total = 0.0
        self.commit_s_max = 0.0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def submit(self, job: Job) -> Outcome:
        if self._queued_events + len(job.events) > MAX_QUEUED_EVENTS:
            raise Overloaded(f"{self._queued_events} events are waiting to be written")
        job.future = asyncio.get_running_loop().create_future()
        self._queued_events += len(job.events)
        self._queue.put_nowait(job)
        return await job.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            group = [await self._queue.get()]
            size = len(group[0].events)
            while not self._queue.empty() and size < MAX_GROUP_EVENTS:
                group.append(self._queue.get_nowait())
                size += len(group[-1].events)
            try:
                outcomes = await loop.run_in_executor(self._thread, self._commit, group)
            except Exception as exc:  # the whole group failed: each request is told, none hangs
                for job in group:
                    assert job.future is not None
                    if not job.future.done():
                        job.future.set_exception(exc)
            else:
                for job, outcome in zip(group, outcomes):
                    assert job.future is not None
                    if not job.future.done():
                        job.future.set_result(outcome)
            finally:
                self._queued_events -= size

    def _commit(self, jobs: list[Job]) -> list[Outcome]:
        start = time.perf_counter()
        if not self.session_lock.acquire(timeout=LOCK_WAIT_S):
            raise LockTimeout(f"the ledger {self.root.name} stayed busy for over {LOCK_WAIT_S} s")
        try:
            with LedgerSession(self.root, timeout_s=LOCK_WAIT_S) as session:
                outcomes = commit_group(session, jobs)
        finally:
            self.session_lock.release()
        took = time.perf_counter() - start
        self.commits += 1
        self.committed_events += sum(len(job.events) for job in jobs)
        self.commit_s_total += took
        self.commit_s_max = max(self.commit_s_max, took)
        if any(o.recorded for o in outcomes):
            self.on_commit()
        return outcomes

    def describe(self) -> dict[str, object]:
        mean = self.commit_s_total / self.commits if self.commits else 0.0
        return {"queued_events": self._queued_events, "commits": self.commits, "events": self.committed_events,
                "commit_ms_mean": round(mean * 1000, 1), "commit_ms_max": round(self.commit_s_max * 1000, 1)}

    async def stop(self) -> None:
        """Finish what is queued, then stop (graceful shutdown)."""
        while not self._queue.empty() or self._queued_events:
            await asyncio.sleep(0.01)
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._thread.shutdown(wait=True)
