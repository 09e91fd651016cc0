"""What Nexudus documents about the BusinessBackgroundJobs API, as data.

The one place for the API's facts (../shared/reference/nexudus-api-facts.md and the
endpoint page): paths, paging and filter parameters, the listing envelope, the `dir`
conventions, throttling statuses and the published limits. The tap and the sandbox both
read them from here, so the sandbox cannot drift from what the tap sends. What the
documentation leaves open (the record clock, tie order, which `dir` convention) is not a
fact: the walk proves it from responses, and the sandbox can play every answer.
"""

from __future__ import annotations

from http import HTTPStatus

ENTITY = "BusinessBackgroundJob"

TOKEN_PATH = "/api/token"  # noqa: S105 - a URL path, not a secret
LISTING_PATH = "/api/sys/businessbackgroundjobs"
# Get-one: LISTING_PATH/{Id}.

# Paging and order parameters; the server's defaults when a request leaves them out.
PAGE_PARAM, SIZE_PARAM, ORDER_BY_PARAM, DIR_PARAM = "page", "size", "orderBy", "dir"
DEFAULT_PAGE_SIZE = 25
DEFAULT_ORDER_FIELD = "Id"
# "size=25 (maximum=1000)" in an older version of the docs; public clients use 1000.
MAX_PAGE_SIZE = 1000

# `dir` convention -> (value meaning ascending, value meaning descending). This endpoint's
# page says 1/-1; another Nexudus page and a .NET client say 0/1. Both are possible.
DIR_CONVENTIONS: dict[str, tuple[int, int]] = {"1/-1": (1, -1), "0/1": (0, 1)}
ASCENDING_DIR_CANDIDATES: tuple[int, ...] = tuple(asc for asc, _desc in DIR_CONVENTIONS.values())

# Range filters `from_<Entity>_<Field>` / `to_<Entity>_<Field>`: inclusive, minute precision.
RANGE_FILTER_FORMAT = "%Y-%m-%dT%H:%M"
RANGE_FILTER_FIELDS = ("CreatedOn", "UpdatedOn")

# Equality filters `<Entity>_<Suffix>`: suffix -> (the record field it compares, its type).
EQUALITY_FILTERS: dict[str, tuple[str, type]] = {
    "Business": ("BusinessId", int),
    "Business_Name": ("BusinessName", str),
    "User": ("UserId", int),
    "User_FullName": ("UserFullName", str),
    "User_Email": ("UserEmail", str),
    "JobId": ("JobId", str),
    "Description": ("Description", str),
    "Files": ("Files", str),
    "Status": ("Status", str),
    "ResultData": ("ResultData", str),
}

# The envelope every Nexudus list endpoint shares.
ENVELOPE_FIELDS = (
    "Records",
    "CurrentPage",
    "CurrentPageSize",
    "CurrentOrderField",
    "CurrentSortDirection",
    "FirstItem",
    "LastItem",
    "TotalItems",
    "TotalPages",
    "HasNextPage",
    "HasPreviousPage",
)

# Over a limit: 409 Conflict "for legacy reasons", 429 seen in practice; with Retry-After.
THROTTLE_STATUSES = frozenset({HTTPStatus.CONFLICT, HTTPStatus.TOO_MANY_REQUESTS})
# Published limits for all methods (per 100 ms, minute, hour, day).
PUBLISHED_LIMITS: dict[str, int] = {
    "limit_per_100ms": 1,
    "limit_per_minute": 120,
    "limit_per_hour": 5000,
}
REQUESTS_PER_DAY = 200_000


def range_filter(bound: str, field: str) -> str:
    """`from_BusinessBackgroundJob_UpdatedOn` for ("from", "UpdatedOn")."""
    return f"{bound}_{ENTITY}_{field}"


def equality_filter(suffix: str) -> str:
    """`BusinessBackgroundJob_Status` for "Status"."""
    return f"{ENTITY}_{suffix}"
