"""Fault table: each sandbox fault scenario, under each record clock, as a pair of runs.

    .venv/bin/python -m benchmarks faults [--quick] [--records 2000] [--page-size 100]
        [--scenarios drift,bulk-update] [--clocks 0,10,-5]

Runs the tap (its console script, in its own process) against the sandbox for every
scenario in sandbox/nexudus_sandbox/scenarios.py under every record clock (UpdatedOn
written at true UTC + 0, +10 and -5 hours by default), each as a pair: run 1 with the
scenario's faults, then run 2 from run 1's final STATE on a quiet account (the knobs that
change jobs off, every other fault still on). Prints one Markdown table per clock:

- run 1 behind: jobs whose current version run 1 did not emit (the walk may leave jobs
  that changed in the newest minute while it read it to the next run);
- run 1 lost: of those, jobs below run 1's bookmark minute that did not change during
  run 1 (the contract says 0);
- lost / stale after the pair (the contract says 0 / 0);
- requests over both runs (extra over the fault-free scenario at the same clock), 409s,
  wall seconds of both runs (and the ratio to the fault-free pair), exit codes.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from benchmarks.common import ConsoleRun, md_table, ratio, run_console
from benchmarks.harness import Report, Size, script_main
from nexudus_sandbox import NexudusSandbox, RequestLogEntry
from nexudus_sandbox.scenarios import RECORD_CLOCKS, SCENARIOS, FaultScenario
from tap_nexudus_jobs.timestamps import floor_to_minute, parse_timestamp

STREAM = "business_background_jobs"


def bookmark(state: dict[str, Any] | None) -> str | None:
    """The bookmark a run's final STATE claims, if any."""
    value = (state or {}).get("bookmarks", {}).get(STREAM, {}).get("replication_key_value")
    return str(value) if value else None


@dataclass
class PairResult:
    """What a pair of runs of one scenario under one clock lost and cost."""

    behind_after_first: int
    lost_after_first: int
    lost: int
    stale: int
    requests: int
    throttled: int
    wall: float
    exits: tuple[int, int]


def versions(sandbox: NexudusSandbox) -> dict[int, str]:
    """The sandbox's current versions in the tap's UTC rendering."""
    return {i: v.replace("Z", "+00:00") for i, v in sandbox.current_versions().items()}


def behind_after(
    first: ConsoleRun, before: dict[int, str], after: dict[int, str]
) -> tuple[set[int], set[int]]:
    """Jobs whose version at run 1's end it did not emit, and of those the ones it lost:
    unchanged during it and below its bookmark's minute."""
    shown = {(r["Id"], r["UpdatedOn"]) for r in first.records}
    behind = {i for i, v in after.items() if (i, v) not in shown}
    lost = {i for i in behind if after[i] == before.get(i)}
    # Without a bookmark run 1 claimed nothing, so everything it missed counts as lost.
    claimed = bookmark(first.final_state)
    if claimed is not None:
        minute = floor_to_minute(parse_timestamp(claimed))
        lost = {i for i in lost if floor_to_minute(parse_timestamp(after[i])) < minute}
    return behind, lost


def run_pair(chosen: FaultScenario, records: int, page_size: int) -> PairResult:
    """Run 1 with the scenario's faults, run 2 from its STATE on a quiet account."""
    with NexudusSandbox(records=records, seed=17, faults=chosen.faults) as sandbox:
        auth = (
            {"username": "demo@example.com", "password": "demo-password"}
            if chosen.password_grant
            else {"access_token": "sandbox-token"}
        )
        settings = {"api_url": sandbox.url, "page_size": page_size, **auth, **chosen.tap_settings}
        before = versions(sandbox)
        first = run_console(settings, None)
        after_first = versions(sandbox)
        # Run 2 must read a quiet account, so that what it reads is final.
        sandbox.faults = chosen.faults.without_data_changes()
        second = run_console(settings, first.final_state)
        final = versions(sandbox)
        log: list[RequestLogEntry] = sandbox.log_snapshot()

    behind, lost_first = behind_after(first, before, after_first)
    latest: dict[int, str] = {}
    for record in first.records + second.records:
        latest[record["Id"]] = record["UpdatedOn"]
    return PairResult(
        behind_after_first=len(behind),
        lost_after_first=len(lost_first),
        lost=len(set(final) - set(latest)),
        stale=sum(1 for i in final if i in latest and latest[i] != final[i]),
        requests=len(log),
        throttled=sum(1 for entry in log if entry.status == 409),
        wall=first.wall + second.wall,
        exits=(first.exit_code, second.exit_code),
    )


SIZES = {
    "records": Size(2000, 300, "jobs in the account"),
    "page_size": Size(100, 100, "the tap's page_size"),
    "scenarios": Size(
        [s.name for s in SCENARIOS], ["none", "drift", "throttling"], "scenario names"
    ),
    "clocks": Size([float(c) for c in RECORD_CLOCKS], [0.0], "record clock offsets, hours"),
}
HEADERS = [
    "fault",
    "run 1 behind",
    "run 1 lost",
    "lost after pair",
    "stale after pair",
    "requests (extra)",
    "409s",
    "wall s (x no-fault)",
    "exit",
]


def chosen_scenarios(names: list[str]) -> list[FaultScenario]:
    """The named scenarios, the fault-free one first (the others are read against it)."""
    known = {s.name: s for s in SCENARIOS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown scenarios {unknown}; known: {sorted(known)}")
    return [known["none"], *(known[n] for n in names if n != "none")]


def clock_table(chosen: list[FaultScenario], clock: float, args: argparse.Namespace) -> str:
    """One table: every scenario as a pair under one record clock."""
    results = {
        s.name: run_pair(s.with_record_clock(clock), args.records, args.page_size) for s in chosen
    }
    base = results["none"]
    rows = []
    for scenario in chosen:
        r = results[scenario.name]
        rows.append(
            [
                f"{scenario.name}: {scenario.description}",
                str(r.behind_after_first),
                str(r.lost_after_first),
                str(r.lost),
                str(r.stale),
                f"{r.requests} ({r.requests - base.requests:+d})",
                str(r.throttled),
                f"{r.wall:.1f} ({ratio(r.wall, base.wall)})",
                f"{r.exits[0]}/{r.exits[1]}",
            ]
        )
    return (
        f"### Record clock {clock:+g} h (UpdatedOn = true UTC {clock:+g} h, labelled Z)\n\n"
        + md_table(HEADERS, rows)
    )


def bench_faults(args: argparse.Namespace, report: Report) -> None:
    """One table per record clock."""
    chosen = chosen_scenarios(args.scenarios)
    report.add(
        f"{args.records} jobs, page_size {args.page_size}; tap at its default pacing. Each "
        "row is a pair: run 1 with the faults, run 2 from run 1's STATE with the knobs that "
        "change jobs off."
    )
    for clock in args.clocks:
        report.add(clock_table(chosen, clock, args))


def main(argv: list[str] | None = None) -> int:
    """Print the tables."""
    return script_main("faults", __doc__ or "", SIZES, [bench_faults], argv)
