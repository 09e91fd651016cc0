"""What the listing walk costs in listing requests: full sync, nothing changed, drift pairs.

    .venv/bin/python -m benchmarks walk            # full: ~4 min on 2 shared cores
    .venv/bin/python -m benchmarks walk --quick    # ~20 s
    .venv/bin/python -m benchmarks walk --n 10000 --page-sizes 100 --drift-sizes 5000

The walk (``tap_nexudus_jobs/walk/``) does not cost exactly ``ceil(N/page_size)``
listing requests: it re-anchors at the last minute it read (re-reading that minute's
jobs), probes the listing's last page to prove windows closed, and reads a minute that
fills a whole page in ``Id`` order. This script measures those costs on the sandbox's
generated data (jobs alone or in bursts of 5-60 a minute):

1. full sync of N jobs per page size: requests against ``ceil(N/page_size)``, with the
   requests split by kind, and the jobs the listing served against N (the re-reads);
2. an incremental run from that sync's final STATE, nothing changed: 1 request;
3. drift, as pairs: run 1 while ``jobs moved per burst`` random jobs are updated before
   each of a fixed number of listing requests spread over the run, then run 2 from run 1's
   final STATE on a quiet account (the contract lets a job changed in the newest minute
   while run 1 read it be delivered by run 2). Extra requests are counted against the
   pair of a no-change run, at two account sizes, with the same moves at both, so they
   can be seen to follow the jobs that moved and not the account; a second series moves
   one job per burst in 1, 10 and 20 bursts.

The tap and the sandbox run in this process (the tap as ``tests/conftest.py::run_tap``
runs it, its stdout parsed as it is written), because drift needs the sandbox's
``on_listing_request`` hook and requests are counted from the sandbox's own log: how the
tap is launched changes no request it sends.
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from benchmarks.clients import unlimited_pacing
from benchmarks.common import md_table, merge_emitted, per_job
from benchmarks.harness import Report, Size, check, script_main
from benchmarks.in_process import parse_stamp, sync
from nexudus_sandbox import NexudusSandbox, RequestLogEntry

LISTING_PATH = "/api/sys/businessbackgroundjobs"
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - the sandbox's well-known demo token
#: The issue's targets for a full sync: extra listing requests over ceil(N/page_size).
FULL_SYNC_TARGETS = {50: 0.10, 1000: 0.02}


# -- running the tap in-process ------------------------------------------------------------


@dataclass
class TapRun:
    """What one run emitted and which listing requests it sent."""

    records: int
    emitted: dict[int, datetime]
    last_state: dict[str, Any] | None
    listing: list[RequestLogEntry]
    wall: float

    @property
    def requests(self) -> int:
        """Listing requests, from the sandbox's log."""
        return len(self.listing)


def served_versions(sandbox: NexudusSandbox) -> dict[int, datetime]:
    """Id -> UpdatedOn of every job the sandbox serves now."""
    return {job_id: parse_stamp(value) for job_id, value in sandbox.current_versions().items()}


def tap_config(sandbox: NexudusSandbox, page_size: int) -> dict[str, Any]:
    """Static token, the page size, and pacing that never binds (pacing adds no request)."""
    return {
        "api_url": sandbox.url,
        "access_token": SANDBOX_TOKEN,
        "page_size": page_size,
        **unlimited_pacing(),
    }


def run_tap(sandbox: NexudusSandbox, page_size: int, state: dict[str, Any] | None = None) -> TapRun:
    """One sync, in-process, with its listing requests taken from the sandbox's log."""
    sandbox.clear_log()
    done = sync(tap_config(sandbox, page_size), state)
    listing = [e for e in sandbox.log_snapshot() if e.path == LISTING_PATH]
    sink = done.sink
    return TapRun(sink.records, sink.emitted, sink.last_state, listing, done.wall)


# -- reading the request log ---------------------------------------------------------------

