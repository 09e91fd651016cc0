"""Command line: ``python -m tap_nexudus_jobs.sandbox`` (http://127.0.0.1:8765, 500 jobs).

Prints one ``Nexudus sandbox listening on URL (N jobs, seed S)`` line and the credentials
it accepts, optionally writes the URL to ``--port-file`` (for Makefiles), and serves until
SIGTERM or SIGINT (exit 0). ``sample_config.json`` works against it as it is.
Fault knobs (``--published-limits``, ``--throttle-rate``, ...) map one to one onto
``SandboxFaults`` fields; the active ones are echoed on stderr.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import signal
import sys
import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from tap_nexudus_jobs.nexudus_api import PUBLISHED_LIMITS
from tap_nexudus_jobs.sandbox.clock import Clock, SimulatedClock, real_clock
from tap_nexudus_jobs.sandbox.data import seeded_rng
from tap_nexudus_jobs.sandbox.faults import (
    DATE_HEADER_MODES,
    RETRY_AFTER_FORMATS,
    THROTTLE_STATUSES,
    TIMESTAMP_FORMATS,
    WRONG_DATE_OFFSET,
    SandboxFaults,
)
from tap_nexudus_jobs.sandbox.listing import TO_FILTER_MODES
from tap_nexudus_jobs.sandbox.server import NexudusSandbox

#: The port sample_config.json and the demo environment's fallback api_url expect.
DEFAULT_PORT = 8765


def _number_set(text: str) -> frozenset[int]:
    """``3,7`` -> {3, 7} (1-based request numbers)."""
    try:
        numbers = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected numbers like 3,7, got {text!r}") from exc
    if any(number < 1 for number in numbers):
        raise argparse.ArgumentTypeError("request numbers start at 1")
    return numbers


def _status_script(text: str) -> dict[int, int]:
    """``5:500,9:409`` -> {5: 500, 9: 409}."""
    script: dict[int, int] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        number, _, status = part.partition(":")
        try:
            script[int(number)] = int(status)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"expected REQUEST:STATUS pairs like 5:500,9:409, got {text!r}"
            ) from exc
    return script


def _instant(text: str) -> datetime:
    """``2026-10-25T01:00:00Z`` -> an aware datetime; an offset is required."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        msg = f"expected a date-time like 2026-10-25T01:00Z: {exc}"
        raise argparse.ArgumentTypeError(msg) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs Z or an offset (true UTC is meant)")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a probability between 0 and 1")
    return value


