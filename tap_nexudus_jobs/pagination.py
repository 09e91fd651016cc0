"""The listing walk: every job version arrives, whatever the server's clocks and tie order.

Why not one of the SDK's paginators: they follow one token forwards. Nexudus's listing
is offset-paged and sorted by `UpdatedOn`, which shifts while the tap reads it (an
updated job moves to the end, every later job moves up one place), and nothing promises
that jobs with equal `UpdatedOn` come back in the same order twice. Nor is the clock
that writes `UpdatedOn` documented (UTC? local time labelled `Z`?), so the walk never
uses the `Date` header or any clock: it trusts only what the records show.

1. Re-anchor. Page 1 of `from=<minute>` is a fresh query, so it cannot have shifted:
   every job before the page's last minute is on it. The walk goes on from that last
   minute (re-reading its jobs, which costs part of a page).
2. Closed windows. A listed job updated after minute E proves the record clock is past
   E (clocks do not run backwards; `lookback_minutes` covers one that jumps), so no
   update can land in `[from, E]` any more: jobs can only leave it, and `TotalItems`
   shows every leave. Page numbers over such a window are safe while `TotalItems`
   holds, and cost no re-read; when it changes, the walk re-anchors. Ties that straddle
   a page boundary may come back in another order; a job seen twice in one tie group
   proves it, and that minute is re-read in `Id` order.
3. Crowded minutes (a whole page inside one minute M) are read with `orderBy=Id` in the
   window `[M, M+1]`, which covers minute M whether `to=M+1` means "up to M+1:59" or
   "up to M+1:00". `Id` is unique, so the order is stable; in a closed window a job
   that leaves shows in `TotalItems` and the walk steps back over it. A window that
   may still be open (nothing newer listed) can change unseen: it is read anyway, and
   the bookmark stays at M for the rest of the run, so the next run re-reads it.

The bookmark after each page claims only minutes before the one the walk could still
have to re-read, so a run killed anywhere resumes without a gap. Versions re-read
from the same minute are emitted once (`VersionLedger`), remembering only the newest
minutes' jobs.
"""

from __future__ import annotations

import itertools
import math
import typing as t
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tap_nexudus_jobs.errors import NexudusResponseError

# `dir` values for ascending order (1/-1 first, then 0/1): tried in turn, proven by records.
from tap_nexudus_jobs.nexudus_api import ASCENDING_DIR_CANDIDATES
from tap_nexudus_jobs.timestamps import floor_to_minute, to_utc_iso

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator

    from tap_nexudus_jobs.envelope import ListingEnvelope

ONE_MINUTE = timedelta(minutes=1)
ORDER_BY_UPDATED_ON = "UpdatedOn"
ORDER_BY_ID = "Id"
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)
# A closed-window walk costs a probe of the listing's last page (and sometimes a final
# re-anchor): taken when re-anchoring is expected to re-read more pages than that.
CLOSED_WALK_MIN_SAVING_PAGES = 0.5

Record = dict[str, t.Any]


@dataclass(frozen=True)
class ListingWindow:
    """An inclusive `UpdatedOn` range at minute precision; None leaves a side open."""

    start: datetime | None
    end: datetime | None = None


@dataclass(frozen=True)
class PageRequest:
    """One listing request: which window, which page, which `dir` value, which order."""

    window: ListingWindow
    page: int
    direction: int
    order_by: str = ORDER_BY_UPDATED_ON
    size: int | None = None  # None: the configured page_size
    # False: without the business and `filters` settings (the whole account's listing).
    filtered: bool = True


@dataclass(frozen=True)
class FetchedPage:
    """A checked listing envelope."""

    envelope: ListingEnvelope

    @property
    def records(self) -> list[Record]:
        return self.envelope.records


@dataclass(frozen=True)
class ListingPage:
    """Job versions to emit now, and the bookmark STATE may claim once they are out."""

    records: list[Record]
    bookmark: str | None


