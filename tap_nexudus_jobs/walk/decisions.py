"""The walk's decisions: pure functions of what it knows and the page just read.

None of them sends a request. Each returns what to read next (a typed variant from
steps.py) and the knowledge the page adds; the loop (loop.py) fetches and acts. A decision that
finds the server broke a promise raises `NexudusResponseError`; one that finds the
guessed `dir` value wrong raises `DirectionDisproven`, and the walk starts over.
"""

from __future__ import annotations

import itertools
import math
import typing as t
from dataclasses import dataclass, replace

from tap_nexudus_jobs.errors import NexudusResponseError
from tap_nexudus_jobs.nexudus_api import ASCENDING_DIR_CANDIDATES
from tap_nexudus_jobs.timestamps import to_utc_iso
from tap_nexudus_jobs.walk.checks import not_ascending
from tap_nexudus_jobs.walk.knowledge import Claim, ClockProof, Overlap, Probe, ServerHabits
from tap_nexudus_jobs.walk.listing import (
    EARLIEST,
    ONE_MINUTE,
    ORDER_BY_UPDATED_ON,
    first_descending_pair,
    keys,
    minute,
    minute_text,
    some_pair_ascends,
    stamps,
)
from tap_nexudus_jobs.walk.steps import (
    AnchorStep,
    Ascending,
    AskIdOrder,
    AskLastPage,
    ByIdThen,
    ChaseVerdict,
    Crowded,
    Descending,
    Finished,
    IdCursor,
    IdStep,
    JobsLeft,
    LastIds,
    ListingEnds,
    MoreIds,
    NullsFirst,
    Order,
    ProbeThenRead,
    ReadOn,
    ReadPage,
    Reanchor,
    Resume,
    Spread,
    StepBack,
    StopChase,
    TiesShuffled,
    WindowPageVerdict,
    WindowStep,
)

if t.TYPE_CHECKING:
    from datetime import datetime

    from tap_nexudus_jobs.walk.knowledge import SortProof
    from tap_nexudus_jobs.walk.listing import FetchedPage, Record

# A closed-window walk costs a probe of the listing's last page (and sometimes a final
# re-anchor): taken when re-anchoring is expected to re-read more pages than that.
CLOSED_WALK_MIN_SAVING_PAGES = 0.5


class DirectionDisproven(NexudusResponseError):
    """A page came descending while no response had yet proven the `dir` value."""


# -- what every page proves ------------------------------------------------------------


def sort_after_page(sort: SortProof, records: list[Record], page: int, order_by: str) -> SortProof:
    """A page in the order asked for may prove the direction; one against it stops the run.

    Before the direction is proven, a first descending page means the guess was wrong.
    """
    pair = first_descending_pair(records, order_by)
    if pair is not None:
        error = not_ascending(page, order_by, pair)
        if not sort.proven and sort.direction == ASCENDING_DIR_CANDIDATES[0]:
            raise DirectionDisproven(str(error))
        raise error
    if not sort.proven and some_pair_ascends(records, order_by):
        return replace(sort, proven=True)
    return sort


def clock_after_page(clock: ClockProof, records: list[Record]) -> ClockProof:
    """Every job listed proves the record clock is past its `UpdatedOn`."""
    listed = stamps(records)
    if listed and (clock.newest_listed is None or max(listed) > clock.newest_listed):
        return replace(clock, newest_listed=max(listed))
    return clock


def habits_after_page(habits: ServerHabits, fetched: FetchedPage) -> ServerHabits:
    """A full page shows the size the server really uses (it may cap `size`)."""
    if fetched.envelope.has_next_page and fetched.records:
        return replace(habits, served_page_size=len(fetched.records))
    return habits


# -- the sort direction, from the first page ---------------------------------------------


def page_one_order(fetched: FetchedPage) -> Order:
    """What page 1 shows of the order; with one timestamp and more pages, ask the last one.

    Page 1 alone is the whole answer when no page follows: complete whichever way it is
    sorted, so the order counts as proven.
    """
    records = fetched.records
    if first_descending_pair(records, ORDER_BY_UPDATED_ON) is not None:
        return Descending()
    if some_pair_ascends(records, ORDER_BY_UPDATED_ON) or not fetched.envelope.has_next_page:
        return Ascending(proven=True)
    pages = fetched.envelope.total_pages
    if not stamps(records) or not pages or pages < 2:
        return AskIdOrder()
    return AskLastPage()


