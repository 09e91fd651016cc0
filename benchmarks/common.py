"""Shared machinery of the benchmarks: the sandbox process, measured client runs, tables.

Every measured client (our tap, the baseline, the peers) runs as a subprocess whose
stdout is read line by line by the harness (RECORD lines counted, and parsed for Id and
UpdatedOn when a benchmark checks for lost records). CPU time and peak RSS come from
``os.wait4`` on that one child, so neither the sandbox nor the harness is counted.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any, TypeVar

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"
VENVS_DIR = BENCH_DIR / ".venvs"
PEERS_DIR = BENCH_DIR / "peers"
STREAM = "business_background_jobs"
STATIC_TOKEN = "sandbox-token"  # noqa: S105 - the sandbox's well-known demo token
USERNAME = "demo@example.com"
PASSWORD = "demo-password"  # noqa: S105 - the sandbox's well-known demo credential


def main_python() -> str:
    """The project's venv interpreter (the tap is installed there, editable)."""
    candidate = ROOT / ".venv" / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable


def tap_executable() -> str:
    """The console script a user runs."""
    candidate = ROOT / ".venv" / "bin" / "tap-nexudus-jobs"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("tap-nexudus-jobs")
    if found is None:
        raise SystemExit("tap-nexudus-jobs is not installed (make venv)")
    return found


# -- the sandbox process ---------------------------------------------------------------


@dataclass(frozen=True)
class LogEntry:
    """One request the sandbox saw."""

    kind: str  # token, listing, get-one, other
    status: int
    fault: str | None
    started: float
    finished: float | None


@dataclass
class RequestCounts:
    """Requests of one run, from the sandbox's log."""

    entries: list[LogEntry]

    def count(self, kind: str | None = None, status: int | None = None) -> int:
        """Requests of that kind (all if None) and status (all if None)."""
        return sum(
            1
            for e in self.entries
            if (kind is None or e.kind == kind) and (status is None or e.status == status)
        )

    @property
    def total(self) -> int:
        """Every request."""
        return len(self.entries)

    @property
    def listing(self) -> int:
        """Listing requests (any status)."""
        return self.count("listing")

    @property
    def throttled(self) -> int:
        """409 answers."""
        return self.count(status=409)

    @property
    def change_bursts(self) -> int:
        """Listing requests before which the sandbox changed jobs."""
        return sum(1 for e in self.entries if e.fault == "changes")

    def span(self) -> float:
        """Seconds from the first request's arrival to the last answer."""
        if not self.entries:
            return 0.0
        ends = [e.finished for e in self.entries if e.finished is not None]
        return max(ends) - min(e.started for e in self.entries) if ends else 0.0

    def arrival_gaps_ms(self) -> list[float]:
        """Milliseconds between consecutive request arrivals."""
        starts = sorted(e.started for e in self.entries)
        return [(later - earlier) * 1000 for earlier, later in itertools.pairwise(starts)]

    def describe(self) -> str:
        """e.g. ``10 listing + 1 token``."""
        kinds = Counter(e.kind for e in self.entries)
        order = ("listing", "get-one", "token", "other")
        return " + ".join(f"{kinds[k]} {k}" for k in order if kinds[k])