class VersionLedger:
    """The job versions (Id, UpdatedOn) emitted from some minute on.

    Re-reads never reach back past the minute the walk re-anchors at, so older versions
    are forgotten: memory is bounded by the newest minutes' jobs, not by the account.
    It may start with versions an earlier run delivered (see delivered.py).
    """

    def __init__(self, delivered: Iterable[tuple[int, str]] = ()) -> None:
        self._versions: set[tuple[int, str]] = set(delivered)
        self._ids_without_timestamp: set[int] = set()

    def admit(self, record: Record) -> bool:
        """True the first time this version is seen (since it was last forgotten)."""
        updated_on: str | None = record.get("UpdatedOn")
        if updated_on is None:
            if record["Id"] in self._ids_without_timestamp:
                return False
            self._ids_without_timestamp.add(record["Id"])
            return True
        version = (record["Id"], updated_on)
        if version in self._versions:
            return False
        self._versions.add(version)
        return True

    def forget_before(self, minute: datetime) -> None:
        """Drop versions older than `minute`: no re-read will show them again."""
        cutoff = to_utc_iso(minute)
        self._versions = {version for version in self._versions if version[1] >= cutoff}

    def __len__(self) -> int:
        return len(self._versions)


@dataclass(frozen=True)
class _Probe:
    """The listing's last page: its newest job proves how far the record clock has got."""

    floor: datetime | None
    total_items: int | None
    records: list[Record]
    has_next_page: bool

    @property
    def stamps(self) -> list[str]:
        return _stamps(self.records)


