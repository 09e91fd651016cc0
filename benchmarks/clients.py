"""The clients the benchmarks run: our tap, the requests-only baseline, and the peers.

Each client turns (sandbox URL, page size, a work folder, an optional Singer state) into
the command a user would run. Peers (tap-rest-api-msdk, dlt's rest_api source, configured
from ``peers/``) are installed from PyPI into ``benchmarks/.venvs/<peer>`` (git-ignored)
the first time they are needed, unless ``--install 0``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.harness import (
    BENCH_DIR,
    ROOT,
    STATIC_TOKEN,
    WORK_DIR,
    Run,
    SandboxProcess,
    Size,
    run_measured,
    safe_name,
)
from nexudus_sandbox import NexudusSandbox

PEERS_DIR = BENCH_DIR / "peers"
VENVS_DIR = BENCH_DIR / ".venvs"
#: The peers' switches, shared by every script that runs them.
PEER_SIZES = {
    "install": Size(1, 0, "1: install missing peers from PyPI; 0: skip them"),
    "dlt_run": Size(1, 0, "1: add dlt's run -> DuckDB to the CPU runs"),
}


def tap_executable() -> str:
    """The console script a user runs."""
    found = shutil.which("tap-nexudus-jobs", path=str(Path(sys.executable).parent))
    if found is None:
        raise SystemExit("tap-nexudus-jobs is not installed (make venv)")
    return found


def write_json(path: Path, payload: Any) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    return str(path)


@dataclass
class Client:
    """Something that extracts the jobs; ``kind`` says how it is run."""

    name: str
    kind: str = "tap"  # tap, baseline, tap-rest-api-msdk, dlt
    #: Settings merged into our tap's config; for dlt, the mode (extract or run).
    settings: dict[str, Any] = field(default_factory=dict)
    password_grant: bool = False
    version: str = ""

    def command(
        self, url: str, page_size: int, folder: Path, state: dict[str, Any] | None
    ) -> tuple[list[str], dict[str, str] | None]:
        """The command for one run, and its environment."""
        if self.kind == "baseline":
            script = str(BENCH_DIR / "baseline.py")
            return [sys.executable, script, "--api-url", url, "--page-size", str(page_size)], None
        if self.kind == "dlt":
            return self._dlt(url, page_size, folder)
        if self.kind == "tap":
            auth = {"username": "demo@example.com", "password": "demo-password"}
            auth = auth if self.password_grant else {"access_token": STATIC_TOKEN}
            config = {"api_url": url, **auth, "page_size": page_size, **self.settings}
            executable = tap_executable()
        else:
            # The peer's config from peers/, its placeholders filled.
            text = (PEERS_DIR / f"{self.kind}.json").read_text(encoding="utf-8")
            text = text.replace('"__PAGE_SIZE__"', str(page_size)).replace("__API_URL__", url)
            config = json.loads(text.replace("__ACCESS_TOKEN__", STATIC_TOKEN))
            executable = str(VENVS_DIR / self.kind / "bin" / self.kind)
        argv = [executable, "--config", write_json(folder / "config.json", config)]
        if state is not None:
            argv += ["--state", write_json(folder / "state.json", state)]
        return argv, None

    def _dlt(self, url: str, page_size: int, folder: Path) -> tuple[list[str], dict[str, str]]:
        """The pipeline's own folder keeps the incremental state between runs."""
        mode = self.settings.get("mode", "extract")
        (folder / "dlt-pipelines").mkdir(parents=True, exist_ok=True)
        argv = [str(VENVS_DIR / "dlt" / "bin" / "python"), str(PEERS_DIR / "dlt_rest_api.py")]
        argv += ["--config", str(PEERS_DIR / "dlt_rest_api.json"), "--api-url", url]
        argv += ["--page-size", str(page_size), "--pipelines-dir", str(folder / "dlt-pipelines")]
        argv += ["--mode", mode, "--emit", self.settings.get("emit", "records")]
        env = {**os.environ, "DLT_DATA_DIR": str(folder / "dlt-data")}
        env |= {"RUNTIME__DLTHUB_TELEMETRY": "false", "RUNTIME__LOG_LEVEL": "WARNING"}
        return argv, env


