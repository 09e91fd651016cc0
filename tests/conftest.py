"""Shared fixtures: a running sandbox, and ways to run the tap as a user would."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import typing as t
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from nexudus_sandbox import NexudusSandbox
from nexudus_sandbox.listing import list_jobs, parse_listing_query
from tap_nexudus_jobs.tap import TapNexudusJobs
from tap_nexudus_jobs.timestamps import parse_timestamp
from tests.dbt_runs import duckdb_models  # noqa: F401 - a session fixture, shared

SANDBOX_TOKEN = "sandbox-token"
LISTING_PATH = "/api/sys/businessbackgroundjobs"


@dataclass
class TapRun:
    """What one sync wrote to stdout, split by Singer message type."""

    messages: list[dict[str, t.Any]] = field(default_factory=list)

    @property
    def records(self) -> list[dict[str, t.Any]]:
        return [m["record"] for m in self.messages if m["type"] == "RECORD"]

    @property
    def states(self) -> list[dict[str, t.Any]]:
        return [m["value"] for m in self.messages if m["type"] == "STATE"]

    @property
    def final_state(self) -> dict[str, t.Any]:
        return self.states[-1]

    @property
    def bookmark(self) -> str | None:
        stream_state = self.final_state["bookmarks"]["business_background_jobs"]
        return t.cast("str | None", stream_state.get("replication_key_value"))

    @property
    def ids(self) -> list[int]:
        return [r["Id"] for r in self.records]

    @property
    def versions(self) -> dict[int, str]:
        return {r["Id"]: r["UpdatedOn"] for r in self.records}


def run_tap(config: dict[str, t.Any], state: dict[str, t.Any] | None = None) -> TapRun:
    """Sync in-process and parse every message written to stdout."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")  # the msgspec writer writes bytes
    with redirect_stdout(out):
        TapNexudusJobs(config=config, state=state or {}).sync_all()
    out.flush()
    lines = raw.getvalue().decode("utf-8").splitlines()
    return TapRun([json.loads(line) for line in lines if line.strip()])


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(config: dict[str, t.Any], tmp_path: Path, *args: str) -> CliResult:
    """Run the installed console entry point, as Meltano would."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    completed = subprocess.run(
        [sys.executable, "-m", "tap_nexudus_jobs", "--config", str(config_file), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)


def sandbox_config(sandbox: NexudusSandbox, **overrides: t.Any) -> dict[str, t.Any]:
    return {"api_url": sandbox.url, "access_token": SANDBOX_TOKEN, **overrides}


def with_ids_normalised(versions: dict[int, str]) -> dict[int, str]:
    """Sandbox versions (`...Z`) in the tap's UTC rendering (`...+00:00`)."""
    return {job_id: value.replace("Z", "+00:00") for job_id, value in versions.items()}


@pytest.fixture
def sandbox() -> t.Iterator[NexudusSandbox]:
    with NexudusSandbox(records=350, seed=11) as running:
        yield running


MOCK_API = "https://nexudus.test"
MOCK_LISTING = f"{MOCK_API}{LISTING_PATH}"


def job(job_id: int, updated_on: str, **fields: t.Any) -> dict[str, t.Any]:
    """A listing record as Nexudus shows it (ResultData empty)."""
    return {
        "Id": job_id,
        "UpdatedOn": updated_on,
        "CreatedOn": fields.pop("CreatedOn", updated_on),
        "Status": fields.pop("Status", "Completed"),
        "ResultData": None,
        **fields,
    }


def page(
    records: list[dict[str, t.Any]],
    *,
    number: int = 1,
    size: int = 1000,
    total: int | None = None,
    has_next: bool | None = None,
) -> dict[str, t.Any]:
    """A Nexudus list envelope around `records`."""
    total = len(records) if total is None else total
    pages = max(1, -(-total // size))
    return {
        "Records": records,
        "CurrentPage": number,
        "CurrentPageSize": size,
        "CurrentOrderField": "UpdatedOn",
        "CurrentSortDirection": 1,
        "FirstItem": (number - 1) * size + 1 if records else 0,
        "LastItem": (number - 1) * size + len(records),
        "TotalItems": total,
        "TotalPages": pages,
        "HasNextPage": number < pages if has_next is None else has_next,
        "HasPreviousPage": number > 1,
    }


def serve_listing(
    requests_mock: t.Any,
    records: list[dict[str, t.Any]] | t.Callable[[], list[dict[str, t.Any]]],
    *,
    before: t.Callable[[int], None] | None = None,
) -> list[dict[str, str]]:
    """Answer the listing as the sandbox does (its listing core), serving `records` as they are.

    `records` may be a callable, read per request, so a test can change jobs mid-sync;
    `before(n)` runs before the n-th listing request. Returns the queries it answered.
    """
    queries: list[dict[str, str]] = []

    def respond(request: t.Any, context: t.Any) -> dict[str, t.Any]:
        query = {key: values[0] for key, values in parse_qs(urlsplit(request.url).query).items()}
        queries.append(query)
        if before is not None:
            before(len(queries))
        served = {row["Id"]: row for row in (records() if callable(records) else records)}
        jobs = [{"Id": i, "UpdatedOn": parse_timestamp(r["UpdatedOn"])} for i, r in served.items()]
        body = list_jobs(jobs, parse_listing_query(query))
        # The core renders only documented fields: serve each test's record whole.
        body["Records"] = [served[rendered["Id"]] for rendered in body["Records"]]
        return body

    requests_mock.get(MOCK_LISTING, json=respond)
    return queries


def mock_config(**overrides: t.Any) -> dict[str, t.Any]:
    return {"api_url": MOCK_API, "access_token": "mock-token-value", **overrides}


def ids_in_listing_order(sandbox: NexudusSandbox) -> list[int]:
    """Job Ids as an UpdatedOn-ascending listing shows them (ties by Id)."""
    versions = sandbox.current_versions()
    return sorted(versions, key=lambda job_id: (versions[job_id], job_id))


@pytest.fixture(scope="session")
def fresh_project(tmp_path_factory: pytest.TempPathFactory) -> t.Any:
    """A new Meltano project with the tap and every loader under plugins/loaders/, installed.

    Shared by tests/test_loader_definitions.py and tests/test_bigquery_end_to_end.py, so the
    plugins are installed once per pytest run (tests/fresh_project.py says how).
    """
    from tests.fresh_project import LOADERS, create_project
    from tests.meltano_runs import find_meltano

    return create_project(find_meltano(), tmp_path_factory.mktemp("fresh-project"), LOADERS)
