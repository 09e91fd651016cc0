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
        seconds_per_request: Callable[[], float],
        requests_sent: Callable[[], int],
        *,
        monotonic: Callable[[], float] = time.monotonic,
        every: float = REPORT_EVERY_SECONDS,
    ) -> None:
        self._log = log
        self._seconds_per_request = seconds_per_request
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
        of_items = f" of {self.total_items}" if self.total_items is not None else ""
        of_pages = f" of {self.total_pages}" if self.total_pages is not None else ""
        line = (
            f"Progress: {self.records}{of_items} jobs, {self.pages}{of_pages} pages, "
            f"{self._requests_sent()} requests"
        )
        remaining = self.remaining_requests()
        if remaining is not None:
            eta = format_duration(remaining * self._seconds_per_request())
            line += f", ETA {eta} at the pacing limit"
        return line


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
