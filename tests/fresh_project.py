"""A new Meltano project built only from this repository's plugin definitions.

What a user does in their own project: `meltano init`, then `meltano add --from-ref
plugins/<type>/<name>.yml <name>` for the tap and each loader, then `meltano install`.
Nothing from this repository's meltano.yml is used. The tap's pip_url is
`${NEXUDUS_TAP_PIP_URL}`, set here to this checkout, as the README has users do.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.meltano_runs import ROOT, RUN_TIMEOUT_S, meltano_command

EXTRACTOR = "tap-nexudus-jobs"
LOADERS = [
    "target-jsonl",
    "target-duckdb",
    "target-postgres",
    "target-bigquery",
    "target-snowflake",
]
INSTALL_TIMEOUT_S = 900


def definition_file(name: str) -> Path:
    kind = "extractors" if name == EXTRACTOR else "loaders"
    return ROOT / "plugins" / kind / f"{name}.yml"


@dataclass
class FreshProject:
    path: Path
    meltano: Path
    env: dict[str, str]

    def cmd(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **(env or {})}
        return meltano_command(self.meltano, *args, cwd=self.path, env=env, timeout=timeout)

    def checked(self, *args: str, env: dict[str, str] | None = None, timeout: float = 300) -> str:
        completed = self.cmd(*args, env=env, timeout=timeout)
        if completed.returncode != 0:
            log = (completed.stdout + completed.stderr).splitlines()[-60:]
            pytest.fail(
                f"`meltano {' '.join(args)}` exited {completed.returncode}:\n" + "\n".join(log),
                pytrace=False,
            )
        return completed.stdout + completed.stderr

    def run(self, loader: str, sandbox_url: str, env: dict[str, str]) -> str:
        """`meltano run tap-nexudus-jobs <loader>` on a sandbox, with a state ID of its own."""
        return self.checked(
            "run",
            f"--state-id-suffix={uuid.uuid4().hex[:12]}",
            EXTRACTOR,
            loader,
            env={
                "TAP_NEXUDUS_JOBS_API_URL": sandbox_url,
                "TAP_NEXUDUS_JOBS_ACCESS_TOKEN": "sandbox-token",
                **env,
            },
            timeout=RUN_TIMEOUT_S,
        )


def create_project(meltano: Path, workspace: Path, loaders: list[str]) -> FreshProject:
    """`meltano init`, `meltano add --from-ref` of the tap and `loaders`, `meltano install`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TAP_NEXUDUS_", "TARGET_", "MELTANO_", "PG", "GOOGLE_"))
    }
    env.update(
        {
            "PATH": f"{meltano.parent}{os.pathsep}{env.get('PATH', '')}",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "NEXUDUS_TAP_PIP_URL": str(ROOT),
        }
    )
    project = FreshProject(workspace / "project", meltano, env)
    created = meltano_command(
        meltano, "init", str(project.path), cwd=workspace, env=env, timeout=120
    )
    assert created.returncode == 0, created.stdout + created.stderr
    for name in [EXTRACTOR, *loaders]:
        added = project.checked(
            "add", "--no-install", "--from-ref", str(definition_file(name)), name
        )
        assert f"Added {'extractor' if name == EXTRACTOR else 'loader'} '{name}'" in added
    project.checked("install", timeout=INSTALL_TIMEOUT_S)
    return project
