"""Running this project's Meltano pipelines from tests, isolated from the demo's state."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENT = "demo"
EXTRACTOR = "tap-nexudus-jobs"
RUN_TIMEOUT_S = 300


def meltano_command(
    meltano: Path, *args: str, cwd: Path, env: dict[str, str], timeout: float = RUN_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """One Meltano command in the project at `cwd`: output captured, no stdin, not checked."""
    return subprocess.run(
        [str(meltano), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def find_meltano() -> Path:
    """The meltano installed next to this interpreter by `make venv` (.venv/bin)."""
    candidates = [Path(sys.executable).parent / "meltano", ROOT / ".venv" / "bin" / "meltano"]
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(
        "meltano is not installed (looked for "
        + ", ".join(str(c) for c in candidates)
        + "). Run `make venv meltano-install` (or `make test`, which does both).",
        pytrace=False,
    )


def check_plugins_installed(loader: str, *utilities: str) -> None:
    """The plugin venvs `meltano install` creates; without them `meltano run` cannot work."""
    missing = [
        plugin
        for plugin in (
            f"extractors/{EXTRACTOR}",
            f"loaders/{loader}",
            *(f"utilities/{utility}" for utility in utilities),
        )
        if not (ROOT / ".meltano" / plugin / "venv").is_dir()
    ]
    if missing:
        pytest.fail(
            f"Meltano plugins not installed: {', '.join(missing)} under .meltano/. "
            "Run `make meltano-install` (or `make test`).",
            pytrace=False,
        )


def meltano_run(
    meltano: Path,
    loader: str,
    *,
    sandbox_url: str,
    system_db: Path,
    state_suffix: str,
    loader_env: dict[str, str],
    scrubbed_prefixes: tuple[str, ...] = (),
    failure_detail: str = "",
    then: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """`meltano --environment=demo run tap-nexudus-jobs <loader> [then...]` against a sandbox.

    Its own system database (so its state never meets the demo's), a unique state-id
    suffix, and none of the developer's TAP_NEXUDUS_* or DBT_* variables. `then` are more
    blocks for the same `meltano run`, e.g. `dbt-duckdb:build`. Fails the test, with the
    end of Meltano's log, if the run fails.
    """
    scrubbed = ("TAP_NEXUDUS_", "DBT_", *scrubbed_prefixes)
    env = {k: v for k, v in os.environ.items() if not k.startswith(scrubbed)}
    env.pop("MELTANO_ENVIRONMENT", None)
    env.update(
        {
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_DATABASE_URI": f"sqlite:///{system_db}",
            "TAP_NEXUDUS_JOBS_API_URL": sandbox_url,
            "TAP_NEXUDUS_JOBS_ACCESS_TOKEN": "sandbox-token",
            **loader_env,
        }
    )
    command = [
        str(meltano),
        f"--environment={ENVIRONMENT}",
        "run",
        "--no-install",
        f"--state-id-suffix={state_suffix}",
        EXTRACTOR,
        loader,
        *then,
    ]
    completed = meltano_command(meltano, *command[1:], cwd=ROOT, env=env)
    if completed.returncode != 0:
        log = (completed.stdout + completed.stderr).splitlines()[-60:]
        pytest.fail(
            f"`{' '.join(command[1:])}` exited {completed.returncode}:\n"
            + "\n".join(log)
            + failure_detail,
            pytrace=False,
        )
    return completed
