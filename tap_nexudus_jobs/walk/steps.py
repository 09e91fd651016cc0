"""What a decision tells the walk to do next: one typed variant per move.

decisions.py returns them, loop.py dispatches each set in one `match`. A variant carries
what its move needs (the minute to read, the jobs to emit), so no move reads a field
that another move left empty.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

if t.TYPE_CHECKING:
    from datetime import datetime

    from tap_nexudus_jobs.walk.knowledge import SortProof
    from tap_nexudus_jobs.walk.listing import Record


@dataclass(frozen=True)
class _AtMinute:
    """A move that names the minute it reads from."""

    minute: datetime


# -- the sort direction, from the first page ---------------------------------------------


@dataclass(frozen=True)
class Descending:
    """The `dir` value tried lists newest first: try the next one."""


@dataclass(frozen=True)
class Ascending:
    """The `dir` value lists oldest first; `proven` False while one value was listed."""

    proven: bool


@dataclass(frozen=True)
class AskLastPage:
    """Page 1 listed one timestamp and more pages follow: the last page may show the order."""


@dataclass(frozen=True)
class AskIdOrder:
    """`UpdatedOn` showed no order: two Ids in Id order show it."""


Order = Descending | Ascending | AskLastPage | AskIdOrder

# -- page 1 of a query: re-anchoring, or a closed window ---------------------------------


@dataclass(frozen=True)
class ListingEnds:
    """The listing ends on this page."""


@dataclass(frozen=True)
class NullsFirst:
    """A full page without `UpdatedOn`: go on from the earliest minute there is."""


@dataclass(frozen=True)
class Crowded(_AtMinute):
    """The page lies inside one `minute`: read that minute in Id order."""


@dataclass(frozen=True)
class Spread(_AtMinute):
    """Re-anchor at the page's last `minute` (or walk closed windows from it)."""


AnchorStep = ListingEnds | NullsFirst | Crowded | Spread
WindowStep = ListingEnds | Crowded | Spread

# -- after each re-anchoring page -------------------------------------------------------


@dataclass(frozen=True)
class StopChase:
    """Past every version that existed at the start: the rest is the next run's work."""


@dataclass(frozen=True)
class ProbeThenRead:
    """More pages read than the listing had: probe its last page, then read on."""


@dataclass(frozen=True)
class ReadOn:
    """Read page 1 from the new floor."""


ChaseVerdict = StopChase | ProbeThenRead | ReadOn

# -- pages 2, 3, ... of a closed window ---------------------------------------------------


@dataclass(frozen=True)
class JobsLeft:
    """TotalItems changed (or the page is empty): re-read from a fresh query."""


@dataclass(frozen=True)
class TiesShuffled:
    """Ties came back in another order: some may have been skipped."""


@dataclass(frozen=True)
class ReadPage:
    """The page is safe to emit."""


WindowPageVerdict = JobsLeft | TiesShuffled | ReadPage

# -- where a closed walk goes on --------------------------------------------------------


@dataclass(frozen=True)
class WindowFrom(_AtMinute):
    """Page 1 of the closed window again, from `minute`."""


@dataclass(frozen=True)
class ByIdThen(_AtMinute):
    """Read `minute` in Id order, then the window from the minute after."""


@dataclass(frozen=True)
class Reanchor(_AtMinute):
    """Leave the closed walk: re-anchor at `minute`."""


@dataclass(frozen=True)
class Finished:
    """The listing is finished: the probe holds `newest`, every job after the window."""

    newest: list[Record]


Resume = WindowFrom | ByIdThen | Reanchor | Finished

# -- a minute in Id order ---------------------------------------------------------------


@dataclass(frozen=True)
class IdCursor:
    """Where an Id-ordered walk of one minute is: the page, its TotalItems, the last Id."""

    page: int = 1
    baseline: int | None = None
    last_id: int | None = None


@dataclass(frozen=True)
class _IdPage:
    """A page of a minute in Id order: where to read next, and the sort it proved."""

    cursor: IdCursor
    sort: SortProof


@dataclass(frozen=True)
class StepBack(_IdPage):
    """Jobs left the minute: read `cursor` next, emitting nothing from this page."""


@dataclass(frozen=True)
class MoreIds(_IdPage):
    """Emit the page; `cursor` is the next page."""


@dataclass(frozen=True)
class LastIds(_IdPage):
    """Emit the page: the minute is read."""


IdStep = StepBack | MoreIds | LastIds
