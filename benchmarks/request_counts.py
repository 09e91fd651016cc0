"""Requests per run, as a user runs the tap (sections 1 and 1b of benchmarks/README.md).

    .venv/bin/python -m benchmarks requests [--quick] [--n 10000] [--page-size 1000]

1: a full sync with a static token and with username/password, then an incremental run
from the final STATE with nothing changed. 1b: drift as pairs (run 1 while the sandbox
touches jobs, run 2 from its STATE on a quiet account). The tap's console script runs as
a subprocess against the sandbox in a process of its own; requests come from the
sandbox's log.
"""

from __future__ import annotations

import argparse
import math

from benchmarks.clients import OurTap
from benchmarks.common import (
    RequestCounts,
    RunResult,
    Sandbox,
    changed_jobs,
    lagging,
    loss,
    md_table,
    merge_emitted,
    per_job,
)
from benchmarks.harness import (
    Report,
    Size,
    run_client,
    run_pair,
    script_main,
    status_note,
    verdict,
)

SIZES = {
    "n": Size(10_000, 2_000, "jobs in the account"),
    "page_size": Size(1000, 500, "the tap's page_size"),
    "drift_every": Size(2, 2, "the sandbox touches jobs before every k-th listing request"),
    "drift_bursts": Size([1, 2, 3, 4, 5], [3], "changes_per_burst values"),
}

#: The walk's fixed cost on top of ceil(N/page_size) at page sizes above the largest
#: burst of one minute: a probe of the last page and one page of re-read jobs
#: (tests/test_drift.py asserts the same bound).
FULL_SYNC_FIXED_EXTRA = 2


def full_sync_row(
    sandbox: Sandbox, expected: dict[int, str], args: argparse.Namespace, password: bool
) -> tuple[list[str], RunResult, RequestCounts]:
    """A full sync signed in with a static token or username/password (+1 token request)."""
    pages = math.ceil(args.n / args.page_size)
    most, token = pages + FULL_SYNC_FIXED_EXTRA, int(password)
    client = OurTap(password_grant=password)
    run, log = run_client(client, sandbox, f"req-{token}", page_size=args.page_size, collect=True)
    sent = (log.listing, log.count("token"), log.total)
    ok = pages <= log.listing <= most and sent[1:] == (token, log.listing + token)
    return (
        [
            "full sync, " + ("username/password" if password else "static token"),
            log.describe(),
            f"{pages} to {most} listing" + (" + 1 token" if password else ""),
            verdict(ok and run.ok),
            str(run.records),
            str(loss(expected, run.emitted)) + status_note(run),
            per_job(log.total, len(run.emitted)),
        ],
        run,
        log,
    )


def bench_requests(args: argparse.Namespace, report: Report) -> None:
    """1: a full sync (two ways to sign in) and a no-change incremental run."""
    with Sandbox(args.n) as sandbox:
        expected = sandbox.versions()
        static, full, full_log = full_sync_row(sandbox, expected, args, password=False)
        password, _, _ = full_sync_row(sandbox, expected, args, password=True)
        incr, log = run_client(
            OurTap(), sandbox, "req-incremental", page_size=args.page_size,
            state=full.last_state, collect=True,
        )  # fmt: skip
    incremental = [
        "incremental from the final STATE, nothing changed",
        log.describe(),
        "1 listing",
        verdict(log.total == 1 and incr.ok),
        f"{incr.records} (re-read from the bookmark's minute)",
        str(loss(expected, incr.emitted | full.emitted)) + status_note(incr),
        per_job(log.total, len(incr.emitted)),
    ]
    headers = ["run", "requests (sandbox log)", "expected", "verdict", "records emitted", "lost"]
    headers.append("requests / delivered job")
    report.add(
        f"### 1. Requests: full sync of N={args.n:,} jobs, page_size {args.page_size}\n\n"
        f"ceil(N/page_size) = {math.ceil(args.n / args.page_size)}; the walk may add up to "
        f"{FULL_SYNC_FIXED_EXTRA} (a probe of the listing's last page, and a page of jobs "
        "re-read from the minute it re-anchors at): `-m benchmarks walk` measures it per "
        "page size.\n\n" + md_table(headers, [static, password, incremental])
    )
    args.quiet_pair = full_log.listing + log.listing


def drift_row(args: argparse.Namespace, burst: int) -> list[str]:
    """One pair under drift: run 1 while jobs move, run 2 from its STATE, quiet."""
    faults = {"changes_every": args.drift_every, "changes_per_burst": burst}
    with Sandbox(args.n, faults) as sandbox:
        before = sandbox.versions()
        pair = run_pair(OurTap(), sandbox, f"req-drift-{burst}", args.page_size)
    first, second, after = pair.first, pair.second, pair.after
    changed = changed_jobs(before, after)
    behind = lagging(after, first.emitted)
    unmoved = {job_id for job_id in behind if before.get(job_id) == after[job_id]}
    lost = loss(after, merge_emitted(first.emitted, second.emitted))
    extra = pair.listing - args.quiet_pair
    return [
        str(burst),
        f"{pair.first_log.change_bursts} bursts, {changed} jobs",
        f"{pair.first_log.listing} + {pair.second_log.listing} = {pair.listing}",
        f"{extra:+d}",
        f"{extra / changed:.2f}" if changed else "n/a",
        f"{len(behind)} ({len(unmoved)} unmoved)",
        f"{first.records + second.records}",
        str(lost) + status_note(first) + status_note(second),
        verdict(lost.total == 0 and not unmoved and first.ok and second.ok),
        per_job(pair.listing, len(merge_emitted(first.emitted, second.emitted))),
    ]


def bench_drift(args: argparse.Namespace, report: Report) -> None:
    """1b: each drift run as a pair, against the quiet pair of section 1.

    The walk may leave a job that changed in the newest minute while run 1 read it to the
    next run, so the promise (0 lost, 0 stale) is checked after run 2.
    """
    every = args.drift_every
    rows = [drift_row(args, burst) for burst in args.drift_bursts]
    report.add(
        f"### 1b. Drift: jobs change during paging, measured as pairs (sandbox "
        f"`changes_every={every}`: before listing requests 2, {2 + every}, {2 + 2 * every}, "
        "... of run 1 it touches `changes_per_burst` random jobs; run 2 starts from run 1's "
        "final STATE with nothing changing)\n\n"
        f"*extra* = listing requests of the pair - the quiet pair's ({args.quiet_pair}: the "
        "full sync and the incremental run of section 1). *run 1 behind* = jobs whose "
        "final version run 1 did not emit (allowed only for jobs that changed during it).\n\n"
        + md_table(
            [
                "changes_per_burst",
                "changes during run 1",
                "listing requests: run 1 + run 2",
                f"extra vs {args.quiet_pair}",
                "extra per changed job",
                "run 1 behind",
                "records emitted",
                "lost after the pair (vs final versions)",
                "verdict (0 lost, 0 unmoved behind)",
                "requests / delivered job (pair)",
            ],
            rows,
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Sections 1 and 1b."""
    return script_main("requests", __doc__ or "", SIZES, [bench_requests, bench_drift], argv)
