"""Wall time and 409s at the rate limits (sections 2, 2b and 5c of benchmarks/README.md).

    .venv/bin/python -m benchmarks pacing [--quick] [--n 30000] [--repeats 2] [--install 0]

2: the sandbox enforces the published 1 request per 100 ms (the minute limit scaled up so
it binds); wall and request span against answered requests x 100 ms. 2b: the published
limits, the tap at its defaults, against the least time the sliding windows allow. 5c: the
published limits, every client at its defaults: 409s, and whether it finished.
"""

from __future__ import annotations

import argparse
import itertools
from statistics import median

from benchmarks.clients import OUR_TAP, PEER_SIZES, Client, peers, run_client
from benchmarks.harness import (
    Report,
    Run,
    SandboxProcess,
    Size,
    loss,
    md_table,
    ratio,
    script_main,
    seconds,
    verdict,
)
from tap_nexudus_jobs.nexudus_api import PUBLISHED_LIMITS
from tap_nexudus_jobs.tap import TapNexudusJobs

SIZES = {
    "n": Size(30_000, 2_000, "jobs for the listing run"),
    "page_size": Size(100, 100, "the tap's page_size in the listing runs"),
    "latency_ms": Size(50.0, 50.0, "the sandbox's latency in the listing runs"),
    "repeats": Size(2, 1, "runs of each scenario of section 2"),
    "result_n": Size(200, 20, "jobs for the include_result_data run"),
    "result_latency_ms": Size(300.0, 300.0, "the sandbox's latency with include_result_data"),
    "default_n": Size(18_000, 2_000, "jobs for 2b (above 12,000 the minute limit binds)"),
    "limit_n": Size(10_000, 2_000, "jobs for 5c"),
    "limit_page_sizes": Size([1000, 100], [100], "page sizes of 5c"),
    **PEER_SIZES,
}
INTERVAL = 0.1  # seconds: the published 1 request per 100 ms
SCALED_LIMITS = {"limit_per_100ms": 1, "limit_per_minute": 600, "limit_per_hour": 36000}
SCALED_TAP = {"requests_per_minute": 600, "requests_per_hour": 36000}


def pacing_row(name: str, run: Run) -> list[str]:
    """Wall time against answered requests x 100 ms (a 409'd request is sent again)."""
    minimum = (len(run.log) - run.throttled) * INTERVAL
    starts = sorted(e.started_at for e in run.log)
    ends = [e.finished_at for e in run.log if e.finished_at is not None]
    span = max(ends, default=0.0) - min(starts, default=0.0)
    gaps = [(b - a) * 1000 for a, b in itertools.pairwise(starts)]
    gap_text = f"{min(gaps):.1f} / {median(gaps):.1f} ms" if gaps else "n/a"
    cells = [name, run.describe(), str(run.throttled), seconds(minimum), seconds(run.wall)]
    cells += [ratio(run.wall, minimum), seconds(span), ratio(span, minimum), gap_text]
    return [*cells, verdict(run.throttled == 0 and run.ok) + run.note()]


def wall_time(args: argparse.Namespace, report: Report) -> None:
    """2: wall time under the scaled published limits, and 409s provoked."""
    results = Client(OUR_TAP.name, settings={**SCALED_TAP, "include_result_data": True})
    scenarios = [
        (f"listing: N={args.n:,}, page_size {args.page_size}, latency {args.latency_ms:.0f} ms",
         Client(OUR_TAP.name, settings=SCALED_TAP), args.n, args.page_size, args.latency_ms),
        (f"include_result_data: N={args.result_n}, latency {args.result_latency_ms:.0f} ms",
         results, args.result_n, 1000, args.result_latency_ms),
    ]  # fmt: skip
    rows = []
    for name, client, n, page_size, latency in scenarios:
        for attempt in range(1, args.repeats + 1):
            with SandboxProcess(n, {**SCALED_LIMITS, "latency_ms": latency}) as sandbox:
                run = run_client(client, sandbox, f"pacing-{n}-{attempt}", page_size)
            suffix = f" (run {attempt} of {args.repeats})" if args.repeats > 1 else ""
            rows.append(pacing_row(name + suffix, run))
    interval = TapNexudusJobs.config_jsonschema["properties"]["min_request_interval_ms"]["default"]
    headers = "run | requests | 409s | minimum | wall | wall / min | span | span / min | arrival "
    headers += "gap min / median | verdict (0 409s)"
    report.add(
        "### 2. Wall time against the rate limit\n\n"
        "Sandbox enforces `limit_per_100ms=1, limit_per_minute=600` (the published 1 per "
        "100 ms; the minute limit scaled up 5x so the 100 ms rule binds), tap configured "
        "`requests_per_minute: 600`. Minimum = answered requests x 100 ms. *wall* is the "
        "tap process (with ~1-2 s of start-up); *span* is first request to last answer in "
        f"the sandbox's log. The tap's default `min_request_interval_ms` is {interval:.0f} "
        f"ms, so the best span / min it can reach is about {interval / 100:.2f}x.\n\n"
        + md_table(headers, rows)
    )


