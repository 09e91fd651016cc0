"""End to end, as a user runs it: sandbox -> `meltano run tap-nexudus-jobs target-duckdb`.

Uses the Meltano that `make venv` installs into .venv and the plugins that
`make meltano-install` installs into .meltano/ (`make test` does both first). Each run
gets its own DuckDB file, its own Meltano system database (so its state never touches the
demo's) and a unique state-id suffix.

If meltano or its plugins are missing the test fails, with the command that fixes it.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import pytest

from nexudus_sandbox import NexudusSandbox
from tests.meltano_runs import check_plugins_installed, find_meltano, meltano_run

pytestmark = pytest.mark.meltano  # runs Meltano pipelines

LOADER = "target-duckdb"
SCHEMA = "nexudus"
STREAM = "business_background_jobs"
LISTING_PATH = "/api/sys/businessbackgroundjobs"
UPDATED_FILTER = "from_BusinessBackgroundJob_UpdatedOn"
E2E_JOBS = 450
E2E_TOUCHED = 10


@dataclass
class Pipeline:
    """Runs the demo environment's pipeline against one sandbox, isolated in tmp_path."""

    meltano: Path
    sandbox: NexudusSandbox
    db_path: Path
    system_db: Path
    state_suffix: str
    #: More environment for the run, e.g. TAP_NEXUDUS_JOBS_* settings.
    extra_env: dict[str, str] = field(default_factory=dict)
    #: More blocks for the same `meltano run`, e.g. dbt-duckdb:build.
    then: tuple[str, ...] = ()

    def run(self) -> subprocess.CompletedProcess[str]:
        return meltano_run(
            self.meltano,
            LOADER,
            sandbox_url=self.sandbox.url,
            system_db=self.system_db,
            state_suffix=self.state_suffix,
            loader_env={"TARGET_DUCKDB_FILEPATH": str(self.db_path), **self.extra_env},
            then=self.then,
        )

    def query(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        """Rows from the DuckDB file; {table} is the stream's table, fully qualified."""
        assert self.db_path.exists(), f"meltano run wrote no DuckDB file at {self.db_path}"
        with duckdb.connect(str(self.db_path), read_only=True) as connection:
            table = f'"{self.db_path.stem}"."{SCHEMA}"."{STREAM}"'
            rows: list[tuple[Any, ...]] = connection.execute(
                sql.format(table=table), params or []
            ).fetchall()
        return rows

    def updated_on_by_id(self) -> dict[int, datetime]:
        return {int(i): u for i, u in self.query("SELECT id, updatedon FROM {table}")}


@pytest.fixture
def e2e_sandbox() -> Iterator[NexudusSandbox]:
    with NexudusSandbox(records=E2E_JOBS, seed=2024) as running:
        yield running


@pytest.fixture
def pipeline(e2e_sandbox: NexudusSandbox, tmp_path: Path) -> Pipeline:
    meltano = find_meltano()
    check_plugins_installed(LOADER)
    return Pipeline(
        meltano=meltano,
        sandbox=e2e_sandbox,
        db_path=tmp_path / "e2e.duckdb",
        system_db=tmp_path / "meltano.db",
        state_suffix=f"e2e-{uuid.uuid4().hex[:12]}",
    )


def test_meltano_run_full_then_incremental(pipeline: Pipeline, e2e_sandbox: NexudusSandbox):
    served = e2e_sandbox.served_ids()
    assert len(served) == E2E_JOBS

    # -- run 1: no state, so a full sync of every job ------------------------------------
    pipeline.run()
    first = pipeline.updated_on_by_id()
    assert len(first) == len(served), "row count in DuckDB != jobs served by the sandbox"
    assert set(first) == served
    (row_count,) = pipeline.query("SELECT count(*) FROM {table}")[0]
    assert row_count == E2E_JOBS, "duplicate rows for some Id"

    # -- change 10 jobs: newer than anything loaded, and now Cancelled ---------------------
    newest = max(first.values())
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    touched_at = max(now, newest + timedelta(minutes=2))
    touched = sorted(served)[:: E2E_JOBS // E2E_TOUCHED][:E2E_TOUCHED]
    assert len(touched) == E2E_TOUCHED
    e2e_sandbox.touch(touched, at=touched_at.replace(tzinfo=timezone.utc), status="Cancelled")
    e2e_sandbox.clear_log()

    # -- run 2: from the bookmark Meltano saved -------------------------------------------
    run2_started = datetime.now()  # target-duckdb stamps _sdc_batched_at in local time
    pipeline.run()
    second = pipeline.updated_on_by_id()
    assert len(second) == E2E_JOBS, "incremental run changed the row count"
    assert set(second) == served
    for job_id in touched:
        assert second[job_id] == touched_at, f"job {job_id} does not have its new UpdatedOn"
        assert second[job_id] > first[job_id]
    untouched = served - set(touched)
    assert {i: second[i] for i in untouched} == {i: first[i] for i in untouched}
    statuses = dict(pipeline.query("SELECT id, status FROM {table}"))
    assert {i: statuses[i] for i in touched} == dict.fromkeys(touched, "Cancelled")

    listings = [e for e in e2e_sandbox.log_snapshot() if e.path == LISTING_PATH]
    assert listings, "the second run sent no listing request"
    assert all(UPDATED_FILTER in e.query for e in listings), (
        f"second run did not filter on {UPDATED_FILTER}: {[e.query for e in listings]}"
    )
    # Incremental: the changed jobs (plus at most the bookmark's own minute, which is
    # re-read), not the whole table again.
    rewritten = {
        int(i)
        for (i,) in pipeline.query(
            "SELECT id FROM {table} WHERE _sdc_batched_at >= ?", [run2_started]
        )
    }
    assert set(touched) <= rewritten
    assert len(rewritten) < E2E_JOBS // 2, f"second run rewrote {len(rewritten)} rows"
