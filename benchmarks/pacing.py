"""Wall time at the rate limits (sections 2 and 2b of benchmarks/README.md).

    .venv/bin/python -m benchmarks pacing [--quick] [--n 30000] [--repeats 2]

2: the sandbox enforces the published 1 request per 100 ms (the minute limit scaled up so
the 100 ms rule binds); wall and request span against answered requests x 100 ms, for the
listing and for ``include_result_data``. 2b: the published limits unscaled, the tap at
its defaults; the request span against the least time the sliding windows allow.
"""

from __future__ import annotations

import argparse

from benchmarks.clients import OurTap, default_interval_ms
from benchmarks.common import RequestCounts, RunResult, Sandbox, md_table, median, ratio, seconds
from benchmarks.harness import Report, Size, run_client, script_main, status_note, verdict

SIZES = {
    "n": Size(30_000, 2_000, "jobs for the listing run"),
    "page_size": Size(100, 100, "the tap's page_size in the listing runs"),
    "latency_ms": Size(50.0, 50.0, "the sandbox's latency in the listing runs"),
    "repeats": Size(2, 1, "runs of each scenario of section 2"),
    "result_n": Size(200, 20, "jobs for the include_result_data run"),
    "result_latency_ms": Size(300.0, 300.0, "the sandbox's latency with include_result_data"),
    "default_n": Size(18_000, 2_000, "jobs for 2b (above 12,000 the minute limit binds)"),
}
NEXUDUS_INTERVAL = 0.1  # seconds: the published 1 request per 100 ms
PUBLISHED_LIMITS = {"limit_per_100ms": 1, "limit_per_minute": 120, "limit_per_hour": 5000}
SCALED_LIMITS = {"limit_per_100ms": 1, "limit_per_minute": 600, "limit_per_hour": 36000}
SCALED_TAP = {"requests_per_minute": 600, "requests_per_hour": 36000}
HEADERS = [
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
]


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


def scenarios(args: argparse.Namespace) -> list[tuple[str, OurTap, int, int, float]]:
    """(name, client, jobs, page size, latency) of section 2."""
    listing = f"listing: N={args.n:,}, page_size {args.page_size}, latency {args.latency_ms:.0f} ms"
    result = f"include_result_data: N={args.result_n}, latency {args.result_latency_ms:.0f} ms"
    with_results = OurTap(settings={**SCALED_TAP, "include_result_data": True})
    return [
        (listing, OurTap(settings=SCALED_TAP), args.n, args.page_size, args.latency_ms),
        (result, with_results, args.result_n, 1000, args.result_latency_ms),
    ]


def bench_pacing(args: argparse.Namespace, report: Report) -> None:
    """2: wall time under the scaled published limits, and 409s provoked."""
    rows = []
    for name, client, n, page_size, latency in scenarios(args):
        for attempt in range(1, args.repeats + 1):
            with Sandbox(n, {**SCALED_LIMITS, "latency_ms": latency}) as sandbox:
                result, log = run_client(
                    client, sandbox, f"pacing-{n}-{attempt}", page_size=page_size
                )
            suffix = f" (run {attempt} of {args.repeats})" if args.repeats > 1 else ""
            rows.append(pacing_row(name + suffix, result, log))
    interval = default_interval_ms() or 0.0
    report.add(
        "### 2. Wall time against the rate limit\n\n"
        "Sandbox enforces `limit_per_100ms=1, limit_per_minute=600` (the published 1 per "
        "100 ms; the minute limit scaled up 5x so a run of a few hundred requests is "
        "bound by the 100 ms rule), tap configured `requests_per_minute: 600`. Theoretical "
        "minimum = answered requests x 100 ms. *wall* is the tap process (including ~1-2 s of "
        "Python start-up and SDK import); *span* is first request to last answer in the "
        f"sandbox's log. The tap's default `min_request_interval_ms` is {interval:.0f} ms, "
        f"so the best span / min it can reach is about {interval / 100:.2f}x.\n\n"
        + md_table(HEADERS, rows)
    )


def published_minimum(requests: int) -> float:
    """The least time the published sliding windows allow for `requests` (first at 0 s).

    Up to 120 requests may go 100 ms apart; request k+120 can start no earlier than 60 s
    after request k (the hour's 5,000 never binds below 5,000 requests).
    """
    windows, rest = divmod(requests - 1, 120)
    return windows * 60.0 + rest * NEXUDUS_INTERVAL


def bench_default_regime(args: argparse.Namespace, report: Report) -> None:
    """2b: the published limits on the server, the tap at its defaults."""
    n, page_size, latency = args.default_n, 100, args.latency_ms
    with Sandbox(n, {**PUBLISHED_LIMITS, "latency_ms": latency}) as sandbox:
        result, log = run_client(OurTap(settings={}), sandbox, f"default-{n}", page_size=page_size)
    minimum = published_minimum(log.total - log.throttled)
    starts = sorted(e.started for e in log.entries)
    span = starts[-1] - starts[0] if starts else 0.0
    row = [
        f"listing: N={n:,}, page_size {page_size}, latency {latency:.0f} ms, tap defaults",
        log.describe(),
        str(log.throttled),
        seconds(minimum),
        seconds(span),
        ratio(span, minimum),
        verdict(log.throttled == 0 and result.ok) + status_note(result),
    ]
    report.add(
        "#### 2b. The default regime: 120 per minute binds\n\n"
        "Sandbox enforces the published limits unscaled (1 per 100 ms, 120 per minute, "
        "5,000 per hour); the tap runs with its default settings. *Minimum* = the least "
        "time those sliding windows allow between the first and the last request "
        "(120 requests 100 ms apart, then each one 60 s after the request 120 before it); "
        "*span* = first to last request arrival in the sandbox's log.\n\n"
        + md_table(
            ["run", "requests", "409s", "minimum", "span", "span / min", "verdict (0 409s)"], [row]
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Sections 2 and 2b."""
    return script_main("pacing", __doc__ or "", SIZES, [bench_pacing, bench_default_regime], argv)
