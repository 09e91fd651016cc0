"""The dbt package's SQL for BigQuery and Snowflake, which this repository cannot reach.

`make dbt-warehouses` (run by `make pytest`) installs dbt-bigquery and dbt-snowflake into
.venv-dbt-warehouses. Each test compiles the whole package (models and data tests) with
the package's own profiles (transform/profiles/profiles.yml) for one warehouse, without
connecting: `--no-introspect --no-populate-cache`; BigQuery's adapter still builds
credentials, from a throwaway service-account key made here, Snowflake's opens nothing.
sqlglot then parses every compiled statement in that warehouse's dialect, and every
function call must be one sqlglot knows for the dialect or a listed warehouse built-in:
a DuckDB or PostgreSQL function leaking through the dispatch macros fails the test.
"""

from __future__ import annotations

import os
import subprocess
import typing as t
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from tests.dbt_runs import MODELS
from tests.local_services import venv_tool
from tests.meltano_runs import ROOT

pytestmark = pytest.mark.dbt  # runs dbt from its own venv

VENV = ROOT / ".venv-dbt-warehouses"
MAKE_TARGET = "dbt-warehouses"
PROJECT = ROOT / "transform"
#: Warehouse built-ins the package uses that sqlglot parses as plain (anonymous) calls.
BUILTINS = {"bigquery": set[str](), "snowflake": {"as_integer", "as_varchar", "is_object"}}
#: What the JSON dispatch macros must have produced, per warehouse.
JSON_CALLS = {
    "bigquery": (exp.JSONType, exp.JSONExtractScalar),
    "snowflake": (exp.GetExtract,),
}
KEYGEN = """
import json, sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
)
json.dump({"type": "service_account", "project_id": "my-gcp-project", "private_key_id": "0",
           "private_key": key.decode(), "client_id": "0",
           "client_email": "compile-only@my-gcp-project.iam.gserviceaccount.com",
           "token_uri": "https://oauth2.googleapis.com/token"}, open(sys.argv[1], "w"))
"""


def compile_for(warehouse: str, tmp_path: Path) -> Path:
    """`dbt compile` of the package for `warehouse`; returns the compiled SQL's folder."""
    keyfile = tmp_path / "throwaway-service-account.json"
    subprocess.run(
        [venv_tool(VENV, "python", MAKE_TARGET), "-c", KEYGEN, keyfile], check=True, timeout=60
    )
    target = tmp_path / "target"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")}
    env.update(
        {
            "DBT_TARGET": warehouse,
            "DBT_PROFILES_DIR": str(PROJECT / "profiles"),
            "DBT_PROJECT_DIR": str(PROJECT),
            "DBT_TARGET_PATH": str(target),
            "DBT_LOG_PATH": str(tmp_path / "logs"),
            "DBT_BIGQUERY_KEYFILE": str(keyfile),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }
    )
    compiled = subprocess.run(
        [venv_tool(VENV, "dbt", MAKE_TARGET), "compile", "--no-introspect", "--no-populate-cache"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert compiled.returncode == 0, (compiled.stdout + compiled.stderr)[-3000:]
    return target / "compiled" / "nexudus_jobs"


def calls(tree: t.Any) -> t.Iterator[exp.Func]:
    yield from tree.find_all(exp.Func)


@pytest.mark.parametrize("warehouse", ["bigquery", "snowflake"])
def test_compiled_sql_parses_in_the_warehouses_dialect(warehouse: str, tmp_path: Path):
    compiled = compile_for(warehouse, tmp_path)
    files = sorted(compiled.rglob("*.sql"))
    models = {path.stem: path for path in files if path.parent.name in ("staging", "marts")}
    assert set(models) == set(MODELS)
    assert len(files) > len(MODELS), "the data tests were not compiled"

    unknown: dict[str, set[str]] = {}
    for path in files:
        tree = sqlglot.parse_one(
            path.read_text(encoding="utf-8"), read=warehouse, error_level=sqlglot.ErrorLevel.RAISE
        )
        names = {call.name.lower() for call in calls(tree) if isinstance(call, exp.Anonymous)}
        if names - BUILTINS[warehouse]:
            unknown[path.name] = names - BUILTINS[warehouse]
    assert not unknown, f"functions {warehouse} does not have: {unknown}"

    outcomes = sqlglot.parse_one(
        models["nexudus_job_outcomes"].read_text(encoding="utf-8"), read=warehouse
    )
    for wanted in JSON_CALLS[warehouse]:
        assert outcomes.find(wanted), f"no {wanted.__name__} in nexudus_job_outcomes"
    staging = models["stg_nexudus_jobs"].read_text(encoding="utf-8")
    assert "->>" not in staging and "::jsonb" not in staging


def test_the_check_catches_sql_of_another_dialect() -> None:
    # DuckDB's JSON functions are not BigQuery's: the same check must reject them.
    duckdb_sql = "select json_extract_string(x, '$.a') as a, list_value(1, 2) as l from t"
    for warehouse in ("bigquery", "snowflake"):
        tree = sqlglot.parse_one(duckdb_sql, read=warehouse)
        names = {call.name.lower() for call in calls(tree) if isinstance(call, exp.Anonymous)}
        assert names - BUILTINS[warehouse] == {"json_extract_string", "list_value"}
