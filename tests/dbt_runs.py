"""Running the dbt package (transform/) through this project's Meltano utilities, and
reading what dbt reports: target/run_results.json, one entry per model and test."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tap_nexudus_jobs.records import parse_result_data
from tests.meltano_runs import (
    ENVIRONMENT,
    ROOT,
    check_plugins_installed,
    find_meltano,
    meltano_command,
)
from tests.test_end_to_end import LOADER, Pipeline

#: The models, in the order dbt builds them.
MODELS = ("stg_nexudus_jobs", "nexudus_job_outcomes", "nexudus_import_failures")
#: The warn-level tests that count rows the models could not interpret.
WARN_TESTS = (
    "stg_nexudus_jobs_status_is_known",
    "stg_nexudus_jobs_created_at_is_set",
    "stg_nexudus_jobs_updated_at_is_set",
    "nexudus_job_outcomes_result_data_is_json",
)
UNIT_TESTS = 3


@dataclass(frozen=True)
class NodeResult:
    """One model's or test's line in run_results.json."""

    name: str
    resource_type: str
    status: str
    failures: int | None
    message: str | None


def run_results(target_path: Path) -> dict[str, NodeResult]:
    """run_results.json of the last dbt command, by node name."""
    data = json.loads((target_path / "run_results.json").read_text(encoding="utf-8"))
    results: dict[str, NodeResult] = {}
    for entry in data["results"]:
        unique_id = entry["unique_id"]
        # model.<package>.<name>, test.<package>.<name>.<hash>,
        # unit_test.<package>.<model>.<name>
        resource_type, _package, *rest = unique_id.split(".")
        name = rest[-1] if resource_type == "unit_test" else rest[0]
        results[name] = NodeResult(
            name, resource_type, entry["status"], entry.get("failures"), entry.get("message")
        )
    return results


def dbt_env(utility: str, target_path: Path, extra: dict[str, str]) -> dict[str, str]:
    """The environment for a dbt utility: none of the developer's DBT_* variables; its
    run results and logs in `target_path` (per test, not the demo's output/)."""
    prefix = utility.upper().replace("-", "_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBT_", "TAP_NEXUDUS_"))}
    env.pop("MELTANO_ENVIRONMENT", None)
    env.update(
        {
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            f"{prefix}_TARGET_PATH": str(target_path),
            f"{prefix}_LOG_PATH": str(target_path / "logs"),
            **extra,
        }
    )
    return env


