"""Command line: ``python -m nexudus_sandbox`` (http://127.0.0.1:8765, 500 jobs).

Prints one ``Nexudus sandbox listening on URL (N jobs, seed S)`` line and the credentials
it accepts, optionally writes the URL to ``--port-file`` (for Makefiles), and serves until
SIGTERM or SIGINT (exit 0). ``sample_config.json`` works against it as it is.
Fault knobs (``--throttle-rate``, ...) are generated one to one from the ``SandboxFaults``
fields (sandbox/knobs.py), plus the ``--published-limits`` preset; the active ones are
echoed on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from types import FrameType
from typing import Any

from nexudus_sandbox.clock import Clock, SimulatedClock, real_clock
from nexudus_sandbox.data import seeded_rng
from nexudus_sandbox.faults import SandboxFaults
from nexudus_sandbox.knobs import (
    FAULTS_GROUP,
    LIVING_GROUP,
    CliSpec,
    cli_spec,
    default_of,
    instant,
)
from nexudus_sandbox.server import NexudusSandbox
from tap_nexudus_jobs.nexudus_api import PUBLISHED_LIMITS

#: The port sample_config.json and the demo environment's fallback api_url expect.
DEFAULT_PORT = 8765


def _add_knob_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per SandboxFaults knob, generated from its declaration (sandbox/knobs.py)."""
    groups = {
        FAULTS_GROUP: parser.add_argument_group(
            FAULTS_GROUP,
            "Make the sandbox misbehave like the real API may (all off by default). Random "
            "faults are seeded by --fault-seed, so a rerun meets the same faults.",
        ),
        LIVING_GROUP: parser.add_argument_group(
            LIVING_GROUP, "Statuses that change over time, and fields the API starts sending."
        ),
    }
    for knob in fields(SandboxFaults):
        spec = cli_spec(knob)
        if spec is not None:
            flag = spec.flag or "--" + knob.name.replace("_", "-")
            groups[spec.group].add_argument(flag, dest=_dest(knob), **_argparse_options(knob, spec))
    published = ", ".join(f"{name}={value}" for name, value in PUBLISHED_LIMITS.items())
    groups[FAULTS_GROUP].add_argument(
        "--published-limits",
        action="store_true",
        help=f"enforce the documented limits ({published}); the --limit-* flags override "
        "single values",
    )


def _dest(knob: dataclasses.Field[Any]) -> str:
    # Not the field name: the data's --seed and the faults' --fault-seed would share it.
    return f"knob_{knob.name}"


def _argparse_options(knob: dataclasses.Field[Any], spec: CliSpec) -> dict[str, Any]:
    default = default_of(knob)
    if isinstance(default, bool):
        return {"action": "store_true", "help": spec.help}
    options: dict[str, Any] = {"help": spec.help, "default": default, "metavar": spec.metavar}
    options["type"] = spec.parse or type(default)
    if spec.choices is not None:
        options["choices"] = list(spec.choices)
        options.pop("metavar")
    if spec.repeat:
        options.update(action="append", default=[])
    return options


def faults_from_args(args: argparse.Namespace) -> SandboxFaults:
    """The SandboxFaults the parsed flags describe (ValueError for values it rejects)."""
    values = {k.name: getattr(args, _dest(k)) for k in fields(SandboxFaults) if cli_spec(k)}
    for knob in fields(SandboxFaults):
        spec = cli_spec(knob)
        if spec is not None and spec.repeat:
            values[knob.name] = dict(values[knob.name])
    if args.published_limits:
        for name, value in PUBLISHED_LIMITS.items():
            if values[name] is None:
                values[name] = value
    return SandboxFaults(**values)


def build_parser() -> argparse.ArgumentParser:
    """The CLI's options; defaults match ``NexudusSandbox``."""
    parser = argparse.ArgumentParser(
        prog="python -m nexudus_sandbox",
        description="Serve a local emulator of the Nexudus BusinessBackgroundJobs API.",
    )
    parser.add_argument("--records", type=int, default=500, help="number of jobs (default 500)")
    parser.add_argument("--seed", type=int, default=42, help="data seed (default 42)")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_PORT,
        help=f"port (default {DEFAULT_PORT}, as in sample_config.json); 0 picks a free one",
    )
    parser.add_argument(
        "--touch",
        type=int,
        default=0,
        metavar="K",
        help="mark K seed-chosen jobs as updated now, so a re-run has changes to pick up",
    )
    parser.add_argument(
        "--username", default="demo@example.com", help="password-grant user (default %(default)s)"
    )
    parser.add_argument(
        "--password", default="demo-password", help="its password (default %(default)s)"
    )
    parser.add_argument(
        "--static-token",
        default="sandbox-token",
        help="bearer token accepted as access_token (default %(default)s)",
    )
    parser.add_argument("--port-file", type=Path, help="write the base URL here once listening")
    parser.add_argument(
        "--clock-start",
        type=instant,
        default=None,
        metavar="ISO",
        help="the sandbox's true UTC starts here and runs at real speed (record stamps and "
        "the Date header follow it), e.g. a minute before --record-clock-jump-at",
    )
    _add_knob_arguments(parser)
    return parser


def _write_atomically(path: Path, text: str) -> None:
    """Write then rename, so a poller never reads a half-written URL."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)


def clock_from_args(args: argparse.Namespace) -> Clock:
    """The sandbox's clock: real time, or running from ``--clock-start``."""
    if args.clock_start is None:
        return real_clock
    return SimulatedClock(args.clock_start, running=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until a termination signal arrives."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        faults = faults_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    sandbox = NexudusSandbox(
        records=args.records,
        seed=args.seed,
        username=args.username,
        password=args.password,
        static_token=args.static_token,
        faults=faults,
        host=args.host,
        port=args.port,
        clock=clock_from_args(args),
    )
    if args.touch > 0:
        ids = sorted(sandbox.served_ids())
        chosen = seeded_rng(f"touch:{args.seed}").sample(ids, min(args.touch, len(ids)))
        sandbox.touch(chosen)
        print(f"touched {len(chosen)} jobs (updated now)", file=sys.stderr)

    active = faults.active()
    if active:
        knobs = ", ".join(f"{name}={value!r}" for name, value in sorted(active.items()))
        print(f"faults: {knobs}", file=sys.stderr)

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
        # Well-known test credentials of a local emulator, not secrets.
        print(
            f"credentials: access_token {args.static_token!r}, or username "
            f"{args.username!r} with password {args.password!r}",
            file=sys.stderr,
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
