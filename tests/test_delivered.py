"""Pay once per version: a version delivered by one run is neither fetched nor emitted again."""

from __future__ import annotations

import typing as t
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tap_nexudus_jobs.delivered import MAX_DELIVERED_VERSIONS, DeliveredVersions
from tap_nexudus_jobs.errors import StateError
from tap_nexudus_jobs.state import checked_state
from tap_nexudus_jobs.timestamps import floor_to_minute, parse_timestamp, to_utc_iso
from tests.conftest import LISTING_PATH, TapRun, run_tap, sandbox_config

STREAM = "business_background_jobs"
UNPACED = {"requests_per_minute": 1_000_000, "min_request_interval_ms": 0}
NO_RESULT_YET = {"Queued", "Running"}


def requests_by_kind(sandbox: NexudusSandbox) -> Counter[str]:
    return Counter(
        "listing" if e.path == LISTING_PATH else "get-one" for e in sandbox.log_snapshot()
    )


def delivered_state(run: TapRun) -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", run.final_state["bookmarks"][STREAM]["delivered"])


def touch_now_in_one_minute(sandbox: NexudusSandbox, ids: list[int], status: str) -> datetime:
    """Touch jobs at a fixed second of the current minute, so the test cannot straddle one."""
    at = datetime.now(timezone.utc).replace(second=10, microsecond=0) + timedelta(minutes=1)
    sandbox.touch(ids, at=at, status=status)
    return at


@pytest.mark.parametrize("lookback", [0, 60])
@pytest.mark.parametrize("include_result_data", [False, True])
def test_an_incremental_run_with_nothing_changed_emits_nothing(
    lookback, include_result_data
) -> None:
    with NexudusSandbox(records=400, seed=31) as sandbox:
        # Crowd the newest minutes, so the bookmark's minute and the lookback window
        # really hold jobs the next run reads again.
        newest = sorted(sandbox.served_ids())[-40:]
        touch_now_in_one_minute(sandbox, newest, "Completed")
        settings = sandbox_config(
            sandbox,
            page_size=100,
            lookback_minutes=lookback,
            include_result_data=include_result_data,
            **UNPACED,
        )
        first = run_tap(settings)
        sandbox.clear_log()

        again = run_tap(settings, state=first.final_state)
        sent = requests_by_kind(sandbox)

    assert len(first.records) == 400
    assert again.records == []
    assert sent == Counter({"listing": 1})
    assert again.bookmark == first.bookmark
    assert len(delivered_state(first)["versions"]) >= 1
    assert sum(len(ids) for _, ids in delivered_state(first)["versions"]) >= 40


def test_a_changed_job_is_a_new_version_fetched_once_and_the_bookmark_minute_is_not_re_sent():
    with NexudusSandbox(records=400, seed=32) as sandbox:
        settings = sandbox_config(
            sandbox, page_size=100, include_result_data=True, lookback_minutes=5, **UNPACED
        )
        first = run_tap(settings)
        changed = sorted(sandbox.served_ids())[10:16]
        at = touch_now_in_one_minute(sandbox, changed, "Failed")
        sandbox.clear_log()

        second = run_tap(settings, state=first.final_state)
        fetched = [
            e.path.rsplit("/", 1)[1] for e in sandbox.log_snapshot() if e.path != LISTING_PATH
        ]
        third = run_tap(settings, state=second.final_state)

    assert sorted(second.ids) == changed
    assert sorted(int(i) for i in fetched) == changed
    assert all(record["UpdatedOn"] == at.isoformat() for record in second.records)
    assert all(record["Status"] == "Failed" and record["ResultData"] for record in second.records)
    assert third.records == []


def test_the_state_keeps_only_the_minutes_the_next_run_reads_again() -> None:
    with NexudusSandbox(records=2000, seed=33) as sandbox:
        settings = sandbox_config(sandbox, page_size=200, lookback_minutes=60, **UNPACED)
        run = run_tap(settings)
        versions = sandbox.current_versions()

    stream_state = run.final_state["bookmarks"][STREAM]
    bookmark = parse_timestamp(stream_state["replication_key_value"])
    window_start = floor_to_minute(bookmark) - timedelta(minutes=60)
    in_window = {
        job_id for job_id, stamp in versions.items() if parse_timestamp(stamp) >= window_start
    }
    kept = {job_id for _, ids in stream_state["delivered"]["versions"] for job_id in ids}
    assert kept == in_window
    assert len(kept) < 2000 / 10
    assert all(
        stamp >= to_utc_iso(window_start) for stamp, _ in stream_state["delivered"]["versions"]
    )