#: Request kinds, in the order they are reported.
KINDS = ("first page", "re-anchor", "probe", "closed window", "Id order")


def request_kind(index: int, entry: RequestLogEntry) -> str:
    """What the walk sent this request for, from its query alone."""
    query = {key.lower(): value for key, value in entry.query.items()}
    if query.get("orderby", "").lower() == "id":
        return "Id order"
    if "to_businessbackgroundjob_updatedon" in query:
        return "closed window"
    if query.get("page", "1") != "1":
        # Only a probe reads a page past 1 of a window without an end.
        return "probe"
    return "first page" if index == 0 else "re-anchor"


def kind_counts(listing: list[RequestLogEntry]) -> Counter[str]:
    """Requests per kind."""
    return Counter(request_kind(i, e) for i, e in enumerate(listing))


def kinds_text(counts: Counter[str]) -> str:
    """e.g. ``1 first page + 1 probe + 50 closed window``."""
    return " + ".join(f"{counts[k]} {k}" for k in KINDS if counts[k])


def sequence_text(listing: list[RequestLogEntry]) -> str:
    """The requests in order, consecutive pages of one window folded: ``U[07-01T16:06,-] p1-3``."""
    folded: list[list[Any]] = []
    for entry in listing:
        query = {key.lower(): value for key, value in entry.query.items()}
        order = "Id" if query.get("orderby", "").lower() == "id" else "U"
        low = query.get("from_businessbackgroundjob_updatedon", "")[5:] or "-"
        high = query.get("to_businessbackgroundjob_updatedon", "")[5:] or "-"
        window = f"{order}[{low},{high}]"
        page = int(query.get("page", "1"))
        if folded and folded[-1][0] == window and folded[-1][2] == page - 1:
            folded[-1][2] = page
        else:
            folded.append([window, page, page])
    parts = [f"{w} p{a}" + (f"-{b}" if b != a else "") for w, a, b in folded]
    return " ; ".join(parts)


def jobs_served(sandbox: NexudusSandbox, listing: list[RequestLogEntry]) -> int:
    """Jobs the listing served over the run's requests, by rendering each query again.

    Only valid while the data has not changed since (the full-sync runs are quiet, and
    ties are ordered by Id without the ``shuffle_ties`` fault), so it matches what the
    tap was served.
    """
    return sum(len(sandbox.render_listing(e.query)["Records"]) for e in listing)


# -- 1 and 2. full sync and nothing changed ------------------------------------------------


@dataclass
class FullSyncRow:
    """One (N, page size) full sync and the incremental run after it."""

    n: int
    page_size: int
    requests: int
    kinds: Counter[str]
    served: int
    delivered: int
    lost: int
    stale: int
    incremental_requests: int
    incremental_records: int
    sequence: str
    wall: float

    @property
    def pages(self) -> int:
        """ceil(N / page_size): what a walk that never re-read would cost."""
        return math.ceil(self.n / self.page_size)

    @property
    def extra(self) -> int:
        """Listing requests over ceil(N / page_size)."""
        return self.requests - self.pages

    @property
    def extra_share(self) -> float:
        """extra / ceil(N / page_size)."""
        return self.extra / self.pages

    @property
    def target(self) -> float | None:
        """The issue's ceiling on extra_share at this page size, if it set one."""
        return FULL_SYNC_TARGETS.get(self.page_size)

    @property
    def meets_target(self) -> bool | None:
        target = self.target
        # A small tolerance: 2% of 50 pages is 1.0 request and must count as met.
        return None if target is None else self.extra_share <= target + 1e-9


def loss(current: dict[int, datetime], emitted: dict[int, datetime]) -> tuple[set[int], set[int]]:
    """(missing, stale): Ids never emitted, and Ids whose newest emitted version is older."""
    missing = {i for i in current if i not in emitted}
    stale = {i for i, v in current.items() if i in emitted and emitted[i] < v}
    return missing, stale