def _add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for the SandboxFaults knobs (all off by default)."""
    faults = parser.add_argument_group(
        "faults",
        "Make the sandbox misbehave like the real API may (all off by default). Random "
        "faults are seeded by --fault-seed, so a rerun meets the same faults.",
    )
    faults.add_argument("--latency-ms", type=float, default=0.0, help="delay per response")
    faults.add_argument(
        "--dir-convention",
        choices=["1/-1", "0/1"],
        default="1/-1",
        help="meaning of dir: 1 asc/-1 desc (default) or 0 asc/1 desc",
    )
    faults.add_argument(
        "--fault-seed", type=int, default=0, metavar="N", help="seed of random faults (default 0)"
    )
    published = ", ".join(f"{name}={value}" for name, value in PUBLISHED_LIMITS.items())
    faults.add_argument(
        "--published-limits",
        action="store_true",
        help=f"enforce the documented limits ({published}); the --limit-* flags override "
        "single values",
    )
    for flag, window in (
        ("--limit-per-100ms", "any 100 ms"),
        ("--limit-per-minute", "any minute (x --limit-window-scale)"),
        ("--limit-per-hour", "any hour (x --limit-window-scale)"),
    ):
        faults.add_argument(
            flag,
            type=int,
            default=None,
            metavar="N",
            help=f"allow N requests in {window}, account-wide; more get 409 + Retry-After "
            "(seconds until a slot frees) and an empty body",
        )
    faults.add_argument(
        "--limit-window-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="multiply the minute and hour windows by F (e.g. 0.01 to scale time down)",
    )
    faults.add_argument(
        "--throttle-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="answer a request with a spontaneous 409 with probability P",
    )
    faults.add_argument(
        "--throttle-retry-after",
        type=int,
        default=1,
        metavar="S",
        help="Retry-After seconds of spontaneous and scripted 409s (default 1)",
    )
    faults.add_argument(
        "--throttle-status",
        type=int,
        choices=list(THROTTLE_STATUSES),
        default=409,
        help="status of every throttle answer (limits, --throttle-rate): 409 (documented, "
        "default) or 429 (seen on a live account)",
    )
    faults.add_argument(
        "--retry-after-format",
        choices=list(RETRY_AFTER_FORMATS),
        default="seconds",
        help="Retry-After of throttle answers: seconds (default) or an HTTP-date (real time, "
        "rounded up to a second)",
    )
    faults.add_argument(
        "--error-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="answer 500/502/503 (small JSON or HTML body) with probability P",
    )
    faults.add_argument(
        "--reset-rate",
        type=_probability,
        default=0.0,
        metavar="P",
        help="close the connection without a response with probability P",
    )
    faults.add_argument(
        "--scripted-statuses",
        type=_status_script,
        default={},
        metavar="N:STATUS,...",
        help="answer request N (1-based over all requests) with STATUS; 0 closes the connection",
    )
    faults.add_argument(
        "--garbage-listing-requests",
        type=_number_set,
        default=frozenset(),
        metavar="N,...",
        help="answer these listing requests (1-based) with 200 and an HTML error page, e.g. 3,7",
    )
    faults.add_argument(
        "--token-max-uses",
        type=int,
        default=None,
        metavar="N",
        help="refuse an issued access token with 401 after N authorized requests",
    )
    faults.add_argument(
        "--changes-every",
        type=int,
        default=0,
        metavar="K",
        help="before listing requests 2, 2+K, 2+2K, ... touch --changes-per-burst random jobs",
    )
    faults.add_argument(
        "--changes-per-burst",
        type=int,
        default=0,
        metavar="M",
        help="how many jobs each --changes-every burst marks as updated now",
    )
    faults.add_argument(
        "--record-clock-offset-hours",
        type=float,
        default=0.0,
        metavar="H",
        help="stamp UpdatedOn/CreatedOn of changes and new jobs with true UTC + H hours, "
        "still labelled Z (e.g. -5: local time at UTC-5); the Date header stays true UTC",
    )
    faults.add_argument(
        "--record-clock-jump-at",
        type=_instant,
        default=None,
        metavar="ISO",
        help="from this true-UTC instant (e.g. 2026-10-25T01:00Z) on, the record clock is "
        "--record-clock-jump-minutes further ahead (a daylight saving change)",
    )
    faults.add_argument(
        "--record-clock-jump-minutes",
        type=int,
        default=0,
        metavar="N",
        help="minutes the record clock jumps at --record-clock-jump-at: -60 falls back an "
        "hour, 60 springs forward",
    )
    faults.add_argument(
        "--timestamp-format",
        choices=list(TIMESTAMP_FORMATS),
        default="seconds",
        help="UpdatedOn/CreatedOn as ...:29Z (seconds, default), ...:29.5000024Z (ticks: 7 "
        "digits like the live API) or ...:29.5000024 (ticks-no-z: a .NET DateTime of "
        "unspecified kind)",
    )
    faults.add_argument(
        "--purge-every",
        type=int,
        default=0,
        metavar="K",
        help="before listing requests 2, 2+K, 2+2K, ... delete --purge-per-burst random jobs",
    )
    faults.add_argument(
        "--purge-per-burst",
        type=int,
        default=0,
        metavar="M",
        help="how many jobs each --purge-every burst deletes",
    )
    faults.add_argument(
        "--date-header",
        choices=list(DATE_HEADER_MODES),
        default="true",
        help="the HTTP Date header: true UTC (default), missing, or wrong "
        f"(true UTC + {WRONG_DATE_OFFSET.total_seconds() / 3600:g} h)",
    )
    faults.add_argument(
        "--shuffle-ties",
        action="store_true",
        help="return records with equal sort values in a new seeded-random order on every "
        "listing request (orderBy=Id stays stable)",
    )
    faults.add_argument(
        "--to-filter",
        choices=list(TO_FILTER_MODES),
        default="minute",
        help="what to_..._UpdatedOn/CreatedOn=10:30 includes: up to 10:30:59 (minute, "
        "default), up to 10:30:00 (instant), or nothing: the bound is dropped (ignored)",
    )
    faults.add_argument(
        "--bulk-update-at-listing",
        type=int,
        default=0,
        metavar="N",
        help="before listing request N (1-based), give --bulk-update-jobs random jobs the "
        "same UpdatedOn, now (a bulk edit in the current minute)",
    )
    faults.add_argument(
        "--bulk-update-jobs",
        type=int,
        default=0,
        metavar="M",
        help="how many jobs each bulk update changes",
    )
    faults.add_argument(
        "--bulk-update-every",
        type=int,
        default=0,
        metavar="K",
        help="repeat the bulk update before listing requests N+K, N+2K, ... (0: once)",
    )


def _extra_field(text: str) -> tuple[str, Any]:
    """``Priority={"Level": 2}`` -> ("Priority", {"Level": 2}); a value that is not JSON is text."""
    name, separator, value = text.partition("=")
    if not separator or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), json.loads(value)
    except ValueError:
        return name.strip(), value


def _add_lifecycle_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags for the living-account knobs (sandbox/lifecycle.py), all off by default."""
    living = parser.add_argument_group(
        "living account",
        "Statuses that change over time, and fields the API starts sending.",
    )
    living.add_argument(
        "--status-flow-every",
        type=int,
        default=0,
        metavar="K",
        help="before listing requests 2, 2+K, 2+2K, ... move --status-flow-per-burst jobs on "
        "(Running -> Completed/Failed, Queued -> Running, new jobs arrive Queued)",
    )
    living.add_argument(
        "--status-flow-per-burst",
        type=int,
        default=0,
        metavar="M",
        help="how many jobs take each step in one --status-flow-every burst",
    )
    living.add_argument(
        "--status-flow-minutes",
        type=int,
        default=0,
        metavar="N",
        help="stamp burst b at now + b x N minutes (the account's clock moves on; default 0)",
    )
    living.add_argument(
        "--extra-field",
        type=_extra_field,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an undeclared property every job carries (VALUE is JSON, else text); repeatable",
    )


