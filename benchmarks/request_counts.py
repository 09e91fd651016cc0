"""Requests per run and under drift (sections 1, 1b, 1c, 5a, 5b of benchmarks/README.md).

    .venv/bin/python -m benchmarks requests [--quick] [--only SECTION,...] [--install 0]

- ``full_and_incremental`` (1, 5a): a full sync, then an incremental run from its state
  with nothing changed, for our tap (static token, and username/password) and each peer.
- ``drift_pairs`` (1b, 5b): run 1 while the sandbox touches ``changes_per_burst`` random
  jobs before every ``--drift-every``-th listing request, run 2 from its state on a quiet
  account: records lost after the pair, per client. Sandbox in its own process.
- ``walk_costs`` (1c): our tap's full syncs per page size against ceil(N/page_size), the
  requests by kind and the jobs served (re-read) against N; the no-change run after each.
- ``walk_drift`` (1c): pairs with a fixed number of bursts spread over run 1 (the same
  moves at every account size), moved by the sandbox's ``on_listing_request`` hook.
"""

from __future__ import annotations

import argparse
import math
import random
from collections import Counter
from typing import Any

from benchmarks.clients import OUR_TAP, PEER_SIZES, Client, peers, run_client, run_pair
from benchmarks.harness import (
    UNPACED,
    Report,
    Run,
    SandboxProcess,
    Size,
    check,
    loss,
    md_table,
    merge,
    per_job,
    script_main,
    verdict,
)
from nexudus_sandbox import NexudusSandbox, RequestLogEntry

SIZES = {
    "user_n": Size(10_000, 2_000, "jobs for 1, 1b, 5a, 5b"),
    "user_page_size": Size(1000, 500, "page size of 1, 1b, 5a, 5b"),
    "drift_every": Size(2, 2, "1b: the sandbox touches jobs before every k-th listing request"),
    "changes_per_burst": Size([1, 2, 3, 4, 5], [3], "1b: jobs touched per burst"),
    "n": Size([2_000, 10_000, 50_000], [2_000], "1c: full-sync sizes"),
    "page_sizes": Size([50, 100, 500, 1000], [50, 1000], "1c: full-sync page sizes"),
    # 49,500: not a multiple of 1000, so the last page has room for the re-read jobs.
    "big_n": Size([49_500, 100_000], [], "1c: more full-sync sizes, at --big-page-sizes"),
    "big_page_sizes": Size([500, 1000], [500, 1000], "1c: page sizes for --big-n"),
    "drift_sizes": Size([5_000, 20_000], [2_000], "1c: account sizes of the drift pairs"),
    "drift_per_burst": Size([1, 2, 3, 4, 5], [5], "1c: jobs moved per burst"),
    "drift_bursts": Size(5, 5, "1c: bursts in run 1 of each --drift-per-burst pair"),
    "drift_burst_counts": Size([1, 10, 20], [10], "1c: pairs of one job per burst, this many"),
    "drift_page_size": Size(100, 100, "1c: page size of the drift pairs"),
    "seed": Size(42, 42, "1c: the sandbox's data seed"),
    **PEER_SIZES,
}
#: The walk's fixed cost over ceil(N/page_size): a probe and a page of re-read jobs.
FIXED_EXTRA = 2
#: The issue's targets for a full sync: extra listing requests over ceil(N/page_size).
TARGETS = {50: 0.10, 1000: 0.02}
KINDS = ("first page", "re-anchor", "probe", "closed window", "Id order")


# -- 1 and 5a: as a user runs it ---------------------------------------------------------


