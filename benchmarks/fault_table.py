"""Fault table: each sandbox fault scenario, under each record clock, as a pair of runs.

    .venv/bin/python -m benchmarks faults [--quick] [--scenarios drift,bulk-update] [--clocks 0,10]

Every scenario of sandbox/nexudus_sandbox/scenarios.py under every record clock (UpdatedOn
at true UTC + 0, +10 and -5 hours), as a pair: run 1 with the scenario's faults, run 2 from
its STATE with the knobs that change jobs off. Per clock a table: jobs run 1 left behind,
and of those the ones it lost (unchanged during it, below its bookmark's minute: the
contract says 0); lost and stale after the pair (0 / 0); requests over both runs (extra
over the fault-free pair), 409s, wall seconds against the fault-free pair, exit codes.
"""

from __future__ import annotations

import argparse
from typing import Any

from benchmarks.clients import OUR_TAP, Client, run_client
from benchmarks.harness import Report, Run, Size, md_table, ratio, script_main
from nexudus_sandbox import NexudusSandbox
from nexudus_sandbox.scenarios import RECORD_CLOCKS, SCENARIOS, FaultScenario
from tap_nexudus_jobs.timestamps import floor_to_minute, parse_timestamp

SIZES = {
    "records": Size(2000, 300, "jobs in the account"),
    "page_size": Size(100, 100, "the tap's page_size"),
    "scenarios": Size(
        [s.name for s in SCENARIOS], ["none", "drift", "throttling"], "scenario names"
    ),
    "clocks": Size([float(c) for c in RECORD_CLOCKS], [0.0], "record clock offsets, hours"),
}
HEADERS = "fault | run 1 behind | run 1 lost | lost after pair | stale after pair | requests "
HEADERS += "(extra) | 409s | wall s (x no-fault) | exit"


def versions(sandbox: NexudusSandbox) -> dict[int, str]:
    """The sandbox's current versions in the tap's UTC rendering."""
    return {i: v.replace("Z", "+00:00") for i, v in sandbox.current_versions().items()}


def lost_by_first(first: Run, before: dict[int, str], after: dict[int, str]) -> tuple[int, int]:
    """Jobs whose version at run 1's end it did not emit, and of those the ones it lost:
    unchanged during it and below its bookmark's minute."""
    shown = {(r["Id"], r["UpdatedOn"]) for r in first.kept}
    behind = {i for i, v in after.items() if (i, v) not in shown}
    lost = {i for i in behind if after[i] == before.get(i)}
    stream = (first.last_state or {}).get("bookmarks", {}).get("business_background_jobs", {})
    claimed = stream.get("replication_key_value")
    # Without a bookmark run 1 claimed nothing, so everything it missed counts as lost.
    if claimed:
        minute = floor_to_minute(parse_timestamp(str(claimed)))
        lost = {i for i in lost if floor_to_minute(parse_timestamp(after[i])) < minute}
    return len(behind), len(lost)


def run_pair(chosen: FaultScenario, args: argparse.Namespace) -> dict[str, Any]:
    """Run 1 with the scenario's faults, run 2 from its STATE on a quiet account."""
    with NexudusSandbox(records=args.records, seed=17, faults=chosen.faults) as sandbox:
        grant = chosen.password_grant
        tap = Client(OUR_TAP.name, settings=dict(chosen.tap_settings), password_grant=grant)
        before = versions(sandbox)
        first = run_client(tap, sandbox, f"faults-{chosen.name}", args.page_size, keep=True)
        after_first = versions(sandbox)
        sandbox.faults = chosen.faults.without_data_changes()
        state = first.last_state
        label = f"faults-{chosen.name}-next"
        second = run_client(tap, sandbox, label, args.page_size, state=state, keep=True)
        final = versions(sandbox)
    latest = {r["Id"]: r["UpdatedOn"] for r in first.kept + second.kept}
    stale = sum(1 for i in final if i in latest and latest[i] != final[i])
    results = {"behind": lost_by_first(first, before, after_first), "stale": stale}
    results |= {"lost": len(set(final) - set(latest)), "requests": len(first.log + second.log)}
    results |= {"throttled": first.throttled + second.throttled, "wall": first.wall + second.wall}
    return results | {"exits": f"{first.exit_code}/{second.exit_code}"}


def clock_table(chosen: list[FaultScenario], clock: float, args: argparse.Namespace) -> str:
    """One table: every scenario as a pair under one record clock."""
    results = {s.name: run_pair(s.with_record_clock(clock), args) for s in chosen}
    base = results["none"]
    rows = []
    for scenario in chosen:
        r = results[scenario.name]
        extra = r["requests"] - base["requests"]
        rows.append([f"{scenario.name}: {scenario.description}", *map(str, r["behind"])])
        rows[-1] += [str(r["lost"]), str(r["stale"]), f"{r['requests']} ({extra:+d})"]
        rows[-1] += [str(r["throttled"]), f"{r['wall']:.1f} ({ratio(r['wall'], base['wall'])})"]
        rows[-1] += [r["exits"]]
    return (
        f"### Record clock {clock:+g} h (UpdatedOn = true UTC {clock:+g} h, labelled Z)\n\n"
        + md_table(HEADERS, rows)
    )


def faults(args: argparse.Namespace, report: Report) -> None:
    """One table per record clock, the fault-free scenario first (the others read against it)."""
    known = {s.name: s for s in SCENARIOS}
    unknown = [name for name in args.scenarios if name not in known]
    if unknown:
        raise SystemExit(f"unknown scenarios {unknown}; known: {sorted(known)}")
    chosen = [known["none"], *(known[n] for n in args.scenarios if n != "none")]
    report.add(
        f"{args.records} jobs, page_size {args.page_size}; tap at its default pacing. Each "
        "row is a pair: run 1 with the faults, run 2 from run 1's STATE with the knobs that "
        "change jobs off."
    )
    for clock in args.clocks:
        report.add(clock_table(chosen, clock, args))


def main(argv: list[str] | None = None) -> int:
    """Print the tables."""
    return script_main("faults", __doc__ or "", SIZES, [faults], argv)
