"""The listing walk: every job version arrives, whatever the server's clocks and tie order.

Why not one of the SDK's paginators: they follow one token forwards. Nexudus's listing
is offset-paged and sorted by `UpdatedOn`, which shifts while the tap reads it (an
updated job moves to the end, every later job moves up one place), and nothing promises
that jobs with equal `UpdatedOn` come back in the same order twice. Nor is the clock
that writes `UpdatedOn` documented (UTC? local time labelled `Z`?), so the walk never
uses the `Date` header or any clock: it trusts only what the records show. The stream
tells it which stamps lie further ahead of true time than the record clock runs
(record_clock.py, from the `Date` header): those prove nothing of the record clock, since
a clock put right moves such a job earlier, not later.

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

Where it lives: `listing.py` (requests and pages), `knowledge.py` (what the walk knows,
in one frozen value of named parts), `decisions.py` (what to read next and what the
bookmark may claim: pure functions, no I/O), `steps.py` (the typed moves decisions
return), `checks.py` (responses that break a promise stop the run), `loop.py`
(`ListingWalk`: fetches, checks, and matches on the moves the decisions return).
"""

from tap_nexudus_jobs.nexudus_api import ASCENDING_DIR_CANDIDATES
from tap_nexudus_jobs.walk.knowledge import VersionLedger
from tap_nexudus_jobs.walk.listing import (
    FetchedPage,
    ListingPage,
    ListingWindow,
    PageRequest,
)
from tap_nexudus_jobs.walk.loop import ListingWalk

__all__ = [
    "ASCENDING_DIR_CANDIDATES",
    "FetchedPage",
    "ListingPage",
    "ListingWalk",
    "ListingWindow",
    "PageRequest",
    "VersionLedger",
]
