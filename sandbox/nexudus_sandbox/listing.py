"""Pure listing logic: query parameters -> filters -> sorted page -> Nexudus envelope.

No HTTP here so the paging semantics can be unit-tested directly. Parameter names are
matched case-insensitively, as ASP.NET model binding does, and unknown ones are ignored.

:func:`list_jobs` is the general path (filter and sort everything per request).
:class:`UpdatedOnIndex` answers the query a sync makes on every page (``orderBy=UpdatedOn``
with at most an UpdatedOn range) from a sorted index in O(log n + page size), with the
same results; ``orderBy=Id`` inside an UpdatedOn range uses it to narrow the range first.
Both paths honour ``tie_seed`` (the ``shuffle_ties`` fault) through :class:`TieShuffledView`,
or any other :data:`TieOrder` (the property test's model passes its own adversarial ones).
"""

from __future__ import annotations

import bisect
import json
import math
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, overload

from nexudus_sandbox.data import FIELDS, Job, render_job
from tap_nexudus_jobs.nexudus_api import (
    DEFAULT_ORDER_FIELD,
    DEFAULT_PAGE_SIZE,
    DIR_CONVENTIONS,
    ENTITY,
    RANGE_FILTER_FIELDS,
    equality_filter,
)
from tap_nexudus_jobs.nexudus_api import EQUALITY_FILTERS as _DOCUMENTED_FILTERS

__all__ = ["DEFAULT_PAGE_SIZE", "DIR_CONVENTIONS", "ENTITY"]
#: What a ``to_`` bound includes: the whole named minute, or only up to its first instant.
TO_FILTER_MODES: tuple[str, ...] = ("minute", "instant", "ignored")
#: The smallest step past an instant: ``[start, instant + this)`` is ``<= instant``.
_JUST_AFTER = timedelta(microseconds=1)

#: Lower-cased equality filter parameter -> (entity field, value type).
EQUALITY_FILTERS: dict[str, tuple[str, type]] = {
    equality_filter(suffix).lower(): compared for suffix, compared in _DOCUMENTED_FILTERS.items()
}
#: Lower-cased date filter parameter -> (entity field, bound). "at" is the optional
#: exact-minute equality filter shown in the endpoint's examples.
DATE_FILTERS: dict[str, tuple[str, str]] = {
    f"{prefix}{ENTITY}_{field}".lower(): (field, bound)
    for field in RANGE_FILTER_FIELDS
    for prefix, bound in (("from_", "from"), ("to_", "to"), ("", "at"))
}
_FIELDS_BY_LOWER: dict[str, str] = {name.lower(): name for name in FIELDS}
_DATE_PATTERN = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?Z?")


class ListingError(ValueError):
    """A query the server rejects with HTTP 400; ``str(error)`` is the ``Message``."""


@dataclass(frozen=True)
class TimeWindow:
    """Half-open interval ``[start, end)`` on a timestamp field; None means unbounded."""

    field: str
    start: datetime | None = None
    end: datetime | None = None

    def contains(self, value: datetime | None) -> bool:
        """True when ``value`` lies in the window (a null timestamp never does)."""
        if value is None:
            return False
        if self.start is not None and value < self.start:
            return False
        return self.end is None or value < self.end


@dataclass(frozen=True)
class ListingQuery:
    """A parsed, validated listing request."""

    page: int = 1
    size: int = DEFAULT_PAGE_SIZE
    order_field: str = DEFAULT_ORDER_FIELD
    descending: bool = False
    #: The ``dir`` value echoed back as CurrentSortDirection.
    direction: int = 1
    equals: tuple[tuple[str, int | str], ...] = ()
    windows: tuple[TimeWindow, ...] = ()


def _int_or(value: str | None, default: int) -> int:
    """Lenient integer parsing: a permissive server falls back to the default."""
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


def parse_filter_timestamp(name: str, value: str) -> tuple[datetime, timedelta]:
    """Parse ``YYYY-MM-DDTHH:mm[:ss][Z]`` as UTC; return (start, precision unit).

    The unit makes the bounds inclusive at the given precision: ``to_`` 10:30 still
    matches 10:30:59 because it means "before 10:31:00".
    """
    match = _DATE_PATTERN.fullmatch(value.strip())
    if match is None:
        raise ListingError(f"The value '{value}' is not valid for {name}.")
    year, month, day, hour, minute = (int(part) for part in match.groups()[:5])
    seconds = match.group(6)
    try:
        start = datetime(year, month, day, hour, minute, int(seconds or 0), tzinfo=timezone.utc)
    except ValueError as exc:
        raise ListingError(f"The value '{value}' is not valid for {name}.") from exc
    unit = timedelta(seconds=1) if seconds is not None else timedelta(minutes=1)
    return start, unit


