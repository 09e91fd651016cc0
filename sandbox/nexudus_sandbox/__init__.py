"""A local emulator of the Nexudus BusinessBackgroundJobs API (standard library only).

Lets the demo, tests and benchmarks run without a Nexudus account::

    with NexudusSandbox(records=500, seed=42) as sandbox:
        run_tap(api_url=sandbox.url)

Pass ``clock=SimulatedClock(start)`` to move its time by hand (scheduled runs without
sleeping); ``SandboxFaults`` makes it misbehave like the real API may.
"""

from nexudus_sandbox.clock import SimulatedClock
from nexudus_sandbox.data import generate_jobs
from nexudus_sandbox.faults import SandboxFaults
from nexudus_sandbox.server import NexudusSandbox, RequestLogEntry
from tap_nexudus_jobs.nexudus_api import PUBLISHED_LIMITS

__all__ = [
    "PUBLISHED_LIMITS",
    "NexudusSandbox",
    "RequestLogEntry",
    "SandboxFaults",
    "SimulatedClock",
    "generate_jobs",
]
