"""Fault table: each sandbox fault scenario, what the tap lost and what it cost.

    .venv/bin/python benchmarks/fault_table.py [--records 2000] [--page-size 200]

Runs the tap (its console script, in its own process) against the sandbox once per
scenario in tap_nexudus_jobs/sandbox/scenarios.py and prints a Markdown table: jobs
lost, jobs stale, requests spent (and extra over the fault-free run), 409s, wall time
(and its ratio to the fault-free run). Measured side by side in one run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tap_nexudus_jobs.sandbox import NexudusSandbox
from tap_nexudus_jobs.sandbox.scenarios import SCENARIOS, FaultScenario

TAP = str(Path(sys.executable).with_name("tap-nexudus-jobs"))


def run_scenario(chosen: FaultScenario, records: int, page_size: int) -> dict[str, float]:
    """One sync against a fresh sandbox with the scenario's faults."""
    with NexudusSandbox(records=records, seed=17, faults=chosen.faults) as sandbox:
        auth = (
            {"username": "demo@example.com", "password": "demo-password"}
            if chosen.password_grant
            else {"access_token": "sandbox-token"}
        )
        settings = {"api_url": sandbox.url, "page_size": page_size, **auth, **chosen.tap_settings}
        with tempfile.TemporaryDirectory() as folder:
            config = Path(folder) / "config.json"
            config.write_text(json.dumps(settings))
            started = time.monotonic()
            completed = subprocess.run(
                [TAP, "--config", str(config)], capture_output=True, text=True, check=False
            )
            wall = time.monotonic() - started
        versions: dict[int, str] = {}
        for line in completed.stdout.splitlines():
            message = json.loads(line)
            if message["type"] == "RECORD":
                versions[message["record"]["Id"]] = message["record"]["UpdatedOn"]
        expected = {
            job_id: stamp.replace("Z", "+00:00")
            for job_id, stamp in sandbox.current_versions().items()
        }
        log = sandbox.log_snapshot()
    return {
        "exit": completed.returncode,
        "lost": len(set(expected) - set(versions)),
        "stale": sum(1 for i in expected if i in versions and versions[i] != expected[i]),
        "requests": len(log),
        "throttled": sum(1 for entry in log if entry.status == 409),
        "wall": wall,
    }


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--page-size", type=int, default=200)
    args = parser.parse_args()
    results = {s.name: run_scenario(s, args.records, args.page_size) for s in SCENARIOS}
    base = results["none"]
    print(f"{args.records} jobs, page_size {args.page_size}; tap at its default pacing.\n")
    print("| fault | jobs lost | stale | requests (extra) | 409s | wall s (x no-fault) | exit |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for chosen in SCENARIOS:
        r = results[chosen.name]
        extra = int(r["requests"] - base["requests"])
        print(
            f"| {chosen.name}: {chosen.description} | {r['lost']} | {r['stale']} | "
            f"{r['requests']} ({extra:+d}) | {r['throttled']} | "
            f"{r['wall']:.1f} ({r['wall'] / base['wall']:.2f}x) | {r['exit']} |"
        )


if __name__ == "__main__":
    main()
