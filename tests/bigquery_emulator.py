"""A local BigQuery (bqemulator) and GCS (gcp-storage-emulator) on loopback, offline.

Both come from .venv-bigquery-emulator (`make bigquery-emulator`, pins in
requirements/bigquery-emulator.txt). bqemulator runs `INSTALL spatial` at start-up, which
downloads; installing the extension first, from the duckdb-extension-spatial package, into
the emulator's own DuckDB extension directory (under its HOME) makes that a no-op. Load jobs
read `gs://bucket/path` as files under BQEMU_GCS_LOCAL_ROOT, which is where the storage
emulator keeps its objects, so the target's gcs_stage load works as on Google Cloud.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.local_services import free_port, venv_tool
from tests.meltano_runs import ROOT

VENV = ROOT / ".venv-bigquery-emulator"
MAKE_TARGET = "bigquery-emulator"
PROJECT = "my-gcp-project"  # the README's project id, so its queries run verbatim
BUCKET = "nexudus-stage"
START_TIMEOUT_S = 60
INSTALL_SPATIAL = """
import pathlib, duckdb, duckdb_extension_spatial as package
(path,) = pathlib.Path(package.__file__).parent.glob("extensions/*/spatial.duckdb_extension")
duckdb.connect().execute(f"INSTALL '{path}'")
"""


@dataclass
class BigQueryEmulator:
    rest_url: str
    storage_url: str
    credentials: Path

    def target_env(self) -> dict[str, str]:
        """What the target (Google's client libraries) needs to talk to the emulators."""
        return {
            "BIGQUERY_EMULATOR_HOST": self.rest_url,
            "STORAGE_EMULATOR_HOST": self.storage_url,
            "GOOGLE_APPLICATION_CREDENTIALS": str(self.credentials),
            "NO_GCE_CHECK": "True",
            "TARGET_BIGQUERY_PROJECT": PROJECT,
            "TARGET_BIGQUERY_BUCKET": BUCKET,
        }

    def query(self, sql: str) -> list[dict[str, t.Any]]:
        """Rows of a standard-SQL query, as the REST API returns them (values as text)."""
        response = requests.post(
            f"{self.rest_url}/bigquery/v2/projects/{PROJECT}/queries",
            json={"query": sql, "useLegacySql": False, "timeoutMs": 60000},
            timeout=90,
        )
        assert response.status_code == 200, f"{response.status_code}: {response.text[:2000]}"
        answer = response.json()
        assert answer.get("jobComplete", True), answer
        names = [field["name"] for field in answer["schema"]["fields"]]
        return [
            dict(zip(names, [cell["v"] for cell in row["f"]], strict=True))
            for row in answer.get("rows", [])
        ]

    def table(self, dataset: str, table: str) -> dict[str, t.Any]:
        url = f"{self.rest_url}/bigquery/v2/projects/{PROJECT}/datasets/{dataset}/tables/{table}"
        response = requests.get(url, timeout=30)
        assert response.status_code == 200, f"no table {dataset}.{table}: {response.text[:500]}"
        return t.cast("dict[str, t.Any]", response.json())


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} exited at start-up:\n{log.read_text()[-3000:]}", pytrace=False)
        try:
            requests.get(url, timeout=2)
            return
        except requests.ConnectionError:
            time.sleep(0.2)  # a subprocess starting up: nothing to inject a clock into
    pytest.fail(f"{url} did not answer in {START_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


@contextmanager
def running_emulators(workdir: Path) -> Iterator[BigQueryEmulator]:
    """Both emulators on free loopback ports, stopped (and their files left in workdir) after."""
    home, objects = workdir / "home", workdir / "gcs"
    home.mkdir()
    objects.mkdir()
    env = {**os.environ, "HOME": str(home)}
    python = venv_tool(VENV, "python", MAKE_TARGET)
    subprocess.run([str(python), "-c", INSTALL_SPATIAL], env=env, check=True, timeout=120)

    rest_port, grpc_port, storage_port = free_port(), free_port(), free_port()
    storage_log, bigquery_log = workdir / "gcs.log", workdir / "bigquery.log"
    storage_cmd = [
        str(venv_tool(VENV, "gcp-storage-emulator", MAKE_TARGET)),
        *("--data-dir", str(objects), "start", "--host", "127.0.0.1"),
        *("--port", str(storage_port), "--default-bucket", BUCKET),
    ]
    bigquery_cmd = [
        str(venv_tool(VENV, "bqemulator", MAKE_TARGET)),
        *("start", "--rest-host", "127.0.0.1", "--rest-port", str(rest_port)),
        *("--grpc-host", "127.0.0.1", "--grpc-port", str(grpc_port)),
        *("--project", PROJECT, "--log-level", "warning"),
    ]
    # gcp-storage-emulator keeps bucket/object as files under <data-dir>/.cloudstorage.
    bigquery_env = {**env, "BQEMU_GCS_LOCAL_ROOT": str(objects / ".cloudstorage")}
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with storage_log.open("wb") as out:
            processes.append(subprocess.Popen(storage_cmd, env=env, stdout=out, stderr=out))
        with bigquery_log.open("wb") as out:
            processes.append(
                subprocess.Popen(bigquery_cmd, env=bigquery_env, stdout=out, stderr=out)
            )
        storage_url, rest_url = f"http://127.0.0.1:{storage_port}", f"http://127.0.0.1:{rest_port}"
        wait_until_up(f"{storage_url}/storage/v1/b", processes[0], storage_log)
        wait_until_up(
            f"{rest_url}/bigquery/v2/projects/{PROJECT}/datasets", processes[1], bigquery_log
        )
        # Application Default Credentials the client libraries accept without any network:
        # a user token that never expires (the emulators ignore it).
        credentials = workdir / "adc.json"
        credentials.write_text(
            json.dumps(
                {
                    "type": "authorized_user",
                    "client_id": "emulator",
                    "client_secret": "emulator",
                    "refresh_token": "emulator",
                    "token": "emulator",
                    "expiry": "2999-01-01T00:00:00Z",
                }
            ),
            encoding="utf-8",
        )
        yield BigQueryEmulator(rest_url, storage_url, credentials)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
