"""What the walk asks Nexudus for and what it gets back: requests, pages, record helpers."""

from __future__ import annotations

import itertools
import typing as t
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

# `dir` values for ascending order (1/-1 first, then 0/1): tried in turn, proven by records.
from tap_nexudus_jobs.timestamps import floor_to_minute

if t.TYPE_CHECKING:
    from tap_nexudus_jobs.envelope import ListingEnvelope

ONE_MINUTE = timedelta(minutes=1)
ORDER_BY_UPDATED_ON = "UpdatedOn"
ORDER_BY_ID = "Id"
EARLIEST = datetime(1970, 1, 1, tzinfo=timezone.utc)

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
    # Always named: the walk asks for the size the server was seen to serve (it may cap
    # `size`), so page numbers and step-backs count the same pages the server does.
    size: int = field(kw_only=True)
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


def stamps(records: list[Record]) -> list[str]:
    """The records' `UpdatedOn` values, in listed order, leaving out jobs without one."""
    return [r["UpdatedOn"] for r in records if r.get("UpdatedOn") is not None]


def minute(stamp: str) -> datetime:
    return floor_to_minute(datetime.fromisoformat(stamp))


def minute_text(value: datetime | None) -> str:
    return f"{value:%Y-%m-%dT%H:%M}" if value else "the beginning"


def keys(records: list[Record]) -> list[tuple[int, str | None]]:
    return [(record["Id"], record.get("UpdatedOn")) for record in records]


def first_descending_pair(records: list[Record], order_by: str) -> tuple[t.Any, t.Any] | None:
    """The first two consecutive values (jobs without one skipped) that go down, if any."""
    values = [r[order_by] for r in records if r.get(order_by) is not None]
    return next(((a, b) for a, b in itertools.pairwise(values) if b < a), None)


def some_pair_ascends(records: list[Record], order_by: str) -> bool:
    values = [r[order_by] for r in records if r.get(order_by) is not None]
    return any(a < b for a, b in itertools.pairwise(values))
