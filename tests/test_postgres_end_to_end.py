"""End to end into a real PostgreSQL: sandbox -> `meltano run tap-nexudus-jobs target-postgres`.

The server comes from Debian's packages (`make postgres-deps`, which `make test` runs, installs
them when missing). This test starts a throwaway server of its own: a data directory under
/tmp, `initdb` and `pg_ctl start` run as the `postgres` user when the test runs as root (the
server refuses to run as root), listening on a free loopback port with its unix socket in
that directory, and `pg_ctl stop` plus removal of the directory at the end, also when the
test fails. It never touches a cluster of the machine's own.

The loader is the project's `target-postgres` (meltano.yml), configured from the standard
libpq variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE) that the test sets, with a
role and database created for the test. Like tests/test_end_to_end.py, each run gets its own
Meltano system database and state-id suffix.

If PostgreSQL, meltano or the plugins are missing the test fails, naming the command that
fixes it; it never skips.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from nexudus_sandbox import NexudusSandbox
from tests.dbt_runs import (
    WITH_RESULT_DATA,
    ExpectedFailure,
    check_build,
    dbt_env,
    expected_import_failures,
    expected_result_formats,
    fail_with_log,
    invoke_dbt,
    run_results,
)
from tests.local_services import free_port
from tests.meltano_runs import check_plugins_installed, find_meltano, meltano_run

pytestmark = pytest.mark.meltano  # runs Meltano pipelines

LOADER = "target-postgres"
SCHEMA = "nexudus"  # default_target_schema of target-postgres in meltano.yml
TABLE = f'"{SCHEMA}"."business_background_jobs"'
PG_JOBS = 400
PG_TOUCHED = 15
LOADER_ROLE = "nexudus_loader"
DATABASE = "nexudus_e2e"
SERVER_TIMEZONE = "America/New_York"
PG_VERSION_DIR = re.compile(r"/usr/lib/postgresql/(\d+)(?:\.\d+)?/bin$")


def postgres_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/N/bin that has initdb, pg_ctl and psql."""
    found: list[tuple[int, Path]] = []
    for candidate in Path("/usr/lib/postgresql").glob("*/bin"):
        match = PG_VERSION_DIR.search(str(candidate))
        if match and all((candidate / tool).is_file() for tool in ("initdb", "pg_ctl", "psql")):
            found.append((int(match.group(1)), candidate))
    if not found:
        pytest.fail(
            "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb, pg_ctl). "
            "Run `make postgres-deps` (as root it installs Debian's postgresql package; "
            "`make test` does it first).",
            pytrace=False,
        )
    return max(found)[1]


def run_checked(command: list[str], what: str, **kwargs: object) -> str:
    completed = subprocess.run(  # type: ignore[call-overload]
        command, capture_output=True, text=True, timeout=120, check=False, **kwargs
    )
    if completed.returncode != 0:
        pytest.fail(
            f"{what} failed (exit {completed.returncode}): {' '.join(command)}\n"
            f"{completed.stdout}{completed.stderr}",
            pytrace=False,
        )
    return str(completed.stdout)


@dataclass
class PostgresServer:
    """A throwaway server: where it lives, how to reach it, how to run its tools."""

    bin_dir: Path
    root: Path
    port: int
    run_as: list[str] = field(default_factory=list)
    password: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    def server_log(self) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-4000:]
        except OSError:
            return "(no server log)"

    def psql(self, sql: str, database: str = DATABASE) -> list[list[str]]:
        """Rows of one statement, as the superuser over the unix socket (trust auth).

        `{table}` and `{schema}` in `sql` are the stream's table and schema, quoted.
        """
        sql = sql.format(table=TABLE, schema=SCHEMA)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        out = run_checked(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-F",
                "\t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-c",
                sql,
            ],
            f"psql {sql!r}",
            env=env,
        )
        return [line.split("\t") for line in out.splitlines() if line]

    def loader_env(self) -> dict[str, str]:
        """libpq variables that meltano.yml's target-postgres config reads."""
        return {
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": LOADER_ROLE,
            "PGPASSWORD": self.password,
            "PGDATABASE": DATABASE,
        }


