"""Scheduled runs across a record clock that falls back an hour, then springs forward.

A business whose UpdatedOn is its local wall-clock time stamped ``Z`` (documented as
possible: ../shared/reference/nexudus-api-facts.md) sees that clock fall back 60 minutes
at the end of summer time and jump 60 minutes ahead in spring. The tap runs here with its
DEFAULT settings (only api_url and a token), every 20-40 minutes, on 3,000 jobs updated
between runs and during them, on a sandbox clock the test moves (no real sleeps). The
schedules live in sandbox/nexudus_sandbox/schedule.py, shared with
benchmarks/clock_jumps.py (`python -m benchmarks clock-jumps`).

These tests depend on the default ``lookback_minutes`` being 60 (issue 13): at a default
of 0 a fall-back leaves jobs stale for good (57 of 3,000 between runs, 55 during a run;
benchmarks/clock_jumps.py prints both), which is the failure they reproduce.
"""

from __future__ import annotations

import typing as t

import pytest

from nexudus_sandbox import NexudusSandbox
from nexudus_sandbox.clock import SimulatedClock
from nexudus_sandbox.schedule import (
    ScheduledRun,
    ScheduleReport,
    daylight_saving_schedules,
    play_schedule,
)
from tests.conftest import run_tap, sandbox_config

JOBS = 3_000
SCHEDULES = daylight_saving_schedules()


def play(runs: list[ScheduledRun], **settings: t.Any) -> ScheduleReport:
    clock = SimulatedClock(runs[0].at)
    with NexudusSandbox(records=JOBS, seed=13, clock=clock) as sandbox:

        def sync(state: dict[str, t.Any]) -> tuple[list[dict[str, t.Any]], dict[str, t.Any]]:
            run = run_tap(sandbox_config(sandbox, **settings), state)
            return run.records, run.final_state

        return play_schedule(sandbox, clock, runs, sync, seed=5)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_scheduled_runs_across_a_record_clock_jump_with_default_settings(name: str) -> None:
    # e.g. fall-back between runs: runs at 23:40, 00:20, 00:50 UTC (01:50 on the record
    # clock), the clock falls back at 01:00, runs at 01:30, 02:10, 02:50: jobs updated
    # 01:00-01:50 UTC carry stamps below the bookmark the 00:50 run left.
    report = play(SCHEDULES[name])
    shown = f"{name}:\n{report.table()}"
    if "during" in name:
        # Precondition: the jump fell between two listing requests of run 3.
        assert report.runs[2].listing_requests >= 2, shown
    assert report.lost == [], f"{len(report.lost)} jobs lost\n{shown}"
    assert report.stale == [], f"{len(report.stale)} jobs stale: {report.stale[:20]}\n{shown}"
    # Every run delivers what existed when it started (jobs changed mid-run may wait).
    for number, run in enumerate(report.runs, 1):
        assert run.behind == [], f"run {number} left {len(run.behind)} jobs behind\n{shown}"
    # The versions kept in STATE make the overlap free of duplicate rows.
    assert report.repeats == 0, f"{report.repeats} versions emitted twice\n{shown}"
