"""Pure listing logic: query parameters -> filters -> sorted page -> Nexudus envelope.

No HTTP here so the paging semantics can be unit-tested directly. Parameter names are
matched case-insensitively, as ASP.NET model binding does, and unknown ones are ignored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from tap_nexudus_jobs.sandbox.data import FIELDS, Job, render_job

ENTITY = "BusinessBackgroundJob"
DEFAULT_PAGE_SIZE = 25
DEFAULT_ORDER_FIELD = "Id"

#: dir convention -> (value meaning ascending, value meaning descending).
DIR_CONVENTIONS: dict[str, tuple[int, int]] = {"1/-1": (1, -1), "0/1": (0, 1)}

#: Lower-cased equality filter parameter -> (entity field, value type).
EQUALITY_FILTERS: dict[str, tuple[str, type]] = {
    f"{ENTITY}_{suffix}".lower(): (field, kind)
    for suffix, field, kind in (
        ("Business", "BusinessId", int),
        ("Business_Name", "BusinessName", str),
        ("User", "UserId", int),
        ("User_FullName", "UserFullName", str),
        ("User_Email", "UserEmail", str),
        ("JobId", "JobId", str),
        ("Description", "Description", str),
        ("Files", "Files", str),
        ("Status", "Status", str),
        ("ResultData", "ResultData", str),
    )
}
#: Lower-cased date filter parameter -> (entity field, bound). "at" is the optional
#: exact-minute equality filter shown in the endpoint's examples.
DATE_FILTERS: dict[str, tuple[str, str]] = {
    f"{prefix}{ENTITY}_{field}".lower(): (field, bound)
    for field in ("CreatedOn", "UpdatedOn")
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


def _window(name: str, field: str, bound: str, value: str) -> TimeWindow:
    start, unit = parse_filter_timestamp(name, value)
    if bound == "from":
        return TimeWindow(field, start=start)
    if bound == "to":
        return TimeWindow(field, end=start + unit)
    return TimeWindow(field, start=start, end=start + unit)


def parse_listing_query(
    params: Mapping[str, str],
    *,
    max_page_size: int = 1000,
    dir_convention: str = "1/-1",
) -> ListingQuery:
    """Turn raw query parameters into a :class:`ListingQuery`.

    ``size`` is silently capped at ``max_page_size``. Only the convention's descending
    ``dir`` value sorts descending; any other value sorts ascending, as a server that
    tests ``dir == Descending`` would, which is why the tap must verify the order.
    Raises :class:`ListingError` for malformed dates or non-integer id filters.
    """
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
            windows.append(_window(name, field, bound, value))

    return ListingQuery(
        page=page,
        size=size,
        order_field=order_field,
        descending=direction == descending_value,
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


def list_jobs(jobs: Iterable[Job], query: ListingQuery) -> dict[str, Any]:
    """The whole listing: filter, sort, page and envelope."""
    return build_envelope(select_jobs(jobs, query), query)
