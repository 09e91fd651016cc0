"""Deterministic synthetic BusinessBackgroundJob records for the sandbox.

Jobs are plain dicts keyed by the documented field names. ``CreatedOn`` and ``UpdatedOn``
are kept as timezone-aware UTC datetimes internally and only turned into
``YYYY-MM-DDTHH:MM:SSZ`` strings by :func:`render_job`, so filters compare real instants.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from itertools import accumulate
from operator import itemgetter
from typing import Any, TypeVar

Job = dict[str, Any]

#: Every field of the entity, in the order the get-one endpoint documents them.
FIELDS: tuple[str, ...] = (
    "BusinessId",
    "BusinessName",
    "UserId",
    "UserFullName",
    "UserEmail",
    "JobId",
    "Description",
    "Files",
    "Status",
    "ResultData",
    "Id",
    "UpdatedOn",
    "CreatedOn",
    "UniqueId",
    "UpdatedBy",
    "IsNew",
    "SystemId",
    "ToStringText",
    "LocalizationDetails",
    "CustomFields",
)
TIMESTAMP_FIELDS: tuple[str, ...] = ("UpdatedOn", "CreatedOn")

#: Fixed end of the generated history: data must not depend on the wall clock.
ANCHOR = datetime(2026, 6, 30, tzinfo=timezone.utc)
#: CreatedOn values are spread over this span before the anchor.
HISTORY = timedelta(days=730)
#: The newest burst starts this long before the anchor, so UpdatedOn never passes it.
NEWEST_GAP = timedelta(hours=5)
FIRST_ID = 100001

BUSINESSES: tuple[tuple[int, str], ...] = (
    (1001, "Canary Wharf"),
    (1002, "Shoreditch"),
    (1003, "Manchester"),
    (1004, "Berlin Mitte"),
)
ADMINS: tuple[tuple[int, str, str], ...] = (
    (2001, "Alice Morgan", "alice.morgan@example.com"),
    (2002, "Ben Okafor", "ben.okafor@example.com"),
    (2003, "Chloe Schmidt", "chloe.schmidt@example.com"),
    (2004, "Dev Patel", "dev.patel@example.com"),
    (2005, "Ewa Nowak", "ewa.nowak@example.com"),
)
STATUSES: tuple[str, ...] = ("Completed", "Failed", "Cancelled", "Running", "Queued")
STATUS_WEIGHTS: tuple[int, ...] = (86, 7, 3, 2, 2)
#: ``choices(..., cum_weights=...)`` draws exactly what ``weights=`` does, minus the sums.
_STATUS_CUM_WEIGHTS: tuple[int, ...] = tuple(accumulate(STATUS_WEIGHTS))
#: Statuses whose jobs have produced ResultData.
FINISHED_STATUSES = frozenset({"Completed", "Failed"})

_FAILURE_MESSAGES: tuple[str, ...] = (
    "Row 14: invalid email address",
    "Row 3: unknown tariff 'Hot desk plus'",
    "Column 'Email' is missing",
    "Booking overlaps an existing booking",
)
_PLAIN_TEXT_FAILURES: tuple[str, ...] = (
    "Timeout while processing file",
    "The import file could not be read.",
)
#: json.dumps of each failure message, so ResultData can be formatted without the encoder.
_ENCODED_FAILURE_MESSAGES: dict[str, str] = {text: json.dumps(text) for text in _FAILURE_MESSAGES}
#: Bits of a GUID that ``uuid.UUID(int=..., version=4)`` clears, then the bits it sets.
_GUID_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_GUID_SET = (0x8000 << 48) | (4 << 76)
_SECONDS: tuple[timedelta, ...] = tuple(timedelta(seconds=second) for second in range(60))
_ONE_SECOND = timedelta(seconds=1)

_T = TypeVar("_T")

# Generating 100k+ jobs spends most of its time in random's Python-level helpers. These
# draw exactly what ``randint``/``randrange``/``choice`` draw (CPython: ``_randbelow`` from
# ``getrandbits``), so generated data is unchanged; tests pin that against the originals.


def _below(rng: random.Random, n: int) -> int:
    """``rng.randrange(n)`` for ``n > 0``."""
    bits = n.bit_length()
    value = rng.getrandbits(bits)
    while value >= n:
        value = rng.getrandbits(bits)
    return value


def _randint(rng: random.Random, low: int, high: int) -> int:
    """``rng.randint(low, high)``."""
    return low + _below(rng, high - low + 1)


def _choice(rng: random.Random, items: Sequence[_T]) -> _T:
    """``rng.choice(items)`` for a non-empty sequence."""
    return items[_below(rng, len(items))]


def _status(rng: random.Random) -> str:
    """``rng.choices(STATUSES, weights=STATUS_WEIGHTS)[0]``."""
    return rng.choices(STATUSES, cum_weights=_STATUS_CUM_WEIGHTS)[0]


def format_timestamp(value: datetime) -> str:
    """Render an aware datetime the way the API does: UTC, whole seconds, trailing Z."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


