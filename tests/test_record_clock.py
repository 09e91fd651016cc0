"""The record clock's decisions (record_clock.py) on hand-written inputs: no server, no clock."""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone

import pytest

from tap_nexudus_jobs.errors import StalledBookmarkError
from tap_nexudus_jobs.record_clock import (
    MAX_ZONE_LEAD,
    RecordClockCheck,
    RecordClockGuard,
    after_listing,
    after_records,
    after_response,
    ahead_warning,
    bounded_bookmark,
    check_bookmark_in_reach,
    date_header_time,
    lead_to_keep,
)

NOW = datetime(2026, 11, 10, 9, 0, tzinfo=timezone.utc)
HOUR = timedelta(hours=1)


def job(job_id: int, stamp: datetime) -> dict[str, t.Any]:
    return {"Id": job_id, "UpdatedOn": stamp.isoformat()}


def check(lead: timedelta | None, now: datetime | None = NOW) -> RecordClockCheck:
    return RecordClockCheck(lead, HOUR, now=now)


def test_the_date_header_is_read_as_an_instant_and_a_bad_one_is_none() -> None:
    assert date_header_time("Tue, 10 Nov 2026 09:00:00 GMT") == NOW
    assert date_header_time(None) is None
    assert date_header_time("") is None
    assert date_header_time("yesterday") is None


def test_true_time_comes_from_the_date_header_else_the_host_and_never_goes_back() -> None:
    start = RecordClockCheck(None, HOUR)
    seen = after_response(start, NOW, NOW + HOUR)
    assert seen.now == NOW
    assert not seen.date_missing
    missing = after_response(seen, None, NOW + 2 * HOUR)
    assert missing.now == NOW + 2 * HOUR
    assert missing.date_missing
    # A Date header that goes back (another server behind a balancer) moves nothing back.
    assert after_response(missing, NOW, NOW).now == NOW + 2 * HOUR


def test_before_any_response_nothing_is_bounded() -> None:
    none_yet = check(timedelta(0), now=None)
    assert none_yet.bound is None
    assert after_records(none_yet, [job(1, NOW + 100 * HOUR)]) == (none_yet, [])
    assert bounded_bookmark("2099-01-01T00:00:00+00:00", none_yet, None) == (
        "2099-01-01T00:00:00+00:00"
    )


def test_a_stamp_past_the_lead_and_the_lookback_is_ahead() -> None:
    known = check(timedelta(0))
    records = [job(1, NOW - HOUR), job(2, NOW + HOUR), job(3, NOW + 10 * HOUR)]
    after, ahead = after_records(known, records)
    assert [(a.job_id, a.ahead_of_true_time) for a in ahead] == [(3, 10 * HOUR)]
    # Stamps inside the bound show the lead (an hour: a spring-forward the lookback covers).
    assert after.seen_lead == HOUR


def test_until_the_lead_is_known_any_time_zone_is_believed() -> None:
    unknown = check(None)
    _, ahead = after_records(unknown, [job(1, NOW + 14 * HOUR), job(2, NOW + 16 * HOUR)])
    assert [a.job_id for a in ahead] == [2]
    assert unknown.bound == NOW + MAX_ZONE_LEAD + HOUR


def test_a_known_lead_of_ten_hours_is_no_evidence() -> None:
    utc_plus_10 = check(10 * HOUR)
    _, ahead = after_records(utc_plus_10, [job(1, NOW + 10 * HOUR + timedelta(minutes=59))])
    assert ahead == []


def test_the_bookmark_stops_at_the_newest_version_not_ahead_and_never_goes_back() -> None:
    known, _ = after_records(check(timedelta(0)), [job(1, NOW - HOUR), job(2, NOW + 9 * HOUR)])
    assert known.newest_inside == (NOW - HOUR).isoformat()
    assert bounded_bookmark("2026-11-10T18:00:00+00:00", known, None) == (NOW - HOUR).isoformat()
    inside = "2026-11-10T09:30:00+00:00"
    assert bounded_bookmark(inside, known, None) == inside
    # A bookmark STATE already claims stays (claiming less is for what this run adds).
    saved = "2026-11-10T08:30:00+00:00"
    assert bounded_bookmark("2099-01-01T00:00:00+00:00", known, saved) == saved
    # Nothing emitted inside the bound: claim nothing new.
    nothing = check(timedelta(0))
    assert bounded_bookmark("2099-01-01T00:00:00+00:00", nothing, None) is None


