"""Named fault scenarios, shared by the fault-injection tests and the fault benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tap_nexudus_jobs.sandbox.faults import SandboxFaults


@dataclass(frozen=True)
class FaultScenario:
    """A sandbox fault setting and the tap settings a user would run against it."""

    name: str
    description: str
    faults: SandboxFaults
    tap_settings: dict[str, Any] = field(default_factory=dict)
    password_grant: bool = False
    expect_throttling: bool = False


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
        SandboxFaults(
            latency_ms=20,
            throttle_rate=0.05,
            error_rate=0.05,
            reset_rate=0.05,
            changes_every=3,
            changes_per_burst=2,
            token_max_uses=4,
            dir_convention="0/1",
            seed=7,
        ),
        password_grant=True,
        expect_throttling=True,
    ),
)


def scenario(name: str) -> FaultScenario:
    """The scenario called `name`."""
    for candidate in SCENARIOS:
        if candidate.name == name:
            return candidate
    msg = f"no fault scenario named {name!r}"
    raise KeyError(msg)
