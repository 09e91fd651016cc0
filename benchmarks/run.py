"""Benchmark suite of tap-nexudus-jobs: one command, a table, ``benchmarks/results.md``.

    .venv/bin/python benchmarks/run.py            # full run
    .venv/bin/python benchmarks/run.py --quick    # smaller sizes, one repeat (~3 min)
    .venv/bin/python benchmarks/run.py --only requests,cpu --cpu-n 20000

Sections (see benchmarks/README.md): requests, walk, pacing, cpu, memory, peers. Every
measurement but ``walk`` runs the tap's console script as a subprocess against the sandbox
running in a separate process (``sandbox_proc.py``); ratios are measured side by side in
one run. ``walk`` (``walk_costs.py``) counts listing requests with both in this process.
"""

from __future__ import annotations

import argparse
import math
import shutil
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from clients import (
    Baseline,
    Client,
    DltRestApi,
    OurTap,
    RestApiMsdk,
    default_interval_ms,
    ensure_peer,
    unlimited_pacing,
)
from common import (
    BENCH_DIR,
    WORK_DIR,
    RequestCounts,
    RunResult,
    Sandbox,
    changed_jobs,
    lagging,
    loss,
    machine_line,
    main_python,
    md_table,
    median,
    merge_emitted,
    ratio,
    run_measured,
    seconds,
    source_hash,
    tap_revision,
)

SECTIONS = ("requests", "walk", "pacing", "cpu", "memory", "peers")
NEXUDUS_INTERVAL = 0.1  # seconds: the published 1 request per 100 ms
PUBLISHED_LIMITS = {"limit_per_100ms": 1, "limit_per_minute": 120, "limit_per_hour": 5000}


@dataclass
class Options:
    """Sizes and switches (see ``parse_args``)."""

    quick: bool
    sections: tuple[str, ...]
    n: int
    page_size: int
    drift_every: int
    drift_bursts: list[int]
    pacing_n: int
    pacing_page_size: int
    pacing_latency_ms: float
    pacing_repeats: int
    result_n: int
    result_latency_ms: float
    cpu_ns: list[int]
    repeats: int
    profile_n: int
    memory_ns: list[int]
    peer_n: int
    peer_cpu_n: int
    peer_repeats: int
    peer_drift_bursts: list[int]
    limit_page_sizes: list[int]
    limit_window_scale: float
    install_peers: bool
    reinstall_peers: bool
    dlt_run_mode: bool
    output: Path


@dataclass
class Report:
    """Markdown sections, printed as they complete and written to results.md."""

    parts: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        """Print and keep."""
        print(text, flush=True)
        print(flush=True)
        self.parts.append(text)


def verdict(ok: bool) -> str:
    """OK or MISS."""
    return "OK" if ok else "**MISS**"


def fresh_folder(*parts: str) -> Path:
    """An empty folder under .work/runs/."""
    safe = ["".join(c if c.isalnum() or c in "-_." else "_" for c in part) for part in parts]
    folder = WORK_DIR.joinpath("runs", *safe)
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
    folder: Path,
    state: dict[str, Any] | None = None,
    collect: bool = False,
    timeout: float = 1800.0,
) -> tuple[RunResult, RequestCounts]:
    """One measured run of ``client`` against ``sandbox``, with its request log."""
    invocation = client.invocation(sandbox.url, page_size, folder, state)
    sandbox.clear_log()
    result = run_measured(
        label, invocation.argv, collect=collect, env=invocation.env, timeout=timeout
    )
    return result, sandbox.log()


def status_note(result: RunResult) -> str:
    """ "" or why the run failed."""
    failure = result.failure()
    return f" (failed: {failure})" if failure else ""


# -- 1. requests -----------------------------------------------------------------------


#: The walk's fixed cost on top of ceil(N/page_size) at page sizes above the largest
#: burst of one minute (no crowded minute): a probe of the last page and one page of
#: re-read jobs (tests/test_drift.py asserts the same bound).
FULL_SYNC_FIXED_EXTRA = 2


