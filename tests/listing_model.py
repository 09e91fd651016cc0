"""An in-memory Nexudus listing that is as unhelpful as the documentation allows.

The property test of the listing walk (tests/test_listing_contract.py) runs the walk
against this model. Everything the Nexudus documentation leaves open is a knob here, so
the walk must be right for every answer (see ../shared/reference/nexudus-api-facts.md):

- Ties in `UpdatedOn` come back in a fresh random order on every request (SQL `ORDER BY`
  a non-unique column with page offsets promises nothing), unless `tie_order="stable"`.
- `to_..._UpdatedOn=HH:mm` means either "up to HH:mm:59" (`to_semantics="minute"`) or
  "up to HH:mm:00" (`"instant"`).
- `dir` is ascending for one value only: 1 (this endpoint's page) or 0 (another page and
  a .NET client). Other values sort descending, or ascending with `other_dirs_ascend`
  (a server that only tests `dir == Descending`).
- The clock that stamps `UpdatedOn` (the record clock) is offset from true UTC by a
  number of hours the tap cannot know; stamps are rendered with a literal `Z` anyway.
  It may jump between requests, ahead by any amount or back (`Jump`), and be put right
  again (`Correct`); true UTC, which the model hands out as a `Date` header would, does
  not jump.
- The maximum `size` is unknown: `max_page_size` caps every page silently.

Between requests the model applies scheduled updates (a job gets `UpdatedOn` = the
record clock now, many jobs may share a second, bulk updates of more than a page, new
jobs with the next Id), and it keeps every version that ever existed with the request
indices that bound its life, so a test can say exactly what existed when.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from nexudus_sandbox.data import Job
from nexudus_sandbox.listing import ListingQuery, list_jobs, parse_listing_query
from tap_nexudus_jobs.envelope import ListingEnvelope
from tap_nexudus_jobs.nexudus_api import (
    DIR_PARAM,
    ORDER_BY_PARAM,
    PAGE_PARAM,
    RANGE_FILTER_FORMAT,
    SIZE_PARAM,
    range_filter,
)
from tap_nexudus_jobs.walk import FetchedPage, PageRequest

ToSemantics = Literal["minute", "instant"]
TieOrder = Literal["shuffle", "stable"]

ORDER_FIELDS = ("UpdatedOn", "Id")


class ModelError(AssertionError):
    """The walk asked for something no Nexudus client should ask (a test failure)."""


class RequestBudgetExceeded(AssertionError):
    """The walk kept requesting past the model's hard cap: a livelock, stopped."""


@dataclass
class Version:
    """One (Id, UpdatedOn) that existed, and which requests could see it.

    `created_at` is the index (0-based, counted over the model's whole life) of the first
    request that sees this version; `replaced_at` the first that no longer does (None
    while it is current). Updates happen between requests, so both are request indices.
    """

    job_id: int
    updated_on: datetime  # record clock, labelled UTC (Nexudus writes `Z` whatever it is)
    created_at: int
    replaced_at: int | None = None

    @property
    def key(self) -> tuple[int, datetime]:
        return (self.job_id, self.updated_on)

    def visible_to(self, request_index: int) -> bool:
        """True if request number `request_index` would list this version."""
        return self.created_at <= request_index and (
            self.replaced_at is None or request_index < self.replaced_at
        )

    def __str__(self) -> str:
        end = "now" if self.replaced_at is None else f"r{self.replaced_at}"
        return f"#{self.job_id}@{self.updated_on:%H:%M:%S} [r{self.created_at}..{end})"


# -- scheduled updates ------------------------------------------------------------------


@dataclass(frozen=True)
class Touch:
    """Update a few jobs now; `picks` index the jobs in Id order, modulo their count."""

    picks: tuple[int, ...]


@dataclass(frozen=True)
class Bulk:
    """Update `count` jobs: consecutive Ids (wrapping) from pick `start`, or the oldest.

    With `spread_seconds` 0 every one of them gets the same second; otherwise their stamps
    are spread over that many seconds and the record clock ends at the last one.
    `oldest` picks the least recently updated jobs from the `start`-th on (wrapping):
    jobs leaving from behind a walk's cursor, the move that shifts offset pages.
    """

    start: int
    count: int
    spread_seconds: int = 0
    oldest: bool = False


