"""Fault table: each sandbox fault scenario, under each record clock, as a pair of runs.

    .venv/bin/python benchmarks/fault_table.py [--records 2000] [--page-size 200]
        [--scenarios drift,bulk-update] [--clocks 0,10,-5]

Runs the tap (its console script, in its own process) against the sandbox for every
scenario in tap_nexudus_jobs/sandbox/scenarios.py under every record clock (UpdatedOn
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
import json
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tap_nexudus_jobs.sandbox import NexudusSandbox, RequestLogEntry
from tap_nexudus_jobs.sandbox.scenarios import RECORD_CLOCKS, SCENARIOS, FaultScenario
from tap_nexudus_jobs.timestamps import floor_to_minute, parse_timestamp

TAP = str(Path(sys.executable).with_name("tap-nexudus-jobs"))
STREAM = "business_background_jobs"


@dataclass
class TapOutput:
    """One run of the console script."""

    exit_code: int
    records: list[dict[str, Any]]
    final_state: dict[str, Any] | None
    wall: float

    @property
    def bookmark(self) -> str | None:
        if self.final_state is None:
            return None
        value = self.final_state.get("bookmarks", {}).get(STREAM, {}).get("replication_key_value")
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


def run_tap(settings: dict[str, Any], folder: Path, state: dict[str, Any] | None) -> TapOutput:
    """The console script with `settings` (and `state`), as Meltano would run it."""
    config = folder / "config.json"
    config.write_text(json.dumps(settings))
    command = [TAP, "--config", str(config)]
    if state is not None:
        state_file = folder / "state.json"
        state_file.write_text(json.dumps(state))
        command += ["--state", str(state_file)]
    started = time.monotonic()
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    records: list[dict[str, Any]] = []
    final_state: dict[str, Any] | None = None
    for line in completed.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            records.append(message["record"])
        elif message["type"] == "STATE":
            final_state = message["value"]
    return TapOutput(completed.returncode, records, final_state, wall)


def run_pair(chosen: FaultScenario, records: int, page_size: int) -> PairResult:
    """Run 1 with the scenario's faults, run 2 from its STATE on a quiet account."""
    with NexudusSandbox(records=records, seed=17, faults=chosen.faults) as sandbox:
        auth = (
            {"username": "demo@example.com", "password": "demo-password"}
            if chosen.password_grant
            else {"access_token": "sandbox-token"}
        )
        settings = {"api_url": sandbox.url, "page_size": page_size, **auth, **chosen.tap_settings}
        with tempfile.TemporaryDirectory() as folder:
            before = versions(sandbox)
            first = run_tap(settings, Path(folder), None)
            after_first = versions(sandbox)
            # Run 2 must read a quiet account, so that what it reads is final.
            sandbox.faults = chosen.faults.without_data_changes()
            second = run_tap(settings, Path(folder), first.final_state)
            final = versions(sandbox)
        log: list[RequestLogEntry] = sandbox.log_snapshot()

    shown = {(r["Id"], r["UpdatedOn"]) for r in first.records}
    behind = {i for i, v in after_first.items() if (i, v) not in shown}
    changed = {i for i in after_first if after_first[i] != before.get(i)}
    lost_first = behind - changed
    # Without a bookmark run 1 claimed nothing, so everything it missed counts as lost.
    if first.bookmark is not None:
        minute = floor_to_minute(parse_timestamp(first.bookmark))
        lost_first = {
            i for i in lost_first if floor_to_minute(parse_timestamp(after_first[i])) < minute
        }
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


def _names(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _clocks(text: str) -> list[float]:
    return [float(part) for part in _names(text)]


def main() -> None:
    """Print the tables."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--page-size", type=int, default=200)
    parser.add_argument(
        "--scenarios",
        type=_names,
        default=[s.name for s in SCENARIOS],
        help="comma-separated scenario names (default: all; 'none' is always run)",
    )
    parser.add_argument(
        "--clocks",
        type=_clocks,
        default=list(RECORD_CLOCKS),
        help="comma-separated record clock offsets in hours (default: 0,10,-5)",
    )
    args = parser.parse_args()
    known = {s.name: s for s in SCENARIOS}
    unknown = [name for name in args.scenarios if name not in known]
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {sorted(known)}")
    chosen = [known["none"], *(known[n] for n in args.scenarios if n != "none")]

    command = [
        ".venv/bin/python",
        "benchmarks/fault_table.py",
        "--records",
        str(args.records),
        "--page-size",
        str(args.page_size),
        "--scenarios",
        ",".join(s.name for s in chosen),
        "--clocks",
        ",".join(f"{c:g}" for c in args.clocks),
    ]
    print(f"Reproduce: `{shlex.join(command)}`\n")
    print(
        f"{args.records} jobs, page_size {args.page_size}; tap at its default pacing. Each "
        "row is a pair: run 1 with the faults, run 2 from run 1's STATE with the knobs that "
        "change jobs off.\n"
    )
    for clock in args.clocks:
        results = {
            s.name: run_pair(s.with_record_clock(clock), args.records, args.page_size)
            for s in chosen
        }
        base = results["none"]
        print(f"### Record clock {clock:+g} h (UpdatedOn = true UTC {clock:+g} h, labelled Z)\n")
        print(
            "| fault | run 1 behind | run 1 lost | lost after pair | stale after pair | "
            "requests (extra) | 409s | wall s (x no-fault) | exit |"
        )
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for scenario in chosen:
            r = results[scenario.name]
            extra = r.requests - base.requests
            ratio = r.wall / base.wall if base.wall else float("nan")
            print(
                f"| {scenario.name}: {scenario.description} | {r.behind_after_first} | "
                f"{r.lost_after_first} | {r.lost} | {r.stale} | {r.requests} ({extra:+d}) | "
                f"{r.throttled} | {r.wall:.1f} ({ratio:.2f}x) | {r.exits[0]}/{r.exits[1]} |"
            )
        print()


if __name__ == "__main__":
    main()
