"""Scheduled runs played back to back on a :class:`SimulatedClock`, and what they delivered.

A scheduler runs a tap every N minutes while the account changes: between runs (jobs
updated at instants spread over the interval) and during runs (the ``changes_*`` knobs,
with the clock moving on per listing request). :func:`play_schedule` plays such a
sequence with no real sleep, and :class:`ScheduleReport` says per run how many listing
requests it made, what it emitted, and which jobs the runs so far still owe.

The tap is passed in as ``sync(state) -> (records, final_state)``, so this module stays
free of the tap (tests run it in-process; a benchmark may run it any way it likes).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from tap_nexudus_jobs.sandbox.clock import SimulatedClock
from tap_nexudus_jobs.sandbox.faults import SandboxFaults
from tap_nexudus_jobs.sandbox.server import NexudusSandbox

#: One run of the tap: STATE in, (RECORD payloads, final STATE) out.
Sync = Callable[[dict[str, Any]], tuple[list[dict[str, Any]], dict[str, Any]]]
#: A version as a comparable pair: (Id, UpdatedOn as an aware instant).
Version = tuple[int, datetime]


def parse_instant(value: str) -> datetime:
    """An UpdatedOn as the tap or the sandbox writes it (no offset: UTC), as an instant."""
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@dataclass(frozen=True)
class ScheduledRun:
    """One run: when it starts (true UTC) and what happens before and during it."""

    at: datetime
    #: Jobs updated between the previous run and this one, one at a time at instants
    #: spread evenly over the interval (seeded choice).
    updates_before: int = 0
    #: The sandbox's faults during this run (None: leave them as they are). Switch the
    #: ``changes_*`` knobs on for jobs changing mid-run; the record clock knobs too.
    faults: SandboxFaults | None = None


@dataclass
class RunOutcome:
    """What one run did, and what it left owed."""

    at: datetime
    listing_requests: int
    records: int
    #: Versions this run emitted that an earlier run (or this one) had already emitted.
    repeats: int
    state_bytes: int
    #: Jobs whose version at this run's start had not been emitted (nor a newer one) by
    #: its end: what a user's table lacks after the run, although it was there to read.
    behind: list[int] = field(default_factory=list)


@dataclass
class ScheduleReport:
    """Every run's outcome, and the verdict at the end against the jobs then served."""

    runs: list[RunOutcome]
    #: Jobs served at the end that no run ever emitted.
    lost: list[int]
    #: Jobs served at the end whose current version no run emitted (older ones were).
    stale: list[int]
    #: (Id, UpdatedOn) pairs emitted more than once over the whole sequence.
    repeats: int

    def table(self) -> str:
        """One line per run, then the verdict: for test failures and the benchmark."""
        lines = [
            f"run {n}: {r.at:%Y-%m-%d %H:%M}Z listing requests {r.listing_requests}, "
            f"records {r.records}, repeats {r.repeats}, behind {len(r.behind)}, "
            f"STATE {r.state_bytes} B"
            for n, r in enumerate(self.runs, 1)
        ]
        lines.append(f"lost {len(self.lost)}, stale {len(self.stale)}, repeats {self.repeats}")
        return "\n".join(lines)


def _spread_updates(
    sandbox: NexudusSandbox, clock: SimulatedClock, until: datetime, count: int, rng: random.Random
) -> None:
    """Update ``count`` random jobs one by one, evenly spaced from now to ``until``."""
    start = clock()
    step = (until - start) / (count + 1)
    for number in range(1, count + 1):
        clock.set(start + step * number)
        sandbox.touch([rng.choice(sorted(sandbox.served_ids()))])
    clock.set(until)


def _versions(sandbox: NexudusSandbox) -> dict[int, datetime]:
    return {i: parse_instant(v) for i, v in sandbox.current_versions().items()}


def _owed(start: Mapping[int, datetime], emitted: Mapping[int, set[datetime]]) -> list[int]:
    """Jobs whose version in ``start`` was not emitted, nor any newer one."""
    return sorted(
        job_id
        for job_id, version in start.items()
        if not any(seen >= version for seen in emitted.get(job_id, ()))
    )


def play_schedule(
    sandbox: NexudusSandbox,
    clock: SimulatedClock,
    runs: Sequence[ScheduledRun],
    sync: Sync,
    *,
    seconds_per_listing: float = 20.0,
    seed: int = 0,
) -> ScheduleReport:
    """Play ``runs`` in order, each from the previous one's STATE; report what they owe.

    During a run the clock moves ``seconds_per_listing`` per listing request, so jobs the
    ``changes_*`` knobs touch mid-run get later stamps, and a jump can fall inside a run.
    """
    rng = random.Random(f"{seed}:schedule")  # noqa: S311 - reproducible choice of jobs
    emitted: dict[int, set[datetime]] = {}
    outcomes: list[RunOutcome] = []
    state: dict[str, Any] = {}
    repeats_total = 0

    def tick(_listing_number: int) -> None:
        clock.advance(timedelta(seconds=seconds_per_listing))

    for run in runs:
        if clock() < run.at:
            _spread_updates(sandbox, clock, run.at, run.updates_before, rng)
        if run.faults is not None:
            sandbox.faults = run.faults
        at_start = _versions(sandbox)
        requests_before = sandbox.listing_requests
        sandbox.on_listing_request = tick
        try:
            records, state = sync(state)
        finally:
            sandbox.on_listing_request = None
        repeats = 0
        for record in records:
            seen = emitted.setdefault(int(record["Id"]), set())
            version = parse_instant(record["UpdatedOn"])
            repeats += version in seen
            seen.add(version)
        repeats_total += repeats
        served = sandbox.served_ids()
        outcomes.append(
            RunOutcome(
                at=run.at,
                listing_requests=sandbox.listing_requests - requests_before,
                records=len(records),
                repeats=repeats,
                state_bytes=len(json.dumps(state, separators=(",", ":"))),
                behind=[i for i in _owed(at_start, emitted) if i in served],
            )
        )
    final = _versions(sandbox)
    lost = sorted(set(final) - set(emitted))
    stale = sorted(i for i in _owed(final, emitted) if i in emitted)
    return ScheduleReport(outcomes, lost, stale, repeats_total)


def quiet(faults: SandboxFaults) -> SandboxFaults:
    """``faults`` with nothing changing jobs mid-run (a final catch-up run)."""
    return replace(faults.without_data_changes(), status_flow_every=0, status_flow_per_burst=0)