def bench_requests(opts: Options, report: Report) -> None:
    """Requests per full sync, per no-change incremental run, and under drift (pairs)."""
    n, size = opts.n, opts.page_size
    pages = math.ceil(n / size)
    most = pages + FULL_SYNC_FIXED_EXTRA
    expected_full = f"{pages} to {most} listing"
    rows: list[list[str]] = []
    with Sandbox(n) as sandbox:
        expected = sandbox.versions()
        tap = OurTap()
        full, log = run_client(
            tap,
            sandbox,
            "req-full-static",
            page_size=size,
            folder=fresh_folder("req-static"),
            collect=True,
        )
        full_listing = log.listing
        lost = loss(expected, full.emitted)
        rows.append(
            [
                "full sync, static token",
                log.describe(),
                expected_full,
                verdict(pages <= log.listing <= most and log.total == log.listing and full.ok),
                str(full.records),
                str(lost) + status_note(full),
            ]
        )
        password, log = run_client(
            OurTap(password_grant=True),
            sandbox,
            "req-full-password",
            page_size=size,
            folder=fresh_folder("req-password"),
            collect=True,
        )
        rows.append(
            [
                "full sync, username/password",
                log.describe(),
                f"{expected_full} + 1 token",
                verdict(
                    pages <= log.listing <= most
                    and log.count("token") == 1
                    and log.total == log.listing + 1
                ),
                str(password.records),
                str(loss(expected, password.emitted)) + status_note(password),
            ]
        )
        incremental, log = run_client(
            tap,
            sandbox,
            "req-incremental",
            page_size=size,
            folder=fresh_folder("req-incr"),
            state=full.last_state,
            collect=True,
        )
        incremental_listing = log.listing
        rows.append(
            [
                "incremental from the final STATE, nothing changed",
                log.describe(),
                "1 listing",
                verdict(log.total == 1 and incremental.ok),
                f"{incremental.records} (re-read from the bookmark's minute)",
                str(loss(expected, incremental.emitted | full.emitted)) + status_note(incremental),
            ]
        )
    report.add(
        f"### 1. Requests: full sync of N={n:,} jobs, page_size {size}\n\n"
        f"ceil(N/page_size) = {pages}; the walk may add up to {FULL_SYNC_FIXED_EXTRA} (a probe "
        "of the listing's last page, and a page of jobs re-read from the minute it "
        "re-anchors at): section 1c measures it per page size.\n\n"
        + md_table(
            ["run", "requests (sandbox log)", "expected", "verdict", "records emitted", "lost"],
            rows,
        )
    )
    report.add(drift_pairs_table(opts, quiet_pair=full_listing + incremental_listing))


def drift_pairs_table(opts: Options, *, quiet_pair: int) -> str:
    """1b: each drift run as a pair (run 2 from run 1's STATE, quiet), against a quiet pair.

    The walk may leave a job that changed in the newest minute while run 1 read it to the
    next run, so the promise (0 lost, 0 stale) is checked after run 2.
    """
    n, size = opts.n, opts.page_size
    drift_rows: list[list[str]] = []
    for burst in opts.drift_bursts:
        faults = {"changes_every": opts.drift_every, "changes_per_burst": burst}
        folder = fresh_folder("req-drift", str(burst))
        with Sandbox(n, faults) as sandbox:
            before = sandbox.versions()
            first, first_log = run_client(
                OurTap(), sandbox, f"req-drift-{burst}", page_size=size, folder=folder, collect=True
            )
            after = sandbox.versions()
            sandbox.set_faults({})  # run 2 on a quiet account: nothing changes any more
            second, second_log = run_client(
                OurTap(),
                sandbox,
                f"req-drift-{burst}-next",
                page_size=size,
                folder=folder,
                state=first.last_state,
                collect=True,
            )
        changed = changed_jobs(before, after)
        behind = lagging(after, first.emitted)
        unmoved = {job_id for job_id in behind if before.get(job_id) == after[job_id]}
        lost = loss(after, merge_emitted(first.emitted, second.emitted))
        pair = first_log.listing + second_log.listing
        extra = pair - quiet_pair
        drift_rows.append(
            [
                str(burst),
                f"{first_log.change_bursts} bursts, {changed} jobs",
                f"{first_log.listing} + {second_log.listing} = {pair}",
                f"{extra:+d}",
                f"{extra / changed:.2f}" if changed else "n/a",
                f"{len(behind)} ({len(unmoved)} unmoved)",
                f"{first.records + second.records}",
                str(lost) + status_note(first) + status_note(second),
                verdict(lost.total == 0 and not unmoved and first.ok and second.ok),
            ]
        )
    return (
        f"### 1b. Drift: jobs change during paging, measured as pairs (sandbox "
        f"`changes_every={opts.drift_every}`: before listing requests 2, "
        f"{2 + opts.drift_every}, {2 + 2 * opts.drift_every}, ... of run 1 it touches "
        "`changes_per_burst` random jobs; run 2 starts from run 1's final STATE with "
        "nothing changing)\n\n"
        f"*extra* = listing requests of the pair - the quiet pair's ({quiet_pair}: the "
        "full sync and the incremental run of section 1). *run 1 behind* = jobs whose "
        "final version run 1 did not emit (allowed only for jobs that changed during it).\n\n"
        + md_table(
            [
                "changes_per_burst",
                "changes during run 1",
                "listing requests: run 1 + run 2",
                f"extra vs {quiet_pair}",
                "extra per changed job",
                "run 1 behind",
                "records emitted",
                "lost after the pair (vs final versions)",
                "verdict (0 lost, 0 unmoved behind)",
            ],
            drift_rows,
        )
    )