def user_row(client: Client, args: argparse.Namespace) -> tuple[list[str], int]:
    """A full sync and an incremental run from its state; the pair's listing requests."""
    pages, size = math.ceil(args.user_n / args.user_page_size), args.user_page_size
    with SandboxProcess(args.user_n) as sandbox:
        served = sandbox.current_versions()
        full, _, incremental = run_pair(client, sandbox, f"req-{client.name}", size, None)
    token = int(client.password_grant)  # the password grant costs one token request a run
    ok = pages <= full.listing <= pages + FIXED_EXTRA and full.count("token") == token
    ok = ok and incremental.listing == 1 and incremental.count("token") == token
    pair = full.listing + incremental.listing
    row = [client.name + (" (static token)" if client is OUR_TAP else ""), full.describe()]
    row += [f"{full.records:,}{full.note()}", str(loss(served, full.emitted))]
    # An incremental run after a failed full sync measures nothing.
    row += [incremental.describe() + incremental.note(), str(incremental.records)]
    row[-2:] = row[-2:] if full.ok else ["n/a", "n/a"]
    row += [per_job(pair, len(merge(full.emitted, incremental.emitted)))]
    return [*row, verdict(ok and full.ok and incremental.ok) if client.kind == "tap" else ""], pair


def full_and_incremental(args: argparse.Namespace, report: Report) -> None:
    """1 and 5a: requests of a full sync and of a no-change incremental run, per client."""
    ready, versions = peers(args.install)
    args.clients, args.quiet_pairs, rows = [OUR_TAP, *ready], {}, []
    password = Client("tap-nexudus-jobs (username/password)", password_grant=True)
    for client in [OUR_TAP, password, *ready]:
        row, args.quiet_pairs[client.name] = user_row(client, args)
        rows.append(row)
    pages = math.ceil(args.user_n / args.user_page_size)
    headers = "client | full sync: requests | records | lost | incremental: requests | "
    headers += "incremental: records | requests / delivered job (both) | verdict"
    report.add(
        f"### 1, 5a. A full sync of N={args.user_n:,} (page_size {args.user_page_size}), then "
        "an incremental run with nothing changed\n\nPeers:\n" + "\n".join(versions) + "\n\n"
        f"Our tap's verdict: {pages} to {pages + FIXED_EXTRA} listing requests (ceil(N/"
        f"page_size) plus the walk's fixed cost of at most {FIXED_EXTRA}), +1 token request "
        "for the password grant; the incremental run exactly 1.\n\n" + md_table(headers, rows)
    )


# -- 1b and 5b: drift pairs, per client --------------------------------------------------


def drift_row(client: Client, args: argparse.Namespace, burst: int) -> list[str]:
    """One pair under drift: run 1 while jobs move, run 2 from its state, quiet."""
    faults = {"changes_every": args.drift_every, "changes_per_burst": burst}
    with SandboxProcess(args.user_n, faults) as sandbox:
        before = sandbox.current_versions()
        label = f"req-drift-{client.name}-{burst}"
        first, after, second = run_pair(client, sandbox, label, args.user_page_size, {})
    changed = sum(1 for i, v in after.items() if before.get(i) != v)
    behind = loss(after, first.emitted).ids
    unmoved = {i for i in behind if before.get(i) == after[i]}
    lost = loss(after, first.emitted, second.emitted)
    pair, quiet = first.listing + second.listing, args.quiet_pairs[client.name]
    changes = sum(1 for e in first.log if e.fault == "changes")
    row = [client.name, str(burst), f"{changes} bursts, {changed} jobs"]
    row += [f"{first.listing} + {second.listing} = {pair}", f"{pair - quiet:+d}"]
    row += [f"{(pair - quiet) / changed:.2f}" if changed else "n/a"]
    row += [f"{len(behind)} ({len(unmoved)} unmoved)", f"{first.records + second.records:,}"]
    row += [str(lost) + first.note() + second.note()]
    row += [verdict(lost.total == 0 and not unmoved and first.ok and second.ok)]
    return [*row, per_job(pair, len(merge(first.emitted, second.emitted)))]


