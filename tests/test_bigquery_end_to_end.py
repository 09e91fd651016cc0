"""BigQuery end to end: sandbox -> `meltano run tap-nexudus-jobs target-bigquery` -> emulator.

The loader is plugins/loaders/target-bigquery.yml exactly as a user adds it (`meltano add
--from-ref` into a new project: the `fresh_project` fixture, tests/fresh_project.py), the
real z3-target-bigquery, loading with its gcs_stage method into a local BigQuery emulator
(bqemulator) through a local GCS emulator (tests/bigquery_emulator.py; `make
bigquery-emulator` installs both). The sandbox
serves jobs with ResultData (include_result_data) and one field the tap does not declare, so
the JSON columns are filled. The test counts the rows in BigQuery, checks column types and
JSON values, and runs every query of docs/warehouses.md's BigQuery block against the table.

What the emulator cannot do: MERGE. It answers the target's upsert (`MERGE ... WHEN MATCHED
THEN UPDATE SET target.col = ...`) with "Qualified column names in UPDATE .. SET not
supported", a limit of the DuckDB engine inside it, which real BigQuery does not have. So
the load runs with upsert off (append); the last test shows the definition's own setting
(upsert on) reaching that MERGE, and nothing patches the target to get past it.
"""

from __future__ import annotations

import json
import re
import typing as t
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tap_nexudus_jobs.records import parse_result_data
from tests.bigquery_emulator import BigQueryEmulator, running_emulators
from tests.fresh_project import FreshProject
from tests.meltano_runs import ROOT

pytestmark = pytest.mark.meltano  # runs Meltano pipelines

LOADER = "target-bigquery"
DATASET = "nexudus"  # the definition's default
JOBS = 300
EXTRA_FIELDS = {"Priority": {"Level": 2, "Reason": "month end"}}
UNPACED_WITH_RESULT_DATA = {
    "TAP_NEXUDUS_JOBS_INCLUDE_RESULT_DATA": "true",
    "TAP_NEXUDUS_JOBS_REQUESTS_PER_MINUTE": "1000000",
    "TAP_NEXUDUS_JOBS_MIN_REQUEST_INTERVAL_MS": "0",
}
MERGE_UNSUPPORTED = "Qualified column names in UPDATE .. SET not supported"
README = ROOT / "docs" / "warehouses.md"
START, END = "<!-- bigquery-queries:start -->", "<!-- bigquery-queries:end -->"
QUERY_TITLES = {
    "per_status_per_day": "BigQuery: jobs per status per day",
    "failure_rate_per_business": "BigQuery: failure rate per business",
    "why_imports_failed": "BigQuery: why imports failed",
    "result_data_keys": "BigQuery: what ResultDataParsed holds",
    "extra_fields": "BigQuery: new fields in ExtraFields",
}
FINISHED = {"Completed", "Failed", "Cancelled"}


def readme_queries() -> dict[str, str]:
    """docs/warehouses.md's BigQuery queries by key, recognised by their first `-- title` line."""
    text = README.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1, f"needs one {START}..{END}"
    section = text[text.index(START) : text.index(END)]
    queries: dict[str, str] = {}
    for block in re.findall(r"```sql\n(.*?)```", section, flags=re.S):
        title = block.strip().splitlines()[0].removeprefix("--").strip()
        keys = [key for key, wanted in QUERY_TITLES.items() if title.startswith(wanted)]
        assert len(keys) == 1, f"BigQuery query with an unexpected first line: {title!r}"
        queries[keys[0]] = block
    assert set(queries) == set(QUERY_TITLES)
    return queries


@dataclass
class Loaded:
    emulator: BigQueryEmulator
    project: FreshProject
    sandbox: NexudusSandbox
    jobs: list[dict[str, t.Any]]