def with_lifecycle_faults(faults: SandboxFaults, args: argparse.Namespace) -> SandboxFaults:
    """``faults`` plus the living-account knobs the parsed flags describe."""
    return dataclasses.replace(
        faults,
        status_flow_every=args.status_flow_every,
        status_flow_per_burst=args.status_flow_per_burst,
        extra_fields=dict(args.extra_field),
        status_flow_minutes=args.status_flow_minutes,
    )


def faults_from_args(args: argparse.Namespace) -> SandboxFaults:
    """The SandboxFaults the parsed flags describe (ValueError for values it rejects)."""
    # --limit-per-* land in args under the SandboxFaults field names PUBLISHED_LIMITS uses.
    limits: dict[str, int | None] = {name: getattr(args, name) for name in PUBLISHED_LIMITS}
    if args.published_limits:
        for name, value in PUBLISHED_LIMITS.items():
            if limits[name] is None:
                limits[name] = value
    return SandboxFaults(
        latency_ms=args.latency_ms,
        dir_convention=args.dir_convention,
        seed=args.fault_seed,
        limit_per_100ms=limits["limit_per_100ms"],
        limit_per_minute=limits["limit_per_minute"],
        limit_per_hour=limits["limit_per_hour"],
        limit_window_scale=args.limit_window_scale,
        throttle_rate=args.throttle_rate,
        throttle_retry_after=args.throttle_retry_after,
        throttle_status=args.throttle_status,
        retry_after_format=args.retry_after_format,
        error_rate=args.error_rate,
        reset_rate=args.reset_rate,
        scripted_statuses=args.scripted_statuses,
        garbage_listing_requests=args.garbage_listing_requests,
        token_max_uses=args.token_max_uses,
        changes_every=args.changes_every,
        changes_per_burst=args.changes_per_burst,
        record_clock_offset_hours=args.record_clock_offset_hours,
        record_clock_jump_at=args.record_clock_jump_at,
        record_clock_jump_minutes=args.record_clock_jump_minutes,
        timestamp_format=args.timestamp_format,
        purge_every=args.purge_every,
        purge_per_burst=args.purge_per_burst,
        date_header=args.date_header,
        shuffle_ties=args.shuffle_ties,
        to_filter=args.to_filter,
        bulk_update_at_listing=args.bulk_update_at_listing,
        bulk_update_jobs=args.bulk_update_jobs,
        bulk_update_every=args.bulk_update_every,
    )


def build_parser() -> argparse.ArgumentParser:
    """The CLI's options; defaults match ``NexudusSandbox``."""
    parser = argparse.ArgumentParser(
        prog="python -m tap_nexudus_jobs.sandbox",
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
        type=_instant,
        default=None,
        metavar="ISO",
        help="the sandbox's true UTC starts here and runs at real speed (record stamps and "
        "the Date header follow it), e.g. a minute before --record-clock-jump-at",
    )
    _add_fault_arguments(parser)
    _add_lifecycle_arguments(parser)
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
        faults = with_lifecycle_faults(faults_from_args(args), args)
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
