"""Jobs changing while the tap pages: zero lost, zero stale (against the sandbox)."""

from __future__ import annotations

import json
import random

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tests.conftest import (
    LISTING_PATH,
    ids_in_listing_order,
    run_cli,
    run_tap,
    sandbox_config,
    with_ids_normalised,
)


def latest_versions(records: list[dict]) -> dict[int, str]:
    """The last version of each job the tap emitted (later messages win, as in a target)."""
    versions: dict[int, str] = {}
    for record in records:
        versions[record["Id"]] = record["UpdatedOn"]
    return versions


def claimed_minute(bookmark: str) -> str:
    """What a bookmark claims: every job updated before its minute has been emitted."""
    return bookmark[:16]


def assert_run_alone_lost_nothing_below_its_bookmark(run, current: dict[int, str]) -> None:
    emitted = latest_versions(run.records)
    below = {i for i, stamp in current.items() if stamp[:16] < claimed_minute(run.bookmark)}
    assert {i for i in below if emitted.get(i) != current[i]} == set()


@pytest.mark.parametrize(("touch_every", "per_touch"), [(1, 1), (2, 3), (4, 5)])
def test_jobs_updated_mid_sync_are_neither_lost_nor_stale(touch_every, per_touch) -> None:
    with NexudusSandbox(records=1200, seed=21) as sandbox:
        rng = random.Random(touch_every * 100 + per_touch)
        all_ids = sorted(sandbox.served_ids())

        def change_jobs(listing_request: int) -> None:
            # From the second request on, update jobs anywhere in the listing: behind
            # the tap (shifts what it has not read yet) and ahead of it.
            if listing_request >= 2 and listing_request % touch_every == 0:
                sandbox.touch(rng.sample(all_ids, per_touch))

        sandbox.on_listing_request = change_jobs
        first = run_tap(sandbox_config(sandbox, page_size=100))
        sandbox.on_listing_request = None
        current = with_ids_normalised(sandbox.current_versions())
        assert_run_alone_lost_nothing_below_its_bookmark(first, current)
        # Jobs changed in the newest minute while run 1 read it are the next run's.
        second = run_tap(sandbox_config(sandbox, page_size=100), state=first.final_state)

        emitted = latest_versions(first.records + second.records)
        assert set(emitted) == sandbox.served_ids()  # zero lost
        assert emitted == current  # zero stale
        assert first.bookmark is not None
        assert first.bookmark <= max(latest_versions(first.records).values())


def test_no_change_costs_the_pages_and_at_most_two_more() -> None:
    with NexudusSandbox(records=1000, seed=4) as sandbox:
        run = run_tap(sandbox_config(sandbox, page_size=100))
        listings = [e for e in sandbox.request_log if e.path == LISTING_PATH]
        assert 10 <= len(listings) <= 12
        assert sorted(run.ids) == sorted(sandbox.served_ids())


def test_a_deleted_job_does_not_make_the_tap_skip_the_next_one() -> None:
    with NexudusSandbox(records=600, seed=8) as sandbox:
        ordered = ids_in_listing_order(sandbox)

        def delete_behind(listing_request: int) -> None:
            if listing_request == 3:
                sandbox.delete(ordered[:5])  # all on page 1, already emitted

        sandbox.on_listing_request = delete_behind
        run = run_tap(sandbox_config(sandbox, page_size=100))

        assert set(ordered[5:]) <= set(run.ids)


def test_a_burst_of_changes_behind_the_tap_is_caught_up() -> None:
    with NexudusSandbox(records=1500, seed=30) as sandbox:
        ordered = ids_in_listing_order(sandbox)

        def bulk_edit(listing_request: int) -> None:
            if listing_request == 6:
                sandbox.touch(ordered[:80], status="Cancelled")  # all behind the tap

        sandbox.on_listing_request = bulk_edit
        run = run_tap(sandbox_config(sandbox, page_size=100))
        sandbox.on_listing_request = None
        rerun = run_tap(sandbox_config(sandbox, page_size=100), state=run.final_state)

        current = with_ids_normalised(sandbox.current_versions())
        assert_run_alone_lost_nothing_below_its_bookmark(run, current)
        emitted = latest_versions(run.records + rerun.records)
        assert emitted == current
        cancelled = [r for r in run.records + rerun.records if r["Id"] in ordered[:80]]
        assert {r["Status"] for r in cancelled} >= {"Cancelled"}


def test_a_server_that_ignores_to_fails_with_one_line_and_no_bookmark_past_the_emitted(
    tmp_path,
) -> None:
    # Dense jobs make the closed window pay, so the tap sends to_ and checks it is honoured.
    faults = SandboxFaults(to_filter="ignored")
    with NexudusSandbox(records=3000, seed=5, faults=faults) as sandbox:
        result = run_cli(sandbox_config(sandbox, page_size=50), tmp_path)
        sent_to = [
            e for e in sandbox.request_log if "to_BusinessBackgroundJob_UpdatedOn" in e.query
        ]

    assert sent_to, "the walk never sent a to_ filter"
    assert result.exit_code != 0
    assert "Traceback" not in result.stderr
    errors = [
        line for line in result.stderr.splitlines() if "ignored to_BusinessBackgroundJob" in line
    ]
    assert len(errors) >= 1
    emitted, bookmark = "", ""
    for line in result.stdout.splitlines():
        message = json.loads(line)
        if message["type"] == "RECORD":
            emitted = max(emitted, message["record"]["UpdatedOn"])
        elif message["type"] == "STATE":
            bookmark = message["value"]["bookmarks"]["business_background_jobs"].get(
                "replication_key_value", ""
            )
            assert bookmark <= emitted
