"""What every benchmark script shares: its command line, its report, measured client runs.

A script declares its sizes once (``Size``: the full run's value, the ``--quick`` one, a
help line) and its sections; ``script_main`` parses, runs the sections, prints each table
as it completes, and writes them all to ``--output`` when asked.
"""

from __future__ import annotations

import argparse
import math
import shlex
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.clients import Client
from benchmarks.common import (
    WORK_DIR,
    RequestCounts,
    RunResult,
    Sandbox,
    machine_line,
    median,
    run_measured,
    safe_name,
    source_hash,
    tap_revision,
)


@dataclass(frozen=True)
class Size:
    """One option of a script: its full-run value, its ``--quick`` value, what it sets."""

    full: Any
    quick: Any
    help: str


@dataclass
class Report:
    """Markdown sections, printed as they complete and kept for ``--output``."""

    parts: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        """Print and keep."""
        print(text, flush=True)
        print(flush=True)
        self.parts.append(text)


Section = Callable[[argparse.Namespace, Report], None]


def _kind(value: Any) -> Callable[[str], Any]:
    """How the command line spells a value of this kind (a list: comma-separated)."""
    if not isinstance(value, list):
        return type(value)
    item = type(value[0]) if value else int
    return lambda text: [item(part.strip()) for part in text.split(",") if part.strip()]


def _shown(value: Any) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def parse(doc: str, sizes: dict[str, Size], argv: list[str]) -> argparse.Namespace:
    """``--quick``, ``--output`` and one option per size; unset sizes take the mode's value."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--output", type=Path, help="also write the tables to this file")
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
    name: str, doc: str, sizes: dict[str, Size], sections: list[Section], argv: list[str] | None
) -> int:
    """Run a script's sections; exit 1 if one crashed or broke its contract (a missed target
    is a table cell, not an exit status)."""
    argv = list(argv or [])
    args = parse(doc, sizes, argv)
    started, sources = time.perf_counter(), source_hash()
    command = shlex.join([".venv/bin/python", "-m", "benchmarks", name, *argv])
    report = Report()
    report.add(f"{machine_line()}\n\nCommand: `{command}`.")
    crashed = sum(not _run_section(section, args, report) for section in sections)
    moved = "" if source_hash() == sources else f" The tap changed during it ({tap_revision()})."
    report.add(f"Took {time.perf_counter() - started:.0f} s.{moved}")
    if args.output is not None:
        args.output.write_text("\n\n".join(report.parts) + "\n", encoding="utf-8")
        print(f"Wrote {args.output}")
    return 1 if crashed else 0


class Broken(Exception):
    """A section's contract failed (a job lost, say): reported without a traceback."""


def check(failures: list[str]) -> None:
    """Raise ``Broken`` naming every failure, if any."""
    if failures:
        raise Broken("; ".join(failures))


def _run_section(section: Section, args: argparse.Namespace, report: Report) -> bool:
    """One section; a broken contract or a crash becomes a report entry and exit 1."""
    try:
        section(args, report)
    except Broken as broken:
        report.add(f"**Contract broken** ({section.__name__}): {broken}")
        return False
    except Exception:
        report.add(
            f"### {section.__name__}: the benchmark failed\n\n```\n{traceback.format_exc()}```"
        )
        return False
    return True


# -- verdicts and cells ----------------------------------------------------------------


def verdict(ok: bool) -> str:
    """OK or MISS."""
    return "OK" if ok else "**MISS**"


def status_note(result: RunResult) -> str:
    """ "" or why the run failed."""
    failure = result.failure()
    return f" (failed: {failure})" if failure else ""


def rate(records: int, elapsed: float) -> str:
    """Records per second."""
    if not elapsed or math.isnan(elapsed):
        return "n/a"
    return f"{records / elapsed:,.0f}"


# -- measured client runs --------------------------------------------------------------


def fresh_folder(*parts: str) -> Path:
    """An empty folder under .work/runs/."""
    folder = WORK_DIR.joinpath("runs", *map(safe_name, parts))
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def run_client(
    client: Client,
    sandbox: Sandbox,
    label: str,
    *,
    page_size: int,
    folder: Path | None = None,
    state: dict[str, Any] | None = None,
    collect: bool = False,
    timeout: float = 1800.0,
) -> tuple[RunResult, RequestCounts]:
    """One measured run of ``client`` against ``sandbox``, with its request log."""
    folder = folder or fresh_folder(label)
    invocation = client.invocation(sandbox.url, page_size, folder, state)
    sandbox.clear_log()
    result = run_measured(
        label, invocation.argv, collect=collect, env=invocation.env, timeout=timeout
    )
    return result, sandbox.log()


@dataclass
class Pair:
    """Run 1, and run 2 from run 1's final state: each with its request log, and the
    versions the sandbox served when run 1 ended."""

    first: RunResult
    first_log: RequestCounts
    after: dict[int, str]
    second: RunResult
    second_log: RequestCounts

    @property
    def listing(self) -> int:
        """Listing requests of both runs."""
        return self.first_log.listing + self.second_log.listing


def run_pair(
    client: Client, sandbox: Sandbox, label: str, page_size: int, *, quiet: bool = True
) -> Pair:
    """Run 1, then run 2 from its state; ``quiet`` turns the sandbox's faults off between
    them (run 2 must read a quiet account, so that what it reads is final)."""
    # One folder for both runs: a peer such as dlt keeps its state there, not in ours.
    folder = fresh_folder(label)
    first, first_log = run_client(
        client, sandbox, label, page_size=page_size, folder=folder, collect=True
    )
    after = sandbox.versions()
    if quiet:
        sandbox.set_faults({})
    second, second_log = run_client(
        client, sandbox, label + "-next", page_size=page_size, folder=folder,
        state=first.last_state, collect=True,
    )  # fmt: skip
    return Pair(first, first_log, after, second, second_log)


def side_by_side(
    clients: list[Client], sandbox: Sandbox, n: int, repeats: int, page_size: int, tag: str
) -> dict[str, list[RunResult]]:
    """Run every client ``repeats`` times, interleaved (order reversed every other round)."""
    results: dict[str, list[RunResult]] = {c.name: [] for c in clients}
    for round_number in range(repeats):
        order = clients if round_number % 2 == 0 else list(reversed(clients))
        for client in order:
            label = f"{tag}-{client.name}-{n}-{round_number}"
            result, _ = run_client(client, sandbox, label, page_size=page_size)
            results[client.name].append(result)
    return results


def summarise(runs: list[RunResult]) -> tuple[float, float, int, str]:
    """Median wall, median CPU, records of the first run, failure note."""
    ok = [r for r in runs if r.ok]
    failure = next((r.failure() for r in runs if not r.ok), "")
    if not ok:
        return math.nan, math.nan, runs[0].records if runs else 0, failure
    return median([r.wall for r in ok]), median([r.cpu for r in ok]), ok[0].records, failure