def measure_full_syncs(
    ns: list[int], page_sizes: list[int], seed: int, progress: Callable[[str], None]
) -> list[FullSyncRow]:
    """Every (N, page size): a full sync, then an incremental run from its final STATE."""
    rows: list[FullSyncRow] = []
    for n in ns:
        with NexudusSandbox(records=n, seed=seed) as sandbox:
            current = served_versions(sandbox)
            for size in page_sizes:
                full = run_tap(sandbox, size)
                served = jobs_served(sandbox, full.listing)
                missing, stale = loss(current, full.emitted)
                incremental = run_tap(sandbox, size, full.last_state)
                row = FullSyncRow(
                    n=n,
                    page_size=size,
                    requests=full.requests,
                    kinds=kind_counts(full.listing),
                    served=served,
                    delivered=len(full.emitted),
                    lost=len(missing),
                    stale=len(stale),
                    incremental_requests=incremental.requests,
                    incremental_records=incremental.records,
                    sequence=sequence_text(full.listing),
                    wall=full.wall,
                )
                rows.append(row)
                progress(
                    f"  full sync N={n:,} page_size={size}: {row.requests} requests "
                    f"({row.extra:+d}), {full.wall:.1f} s; incremental {incremental.requests}"
                )
    return rows


def full_sync_table(rows: list[FullSyncRow]) -> str:
    """Section 1: requests against ceil(N/page_size), with the issue's targets."""
    body = []
    for row in rows:
        meets = row.meets_target
        target = (
            "" if row.target is None else f"<= {row.target:.0%}: " + ("OK" if meets else "**MISS**")
        )
        body.append(
            [
                f"{row.n:,}",
                str(row.page_size),
                str(row.requests),
                str(row.pages),
                f"{row.extra:+d}",
                f"{row.extra_share:+.1%}",
                target,
                kinds_text(row.kinds),
                f"{row.served:,} ({row.served / row.n:.3f}x)",
                f"{row.delivered:,}",
                per_job(row.requests, row.delivered),
                f"{row.lost} / {row.stale}",
            ]
        )
    return md_table(
        [
            "N",
            "page_size",
            "requests",
            "ceil(N/page_size)",
            "extra",
            "extra %",
            "issue target",
            "requests by kind",
            "jobs served (x N)",
            "jobs delivered",
            "requests / delivered job",
            "lost / stale",
        ],
        body,
    )


def incremental_table(rows: list[FullSyncRow]) -> str:
    """Section 2: from each full sync's final STATE, nothing changed."""
    body = [
        [
            f"{row.n:,}",
            str(row.page_size),
            str(row.incremental_requests),
            "OK" if row.incremental_requests == 1 else "**MISS**",
            str(row.incremental_records),
            per_job(row.incremental_requests, row.incremental_records),
        ]
        for row in rows
    ]
    return md_table(
        [
            "N",
            "page_size",
            "listing requests",
            "= 1",
            "records emitted (the bookmark's minute, re-read)",
            "requests / delivered job",
        ],
        body,
    )


# -- 3. drift pairs ------------------------------------------------------------------------


@dataclass
class DriftRow:
    """One pair (run 1 under drift, run 2 quiet from run 1's STATE) and its baseline."""

    account: int
    per_burst: int
    bursts: int
    moved: int
    first: int
    second: int
    baseline_first: int
    baseline_second: int
    behind_after_first: int
    behind_unmoved: int
    lost: int
    stale: int
    records: int
    delivered: int
    wall: float

    @property
    def pair(self) -> int:
        return self.first + self.second

    @property
    def baseline(self) -> int:
        return self.baseline_first + self.baseline_second

    @property
    def extra(self) -> int:
        """Requests over the no-change pair at the same account size."""
        return self.pair - self.baseline

    @property
    def ok(self) -> bool:
        """Nothing lost or stale after the pair; run 1 behind only on jobs that moved."""
        return self.lost == 0 and self.stale == 0 and self.behind_unmoved == 0