# -- 1c. the walk's costs per page size ---------------------------------------------------


def bench_walk(opts: Options, report: Report) -> None:
    """``walk_costs.py`` (its full or quick sizes): full syncs per page size, drift pairs."""
    # Imported here: it brings the tap and the SDK into the harness, which no other
    # section needs (they run the tap as a subprocess).
    import walk_costs

    walk_opts = walk_costs.parse_args(["--quick"] if opts.quick else [])
    text, broken = walk_costs.report(walk_opts, machine=False)
    contract = (
        "Contract failures: " + "; ".join(broken)
        if broken
        else "Contract: no job lost or stale in any run or pair; every incremental run with "
        "nothing changed cost 1 listing request."
    )
    report.add(
        "### 1c. The walk's listing requests per page size, and drift pairs\n\n"
        "Measured by `benchmarks/walk_costs.py`, which runs the tap in-process against an "
        "in-process sandbox (drift needs its `on_listing_request` hook), counting the "
        "sandbox's request log.\n\n" + text + "\n\n" + contract
    )


# -- 2. pacing -------------------------------------------------------------------------


def pacing_row(name: str, result: RunResult, log: RequestCounts) -> list[str]:
    """Wall time against requests / allowed rate."""
    # The work needed: requests that were answered (a 409'd one is sent again).
    minimum = (log.total - log.throttled) * NEXUDUS_INTERVAL
    gaps = log.arrival_gaps_ms()
    gap_text = f"{min(gaps):.1f} / {median(gaps):.1f} ms" if gaps else "n/a"
    return [
        name,
        log.describe(),
        str(log.throttled),
        seconds(minimum),
        seconds(result.wall),
        ratio(result.wall, minimum),
        seconds(log.span()),
        ratio(log.span(), minimum),
        gap_text,
        verdict(log.throttled == 0 and result.ok) + status_note(result),
    ]


def bench_pacing(opts: Options, report: Report) -> None:
    """Wall time under the (scaled) published limits, and 409s provoked."""
    limits = {"limit_per_100ms": 1, "limit_per_minute": 600, "limit_per_hour": 36000}
    tap = OurTap(settings={"requests_per_minute": 600, "requests_per_hour": 36000})
    tap_full = OurTap(
        settings={
            "requests_per_minute": 600,
            "requests_per_hour": 36000,
            "include_result_data": True,
        }
    )
    scenarios = [
        (
            f"listing: N={opts.pacing_n:,}, page_size {opts.pacing_page_size}, "
            f"latency {opts.pacing_latency_ms:.0f} ms",
            tap,
            opts.pacing_n,
            opts.pacing_page_size,
            opts.pacing_latency_ms,
        ),
        (
            f"include_result_data: N={opts.result_n}, latency {opts.result_latency_ms:.0f} ms",
            tap_full,
            opts.result_n,
            1000,
            opts.result_latency_ms,
        ),
    ]
    rows = []
    for name, client, n, page_size, latency in scenarios:
        for attempt in range(1, opts.pacing_repeats + 1):
            with Sandbox(n, {**limits, "latency_ms": latency}) as sandbox:
                result, log = run_client(
                    client,
                    sandbox,
                    f"pacing-{n}-{attempt}",
                    page_size=page_size,
                    folder=fresh_folder("pacing", f"{n}-{attempt}"),
                )
            suffix = f" (run {attempt} of {opts.pacing_repeats})" if opts.pacing_repeats > 1 else ""
            rows.append(pacing_row(name + suffix, result, log))
    interval = default_interval_ms()
    best = (
        f"The tap's default `min_request_interval_ms` is {interval:.0f} ms, so the best "
        f"span / min it can reach is about {interval / 100:.2f}x."
        if interval is not None
        else "This tap version spaces requests 105 ms apart (best span / min about 1.05x)."
    )
    report.add(
        "### 2. Wall time against the rate limit\n\n"
        "Sandbox enforces `limit_per_100ms=1, limit_per_minute=600` (the published 1 per "
        "100 ms; the minute limit scaled up 5x so a run of a few hundred requests is "
        "bound by the 100 ms rule), tap configured `requests_per_minute: 600`. Theoretical "
        "minimum = answered requests x 100 ms. *wall* is the tap process (including ~1-2 s of "
        "Python start-up and SDK import); *span* is first request to last answer in the "
        f"sandbox's log. {best}\n\n"
        + md_table(
            [
                "run",
                "requests",
                "409s",
                "minimum",
                "wall",
                "wall / min",
                "span",
                "span / min",
                "arrival gap min / median",
                "verdict (0 409s)",
            ],
            rows,
        )
    )
    report.add(minute_budget_table(opts))