@dataclass(frozen=True)
class Create:
    """Create `count` jobs with the next Ids, stamped now."""

    count: int


@dataclass(frozen=True)
class Jump:
    """The record clock jumps `minutes` ahead (negative: back); true UTC does not."""

    minutes: int


@dataclass(frozen=True)
class Correct:
    """The record clock is put right: back at the offset from true UTC it started with."""


Operation = Touch | Bulk | Create | Jump | Correct
Batch = tuple[Operation, ...]


@dataclass
class Exchange:
    """One request and what the model answered, for the failure transcript."""

    index: int
    clock: datetime
    request: PageRequest
    served: list[tuple[int, datetime]]
    total_items: int
    has_next_page: bool
    changes_after: list[Version] = field(default_factory=list)

    def __str__(self) -> str:
        window = self.request.window
        start = "-" if window.start is None else window.start.strftime(RANGE_FILTER_FORMAT)
        end = "-" if window.end is None else window.end.strftime(RANGE_FILTER_FORMAT)
        served = " ".join(f"{job_id}@{stamp:%H:%M:%S}" for job_id, stamp in self.served)
        size = "" if self.request.size is None else f" size {self.request.size}"
        line = (
            f"r{self.index} clock {self.clock:%H:%M:%S} [{start} .. {end}] "
            f"page {self.request.page}{size} "
            f"dir {self.request.direction} {self.request.order_by}: "
            f"total {self.total_items} next {self.has_next_page} -> [{served}]"
        )
        if self.changes_after:
            changes = " ".join(f"{v.job_id}@{v.updated_on:%H:%M:%S}" for v in self.changes_after)
            line += f"\n      then updated: {changes}"
        return line


def default_clock_step(rng: random.Random) -> int:
    """Seconds the record clock moves before a request: 0-40, often 0 (ties)."""
    return rng.choice((0, 0, 1, rng.randint(0, 40)))


