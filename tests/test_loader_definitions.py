"""Every loader definition under plugins/loaders/ works as added, with only its secrets set.

The `fresh_project` fixture is a new Meltano project with the tap and each loader added by
`meltano add --from-ref plugins/loaders/<name>.yml` and installed (tests/fresh_project.py).
JSONL, DuckDB and PostgreSQL then load a sandbox with nothing configured but the connection
(for PostgreSQL the libpq variables, for the others nothing at all), and the rows are counted
in the destination. BigQuery runs end to end in tests/test_bigquery_end_to_end.py on the same
project. Snowflake cannot run locally (its target loads through Snowflake stages), so its
definition is checked against the installed target itself: every setting against its
`--about`, and the column types its own type mapping gives this tap's schema.
"""

from __future__ import annotations

import json
import subprocess
import typing as t
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from nexudus_sandbox import NexudusSandbox
from tap_nexudus_jobs.streams import BusinessBackgroundJobsStream
from tests.fresh_project import LOADERS, FreshProject, definition_file
from tests.test_postgres_end_to_end import PostgresServer, running_postgres

pytestmark = pytest.mark.meltano  # runs Meltano pipelines

JOBS = 120
SDK_LOADERS = ["target-postgres", "target-bigquery", "target-snowflake"]  # have --about
KIND_TYPES = {"string": "string", "integer": "integer", "boolean": "boolean", "options": "string"}
METADATA = "_sdc_extracted_at"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[NexudusSandbox]:
    with NexudusSandbox(records=JOBS, seed=1414) as running:
        yield running


def definition(name: str) -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", yaml.safe_load(definition_file(name).read_text()))


def test_every_loader_has_a_definition() -> None:
    files = sorted(path.stem for path in (definition_file("target-x").parent).glob("*.yml"))
    assert files == sorted(LOADERS)


def test_jsonl_as_added(fresh_project: FreshProject, sandbox: NexudusSandbox) -> None:
    fresh_project.run("target-jsonl", sandbox.url, {})
    output = fresh_project.path / "output" / "business_background_jobs.jsonl"
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == JOBS
    assert {row["Id"] for row in rows} == sandbox.served_ids()


def test_duckdb_as_added(fresh_project: FreshProject, sandbox: NexudusSandbox) -> None:
    fresh_project.run("target-duckdb", sandbox.url, {})
    path = fresh_project.path / "output" / "nexudus.duckdb"
    with duckdb.connect(str(path), read_only=True) as connection:
        # The catalog is named after the file: nexudus.duckdb -> nexudus.
        result = connection.execute("SELECT * FROM nexudus.nexudus.business_background_jobs")
        names = [column[0] for column in result.description or []]
        rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    assert len(rows) == JOBS
    assert {row["id"] for row in rows} == sandbox.served_ids()
    assert all(row[METADATA] is not None for row in rows)


@pytest.fixture
def postgres() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


def test_postgres_as_added_with_only_the_libpq_variables(
    fresh_project: FreshProject, sandbox: NexudusSandbox, postgres: PostgresServer
) -> None:
    fresh_project.run("target-postgres", sandbox.url, postgres.loader_env())
    ((count, distinct),) = postgres.psql(
        'SELECT count(*), count(DISTINCT "Id") FROM nexudus.business_background_jobs'
    )
    assert (int(count), int(distinct)) == (JOBS, JOBS)
    columns = postgres.psql(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = 'nexudus' AND table_name = 'business_background_jobs'"
    )
    assert [METADATA] in columns


def installed_executable(project: FreshProject, name: str) -> Path:
    executable: str = definition(name)["executable"]
    return project.path / ".meltano" / "loaders" / name / "venv" / "bin" / executable


