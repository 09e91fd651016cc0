"""What every benchmark script shares: its options and report, the sandbox, measured runs.

A script declares its sizes (``Size``: full value, ``--quick`` value, help) and sections;
``script_main`` runs them, printing each table as it completes under the machine, the
tap's revision and the exact command, and writes them to ``--output``. A client runs as a
subprocess, its stdout read line by line, its CPU and peak RSS from ``os.wait4``; requests
come from the sandbox's log. The sandbox serves from a thread (``NexudusSandbox``: hooks
and clock at hand) or, where timing matters, from its own process (``SandboxProcess``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from nexudus_sandbox import NexudusSandbox, RequestLogEntry, SandboxFaults

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"
LISTING_PATH = "/api/sys/businessbackgroundjobs"
STATIC_TOKEN = "sandbox-token"  # noqa: S105 - the sandbox's well-known demo token
UNPACED = {  # pacing that never binds: it adds no request, and pads no wall time
    "requests_per_minute": 1_000_000,
    "requests_per_hour": 1_000_000_000,
    "min_request_interval_ms": 0,
}

# -- options, sections, report ---------------------------------------------------------


@dataclass(frozen=True)
class Size:
    """One option of a script: its full-run value, its ``--quick`` value, what it sets."""

    full: Any
    quick: Any
    help: str


class Broken(Exception):
    """A section's contract failed (a job lost, say): reported without a traceback."""


def check(failures: list[str]) -> None:
    """Raise ``Broken`` naming every failure, if any."""
    if failures:
        raise Broken("; ".join(failures))


class Report(list[str]):
    """Markdown sections, printed as they complete and kept for ``--output``."""

    def add(self, text: str) -> None:
        """Print and keep."""
        print(text + "\n", flush=True)
        self.append(text)


Section = Callable[[argparse.Namespace, Report], None]


def _kind(value: Any) -> Callable[[str], Any]:
    """How the command line spells a value of this kind (a list: comma-separated)."""
    if not isinstance(value, list):
        return type(value)
    item = type(value[0]) if value else int
    return lambda text: [item(part) for part in text.split(",") if part.strip()]


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def parse(doc: str, sizes: dict[str, Size], names: list[str], argv: list[str]) -> Any:
    """``--quick``, ``--output``, ``--only`` and one option per size."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--output", type=Path, help="also write the tables to this file")
    parser.add_argument("--only", type=_kind([""]), help="sections to run: " + ",".join(names))
    for name, size in sizes.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=_kind(size.full),
            help=f"{size.help} ({_shown(size.full)}; --quick {_shown(size.quick)})",
        )
    args = parser.parse_args(argv)
    for name, size in sizes.items():
        if getattr(args, name) is None:
            setattr(args, name, size.quick if args.quick else size.full)
    return args


def script_main(
    name: str, doc: str, sizes: dict[str, Size], sections: Sequence[Section], argv: list[str] | None
) -> int:
    """Run a script's sections; exit 1 if one crashed or broke its contract (a missed target
    is a table cell, not an exit status)."""
    argv = list(argv or [])
    args = parse(doc, sizes, [s.__name__ for s in sections], argv)
    started, command = time.perf_counter(), [".venv/bin/python", "-m", "benchmarks", name]
    report = Report()
    report.add(f"{machine_line()}\n\nCommand: `{shlex.join([*command, *argv])}`.")
    chosen = [s for s in sections if not args.only or s.__name__ in args.only]
    crashed = sum(not _run_section(section, args, report) for section in chosen)
    report.add(f"Took {time.perf_counter() - started:.0f} s.")
    if args.output is not None:
        args.output.write_text("\n\n".join(report) + "\n", encoding="utf-8")
        print(f"Wrote {args.output}")
    return 1 if crashed else 0


def _run_section(section: Section, args: argparse.Namespace, report: Report) -> bool:
    """One section; a broken contract or a crash becomes a report entry and exit 1."""
    try:
        section(args, report)
    except Broken as broken:
        report.add(f"**Contract broken** ({section.__name__}): {broken}")
        return False
    except Exception:
        report.add(f"### {section.__name__} failed\n\n```\n{traceback.format_exc()}```")
        return False
    return True


def machine_line() -> str:
    """Date, CPU count and model, Python, the tap's git revision."""
    cpuinfo = Path("/proc/cpuinfo")
    models = [line for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
    model = models[0].split(":", 1)[1].strip() if models else "unknown CPU"

    def git(*argv: str) -> str:
        done = subprocess.run(["git", "-C", str(ROOT), *argv], capture_output=True, text=True)
        return done.stdout.strip()

    dirty = ", with uncommitted changes" if git("status", "--porcelain", "tap_nexudus_jobs") else ""
    return (
        f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores ({model}), "
        f"shared and noisy; Python {platform.python_version()}; tap at git "
        f"{git('rev-parse', '--short', 'HEAD') or '?'}{dirty}"
    )


# -- cells -------------------------------------------------------------------------------


def md_table(header: str, rows: list[list[str]]) -> str:
    """A Markdown table (``header``: cells apart by `` | ``), columns padded so it also reads
    well in a terminal."""
    headers = header.split(" | ")
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), separator, *(line(r) for r in rows)])