def published_minimum(requests: int) -> float:
    """The least time the published sliding windows allow for ``requests`` (first at 0 s):
    120 may go 100 ms apart; request k+120 starts no earlier than 60 s after request k."""
    windows, rest = divmod(requests - 1, 120)
    return windows * 60.0 + rest * INTERVAL


def default_regime(args: argparse.Namespace, report: Report) -> None:
    """2b: the published limits on the server, the tap at its defaults."""
    n, latency = args.default_n, args.latency_ms
    with SandboxProcess(n, {**PUBLISHED_LIMITS, "latency_ms": latency}) as sandbox:
        run = run_client(OUR_TAP, sandbox, f"default-{n}", 100, collect=False)
    minimum = published_minimum(len(run.log) - run.throttled)
    starts = sorted(e.started_at for e in run.log)
    span = starts[-1] - starts[0] if starts else 0.0
    row = [f"listing: N={n:,}, page_size 100, latency {latency:.0f} ms, tap defaults"]
    row += [run.describe(), str(run.throttled), seconds(minimum), seconds(span)]
    row += [ratio(span, minimum), verdict(run.throttled == 0 and run.ok) + run.note()]
    report.add(
        "#### 2b. The default regime: 120 per minute binds\n\n"
        "Sandbox enforces the published limits unscaled (1 per 100 ms, 120 per minute, "
        "5,000 per hour); the tap runs with its default settings. *Minimum* = the least "
        "time those sliding windows allow between the first and the last request; *span* = "
        "first to last request arrival in the sandbox's log.\n\n"
        + md_table("run | requests | 409s | minimum | span | span / min | verdict", [row])
    )


def peers_at_limits(args: argparse.Namespace, report: Report) -> None:
    """5c: one run per client and page size under the published limits, at its defaults."""
    ready, versions = peers(args.install)
    rows = []
    for page_size in args.limit_page_sizes:
        for client in [OUR_TAP, *ready]:
            with SandboxProcess(args.limit_n, PUBLISHED_LIMITS) as sandbox:
                served = sandbox.current_versions()
                label = f"limits-{client.name}-{page_size}"
                run = run_client(client, sandbox, label, page_size, timeout=300)
            lost = loss(served, run.emitted).total
            done = "yes" if run.ok else f"no: {run.failure()}"
            cells = [client.name, str(page_size), run.describe(), str(run.throttled), done]
            rows.append([*cells, f"{run.records:,} ({lost} lost)", seconds(run.wall)])
    report.add(
        f"#### 5c. Published limits enforced (1 per 100 ms, 120 per minute, 5000 per hour), "
        f"N={args.limit_n:,}, each client with its default settings\n\nPeers:\n"
        + "\n".join(versions)
        + "\n\n"
        + md_table("client | page size | requests | 409s | completed | records | wall", rows)
    )


def main(argv: list[str] | None = None) -> int:
    """Sections 2, 2b and 5c."""
    sections = [wall_time, default_regime, peers_at_limits]
    return script_main("pacing", __doc__ or "", SIZES, sections, argv)