def _window(name: str, field: str, bound: str, value: str, to_filter: str) -> TimeWindow:
    start, unit = parse_filter_timestamp(name, value)
    if bound == "from":
        return TimeWindow(field, start=start)
    if bound == "to":
        if to_filter == "ignored":
            return TimeWindow(field)  # a server that accepts the bound and drops it
        # "instant": the value is parsed to an instant and compared with <=, LINQ style.
        return TimeWindow(field, end=start + (_JUST_AFTER if to_filter == "instant" else unit))
    return TimeWindow(field, start=start, end=start + unit)


def parse_listing_query(
    params: Mapping[str, str],
    *,
    max_page_size: int = 1000,
    dir_convention: str = "1/-1",
    to_filter: str = "minute",
    descends: Callable[[int], bool] | None = None,
) -> ListingQuery:
    """Turn raw query parameters into a :class:`ListingQuery`.

    ``size`` is silently capped at ``max_page_size``. Only the convention's descending
    ``dir`` value sorts descending; any other value sorts ascending, as a server that
    tests ``dir == Descending`` would, which is why the tap must verify the order.
    ``to_filter`` (see ``TO_FILTER_MODES``) decides whether ``to_`` 10:30 includes
    10:30:59 ("minute"), stops at 10:30:00 ("instant") or is dropped ("ignored", a broken
    server the tap must notice); the exact-minute filter keeps
    minute precision either way. ``descends`` (a test's adversarial server) replaces the
    convention's rule for which ``dir`` values sort descending.
    Raises :class:`ListingError` for malformed dates or non-integer id filters.
    """
    if to_filter not in TO_FILTER_MODES:
        raise ValueError(f"to_filter must be one of {list(TO_FILTER_MODES)}")
    ascending_value, descending_value = DIR_CONVENTIONS[dir_convention]
    lowered = {key.lower(): value for key, value in params.items()}

    page = max(1, _int_or(lowered.get("page"), 1))
    size = _int_or(lowered.get("size"), DEFAULT_PAGE_SIZE)
    size = min(size if size > 0 else DEFAULT_PAGE_SIZE, max_page_size)
    order_field = _FIELDS_BY_LOWER.get(
        (lowered.get("orderby") or "").strip().lower(), DEFAULT_ORDER_FIELD
    )
    direction = _int_or(lowered.get("dir"), ascending_value)

    equals: list[tuple[str, int | str]] = []
    windows: list[TimeWindow] = []
    for name, value in params.items():
        key = name.lower()
        if value == "":
            continue  # ASP.NET binds an empty value to null: no filter.
        if key in EQUALITY_FILTERS:
            field, kind = EQUALITY_FILTERS[key]
            if kind is int:
                try:
                    equals.append((field, int(value)))
                except ValueError as exc:
                    raise ListingError(f"The value '{value}' is not valid for {name}.") from exc
            else:
                equals.append((field, value))
        elif key in DATE_FILTERS:
            field, bound = DATE_FILTERS[key]
            windows.append(_window(name, field, bound, value, to_filter))

    return ListingQuery(
        page=page,
        size=size,
        order_field=order_field,
        descending=descends(direction) if descends else direction == descending_value,
        direction=direction,
        equals=tuple(equals),
        windows=tuple(windows),
    )


def matches(job: Job, query: ListingQuery) -> bool:
    """True when ``job`` passes every filter (strings compare case-insensitively)."""
    for field, wanted in query.equals:
        actual = job.get(field)
        if isinstance(wanted, str):
            if not isinstance(actual, str) or actual.casefold() != wanted.casefold():
                return False
        elif actual != wanted:
            return False
    return all(window.contains(job.get(window.field)) for window in query.windows)


def _value_key(value: Any) -> tuple[int, Any]:
    """Sort key for one value: nulls first (as SQL Server sorts ascending), text ignoring case."""
    if value is None:
        return (0, 0)
    if isinstance(value, str):
        return (1, value.casefold())
    if isinstance(value, (dict, list)):
        return (1, json.dumps(value, sort_keys=True))
    return (1, value)


def sort_key(field: str) -> Callable[[Job], tuple[tuple[int, Any], int]]:
    """Key ordering by ``field`` then Id, so equal values still sort deterministically."""

    def key(job: Job) -> tuple[tuple[int, Any], int]:
        return (_value_key(job.get(field)), int(job["Id"]))

    return key


