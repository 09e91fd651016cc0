"""A run that finds nothing new still counts its requests in the state a target saves.

The hour's request count (`requests_last_hour`) is how back-to-back runs share Nexudus's
5,000 an hour. target-duckdb 0.8.0 saves only the first STATE of a run that loads no row;
the tap's first STATE was the SDK's echo of the incoming state, written before any request,
so every quiet run's requests were lost (measured: `[[1796676120, 2]]` across two quiet
runs that each sent a request).
"""

from __future__ import annotations

import json
import subprocess
import typing as t
from pathlib import Path

import pytest

from nexudus_sandbox import NexudusSandbox
from tests.conftest import TapRun, run_tap, sandbox_config
from tests.meltano_runs import ROOT, check_plugins_installed

STREAM = "business_background_jobs"
TARGET_DUCKDB = ROOT / ".meltano" / "loaders" / "target-duckdb" / "venv" / "bin" / "target-duckdb"


def hour_total(state: dict[str, t.Any]) -> int:
    return sum(count for _minute, count in state["bookmarks"][STREAM]["requests_last_hour"])


def full_then_quiet(sandbox: NexudusSandbox) -> tuple[TapRun, TapRun, int]:
    """A full sync, then a run with nothing new; the requests the quiet run sent."""
    config = sandbox_config(sandbox)
    full = run_tap(config)
    before = len(sandbox.request_log)
    quiet = run_tap(config, full.final_state)
    return full, quiet, len(sandbox.request_log) - before


def test_a_quiet_runs_first_state_already_counts_its_requests() -> None:
    with NexudusSandbox(records=30, seed=1) as sandbox:
        full, quiet, sent = full_then_quiet(sandbox)

    assert quiet.records == []
    assert sent >= 1
    # No echo of the incoming state: the first STATE is written after the run's requests.
    assert hour_total(quiet.states[0]) == hour_total(full.final_state) + sent
    assert quiet.states[0] == quiet.final_state


@pytest.mark.meltano
def test_target_duckdb_saves_the_quiet_runs_requests(tmp_path: Path) -> None:
    check_plugins_installed("target-duckdb")
    config = tmp_path / "target.json"
    config.write_text(
        json.dumps({"filepath": str(tmp_path / "q.duckdb"), "default_target_schema": "nexudus"})
    )
    with NexudusSandbox(records=30, seed=1) as sandbox:
        full, quiet, sent = full_then_quiet(sandbox)
    singer = "".join(json.dumps(message) + "\n" for message in quiet.messages)

    loaded = subprocess.run(
        [str(TARGET_DUCKDB), "--config", str(config)],
        input=singer,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert loaded.returncode == 0, loaded.stderr[-2000:]
    saved = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert hour_total(saved) == hour_total(full.final_state) + sent
