"""STATE after every page: a `kill -9` mid-sync, then a rerun from the last STATE, loses nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tests.conftest import LISTING_PATH, run_tap, sandbox_config


def start_tap(sandbox: NexudusSandbox, tmp_path: Path, *, stderr: int) -> subprocess.Popen[str]:
    """The tap in its own process, as Meltano runs it, on pages of 100 (stdout piped)."""
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(sandbox_config(sandbox, page_size=100)))
    return subprocess.Popen(
        [sys.executable, "-m", "tap_nexudus_jobs", "--config", str(config_file)],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def test_kill_9_then_rerun_with_the_last_state_loses_nothing(tmp_path) -> None:
    with NexudusSandbox(records=2500, seed=13, faults=SandboxFaults(latency_ms=20)) as sandbox:
        tap = start_tap(sandbox, tmp_path, stderr=subprocess.DEVNULL)
        assert tap.stdout is not None
        emitted: list[int] = []
        states: list[dict] = []
        for line in tap.stdout:
            message = json.loads(line)
            if message["type"] == "RECORD":
                emitted.append(message["record"]["Id"])
            elif message["type"] == "STATE":
                states.append(message["value"])
                if len(states) == 5:
                    os.kill(tap.pid, signal.SIGKILL)
                    break
        tap.wait(timeout=30)
        assert tap.returncode == -signal.SIGKILL
        pages_before_kill = len([e for e in sandbox.request_log if e.path == LISTING_PATH])
        assert pages_before_kill < 25, "the sync finished before it could be killed"

        rerun = run_tap(sandbox_config(sandbox, page_size=100), state=states[-1])

        assert set(emitted) | set(rerun.ids) == sandbox.served_ids()
        # The rerun starts at the bookmark's minute, not from scratch.
        assert len(rerun.ids) < len(sandbox.served_ids()) - 300


def test_state_is_written_after_every_page(sandbox) -> None:
    run = run_tap(sandbox_config(sandbox, page_size=50))

    pages = len([e for e in sandbox.request_log if e.path == LISTING_PATH])
    assert 7 <= pages <= 9  # 350 jobs: 7 pages, a probe of the last page, a re-read
    assert len(run.states) >= 7
    # Each STATE follows the records it covers and claims no further than them.
    newest, previous = None, ""
    for message in run.messages:
        if message["type"] == "RECORD":
            newest = max(newest or "", message["record"]["UpdatedOn"])
        elif message["type"] == "STATE" and newest is not None:
            bookmark = message["value"]["bookmarks"]["business_background_jobs"]
            assert previous <= bookmark["replication_key_value"] <= newest
            previous = bookmark["replication_key_value"]
    assert previous == newest


@pytest.mark.parametrize(
    ("signum", "exit_code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["TERM", "INT"]
)
def test_a_run_stopped_by_a_signal_exits_non_zero_and_resumes_losing_nothing(
    tmp_path, signum, exit_code
) -> None:
    """A scheduler's timeout sends SIGTERM; Ctrl-C sends SIGINT: neither is a success."""
    with NexudusSandbox(records=2500, seed=13, faults=SandboxFaults(latency_ms=20)) as sandbox:
        tap = start_tap(sandbox, tmp_path, stderr=subprocess.PIPE)
        assert tap.stdout is not None
        lines: list[str] = []
        for line in tap.stdout:
            lines.append(line)
            if sum('"type":"STATE"' in seen for seen in lines) == 3:
                os.kill(tap.pid, signum)
                break
        rest, stderr = tap.communicate(timeout=30)
        messages = [json.loads(line) for line in [*lines, *rest.splitlines()]]
        emitted = {m["record"]["Id"] for m in messages if m["type"] == "RECORD"}
        states = [m["value"] for m in messages if m["type"] == "STATE"]

        assert tap.returncode == exit_code
        assert "Traceback" not in stderr
        (line,) = [line for line in stderr.splitlines() if "Stopped by" in line]
        assert f"Stopped by {signal.Signals(signum).name} before the end" in line
        assert len(emitted) < len(sandbox.served_ids()), "the sync finished before the signal"

        rerun = run_tap(sandbox_config(sandbox, page_size=100), state=states[-1])

        assert emitted | set(rerun.ids) == sandbox.served_ids()
