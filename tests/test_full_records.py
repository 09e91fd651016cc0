"""include_result_data: full records through get-one, once per emitted job version."""

from __future__ import annotations

import itertools
import logging

import pytest
import requests

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tap_nexudus_jobs.errors import NexudusAuthError
from tap_nexudus_jobs.full_records import (
    MAX_MISSING_JOBS,
    MAX_MISSING_TRIES,
    MissingResultData,
    bounded_missing,
)
from tests.conftest import (
    LISTING_PATH,
    MOCK_LISTING,
    job,
    mock_config,
    page,
    run_cli,
    run_tap,
    sandbox_config,
)

# The published 120/minute would make these tests minutes long; 600/minute is the
# 1-per-100-ms pace, which the tap never exceeds either.
FAST = {"requests_per_minute": 600, "requests_per_hour": 100000}
NO_RESULT = {"Queued", "Running"}


def get_one(sandbox: NexudusSandbox, job_id: int) -> dict:
    response = requests.get(
        f"{sandbox.url}{LISTING_PATH}/{job_id}",
        headers={"Authorization": "Bearer sandbox-token"},
        timeout=10,
    )
    return dict(response.json())


def test_every_job_is_emitted_with_its_full_record(caplog) -> None:
    caplog.set_level(logging.INFO)
    with NexudusSandbox(records=120, seed=12) as sandbox:
        run = run_tap(sandbox_config(sandbox, page_size=50, include_result_data=True, **FAST))
        get_ones = [e for e in sandbox.request_log if e.path.startswith(LISTING_PATH + "/")]
        with sandbox.lock:
            with_result = [i for i, j in sandbox.jobs.items() if j["Status"] not in NO_RESULT]

        assert sorted(run.ids) == sorted(sandbox.served_ids())
        # Each job fetched once, except those with no result yet (result_data_skip_statuses).
        assert sorted(int(e.path.rsplit("/", 1)[1]) for e in get_ones) == sorted(with_result)
        assert len(with_result) < 120
        for record in run.records[::10]:
            assert record["ResultData"] == get_one(sandbox, record["Id"])["ResultData"]
    assert sum(1 for r in run.records if r["ResultData"]) > len(run.records) / 2
    assert "up to 120 get-one requests for 120 jobs" in caplog.text


def test_an_incremental_run_fetches_only_changed_jobs(sandbox) -> None:
    first = run_tap(sandbox_config(sandbox, page_size=100, **FAST))
    changed = sorted(sandbox.served_ids())[:4]
    sandbox.touch(changed, status="Failed")
    sandbox.clear_log()

    second = run_tap(
        sandbox_config(sandbox, page_size=100, include_result_data=True, **FAST),
        state=first.final_state,
    )

    fetched = {int(e.path.rsplit("/", 1)[1]) for e in sandbox.request_log if e.path != LISTING_PATH}
    assert set(changed) <= fetched == set(second.ids)
    assert len(fetched) < 20
    assert {r["Status"] for r in second.records if r["Id"] in changed} == {"Failed"}


def test_a_get_one_that_answered_404_is_asked_again_by_the_next_run(requests_mock, caplog) -> None:
    """Issue 20, case 6: a job briefly unavailable kept a null ResultData for good."""
    caplog.set_level(logging.INFO)
    requests_mock.get(
        MOCK_LISTING,
        json=page([job(1, "2025-01-01T00:00:00Z"), job(2, "2025-01-01T00:00:05Z")]),
    )
    requests_mock.get(
        f"{MOCK_LISTING}/1", json={**job(1, "2025-01-01T00:00:00Z"), "ResultData": "ok"}
    )
    requests_mock.get(f"{MOCK_LISTING}/2", status_code=404, json={"Message": "not found"})
    config = mock_config(include_result_data=True)

    run = run_tap(config)

    assert run.ids == [1, 2]
    assert [r["ResultData"] for r in run.records] == ["ok", None]
    assert (
        "Job 2 answered 404 to its get-one (deleted, or briefly unavailable): emitted "
        "without ResultData; the next run asks again" in caplog.messages
    )
    kept = run.final_state["bookmarks"]["business_background_jobs"]
    assert kept["result_data_missing"] == [[2, "2025-01-01T00:00:05+00:00", 1]]

    still_missing = run_tap(config, state=run.final_state)  # still 404: asked, kept

    assert still_missing.ids == []
    kept = still_missing.final_state["bookmarks"]["business_background_jobs"]
    assert kept["result_data_missing"] == [[2, "2025-01-01T00:00:05+00:00", 2]]

    requests_mock.get(
        f"{MOCK_LISTING}/2", json={**job(2, "2025-01-01T00:00:05Z"), "ResultData": "done"}
    )
    back = run_tap(config, state=still_missing.final_state)

    assert [(r["Id"], r["UpdatedOn"], r["ResultData"]) for r in back.records] == [
        (2, "2025-01-01T00:00:05+00:00", "done")
    ]
    assert "result_data_missing" not in back.final_state["bookmarks"]["business_background_jobs"]


