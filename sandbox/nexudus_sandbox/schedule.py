"""Scheduled runs played back to back on a :class:`SimulatedClock`, and what they delivered.

A scheduler runs a tap every N minutes while the account changes: between runs (jobs
updated at instants spread over the interval) and during runs (the ``changes_*`` knobs,
with the clock moving on per listing request). :func:`play_schedule` plays such a
sequence with no real sleep, and :class:`ScheduleReport` says per run how many listing
requests it made, what it emitted, and which jobs the runs so far still owe.

The tap is passed in as ``sync(state) -> (records, final_state)``, so this module stays
free of the tap (tests run it in-process; a benchmark may run it any way it likes).

The daylight saving schedules (``LONDON_SUMMER``/``LONDON_WINTER``, :func:`runs_across`,
:func:`runs_crossing`) are shared by tests/test_record_clock_jumps.py and
benchmarks/clock_jumps.py, so the benchmark measures exactly what the tests assert.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from nexudus_sandbox.clock import SimulatedClock
from nexudus_sandbox.faults import SandboxFaults
from nexudus_sandbox.server import NexudusSandbox

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
    #: The sandbox's faults from the end of the previous run, through the updates before
    #: this one, to the end of this run (None: leave them as they are). Switch the
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
        # A run's faults hold from the interval before it: a record clock stamps it too.
        if run.faults is not None:
            sandbox.faults = run.faults
        if clock() < run.at:
            _spread_updates(sandbox, clock, run.at, run.updates_before, rng)
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


#: The end of summer time in the EU (01:00 UTC) and its start the next spring.
FALL_BACK = datetime(2026, 10, 25, 1, 0, tzinfo=timezone.utc)
SPRING_FORWARD = datetime(2027, 3, 28, 1, 0, tzinfo=timezone.utc)
#: A London business whose UpdatedOn is local time stamped Z: BST (UTC+1) until the
#: fall-back, then GMT; in winter GMT until the spring-forward, then BST.
LONDON_SUMMER = SandboxFaults(
    record_clock_offset_hours=1,
    record_clock_jump_at=FALL_BACK,
    record_clock_jump_minutes=-60,
    seed=21,
)
LONDON_WINTER = SandboxFaults(
    record_clock_jump_at=SPRING_FORWARD, record_clock_jump_minutes=60, seed=22
)


def minutes_from(base: datetime, *offsets: float) -> list[datetime]:
    """``base`` plus each of ``offsets`` minutes."""
    return [base + timedelta(minutes=m) for m in offsets]


def changing(faults: SandboxFaults, every: int = 2, per_burst: int = 3) -> SandboxFaults:
    """``faults`` with ``per_burst`` jobs changing before every ``every``-th listing request."""
    return replace(faults, changes_every=every, changes_per_burst=per_burst)


def runs_across(
    faults: SandboxFaults, starts: Sequence[datetime], updates: int = 40
) -> list[ScheduledRun]:
    """A full run, incremental runs with ``updates`` jobs changing between them and a few
    during them, then a quiet run whose read is final (so nothing may stay owed)."""
    runs = [ScheduledRun(starts[0], faults=changing(faults))]
    runs += [ScheduledRun(at, updates_before=updates) for at in starts[1:-1]]
    runs.append(ScheduledRun(starts[-1], updates_before=updates, faults=quiet(faults)))
    return runs


def runs_crossing(faults: SandboxFaults, jump: datetime) -> list[ScheduledRun]:
    """Runs at -80 and -40 min, one starting 10 s before ``jump`` that reads 1,200
    changed jobs (two pages or more, the clock moving per request) while jobs change
    before each of its requests, then runs at +30, +70 and +110 min."""
    starts = [*minutes_from(jump, -80, -40), jump - timedelta(seconds=10)]
    runs = runs_across(faults, [*starts, *minutes_from(jump, 30, 70, 110)])
    runs[2] = replace(runs[2], updates_before=1_200, faults=changing(faults, 1, 5))
    runs[3] = replace(runs[3], faults=changing(faults))
    return runs


def daylight_saving_schedules() -> dict[str, list[ScheduledRun]]:
    """The four sequences the tests run: each jump between two runs and inside one."""
    every_40 = (-80, -40, -10, 30, 70, 110)
    return {
        "fall-back between runs": runs_across(LONDON_SUMMER, minutes_from(FALL_BACK, *every_40)),
        "fall-back during a run": runs_crossing(LONDON_SUMMER, FALL_BACK),
        "spring-forward between runs": runs_across(
            LONDON_WINTER, minutes_from(SPRING_FORWARD, *every_40)
        ),
        "spring-forward during a run": runs_crossing(LONDON_WINTER, SPRING_FORWARD),
    }


#: The runs of issue 19: an hourly-ish schedule on a quiet autumn day.
AHEAD_START = datetime(2026, 11, 10, 8, 0, tzinfo=timezone.utc)
#: A far-future stamp one broken write leaves behind.
STRAY_STAMP = datetime(2099, 1, 1, tzinfo=timezone.utc)


def ahead_then_corrected(hours: float = 10, **knobs: Any) -> SandboxFaults:
    """A record clock ``hours`` ahead from 10 to 65 minutes after ``AHEAD_START`` (the
    second run reads while it is ahead), then corrected."""
    return SandboxFaults(
        record_clock_jump_at=AHEAD_START + timedelta(minutes=10),
        record_clock_jump_minutes=round(hours * 60),
        record_clock_jump_until=AHEAD_START + timedelta(minutes=65),
        seed=31,
        **knobs,
    )


def one_stray_write(stamp: datetime = STRAY_STAMP, **knobs: Any) -> SandboxFaults:
    """The first job written 10 minutes or more after ``AHEAD_START`` is stamped ``stamp``."""
    return SandboxFaults(
        stray_write_at=AHEAD_START + timedelta(minutes=10),
        stray_write_stamp=stamp,
        seed=32,
        **knobs,
    )


#: How long before its first run a schedule's clock starts (:func:`schedule_clock`): the
#: first run's ``updates_before`` land in that time.
WARM_UP = timedelta(hours=1)


def schedule_clock(runs: Sequence[ScheduledRun]) -> SimulatedClock:
    """The clock to play ``runs`` on: it starts ``WARM_UP`` before the first run."""
    return SimulatedClock(runs[0].at - WARM_UP)


def hourly_after(
    faults: SandboxFaults, updates: Sequence[int] = (10, 25, 25)
) -> list[ScheduledRun]:
    """A full run at ``AHEAD_START`` of an account in use (5 jobs updated in the hour
    before it), then a run every hour with ``updates`` jobs updated before each (issue
    19's sequences)."""
    runs = [ScheduledRun(AHEAD_START, updates_before=5, faults=faults)]
    runs += [
        ScheduledRun(AHEAD_START + timedelta(hours=n), updates_before=count)
        for n, count in enumerate(updates, 1)
    ]
    return runs


def clock_ahead_schedules(**knobs: Any) -> dict[str, list[ScheduledRun]]:
    """Issue 19's two sequences (``knobs``: more faults for both, e.g. no Date header)."""
    return {
        "10 h ahead, then corrected": hourly_after(ahead_then_corrected(**knobs)),
        "one job stamped 2099": hourly_after(one_stray_write(**knobs), (25, 25, 25)),
    }
