"""What a lookback of 60 minutes costs and buys, next to 0 (issue 13).

    .venv/bin/python -m benchmarks clock-jumps          # ~20 s on 2 shared cores
    .venv/bin/python -m benchmarks clock-jumps --jobs 2000 --steady-runs 12

1. Its price on a steady account (``--jobs`` jobs; runs every 10 minutes with a few jobs
   updated between runs, at several rates): listing requests per incremental run, the
   requests of a run with nothing changed, and the STATE the tap writes (bytes of JSON,
   the largest over the runs and the last), once the window of an hour is full.
2. What it buys: the scheduled runs of tests/test_record_clock_jumps.py (3,000 jobs, a
   London business's record clock falling back an hour and springing forward, between
   two runs and inside one): per run its listing requests and the jobs it left behind,
   then lost, stale and versions emitted twice.

The tap runs in this process on a sandbox whose clock the script moves (no sleeping), with
``lookback_minutes`` given explicitly, so the numbers do not depend on the default.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone
from typing import Any

from benchmarks.common import md_table
from benchmarks.harness import Report, Size, script_main
from benchmarks.in_process import sync
from nexudus_sandbox import NexudusSandbox
from nexudus_sandbox.clock import SimulatedClock
from nexudus_sandbox.schedule import (
    ScheduledRun,
    ScheduleReport,
    daylight_saving_schedules,
    play_schedule,
)

LOOKBACKS = (0, 60)
STEADY_START = datetime(2026, 11, 10, 8, 0, tzinfo=timezone.utc)
STEADY_INTERVAL = timedelta(minutes=10)

Records = list[dict[str, Any]]


def sync_in_process(
    config: dict[str, Any], state: dict[str, Any]
) -> tuple[Records, dict[str, Any]]:
    """One sync of the tap; its RECORD payloads and final STATE."""
    done = sync(config, state, keep=True)
    return done.records, done.sink.last_state or state


def play(runs: list[ScheduledRun], jobs: int, lookback: int, seed: int = 13) -> ScheduleReport:
    """The runs on a sandbox whose clock the schedule moves."""
    clock = SimulatedClock(runs[0].at)
    with NexudusSandbox(records=jobs, seed=seed, clock=clock) as sandbox:
        config: dict[str, Any] = {
            "api_url": sandbox.url,
            "access_token": "sandbox-token",
            "lookback_minutes": lookback,
        }

        def sync(state: dict[str, Any]) -> tuple[Records, dict[str, Any]]:
            return sync_in_process(config, state)

        return play_schedule(sandbox, clock, runs, sync, seed=5)


def steady_runs(count: int, updates: int) -> list[ScheduledRun]:
    """A full run, ``count`` runs 10 minutes apart with ``updates`` jobs updated before
    each, then a run 10 minutes later with nothing changed."""
    starts = [STEADY_START + STEADY_INTERVAL * n for n in range(count + 2)]
    runs = [ScheduledRun(starts[0])]
    runs += [ScheduledRun(at, updates_before=updates) for at in starts[1:-1]]
    return [*runs, ScheduledRun(starts[-1])]


def steady_table(jobs: int, count: int, rates: list[int]) -> str:
    """Section 1: per rate and lookback, what the incremental runs cost."""
    rows = []
    for updates in rates:
        for lookback in LOOKBACKS:
            report = play(steady_runs(count, updates), jobs, lookback)
            incremental = report.runs[1:-1]
            requests = sorted({r.listing_requests for r in incremental})
            sizes = [r.state_bytes for r in report.runs]
            rows.append(
                [
                    f"{updates} per 10 min",
                    str(lookback),
                    "/".join(map(str, requests)),
                    str(report.runs[-1].listing_requests),
                    str(max(sizes)),
                    str(sizes[-1]),
                    f"{report.repeats}",
                    f"{len(report.lost)}/{len(report.stale)}",
                ]
            )
    headers = [
        "updates",
        "lookback",
        "requests per incremental run",
        "requests, nothing changed",
        "STATE max B",
        "STATE last B",
        "repeats",
        "lost/stale",
    ]
    return md_table(headers, rows)


def jump_table(jobs: int) -> str:
    """Section 2: the sequences of tests/test_record_clock_jumps.py, per lookback."""
    rows = []
    for name, runs in daylight_saving_schedules().items():
        for lookback in LOOKBACKS:
            report = play(runs, jobs, lookback)
            rows.append(
                [
                    name,
                    str(lookback),
                    " ".join(str(r.listing_requests) for r in report.runs),
                    " ".join(str(len(r.behind)) for r in report.runs),
                    " ".join(str(r.state_bytes) for r in report.runs),
                    str(len(report.lost)),
                    str(len(report.stale)),
                    str(report.repeats),
                ]
            )
    headers = [
        f"sequence ({jobs:,} jobs)",
        "lookback",
        "listing requests per run",
        "jobs behind after each run",
        "STATE B per run",
        "lost",
        "stale",
        "repeats",
    ]
    return md_table(headers, rows)


SIZES = {
    "jobs": Size(2_000, 500, "steady account size"),
    "steady_runs": Size(12, 3, "runs 10 minutes apart"),
    "rates": Size([3, 30, 300], [3, 300], "jobs updated per 10 minutes"),
    "schedule_jobs": Size(3_000, 3_000, "jobs in the clock-jump sequences"),
}


def bench_steady(args: argparse.Namespace, report: Report) -> None:
    """1: what lookback 60 costs on a steady account."""
    report.add(
        f"1. Steady account, {args.jobs} jobs, {args.steady_runs} runs 10 minutes apart\n\n"
        + steady_table(args.jobs, args.steady_runs, args.rates)
    )


def bench_jumps(args: argparse.Namespace, report: Report) -> None:
    """2: what it buys across a record clock jump."""
    report.add(
        "2. Scheduled runs across a record clock jump (tests/test_record_clock_jumps.py)\n\n"
        + jump_table(args.schedule_jobs)
    )


def main(argv: list[str] | None = None) -> int:
    """Both tables."""
    return script_main("clock-jumps", __doc__ or "", SIZES, [bench_steady, bench_jumps], argv)