def published_minimum(requests: int) -> float:
    """The least time the published sliding windows allow for `requests` (first at 0 s).

    Up to 120 requests may go 100 ms apart; request k+120 can start no earlier than 60 s
    after request k (the hour's 5,000 never binds below 5,000 requests).
    """
    windows, rest = divmod(requests - 1, 120)
    return windows * 60.0 + rest * NEXUDUS_INTERVAL


def minute_budget_table(opts: Options) -> str:
    """The default regime: published limits on the server, the tap at its defaults."""
    n = 18_000 if not opts.quick else 13_000
    page_size = 100
    with Sandbox(n, {**PUBLISHED_LIMITS, "latency_ms": opts.pacing_latency_ms}) as sandbox:
        result, log = run_client(
            OurTap(settings={}),
            sandbox,
            f"minute-budget-{n}",
            page_size=page_size,
            folder=fresh_folder("pacing", f"minute-budget-{n}"),
        )
    answered = log.total - log.throttled
    minimum = published_minimum(answered)
    starts = sorted(e.started for e in log.entries)
    start_span = starts[-1] - starts[0] if starts else 0.0
    return (
        "#### 2b. The default regime: 120 per minute binds\n\n"
        "Sandbox enforces the published limits unscaled (1 per 100 ms, 120 per minute, "
        "5,000 per hour); the tap runs with its default settings. *Minimum* = the least "
        "time those sliding windows allow between the first and the last request "
        "(120 requests 100 ms apart, then each one 60 s after the request 120 before it); "
        "*span* = first to last request arrival in the sandbox's log.\n\n"
        + md_table(
            ["run", "requests", "409s", "minimum", "span", "span / min", "verdict (0 409s)"],
            [
                [
                    f"listing: N={n:,}, page_size {page_size}, "
                    f"latency {opts.pacing_latency_ms:.0f} ms, tap defaults",
                    log.describe(),
                    str(log.throttled),
                    seconds(minimum),
                    seconds(start_span),
                    ratio(start_span, minimum),
                    verdict(log.throttled == 0 and result.ok) + status_note(result),
                ]
            ],
        )
    )


# -- 3. CPU ----------------------------------------------------------------------------


def side_by_side(
    clients: list[Client],
    sandbox: Sandbox,
    n: int,
    repeats: int,
    page_size: int,
    tag: str,
) -> dict[str, list[RunResult]]:
    """Run every client ``repeats`` times, interleaved (order reversed every other round)."""
    results: dict[str, list[RunResult]] = {c.name: [] for c in clients}
    for round_number in range(repeats):
        order = clients if round_number % 2 == 0 else list(reversed(clients))
        for client in order:
            label = f"{tag}-{client.name}-{n}-{round_number}"
            result, _ = run_client(
                client,
                sandbox,
                label,
                page_size=page_size,
                folder=fresh_folder(tag, label),
            )
            results[client.name].append(result)
    return results


def summarise(runs: list[RunResult]) -> tuple[float, float, int, str]:
    """Median wall, median CPU, records of the first run, failure note."""
    ok = [r for r in runs if r.ok]
    failure = next((r.failure() for r in runs if not r.ok), "")
    if not ok:
        return math.nan, math.nan, runs[0].records if runs else 0, failure
    return median([r.wall for r in ok]), median([r.cpu for r in ok]), ok[0].records, failure


def cpu_split(runs: list[RunResult]) -> str:
    """Median user and system seconds."""
    ok = [r for r in runs if r.ok] or runs
    return f"{median([r.user for r in ok]):.2f} / {median([r.system for r in ok]):.2f}"


def rate(records: int, elapsed: float) -> str:
    """Records per second."""
    if not elapsed or math.isnan(elapsed):
        return "n/a"
    return f"{records / elapsed:,.0f}"


