"""CPU and memory against the bare baseline and the peers (sections 3, 4 and 5d).

    .venv/bin/python -m benchmarks cpu [--quick] [--cpu-n 100000,50000] [--repeats 3]

3, 5d: full syncs at zero latency, no limits: the tap, ``baseline.py`` and the peers
installed, interleaved (order reversed every other round), medians; CPU = user+sys of the
client process (``os.wait4``). ``--profile-n`` profiles the tap once in this process (CPU
timer) into ``benchmarks/.work/profile-top.txt``. 4: the tap's peak RSS, small and large N.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import math
import os
import pstats
import time
from contextlib import redirect_stdout
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks.clients import BASELINE, OUR_TAP, PEER_SIZES, Client, peers, run_client
from benchmarks.harness import (
    ROOT,
    UNPACED,
    WORK_DIR,
    Report,
    Run,
    SandboxProcess,
    Size,
    md_table,
    rate,
    ratio,
    script_main,
    seconds,
    verdict,
)

SIZES = {
    "cpu_n": Size([100_000, 50_000], [5_000], "sizes of the CPU runs"),
    "repeats": Size(3, 1, "runs of each client per size, interleaved"),
    "profile_n": Size(50_000, 0, "size profiled into .work/profile-top.txt (0: none)"),
    "memory_n": Size([10_000, 200_000], [1_000, 5_000], "the small and the large memory run"),
    **PEER_SIZES,
}
PAGE_SIZE = 1000
CPU_TARGET = 1.5  # the tap's CPU at most 1.5x the baseline's
MEMORY_TARGET = 1.2  # the large run's peak RSS at most 1.2x the small one's
TAP = Client(OUR_TAP.name, settings=UNPACED)


def side_by_side(clients: list[Client], n: int, repeats: int) -> dict[str, list[Run]]:
    """Every client ``repeats`` times on one sandbox, interleaved, order reversed every other
    round; RECORD lines counted, not parsed."""
    runs: dict[str, list[Run]] = {c.name: [] for c in clients}
    with SandboxProcess(n) as sandbox:
        for round_number in range(repeats):
            for client in clients if round_number % 2 == 0 else clients[::-1]:
                label = f"cpu-{client.name}-{n}-{round_number}"
                runs[client.name].append(
                    run_client(client, sandbox, label, PAGE_SIZE, collect=False)
                )
    return runs


def medians(runs: list[Run]) -> tuple[float, float, float, float, str]:
    """Median wall, CPU, user and system seconds of the runs that ended well; a failure."""
    ok = [r for r in runs if r.ok]

    def mid(name: str) -> float:
        return median(getattr(r, name) for r in ok) if ok else math.nan

    failure = next((f" ({r.failure()})" for r in runs if not r.ok), "")
    return mid("wall"), mid("cpu"), mid("user"), mid("system"), failure


def cpu_clients(args: argparse.Namespace) -> list[Client]:
    """Our tap unpaced, the baseline, then each peer installed (dlt writing no records)."""
    ready, _ = peers(args.install)
    clients = [TAP, BASELINE]
    for peer in ready:
        if peer.kind != "dlt":
            clients.append(peer)
            continue
        for mode in ["extract", "run"] if args.dlt_run else ["extract"]:
            name = peer.name + (" (run -> duckdb)" if mode == "run" else "")
            clients.append(Client(name, kind="dlt", settings={"mode": mode, "emit": "none"}))
    return clients


def size_rows(n: int, clients: list[Client], startup: dict[str, float], repeats: int) -> Any:
    """One size: a row per client, and the row of tap/baseline ratios."""
    runs = side_by_side(clients, n, repeats)
    figures = {name: medians(r) for name, r in runs.items()}
    per_k = {name: (f[1] - startup[name]) / max(n - 1, 1) * 1000 for name, f in figures.items()}
    ours, base = figures[TAP.name], figures[BASELINE.name]
    rows = []
    for client in clients:
        wall, cpu_s, user, system, failure = figures[client.name]
        records = max((r.records for r in runs[client.name]), default=0)
        rss = max(r.max_rss_kb for r in runs[client.name]) / 1024
        rows.append([f"{n:,}", client.name, f"{records:,}{failure}", seconds(wall)])
        rows[-1] += [seconds(cpu_s), f"{user:.2f} / {system:.2f}"]
        rows[-1] += [f"{per_k[client.name] * 1000:.0f} ms", rate(records, wall)]
        rows[-1] += [rate(records, cpu_s), f"{rss:.0f} MB", ratio(cpu_s, ours[1])]
        rows[-1] += [ratio(wall, ours[0])]
    ratios = [f"{n:,}", ratio(ours[1], base[1]), ratio(ours[0], base[0])]
    ratios += [ratio(per_k[TAP.name], per_k[BASELINE.name])]
    return rows, [*ratios, verdict(ours[1] <= CPU_TARGET * base[1])]


def cpu(args: argparse.Namespace, report: Report) -> None:
    """3 and 5d: CPU and wall of the tap against the baseline and the peers."""
    clients = cpu_clients(args)
    startup = {name: medians(r)[1] for name, r in side_by_side(clients, 1, args.repeats).items()}
    rows, ratios = [], []
    for n in args.cpu_n:
        more, ratio_row = size_rows(n, clients, startup, args.repeats)
        rows += more
        ratios.append(ratio_row)
    headers = "N | client | records | wall | CPU | user / sys | CPU per 1k records | records/s "
    headers += "(wall) | records/s (CPU) | peak RSS | CPU vs ours | wall vs ours"
    report.add(
        f"### 3, 5d. CPU: full sync at zero latency, no limits (median of {args.repeats}, "
        f"interleaved)\n\nTap settings: `{UNPACED}`, page_size {PAGE_SIZE}. CPU = user+sys "
        "of the client process (`os.wait4`); the sandbox runs in its own process. *CPU per "
        "1k records* = (CPU - start-up CPU) / records x 1000, start-up being a run on a "
        "one-job sandbox (interpreter, imports, one request): "
        + ", ".join(f"{name} {seconds(s)}" for name, s in startup.items())
        + ". dlt rest_api = dlt's extract step (records written to its local storage, no "
        "stdout); `run -> duckdb` adds normalize and load.\n\n"
        + md_table(headers, rows)
        + "\n\n"
        + md_table(
            "N | CPU tap/baseline | wall tap/baseline | CPU per record, tap/baseline | "
            f"target CPU <= {CPU_TARGET}x",
            ratios,
        )
    )


def memory(args: argparse.Namespace, report: Report) -> None:
    """4: peak RSS of the tap at a small and a large N."""
    rows, peaks = [], []
    for n in sorted(args.memory_n):
        with SandboxProcess(n) as sandbox:
            run = run_client(TAP, sandbox, f"memory-{n}", PAGE_SIZE, collect=False)
        peaks.append(run.max_rss_kb / 1024)
        rows.append([f"{n:,}", f"{run.records:,}{run.note()}", run.describe()])
        rows[-1] += [seconds(run.wall), seconds(run.cpu), f"{peaks[-1]:.1f} MB"]
    ok = len(peaks) > 1 and peaks[-1] <= MEMORY_TARGET * peaks[0]
    report.add(
        "### 4. Memory: peak RSS of the tap process (`ru_maxrss` via `os.wait4`)\n\n"
        + md_table("N | records | requests | wall | CPU | peak RSS", rows)
        + f"\n\nPeak RSS {max(args.memory_n):,} / {min(args.memory_n):,}: "
        f"**{ratio(peaks[-1], peaks[0])}** (target <= {MEMORY_TARGET}x: {verdict(ok)})"
    )


def profile(args: argparse.Namespace, report: Report) -> None:
    """The tap once in this process under cProfile (a CPU timer, so pacing sleeps do not
    show), its output discarded; the top lines to a file. Last: the process grows, and a
    client forked from it would count that in its peak RSS."""
    out, text, n = WORK_DIR / "profile-top.txt", io.StringIO(), args.profile_n
    if not n:
        return
    from tap_nexudus_jobs.tap import TapNexudusJobs  # only now: a fork would inherit its size

    profiler = cProfile.Profile(time.process_time)
    with SandboxProcess(n) as sandbox, Path(os.devnull).open("w") as null, redirect_stdout(null):
        config = {"api_url": sandbox.url, "access_token": "sandbox-token", **UNPACED}
        logging.disable(logging.INFO)
        profiler.runcall(TapNexudusJobs(config={**config, "page_size": PAGE_SIZE}).sync_all)
        logging.disable(logging.NOTSET)
    stats = pstats.Stats(profiler, stream=text).strip_dirs()
    text.write(f"tap-nexudus-jobs full sync of {n:,} jobs, page_size {PAGE_SIZE}, unpaced\n")
    text.write("Timer: process CPU time, not wall time (cProfile multiplies it by about 7).\n")
    for order in ("cumulative", "tottime"):
        text.write(f"\n== Top 30 by {order} CPU time ==\n")
        stats.sort_stats(order).print_stats(30)
    out.write_text(text.getvalue(), encoding="utf-8")
    report.add(f"Profile of a full sync of {n:,} jobs: `{out.relative_to(ROOT)}`.")


def main(argv: list[str] | None = None) -> int:
    """Sections 3, 4 and 5d, then the profile."""
    return script_main("cpu", __doc__ or "", SIZES, [cpu, memory, profile], argv)