def select_jobs(jobs: Iterable[Job], query: ListingQuery) -> list[Job]:
    """Filter then sort; descending is the exact reverse of ascending (ties by Id too)."""
    selected = [job for job in jobs if matches(job, query)]
    selected.sort(key=sort_key(query.order_field), reverse=query.descending)
    return selected


class TieShuffledView(Sequence[Job]):
    """``selected`` with every run of equal ``field`` values in a seeded-random order.

    Only the runs a read touches are materialised and shuffled (a page costs the page
    plus the tie runs it cuts), so it also wraps an :class:`IndexView` cheaply. Each run
    is shuffled by ``seed`` and its position, so one request reads one consistent order
    and another ``seed`` (the next request) reads another.
    """

    def __init__(self, selected: Sequence[Job], field: str, seed: str) -> None:
        self._selected = selected
        self._field = field
        self._seed = seed

    def __len__(self) -> int:
        return len(self._selected)

    def _value(self, position: int) -> tuple[int, Any]:
        return _value_key(self._selected[position].get(self._field))

    def _block(self, start: int, stop: int) -> list[Job]:
        """Positions ``start..stop`` (``0 <= start < stop <= len``), ties shuffled."""
        lo, hi = start, stop
        first, last = self._value(lo), self._value(hi - 1)
        while lo > 0 and self._value(lo - 1) == first:
            lo -= 1
        while hi < len(self) and self._value(hi) == last:
            hi += 1
        block = list(self._selected[lo:hi])
        values = [_value_key(job.get(self._field)) for job in block]
        shuffled: list[Job] = []
        run_start = 0
        for end in range(1, len(block) + 1):
            if end < len(block) and values[end] == values[run_start]:
                continue
            run = block[run_start:end]
            if len(run) > 1:
                random.Random(f"{self._seed}:{lo + run_start}").shuffle(run)  # noqa: S311
            shuffled.extend(run)
            run_start = end
        return shuffled[start - lo : stop - lo]

    @overload
    def __getitem__(self, item: int) -> Job: ...

    @overload
    def __getitem__(self, item: slice) -> list[Job]: ...

    def __getitem__(self, item: int | slice) -> Job | list[Job]:
        if isinstance(item, slice):
            start, stop, step = item.indices(len(self))
            if step != 1:
                return [self[position] for position in range(start, stop, step)]
            return self._block(start, stop) if start < stop else []
        position = item + len(self) if item < 0 else item
        if not 0 <= position < len(self):
            raise IndexError("index out of range")
        return self._block(position, position + 1)[0]

    def __iter__(self) -> Iterator[Job]:
        return iter(self[:])


#: Serves ``selected`` (sorted by the query's field then Id) with ties in another order.
TieOrder = Callable[[Sequence[Job], ListingQuery], Sequence[Job]]


def seeded_ties(seed: str) -> TieOrder:
    """The ``shuffle_ties`` fault: each run of ties in an order seeded by ``seed``."""
    return lambda selected, query: TieShuffledView(selected, query.order_field, seed)


def _shuffled_ties(
    selected: Sequence[Job], query: ListingQuery, tie_seed: str | None, ties: TieOrder | None
) -> Sequence[Job]:
    # Id is unique, so ordering by it has no ties to shuffle: it stays stable.
    if ties is None and tie_seed is not None:
        ties = seeded_ties(tie_seed)
    if ties is None or query.order_field == "Id":
        return selected
    return ties(selected, query)


def build_envelope(selected: Sequence[Job], query: ListingQuery) -> dict[str, Any]:
    """Slice the requested page out of ``selected`` and wrap it in the list envelope.

    Page counters follow the PagedList convention the documented envelope mirrors: a page
    outside 1..TotalPages has no records, FirstItem/LastItem 0 and no next/previous page.
    """
    total = len(selected)
    total_pages = math.ceil(total / query.size)
    in_range = 1 <= query.page <= total_pages
    offset = (query.page - 1) * query.size
    page_jobs = selected[offset : offset + query.size] if in_range else []
    return {
        "Records": [render_job(job, summary=True) for job in page_jobs],
        "CurrentPage": query.page,
        "CurrentPageSize": query.size,
        "CurrentOrderField": query.order_field,
        "CurrentSortDirection": query.direction,
        "FirstItem": offset + 1 if in_range else 0,
        "LastItem": min(offset + query.size, total) if in_range else 0,
        "TotalItems": total,
        "TotalPages": total_pages,
        "HasNextPage": in_range and query.page < total_pages,
        "HasPreviousPage": in_range and query.page > 1,
    }


