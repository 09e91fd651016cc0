"""The release as a user installs it: the built sdist and wheel, not this checkout.

Every other test imports the tap from the checkout (an editable install), so none of them
would see a wheel that misses a module, ships the emulator, or refuses a Python. Here the
sdist and wheel are built once per test process (`python -m build` without isolation, with
the dev extra's hatchling: no download), the wheel is checked like the package index would
(`twine check --strict`), installed into a fresh venv (uv, from its cache when warm) and run
there against the sandbox; and its runtime requirements are resolved for the newest CPython
from wheels alone, so a dependency that drops that Python fails here, not on a user's
machine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import typing as t
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from nexudus_sandbox import NexudusSandbox
from tests.conftest import SANDBOX_TOKEN
from tests.meltano_runs import ROOT

pytestmark = pytest.mark.release

# The one place the version is written (tomllib is not in 3.10, which collects this module).
_VERSION_LINE = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
assert _VERSION_LINE
VERSION = _VERSION_LINE.group(1)
#: The newest CPython, which the classifiers may not list yet (nothing here runs it): its
#: wheels must exist for every runtime requirement, or `pip install` on it builds from
#: source or fails deep in a dependency.
NEWEST_CPYTHON = "3.14"
TIMEOUT_S = 600


def run(*argv: str | Path, cwd: Path = ROOT, timeout: float = TIMEOUT_S) -> t.Any:
    return subprocess.run(
        [str(arg) for arg in argv],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def checked(*argv: str | Path, cwd: Path = ROOT) -> str:
    completed = run(*argv, cwd=cwd)
    assert completed.returncode == 0, (completed.stdout + completed.stderr)[-3000:]
    return t.cast("str", completed.stdout)


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist, and the wheel built from it, as `make release` builds them."""
    out = tmp_path_factory.mktemp("dist")
    checked(sys.executable, "-m", "build", "--no-isolation", "--outdir", out, ROOT)
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (found,) = dist.glob("*.whl")
    return found


def wheel_metadata(wheel: Path) -> t.Any:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(name).decode("utf-8"))


def test_the_wheel_carries_only_the_tap_and_admits_every_newer_python(wheel: Path) -> None:
    assert wheel.name == f"tap_nexudus_jobs-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        modules = [n for n in archive.namelist() if n.endswith(".py")]
    assert modules
    assert all(m.startswith("tap_nexudus_jobs/") for m in modules), modules
    assert not [m for m in modules if "sandbox" in m], "the emulator is in the tap's wheel"
    metadata = wheel_metadata(wheel)
    # A lower bound only: pip on any newer Python installs it (3.14 was refused).
    assert metadata["Requires-Python"] == ">=3.10"
    assert metadata["Version"] == VERSION


def test_the_sdist_holds_what_the_wheel_is_built_from_and_no_emulator(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    assert sdist.name == f"tap_nexudus_jobs-{VERSION}.tar.gz"
    listing = checked("tar", "-tzf", sdist).split()
    inside = {name.split("/", 1)[1] for name in listing if "/" in name}
    assert {"pyproject.toml", "README.md", "CHANGELOG.md", "tap_nexudus_jobs/tap.py"} <= inside
    assert not [name for name in inside if name.startswith(("sandbox/", "tests/"))]


def test_twine_accepts_the_metadata(dist: Path) -> None:
    output = checked(sys.executable, "-m", "twine", "check", "--strict", *dist.iterdir())
    assert output.count("PASSED") == 2, output


def test_the_changelog_starts_with_this_release() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    first = re.search(r"^## \[?([^\]\s]+)\]?", changelog, flags=re.M)
    assert first, "CHANGELOG.md has no release heading"
    assert first.group(1) == VERSION


def test_the_runtime_requirements_resolve_for_the_newest_cpython_from_wheels(
    wheel: Path, tmp_path: Path
) -> None:
    report = tmp_path / "report.json"
    completed = run(
        *pip_for_python(NEWEST_CPYTHON, tmp_path),
        "--report",
        report,
        wheel,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    resolved = {i["metadata"]["name"].lower() for i in json.loads(report.read_text())["install"]}
    assert {"tap-nexudus-jobs", "singer-sdk", "msgspec", "pendulum", "rpds-py"} <= resolved


def test_an_unsupported_python_gets_pips_own_refusal(wheel: Path, tmp_path: Path) -> None:
    completed = run(*pip_for_python("3.9", tmp_path), wheel)
    assert completed.returncode != 0
    assert "requires a different Python: 3.9.0 not in '>=3.10'" in completed.stderr


def pip_for_python(version: str, tmp_path: Path) -> list[str | Path]:
    """`pip install` resolving (not installing) for CPython `version`, binary wheels only."""
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--dry-run",
        "--ignore-installed",
        "--quiet",
        "--only-binary=:all:",
        "--implementation=cp",
        f"--python-version={version}",
        "--target",
        tmp_path / "target",
    ]


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with only the built wheel and its requirements: no checkout, no sandbox."""
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    uv = Path(sys.executable).with_name("uv")
    checked(uv, "venv", "--quiet", "--python", sys.executable, venv)
    checked(uv, "pip", "install", "--quiet", "--python", venv / "bin" / "python", wheel)
    return venv


def test_the_installed_wheel_runs_about_test_and_a_sync(fresh_venv: Path, tmp_path: Path) -> None:
    python, tap = fresh_venv / "bin" / "python", fresh_venv / "bin" / "tap-nexudus-jobs"
    # Imported from the venv, not from a checkout; and the emulator is not there.
    where = checked(
        python, "-c", "import tap_nexudus_jobs; print(tap_nexudus_jobs.__file__)", cwd=tmp_path
    )
    assert where.startswith(str(fresh_venv)), where
    assert run(python, "-c", "import nexudus_sandbox", cwd=tmp_path).returncode != 0

    about = json.loads(checked(tap, "--about", "--format=json", cwd=tmp_path))
    assert about["version"] == VERSION
    assert about["supported_python_versions"][0] == "3.10"

    with NexudusSandbox(records=40, seed=3) as sandbox:
        config = tmp_path / "config.json"
        config.write_text(json.dumps({"api_url": sandbox.url, "access_token": SANDBOX_TOKEN}))
        tested = run(tap, "--config", config, "--test", cwd=tmp_path)
        assert tested.returncode == 0, tested.stderr[-3000:]
        synced = run(tap, "--config", config, cwd=tmp_path)
        assert synced.returncode == 0, synced.stderr[-3000:]
        served = sandbox.served_ids()
    messages = [json.loads(line) for line in synced.stdout.splitlines() if line.strip()]
    ids = [m["record"]["Id"] for m in messages if m["type"] == "RECORD"]
    assert sorted(ids) == sorted(served)
    assert messages[-1]["type"] == "STATE"