def drift_pairs(args: argparse.Namespace, report: Report) -> None:
    """1b and 5b: each drift run as a pair, against the client's quiet pair."""
    if not hasattr(args, "quiet_pairs"):
        full_and_incremental(args, Report())
    rows = [drift_row(c, args, b) for c in args.clients for b in args.changes_per_burst]
    every = args.drift_every
    headers = "client | changes_per_burst | changes during run 1 | listing: run 1 + run 2 | "
    headers += "extra vs the quiet pair | extra per changed job | run 1 behind | records "
    headers += "emitted | lost after the pair | verdict (0 lost, 0 unmoved behind) | "
    report.add(
        f"### 1b, 5b. Drift, as pairs (N={args.user_n:,}, sandbox `changes_every={every}`: "
        f"before listing requests 2, {2 + every}, {2 + 2 * every}, ... of run 1 it touches "
        "`changes_per_burst` random jobs; run 2 starts from run 1's state, nothing changing)"
        "\n\n*extra* = listing requests of the pair - the quiet pair's (the full sync and "
        "incremental run of section 1). *run 1 behind* = jobs whose final version run 1 did "
        "not emit (allowed only for jobs that changed during it). *lost* = against the "
        "versions served at the end.\n\n"
        + md_table(headers + "requests / delivered job (pair)", rows)
    )
    check([f"{r[0]}, burst {r[1]}: {r[8]}" for r in rows if r[0] == OUR_TAP.name and r[9] != "OK"])


# -- 1c: the walk's costs per page size ----------------------------------------------------


def tap_run(sandbox: NexudusSandbox, page_size: int, state: dict[str, Any] | None = None) -> Run:
    """Our tap, unpaced, against a sandbox serving from this process; listing log only."""
    tap = Client(OUR_TAP.name, settings=UNPACED)
    run = run_client(tap, sandbox, f"walk-{page_size}", page_size, state=state)
    run.log = [e for e in run.log if e.path == "/api/sys/businessbackgroundjobs"]
    return run


def request_kind(index: int, entry: RequestLogEntry) -> str:
    """What the walk sent this request for, from its query alone."""
    query = {key.lower(): value for key, value in entry.query.items()}
    if query.get("orderby", "").lower() == "id":
        return "Id order"
    if "to_businessbackgroundjob_updatedon" in query:
        return "closed window"
    if query.get("page", "1") != "1":
        return "probe"  # only a probe reads a page past 1 of a window without an end
    return "first page" if index == 0 else "re-anchor"


def sequence(listing: list[RequestLogEntry]) -> str:
    """The requests in order, consecutive pages of one window folded: ``U[07-01T16:06,-] p1-3``."""
    folded: list[list[Any]] = []
    for entry in listing:
        query = {key.lower(): value for key, value in entry.query.items()}
        order = "Id" if query.get("orderby", "").lower() == "id" else "U"
        low = query.get("from_businessbackgroundjob_updatedon", "")[5:] or "-"
        high = query.get("to_businessbackgroundjob_updatedon", "")[5:] or "-"
        window, page = f"{order}[{low},{high}]", int(query.get("page", "1"))
        if folded and folded[-1][0] == window and folded[-1][2] == page - 1:
            folded[-1][2] = page
        else:
            folded.append([window, page, page])
    return " ; ".join(f"{w} p{a}" + (f"-{b}" if b != a else "") for w, a, b in folded)


def full_sync(sandbox: NexudusSandbox, n: int, size: int) -> tuple[list[str], list[str], str]:
    """One (N, page size): the full sync's row, the incremental run's row, the sequence."""
    served = sandbox.current_versions()
    full = tap_run(sandbox, size)
    incremental = tap_run(sandbox, size, full.last_state)
    # Rendering each query again is what the tap was served: the data has not changed.
    jobs = sum(len(sandbox.render_listing(e.query)["Records"]) for e in full.log)
    kinds = Counter(request_kind(i, e) for i, e in enumerate(full.log))
    pages, lost = math.ceil(n / size), loss(served, full.emitted)
    extra, target = full.listing - pages, TARGETS.get(size)
    met = target is None or extra / pages <= target + 1e-9  # 2% of 50 pages is 1 request
    print(f"  N={n:,} page_size={size}: {full.listing} requests ({extra:+d}), {full.wall:.1f} s")
    row = [f"{n:,}", str(size), str(full.listing), str(pages), f"{extra:+d}"]
    row += [f"{extra / pages:+.1%}", "" if target is None else f"<= {target:.0%}: {verdict(met)}"]
    row += [" + ".join(f"{kinds[k]} {k}" for k in KINDS if kinds[k])]
    row += [f"{jobs:,} ({jobs / n:.3f}x)", f"{len(full.emitted):,}"]
    row += [per_job(full.listing, len(full.emitted)), f"{len(lost.missing)} / {len(lost.stale)}"]
    quiet = [f"{n:,}", str(size), str(incremental.listing), verdict(incremental.listing == 1)]
    quiet += [str(incremental.records), per_job(incremental.listing, incremental.records)]
    line = f"- N={n:,}, page_size {size} ({full.listing} requests): `{sequence(full.log)}`"
    return row, quiet, "" if met and extra <= FIXED_EXTRA else line


