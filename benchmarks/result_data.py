"""ResultData within the budget: get-ones per delivered version, and a budgeted first sync.

    .venv/bin/python -m benchmarks result-data [--quick] [--steady-jobs 2000]
        [--steady-runs 10] [--burst 20] [--minutes-between-runs 10] [--first-sync-jobs 20000]
        [--max-requests 4000] [--page-size 1000] [--output benchmarks/result-data.md]

Runs the tap's console script (its own process) against the sandbox (in this process),
unpaced (the sandbox enforces no limits here; requests are counted, not timed), and
prints two Markdown tables, also written to ``--output``:

1. **Steady account.** A full sync with `include_result_data`, then incremental runs
   back to back while the sandbox's status flow moves jobs on before every listing request
   (Running ones finish with a result, Queued ones start, new ones arrive Queued). Per
   `lookback_minutes` 0 and 60: get-one requests per delivered version that has a result
   (target 1.00), versions emitted more than once (target 0). The "no memory" rows run the
   same with `delivered` stripped from STATE between runs and `result_data_skip_statuses:
   []`, which is how the tap behaved before it kept delivered versions.
2. **Budgeted first sync.** N jobs, `include_result_data`, `max_requests_per_run`, runs
   repeated from STATE until one ends without stopping: runs taken, requests per run, and
   checks (every job once, with its ResultData; get-ones = jobs with a result).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from benchmarks.common import run_console
from benchmarks.harness import Report, Size, script_main
from nexudus_sandbox import NexudusSandbox, SandboxFaults

LISTING = "/api/sys/businessbackgroundjobs"
STREAM = "business_background_jobs"
NO_RESULT_YET = frozenset({"Queued", "Running"})
UNPACED = {
    "requests_per_minute": 1_000_000,
    "requests_per_hour": 1_000_000_000,
    "min_request_interval_ms": 0,
}
STOP_MARK = "Stopping cleanly"


@dataclass
class Run:
    """One tap run: what it emitted and what it sent."""

    records: list[dict[str, Any]]
    state: dict[str, Any]
    listing: int
    get_ones: list[int]
    token: int
    stderr: str
    exit_code: int
    wall: float

    @property
    def requests(self) -> int:
        return self.listing + len(self.get_ones) + self.token

    @property
    def stopped(self) -> bool:
        return STOP_MARK in self.stderr

    def stop_line(self) -> str:
        lines = [line for line in self.stderr.splitlines() if STOP_MARK in line]
        return lines[-1].split(STOP_MARK, 1)[1].strip(": ") if lines else ""


def run_tap(sandbox: NexudusSandbox, settings: dict[str, Any], state: dict[str, Any]) -> Run:
    """The console script once, its requests read from the sandbox's log."""
    sandbox.clear_log()
    done = run_console({"api_url": sandbox.url, **settings}, state)
    log = sandbox.log_snapshot()
    return Run(
        records=done.records,
        state=done.final_state or state,
        listing=sum(1 for e in log if e.path == LISTING),
        get_ones=[int(e.path.rsplit("/", 1)[1]) for e in log if e.path.startswith(LISTING + "/")],
        token=sum(1 for e in log if e.path == "/api/token"),
        stderr=done.stderr,
        exit_code=done.exit_code,
        wall=done.wall,
    )


@dataclass
class Steady:
    """Totals over the incremental runs of one steady-account measurement."""

    label: str
    runs: int = 0
    versions: int = 0
    with_result: int = 0
    get_ones: int = 0
    listing: int = 0
    emitted_twice: int = 0
    first_sync_get_ones: int = 0
    first_sync_with_result: int = 0
    state_bytes: list[int] = field(default_factory=list)


