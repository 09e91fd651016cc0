"""A local emulator of the Nexudus BusinessBackgroundJobs API (standard library only).

Lets the demo, tests and benchmarks run without a Nexudus account::

    with NexudusSandbox(records=500, seed=42) as sandbox:
        run_tap(api_url=sandbox.url)

Pass ``clock=SimulatedClock(start)`` to move its time by hand (scheduled runs without
sleeping); ``SandboxFaults`` makes it misbehave like the real API may.
"""

from tap_nexudus_jobs.nexudus_api import PUBLISHED_LIMITS
from tap_nexudus_jobs.sandbox.clock import SimulatedClock
from tap_nexudus_jobs.sandbox.data import generate_jobs
from tap_nexudus_jobs.sandbox.faults import SandboxFaults
from tap_nexudus_jobs.sandbox.server import NexudusSandbox, RequestLogEntry

__all__ = [
    "PUBLISHED_LIMITS",
    "NexudusSandbox",
    "RequestLogEntry",
    "SandboxFaults",
    "SimulatedClock",
    "generate_jobs",
]