class Sandbox:
    """``sandbox_proc.py`` in its own process; a context manager."""

    def __init__(self, records: int, faults: dict[str, Any] | None = None, seed: int = 42) -> None:
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        self._stderr = (WORK_DIR / "sandbox.stderr.log").open("ab")
        self.proc = subprocess.Popen(
            [
                main_python(),
                str(BENCH_DIR / "sandbox_proc.py"),
                "--records",
                str(records),
                "--seed",
                str(seed),
                "--faults",
                json.dumps(faults or {}),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        hello = self._read()
        self.url: str = hello["url"]
        self.jobs: int = hello["jobs"]

    def _read(self) -> dict[str, Any]:
        if self.proc.stdout is None:
            raise RuntimeError("no pipe to the sandbox process")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process exited (see .work/sandbox.stderr.log)")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"sandbox: {reply['error']}")
        return reply

    def call(self, cmd: str, **fields: Any) -> dict[str, Any]:
        """Send one command, return its reply."""
        if self.proc.stdin is None:
            raise RuntimeError("no pipe to the sandbox process")
        self.proc.stdin.write(json.dumps({"cmd": cmd, **fields}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def log(self) -> RequestCounts:
        """The request log since the last ``clear_log``."""
        raw = self.call("log")["entries"]
        return RequestCounts([LogEntry(k, s, f, a, b) for k, s, f, a, b in raw])

    def clear_log(self) -> None:
        """Forget logged requests."""
        self.call("clear_log")

    def versions(self) -> dict[int, str]:
        """Id -> UpdatedOn of every job served now."""
        return {int(k): v for k, v in self.call("versions")["versions"].items()}

    def set_faults(self, faults: dict[str, Any]) -> None:
        """Replace the fault knobs (all others back to their defaults)."""
        self.call("faults", faults=faults)

    def close(self) -> None:
        """Stop the sandbox process."""
        if self.proc.poll() is None:
            try:
                self.call("quit")
                self.proc.wait(timeout=10)
            except (OSError, RuntimeError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self._stderr.close()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -- measured client runs --------------------------------------------------------------


def instant(value: str) -> float:
    """Seconds since the epoch of an ISO 8601 timestamp (``Z`` or offset)."""
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


@dataclass
class RunResult:
    """What one client run did and cost."""

    label: str
    returncode: int
    wall: float
    user: float
    system: float
    max_rss_kb: int
    records: int
    #: Id -> newest UpdatedOn emitted (epoch seconds); filled when collecting.
    emitted: dict[int, float] = field(default_factory=dict)
    last_state: dict[str, Any] | None = None
    stderr_path: Path | None = None
    timed_out: bool = False

    @property
    def cpu(self) -> float:
        """User + system CPU seconds of the client process."""
        return self.user + self.system

    @property
    def ok(self) -> bool:
        """Exited 0 within the time limit."""
        return self.returncode == 0 and not self.timed_out

    def stderr_tail(self, lines: int = 5) -> str:
        """Last lines of the client's stderr, for failure notes."""
        if self.stderr_path is None or not self.stderr_path.exists():
            return ""
        text = self.stderr_path.read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def failure(self) -> str:
        """One line saying how the run ended badly ("" if it did not)."""
        if self.timed_out:
            return "timed out"
        if self.returncode != 0:
            return f"exit {self.returncode}, {self._exception_line()}"
        return ""

    def _exception_line(self) -> str:
        """``HTTPError: 409 Client Error: Conflict``-style summary of the last exception."""
        for line in reversed(self.stderr_tail(200).splitlines()):
            match = _EXCEPTION.search(line)
            if match is None:
                continue
            message = match.group(2).split("caused an exception: ")[-1]
            message = re.split(r" for (?:url|path): ", message)[0]
            return f"{match.group(1).rsplit('.', 1)[-1]}: {message[:100]}"
        return self.stderr_tail(1).strip()[-100:]


_EXCEPTION = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): (.*)$")


def _parse_record(line: bytes, emitted: dict[int, float]) -> None:
    message = json.loads(line)
    record = message["record"]
    record_id = int(record["Id"])
    updated = record.get("UpdatedOn")
    stamp = instant(str(updated)) if updated is not None else -math.inf
    if stamp > emitted.get(record_id, -math.inf):
        emitted[record_id] = stamp


def safe_name(label: str) -> str:
    """``label`` with only characters that are safe in a file name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)


@dataclass
class Tally:
    """What a client's stdout said: RECORD lines, their newest versions, the last STATE."""

    records: int = 0
    emitted: dict[int, float] = field(default_factory=dict)
    last_state: dict[str, Any] | None = None

    def read(self, stdout: IO[bytes], collect: bool) -> None:
        """Every line; ``collect`` parses each RECORD for Id and UpdatedOn. A
        ``{"type": "SUMMARY", "records": n}`` line (the dlt runner's, when it does not
        print records) sets the count instead."""
        summary: int | None = None
        last_state = b""
        for line in stdout:
            head = line[:48]
            if b'"RECORD"' in head:
                self.records += 1
                if collect:
                    _parse_record(line, self.emitted)
            elif b'"STATE"' in head:
                last_state = line
            elif b'"SUMMARY"' in head:
                summary = int(json.loads(line)["records"])
        self.records = self.records if summary is None else summary
        self.last_state = json.loads(last_state)["value"] if last_state else None


def run_measured(
    label: str,
    argv: list[str],
    *,
    collect: bool = False,
    env: dict[str, str] | None = None,
    timeout: float = 1800.0,
) -> RunResult:
    """Run ``argv``, read its stdout as it comes, return its cost from ``os.wait4``."""
    stderr_path = WORK_DIR / "logs" / f"{safe_name(label)}.stderr.log"
    stderr_path.parent.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    with stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=stderr, env=env, cwd=str(WORK_DIR)
        )
        timed_out = threading.Event()

        def kill_on_timeout() -> None:
            timed_out.set()
            proc.kill()

        watchdog = threading.Timer(timeout, kill_on_timeout)
        watchdog.start()
        if proc.stdout is None:
            raise RuntimeError("no pipe from the client process")
        tally.read(proc.stdout, collect)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        watchdog.cancel()
    return RunResult(
        label=label,
        returncode=os.waitstatus_to_exitcode(status),
        wall=wall,
        user=usage.ru_utime,
        system=usage.ru_stime,
        max_rss_kb=usage.ru_maxrss,
        records=tally.records,
        emitted=tally.emitted,
        last_state=tally.last_state,
        stderr_path=stderr_path,
        timed_out=timed_out.is_set(),
    )


@dataclass(frozen=True)
class Loss:
    """Records a client failed to deliver, against what the sandbox serves at the end."""

    missing: int  # Ids never emitted
    stale: int  # Ids whose newest emitted version is older than the served one

    def __str__(self) -> str:
        return f"{self.missing} missing, {self.stale} stale"

    @property
    def total(self) -> int:
        """Missing + stale."""
        return self.missing + self.stale


def loss(expected: dict[int, str], emitted: dict[int, float]) -> Loss:
    """Compare the served versions with the newest version emitted per Id."""
    missing = stale = 0
    for job_id, version in expected.items():
        seen = emitted.get(job_id)
        if seen is None:
            missing += 1
        elif seen < instant(version):
            stale += 1
    return Loss(missing, stale)


def lagging(expected: dict[int, str], emitted: dict[int, float]) -> set[int]:
    """Ids whose served version was not emitted (missing, or only an older version)."""
    return {
        job_id
        for job_id, version in expected.items()
        if emitted.get(job_id, -math.inf) < instant(version)
    }


#: A version as a run saw it: seconds since the epoch, or a datetime (in-process runs).
Version = TypeVar("Version", float, datetime)


def merge_emitted(*runs: dict[int, Version]) -> dict[int, Version]:
    """Newest version per Id over several runs, as a target that keeps the newest would."""
    merged: dict[int, Version] = {}
    for emitted in runs:
        for job_id, stamp in emitted.items():
            if job_id not in merged or stamp > merged[job_id]:
                merged[job_id] = stamp
    return merged


def changed_jobs(before: dict[int, str], after: dict[int, str]) -> int:
    """How many jobs have a different version (or appeared) at the end."""
    return sum(1 for job_id, version in after.items() if before.get(job_id) != version)


def write_json(path: Path, payload: Any) -> Path:
    """Write ``payload`` as JSON (creating folders); return the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return path


# -- output ----------------------------------------------------------------------------


def md_table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table, columns padded so it also reads well in a terminal."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))

    def line(cells: list[str]) -> str:
        cells = cells + [""] * (len(headers) - len(cells))
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    separator = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), separator, *(line(r) for r in rows)])


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


def median(values: list[float]) -> float:
    """Median (NaN for no values)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


# -- provenance ------------------------------------------------------------------------


def source_hash() -> str:
    """Short hash of the tap's sources (tap_nexudus_jobs/**/*.py), to detect changes."""
    digest = hashlib.sha1(usedforsecurity=False)
    for path in sorted((ROOT / "tap_nexudus_jobs").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


def tap_revision() -> str:
    """Short git revision, the sources' hash, and whether they have uncommitted changes."""
    revision = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--", "tap_nexudus_jobs"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    changes = ", with uncommitted changes" if dirty else ""
    return f"{revision or '?'} (sources {source_hash()}{changes})"


def machine_line() -> str:
    """Date, CPU count and model, Python, tap revision."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    now = datetime.now(timezone.utc)
    return (
        f"{now:%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores ({model}), shared and noisy; "
        f"Python {platform.python_version()}; tap at git {tap_revision()}"
    )


# -- the console script against an in-process sandbox ------------------------------------


@dataclass
class ConsoleRun:
    """One run of the console script, its output kept whole (small runs only)."""

    exit_code: int
    records: list[dict[str, Any]]
    final_state: dict[str, Any] | None
    stderr: str
    wall: float


def run_console(settings: dict[str, Any], state: dict[str, Any] | None) -> ConsoleRun:
    """``tap-nexudus-jobs --config ... [--state ...]`` as a scheduler runs it."""
    with tempfile.TemporaryDirectory() as folder:
        argv = [tap_executable(), "--config", str(write_json(Path(folder) / "c.json", settings))]
        if state:
            argv += ["--state", str(write_json(Path(folder) / "s.json", state))]
        started = time.monotonic()
        completed = subprocess.run(argv, capture_output=True, text=True, check=False)
        wall = time.monotonic() - started
    messages = [json.loads(line) for line in completed.stdout.splitlines()]
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    final = states[-1] if states else None
    return ConsoleRun(completed.returncode, records, final, completed.stderr, wall)
