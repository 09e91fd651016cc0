"""`business_ids`: one partition per business, each with its own bookmark."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from tap_nexudus_jobs.timestamps import floor_to_minute, parse_timestamp
from tests.conftest import LISTING_PATH, run_tap, sandbox_config


def jobs_of(sandbox, business_ids: set[int]) -> set[int]:
    with sandbox.lock:
        return {i for i, job in sandbox.jobs.items() if job["BusinessId"] in business_ids}


def partition_bookmarks(state: dict) -> dict[int, str]:
    partitions = state["bookmarks"]["business_background_jobs"]["partitions"]
    return {p["context"]["business_id"]: p["replication_key_value"] for p in partitions}


def test_each_business_is_its_own_partition(sandbox) -> None:
    run = run_tap(sandbox_config(sandbox, page_size=100, business_ids=[1001, 1003]))

    assert set(run.ids) == jobs_of(sandbox, {1001, 1003})
    businesses = {
        e.query.get("BusinessBackgroundJob_Business")
        for e in sandbox.request_log
        if e.path == LISTING_PATH
    }
    assert businesses == {"1001", "1003"}
    bookmarks = partition_bookmarks(run.final_state)
    for business_id in (1001, 1003):
        newest = max(r["UpdatedOn"] for r in run.records if r["BusinessId"] == business_id)
        assert bookmarks[business_id] == newest


def test_a_change_in_one_business_is_picked_up_by_its_partition_only(sandbox) -> None:
    config = sandbox_config(sandbox, page_size=100, business_ids=[1001, 1003])
    first = run_tap(config)
    changed = sorted(jobs_of(sandbox, {1003}))[:3]
    at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=3)
    sandbox.touch(changed, at=at)

    second = run_tap(config, state=first.final_state)

    assert set(changed) <= set(second.ids)
    assert {r["Id"] for r in second.records if r["UpdatedOn"] == at.isoformat()} == set(changed)
    bookmarks = partition_bookmarks(second.final_state)
    assert bookmarks[1003] == at.isoformat()
    assert bookmarks[1001] == partition_bookmarks(first.final_state)[1001]


def test_an_unpartitioned_bookmark_seeds_new_partitions_and_says_so(sandbox, caplog) -> None:
    caplog.set_level(logging.INFO)
    whole = run_tap(sandbox_config(sandbox, page_size=100))
    sandbox.clear_log()

    partitioned = run_tap(
        sandbox_config(sandbox, page_size=100, business_ids=[1002]), state=whole.final_state
    )

    assert "Business 1002 has no bookmark of its own yet" in caplog.text
    # Only the lookback hour before the bookmark is re-read, not the business's history.
    assert len(partitioned.ids) < 20
    (request,) = [e for e in sandbox.request_log if e.path == LISTING_PATH]
    # The inherited bookmark's minute less lookback_minutes (its default: 60).
    inherited = floor_to_minute(parse_timestamp(whole.bookmark or "")) - timedelta(minutes=60)
    assert request.query["from_BusinessBackgroundJob_UpdatedOn"] == f"{inherited:%Y-%m-%dT%H:%M}"