def steady_account(
    jobs: int, runs: int, lookback: int, *, memory: bool, burst: int, minutes: int
) -> Steady:
    """A full sync, then `runs` incremental runs while the status flow moves jobs on."""
    label = f"lookback_minutes {lookback}" + ("" if memory else ", no memory (before)")
    result = Steady(label)
    settings: dict[str, Any] = {
        "access_token": "sandbox-token",
        "page_size": 200,
        "include_result_data": True,
        "lookback_minutes": lookback,
        **UNPACED,
    }
    if not memory:
        settings["result_data_skip_statuses"] = []
    faults = SandboxFaults(
        status_flow_every=1, status_flow_per_burst=burst, status_flow_minutes=minutes, seed=5
    )
    with NexudusSandbox(records=jobs, seed=61, faults=faults) as sandbox:
        first = run_tap(sandbox, settings, {})
        result.first_sync_get_ones = len(first.get_ones)
        result.first_sync_with_result = sum(
            1 for r in first.records if r["Status"] not in NO_RESULT_YET
        )
        emitted: Counter[tuple[int, str]] = Counter(
            (r["Id"], r["UpdatedOn"]) for r in first.records
        )
        state = first.state
        for _ in range(runs):
            if not memory:
                for stream_state in state.get("bookmarks", {}).values():
                    stream_state.pop("delivered", None)
            run = run_tap(sandbox, settings, state)
            state = run.state
            result.runs += 1
            result.versions += len(run.records)
            result.with_result += sum(1 for r in run.records if r["Status"] not in NO_RESULT_YET)
            result.get_ones += len(run.get_ones)
            result.listing += run.listing
            result.state_bytes.append(len(json.dumps(state)))
            emitted.update((r["Id"], r["UpdatedOn"]) for r in run.records)
    result.emitted_twice = sum(1 for count in emitted.values() if count > 1)
    return result