def list_jobs(
    jobs: Iterable[Job],
    query: ListingQuery,
    *,
    tie_seed: str | None = None,
    ties: TieOrder | None = None,
) -> dict[str, Any]:
    """The whole listing: filter, sort, page and envelope.

    ``tie_seed`` (None: ties ordered by Id) shuffles equal sort values, seeded by it;
    ``ties``, when given, orders them instead.
    """
    selected = _shuffled_ties(select_jobs(jobs, query), query, tie_seed, ties)
    return build_envelope(selected, query)


# -- the UpdatedOn index -----------------------------------------------------------------

INDEXED_FIELD = "UpdatedOn"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)
#: Instant of a null UpdatedOn: below every real one, as nulls sort first; also the
#: lowest Id, so ``(instant, _LOWEST)`` sorts before every entry at that instant.
_NULL_INSTANT = _LOWEST = -(1 << 100)

#: One index entry: (UpdatedOn in integer microseconds since the epoch, Id).
IndexEntry = tuple[int, int]


class StaleIndexError(RuntimeError):
    """The index no longer matches the jobs (they were changed behind its back)."""


def _instant(value: object) -> int:
    """Exact integer microseconds of an aware datetime; orders exactly as the datetimes do.

    Raises TypeError for anything else (naive datetimes, strings), which the index
    cannot order like the general path, so it then steps aside.
    """
    if value is None:
        return _NULL_INSTANT
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise TypeError(f"cannot index UpdatedOn value {value!r}")
    return (value - _EPOCH) // _MICROSECOND


def _entry(job: Job) -> IndexEntry:
    return (_instant(job.get(INDEXED_FIELD)), int(job["Id"]))


def uses_index(query: ListingQuery) -> bool:
    """True for the sync's queries, filtered by UpdatedOn ranges only.

    Ordered by UpdatedOn; or by Id inside an UpdatedOn range (a crowded minute read by
    Id), where the index narrows the range and only its jobs are sorted.
    """
    if query.equals or any(window.field != INDEXED_FIELD for window in query.windows):
        return False
    return query.order_field == INDEXED_FIELD or (query.order_field == "Id" and bool(query.windows))


class IndexView(Sequence[Job]):
    """Positions ``lo..hi`` of the index, read ascending or descending, as jobs.

    Behaves like the list :func:`select_jobs` would return, for :func:`build_envelope`;
    every job read is checked against its entry, raising :class:`StaleIndexError`.
    """

    def __init__(
        self,
        entries: list[IndexEntry],
        jobs: Mapping[int, Job],
        lo: int,
        hi: int,
        descending: bool,
    ) -> None:
        self._entries = entries
        self._jobs = jobs
        self._lo = lo
        self._hi = max(lo, hi)
        self._descending = descending

    def __len__(self) -> int:
        return self._hi - self._lo

    def _job(self, position: int) -> Job:
        index = self._hi - 1 - position if self._descending else self._lo + position
        entry = self._entries[index]
        job = self._jobs.get(entry[1])
        try:
            current = _entry(job) if job is not None else None
        except TypeError:
            current = None
        if job is None or current != entry:
            raise StaleIndexError(f"index entry {entry} does not match the served job")
        return job

    @overload
    def __getitem__(self, item: int) -> Job: ...

    @overload
    def __getitem__(self, item: slice) -> list[Job]: ...

    def __getitem__(self, item: int | slice) -> Job | list[Job]:
        if isinstance(item, slice):
            return [self._job(position) for position in range(*item.indices(len(self)))]
        position = item + len(self) if item < 0 else item
        if not 0 <= position < len(self):
            raise IndexError("index out of range")
        return self._job(position)

    def __iter__(self) -> Iterator[Job]:
        return (self._job(position) for position in range(len(self)))


