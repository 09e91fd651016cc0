"""Knobs that make the sandbox misbehave the way the real API may.

The sandbox reads ``NexudusSandbox.faults`` on every request, so a test can change a knob
while a sync runs. To add a knob: add a field here, then act on it in
``server._Handler._before_response`` (which may short-circuit a response) or in the
listing route.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tap_nexudus_jobs.sandbox.listing import DIR_CONVENTIONS

DirConvention = Literal["1/-1", "0/1"]


@dataclass
class SandboxFaults:
    """Fault injection settings (all off by default)."""

    #: Sleep this long before answering every request, to mimic network round trips.
    latency_ms: float = 0.0
    #: Meaning of ``dir``: "1/-1" (1 asc, -1 desc; this endpoint's page) or "0/1"
    #: (0 asc, 1 desc; other Nexudus docs). The documentation disagrees, so both exist.
    dir_convention: DirConvention = "1/-1"

    def __post_init__(self) -> None:
        """Reject values the handler could not honour."""
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.dir_convention not in DIR_CONVENTIONS:
            raise ValueError(f"dir_convention must be one of {sorted(DIR_CONVENTIONS)}")
