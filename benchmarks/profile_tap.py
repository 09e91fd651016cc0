"""Run the tap's console entry point under cProfile, timing CPU (not wall) seconds.

    python benchmarks/profile_tap.py --out benchmarks/.work/profile-top.txt -- --config CONFIG

(``python -m benchmarks cpu --profile-n 50000`` runs it against a sandbox.)

Everything after ``--`` goes to ``tap-nexudus-jobs``. The timer is
``time.process_time``, so time spent sleeping (pacing) or waiting for the server does not
show: the listing says where the tap spends CPU. Records still go to stdout.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

from tap_nexudus_jobs.cli import main as tap_main


def main() -> int:
    """Profile one tap run and write the top lines."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--title", default="")
    parser.add_argument("tap_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    tap_args = [a for a in args.tap_args if a != "--"]

    sys.argv = ["tap-nexudus-jobs", *tap_args]
    profiler = cProfile.Profile(time.process_time)
    code = 0
    profiler.enable()
    try:
        tap_main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        profiler.disable()
        sys.stdout.flush()

    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text)
    stats.strip_dirs()
    text.write(f"{args.title}\nTimer: process CPU time (time.process_time), not wall time.\n")
    text.write(f"Total CPU seconds profiled: {stats.total_tt:.2f}\n\n")  # type: ignore[attr-defined]
    text.write(f"== Top {args.top} by cumulative CPU time ==\n")
    stats.sort_stats("cumulative").print_stats(args.top)
    text.write(f"\n== Top {args.top} by own (tottime) CPU time ==\n")
    stats.sort_stats("tottime").print_stats(args.top)
    args.out.write_text(text.getvalue(), encoding="utf-8")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