def bench_cpu(opts: Options, report: Report) -> None:
    """CPU and wall of the tap against the requests-only baseline."""
    pacing = unlimited_pacing()
    tap = OurTap(settings=pacing)
    baseline = Baseline()
    clients: list[Client] = [tap, baseline]
    rows: list[list[str]] = []
    ratio_rows: list[list[str]] = []
    # Start-up: one job, one request. Subtracted to get the cost per record.
    with Sandbox(1) as sandbox:
        startup_runs = side_by_side(clients, sandbox, 1, opts.repeats, 1000, "cpu")
    startup = {c.name: summarise(startup_runs[c.name])[1] for c in clients}
    for client in clients:
        wall, cpu, records, failure = summarise(startup_runs[client.name])
        note = f" ({failure})" if failure else ""
        split = cpu_split(startup_runs[client.name])
        rows.append(
            ["1 (start-up)", client.name, f"{records}{note}", seconds(wall), seconds(cpu), split]
        )
    for n in opts.cpu_ns:
        with Sandbox(n) as sandbox:
            results = side_by_side(clients, sandbox, n, opts.repeats, 1000, "cpu")
            if n == opts.profile_n:
                profile(sandbox, n, pacing)
        summary = {}
        for client in clients:
            wall, cpu, records, failure = summarise(results[client.name])
            per_k = (cpu - startup[client.name]) / max(n - 1, 1) * 1000
            summary[client.name] = (wall, cpu, per_k)
            rss = max((r.max_rss_kb for r in results[client.name]), default=0) / 1024
            rows.append(
                [
                    f"{n:,}",
                    client.name,
                    f"{records:,}" + (f" ({failure})" if failure else ""),
                    seconds(wall),
                    seconds(cpu),
                    cpu_split(results[client.name]),
                    f"{per_k * 1000:.0f} ms",
                    rate(records, wall),
                    rate(records, cpu),
                    f"{rss:.0f} MB",
                ]
            )
        tap_wall, tap_cpu, tap_per_k = summary[tap.name]
        base_wall, base_cpu, base_per_k = summary[baseline.name]
        cpu_ratio = tap_cpu / base_cpu if base_cpu else math.nan
        ratio_rows.append(
            [
                f"{n:,}",
                ratio(tap_cpu, base_cpu),
                ratio(tap_wall, base_wall),
                ratio(tap_per_k, base_per_k),
                verdict(cpu_ratio <= 1.5),
            ]
        )
    if opts.profile_n and opts.profile_n not in opts.cpu_ns:
        with Sandbox(opts.profile_n) as sandbox:
            profile(sandbox, opts.profile_n, pacing)
    interval = pacing.get("min_request_interval_ms")
    spacing_note = (
        "The tap ran with `min_request_interval_ms: 0` (the sandbox has no 100 ms rule "
        "here), so its wall time is not padded by pacing."
        if interval == 0
        else "This tap version has no `min_request_interval_ms`: it still spaces requests "
        "105 ms apart, so its wall time includes about requests x 0.105 s of pacing."
    )
    report.add(
        f"### 3. CPU: full sync at zero latency, no limits (median of {opts.repeats}, "
        "interleaved)\n\n"
        f"Tap settings: `{pacing}`, page_size 1000. {spacing_note} CPU = user+sys of the "
        "client process (`os.wait4`); the sandbox runs in its own process. *CPU per 1k "
        "records* = (CPU - start-up CPU) / records x 1000, start-up being the median run "
        "on a one-job sandbox (interpreter, imports, one request).\n\n"
        + md_table(
            [
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
            ],
            rows,
        )
        + "\n\n"
        + md_table(
            [
                "N",
                "CPU tap/baseline",
                "wall tap/baseline",
                "CPU per record, tap/baseline",
                "target CPU <= 1.5x",
            ],
            ratio_rows,
        )
    )


def profile(sandbox: Sandbox, n: int, pacing: dict[str, int]) -> None:
    """The tap once under cProfile (CPU timer); top lines to benchmarks/profile-top.txt."""
    folder = fresh_folder("profile")
    invocation = OurTap(settings=pacing).invocation(sandbox.url, 1000, folder, None)
    config = invocation.argv[invocation.argv.index("--config") + 1]
    out = BENCH_DIR / "profile-top.txt"
    argv = [
        main_python(),
        str(BENCH_DIR / "profile_tap.py"),
        "--out",
        str(out),
        "--title",
        f"tap-nexudus-jobs full sync of {n:,} jobs (page_size 1000, zero latency, "
        f"settings {pacing}), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        "--",
        "--config",
        config,
    ]
    sandbox.clear_log()
    result = run_measured("profile", argv)
    print(f"  profile: {result.records:,} records, CPU {result.cpu:.1f}s -> {out.name}")


# -- 4. memory -------------------------------------------------------------------------


def bench_memory(opts: Options, report: Report) -> None:
    """Peak RSS of the tap at a small and a large N."""
    tap = OurTap(settings=unlimited_pacing())
    rows = []
    peaks: list[float] = []
    for n in opts.memory_ns:
        with Sandbox(n) as sandbox:
            result, log = run_client(
                tap, sandbox, f"memory-{n}", page_size=1000, folder=fresh_folder("memory", str(n))
            )
        peak = result.max_rss_kb / 1024
        peaks.append(peak)
        rows.append(
            [
                f"{n:,}",
                f"{result.records:,}" + status_note(result),
                log.describe(),
                seconds(result.wall),
                seconds(result.cpu),
                f"{peak:.1f} MB",
            ]
        )
    growth = ratio(peaks[-1], peaks[0]) if len(peaks) > 1 else "n/a"
    ok = len(peaks) > 1 and peaks[-1] <= 1.2 * peaks[0]
    report.add(
        "### 4. Memory: peak RSS of the tap process (`ru_maxrss` via `os.wait4`)\n\n"
        + md_table(["N", "records", "requests", "wall", "CPU", "peak RSS"], rows)
        + f"\n\nPeak RSS {opts.memory_ns[-1]:,} / {opts.memory_ns[0]:,}: **{growth}** "
        f"(target <= 1.2x: {verdict(ok)})"
    )


