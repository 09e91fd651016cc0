"""The request budget: a cap per run, and the account's hour shared with earlier runs.

Nexudus allows an account 5,000 requests an hour, shared by every integration on it, and
`include_result_data` spends one of them per job. The pacer spaces one run's requests;
what a run cannot know by itself is how many requests the runs before it (a scheduler's
retry, yesterday's catch-up) sent in the last hour, nor when the user wants it to stop.
So every request the tap sends (token, listing, get-one) first asks `RequestBudget.admit`:

- `max_requests_per_run`: the request that would go over is not sent;
- the hour: the runs on this STATE keep their requests of the last hour in it, as counts
  per minute (at most 61 entries, whatever the account's size). A new run starts with
  them in its window, so back-to-back runs never exceed `requests_per_hour` together.
  When a slot frees soon the request waits for it; when it would wait longer than
  `LONGEST_BUDGET_WAIT` the run stops instead (a scheduler slot is worth more than an
  idle wait, and the next run continues exactly where this one stopped).

Stopping is `RequestBudgetSpent`, raised where the request would have been sent; the
stream catches it, emits what is complete and ends with a resumable STATE (exit 0).
"""

from __future__ import annotations

import math
import time
import typing as t
from bisect import bisect_right, insort
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from tap_nexudus_jobs.progress import format_duration, plural

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable

HOUR_SECONDS = 3600.0
MINUTE_SECONDS = 60
# A sanity bound on one minute's count read back from STATE (Nexudus allows 120).
MOST_PER_MINUTE = 100_000
# Waiting this long for the hour's budget is still cheaper than stopping and being
# rescheduled; longer, and the run stops cleanly instead of holding its slot.
LONGEST_BUDGET_WAIT = 300.0
# Below this a wait for the hour's budget is not worth a log line.
QUIET_WAIT = 5.0
REASON_RUN = "max_requests_per_run"
REASON_HOUR = "requests_per_hour"
REASON_THROTTLED = "Retry-After"


