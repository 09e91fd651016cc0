"""The SDK capabilities meltano.yml declares, exercised against the sandbox.

`stream-maps`, `schema-flattening` and `batch` come from the Meltano Singer SDK; these tests
show they work with this tap's stream (its own paging, bookmarks and per-page STATE), by
running a real sync in-process against an in-process sandbox, as tests/conftest.py does.
"""

from __future__ import annotations

import gzip
import json
import typing as t
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

from nexudus_sandbox import NexudusSandbox
from tests.conftest import TapRun, run_tap, sandbox_config

STREAM = "business_background_jobs"


def schema_of(run: TapRun) -> dict[str, t.Any]:
    schemas = [m for m in run.messages if m["type"] == "SCHEMA" and m["stream"] == STREAM]
    assert schemas, "no SCHEMA message for the stream"
    return t.cast("dict[str, t.Any]", schemas[-1]["schema"])


def test_stream_map_drops_a_column_and_adds_a_computed_one(sandbox: NexudusSandbox):
    config = sandbox_config(
        sandbox,
        stream_maps={STREAM: {"status_lower": "Status.lower()", "UserEmail": None}},
    )
    run = run_tap(config)

    properties = schema_of(run)["properties"]
    assert "UserEmail" not in properties
    assert "status_lower" in properties
    assert {"Id", "Status", "UpdatedOn"} <= set(properties)

    assert sorted(run.ids) == sorted(sandbox.served_ids())
    statuses = {job_id: job["Status"] for job_id, job in sandbox.jobs.items()}
    for record in run.records:
        assert "UserEmail" not in record
        assert record["status_lower"] == record["Status"].lower()
        assert record["Status"] == statuses[record["Id"]]
    # The bookmark still works on the mapped stream.
    assert run.bookmark == max(sandbox.current_versions().values()).replace("Z", "+00:00")


def test_flattening_turns_the_object_columns_into_json_text(sandbox: NexudusSandbox):
    # The sandbox serves null for both object columns; give some jobs real objects, as a
    # Nexudus account with custom fields would. UpdatedOn is unchanged: no reindex needed.
    custom = {"Tariff": {"Name": "Hot desk", "Seats": 3}, "Source": "csv"}
    localization = {"Culture": "en-GB", "TimeZone": "GMT Standard Time"}
    with sandbox.lock:
        with_objects = sorted(sandbox.jobs)[::7]
        for job_id in with_objects:
            sandbox.jobs[job_id]["CustomFields"] = custom
            sandbox.jobs[job_id]["LocalizationDetails"] = localization

    plain = run_tap(sandbox_config(sandbox))
    run = run_tap(sandbox_config(sandbox, flattening_enabled=True, flattening_max_depth=1))

    plain_properties = schema_of(plain)["properties"]
    properties = schema_of(run)["properties"]
    assert "object" in plain_properties["CustomFields"]["type"]
    # These columns are open objects (no declared properties), so flattening cannot split
    # them into columns: it turns them into JSON text, which flat targets can store.
    as_text = ("CustomFields", "LocalizationDetails", "ResultDataParsed", "ExtraFields")
    for column in as_text:
        assert properties[column]["type"] in (["string", "null"], ["null", "string"])
    assert set(properties) == set(plain_properties)
    assert {k: v for k, v in properties.items() if k not in as_text} == {
        k: v for k, v in plain_properties.items() if k not in as_text
    }

    assert sorted(run.ids) == sorted(sandbox.served_ids())
    by_id = {record["Id"]: record for record in run.records}
    plain_by_id = {record["Id"]: record for record in plain.records}
    for job_id in with_objects:
        assert isinstance(plain_by_id[job_id]["CustomFields"], dict)
        assert isinstance(by_id[job_id]["CustomFields"], str)
        assert json.loads(by_id[job_id]["CustomFields"]) == custom
        assert json.loads(by_id[job_id]["LocalizationDetails"]) == localization
    others = set(by_id) - set(with_objects)
    assert others
    assert all(by_id[job_id]["CustomFields"] is None for job_id in others)


def read_batch_file(url: str) -> list[dict[str, t.Any]]:
    path = Path(urlparse(url).path)
    assert path.is_file(), f"BATCH manifest names a missing file: {url}"
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_batch_messages_hold_every_job_exactly_once(sandbox: NexudusSandbox, tmp_path: Path):
    root = tmp_path / "batches"
    root.mkdir()
    config = sandbox_config(
        sandbox,
        page_size=100,  # several listing pages, so several STATE messages in between
        batch_config={
            "encoding": {"format": "jsonl", "compression": "gzip"},
            "storage": {"root": f"file://{root}", "prefix": "nexudus-jobs-"},
        },
    )
    run = run_tap(config)

    assert not run.records, "batch mode still wrote RECORD messages"
    batches = [m for m in run.messages if m["type"] == "BATCH"]
    assert batches, "no BATCH message"
    for message in batches:
        assert message["stream"] == STREAM
        assert message["encoding"] == {"format": "jsonl", "compression": "gzip"}
        assert message["manifest"]

    files = [url for message in batches for url in message["manifest"]]
    assert len(files) == len(set(files))
    assert all(Path(urlparse(url).path).parent == root for url in files)
    assert all(Path(urlparse(url).path).name.startswith("nexudus-jobs-") for url in files)
    records = [record for url in files for record in read_batch_file(url)]

    counts = Counter(record["Id"] for record in records)
    assert set(counts) == sandbox.served_ids()
    assert set(counts.values()) == {1}, "some job is in the batch files more than once"
    versions = sandbox.current_versions()
    assert {r["Id"]: r["UpdatedOn"] for r in records} == {
        job_id: value.replace("Z", "+00:00") for job_id, value in versions.items()
    }
    assert run.bookmark == max(versions.values()).replace("Z", "+00:00")