class UpdatedOnIndex:
    """Jobs sorted by (UpdatedOn, Id), kept up to date by the sandbox's data methods.

    Not thread-safe: call it under the lock that guards the jobs. ``moved``/``added``/
    ``removed`` keep it current in O(n) memmove per job (cheap: one list of int pairs);
    big batches, :meth:`invalidate`, a different or resized jobs mapping, or a stale
    entry met while reading a page make the next :meth:`select` rebuild it.
    """

    #: A batch larger than this (and than 1/64 of the index) triggers a rebuild instead.
    INCREMENTAL_BATCH = 256

    def __init__(self) -> None:
        self._entries: list[IndexEntry] = []
        self._by_id: dict[int, IndexEntry] = {}
        self._source: Mapping[int, Job] | None = None
        self._dirty = True
        #: How many selects the index answered, and how many rebuilds it made.
        self.hits = 0
        self.rebuilds = 0

    def invalidate(self) -> None:
        """Rebuild before the next select (after changing jobs without moved/added/removed)."""
        self._dirty = True

    def _too_big(self, count: int) -> bool:
        return count > max(self.INCREMENTAL_BATCH, len(self._entries) // 64)

    def _insert(self, entry: IndexEntry) -> None:
        bisect.insort(self._entries, entry)
        self._by_id[entry[1]] = entry

    def _delete(self, job_id: int) -> None:
        entry = self._by_id.pop(job_id, None)
        if entry is None:
            return
        position = bisect.bisect_left(self._entries, entry)
        if position < len(self._entries) and self._entries[position] == entry:
            del self._entries[position]
        else:
            self._dirty = True

    def moved(self, jobs: Sequence[Job]) -> None:
        """Jobs whose UpdatedOn may have changed."""
        if self._dirty or self._too_big(len(jobs)):
            self._dirty = True
            return
        try:
            for job in jobs:
                entry = _entry(job)
                if self._by_id.get(entry[1]) != entry:
                    self._delete(entry[1])
                    self._insert(entry)
        except TypeError:
            self._dirty = True

    def added(self, jobs: Sequence[Job]) -> None:
        """Jobs newly added to the mapping."""
        self.moved(jobs)

    def removed(self, job_ids: Iterable[int]) -> None:
        """Ids no longer in the mapping (unknown ones are ignored)."""
        if self._dirty:
            return
        wanted = list(job_ids)
        if self._too_big(len(wanted)):
            self._dirty = True
            return
        for job_id in wanted:
            self._delete(job_id)

    def _ensure(self, jobs: Mapping[int, Job]) -> bool:
        if not self._dirty and jobs is self._source and len(self._by_id) == len(jobs):
            return True
        try:
            by_id = {job_id: _entry(job) for job_id, job in jobs.items()}
        except TypeError:
            return False  # not orderable like the general path: stay dirty, step aside
        if any(entry[1] != job_id for job_id, entry in by_id.items()):
            return False  # mapping not keyed by Id
        self._by_id = by_id
        self._entries = sorted(by_id.values())
        self._source = jobs
        self._dirty = False
        self.rebuilds += 1
        return True

    def select(self, jobs: Mapping[int, Job], query: ListingQuery) -> IndexView | None:
        """The jobs ``select_jobs(jobs.values(), query)`` returns, or None if the index can't.

        In UpdatedOn order (ascending unless the query sorts UpdatedOn descending), so a
        query ordered by Id still needs sorting. None when the query is not an indexed
        one (see :func:`uses_index`) or the jobs cannot be indexed: use the general path.
        """
        if not uses_index(query) or not self._ensure(jobs):
            return None
        lo, hi = 0, len(self._entries)
        if query.windows:
            starts = [w.start for w in query.windows if w.start is not None]
            ends = [w.end for w in query.windows if w.end is not None]
            # Any window excludes null UpdatedOn, which sort first.
            low = _instant(max(starts)) if starts else _NULL_INSTANT + 1
            lo = bisect.bisect_left(self._entries, (low, _LOWEST))
            if ends:
                hi = bisect.bisect_left(self._entries, (_instant(min(ends)), _LOWEST))
        self.hits += 1
        descending = query.descending and query.order_field == INDEXED_FIELD
        return IndexView(self._entries, jobs, lo, hi, descending)


def list_jobs_indexed(
    jobs: Mapping[int, Job],
    query: ListingQuery,
    index: UpdatedOnIndex,
    *,
    tie_seed: str | None = None,
) -> dict[str, Any]:
    """:func:`list_jobs` over ``jobs.values()``, through ``index`` whenever it applies."""
    for _attempt in range(2):
        selected: Sequence[Job] | None = index.select(jobs, query)
        if selected is None:
            break
        try:
            if query.order_field != INDEXED_FIELD:
                selected = sorted(
                    selected, key=sort_key(query.order_field), reverse=query.descending
                )
            return build_envelope(_shuffled_ties(selected, query, tie_seed, None), query)
        except StaleIndexError:
            index.invalidate()
    return list_jobs(jobs.values(), query, tie_seed=tie_seed)
