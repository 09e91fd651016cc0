"""ResultData: skipped while a job has no result yet, parsed for analysts, text kept as text."""

from __future__ import annotations

import logging
import typing as t

import pytest

from nexudus_sandbox import NexudusSandbox
from tap_nexudus_jobs.records import parse_result_data
from tests.conftest import (
    LISTING_PATH,
    MOCK_LISTING,
    job,
    mock_config,
    page,
    run_tap,
    sandbox_config,
)

UNPACED = {"requests_per_minute": 1_000_000, "min_request_interval_ms": 0}


def fetched_ids(sandbox: NexudusSandbox) -> set[int]:
    return {
        int(e.path.rsplit("/", 1)[1])
        for e in sandbox.log_snapshot()
        if e.path.startswith(LISTING_PATH + "/")
    }


def statuses(sandbox: NexudusSandbox) -> dict[int, str]:
    with sandbox.lock:
        return {job_id: job["Status"] for job_id, job in sandbox.jobs.items()}


def test_jobs_without_a_result_yet_are_emitted_without_a_get_one_and_fetched_when_done() -> None:
    with NexudusSandbox(records=500, seed=41) as sandbox:
        settings = sandbox_config(sandbox, page_size=100, include_result_data=True, **UNPACED)
        first = run_tap(settings)
        status = statuses(sandbox)
        waiting = {job_id for job_id, s in status.items() if s in ("Queued", "Running")}
        assert len(waiting) > 5
        assert fetched_ids(sandbox) == set(status) - waiting
        by_id = {r["Id"]: r for r in first.records}
        assert all(by_id[job_id]["ResultData"] is None for job_id in waiting)
        assert set(by_id) == set(status)

        # They finish: a new UpdatedOn, so a new version, which has a result to fetch.
        finishing = sorted(waiting)[:4]
        sandbox.touch(finishing, status="Completed")
        sandbox.clear_log()
        second = run_tap(settings, state=first.final_state)
        with sandbox.lock:
            results = {job_id: sandbox.jobs[job_id]["ResultData"] for job_id in finishing}

    assert fetched_ids(sandbox) == set(finishing)
    assert {r["Id"]: r["ResultData"] for r in second.records} == results
    assert all(value for value in results.values())


@pytest.mark.parametrize(
    ("skip", "fetched"),
    [
        ([], {1, 2, 3, 4}),  # fetch everything
        (["Completed"], {2, 3, 4}),
        (["Queued", "Running"], {1, 4}),  # the default; "Paused" is unknown: fetched
    ],
)
def test_skip_statuses_are_a_setting_and_unknown_statuses_are_fetched(
    requests_mock, skip, fetched
) -> None:
    listed = [
        job(1, "2025-01-01T00:00:01Z", Status="Completed"),
        job(2, "2025-01-01T00:00:02Z", Status="Queued"),
        job(3, "2025-01-01T00:00:03Z", Status="Running"),
        job(4, "2025-01-01T00:00:04Z", Status="Paused"),
    ]
    requests_mock.get(MOCK_LISTING, json=page(listed))
    for record in listed:
        requests_mock.get(
            f"{MOCK_LISTING}/{record['Id']}",
            json={**record, "ResultData": f"result {record['Id']}"},
        )

    run = run_tap(mock_config(include_result_data=True, result_data_skip_statuses=skip))

    asked = {int(r.path.rsplit("/", 1)[1]) for r in requests_mock.request_history[1:]}
    assert asked == fetched
    assert {r["Id"]: r["ResultData"] for r in run.records} == {
        i: (f"result {i}" if i in fetched else None) for i in (1, 2, 3, 4)
    }


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (
            '{"processed": 3, "errors": 1, "message": "Row 2: bad"}',
            {"processed": 3, "errors": 1, "message": "Row 2: bad"},
        ),
        ('[{"row": 2, "error": "bad"}]', [{"row": 2, "error": "bad"}]),
        ("  \n{}", {}),
        ("Timeout while processing file", None),
        ("{not json", None),
        ('"just a string"', None),
        ("42", None),
        ("", None),
        (None, None),
    ],
)
def test_result_data_parsed_only_for_json_objects_and_arrays(text, parsed) -> None:
    assert parse_result_data(text) == parsed


def test_result_data_is_kept_as_text_and_parsed_beside_it(requests_mock, caplog) -> None:
    caplog.set_level(logging.WARNING)
    answers: dict[int, t.Any] = {
        1: '{"processed": 10, "errors": 2, "message": "Row 4: unknown tariff"}',
        2: "The import file could not be read.",
        3: {"processed": 5, "errors": 0},  # not text at all: kept as its JSON text
        4: None,
    }
    listed = [job(i, f"2025-01-01T00:00:0{i}Z") for i in answers]
    requests_mock.get(MOCK_LISTING, json=page(listed))
    for record in listed:
        requests_mock.get(
            f"{MOCK_LISTING}/{record['Id']}", json={**record, "ResultData": answers[record["Id"]]}
        )

    run = run_tap(mock_config(include_result_data=True))

    by_id = {r["Id"]: r for r in run.records}
    assert by_id[1]["ResultData"] == answers[1]
    assert by_id[1]["ResultDataParsed"] == {
        "processed": 10,
        "errors": 2,
        "message": "Row 4: unknown tariff",
    }
    assert by_id[2]["ResultData"] == "The import file could not be read."
    assert by_id[2]["ResultDataParsed"] is None
    assert by_id[3]["ResultData"] == '{"processed": 5, "errors": 0}'
    assert by_id[3]["ResultDataParsed"] == {"processed": 5, "errors": 0}
    assert by_id[4]["ResultData"] is None and by_id[4]["ResultDataParsed"] is None
    assert "error" not in caplog.text.lower()


def test_the_sandbox_result_data_arrives_parsed(sandbox) -> None:
    run = run_tap(sandbox_config(sandbox, page_size=100, include_result_data=True, **UNPACED))

    with sandbox.lock:
        served = {job_id: job["ResultData"] for job_id, job in sandbox.jobs.items()}
    parsed = [r for r in run.records if r["ResultDataParsed"] is not None]
    text_only = [r for r in run.records if r["ResultData"] and r["ResultDataParsed"] is None]
    assert parsed and text_only
    for record in run.records:
        assert record["ResultData"] == served[record["Id"]]
    assert all(isinstance(r["ResultDataParsed"]["processed"], int) for r in parsed)
    assert all(not r["ResultData"].startswith("{") for r in text_only)