def start_server(bin_dir: Path, root: Path, run_as: list[str]) -> PostgresServer:
    """initdb and start, on a free port; a port taken in between is retried."""
    server = PostgresServer(bin_dir, root, free_port(), run_as)
    run_checked(
        [
            *run_as,
            str(bin_dir / "initdb"),
            "-D",
            str(server.data_dir),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-sync",
        ],
        "initdb",
    )
    for attempt in range(3):
        options = (
            f"-p {server.port} -k {server.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            # A server whose default time zone is not UTC, as many are: the loader role's
            # own `timezone = UTC` (README) must keep UpdatedOn in UTC regardless.
            f"-c timezone={SERVER_TIMEZONE}"
        )
        started = subprocess.run(
            [
                *run_as,
                str(bin_dir / "pg_ctl"),
                "-D",
                str(server.data_dir),
                "-l",
                str(server.log_file),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        if started.returncode == 0:
            return server
        if attempt < 2 and "already in use" in server.server_log():
            server.port = free_port()
            continue
        pytest.fail(
            f"pg_ctl start failed (exit {started.returncode}):\n{started.stdout}"
            f"{started.stderr}\nserver log:\n{server.server_log()}",
            pytrace=False,
        )
    raise AssertionError("unreachable")


def stop_server(server: PostgresServer) -> None:
    """pg_ctl stop (fast); if that fails, SIGKILL the postmaster this test started."""
    if not (server.data_dir / "postmaster.pid").exists():
        return
    pg_ctl = [*server.run_as, str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir)]
    stopped = subprocess.run(
        [*pg_ctl, "-m", "fast", "-w", "-t", "30", "stop"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if stopped.returncode != 0 and (server.data_dir / "postmaster.pid").exists():
        pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 9)


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own, with a loader role and an empty database."""
    with running_postgres() as server:
        yield server


@contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    """A throwaway server with a loader role and an empty database; stopped and removed after."""
    bin_dir = postgres_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="nexudus-pg-"))  # not tmp_path: 0700 under root
    run_as: list[str] = []
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            pytest.fail(
                "running as root but there is no `postgres` user to run the server as "
                "(PostgreSQL refuses to run as root). Run `make postgres-deps`.",
                pytrace=False,
            )
        os.chown(root, account.pw_uid, account.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    server: PostgresServer | None = None
    try:
        server = start_server(bin_dir, root, run_as)
        server.psql(
            f"CREATE ROLE {LOADER_ROLE} LOGIN PASSWORD '{server.password}'", database="postgres"
        )
        # target-postgres writes date-times into `timestamp without time zone` columns,
        # converted to the session's TimeZone: the README tells users to do this.
        server.psql(f"ALTER ROLE {LOADER_ROLE} SET timezone = 'UTC'", database="postgres")
        server.psql(f"CREATE DATABASE {DATABASE} OWNER {LOADER_ROLE}", database="postgres")
        yield server
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class PostgresPipeline:
    meltano: Path
    sandbox: NexudusSandbox
    server: PostgresServer
    system_db: Path
    state_suffix: str

    def run(self) -> subprocess.CompletedProcess[str]:
        return meltano_run(
            self.meltano,
            LOADER,
            sandbox_url=self.sandbox.url,
            system_db=self.system_db,
            state_suffix=self.state_suffix,
            loader_env=self.server.loader_env(),
            scrubbed_prefixes=("TARGET_POSTGRES_", "PG"),
            failure_detail=f"\nserver log:\n{self.server.server_log()}",
        )

    def updated_on_by_id(self) -> dict[int, datetime]:
        """Id -> UpdatedOn as an aware UTC datetime, whatever the column's exact type."""
        rows = self.server.psql(
            'SELECT "Id", to_char("UpdatedOn", \'YYYY-MM-DD"T"HH24:MI:SS\') FROM {table}'
        )
        return {
            int(job_id): datetime.fromisoformat(value).replace(tzinfo=timezone.utc)
            for job_id, value in rows
        }

    def count(self, distinct_ids: bool = False) -> int:
        sql = (
            'SELECT count(DISTINCT "Id") FROM {table}'
            if distinct_ids
            else ("SELECT count(*) FROM {table}")
        )
        return int(self.server.psql(sql)[0][0])


@pytest.fixture
def pg_pipeline(postgres: PostgresServer, tmp_path: Path) -> Iterator[PostgresPipeline]:
    meltano = find_meltano()
    check_plugins_installed(LOADER)
    with NexudusSandbox(records=PG_JOBS, seed=5150) as sandbox:
        yield PostgresPipeline(
            meltano=meltano,
            sandbox=sandbox,
            server=postgres,
            system_db=tmp_path / "meltano.db",
            state_suffix=f"pg-{uuid.uuid4().hex[:12]}",
        )


def test_meltano_run_into_postgres_full_then_incremental(pg_pipeline: PostgresPipeline):
    sandbox = pg_pipeline.sandbox
    served = sandbox.served_ids()
    assert len(served) == PG_JOBS

    # -- run 1: full sync into an empty database ------------------------------------------
    pg_pipeline.run()
    first = pg_pipeline.updated_on_by_id()
    assert pg_pipeline.count() == PG_JOBS, "rows in PostgreSQL != jobs served by the sandbox"
    assert set(first) == served
    expected = {
        job_id: datetime.fromisoformat(value.replace("Z", "+00:00"))
        for job_id, value in sandbox.current_versions().items()
    }
    assert first == expected, "UpdatedOn in PostgreSQL differs from the sandbox's (UTC)"
    columns = {
        name
        for (name,) in pg_pipeline.server.psql(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = '{schema}' AND table_name = 'business_background_jobs'"
        )
    }
    assert {"_sdc_extracted_at", "_sdc_batched_at", "_sdc_deleted_at"} <= columns, (
        "add_record_metadata: true did not add the _sdc columns"
    )
    (primary_key,) = pg_pipeline.server.psql(
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a "
        "ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) "
        "WHERE i.indrelid = '{table}'::regclass AND i.indisprimary"
    )
    assert primary_key == ["Id"]

    # -- 15 jobs change: newer than everything loaded ---------------------------------------
    touched_at = max(
        datetime.now(timezone.utc).replace(microsecond=0),
        max(first.values()) + timedelta(minutes=2),
    )
    touched = sorted(served)[:: PG_JOBS // PG_TOUCHED][:PG_TOUCHED]
    assert len(touched) == PG_TOUCHED
    sandbox.touch(touched, at=touched_at, status="Failed")

    # -- run 2: incremental, upserted on Id --------------------------------------------------
    pg_pipeline.run()
    second = pg_pipeline.updated_on_by_id()
    assert pg_pipeline.count() == PG_JOBS, "the incremental run added duplicate rows"
    assert pg_pipeline.count(distinct_ids=True) == PG_JOBS
    assert set(second) == served
    assert {i: second[i] for i in touched} == dict.fromkeys(touched, touched_at)
    untouched = served - set(touched)
    assert {i: second[i] for i in untouched} == {i: first[i] for i in untouched}
    statuses = dict(
        pg_pipeline.server.psql('SELECT "Id", "Status" FROM {table} WHERE "Status" = \'Failed\'')
    )
    assert {str(i) for i in touched} <= set(statuses)


DBT = "dbt-postgres"
MODEL_SCHEMA = "analytics"  # dbt-postgres's schema setting in meltano.yml
#: Rows no model can fully interpret: an unknown status, null timestamps, plain-text
#: ResultData. They must land (with NULLs or `unknown`) and only make warnings. ({{ is
#: one brace: psql() formats its SQL.)
BAD_ROWS = (
    "INSERT INTO {table} "
    '("Id", "Status", "Description", "ResultData", "CreatedOn", "UpdatedOn") VALUES '
    "(990001, 'Exploded', 'Import members from x.csv', 'not json {{', NULL, NULL), "
    "(990002, 'Failed', 'Import bookings from y.csv', 'Disk full', '2026-01-01', NULL), "
    "(990003, NULL, NULL, NULL, NULL, '2026-01-02')"
)


def test_dbt_package_builds_on_what_target_postgres_loaded(
    pg_pipeline: PostgresPipeline, tmp_path: Path
):
    check_plugins_installed(LOADER, DBT)
    server, sandbox = pg_pipeline.server, pg_pipeline.sandbox
    target = tmp_path / "dbt-target"
    env = {
        **server.loader_env(),
        **WITH_RESULT_DATA,
        "DBT_POSTGRES_TARGET_PATH": str(target),
        "DBT_POSTGRES_LOG_PATH": str(target / "logs"),
    }

    # -- load and build in one `meltano run`, as the README shows -----------------------
    meltano_run(
        pg_pipeline.meltano,
        LOADER,
        sandbox_url=sandbox.url,
        system_db=pg_pipeline.system_db,
        state_suffix=pg_pipeline.state_suffix,
        loader_env=env,
        scrubbed_prefixes=("TARGET_POSTGRES_", "PG"),
        then=(f"{DBT}:build",),
    )
    jobs = [dict(job) for job in sandbox.jobs.values()]
    versions = sandbox.current_versions()
    formats = expected_result_formats(jobs)
    assert formats["text"] > 0 and formats["json_object"] > 0
    check_build(run_results(target), {"nexudus_job_outcomes_result_data_is_json": formats["text"]})

    def model(sql: str) -> list[list[str]]:
        return server.psql(sql.replace("{models}", MODEL_SCHEMA))

    assert model("SELECT count(*), count(DISTINCT job_id) FROM {models}.stg_nexudus_jobs") == [
        [str(PG_JOBS), str(PG_JOBS)]
    ]
    got_formats = dict(
        model("SELECT result_data_format, count(*) FROM {models}.nexudus_job_outcomes GROUP BY 1")
    )
    assert got_formats == {kind: str(count) for kind, count in formats.items()}
    failures = {
        int(job_id): ExpectedFailure(
            reason or None, int(done) if done else None, int(bad) if bad else None
        )
        for job_id, reason, done, bad in model(
            "SELECT job_id, coalesce(reason, ''), coalesce(rows_processed::text, ''), "
            "coalesce(rows_failed::text, '') FROM {models}.nexudus_import_failures"
        )
    }
    assert failures == expected_import_failures(jobs)
    assert failures

    # -- freshness on the quoted "UpdatedOn": the sandbox's history ended months ago -------
    fresh = invoke_dbt(pg_pipeline.meltano, f"{DBT}:freshness", dbt_env(DBT, target, env))
    assert fresh.returncode != 0
    sources = json.loads((target / "sources.json").read_text(encoding="utf-8"))
    (source,) = sources["results"]
    assert source["status"] == "error"
    newest = max(datetime.fromisoformat(v.replace("Z", "+00:00")) for v in versions.values())
    assert source["max_loaded_at"].startswith(newest.replace(tzinfo=None).isoformat())

    # -- rows the models cannot interpret: the build still passes, with warnings ----------
    server.psql(BAD_ROWS)
    rebuilt = invoke_dbt(pg_pipeline.meltano, f"{DBT}:build", dbt_env(DBT, target, env))
    if rebuilt.returncode != 0:
        fail_with_log(rebuilt, f"meltano invoke {DBT}:build")
    check_build(
        run_results(target),
        {
            "stg_nexudus_jobs_status_is_known": 2,
            "stg_nexudus_jobs_created_at_is_set": 2,
            "stg_nexudus_jobs_updated_at_is_set": 2,
            "nexudus_job_outcomes_result_data_is_json": formats["text"] + 2,
        },
    )
    assert model(
        "SELECT job_id, status_category, coalesce(reason, '-') FROM {models}.stg_nexudus_jobs "
        "LEFT JOIN {models}.nexudus_import_failures USING (job_id) "
        "WHERE job_id > 990000 ORDER BY job_id"
    ) == [["990001", "unknown", "-"], ["990002", "failed", "Disk full"], ["990003", "unknown", "-"]]
