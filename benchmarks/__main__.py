"""One command for every figure in benchmarks/README.md.

    .venv/bin/python -m benchmarks all             # every script at its full sizes
    .venv/bin/python -m benchmarks all --quick     # every script small: a minute or two
    .venv/bin/python -m benchmarks walk --help     # one script, and its sizes

Each name runs one script (one question); ``all`` runs them in turn, passing ``--quick``
on, writes each one's tables to ``benchmarks/.work/results/<name>.md`` and ends with each
one's time and exit status.
"""

from __future__ import annotations

import importlib
import sys
import time

from benchmarks.common import WORK_DIR

RESULTS = WORK_DIR / "results"

#: Name -> module, in the order ``all`` runs them (cheapest and most telling first).
SCRIPTS = {
    "requests": "benchmarks.request_counts",  # 1, 1b: requests per run, and under drift
    "walk": "benchmarks.walk_costs",  # 1c: the walk's requests per page size
    "pacing": "benchmarks.pacing",  # 2, 2b: wall time at the rate limits
    "cpu": "benchmarks.cpu_memory",  # 3, 4: CPU and memory against the baseline
    "peers": "benchmarks.peers_compared",  # 5: the same questions for two peers
    "faults": "benchmarks.fault_table",  # what each fault scenario costs
    "result-data": "benchmarks.result_data",  # ResultData against the request budget
    "clock-jumps": "benchmarks.clock_jumps",  # lookback 0 against 60 across clock jumps
}


def run_one(name: str, argv: list[str]) -> int:
    """``main(argv)`` of the script called ``name``."""
    module = importlib.import_module(SCRIPTS[name])
    code: int = module.main(argv)
    return code


def run_all(argv: list[str]) -> int:
    """Every script with the same switches (only ``--quick`` is shared)."""
    if any(arg != "--quick" for arg in argv):
        raise SystemExit("all: only --quick is passed on; run one script for its own sizes")
    RESULTS.mkdir(parents=True, exist_ok=True)
    timings = []
    for name in SCRIPTS:
        print(f"\n===== {name} {' '.join(argv)}".rstrip(), flush=True)
        started = time.perf_counter()
        code = run_one(name, [*argv, "--output", str(RESULTS / f"{name}.md")])
        timings.append(f"{name}: {time.perf_counter() - started:.0f} s, exit {code}")
    print("\n===== all: " + "; ".join(timings))
    return max(int("exit 0" not in line) for line in timings)


def main(argv: list[str]) -> int:
    """Dispatch on the first argument."""
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in (*SCRIPTS, "all"):
        print(__doc__)
        print("Scripts: all, " + ", ".join(SCRIPTS))
        return 0 if argv and argv[0] in ("-h", "--help") else 2
    if argv[0] == "all":
        return run_all(argv[1:])
    return run_one(argv[0], argv[1:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
