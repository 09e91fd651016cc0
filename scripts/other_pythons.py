"""Run the unit tests on the lowest and highest supported CPython this machine has.

    python3 scripts/other_pythons.py [--workers N]   # the last step of `make test`

The candidates are the `Programming Language :: Python :: 3.X` classifiers of pyproject.toml
(the versions the project says are tested) and the next few newer ones (Requires-Python has
no upper bound, so a newer CPython on this machine is tested too and reported as not yet in
the classifiers). Interpreters are looked for as `python3.X` on PATH and under pyenv
(`$PYENV_ROOT/versions/3.X.*`, default `~/.pyenv`). The lowest and the highest found each
get a virtualenv of their own, `.venv-py3.X` (dev dependencies and the sandbox, no Meltano;
rebuilt when pyproject.toml or sandbox/pyproject.toml changes), and run pytest without the
Meltano, dbt and release tests (`-m "not meltano and not dbt and not release"`: none depends
on the tap's Python; the release tests build and install the wheel themselves), on N pytest-xdist
workers (`--workers`, default 1; `make` passes its PYTEST_WORKERS).
A version that is `.venv`'s own is already tested by `make pytest` and is not run again.
On a machine with neither, it says so and exits 0: those versions are then not tested
here, which is not a failure of the code.

Standard library only, so that any `python3` can run it.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = ROOT / "pyproject.toml"
SANDBOX = ROOT / "sandbox"
#: Newer minor versions than the highest classifier that are looked for too.
NEWER_LOOKED_FOR = 3
MAIN_VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def supported_versions() -> list[str]:
    """`3.X` of every Python classifier, lowest first."""
    found = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', PYPROJECT.read_text())
    return sorted(set(found), key=minor)


def minor(version: str) -> int:
    """X of `3.X`."""
    return int(version.split(".")[1])


def candidate_versions(supported: list[str]) -> list[str]:
    """The classifiers' versions and the next NEWER_LOOKED_FOR ones, lowest first."""
    newest = minor(supported[-1])
    newer = [f"3.{x}" for x in range(newest + 1, newest + 1 + NEWER_LOOKED_FOR)]
    return [*supported, *newer]


def version_of(python: Path) -> str | None:
    """`3.X` of an interpreter, or None if it does not run."""
    try:
        completed = subprocess.run(  # noqa: S603 - an interpreter we found, fixed argv
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except OSError:
        return None
    return completed.stdout.strip() or None


def find_interpreter(version: str) -> Path | None:
    """A CPython `version` on PATH or under pyenv (the newest patch release)."""
    on_path = shutil.which(f"python{version}")
    candidates = [Path(on_path)] if on_path else []
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    patches = sorted(
        pyenv.glob(f"{version}.*"),
        key=lambda p: [int(part) for part in re.findall(r"\d+", p.name)],
        reverse=True,
    )
    candidates += [
        p / "bin" / f"python{version}" for p in patches if p.name[len(version) + 1 :].isdigit()
    ]
    for candidate in candidates:
        if candidate.is_file() and version_of(candidate) == version:
            return candidate
    return None


def ensure_venv(version: str, python: Path) -> Path:
    """`.venv-py3.X` with the dev dependencies and the sandbox; reinstalled on a change."""
    venv = ROOT / f".venv-py{version}"
    stamp = venv / ".tap-nexudus-jobs.installed"
    inputs = PYPROJECT.read_bytes() + (SANDBOX / "pyproject.toml").read_bytes()
    wanted = hashlib.sha256(inputs).hexdigest()
    if stamp.is_file() and stamp.read_text().strip() == wanted:
        return venv
    if not (venv / "bin" / "python").is_file():
        print(f"Creating {venv.name} with {python}", flush=True)
        subprocess.run([str(python), "-m", "venv", str(venv)], check=True)  # noqa: S603
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)  # noqa: S603 - fixed argv
    subprocess.run([*pip, "-e", f"{ROOT}[dev]", "-e", str(SANDBOX)], check=True, cwd=ROOT)  # noqa: S603
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "check"], check=True)  # noqa: S603
    stamp.write_text(wanted + "\n")
    return venv


def main(argv: list[str]) -> int:
    """Run the unit tests on each chosen version; non-zero if any run fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1, help="pytest-xdist workers per run")
    workers = parser.parse_args(argv).workers
    supported = candidate_versions(supported_versions())
    found = {v: p for v in supported if (p := find_interpreter(v)) is not None}
    main_version = version_of(MAIN_VENV_PYTHON) if MAIN_VENV_PYTHON.is_file() else None
    tested = supported_versions()
    print(f"== Other Pythons: classifiers {', '.join(tested)}; found {', '.join(found) or 'none'}")
    if not found:
        print("   none of them is installed here: skipped (not tested on other versions)")
        return 0
    chosen = sorted(
        {min(found, key=supported.index), max(found, key=supported.index)}, key=supported.index
    )
    failures = []
    for version in chosen:
        if version == main_version:
            print(f"== Python {version}: .venv's own, already tested by `make pytest`")
            continue
        venv = ensure_venv(version, found[version])
        print(f"== Python {version} ({found[version]}): unit tests in {venv.name}", flush=True)
        if version not in tested:
            print(f"   {version} is not in pyproject.toml's classifiers: add it once this passes")
        completed = subprocess.run(  # noqa: S603 - fixed argv
            [
                str(venv / "bin" / "python"),
                "-m",
                "pytest",
                "-m",
                "not meltano and not dbt and not release",
                "-q",
                "-p",
                "no:cacheprovider",
                "-n",
                str(workers),
                "--dist",
                "worksteal",
            ],
            cwd=ROOT,
            check=False,
        )
        print(f"== Python {version}: {'passed' if completed.returncode == 0 else 'FAILED'}")
        if completed.returncode != 0:
            failures.append(version)
    ran = [v for v in chosen if v != main_version]
    if not ran:
        print("== Other Pythons: none installed here besides .venv's: skipped, not tested")
        return 0
    summary = f"== Other Pythons: ran {', '.join(ran)}"
    print(summary + (f"; FAILED on {', '.join(failures)}" if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