class ListingWalk:
    """Yields, page by page, the job versions to emit and the bookmark they allow."""

    def __init__(
        self,
        fetch: Callable[[PageRequest], FetchedPage],
        normalise: Callable[[Record], Record],
        *,
        start: datetime | None,
        lookback_minutes: int,
        page_size: int,
        starting_bookmark: str | None = None,
        log: Callable[[str], None] = lambda _message: None,
        delivered: Iterable[tuple[int, str]] = (),
    ) -> None:
        """`normalise` returns the record to emit, `UpdatedOn` in comparable UTC form.

        `delivered`: versions (Id, UpdatedOn) earlier runs emitted in the minutes this
        walk re-reads; they are not emitted again.
        """
        self._fetch_raw = fetch
        self._normalise = normalise
        self._start = floor_to_minute(start) - ONE_MINUTE * lookback_minutes if start else None
        self._page_size = page_size
        self._served_page_size: int | None = None
        self._log = log
        self._direction = ASCENDING_DIR_CANDIDATES[0]
        # False while every UpdatedOn listed was one value (no order proves a direction).
        self._direction_proven = False
        self._ledger = VersionLedger(delivered)
        self._bookmark = starting_bookmark
        self._newest_emitted: str | None = None
        # Newest UpdatedOn ever listed (probes included): the record clock is past it.
        self._newest_listed: str | None = None
        self._probe: _Probe | None = None
        # The first probe's newest minute: every version that existed when the run started
        # lies at or before it. Later probes may see newer jobs, but never move this.
        self._stop_after: datetime | None = None
        # Proven once a closed window lists a job from its last minute past :00 seconds.
        self._to_covers_whole_minute = False
        # Crowded minutes read while nothing newer was listed: the bookmark stays at the
        # oldest of them until a newer listed job proves it closed and it is read again.
        self._open_windows: list[datetime] = []
        self._last_limit: datetime | None = None
        self._hold: datetime | None = None
        self._overlap_records = 0
        self._overlap_pages = 0
        self.total_items: int | None = None
        self.total_pages: int | None = None

    def pages(self) -> Iterator[ListingPage]:
        """The emit-ready records of each page read, in order."""
        first = self._first_page()
        self.total_items = first.envelope.total_items
        self.total_pages = first.envelope.total_pages
        while True:
            try:
                yield from self._reanchoring_walk(first, self._start)
                yield from self._reread_closed_windows()
                return
            except _DescendingBeforeProven:
                # Every UpdatedOn listed until now was one value, so `dir` was a guess, and
                # a later page showed it wrong: walk again with the other value. Re-reads
                # are not emitted twice and the bookmark never goes back; the probe, read
                # in the wrong order, bounds nothing. Once proven, this cannot happen again.
                self._direction = ASCENDING_DIR_CANDIDATES[1]
                self._direction_proven = True
                self._probe, self._stop_after = None, None
                first = self._fetch(PageRequest(ListingWindow(self._start), 1, self._direction))

    # -- the three ways of reading ---------------------------------------------------

    def _reanchoring_walk(
        self, fetched: FetchedPage, floor: datetime | None
    ) -> Iterator[ListingPage]:
        """Open-ended: page 1 from the last minute read, until a page ends the listing.

        Or until the walk is past the newest job the probe listed: every version that
        existed when the run started is out by then, and chasing jobs that keep changing
        is the next run's work (the bookmark claims only what this one emitted).
        """
        previous_keys: list[tuple[int, str | None]] | None = None
        previous_floor = floor
        looked_past = False
        chase_limit = (fetched.envelope.total_pages or 1) + 3
        while True:
            records = fetched.records
            keys = _keys(records)
            if keys and keys == previous_keys:
                msg = (
                    "Nexudus ignored the UpdatedOn filter: it served the same jobs again "
                    f"from {_minute_text(floor)}"
                )
                raise NexudusResponseError(msg)
            previous_keys = keys
            yield from self._reread_closed_windows()
            stamps = _stamps(records)
            if not stamps and fetched.envelope.has_next_page and floor is None:
                # A full page of jobs without UpdatedOn (listed first, as SQL Server sorts
                # NULL): no minute to re-anchor at, so go on from the earliest one there is.
                yield self._emit(records, complete_before=None)
                self._log(
                    "Nexudus listed a full page of jobs without UpdatedOn; jobs without "
                    "UpdatedOn beyond that page cannot be reached by any UpdatedOn filter"
                )
                floor = EARLIEST
                fetched = self._fetch(PageRequest(ListingWindow(floor), 1, self._direction))
                continue
            if not fetched.envelope.has_next_page or not stamps:
                yield self._emit(records, complete_before=None)
                return
            first_minute, last_minute = _minute(stamps[0]), _minute(stamps[-1])
            if first_minute == last_minute:
                # A whole page inside one minute: read that minute in Id order.
                yield self._emit(records, complete_before=last_minute)
                if not self._listed_after(last_minute + ONE_MINUTE):
                    self._probe_last_page(fetched, floor)
                yield from self._id_walk(last_minute)
                floor = last_minute + ONE_MINUTE
            else:
                yield self._emit(records, complete_before=last_minute)
                self._note_overlap(records, last_minute)
                if self._closed_walk_pays(fetched):
                    if self._probe is None or self._probe.floor != last_minute:
                        self._probe_from(last_minute, fetched)
                    end = self._closed_until()
                    if end is not None and end > last_minute:
                        resume = yield from self._closed_walk(last_minute, end)
                        if resume is None:
                            return
                        floor = resume
                    else:
                        floor = last_minute
                else:
                    floor = last_minute
            if self._stop_after is not None and floor > self._stop_after:
                if not self._open_windows or looked_past:
                    return
                # One more page first: a newer job there proves an open window closed.
                looked_past = True
            chase_limit -= 1
            if chase_limit == 0 and self._probe is None:
                # More pages than the listing had: jobs keep moving to its end. Bound the run.
                self._probe_last_page(fetched, previous_floor)
            self._ledger.forget_before(floor)
            previous_floor = floor
            fetched = self._fetch(PageRequest(ListingWindow(floor), 1, self._direction))

    def _reread_closed_windows(self) -> Iterator[ListingPage]:
        """Read again each open crowded window a newer listed job now proves closed.

        While the window was open, jobs could enter it and (once the clock passed its end)
        leave it between two pages in the same moment, which no TotalItems shows. Closed,
        jobs can only leave, and every leave shows: this second reading is exact.
        """
        resume_limit, reread = self._last_limit, False
        for minute in list(self._open_windows):
            if self._listed_after(minute + ONE_MINUTE):
                self._open_windows.remove(minute)
                self._hold = min(self._open_windows) if self._open_windows else None
                yield from self._id_walk(minute)
                reread = True
        if reread:
            # The hold is lifted: the bookmark may claim what the walk had read before.
            yield self._emit([], complete_before=resume_limit)

    def _closed_walk(
        self, start: datetime, end: datetime
    ) -> Generator[ListingPage, None, datetime | None]:
        """Page numbers over `[start, end]`, proven closed; returns where to re-anchor.

        None means the listing is finished: the probe already holds every job after E.
        """
        floor = start
        to_filter_checked = False
        while True:
            window = ListingWindow(floor, end)
            fetched = self._fetch(PageRequest(window, 1, self._direction))
            if not to_filter_checked:
                self._check_to_filter(fetched, start, end)
                to_filter_checked = True
            stamps = _stamps(fetched.records)
            if not stamps:
                return end
            if fetched.envelope.has_next_page and _minute(stamps[0]) == _minute(stamps[-1]):
                crowded = _minute(stamps[-1])
                yield self._emit(fetched.records, complete_before=crowded)
                if crowded >= end:
                    return crowded
                yield from self._id_walk(crowded)
                floor = crowded + ONE_MINUTE
                continue
            baseline = fetched.envelope.total_items
            tie_value: str | None = None
            tie_ids: set[int] = set()
            page = 1
            while True:
                records = fetched.records
                if page > 1:
                    if fetched.envelope.total_items != baseline or not records:
                        # Jobs left the window (or it changed): re-read from a fresh query.
                        floor = _minute(tie_value) if tie_value else floor
                        break
                    first_stamp = next(iter(_stamps(records)), None)
                    if (
                        tie_value is not None
                        and first_stamp is not None
                        and first_stamp < tie_value
                    ):
                        msg = (
                            f"Nexudus listing page {page} went back in UpdatedOn order "
                            f"({tie_value} on page {page - 1}, then {first_stamp}) while "
                            "TotalItems stayed the same; stopping so the bookmark cannot skip jobs"
                        )
                        raise NexudusResponseError(msg)
                    if tie_value is not None and any(
                        r["Id"] in tie_ids and r.get("UpdatedOn") == tie_value for r in records
                    ):
                        # Ties came back in another order: some may have been skipped.
                        shuffled = _minute(tie_value)
                        if shuffled >= end:
                            return shuffled
                        yield from self._id_walk(shuffled)
                        floor = shuffled + ONE_MINUTE
                        break
                end_minute = to_utc_iso(end)
                for record in records:
                    stamp = record.get("UpdatedOn")
                    if stamp is None:
                        continue
                    if stamp > end_minute:
                        self._to_covers_whole_minute = True
                    if tie_value is None or stamp > tie_value:
                        tie_value, tie_ids = stamp, {record["Id"]}
                    else:
                        tie_ids.add(record["Id"])
                complete = _minute(tie_value) if tie_value else floor
                yield self._emit(records, complete_before=complete)
                self._ledger.forget_before(complete)
                if not fetched.envelope.has_next_page:
                    # Under "to = up to E:00" minute E is only partly inside: re-read it.
                    covered = end + ONE_MINUTE if self._to_covers_whole_minute else end
                    newest = self._newest_from_probe(covered)
                    if newest is not None:
                        yield self._emit(newest, complete_before=None)
                        return None
                    return covered
                page += 1
                fetched = self._fetch(PageRequest(window, page, self._direction))

    def _id_walk(self, minute: datetime) -> Iterator[ListingPage]:
        """All jobs of `minute` in Id order, from the window `[minute, minute + 1]`."""
        closed = self._listed_after(minute + ONE_MINUTE)
        if not closed and minute not in self._open_windows:
            self._open_windows.append(minute)
            self._hold = min(self._open_windows)
            self._log(
                f"More than a page of jobs share the newest minute {minute:%Y-%m-%d %H:%M} "
                "(server time) and nothing newer is listed yet: reading it, and again once a "
                "newer job shows it closed (else the next run re-reads it)"
            )
        window = ListingWindow(minute, minute + ONE_MINUTE)
        page, baseline, last_id = 1, None, None
        while True:
            fetched = self._fetch(PageRequest(window, page, self._direction, ORDER_BY_ID))
            records = fetched.records
            total = fetched.envelope.total_items
            if baseline is not None and total is not None and total < baseline:
                # Jobs left the window: everything after them moved back by up to that many
                # places, so step back as many pages and read on (re-reads are skipped).
                page = max(1, page - math.ceil((baseline - total) / self._served_size()))
                baseline, last_id = total, None
                continue
            steady = closed and total == baseline
            if steady and last_id is not None and records and not self._direction_proven:
                # Closed and TotalItems held: nothing moved between the two pages, so the
                # next page of an ascending Id order starts above the last one's end.
                if records[0]["Id"] > last_id:
                    self._direction_proven = True
                elif records[0]["Id"] < last_id:
                    raise _DescendingBeforeProven("Id order came descending")
            if closed and last_id is not None and records and records[0]["Id"] <= last_id:
                msg = (
                    f"Nexudus listing page {page} ordered by Id started at job "
                    f"{records[0]['Id']} after page {page - 1} ended at job {last_id}, while "
                    "TotalItems stayed the same; stopping so the bookmark cannot skip jobs"
                )
                raise NexudusResponseError(msg)
            yield self._emit(records, complete_before=minute)
            baseline = total
            last_id = records[-1]["Id"] if records else last_id
            if not fetched.envelope.has_next_page or not records:
                self._ledger.forget_before(minute + ONE_MINUTE)
                return
            page += 1

    # -- first page, probes and checks -------------------------------------------------

    def _first_page(self) -> FetchedPage:
        """Page 1, with the sort direction proven before anything is emitted."""
        window = ListingWindow(self._start)
        for direction in ASCENDING_DIR_CANDIDATES:
            self._direction = direction
            fetched = self._fetch(PageRequest(window, 1, direction), verify_order=False)
            if self._direction_verdict(fetched, window) != "ascending":
                continue
            if not fetched.envelope.has_next_page:
                # Page 1 is the whole answer: complete whichever way it is sorted, so no
                # order needs proving before its bookmark counts (nothing else is read).
                self._direction_proven = True
            unproven = not self._direction_proven and fetched.envelope.has_next_page
            if unproven and not self._ids_ascend(window, direction):
                continue
            _check_ascending_within(fetched.records, 1, ORDER_BY_UPDATED_ON)
            _check_inside(fetched.records, PageRequest(window, 1, direction))
            return fetched
        envelope = fetched.envelope
        msg = (
            "Nexudus did not list UpdatedOn in ascending order with dir=1 or dir=0 "
            f"(it echoed CurrentOrderField={envelope.order_field!r}, "
            f"CurrentSortDirection={envelope.sort_direction!r}); stopping before any "
            "record or state is emitted"
        )
        raise NexudusResponseError(msg)

    def _ids_ascend(self, window: ListingWindow, direction: int) -> bool:
        """Settle `dir` by Id order, when no UpdatedOn order showed it (one value listed).

        Ids are distinct: two of them in one response show the direction, so this asks
        for at least two.
        """
        request = PageRequest(window, 1, direction, ORDER_BY_ID, size=max(2, self._page_size))
        ids = [r["Id"] for r in self._fetch(request, verify_order=False).records]
        if any(a > b for a, b in itertools.pairwise(ids)):
            return False
        self._direction_proven = len(ids) >= 2
        return True

    def _direction_verdict(self, fetched: FetchedPage, window: ListingWindow) -> str:
        """ "ascending", or "other" when the records show (or a probe shows) otherwise."""
        stamps = _stamps(fetched.records)
        if any(a > b for a, b in itertools.pairwise(stamps)):
            return "other"
        if _some_pair_ascends(fetched.records, ORDER_BY_UPDATED_ON):
            self._direction_proven = True
            return "ascending"
        # Page 1 cannot tell (one timestamp). With more pages, the last one can.
        pages = fetched.envelope.total_pages
        if not fetched.envelope.has_next_page or not stamps or not pages or pages < 2:
            return "ascending"
        probe = self._fetch(PageRequest(window, pages, self._direction), verify_order=False)
        later = _stamps(probe.records)
        # The last page's own order decides when it shows one; else how it compares (a
        # last page older than page 1 is descending; newer proves nothing under drift).
        if any(a > b for a, b in itertools.pairwise(later)) or (later and later[-1] < stamps[0]):
            return "other"
        self._direction_proven = _some_pair_ascends(probe.records, ORDER_BY_UPDATED_ON)
        self._keep_probe(window.start, probe, fetched)
        return "ascending"

    def _probe_last_page(self, fetched: FetchedPage, floor: datetime | None) -> None:
        """Read the last page of the open listing: its newest job bounds the record clock."""
        pages = fetched.envelope.total_pages
        if pages is None or pages < 2:
            self._keep_probe(floor, fetched, fetched)
            return
        probe = self._fetch(PageRequest(ListingWindow(floor), pages, self._direction))
        self._keep_probe(floor, probe, fetched)

    def _probe_from(self, start: datetime, fetched: FetchedPage) -> None:
        """The last page of the open listing from `start`, where a closed walk would begin.

        Its page number follows from `fetched` (page 1 of an earlier floor): its jobs
        before `start` are not in the listing from `start`.
        """
        cutoff = to_utc_iso(start)
        before = sum(1 for r in fetched.records if (r.get("UpdatedOn") or cutoff) < cutoff)
        total = fetched.envelope.total_items
        size = self._served_size()
        pages = max(1, math.ceil((total - before) / size)) if total is not None else None
        pages = pages or fetched.envelope.total_pages or 1
        for page in (pages, pages - 1):
            if page < 1:
                break
            probe = self._fetch(PageRequest(ListingWindow(start), page, self._direction))
            if probe.records:
                self._keep_probe(start, probe, fetched)
                return

    def _keep_probe(self, floor: datetime | None, last: FetchedPage, page: FetchedPage) -> None:
        """Keep `last` (the last page from `floor`) as the probe; the first bounds the run.

        The newest job is on the last page of an ascending listing and on page 1 of a
        descending one, so the bound (`_stop_after`) is the newest of `last` and `page`:
        right in either order.
        """
        envelope = last.envelope
        probe = _Probe(floor, envelope.total_items, last.records, envelope.has_next_page)
        self._probe = probe
        stamps = probe.stamps + _stamps(page.records)
        if self._stop_after is None and stamps:
            self._stop_after = _minute(max(stamps))

    def _newest_from_probe(self, end: datetime) -> list[Record] | None:
        """The probe's jobs from minute `end` on, if it listed all there were.

        The probe was the listing's last page: when it starts before minute `end`, it held
        every job of `end` and later. Jobs updated since have newer versions at or after
        the probe's newest job, in minutes the bookmark leaves to the next run.
        """
        probe = self._probe
        if probe is None or probe.has_next_page or probe.total_items is None:
            return None
        stamps = probe.stamps
        if not stamps or _minute(stamps[0]) >= end:
            return None
        cutoff = to_utc_iso(end)
        return [r for r in probe.records if (r.get("UpdatedOn") or "") >= cutoff]

    def _closed_until(self) -> datetime | None:
        """The last minute a listed record proves closed (the one before the newest)."""
        minute = self._newest_listed_minute()
        return minute - ONE_MINUTE if minute is not None else None

    def _listed_after(self, minute: datetime) -> bool:
        """True if a job updated after the end of `minute` has been listed."""
        newest = self._newest_listed_minute()
        return newest is not None and newest > minute

    def _newest_listed_minute(self) -> datetime | None:
        return _minute(self._newest_listed) if self._newest_listed else None

    def _check_to_filter(self, fetched: FetchedPage, start: datetime, end: datetime) -> None:
        """Before trusting a closed window: it must leave out the newest jobs listed.

        The probe listed the open listing from `start`: the window `[start, end]` can hold
        no more than that, less the probe's jobs after `end` (they can only move later).
        """
        probe = self._probe
        total = fetched.envelope.total_items
        if probe is None or probe.floor != start or probe.total_items is None or total is None:
            return
        outside = sum(1 for stamp in probe.stamps if _minute(stamp) > end)
        most = probe.total_items - outside
        if outside and total > most:
            msg = (
                f"Nexudus ignored to_BusinessBackgroundJob_UpdatedOn={end:%Y-%m-%dT%H:%M}: the "
                f"window holds {total} jobs, but at most {most} were listed up to that "
                "minute; stopping so the bookmark cannot skip jobs"
            )
            raise NexudusResponseError(msg)

    def _note_overlap(self, records: list[Record], last_minute: datetime) -> None:
        cutoff = to_utc_iso(last_minute)
        self._overlap_records += sum(1 for r in records if (r.get("UpdatedOn") or "") >= cutoff)
        self._overlap_pages += 1

    def _closed_walk_pays(self, fetched: FetchedPage) -> bool:
        """Re-anchoring re-reads each page's last minute; a closed walk re-reads none."""
        pages_left = (fetched.envelope.total_pages or 1) - 1
        size = self._served_size()
        overlap = self._overlap_records / max(1, self._overlap_pages)
        if pages_left <= 0 or overlap <= 0:
            return False
        saving = pages_left * overlap / max(1.0, size - overlap)
        extra = CLOSED_WALK_MIN_SAVING_PAGES + (1 if self._probe is None else 0)
        return saving > extra

    def _served_size(self) -> int:
        return max(1, self._served_page_size or self._page_size)

    def _fetch(self, request: PageRequest, *, verify_order: bool = True) -> FetchedPage:
        fetched = self._fetch_raw(request)
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
        if order_field is not None and order_field.lower() != request.order_by.lower():
            msg = (
                f"Nexudus sorted page {request.page} by {order_field!r}, not by {request.order_by}"
            )
            raise NexudusResponseError(msg)
        if verify_order:
            try:
                _check_ascending_within(records, request.page, request.order_by)
            except NexudusResponseError as exc:
                if not self._direction_proven and self._direction == ASCENDING_DIR_CANDIDATES[0]:
                    raise _DescendingBeforeProven(str(exc)) from None
                raise
            if not self._direction_proven and _some_pair_ascends(records, request.order_by):
                self._direction_proven = True
            _check_inside(records, request)
        stamps = _stamps(records)
        if stamps and (self._newest_listed is None or max(stamps) > self._newest_listed):
            self._newest_listed = max(stamps)
        if fetched.envelope.has_next_page and records:
            # A full page shows the size the server really uses (it may cap `size`).
            self._served_page_size = len(records)
        return fetched

    def _emit(self, records: list[Record], *, complete_before: datetime | None) -> ListingPage:
        """The page's new versions, and the bookmark: no further than `complete_before`."""
        self._last_limit = complete_before
        admitted = [record for record in records if self._ledger.admit(record)]
        for record in admitted:
            stamp = record.get("UpdatedOn")
            if stamp is not None and (self._newest_emitted is None or stamp > self._newest_emitted):
                self._newest_emitted = stamp
        limit = complete_before
        if self._hold is not None:
            limit = self._hold if limit is None else min(limit, self._hold)
        candidate = self._newest_emitted
        if not self._direction_proven:
            # Until a response proves the order ascending, page 1 may hold the newest jobs
            # rather than the oldest: it proves nothing complete, so claim nothing new.
            candidate = None
        if candidate is not None and limit is not None and _minute(candidate) > limit:
            candidate = to_utc_iso(limit)
        if candidate is not None and (self._bookmark is None or candidate > self._bookmark):
            self._bookmark = candidate
        return ListingPage(admitted, self._bookmark)


