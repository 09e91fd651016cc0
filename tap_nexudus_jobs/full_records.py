"""`include_result_data`: the full record of each emitted job, one get-one request each.

Jobs in `result_data_skip_statuses` (default Queued, Running) have no result yet: they
are emitted from the listing without a get-one; when they move on, their `UpdatedOn`
changes and the new version is fetched then. Any other status, an unknown one included,
is fetched.

A get-one that answers 404 (a job deleted, or briefly unavailable) leaves that version
without ResultData; STATE remembers it (`MissingResultData`, bounded), and the next runs
ask again, emitting the same version with its ResultData if it comes back.
"""

from __future__ import annotations

import math
import typing as t
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from tap_nexudus_jobs.budget import RequestBudgetSpent
from tap_nexudus_jobs.errors import NexudusResponseError
from tap_nexudus_jobs.records import EXTRA_FIELDS, RESULT_DATA, RESULT_DATA_PARSED

if t.TYPE_CHECKING:
    from collections.abc import Callable, Collection, Iterable, Iterator

    from tap_nexudus_jobs.pacing import RequestPacer

# The most get-one requests in flight at once. Pacing still decides when each leaves;
# overlapping only keeps the budget busy while earlier answers are on their way back.
MAX_OVERLAP = 4
# Weight of the newest round trip in the running latency estimate.
LATENCY_SMOOTHING = 0.3

# Jobs whose get-one answered 404 that later runs ask again, and in how many runs in all
# a job is asked: a deleted job stays deleted, a briefly unavailable one is back sooner.
MAX_MISSING_JOBS = 100
MAX_MISSING_TRIES = 5

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


@dataclass(frozen=True)
class MissingResultData:
    """A job version emitted without ResultData because its get-one answered 404."""

    job_id: int
    updated_on: str
    tries: int = 1  # get-ones that answered 404, one per run


def bounded_missing(jobs: Iterable[MissingResultData]) -> list[MissingResultData]:
    """One entry per job (the latest version), the MAX_MISSING_JOBS newest, oldest first."""
    latest: dict[int, MissingResultData] = {}
    for job in jobs:
        known = latest.get(job.job_id)
        if known is None or job.updated_on >= known.updated_on:
            latest[job.job_id] = job
    ordered = sorted(latest.values(), key=lambda job: (job.updated_on, job.job_id))
    return ordered[-MAX_MISSING_JOBS:]


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
        warn: Callable[[str], None],
        pacer: RequestPacer,
        skip_statuses: Collection[str] = (),
        missing: list[MissingResultData] | None = None,
    ) -> None:
        """`fetch_one(Id)` returns the full record (None if gone) and its round-trip time.

        `fetch_one` sends through `pacer`, which gives each get-one its turn in listing
        order; jobs whose `Status` is in `skip_statuses` are not fetched. `missing`: the
        versions earlier runs emitted without ResultData (kept up to date in place).
        """
        self._fetch_one = fetch_one
        self._normalise = normalise
        self._warn = warn
        #: Versions emitted without ResultData (get-one answered 404), for STATE.
        self.missing: list[MissingResultData] = [] if missing is None else missing
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
                # Deleted, or unavailable for a moment: keep the job, without ResultData.
                self._warn(
                    f"Job {record['Id']} answered 404 to its get-one (deleted, or briefly "
                    "unavailable): emitted without ResultData; the next run asks again"
                )
                if record.get("UpdatedOn") is not None:
                    self.missing.append(MissingResultData(record["Id"], record["UpdatedOn"]))
                completed.append(record)
                continue
            completed.append(merge_full_record(record, self._normalised(record["Id"], full)))
        return CompletedPage(completed, stop[1] if stop is not None else None)

    @property
    def get_one_share(self) -> float:
        """The share of jobs so far that needed a get-one (1.0 before any)."""
        seen = self.fetched + self.skipped
        return self.fetched / seen if seen else 1.0

    def ask_again(self) -> Iterator[dict[str, t.Any]]:
        """Get-one again for the versions earlier runs emitted without ResultData.

        Yields each version that came back, whole; `missing` keeps, as it goes (so a
        budget stop keeps the rest), the jobs still missing. A newer version is the
        listing's to deliver, with its own get-one.
        """
        pending = self.missing
        for job in list(pending):
            full, _round_trip = self._fetch_one(job.job_id)
            pending.remove(job)
            if full is None:
                if job.tries + 1 < MAX_MISSING_TRIES:
                    pending.append(replace(job, tries=job.tries + 1))
                else:
                    self._warn(
                        f"Job {job.job_id} still answers 404 to its get-one after "
                        f"{job.tries + 1} runs: left without ResultData (deleted)"
                    )
                continue
            record = self._normalised(job.job_id, full)
            if record.get("UpdatedOn") == job.updated_on:
                self.fetched += 1
                yield record

    def _normalised(self, job_id: int, full: dict[str, t.Any]) -> dict[str, t.Any]:
        try:
            return self._normalise(full)
        except ValueError as exc:
            msg = f"Nexudus get-one of job {job_id}: {exc}"
            raise NexudusResponseError(msg) from None

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
