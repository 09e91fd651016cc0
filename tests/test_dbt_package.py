"""The dbt package (transform/) on DuckDB, run as a user runs it: `meltano run
tap-nexudus-jobs target-duckdb dbt-duckdb:build` against a sandbox (the shared
`duckdb_models` fixture), then `meltano invoke dbt-duckdb:...` for the rest.

The models are checked against the jobs the sandbox served; rows no model can interpret
(unknown status, null timestamps, plain-text ResultData) must only make warnings; a missing
table must fail with dbt's own message naming it. PostgreSQL: tests/test_postgres_end_to_end.py;
BigQuery and Snowflake: tests/test_dbt_warehouses.py.
"""

from __future__ import annotations

import json
import shutil
import typing as t
from collections import Counter
from datetime import timezone
from pathlib import Path

import duckdb
import pytest

from tests.dbt_runs import (
    DUCKDB_DBT,
    MODEL_JOBS,
    MODELS,
    DuckDBModels,
    ExpectedFailure,
    check_build,
    expected_import_failures,
    expected_result_formats,
    fail_with_log,
    invoke_dbt,
    run_results,
)

pytestmark = pytest.mark.meltano  # runs Meltano pipelines

# The models are in the schema `analytics` (dbt-duckdb's schema setting in meltano.yml).
CATEGORIES = {
    "Completed": "succeeded",
    "Failed": "failed",
    "Cancelled": "cancelled",
    "Running": "running",
    "Queued": "pending",
}
#: Rows no model can fully interpret (target-duckdb's lower-case column names).
BAD_ROWS = (
    "INSERT INTO nexudus.nexudus.business_background_jobs "
    "(id, status, description, resultdata, createdon, updatedon) VALUES "
    "(990001, 'Exploded', 'Import members from x.csv', 'not json {', NULL, NULL), "
    "(990002, 'Failed', 'Import bookings from y.csv', 'Disk full', '2026-01-01', NULL), "
    "(990003, NULL, NULL, NULL, NULL, '2026-01-02')"
)


def query(db_path: Path, sql: str) -> list[tuple[t.Any, ...]]:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        rows: list[tuple[t.Any, ...]] = connection.execute(sql).fetchall()
    return rows


def naive_utc(value: t.Any) -> t.Any:
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def test_the_package_builds_after_the_load_in_one_meltano_run(duckdb_models: DuckDBModels):
    formats = expected_result_formats(duckdb_models.jobs())
    assert formats["text"] > 0 and formats["json_object"] > 0
    # The only warning: failed jobs whose ResultData is plain text, counted in jobs.
    check_build(
        run_results(duckdb_models.target_path),
        {"nexudus_job_outcomes_result_data_is_json": formats["text"]},
    )
    got = dict(
        query(
            duckdb_models.db_path,
            "SELECT result_data_format, count(*) FROM analytics.nexudus_job_outcomes GROUP BY 1",
        )
    )
    assert got == dict(formats)


def test_staging_has_one_typed_row_per_job(duckdb_models: DuckDBModels):
    rows = query(
        duckdb_models.db_path,
        "SELECT job_id, status, status_category, created_at, updated_at, finished_at, "
        "duration_seconds, job_type FROM analytics.stg_nexudus_jobs",
    )
    jobs = {int(job["Id"]): job for job in duckdb_models.jobs()}
    assert len(rows) == len(jobs) == MODEL_JOBS
    for job_id, status, category, created, updated, finished, seconds, job_type in rows:
        job = jobs[job_id]
        assert (status, category) == (job["Status"], CATEGORIES[job["Status"]])
        assert (created, updated) == (naive_utc(job["CreatedOn"]), naive_utc(job["UpdatedOn"]))
        if category in ("succeeded", "failed", "cancelled"):
            assert finished == updated
            assert seconds == (job["UpdatedOn"] - job["CreatedOn"]).total_seconds()
        else:
            assert finished is seconds is None
        assert (job_type == "import") == job["Description"].startswith("Import")


def test_import_failures_say_when_by_whom_and_why(duckdb_models: DuckDBModels):
    rows = query(
        duckdb_models.db_path,
        "SELECT job_id, reason, rows_processed, rows_failed, user_full_name, failed_at "
        "FROM analytics.nexudus_import_failures",
    )
    jobs = {int(job["Id"]): job for job in duckdb_models.jobs()}
    got = {row[0]: ExpectedFailure(*row[1:4]) for row in rows}
    assert got == expected_import_failures(list(jobs.values()))
    assert len(got) > 5 and any(f.rows_failed is None for f in got.values())
    for job_id, *_, who, failed_at in rows:
        assert (who, failed_at) == (
            jobs[job_id]["UserFullName"],
            naive_utc(jobs[job_id]["UpdatedOn"]),
        )


