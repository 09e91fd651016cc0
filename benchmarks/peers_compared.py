"""Our tap and its peers on the same sandbox (section 5 of benchmarks/README.md).

    .venv/bin/python -m benchmarks peers [--quick] [--n 10000] [--install 1]

Peers (tap-rest-api-msdk, dlt's rest_api source) are installed from PyPI into
``benchmarks/.venvs/<peer>`` the first time (``--install 0`` skips a peer not installed
yet; ``--quick`` does) and configured from ``peers/``. 5a: requests of a full sync and a
no-change incremental run. 5b: records lost under drift, as pairs. 5c: 409s under the
published limits, each client at its defaults. 5d: wall and CPU of a full sync at zero
latency, interleaved, with the baseline for reference.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from benchmarks.clients import (
    Baseline,
    Client,
    DltRestApi,
    OurTap,
    RestApiMsdk,
    ensure_peer,
    unlimited_pacing,
)
from benchmarks.common import (
    Sandbox,
    loss,
    md_table,
    merge_emitted,
    per_job,
    ratio,
    seconds,
)
from benchmarks.harness import (
    Report,
    Size,
    rate,
    run_client,
    run_pair,
    script_main,
    side_by_side,
    status_note,
    summarise,
)
from benchmarks.pacing import PUBLISHED_LIMITS

SIZES = {
    "n": Size(10_000, 2_000, "jobs for 5a-5c"),
    "page_size": Size(1000, 500, "page size of 5a, 5b and 5d"),
    "drift_every": Size(2, 2, "the sandbox touches jobs before every k-th listing request"),
    "drift_bursts": Size([1, 3, 5], [3], "changes_per_burst values of 5b"),
    "limit_page_sizes": Size([1000, 100], [100], "page sizes of 5c"),
    "limit_window_scale": Size(1.0, 1.0, "the sandbox's limit_window_scale in 5c"),
    "cpu_n": Size(50_000, 5_000, "jobs for 5d"),
    "repeats": Size(2, 1, "runs of each client in 5d, interleaved"),
    "install": Size(1, 0, "1: install missing peers from PyPI; 0: skip them"),
    "dlt_run": Size(1, 0, "1: add dlt's run -> DuckDB row to 5d"),
}


def peer_clients(args: argparse.Namespace) -> tuple[list[Client], list[str]]:
    """Our tap, then each peer (installed on demand) or a placeholder saying why not."""
    clients: list[Client] = [OurTap()]
    for name, kind in (("tap-rest-api-msdk", RestApiMsdk), ("dlt", DltRestApi)):
        peer = ensure_peer(name, install=bool(args.install))
        shown = "dlt rest_api" if name == "dlt" else name
        placeholder = Client(shown, available=False, note=peer.note)
        clients.append(kind(peer.path, peer.version_text) if peer.ok else placeholder)
    notes = [f"- {c.name}: {c.version or c.note}" for c in clients[1:]]
    return clients, notes


def full_and_incremental(client: Client, args: argparse.Namespace) -> list[str]:
    """5a row: a full sync, then an incremental run from its state."""
    with Sandbox(args.n) as sandbox:
        expected = sandbox.versions()
        pair = run_pair(client, sandbox, f"peers-{client.name}", args.page_size, quiet=False)
    full, incremental = pair.first, pair.second
    # An incremental run after a failed full sync measures nothing.
    then = [pair.second_log.describe() + status_note(incremental), str(incremental.records)]
    delivered = len(merge_emitted(full.emitted, incremental.emitted))
    return [
        client.name,
        pair.first_log.describe(),
        f"{full.records:,}" + status_note(full),
        str(loss(expected, full.emitted)),
        *(then if full.ok else ["n/a", "n/a"]),
        per_job(pair.listing, delivered),
    ]


def drift_cell(client: Client, args: argparse.Namespace, burst: int) -> str:
    """5b cell: a pair under drift, as in section 1b, for any client."""
    faults = {"changes_every": args.drift_every, "changes_per_burst": burst}
    with Sandbox(args.n, faults) as sandbox:
        pair = run_pair(client, sandbox, f"peers-drift-{client.name}-{burst}", args.page_size)
    alone = loss(pair.after, pair.first.emitted)
    lost = loss(pair.after, merge_emitted(pair.first.emitted, pair.second.emitted))
    return (
        f"{lost.total} lost ({lost.missing} missing, {lost.stale} stale; run 1 alone "
        f"{alone.total}); {pair.first_log.listing} + {pair.second_log.listing} listing req."
        + status_note(pair.first)
        + status_note(pair.second)
    )


def limits_row(client: Client, args: argparse.Namespace, page_size: int) -> list[str]:
    """5c row: one run under the published limits, the client at its defaults."""
    faults: dict[str, Any] = {**PUBLISHED_LIMITS, "limit_window_scale": args.limit_window_scale}
    with Sandbox(args.n, faults) as sandbox:
        expected = sandbox.versions()
        label = f"peers-limits-{client.name}-{page_size}"
        result, log = run_client(
            client, sandbox, label, page_size=page_size, collect=True, timeout=300
        )
    lost = loss(expected, result.emitted)
    return [
        client.name,
        str(page_size),
        log.describe(),
        str(log.throttled),
        "yes" if result.ok else f"no: {result.failure()}",
        f"{result.records:,} ({lost.total} lost)",
        seconds(result.wall),
    ]


def bench_peers(args: argparse.Namespace, report: Report) -> None:
    """5a, 5b and 5c: requests, records lost under drift, 409s under the published limits."""
    clients, notes = peer_clients(args)
    ready = [c for c in clients if c.available]
    skipped = [[c.name, c.note] for c in clients if not c.available]
    pages = math.ceil(args.n / args.page_size)
    full_rows = [full_and_incremental(c, args) for c in ready] + skipped
    drift_rows = [[c.name, *(drift_cell(c, args, b) for b in args.drift_bursts)] for c in ready]
    limit_rows = [limits_row(c, args, size) for size in args.limit_page_sizes for c in ready]
    report.add(
        "### 5. Peers on the same sandbox\n\nConfigs: `benchmarks/peers/`. Versions:\n"
        + "\n".join(notes)
        + f"\n\n#### 5a. Full sync of N={args.n:,} ({pages} pages of {args.page_size}), then "
        "an incremental run with nothing changed\n\n"
        + md_table(
            [
                "client",
                "full sync: requests",
                "records",
                "lost",
                "incremental: requests",
                "incremental: records",
                "requests / delivered job (both runs)",
            ],
            full_rows,
        )
        + f"\n\n#### 5b. Drift (N={args.n:,}, `changes_every={args.drift_every}`), as pairs "
        "(run 2 from run 1's state, nothing changing): records lost against the versions "
        "served at the end\n\n"
        + md_table(["client", *(f"changes_per_burst={b}" for b in args.drift_bursts)], drift_rows)
        + "\n\n#### 5c. Published limits enforced (1 per 100 ms, 120 per minute, 5000 per "
        f"hour; `limit_window_scale={args.limit_window_scale}`), N={args.n:,}, each client "
        "with its default settings\n\n"
        + md_table(
            ["client", "page size", "requests", "409s", "completed", "records", "wall"],
            limit_rows,
        )
    )


def fast_clients(args: argparse.Namespace) -> list[Client]:
    """5d's clients: our tap unpaced, each peer (dlt writing nothing), the baseline."""
    clients, _ = peer_clients(args)
    fast: list[Client] = [OurTap(settings=unlimited_pacing())]
    for client in clients[1:]:
        if isinstance(client, DltRestApi):
            modes = ["extract", "run"] if args.dlt_run else ["extract"]
            for mode in modes:
                quiet = DltRestApi(client.venv, client.version, mode=mode)
                quiet.emit = "none"
                fast.append(quiet)
        elif client.available:
            fast.append(client)
    return [*fast, Baseline()]


