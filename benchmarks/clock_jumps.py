"""What a lookback of 60 minutes costs and buys next to 0 (issue 13), and what holding the
bookmark behind jobs stamped ahead of true time costs and buys (issue 19).

    .venv/bin/python -m benchmarks clock-jumps [--quick] [--jobs 2000] [--steady-runs 12]

1. A steady account (runs every 10 minutes, a few jobs updated between them, at several
   rates): listing requests per incremental run, a run with nothing changed, STATE bytes.
2. The scheduled runs of tests/test_record_clock_jumps.py (3,000 jobs, a London business's
   record clock falling back an hour and springing forward, between runs and inside one):
   per run its requests and the jobs it left behind, then lost, stale and repeats.
3. The record-clock bound's steady price: a quiet and a busy account, with the bound and
   without it (the tap before issue 19: the bound switched off in this process).
4. Issue 19's sequences (a record clock 10 h ahead then put right, or one write stamped
   2099), with and without the bound.

The tap runs in this process on a sandbox whose clock the script moves (no sleeping), with
``lookback_minutes`` given explicitly, so the numbers do not depend on the default.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
from contextlib import nullcontext, redirect_stdout
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

from benchmarks.harness import Report, Size, md_table, script_main
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
from tap_nexudus_jobs.tap import TapNexudusJobs

LOOKBACKS = (0, 60)
STEADY_START = datetime(2026, 11, 10, 8, 0, tzinfo=timezone.utc)
STEADY_INTERVAL = timedelta(minutes=10)


def play(
    runs: list[ScheduledRun], jobs: int, lookback: int, seed: int = 13, *, bound: bool = True
) -> ScheduleReport:
    """The runs on a sandbox whose clock the schedule moves (`bound`: issue 19's on)."""
    clock = schedule_clock(runs)
    # Without the bound (the tap before issue 19) no response gives true time.
    off = mock.patch.object(RecordClockGuard, "saw_time", lambda _self, _date: None)
    switch = nullcontext() if bound else off
    with switch, NexudusSandbox(records=jobs, seed=seed, clock=clock) as sandbox:
        config: dict[str, Any] = {"api_url": sandbox.url, "lookback_minutes": lookback}
        config["access_token"] = "sandbox-token"  # noqa: S105 - the sandbox's demo token

        def sync(state: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            """One sync in this process, as ``tests/conftest.py::run_tap`` runs it."""
            buffer = io.BytesIO()
            with redirect_stdout(io.TextIOWrapper(buffer, encoding="utf-8")) as stdout:
                TapNexudusJobs(config=config, state=state).sync_all()
                stdout.flush()
            messages = [json.loads(line) for line in buffer.getvalue().splitlines()]
            states = [m["value"] for m in messages if m["type"] == "STATE"]
            return [m["record"] for m in messages if m["type"] == "RECORD"], (states or [state])[-1]

        logging.disable(logging.INFO)  # the SDK logs every request and metric: noise, slow
        try:
            return play_schedule(sandbox, clock, runs, sync, seed=5)
        finally:
            logging.disable(logging.NOTSET)


def steady_runs(count: int, updates: int) -> list[ScheduledRun]:
    """A full run, ``count`` runs 10 minutes apart with ``updates`` jobs updated before
    each, then a run 10 minutes later with nothing changed."""
    starts = [STEADY_START + STEADY_INTERVAL * n for n in range(count + 2)]
    runs = [ScheduledRun(starts[0])]
    runs += [ScheduledRun(at, updates_before=updates) for at in starts[1:-1]]
    return [*runs, ScheduledRun(starts[-1])]


#: What `steady_cells` reports of a steady account's runs.
STEADY_HEADERS = " | requests per incremental run | requests, nothing changed | STATE max B | "
STEADY_HEADERS += "STATE last B | repeats | lost/stale"


def steady_cells(report: ScheduleReport) -> list[str]:
    """The incremental runs' listing requests, the quiet last run's, STATE, the verdict."""
    requests = sorted({r.listing_requests for r in report.runs[1:-1]})
    sizes = [r.state_bytes for r in report.runs]
    cells = ["/".join(map(str, requests)), str(report.runs[-1].listing_requests)]
    cells += [str(max(sizes)), str(sizes[-1]), str(report.repeats)]
    return [*cells, f"{len(report.lost)}/{len(report.stale)}"]


def steady(args: argparse.Namespace, report: Report) -> None:
    """1: per rate and lookback, what the incremental runs on a steady account cost."""
    rows = []
    for updates in args.rates:
        for lookback in LOOKBACKS:
            played = play(steady_runs(args.steady_runs, updates), args.jobs, lookback)
            rows.append([f"{updates} per 10 min", str(lookback), *steady_cells(played)])
    report.add(
        f"1. Steady account, {args.jobs} jobs, {args.steady_runs} runs 10 minutes apart\n\n"
        + md_table("updates | lookback" + STEADY_HEADERS, rows)
    )


def sequence_row(name: str, setting: str, played: ScheduleReport, first: str) -> list[str]:
    """Per run: ``first`` (listing requests, or records), then the other of listing requests
    and jobs behind; STATE per run; lost, stale, repeats."""
    requests = " ".join(str(r.listing_requests) for r in played.runs)
    if first == "records":
        cells = [" ".join(str(r.records) for r in played.runs), requests]
    else:
        cells = [requests, " ".join(str(len(r.behind)) for r in played.runs)]
    cells += [" ".join(str(r.state_bytes) for r in played.runs), str(len(played.lost))]
    return [name, setting, *cells, str(len(played.stale)), str(played.repeats)]


def jumps(args: argparse.Namespace, report: Report) -> None:
    """2: the sequences of tests/test_record_clock_jumps.py, per lookback."""
    rows = [
        sequence_row(name, str(lookback), play(runs, args.schedule_jobs, lookback), "requests")
        for name, runs in daylight_saving_schedules().items()
        for lookback in LOOKBACKS
    ]
    report.add(
        "2. Scheduled runs across a record clock jump (tests/test_record_clock_jumps.py)\n\n"
        + md_table(
            f"sequence ({args.schedule_jobs:,} jobs) | lookback | listing requests per run | "
            "jobs behind after each run | STATE B per run | lost | stale | repeats",
            rows,
        )
    )


def bound_price(args: argparse.Namespace, report: Report) -> None:
    """3: the bound's price on steady accounts, next to the tap without it."""
    rows = []
    for updates in args.bound_rates:
        account = "quiet (nothing updated)" if updates == 0 else f"{updates} per 10 min"
        for bound in (False, True):
            played = play(steady_runs(args.steady_runs, updates), args.jobs, 60, bound=bound)
            rows.append([account, "on (issue 19)" if bound else "off (before)"])
            rows[-1] += steady_cells(played)
    report.add(
        f"3. The record-clock bound's steady price, {args.jobs} jobs, {args.steady_runs} runs "
        "10 minutes apart, lookback 60\n\n"
        + md_table("account | record-clock bound" + STEADY_HEADERS, rows)
    )


def ahead(args: argparse.Namespace, report: Report) -> None:
    """4: issue 19's sequences, with and without the bound."""
    rows = []
    for name, runs in clock_ahead_schedules().items():
        for bound in (False, True):
            played = play(runs, args.ahead_jobs, 60, bound=bound)
            rows.append(sequence_row(name, "on" if bound else "off (before)", played, "records"))
    report.add(
        "4. A record clock that ran ahead (tests/test_record_clock_jumps.py, issue 19)\n\n"
        + md_table(
            f"sequence ({args.ahead_jobs:,} jobs) | record-clock bound | records per run | "
            "listing requests per run | STATE B per run | lost | stale | repeats",
            rows,
        )
    )


SIZES = {
    "jobs": Size(2_000, 500, "steady account size"),
    "steady_runs": Size(12, 3, "runs 10 minutes apart"),
    "rates": Size([3, 30, 300], [3, 300], "jobs updated per 10 minutes"),
    "schedule_jobs": Size(3_000, 3_000, "jobs in the clock-jump sequences"),
    "bound_rates": Size([0, 300], [0, 300], "jobs updated per 10 minutes (section 3)"),
    "ahead_jobs": Size(2_000, 2_000, "jobs in issue 19's sequences"),
}


def main(argv: list[str] | None = None) -> int:
    """All four tables."""
    sections = [steady, jumps, bound_price, ahead]
    return script_main("clock-jumps", __doc__ or "", SIZES, sections, argv)