#: .NET ticks (100 ns) in a second: the live API writes 7 fractional digits.
TICKS_PER_SECOND = 10_000_000
#: Scale of the Id -> fraction curve: Ids near it get fractions near .5.
_TICK_SCALE = 100_000


def id_ticks(job_id: int) -> int:
    """The sub-second ticks "ticks" timestamps carry for job ``job_id``.

    Never decreasing in Id and below a second, so rendered values sort exactly as the
    server sorts the whole seconds it stores (ties by Id); the same for every version.
    """
    return TICKS_PER_SECOND * job_id // (job_id + _TICK_SCALE)


def render_timestamp(seconds_z: str, job_id: int, fmt: str) -> str:
    """Re-render a ``YYYY-MM-DDTHH:MM:SSZ`` value in ``timestamp_format`` ``fmt``."""
    if fmt == "seconds":
        return seconds_z
    if fmt == "slashed":  # .NET's en-US DateTime.ToString(): month first, no zone
        return f"{seconds_z[5:7]}/{seconds_z[8:10]}/{seconds_z[:4]} {seconds_z[11:19]}"
    rendered = f"{seconds_z[:19]}.{id_ticks(job_id):07d}"
    return rendered + "Z" if fmt == "ticks" else rendered


def restyle_timestamps(records: list[dict[str, Any]], fmt: str) -> None:
    """Write UpdatedOn/CreatedOn of rendered jobs in ``timestamp_format`` ``fmt``."""
    if fmt == "seconds":
        return
    for record in records:
        for name in TIMESTAMP_FIELDS:
            value = record.get(name)
            if isinstance(value, str):
                record[name] = render_timestamp(value, int(record["Id"]), fmt)


def render_job(job: Job, *, summary: bool = False) -> dict[str, Any]:
    """Return the JSON-ready form of ``job``; ``summary`` blanks ResultData like the listing."""
    rendered: dict[str, Any] = {name: job.get(name) for name in FIELDS}
    for name in TIMESTAMP_FIELDS:
        value = rendered[name]
        if isinstance(value, datetime):
            rendered[name] = format_timestamp(value)
    if summary:
        rendered["ResultData"] = None
    return rendered


def seeded_rng(seed: int | str) -> random.Random:
    """A reproducible generator for synthetic data (never used for secrets)."""
    return random.Random(seed)  # noqa: S311 - determinism is the point; tokens use secrets


def make_guid(rng: random.Random) -> str:
    """A version-4 GUID drawn from ``rng`` so it is reproducible.

    Same text as ``str(uuid.UUID(int=rng.getrandbits(128), version=4))``, built directly.
    """
    digits = f"{(rng.getrandbits(128) & _GUID_CLEAR) | _GUID_SET:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def result_data_for(status: str, processed: int, rng: random.Random) -> str | None:
    """ResultData text for a job in ``status``: JSON mostly, plain text for some failures."""
    # Formatted by hand (the same text json.dumps gives): this runs for every generated job.
    if status == "Completed":
        return f'{{"processed": {processed}, "errors": 0}}'
    if status == "Failed":
        # The format is undocumented; some plain text keeps consumers from parsing it.
        if rng.random() < 0.3:
            return _choice(rng, _PLAIN_TEXT_FAILURES)
        errors = _randint(rng, 1, max(1, processed))
        message = _ENCODED_FAILURE_MESSAGES[_choice(rng, _FAILURE_MESSAGES)]
        return f'{{"processed": {processed}, "errors": {errors}, "message": {message}}}'
    return None


