"""Named fault scenarios, shared by the fault-injection tests and the fault benchmark.

Scenarios whose faults change jobs during a sync (``changes_data``) depend on the clock
that stamps those changes, so the tests and the benchmark run each of them under every
record clock in ``RECORD_CLOCKS`` (:meth:`FaultScenario.with_record_clock`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from nexudus_sandbox.faults import SandboxFaults

#: Record clocks the drift scenarios run under, in hours from true UTC (the Date
#: header): the same clock, a business whose UpdatedOn runs 10 h ahead, and local time
#: at UTC-5 written with a Z.
RECORD_CLOCKS: tuple[float, ...] = (0.0, 10.0, -5.0)
#: Jobs one bulk update changes: more than a page at every page size the tests and the
#: benchmark use (up to 200).
BULK_UPDATE_JOBS = 250


@dataclass(frozen=True)
class FaultScenario:
    """A sandbox fault setting and the tap settings a user would run against it."""

    name: str
    description: str
    faults: SandboxFaults
    tap_settings: dict[str, Any] = field(default_factory=dict)
    password_grant: bool = False
    expect_throttling: bool = False

    @property
    def changes_data(self) -> bool:
        """True when jobs change during the sync, so the record clock matters."""
        return self.faults.changes_data

    def with_record_clock(self, hours: float) -> FaultScenario:
        """This scenario with changes stamped ``hours`` from true UTC."""
        return replace(self, faults=replace(self.faults, record_clock_offset_hours=hours))


#: Latency, throttling, 5xx, resets, drift, token expiry and dir 0/1 at once.
COMBINED_FAULTS = SandboxFaults(
    latency_ms=20,
    throttle_rate=0.05,
    error_rate=0.05,
    reset_rate=0.05,
    changes_every=3,
    changes_per_burst=2,
    token_max_uses=4,
    dir_convention="0/1",
    seed=7,
)

SCENARIOS: tuple[FaultScenario, ...] = (
    FaultScenario("none", "no fault (baseline)", SandboxFaults()),
    FaultScenario("latency", "50 ms latency on every request", SandboxFaults(latency_ms=50)),
    FaultScenario(
        "published-limits",
        "server enforces 1/100 ms, 120/min, 5000/h; tap at its defaults",
        SandboxFaults.published_limits(),
    ),
    FaultScenario(
        "throttling",
        "15% spontaneous 409 + Retry-After: 1",
        SandboxFaults(throttle_rate=0.15, throttle_retry_after=1, seed=3),
        expect_throttling=True,
    ),
    FaultScenario("server-errors", "15% 500/502/503", SandboxFaults(error_rate=0.15, seed=4)),
    FaultScenario(
        "connection-resets",
        "10% connections closed unanswered",
        SandboxFaults(reset_rate=0.1, seed=5),
    ),
    FaultScenario(
        "token-expiry",
        "password grant; each access token dies after 3 uses",
        SandboxFaults(token_max_uses=3),
        password_grant=True,
    ),
    FaultScenario(
        "drift",
        "3 jobs updated before every 2nd listing request",
        SandboxFaults(changes_every=2, changes_per_burst=3, seed=6),
    ),
    FaultScenario(
        "garbage-page",
        "listing request 3 answers 200 with an HTML page",
        SandboxFaults(garbage_listing_requests=frozenset({3})),
    ),
    FaultScenario(
        "dir-0-1",
        "server reads dir as 0 = ascending, 1 = descending",
        SandboxFaults(dir_convention="0/1"),
    ),
    FaultScenario(
        "combined",
        "latency 20 ms, 5% 409, 5% 5xx, 5% resets, drift, token expiry, dir 0/1",
        COMBINED_FAULTS,
        password_grant=True,
        expect_throttling=True,
    ),
    FaultScenario(
        "tie-shuffle",
        "equal UpdatedOn in a new order on every request; 2 jobs updated every 3rd request",
        SandboxFaults(shuffle_ties=True, changes_every=3, changes_per_burst=2, seed=8),
    ),
    FaultScenario(
        "bulk-update",
        f"{BULK_UPDATE_JOBS} jobs get one UpdatedOn (now) before listing request 2",
        SandboxFaults(bulk_update_at_listing=2, bulk_update_jobs=BULK_UPDATE_JOBS, seed=9),
    ),
    FaultScenario(
        "to-instant",
        "to_ 10:30 means <= 10:30:00; 3 jobs updated before every 2nd listing request",
        SandboxFaults(to_filter="instant", changes_every=2, changes_per_burst=3, seed=10),
    ),
    FaultScenario(
        "date-missing",
        "no Date header; 3 jobs updated before every 2nd listing request",
        SandboxFaults(date_header="missing", changes_every=2, changes_per_burst=3, seed=11),
    ),
    FaultScenario(
        "date-wrong",
        "Date header 7 h ahead; 3 jobs updated before every 2nd listing request",
        SandboxFaults(date_header="wrong", changes_every=2, changes_per_burst=3, seed=12),
    ),
    FaultScenario(
        "all-at-once",
        "combined, plus tie shuffle, to-instant, Date 7 h ahead, 150-job bulk updates "
        "before listing request 3 and every 6th after",
        replace(
            COMBINED_FAULTS,
            shuffle_ties=True,
            to_filter="instant",
            date_header="wrong",
            bulk_update_at_listing=3,
            bulk_update_jobs=150,
            bulk_update_every=6,
            seed=13,
        ),
        password_grant=True,
        expect_throttling=True,
    ),
)
#: The scenarios whose jobs change during the sync: run under every record clock.
DRIFT_SCENARIOS: tuple[FaultScenario, ...] = tuple(s for s in SCENARIOS if s.changes_data)


def scenario(name: str) -> FaultScenario:
    """The scenario called `name`."""
    for candidate in SCENARIOS:
        if candidate.name == name:
            return candidate
    msg = f"no fault scenario named {name!r}"
    raise KeyError(msg)
