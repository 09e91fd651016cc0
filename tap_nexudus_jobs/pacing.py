"""Pacing: every request the tap sends waits its turn under Nexudus's published limits."""

from __future__ import annotations

import threading
import time
import typing as t
from collections import deque
from contextlib import contextmanager

import requests
from pyrate_limiter import Duration, InMemoryBucket, Limiter, Rate
from typing_extensions import override

from tap_nexudus_jobs.deadline import (
    DeadlineAdapter,
    RequestDeadlineExceeded,
    deadline_for_this_thread,
    read_body_by,
)
from tap_nexudus_jobs.errors import NexudusRedirectError
from tap_nexudus_jobs.redirects import check_redirect

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
CONNECT_TIMEOUT_SECONDS = 10.0
# A wait for the minute's window at least this long gets a log line before it starts.
ANNOUNCED_WAIT_SECONDS = 5.0


class _PrepaidTurns(threading.local):
    """Per thread: how many of its next requests go out on turns taken for them earlier."""

    turns = 0


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
        """`budget` (budget.py) admits each request first, and may stop the run."""
        rates = binding_rates(
            [
                (1, min_interval_ms),
                (per_minute, int(Duration.MINUTE)),
                (per_hour, int(Duration.HOUR)),
            ]
        )
        # A small buffer: the default 50 ms would slow a 10-per-second pace by a third.
        self._limiter = Limiter(InMemoryBucket(rates), buffer_ms=2)
        self._min_interval = min_interval_ms / 1000
        # The long-run spacing the tightest limit allows (for ETAs), and the one within the
        # hour's budget: until that is spent only the minute and interval limits bind.
        self._nominal_spacing = max(60.0 / per_minute, 3600.0 / per_hour, min_interval_ms / 1000)
        self._minute_spacing = max(60.0 / per_minute, min_interval_ms / 1000)
        # What gentle pacing multiplies: the burst spacing, or with none, the long run's.
        self._gentle_base = self._min_interval or self._nominal_spacing
        self._sleep = sleep
        self._monotonic = monotonic
        self._log = log
        self._per_minute = per_minute
        self._last_minute: deque[float] = deque(maxlen=per_minute)  # send times, for _acquire
        self._lock = threading.Lock()
        self._prepaid = _PrepaidTurns()
        self._gentle_factor = 1.0
        self._throttled_at = 0.0
        self._last_sent: float | None = None
        self.sent = 0
        self.throttle_answers = 0
        self.per_hour = per_hour
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
    def burst_spacing(self) -> float:
        """Seconds between requests while the minute and hour windows still have room."""
        factor = self._current_gentle_factor()
        return max(self._min_interval, self._gentle_base * factor if factor > 1.0 else 0.0)

    @property
    def seconds_per_request(self) -> float:
        """Long-run spacing at the current pace (used for ETAs)."""
        return max(self._nominal_spacing, self.burst_spacing)

    def seconds_for(self, requests: int) -> float:
        """How long `requests` more take at the current pace: at the minute's rate while the
        hour's budget has room (a 130-request run is not paced by the hour), then the hour's."""
        spacing = max(self._minute_spacing, self.burst_spacing)
        room = self.budget.hour_room() if self.budget else max(0, self.per_hour - self.sent)
        fast = min(requests, room)
        return fast * spacing + (requests - fast) * max(spacing, self._nominal_spacing)

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
            factor = self._current_gentle_factor()
            if factor > 1.0 and self._last_sent is not None:
                wait = self._last_sent + self._gentle_base * factor - self._monotonic()
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
        if len(self._last_minute) == self._per_minute:
            wait = self._last_minute[0] + 60.0 - self._monotonic()
            if wait >= ANNOUNCED_WAIT_SECONDS:
                self._log(
                    f"Pacing: {self._per_minute} requests in the last minute "
                    f"(requests_per_minute); the next goes out in {wait:.0f}s"
                )
        self._limiter.try_acquire("nexudus")
        self._last_minute.append(self._monotonic())

    def throttled(self) -> None:
        """Nexudus said 409 (or 429): slow down for a while, more so if it repeats."""
        # No lock: wait_turn holds it while sleeping, and these are single assignments.
        self.throttle_answers += 1
        previous = self._current_gentle_factor()
        self._gentle_factor = min(max(GENTLE_FACTOR, previous * 2), GENTLE_MAX_FACTOR)
        self._throttled_at = self._monotonic()

    def _current_gentle_factor(self) -> float:
        if self._gentle_factor <= 1.0:
            return 1.0
        calm = self._monotonic() - self._throttled_at
        factor = self._gentle_factor * 0.5 ** (calm / GENTLE_HALF_LIFE)
        return factor if factor > 1.05 else 1.0


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


class PacedSession(requests.Session):
    """A requests session whose every send (redirects included) waits for the pacer.

    Redirects are followed within their origin only (redirects.py): every session of a
    run is one of these, so no request path can follow one elsewhere.

    A single timeout (the `request_timeout` setting) becomes (connect, read) with the
    connect part capped at CONNECT_TIMEOUT_SECONDS: a TCP connection that is not up by
    then will not come up, and a wrong host should not cost a whole request timeout.
    """

    def __init__(self, pacer: RequestPacer) -> None:
        super().__init__()
        self.pacer = pacer
        for prefix in ("https://", "http://"):
            self.mount(prefix, DeadlineAdapter())

    @override
    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        """Wait for a turn, then send; with a timeout, the whole answer is due by then.

        The timeout is the request's deadline, the body included (deadline.py).
        """
        self.pacer.wait_turn()
        timeout = kwargs.get("timeout")
        if not isinstance(timeout, (int, float)):  # a redirect hop: (connect, read) already
            return super().send(request, **kwargs)
        deadline_at = time.monotonic() + timeout
        kwargs["timeout"] = (min(CONNECT_TIMEOUT_SECONDS, timeout), timeout)
        streamed = bool(kwargs.get("stream"))
        kwargs["stream"] = True
        try:
            with deadline_for_this_thread(deadline_at):
                response = super().send(request, **kwargs)
        except requests.exceptions.ConnectTimeout:
            raise
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            if time.monotonic() < deadline_at:
                raise  # not the deadline: a reset, a refused connection, ...
            raise RequestDeadlineExceeded(timeout) from None
        if not streamed:
            read_body_by(response, deadline_at, timeout, time.monotonic)
        return response

    @override
    def get_redirect_target(self, resp: requests.Response) -> str | None:
        """The redirect's Location, if it stays within the origin; else the run stops."""
        location = super().get_redirect_target(resp)
        if location is not None:
            request = resp.request
            try:
                check_redirect(
                    str(request.method), resp.status_code, str(request.url or resp.url), location
                )
            except NexudusRedirectError:
                resp.close()
                raise
        return location
