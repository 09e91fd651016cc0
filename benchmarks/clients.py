"""The clients the benchmarks run: our tap, the requests-only baseline, and the peers.

Each client turns (sandbox URL, page size, a work folder, an optional Singer state) into
the command a user would run. Peers are installed from PyPI into their own venvs under
``benchmarks/.venvs/`` (git-ignored) the first time they are needed.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from benchmarks.common import (
    BENCH_DIR,
    PASSWORD,
    PEERS_DIR,
    STATIC_TOKEN,
    USERNAME,
    VENVS_DIR,
    WORK_DIR,
    main_python,
    tap_executable,
    write_json,
)

#: Pacing that never binds, for CPU measurements at zero latency.
UNLIMITED_PACING: dict[str, int] = {
    "requests_per_minute": 1_000_000,
    "requests_per_hour": 1_000_000_000,
}


@cache
def tap_setting_schemas() -> dict[str, dict[str, Any]]:
    """Setting name -> JSON schema (with its default), as the installed tap declares them."""
    about = subprocess.run(
        [tap_executable(), "--about", "--format", "json"],
        capture_output=True,
        check=True,
        text=True,
    )
    properties: dict[str, dict[str, Any]] = json.loads(about.stdout)["settings"]["properties"]
    return properties


def tap_settings() -> frozenset[str]:
    """Setting names the installed tap declares."""
    return frozenset(tap_setting_schemas())


def default_interval_ms() -> float | None:
    """The tap's default ``min_request_interval_ms`` (None if it has no such setting)."""
    default = tap_setting_schemas().get("min_request_interval_ms", {}).get("default")
    return float(default) if default is not None else None


def unlimited_pacing() -> dict[str, int]:
    """UNLIMITED_PACING, plus ``min_request_interval_ms: 0`` when the tap has that setting."""
    settings = dict(UNLIMITED_PACING)
    if "min_request_interval_ms" in tap_settings():
        settings["min_request_interval_ms"] = 0
    return settings


@dataclass
class Invocation:
    """A command and its environment."""

    argv: list[str]
    env: dict[str, str] | None = None


@dataclass
class Client:
    """Something that extracts the jobs; ``available`` False says why in ``note``."""

    name: str
    available: bool = True
    note: str = ""
    version: str = ""
    #: Extra settings merged into our tap's config (ignored by the others).
    settings: dict[str, Any] = field(default_factory=dict)

    def invocation(
        self, api_url: str, page_size: int, folder: Path, state: dict[str, Any] | None
    ) -> Invocation:
        """The command for one run."""
        raise NotImplementedError

    @property
    def incremental_capable(self) -> bool:
        """Whether a second run can start from the first one's state."""
        return True