@pytest.fixture(scope="module")
def loaded(
    tmp_path_factory: pytest.TempPathFactory, fresh_project: FreshProject
) -> Iterator[Loaded]:
    project = fresh_project
    faults = SandboxFaults(extra_fields=EXTRA_FIELDS)
    with (
        running_emulators(tmp_path_factory.mktemp("bigquery-emulator")) as emulator,
        NexudusSandbox(records=JOBS, seed=14, faults=faults) as sandbox,
    ):
        env = {
            **emulator.target_env(),
            **UNPACED_WITH_RESULT_DATA,
            "TARGET_BIGQUERY_UPSERT": "false",  # the emulator cannot MERGE (module docstring)
        }
        project.run(LOADER, sandbox.url, env)
        with sandbox.lock:
            jobs = [dict(job) for job in sandbox.jobs.values()]
        yield Loaded(emulator, project, sandbox, jobs)


def utc(text: str) -> datetime:
    """UNIX_SECONDS(<TIMESTAMP>), which the REST API returns as text."""
    return datetime.fromtimestamp(int(text), tz=timezone.utc)


def test_every_job_lands_once_with_its_values(loaded: Loaded) -> None:
    rows = loaded.emulator.query(
        "SELECT Id, Status, UNIX_SECONDS(UpdatedOn) AS UpdatedOn,"
        " UNIX_SECONDS(CreatedOn) AS CreatedOn, ResultData"
        " FROM `my-gcp-project.nexudus.business_background_jobs`"
    )
    assert len(rows) == JOBS
    by_id = {int(row["Id"]): row for row in rows}
    assert set(by_id) == loaded.sandbox.served_ids()
    for job in loaded.jobs:
        row = by_id[job["Id"]]
        assert row["Status"] == job["Status"]
        assert utc(row["UpdatedOn"]) == job["UpdatedOn"].astimezone(timezone.utc)
        assert utc(row["CreatedOn"]) == job["CreatedOn"].astimezone(timezone.utc)
        assert row["ResultData"] == job["ResultData"]
    assert sum(job["ResultData"] is not None for job in loaded.jobs) > JOBS // 2


def test_columns_are_typed_json_and_timestamp(loaded: Loaded) -> None:
    table = loaded.emulator.table(DATASET, "business_background_jobs")
    types = {field["name"]: field["type"].upper() for field in table["schema"]["fields"]}
    assert {name: types[name] for name in ("Id", "BusinessId", "UserId")} == dict.fromkeys(
        ("Id", "BusinessId", "UserId"), "INTEGER"
    )
    for name in ("UpdatedOn", "CreatedOn", "_sdc_extracted_at", "_sdc_batched_at"):
        assert types[name] == "TIMESTAMP", name
    for name in ("ResultDataParsed", "ExtraFields", "CustomFields", "LocalizationDetails"):
        assert types[name] == "JSON", name
    assert types["IsNew"] == "BOOLEAN"
    assert types["Status"] == "STRING"
    # cluster_on_key_properties: clustered on the MERGE key.
    assert table["clustering"]["fields"] == ["Id"]


def test_json_columns_hold_the_objects(loaded: Loaded) -> None:
    rows = loaded.emulator.query(
        "SELECT Id, TO_JSON_STRING(ResultDataParsed) AS parsed,"
        " TO_JSON_STRING(ExtraFields) AS extra,"
        " JSON_VALUE(ExtraFields, '$.Priority.Reason') AS reason,"
        " CAST(JSON_VALUE(ResultDataParsed, '$.processed') AS INT64) AS processed"
        " FROM `my-gcp-project.nexudus.business_background_jobs`"
    )
    by_id = {int(row["Id"]): row for row in rows}
    with_objects = 0
    for job in loaded.jobs:
        row = by_id[job["Id"]]
        assert json.loads(row["extra"]) == EXTRA_FIELDS
        assert row["reason"] == "month end"
        parsed = parse_result_data(job["ResultData"])
        if parsed is None:
            assert row["parsed"] in (None, "null")
            continue
        assert json.loads(row["parsed"]) == parsed
        if isinstance(parsed, dict) and "processed" in parsed:
            with_objects += 1
            assert int(row["processed"]) == parsed["processed"]
    assert with_objects > 0


