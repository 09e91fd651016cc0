"""STATE a run starts from: its shape, checked before anything is read or emitted.

The tap writes, per stream (and per business partition, under `partitions`):

    {"bookmarks": {"business_background_jobs": {
        "replication_key": "UpdatedOn",
        "replication_key_value": "2026-06-11T18:12:27+00:00",
        "delivered": {"result_data": false,
                      "versions": [["2026-06-11T18:12:27+00:00", [100299, 100300]]]},
        "requests_last_hour": [[1796203680, 1]],
        "record_clock": {"lead_minutes": 0},
        "result_data_missing": [[100301, "2026-06-11T18:12:20+00:00", 1]]}}}

`delivered` holds the versions delivered in the minutes the next run reads again
(delivered.py), `requests_last_hour` the account's requests of the last hour per minute
(budget.py), the stream's only: the hour belongs to the account, not to a partition.
`record_clock` the record clock's lead over true time (record_clock.py), per holder of a
bookmark: each business may stamp its own local time. `result_data_missing` the versions
emitted without ResultData because their get-one answered 404, [Id, UpdatedOn, runs
asked], which the next runs ask again (full_records.py).
Lists, not mappings: Meltano deep-merges mappings in state, and a merge must not bring
back versions or minutes that were dropped.

This module is the one place that knows these keys and the one owner of the bookmark's
value: it checks what a run starts from (`checked_state`), reads it once into one value
(`run_start`: where to read from, the lookback, the bookmark and what the next run needs
beside it), and turns each page's claim into the bookmark STATE may hold (`RunState`,
`bookmark_after_page`) and what a run may keep (`save_run_state`). The SDK writes the
bookmark itself (the stream's `_save_bookmark`) and, before a sync, the later of the
bookmark and `start_date` (`starting_replication_value`), which `run_start` reads.

A STATE the tap cannot use (edited by hand, from another tap, or damaged) must stop the
run with one line naming the key, before the SDK echoes it as the run's first STATE
message: Meltano would otherwise save a failed run's state as if it were good.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import datetime, timedelta

from tap_nexudus_jobs.delivered import DeliveredVersions
from tap_nexudus_jobs.errors import StateError
from tap_nexudus_jobs.full_records import MissingResultData, bounded_missing
from tap_nexudus_jobs.record_clock import MAX_ZONE_LEAD, RecordClockGuard
from tap_nexudus_jobs.timestamps import (
    normalise_timestamp,
    parse_setting_date_time,
    parse_timestamp,
    to_utc_iso,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable, Sequence

BOOKMARK_KEY = "replication_key_value"
DELIVERED_STATE_KEY = "delivered"
HOUR_STATE_KEY = "requests_last_hour"
RECORD_CLOCK_STATE_KEY = "record_clock"
_LEAD_KEY = "lead_minutes"
_MAX_LEAD_MINUTES = int(MAX_ZONE_LEAD.total_seconds() // 60)
MISSING_STATE_KEY = "result_data_missing"
# Written by the SDK before a sync: the later of the bookmark and `start_date`.
_SDK_START_KEY = "starting_replication_value"
# What the SDK itself keeps in a stream's (or partition's) state.
_SDK_KEYS = frozenset(
    {
        "replication_key",
        BOOKMARK_KEY,
        _SDK_START_KEY,
        "progress_markers",
        "replication_key_signpost",
    }
)
# What the tap keeps beside each bookmark, the stream's and each partition's alike.
_HOLDER_KEYS = _SDK_KEYS | {DELIVERED_STATE_KEY, RECORD_CLOCK_STATE_KEY, MISSING_STATE_KEY}
_PARTITION_KEYS = _HOLDER_KEYS | {"context"}
# The hour belongs to the account, so only the stream keeps it.
_STREAM_KEYS = _HOLDER_KEYS | {"partitions", HOUR_STATE_KEY}
# Singer's top level: `currently_syncing` is part of the spec, though this SDK never writes it.
_TOP_KEYS = frozenset({"bookmarks", "currently_syncing"})


@dataclass(frozen=True)
class RunStart:
    """What a stream's (or partition's) STATE gives the run that resumes from it, read once."""

    bookmark: str | None  # this holder's own bookmark, in the tap's UTC form
    start: datetime | None  # where the walk starts (before the lookback); None: everything
    lookback_minutes: int  # minutes re-read before `start`: 0 from `start_date`, which is exact
    skip_before: str | None  # jobs updated before this (`start_date`) are not emitted
    inherited: str | None  # the unpartitioned bookmark a new business starts from, if any
    delivered: DeliveredVersions
    hour: list[tuple[int, int]]  # the account's requests of the last hour, per minute
    lead: timedelta | None  # the record clock's lead over true time; None: not learned yet
    missing: list[MissingResultData]  # versions whose get-one answered 404 (ResultData)

    def wanted(self, record: dict[str, t.Any]) -> bool:
        """False for a job last updated before `start_date` (the filter is only to the minute)."""
        updated_on = record.get("UpdatedOn")
        skip = self.skip_before
        return not (skip and updated_on is not None and updated_on < skip)


def run_start(
    context_state: dict[str, t.Any],
    stream_state: dict[str, t.Any],
    *,
    partitioned: bool,
    start_date: str | None,
    with_result_data: bool,
    lookback_minutes: int,
) -> RunStart:
    """Where the run reads from, the versions delivered around it, and the hour's requests.

    Versions delivered without ResultData are not delivered to a run that includes it:
    that run fetches them (once) rather than leave ResultData empty for good. Get-one's
    404s are asked again only by a run that includes ResultData.
    """
    bookmark = normalise_timestamp(_bookmark_of(context_state))
    inherited = _inherited_bookmark(context_state, stream_state) if partitioned else None
    sdk_start = context_state.get(_SDK_START_KEY)
    start, inherited = _start(parse_timestamp(sdk_start) if sdk_start else None, inherited)
    from_start_date = bool(start_date) and start == parse_timestamp(str(start_date))
    clock = context_state.get(RECORD_CLOCK_STATE_KEY)
    missing = [
        MissingResultData(job_id, stamp, tries)
        for job_id, stamp, tries in context_state.get(MISSING_STATE_KEY) or []
    ]
    return RunStart(
        bookmark=bookmark,
        start=start,
        lookback_minutes=0 if start is None or from_start_date else lookback_minutes,
        skip_before=_start_date_cutoff(start_date, bookmark),
        inherited=inherited,
        delivered=_delivered(context_state, with_result_data, lookback_minutes),
        hour=[(minute, count) for minute, count in stream_state.get(HOUR_STATE_KEY) or []],
        lead=timedelta(minutes=clock[_LEAD_KEY]) if clock else None,
        missing=missing if with_result_data else [],
    )


def _start(sdk_start: datetime | None, inherited: str | None) -> tuple[datetime | None, str | None]:
    """The SDK's start (the later of bookmark and `start_date`), or the inherited bookmark.

    A run without `business_ids` covered every business up to its bookmark, so that
    bookmark is a safe start for each business that has none of its own yet: used on
    purpose (the stream says so) rather than re-reading each business's history.
    Returns the start and, when it is the inherited bookmark, that bookmark.
    """
    if inherited is None:
        return sdk_start, None
    inherited_start = parse_timestamp(inherited)
    if sdk_start is not None and sdk_start >= inherited_start:
        return sdk_start, None
    return inherited_start, inherited


def _start_date_cutoff(start_date: str | None, bookmark: str | None) -> str | None:
    """`start_date` is exact, unless the bookmark is past it (its minute is re-read)."""
    cutoff = normalise_timestamp(start_date) if start_date else None
    if bookmark and cutoff and bookmark >= cutoff:
        return None
    return cutoff


def _delivered(
    context_state: dict[str, t.Any], with_result_data: bool, lookback_minutes: int
) -> DeliveredVersions:
    delivered = DeliveredVersions(
        with_result_data=with_result_data, lookback_minutes=lookback_minutes
    )
    value = context_state.get(DELIVERED_STATE_KEY) or {}
    if value.get("result_data") is True or not with_result_data:
        delivered.add_versions(
            (job_id, stamp) for stamp, ids in value.get("versions", []) for job_id in ids
        )
    return delivered


def _inherited_bookmark(
    partition_state: dict[str, t.Any], stream_state: dict[str, t.Any]
) -> str | None:
    """A partition without a bookmark of its own inherits the unpartitioned one, if any."""
    return None if _bookmark_of(partition_state) else _bookmark_of(stream_state)


def _bookmark_of(holder: dict[str, t.Any]) -> str | None:
    bookmark = holder.get(BOOKMARK_KEY)
    return str(bookmark) if bookmark else None


def bookmark_after_page(
    claim: str | None, left_over: Sequence[dict[str, t.Any]], saved: str | None
) -> str | None:
    """The bookmark after a page: the walk's `claim`, none past a job left for the next run.

    `left_over`: the page's wanted jobs not emitted (a stop inside the page). The next
    run re-reads from the bookmark's minute (less lookback), so every left-over job is
    read again; the emitted versions there are skipped as already delivered. Never
    behind `saved`, the bookmark STATE already claims.
    """
    stamps = [stamp for record in left_over if (stamp := record.get("UpdatedOn"))]
    candidate = claim
    if candidate is not None and stamps:
        candidate = min(candidate, min(stamps))
    if candidate is None or (saved is not None and candidate < saved):
        return saved
    return candidate


def bookmark_key(stream: str, business_id: int | None) -> str:
    """Where STATE keeps a stream's (or business partition's) bookmark, for error lines."""
    where = f"STATE bookmarks.{stream}.{BOOKMARK_KEY}"
    return where if business_id is None else f"{where} of business {business_id}"


class RunState:
    """One stream's (or partition's) STATE through a run: from its start to each page's claim.

    The stream feeds it each page; it answers with the bookmark STATE may claim (the
    walk's claim, held behind a stop inside the page and behind jobs stamped ahead of
    true time: record_clock.py) and writes what the next run needs beyond it.
    """

    def __init__(self, start: RunStart, lookback_minutes: int, warn: Callable[[str], None]) -> None:
        self.start = start
        self.saved = start.bookmark
        self.clock = RecordClockGuard(start.lead, lookback_minutes, start.bookmark, warn)

    def after_page(
        self, claim: str | None, wanted: list[dict[str, t.Any]], emitted: list[dict[str, t.Any]]
    ) -> str | None:
        """The bookmark to save once `emitted` (a prefix of `wanted`) is out; None: unchanged."""
        held = bookmark_after_page(claim, wanted[len(emitted) :], self.saved)
        bookmark = self.clock.bookmark_after(emitted, held, self.saved)
        self.saved = bookmark or self.saved
        return bookmark

    def save(
        self,
        context_state: dict[str, t.Any],
        stream_state: dict[str, t.Any],
        hour: list[tuple[int, int]],
    ) -> None:
        """Keep what the next run needs beyond the bookmark (the SDK writes the bookmark)."""
        start = self.start
        save_run_state(
            context_state,
            stream_state,
            start.delivered,
            hour,
            self.clock.lead_to_keep(),
            start.missing,
        )


def save_run_state(
    context_state: dict[str, t.Any],
    stream_state: dict[str, t.Any],
    delivered: DeliveredVersions,
    hour: list[tuple[int, int]],
    lead: timedelta | None,
    missing: list[MissingResultData],
) -> None:
    """Keep what the next run needs beyond the bookmark (all bounded: see their modules)."""
    delivered.keep_for(_bookmark_of(context_state))
    context_state[DELIVERED_STATE_KEY] = {
        "result_data": delivered.with_result_data,
        "versions": [[stamp, ids] for stamp, ids in delivered.groups()],
    }
    stream_state[HOUR_STATE_KEY] = [[minute, count] for minute, count in hour]
    if lead is not None:
        context_state[RECORD_CLOCK_STATE_KEY] = {_LEAD_KEY: int(lead.total_seconds() // 60)}
    kept = [[job.job_id, job.updated_on, job.tries] for job in bounded_missing(missing)]
    if kept:
        context_state[MISSING_STATE_KEY] = kept
    else:
        context_state.pop(MISSING_STATE_KEY, None)


def checked_state(
    state: t.Any,
    *,
    stream: str,
    replication_key: str,
    business_ids: Sequence[int] | None,
) -> dict[str, t.Any]:
    """`state` if this tap can resume from it, bookmarks in the tap's UTC form.

    Raises:
        StateError: one line naming the first key at fault and its value.
    """
    if state is None:
        return {}
    top = state_object(state)
    _known_keys(top, _TOP_KEYS, "")
    bookmarks = _object(top.get("bookmarks", {}), "bookmarks")
    for name in bookmarks:
        if name != stream:
            _fail(f"bookmarks.{name}", name, f"is not a stream of this tap (only '{stream}')")
    if stream in bookmarks:
        _check_stream(bookmarks[stream], f"bookmarks.{stream}", replication_key, business_ids)
    return top


def state_object(state: t.Any) -> dict[str, t.Any]:
    """`state` itself when it is a JSON object; otherwise one line saying what it is."""
    return _object(state, "")


def _check_stream(
    value: t.Any, key: str, replication_key: str, business_ids: Sequence[int] | None
) -> None:
    stream_state = _object(value, key)
    _known_keys(stream_state, _STREAM_KEYS, key)
    _check_holder(stream_state, key, replication_key)
    _check_hour(stream_state.get(HOUR_STATE_KEY), f"{key}.{HOUR_STATE_KEY}")
    partitions = stream_state.get("partitions", [])
    if not isinstance(partitions, list):
        _fail(f"{key}.partitions", partitions, "is not a list")
    for index, partition in enumerate(partitions):
        _check_partition(partition, f"{key}.partitions[{index}]", replication_key, business_ids)


def _check_partition(
    value: t.Any, key: str, replication_key: str, business_ids: Sequence[int] | None
) -> None:
    partition = _object(value, key)
    _known_keys(partition, _PARTITION_KEYS, key)
    context = _object(partition.get("context"), f"{key}.context")
    business_id = context.get("business_id")
    if set(context) != {"business_id"} or type(business_id) is not int:
        _fail(f"{key}.context", context, 'is not {"business_id": <integer>}')
    if business_ids is None:
        _fail(
            f"{key}.context",
            context,
            "is a business partition, but setting 'business_ids' is not set",
        )
    if business_id not in business_ids:
        listed = ", ".join(str(b) for b in business_ids)
        _fail(f"{key}.context", context, f"names a business not in 'business_ids' ({listed})")
    _check_holder(partition, key, replication_key)


def _check_holder(holder: dict[str, t.Any], key: str, replication_key: str) -> None:
    """What the stream and each partition keep alike: the bookmark and what goes with it."""
    _check_bookmark(holder, key, replication_key)
    _check_delivered(holder, key)
    _check_record_clock(holder, key)
    _check_missing(holder, key)


def _check_bookmark(holder: dict[str, t.Any], key: str, replication_key: str) -> None:
    """The bookmark must be a date-time of `replication_key`; rewritten in the tap's form."""
    named = holder.get("replication_key")
    if named is not None and named != replication_key:
        _fail(f"{key}.replication_key", named, f"is not '{replication_key}'")
    value = holder.get(BOOKMARK_KEY)
    if value is None:
        return
    if not isinstance(value, str):
        _fail(f"{key}.{BOOKMARK_KEY}", value, "is not an ISO 8601 date-time string")
    try:
        parsed = parse_setting_date_time(value)
    except ValueError as exc:
        _fail(f"{key}.{BOOKMARK_KEY}", value, str(exc))
    # Without `replication_key` the SDK would ignore the bookmark and re-read everything.
    holder["replication_key"] = replication_key
    holder[BOOKMARK_KEY] = to_utc_iso(parsed)