def bench_peers_cpu(args: argparse.Namespace, report: Report) -> None:
    """5d: wall and CPU of a full sync at zero latency, side by side."""
    fast = fast_clients(args)
    with Sandbox(args.cpu_n) as sandbox:
        results = side_by_side(fast, sandbox, args.cpu_n, args.repeats, args.page_size, "peers")
    ours_wall, ours_cpu, _, _ = summarise(results[fast[0].name])
    rows = []
    for client in fast:
        wall, cpu, records, failure = summarise(results[client.name])
        note = f" ({failure})" if failure else ""
        rows.append(
            [
                client.name,
                f"{records:,}{note}",
                seconds(wall),
                seconds(cpu),
                rate(records, cpu),
                ratio(cpu, ours_cpu),
                ratio(wall, ours_wall),
            ]
        )
    report.add(
        f"#### 5d. Full sync of N={args.cpu_n:,} at zero latency, no limits (median of "
        f"{args.repeats}, interleaved)\n\n"
        "Our tap with unlimited pacing (as in section 3); dlt `extract` = dlt's extract step "
        "(records written to its local storage, no stdout); `run -> duckdb` adds normalize "
        "and load.\n\n"
        + md_table(
            ["client", "records", "wall", "CPU", "records/s (CPU)", "CPU vs ours", "wall vs ours"],
            rows,
        )
    )


def main(argv: list[str] | None = None) -> int:
    """Section 5."""
    return script_main("peers", __doc__ or "", SIZES, [bench_peers, bench_peers_cpu], argv)