def last_page_order(first: list[Record], last: list[Record]) -> Order:
    """The last page's own order decides when it shows one; else how it compares.

    A last page older than page 1 is descending; newer proves nothing under drift, and
    then Id order is asked.
    """
    later = stamps(last)
    if first_descending_pair(last, ORDER_BY_UPDATED_ON) is not None or (
        later and later[-1] < stamps(first)[0]
    ):
        return Descending()
    return Ascending(proven=True) if some_pair_ascends(last, ORDER_BY_UPDATED_ON) else AskIdOrder()


def id_order(ids: list[int]) -> Order:
    """Ids are distinct: two of them in one response show the direction."""
    if any(a > b for a, b in itertools.pairwise(ids)):
        return Descending()
    return Ascending(proven=len(ids) >= 2)


# -- probes: the listing's last page bounds the record clock ---------------------------


def with_probe(
    clock: ClockProof,
    floor: datetime | None,
    last: FetchedPage,
    page: FetchedPage,
    *,
    doubted: int = 0,
) -> ClockProof:
    """Keep `last` (the last page from `floor`) as the probe; the first bounds the run.

    The newest job is on the last page of an ascending listing and on page 1 of a
    descending one, so the bound (`stop_after`) is the newest of `last` and `page`:
    right in either order. `doubted`: how many of `last`'s jobs are stamped ahead.
    """
    envelope = last.envelope
    probe = Probe(floor, envelope.total_items, last.records, envelope.has_next_page, doubted)
    seen = probe.stamps + stamps(page.records)
    stop_after = clock.stop_after
    if seen and (stop_after is None or doubted):
        # A job stamped ahead may have existed at the start with a stamp no later write
        # reaches: the run stops only once past it (where the listing ends).
        stop_after = max(stop_after or EARLIEST, minute(max(seen)))
    return replace(clock, probe=probe, stop_after=stop_after)


def probe_pages_from(start: datetime, fetched: FetchedPage, size: int) -> list[int]:
    """The pages to try for the last page of the open listing from `start`, in order.

    Its number follows from `fetched` (page 1 of an earlier floor): its jobs before
    `start` are not in the listing from `start`. The page before it, if that one is empty.
    """
    cutoff = to_utc_iso(start)
    before = sum(1 for r in fetched.records if (r.get("UpdatedOn") or cutoff) < cutoff)
    total = fetched.envelope.total_items
    pages = max(1, math.ceil((total - before) / size)) if total is not None else None
    pages = pages or fetched.envelope.total_pages or 1
    return [page for page in (pages, pages - 1) if page >= 1]


def newest_from_probe(probe: Probe | None, end: datetime) -> list[Record] | None:
    """The probe's jobs from minute `end` on, if it listed all there were.

    The probe was the listing's last page: when it starts before minute `end`, it held
    every job of `end` and later. Jobs updated since have newer versions at or after
    the probe's newest job, in minutes the bookmark leaves to the next run. Not when
    some are stamped ahead: put right, such a job moves earlier, so they are read again.
    """
    if probe is None or probe.has_next_page or probe.total_items is None or probe.doubted:
        return None
    probed = probe.stamps
    if not probed or minute(probed[0]) >= end:
        return None
    cutoff = to_utc_iso(end)
    return [r for r in probe.records if (r.get("UpdatedOn") or "") >= cutoff]


# -- re-anchoring: page 1 from the last minute read ------------------------------------


def anchor_step(fetched: FetchedPage, floor: datetime | None) -> AnchorStep:
    """What page 1 of `from=<floor>` asks for next."""
    listed = stamps(fetched.records)
    has_next = fetched.envelope.has_next_page
    if not listed and has_next and floor is None:
        # Listed first, as SQL Server sorts NULL: no minute to re-anchor at.
        return NullsFirst()
    if not has_next or not listed:
        return ListingEnds()
    first, last = minute(listed[0]), minute(listed[-1])
    return Crowded(last) if first == last else Spread(last)


@dataclass(frozen=True)
class Chase:
    """The re-anchoring walk's own memory: it bounds a run chasing jobs that keep moving."""

    # Pages left before the walk has read more than the listing had (then it probes).
    pages_left: int
    previous_floor: datetime | None
    previous_keys: list[tuple[int, str | None]] | None = None
    # Past the run's bound with an open window left: one more page may prove it closed.
    looked_past: bool = False


