"""The walk's loop: it fetches, checks each response, and does what the decisions say.

What to read next and what the bookmark may claim are decided in decisions.py, from the
walk's knowledge (one frozen `Knowledge`, rebound only in `ListingWalk._learn`); each
decision returns a typed variant (steps.py), dispatched here in one `match`, and this
module only sends the requests they name. The algorithm is explained in the package
docstring (walk/__init__.py).
"""

from __future__ import annotations

import typing as t
from dataclasses import replace

from tap_nexudus_jobs.nexudus_api import ASCENDING_DIR_CANDIDATES
from tap_nexudus_jobs.timestamps import floor_to_minute
from tap_nexudus_jobs.walk import decisions as decide
from tap_nexudus_jobs.walk import steps
from tap_nexudus_jobs.walk.checks import (
    PagesRead,
    check_ascending_within,
    check_inside,
    check_served,
    check_to_filter,
    no_ascending_order,
    normalise_all,
)
from tap_nexudus_jobs.walk.knowledge import (
    Claim,
    ClockProof,
    Knowledge,
    ServerHabits,
    SortProof,
    VersionLedger,
)
from tap_nexudus_jobs.walk.listing import (
    EARLIEST,
    ONE_MINUTE,
    ORDER_BY_ID,
    ORDER_BY_UPDATED_ON,
    ListingPage,
    ListingWindow,
    PageRequest,
    Record,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Iterator
    from datetime import datetime

    from tap_nexudus_jobs.walk.listing import FetchedPage
    from tap_nexudus_jobs.walk.steps import Order, Resume

    # A generator of pages that returns where the walk goes on (None: it is finished).
    Walk = Generator[ListingPage, None, datetime | None]


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
        trusted: Callable[[str], bool] = lambda _stamp: True,
    ) -> None:
        """`normalise` returns the record to emit, `UpdatedOn` in comparable UTC form.

        `delivered`: versions (Id, UpdatedOn) earlier runs emitted in the minutes this
        walk re-reads; they are not emitted again. `trusted`: False for an `UpdatedOn`
        stamped further ahead of true time than the record clock runs (record_clock.py):
        it proves nothing of how far the record clock has got.
        """
        self._fetch_raw = fetch
        self._normalise = normalise
        self._log = log
        self._trusted = trusted
        #: Where the listing is read from: the start's minute less the lookback (None: all).
        self.read_from = floor_to_minute(start) - ONE_MINUTE * lookback_minutes if start else None
        # What the walk knows (knowledge.py): rebound only in `_learn`.
        self._known = Knowledge(ServerHabits(page_size), claim=Claim(bookmark=starting_bookmark))
        self._ledger = VersionLedger(delivered)
        self.total_items: int | None = None
        self.total_pages: int | None = None
        self._pages_read = PagesRead()

    def pages(self) -> Iterator[ListingPage]:
        """The emit-ready records of each page read, in order."""
        first = self._first_page()
        self.total_items = first.envelope.total_items
        self.total_pages = first.envelope.total_pages
        while True:
            try:
                yield from self._reanchoring_walk(first, self.read_from)
                yield from self._reread_closed_windows()
                return
            except decide.DirectionDisproven:
                # Every value listed until now was one, so `dir` was a guess, and a later
                # page showed it wrong: walk again with the other value. Re-reads are not
                # emitted twice and the bookmark never goes back; the probe, read in the
                # wrong order, bounds nothing. Once proven, this cannot happen again.
                self._learn(
                    sort=SortProof(ASCENDING_DIR_CANDIDATES[1], proven=True),
                    clock=replace(self._known.clock, probe=None, stop_after=None),
                )
                first = self._fetch(self._request(ListingWindow(self.read_from), 1))

    def _learn(self, **parts: t.Any) -> None:
        """The one place the walk's knowledge is rebound: with what decisions returned."""
        self._known = replace(self._known, **parts)

    # -- the three ways of reading ---------------------------------------------------

    def _reanchoring_walk(
        self, fetched: FetchedPage, floor: datetime | None
    ) -> Iterator[ListingPage]:
        """Open-ended: page 1 from the last minute read, until a page ends the listing."""
        chase: decide.Chase | None = decide.Chase((fetched.envelope.total_pages or 1) + 3, floor)
        while chase is not None:
            chase = decide.chase_after_page(chase, fetched.records, floor)
            yield from self._reread_closed_windows()
            match decide.anchor_step(fetched, floor):
                case steps.ListingEnds():
                    yield self._emit(fetched.records, complete_before=None)
                    return
                case steps.NullsFirst():
                    yield self._emit(fetched.records, complete_before=None)
                    self._log(
                        "Nexudus listed a full page of jobs without UpdatedOn; jobs without "
                        "UpdatedOn beyond that page cannot be reached by any UpdatedOn filter"
                    )
                    floor = EARLIEST
                    fetched = self._fetch(self._request(ListingWindow(floor), 1))
                    continue
                case steps.Crowded(last_minute):
                    yield self._emit(fetched.records, complete_before=last_minute)
                    floor = yield from self._crowded(fetched, floor, last_minute)
                case steps.Spread(last_minute):
                    yield self._emit(fetched.records, complete_before=last_minute)
                    resume = yield from self._spread(fetched, last_minute)
                    if resume is None:
                        return
                    floor = resume
            chase = self._chase_on(chase, fetched, floor)
            if chase is not None:
                fetched = self._fetch(self._request(ListingWindow(floor), 1))

    def _chase_on(
        self, chase: decide.Chase, fetched: FetchedPage, floor: datetime
    ) -> decide.Chase | None:
        """The chase re-anchored at `floor`, or None where the run stops chasing."""
        verdict, chase = decide.chase_verdict(chase, floor, self._known.clock, self._known.claim)
        match verdict:
            case steps.StopChase():
                return None
            case steps.ProbeThenRead():
                self._probe_last_page(fetched, chase.previous_floor)
            case steps.ReadOn():
                pass
        self._ledger.forget_before(floor)
        return replace(chase, previous_floor=floor)

    def _crowded(
        self, fetched: FetchedPage, floor: datetime | None, value: datetime
    ) -> Generator[ListingPage, None, datetime]:
        """A whole page inside one minute: read that minute in Id order."""
        if not self._known.clock.listed_after(value + ONE_MINUTE):
            self._probe_last_page(fetched, floor)
        yield from self._id_walk(value)
        return value + ONE_MINUTE

    def _spread(self, fetched: FetchedPage, last_minute: datetime) -> Walk:
        """Re-anchor at the page's last minute, or walk the closed windows from it."""
        self._learn(overlap=decide.overlap_after(self._known.overlap, fetched.records, last_minute))
        known = self._known
        pays = decide.closed_walk_pays(
            fetched.envelope.total_pages,
            known.overlap,
            known.habits.size,
            probe_needed=known.clock.probe is None,
        )
        if not pays:
            return last_minute
        if decide.probe_needed_from(known.clock, last_minute):
            self._probe_from(last_minute, fetched)
        end = decide.closed_end(self._known.clock, last_minute)
        if end is None:
            return last_minute
        return (yield from self._closed_walk(last_minute, end))

    def _reread_closed_windows(self) -> Iterator[ListingPage]:
        """Read again each open crowded window a newer listed job now proves closed.

        While the window was open, jobs could enter it and (once the clock passed its end)
        leave it between two pages in the same moment, which no TotalItems shows. Closed,
        jobs can only leave, and every leave shows: this second reading is exact.
        """
        resume_limit, reread = self._known.claim.last_limit, False
        for value in self._known.claim.open_windows:
            if self._known.clock.listed_after(value + ONE_MINUTE):
                self._learn(claim=decide.close_window(self._known.claim, value))
                yield from self._id_walk(value)
                reread = True
        if reread:
            # The hold is lifted: the bookmark may claim what the walk had read before.
            yield self._emit([], complete_before=resume_limit)

    def _closed_walk(self, start: datetime, end: datetime) -> Walk:
        """Page numbers over `[start, end]`, proven closed; returns where to re-anchor.

        None means the listing is finished: the probe already holds every job after E.
        """
        floor, to_filter_checked = start, False
        while True:
            fetched = self._fetch(self._request(ListingWindow(floor, end), 1))
            if not to_filter_checked:
                check_to_filter(self._known.clock.probe, fetched.envelope.total_items, start, end)
                to_filter_checked = True
            match decide.window_step(fetched):
                case steps.ListingEnds():
                    return end
                case steps.Crowded(value):
                    yield self._emit(fetched.records, complete_before=value)
                    resume = decide.by_id_then(value, end)
                case steps.Spread():
                    resume = yield from self._window_pages(fetched, floor, end)
            match resume:
                case steps.ByIdThen(value):
                    yield from self._id_walk(value)
                    floor = value + ONE_MINUTE
                case steps.WindowFrom(value):
                    floor = value
                case steps.Reanchor(value):
                    return value
                case steps.Finished(newest):
                    yield self._emit(newest, complete_before=None)
                    return None

    def _window_pages(
        self, fetched: FetchedPage, floor: datetime, end: datetime
    ) -> Generator[ListingPage, None, Resume]:
        """Pages 1, 2, ... of the closed window `[floor, end]` while TotalItems holds."""
        baseline, tie, page = fetched.envelope.total_items, decide.TieGroup(), 1
        while True:
            if page > 1:
                match decide.window_page_verdict(tie, fetched, baseline, page):
                    case steps.JobsLeft():
                        return steps.WindowFrom(tie.minute_or(floor))
                    case steps.TiesShuffled():
                        return decide.by_id_then(tie.minute_or(floor), end)
                    case steps.ReadPage():
                        pass
            records = fetched.records
            self._learn(habits=decide.habits_after_window_page(self._known.habits, records, end))
            tie = decide.tie_after(tie, records)
            complete = tie.minute_or(floor)
            yield self._emit(records, complete_before=complete)
            self._ledger.forget_before(complete)
            if not fetched.envelope.has_next_page:
                return decide.window_finished(self._known.habits, self._known.clock, end)
            page += 1
            fetched = self._fetch(self._request(ListingWindow(floor, end), page))

    def _id_walk(self, value: datetime) -> Iterator[ListingPage]:
        """All jobs of minute `value` in Id order, from the window `[value, value + 1]`."""
        closed = self._known.clock.listed_after(value + ONE_MINUTE)
        if not closed and value not in self._known.claim.open_windows:
            self._learn(claim=decide.open_window(self._known.claim, value))
            self._log(
                f"More than a page of jobs share the newest minute {value:%Y-%m-%d %H:%M} "
                "(server time) and nothing newer is listed yet: reading it, and again once a "
                "newer job shows it closed (else the next run re-reads it)"
            )
        window = ListingWindow(value, value + ONE_MINUTE)
        cursor = steps.IdCursor()
        while True:
            fetched = self._fetch(self._request(window, cursor.page, ORDER_BY_ID))
            step = decide.id_page_step(
                cursor, fetched, closed=closed, sort=self._known.sort, size=self._known.habits.size
            )
            self._learn(sort=step.sort)
            cursor = step.cursor
            match step:
                case steps.StepBack():
                    continue
                case steps.MoreIds():
                    yield self._emit(fetched.records, complete_before=value)
                case steps.LastIds():
                    yield self._emit(fetched.records, complete_before=value)
                    self._ledger.forget_before(value + ONE_MINUTE)
                    return

    # -- the first page and probes -----------------------------------------------------

    def _first_page(self) -> FetchedPage:
        """Page 1, with the sort direction proven before anything is emitted."""
        window = ListingWindow(self.read_from)
        for direction in ASCENDING_DIR_CANDIDATES:
            self._learn(sort=replace(self._known.sort, direction=direction))
            fetched = self._fetch(self._request(window, 1), verify_order=False)
            proven = self._ascending(window, fetched)
            if proven is None:
                continue
            self._learn(sort=replace(self._known.sort, proven=proven))
            check_ascending_within(fetched.records, 1, ORDER_BY_UPDATED_ON)
            check_inside(fetched.records, self._request(window, 1))
            return fetched
        raise no_ascending_order(fetched.envelope)

    def _ascending(self, window: ListingWindow, fetched: FetchedPage) -> bool | None:
        """Whether page 1's `dir` is proven ascending, asking on; None: it is descending."""
        order: Order = decide.page_one_order(fetched)
        while True:
            match order:
                case steps.Descending():
                    return None
                case steps.Ascending(proven):
                    return proven
                case steps.AskLastPage():
                    order = self._last_page_order(window, fetched)
                case steps.AskIdOrder():
                    order = self._id_order(window)

    def _last_page_order(self, window: ListingWindow, fetched: FetchedPage) -> Order:
        """Page 1 listed one timestamp: the last page shows the order (and is a probe)."""
        pages = t.cast("int", fetched.envelope.total_pages)
        probe = self._fetch(self._request(window, pages), verify_order=False)
        order = decide.last_page_order(fetched.records, probe.records)
        if not isinstance(order, steps.Descending):
            self._learn(clock=self._with_probe(window.start, probe, fetched))
        return order

    def _id_order(self, window: ListingWindow) -> Order:
        """Settle `dir` by Id order (two Ids show it), when UpdatedOn showed one value."""
        request = self._request(window, 1, ORDER_BY_ID, size=max(2, self._known.habits.size))
        records = self._fetch(request, verify_order=False).records
        return decide.id_order([r["Id"] for r in records])

    def _probe_last_page(self, fetched: FetchedPage, floor: datetime | None) -> None:
        """Read the last page of the open listing: its newest job bounds the record clock."""
        pages = fetched.envelope.total_pages
        last = fetched
        if pages is not None and pages >= 2:
            last = self._fetch(self._request(ListingWindow(floor), pages))
        self._learn(clock=self._with_probe(floor, last, fetched))

    def _probe_from(self, start: datetime, fetched: FetchedPage) -> None:
        """The last page of the open listing from `start`, where a closed walk would begin."""
        for page in decide.probe_pages_from(start, fetched, self._known.habits.size):
            probe = self._fetch(self._request(ListingWindow(start), page))
            if probe.records:
                self._learn(clock=self._with_probe(start, probe, fetched))
                return

    def _with_probe(
        self, floor: datetime | None, last: FetchedPage, page: FetchedPage
    ) -> ClockProof:
        doubted = len(last.records) - len(self._trusted_only(last.records))
        return decide.with_probe(self._known.clock, floor, last, page, doubted=doubted)

    def _trusted_only(self, records: list[Record]) -> list[Record]:
        """The records whose `UpdatedOn` may prove the record clock (all without one)."""
        return [r for r in records if (stamp := r.get("UpdatedOn")) is None or self._trusted(stamp)]

    # -- every request goes through here -----------------------------------------------

    def _request(
        self, window: ListingWindow, page: int, order_by: str = ORDER_BY_UPDATED_ON, size: int = 0
    ) -> PageRequest:
        """A request in the walk's `dir`, for the page size the server was seen to serve."""
        known = self._known
        size = size or known.habits.size
        return PageRequest(window, page, known.sort.direction, order_by, size=size)

    def _fetch(self, request: PageRequest, *, verify_order: bool = True) -> FetchedPage:
        """Send `request`, check the response, and learn what its records prove."""
        fetched = self._fetch_raw(request)
        records = fetched.records
        normalise_all(records, self._normalise, request)
        check_served(request, fetched.envelope)
        self._pages_read.check(request, fetched.envelope)
        known, sort = self._known, self._known.sort
        if verify_order:
            sort = decide.sort_after_page(sort, records, request.page, request.order_by)
            check_inside(records, request)
        self._learn(
            sort=sort,
            clock=decide.clock_after_page(known.clock, self._trusted_only(records)),
            habits=decide.habits_after_page(known.habits, fetched),
        )
        return fetched

    def _emit(self, records: list[Record], *, complete_before: datetime | None) -> ListingPage:
        """The page's new versions, and the bookmark: no further than `complete_before`."""
        admitted = [record for record in records if self._ledger.admit(record)]
        claim = decide.claim_after(
            self._known.claim, admitted, complete_before, proven=self._known.sort.proven
        )
        self._learn(claim=claim)
        return ListingPage(admitted, claim.bookmark)
