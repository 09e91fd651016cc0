"""CPU and memory against the bare baseline (sections 3 and 4 of benchmarks/README.md).

    .venv/bin/python -m benchmarks cpu [--quick] [--cpu-n 100000,50000] [--repeats 3]

3: full syncs at zero latency and no limits, the tap and ``baseline.py`` (the same pages
via one requests.Session, each record written with json.dumps) interleaved, medians;
CPU = user+sys of the client process from ``os.wait4``. ``--profile-n`` also profiles the
tap once (``profile_tap.py``, a CPU timer) into ``benchmarks/.work/profile-top.txt``.
4: the tap's peak RSS at a small and a large N.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone

from benchmarks.clients import Baseline, Client, OurTap, unlimited_pacing
from benchmarks.common import (
    BENCH_DIR,
    WORK_DIR,
    RunResult,
    Sandbox,
    main_python,
    md_table,
    median,
    ratio,
    run_measured,
    seconds,
)
from benchmarks.harness import (
    Report,
    Size,
    fresh_folder,
    rate,
    run_client,
    script_main,
    side_by_side,
    status_note,
    summarise,
    verdict,
)

SIZES = {
    "cpu_n": Size([100_000, 50_000], [5_000], "sizes of the CPU runs"),
    "repeats": Size(3, 1, "runs of each client per size, interleaved"),
    "profile_n": Size(50_000, 0, "size profiled into .work/profile-top.txt (0: none)"),
    "memory_n": Size([10_000, 200_000], [1_000, 5_000], "the small and the large memory run"),
}
PAGE_SIZE = 1000
CPU_TARGET = 1.5  # the tap's CPU at most 1.5x the baseline's
MEMORY_TARGET = 1.2  # the large run's peak RSS at most 1.2x the small one's
CPU_HEADERS = [
    "N",
    "client",
    "records",
    "wall",
    "CPU",
    "user / sys",
    "CPU per 1k records",
    "records/s (wall)",
    "records/s (CPU)",
    "peak RSS",
]
RATIO_HEADERS = [
    "N",
    "CPU tap/baseline",
    "wall tap/baseline",
    "CPU per record, tap/baseline",
    f"target CPU <= {CPU_TARGET}x",
]


def cpu_split(runs: list[RunResult]) -> str:
    """Median user and system seconds."""
    ok = [r for r in runs if r.ok] or runs
    return f"{median([r.user for r in ok]):.2f} / {median([r.system for r in ok]):.2f}"


def size_rows(
    n: int, clients: list[Client], results: dict[str, list[RunResult]], startup: dict[str, float]
) -> tuple[list[list[str]], list[float]]:
    """Rows of one size, and per client (wall, CPU, CPU per 1k records) for the ratios."""
    rows, figures = [], []
    for client in clients:
        runs = results[client.name]
        wall, cpu, records, failure = summarise(runs)
        per_k = (cpu - startup[client.name]) / max(n - 1, 1) * 1000
        figures += [wall, cpu, per_k]
        rss = max((r.max_rss_kb for r in runs), default=0) / 1024
        note = f" ({failure})" if failure else ""
        rows.append(
            [
                f"{n:,}",
                client.name,
                f"{records:,}{note}",
                seconds(wall),
                seconds(cpu),
                cpu_split(runs),
                f"{per_k * 1000:.0f} ms",
                rate(records, wall),
                rate(records, cpu),
                f"{rss:.0f} MB",
            ]
        )
    return rows, figures


def startup_rows(clients: list[Client], repeats: int) -> tuple[list[list[str]], dict[str, float]]:
    """Each client against a one-job sandbox: start-up CPU, subtracted per record later."""
    with Sandbox(1) as sandbox:
        results = side_by_side(clients, sandbox, 1, repeats, PAGE_SIZE, "cpu")
    rows, startup = [], {}
    for client in clients:
        wall, cpu, records, failure = summarise(results[client.name])
        startup[client.name] = cpu
        note = f" ({failure})" if failure else ""
        split = cpu_split(results[client.name])
        rows.append(
            ["1 (start-up)", client.name, f"{records}{note}", seconds(wall), seconds(cpu), split]
        )
    return rows, startup


def bench_cpu(args: argparse.Namespace, report: Report) -> None:
    """3: CPU and wall of the tap against the requests-only baseline."""
    pacing = unlimited_pacing()
    clients: list[Client] = [OurTap(settings=pacing), Baseline()]
    rows, startup = startup_rows(clients, args.repeats)
    ratio_rows = []
    for n in args.cpu_n:
        with Sandbox(n) as sandbox:
            results = side_by_side(clients, sandbox, n, args.repeats, PAGE_SIZE, "cpu")
        more, (t_wall, t_cpu, t_per_k, b_wall, b_cpu, b_per_k) = size_rows(
            n, clients, results, startup
        )
        rows += more
        ok = t_cpu <= CPU_TARGET * b_cpu
        ratio_rows.append(
            [
                f"{n:,}",
                ratio(t_cpu, b_cpu),
                ratio(t_wall, b_wall),
                ratio(t_per_k, b_per_k),
                verdict(ok),
            ]
        )
    if args.profile_n:
        profile(args.profile_n, pacing)
    report.add(
        f"### 3. CPU: full sync at zero latency, no limits (median of {args.repeats}, "
        "interleaved)\n\n"
        f"Tap settings: `{pacing}`, page_size {PAGE_SIZE}: its wall time is not padded by "
        "pacing. CPU = user+sys of the client process (`os.wait4`); the sandbox runs in its "
        "own process. *CPU per 1k records* = (CPU - start-up CPU) / records x 1000, "
        "start-up being the median run on a one-job sandbox (interpreter, imports, one "
        "request).\n\n" + md_table(CPU_HEADERS, rows) + "\n\n" + md_table(RATIO_HEADERS, ratio_rows)
    )


def profile(n: int, pacing: dict[str, int]) -> None:
    """The tap once under cProfile (CPU timer); top lines to .work/profile-top.txt."""
    out = WORK_DIR / "profile-top.txt"
    title = (
        f"tap-nexudus-jobs full sync of {n:,} jobs (page_size {PAGE_SIZE}, zero latency, "
        f"settings {pacing}), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
    )
    with Sandbox(n) as sandbox:
        invocation = OurTap(settings=pacing).invocation(
            sandbox.url, PAGE_SIZE, fresh_folder("profile"), None
        )
        profiler = [main_python(), str(BENCH_DIR / "profile_tap.py"), "--out", str(out)]
        result = run_measured("profile", [*profiler, "--title", title, "--", *invocation.argv[1:]])
    print(f"  profile: {result.records:,} records, CPU {result.cpu:.1f}s -> {out.name}")


def bench_memory(args: argparse.Namespace, report: Report) -> None:
    """4: peak RSS of the tap at a small and a large N."""
    tap = OurTap(settings=unlimited_pacing())
    rows, peaks = [], []
    for n in sorted(args.memory_n):
        with Sandbox(n) as sandbox:
            result, log = run_client(tap, sandbox, f"memory-{n}", page_size=PAGE_SIZE)
        peaks.append(result.max_rss_kb / 1024)
        rows.append(
            [
                f"{n:,}",
                f"{result.records:,}" + status_note(result),
                log.describe(),
                seconds(result.wall),
                seconds(result.cpu),
                f"{peaks[-1]:.1f} MB",
            ]
        )
    ok = len(peaks) > 1 and peaks[-1] <= MEMORY_TARGET * peaks[0]
    report.add(
        "### 4. Memory: peak RSS of the tap process (`ru_maxrss` via `os.wait4`)\n\n"
        + md_table(["N", "records", "requests", "wall", "CPU", "peak RSS"], rows)
        + f"\n\nPeak RSS {max(args.memory_n):,} / {min(args.memory_n):,}: "
        f"**{ratio(peaks[-1], peaks[0])}** (target <= {MEMORY_TARGET}x: {verdict(ok)})"
    )


def main(argv: list[str] | None = None) -> int:
    """Sections 3 and 4."""
    return script_main("cpu", __doc__ or "", SIZES, [bench_cpu, bench_memory], argv)