def burst_points(requests: int, bursts: int) -> list[int]:
    """Listing request numbers (from 2) spread evenly over a run of ``requests``.

    A fixed number of bursts, not one every k requests: then the jobs that move are the
    same at every account size, and any growth of the extra requests with the account
    would show.
    """
    last = max(requests, 2)
    if bursts <= 1:
        return [2]
    step = (last - 2) / (bursts - 1)
    return sorted({2 + round(i * step) for i in range(bursts)})


def drift_cases(
    per_bursts: list[int], bursts: int, burst_counts: list[int]
) -> list[tuple[int, int]]:
    """(bursts, jobs per burst): the per-burst series, then one job per burst more often.

    The second series moves as many jobs as it has bursts, so the extra requests can be
    read against the number of moves as well as against the jobs per move.
    """
    cases = [(bursts, per_burst) for per_burst in per_bursts]
    cases += [(count, 1) for count in burst_counts if (count, 1) not in cases]
    return cases


def measure_drift(
    sizes: list[int],
    cases: list[tuple[int, int]],
    page_size: int,
    seed: int,
    progress: Callable[[str], None],
) -> list[DriftRow]:
    """For each account size: the no-change pair, then one pair per (bursts, jobs per burst)."""
    rows: list[DriftRow] = []
    for account in sizes:
        with NexudusSandbox(records=account, seed=seed) as sandbox:
            quiet_first = run_tap(sandbox, page_size)
            quiet_second = run_tap(sandbox, page_size, quiet_first.last_state)
        baseline = (quiet_first.requests, quiet_second.requests)
        progress(f"  drift N={account:,}: no-change pair {baseline[0]} + {baseline[1]} requests")
        for bursts, per_burst in cases:
            # Spread over the no-change run's length: drift lengthens run 1 only a little.
            points = set(burst_points(quiet_first.requests, bursts))
            row = drift_pair(account, per_burst, points, page_size, seed, baseline)
            rows.append(row)
            progress(
                f"  drift N={account:,} {row.bursts} x {per_burst}: {row.first} + {row.second} "
                f"({row.extra:+d}), lost {row.lost}, stale {row.stale}, {row.wall:.1f} s"
            )
    return rows


def move_jobs_at(sandbox: NexudusSandbox, points: set[int], per_burst: int, seed: str) -> set[int]:
    """Hook the sandbox to update ``per_burst`` random jobs before each listing request in
    ``points``; return the set the moved Ids are added to."""
    # Seeded so a rerun moves the same jobs (not for security).
    rng = random.Random(seed)  # noqa: S311
    ids = sorted(sandbox.served_ids())
    moved: set[int] = set()

    def move_jobs(listing_request: int) -> None:
        # Anywhere in the listing: behind the tap (shifts what it has not read yet)
        # and ahead of it, as test_drift does.
        if listing_request in points:
            chosen = rng.sample(ids, per_burst)
            moved.update(chosen)
            sandbox.touch(chosen)

    sandbox.on_listing_request = move_jobs
    return moved


def drift_pair(
    account: int,
    per_burst: int,
    points: set[int],
    page_size: int,
    seed: int,
    baseline: tuple[int, int],
) -> DriftRow:
    """Run 1 with ``per_burst`` random jobs updated before each listing request in
    ``points``, then run 2 from run 1's final STATE with nothing changing."""
    # A fresh sandbox with the same seed: the same account the baseline pair read.
    with NexudusSandbox(records=account, seed=seed) as sandbox:
        started = time.perf_counter()
        moved = move_jobs_at(
            sandbox, points, per_burst, f"{seed}:{account}:{len(points)}:{per_burst}"
        )
        first = run_tap(sandbox, page_size)
        sandbox.on_listing_request = None
        current = served_versions(sandbox)
        behind = set().union(*loss(current, first.emitted))
        second = run_tap(sandbox, page_size, first.last_state)
        wall = time.perf_counter() - started
    merged = merge_emitted(first.emitted, second.emitted)
    missing, stale = loss(current, merged)
    return DriftRow(
        account=account,
        per_burst=per_burst,
        bursts=len(points),
        moved=len(moved),
        first=first.requests,
        second=second.requests,
        baseline_first=baseline[0],
        baseline_second=baseline[1],
        behind_after_first=len(behind),
        behind_unmoved=len(behind - moved),
        lost=len(missing),
        stale=len(stale),
        records=first.records + second.records,
        delivered=len(merged),
        wall=wall,
    )