def chase_after_page(chase: Chase, records: list[Record], floor: datetime | None) -> Chase:
    """The same jobs twice from two floors: the server ignored the `from` filter."""
    listed = keys(records)
    if listed and listed == chase.previous_keys:
        msg = (
            "Nexudus ignored the UpdatedOn filter: it served the same jobs again "
            f"from {minute_text(floor)}"
        )
        raise NexudusResponseError(msg)
    return replace(chase, previous_keys=listed)


def chase_verdict(
    chase: Chase, floor: datetime, clock: ClockProof, claim: Claim
) -> tuple[ChaseVerdict, Chase]:
    """Stop once past every version that existed at the start; probe when chasing.

    Past the first probe's newest job, every version that existed when the run started
    is out; chasing jobs that keep changing is the next run's work. More pages than the
    listing had means jobs keep moving to its end: a probe bounds the run.
    """
    looked_past = chase.looked_past
    if clock.stop_after is not None and floor > clock.stop_after:
        if not claim.open_windows or looked_past:
            return StopChase(), chase
        looked_past = True
    pages_left = chase.pages_left - 1
    verdict = ProbeThenRead() if pages_left == 0 and clock.probe is None else ReadOn()
    return verdict, replace(chase, pages_left=pages_left, looked_past=looked_past)


def overlap_after(overlap: Overlap, records: list[Record], last_minute: datetime) -> Overlap:
    """Re-anchoring at `last_minute` re-reads that minute's jobs of the page."""
    cutoff = to_utc_iso(last_minute)
    again = sum(1 for r in records if (r.get("UpdatedOn") or "") >= cutoff)
    return Overlap(overlap.records + again, overlap.pages + 1)


def closed_walk_pays(
    total_pages: int | None, overlap: Overlap, size: int, *, probe_needed: bool
) -> bool:
    """Re-anchoring re-reads each page's last minute; a closed walk re-reads none."""
    pages_left = (total_pages or 1) - 1
    per_page = overlap.per_page
    if pages_left <= 0 or per_page <= 0:
        return False
    saving = pages_left * per_page / max(1.0, size - per_page)
    extra = CLOSED_WALK_MIN_SAVING_PAGES + (1 if probe_needed else 0)
    return saving > extra


def probe_needed_from(clock: ClockProof, start: datetime) -> bool:
    return clock.probe is None or clock.probe.floor != start


def closed_end(clock: ClockProof, start: datetime) -> datetime | None:
    """The end of the closed window from `start`, if newer listed jobs prove one."""
    end = clock.closed_until()
    return end if end is not None and end > start else None


# -- closed windows: page numbers while TotalItems holds -------------------------------


def window_step(fetched: FetchedPage) -> WindowStep:
    """Page 1 of a closed window: the listing ends when empty, else crowded or spread."""
    listed = stamps(fetched.records)
    if not listed:
        return ListingEnds()
    last = minute(listed[-1])
    crowded = fetched.envelope.has_next_page and minute(listed[0]) == last
    return Crowded(last) if crowded else Spread(last)


def by_id_then(value: datetime, end: datetime) -> Resume:
    """A minute to read in Id order; the window's last one is left to a re-anchor."""
    return Reanchor(value) if value >= end else ByIdThen(value)


@dataclass(frozen=True)
class TieGroup:
    """The newest `UpdatedOn` read in a window, and the jobs read with it."""

    value: str | None = None
    ids: frozenset[int] = frozenset()

    def minute_or(self, floor: datetime) -> datetime:
        return minute(self.value) if self.value else floor


def tie_after(tie: TieGroup, records: list[Record]) -> TieGroup:
    value, ids = tie.value, set(tie.ids)
    for record in records:
        stamp = record.get("UpdatedOn")
        if stamp is None:
            continue
        if value is None or stamp > value:
            value, ids = stamp, {record["Id"]}
        else:
            ids.add(record["Id"])
    return TieGroup(value, frozenset(ids))


def window_page_verdict(
    tie: TieGroup, fetched: FetchedPage, baseline: int | None, page: int
) -> WindowPageVerdict:
    """Page 2 on of a closed window: read it, unless jobs left or ties came reordered."""
    records = fetched.records
    if fetched.envelope.total_items != baseline or not records:
        return JobsLeft()  # jobs left the window (or it changed): re-read from a fresh query
    first_stamp = next(iter(stamps(records)), None)
    if tie.value is not None and first_stamp is not None and first_stamp < tie.value:
        msg = (
            f"Nexudus listing page {page} went back in UpdatedOn order "
            f"({tie.value} on page {page - 1}, then {first_stamp}) while "
            "TotalItems stayed the same; stopping so the bookmark cannot skip jobs"
        )
        raise NexudusResponseError(msg)
    if tie.value is not None and any(
        r["Id"] in tie.ids and r.get("UpdatedOn") == tie.value for r in records
    ):
        return TiesShuffled()  # ties came back in another order: some may have been skipped
    return ReadPage()


