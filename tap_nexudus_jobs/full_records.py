"""`include_result_data`: the full record of each emitted job, one get-one request each.

Jobs in `result_data_skip_statuses` (default Queued, Running) have no result yet: they
are emitted from the listing without a get-one; when they move on, their `UpdatedOn`
changes and the new version is fetched then. Any other status, an unknown one included,
is fetched.
"""

from __future__ import annotations

import math
import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from tap_nexudus_jobs.budget import RequestBudgetSpent
from tap_nexudus_jobs.errors import NexudusResponseError
from tap_nexudus_jobs.records import EXTRA_FIELDS, RESULT_DATA, RESULT_DATA_PARSED

if t.TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from tap_nexudus_jobs.pacing import RequestPacer

# The most get-one requests in flight at once. Pacing still decides when each leaves;
# overlapping only keeps the budget busy while earlier answers are on their way back.
MAX_OVERLAP = 4
# Weight of the newest round trip in the running latency estimate.
LATENCY_SMOOTHING = 0.3

FullRecord = tuple[dict[str, t.Any] | None, float]
# What only get-one fills in: the full record's values win for these.
FROM_GET_ONE = frozenset({RESULT_DATA, RESULT_DATA_PARSED, EXTRA_FIELDS})


@dataclass(frozen=True)
class CompletedPage:
    """A page's records with their full records, in listing order.

    When the request budget ran out during the page's get-ones (`stopped`), `records` is
    the page's longest complete prefix, ready to emit; the rest is the next run's.
    """

    records: list[dict[str, t.Any]]
    stopped: RequestBudgetSpent | None = None


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
        pacer: RequestPacer,
        skip_statuses: Collection[str] = (),
    ) -> None:
        """`fetch_one(Id)` returns the full record (None if gone) and its round-trip time.

        `fetch_one` sends through `pacer`, which gives each get-one its turn in listing
        order; jobs whose `Status` is in `skip_statuses` are not fetched.
        """
        self._fetch_one = fetch_one
        self._normalise = normalise
        self._log_missing = log_missing
        self._pacer = pacer
        self._skip = frozenset(skip_statuses)
        self._pool = ThreadPoolExecutor(max_workers=MAX_OVERLAP, thread_name_prefix="get-one")
        self._latency = 0.0
        self.fetched = 0  # jobs completed with a get-one (deleted ones included)
        self.skipped = 0  # jobs emitted from the listing, by status

    def needs_get_one(self, record: dict[str, t.Any]) -> bool:
        """False for a status without a result yet; unknown statuses are fetched."""
        return record.get("Status") not in self._skip

    def overlap(self) -> int:
        """Requests to keep in flight: enough to cover the round trip at the pacing rate.

        One while answers come back within the pacing interval, so no threads race each
        other between taking a turn and writing the request (which, on a busy machine,
        can bring two requests closer together than pacing sent them).
        """
        spacing = max(self._pacer.burst_spacing, 1e-3)
        return max(1, min(MAX_OVERLAP, math.ceil(self._latency / spacing)))

    def complete(self, records: list[dict[str, t.Any]]) -> CompletedPage:
        """The same records, in order, each merged with its full record when it exists."""
        fulls, stop = self._fetch_in_order(records)
        end = len(records) if stop is None else stop[0]
        completed = []
        for index, record in enumerate(records[:end]):
            if index not in fulls:
                self.skipped += 1
                completed.append(record)
                continue
            self.fetched += 1
            full = fulls[index]
            if full is None:
                # Deleted between listing and fetch: keep the job, without ResultData.
                self._log_missing(record["Id"])
                completed.append(record)
                continue
            try:
                normalised = self._normalise(full)
            except ValueError as exc:
                msg = f"Nexudus get-one of job {record['Id']}: {exc}"
                raise NexudusResponseError(msg) from None
            completed.append(merge_full_record(record, normalised))
        return CompletedPage(completed, stop[1] if stop is not None else None)

    def _fetch_in_order(
        self, records: list[dict[str, t.Any]]
    ) -> tuple[dict[int, dict[str, t.Any] | None], tuple[int, RequestBudgetSpent] | None]:
        """Full records by index, and the first index the budget refused (if any)."""
        fulls: dict[int, dict[str, t.Any] | None] = {}
        in_flight: deque[tuple[int, Future[FullRecord]]] = deque()
        stop: tuple[int, RequestBudgetSpent] | None = None

        def collect() -> None:
            nonlocal stop
            index, future = in_flight.popleft()
            try:
                fulls[index] = self._collect(future)
            except RequestBudgetSpent as spent:  # its retry or new token, refused
                if stop is None or index < stop[0]:
                    stop = (index, spent)

        for index, record in enumerate(records):
            if not self.needs_get_one(record):
                continue
            while len(in_flight) >= self.overlap():
                collect()
            if stop is not None:
                break
            try:
                # Turns in listing order: a budget stop then ends the page at the first job
                # it refused, and no get-one has been sent for a job after it.
                self._pacer.wait_turn()
            except RequestBudgetSpent as spent:
                stop = (index, spent)
                break
            in_flight.append((index, self._pool.submit(self._fetch_on_turn, record["Id"])))
        while in_flight:
            collect()
        return fulls, stop

    def _fetch_on_turn(self, job_id: int) -> FullRecord:
        with self._pacer.turn_taken():
            return self._fetch_one(job_id)

    def _collect(self, future: Future[FullRecord]) -> dict[str, t.Any] | None:
        full, round_trip = future.result()
        self._latency += LATENCY_SMOOTHING * (round_trip - self._latency)
        return full

    def close(self) -> None:
        """Stop the worker threads."""
        self._pool.shutdown(wait=True, cancel_futures=True)


def merge_full_record(listed: dict[str, t.Any], full: dict[str, t.Any]) -> dict[str, t.Any]:
    """The listing's values, plus what only get-one has.

    The listing wins (`UpdatedOn` above all: the bookmark follows the listing's order even
    if the job changed in between); ResultData and its parsed form come from get-one;
    undeclared fields from both are kept, the listing's on a clash.
    """
    merged = {**full, **{k: v for k, v in listed.items() if k not in FROM_GET_ONE}}
    if EXTRA_FIELDS in listed:
        extra = {**(full.get(EXTRA_FIELDS) or {}), **(listed[EXTRA_FIELDS] or {})}
        merged[EXTRA_FIELDS] = extra or None
    return merged