def test_versions_delivered_without_result_data_are_fetched_once_when_it_is_turned_on() -> None:
    with NexudusSandbox(records=300, seed=34) as sandbox:
        newest = sorted(sandbox.served_ids())[-20:]
        touch_now_in_one_minute(sandbox, newest, "Completed")
        plain = sandbox_config(sandbox, page_size=100, **UNPACED)
        first = run_tap(plain)
        sandbox.clear_log()

        with_result = {**plain, "include_result_data": True}
        second = run_tap(with_result, state=first.final_state)
        fetched = requests_by_kind(sandbox)["get-one"]
        third = run_tap(with_result, state=second.final_state)

    assert sorted(second.ids) == sorted(newest)  # the bookmark's minute, now with results
    assert fetched == 20
    assert all(record["ResultData"] for record in second.records)
    assert third.records == []


@pytest.mark.parametrize("lookback", [0, 60])
def test_on_a_steady_account_each_version_is_fetched_and_emitted_once(lookback) -> None:
    # Every incremental run's listing request moves jobs on: Running ones finish, Queued
    # ones start, new ones arrive; the walk reads the newest minutes again every run.
    # Each burst lands 10 minutes after the previous one, as runs on a schedule would
    # see: at lookback 60 every run re-reads the versions of the five runs before it.
    faults = SandboxFaults(
        status_flow_every=1, status_flow_per_burst=6, status_flow_minutes=10, seed=3
    )
    with NexudusSandbox(records=300, seed=35, faults=faults) as sandbox:
        settings = sandbox_config(
            sandbox, page_size=50, include_result_data=True, lookback_minutes=lookback, **UNPACED
        )
        state: dict[str, t.Any] = {}
        emitted: Counter[tuple[int, str]] = Counter()
        fetchable = 0
        fetched = 0
        statuses: Counter[str] = Counter()
        for _ in range(8):
            sandbox.clear_log()
            run = run_tap(settings, state=state)
            state = run.final_state
            emitted.update((r["Id"], r["UpdatedOn"]) for r in run.records)
            fetchable += sum(1 for r in run.records if r["Status"] not in NO_RESULT_YET)
            statuses.update(r["Status"] for r in run.records)
            fetched += requests_by_kind(sandbox)["get-one"]
        sandbox.faults = SandboxFaults()
        final = run_tap(settings, state=state)
        emitted.update((r["Id"], r["UpdatedOn"]) for r in final.records)
        served = sandbox.current_versions()

    assert statuses["Queued"] >= 40 and statuses["Running"] >= 40  # the flow ran every run
    assert set(emitted.values()) == {1}, "a version was emitted twice"
    assert fetched == fetchable, "get-ones per delivered version with a result != 1.00"
    assert {(job_id, stamp.replace("Z", "+00:00")) for job_id, stamp in served.items()} <= set(
        emitted
    )


def test_delivered_versions_are_bounded_and_robust_to_bad_state() -> None:
    delivered = DeliveredVersions(with_result_data=True, lookback_minutes=0)
    start = datetime(2025, 1, 1, tzinfo=timezone.utc)
    delivered.add_versions(
        (job_id, to_utc_iso(start + timedelta(seconds=job_id // 7)))
        for job_id in range(MAX_DELIVERED_VERSIONS + 500)
    )
    delivered.keep_for(None)
    assert len(delivered) <= MAX_DELIVERED_VERSIONS
    kept = {job_id for job_id, _ in delivered}
    assert max(kept) == MAX_DELIVERED_VERSIONS + 499  # the oldest go first

    junk = {"result_data": True, "versions": [["not a time", [1]], ["2025-01-01T00:00:00Z", [2]]]}
    for value in (junk, "junk", {"versions": 5}):
        state = {"bookmarks": {"business_background_jobs": {"delivered": value}}}
        with pytest.raises(StateError, match=r"State key 'bookmarks\.business_background_jobs"):
            checked_state(
                state,
                stream="business_background_jobs",
                replication_key="UpdatedOn",
                business_ids=None,
            )