class OurTap(Client):
    """``tap-nexudus-jobs --config ... [--state ...]``."""

    def __init__(
        self,
        name: str = "tap-nexudus-jobs",
        *,
        password_grant: bool = False,
        settings: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(name, settings=dict(settings or {}))
        self.password_grant = password_grant

    def invocation(
        self, api_url: str, page_size: int, folder: Path, state: dict[str, Any] | None
    ) -> Invocation:
        """Config (and state) files in ``folder``."""
        auth: dict[str, Any] = (
            {"username": USERNAME, "password": PASSWORD}
            if self.password_grant
            else {"access_token": STATIC_TOKEN}
        )
        config = {"api_url": api_url, **auth, "page_size": page_size, **self.settings}
        argv = [tap_executable(), "--config", str(write_json(folder / "config.json", config))]
        if state is not None:
            argv += ["--state", str(write_json(folder / "state.json", state))]
        return Invocation(argv)


class Baseline(Client):
    """``baseline.py``: requests + json.dumps, nothing else."""

    def __init__(self) -> None:
        super().__init__("baseline (requests + json)")

    def invocation(
        self, api_url: str, page_size: int, folder: Path, state: dict[str, Any] | None
    ) -> Invocation:
        """No config file: flags."""
        return Invocation(
            [
                main_python(),
                str(BENCH_DIR / "baseline.py"),
                "--api-url",
                api_url,
                "--page-size",
                str(page_size),
            ]
        )

    @property
    def incremental_capable(self) -> bool:
        """The baseline has no state."""
        return False


def fill_template(path: Path, api_url: str, page_size: int) -> dict[str, Any]:
    """A peer config with ``__API_URL__``, ``__ACCESS_TOKEN__``, ``"__PAGE_SIZE__"`` filled."""
    text = path.read_text(encoding="utf-8")
    text = text.replace('"__PAGE_SIZE__"', str(page_size))
    text = text.replace("__API_URL__", api_url).replace("__ACCESS_TOKEN__", STATIC_TOKEN)
    config: dict[str, Any] = json.loads(text)
    return config


class RestApiMsdk(Client):
    """tap-rest-api-msdk with ``peers/tap-rest-api-msdk.json``."""

    def __init__(self, venv: Path, version: str) -> None:
        super().__init__("tap-rest-api-msdk", version=version)
        self.venv = venv

    def invocation(
        self, api_url: str, page_size: int, folder: Path, state: dict[str, Any] | None
    ) -> Invocation:
        """Config from the template; state as Singer state."""
        config = fill_template(PEERS_DIR / "tap-rest-api-msdk.json", api_url, page_size)
        executable = str(self.venv / "bin" / "tap-rest-api-msdk")
        argv = [executable, "--config", str(write_json(folder / "config.json", config))]
        if state is not None:
            argv += ["--state", str(write_json(folder / "state.json", state))]
        return Invocation(argv)


class DltRestApi(Client):
    """dlt's rest_api source via ``peers/dlt_rest_api.py``; state lives in the folder."""

    def __init__(self, venv: Path, version: str, *, mode: str = "extract") -> None:
        label = "dlt rest_api" if mode == "extract" else "dlt rest_api (run -> duckdb)"
        super().__init__(label, version=version)
        self.venv = venv
        self.mode = mode
        #: "records" prints every record (lost-record checks); "none" only a count.
        self.emit = "records"

    def invocation(
        self, api_url: str, page_size: int, folder: Path, state: dict[str, Any] | None
    ) -> Invocation:
        """The pipeline's own folder keeps the incremental state between runs."""
        pipelines = folder / "dlt-pipelines"
        pipelines.mkdir(parents=True, exist_ok=True)
        argv = [
            str(self.venv / "bin" / "python"),
            str(PEERS_DIR / "dlt_rest_api.py"),
            "--config",
            str(PEERS_DIR / "dlt_rest_api.json"),
            "--api-url",
            api_url,
            "--page-size",
            str(page_size),
            "--pipelines-dir",
            str(pipelines),
            "--mode",
            self.mode,
            "--emit",
            self.emit,
        ]
        env = {
            **os.environ,
            "DLT_DATA_DIR": str(folder / "dlt-data"),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "RUNTIME__LOG_LEVEL": "WARNING",
        }
        return Invocation(argv, env)


# -- peer venvs ----------------------------------------------------------------------------

PEER_PACKAGES: dict[str, tuple[str, list[str]]] = {
    # venv name -> (pip requirement, distributions whose versions are reported)
    "tap-rest-api-msdk": ("tap-rest-api-msdk", ["tap-rest-api-msdk", "singer-sdk"]),
    "dlt": ("dlt[duckdb]", ["dlt", "duckdb"]),
}


@dataclass
class PeerVenv:
    """An installed (or not) peer venv."""

    name: str
    path: Path
    ok: bool
    versions: dict[str, str]
    note: str = ""

    @property
    def version_text(self) -> str:
        """e.g. ``dlt 1.31.0, duckdb 2.0.1``."""
        return ", ".join(f"{k} {v}" for k, v in self.versions.items())


def ensure_peer(name: str, *, install: bool, reinstall: bool = False) -> PeerVenv:
    """The peer's venv, created and installed from PyPI if missing and ``install``."""
    requirement, distributions = PEER_PACKAGES[name]
    venv = VENVS_DIR / name
    marker = venv / "bench-installed.json"
    if reinstall and venv.exists():
        subprocess.run(["rm", "-rf", str(venv)], check=True)
    if not marker.exists():
        if not install:
            return PeerVenv(
                name, venv, False, {}, "not installed (`peers --install 1` installs it)"
            )
        log = WORK_DIR / "logs" / f"install-{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        print(f"  installing {requirement} into {venv.relative_to(BENCH_DIR.parent)} ...")
        with log.open("w") as out:
            steps = [
                [main_python(), "-m", "venv", "--clear", str(venv)],
                [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", requirement],
            ]
            for step in steps:
                done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=False)
                if done.returncode != 0:
                    return PeerVenv(name, venv, False, {}, f"pip install failed (see {log})")
        probe = subprocess.run(
            [
                str(venv / "bin" / "python"),
                "-c",
                "import importlib.metadata as m, json, sys; "
                "print(json.dumps({d: m.version(d) for d in sys.argv[1:]}))",
                *distributions,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode != 0:
            return PeerVenv(name, venv, False, {}, "installed but its versions cannot be read")
        marker.write_text(probe.stdout, encoding="utf-8")
    versions: dict[str, str] = json.loads(marker.read_text(encoding="utf-8"))
    return PeerVenv(name, venv, True, versions)
