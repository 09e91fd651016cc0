"""ResultData within the budget: get-ones per delivered version, and a budgeted first sync.

    .venv/bin/python -m benchmarks result-data [--quick] [--steady-jobs 2000] [--burst 20]

The tap's console script, unpaced, against the sandbox serving from this process.
1. **Steady account**: a full sync with `include_result_data`, then incremental runs while
   the sandbox's status flow moves jobs on before every listing request. Per
   `lookback_minutes` 0 and 60: get-ones per delivered version with a result (target
   1.00), versions emitted twice (target 0); "no memory" rows strip `delivered` from STATE
   and set `result_data_skip_statuses: []` (the tap before it kept delivered versions).
2. **Budgeted first sync**: `max_requests_per_run`, runs repeated from STATE until one
   completes: runs taken, requests per run, and checks (every job once with its ResultData).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import Counter
from typing import Any

from benchmarks.clients import OUR_TAP, Client, run_client
from benchmarks.harness import UNPACED, Report, Run, Size, kind, script_main
from nexudus_sandbox import NexudusSandbox, SandboxFaults

NO_RESULT_YET = frozenset({"Queued", "Running"})
STOP_MARK = "Stopping cleanly"
SIZES = {
    "steady_jobs": Size(2000, 300, "jobs of the steady account"),
    "steady_runs": Size(10, 2, "incremental runs on it"),
    "burst": Size(20, 5, "jobs finishing, starting and arriving before each listing request"),
    "minutes_between_runs": Size(10, 10, "the account's clock between bursts"),
    "first_sync_jobs": Size(20_000, 1_000, "jobs of the budgeted first sync"),
    "max_requests": Size(4000, 300, "its max_requests_per_run"),
    "page_size": Size(1000, 200, "its page_size"),
}


def run_tap(
    sandbox: NexudusSandbox, settings: dict[str, Any], state: dict[str, Any], label: str
) -> Run:
    """The console script once; records kept, its final STATE (or the one it started from)."""
    tap = Client(OUR_TAP.name, settings={**settings, **UNPACED, "include_result_data": True})
    run = run_client(tap, sandbox, label, settings["page_size"], state=state, keep=True)
    run.last_state = run.last_state or state
    return run


def with_result(records: list[dict[str, Any]]) -> int:
    return sum(1 for r in records if r["Status"] not in NO_RESULT_YET)


def steady_row(args: argparse.Namespace, lookback: int, memory: bool) -> str:
    """A full sync, then incremental runs while the status flow moves jobs on: one row."""
    settings: dict[str, Any] = {"page_size": 200, "lookback_minutes": lookback}
    if not memory:
        settings["result_data_skip_statuses"] = []
    flow = {"status_flow_per_burst": args.burst, "status_flow_minutes": args.minutes_between_runs}
    faults = SandboxFaults(status_flow_every=1, seed=5, **flow)
    runs = []
    with NexudusSandbox(records=args.steady_jobs, seed=61, faults=faults) as sandbox:
        state: dict[str, Any] = {}
        for number in range(args.steady_runs + 1):
            if not memory:
                state = json.loads(json.dumps(state))  # the STATE as written stays measured
                for stream_state in state.get("bookmarks", {}).values():
                    stream_state.pop("delivered", None)
            runs.append(run_tap(sandbox, settings, state, f"steady-{number}"))
            state = runs[-1].last_state or {}
    first, later = runs[0], runs[1:]
    emitted = Counter((r["Id"], r["UpdatedOn"]) for run in runs for r in run.kept)
    records = [r for run in later for r in run.kept]
    get_ones = sum(run.count("get-one") for run in later)
    ratio = get_ones / with_result(records) if with_result(records) else math.nan
    first_ratio = first.count("get-one") / max(with_result(first.kept), 1)
    state_bytes = max(len(json.dumps(run.last_state)) for run in later)
    label = f"lookback_minutes {lookback}" + ("" if memory else ", no memory (before)")
    cells = [label, str(len(later)), f"{len(records):,}", f"{with_result(records):,}"]
    cells += [f"{get_ones:,}", f"**{ratio:.2f}**", f"{sum(c > 1 for c in emitted.values()):,}"]
    cells += [f"{sum(r.listing for r in later) / max(1, len(later)):.1f}", f"{state_bytes:,} B"]
    return "| " + " | ".join([*cells, f"{first_ratio:.2f}"]) + " |"


def steady(args: argparse.Namespace, report: Report) -> None:
    """Get-ones per delivered version on a steady account, per lookback, with and without
    the delivered versions kept in STATE."""
    burst, minutes = args.burst, args.minutes_between_runs
    rows = [steady_row(args, lookback, memory) for lookback in (0, 60) for memory in (True, False)]
    report.add(
        f"Steady account: {args.steady_jobs:,} jobs; before every listing request {burst} "
        f"Running jobs finish, {burst} Queued ones start and {burst} new ones arrive, each "
        f"burst {minutes} minutes after the one before on the account's clock (sandbox "
        f"`status_flow_every=1, status_flow_minutes={minutes}`): a full sync with "
        f"`include_result_data`, then incremental runs, as if scheduled every {minutes} "
        "minutes. Each run re-reads the bookmark's minute and the lookback window (bursts "
        "come with listing requests: a run that reads two pages meets two).\n\n"
        "| run | incremental runs | versions delivered | with a result | get-ones | "
        "**get-ones per delivered version with a result** (target 1.00) | versions emitted "
        "twice (target 0) | listing requests per run | STATE size | first sync: get-ones "
        "per job with a result |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
        + "\n".join(rows)
    )


def stopped(run: Run) -> bool:
    return run.ok and STOP_MARK in run.stderr()


def stop_line(run: Run) -> str:
    lines = [line for line in run.stderr().splitlines() if STOP_MARK in line]
    return lines[-1].split(STOP_MARK, 1)[1].strip(": ") if lines else ""


def budgeted(args: argparse.Namespace, report: Report) -> None:
    """A first sync under max_requests_per_run, run again from STATE until one completes
    (at most 51 runs), and once more after that."""
    settings = {"page_size": args.page_size, "max_requests_per_run": args.max_requests}
    runs: list[Run] = []
    with NexudusSandbox(records=args.first_sync_jobs, seed=62) as sandbox:
        with sandbox.lock:
            served = {i: (j["Status"], j["ResultData"]) for i, j in sandbox.jobs.items()}
        while not runs or (stopped(runs[-1]) and len(runs) <= 50):
            state = runs[-1].last_state or {} if runs else {}
            runs.append(run_tap(sandbox, settings, state, f"budgeted-{len(runs)}"))
        again = run_tap(sandbox, settings, runs[-1].last_state or {}, "budgeted-again")
    results = {i for i, (status, _) in served.items() if status not in NO_RESULT_YET}
    pages = math.ceil(args.first_sync_jobs / args.page_size)
    least = math.ceil((len(results) + pages) / args.max_requests)
    table = [
        f"| {number} | {len(run.log):,} ({run.listing} + {run.count('get-one'):,}) | "
        f"{run.records:,} | {run.exit_code} | {stop_line(run) or '(complete)'} |"
        for number, run in enumerate(runs, 1)
    ]
    emitted = Counter(r["Id"] for run in runs for r in run.kept)
    delivered = {r["Id"]: r["ResultData"] for run in runs for r in run.kept}
    get_ones = [e for run in runs for e in run.log if kind(e) == "get-one"]
    fetched = Counter(int(e.path.rsplit("/", 1)[1]) for e in get_ones)
    checks = {
        "every job emitted": set(emitted) == set(served),
        "each once": set(emitted.values()) == {1},
        "ResultData as served": all(delivered.get(i) == served[i][1] for i in served),
        "get-ones = jobs with a result, once each": fetched == Counter(results),
        "every run exit 0": all(run.exit_code == 0 for run in runs),
        "a further run emits nothing": not again.records,
    }
    report.add(
        f"Budgeted first sync: {args.first_sync_jobs:,} jobs ({len(results):,} with a result, "
        f"the rest Queued/Running), `include_result_data`, `page_size` {args.page_size}, "
        f"`max_requests_per_run: {args.max_requests}`; each run starts from the previous "
        f"run's STATE.\n\n**{len(runs)} runs** (the least possible: {least}, for "
        f"{len(results):,} get-ones + {pages} listing pages at {args.max_requests:,} a run)."
        "\n\n| run | requests (listing + get-one) | jobs emitted | exit | its last log line |"
        "\n|---:|---:|---:|---:|---|\n"
        + "\n".join(table)
        + "\n\nChecks: "
        + ", ".join(f"{k}: {'OK' if v else '**FAIL**'}" for k, v in checks.items())
    )


def main(argv: list[str] | None = None) -> int:
    """Both tables."""
    return script_main("result-data", __doc__ or "", SIZES, [steady, budgeted], argv)
