"""`include_result_data`: the full record of each emitted job, one get-one request each."""

from __future__ import annotations

import typing as t
from concurrent.futures import ThreadPoolExecutor

if t.TYPE_CHECKING:
    from collections.abc import Callable

# Requests in flight at once. Pacing still decides when each one leaves; overlapping a
# few only keeps the budget busy while earlier answers are on their way back.
OVERLAP = 4


class FullRecordFetcher:
    """Completes listing records with what only get-one returns (`ResultData`).

    The listing's fields win over the full record's, `UpdatedOn` above all: the bookmark
    must follow the listing's order even if a job changed between the two requests (its
    new version comes round again at the end of the listing).
    """

    def __init__(
        self,
        fetch_one: Callable[[int], dict[str, t.Any] | None],
        normalise: Callable[[dict[str, t.Any]], dict[str, t.Any]],
        log_missing: Callable[[int], None],
    ) -> None:
        self._fetch_one = fetch_one
        self._normalise = normalise
        self._log_missing = log_missing
        self._pool = ThreadPoolExecutor(max_workers=OVERLAP, thread_name_prefix="get-one")
        self.fetched = 0
        self.missing = 0

    def complete(self, records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """The same records, in order, each merged with its full record when it exists."""
        fulls = self._pool.map(self._fetch_one, [record["Id"] for record in records])
        completed = []
        for record, full in zip(records, fulls, strict=True):
            self.fetched += 1
            if full is None:
                # Deleted between listing and fetch: keep the job, without ResultData.
                self.missing += 1
                self._log_missing(record["Id"])
                completed.append(record)
                continue
            full = self._normalise(full)
            completed.append({**full, **{k: v for k, v in record.items() if k != "ResultData"}})
        return completed

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=True, cancel_futures=True)
