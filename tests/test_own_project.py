"""The README's "Use it in your own Meltano project", run as written in a new project.

The commands are read from the README (between the own-project markers), not retyped.
The test supplies only what the README leaves to the reader: `TAP` is this checkout, and
the sandbox the README has the reader start on http://127.0.0.1:8765 is an in-process one
on a free port (the README's address is swapped for it, so parallel runs cannot collide).
Meltano installs the tap from the checkout and target-jsonl from PyPI into the new
project (a minute or so, once per run of this module); the same project then serves the
`meltano invoke` checks of every setting, since Meltano is how most users will run the tap.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import time
import typing as t
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from nexudus_sandbox import NexudusSandbox
from tap_nexudus_jobs.tap import TapNexudusJobs
from tests.meltano_runs import ROOT, find_meltano, meltano_command

pytestmark = pytest.mark.meltano

EXTRACTOR = "tap-nexudus-jobs"
README = ROOT / "README.md"
START, END = "<!-- own-project:start -->", "<!-- own-project:end -->"
CHECKOUT_LINE = "TAP=/path/to/tap-nexudus-jobs"
SANDBOX_URL = "http://127.0.0.1:8765"  # `python -m nexudus_sandbox`'s default
JOBS = 500  # the sandbox's default, which the README promises
INSTALL_TIMEOUT_S = 900


def readme_commands(start: str = START, end: str = END) -> str:
    """The bash block between the own-project markers, as the README shows it."""
    text = README.read_text(encoding="utf-8")
    block = text[text.index(start) + len(start) : text.index(end)]
    match = re.fullmatch(r"\s*```bash\n(.*?)```\s*", block, flags=re.S)
    assert match, f"the block after {start} is not one ```bash fence"
    return match.group(1)


def run_readme_block(project: OwnProject, commands: str) -> str:
    """The README's commands in the project, TAP set to this checkout; their output.

    The sandbox's default URL becomes the test's own sandbox.
    """
    assert CHECKOUT_LINE in commands
    script = commands.replace(CHECKOUT_LINE, f"TAP={shlex.quote(str(ROOT))}")
    script = script.replace(SANDBOX_URL, project.sandbox.url)
    completed = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=project.path,
        env=project.env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-4000:]
    return completed.stdout + completed.stderr


@dataclass
class OwnProject:
    path: Path
    env: dict[str, str]
    sandbox: NexudusSandbox
    meltano: Path
    readme_output: str = ""

    def meltano_cmd(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **(env or {})}
        return meltano_command(self.meltano, *args, cwd=self.path, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def own_project(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[OwnProject]:
    meltano = find_meltano()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_NEXUDUS_", "MELTANO_"))}
    with NexudusSandbox(records=JOBS, seed=77) as sandbox:
        env.update(
            {
                "PATH": f"{meltano.parent}{os.pathsep}{env.get('PATH', '')}",
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            }
        )
        workspace = tmp_path_factory.mktemp("own-project")
        project = OwnProject(workspace / "my-project", env, sandbox, meltano)
        created = meltano_command(
            meltano, "init", str(project.path), cwd=workspace, env=env, timeout=120
        )
        assert created.returncode == 0, created.stdout + created.stderr
        commands = readme_commands()
        assert f"api_url {SANDBOX_URL}" in commands
        project.readme_output = run_readme_block(project, commands)
        yield project


def test_the_readme_commands_load_the_jobs_into_target_jsonl(own_project: OwnProject) -> None:
    output = own_project.path / "output" / "business_background_jobs.jsonl"
    rows = [json.loads(line) for line in output.read_text(encoding="utf-8").splitlines()]

    # No start_date in the sandbox block: every job the sandbox serves, as the README says.
    assert len(rows) == JOBS
    assert {row["Id"] for row in rows} == own_project.sandbox.served_ids()
    assert "Plugin configuration is valid" in own_project.readme_output
    # The secret went to .env, not meltano.yml; nothing was left for a `sed` (no .bak).
    assert "sandbox-token" not in (own_project.path / "meltano.yml").read_text(encoding="utf-8")
    assert "sandbox-token" in (own_project.path / ".env").read_text(encoding="utf-8")
    assert not list(own_project.path.glob("*.bak"))


def test_meltano_add_prints_no_placeholder(own_project: OwnProject) -> None:
    assert "OWNER" not in own_project.readme_output
    assert "Added extractor 'tap-nexudus-jobs'" in own_project.readme_output


def tap_config(project: OwnProject, env: dict[str, str] | None = None) -> dict[str, t.Any]:
    """What Meltano hands the tap: `meltano invoke --dump=config`."""
    dumped = project.meltano_cmd("invoke", "--dump=config", EXTRACTOR, env=env)
    assert dumped.returncode == 0, dumped.stderr
    return t.cast("dict[str, t.Any]", json.loads(dumped.stdout))


@pytest.mark.parametrize("typed", ["2025-01-01T00:00:00Z", "yesterday", "2024-13-01"])
def test_start_date_reaches_the_tap_as_typed(own_project: OwnProject, typed: str) -> None:
    config = tap_config(own_project, {"TAP_NEXUDUS_JOBS_START_DATE": typed})

    assert config["start_date"] == typed


def test_meltano_config_list_shows_start_date_as_set(own_project: OwnProject) -> None:
    typed = own_project.meltano_cmd(
        "config", "set", EXTRACTOR, "start_date", "2025-01-01T00:00:00Z"
    )
    assert typed.returncode == 0, typed.stderr
    listed = own_project.meltano_cmd("config", "list", EXTRACTOR)
    own_project.meltano_cmd("config", "unset", EXTRACTOR, "start_date")

    assert listed.returncode == 0, listed.stderr
    (line,) = [line for line in listed.stdout.splitlines() if line.startswith("start_date ")]
    assert "current value: '2025-01-01T00:00:00Z' (from `meltano.yml`)" in line


# A bad value for every setting a user can get wrong, as text (what Meltano passes on),
# and what the one error line must name. `client_id` and `flattening_separator` accept
# any text, so they have no bad value.
FREE_TEXT = {"client_id", "flattening_separator"}
NO_TOKEN = {"TAP_NEXUDUS_JOBS_ACCESS_TOKEN": ""}
BAD_VALUES: dict[str, tuple[dict[str, str], str]] = {
    "api_url": ({"API_URL": "spaces.nexudus.com"}, "Setting 'api_url' is not an http(s) URL"),
    "access_token": ({}, "Settings 'access_token', or 'username' and 'password', are required"),
    "username": ({"USERNAME": "ops@example.com"}, "'access_token', or 'username' and 'password'"),
    "password": (
        {"USERNAME": "ops@example.com", "PASSWORD": ""},
        "'access_token', or 'username' and 'password'",
    ),
    "totp": ({"TOTP": "twelve"}, "Setting 'totp' is invalid"),
    "start_date": ({"START_DATE": "yesterday"}, "Setting 'start_date' is not an ISO 8601"),
    "page_size": ({"PAGE_SIZE": "many"}, "Setting 'page_size' is not a whole number"),
    "lookback_minutes": ({"LOOKBACK_MINUTES": "-5"}, "Setting 'lookback_minutes' is invalid"),
    "filters": ({"FILTERS": "{bad"}, "Setting 'filters' is not a JSON object"),
    "business_ids": ({"BUSINESS_IDS": "1001,1002"}, "Setting 'business_ids' is not a JSON array"),
    "include_result_data": (
        {"INCLUDE_RESULT_DATA": "maybe"},
        "Setting 'include_result_data' is not true or false",
    ),
    "requests_per_minute": ({"REQUESTS_PER_MINUTE": "0"}, "Setting 'requests_per_minute'"),
    "min_request_interval_ms": (
        {"MIN_REQUEST_INTERVAL_MS": "fast"},
        "Setting 'min_request_interval_ms' is not a whole number",
    ),
    "requests_per_hour": ({"REQUESTS_PER_HOUR": "1e4"}, "Setting 'requests_per_hour'"),
    "request_timeout": ({"REQUEST_TIMEOUT": "1m"}, "Setting 'request_timeout'"),
    "max_requests_per_run": (
        {"MAX_REQUESTS_PER_RUN": "plenty"},
        "Setting 'max_requests_per_run' is not a whole number",
    ),
    "result_data_skip_statuses": (
        {"RESULT_DATA_SKIP_STATUSES": "Queued,Running"},
        "Setting 'result_data_skip_statuses' is not a JSON array",
    ),
    "stream_maps": ({"STREAM_MAPS": "{bad"}, "Setting 'stream_maps' is not a JSON object"),
    "stream_map_config": ({"STREAM_MAP_CONFIG": "[]"}, "Setting 'stream_map_config'"),
    "faker_config": ({"FAKER_CONFIG": '{"seed": '}, "Setting 'faker_config'"),
    "flattening_enabled": ({"FLATTENING_ENABLED": "ja"}, "Setting 'flattening_enabled'"),
    "flattening_max_depth": ({"FLATTENING_MAX_DEPTH": "deep"}, "'flattening_max_depth'"),
    "flattening_max_key_length": (
        {"FLATTENING_MAX_KEY_LENGTH": "long"},
        "Setting 'flattening_max_key_length'",
    ),
    "batch_config": (
        {"BATCH_CONFIG": '{"encoding": {"format": "xml"}}'},
        "Setting 'batch_config.encoding.format' is invalid",
    ),
}


def all_settings() -> set[str]:
    schema = dict(TapNexudusJobs.config_jsonschema)
    TapNexudusJobs.append_builtin_config(schema)
    return set(schema["properties"])


def test_every_setting_has_a_bad_value_checked_under_meltano() -> None:
    assert set(BAD_VALUES) | FREE_TEXT == all_settings()


@dataclass
class Invocation:
    exit_code: int
    output: str
    seconds: float


def invoke(project: OwnProject, variables: dict[str, str]) -> Invocation:
    started = time.monotonic()
    completed = project.meltano_cmd("invoke", EXTRACTOR, env=variables, timeout=180)
    output = completed.stdout + completed.stderr
    return Invocation(completed.returncode, output, time.monotonic() - started)


@dataclass
class BadSettingRuns:
    by_setting: dict[str, Invocation]
    requests_sent: int


@pytest.fixture(scope="module")
def bad_setting_runs(own_project: OwnProject) -> BadSettingRuns:
    """`meltano invoke` once per bad value, a few at a time (each is mostly start-up)."""

    # Discover once: concurrent invocations would all rewrite Meltano's catalog cache.
    catalog = own_project.path / "catalog.json"
    dumped = own_project.meltano_cmd("invoke", "--dump=catalog", EXTRACTOR)
    assert dumped.returncode == 0, dumped.stderr
    catalog.write_text(dumped.stdout, encoding="utf-8")

    def run(name: str) -> tuple[str, Invocation]:
        variables, _expected = BAD_VALUES[name]
        env = {f"TAP_NEXUDUS_JOBS_{key}": value for key, value in variables.items()}
        if name in {"access_token", "username", "password"}:
            env = {**NO_TOKEN, **env}
        return name, invoke(own_project, {"TAP_NEXUDUS_JOBS__CATALOG": str(catalog), **env})

    before = len(own_project.sandbox.log_snapshot())
    with ThreadPoolExecutor(max_workers=3) as pool:
        by_setting = dict(pool.map(run, BAD_VALUES))
    return BadSettingRuns(by_setting, len(own_project.sandbox.log_snapshot()) - before)


def tap_error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if "tap-nexudus-jobs: error:" in line]


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_a_bad_setting_under_meltano_is_one_line_naming_it(
    bad_setting_runs: BadSettingRuns, name: str
) -> None:
    result = bad_setting_runs.by_setting[name]
    _variables, expected = BAD_VALUES[name]

    assert result.exit_code != 0
    (line,) = tap_error_lines(result.output)
    assert expected in line
    assert "Traceback" not in result.output
    assert "An unhandled error occurred" not in result.output
    # Settings are checked before anything is sent.
    assert bad_setting_runs.requests_sent == 0


@pytest.mark.parametrize(
    ("api_url", "named"),
    [
        ("https://spaces.nexudos.com", "cannot resolve spaces.nexudos.com"),
        ("http://127.0.0.1:9", "connection refused by 127.0.0.1:9"),
    ],
    ids=["wrong-host", "refused-port"],
)
def test_an_unreachable_api_url_under_meltano_fails_fast_naming_it(
    own_project: OwnProject, api_url: str, named: str
) -> None:
    result = invoke(own_project, {"TAP_NEXUDUS_JOBS_API_URL": api_url})

    assert result.exit_code != 0
    (line,) = tap_error_lines(result.output)
    assert named in line
    # Meltano's own start-up and catalog discovery take a few seconds of this.
    assert result.seconds < 20, f"took {result.seconds:.1f}s"
    assert "An unhandled error occurred" not in result.output
    assert "Backing off" not in result.output
    print(f"\n{api_url} under meltano invoke: {result.seconds:.1f}s\n{line}")


DBT_START, DBT_END = "<!-- own-project-dbt:start -->", "<!-- own-project-dbt:end -->"


def test_the_readme_dbt_commands_build_the_models_in_the_own_project(
    own_project: OwnProject,
) -> None:
    run_readme_block(own_project, readme_commands(DBT_START, DBT_END))

    # The sandbox block sets no start_date: every job the sandbox serves.
    expected = set(own_project.sandbox.current_versions())
    database = own_project.path / "output" / "nexudus.duckdb"
    with duckdb.connect(str(database), read_only=True) as connection:
        rows = connection.execute("SELECT job_id FROM analytics.stg_nexudus_jobs").fetchall()
        outcomes = connection.execute("SELECT count(*) FROM analytics.nexudus_job_outcomes")
        (outcome_rows,) = t.cast("tuple[int]", outcomes.fetchone())
        reasons = connection.execute(
            "SELECT count(*) FROM analytics.nexudus_import_failures WHERE reason IS NOT NULL"
        ).fetchone()
    ids = {row[0] for row in rows}
    assert ids == expected
    # The block turns include_result_data on: without it both were empty (issue 21).
    assert outcome_rows > 0
    assert reasons is not None and reasons[0] > 0
    # dbt reports into the user's project, not into the checkout's package.
    results = own_project.path / "output" / "dbt-duckdb" / "target" / "run_results.json"
    results_by_id = json.loads(results.read_text(encoding="utf-8"))["results"]
    statuses = {r["status"] for r in results_by_id}
    assert statuses <= {"success", "pass", "warn"}
    # The one warn-level test counts ResultData that is plain text, which the sandbox sends
    # for some failed jobs (as Nexudus may): it has rows only now that ResultData is fetched.
    warned = {r["unique_id"].split(".")[2] for r in results_by_id if r["status"] == "warn"}
    assert warned <= {"nexudus_job_outcomes_result_data_is_json"}