def habits_after_window_page(
    habits: ServerHabits, records: list[Record], end: datetime
) -> ServerHabits:
    """A job past E:00 in the window `[.., E]` proves `to=E` covers the whole minute E."""
    end_stamp = to_utc_iso(end)
    if any(stamp > end_stamp for stamp in stamps(records)):
        return replace(habits, to_covers_whole_minute=True)
    return habits


def window_finished(habits: ServerHabits, clock: ClockProof, end: datetime) -> Resume:
    """After a window's last page: re-anchor past it, or finish with the probe's jobs.

    Under "to = up to E:00" minute E is only partly inside: it is re-read.
    """
    covered = end + ONE_MINUTE if habits.to_covers_whole_minute else end
    newest = newest_from_probe(clock.probe, covered)
    return Reanchor(covered) if newest is None else Finished(newest)


# -- a minute in Id order ---------------------------------------------------------------


def id_page_step(
    cursor: IdCursor, fetched: FetchedPage, *, closed: bool, sort: SortProof, size: int
) -> IdStep:
    """One page of a minute in Id order (`closed`: nothing can enter the minute)."""
    records, total = fetched.records, fetched.envelope.total_items
    if cursor.baseline is not None and total is not None and total < cursor.baseline:
        # Jobs left the window: everything after them moved back by up to that many
        # places, so step back as many pages and read on (re-reads are skipped).
        page = max(1, cursor.page - math.ceil((cursor.baseline - total) / size))
        return StepBack(IdCursor(page, total, None), sort)
    last_id = cursor.last_id
    if closed and last_id is not None and records:
        first_id = records[0]["Id"]
        if total == cursor.baseline and not sort.proven:
            # Nothing moved between the two pages: an ascending Id order goes on upwards.
            if first_id > last_id:
                sort = replace(sort, proven=True)
            elif first_id < last_id:
                raise DirectionDisproven("Id order came descending")
        if first_id <= last_id:
            msg = (
                f"Nexudus listing page {cursor.page} ordered by Id started at job "
                f"{first_id} after page {cursor.page - 1} ended at job {last_id}, while "
                "TotalItems stayed the same; stopping so the bookmark cannot skip jobs"
            )
            raise NexudusResponseError(msg)
    done = not fetched.envelope.has_next_page or not records
    following = IdCursor(cursor.page + 1, total, records[-1]["Id"] if records else last_id)
    return LastIds(following, sort) if done else MoreIds(following, sort)


# -- what the bookmark may claim ---------------------------------------------------------


def claim_after(
    claim: Claim, admitted: list[Record], complete_before: datetime | None, *, proven: bool
) -> Claim:
    """The bookmark after emitting `admitted`: no further than `complete_before` or a hold."""
    newest = claim.newest_emitted
    for stamp in stamps(admitted):
        if newest is None or stamp > newest:
            newest = stamp
    limit, hold = complete_before, claim.hold
    if hold is not None:
        limit = hold if limit is None else min(limit, hold)
    # Until a response proves the order ascending, page 1 may hold the newest jobs
    # rather than the oldest: it proves nothing complete, so claim nothing new.
    candidate = newest if proven else None
    if candidate is not None and limit is not None and minute(candidate) > limit:
        candidate = to_utc_iso(limit)
    bookmark = claim.bookmark
    if candidate is not None and (bookmark is None or candidate > bookmark):
        bookmark = candidate
    return replace(claim, bookmark=bookmark, newest_emitted=newest, last_limit=complete_before)


def open_window(claim: Claim, value: datetime) -> Claim:
    """A crowded minute read while it may still be open holds the bookmark at it."""
    if value in claim.open_windows:
        return claim
    return replace(claim, open_windows=(*claim.open_windows, value))


def close_window(claim: Claim, value: datetime) -> Claim:
    """A newer listed job proved the minute closed: it is read again, the hold lifts."""
    return replace(claim, open_windows=tuple(m for m in claim.open_windows if m != value))
