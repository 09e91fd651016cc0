"""What a lookback of 60 minutes costs and buys, next to 0 (issue 13), and what holding the
bookmark behind jobs stamped ahead of true time costs and buys, next to the tap before it
(issue 19).

    .venv/bin/python -m benchmarks clock-jumps          # ~30 s on 2 shared cores
    .venv/bin/python -m benchmarks clock-jumps --jobs 2000 --steady-runs 12

1. Its price on a steady account (``--jobs`` jobs; runs every 10 minutes with a few jobs
   updated between runs, at several rates): listing requests per incremental run, the
   requests of a run with nothing changed, and the STATE the tap writes (bytes of JSON,
   the largest over the runs and the last), once the window of an hour is full.
2. What it buys: the scheduled runs of tests/test_record_clock_jumps.py (3,000 jobs, a
   London business's record clock falling back an hour and springing forward, between
   two runs and inside one): per run its listing requests and the jobs it left behind,
   then lost, stale and versions emitted twice.
3. The record-clock bound's steady price (issue 19): a quiet account (nothing updated)
   and a busy one (300 jobs updated per 10 minutes), with the bound and without it (the
   tap before issue 19: the bound switched off in this process), at the default
   lookback: listing requests per run, requests of a run with nothing changed, STATE.
4. What it buys: issue 19's sequences (2,000 jobs, a run an hour: a record clock 10 h
   ahead for an hour then put right, or one write stamped 2099), with and without it.

The tap runs in this process on a sandbox whose clock the script moves (no sleeping), with
``lookback_minutes`` given explicitly, so the numbers do not depend on the default.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

from benchmarks.common import md_table
from benchmarks.harness import Report, Size, script_main
from benchmarks.in_process import sync
from nexudus_sandbox import NexudusSandbox
from nexudus_sandbox.schedule import (
    ScheduledRun,
    ScheduleReport,
    clock_ahead_schedules,
    daylight_saving_schedules,
    play_schedule,
    schedule_clock,
)
from tap_nexudus_jobs.record_clock import RecordClockGuard

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


@contextmanager
def without_record_clock_bound() -> Iterator[None]:
    """The tap before issue 19: no response gives true time, so nothing is ever ahead."""
    with mock.patch.object(RecordClockGuard, "saw_time", lambda _self, _date: None):
        yield


def play(
    runs: list[ScheduledRun], jobs: int, lookback: int, seed: int = 13, *, bound: bool = True
) -> ScheduleReport:
    """The runs on a sandbox whose clock the schedule moves (`bound`: issue 19's on)."""
    clock = schedule_clock(runs)
    switch = nullcontext() if bound else without_record_clock_bound()
    with switch, NexudusSandbox(records=jobs, seed=seed, clock=clock) as sandbox:
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


#: What `steady_cells` reports of a steady account's runs.
STEADY_HEADERS = [
    "requests per incremental run",
    "requests, nothing changed",
    "STATE max B",
    "STATE last B",
    "repeats",
    "lost/stale",
]


def steady_cells(report: ScheduleReport) -> list[str]:
    """The incremental runs' listing requests, the quiet last run's, STATE, the verdict."""
    requests = sorted({r.listing_requests for r in report.runs[1:-1]})
    sizes = [r.state_bytes for r in report.runs]
    return [
        "/".join(map(str, requests)),
        str(report.runs[-1].listing_requests),
        str(max(sizes)),
        str(sizes[-1]),
        f"{report.repeats}",
        f"{len(report.lost)}/{len(report.stale)}",
    ]


def steady_table(jobs: int, count: int, rates: list[int]) -> str:
    """Section 1: per rate and lookback, what the incremental runs cost."""
    rows = []
    for updates in rates:
        for lookback in LOOKBACKS:
            report = play(steady_runs(count, updates), jobs, lookback)
            rows.append([f"{updates} per 10 min", str(lookback), *steady_cells(report)])
    return md_table(["updates", "lookback", *STEADY_HEADERS], rows)


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


def bound_price_table(jobs: int, count: int, rates: list[int]) -> str:
    """Section 3: the bound's price on steady accounts, next to the tap without it."""
    rows = []
    for updates in rates:
        account = "quiet (nothing updated)" if updates == 0 else f"{updates} per 10 min"
        for bound in (False, True):
            report = play(steady_runs(count, updates), jobs, 60, bound=bound)
            on = "on (issue 19)" if bound else "off (before)"
            rows.append([account, on, *steady_cells(report)])
    return md_table(["account", "record-clock bound", *STEADY_HEADERS], rows)


def ahead_table(jobs: int) -> str:
    """Section 4: issue 19's sequences, with and without the bound."""
    rows = []
    for name, runs in clock_ahead_schedules().items():
        for bound in (False, True):
            report = play(runs, jobs, 60, bound=bound)
            rows.append(
                [
                    name,
                    "on" if bound else "off (before)",
                    " ".join(str(r.records) for r in report.runs),
                    " ".join(str(r.listing_requests) for r in report.runs),
                    " ".join(str(r.state_bytes) for r in report.runs),
                    str(len(report.lost)),
                    str(len(report.stale)),
                    str(report.repeats),
                ]
            )
    headers = [
        f"sequence ({jobs:,} jobs)",
        "record-clock bound",
        "records per run",
        "listing requests per run",
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
    "bound_rates": Size([0, 300], [0, 300], "jobs updated per 10 minutes (section 3)"),
    "ahead_jobs": Size(2_000, 2_000, "jobs in issue 19's sequences"),
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


def bench_bound_price(args: argparse.Namespace, report: Report) -> None:
    """3: what the record-clock bound costs on steady accounts."""
    report.add(
        f"3. The record-clock bound's steady price, {args.jobs} jobs, {args.steady_runs} runs "
        "10 minutes apart, lookback 60\n\n"
        + bound_price_table(args.jobs, args.steady_runs, args.bound_rates)
    )


def bench_ahead(args: argparse.Namespace, report: Report) -> None:
    """4: what it buys across a record clock that ran ahead."""
    report.add(
        "4. A record clock that ran ahead (tests/test_record_clock_jumps.py, issue 19)\n\n"
        + ahead_table(args.ahead_jobs)
    )


def main(argv: list[str] | None = None) -> int:
    """All four tables."""
    return script_main(
        "clock-jumps",
        __doc__ or "",
        SIZES,
        [bench_steady, bench_jumps, bench_bound_price, bench_ahead],
        argv,
    )
