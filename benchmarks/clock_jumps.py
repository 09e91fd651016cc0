"""What a lookback of 60 minutes costs and buys, next to 0 (issue 13).

    .venv/bin/python benchmarks/clock_jumps.py          # ~20 s on 2 shared cores
    .venv/bin/python benchmarks/clock_jumps.py --jobs 2000 --steady-runs 12

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
import io
import json
import logging
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from datetime import datetime, timedelta, timezone
from typing import Any

from common import machine_line, md_table

from tap_nexudus_jobs.sandbox import NexudusSandbox
from tap_nexudus_jobs.sandbox.clock import SimulatedClock
from tap_nexudus_jobs.sandbox.schedule import (
    ScheduledRun,
    ScheduleReport,
    daylight_saving_schedules,
    play_schedule,
)
from tap_nexudus_jobs.tap import TapNexudusJobs

LOOKBACKS = (0, 60)
SCHEDULE_JOBS = 3_000
STEADY_START = datetime(2026, 11, 10, 8, 0, tzinfo=timezone.utc)
STEADY_INTERVAL = timedelta(minutes=10)

Records = list[dict[str, Any]]


@contextmanager
def quiet_logs() -> Iterator[None]:
    """The SDK logs every request and metric at INFO: noise here, and slow."""
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def sync_in_process(
    config: dict[str, Any], state: dict[str, Any]
) -> tuple[Records, dict[str, Any]]:
    """One sync of the tap; its RECORD payloads and final STATE."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")  # the msgspec writer writes bytes
    with redirect_stdout(out), quiet_logs():
        TapNexudusJobs(config=config, state=state).sync_all()
    out.flush()
    messages = [json.loads(line) for line in raw.getvalue().splitlines() if line.strip()]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return [m["record"] for m in messages if m["type"] == "RECORD"], states[-1]


def play(runs: list[ScheduledRun], jobs: int, lookback: int, seed: int = 13) -> ScheduleReport:
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


def jump_table() -> str:
    rows = []
    for name, runs in daylight_saving_schedules().items():
        for lookback in LOOKBACKS:
            report = play(runs, SCHEDULE_JOBS, lookback)
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
        "sequence (3,000 jobs)",
        "lookback",
        "listing requests per run",
        "jobs behind after each run",
        "STATE B per run",
        "lost",
        "stale",
        "repeats",
    ]
    return md_table(headers, rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--jobs", type=int, default=2_000, help="steady account size")
    parser.add_argument("--steady-runs", type=int, default=12, help="runs 10 min apart")
    parser.add_argument(
        "--rates", default="3,30,300", help="jobs updated per 10 min, comma-separated"
    )
    args = parser.parse_args()
    rates = [int(part) for part in args.rates.split(",") if part.strip()]
    command = shlex.join([".venv/bin/python", "benchmarks/clock_jumps.py", *sys.argv[1:]])
    print(f"{command}\n{machine_line()}\n")
    print(f"1. Steady account, {args.jobs} jobs, {args.steady_runs} runs 10 minutes apart\n")
    print(steady_table(args.jobs, args.steady_runs, rates))
    print("\n2. Scheduled runs across a record clock jump (tests/test_record_clock_jumps.py)\n")
    print(jump_table())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