class ListingModel:
    """The BusinessBackgroundJob listing of one account, answering `PageRequest`s."""

    def __init__(
        self,
        jobs: Mapping[int, datetime],
        *,
        page_size: int,
        clock: datetime,
        rng: random.Random,
        to_semantics: ToSemantics = "minute",
        ascending_dir: int = 1,
        other_dirs_ascend: bool = False,
        tie_order: TieOrder = "shuffle",
        clock_offset: timedelta = timedelta(0),
        clock_step: Callable[[random.Random], int] = default_clock_step,
        max_page_size: int | None = None,
        max_requests: int = 100_000,
    ) -> None:
        """`jobs` maps Id to UpdatedOn at whole seconds, on the record clock (`clock` now).

        `page_size` is the `size` the tap sends unless a request names its own.
        """
        if page_size < 1 or (max_page_size is not None and max_page_size < 1):
            raise ValueError("page sizes must be at least 1")
        for stamp in jobs.values():
            if stamp.microsecond or stamp > clock:
                raise ValueError(f"job stamp {stamp} is not a whole second at or before {clock}")
        self.page_size = page_size
        self.max_page_size = max_page_size
        self.clock = clock
        self.clock_offset = clock_offset
        self.first_offset = clock_offset
        self.rng = rng
        self.to_semantics: ToSemantics = to_semantics
        self.ascending_dir = ascending_dir
        self.other_dirs_ascend = other_dirs_ascend
        self.tie_order: TieOrder = tie_order
        self.clock_step = clock_step
        self.max_requests = max_requests
        self.history: list[Version] = []
        self.current: dict[int, Version] = {}
        self._by_key: dict[tuple[int, datetime], Version] = {}
        self.exchanges: list[Exchange] = []
        self._schedule: list[Batch] = []
        self._schedule_from = 0
        for job_id, stamp in sorted(jobs.items()):
            self._new_version(job_id, stamp, created_at=0)

    # -- what the walk sees ------------------------------------------------------------

    @property
    def request_count(self) -> int:
        """Requests answered so far (the index the next one will get)."""
        return len(self.exchanges)

    @property
    def true_utc(self) -> datetime:
        """True UTC now; only the record clock is visible to the walk, through stamps."""
        return self.clock - self.clock_offset

    def fetch(self, request: PageRequest) -> FetchedPage:
        """Answer one listing request as Nexudus would, then apply the updates due."""
        index = self.request_count
        if index >= self.max_requests:
            msg = f"the walk sent {index} requests (cap {self.max_requests}): livelock?"
            raise RequestBudgetExceeded(msg)
        self._check(request)
        self.clock += timedelta(seconds=self.clock_step(self.rng))
        answer = self._answer(request)
        served = [self.current[record["Id"]].key for record in answer["Records"]]
        exchange = Exchange(
            index, self.clock, request, served, answer["TotalItems"], answer["HasNextPage"]
        )
        self.exchanges.append(exchange)
        batch_number = index - self._schedule_from
        if 0 <= batch_number < len(self._schedule):
            exchange.changes_after = self.apply(self._schedule[batch_number])
        return FetchedPage(envelope_of(answer))

    def _check(self, request: PageRequest) -> None:
        if request.page < 1:
            raise ModelError(f"page {request.page} requested; Nexudus pages start at 1")
        if request.size is not None and request.size < 1:
            raise ModelError(f"size={request.size} requested")
        if request.order_by not in ORDER_FIELDS:
            raise ModelError(f"orderBy={request.order_by!r} requested; expected {ORDER_FIELDS}")
        for bound in (request.window.start, request.window.end):
            if bound is not None and bound.tzinfo is None:
                raise ModelError(f"naive window bound {bound}: its timezone is ambiguous")

    def _answer(self, request: PageRequest) -> dict[str, Any]:
        """The sandbox's listing core answers; the model only chooses its hazards."""
        size = request.size or self.page_size
        # Stamps are whole seconds, so the core's "instant" (<= HH:mm:00) is < HH:mm:01.
        # No size cap: `max_page_size` only describes the case (the model never capped).
        query = parse_listing_query(
            query_params(request, size),
            max_page_size=size,
            to_filter=self.to_semantics,
            descends=self._descends,
        )
        jobs = [{"Id": v.job_id, "UpdatedOn": v.updated_on} for v in self.current.values()]
        return list_jobs(jobs, query, ties=self._ties)

    def _descends(self, direction: int) -> bool:
        if direction == self.ascending_dir:
            return False
        # Only the documented descending value of this convention sorts descending.
        return direction == self._descending_dir if self.other_dirs_ascend else True

    def _ties(self, selected: Sequence[Job], query: ListingQuery) -> list[Job]:
        # A fresh tie order per request: sort by Id (or randomly), then stably by stamp.
        rows = sorted(selected, key=lambda job: int(job["Id"]))
        if self.tie_order == "shuffle":
            self.rng.shuffle(rows)
        rows.sort(key=lambda job: job[query.order_field], reverse=query.descending)
        return rows

    @property
    def _descending_dir(self) -> int:
        # 1/-1 (this endpoint's page) or 0/1 (another page, a .NET client).
        return -1 if self.ascending_dir == 1 else 1

    # -- changing the data -------------------------------------------------------------

    def schedule(self, batches: Sequence[Batch]) -> None:
        """Apply `batches[i]` right after the i-th request from now (later ones: nothing)."""
        self._schedule = list(batches)
        self._schedule_from = self.request_count

    def stop_updates(self) -> None:
        """No more scheduled updates."""
        self._schedule = []

    def apply(self, batch: Iterable[Operation]) -> list[Version]:
        """Apply a batch now, stamped by the record clock; returns the new versions."""
        created: list[Version] = []
        for operation in batch:
            ids = sorted(self.current)
            if isinstance(operation, Touch):
                for pick in operation.picks:
                    created += self._touch(ids[pick % len(ids)], self.clock)
            elif isinstance(operation, Bulk):
                count = min(operation.count, len(ids))
                if operation.oldest:
                    ids.sort(key=lambda job_id: (self.current[job_id].updated_on, job_id))
                first = operation.start % len(ids)
                chosen = [ids[(first + n) % len(ids)] for n in range(count)]
                for n, job_id in enumerate(chosen):
                    offset = operation.spread_seconds * n // max(1, count - 1)
                    created += self._touch(job_id, self.clock + timedelta(seconds=offset))
                self.clock += timedelta(seconds=operation.spread_seconds)
            elif isinstance(operation, Create):
                for _ in range(operation.count):
                    created.append(self._new_version(max(ids, default=0) + 1, self.clock))
                    ids = sorted(self.current)
            else:
                shift = (
                    timedelta(minutes=operation.minutes)
                    if isinstance(operation, Jump)
                    else self.first_offset - self.clock_offset
                )
                self.clock += shift
                self.clock_offset += shift
        return created

    def _touch(self, job_id: int, stamp: datetime) -> list[Version]:
        # A second update within the same second leaves UpdatedOn as it was: to a
        # listing (and to the tap) that is the same version, so no new one is recorded.
        if self.current[job_id].updated_on == stamp:
            return []
        # After a clock jump, a write may repeat the stamp of an older version of the job:
        # to a listing that is the old version again, which the model does not track.
        if (job_id, stamp) in self._by_key:
            return []
        return [self._new_version(job_id, stamp)]

    def _new_version(
        self, job_id: int, stamp: datetime, *, created_at: int | None = None
    ) -> Version:
        # Updates are applied after request n-1 is answered: request n sees them first.
        visible_from = self.request_count if created_at is None else created_at
        previous = self.current.get(job_id)
        if previous is not None:
            previous.replaced_at = visible_from
        version = Version(job_id, stamp, visible_from)
        self.current[job_id] = version
        self.history.append(version)
        self._by_key[version.key] = version
        return version

    # -- questions a test asks ---------------------------------------------------------

    def alive_at(self, request_index: int) -> list[Version]:
        """The versions request number `request_index` would see (one per Id)."""
        return [v for v in self.history if v.visible_to(request_index)]

    def versions_of(self, job_id: int) -> list[Version]:
        """Every version the job has had, oldest first."""
        return [v for v in self.history if v.job_id == job_id]

    def version(self, key: tuple[int, datetime]) -> Version | None:
        """The version with this (Id, UpdatedOn), if it ever existed."""
        return self._by_key.get(key)

    def transcript(self, start: int = 0, end: int | None = None) -> str:
        """Requests `start..end` and their answers, one per line, for a failure report."""
        return "\n".join(str(exchange) for exchange in self.exchanges[start:end])

    def describe(self) -> str:
        """The model's settings in one line."""
        cap = "" if self.max_page_size is None else f" (server cap {self.max_page_size})"
        return (
            f"page size {self.page_size}{cap}, to={self.to_semantics}, ascending dir "
            f"{self.ascending_dir} (other values "
            f"{'ascend' if self.other_dirs_ascend else 'descend'}), ties {self.tie_order}, "
            f"record clock {self.clock:%Y-%m-%d %H:%M:%S} = UTC{offset_text(self.clock_offset)}"
        )


