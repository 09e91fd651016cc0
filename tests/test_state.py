"""The bookmark's decisions (state.py, stall.py) on hand-written STATE, pages and clocks.

The end-to-end behaviour is held by test_resume.py, test_incremental.py, test_partitions.py
and test_bad_state.py; these pin each decision apart from any request.
"""

from __future__ import annotations

import typing as t
from datetime import datetime, timedelta, timezone

from tap_nexudus_jobs.stall import worth_checking
from tap_nexudus_jobs.state import (
    RunState,
    bookmark_after_page,
    bookmark_key,
    run_start,
)

BOOKMARK = "2026-06-11T18:12:27+00:00"
EARLIER = "2026-06-01T00:00:00+00:00"
LATER = "2026-06-20T00:00:00+00:00"


def at(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def job(job_id: int, updated_on: str) -> dict[str, t.Any]:
    return {"Id": job_id, "UpdatedOn": updated_on}


def partition(bookmark: str | None, sdk_start: str | None, **more: t.Any) -> dict[str, t.Any]:
    """A holder's STATE as the SDK leaves it before a sync (its start written in)."""
    state: dict[str, t.Any] = {"starting_replication_value": sdk_start, **more}
    if bookmark is not None:
        state["replication_key"] = "UpdatedOn"
        state["replication_key_value"] = bookmark
    return state


def start_of(
    context_state: dict[str, t.Any],
    stream_state: dict[str, t.Any] | None = None,
    *,
    partitioned: bool = False,
    start_date: str | None = None,
    with_result_data: bool = False,
) -> t.Any:
    return run_start(
        context_state,
        stream_state if stream_state is not None else context_state,
        partitioned=partitioned,
        start_date=start_date,
        with_result_data=with_result_data,
        lookback_minutes=15,
    )


def test_a_bookmark_is_read_from_with_the_lookback() -> None:
    start = start_of(partition(BOOKMARK, BOOKMARK), start_date=EARLIER)

    assert (start.bookmark, start.start, start.lookback_minutes) == (BOOKMARK, at(BOOKMARK), 15)
    assert start.skip_before is None  # the bookmark is past start_date: its minute is re-read
    assert start.inherited is None


def test_start_date_is_exact_no_lookback_and_nothing_before_it() -> None:
    start = start_of(partition(None, EARLIER), start_date=EARLIER)

    assert (start.start, start.lookback_minutes, start.skip_before) == (at(EARLIER), 0, EARLIER)
    assert not start.wanted(job(1, "2026-05-31T23:59:59+00:00"))
    assert start.wanted(job(2, EARLIER))
    assert start.wanted({"Id": 3})  # no UpdatedOn: nothing to hold it against


def test_a_start_date_later_than_the_bookmark_wins_and_is_exact() -> None:
    # The SDK writes the later of the two as its starting value.
    start = start_of(partition(BOOKMARK, LATER), start_date=LATER)

    assert (start.bookmark, start.start, start.lookback_minutes) == (BOOKMARK, at(LATER), 0)
    assert start.skip_before == LATER


def test_nothing_to_start_from_reads_everything() -> None:
    start = start_of(partition(None, None))

    assert (start.bookmark, start.start, start.lookback_minutes, start.skip_before) == (
        None,
        None,
        0,
        None,
    )


def test_a_new_business_inherits_the_unpartitioned_bookmark_said_once() -> None:
    stream_state = {"replication_key": "UpdatedOn", "replication_key_value": BOOKMARK}

    new = start_of(partition(None, EARLIER), stream_state, partitioned=True, start_date=EARLIER)
    own = start_of(partition(LATER, LATER), stream_state, partitioned=True)
    same = start_of(partition(None, BOOKMARK), stream_state, partitioned=True)

    assert (new.start, new.inherited, new.lookback_minutes) == (at(BOOKMARK), BOOKMARK, 15)
    assert (own.start, own.inherited) == (at(LATER), None)
    assert (same.start, same.inherited) == (at(BOOKMARK), None)  # nothing inherited to say


def test_the_rest_of_state_comes_in_the_same_value() -> None:
    context_state = partition(
        BOOKMARK,
        BOOKMARK,
        delivered={"result_data": False, "versions": [[BOOKMARK, [7, 8]]]},
        record_clock={"lead_minutes": 600},
        result_data_missing=[[9, BOOKMARK, 1]],
        requests_last_hour=[[1796203680, 3]],
    )

    listing_only = start_of(context_state)
    with_result_data = start_of(context_state, with_result_data=True)

    assert sorted(listing_only.delivered) == [(7, BOOKMARK), (8, BOOKMARK)]
    assert listing_only.hour == [(1796203680, 3)]
    assert listing_only.lead == timedelta(hours=10)
    assert listing_only.missing == []  # get-one's 404s are asked again only with ResultData
    # Delivered without ResultData is not delivered to a run that includes it.
    assert len(with_result_data.delivered) == 0
    assert [m.job_id for m in with_result_data.missing] == [9]


def test_a_page_claims_the_walks_bookmark_but_never_past_a_job_left_over() -> None:
    left = [job(5, "2026-06-11T18:12:30+00:00"), job(6, "2026-06-11T18:12:28+00:00")]

    assert bookmark_after_page("2026-06-11T18:13:00+00:00", [], BOOKMARK) == (
        "2026-06-11T18:13:00+00:00"
    )
    assert bookmark_after_page("2026-06-11T18:13:00+00:00", left, BOOKMARK) == (
        "2026-06-11T18:12:28+00:00"
    )
    # Never behind what STATE already claims, and no claim keeps it.
    assert bookmark_after_page("2026-06-11T18:13:00+00:00", left, LATER) == LATER
    assert bookmark_after_page(None, left, BOOKMARK) == BOOKMARK


def test_run_state_holds_each_claim_behind_a_stop_and_remembers_what_it_saved() -> None:
    state = RunState(start_of(partition(BOOKMARK, BOOKMARK)), 15, lambda _line: None)
    wanted = [job(1, "2026-06-11T18:20:00+00:00"), job(2, "2026-06-11T18:25:00+00:00")]

    # A stop after the first job: the claim waits at the job left over.
    assert state.after_page("2026-06-11T18:30:00+00:00", wanted, wanted[:1]) == (
        "2026-06-11T18:25:00+00:00"
    )
    assert state.saved == "2026-06-11T18:25:00+00:00"
    assert state.after_page(None, [], []) == "2026-06-11T18:25:00+00:00"


def test_run_state_holds_the_bookmark_behind_a_job_stamped_ahead_of_true_time() -> None:
    warnings: list[str] = []
    state = RunState(start_of(partition(BOOKMARK, BOOKMARK)), 15, warnings.append)
    state.clock.saw_time(datetime(2026, 6, 11, 18, 30, tzinfo=timezone.utc))
    inside, ahead = job(1, "2026-06-11T18:20:00+00:00"), job(2, "2099-01-01T00:00:00+00:00")

    claimed = state.after_page("2099-01-01T00:00:00+00:00", [inside, ahead], [inside, ahead])

    assert claimed == "2026-06-11T18:20:00+00:00"
    assert len(warnings) == 1
    assert "2099-01-01T00:00:00+00:00" in warnings[0]


def test_run_state_writes_what_the_next_run_needs_beside_the_bookmark() -> None:
    context_state = partition(BOOKMARK, BOOKMARK, result_data_missing=[[9, BOOKMARK, 1]])
    state = RunState(start_of(context_state, with_result_data=True), 15, lambda _line: None)
    state.start.delivered.add([job(4, BOOKMARK)])
    stream_state: dict[str, t.Any] = {}

    state.save(context_state, stream_state, [(1796203680, 2)])

    assert context_state["delivered"] == {"result_data": True, "versions": [[BOOKMARK, [4]]]}
    assert context_state["result_data_missing"] == [[9, BOOKMARK, 1]]
    assert stream_state["requests_last_hour"] == [[1796203680, 2]]


def test_a_stall_is_checked_only_when_nothing_is_listed_from_the_bookmark() -> None:
    read_from = at(BOOKMARK) - timedelta(minutes=15)

    assert worth_checking(BOOKMARK, read_from, 0)
    assert not worth_checking(BOOKMARK, read_from, 3)
    assert not worth_checking(BOOKMARK, read_from, None)
    # A start_date later than the bookmark is where the run read from, not the bookmark.
    assert not worth_checking(BOOKMARK, at(LATER), 0)


def test_error_lines_name_where_state_keeps_the_bookmark() -> None:
    assert bookmark_key("jobs", None) == "STATE bookmarks.jobs.replication_key_value"
    assert bookmark_key("jobs", 1001) == (
        "STATE bookmarks.jobs.replication_key_value of business 1001"
    )
