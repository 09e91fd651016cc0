"""Scheduled runs across a record clock that falls back an hour, then springs forward.

A business whose UpdatedOn is its local wall-clock time stamped ``Z`` (documented as
possible: ../shared/reference/nexudus-api-facts.md) sees that clock fall back 60 minutes
at the end of summer time and jump 60 minutes ahead in spring. The tap runs here with its
DEFAULT settings (only api_url and a token), every 20-40 minutes, on 3,000 jobs updated
between runs and during them, on a sandbox clock the test moves (no real sleeps).

These tests depend on the default ``lookback_minutes`` being 60 (issue 13): at a default
of 0 a fall-back leaves jobs stale for good (measured: see benchmarks/clock_jumps.py),
which is the failure they reproduce.
"""

from __future__ import annotations

import typing as t
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from tap_nexudus_jobs.sandbox import NexudusSandbox, SandboxFaults
from tap_nexudus_jobs.sandbox.clock import SimulatedClock
from tap_nexudus_jobs.sandbox.schedule import (
    ScheduledRun,
    ScheduleReport,
    play_schedule,
    quiet,
)
from tests.conftest import run_tap, sandbox_config

JOBS = 3_000
#: The end of summer time in the EU (01:00 UTC) and its start the next spring.
FALL_BACK = datetime(2026, 10, 25, 1, 0, tzinfo=timezone.utc)
SPRING_FORWARD = datetime(2027, 3, 28, 1, 0, tzinfo=timezone.utc)
#: A London business: UpdatedOn is BST (UTC+1) in summer, GMT (UTC) in winter.
SUMMER = SandboxFaults(
    record_clock_offset_hours=1,
    record_clock_jump_at=FALL_BACK,
    record_clock_jump_minutes=-60,
    seed=21,
)
WINTER = SandboxFaults(record_clock_jump_at=SPRING_FORWARD, record_clock_jump_minutes=60, seed=22)


def changing(faults: SandboxFaults, every: int = 2, per_burst: int = 3) -> SandboxFaults:
    """``faults`` with jobs changing during a run: ``per_burst`` before every ``every``-th
    listing request."""
    return replace(faults, changes_every=every, changes_per_burst=per_burst)


def minutes(base: datetime, *offsets: float) -> list[datetime]:
    return [base + timedelta(minutes=m) for m in offsets]


def schedule(
    faults: SandboxFaults, starts: list[datetime], updates: int = 40
) -> list[ScheduledRun]:
    """A full run, then incremental runs with jobs changing between and during them, then
    a quiet run whose changes-free read is final."""
    runs = [ScheduledRun(starts[0], faults=changing(faults))]
    runs += [ScheduledRun(at, updates_before=updates) for at in starts[1:-1]]
    runs.append(ScheduledRun(starts[-1], updates_before=updates, faults=quiet(faults)))
    return runs


def play(runs: list[ScheduledRun], **settings: t.Any) -> ScheduleReport:
    clock = SimulatedClock(runs[0].at)
    with NexudusSandbox(records=JOBS, seed=13, clock=clock) as sandbox:

        def sync(state: dict[str, t.Any]) -> tuple[list[dict[str, t.Any]], dict[str, t.Any]]:
            run = run_tap(sandbox_config(sandbox, **settings), state)
            return run.records, run.final_state

        return play_schedule(sandbox, clock, runs, sync, seed=5)


def assert_nothing_owed(report: ScheduleReport) -> None:
    shown = report.table()
    assert report.lost == [], f"{len(report.lost)} jobs lost\n{shown}"
    assert report.stale == [], f"{len(report.stale)} jobs stale: {report.stale[:20]}\n{shown}"
    # Every run delivers what existed when it started (jobs changed mid-run may wait).
    for number, run in enumerate(report.runs, 1):
        assert run.behind == [], f"run {number} left {len(run.behind)} jobs behind\n{shown}"
    # The versions kept in STATE make the overlap free of duplicate rows.
    assert report.repeats == 0, f"{report.repeats} versions emitted twice\n{shown}"


def test_fall_back_between_two_runs_with_default_settings() -> None:
    # Runs at 23:40, 00:20, 00:50 UTC (01:50 on the record clock), the clock falls back
    # at 01:00, then runs at 01:30, 02:10, 02:50: jobs updated 01:00-01:50 UTC carry
    # stamps below the bookmark the 00:50 run left.
    starts = minutes(FALL_BACK, -80, -40, -10, 30, 70, 110)
    report = play(schedule(SUMMER, starts))
    assert_nothing_owed(report)


def crossing_the_jump(base: SandboxFaults, jump: datetime) -> list[ScheduledRun]:
    """Runs at -80, -40 min, then one starting 10 s before the jump that reads 1,200
    changed jobs (two pages and more, the clock moving 20 s a request) while jobs change
    before each of its requests, then +30, +70 and +110 min."""
    starts = [*minutes(jump, -80, -40), jump - timedelta(seconds=10), *minutes(jump, 30, 70, 110)]
    runs = schedule(base, starts)
    runs[2] = replace(
        runs[2],
        updates_before=1_200,
        faults=changing(base, every=1, per_burst=5),
    )
    runs[3] = replace(runs[3], faults=changing(base))
    return runs


def assert_the_run_crossed_the_jump(report: ScheduleReport) -> None:
    # Precondition: the jump fell between two listing requests of run 3.
    assert report.runs[2].listing_requests >= 2, report.table()


def test_fall_back_during_a_run_with_default_settings() -> None:
    # The run starting at 00:59:50 UTC reads its first page on the summer clock; jobs
    # changed before its later requests are stamped an hour earlier than the bookmark.
    report = play(crossing_the_jump(SUMMER, FALL_BACK))
    assert_the_run_crossed_the_jump(report)
    assert_nothing_owed(report)


def test_spring_forward_between_runs_with_default_settings() -> None:
    starts = minutes(SPRING_FORWARD, -80, -40, -10, 30, 70, 110)
    report = play(schedule(WINTER, starts))
    assert_nothing_owed(report)


def test_spring_forward_during_a_run_with_default_settings() -> None:
    report = play(crossing_the_jump(WINTER, SPRING_FORWARD))
    assert_the_run_crossed_the_jump(report)
    assert_nothing_owed(report)