def walk_costs(args: argparse.Namespace, report: Report) -> None:
    """1c: full syncs per page size, and the no-change incremental run after each."""
    rows, quiet, sequences = [], [], []
    for ns, sizes in ((args.n, args.page_sizes), (args.big_n, args.big_page_sizes)):
        for n in ns:
            with NexudusSandbox(records=n, seed=args.seed) as sandbox:
                for size in sizes:
                    row, again, shown = full_sync(sandbox, n, size)
                    rows.append(row)
                    quiet.append(again)
                    sequences.append(shown)
    headers = "N | page_size | requests | ceil(N/page_size) | extra | extra % | issue target | "
    headers += "requests by kind | jobs served (x N) | jobs delivered | requests / delivered job"
    report.add(
        f"#### 1c. Full sync: listing requests against ceil(N/page_size) (seed {args.seed})"
        "\n\n*requests by kind*: the first page; *re-anchor* = page 1 from the last minute "
        "read; *probe* = the listing's last page; *closed window* = pages of a window proven "
        "closed; *Id order* = a crowded minute read by Id. *jobs served* = jobs in all the "
        "listing's answers (re-reads included) against N.\n\n"
        + md_table(headers + " | lost / stale", rows)
        + "\n\nRequest sequences of the rows over target or more than 2 over ceil(N/page_size)"
        " (`U` = orderBy=UpdatedOn, `Id` = orderBy=Id, `[from,to]` the minute filters "
        "without the year, consecutive pages folded):\n\n"
        + ("\n".join(s for s in sequences if s) or "- none")
        + "\n\n#### 1c. Incremental run from the full sync's final STATE, nothing changed\n\n"
        + md_table(
            "N | page_size | listing requests | = 1 | records emitted (the bookmark's minute, "
            "re-read) | requests / delivered job",
            quiet,
        )
    )
    check([f"N={r[0]} page_size {r[1]}: lost / stale {r[-1]}" for r in rows if r[-1] != "0 / 0"])
    check([f"incremental N={r[0]} page_size {r[1]}: {r[2]} requests" for r in quiet if r[2] != "1"])


def burst_points(requests: int, bursts: int) -> set[int]:
    """Listing request numbers (from 2) spread evenly over a run of ``requests``."""
    if bursts <= 1:
        return {2}
    step = (max(requests, 2) - 2) / (bursts - 1)
    return {2 + round(i * step) for i in range(bursts)}


def moved_pair(args: argparse.Namespace, account: int, points: set[int], per_burst: int) -> Any:
    """Run 1 with ``per_burst`` random jobs updated before each listing request in
    ``points``, then run 2 from its state with nothing changing; the same account (seed) the
    no-change pair read."""
    # Seeded so a rerun moves the same jobs (not for security).
    rng = random.Random(f"{args.seed}:{account}:{len(points)}:{per_burst}")  # noqa: S311
    moved: set[int] = set()
    with NexudusSandbox(records=account, seed=args.seed) as sandbox:
        ids = sorted(sandbox.served_ids())

        def move_jobs(listing_request: int) -> None:
            # Anywhere in the listing: behind the tap and ahead of it, as test_drift does.
            if listing_request in points:
                chosen = rng.sample(ids, per_burst)
                moved.update(chosen)
                sandbox.touch(chosen)

        sandbox.on_listing_request = move_jobs
        first = tap_run(sandbox, args.drift_page_size)
        sandbox.on_listing_request = None
        served = sandbox.current_versions()
        second = tap_run(sandbox, args.drift_page_size, first.last_state)
    return first, second, served, moved


