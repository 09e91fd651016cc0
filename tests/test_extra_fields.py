"""Fields Nexudus adds later reach the warehouse in ExtraFields, through maps and flattening."""

from __future__ import annotations

import json
import logging
import typing as t

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tap_nexudus_jobs.records import RecordBuilder
from tap_nexudus_jobs.streams import BusinessBackgroundJobsStream
from tests.conftest import MOCK_LISTING, TapRun, job, mock_config, page, run_tap, sandbox_config

STREAM = "business_background_jobs"
EXTRA = {"Priority": {"Level": 2, "Reason": "month end"}, "Region": "EMEA"}
DECLARED = set(BusinessBackgroundJobsStream.schema["properties"])


def schema_of(run: TapRun) -> dict[str, t.Any]:
    (message,) = [m for m in run.messages if m["type"] == "SCHEMA"]
    return t.cast("dict[str, t.Any]", message["schema"])


def test_undeclared_fields_are_kept_unchanged_and_named_once(caplog) -> None:
    caplog.set_level(logging.WARNING)
    with NexudusSandbox(records=250, seed=51, faults=SandboxFaults(extra_fields=EXTRA)) as sandbox:
        run = run_tap(sandbox_config(sandbox, page_size=100))
        served = sandbox.served_ids()

    assert sorted(run.ids) == sorted(served)
    assert all(record["ExtraFields"] == EXTRA for record in run.records)
    assert all(set(record) <= DECLARED for record in run.records)  # no stray top-level keys
    named = [m for m in caplog.messages if "does not declare" in m]
    assert named == [
        "Nexudus sent fields the schema does not declare; kept, unchanged, in ExtraFields: "
        "['Priority', 'Region']"
    ]
    assert "ExtraFields" in schema_of(run)["properties"]


def test_without_undeclared_fields_the_column_is_null(sandbox) -> None:
    run = run_tap(sandbox_config(sandbox, page_size=100))
    assert {record["ExtraFields"] for record in run.records} == {None}


def test_declared_fields_never_go_to_extra_fields_and_get_one_adds_its_own(requests_mock) -> None:
    listed = job(1, "2025-01-01T00:00:00Z", Status="Completed", Colour="red", Shade=1)
    requests_mock.get(MOCK_LISTING, json=page([listed]))
    full = {**listed, "ResultData": "ok", "Colour": "crimson", "Attachments": ["a.csv"]}
    requests_mock.get(f"{MOCK_LISTING}/1", json=full)

    (record,) = run_tap(mock_config(include_result_data=True)).records

    # The listing wins on a clash, as it does for declared fields; get-one adds the rest.
    assert record["ExtraFields"] == {"Colour": "red", "Shade": 1, "Attachments": ["a.csv"]}
    assert record["Status"] == "Completed"
    assert record["ResultData"] == "ok"


def test_a_stream_map_reads_extra_fields_and_flattening_turns_them_into_json_text() -> None:
    with NexudusSandbox(records=120, seed=52, faults=SandboxFaults(extra_fields=EXTRA)) as sandbox:
        mapped = run_tap(
            sandbox_config(
                sandbox,
                stream_maps={
                    STREAM: {
                        "priority_level": "int(ExtraFields['Priority']['Level'])",
                        "UserEmail": None,
                    }
                },
            )
        )
        flat = run_tap(sandbox_config(sandbox, flattening_enabled=True, flattening_max_depth=1))

    assert {record["priority_level"] for record in mapped.records} == {2}
    assert "priority_level" in schema_of(mapped)["properties"]
    assert all("UserEmail" not in record for record in mapped.records)
    assert schema_of(flat)["properties"]["ExtraFields"]["type"] in (
        ["string", "null"],
        ["null", "string"],
    )
    assert {json.dumps(json.loads(r["ExtraFields"]), sort_keys=True) for r in flat.records} == {
        json.dumps(EXTRA, sort_keys=True)
    }


def test_deselected_extra_fields_drop_undeclared_fields_and_say_so() -> None:
    names: list[list[str]] = []
    schema = BusinessBackgroundJobsStream.schema
    builder = RecordBuilder(schema, ["Id", "UpdatedOn"], names.append)

    first = builder.build({"Id": 1, "UpdatedOn": None, "Colour": "red"})
    builder.build({"Id": 2, "Colour": "blue", "Size": 3})

    assert first == {"Id": 1, "UpdatedOn": None}
    assert names == [["Colour"], ["Size"]]  # each new name once
