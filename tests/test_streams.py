"""The listing requests the stream sends and the records it emits (requests-mock)."""

from __future__ import annotations

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tests.conftest import MOCK_LISTING, job, mock_config, page, run_tap, sandbox_config


def sent_params(requests_mock) -> list[dict[str, list[str]]]:
    return [request.qs for request in requests_mock.request_history]


def test_first_request_asks_for_updatedon_ascending_pages(requests_mock) -> None:
    requests_mock.get(MOCK_LISTING, json=page([job(1, "2025-01-15T10:30:00Z")], size=250))

    run_tap(mock_config(page_size=250))

    (params,) = sent_params(requests_mock)
    # requests-mock lower-cases query values; keys are what Nexudus parses.
    assert params == {"page": ["1"], "size": ["250"], "orderby": ["updatedon"], "dir": ["1"]}
    assert requests_mock.request_history[0].headers["Authorization"] == "Bearer mock-token-value"


def test_filters_become_the_documented_query_parameters(requests_mock) -> None:
    requests_mock.get(MOCK_LISTING, json=page([]))
    filters = {
        "Business": 1001,
        "Status": "Failed",
        "User_Email": "ops@example.com",
        "from_CreatedOn": "2025-03-01T08:15:42Z",
        "to_CreatedOn": "2025-03-31T23:59",
    }

    run_tap(mock_config(filters=filters))

    query = requests_mock.request_history[0].url.split("?", 1)[1]
    assert "BusinessBackgroundJob_Business=1001" in query
    assert "BusinessBackgroundJob_Status=Failed" in query
    assert "BusinessBackgroundJob_User_Email=ops%40example.com" in query
    assert "from_BusinessBackgroundJob_CreatedOn=2025-03-01T08%3A15" in query
    assert "to_BusinessBackgroundJob_CreatedOn=2025-03-31T23%3A59" in query


def test_start_date_is_floored_to_the_minute_and_applied_exactly(requests_mock) -> None:
    records = [
        job(2, "2025-02-01T09:15:05Z"),
        job(3, "2025-02-01T09:15:30Z"),
    ]
    requests_mock.get(MOCK_LISTING, json=page(records))

    run = run_tap(mock_config(start_date="2025-02-01T09:15:20Z"))

    assert requests_mock.request_history[0].qs["from_businessbackgroundjob_updatedon"] == [
        "2025-02-01t09:15"
    ]
    # The minute filter lets 09:15:05 through; start_date itself excludes it.
    assert run.ids == [3]


def test_bookmark_minute_floor_and_lookback(requests_mock) -> None:
    requests_mock.get(MOCK_LISTING, json=page([job(9, "2025-05-05T12:00:10Z")]))
    state = {
        "bookmarks": {
            "business_background_jobs": {
                "replication_key": "UpdatedOn",
                "replication_key_value": "2025-05-05T12:00:45+00:00",
            }
        }
    }

    run_tap(mock_config(lookback_minutes=15), state=state)

    assert requests_mock.request_history[0].qs["from_businessbackgroundjob_updatedon"] == [
        "2025-05-05t11:45"
    ]


def test_timestamps_are_emitted_in_utc_and_bookmark_is_the_greatest(requests_mock) -> None:
    records = [
        job(1, "2025-01-15T12:30:00+02:00", CreatedOn="2025-01-15T11:00:00+02:00"),
        job(2, "2025-01-15T10:45:00Z", CreatedOn="2025-01-15T10:00:00"),
    ]
    requests_mock.get(MOCK_LISTING, json=page(records))

    run = run_tap(mock_config())

    assert run.versions == {1: "2025-01-15T10:30:00+00:00", 2: "2025-01-15T10:45:00+00:00"}
    assert [r["CreatedOn"] for r in run.records] == [
        "2025-01-15T09:00:00+00:00",
        "2025-01-15T10:00:00+00:00",
    ]
    assert run.bookmark == "2025-01-15T10:45:00+00:00"


def test_every_schema_field_is_emitted_with_nulls_kept(requests_mock) -> None:
    full = job(
        5,
        "2025-01-15T10:30:00Z",
        BusinessId=1001,
        BusinessName=None,
        UniqueId="a1b2c3d4-e5f6-7890-abcd-ef1234567890",
        IsNew=False,
        CustomFields=None,
    )
    requests_mock.get(MOCK_LISTING, json=page([full]))

    (record,) = run_tap(mock_config()).records

    assert record["BusinessId"] == 1001
    assert record["BusinessName"] is None
    assert record["IsNew"] is False
    assert record["UniqueId"] == "a1b2c3d4-e5f6-7890-abcd-ef1234567890"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"Records": [{"Name": "x"}], "HasNextPage": false}', "record #1 has no integer 'Id'"),
        ('{"Records": [], "HasNextPage": "yes"}', "'HasNextPage' is not a boolean"),
        # Not a listing at all: retried like an HTML page, then reported.
        ('{"CurrentPage": 1, "HasNextPage": false}', "not a listing (no 'Records'); gave up"),
        ('{"Records": {"Id": 1}, "HasNextPage": false}', "not a listing (no 'Records'); gave up"),
    ],
)
def test_a_malformed_listing_fails_naming_the_page(
    requests_mock, monkeypatch, body, expected
) -> None:
    from tap_nexudus_jobs import retries

    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.01)
    requests_mock.get(MOCK_LISTING, text=body, status_code=200)

    with pytest.raises(Exception, match="Nexudus listing page 1") as failure:
        run_tap(mock_config())

    assert expected in str(failure.value)


def test_an_html_page_with_200_is_retried_then_reported_naming_the_page(
    requests_mock, monkeypatch
) -> None:
    from tap_nexudus_jobs import retries

    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.01)
    html = {"text": "<html>Down for maintenance</html>", "headers": {"Content-Type": "text/html"}}
    requests_mock.get(MOCK_LISTING, [html, {"json": page([job(1, "2025-01-01T00:00:00Z")])}])

    assert run_tap(mock_config()).ids == [1]

    requests_mock.get(MOCK_LISTING, **html)
    with pytest.raises(Exception, match="Nexudus listing page 1") as failure:
        run_tap(mock_config())
    assert "the body is not JSON (text/html, 33 bytes); gave up after 6 attempts" in str(
        failure.value
    )


def test_a_200_in_json_that_is_not_a_listing_is_retried_like_an_html_page(
    requests_mock, monkeypatch
) -> None:
    """Issue 20, case 6: it failed at once, where an HTML 200 is retried."""
    from tap_nexudus_jobs import retries

    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.01)
    notice = {"json": {"Message": "The service is being updated"}}
    requests_mock.get(
        MOCK_LISTING, [notice, notice, {"json": page([job(1, "2025-01-01T00:00:00Z")])}]
    )

    assert run_tap(mock_config()).ids == [1]
    assert len(requests_mock.request_history) == 3


def test_a_json_notice_instead_of_a_listing_is_retried_against_the_sandbox(monkeypatch) -> None:
    from tap_nexudus_jobs import retries

    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.01)
    faults = SandboxFaults(
        garbage_listing_requests=frozenset({2, 3}), garbage_listing_format="json"
    )
    with NexudusSandbox(records=250, seed=6, faults=faults) as sandbox:
        run = run_tap(sandbox_config(sandbox, page_size=100))

        assert set(run.ids) == sandbox.served_ids()
