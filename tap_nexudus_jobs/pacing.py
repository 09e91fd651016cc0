"""Pacing: every request the tap sends waits its turn under Nexudus's published limits."""

from __future__ import annotations

import threading
import time
import typing as t
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass

import requests
from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate
from typing_extensions import override

from tap_nexudus_jobs.deadline import DeadlineSession
from tap_nexudus_jobs.redirects import SameOriginSession

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from tap_nexudus_jobs.budget import RequestBudget

# Nexudus publishes: 1 request per 100 ms, 120 per minute, 5,000 per hour (all methods).
# 110 ms, not 100: network and scheduling jitter can bring two requests sent 100 ms
# apart closer together by the time they reach the server, which counts arrivals.
MIN_INTERVAL_MS = 110
# After a throttle answer, space requests this many times further apart than the
# shortest interval pacing allows; each further throttle doubles it (up to the max),
# and the slowdown halves every GENTLE_HALF_LIFE seconds without one.
GENTLE_FACTOR = 2.0
GENTLE_MAX_FACTOR = 16.0
GENTLE_HALF_LIFE = 30.0
# A wait for the minute's window at least this long gets a log line before it starts.
ANNOUNCED_WAIT_SECONDS = 5.0


class _PrepaidTurns(threading.local):
    """Per thread: how many of its next requests go out on turns taken for them earlier."""

    turns = 0


@dataclass(frozen=True)
class PaceLimits:
    """The pacing settings, and the spacings between requests they allow (seconds)."""

    per_minute: int
    per_hour: int
    min_interval_ms: int = MIN_INTERVAL_MS

    @property
    def min_interval(self) -> float:
        """The least time between two requests."""
        return self.min_interval_ms / 1000

    @property
    def minute_spacing(self) -> float:
        """The spacing within the hour's budget: until that is spent only these two bind."""
        return max(60.0 / self.per_minute, self.min_interval)

    @property
    def nominal_spacing(self) -> float:
        """The long-run spacing the tightest limit allows (for ETAs)."""
        return max(self.minute_spacing, 3600.0 / self.per_hour)

    @property
    def gentle_base(self) -> float:
        """What a slowdown multiplies: the burst spacing, or with none, the long run's."""
        return self.min_interval or self.nominal_spacing

    def rates(self) -> list[Rate]:
        """The sliding windows pyrate-limiter keeps, minus those that never bind."""
        return binding_rates(
            [
                (1, self.min_interval_ms),
                (self.per_minute, int(Duration.MINUTE)),
                (self.per_hour, int(Duration.HOUR)),
            ]
        )


@dataclass(frozen=True)
class Slowdown:
    """After throttle answers: how many times the shortest spacing requests keep.

    Each answer doubles the factor (from GENTLE_FACTOR up to GENTLE_MAX_FACTOR); it halves
    every GENTLE_HALF_LIFE seconds without one, and below 1.05 is gone.
    """

    factor: float = 1.0
    throttled_at: float = 0.0
    answers: int = 0

    def at(self, now: float) -> float:
        """The factor in force at `now` (1.0: no slowdown)."""
        if self.factor <= 1.0:
            return 1.0
        factor = self.factor * 0.5 ** ((now - self.throttled_at) / GENTLE_HALF_LIFE)
        return factor if factor > 1.05 else 1.0

    def after_throttle(self, now: float) -> Slowdown:
        """The slowdown after one more throttle answer at `now`."""
        factor = min(max(GENTLE_FACTOR, self.at(now) * 2), GENTLE_MAX_FACTOR)
        return Slowdown(factor, now, self.answers + 1)


