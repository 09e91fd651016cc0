"""Paging on the envelope: which requests the tap sends, and when it stops."""

from __future__ import annotations

import json

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tap_nexudus_jobs.envelope import ListingEnvelope
from tap_nexudus_jobs.errors import NexudusResponseError
from tap_nexudus_jobs.walk import ListingWindow, PageRequest
from tap_nexudus_jobs.walk.checks import PageRead, repeated_page
from tests.conftest import (
    MOCK_LISTING,
    job,
    mock_config,
    page,
    run_cli,
    run_tap,
    sandbox_config,
    serve_listing,
)

FROM = "from_BusinessBackgroundJob_UpdatedOn"
TO = "to_BusinessBackgroundJob_UpdatedOn"


def page_params(requests_mock) -> list[str]:
    return [request.qs["page"][0] for request in requests_mock.request_history]


def test_has_next_page_false_on_the_first_page_means_one_request(requests_mock) -> None:
    requests_mock.get(MOCK_LISTING, json=page([job(1, "2025-01-01T00:00:00Z")], has_next=False))

    run = run_tap(mock_config())

    assert page_params(requests_mock) == ["1"]
    assert run.ids == [1]


def test_each_request_starts_at_the_last_minute_read(requests_mock) -> None:
    # Two jobs a minute, three to a page: re-reading each page's last minute is cheaper
    # here than probing for a closed window, so every request is page 1 of a fresh query.
    jobs = [job(n, f"2025-01-01T00:{n // 2:02d}:{n % 2 * 30:02d}Z") for n in range(10)]
    queries = serve_listing(requests_mock, jobs)

    run = run_tap(mock_config(page_size=3))

    assert sorted(set(run.ids)) == list(range(10))
    assert len(run.ids) == 10  # a re-read job is not emitted twice
    assert [q["page"] for q in queries] == ["1"] * len(queries)
    assert FROM not in queries[0]
    floors = [q[FROM] for q in queries[1:]]
    assert floors == sorted(set(floors))  # always forward, never the same twice


def test_a_long_listing_is_paged_by_number_inside_a_window_the_records_prove_closed(
    requests_mock,
) -> None:
    # Five jobs a minute: re-anchoring would re-read a few a page; a closed window none.
    jobs = [job(n, f"2025-01-01T00:{n // 5:02d}:{n % 5 * 10:02d}Z") for n in range(300)]
    queries = serve_listing(requests_mock, jobs)

    run = run_tap(mock_config(page_size=20))

    assert sorted(run.ids) == list(range(300))
    closed = [q for q in queries if TO in q]
    assert [q["page"] for q in closed] == [str(n) for n in range(1, len(closed) + 1)]
    # The window ends before the newest job's minute (00:59): a job listed after it
    # proves no update can land inside the window any more.
    assert {q[TO] for q in closed} == {"2025-01-01T00:58"}
    assert len(queries) <= 300 // 20 + 2


def test_an_empty_page_stops_paging_even_if_has_next_page(requests_mock) -> None:
    first = [job(1, "2025-01-01T00:00:00Z"), job(2, "2025-01-01T00:00:09Z")]

    def respond(request, context):
        if request.qs["page"] == ["1"] and "from_businessbackgroundjob_updatedon" not in request.qs:
            return page(first, number=1, size=2, total=6)
        empty = page([], number=int(request.qs["page"][0]), size=2, total=6, has_next=True)
        return {**empty, "CurrentOrderField": request.qs["orderby"][0]}

    requests_mock.get(MOCK_LISTING, json=respond)

    run = run_tap(mock_config(page_size=2))

    assert run.ids == [1, 2]
    assert len(requests_mock.request_history) <= 4


def test_a_server_that_ignores_the_from_filter_is_stopped_not_followed(requests_mock) -> None:
    same = [job(1, "2025-01-01T00:00:00Z"), job(2, "2025-01-01T00:30:00Z")]
    # Page numbers advance in the envelope, but the same jobs come back every time.
    requests_mock.get(
        MOCK_LISTING,
        json=lambda request, context: page(
            same, number=int(request.qs["page"][0]), size=2, total=100
        ),
    )

    with pytest.raises(NexudusResponseError, match=f"Nexudus ignored {FROM}=2025-01-01T00:30"):
        run_tap(mock_config(page_size=2))

    assert len(requests_mock.request_history) <= 3


