"""Knobs that make the sandbox misbehave the way the real API may.

The sandbox reads ``NexudusSandbox.faults`` on every request, so a test can change a knob
while a sync runs. To add a knob: add a field here, then act on it in
``server._Handler._before_response`` (which may short-circuit a response) or in the
listing route. :class:`FaultEngine` holds the state the knobs need between requests
(request numbering, the seeded dice, the sliding rate-limit windows) and decides, once per
request, which request-level fault (if any) answers it.

Per request, in this order (the first that applies wins):

1. ``scripted_statuses`` for this request number;
2. ``throttle_rate``: a spontaneous 409 + ``Retry-After: throttle_retry_after``;
3. the published limits (``limit_per_*``): 409 + ``Retry-After`` until a slot frees;
   a request that passes them consumes budget, a rejected one does not;
4. ``reset_rate``: the connection is closed without an answer;
5. ``error_rate``: 500, 502 or 503;

then, after routing, ``token_max_uses`` (401 on /api/sys calls), ``get_one_missing`` (404
on get-one) and on the listing route ``changes_every``/``changes_per_burst``,
``bulk_update_*`` and ``garbage_listing_requests`` (as ``garbage_listing_format`` says).

Knobs that change what a served answer means rather than whether one is served:
``record_clock_offset_hours`` and ``record_clock_jump_*`` (the clock that writes
UpdatedOn/CreatedOn; a jump may end, ``record_clock_jump_until``), ``stray_write_*``
(one write stamped far off, e.g. in 2099), ``timestamp_format`` (how those are written),
``date_header`` (the HTTP ``Date`` header), ``shuffle_ties`` (the order of equal sort
values), ``to_filter`` (what a ``to_`` range bound includes), ``ignore_page_by_id``
(paging by Id ignored), and ``throttle_status``/``retry_after_format`` (how throttling is
answered). ``purge_*`` deletes jobs between listing requests.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from nexudus_sandbox.knobs import (
    LIVING_GROUP,
    extra_field,
    instant,
    knob,
    number_set,
    optional_int,
    probability,
    status_script,
)
from nexudus_sandbox.listing import TO_FILTER_MODES
from tap_nexudus_jobs.nexudus_api import DIR_CONVENTIONS, PUBLISHED_LIMITS
from tap_nexudus_jobs.nexudus_api import THROTTLE_STATUSES as DOCUMENTED_THROTTLES

DirConvention = Literal["1/-1", "0/1"]
DateHeader = Literal["true", "missing", "wrong"]
ToFilter = Literal["minute", "instant", "ignored"]
TimestampFormat = Literal["seconds", "ticks", "ticks-no-z", "slashed"]
GarbageFormat = Literal["html", "json"]
RetryAfterFormat = Literal["seconds", "http-date"]

DATE_HEADER_MODES: tuple[str, ...] = ("true", "missing", "wrong")
#: "seconds" ``...:29Z`` (the documented examples), "ticks" ``...:29.5000024Z`` (7
#: fractional digits, as the live API sends), "ticks-no-z" the same without the ``Z`` (a
#: .NET DateTime of unspecified kind), "slashed" ``06/11/2026 18:12:29`` (not ISO 8601:
#: .NET's en-US ``ToString()``, month first, which no client may guess).
TIMESTAMP_FORMATS: tuple[str, ...] = ("seconds", "ticks", "ticks-no-z", "slashed")
#: What a garbage listing answer is: an HTML page, or a JSON notice without ``Records``.
GARBAGE_FORMATS: tuple[str, ...] = ("html", "json")
RETRY_AFTER_FORMATS: tuple[str, ...] = ("seconds", "http-date")
#: Throttle answers the sandbox can give: the documented statuses (nexudus_api.py).
THROTTLE_STATUSES: tuple[int, ...] = tuple(sorted(int(status) for status in DOCUMENTED_THROTTLES))
#: What ``date_header="wrong"`` adds to true UTC: a server clock (or a proxy) hours
#: ahead, so a client that closes its windows at "Date minus a minute" closes them in
#: the future, past jobs that are still changing.
WRONG_DATE_OFFSET = timedelta(hours=7)
#: Real time zones span UTC-12 to UTC+14; a day either way covers any misconfiguration.
MAX_RECORD_CLOCK_OFFSET_HOURS = 24.0
#: A jump of any size a clock can make (a century either way), daylight saving changes
#: and clocks set to the wrong day or year alike.
MAX_RECORD_CLOCK_JUMP_MINUTES = 100 * 366 * 24 * 60

#: What an answer over a limit looks like (the limit_* knobs' help).
_OVER_LIMIT = "more get 409 + Retry-After (seconds until a slot frees) and an empty body"
#: Statuses ``error_rate`` picks from (seeded).
ERROR_STATUSES: tuple[int, ...] = (500, 502, 503)

#: Names written to ``RequestLogEntry.fault``.
FAULT_LIMIT = "limit"
FAULT_THROTTLE = "throttle"
FAULT_ERROR = "error"
FAULT_RESET = "reset"
FAULT_SCRIPTED = "scripted"
FAULT_GARBAGE = "garbage"
FAULT_TOKEN_EXPIRED = "token-expired"  # noqa: S105 - a fault name, not a secret
FAULT_CHANGES = "changes"
FAULT_BULK_UPDATE = "bulk-update"
FAULT_PURGE = "purge"

_T = TypeVar("_T")


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1")


def _check_optional_positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{name} must be >= 1 or None")


@dataclass
class SandboxFaults:
    """Fault injection settings (all off by default; random ones are seeded by ``seed``)."""

    #: Sleep this long before answering every request, to mimic network round trips.
    latency_ms: float = knob(0.0, help="delay per response", metavar="MS")
    #: Meaning of ``dir``: "1/-1" (1 asc, -1 desc; this endpoint's page) or "0/1"
    #: (0 asc, 1 desc; other Nexudus docs). The documentation disagrees, so both exist.
    dir_convention: DirConvention = knob(
        "1/-1",
        help="meaning of dir: 1 asc/-1 desc (default) or 0 asc/1 desc",
        choices=tuple(DIR_CONVENTIONS),
    )
    #: Seed of every random fault. The sandbox reseeds when ``faults`` is replaced (or
    #: this field changes), so the same request sequence meets the same faults.
    seed: int = knob(0, help="seed of random faults (default 0)", metavar="N", flag="--fault-seed")
    #: Published-limit enforcement: sliding windows over all requests (token, listing,
    #: get-one), account-wide. Over any limit: 409, empty body, ``Retry-After`` = whole
    #: seconds until a slot frees (at least 1). Rejected requests consume no budget.
    limit_per_100ms: int | None = knob(
        None, help=f"allow N requests in any 100 ms; {_OVER_LIMIT}", parse=optional_int, metavar="N"
    )
    limit_per_minute: int | None = knob(
        None,
        help=f"allow N requests in any minute (x --limit-window-scale); {_OVER_LIMIT}",
        parse=optional_int,
        metavar="N",
    )
    limit_per_hour: int | None = knob(
        None,
        help=f"allow N requests in any hour (x --limit-window-scale); {_OVER_LIMIT}",
        parse=optional_int,
        metavar="N",
    )
    #: Multiplies the minute and hour windows (not the 100 ms one), to scale time down.
    limit_window_scale: float = knob(
        1.0, help="multiply the minute and hour windows by F (e.g. 0.01)", metavar="F"
    )
    #: Probability of a spontaneous 409 with ``Retry-After: throttle_retry_after``.
    throttle_rate: float = knob(
        0.0, help="answer a spontaneous throttle with probability P", parse=probability, metavar="P"
    )
    throttle_retry_after: int = knob(
        1, help="Retry-After seconds of spontaneous and scripted throttles (default 1)", metavar="S"
    )
    #: The status of every throttle answer (limits, ``throttle_rate``): 409 as documented,
    #: or 429 as a live account answered. Scripted 409s and 429s both get Retry-After.
    throttle_status: int = knob(
        409,
        help="status of every throttle answer: 409 (documented, default) or 429 (seen live)",
        choices=THROTTLE_STATUSES,
    )
    #: ``Retry-After`` as "seconds" (documented) or "http-date": the real-time instant
    #: the wait ends, rounded up to a whole second (so the wait is that many seconds or up
    #: to one more). Real time even under an injected clock: the client's wait is real.
    retry_after_format: RetryAfterFormat = knob(
        "seconds",
        help="Retry-After of throttle answers: seconds (default) or an HTTP-date",
        choices=RETRY_AFTER_FORMATS,
    )
    #: Probability of a 500/502/503 (seeded choice) with a small JSON or HTML body.
    error_rate: float = knob(
        0.0, help="answer 500/502/503 with probability P", parse=probability, metavar="P"
    )
    #: Probability that the connection is closed without any response.
    reset_rate: float = knob(
        0.0,
        help="close the connection unanswered with probability P",
        parse=probability,
        metavar="P",
    )
    #: Request number (1-based over every request the sandbox receives) -> status to
    #: answer instead: 409 gets ``Retry-After: throttle_retry_after`` and an empty body,
    #: 0 closes the connection like ``reset_rate``, anything else a ``{"Message"}`` body.
    scripted_statuses: dict[int, int] = knob(
        factory=dict,
        help="answer request N (1-based over all requests) with STATUS; 0 closes the connection",
        parse=status_script,
        metavar="N:STATUS,...",
    )
    #: Listing request numbers (as passed to ``on_listing_request``) answered with
    #: HTTP 200, ``Content-Type: text/html`` and an HTML error page.
    garbage_listing_requests: frozenset[int] = knob(
        frozenset(),
        help="answer these listing requests (1-based) with 200 and an HTML page, e.g. 3,7",
        parse=number_set,
        metavar="N,...",
    )
    #: What those answers are: "html" (a proxy's error page) or "json" (a notice such as
    #: ``{"Message": "The service is being updated"}``: JSON, but not a listing).
    garbage_listing_format: GarbageFormat = knob(
        "html",
        help="garbage listing answers: an HTML page (default) or a JSON notice without Records",
        choices=GARBAGE_FORMATS,
    )
    #: Job Ids whose get-one answers 404 while the listing still shows them (a job briefly
    #: unavailable, or deleted between a client's listing and its get-one).
    get_one_missing: frozenset[int] = knob(
        frozenset(),
        help="answer get-one for these job Ids with 404, e.g. 100003,100007",
        parse=number_set,
        metavar="ID,...",
    )
    #: Each issued access token (never the static token) is refused with 401 after this
    #: many authorized requests, as an expired one would be.
    token_max_uses: int | None = knob(
        None,
        help="refuse an issued access token with 401 after N authorized requests",
        parse=optional_int,
        metavar="N",
    )
    #: Before listing requests number 2, 2 + k, 2 + 2k, ... (k = ``changes_every``), touch
    #: ``changes_per_burst`` seeded-random jobs (UpdatedOn = now): jobs changing mid-sync.
    changes_every: int = knob(
        0,
        help="before listing requests 2, 2+K, ... touch --changes-per-burst random jobs",
        metavar="K",
    )
    changes_per_burst: int = knob(0, help="jobs each --changes-every burst updates", metavar="M")
    #: Hours the clock that writes ``UpdatedOn``/``CreatedOn`` is ahead of true UTC (a
    #: negative value: behind), still labelled ``Z``: a business at UTC-5 whose local
    #: wall-clock time is stored as if it were UTC is -5. It stamps every change whose
    #: time the sandbox picks (``touch``/``add_jobs`` without ``at``, ``changes_*``,
    #: ``bulk_update_*``); the ``Date`` header stays true UTC, and range filters compare
    #: against the stored values as they are (the server's own clock space).
    record_clock_offset_hours: float = knob(
        0.0,
        help="stamp changes and new jobs with true UTC + H hours, still labelled Z",
        metavar="H",
    )
    #: From this true-UTC instant on (aware datetime; the sandbox's clock, which tests can
    #: inject), the record clock is ``record_clock_jump_minutes`` further ahead (negative:
    #: behind). Daylight saving time at a business whose local time is stamped ``Z``:
    #: offset 1 h and a jump of -60 at the end of summer time (fall-back), a jump of +60
    #: in spring. Both or neither. An ISO 8601 string with ``Z`` or an offset is accepted.
    record_clock_jump_at: datetime | None = knob(
        None,
        help="from this true-UTC instant on, the record clock is --record-clock-jump-minutes "
        "further ahead (a daylight saving change)",
        parse=instant,
        metavar="ISO",
    )
    record_clock_jump_minutes: int = knob(
        0,
        help="minutes the record clock jumps: -60 falls back an hour, 60 springs forward",
        metavar="N",
    )
    #: From this true-UTC instant on, the jump is over: the record clock is back where it
    #: was before ``record_clock_jump_at`` (a clock that ran ahead and was corrected, or
    #: ran behind and was put right). None: the jump lasts. Needs the jump knobs.
    record_clock_jump_until: datetime | None = knob(
        None,
        help="from this true-UTC instant on, the record clock jump is over (corrected)",
        parse=instant,
        metavar="ISO",
    )
    #: One write under a broken clock: the first job the sandbox stamps at or after the
    #: true-UTC instant ``stray_write_at`` (``touch``/``add_jobs`` without ``at``,
    #: ``changes_*``, ``bulk_update_*``) gets UpdatedOn ``stray_write_stamp`` instead of
    #: the record clock's now, e.g. 2099-01-01. Once per sandbox; both or neither.
    stray_write_at: datetime | None = knob(
        None,
        help="the first write at or after this true-UTC instant is stamped --stray-write-stamp",
        parse=instant,
        metavar="ISO",
    )
    stray_write_stamp: datetime | None = knob(
        None,
        help="the UpdatedOn that one stray write gets (e.g. 2099-01-01T00:00:00Z)",
        parse=instant,
        metavar="ISO",
    )
    #: How UpdatedOn/CreatedOn are written in the listing and get-one (one of
    #: ``TIMESTAMP_FORMATS``). Stored values stay whole seconds; "ticks" adds a fraction
    #: that grows with Id, so rendered values sort exactly as the server sorts.
    timestamp_format: TimestampFormat = knob(
        "seconds",
        help="UpdatedOn/CreatedOn as ...:29Z (default), ...:29.5000024Z (ticks, like the live "
        "API), ...:29.5000024 (ticks-no-z) or 06/11/2026 18:12:29 (slashed, not ISO 8601)",
        choices=TIMESTAMP_FORMATS,
    )
    #: The HTTP ``Date`` response header: "true" (true UTC, as HTTP requires), "missing"
    #: (not sent) or "wrong" (true UTC + ``WRONG_DATE_OFFSET``, i.e. 7 hours ahead).
    date_header: DateHeader = knob(
        "true",
        help="the HTTP Date header: true UTC (default), missing, or wrong (7 h ahead)",
        choices=DATE_HEADER_MODES,
    )
    #: Records with equal sort values (ties in the ``orderBy`` field; for UpdatedOn ties
    #: to the second) come back in a different, seeded-random order on every listing
    #: request, as SQL ``ORDER BY`` a non-unique column with offsets may. A tie group that
    #: straddles a page boundary then shows some records twice and others never.
    #: ``orderBy=Id`` stays stable (Id is unique).
    shuffle_ties: bool = knob(
        False, help="return equal sort values in a new seeded order on every listing request"
    )
    #: Listings ordered by Id ignore the page number: every page is page 1's jobs, with
    #: the page asked echoed as CurrentPage and HasNextPage true (parameters the server
    #: ignores in silence, as a live client met).
    ignore_page_by_id: bool = knob(
        False,
        help="answer every listing ordered by Id with page 1's jobs, echoing the page asked "
        "and HasNextPage true",
    )
    #: What ``to_..._UpdatedOn=10:30`` (and CreatedOn) includes: "minute" (up to
    #: 10:30:59, inclusive at the filter's precision) or "instant" (``<= 10:30:00``, as a
    #: LINQ ``x <= to`` would compare).
    to_filter: ToFilter = knob(
        "minute",
        help="what to_...=10:30 includes: up to 10:30:59 (minute, default), up to 10:30:00 "
        "(instant), or the bound is dropped (ignored)",
        choices=TO_FILTER_MODES,
    )
    #: Before listing request number ``bulk_update_at_listing`` (1-based; 0 = off),
    #: ``bulk_update_jobs`` seeded-random jobs all get the same UpdatedOn: the record
    #: clock's now, whole seconds (a bulk edit landing in the current minute). With
    #: ``bulk_update_every`` = k > 0 it repeats before requests at + k, at + 2k, ...
    bulk_update_at_listing: int = knob(
        0,
        help="before listing request N, give --bulk-update-jobs random jobs one UpdatedOn, now",
        metavar="N",
    )
    bulk_update_jobs: int = knob(0, help="jobs each bulk update changes", metavar="M")
    bulk_update_every: int = knob(
        0, help="repeat the bulk update before listing requests N+K, N+2K, ...", metavar="K"
    )
    #: Statuses that change over time (see lifecycle.py): before listing requests 2,
    #: 2 + k, 2 + 2k, ... (k = ``status_flow_every``), ``status_flow_per_burst`` Running
    #: jobs finish (Completed or Failed, with ResultData), as many Queued jobs start
    #: Running and as many new jobs arrive Queued, all updated now (seeded by ``seed``).
    status_flow_every: int = knob(
        0,
        help="before listing requests 2, 2+K, ... move --status-flow-per-burst jobs on",
        metavar="K",
        group=LIVING_GROUP,
    )
    status_flow_per_burst: int = knob(
        0, help="jobs that take each step in one burst", metavar="M", group=LIVING_GROUP
    )
    #: Undeclared properties the API starts sending: added, unchanged, to every job the
    #: listing and get-one render, e.g. ``{"Priority": {"Level": 2}}``.
    extra_fields: dict[str, Any] = knob(
        factory=dict,
        help="an undeclared property every job carries (VALUE is JSON, else text); repeatable",
        parse=extra_field,
        metavar="NAME=VALUE",
        flag="--extra-field",
        group=LIVING_GROUP,
        repeat=True,
    )
    #: How far the account's clock moves between two status-flow bursts, in minutes:
    #: burst b is stamped now + b x this (0: every burst at the real time), so runs
    #: minutes apart can be played back to back.
    status_flow_minutes: int = knob(
        0, help="stamp burst b at now + b x N minutes", metavar="N", group=LIVING_GROUP
    )
    #: Before listing requests 2, 2 + k, 2 + 2k, ... (k = ``purge_every``), delete
    #: ``purge_per_burst`` seeded-random jobs: jobs purged while a client pages.
    purge_every: int = knob(
        0, help="before listing requests 2, 2+K, ... delete --purge-per-burst jobs", metavar="K"
    )
    purge_per_burst: int = knob(0, help="jobs each --purge-every burst deletes", metavar="M")

    def __post_init__(self) -> None:
        """Reject values the handler could not honour."""
        if self.latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        if self.dir_convention not in DIR_CONVENTIONS:
            raise ValueError(f"dir_convention must be one of {sorted(DIR_CONVENTIONS)}")
        for name in ("limit_per_100ms", "limit_per_minute", "limit_per_hour", "token_max_uses"):
            _check_optional_positive(name, getattr(self, name))
        if not self.limit_window_scale > 0:
            raise ValueError("limit_window_scale must be > 0")
        for name in ("throttle_rate", "error_rate", "reset_rate"):
            _check_rate(name, getattr(self, name))
        if self.throttle_retry_after < 0:
            raise ValueError("throttle_retry_after must be >= 0")
        if self.changes_every < 0 or self.changes_per_burst < 0:
            raise ValueError("changes_every and changes_per_burst must be >= 0")
        offset = self.record_clock_offset_hours
        if not (math.isfinite(offset) and abs(offset) <= MAX_RECORD_CLOCK_OFFSET_HOURS):
            raise ValueError(
                "record_clock_offset_hours must be between "
                f"-{MAX_RECORD_CLOCK_OFFSET_HOURS:g} and {MAX_RECORD_CLOCK_OFFSET_HOURS:g}"
            )
        self._check_record_clock_jump()
        self._check_formats()
        if min(self.purge_every, self.purge_per_burst) < 0:
            raise ValueError("purge_every and purge_per_burst must be >= 0")
        if self.date_header not in DATE_HEADER_MODES:
            raise ValueError(f"date_header must be one of {list(DATE_HEADER_MODES)}")
        if self.to_filter not in TO_FILTER_MODES:
            raise ValueError(f"to_filter must be one of {list(TO_FILTER_MODES)}")
        for name in ("shuffle_ties", "ignore_page_by_id"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False")
        for name in ("bulk_update_at_listing", "bulk_update_jobs", "bulk_update_every"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        # A half-configured bulk update would silently do nothing: say so instead.
        if self.bulk_update_at_listing and not self.bulk_update_jobs:
            raise ValueError("bulk_update_at_listing needs bulk_update_jobs >= 1")
        if (self.bulk_update_jobs or self.bulk_update_every) and not self.bulk_update_at_listing:
            raise ValueError("bulk_update_jobs/bulk_update_every need bulk_update_at_listing >= 1")
        self.scripted_statuses = dict(self.scripted_statuses)
        for number, status in self.scripted_statuses.items():
            if number < 1:
                raise ValueError("scripted_statuses keys are 1-based request numbers")
            if status != 0 and not 100 <= status <= 599:
                raise ValueError(f"scripted status {status} is not an HTTP status (or 0)")
        self.garbage_listing_requests = frozenset(self.garbage_listing_requests)
        self.get_one_missing = frozenset(self.get_one_missing)
        if any(number < 1 for number in self.garbage_listing_requests):
            raise ValueError("garbage_listing_requests are 1-based listing request numbers")
        if min(self.status_flow_every, self.status_flow_per_burst, self.status_flow_minutes) < 0:
            raise ValueError("status_flow_every, _per_burst and _minutes must be >= 0")
        self.extra_fields = dict(self.extra_fields)

    def _instant_knob(self, name: str) -> datetime | None:
        """An instant knob as an aware datetime (None stays None), set back on the field."""
        raw: object = getattr(self, name)
        if isinstance(raw, str):
            # Faults given as JSON (benchmarks.harness.SandboxProcess) name the instant in ISO 8601.
            try:
                raw = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(f"{name} {raw!r} is not ISO 8601") from None
            setattr(self, name, raw)
        if raw is not None and (not isinstance(raw, datetime) or raw.tzinfo is None):
            raise ValueError(f"{name} must be an aware datetime (true UTC)")
        return raw

    def _check_record_clock_jump(self) -> None:
        at = self._instant_knob("record_clock_jump_at")
        until = self._instant_knob("record_clock_jump_until")
        minutes = self.record_clock_jump_minutes
        if not isinstance(minutes, int) or abs(minutes) > MAX_RECORD_CLOCK_JUMP_MINUTES:
            raise ValueError(
                "record_clock_jump_minutes must be a whole number between "
                f"-{MAX_RECORD_CLOCK_JUMP_MINUTES} and {MAX_RECORD_CLOCK_JUMP_MINUTES}"
            )
        # Half a jump would silently do nothing: say so instead.
        if (at is None) != (minutes == 0):
            raise ValueError("record_clock_jump_at and record_clock_jump_minutes go together")
        if until is not None and (at is None or until <= at):
            raise ValueError("record_clock_jump_until needs record_clock_jump_at before it")
        stray_at = self._instant_knob("stray_write_at")
        if (stray_at is None) != (self._instant_knob("stray_write_stamp") is None):
            raise ValueError("stray_write_at and stray_write_stamp go together")

    def _check_formats(self) -> None:
        if self.timestamp_format not in TIMESTAMP_FORMATS:
            raise ValueError(f"timestamp_format must be one of {list(TIMESTAMP_FORMATS)}")
        if self.throttle_status not in THROTTLE_STATUSES:
            raise ValueError(f"throttle_status must be one of {list(THROTTLE_STATUSES)}")
        if self.garbage_listing_format not in GARBAGE_FORMATS:
            raise ValueError(f"garbage_listing_format must be one of {list(GARBAGE_FORMATS)}")
        if self.retry_after_format not in RETRY_AFTER_FORMATS:
            raise ValueError(f"retry_after_format must be one of {list(RETRY_AFTER_FORMATS)}")

    def record_clock_shift(self, now: datetime) -> timedelta:
        """How far the record clock is from true UTC at true-UTC instant ``now``."""
        shift = self.record_clock_offset
        at, until = self.record_clock_jump_at, self.record_clock_jump_until
        if at is not None and now >= at and (until is None or now < until):
            shift += timedelta(minutes=self.record_clock_jump_minutes)
        return shift

    def purge_due(self, listing_number: int) -> bool:
        """True when jobs are purged before listing request ``listing_number`` (1-based)."""
        every = self.purge_every
        if every <= 0 or self.purge_per_burst <= 0 or listing_number < 2:
            return False
        return (listing_number - 2) % every == 0

    @classmethod
    def published_limits(cls, **overrides: Any) -> SandboxFaults:
        """Faults enforcing the documented limits (1/100 ms, 120/min, 5000/h), plus overrides."""
        return cls(**{**PUBLISHED_LIMITS, **overrides})

    def active(self) -> dict[str, Any]:
        """The knobs that differ from their defaults (for logs and CLI banners)."""
        default = SandboxFaults()
        return {
            knob.name: getattr(self, knob.name)
            for knob in fields(self)
            if getattr(self, knob.name) != getattr(default, knob.name)
        }

    def changes_due(self, listing_number: int) -> bool:
        """True when jobs change before listing request ``listing_number`` (1-based)."""
        every = self.changes_every
        if every <= 0 or self.changes_per_burst <= 0 or listing_number < 2:
            return False
        return (listing_number - 2) % every == 0

    def bulk_update_due(self, listing_number: int) -> bool:
        """True when a bulk update lands before listing request ``listing_number``."""
        first = self.bulk_update_at_listing
        if first <= 0 or listing_number < first:
            return False
        if listing_number == first:
            return True
        every = self.bulk_update_every
        return every > 0 and (listing_number - first) % every == 0

    @property
    def changes_data(self) -> bool:
        """True when the knobs change jobs by themselves (``changes_*``, ``bulk_update_*``)."""
        drifting = self.changes_every > 0 and self.changes_per_burst > 0
        purging = self.purge_every > 0 and self.purge_per_burst > 0
        return drifting or purging or self.bulk_update_at_listing > 0

    def without_data_changes(self) -> SandboxFaults:
        """These faults with every knob that changes jobs turned off (the rest kept).

        For a catch-up run that must see a quiet account: what it reads is then final.
        """
        return replace(
            self,
            changes_every=0,
            changes_per_burst=0,
            bulk_update_at_listing=0,
            bulk_update_jobs=0,
            bulk_update_every=0,
            purge_every=0,
            purge_per_burst=0,
        )

    @property
    def record_clock_offset(self) -> timedelta:
        """``record_clock_offset_hours`` as a timedelta."""
        return timedelta(hours=self.record_clock_offset_hours)


@dataclass(frozen=True)
class Verdict:
    """The request-level decision for one request.

    ``fault`` None means "serve normally" (later faults may still apply in the route).
    Otherwise answer ``status`` (0: close the connection without answering), with
    ``Retry-After: retry_after`` when that is not None.
    """

    number: int
    fault: str | None = None
    status: int = 0
    retry_after: int | None = None


class FaultEngine:
    """Request numbering, seeded dice and rate-limit windows shared by all handler threads.

    Every request draws the same dice in the same order whatever knobs are on, under one
    lock together with its number, so a given seed and request sequence always meet the
    same faults, and turning one knob on does not reshuffle another's.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._requests = 0
        self._seeded_from: SandboxFaults | None = None
        self._seed = 0
        self._rng = random.Random(0)  # noqa: S311 - deterministic faults, not secrets
        self._changes_rng = random.Random("0:changes")  # noqa: S311
        self._bulk_rng = random.Random("0:bulk")  # noqa: S311
        self._purge_rng = random.Random("0:purge")  # noqa: S311
        #: Arrival times of budget-consuming requests, per window (100 ms, minute, hour).
        self._windows: tuple[deque[float], deque[float], deque[float]] = (
            deque(),
            deque(),
            deque(),
        )

    @property
    def requests(self) -> int:
        """How many requests have been numbered so far."""
        with self._lock:
            return self._requests

    def _reseed_if_needed(self, faults: SandboxFaults) -> None:
        if faults is self._seeded_from and faults.seed == self._seed:
            return
        self._seeded_from, self._seed = faults, faults.seed
        self._rng = random.Random(faults.seed)  # noqa: S311
        # Changes draw a variable number of values: keep them off the per-request dice.
        self._changes_rng = random.Random(f"{faults.seed}:changes")  # noqa: S311
        self._bulk_rng = random.Random(f"{faults.seed}:bulk")  # noqa: S311
        self._purge_rng = random.Random(f"{faults.seed}:purge")  # noqa: S311

    def admit(self, faults: SandboxFaults) -> Verdict:
        """Number the request and decide its request-level fault (see the module doc)."""
        with self._lock:
            self._reseed_if_needed(faults)
            now = self._clock()
            self._requests += 1
            number = self._requests
            rng = self._rng
            throttle_roll, reset_roll, error_roll = rng.random(), rng.random(), rng.random()
            error_status = ERROR_STATUSES[rng.randrange(len(ERROR_STATUSES))]

            scripted = faults.scripted_statuses.get(number)
            if scripted is not None:
                throttled = scripted in THROTTLE_STATUSES
                retry_after = faults.throttle_retry_after if throttled else None
                return Verdict(number, FAULT_SCRIPTED, scripted, retry_after)
            if throttle_roll < faults.throttle_rate:
                throttle = faults.throttle_status
                return Verdict(number, FAULT_THROTTLE, throttle, faults.throttle_retry_after)
            wait = self._limit_wait(faults, now)
            if wait is not None:
                return Verdict(number, FAULT_LIMIT, faults.throttle_status, wait)
            for window in self._windows:
                window.append(now)
            if reset_roll < faults.reset_rate:
                return Verdict(number, FAULT_RESET, 0)
            if error_roll < faults.error_rate:
                return Verdict(number, FAULT_ERROR, error_status)
            return Verdict(number)

    def _limit_wait(self, faults: SandboxFaults, now: float) -> int | None:
        """Whole seconds (>= 1) until every exceeded window has a free slot; None if none is."""
        scale = faults.limit_window_scale
        limits = (
            (faults.limit_per_100ms, 0.1),
            (faults.limit_per_minute, 60.0 * scale),
            (faults.limit_per_hour, 3600.0 * scale),
        )
        wait: float | None = None
        for window, (limit, length) in zip(self._windows, limits, strict=True):
            horizon = now - length
            while window and window[0] <= horizon:
                window.popleft()
            if limit is not None and len(window) >= limit:
                # The slot frees when enough of the oldest arrivals leave the window.
                frees_at = window[len(window) - limit] + length
                wait = max(wait or 0.0, frees_at - now)
        if wait is None:
            return None
        return max(1, math.ceil(wait))

    def pick_changes(self, faults: SandboxFaults, population: Sequence[_T]) -> list[_T]:
        """``changes_per_burst`` seeded-random members of ``population`` (fewer if small)."""
        with self._lock:
            self._reseed_if_needed(faults)
            count = min(faults.changes_per_burst, len(population))
            return self._changes_rng.sample(population, count)

    def pick_bulk_update(self, faults: SandboxFaults, population: Sequence[_T]) -> list[_T]:
        """``bulk_update_jobs`` seeded-random members of ``population`` (fewer if small)."""
        with self._lock:
            self._reseed_if_needed(faults)
            count = min(faults.bulk_update_jobs, len(population))
            return self._bulk_rng.sample(population, count)

    def pick_purge(self, faults: SandboxFaults, population: Sequence[_T]) -> list[_T]:
        """``purge_per_burst`` seeded-random members of ``population`` (fewer if small)."""
        with self._lock:
            self._reseed_if_needed(faults)
            count = min(faults.purge_per_burst, len(population))
            return self._purge_rng.sample(population, count)