class _DescendingBeforeProven(NexudusResponseError):
    """A page came descending while no response had yet proven the `dir` value."""


def _some_pair_ascends(records: list[Record], order_by: str) -> bool:
    values = [r[order_by] for r in records if r.get(order_by) is not None]
    return any(a < b for a, b in itertools.pairwise(values))


def _keys(records: list[Record]) -> list[tuple[int, str | None]]:
    return [(record["Id"], record.get("UpdatedOn")) for record in records]


def _stamps(records: list[Record]) -> list[str]:
    return [r["UpdatedOn"] for r in records if r.get("UpdatedOn") is not None]


def _minute(stamp: str) -> datetime:
    return floor_to_minute(datetime.fromisoformat(stamp))


def _minute_text(minute: datetime | None) -> str:
    return f"{minute:%Y-%m-%dT%H:%M}" if minute else "the beginning"


def _check_ascending_within(records: list[Record], page: int, order_by: str) -> None:
    previous: t.Any = None
    for record in records:
        current = record.get(order_by)
        if current is None:
            continue
        if previous is not None and current < previous:
            msg = (
                f"Nexudus listing page {page} is not in ascending {order_by} order "
                f"({previous} before {current}); stopping so the bookmark cannot skip jobs"
            )
            raise NexudusResponseError(msg)
        previous = current


def _check_inside(records: list[Record], request: PageRequest) -> None:
    """Every job lies in the requested window, else the server ignored a filter."""
    window = request.window
    low = to_utc_iso(window.start) if window.start else None
    high = to_utc_iso(window.end + ONE_MINUTE) if window.end else None
    for record in records:
        stamp = record.get("UpdatedOn")
        if stamp is None:
            continue
        if low is not None and stamp < low:
            bound = f"from_BusinessBackgroundJob_UpdatedOn={window.start:%Y-%m-%dT%H:%M}"
        elif high is not None and stamp >= high:
            bound = f"to_BusinessBackgroundJob_UpdatedOn={window.end:%Y-%m-%dT%H:%M}"
        else:
            continue
        msg = (
            f"Nexudus ignored {bound}: page {request.page} listed job {record['Id']} "
            f"updated {stamp}; stopping so the bookmark cannot skip jobs"
        )
        raise NexudusResponseError(msg)