def _check_delivered(holder: dict[str, t.Any], key: str) -> None:
    if DELIVERED_STATE_KEY not in holder:
        return
    key = f"{key}.{DELIVERED_STATE_KEY}"
    delivered = _object(holder[DELIVERED_STATE_KEY], key)
    _known_keys(delivered, frozenset({"result_data", "versions"}), key)
    if not isinstance(delivered.get("result_data", False), bool):
        _fail(f"{key}.result_data", delivered["result_data"], "is not true or false")
    versions = delivered.get("versions", [])
    if not isinstance(versions, list):
        _fail(f"{key}.versions", versions, "is not a list")
    for index, entry in enumerate(versions):
        stamp = _version_time(entry)
        if stamp is None:
            _fail(f"{key}.versions[{index}]", entry, "is not [UpdatedOn, [Id, ...]]")
        entry[0] = stamp  # in the tap's form, or it would never match a record


def _version_time(entry: t.Any) -> str | None:
    """The group's UpdatedOn in the tap's UTC form, or None if it is no version group."""
    if not (isinstance(entry, list) and len(entry) == 2):
        return None
    stamp, ids = entry
    if not isinstance(stamp, str) or not isinstance(ids, list):
        return None
    if not all(type(job_id) is int for job_id in ids):
        return None
    try:
        return to_utc_iso(parse_setting_date_time(stamp))
    except ValueError:
        return None


