"""Drift-safe paging over the Nexudus listing, ordered by `UpdatedOn` ascending.

Why not one of the SDK's paginators: they follow one token forwards. Nexudus's
listing shifts under the tap (a job updated mid-sync moves to the end and every later
job moves up one place, so "next page" skips one), and recovering needs to change the
query window, re-read an earlier page and hold a page in hand. None of that fits a
forward-only token, so the walk is written here, on top of the envelope checks.

The walk, and what it costs:
1. Page 1 of `[from, open end)`. A one-page result is the whole answer (1 request).
2. Otherwise the rest is read as the *closed* window `[from, U]`, U = the server's clock
   (its `Date` header) minus one minute minus `lookback_minutes`. A job updated during
   the sync gets a timestamp after U and leaves that window, so `TotalItems` drops:
   every drop is a shift, and the walk steps back over it (1 extra request per page
   gap in which jobs changed). When nothing changes this costs no extra request.
3. If anything left the window or lay past U, the tail `(U, open end)` is read with
   "restart at the last minute, page 1": a fresh query each page, so nothing shifts
   under it, at the price of re-reading the jobs of the minute it restarts from.
Jobs that move are emitted again in their new version; versions already emitted are
skipped by `HighWaterMark`, which needs only the Ids at the newest timestamp.
"""

from __future__ import annotations

import itertools
import time
import typing as t
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tap_nexudus_jobs.errors import NexudusResponseError
from tap_nexudus_jobs.timestamps import floor_to_minute

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator

    from tap_nexudus_jobs.envelope import ListingEnvelope

# `dir` values for ascending order: this endpoint's page says 1 (1/-1); another Nexudus
# page and a .NET client say 0 (0/1). Tried in this order, proven by the records.
ASCENDING_DIR_CANDIDATES = (1, 0)
ONE_MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class ListingWindow:
    """An inclusive `UpdatedOn` range at minute precision; None leaves a side open."""

    start: datetime | None
    end: datetime | None = None


@dataclass(frozen=True)
class PageRequest:
    """One listing request: which window, which page, which `dir` value."""

    window: ListingWindow
    page: int
    direction: int


@dataclass(frozen=True)
class FetchedPage:
    """A checked envelope and the server's clock when it answered (if it said)."""

    envelope: ListingEnvelope
    server_time: datetime | None

    @property
    def records(self) -> list[dict[str, t.Any]]:
        return self.envelope.records


class HighWaterMark:
    """Admits each job version once per run, in ascending `UpdatedOn` order.

    Every job the walk has not reached yet sorts at or after the newest one emitted, so
    an older timestamp means "already emitted"; only ties need remembering, which keeps
    memory bounded by the jobs sharing one timestamp instead of growing with the account.
    """

    def __init__(self) -> None:
        self.newest: str | None = None
        self._ids_at_newest: set[int] = set()
        self._ids_without_timestamp: set[int] = set()

    def admit(self, record: dict[str, t.Any]) -> bool:
        """True if this version has not been emitted in this run."""
        updated_on: str | None = record.get("UpdatedOn")
        record_id: int = record["Id"]
        if updated_on is None:
            if record_id in self._ids_without_timestamp:
                return False
            self._ids_without_timestamp.add(record_id)
            return True
        if self.newest is None or updated_on > self.newest:
            self.newest = updated_on
            self._ids_at_newest = {record_id}
            return True
        if updated_on == self.newest and record_id not in self._ids_at_newest:
            self._ids_at_newest.add(record_id)
            return True
        return False


