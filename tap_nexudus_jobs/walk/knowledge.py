"""What the walk knows, in named parts: each proven by records it has read.

- `SortProof`: which `dir` value lists oldest first, and whether a response proved it.
- `ClockProof`: how far the record clock has got (the newest job listed, the probe).
- `Claim`: what the bookmark may claim, and what holds it back.
- `ServerHabits`, `Overlap`: what the server showed of itself (page size, `to` filter),
  and what re-anchoring has cost so far (for choosing a closed walk).
- `Knowledge`: the five above in one frozen value; the walk rebinds it in one place
  (`ListingWalk._learn`) with what a decision returns.
- `VersionLedger`: the versions already emitted (the one mutable part; the walk owns it,
  and it only grows by the page and shrinks by the minute, never read by a decision).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from tap_nexudus_jobs.nexudus_api import ASCENDING_DIR_CANDIDATES
from tap_nexudus_jobs.timestamps import to_utc_iso
from tap_nexudus_jobs.walk.listing import (
    ONE_MINUTE,
    Record,
    minute,
    stamps,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterable
    from datetime import datetime


@dataclass(frozen=True)
class SortProof:
    """The `dir` value in use, and whether some response showed it ascending."""

    direction: int = ASCENDING_DIR_CANDIDATES[0]
    # False while every value listed was one (no order shows a direction).
    proven: bool = False


@dataclass(frozen=True)
class Probe:
    """The listing's last page: its newest job proves how far the record clock has got."""

    floor: datetime | None
    total_items: int | None
    records: list[Record]
    has_next_page: bool
    # Its jobs stamped ahead of true time (record_clock.py): they prove no clock, and a
    # clock put right moves them earlier, not later.
    doubted: int = 0

    @property
    def stamps(self) -> list[str]:
        return stamps(self.records)


@dataclass(frozen=True)
class ClockProof:
    """How far the record clock has got, as listed jobs prove it (clocks do not go back)."""

    # Newest UpdatedOn ever listed (probes included): the record clock is past it.
    newest_listed: str | None = None
    probe: Probe | None = None
    # The first probe's newest minute: every version that existed when the run started
    # lies at or before it. Later probes may see newer jobs, but never move this.
    stop_after: datetime | None = None

    def newest_listed_minute(self) -> datetime | None:
        return minute(self.newest_listed) if self.newest_listed else None

    def listed_after(self, value: datetime) -> bool:
        """True if a job updated after the end of minute `value` has been listed."""
        newest = self.newest_listed_minute()
        return newest is not None and newest > value

    def closed_until(self) -> datetime | None:
        """The last minute a listed record proves closed (the one before the newest)."""
        newest = self.newest_listed_minute()
        return newest - ONE_MINUTE if newest is not None else None


@dataclass(frozen=True)
class Claim:
    """What the bookmark claims, and what may hold it back."""

    bookmark: str | None = None
    newest_emitted: str | None = None
    # Crowded minutes read while nothing newer was listed: the bookmark stays at the
    # oldest of them until a newer listed job proves it closed and it is read again.
    open_windows: tuple[datetime, ...] = ()
    # The last page's own limit: where the bookmark may go back to once a hold lifts.
    last_limit: datetime | None = None

    @property
    def hold(self) -> datetime | None:
        return min(self.open_windows) if self.open_windows else None


@dataclass(frozen=True)
class ServerHabits:
    """What responses showed of the server beyond the records."""

    page_size: int
    # A full page shows the size the server really uses (it may cap `size`).
    served_page_size: int | None = None
    # Proven once a closed window lists a job from its last minute past :00 seconds.
    to_covers_whole_minute: bool = False

    @property
    def size(self) -> int:
        return max(1, self.served_page_size or self.page_size)


@dataclass(frozen=True)
class Overlap:
    """What re-anchoring re-read: jobs of each page's last minute, over pages."""

    records: int = 0
    pages: int = 0

    @property
    def per_page(self) -> float:
        return self.records / max(1, self.pages)


@dataclass(frozen=True)
class Knowledge:
    """Everything the walk knows that decisions read, in one immutable value."""

    habits: ServerHabits
    sort: SortProof = SortProof()
    clock: ClockProof = ClockProof()
    claim: Claim = Claim()
    overlap: Overlap = Overlap()


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

    def forget_before(self, value: datetime) -> None:
        """Drop versions older than minute `value`: no re-read will show them again."""
        cutoff = to_utc_iso(value)
        self._versions = {version for version in self._versions if version[1] >= cutoff}

    def __len__(self) -> int:
        return len(self._versions)