def steady_table(rows: list[Steady], jobs: int, burst: int, minutes: int) -> str:
    """The steady account's table, one row per measurement."""
    lines = [
        f"Steady account: {jobs:,} jobs; before every listing request {burst} Running jobs "
        f"finish, {burst} Queued ones start and {burst} new ones arrive, each burst "
        f"{minutes} minutes after the one before on the account's clock (sandbox "
        f"`status_flow_every=1, status_flow_minutes={minutes}`): a full sync with "
        "`include_result_data`, then incremental runs, as if scheduled every "
        f"{minutes} minutes. Each run re-reads the bookmark's minute and the lookback window "
        "(bursts come with listing requests: a run that reads two pages meets two).",
        "",
        "| run | incremental runs | versions delivered | with a result | get-ones | "
        "**get-ones per delivered version with a result** (target 1.00) | versions emitted "
        "twice (target 0) | listing requests per run | STATE size | first sync: get-ones "
        "per job with a result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratio = row.get_ones / row.with_result if row.with_result else math.nan
        first = (
            row.first_sync_get_ones / row.first_sync_with_result
            if row.first_sync_with_result
            else math.nan
        )
        lines.append(
            f"| {row.label} | {row.runs} | {row.versions:,} | {row.with_result:,} | "
            f"{row.get_ones:,} | **{ratio:.2f}** | {row.emitted_twice:,} | "
            f"{row.listing / max(1, row.runs):.1f} | {max(row.state_bytes, default=0):,} B | "
            f"{first:.2f} |"
        )
    return "\n".join(lines)


def runs_until_complete(sandbox: NexudusSandbox, settings: dict[str, Any]) -> tuple[list[Run], Run]:
    """Runs from the previous run's STATE until one ends without stopping (at most 51),
    and one more run after that."""
    runs: list[Run] = []
    state: dict[str, Any] = {}
    while True:
        run = run_tap(sandbox, settings, state)
        runs.append(run)
        state = run.state
        if run.exit_code != 0 or not run.stopped or len(runs) > 50:
            return runs, run_tap(sandbox, settings, state)


def budget_checks(
    runs: list[Run], again: Run, served: dict[int, tuple[str, Any]], with_result: set[int]
) -> str:
    """Every job once with its ResultData, one get-one per job with a result."""
    emitted = Counter(r["Id"] for run in runs for r in run.records)
    delivered = {r["Id"]: r["ResultData"] for run in runs for r in run.records}
    fetched = Counter(i for run in runs for i in run.get_ones)
    checks = {
        "every job emitted": set(emitted) == set(served),
        "each once": set(emitted.values()) == {1},
        "ResultData as served": all(delivered.get(i) == served[i][1] for i in served),
        "get-ones = jobs with a result, once each": fetched == Counter(with_result),
        "every run exit 0": all(run.exit_code == 0 for run in runs),
        "a further run emits nothing": not again.records,
    }
    return "Checks: " + ", ".join(f"{k}: {'OK' if v else '**FAIL**'}" for k, v in checks.items())


def budgeted_first_sync(jobs: int, max_requests: int, page_size: int) -> str:
    """Runs repeated from STATE under max_requests_per_run until one completes."""
    settings: dict[str, Any] = {
        "access_token": "sandbox-token",
        "page_size": page_size,
        "include_result_data": True,
        "max_requests_per_run": max_requests,
        **UNPACED,
    }
    with NexudusSandbox(records=jobs, seed=62) as sandbox:
        with sandbox.lock:
            served = {i: (j["Status"], j["ResultData"]) for i, j in sandbox.jobs.items()}
        runs, again = runs_until_complete(sandbox, settings)
    with_result = {i for i, (status, _) in served.items() if status not in NO_RESULT_YET}
    pages = math.ceil(jobs / page_size)
    least = math.ceil((len(with_result) + pages) / max_requests)
    lines = [
        f"Budgeted first sync: {jobs:,} jobs ({len(with_result):,} with a result, the rest "
        f"Queued/Running), `include_result_data`, `page_size` {page_size}, "
        f"`max_requests_per_run: {max_requests}`; each run starts from the previous run's "
        "STATE.",
        "",
        f"**{len(runs)} runs** (the least possible: {least}, for {len(with_result):,} "
        f"get-ones + {pages} listing pages at {max_requests:,} a run).",
        "",
        "| run | requests (listing + get-one) | jobs emitted | exit | its last log line |",
        "|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {number} | {run.requests:,} ({run.listing} + {len(run.get_ones):,}) | "
        f"{len(run.records):,} | {run.exit_code} | {run.stop_line() or '(complete)'} |"
        for number, run in enumerate(runs, 1)
    ]
    return "\n".join([*lines, "", budget_checks(runs, again, served, with_result)])


SIZES = {
    "steady_jobs": Size(2000, 300, "jobs of the steady account"),
    "steady_runs": Size(10, 2, "incremental runs on it"),
    "burst": Size(20, 5, "jobs finishing, starting and arriving before each listing request"),
    "minutes_between_runs": Size(10, 10, "the account's clock between bursts"),
    "first_sync_jobs": Size(20_000, 1_000, "jobs of the budgeted first sync"),
    "max_requests": Size(4000, 300, "its max_requests_per_run"),
    "page_size": Size(1000, 200, "its page_size"),
}


def bench_steady(args: argparse.Namespace, report: Report) -> None:
    """Get-ones per delivered version on a steady account, per lookback, with and without
    the delivered versions kept in STATE."""
    rows = [
        steady_account(
            args.steady_jobs,
            args.steady_runs,
            lookback,
            memory=memory,
            burst=args.burst,
            minutes=args.minutes_between_runs,
        )
        for lookback in (0, 60)
        for memory in (True, False)
    ]
    report.add(steady_table(rows, args.steady_jobs, args.burst, args.minutes_between_runs))


def bench_budgeted(args: argparse.Namespace, report: Report) -> None:
    """A first sync under max_requests_per_run, run again from STATE until complete."""
    report.add(budgeted_first_sync(args.first_sync_jobs, args.max_requests, args.page_size))


def main(argv: list[str] | None = None) -> int:
    """Both tables."""
    return script_main("result-data", __doc__ or "", SIZES, [bench_steady, bench_budgeted], argv)