class DriftSafeListing:
    """Yields, page by page, the job versions to emit, oldest change first."""

    def __init__(
        self,
        fetch: Callable[[PageRequest], FetchedPage],
        normalise: Callable[[dict[str, t.Any]], dict[str, t.Any]],
        *,
        start: datetime | None,
        lookback_minutes: int,
        page_size: int,
        log: Callable[[str], None] = lambda _message: None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`normalise` returns the record to emit, `UpdatedOn` in comparable UTC form."""
        self._fetch_raw = fetch
        self._normalise = normalise
        self._start = floor_to_minute(start) - ONE_MINUTE * lookback_minutes if start else None
        self._lookback = ONE_MINUTE * lookback_minutes
        self._page_size = page_size
        self._direction = ASCENDING_DIR_CANDIDATES[0]
        self._log = log
        self._sleep = sleep
        self._monotonic = monotonic
        self._server_clock: tuple[datetime, float] | None = None
        self.high_water = HighWaterMark()
        self.extra_requests = 0
        self.total_items: int | None = None
        self.total_pages: int | None = None

    def pages(self) -> Iterator[list[dict[str, t.Any]]]:
        """The emit-ready records of each page read, in order."""
        first = self._first_page()
        self.total_items = first.envelope.total_items
        self.total_pages = first.envelope.total_pages
        yield self._admit(first)
        if not first.envelope.has_next_page or not first.records:
            return
        last_minute = _minute_of_last(first.records)
        closed_end = floor_to_minute(self._server_now()) - ONE_MINUTE - self._lookback
        if last_minute is not None and last_minute <= closed_end:
            changed = yield from self._walk_closed(
                ListingWindow(self._start, closed_end),
                start_page=2,
                expected_total=first.envelope.total_items,
                previous_keys=_keys(first.records),
            )
            if not changed:
                return
            tail_start = closed_end + ONE_MINUTE
        else:
            tail_start = last_minute if last_minute is not None else self._start_or_epoch()
        yield from self._walk_tail(tail_start)

    # -- the three phases ------------------------------------------------------------

    def _first_page(self) -> FetchedPage:
        """Page 1, with the sort direction proven before anything is emitted."""
        window = ListingWindow(self._start)
        for direction in ASCENDING_DIR_CANDIDATES:
            self._direction = direction
            fetched = self._fetch(PageRequest(window, 1, direction), verify_order=False)
            verdict = self._direction_verdict(fetched, window)
            if verdict == "ascending":
                return fetched
        envelope = fetched.envelope
        msg = (
            "Nexudus did not list UpdatedOn in ascending order with dir=1 or dir=0 "
            f"(it echoed CurrentOrderField={envelope.order_field!r}, "
            f"CurrentSortDirection={envelope.sort_direction!r}); stopping before any "
            "record or state is emitted"
        )
        raise NexudusResponseError(msg)

    def _walk_closed(
        self,
        window: ListingWindow,
        *,
        start_page: int,
        expected_total: int | None,
        previous_keys: list[tuple[int, str | None]] | None = None,
    ) -> Generator[list[dict[str, t.Any]], None, bool]:
        """Page numbers over a closed window; when `TotalItems` drops, re-anchor.

        A drop means jobs left the window, possibly from behind the tap, so the page in
        hand may have skipped some. It is discarded and the walk restarts at page 1 from
        the newest emitted minute: a fresh query that cannot have shifted. Returns whether
        anything left the window (so the tail must be read).
        """
        page = start_page
        changed = False
        while True:
            fetched = self._fetch(PageRequest(window, page, self._direction))
            total = fetched.envelope.total_items
            if (
                page > 1
                and total is not None
                and expected_total is not None
                and total < expected_total
            ):
                changed = True
                self.extra_requests += 1
                window = ListingWindow(self._newest_minute() or window.start, window.end)
                page, expected_total, previous_keys = 1, None, None
                continue
            expected_total = total
            keys = _keys(fetched.records)
            if keys and keys == previous_keys:
                msg = f"Nexudus served the same jobs for page {page} as for the page before"
                raise NexudusResponseError(msg)
            previous_keys = keys
            yield self._admit(fetched)
            if not fetched.envelope.has_next_page or not fetched.records:
                return changed
            page += 1

    def _walk_tail(self, start: datetime) -> Iterator[list[dict[str, t.Any]]]:
        """Open-ended: restart at the last record's minute, page 1, after every page."""
        floor = start
        previous_keys: list[tuple[int, str | None]] | None = None
        while True:
            fetched = self._fetch(PageRequest(ListingWindow(floor), 1, self._direction))
            keys = _keys(fetched.records)
            if keys and keys == previous_keys:
                msg = (
                    "Nexudus ignored the UpdatedOn filter: it served the same jobs again "
                    f"from {floor:%Y-%m-%dT%H:%M}"
                )
                raise NexudusResponseError(msg)
            previous_keys = keys
            yield self._admit(fetched)
            if not fetched.envelope.has_next_page or not fetched.records:
                return
            last_minute = _minute_of_last(fetched.records)
            if last_minute is not None and last_minute > floor:
                floor = last_minute
                continue
            # A whole page inside one minute: walk that minute as a closed window. While it
            # is still the server's current minute, updates land inside it and shift it
            # unseen, so wait for it to end first (only when >page_size jobs share it).
            self._wait_until_past(floor)
            yield from self._walk_closed(
                ListingWindow(floor, floor), start_page=1, expected_total=None
            )
            floor += ONE_MINUTE

    # -- helpers -----------------------------------------------------------------------

    def _server_now(self) -> datetime:
        if self._server_clock is None:
            return datetime.now(timezone.utc)
        seen, at = self._server_clock
        return seen + timedelta(seconds=self._monotonic() - at)

    def _wait_until_past(self, minute: datetime) -> None:
        # One second of margin past the minute, plus the lookback allowance for skew.
        wait = (minute + ONE_MINUTE + self._lookback - self._server_now()).total_seconds() + 1
        if wait > 0:
            self._log(
                f"More than {self._page_size} jobs changed in the minute {minute:%H:%M} "
                f"(server time); waiting {wait:.0f}s for it to close before paging it"
            )
            self._sleep(wait)

    def _fetch(self, request: PageRequest, *, verify_order: bool = True) -> FetchedPage:
        fetched = self._fetch_raw(request)
        if fetched.server_time is not None:
            self._server_clock = (fetched.server_time, self._monotonic())
        records = fetched.records
        for index, record in enumerate(records):
            try:
                records[index] = self._normalise(record)
            except ValueError as exc:
                msg = f"Nexudus listing page {request.page}: job {record['Id']} {exc}"
                raise NexudusResponseError(msg) from None
        served = fetched.envelope.current_page
        if served is not None and served != request.page:
            msg = f"Nexudus returned page {served} when page {request.page} was requested"
            raise NexudusResponseError(msg)
        order_field = fetched.envelope.order_field
        if order_field is not None and order_field.lower() != "updatedon":
            msg = f"Nexudus sorted page {request.page} by {order_field!r}, not by UpdatedOn"
            raise NexudusResponseError(msg)
        if verify_order:
            _check_ascending_within(fetched.records, request.page)
        return fetched

    def _direction_verdict(self, fetched: FetchedPage, window: ListingWindow) -> str:
        """ "ascending", or "other" when the records show (or a probe shows) otherwise."""
        stamps = [r["UpdatedOn"] for r in fetched.records if r.get("UpdatedOn") is not None]
        if any(a > b for a, b in itertools.pairwise(stamps)):
            return "other"
        if any(a < b for a, b in itertools.pairwise(stamps)):
            return "ascending"
        # Page 1 cannot tell (one timestamp). With more pages, the last one can.
        pages = fetched.envelope.total_pages
        if not fetched.envelope.has_next_page or not stamps or not pages or pages < 2:
            return "ascending"
        probe = self._fetch(PageRequest(window, pages, self._direction), verify_order=False)
        self.extra_requests += 1
        later = [r["UpdatedOn"] for r in probe.records if r.get("UpdatedOn") is not None]
        return "other" if later and later[-1] < stamps[0] else "ascending"

    def _admit(self, fetched: FetchedPage) -> list[dict[str, t.Any]]:
        return [record for record in fetched.records if self.high_water.admit(record)]

    def _newest_minute(self) -> datetime | None:
        newest = self.high_water.newest
        return floor_to_minute(datetime.fromisoformat(newest)) if newest else None

    def _start_or_epoch(self) -> datetime:
        return self._start or datetime(1970, 1, 1, tzinfo=timezone.utc)


def _keys(records: list[dict[str, t.Any]]) -> list[tuple[int, str | None]]:
    return [(record["Id"], record.get("UpdatedOn")) for record in records]


def _minute_of_last(records: list[dict[str, t.Any]]) -> datetime | None:
    for record in reversed(records):
        if record.get("UpdatedOn") is not None:
            return floor_to_minute(datetime.fromisoformat(record["UpdatedOn"]))
    return None


def _check_ascending_within(records: list[dict[str, t.Any]], page: int) -> None:
    previous: str | None = None
    for record in records:
        current = record.get("UpdatedOn")
        if current is None:
            continue
        if previous is not None and current < previous:
            msg = (
                f"Nexudus listing page {page} is not in ascending UpdatedOn order "
                f"({previous} before {current}); stopping so the bookmark cannot skip jobs"
            )
            raise NexudusResponseError(msg)
        previous = current
