"""A stalled bookmark: later than every job the account lists, so nothing could ever load.

Each run reads from its bookmark's minute less `lookback_minutes`; the job the bookmark
came from is listed there, unless it was deleted. When that listing is empty, the newest
job the account lists shows whether the bookmark is still in reach. If even that job is
older than where the run read from, the bookmark is past every job: set by hand, or left
by a record clock that ran ahead and came back. Every later run would exit 0 and load
nothing, and the jobs updated while the clock catches up would be skipped for good, so
the run stops with the evidence and the way out. It decides on the records alone; the
server's `Date` header plays no part.
"""

from __future__ import annotations

import typing as t

from tap_nexudus_jobs.errors import StalledBookmarkError
from tap_nexudus_jobs.timestamps import normalise_timestamp, parse_timestamp

if t.TYPE_CHECKING:
    from datetime import datetime

Record = dict[str, t.Any]


def newest_stamp(*pages: list[Record]) -> str | None:
    """The newest `UpdatedOn` on the given pages (the listing's two ends), in UTC form."""
    stamps = [
        normalise_timestamp(str(stamp))
        for records in pages
        for record in records
        if (stamp := record.get("UpdatedOn")) is not None
    ]
    return max((s for s in stamps if s is not None), key=parse_timestamp, default=None)


def worth_checking(bookmark: str, read_from: datetime, listed: int | None) -> bool:
    """Only a run that read from its bookmark (less the lookback) and found nothing.

    A `start_date` later than the bookmark is where such a run reads, not the bookmark.
    """
    return listed == 0 and read_from <= parse_timestamp(bookmark)


def check_reachable(bookmark: str, read_from: datetime, newest: str | None, *, where: str) -> None:
    """Raise when the account's newest listed job is older than where the run read from.

    An account that lists no job at all has nothing to load and nothing to lose: not a stall.
    """
    if newest is None or parse_timestamp(newest) >= read_from:
        return
    msg = (
        f"The bookmark {bookmark} ({where}) is later than every job Nexudus lists: the newest "
        f"is updated {newest}, before {read_from:%Y-%m-%dT%H:%M}, where this run read from; "
        "nothing would ever load. If the bookmark is wrong (set by hand, or left by a server "
        "clock that ran ahead), clear it and read again from start_date: "
        "`meltano state clear STATE_ID` (`meltano state list` names it; a bare tap: no --state)"
    )
    raise StalledBookmarkError(msg)