def invoke_dbt(
    meltano: Path, command: str, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """`meltano invoke <utility>:<command>` (e.g. dbt-duckdb:build); the caller checks it."""
    return meltano_command(
        meltano, f"--environment={ENVIRONMENT}", "invoke", command, *args, cwd=ROOT, env=env
    )


def check_build(results: dict[str, NodeResult], warnings: dict[str, int]) -> None:
    """Every model built, every unit test and error-level test passed, and exactly the
    given warn-level tests warned, with these failing-row counts."""
    models = {n: r.status for n, r in results.items() if r.resource_type == "model"}
    assert models == dict.fromkeys(MODELS, "success"), models
    units = {n: r.status for n, r in results.items() if r.resource_type == "unit_test"}
    assert len(units) == UNIT_TESTS and set(units.values()) == {"pass"}, units
    tests = {n: r for n, r in results.items() if r.resource_type == "test"}
    assert set(WARN_TESTS) <= set(tests)
    warned = {n: r.failures for n, r in tests.items() if r.status == "warn"}
    assert warned == warnings, f"warnings {warned}, expected {warnings}"
    others = {n: r.status for n, r in tests.items() if n not in warned}
    assert set(others.values()) == {"pass"}, others


def fail_with_log(completed: subprocess.CompletedProcess[str], what: str) -> None:
    """pytest.fail with the end of dbt's output."""
    log = (completed.stdout + completed.stderr).splitlines()[-60:]
    pytest.fail(f"{what} exited {completed.returncode}:\n" + "\n".join(log), pytrace=False)


@dataclass(frozen=True)
class ExpectedFailure:
    """What nexudus_import_failures should say about one failed import."""

    reason: str | None
    rows_processed: int | None
    rows_failed: int | None


def is_import(job: dict[str, Any]) -> bool:
    return str(job["Description"] or "").lower().startswith("import")


def expected_import_failures(jobs: list[dict[str, Any]]) -> dict[int, ExpectedFailure]:
    """Failed imports by Id, from the jobs the sandbox served, read with the tap's parser."""
    expected: dict[int, ExpectedFailure] = {}
    for job in jobs:
        if job["Status"] != "Failed" or not is_import(job):
            continue
        parsed = parse_result_data(job["ResultData"])
        if isinstance(parsed, dict):
            reason = parsed.get("message", job["ResultData"])
            counts = (parsed.get("processed"), parsed.get("errors"))
        else:
            reason, counts = job["ResultData"] or None, (None, None)
        expected[int(job["Id"])] = ExpectedFailure(reason, *counts)
    return expected


def expected_result_formats(jobs: list[dict[str, Any]]) -> Counter[str]:
    """nexudus_job_outcomes' result_data_format per job that has ResultData."""
    formats: Counter[str] = Counter()
    for job in jobs:
        if not (job["ResultData"] or "").strip():
            continue
        parsed = parse_result_data(job["ResultData"])
        if isinstance(parsed, dict):
            formats["json_object"] += 1
        elif isinstance(parsed, list):
            formats["json_array"] += 1
        else:
            formats["text"] += 1
    return formats


DUCKDB_DBT = "dbt-duckdb"
#: include_result_data, unpaced (the sandbox has no limits), so the outcome models get data.
WITH_RESULT_DATA = {
    "TAP_NEXUDUS_JOBS_INCLUDE_RESULT_DATA": "true",
    "TAP_NEXUDUS_JOBS_REQUESTS_PER_MINUTE": "1000000",
    "TAP_NEXUDUS_JOBS_MIN_REQUEST_INTERVAL_MS": "0",
}
#: The demo pipeline's sandbox for the DuckDB models: one field the tap does not declare,
#: for ExtraFields.
MODEL_JOBS = 300
EXTRA_FIELDS = {"Priority": {"Level": 2}}


@dataclass(frozen=True)
class DuckDBModels:
    """A DuckDB file loaded and built by `meltano run tap-nexudus-jobs target-duckdb
    dbt-duckdb:build`, the sandbox it came from, and where dbt reported."""

    db_path: Path
    sandbox: NexudusSandbox
    target_path: Path
    meltano: Path

    def jobs(self) -> list[dict[str, Any]]:
        with self.sandbox.lock:
            return [dict(job) for job in self.sandbox.jobs.values()]

    def dbt_env(self, db_path: Path, target_path: Path) -> dict[str, str]:
        """For `meltano invoke dbt-duckdb:...` on `db_path`, reporting to `target_path`."""
        return dbt_env(DUCKDB_DBT, target_path, {"DBT_DUCKDB_PATH": str(db_path)})


@pytest.fixture(scope="session")
def duckdb_models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBModels]:
    """Once per session: the demo pipeline with the dbt package, into nexudus.duckdb (so
    the catalog is named `nexudus`, as in `make demo`)."""
    meltano = find_meltano()
    check_plugins_installed(LOADER, DUCKDB_DBT)
    tmp = tmp_path_factory.mktemp("duckdb-models")
    target = tmp / "dbt-target"
    faults = SandboxFaults(extra_fields=EXTRA_FIELDS)
    with NexudusSandbox(records=MODEL_JOBS, seed=42, faults=faults) as sandbox:
        pipeline = Pipeline(
            meltano=meltano,
            sandbox=sandbox,
            db_path=tmp / "nexudus.duckdb",
            system_db=tmp / "meltano.db",
            state_suffix=f"models-{uuid.uuid4().hex[:12]}",
            extra_env={
                **WITH_RESULT_DATA,
                "DBT_DUCKDB_PATH": str(tmp / "nexudus.duckdb"),
                "DBT_DUCKDB_TARGET_PATH": str(target),
                "DBT_DUCKDB_LOG_PATH": str(target / "logs"),
            },
            then=(f"{DUCKDB_DBT}:build",),
        )
        pipeline.run()
        yield DuckDBModels(pipeline.db_path, sandbox, target, meltano)
