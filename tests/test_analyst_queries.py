"""The analysts' queries next to the dbt models (transform/README.md) run, and give the
right answers.

Every ```sql block between `<!-- analyst-queries:start -->` and `<!-- analyst-queries:end -->`
in transform/README.md is run verbatim against a DuckDB file made by the demo's own pipeline
with the dbt package (`meltano --environment=demo run tap-nexudus-jobs target-duckdb
dbt-duckdb:build`: the session fixture `duckdb_models` in tests/dbt_runs.py) from a small
sandbox. The file is named nexudus.duckdb, like `make demo`'s, so the queries' fully
qualified `nexudus.analytics.<model>` resolves exactly as it does for a user. Each query's
answer is checked against the jobs the sandbox served. The pipeline runs with
`include_result_data` (unpaced: the sandbox has no limits), and the sandbox sends one field
the tap does not declare, for ExtraFields.
"""

from __future__ import annotations

import re
import typing as t
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pytest

from nexudus_sandbox import NexudusSandbox
from tap_nexudus_jobs.records import parse_result_data
from tests.dbt_runs import MODEL_JOBS, DuckDBModels
from tests.meltano_runs import ROOT

pytestmark = pytest.mark.meltano  # runs Meltano pipelines

QUERIES_DOC = ROOT / "transform" / "README.md"
START, END = "<!-- analyst-queries:start -->", "<!-- analyst-queries:end -->"
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.DOTALL)
QUERY_TITLES = {
    "per_status_per_day": "Jobs per status per day",
    "failure_rate": "Failure rate, overall",
    "failure_rate_per_business": "Failure rate per business",
    "slowest_imports": "Slowest imports",
    "why_imports_failed": "Why imports failed",
    "failed_imports": "Failed imports, newest first",
    "result_data_keys": "What ResultDataParsed holds",
    "extra_fields": "New fields in ExtraFields",
}
FINISHED = {"Completed", "Failed", "Cancelled"}
JOBS = MODEL_JOBS

Rows = list[dict[str, t.Any]]


def readme_queries() -> dict[str, str]:
    """The analyst queries by key, recognised by their first `-- title` line."""
    text = QUERIES_DOC.read_text(encoding="utf-8")
    assert text.count(START) == 1 and text.count(END) == 1, (
        f"{QUERIES_DOC} needs one {START}..{END}"
    )
    section = text[text.index(START) : text.index(END)]
    blocks = [block.strip() for block in SQL_BLOCK.findall(section)]
    queries: dict[str, str] = {}
    for block in blocks:
        title = block.splitlines()[0].removeprefix("--").strip()
        keys = [key for key, wanted in QUERY_TITLES.items() if title.startswith(wanted)]
        assert len(keys) == 1, f"query with an unexpected first line: {title!r}"
        queries[keys[0]] = block
    assert set(queries) == set(QUERY_TITLES), f"{QUERIES_DOC} has queries {sorted(queries)}"
    assert len(blocks) == len(QUERY_TITLES)
    return queries


@pytest.fixture
def loaded(duckdb_models: DuckDBModels) -> tuple[Path, NexudusSandbox]:
    """The DuckDB file (table and models), and the sandbox it was loaded from."""
    return duckdb_models.db_path, duckdb_models.sandbox


def run_query(db_path: Path, sql: str) -> Rows:
    with duckdb.connect(str(db_path), read_only=True) as connection:
        result = connection.execute(sql)
        names = [column[0] for column in result.description or []]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]


def jobs_of(sandbox: NexudusSandbox) -> list[dict[str, t.Any]]:
    with sandbox.lock:
        return [dict(job) for job in sandbox.jobs.values()]


def naive_utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc).replace(tzinfo=None)


def test_the_analyst_queries_read_the_models():
    queries = readme_queries()
    for sql in queries.values():
        assert re.search(r"FROM nexudus\.analytics\.(stg_nexudus_jobs|nexudus_\w+)", sql)


def test_jobs_per_status_per_day(loaded):
    db_path, sandbox = loaded
    rows = run_query(db_path, readme_queries()["per_status_per_day"])
    assert rows
    jobs = jobs_of(sandbox)
    assert sum(row["jobs"] for row in rows) == len(jobs) == JOBS
    got = {(row["created_day"], row["status"]): row["jobs"] for row in rows}
    assert len(got) == len(rows), "a (day, status) pair appears twice"
    expected = Counter((naive_utc(job["CreatedOn"]).date(), job["Status"]) for job in jobs)
    assert got == dict(expected)
    assert all(isinstance(day, date) for day, _ in got)


def failure_counts(jobs: list[dict[str, t.Any]]) -> tuple[int, int]:
    failed = sum(job["Status"] == "Failed" for job in jobs)
    finished = sum(job["Status"] in FINISHED for job in jobs)
    return failed, finished


def test_failure_rate_overall(loaded):
    db_path, sandbox = loaded
    (row,) = run_query(db_path, readme_queries()["failure_rate"])
    failed, finished = failure_counts(jobs_of(sandbox))
    assert failed > 0
    assert (row["failed"], row["finished"]) == (failed, finished)
    assert 0 <= row["failure_rate"] <= 1
    assert row["failure_rate"] == pytest.approx(failed / finished, abs=5e-5)


