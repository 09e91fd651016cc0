"""What the tap's log says in a plain run, as Meltano shows it: no SDK noise.

"Skipping parse of env var settings..." (always true under Meltano, twice per run) is
dropped; METRIC lines (machine counters) show only at LOGLEVEL=DEBUG; the run ends with
one `Done:` line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nexudus_sandbox import NexudusSandbox
from tests.conftest import sandbox_config


def run_cli_with(env: dict[str, str], config: dict[str, object], tmp_path: Path) -> str:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    base = {k: v for k, v in os.environ.items() if not k.endswith("LOGLEVEL")}
    completed = subprocess.run(
        [sys.executable, "-m", "tap_nexudus_jobs", "--config", str(config_file)],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return completed.stderr


def test_a_plain_run_logs_no_sdk_noise(tmp_path: Path) -> None:
    with NexudusSandbox(records=20, seed=3) as sandbox:
        stderr = run_cli_with({}, sandbox_config(sandbox), tmp_path)
    assert "Skipping parse of env var settings" not in stderr
    assert "METRIC" not in stderr
    (done,) = [line for line in stderr.splitlines() if "Done:" in line]
    assert done.endswith("Done: 20 jobs emitted, 1 page read, 1 request")


def test_metric_lines_come_back_at_debug(tmp_path: Path) -> None:
    with NexudusSandbox(records=20, seed=3) as sandbox:
        stderr = run_cli_with({"LOGLEVEL": "DEBUG"}, sandbox_config(sandbox), tmp_path)
    assert "METRIC" in stderr
