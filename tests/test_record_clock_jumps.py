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

import dataclasses
import re
import typing as t
from datetime import timedelta

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from nexudus_sandbox.schedule import (
    AHEAD_START,
    ScheduledRun,
    ScheduleReport,
    clock_ahead_schedules,
    daylight_saving_schedules,
    hourly_after,
    play_schedule,
    schedule_clock,
)
from tap_nexudus_jobs import record_clock
from tests.conftest import run_tap, sandbox_config

JOBS = 3_000
SCHEDULES = daylight_saving_schedules()
AHEAD = clock_ahead_schedules()
AHEAD_NO_DATE = clock_ahead_schedules(date_header="missing")


def play(
    runs: list[ScheduledRun],
    jobs: int = JOBS,
    host: pytest.MonkeyPatch | None = None,
    **settings: t.Any,
) -> ScheduleReport:
    """The runs on a sandbox whose clock they move; with `host`, the tap's own clock (what
    stands in for a missing Date header) is the sandbox's true UTC too."""
    clock = schedule_clock(runs)
    if host is not None:
        host.setattr(record_clock, "host_clock", clock)
    with NexudusSandbox(records=jobs, seed=13, clock=clock) as sandbox:

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


def assert_nothing_owed(report: ScheduleReport, shown: str) -> None:
    assert report.lost == [], f"{len(report.lost)} jobs lost\n{shown}"
    assert report.stale == [], f"{len(report.stale)} jobs stale: {report.stale[:20]}\n{shown}"
    for number, run in enumerate(report.runs, 1):
        assert run.behind == [], f"run {number} left {len(run.behind)} jobs behind\n{shown}"
    assert report.repeats == 0, f"{report.repeats} versions emitted twice\n{shown}"


@pytest.mark.parametrize("name", list(AHEAD))
def test_a_record_clock_that_ran_ahead_loses_nothing_with_default_settings(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 19: 2,000 jobs, a run an hour; the record clock runs 10 h ahead while 10 jobs
    # are updated, then is corrected (or one write is stamped 2099), and 25 jobs are
    # updated before each later run. Before, the bookmark sat at the stamps ahead, every
    # run made 1 request and emitted nothing, and 48-50 of the 50 updates were lost.
    caplog.set_level("WARNING", logger="tap-nexudus-jobs")
    report = play(AHEAD[name], jobs=2_000)
    shown = f"{name}:\n{report.table()}"
    assert_nothing_owed(report, shown)
    # A run reading from a bookmark makes one listing request, as without the defence.
    assert [r.listing_requests for r in report.runs[1:]] == [1, 1, 1], shown
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    ahead = [line for line in warnings if "stamped ahead of true time" in line]
    assert ahead, f"no warning about the jobs stamped ahead: {warnings}\n{shown}"
    # Each names the jobs, their UpdatedOn as written and how far ahead, and what was done.
    first = ahead[0]
    assert re.search(
        r"\d+ \(UpdatedOn 20\d\d-\d\d-\d\dT[\d:]+\+00:00, [\d,hm ]+(days)? ahead\)", first
    )
    assert "from Nexudus's Date header)" in first
    assert "Emitted as Nexudus wrote them; the bookmark stays at 2026-11-10T" in first


@pytest.mark.parametrize("name", list(AHEAD_NO_DATE))
def test_without_a_date_header_the_taps_clock_stands_in(
    name: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sandbox's `date-missing` fault: true time comes from the tap's own clock, here
    # injected as the sandbox's (a real run's host clock is true UTC, as the sandbox's is).
    caplog.set_level("WARNING", logger="tap-nexudus-jobs")
    report = play(AHEAD_NO_DATE[name], jobs=2_000, host=monkeypatch)
    shown = f"{name}:\n{report.table()}"
    assert_nothing_owed(report, shown)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    no_date = "from the tap's clock: Nexudus sent no Date header"
    assert any(no_date in line for line in warnings), warnings


@pytest.mark.parametrize(
    ("hours", "warm_up"),
    [(10, 5), (14, 5), (-5, 5), (10, 0)],
    ids=["UTC+10", "UTC+14", "UTC-5", "UTC+10, first run sees no recent job"],
)
def test_a_fixed_offset_of_any_size_costs_nothing(
    hours: float, warm_up: int, caplog: pytest.LogCaptureFixture
) -> None:
    # Local time labelled Z is no evidence: no warning, one request a run, nothing held.
    caplog.set_level("WARNING", logger="tap-nexudus-jobs")
    runs = hourly_after(SandboxFaults(record_clock_offset_hours=hours, seed=33))
    runs[0] = dataclasses.replace(runs[0], updates_before=warm_up)
    report = play(runs, jobs=2_000)
    shown = report.table()
    assert_nothing_owed(report, shown)
    assert [r.listing_requests for r in report.runs[1:]] == [1, 1, 1], shown
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [], warnings


def test_a_larger_fall_back_needs_a_larger_lookback() -> None:
    # A record clock that falls back 3 hours (not from running ahead): nothing in the
    # records or the Date header shows it, so lookback_minutes must cover it (the
    # record-clock table's row); at the default 60 minutes versions are lost in silence.
    three_hours_back = SandboxFaults(
        record_clock_offset_hours=3,
        record_clock_jump_at=AHEAD_START + timedelta(minutes=30),
        record_clock_jump_minutes=-180,
        seed=34,
    )
    runs = hourly_after(three_hours_back, (25, 25, 25))
    covered = play(runs, jobs=2_000, lookback_minutes=180)
    assert_nothing_owed(covered, covered.table())
    default = play(runs, jobs=2_000)
    assert default.stale != [], default.table()


def test_a_record_clock_ahead_for_good_is_held_with_a_bounded_cost(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A record clock 10 h ahead from the second run on, never corrected (a business moved
    # to another time zone). Its new stamps stay ahead of the record clock's lead, so each
    # is held: emitted, warned about, read again until true time comes within the lookback
    # of it. Before, the bookmark stayed where the clock jumped, so every run read, and
    # STATE kept, every version since: a cost that grew without end (STATE 13 kB after 20
    # runs and rising by 700 B a run). Now the versions of the last ~9 hours are held.
    caplog.set_level("WARNING", logger="tap-nexudus-jobs")
    forever = SandboxFaults(
        record_clock_jump_at=AHEAD_START + timedelta(minutes=10),
        record_clock_jump_minutes=600,
        seed=34,
    )
    report = play(hourly_after(forever, (12,) * 20), jobs=500)
    shown = report.table()
    assert_nothing_owed(report, shown)
    sizes = [run.state_bytes for run in report.runs]
    assert max(sizes[-5:]) <= 1.15 * sizes[-10], shown
    assert all(r.listing_requests == 1 for r in report.runs[1:]), shown
    warned = [r.getMessage() for r in caplog.records if "stamped ahead" in r.getMessage()]
    assert len(warned) >= 19, warned