def about(project: FreshProject, name: str) -> dict[str, t.Any]:
    completed = subprocess.run(
        [str(installed_executable(project, name)), "--about", "--format=json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return t.cast("dict[str, t.Any]", json.loads(completed.stdout))


def accepted_types(accepted: dict[str, t.Any]) -> set[str]:
    """JSON types a target setting takes, from `type` or `anyOf` (z3-target-bigquery writes
    its nullable alternatives as the bare string 'null')."""
    types = accepted.get("type", [])
    found = {types} if isinstance(types, str) else set(types)
    for option in accepted.get("anyOf", []):
        found |= accepted_types(option) if isinstance(option, dict) else {option}
    return found


PYTHON_TYPES = {"string": str, "integer": int, "boolean": bool}


@pytest.mark.parametrize("name", SDK_LOADERS)
def test_every_setting_is_one_the_target_accepts(fresh_project: FreshProject, name: str) -> None:
    schema = about(fresh_project, name)["settings"]
    properties = schema["properties"]
    declared = {setting["name"]: setting for setting in definition(name)["settings"]}
    assert set(schema.get("required", [])) <= set(declared), "a required setting is not declared"
    for setting_name, setting in declared.items():
        assert setting_name in properties, f"{name} has no setting {setting_name}"
        accepted = properties[setting_name]
        json_type = KIND_TYPES[setting["kind"]]
        assert json_type in accepted_types(accepted), setting_name
        if "options" in setting:
            assert {o["value"] for o in setting["options"]} <= set(accepted["enum"]), setting_name
        value = setting.get("value")
        if value is not None and not str(value).startswith("${"):
            assert isinstance(value, PYTHON_TYPES[json_type]), setting_name
            assert value in accepted.get("enum", [value]), setting_name


def snowflake_column_types(project: FreshProject) -> dict[str, str]:
    """What target-snowflake's own type mapping makes of the tap's schema, with our config."""
    dumped = project.cmd(
        "invoke",
        "--dump=config",
        "target-snowflake",
        env={
            "TARGET_SNOWFLAKE_ACCOUNT": "myorg-myaccount",
            "TARGET_SNOWFLAKE_USER": "NEXUDUS_LOADER",
            "TARGET_SNOWFLAKE_DATABASE": "RAW",
            "TARGET_SNOWFLAKE_PRIVATE_KEY_PATH": "/secrets/nexudus_loader.p8",
        },
    )
    assert dumped.returncode == 0, dumped.stderr[-3000:]
    config_json = dumped.stdout
    script = (
        "import json, sys\n"
        "from target_snowflake.connector import SnowflakeConnector\n"
        "config, schema = json.loads(sys.argv[1]), json.loads(sys.argv[2])\n"
        "connector = SnowflakeConnector(config=config)\n"
        "print(json.dumps({k: str(connector.to_sql_type(v)) for k, v in schema.items()}))\n"
    )
    python = installed_executable(project, "target-snowflake").parent / "python"
    schema = BusinessBackgroundJobsStream.schema["properties"]
    completed = subprocess.run(
        [str(python), "-c", script, config_json, json.dumps(schema)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    types = json.loads(completed.stdout)
    assert set(types) == set(schema)
    return t.cast("dict[str, str]", types)


def test_snowflake_columns_are_timestamp_tz_and_variant(fresh_project: FreshProject) -> None:
    types = snowflake_column_types(fresh_project)
    assert types["UpdatedOn"] == types["CreatedOn"] == "TIMESTAMP_TZ"
    for name in ("ResultDataParsed", "ExtraFields", "CustomFields", "LocalizationDetails"):
        assert types[name] == "VARIANT", name
    assert types["Id"] in {"NUMBER", "DECIMAL", "INTEGER", "BIGINT"}
    assert types["IsNew"] == "BOOLEAN"


def test_snowflake_is_key_pair_only() -> None:
    declared = {setting["name"] for setting in definition("target-snowflake")["settings"]}
    assert {"private_key", "private_key_path", "private_key_passphrase"} <= declared
    assert "password" not in declared
    secrets = {s["name"] for s in definition("target-snowflake")["settings"] if s.get("sensitive")}
    assert secrets == {"private_key", "private_key_passphrase"}