def test_a_job_that_stays_404_is_given_up_after_a_few_runs(requests_mock, caplog) -> None:
    requests_mock.get(MOCK_LISTING, json=page([job(2, "2025-01-01T00:00:05Z")]))
    requests_mock.get(f"{MOCK_LISTING}/2", status_code=404, json={"Message": "not found"})
    config = mock_config(include_result_data=True)
    state = run_tap(config).final_state
    get_ones = []

    for _run in range(MAX_MISSING_TRIES):  # the runs after the first
        requests_mock.reset_mock()
        state = run_tap(config, state=state).final_state
        get_ones.append(sum(r.path.endswith("/2") for r in requests_mock.request_history))

    assert get_ones == [1] * (MAX_MISSING_TRIES - 1) + [0]
    assert "result_data_missing" not in state["bookmarks"]["business_background_jobs"]
    assert (
        f"Job 2 still answers 404 to its get-one after {MAX_MISSING_TRIES} runs: left "
        "without ResultData (deleted)" in caplog.messages
    )


def test_the_jobs_kept_for_another_get_one_are_bounded() -> None:
    jobs = [
        MissingResultData(n, f"2025-01-01T00:{n // 60:02d}:{n % 60:02d}+00:00")
        for n in range(MAX_MISSING_JOBS + 50)
    ]
    jobs.append(MissingResultData(0, "2025-01-02T00:00:00+00:00"))  # a newer version of 0

    kept = bounded_missing(jobs)

    assert len(kept) == MAX_MISSING_JOBS
    assert kept[-1] == MissingResultData(0, "2025-01-02T00:00:00+00:00")
    assert [job.job_id for job in kept[:-1]] == list(range(51, MAX_MISSING_JOBS + 50))


def test_get_one_requests_overlap_under_latency_but_never_beat_the_pacing(tmp_path) -> None:
    # The tap in its own process, as in production: in-process, its threads and the
    # sandbox's would share one GIL and blur the arrival times measured here.
    with NexudusSandbox(records=60, seed=9, faults=SandboxFaults(latency_ms=350)) as sandbox:
        settings = sandbox_config(
            sandbox,
            page_size=100,
            include_result_data=True,
            result_data_skip_statuses=[],  # a get-one for every job
            requests_per_minute=600,
        )
        assert run_cli(settings, tmp_path).exit_code == 0
        get_ones = sorted(
            (e for e in sandbox.request_log if e.path != LISTING_PATH), key=lambda e: e.started_at
        )

    assert len(get_ones) == 60
    starts = [e.started_at for e in get_ones]
    # Sent 110 ms apart: never more than 10 arrivals in any second, whatever the jitter.
    assert max(sum(1 for s in starts if first <= s < first + 1.0) for first in starts) <= 10
    in_flight_together = sum(
        1 for a, b in itertools.pairwise(get_ones) if b.started_at < (a.finished_at or 0.0)
    )
    assert in_flight_together > len(get_ones) / 2  # latency 350 ms did not idle the budget


def test_a_refused_get_one_names_the_read_role(requests_mock) -> None:
    requests_mock.get(MOCK_LISTING, json=page([job(1, "2025-01-01T00:00:00Z")]))
    requests_mock.get(f"{MOCK_LISTING}/1", status_code=401, json={"Message": "denied"})

    with pytest.raises(NexudusAuthError, match="BusinessBackgroundJob-Read role"):
        run_tap(mock_config(include_result_data=True))


def test_a_job_briefly_unavailable_to_get_one_gets_its_result_data_next_run() -> None:
    with NexudusSandbox(records=40, seed=12) as sandbox:
        config = sandbox_config(sandbox, include_result_data=True, result_data_skip_statuses=[])
        unavailable = min(sandbox.served_ids()) + 5
        sandbox.faults = SandboxFaults(get_one_missing=frozenset({unavailable}))
        first = run_tap(config)
        sandbox.faults = SandboxFaults()

        second = run_tap(config, state=first.final_state)

    assert {r["Id"]: r["ResultData"] for r in first.records}[unavailable] is None
    (again,) = second.records
    assert again["Id"] == unavailable and again["ResultData"] is not None
    assert again["UpdatedOn"] == {r["Id"]: r for r in first.records}[unavailable]["UpdatedOn"]