def verdict(ok: bool) -> str:
    """OK or MISS."""
    return "OK" if ok else "**MISS**"


def per_job(requests: int, delivered: int) -> str:
    """Requests per delivered job (distinct Ids emitted), or n/a when none was."""
    return f"{requests / delivered:.4f}" if delivered else "n/a"


def seconds(value: float) -> str:
    """Seconds with sensible precision."""
    return f"{value:.2f} s" if value < 100 else f"{value:.0f} s"


def ratio(numerator: float, denominator: float) -> str:
    """``1.23x``, or n/a."""
    if denominator <= 0 or math.isnan(numerator) or math.isnan(denominator):
        return "n/a"
    return f"{numerator / denominator:.2f}x"


def rate(records: int, elapsed: float) -> str:
    """Records per second."""
    return "n/a" if not elapsed or math.isnan(elapsed) else f"{records / elapsed:,.0f}"


# -- the sandbox -------------------------------------------------------------------------


def kind(entry: RequestLogEntry) -> str:
    """token, listing, get-one or other."""
    path = entry.path.rstrip("/").lower()
    if path == LISTING_PATH:
        return "listing"
    if path.startswith(LISTING_PATH + "/"):
        return "get-one"
    return "token" if path == "/api/token" else "other"


class SandboxProcess:
    """A ``NexudusSandbox`` in a process of its own, over a one-line JSON protocol."""

    def __init__(self, records: int, faults: dict[str, Any] | None = None, seed: int = 42) -> None:
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        self._stderr = (WORK_DIR / "sandbox.stderr.log").open("ab")
        argv = [sys.executable, "-m", "benchmarks.harness", str(records), str(seed)]
        self.proc = subprocess.Popen(
            [*argv, json.dumps(faults or {})], cwd=ROOT, text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
        )  # fmt: skip
        self.url: str = self.call("url")

    def call(self, cmd: str, arg: Any = None) -> Any:
        """Send one command, return its reply."""
        if self.proc.stdin is None or self.proc.stdout is None:
            raise RuntimeError("no pipe to the sandbox process")
        self.proc.stdin.write(json.dumps([cmd, arg]) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process exited (see .work/sandbox.stderr.log)")
        return json.loads(line)

    def clear_log(self) -> None:
        self.call("clear_log")

    def log_snapshot(self) -> list[RequestLogEntry]:
        return [RequestLogEntry(**e) for e in self.call("log_snapshot")]

    def current_versions(self) -> dict[int, str]:
        return {int(k): v for k, v in self.call("current_versions").items()}

    def set_faults(self, faults: dict[str, Any]) -> None:
        """Replace the fault knobs (all others back to their defaults)."""
        self.call("faults", faults)

    def __enter__(self) -> SandboxProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc.poll() is None:
            self.call("quit")
            self.proc.wait(timeout=10)
        self._stderr.close()


def serve_sandbox(records: int, seed: int, faults: dict[str, Any]) -> None:
    """The other end of ``SandboxProcess``: serve until told to quit."""
    with NexudusSandbox(records=records, seed=seed, faults=SandboxFaults(**faults)) as sandbox:
        for line in sys.stdin:
            cmd, arg = json.loads(line)
            if cmd == "faults":
                sandbox.faults = SandboxFaults(**arg)
            reply: Any = {
                "url": lambda: sandbox.url,
                "log_snapshot": lambda: [asdict(e) for e in sandbox.log_snapshot()],
                "current_versions": sandbox.current_versions,
                "clear_log": sandbox.clear_log,
            }.get(cmd, lambda: None)()
            print(json.dumps(reply), flush=True)
            if cmd == "quit":
                return


# -- measured client runs ---------------------------------------------------------------


def instant(value: str) -> float:
    """Seconds since the epoch of an ISO 8601 timestamp (``Z`` or offset)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass
class Run:
    """What one client run emitted, sent and cost."""

    label: str
    exit_code: int
    timed_out: bool
    wall: float
    user: float
    system: float
    max_rss_kb: int
    log: list[RequestLogEntry]
    records: int = 0
    #: Id -> newest UpdatedOn emitted (epoch seconds), when asked for.
    emitted: dict[int, float] = field(default_factory=dict)
    #: Every RECORD's payload, when asked for (small runs only).
    kept: list[dict[str, Any]] = field(default_factory=list)
    last_state: dict[str, Any] | None = None

    @property
    def cpu(self) -> float:
        return self.user + self.system

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    def count(self, of_kind: str) -> int:
        return sum(1 for e in self.log if kind(e) == of_kind)

    @property
    def listing(self) -> int:
        return self.count("listing")

    @property
    def throttled(self) -> int:
        return sum(1 for e in self.log if e.status == 409)

    def describe(self) -> str:
        """e.g. ``10 listing + 1 token``."""
        kinds = Counter(kind(e) for e in self.log)
        order = ("listing", "get-one", "token", "other")
        return " + ".join(f"{kinds[k]} {k}" for k in order if kinds[k])

    def stderr(self) -> str:
        path = WORK_DIR / "logs" / f"{safe_name(self.label)}.stderr.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def failure(self) -> str:
        """One line saying how the run ended badly ("" if it did not)."""
        if self.timed_out or self.ok:
            return "timed out" if self.timed_out else ""
        errors = [line.strip() for line in self.stderr().splitlines() if "Error: " in line]
        last = (errors or self.stderr().splitlines()[-1:] or [""])[-1]
        name, _, message = last.partition(": ")
        message = re.split(r" for (?:url|path): ", message.split("caused an exception: ")[-1])[0]
        return f"exit {self.exit_code}, {name.rsplit('.', 1)[-1]}: {message[:100]}"

    def note(self) -> str:
        """ "" or `` (failed: why)``."""
        return f" (failed: {self.failure()})" if self.failure() else ""


def safe_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


def read_output(stdout: IO[bytes], run: Run, collect: bool, keep: bool) -> None:
    """Every Singer line: RECORDs counted (and parsed when asked), the last STATE kept. A
    ``{"type": "SUMMARY", "records": n}`` line (the dlt runner's) sets the count."""
    for line in stdout:
        head = line[:48]
        if b'"RECORD"' in head:
            run.records += 1
            if collect or keep:
                record = json.loads(line)["record"]
                if keep:
                    run.kept.append(record)
                stamp = instant(str(record.get("UpdatedOn") or "1900-01-01T00:00:00Z"))
                if stamp > run.emitted.get(int(record["Id"]), -math.inf):
                    run.emitted[int(record["Id"])] = stamp
        elif b'"STATE"' in head:
            run.last_state = json.loads(line)["value"]
        elif b'"SUMMARY"' in head:
            run.records = int(json.loads(line)["records"])


def run_measured(
    label: str,
    argv: list[str],
    sandbox: NexudusSandbox | SandboxProcess,
    *,
    env: dict[str, str] | None = None,
    collect: bool = False,
    keep: bool = False,
    timeout: float = 1800.0,
) -> Run:
    """Run ``argv``, read its stdout as it comes, its cost from ``os.wait4``, its requests
    from the sandbox's log (cleared first)."""
    stderr_path = WORK_DIR / "logs" / f"{safe_name(label)}.stderr.log"
    stderr_path.parent.mkdir(parents=True, exist_ok=True)
    sandbox.clear_log()
    with stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=WORK_DIR)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill)
        timer.start()
        run = Run(label, 0, False, 0.0, 0.0, 0.0, 0, [])
        if proc.stdout is None:
            raise RuntimeError("no pipe from the client process")
        read_output(proc.stdout, run, collect, keep)
        _, status, usage = os.wait4(proc.pid, 0)
        run.wall = time.perf_counter() - started
        timer.cancel()
    run.exit_code, run.timed_out = os.waitstatus_to_exitcode(status), killed.is_set()
    run.user, run.system, run.max_rss_kb = usage.ru_utime, usage.ru_stime, usage.ru_maxrss
    run.log = sandbox.log_snapshot()
    return run


# -- records lost --------------------------------------------------------------------------


@dataclass(frozen=True)
class Loss:
    """Records lost, against what the sandbox serves at the end."""

    missing: set[int]  # Ids never emitted
    stale: set[int]  # Ids whose newest emitted version is older than the served one

    def __str__(self) -> str:
        return f"{len(self.missing)} missing, {len(self.stale)} stale"

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.stale)

    @property
    def ids(self) -> set[int]:
        return self.missing | self.stale


def loss(served: dict[int, str], *runs: dict[int, float]) -> Loss:
    """The served versions against the newest version emitted per Id over ``runs``."""
    newest = merge(*runs)
    missing = {i for i in served if i not in newest}
    stale = {i for i, v in served.items() if i in newest and newest[i] < instant(v)}
    return Loss(missing, stale)


def merge(*runs: dict[int, float]) -> dict[int, float]:
    """Newest version per Id over several runs, as a target that keeps the newest would."""
    merged: dict[int, float] = {}
    for emitted in runs:
        for job_id, stamp in emitted.items():
            merged[job_id] = max(stamp, merged.get(job_id, -math.inf))
    return merged


if __name__ == "__main__":
    serve_sandbox(int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3]))