@pytest.mark.parametrize(
    ("lead", "seen", "bookmark", "kept"),
    [
        (None, None, None, None),  # nothing seen: nothing learned
        (None, -48 * HOUR, None, None),  # a quiet account shows no lead
        (None, -timedelta(minutes=5), None, timedelta(0)),  # a recent job: UTC
        (None, 10 * HOUR, None, 10 * HOUR),  # UTC+10 labelled Z, first seen
        (None, None, "2026-11-10T19:00:00+00:00", 10 * HOUR),  # an older STATE's bookmark
        (timedelta(0), HOUR, None, HOUR),  # a spring-forward: within the lookback
        (HOUR, timedelta(0), None, HOUR),  # a fall-back: the lead stays
        (None, 20 * HOUR, None, MAX_ZONE_LEAD),  # never past UTC+14
    ],
)
def test_the_lead_kept_for_the_next_run(
    lead: timedelta | None, seen: timedelta | None, bookmark: str | None, kept: timedelta | None
) -> None:
    run = RecordClockCheck(lead, HOUR, now=NOW, seen_lead=seen)
    assert lead_to_keep(run, bookmark) == kept


def test_a_bookmark_beyond_any_time_zone_stops_the_run_naming_the_way_out() -> None:
    check_bookmark_in_reach("2026-11-10T23:59:00+00:00", check(None), where="STATE x")
    with pytest.raises(StalledBookmarkError) as raised:
        check_bookmark_in_reach("2099-01-01T00:00:00+00:00", check(None), where="STATE x")
    line = str(raised.value)
    assert "The bookmark 2099-01-01T00:00:00+00:00 (STATE x) is 26,349 days ahead" in line
    assert "true time (2026-11-10T09:00:00Z, from Nexudus's Date header)" in line
    assert "meltano state set" in line
    assert "meltano state clear STATE_ID" in line


def test_the_warning_names_the_jobs_how_far_ahead_and_what_the_tap_did() -> None:
    known = check(timedelta(0))
    _, ahead = after_records(known, [job(n, NOW + 10 * HOUR + n * HOUR) for n in range(7)])
    line = ahead_warning(ahead, known, "2026-11-10T10:00:00+00:00")
    assert line.startswith("7 job version(s) stamped ahead of true time (2026-11-10T09:00:00Z")
    assert "0 (UpdatedOn 2026-11-10T19:00:00+00:00, 10h 00m ahead)" in line
    assert "4 (UpdatedOn 2026-11-10T23:00:00+00:00, 14h 00m ahead) and 2 more" in line
    assert "the bookmark stays at 2026-11-10T10:00:00+00:00" in line
    missing = RecordClockCheck(timedelta(0), HOUR, now=NOW, date_missing=True)
    assert "from the tap's clock: Nexudus sent no Date header" in ahead_warning(
        ahead, missing, None
    )


def test_the_guard_holds_the_bookmark_and_warns_once_per_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    warnings: list[str] = []
    guard = RecordClockGuard(timedelta(0), 60, "2026-11-10T08:00:00+00:00", warnings.append)
    guard.saw_response("Tue, 10 Nov 2026 09:00:00 GMT")
    ahead = job(7, NOW + 10 * HOUR)
    held = guard.bookmark_after([ahead, job(8, NOW)], ahead["UpdatedOn"], None)
    assert held == NOW.isoformat()
    assert len(warnings) == 1
    # Read again, the version is not emitted again, so it is not named again.
    assert guard.bookmark_after([], ahead["UpdatedOn"], held) == held
    assert len(warnings) == 1
    assert guard.lead_to_keep() == timedelta(0)


def test_a_version_held_before_lets_the_bookmark_pass_once_inside_but_shows_no_lead() -> None:
    # Emitted by an earlier run 10 h ahead; true time has since come within the hour of it.
    held = job(7, NOW + HOUR - timedelta(minutes=5))
    start = check(timedelta(0))
    listed = after_listing(start, [held, job(8, NOW + 9 * HOUR)])
    assert listed.newest_inside == held["UpdatedOn"]
    # Listed again, not emitted: the bookmark may stop at it, the lead learns nothing.
    claim = (NOW + 9 * HOUR).isoformat()
    assert bounded_bookmark(claim, listed, (NOW - 9 * HOUR).isoformat()) == held["UpdatedOn"]
    assert listed.seen_lead is None
    assert lead_to_keep(listed, None) == timedelta(0)
    # Emitted now, the same version would show a lead of 55 minutes.
    emitted, ahead = after_records(start, [held])
    assert (emitted.seen_lead, ahead) == (timedelta(minutes=55), [])