def fresh_folder(label: str) -> Path:
    """An empty folder under .work/runs/."""
    folder = WORK_DIR / "runs" / safe_name(label)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def run_client(
    client: Client, sandbox: NexudusSandbox | SandboxProcess, label: str, page_size: int, *,
    folder: Path | None = None, state: dict[str, Any] | None = None, **options: Any,
) -> Run:  # fmt: skip
    """One measured run of ``client`` against ``sandbox`` (``options``: ``run_measured``'s;
    RECORDs parsed for versions unless ``collect=False``)."""
    argv, env = client.command(sandbox.url, page_size, folder or fresh_folder(label), state)
    return run_measured(label, argv, sandbox, env=env, **{"collect": True, **options})


def run_pair(
    client: Client,
    sandbox: SandboxProcess,
    label: str,
    page_size: int,
    quiet: dict[str, Any] | None,
) -> tuple[Run, dict[int, str], Run]:
    """Run 1; the versions served when it ended; run 2 from its state, after ``quiet``
    (when given) replaced the sandbox's faults, so that what run 2 reads is final."""
    folder = fresh_folder(label)  # both runs': a peer such as dlt keeps its state there
    first = run_client(client, sandbox, label, page_size, folder=folder)
    after = sandbox.current_versions()
    if quiet is not None:
        sandbox.set_faults(quiet)
    state = first.last_state
    second = run_client(client, sandbox, label + "-next", page_size, folder=folder, state=state)
    return first, after, second


# -- peers ---------------------------------------------------------------------------------

PEER_PACKAGES = {  # venv name -> (pip requirement, distributions whose versions are shown)
    "tap-rest-api-msdk": ("tap-rest-api-msdk", ["tap-rest-api-msdk", "singer-sdk"]),
    "dlt": ("dlt[duckdb]", ["dlt", "duckdb"]),
}


def install(name: str) -> str:
    """Install a peer from PyPI into its venv, writing its versions; "" or why it failed."""
    requirement, distributions = PEER_PACKAGES[name]
    venv, python = VENVS_DIR / name, str(VENVS_DIR / name / "bin" / "python")
    print(f"  installing {requirement} into {venv.relative_to(ROOT)} ...", flush=True)
    probe = "import importlib.metadata as m, json, sys; "
    probe += "print(json.dumps({d: m.version(d) for d in sys.argv[1:]}))"
    for step in [
        [sys.executable, "-m", "venv", "--clear", str(venv)],
        [python, "-m", "pip", "install", "--quiet", requirement],
        [python, "-c", probe, *distributions],
    ]:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return f"{step[-1]} failed: {done.stderr.strip()[-200:]}"
    (venv / "bench-installed.json").write_text(done.stdout, encoding="utf-8")
    return ""


def peers(may_install: int) -> tuple[list[Client], list[str]]:
    """The peers ready to run (installed first if missing and ``may_install``), and a line
    per peer: its versions, or why it is skipped."""
    ready, lines = [], []
    for name in PEER_PACKAGES:
        marker = VENVS_DIR / name / "bench-installed.json"
        failed = install(name) if may_install and not marker.exists() else ""
        if not marker.exists():
            lines.append(f"- {name}: {failed or 'not installed (`--install 1` installs it)'}")
            continue
        versions = json.loads(marker.read_text(encoding="utf-8"))
        shown = ", ".join(f"{k} {v}" for k, v in versions.items())
        ready.append(Client("dlt rest_api" if name == "dlt" else name, kind=name, version=shown))
        lines.append(f"- {name}: {shown}")
    return ready, lines


OUR_TAP = Client("tap-nexudus-jobs")
BASELINE = Client("baseline (requests + json)", kind="baseline")