def walk_drift_row(
    args: argparse.Namespace, account: int, bursts: int, per_burst: int, quiet: tuple[int, int]
) -> tuple[list[str], int, int]:
    """One drift pair's row, its extra requests and its moved jobs."""
    # Spread over the no-change run's length: drift lengthens run 1 only a little.
    points = burst_points(quiet[0], bursts)
    first, second, served, moved = moved_pair(args, account, points, per_burst)
    behind, lost = loss(served, first.emitted).ids, loss(served, first.emitted, second.emitted)
    pair, extra = first.listing + second.listing, first.listing + second.listing - sum(quiet)
    ok = lost.total == 0 and not behind - moved
    print(f"  drift N={account:,} {len(points)} x {per_burst}: {pair} ({extra:+d}), {lost}")
    moves = f"{len(points)} burst{'s' * (len(points) != 1)}, {len(moved)} job"
    row = [f"{account:,}", str(per_burst), moves + "s" * (len(moved) != 1)]
    row += [f"{first.listing} + {second.listing} = {pair}"]
    row += [f"{quiet[0]} + {quiet[1]} = {sum(quiet)}"]
    row += [f"{extra:+d}", f"{extra / len(moved):.2f}" if moved else "n/a"]
    row += [f"{len(behind)} ({len(behind - moved)} unmoved)", str(len(lost.missing))]
    row += [str(len(lost.stale)), f"{first.records + second.records:,}"]
    row += [per_job(pair, len(merge(first.emitted, second.emitted))), verdict(ok)]
    return row, extra, len(moved)


def walk_drift(args: argparse.Namespace, report: Report) -> None:
    """1c: drift pairs at each account size, against the no-change pair."""
    cases = [(args.drift_bursts, k) for k in args.drift_per_burst]
    cases += [(count, 1) for count in args.drift_burst_counts if (count, 1) not in cases]
    rows, summary = [], []
    for account in args.drift_sizes:
        with NexudusSandbox(records=account, seed=args.seed) as sandbox:
            first = tap_run(sandbox, args.drift_page_size)
            quiet = (
                first.listing,
                tap_run(sandbox, args.drift_page_size, first.last_state).listing,
            )
        done = [walk_drift_row(args, account, b, k, quiet) for b, k in cases]
        rows += [row for row, _, _ in done]
        extra, moved = sum(e for _, e, _ in done), sum(m for _, _, m in done)
        bursts = sum(len(burst_points(quiet[0], b)) for b, _ in cases)
        summary.append(
            f"- account {account:,}: {extra:+d} requests over {len(done)} pairs, for {moved} "
            f"moved jobs in {bursts} bursts = {extra / max(moved, 1):.2f} per moved job, "
            f"{extra / max(bursts, 1):.2f} per burst"
        )
    headers = "account | jobs moved per burst | moved during run 1 | pair: run 1 + run 2 | "
    headers += "no-change pair | extra | extra per moved job | run 1 behind (of them not moved)"
    headers += " | lost after pair | stale after pair | records emitted (both runs) | "
    report.add(
        f"#### 1c. Drift, as pairs (page_size {args.drift_page_size})\n\n"
        "Run 1: before each of *bursts* listing requests spread evenly over the no-change "
        "run's length (from the 2nd on), the sandbox updates *jobs moved per burst* random "
        "jobs (UpdatedOn = now); run 2 starts from run 1's final STATE with nothing "
        "changing. *extra* = pair requests - the no-change pair's. *run 1 behind* = jobs "
        "whose served version run 1 did not emit (the contract allows only jobs that moved "
        "while run 1 ran).\n\n"
        + md_table(headers + "requests / delivered job | verdict", rows)
        + "\n\n"
        + "\n".join(summary)
    )
    check(
        [f"drift N={r[0]} {r[1]}/burst: {r[7]}, lost {r[8]}/{r[9]}" for r in rows if r[-1] != "OK"]
    )


def main(argv: list[str] | None = None) -> int:
    """Sections 1, 1b, 1c, 5a and 5b."""
    sections = [full_and_incremental, drift_pairs, walk_costs, walk_drift]
    return script_main("requests", __doc__ or "", SIZES, sections, argv)