def _check_record_clock(holder: dict[str, t.Any], key: str) -> None:
    if RECORD_CLOCK_STATE_KEY not in holder:
        return
    key = f"{key}.{RECORD_CLOCK_STATE_KEY}"
    clock = _object(holder[RECORD_CLOCK_STATE_KEY], key)
    _known_keys(clock, frozenset({_LEAD_KEY}), key)
    lead = clock.get(_LEAD_KEY)
    if type(lead) is not int or not 0 <= lead <= _MAX_LEAD_MINUTES:
        _fail(f"{key}.{_LEAD_KEY}", lead, f"is not a whole number from 0 to {_MAX_LEAD_MINUTES}")


def _check_missing(holder: dict[str, t.Any], key: str) -> None:
    """[[Id, UpdatedOn, runs], ...]; UpdatedOn rewritten in the tap's form."""
    value = holder.get(MISSING_STATE_KEY)
    if value is None:
        return
    key = f"{key}.{MISSING_STATE_KEY}"
    if not isinstance(value, list):
        _fail(key, value, "is not a list of [Id, UpdatedOn, runs]")
    for index, entry in enumerate(value):
        valid = isinstance(entry, list) and len(entry) == 3
        if valid:
            job_id, _stamp, tries = entry
            valid = type(job_id) is int and type(tries) is int and tries >= 1
        stamp = _version_time([entry[1], []]) if valid else None
        if stamp is None:
            _fail(f"{key}[{index}]", entry, "is not [Id, UpdatedOn, runs]")
        entry[1] = stamp


def _check_hour(value: t.Any, key: str) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        _fail(key, value, "is not a list of [minute, requests] pairs")
    for index, entry in enumerate(value):
        pair = isinstance(entry, list) and len(entry) == 2
        if not pair or not all(type(part) is int and part >= 0 for part in entry):
            _fail(f"{key}[{index}]", entry, "is not [minute epoch seconds, requests]")


def _object(value: t.Any, key: str) -> dict[str, t.Any]:
    if not isinstance(value, dict):
        _fail(key, value, "is not a JSON object")
    return value


def _known_keys(holder: dict[str, t.Any], known: frozenset[str], key: str) -> None:
    for name in holder:
        if name not in known:
            where = f"{key}.{name}" if key else name
            _fail(where, holder[name], "is not a key this tap writes")


def _fail(key: str, value: t.Any, problem: str) -> t.NoReturn:
    shown = repr(value)
    if len(shown) > 80:
        shown = f"{shown[:77]}..."
    where = f"State key '{key}'" if key else "The state"
    msg = (
        f"{where} {problem}: {shown}; nothing was read and the saved state is unchanged: "
        "fix it, or clear it (`meltano state clear STATE_ID`; a bare tap: no --state) to "
        "read from start_date again"
    )
    raise StateError(msg)