def test_a_server_that_ignores_the_page_parameter_is_stopped(requests_mock) -> None:
    requests_mock.get(
        MOCK_LISTING,
        json=lambda request, context: page(
            [job(1, "2025-01-01T00:00:00Z"), job(2, "2025-01-01T00:00:01Z")],
            number=1,
            size=2,
            total=9,
        ),
    )

    with pytest.raises(NexudusResponseError, match=r"returned page 1 when page \d+ was requested"):
        run_tap(mock_config(page_size=2))

    assert page_params(requests_mock)[0] == "1"
    assert len(requests_mock.request_history) == 2


def test_a_crowded_minute_is_read_in_id_order_and_each_version_emitted_once(
    requests_mock,
) -> None:
    jobs = [job(n, f"2025-01-01T00:00:{n:02d}Z") for n in range(1, 8)]
    jobs.append(job(8, "2025-01-01T00:05:00Z"))
    queries = serve_listing(requests_mock, jobs)

    run = run_tap(mock_config(page_size=2))

    assert run.ids.count(1) == 1
    assert sorted(run.ids) == list(range(1, 9))
    by_id = [q for q in queries if q["orderBy"] == "Id"]
    assert by_id
    assert {(q[FROM], q[TO]) for q in by_id} == {("2025-01-01T00:00", "2025-01-01T00:01")}


def test_a_server_ignoring_the_page_number_by_id_stops_the_run_within_a_few_requests(
    tmp_path,
) -> None:
    """Issue 20, case 2: it paged the same jobs until the hour's budget was spent, exit 0."""
    faults = SandboxFaults(ignore_page_by_id=True)
    with NexudusSandbox(records=120, seed=4, faults=faults) as sandbox:
        crowded = sandbox.add_jobs(250)  # one second, newest: more than a page, read by Id
        config = sandbox_config(sandbox, page_size=100, max_requests_per_run=60)

        result = run_cli(config, tmp_path)

        by_id = [e for e in sandbox.log_snapshot() if e.query.get("orderBy") == "Id"]
        assert result.exit_code == 1
        assert len(by_id) <= 3
        (line,) = [line for line in result.stderr.splitlines() if "error:" in line]
        assert "Nexudus answered listing page 2 (ordered by Id, dir=1, UpdatedOn from " in line
        assert "with the same 100 jobs as page 1" in line
        assert "it ignores the page number" in line
        assert "Traceback" not in result.stderr
        messages = [json.loads(text) for text in result.stdout.splitlines()]
        emitted = {m["record"]["Id"] for m in messages if m["type"] == "RECORD"}
        state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
        bookmark = state["bookmarks"]["business_background_jobs"].get("replication_key_value")
        newest = max(m["record"]["UpdatedOn"] for m in messages if m["type"] == "RECORD")
        assert bookmark is None or bookmark <= newest  # nothing past what was emitted
        assert not set(crowded) <= emitted  # the repeated pages were not all of them

        sandbox.faults = SandboxFaults()
        rerun = run_tap(sandbox_config(sandbox, page_size=100), state=state)

        assert emitted | set(rerun.ids) == sandbox.served_ids()


def test_a_repeat_counts_only_where_no_tie_shuffle_or_change_explains_it() -> None:
    def envelope(ids: list[int], total: int) -> ListingEnvelope:
        records = [{"Id": i, "UpdatedOn": "2025-01-01T00:00:00+00:00"} for i in ids]
        return ListingEnvelope(records, 2, True, total, 9, "UpdatedOn", 1)

    by_id = PageRequest(ListingWindow(None), 2, 1, "Id", size=2)
    by_time = PageRequest(ListingWindow(None), 2, 1, "UpdatedOn", size=10)
    before = PageRead(page=1, total_items=900)

    assert repeated_page(before, by_id, envelope([1, 2], 900)) is not None
    assert repeated_page(before, by_id, envelope([1, 2], 901)) is None  # jobs entered
    assert repeated_page(PageRead(2, 900), by_id, envelope([1, 2], 900)) is None  # re-read
    # Equal timestamps may come back shuffled: two jobs can repeat by chance, ten cannot.
    assert repeated_page(before, by_time, envelope([1, 2], 900)) is None
    assert repeated_page(before, by_time, envelope(list(range(10)), 900)) is not None