def test_rows_the_models_cannot_interpret_only_warn(duckdb_models: DuckDBModels, tmp_path: Path):
    db_path = tmp_path / "nexudus.duckdb"
    shutil.copyfile(duckdb_models.db_path, db_path)
    with duckdb.connect(str(db_path)) as connection:
        connection.execute(BAD_ROWS)
    target = tmp_path / "target"
    built = invoke_dbt(
        duckdb_models.meltano, f"{DUCKDB_DBT}:build", duckdb_models.dbt_env(db_path, target)
    )

    if built.returncode != 0:
        fail_with_log(built, f"meltano invoke {DUCKDB_DBT}:build")
    text = expected_result_formats(duckdb_models.jobs())["text"]
    check_build(
        run_results(target),
        {
            "stg_nexudus_jobs_status_is_known": 2,
            "stg_nexudus_jobs_created_at_is_set": 2,
            "stg_nexudus_jobs_updated_at_is_set": 2,
            "nexudus_job_outcomes_result_data_is_json": text + 2,
        },
    )
    assert query(
        db_path,
        "SELECT job_id, status_category, reason FROM analytics.stg_nexudus_jobs "
        "LEFT JOIN analytics.nexudus_import_failures USING (job_id) "
        "WHERE job_id > 990000 ORDER BY job_id",
    ) == [(990001, "unknown", None), (990002, "failed", "Disk full"), (990003, "unknown", None)]


def test_a_missing_table_fails_with_dbts_message_naming_it(
    duckdb_models: DuckDBModels, tmp_path: Path
):
    db_path = tmp_path / "nexudus.duckdb"
    duckdb.connect(str(db_path)).close()
    built = invoke_dbt(
        duckdb_models.meltano,
        f"{DUCKDB_DBT}:build",
        duckdb_models.dbt_env(db_path, tmp_path / "target"),
    )

    output = built.stdout + built.stderr
    assert built.returncode != 0
    # dbt meets the table first in the staging model's unit test, which reads its columns.
    assert (
        'relation "nexudus"."nexudus"."business_background_jobs" '
        "because the relation doesn't exist"
    ) in output
    assert "Traceback" not in output


@pytest.mark.parametrize(
    ("hours", "status"),
    [((24, 168), "error"), ((24, 10**6), "warn")],
    ids=["stale", "late"],
)
def test_freshness_on_updated_on_with_thresholds_as_variables(
    duckdb_models: DuckDBModels, tmp_path: Path, hours: tuple[int, int], status: str
):
    # The sandbox's history ends on 2026-06-30: months old for the defaults (24 h, 7 days).
    # (`make demo` shows the fresh case: it touches 25 jobs now.)
    variables = {
        "nexudus_jobs_freshness_warn_hours": hours[0],
        "nexudus_jobs_freshness_error_hours": hours[1],
    }
    target = tmp_path / "target"
    checked = invoke_dbt(
        duckdb_models.meltano,
        f"{DUCKDB_DBT}:freshness",
        duckdb_models.dbt_env(duckdb_models.db_path, target),
        "--vars",
        json.dumps(variables),
    )

    assert (checked.returncode != 0) == (status == "error"), checked.stdout[-2000:]
    sources = json.loads((target / "sources.json").read_text(encoding="utf-8"))
    (result,) = sources["results"]
    assert result["unique_id"] == "source.nexudus_jobs.nexudus.business_background_jobs"
    assert result["status"] == status
    newest = max(naive_utc(job["UpdatedOn"]) for job in duckdb_models.jobs())
    assert result["max_loaded_at"].startswith(newest.isoformat())


def test_docs_generate_documents_every_model(duckdb_models: DuckDBModels, tmp_path: Path):
    target = tmp_path / "target"
    generated = invoke_dbt(
        duckdb_models.meltano,
        f"{DUCKDB_DBT}:docs-generate",
        duckdb_models.dbt_env(duckdb_models.db_path, target),
    )

    if generated.returncode != 0:
        fail_with_log(generated, f"meltano invoke {DUCKDB_DBT}:docs-generate")
    assert (target / "index.html").is_file()
    catalog = json.loads((target / "catalog.json").read_text(encoding="utf-8"))
    manifest = json.loads((target / "manifest.json").read_text(encoding="utf-8"))
    for model in MODELS:
        unique_id = f"model.nexudus_jobs.{model}"
        built_columns = set(catalog["nodes"][unique_id]["columns"])
        described = {
            name
            for name, column in manifest["nodes"][unique_id]["columns"].items()
            if column["description"]
        }
        assert built_columns == described, f"{model}: undocumented or missing columns"
    assert Counter(k.split(".")[0] for k in catalog["sources"]) == {"source": 1}