def offset_text(offset: timedelta) -> str:
    """`+05:30`, `-10:00`: the record clock's offset as a zone would be written."""
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def query_params(request: PageRequest, size: int) -> dict[str, str]:
    """The query string the tap sends for `request` (as TapNexudusJobsStream.listing_params).

    Bounds are rendered from their own wall-clock and the server compares them with its
    stamps as they are, so the tap must hand over bounds in the frame of the stamps it
    read; seconds are dropped by the format, as on the wire.
    """
    params = {
        PAGE_PARAM: str(request.page),
        SIZE_PARAM: str(size),
        ORDER_BY_PARAM: request.order_by,
        DIR_PARAM: str(request.direction),
    }
    for bound, value in (("from", request.window.start), ("to", request.window.end)):
        if value is not None:
            params[range_filter(bound, "UpdatedOn")] = value.strftime(RANGE_FILTER_FORMAT)
    return params


def envelope_of(answer: dict[str, Any]) -> ListingEnvelope:
    """The tap's view of the core's envelope; records keep only what the walk reads."""
    return ListingEnvelope(
        # Fresh dicts: the walk may normalise records in place.
        records=[{"Id": r["Id"], "UpdatedOn": r["UpdatedOn"]} for r in answer["Records"]],
        current_page=answer["CurrentPage"],
        has_next_page=answer["HasNextPage"],
        total_items=answer["TotalItems"],
        total_pages=answer["TotalPages"],
        order_field=answer["CurrentOrderField"],
        sort_direction=answer["CurrentSortDirection"],
    )
