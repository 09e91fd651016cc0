"""Bad state and unknown setting names through `meltano run`, as a scheduler runs the tap.

Meltano rewrites nothing here, but it does save whatever STATE a failed run emitted
("Incremental state has been updated"): so besides the one line and the exit code, the
state Meltano holds must be exactly what it was before the failed run.

The project is a copy of this repository's meltano.yml and plugins/ in tmp_path, using the
plugin venvs `make meltano-install` made (symlinked), its own system database, and
target-jsonl; the sandbox stands in for Nexudus.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tests.meltano_runs import (
    ENVIRONMENT,
    ROOT,
    check_plugins_installed,
    find_meltano,
    meltano_command,
)

pytestmark = pytest.mark.meltano

LOADER = "target-jsonl"
STATE_ID = f"{ENVIRONMENT}:tap-nexudus-jobs-to-{LOADER}:bad-input"
STREAM = "business_background_jobs"


@dataclass
class Project:
    path: Path
    env: dict[str, str]
    meltano: Path
    sandbox: NexudusSandbox

    def cmd(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return meltano_command(self.meltano, *args, cwd=self.path, env={**self.env, **(env or {})})

    def run(self, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return self.cmd(
            "run",
            "--no-install",
            "--state-id-suffix=bad-input",
            "tap-nexudus-jobs",
            LOADER,
            env=env,
        )

    def state(self) -> t.Any:
        got = self.cmd("state", "get", STATE_ID)
        assert got.returncode == 0, got.stderr
        return json.loads(got.stdout)

    def set_state(self, singer_state: t.Any) -> None:
        body = json.dumps({"singer_state": singer_state})
        done = self.cmd("state", "set", "--force", STATE_ID, body)
        assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[Project]:
    check_plugins_installed(LOADER)
    path = tmp_path_factory.mktemp("bad-input")
    shutil.copy(ROOT / "meltano.yml", path / "meltano.yml")
    shutil.copytree(ROOT / "plugins", path / "plugins")
    for kind in ("extractors", "loaders"):
        (path / ".meltano").mkdir(exist_ok=True)
        (path / ".meltano" / kind).symlink_to(ROOT / ".meltano" / kind)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_NEXUDUS_", "MELTANO_"))}
    with NexudusSandbox(records=120, seed=5) as sandbox:
        env.update(
            {
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                "MELTANO_DATABASE_URI": f"sqlite:///{path / 'system.db'}",
                "TAP_NEXUDUS_JOBS_API_URL": sandbox.url,
                "TARGET_JSONL_DESTINATION_PATH": str(path / "output"),
            }
        )
        (path / "output").mkdir()
        yield Project(path, env, find_meltano(), sandbox)


def tap_errors(result: subprocess.CompletedProcess[str]) -> list[str]:
    output = result.stdout + result.stderr
    lines = [line for line in output.splitlines() if "tap-nexudus-jobs: error:" in line]
    # At Meltano's [error] level, next to its own "Extractor failed" (it was [info] before
    # the plugin declared the structured-logging capability).
    assert all("[error" in line for line in lines), lines
    return lines


@pytest.mark.parametrize(
    ("state", "named"),
    [
        ("garbage", "The state is not a JSON object: 'garbage'"),
        (
            {"bookmarks": {STREAM: {"replication_key_value": "not-a-date"}}},
            f"State key 'bookmarks.{STREAM}.replication_key_value' is not an ISO 8601",
        ),
        (
            {"bookmarks": {STREAM: {"partitions": [{"context": {"business_id": 9}}]}}},
            "partitions[0].context' is a business partition, but setting 'business_ids'",
        ),
    ],
    ids=["string", "not-a-date", "unknown-partition"],
)
def test_meltano_keeps_the_state_a_run_could_not_use(
    project: Project, state: t.Any, named: str
) -> None:
    project.set_state(state)

    result = project.run()

    assert result.returncode != 0
    (line,) = tap_errors(result)
    assert named in line
    assert "Traceback" not in result.stdout + result.stderr
    assert project.state() == {"singer_state": state}


def test_an_unreachable_bookmark_fails_the_run_and_stays(project: Project) -> None:
    project.set_state({"bookmarks": {STREAM: {"replication_key_value": "9999-12-31T00:00:00Z"}}})

    result = project.run()

    assert result.returncode != 0
    (line,) = tap_errors(result)
    assert "The bookmark 9999-12-31T00:00:00+00:00" in line
    # The run wrote no STATE (the tap does not echo the incoming one): Meltano kept it.
    saved = project.state()["singer_state"]["bookmarks"][STREAM]
    assert saved["replication_key_value"] == "9999-12-31T00:00:00Z"


def test_an_unknown_setting_in_meltano_yml_is_named(project: Project) -> None:
    meltano_yml = project.path / "meltano.yml"
    original = meltano_yml.read_text(encoding="utf-8")
    typo = original.replace("          page_size: 200\n", "          pagesize: 200\n", 1)
    assert typo != original
    meltano_yml.write_text(typo, encoding="utf-8")
    try:
        result = project.run()
    finally:
        meltano_yml.write_text(original, encoding="utf-8")

    assert result.returncode != 0
    (line,) = tap_errors(result)
    assert line.endswith("Unknown setting 'pagesize'; did you mean 'page_size'?")


def test_an_unknown_setting_variable_is_named(project: Project) -> None:
    result = project.run(env={"TAP_NEXUDUS_JOBS_LOOKBACK_MINUTE": "60"})

    assert result.returncode != 0
    (line,) = tap_errors(result)
    assert line.endswith(
        "Unknown environment variable 'TAP_NEXUDUS_JOBS_LOOKBACK_MINUTE'; "
        "did you mean 'TAP_NEXUDUS_JOBS_LOOKBACK_MINUTES'?"
    )


def test_a_good_run_after_a_reset_loads_every_job(project: Project) -> None:
    """The way out the error lines give: clear the state, and the next run reads it all."""
    project.set_state({"bookmarks": {STREAM: {"replication_key_value": "9999-12-31T00:00:00Z"}}})
    cleared = project.cmd("state", "clear", "--force", STATE_ID)
    assert cleared.returncode == 0, cleared.stderr
    output = project.path / "output"
    shutil.rmtree(output)
    output.mkdir()

    result = project.run()

    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    (written,) = output.glob(f"{STREAM}*.jsonl")
    rows = written.read_text(encoding="utf-8").splitlines()
    assert len({json.loads(row)["Id"] for row in rows}) == 120


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc), children first."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            children = (task / "children").read_text().split()
            found += [int(child) for child in children]
            pending += [int(child) for child in children]
    return found


def tap_process(meltano_pid: int) -> int | None:
    for pid in descendants(meltano_pid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(part.endswith(b"/tap-nexudus-jobs") for part in command):
            return pid
    return None


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_a_tap_stopped_by_a_signal_fails_the_meltano_run_and_the_next_run_loses_nothing(
    project: Project, signum: int
) -> None:
    """Issue 20, case 3: the tap exited 0, so `meltano run` reported a partial load as done."""
    suffix = f"signal-{signum}"
    output = project.path / f"output-{suffix}"
    output.mkdir()
    faults = SandboxFaults(latency_ms=20)
    with NexudusSandbox(records=3000, seed=21, faults=faults) as sandbox:
        env = {
            **project.env,
            "TAP_NEXUDUS_JOBS_API_URL": sandbox.url,
            "TAP_NEXUDUS_JOBS_PAGE_SIZE": "100",
            "TARGET_JSONL_DESTINATION_PATH": str(output),
        }
        command = [str(project.meltano), "run", "--no-install", f"--state-id-suffix={suffix}"]
        run = subprocess.Popen(
            [*command, "tap-nexudus-jobs", LOADER],
            cwd=project.path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and sandbox.listing_requests < 4:
            time.sleep(0.1)
        tap = tap_process(run.pid)  # the syncing one (Meltano runs the tap before, too)
        assert tap is not None and sandbox.listing_requests >= 4, "the tap never got going"
        os.kill(tap, signum)
        log, _ = run.communicate(timeout=120)

        assert run.returncode != 0, log[-3000:]
        assert f"Stopped by {signal.Signals(signum).name} before the end" in log
        assert "Traceback" not in log
        (written,) = output.glob(f"{STREAM}*.jsonl")
        first = {json.loads(row)["Id"] for row in written.read_text().splitlines()}
        assert 0 < len(first) < 3000

        rerun = meltano_command(
            project.meltano, *command[1:], "tap-nexudus-jobs", LOADER, cwd=project.path, env=env
        )

        assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-3000:]
        rows = [
            json.loads(row)
            for path in output.glob(f"{STREAM}*.jsonl")
            for row in path.read_text().splitlines()
        ]
        assert {row["Id"] for row in rows} == sandbox.served_ids()


def test_a_job_stamped_2099_is_loaded_warned_about_and_holds_no_bookmark(project: Project) -> None:
    """Issue 19 through `meltano run`: the job is loaded as written, one WARNING names it,
    the saved bookmark stays behind it, and a job updated afterwards is loaded next run."""
    stray, later = sorted(project.sandbox.served_ids())[:2]
    project.sandbox.touch([stray], at=datetime(2099, 1, 1, tzinfo=timezone.utc))
    cleared = project.cmd("state", "clear", "--force", STATE_ID)
    assert cleared.returncode == 0, cleared.stderr

    first = project.run()

    output = first.stdout + first.stderr
    assert first.returncode == 0, output[-3000:]
    warned = [line for line in output.splitlines() if "stamped ahead of true time" in line]
    assert len(warned) == 1, output[-3000:]
    assert f"{stray} (UpdatedOn 2099-01-01T00:00:00+00:00, " in warned[0]
    saved = project.state()["singer_state"]["bookmarks"][STREAM]["replication_key_value"]
    assert saved < "2098"

    project.sandbox.touch([later])
    second = project.run()

    assert second.returncode == 0, (second.stdout + second.stderr)[-3000:]
    rows = [
        json.loads(row)
        for written in (project.path / "output").glob(f"{STREAM}*.jsonl")
        for row in written.read_text(encoding="utf-8").splitlines()
    ]
    current = project.sandbox.current_versions()[later].replace("Z", "+00:00")
    assert any(r["Id"] == later and r["UpdatedOn"] == current for r in rows)


def test_a_bookmark_past_any_time_zone_fails_the_run_and_stays(project: Project) -> None:
    """A bookmark an earlier version left on a job stamped 2099, which is still listed."""
    stray = min(project.sandbox.served_ids())
    project.sandbox.touch([stray], at=datetime(2099, 1, 1, tzinfo=timezone.utc))
    state = {"bookmarks": {STREAM: {"replication_key_value": "2099-01-01T00:00:00Z"}}}
    project.set_state(state)

    result = project.run()

    assert result.returncode != 0
    (line,) = tap_errors(result)
    assert "further than any time zone (UTC+14)" in line
    # The failed run moved nothing: Meltano keeps the state exactly as it was set.
    assert project.state()["singer_state"] == state
