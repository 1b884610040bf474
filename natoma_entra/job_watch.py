"""Follow a provisioning job until its cycle ends: the engine behind `start --wait` / `setup --wait`.

follow() polls `read_job()` (an async callable returning the job's JSON), first often, then less often, until the
cycle it follows ends (steady state), the job is quarantined, the cycle fails, or `timeout` seconds pass. It calls
`on_progress(summary)` at most every `every` seconds, or on each change when `on_change` (a person at a terminal).
Sleep and clock are injectable, so tests run on simulated time.

What the job's status says (Graph docs synchronization-synchronizationstatus.md, -synchronizationprogress.md,
-synchronizationtaskexecution.md, -synchronizationquarantine.md):
- code: NotConfigured | NotRun | Active | Paused | Quarantine;
- progress[]: completedUnits of totalUnits while a cycle runs;
- lastExecution: the last finished cycle (timeBegan, timeEnded, state Succeeded | Failed | EntryLevelErrors,
  countEscrowed = entries that failed, error);
- quarantine: reason and error when the service gave up on the endpoint.
The cycle followed is the first whose lastExecution began at or after `started_at` (when the caller started the
job), less `skew` for a clock that differs from Graph's; without `started_at`, the first execution that differs from
the one the first read showed.
"""
from __future__ import annotations

import asyncio
import datetime as _dt
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

DELAYS = (1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0)  # seconds between reads; the last one repeats
NEVER = "0001-01-01T00:00:00Z"

SUCCEEDED, ENTRY_ERRORS, QUARANTINED, FAILED, TIMED_OUT = "succeeded", "entry_errors", "quarantined", "failed", "timed_out"


@dataclass
class Outcome:
    state: str  # succeeded | entry_errors | quarantined | failed | timed_out
    reason: str | None = None
    fix: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)  # the last status summary read
    elapsed: float = 0.0
    reads: int = 0

    @property
    def ok(self) -> bool:
        return self.state == SUCCEEDED


def parse_time(text: Any) -> _dt.datetime | None:
    """A Graph dateTimeOffset, aware (UTC when it names no offset); None for none, "0001-01-01..." (.NET's "never")
    or a malformed value. Python 3.11's fromisoformat reads Graph's forms whole: "Z" or an offset, and .NET's 7
    fractional digits (the 7th is dropped: microseconds are Python's finest)."""
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return None
    try:
        value = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=_dt.timezone.utc)


def summarize(job: dict | None) -> dict[str, Any]:
    """The facts of a job's status that tell how its cycle goes (pure)."""
    from .json_values import obj, objects

    raw = obj(job).get("status")
    status = obj(raw)
    progress = objects(status.get("progress"))
    p = progress[-1] if progress else {}
    execution = obj(status.get("lastExecution"))
    quarantine = status.get("quarantine") if isinstance(status.get("quarantine"), dict) else None
    counts = {e.get("key"): e.get("value") for e in objects(status.get("synchronizedEntryCountByType"))}
    error = execution.get("error") if isinstance(execution.get("error"), dict) else None
    return {
        "code": status.get("code"),
        "completed": p.get("completedUnits"),
        "total": p.get("totalUnits"),
        "units": p.get("units"),
        "synchronized": counts.get("User"),
        "execution": execution.get("activityIdentifier"),
        "executionState": execution.get("state"),
        "began": execution.get("timeBegan"),
        "ended": execution.get("timeEnded"),
        "failedEntries": execution.get("countEscrowed"),
        "error": (error or {}).get("message") or (error or {}).get("code"),
        "quarantineReason": (quarantine or {}).get("reason"),
        "quarantineError": ((quarantine or {}).get("error") or {}).get("message") if quarantine else None,
        "steadyState": status.get("steadyStateLastAchievedTime") if status.get("steadyStateLastAchievedTime") != NEVER else None,
        # a status that is not the object Graph documents (a string, a list): what the cycle does cannot be told
        "malformed": _shape(raw) if not isinstance(job, dict) or (raw is not None and not isinstance(raw, dict))
        else None,
    }


