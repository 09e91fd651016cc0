"""`include_result_data`: the full record of each emitted job, one get-one request each."""

from __future__ import annotations

import math
import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

if t.TYPE_CHECKING:
    from collections.abc import Callable

# The most get-one requests in flight at once. Pacing still decides when each leaves;
# overlapping only keeps the budget busy while earlier answers are on their way back.
MAX_OVERLAP = 4
# Weight of the newest round trip in the running latency estimate.
LATENCY_SMOOTHING = 0.3

FullRecord = tuple[dict[str, t.Any] | None, float]


class FullRecordFetcher:
    """Completes listing records with what only get-one returns (`ResultData`).

    The listing's fields win over the full record's, `UpdatedOn` above all: the bookmark
    must follow the listing's order even if a job changed between the two requests (its
    new version comes round again at the end of the listing).
    """

    def __init__(
        self,
        fetch_one: Callable[[int], FullRecord],
        normalise: Callable[[dict[str, t.Any]], dict[str, t.Any]],
        log_missing: Callable[[int], None],
        pacing_spacing: Callable[[], float],
    ) -> None:
        """`fetch_one(Id)` returns the full record (None if gone) and its round-trip time.

        `pacing_spacing()` is the shortest gap pacing allows between two requests.
        """
        self._fetch_one = fetch_one
        self._normalise = normalise
        self._log_missing = log_missing
        self._pacing_spacing = pacing_spacing
        self._pool = ThreadPoolExecutor(max_workers=MAX_OVERLAP, thread_name_prefix="get-one")
        self._latency = 0.0

    def overlap(self) -> int:
        """Requests to keep in flight: enough to cover the round trip at the pacing rate.

        One while answers come back within the pacing interval, so no threads race each
        other between taking a turn and writing the request (which, on a busy machine,
        can bring two requests closer together than pacing sent them).
        """
        spacing = max(self._pacing_spacing(), 1e-3)
        return max(1, min(MAX_OVERLAP, math.ceil(self._latency / spacing)))

    def complete(self, records: list[dict[str, t.Any]]) -> list[dict[str, t.Any]]:
        """The same records, in order, each merged with its full record when it exists."""
        fulls: list[dict[str, t.Any] | None] = []
        in_flight: deque[Future[FullRecord]] = deque()
        for record in records:
            while len(in_flight) >= self.overlap():
                fulls.append(self._collect(in_flight.popleft()))
            in_flight.append(self._pool.submit(self._fetch_one, record["Id"]))
        while in_flight:
            fulls.append(self._collect(in_flight.popleft()))
        completed = []
        for record, full in zip(records, fulls, strict=True):
            if full is None:
                # Deleted between listing and fetch: keep the job, without ResultData.
                self._log_missing(record["Id"])
                completed.append(record)
                continue
            full = self._normalise(full)
            completed.append({**full, **{k: v for k, v in record.items() if k != "ResultData"}})
        return completed

    def _collect(self, future: Future[FullRecord]) -> dict[str, t.Any] | None:
        full, round_trip = future.result()
        self._latency += LATENCY_SMOOTHING * (round_trip - self._latency)
        return full

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=True, cancel_futures=True)