class RequestPacer:
    """Sliding-window limits (pyrate-limiter), plus gentler spacing after a 409.

    The sliding window keeps every window of a minute and of an hour under its budget,
    including across a run longer than an hour; pyrate-limiter blocks until a request
    fits. The gentler spacing after throttling is ours: the library's rates are fixed.
    """

    def __init__(
        self,
        *,
        per_minute: int,
        per_hour: int,
        min_interval_ms: int = MIN_INTERVAL_MS,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        budget: RequestBudget | None = None,
        log: Callable[[str], None] = lambda _line: None,
    ) -> None:
        """`budget` (budget.py) admits each request first, and may stop the run; it is
        asked under the pacer's lock, so admissions and turns keep one order."""
        self.limits = PaceLimits(per_minute, per_hour, min_interval_ms)
        # A small buffer: the default 50 ms would slow a 10-per-second pace by a third.
        self._limiter = Limiter(InMemoryBucket(self.limits.rates()), buffer_ms=2)
        self._slowdown = Slowdown()
        self._sleep = sleep
        self._monotonic = monotonic
        self._log = log
        self._last_minute: deque[float] = deque(maxlen=per_minute)  # send times, for _acquire
        self._lock = threading.Lock()
        self._prepaid = _PrepaidTurns()
        self._last_sent: float | None = None
        self.sent = 0
        self.budget = budget

    @classmethod
    def from_config(
        cls,
        config: Mapping[str, t.Any],
        budget: RequestBudget | None = None,
        log: Callable[[str], None] = lambda _line: None,
    ) -> RequestPacer:
        """Pacer for the pacing settings (defaults already filled in from the schema)."""
        return cls(
            log=log,
            per_minute=int(config["requests_per_minute"]),
            per_hour=int(config["requests_per_hour"]),
            min_interval_ms=int(config["min_request_interval_ms"]),
            budget=budget,
        )

    @property
    def throttle_answers(self) -> int:
        """Throttle answers (409/429) this run."""
        return self._slowdown.answers

    @property
    def burst_spacing(self) -> float:
        """Seconds between requests while the minute and hour windows still have room."""
        factor = self._slowdown.at(self._monotonic())
        limits = self.limits
        return max(limits.min_interval, limits.gentle_base * factor if factor > 1.0 else 0.0)

    @property
    def seconds_per_request(self) -> float:
        """Long-run spacing at the current pace (used for ETAs)."""
        return max(self.limits.nominal_spacing, self.burst_spacing)

    def seconds_for(self, requests: int) -> float:
        """How long `requests` more take at the current pace: at the minute's rate while the
        hour's budget has room (a 130-request run is not paced by the hour), then the hour's."""
        limits = self.limits
        spacing = max(limits.minute_spacing, self.burst_spacing)
        room = self.budget.hour_room() if self.budget else max(0, limits.per_hour - self.sent)
        fast = min(requests, room)
        return fast * spacing + (requests - fast) * max(spacing, limits.nominal_spacing)

    def wait_turn(self) -> None:
        """Block until the next request may go out, then count it as sent.

        Inside `turn_taken()`, the first request spends the turn already taken for it.
        """
        if self._prepaid.turns:
            self._prepaid.turns -= 1
            return
        with self._lock:  # requests may come from several threads (get-one overlap)
            if self.budget is not None:
                # May stop the run (RequestBudgetSpent) before this request is sent.
                self.budget.admit()
            factor = self._slowdown.at(self._monotonic())
            if factor > 1.0 and self._last_sent is not None:
                wait = self._last_sent + self.limits.gentle_base * factor - self._monotonic()
                if wait > 0:
                    self._sleep(wait)
            self._acquire()
            self._last_sent = self._monotonic()
            self.sent += 1
            if self.budget is not None:
                self.budget.sent_now()

    @contextmanager
    def turn_taken(self) -> Iterator[None]:
        """In a worker thread: its next request goes out on a turn its caller took.

        Threads reach the pacer in no fixed order; a caller that needs an order (get-ones
        in listing order, so a budget stop wastes none) takes the turns itself.
        """
        self._prepaid.turns = 1
        try:
            yield
        finally:
            self._prepaid.turns = 0

    def _acquire(self) -> None:
        """A permit from the sliding windows; say so first when it means a long wait."""
        # The minute's window full: a wait of up to a minute that would pass without a line
        # (the library only says how long its tightest rate, the 110 ms spacing, needs).
        per_minute = self.limits.per_minute
        if len(self._last_minute) == per_minute:
            wait = self._last_minute[0] + 60.0 - self._monotonic()
            if wait >= ANNOUNCED_WAIT_SECONDS:
                self._log(
                    f"Pacing: {per_minute} requests in the last minute "
                    f"(requests_per_minute); the next goes out in {wait:.0f}s"
                )
        self._limiter.try_acquire("nexudus")
        self._last_minute.append(self._monotonic())

    def throttled(self) -> None:
        """Nexudus said 409 (or 429): slow down for a while, more so if it repeats."""
        # No lock: wait_turn holds it while sleeping, and this is a single assignment.
        self._slowdown = self._slowdown.after_throttle(self._monotonic())


def binding_rates(limits: list[tuple[int, int]]) -> list[Rate]:
    """The (limit, window ms) pairs, shortest window first, minus those that never bind.

    pyrate-limiter wants limits that grow with the window while the rate per ms falls;
    e.g. 1000/minute can never bind under 1 per 100 ms, and 120/minute never binds
    under 100/hour, so such entries are dropped rather than rejected.
    """
    kept: list[tuple[int, int]] = []
    for limit, window in limits:
        if window <= 0:
            continue  # no minimum interval at all
        while kept and limit <= kept[-1][0]:
            kept.pop()  # a longer window with no more room is the tighter one
        if kept and limit / window >= kept[-1][0] / kept[-1][1]:
            continue  # the shorter window already holds the pace below this
        kept.append((limit, window))
    return [Rate(limit, window) for limit, window in kept]


class PacedSession(SameOriginSession, DeadlineSession):
    """The run's HTTP session: every send, redirect hops included, waits for the pacer.

    Its bases give every request its total deadline (deadline.py) and follow redirects
    within their origin only (redirects.py); every session of a run is one of these.
    """

    def __init__(self, pacer: RequestPacer) -> None:
        super().__init__()
        self.pacer = pacer

    @override
    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        """Wait for a turn, then send (the deadline starts once the turn has come)."""
        self.pacer.wait_turn()
        return super().send(request, **kwargs)
