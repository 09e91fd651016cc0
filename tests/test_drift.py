"""Jobs changing while the tap pages: zero lost, zero stale (against the sandbox)."""

from __future__ import annotations

import random

import pytest

from tap_nexudus_jobs.sandbox import NexudusSandbox
from tests.conftest import (
    LISTING_PATH,
    ids_in_listing_order,
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


# Rates stay under one page of changes per minute; the congested-minute path has its
# own test in test_pagination_walk.py (it waits for the minute to close).
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
        run = run_tap(sandbox_config(sandbox, page_size=100))
        sandbox.on_listing_request = None

        emitted = latest_versions(run.records)
        assert set(emitted) == sandbox.served_ids()  # zero lost
        assert emitted == with_ids_normalised(sandbox.current_versions())  # zero stale
        assert run.bookmark == max(emitted.values())


def test_no_change_means_no_extra_request() -> None:
    with NexudusSandbox(records=1000, seed=4) as sandbox:
        run_tap(sandbox_config(sandbox, page_size=100))
        listings = [e for e in sandbox.request_log if e.path == LISTING_PATH]
        assert len(listings) == 10


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

        emitted = latest_versions(run.records)
        assert emitted == with_ids_normalised(sandbox.current_versions())
        assert {r["Status"] for r in run.records if r["Id"] in ordered[:80]} >= {"Cancelled"}
