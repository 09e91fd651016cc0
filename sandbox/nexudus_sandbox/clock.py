"""The sandbox's own clock (true UTC), injectable so tests can move time by hand.

:class:`SimulatedClock` lets a test play scheduled runs an hour apart back to back with
no real sleep: ``clock.advance(minutes=60)`` between runs. With ``running=True`` it also
moves at real speed from where it was set (the CLI's ``--clock-start``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

#: What a sandbox reads as "now, true UTC": an aware datetime.
Clock = Callable[[], datetime]


def real_clock() -> datetime:
    """True UTC from the machine's clock."""
    return datetime.now(timezone.utc)


class SimulatedClock:
    """True UTC that stands still (or runs at real speed) until a test moves it."""

    def __init__(self, start: datetime, *, running: bool = False) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock's start must be an aware datetime")
        self._lock = threading.Lock()
        self._running = running
        self._set_at = time.monotonic()
        self._value = start.astimezone(timezone.utc)

    def __call__(self) -> datetime:
        """Now on this clock."""
        with self._lock:
            if not self._running:
                return self._value
            return self._value + timedelta(seconds=time.monotonic() - self._set_at)

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (aware), forwards or backwards."""
        if when.tzinfo is None:
            raise ValueError("the clock can only be set to an aware datetime")
        with self._lock:
            self._value = when.astimezone(timezone.utc)
            self._set_at = time.monotonic()

    def advance(self, delta: timedelta) -> datetime:
        """Move on by ``delta``; returns the new now."""
        self.set(self() + delta)
        return self()