def _operation(rng: random.Random, created: datetime) -> tuple[str, str | None, int]:
    """Pick a realistic (Description, Files, record count) for a job created at ``created``."""
    month = f"{created.year:04d}-{created.month:02d}"  # strftime("%Y-%m"), faster
    count = _randint(rng, 1, 400)
    kind = _below(rng, 7)
    if kind == 0:
        name = f"members_{month}.csv"
        return f"Import members from {name}", name, count
    if kind == 1:
        return "Import products", f"products_{month}.xlsx", count
    if kind == 2:
        name = f"bookings_{month}-{created.day:02d}.csv"
        return f"Import bookings from {name}", name, count
    if kind == 3:
        return f"Bulk edit {count} bookings", None, count
    if kind == 4:
        return f"Bulk delete {count} invoices", None, count
    if kind == 5:
        return f"Bulk edit {count} members", None, count
    name = f"contacts_{month}.csv"
    return f"Import contacts from {name}", name, count


def make_job(
    rng: random.Random,
    job_id: int,
    created: datetime,
    updated: datetime,
    *,
    business: tuple[int, str] | None = None,
    admin: tuple[int, str, str] | None = None,
    status: str | None = None,
) -> Job:
    """Build one job; unspecified business/admin/status are drawn from ``rng``."""
    business_id, business_name = business or _choice(rng, BUSINESSES)
    user_id, full_name, email = admin or _choice(rng, ADMINS)
    status = status or _status(rng)
    description, files, processed = _operation(rng, created)
    system_id = f"BG-{_below(rng, 16**5):05X}" if rng.random() < 0.3 else None
    return {
        "BusinessId": business_id,
        "BusinessName": business_name,
        "UserId": user_id,
        "UserFullName": full_name,
        "UserEmail": email,
        "JobId": make_guid(rng),
        "Description": description,
        "Files": files,
        "Status": status,
        "ResultData": result_data_for(status, processed, rng),
        "Id": job_id,
        "UpdatedOn": updated,
        "CreatedOn": created,
        "UniqueId": make_guid(rng),
        "UpdatedBy": email,
        "IsNew": False,
        "SystemId": system_id,
        "ToStringText": description,
        "LocalizationDetails": None,
        "CustomFields": None,
    }


def _processing_time(rng: random.Random) -> timedelta:
    """How long a burst took to run: seconds for most, minutes or hours for big imports."""
    roll = rng.random()
    if roll < 0.5:
        return _SECONDS[_randint(rng, 2, 59)]
    if roll < 0.85:
        return timedelta(seconds=_randint(rng, 60, 3600))
    return timedelta(seconds=_randint(rng, 3600, 4 * 3600))


def generate_jobs(count: int, seed: int) -> list[Job]:
    """Return ``count`` jobs with Ids ascending from 100001 in CreatedOn order.

    Jobs arrive alone, in small groups or in bursts (a bulk operation queues 5-60 jobs
    inside one minute, often several in the same second) and each burst finishes
    together, so both CreatedOn and UpdatedOn cluster by minute: exactly what stresses
    minute-precision filters.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    rng = seeded_rng(seed)
    minutes = int((HISTORY - NEWEST_GAP).total_seconds() // 60)
    start = ANCHOR - HISTORY
    drafts: list[Job] = []
    while len(drafts) < count:
        # Mostly lone jobs or small groups; 15% are bulk bursts of 5-60 jobs.
        size = _randint(rng, 5, 60) if rng.random() < 0.15 else _randint(rng, 1, 3)
        size = min(size, count - len(drafts))
        minute = start + timedelta(minutes=_below(rng, minutes))
        business = _choice(rng, BUSINESSES)
        admin = _choice(rng, ADMINS)
        finished = minute + _processing_time(rng)
        # Sorted draws of 0-59 repeat seconds often for big bursts (same-second ties).
        for second in sorted(_randint(rng, 0, 59) for _ in range(size)):
            created = minute + _SECONDS[second]
            status = _status(rng)
            if status in ("Queued", "Running"):
                updated = created + _SECONDS[_randint(rng, 0, 5)]
            else:
                updated = max(created + _ONE_SECOND, finished)
                updated += _SECONDS[_randint(rng, 0, 20)]
            job = make_job(rng, 0, created, updated, business=business, admin=admin, status=status)
            drafts.append(job)
    # Ids follow creation order, like an identity column; sort is stable for equal seconds.
    drafts.sort(key=itemgetter("CreatedOn"))
    for offset, job in enumerate(drafts):
        job["Id"] = FIRST_ID + offset
    return drafts