def test_failure_rate_per_business(loaded):
    db_path, sandbox = loaded
    rows = run_query(db_path, readme_queries()["failure_rate_per_business"])
    jobs = jobs_of(sandbox)
    businesses = {job["BusinessId"] for job in jobs}
    assert {row["business_id"] for row in rows} == businesses
    assert len(rows) == len(businesses)
    for row in rows:
        mine = [job for job in jobs if job["BusinessId"] == row["business_id"]]
        assert {job["BusinessName"] for job in mine} == {row["business_name"]}
        assert (row["failed"], row["finished"]) == failure_counts(mine)
        assert 0 <= row["failure_rate"] <= 1
    assert sum(row["failed"] for row in rows) == failure_counts(jobs)[0]
    rates = [row["failure_rate"] for row in rows]
    assert rates == sorted(rates, reverse=True)


def test_slowest_imports(loaded):
    db_path, sandbox = loaded
    rows = run_query(db_path, readme_queries()["slowest_imports"])
    assert 0 < len(rows) <= 20
    for row in rows:
        assert row["description"].startswith("Import")
        assert row["status"] in ("Completed", "Failed")
        assert row["duration_seconds"] >= 0
        assert row["duration"].total_seconds() == row["duration_seconds"]
        assert row["finished_at"] >= row["created_at"]
    seconds = [row["duration_seconds"] for row in rows]
    assert seconds == sorted(seconds, reverse=True)

    imports = [
        job
        for job in jobs_of(sandbox)
        if job["Description"].startswith("Import") and job["Status"] in ("Completed", "Failed")
    ]
    durations = sorted(
        ((job["UpdatedOn"] - job["CreatedOn"]).total_seconds() for job in imports), reverse=True
    )
    assert seconds == durations[: len(rows)]


def failed_imports(sandbox: NexudusSandbox) -> list[dict[str, t.Any]]:
    return [
        job
        for job in jobs_of(sandbox)
        if job["Status"] == "Failed" and job["Description"].startswith("Import")
    ]


def reason_of(job: dict[str, t.Any]) -> str:
    parsed = parse_result_data(job["ResultData"])
    if isinstance(parsed, dict) and "message" in parsed:
        return str(parsed["message"])
    return str(job["ResultData"] or "(no ResultData)")


def test_why_imports_failed(loaded):
    db_path, sandbox = loaded
    rows = run_query(db_path, readme_queries()["why_imports_failed"])
    failed = failed_imports(sandbox)
    assert failed and any(parse_result_data(job["ResultData"]) is None for job in failed)
    expected = Counter(reason_of(job) for job in failed)
    assert {row["reason"]: row["failed_imports"] for row in rows} == dict(expected)
    assert "(no ResultData)" not in expected  # every failed import's result was fetched
    for row in rows:
        parsed = [
            parse_result_data(j["ResultData"]) for j in failed if reason_of(j) == row["reason"]
        ]
        errors = [p["errors"] for p in parsed if isinstance(p, dict)]
        assert row["failed_rows"] == (sum(errors) if errors else None)
    order = [(-row["failed_imports"], row["reason"]) for row in rows]
    assert order == sorted(order)


def test_failed_imports_newest_first(loaded):
    db_path, sandbox = loaded
    rows = run_query(db_path, readme_queries()["failed_imports"])
    by_id = {job["Id"]: job for job in failed_imports(sandbox)}
    assert 0 < len(rows) == min(50, len(by_id))
    for row in rows:
        served = by_id[row["job_id"]]
        parsed = parse_result_data(served["ResultData"])
        assert row["files"] == served["Files"]
        assert row["user_full_name"] == served["UserFullName"]
        assert row["failed_at"] == naive_utc(served["UpdatedOn"])
        assert row["reason"] == reason_of(served)
        if isinstance(parsed, dict):
            assert (row["rows_processed"], row["rows_failed"]) == (
                parsed["processed"],
                parsed["errors"],
            )
        else:
            assert row["rows_processed"] is row["rows_failed"] is None
    stamps = [row["failed_at"] for row in rows]
    assert stamps == sorted(stamps, reverse=True)


def test_what_result_data_parsed_holds(loaded):
    db_path, sandbox = loaded
    rows = run_query(db_path, readme_queries()["result_data_keys"])
    expected: Counter[tuple[str, str]] = Counter()
    for job in jobs_of(sandbox):
        parsed = parse_result_data(job["ResultData"])
        if isinstance(parsed, dict):
            expected.update((job["Status"], key) for key in parsed)
    assert {(row["status"], row["key"]): row["jobs"] for row in rows} == dict(expected)
    assert ("Failed", "message") in expected and ("Completed", "processed") in expected


def test_new_fields_in_extra_fields(loaded):
    db_path, sandbox = loaded
    rows = run_query(db_path, readme_queries()["extra_fields"])
    first_seen = min(naive_utc(job["UpdatedOn"]) for job in jobs_of(sandbox))
    assert rows == [{"field": "Priority", "jobs": JOBS, "first_seen": first_seen}]
