"""Command line: ``python -m tap_nexudus_jobs.sandbox --records 500 --port 0``.

Prints one ``Nexudus sandbox listening on URL (N jobs, seed S)`` line, optionally writes
the URL to ``--port-file`` (for Makefiles), and serves until SIGTERM or SIGINT (exit 0).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from tap_nexudus_jobs.sandbox.data import seeded_rng
from tap_nexudus_jobs.sandbox.faults import SandboxFaults
from tap_nexudus_jobs.sandbox.server import NexudusSandbox


def build_parser() -> argparse.ArgumentParser:
    """The CLI's options; defaults match ``NexudusSandbox``."""
    parser = argparse.ArgumentParser(
        prog="python -m tap_nexudus_jobs.sandbox",
        description="Serve a local emulator of the Nexudus BusinessBackgroundJobs API.",
    )
    parser.add_argument("--records", type=int, default=500, help="number of jobs (default 500)")
    parser.add_argument("--seed", type=int, default=42, help="data seed (default 42)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay per response")
    parser.add_argument("--dir-convention", choices=["1/-1", "0/1"], default="1/-1")
    parser.add_argument(
        "--touch",
        type=int,
        default=0,
        metavar="K",
        help="mark K seed-chosen jobs as updated now, so a re-run has changes to pick up",
    )
    parser.add_argument("--username", default="demo@example.com")
    parser.add_argument("--password", default="demo-password")
    parser.add_argument("--static-token", default="sandbox-token")
    parser.add_argument("--port-file", type=Path, help="write the base URL here once listening")
    return parser


def _write_atomically(path: Path, text: str) -> None:
    """Write then rename, so a poller never reads a half-written URL."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until a termination signal arrives."""
    args = build_parser().parse_args(argv)
    sandbox = NexudusSandbox(
        records=args.records,
        seed=args.seed,
        username=args.username,
        password=args.password,
        static_token=args.static_token,
        faults=SandboxFaults(latency_ms=args.latency_ms, dir_convention=args.dir_convention),
        host=args.host,
        port=args.port,
    )
    if args.touch > 0:
        ids = sorted(sandbox.served_ids())
        chosen = seeded_rng(f"touch:{args.seed}").sample(ids, min(args.touch, len(ids)))
        sandbox.touch(chosen)
        print(f"touched {len(chosen)} jobs (updated now)", file=sys.stderr)

    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    url = sandbox.start()
    try:
        print(
            f"Nexudus sandbox listening on {url} ({len(sandbox.jobs)} jobs, seed {args.seed})",
            flush=True,
        )
        if args.port_file is not None:
            _write_atomically(args.port_file, url + "\n")
        while not stopping.wait(0.5):
            pass
    finally:
        sandbox.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
