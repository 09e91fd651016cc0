"""One command for every figure in benchmarks/README.md.

    .venv/bin/python -m benchmarks all [--quick]   # every script, full or small sizes
    .venv/bin/python -m benchmarks NAME --help     # one script: its sizes and sections

``all`` runs the scripts in turn (only ``--quick`` passed on), writes each one's tables to
``benchmarks/.work/results/<name>.md`` and ends with each one's time and exit status.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
import time

from benchmarks.harness import WORK_DIR

#: Name -> module, in the order ``all`` runs them (cheapest and most telling first).
SCRIPTS = {
    "requests": "benchmarks.request_counts",  # 1, 1b, 1c, 5a, 5b: requests, and under drift
    "pacing": "benchmarks.pacing",  # 2, 2b, 5c: wall time and 409s at the rate limits
    "cpu": "benchmarks.cpu_memory",  # 3, 4, 5d: CPU and memory against the baseline
    "faults": "benchmarks.fault_table",  # what each fault scenario costs
    "result-data": "benchmarks.result_data",  # ResultData against the request budget
    "clock-jumps": "benchmarks.clock_jumps",  # lookback 0 against 60 across clock jumps
}


def main(argv: list[str]) -> int:
    """Dispatch on the first argument."""
    if not argv or argv[0] not in (*SCRIPTS, "all"):
        print(__doc__ + "\nScripts: all, " + ", ".join(SCRIPTS))
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    if argv[0] != "all":
        return int(importlib.import_module(SCRIPTS[argv[0]]).main(argv[1:]))
    if any(arg != "--quick" for arg in argv[1:]):
        raise SystemExit("all: only --quick is passed on; run one script for its own sizes")
    (WORK_DIR / "results").mkdir(parents=True, exist_ok=True)
    ended = []
    for name in SCRIPTS:
        print(f"\n===== {name} {' '.join(argv[1:])}".rstrip(), flush=True)
        started = time.perf_counter()
        # Each script in a process of its own: a client forked from a process that grew
        # would count that in its peak RSS.
        output = str(WORK_DIR / "results" / f"{name}.md")
        argv_one = [sys.executable, "-m", "benchmarks", name, *argv[1:], "--output", output]
        code = subprocess.run(argv_one, check=False).returncode
        ended.append((f"{name}: {time.perf_counter() - started:.0f} s, exit {code}", code))
    print("\n===== all: " + "; ".join(line for line, _ in ended))
    return max(int(code != 0) for _, code in ended)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
