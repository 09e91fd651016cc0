"""The benchmarks cannot rot silently: their smallest paths run end to end, in seconds.

`python -m benchmarks` is the one command behind every figure in benchmarks/README.md;
these runs use tiny sizes, so they check that the scripts work and that what they print
holds together, not the figures themselves.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def bench(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def table_rows(output: str, first_cell: str) -> list[list[str]]:
    """The cells of the Markdown rows that start with `first_cell`."""
    return [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in output.splitlines()
        if line.startswith(f"| {first_cell}")
    ]


def test_requests_as_a_user_runs_the_tap(tmp_path):
    """Console script, sandbox in its own process, requests from the sandbox's log."""
    output = tmp_path / "requests.md"
    done = bench(
        "requests", "--only", "full_and_incremental,drift_pairs", "--user-n", "300",
        "--user-page-size", "100", "--changes-per-burst", "1", "--install", "0",
        "--output", str(output),
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Command: `.venv/bin/python -m benchmarks requests --only" in done.stdout
    full = table_rows(done.stdout, "tap-nexudus-jobs (static token)")[0]
    assert full[1] in {"3 listing", "4 listing", "5 listing"}
    assert full[2:6] == ["300", "0 missing, 0 stale", "1 listing", "0"]
    # Requests per delivered job: 4-6 listing requests for 300 jobs, both runs.
    assert 4 / 300 <= float(full[6]) <= 6 / 300
    assert full[7] == "OK"
    password = table_rows(done.stdout, "tap-nexudus-jobs (username/password)")[0]
    assert password[1].endswith(" listing + 1 token") and password[7] == "OK"
    drift = [row for row in table_rows(done.stdout, "tap-nexudus-jobs ") if row[1] == "1"]
    assert drift[0][0] == "tap-nexudus-jobs" and drift[0][8:10] == ["0 missing, 0 stale", "OK"]
    # Each peer: its versions when installed, else that --install 0 skipped it.
    assert "- tap-rest-api-msdk: " in done.stdout and "- dlt: " in done.stdout
    assert output.read_text(encoding="utf-8").count("| tap-nexudus-jobs") == 3


def test_walk_counts_requests_from_the_sandbox_log():
    """The walk's costs, its no-change run, and a drift pair moved by the sandbox's hook."""
    done = bench(
        "requests", "--only", "walk_costs,walk_drift", "--n", "300", "--page-sizes", "50",
        "--big-n", "", "--drift-sizes", "300", "--drift-per-burst", "1",
        "--drift-burst-counts", "", "--drift-bursts", "2",
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    full = table_rows(done.stdout, "300 ")
    # ceil(300/50) = 6 listing pages, the walk's few extra requests, nothing lost.
    assert 6 <= int(full[0][2]) <= 10
    assert full[0][-1] == "0 / 0"
    assert any(row[2:4] == ["1", "OK"] for row in full)  # incremental: one request
    assert any(row[-1] == "OK" and row[8:10] == ["0", "0"] for row in full)  # drift pair


@pytest.mark.parametrize("name", ["pacing", "cpu", "faults", "result-data", "clock-jumps"])
def test_every_script_answers_help(name):
    done = bench(name, "--help", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout


def test_unknown_script_lists_the_scripts():
    done = bench("nope")
    assert done.returncode == 2
    assert "all, requests, pacing, cpu, faults, result-data, clock-jumps" in done.stdout
