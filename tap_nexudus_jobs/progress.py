"""Progress lines for long syncs: records of TotalItems, pages, requests spent, ETA."""

from __future__ import annotations

import time
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable

# Often enough to show life in an hour-long sync, rarely enough not to flood a log.
REPORT_EVERY_SECONDS = 30.0


class SyncProgress:
    """Counts what a sync has done and reports it at most every REPORT_EVERY_SECONDS."""

    def __init__(
        self,
        log: Callable[[str], None],
        seconds_for: Callable[[int], float],
        requests_sent: Callable[[], int],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        every: float = REPORT_EVERY_SECONDS,
    ) -> None:
        self._log = log
        self._seconds_for = seconds_for
        self._requests_sent = requests_sent
        self._monotonic = monotonic
        self._every = every
        self._started = monotonic()
        self._last_report = self._started
        self.records = 0
        self.pages = 0
        self.total_items: int | None = None
        self.total_pages: int | None = None
        self.requests_per_record = 0.0  # 1.0 when each record costs a get-one request

    def page_done(self, records: int) -> None:
        """Count a page; report if the interval has passed."""
        self.records += records
        self.pages += 1
        now = self._monotonic()
        if now - self._last_report >= self._every:
            self._last_report = now
            self._log(self.summary())

    def remaining_requests(self) -> int | None:
        """Requests still to send, if the first page said how many there are."""
        if self.total_items is None or self.total_pages is None:
            return None
        pages_left = max(0, self.total_pages - self.pages)
        records_left = max(0, self.total_items - self.records)
        return pages_left + round(records_left * self.requests_per_record)

    def summary(self) -> str:
        """One line: how far, how many requests, how long to go."""
        line = (
            f"Progress: {self._jobs()}, {self._pages()}, {plural(self._requests_sent(), 'request')}"
        )
        remaining = self.remaining_requests()
        if remaining:
            eta = format_duration(self._seconds_for(remaining))
            line += f", about {eta} to go at the pacing limit"
        return line

    def final_summary(self) -> str:
        """The run's last line: what it emitted, so a run with nothing new reads as done."""
        emitted = plural(self.records, "job")
        listed = ""
        if self.total_items is not None and self.total_items != self.records:
            # The listing restarts at the bookmark's minute: jobs delivered by an earlier
            # run are listed again but not emitted again.
            listed = f" ({self.total_items} listed from the bookmark; the rest delivered before)"
        return (
            f"Done: {emitted} emitted{listed}, {plural(self.pages, 'page')} read, "
            f"{plural(self._requests_sent(), 'request')}"
        )

    def _jobs(self) -> str:
        if self.total_items is None:
            return plural(self.records, "job")
        return f"{self.records} of {self.total_items} jobs"

    def _pages(self) -> str:
        # Re-reads (the bookmark's minute, a shifted listing) can take a run past TotalPages,
        # and "52 of 50 pages" reads like a bug.
        if self.total_pages is None or self.pages > self.total_pages:
            return plural(self.pages, "page") + " read"
        return f"{self.pages} of {self.total_pages} pages"


def result_data_cost_line(
    jobs: int, seconds: float, *, cap: int | None, left: int | None, per_minute: int, per_hour: int
) -> str:
    """Before the get-one requests: how many, how long at the pacing limit, and the cap."""
    capped = ""
    if left is not None and left < jobs:
        capped = (
            f"; max_requests_per_run stops this run after {cap:,} requests, the next run continues"
        )
    return (
        f"include_result_data: up to {jobs} get-one requests for {jobs} jobs (none for "
        "statuses in result_data_skip_statuses, none for versions already delivered), up to "
        f"{format_duration(seconds)} at the pacing limit ({per_minute} requests/minute, "
        f"{per_hour}/hour){capped}"
    )


def plural(count: int, noun: str) -> str:
    """`1 request`, `2 requests`."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def format_duration(seconds: float) -> str:
    """`1h 02m`, `3m 05s` or `42s`."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"