# -- 5. peers --------------------------------------------------------------------------


def peer_clients(opts: Options, report_notes: list[str]) -> list[Client]:
    """Our tap, then each peer (installed on demand) or a placeholder saying why not."""
    clients: list[Client] = [OurTap()]
    msdk = ensure_peer(
        "tap-rest-api-msdk", install=opts.install_peers, reinstall=opts.reinstall_peers
    )
    if msdk.ok:
        clients.append(RestApiMsdk(msdk.path, msdk.version_text))
    else:
        clients.append(Client("tap-rest-api-msdk", available=False, note=msdk.note))
    dlt = ensure_peer("dlt", install=opts.install_peers, reinstall=opts.reinstall_peers)
    if dlt.ok:
        clients.append(DltRestApi(dlt.path, dlt.version_text))
    else:
        clients.append(Client("dlt rest_api", available=False, note=dlt.note))
    for client in clients:
        if client.version:
            report_notes.append(f"- {client.name}: {client.version}")
        elif not client.available:
            report_notes.append(f"- {client.name}: {client.note}")
    return clients


def bench_peers(opts: Options, report: Report) -> None:
    """Our tap and the peers on the same sandbox settings."""
    notes: list[str] = []
    clients = peer_clients(opts, notes)
    n, size = opts.peer_n, opts.page_size
    pages = math.ceil(n / size)

    # (a) full sync, then incremental with nothing changed
    rows = []
    for client in clients:
        if not client.available:
            rows.append([client.name, client.note, "", "", "", ""])
            continue
        folder = fresh_folder("peers-full", client.name)
        with Sandbox(n) as sandbox:
            expected = sandbox.versions()
            full, log = run_client(
                client,
                sandbox,
                f"peers-full-{client.name}",
                page_size=size,
                folder=folder,
                collect=True,
            )
            incremental_text = records_text = "n/a"
            if full.ok:
                state = full.last_state
                incremental, incr_log = run_client(
                    client,
                    sandbox,
                    f"peers-incr-{client.name}",
                    page_size=size,
                    folder=folder,
                    state=state,
                    collect=True,
                )
                incremental_text = incr_log.describe() + status_note(incremental)
                records_text = str(incremental.records)
        rows.append(
            [
                client.name,
                log.describe(),
                f"{full.records:,}" + status_note(full),
                str(loss(expected, full.emitted)),
                incremental_text,
                records_text,
            ]
        )
    report.add(
        "### 5. Peers on the same sandbox\n\nConfigs: `benchmarks/peers/`. Versions:\n"
        + "\n".join(notes)
        + f"\n\n#### 5a. Full sync of N={n:,} ({pages} pages of {size}), then an incremental "
        "run with nothing changed\n\n"
        + md_table(
            [
                "client",
                "full sync: requests",
                "records",
                "lost",
                "incremental: requests",
                "incremental: records",
            ],
            rows,
        )
    )

    # (b) drift
    drift_rows = []
    for client in clients:
        if not client.available:
            drift_rows.append([client.name, client.note] + [""] * (len(opts.peer_drift_bursts) - 1))
            continue
        cells = [client.name]
        for burst in opts.peer_drift_bursts:
            faults = {"changes_every": opts.drift_every, "changes_per_burst": burst}
            folder = fresh_folder("peers-drift", f"{client.name}-{burst}")
            with Sandbox(n, faults) as sandbox:
                result, log = run_client(
                    client,
                    sandbox,
                    f"peers-drift-{client.name}-{burst}",
                    page_size=size,
                    folder=folder,
                    collect=True,
                )
                after = sandbox.versions()
                # A pair, as in 1b: our walk may leave a job changed in the newest minute
                # to the next run, so every client gets that next run (on a quiet account).
                sandbox.set_faults({})
                second, second_log = run_client(
                    client,
                    sandbox,
                    f"peers-drift-{client.name}-{burst}-next",
                    page_size=size,
                    folder=folder,
                    state=result.last_state,
                    collect=True,
                )
            alone = loss(after, result.emitted)
            lost = loss(after, merge_emitted(result.emitted, second.emitted))
            cells.append(
                f"{lost.total} lost ({lost.missing} missing, {lost.stale} stale; run 1 alone "
                f"{alone.total}); {log.listing} + {second_log.listing} listing req."
                + status_note(result)
                + status_note(second)
            )
        drift_rows.append(cells)
    report.add(
        f"#### 5b. Drift (N={n:,}, `changes_every={opts.drift_every}`), as pairs (run 2 from "
        "run 1's state, nothing changing): records lost against the versions served at the "
        "end\n\n"
        + md_table(
            ["client", *(f"changes_per_burst={b}" for b in opts.peer_drift_bursts)], drift_rows
        )
    )

    # (c) published limits
    limit_rows = []
    limit_faults: dict[str, Any] = {
        **PUBLISHED_LIMITS,
        "limit_window_scale": opts.limit_window_scale,
    }
    for limit_size in opts.limit_page_sizes:
        for client in clients:
            if not client.available:
                limit_rows.append([client.name, str(limit_size), client.note, "", "", "", ""])
                continue
            with Sandbox(n, limit_faults) as sandbox:
                expected = sandbox.versions()
                result, log = run_client(
                    client,
                    sandbox,
                    f"peers-limits-{client.name}-{limit_size}",
                    page_size=limit_size,
                    folder=fresh_folder("peers-limits", f"{client.name}-{limit_size}"),
                    collect=True,
                    timeout=300,
                )
            lost = loss(expected, result.emitted)
            limit_rows.append(
                [
                    client.name,
                    str(limit_size),
                    log.describe(),
                    str(log.throttled),
                    "yes" if result.ok else f"no: {result.failure()}",
                    f"{result.records:,} ({lost.total} lost)",
                    seconds(result.wall),
                ]
            )
    scale = opts.limit_window_scale
    report.add(
        f"#### 5c. Published limits enforced (1 per 100 ms, 120 per minute, 5000 per hour; "
        f"`limit_window_scale={scale}`), N={n:,}, each client with its default settings\n\n"
        + md_table(
            ["client", "page size", "requests", "409s", "completed", "records", "wall"],
            limit_rows,
        )
    )

    # (d) CPU and wall of a full sync at zero latency
    fast: list[Client] = [OurTap(settings=unlimited_pacing())]
    for client in clients[1:]:
        if not client.available:
            continue
        if isinstance(client, DltRestApi):
            extract = DltRestApi(client.venv, client.version)
            extract.emit = "none"
            fast.append(extract)
            if opts.dlt_run_mode:
                run_mode = DltRestApi(client.venv, client.version, mode="run")
                run_mode.emit = "none"
                fast.append(run_mode)
        else:
            fast.append(client)
    fast.append(Baseline())
    with Sandbox(opts.peer_cpu_n) as sandbox:
        results = side_by_side(fast, sandbox, opts.peer_cpu_n, opts.peer_repeats, size, "peers-cpu")
    ours_wall, ours_cpu, _, _ = summarise(results[fast[0].name])
    cpu_rows = []
    for client in fast:
        wall, cpu, records, failure = summarise(results[client.name])
        cpu_rows.append(
            [
                client.name,
                f"{records:,}" + (f" ({failure})" if failure else ""),
                seconds(wall),
                seconds(cpu),
                rate(records, cpu),
                ratio(cpu, ours_cpu),
                ratio(wall, ours_wall),
            ]
        )
    for client in clients:
        if not client.available:
            cpu_rows.append([client.name, client.note, "", "", "", "", ""])
    report.add(
        f"#### 5d. Full sync of N={opts.peer_cpu_n:,} at zero latency, no limits (median of "
        f"{opts.peer_repeats}, interleaved)\n\n"
        "Our tap with unlimited pacing (as in section 3); dlt `extract` = dlt's extract step "
        "(records written to its local storage, no stdout); `run -> duckdb` adds normalize "
        "and load.\n\n"
        + md_table(
            ["client", "records", "wall", "CPU", "records/s (CPU)", "CPU vs ours", "wall vs ours"],
            cpu_rows,
        )
    )


