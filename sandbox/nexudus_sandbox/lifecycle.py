"""Knobs for a living account: statuses that change over time, and fields the API adds.

``SandboxFaults.status_flow_every`` / ``status_flow_per_burst`` make jobs move through
their lifecycle the way a busy account's do: before the listing requests they pick,
``per_burst`` Running jobs finish (Completed or Failed, now with ResultData), as many
Queued jobs start Running, and as many new jobs arrive Queued, all with ``UpdatedOn`` =
now; with ``status_flow_minutes``, now plus that many minutes per burst so far (the
account's clock moves on between bursts, as between scheduled runs). Every job thus has
several versions over time, and only the finished one has a result: what
`result_data_skip_statuses` and "pay once per version" are about.

``SandboxFaults.extra_fields`` adds undeclared properties to every rendered job (listing
and get-one), as if Nexudus had started sending a new field.

The picks are seeded by ``seed`` and the listing request number, so a rerun with the same
requests meets the same changes.
"""

from __future__ import annotations

import typing as t
from datetime import timedelta

from nexudus_sandbox.data import seeded_rng

if t.TYPE_CHECKING:
    from collections.abc import Iterable

    from nexudus_sandbox.faults import SandboxFaults
    from nexudus_sandbox.server import NexudusSandbox

#: Name written to ``RequestLogEntry.fault`` for a listing request the flow ran before.
FAULT_STATUS_FLOW = "status-flow"
#: Share of finishing jobs that fail (the rest complete).
FAILED_SHARE = 0.2


def status_flow_due(faults: SandboxFaults, listing_number: int) -> bool:
    """True when jobs move on before listing request ``listing_number`` (1-based)."""
    every, per_burst = faults.status_flow_every, faults.status_flow_per_burst
    if every <= 0 or per_burst <= 0 or listing_number < 2:
        return False
    return (listing_number - 2) % every == 0


def advance_status_flow(
    sandbox: NexudusSandbox, faults: SandboxFaults, listing_number: int
) -> dict[str, list[int]]:
    """One burst of the lifecycle, now; returns the Ids by what happened to them."""
    rng = seeded_rng(f"{faults.seed}:status-flow:{listing_number}")
    count = faults.status_flow_per_burst
    burst = (listing_number - 2) // max(1, faults.status_flow_every)
    at = sandbox.clock() + timedelta(minutes=burst * faults.status_flow_minutes)
    with sandbox.lock:
        by_status: dict[str, list[int]] = {"Running": [], "Queued": []}
        for job_id, job in sandbox.jobs.items():
            if job["Status"] in by_status:
                by_status[job["Status"]].append(job_id)
        running, queued = sorted(by_status["Running"]), sorted(by_status["Queued"])
        finished = rng.sample(running, min(count, len(running)))
        started = rng.sample(queued, min(count, len(queued)))
        failed = [job_id for job_id in finished if rng.random() < FAILED_SHARE]
        completed = [job_id for job_id in finished if job_id not in failed]
        # One step per job and burst: finish first, so a job just started keeps running.
        sandbox.touch(completed, at=at, status="Completed")
        sandbox.touch(failed, at=at, status="Failed")
        sandbox.touch(started, at=at, status="Running")
        arrived = sandbox.add_jobs(count, at=at, status="Queued")
    return {"finished": finished, "started": started, "arrived": arrived}


def add_extra_fields(rendered: Iterable[dict[str, t.Any]], faults: SandboxFaults) -> None:
    """Put ``faults.extra_fields`` into each rendered job, as the API would send them."""
    extra = faults.extra_fields
    if not extra:
        return
    for job in rendered:
        job.update(extra)