def _shape(value: Any) -> str:
    return {str: "a string", list: "a list", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null" if value is None else type(value).__name__)


def describe(s: dict[str, Any]) -> str:
    """One line for people: 'Active: 40 of 120 users processed, 35 synchronized'."""
    if s.get("malformed"):
        return f"unreadable status ({s['malformed']})"
    parts = [str(s.get("code") or "unknown")]
    if not _ever_ran(s) and not s.get("total"):
        parts.append("no cycle has run yet")
    if s.get("total"):
        parts.append(f"{s.get('completed') or 0} of {s['total']} {str(s.get('units') or 'entries').lower()} processed")
    if s.get("synchronized") is not None:
        parts.append(f"{s['synchronized']} synchronized")
    if s.get("executionState"):
        parts.append(f"last cycle {s['executionState']}")
    return ": ".join(parts[:2]) + (", " + ", ".join(parts[2:]) if len(parts) > 2 else "")


def _running(s: dict[str, Any]) -> bool:
    return bool(s.get("total")) and (s.get("completed") or 0) < s["total"]


def _ever_ran(s: dict[str, Any]) -> bool:
    """A cycle has run (or begun): the status names an execution."""
    return bool(s.get("execution") or s.get("began"))


FIX_UNREADABLE = ("look at the job in the portal (Enterprise applications -> the app -> Provisioning), or run "
                  "natoma-entra doctor; then natoma-entra start --wait again")


def verdict(s: dict[str, Any]) -> Outcome | None:
    """The end of a followed cycle, or None while it runs (pure)."""
    if s.get("malformed"):
        return Outcome(FAILED, f"the job's status is {s['malformed']}, not the object Graph documents "
                               "(synchronizationStatus): whether a cycle runs cannot be told", FIX_UNREADABLE,
                       summary=s)
    if s.get("code") == "Quarantine":
        reason = s.get("quarantineError") or s.get("error") or s.get("quarantineReason") or "the job is quarantined"
        return Outcome(QUARANTINED, reason, "fix the cause (often the SCIM URL or token: natoma-entra credentials "
                                            "--rotate), then natoma-entra start; natoma-entra doctor explains",
                       summary=s)
    if s.get("code") == "Paused":
        return Outcome(FAILED, "the job is paused", "natoma-entra start resumes it", summary=s)
    state = s.get("executionState")
    if state == "Failed":
        return Outcome(FAILED, s.get("error") or "the cycle failed",
                       "read the provisioning logs (natoma-entra logs --errors) and natoma-entra doctor", summary=s)
    if state == "EntryLevelErrors":
        n = s.get("failedEntries")
        return Outcome(ENTRY_ERRORS, f"the cycle ended, {n if n is not None else 'some'} user(s) failed",
                       "natoma-entra logs --errors names them and why (e.g. MultipleGrantsNotSupported)", summary=s)
    if state == "Succeeded":
        return Outcome(SUCCEEDED, summary=s)
    return None


def _ours(s: dict[str, Any], started_at: _dt.datetime | None, first: dict[str, Any]) -> bool:
    if not s.get("execution") and not s.get("began"):
        return False
    if started_at is not None:
        began = parse_time(s.get("began"))
        return began is not None and began >= started_at
    return s.get("execution") != first.get("execution") or (_running(first) and not _running(s))


async def follow(read_job: Callable[[], Awaitable[dict | None]], *, started_at: _dt.datetime | None = None,
                 skew: float = 0.0, timeout: float = 1800.0, every: float = 10.0, on_change: bool = False,
                 on_progress: Callable[[dict[str, Any]], None] | None = None,
                 sleep: Callable[[float], Awaitable[Any]] | None = None, clock: Callable[[], float] | None = None,
                 delays: tuple[float, ...] = DELAYS, limit: str | None = None) -> Outcome:
    """Poll until the followed cycle ends, the job is quarantined, or `timeout` seconds pass (`limit` names the
    bound in the message: the run's --timeout). No read goes out once the time is up, and a read the run's budget
    cuts short ends the wait the same way: the cycle had not ended."""
    from .graph.errors import GraphError

    sleep = sleep or asyncio.sleep
    clock = clock or time.monotonic
    since = started_at - _dt.timedelta(seconds=skew) if started_at is not None else None
    t0 = clock()
    first: dict[str, Any] | None = None
    last_told: float | None = None
    last_summary: dict[str, Any] | None = None
    reads = 0

    def timed_out(s: dict[str, Any]) -> Outcome:
        return Outcome(TIMED_OUT, f"the cycle had not ended after {limit or f'{timeout:g} s'} ({describe(s)})",
                       "a first cycle over many users takes a while: run natoma-entra status later, or wait "
                       "longer (--timeout)", summary=s, elapsed=clock() - t0, reads=reads)

    while True:
        try:
            s = summarize(await read_job())
        except GraphError as e:
            if e.code != "Timeout" or last_summary is None:
                raise
            return timed_out(last_summary)
        reads += 1
        first = first if first is not None else s
        now = clock()
        if on_progress and (last_told is None or now - last_told >= every or (on_change and s != last_summary)):
            on_progress(s)
            last_told = now
        last_summary = s
        end = verdict(s)
        if end is not None and (end.state == QUARANTINED or s.get("code") == "Paused" or s.get("malformed")
                                or (_ours(s, since, first) and not _running(s))):
            end.elapsed, end.reads = now - t0, reads
            return end
        remaining = timeout - (now - t0)
        if remaining <= 0:
            return timed_out(s)
        await sleep(min(delays[min(reads - 1, len(delays) - 1)], remaining))
        if clock() - t0 >= timeout:
            return timed_out(s)


def job_reader(session) -> Callable[[], Awaitable[dict | None]]:
    """read_job for follow(): the session's job, read afresh each time (never the run's cached read)."""

    async def read() -> dict | None:
        from .steps.job import refresh_job

        return await refresh_job(session)

    return read


async def wait_for_cycle(session, *, started: bool, started_at: _dt.datetime | None, timeout: float,
                         on_progress: Callable[[dict[str, Any]], None] | None = None, on_change: bool = False,
                         sleep=None, clock=None, limit: str | None = None):
    """`start --wait` / `setup --wait`: follow the cycle this run started (or, when the job was already running,
    the one in progress; when none is, the last one) and say how it ended, as a StepResult "wait"."""
    from .results import StepResult

    read = job_reader(session)
    if not started:
        s = summarize(await read())
        end = verdict(s)
        if s.get("malformed") and end is not None:
            return _as_step(end, StepResult)
        # nothing in progress and nothing started: the last cycle is the answer; a job that has never run one
        # (started, its first cycle still to come) is followed until that cycle ends
        if not _running(s) and _ever_ran(s):
            return _as_step(end or Outcome(SUCCEEDED, summary=s), StepResult)
    end = await follow(read, started_at=started_at if started else None, skew=60.0, timeout=timeout,
                       on_progress=on_progress, on_change=on_change, sleep=sleep, clock=clock, limit=limit)
    return _as_step(end, StepResult)


def _as_step(end: Outcome, StepResult):
    info = {"outcome": end.state, "cycle": describe(end.summary), "waited_s": round(end.elapsed, 1)}
    if end.state in (SUCCEEDED,):
        return StepResult(step="wait", status="unchanged", info=info)
    if end.state == ENTRY_ERRORS:  # the job is healthy; some users failed: said, not a failure (--strict fails it)
        return StepResult(step="wait", status="unchanged", info=info, warnings=[f"{end.reason}: {end.fix}"])
    return StepResult(step="wait", status="failed", info=info, error=end.reason, fix=end.fix)
