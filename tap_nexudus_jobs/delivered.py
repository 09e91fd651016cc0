"""Job versions already delivered, kept in STATE for the minutes the next run re-reads.

Each run re-reads the bookmark's minute (the filter takes minutes only) and the
`lookback_minutes` before it. Without a memory of what it delivered there, every run
would fetch (one get-one each) and emit those jobs again. So STATE keeps the versions
(Id, UpdatedOn) delivered from `floor(bookmark) - lookback_minutes` on, and the next run
seeds its listing walk's ledger with them: a version delivered once is neither fetched
nor emitted again, while a new `UpdatedOn` of the same job is a new version. state.py
reads and writes them.

Bounded: only the versions of those re-read minutes are kept (older ones are never
re-read), and never more than MAX_DELIVERED_VERSIONS, the oldest dropped first (a
dropped version costs at most one more get-one, never a lost job).
"""

from __future__ import annotations

import typing as t
from collections import defaultdict
from datetime import timedelta

from tap_nexudus_jobs.timestamps import floor_to_minute, parse_timestamp, to_utc_iso

if t.TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

# More versions than this in the re-read minutes is an unusual burst; beyond it the
# oldest are forgotten rather than letting STATE grow with the account.
MAX_DELIVERED_VERSIONS = 10_000

Version = tuple[int, str]


class DeliveredVersions:
    """The versions delivered in the minutes the next run will read again."""

    def __init__(self, *, with_result_data: bool, lookback_minutes: int) -> None:
        self.with_result_data = with_result_data
        self._lookback = timedelta(minutes=lookback_minutes)
        self._ids_by_stamp: dict[str, set[int]] = defaultdict(set)
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Version]:
        for stamp, ids in self._ids_by_stamp.items():
            for job_id in ids:
                yield job_id, stamp

    def add(self, records: Iterable[dict[str, t.Any]]) -> None:
        """Delivered now (records with an `UpdatedOn`; a job without one has no version)."""
        self.add_versions(
            (record["Id"], stamp)
            for record in records
            if isinstance(stamp := record.get("UpdatedOn"), str)
        )

    def add_versions(self, versions: Iterable[Version]) -> None:
        """Add (Id, UpdatedOn) pairs, UpdatedOn in the tap's UTC ISO form."""
        for job_id, stamp in versions:
            ids = self._ids_by_stamp[stamp]
            if job_id not in ids:
                ids.add(job_id)
                self._count += 1

    def keep_for(self, bookmark: str | None) -> None:
        """Forget what a run resuming from `bookmark` will not read again."""
        if bookmark is not None:
            minute = floor_to_minute(parse_timestamp(bookmark)) - self._lookback
            cutoff = to_utc_iso(minute)
            for stamp in [stamp for stamp in self._ids_by_stamp if stamp < cutoff]:
                self._count -= len(self._ids_by_stamp.pop(stamp))
        if self._count > MAX_DELIVERED_VERSIONS:
            for stamp in sorted(self._ids_by_stamp):
                if self._count <= MAX_DELIVERED_VERSIONS:
                    break
                self._count -= len(self._ids_by_stamp.pop(stamp))

    def groups(self) -> list[tuple[str, list[int]]]:
        """(UpdatedOn, sorted Ids) per version time, oldest first (state.py writes them)."""
        return [(stamp, sorted(ids)) for stamp, ids in sorted(self._ids_by_stamp.items()) if ids]