def test_readme_bigquery_query_jobs_per_status_per_day(loaded: Loaded) -> None:
    rows = loaded.emulator.query(readme_queries()["per_status_per_day"])
    got = {(row["created_day"], row["status"]): int(row["jobs"]) for row in rows}
    expected = Counter(
        (job["CreatedOn"].astimezone(timezone.utc).date().isoformat(), job["Status"])
        for job in loaded.jobs
    )
    assert got == dict(expected)
    assert len(rows) == len(got)


def test_readme_bigquery_query_failure_rate_per_business(loaded: Loaded) -> None:
    rows = loaded.emulator.query(readme_queries()["failure_rate_per_business"])
    assert {int(row["business_id"]) for row in rows} == {job["BusinessId"] for job in loaded.jobs}
    for row in rows:
        mine = [job for job in loaded.jobs if job["BusinessId"] == int(row["business_id"])]
        failed = sum(job["Status"] == "Failed" for job in mine)
        finished = sum(job["Status"] in FINISHED for job in mine)
        assert (int(row["failed"]), int(row["finished"])) == (failed, finished)
        assert float(row["failure_rate"]) == pytest.approx(failed / finished, abs=5e-5)
    rates = [float(row["failure_rate"]) for row in rows]
    assert rates == sorted(rates, reverse=True)


def test_readme_bigquery_query_why_imports_failed(loaded: Loaded) -> None:
    rows = loaded.emulator.query(readme_queries()["why_imports_failed"])
    failed = [
        job
        for job in loaded.jobs
        if job["Status"] == "Failed" and job["Description"].startswith("Import")
    ]
    reasons: Counter[str] = Counter()
    for job in failed:
        parsed = parse_result_data(job["ResultData"])
        message = parsed.get("message") if isinstance(parsed, dict) else None
        reasons[str(message or job["ResultData"] or "(no ResultData)")] += 1
    assert failed
    assert {row["reason"]: int(row["failed_imports"]) for row in rows} == dict(reasons)


def test_readme_bigquery_query_result_data_keys(loaded: Loaded) -> None:
    rows = loaded.emulator.query(readme_queries()["result_data_keys"])
    expected: Counter[tuple[str, str]] = Counter()
    for job in loaded.jobs:
        parsed = parse_result_data(job["ResultData"])
        if isinstance(parsed, dict):
            expected.update((job["Status"], key) for key in parsed)
    assert expected
    assert {(row["status"], row["key"]): int(row["jobs"]) for row in rows} == dict(expected)


def test_readme_bigquery_query_extra_fields(loaded: Loaded) -> None:
    rows = loaded.emulator.query(readme_queries()["extra_fields"])
    assert [(row["field"], int(row["jobs"])) for row in rows] == [("Priority", JOBS)]


def test_the_definitions_upsert_reaches_a_merge_the_emulator_cannot_run(loaded: Loaded) -> None:
    """With the definition's upsert: true the target loads a temporary table, then MERGEs.

    Real BigQuery runs that MERGE; the emulator refuses it, and this test says so, so that an
    emulator that learns MERGE shows up here (then load with upsert on and count one row
    per Id after a second run).
    """
    completed = loaded.project.cmd(
        "run",
        "--state-id-suffix=upsert",
        "tap-nexudus-jobs",
        LOADER,
        env={
            "TAP_NEXUDUS_JOBS_API_URL": loaded.sandbox.url,
            "TAP_NEXUDUS_JOBS_ACCESS_TOKEN": "sandbox-token",
            "TARGET_BIGQUERY_DATASET": "nexudus_upsert",
            **loaded.emulator.target_env(),
        },
        timeout=300,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    # Only the MERGE's `UPDATE SET target.col = ...` is refused with this message.
    assert MERGE_UNSUPPORTED in output
