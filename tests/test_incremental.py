"""Incremental syncs against the sandbox: run, change jobs, run again with the state."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from tap_nexudus_jobs.timestamps import floor_to_minute, parse_timestamp
from tests.conftest import LISTING_PATH, run_tap, sandbox_config, with_ids_normalised


def test_full_sync_emits_every_job_once_in_its_current_version(sandbox) -> None:
    run = run_tap(sandbox_config(sandbox, page_size=100))

    assert sorted(run.ids) == sorted(sandbox.served_ids())
    assert run.versions == with_ids_normalised(sandbox.current_versions())
    listing_pages = [e for e in sandbox.request_log if e.path == LISTING_PATH]
    assert len(listing_pages) == 4  # 350 jobs at 100 a page
    assert run.bookmark == max(run.versions.values())


def test_second_run_emits_only_changed_jobs(sandbox) -> None:
    first = run_tap(sandbox_config(sandbox, page_size=100))
    changed_at = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=5)
    changed = sorted(sandbox.served_ids())[10:17]
    sandbox.touch(changed, at=changed_at, status="Failed")
    sandbox.clear_log()

    second = run_tap(sandbox_config(sandbox, page_size=100), state=first.final_state)

    assert first.bookmark is not None
    bookmark_minute = floor_to_minute(parse_timestamp(first.bookmark))
    # The bookmark's minute is read again, but its versions were delivered: not re-sent.
    assert set(second.ids) == set(changed)
    assert all(second.versions[job_id] == changed_at.isoformat() for job_id in changed)
    assert {r["Status"] for r in second.records if r["Id"] in changed} == {"Failed"}
    (request,) = [e for e in sandbox.request_log if e.path == LISTING_PATH]
    # From the bookmark's minute less lookback_minutes (its default: 60).
    read_from = bookmark_minute - timedelta(minutes=60)
    assert request.query["from_BusinessBackgroundJob_UpdatedOn"] == read_from.strftime(
        "%Y-%m-%dT%H:%M"
    )
    assert second.bookmark == changed_at.isoformat()


def test_a_run_with_nothing_changed_costs_one_request(sandbox) -> None:
    first = run_tap(sandbox_config(sandbox, page_size=100))
    sandbox.clear_log()

    again = run_tap(sandbox_config(sandbox, page_size=100), state=first.final_state)

    assert len(sandbox.request_log) == 1
    assert again.bookmark == first.bookmark