def plural(count: int, noun: str) -> str:
    """``1 burst``, ``5 bursts``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def drift_table(rows: list[DriftRow]) -> str:
    """Section 3: extra requests of a drift pair over the no-change pair."""
    body = [
        [
            f"{row.account:,}",
            str(row.per_burst),
            f"{plural(row.bursts, 'burst')}, {plural(row.moved, 'job')}",
            f"{row.first} + {row.second} = {row.pair}",
            f"{row.baseline_first} + {row.baseline_second} = {row.baseline}",
            f"{row.extra:+d}",
            f"{row.extra / row.moved:.2f}" if row.moved else "n/a",
            f"{row.behind_after_first} ({row.behind_unmoved} unmoved)",
            str(row.lost),
            str(row.stale),
            f"{row.records:,}",
            per_job(row.pair, row.delivered),
            "OK" if row.ok else "**MISS**",
        ]
        for row in rows
    ]
    return md_table(
        [
            "account",
            "jobs moved per burst",
            "moved during run 1",
            "pair: run 1 + run 2",
            "no-change pair",
            "extra",
            "extra per moved job",
            "run 1 behind (of them not moved)",
            "lost after pair",
            "stale after pair",
            "records emitted (both runs)",
            "requests / delivered job",
            "verdict",
        ],
        body,
    )


def drift_summary(rows: list[DriftRow]) -> str:
    """Extra requests per moved job, per account size: flat if they follow the moves."""
    lines = []
    for account in sorted({row.account for row in rows}):
        mine = [row for row in rows if row.account == account]
        moved = sum(row.moved for row in mine)
        bursts = sum(row.bursts for row in mine)
        extra = sum(row.extra for row in mine)
        per_job = f"{extra / moved:.2f}" if moved else "n/a"
        per_burst = f"{extra / bursts:.2f}" if bursts else "n/a"
        lines.append(
            f"- account {account:,}: {extra:+d} requests over {len(mine)} pairs, for "
            f"{moved} moved jobs in {bursts} bursts = {per_job} per moved job, "
            f"{per_burst} per burst"
        )
    return "\n".join(lines)


# -- driver --------------------------------------------------------------------------------

SIZES = {
    "n": Size([2_000, 10_000, 50_000], [2_000], "full-sync sizes"),
    "page_sizes": Size([50, 100, 500, 1000], [50, 1000], "full-sync page sizes"),
    # 49,500: not a multiple of 1000, so the last page has room for the re-read jobs;
    # 100,000 at page_size 50 would be 2,000 requests.
    "big_n": Size([49_500, 100_000], [], "extra full-sync sizes, at --big-page-sizes only"),
    "big_page_sizes": Size([500, 1000], [500, 1000], "page sizes for --big-n"),
    "drift_sizes": Size([5_000, 20_000], [2_000], "account sizes of the drift pairs"),
    "drift_per_burst": Size([1, 2, 3, 4, 5], [5], "jobs moved per burst"),
    "drift_bursts": Size(5, 5, "bursts in run 1 of each --drift-per-burst pair"),
    "drift_burst_counts": Size(
        [1, 10, 20], [10], "more pairs of one job per burst, this many bursts"
    ),
    "drift_page_size": Size(100, 100, "page size of the drift pairs"),
    "seed": Size(42, 42, "the sandbox's data seed"),
}


def failures(full_rows: list[FullSyncRow], drift_rows: list[DriftRow]) -> list[str]:
    """What the contract forbids (a missed cost target is reported, not counted here)."""
    found = [
        f"full sync N={r.n:,} page_size {r.page_size}: {r.lost} lost, {r.stale} stale"
        for r in full_rows
        if r.lost or r.stale
    ]
    found += [
        f"incremental after N={r.n:,} page_size {r.page_size}: {r.incremental_requests} "
        "listing requests, not 1"
        for r in full_rows
        if r.incremental_requests != 1
    ]
    found += [
        f"drift N={r.account:,} {r.per_burst}/burst: {r.lost} lost, {r.stale} stale, "
        f"{r.behind_unmoved} unmoved jobs behind after run 1"
        for r in drift_rows
        if not r.ok
    ]
    return found


def bench_full_syncs(args: argparse.Namespace, report: Report) -> None:
    """Full syncs per page size, and the no-change incremental run after each."""
    started = time.perf_counter()
    rows = measure_full_syncs(args.n, args.page_sizes, args.seed, print)
    rows += measure_full_syncs(args.big_n, args.big_page_sizes, args.seed, print)
    over = [row for row in rows if row.meets_target is False or row.extra > 2]
    sequences = "\n".join(
        f"- N={row.n:,}, page_size {row.page_size} ({row.requests} requests): `{row.sequence}`"
        for row in over
    )
    report.add(
        f"#### Full sync: listing requests against ceil(N/page_size) (sandbox seed {args.seed}; "
        f"{time.perf_counter() - started:.0f} s)\n\n"
        "*requests by kind*: the first page; *re-anchor* = page 1 from the last minute "
        "read; *probe* = the listing's last page; *closed window* = pages of a window "
        "proven closed; *Id order* = a crowded minute read by Id. *jobs served* = jobs "
        "in all the listing's answers (re-reads included) against N.\n\n"
        + full_sync_table(rows)
        + "\n\nRequest sequences of the rows over target or more than 2 over "
        "ceil(N/page_size) (`U` = orderBy=UpdatedOn, `Id` = orderBy=Id, `[from,to]` the "
        "minute filters without the year, consecutive pages folded):\n\n"
        + (sequences or "- none")
        + "\n\n#### Incremental run from the full sync's final STATE, nothing changed\n\n"
        + incremental_table(rows)
    )
    check(failures(rows, []))


def bench_drift(args: argparse.Namespace, report: Report) -> None:
    """Drift pairs at each account size, against the no-change pair."""
    cases = drift_cases(args.drift_per_burst, args.drift_bursts, args.drift_burst_counts)
    rows = measure_drift(args.drift_sizes, cases, args.drift_page_size, args.seed, print)
    report.add(
        f"#### Drift, as pairs (page_size {args.drift_page_size})\n\n"
        "Run 1: before each of *bursts* listing requests spread evenly over the "
        "no-change run's length (from the 2nd on), the sandbox updates *jobs moved per "
        "burst* random jobs (`touch`, UpdatedOn = now); run 2 starts from run 1's "
        "final STATE with nothing changing. *extra* = pair requests - the no-change "
        "pair's (full sync + incremental). *run 1 behind* = jobs whose served version "
        "run 1 did not emit (the contract allows only jobs that moved while run 1 "
        "ran). *lost* = Ids never emitted by the pair; *stale* = newest emitted "
        "version older than the served one."
        "\n\n" + drift_table(rows) + "\n\n" + drift_summary(rows)
    )
    check(failures([], rows))


def main(argv: list[str] | None = None) -> int:
    """Print the tables; exit 1 if a run broke the contract (a cost target missed is a
    table cell, not an exit status)."""
    return script_main("walk", __doc__ or "", SIZES, [bench_full_syncs, bench_drift], argv)