class RequestBudgetSpent(Exception):
    """The next request would exceed the run's cap or the hour's budget: stop cleanly.

    Not a NexudusTapError: it never reaches the user as a failure.
    """

    def __init__(self, reason: str, message: str, frees_at: float | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.frees_at = frees_at


class HourLog:
    """When the requests of the last hour were sent (this run's and earlier runs')."""

    def __init__(self) -> None:
        self._times: list[float] = []  # sorted

    def seed(self, minute_counts: Iterable[tuple[int, int]], now: float) -> int:
        """Add earlier runs' requests (per minute); returns how many are still in the hour.

        Each minute's requests count as sent at the end of their minute: later than they
        were, so they leave the window no earlier than they really do.
        """
        seeded = [
            float(minute + MINUTE_SECONDS - 1)
            for minute, count in minute_counts
            for _ in range(min(count, MOST_PER_MINUTE))
            if minute + MINUTE_SECONDS - 1 > now - HOUR_SECONDS
        ]
        self._times = sorted(self._times + seeded)
        return len(seeded)

    def record(self, sent_at: float) -> None:
        """One request sent now."""
        insort(self._times, sent_at)

    def in_last_hour(self, now: float) -> int:
        """Requests in the hour up to `now`."""
        self._prune(now)
        return len(self._times)

    def frees_at(self, now: float, limit: int) -> float:
        """When a request fits under `limit` per hour again (`now` if it does already)."""
        self._prune(now)
        over = len(self._times) - limit
        if over < 0:
            return now
        return max(now, self._times[over] + HOUR_SECONDS)

    def minute_counts(self, now: float) -> list[tuple[int, int]]:
        """(minute epoch s, requests) of the last hour, oldest first (at most 61)."""
        self._prune(now)
        counts = Counter(int(sent_at // MINUTE_SECONDS) * MINUTE_SECONDS for sent_at in self._times)
        return [(minute, counts[minute]) for minute in sorted(counts)]

    def _prune(self, now: float) -> None:
        drop = bisect_right(self._times, now - HOUR_SECONDS)
        if drop:
            del self._times[:drop]


class RequestBudget:
    """Admits each request, or stops the run: the cap per run and the shared hour."""

    def __init__(
        self,
        *,
        max_requests: int | None,
        per_hour: int,
        longest_wait: float = LONGEST_BUDGET_WAIT,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        log: Callable[[str], None] = lambda _message: None,
    ) -> None:
        """`clock` is wall-clock time (epoch seconds): the hour outlives the process."""
        self.max_requests = max_requests
        self.per_hour = per_hour
        self._longest_wait = longest_wait
        self._clock = clock
        self._sleep = sleep
        self._log = log
        self.hour = HourLog()
        self.sent = 0
        self.earlier_runs = 0
        self.spent: RequestBudgetSpent | None = None
        self.stop_announced = False
        self._seeded = False

    def seed(self, minute_counts: Iterable[tuple[int, int]]) -> None:
        """Count the requests earlier runs on this STATE sent in the last hour (once).

        Once per run: every partition's STATE carries the same account-wide hour.
        """
        if self._seeded:
            return
        self._seeded = True
        self.earlier_runs = self.hour.seed(minute_counts, self._clock())
        if self.earlier_runs:
            self._log(
                f"Earlier runs on this state sent {plural(self.earlier_runs, 'request')} in "
                f"the last hour: this run has {max(0, self.per_hour - self.earlier_runs):,} of the "
                f"{self.per_hour:,} requests_per_hour until they age out"
            )

    @property
    def remaining(self) -> int | None:
        """Requests this run may still send under `max_requests_per_run` (None: no cap)."""
        return None if self.max_requests is None else max(0, self.max_requests - self.sent)

    def hour_room(self) -> int:
        """Requests the hour's budget still allows now, earlier runs' included."""
        return max(0, self.per_hour - self.hour.in_last_hour(self._clock()))

    def admit(self) -> None:
        """Before a request: raise RequestBudgetSpent, wait for the hour, or let it go.

        Call under the pacer's lock, then `sent_now()` once the request leaves.
        """
        if self.spent is not None:
            raise RequestBudgetSpent(self.spent.reason, self.spent.message, self.spent.frees_at)
        if self.max_requests is not None and self.sent >= self.max_requests:
            self._stop(
                REASON_RUN,
                f"max_requests_per_run reached ({self.sent:,} requests sent by this run)",
            )
        now = self._clock()
        frees_at = self.hour.frees_at(now, self.per_hour)
        wait = frees_at - now
        if wait > self._longest_wait:
            moment = datetime.fromtimestamp(frees_at, tz=timezone.utc)
            self._stop(
                REASON_HOUR,
                f"the hour's request budget is spent ({self.hour.in_last_hour(now):,} of "
                f"requests_per_hour {self.per_hour:,} in the last hour, with "
                f"{self.earlier_runs:,} from earlier runs on this state); it frees up from "
                f"{moment:%Y-%m-%d %H:%M} UTC",
                frees_at,
            )
        if wait > 0:
            if wait >= QUIET_WAIT:
                self._log(
                    f"requests_per_hour: waiting {format_duration(wait)} for the hour's "
                    "budget (requests of earlier runs on this state count too)"
                )
            self._sleep(wait)
        self.sent += 1

    def sent_now(self) -> None:
        """The admitted request is leaving now."""
        self.hour.record(self._clock())

    def minute_counts(self) -> list[tuple[int, int]]:
        """What STATE keeps of the hour (bounded: one entry per minute)."""
        return self.hour.minute_counts(self._clock())

    def _stop(self, reason: str, message: str, frees_at: float | None = None) -> t.NoReturn:
        self.stop(RequestBudgetSpent(reason, message, frees_at))

    def stop(self, spent: RequestBudgetSpent) -> t.NoReturn:
        """Stop the run cleanly: this request, and every one asked for after it."""
        self.spent = spent
        raise RequestBudgetSpent(spent.reason, spent.message, spent.frees_at)


@dataclass(frozen=True)
class WorkLeft:
    """An estimate of what the next runs still have to do."""

    jobs: int
    requests: int


def estimate_work_left(
    *, total_items: int | None, jobs_done: int, page_size: int, get_one_share: float
) -> WorkLeft | None:
    """Jobs left in the listing and the requests they cost, from what this run saw.

    `total_items` is the listing's count from where the run started; `jobs_done` the jobs
    this run delivered or found already delivered; `get_one_share` the share of jobs that
    cost a get-one (0 without include_result_data; jobs skipped by status cost none). One
    listing request per page on top.
    """
    if total_items is None:
        return None
    jobs = max(0, total_items - jobs_done)
    requests = math.ceil(jobs * get_one_share) + math.ceil(jobs / max(1, page_size))
    return WorkLeft(jobs, requests)


def stop_line(
    spent: RequestBudgetSpent,
    left: WorkLeft | None,
    seconds_per_request: float,
    *,
    include_result_data: bool,
) -> str:
    """The one line a stopped run logs: why, what is left, how long at the pacing limit."""
    if left is None:
        rest = "what is left is not known yet (no listing page was read)"
    else:
        duration = format_duration(left.requests * seconds_per_request)
        what = "ResultData" if include_result_data else "Listing"
        rest = (
            f"{what}: {left.jobs:,} jobs left, about {duration} at the pacing limit "
            f"({left.requests:,} requests)"
        )
    return f"Stopping cleanly: {spent.message}. {rest}; the next run continues from here"


def budget_setting_problem(
    max_requests: t.Any, page_size: int, include_result_data: bool
) -> str | None:
    """`max_requests_per_run` must pay for one listing page, or no run could progress."""
    if max_requests is None:
        return None
    need = 1 + (page_size if include_result_data else 0)
    if max_requests >= need:
        return None
    detail = (
        f"1 listing request + {page_size:,} get-one requests (page_size {page_size:,}, "
        "include_result_data)"
        if include_result_data
        else "1 listing request"
    )
    return (
        f"Setting 'max_requests_per_run' ({max_requests:,}) is below what one listing page "
        f"needs ({need:,}: {detail}); raise it or lower page_size"
    )
