"""RecordBuilder: the schema's fields, typed as declared, or one clear error."""

from __future__ import annotations

import re

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tap_nexudus_jobs.errors import NexudusResponseError
from tap_nexudus_jobs.records import RecordBuilder
from tap_nexudus_jobs.streams import BusinessBackgroundJobsStream
from tests.conftest import (
    MOCK_LISTING,
    job,
    mock_config,
    page,
    run_cli,
    run_tap,
    sandbox_config,
)

SCHEMA = BusinessBackgroundJobsStream.schema
ALL_FIELDS = list(SCHEMA["properties"])


def build(raw: dict, selected: list[str] | None = None) -> dict:
    return RecordBuilder(SCHEMA, selected or ALL_FIELDS).build(raw)


def test_values_of_the_declared_type_pass_and_missing_fields_are_null() -> None:
    record = build({"Id": 5, "BusinessId": 1001, "Status": "Failed", "IsNew": False})

    assert list(record) == ALL_FIELDS
    assert record["BusinessId"] == 1001
    assert record["IsNew"] is False
    assert record["UserEmail"] is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-01-15T10:30:00Z", "2025-01-15T10:30:00+00:00"),
        ("2025-01-15T12:30:00+02:00", "2025-01-15T10:30:00+00:00"),
        ("2025-01-15T10:30:00.123Z", "2025-01-15T10:30:00.123000+00:00"),
        ("2025-01-15T10:30:00", "2025-01-15T10:30:00+00:00"),
    ],
)
def test_timestamps_come_out_in_utc(value, expected) -> None:
    assert build({"Id": 1, "UpdatedOn": value})["UpdatedOn"] == expected


def test_lossless_coercions_only() -> None:
    record = build({"Id": 1, "BusinessId": 1001.0, "Description": 42})

    assert record["BusinessId"] == 1001
    assert record["Description"] == "42"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"BusinessId": 1001}, "field 'Id' is missing"),
        ({"Id": 1, "BusinessId": "Shoreditch"}, "field 'BusinessId' is 'Shoreditch'"),
        ({"Id": 1, "IsNew": "no"}, "field 'IsNew' is 'no', expected true or false"),
        ({"Id": 1, "UpdatedOn": "2025-13-45T99:00:00Z"}, "field 'UpdatedOn'"),
        ({"Id": 1, "UpdatedOn": 1736937000}, "expected an ISO 8601 date-time"),
        ({"Id": 1, "CustomFields": ["a"]}, "field 'CustomFields' is list"),
        ({"Id": 1, "Status": {"code": 3}}, "field 'Status' is dict"),
    ],
)
def test_a_value_of_the_wrong_type_is_a_clear_error(raw, message) -> None:
    with pytest.raises(ValueError, match=message):
        build(raw)


def test_deselected_and_unknown_fields_are_not_emitted() -> None:
    unknown: list[list[str]] = []
    builder = RecordBuilder(SCHEMA, ["Id", "UpdatedOn", "Status"], unknown.append)

    record = builder.build({"Id": 1, "Status": "Queued", "UserEmail": "x@y.z", "Colour": "red"})
    builder.build({"Id": 2, "Colour": "blue"})

    assert record == {"Id": 1, "UpdatedOn": None, "Status": "Queued"}
    assert unknown == [["Colour"]]  # said once per run, not per record


@pytest.mark.parametrize(
    "value",
    ["03/02/2025 10:00:00", "2025-01-15", "15 Jan 2025 10:00", "2025-01-15T10:30:00 PST", " "],
)
def test_timestamps_are_read_as_iso_8601_only(value) -> None:
    """Issue 20, case 6: `03/02/2025` was read by guessing which is the day."""
    with pytest.raises(ValueError, match=f"field 'UpdatedOn' is '{value}', not an ISO 8601"):
        build({"Id": 1, "UpdatedOn": value})


def test_a_timestamp_that_is_not_iso_8601_is_one_line_naming_job_field_and_value(
    requests_mock,
) -> None:
    serve_listing_page = [job(1, "2025-01-01T00:00:00Z"), job(2, "2025-01-01T00:00:09Z")]
    serve_listing_page[1]["CreatedOn"] = "03/02/2025 10:00:00"
    requests_mock.get(MOCK_LISTING, json=page(serve_listing_page))

    with pytest.raises(NexudusResponseError) as failure:
        run_tap(mock_config())

    assert str(failure.value) == (
        "Nexudus listing page 1: job 2 field 'CreatedOn' is '03/02/2025 10:00:00', not an "
        "ISO 8601 date-time"
    )


def test_a_server_writing_month_first_timestamps_stops_the_run_before_any_record(
    tmp_path,
) -> None:
    faults = SandboxFaults(timestamp_format="slashed")
    with NexudusSandbox(records=20, seed=2, faults=faults) as sandbox:
        result = run_cli(sandbox_config(sandbox), tmp_path)

    assert result.exit_code == 1
    (line,) = [line for line in result.stderr.splitlines() if "error:" in line]
    assert re.fullmatch(
        r"tap-nexudus-jobs: error: Nexudus listing page 1: job \d+ field 'UpdatedOn' is "
        r"'\d\d/\d\d/\d{4} \d\d:\d\d:\d\d', not an ISO 8601 date-time",
        line,
    )
    assert '"type":"RECORD"' not in result.stdout
    assert "replication_key_value" not in result.stdout