# -- driver ----------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> Options:
    """Command line -> Options (quick mode changes the defaults)."""
    parser = argparse.ArgumentParser(
        description="Benchmarks of tap-nexudus-jobs against the local sandbox."
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument(
        "--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}"
    )

    def ints(text: str) -> list[int]:
        return [int(part) for part in text.split(",") if part.strip()]

    parser.add_argument("--n", type=int, help="jobs for the request and drift runs (10000)")
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--drift-every", type=int, default=2)
    parser.add_argument("--drift-bursts", type=ints, help="changes_per_burst values (1..5)")
    parser.add_argument("--pacing-n", type=int, help="jobs for the pacing run (30000)")
    parser.add_argument("--pacing-page-size", type=int, default=100)
    parser.add_argument("--pacing-latency-ms", type=float, default=50.0)
    parser.add_argument("--pacing-repeats", type=int, help="runs of each pacing scenario (2)")
    parser.add_argument("--result-n", type=int, help="jobs for include_result_data (200)")
    parser.add_argument("--result-latency-ms", type=float, default=300.0)
    parser.add_argument("--cpu-n", type=ints, help="sizes for the CPU runs (100000,50000)")
    parser.add_argument("--repeats", type=int, help="repeats of each CPU run (3)")
    parser.add_argument("--profile-n", type=int, help="size profiled, 0 for none (50000)")
    parser.add_argument("--memory-n", type=ints, help="small,large sizes (10000,200000)")
    parser.add_argument("--peer-n", type=int, help="jobs for peer request/drift runs (10000)")
    parser.add_argument("--peer-cpu-n", type=int, help="jobs for the peer CPU run (50000)")
    parser.add_argument("--peer-repeats", type=int, help="repeats of the peer CPU run (2)")
    parser.add_argument("--peer-drift-bursts", type=ints, help="changes_per_burst (1,3,5)")
    parser.add_argument(
        "--limit-page-sizes", type=ints, help="page sizes of the 409 runs (1000,100)"
    )
    parser.add_argument("--limit-window-scale", type=float, default=1.0)
    parser.add_argument("--no-install", action="store_true", help="skip peers not installed")
    parser.add_argument("--reinstall-peers", action="store_true")
    parser.add_argument(
        "--no-dlt-run", action="store_true", help="skip the dlt run -> duckdb CPU row"
    )
    parser.add_argument("--output", type=Path, default=BENCH_DIR / "results.md")
    args = parser.parse_args(argv)

    quick = bool(args.quick)

    def pick(value: Any, full: Any, fast: Any) -> Any:
        return value if value is not None else (fast if quick else full)

    sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; choose from {SECTIONS}")
    memory_ns = pick(args.memory_n, [10_000, 200_000], [10_000, 50_000])
    return Options(
        quick=quick,
        sections=sections,
        n=pick(args.n, 10_000, 10_000),
        page_size=args.page_size,
        drift_every=args.drift_every,
        drift_bursts=pick(args.drift_bursts, [1, 2, 3, 4, 5], [1, 5]),
        pacing_n=pick(args.pacing_n, 30_000, 10_000),
        pacing_page_size=args.pacing_page_size,
        pacing_latency_ms=args.pacing_latency_ms,
        pacing_repeats=pick(args.pacing_repeats, 2, 1),
        result_n=pick(args.result_n, 200, 60),
        result_latency_ms=args.result_latency_ms,
        cpu_ns=pick(args.cpu_n, [100_000, 50_000], [20_000]),
        repeats=pick(args.repeats, 3, 1),
        profile_n=pick(args.profile_n, 50_000, 0),
        memory_ns=sorted(memory_ns),
        peer_n=pick(args.peer_n, 10_000, 10_000),
        peer_cpu_n=pick(args.peer_cpu_n, 50_000, 10_000),
        peer_repeats=pick(args.peer_repeats, 2, 1),
        peer_drift_bursts=pick(args.peer_drift_bursts, [1, 3, 5], [3]),
        limit_page_sizes=pick(args.limit_page_sizes, [1000, 100], [100]),
        limit_window_scale=args.limit_window_scale,
        install_peers=not args.no_install,
        reinstall_peers=bool(args.reinstall_peers),
        dlt_run_mode=not args.no_dlt_run and not quick,
        output=args.output,
    )


BENCHES: dict[str, Callable[[Options, Report], None]] = {
    "requests": bench_requests,
    "walk": bench_walk,
    "pacing": bench_pacing,
    "cpu": bench_cpu,
    "memory": bench_memory,
    "peers": bench_peers,
}


def main(argv: list[str] | None = None) -> int:
    """Run the chosen sections, print tables, write results.md."""
    opts = parse_args(argv)
    started = time.perf_counter()
    report = Report()
    revision_at_start = tap_revision()
    sources_at_start = source_hash()
    mode = "quick" if opts.quick else "full"
    header = (
        f"# tap-nexudus-jobs benchmark results ({mode} run)\n\n"
        f"{machine_line()}\n\n"
        f"Command: `.venv/bin/python benchmarks/run.py{' --quick' if opts.quick else ''}"
        f"{'' if opts.sections == SECTIONS else ' --only ' + ','.join(opts.sections)}`."
    )
    report.add(header)
    failures = 0
    for name in opts.sections:
        section_started = time.perf_counter()
        print(f"== {name} ...", flush=True)
        try:
            BENCHES[name](opts, report)
        except Exception:
            failures += 1
            report.add(
                f"### {name}: the benchmark itself failed\n\n```\n{traceback.format_exc()}```"
            )
        print(f"== {name} took {time.perf_counter() - section_started:.0f}s", flush=True)
    total = time.perf_counter() - started
    moved = (
        f" **The tap's code changed during the run** (git {revision_at_start} at the start, "
        f"{tap_revision()} at the end): sections may have measured different versions."
        if source_hash() != sources_at_start
        else ""
    )
    report.add(f"Total benchmark time: {total:.0f} s ({mode} run).{moved}")
    opts.output.write_text("\n\n".join(report.parts) + "\n", encoding="utf-8")
    print(f"Wrote {opts.output}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
