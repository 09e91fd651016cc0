"""The README: its settings table is the tap's own --about output, its sections come in the
order a new user needs them, and its commands and code map are ones that work."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_settings_table_matches_about() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme_settings.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def headings(level: int) -> list[str]:
    lines, in_code = [], False
    for line in README.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#" * level + " "):
            lines.append(line[level + 1 :])
    return lines


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    following = README.find("\n## ", start + 1)
    return README[start : following if following != -1 else len(README)]


def test_usage_comes_first_and_internals_last() -> None:
    order = [
        "Quick start",
        "Use it in your own Meltano project",
        "Settings",
        "Loading into warehouses",
        "The table analysts get",
        "Troubleshooting",
        "More",
    ]
    found = headings(2)
    assert found == order
    # Using the tap elsewhere comes right after the quick start.
    assert found.index("Use it in your own Meltano project") == found.index("Quick start") + 1


def test_the_own_project_section_is_short_and_says_what_a_new_user_needs() -> None:
    text = section("Use it in your own Meltano project")
    assert len(text.strip().splitlines()) <= 50
    for needed in [
        "pipx install",
        "meltano init",
        "meltano add --from-ref",
        "NEXUDUS_TAP_PIP_URL=",
        "http://127.0.0.1:8765",
        "https://spaces.nexudus.com",
        "meltano config test",
        "access_token",
        "TAP_NEXUDUS_JOBS_ACCESS_TOKEN",
        "grant_type=password",
        "BusinessBackgroundJob-List",
        "BusinessBackgroundJob-Read",
        "plugins/loaders/target-duckdb.yml",
        "nexudus.nexudus.business_background_jobs",
    ]:
        assert needed in text, needed
    # Nothing for the user to edit with sed, and no placeholder owner.
    assert "sed " not in text and "OWNER" not in text


def bash_lines() -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", README, flags=re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_every_meltano_config_set_gives_a_value() -> None:
    # `meltano config set PLUGIN NAME` without a value crashes Meltano 4.4.1.
    for line in bash_lines():
        if line.startswith("meltano config set"):
            words = line.split("#")[0].split()
            assert len(words) >= 6, f"no value: {line}"


def test_every_meltano_add_names_the_plugin_last() -> None:
    for line in bash_lines():
        if line.startswith("meltano add"):
            words = line.split("#")[0].split()
            assert words[-1] != "extractor", line  # that adds a utility named "extractor"
            if "--from-ref" in words and words[-1] == "tap-nexudus-jobs":
                # pip_url is ${NEXUDUS_TAP_PIP_URL}: set before `meltano add` installs.
                assert "NEXUDUS_TAP_PIP_URL=" in README[: README.index(line)], line


def test_the_sandbox_alone_and_sample_config_are_documented() -> None:
    text = section("Quick start")
    for needed in [
        "python -m nexudus_sandbox",
        "http://127.0.0.1:8765",
        "sandbox-token",
        "demo@example.com",
        "demo-password",
        "tap-nexudus-jobs --config sample_config.json",
        "--help",
    ]:
        assert needed in text, needed


def test_the_readme_is_for_users_and_internals_live_in_docs() -> None:
    assert len(README.splitlines()) <= 460
    for doc in ("how-the-tap-reads-nexudus", "warehouses", "running-at-scale", "development"):
        assert f"(docs/{doc}.md" in README, doc
        assert (ROOT / "docs" / f"{doc}.md").is_file(), doc


def test_the_troubleshooting_section_covers_every_kind_of_error_line() -> None:
    text = section("Troubleshooting")
    for line in [
        "is not an ISO 8601 date-time",
        "Unknown setting",
        "State key",
        "is later than every job Nexudus lists",
        "POST /api/token failed",
        "BusinessBackgroundJob-List role",
        "Could not reach Nexudus",
        "Nexudus ignored to_BusinessBackgroundJob_UpdatedOn",
        "Stopping cleanly",
        "retrying in",
    ]:
        assert line in text, line


CODE_MAP = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")


def test_the_code_map_names_files_that_exist() -> None:
    text = CODE_MAP[CODE_MAP.index("## Code map") :]
    paths = re.findall(
        r"`((?:tap_nexudus_jobs|sandbox|tests|scripts|plugins|transform)[\w/.\-]*)`", text
    )
    assert len(paths) > 20
    for path in paths:
        assert (ROOT / path).exists(), path


def test_the_code_map_names_every_module_of_the_package() -> None:
    text = CODE_MAP[CODE_MAP.index("## Code map") :]
    packages = [ROOT / "tap_nexudus_jobs", ROOT / "sandbox" / "nexudus_sandbox"]
    for module in sorted(m for package in packages for m in package.rglob("*.py")):
        if module.name in {"__init__.py", "__main__.py"}:
            continue
        relative = module.relative_to(ROOT).as_posix()
        named = (
            f"`{relative}`" in text or f"`{module.parent.relative_to(ROOT).as_posix()}/`" in text
        )
        assert named, f"{relative} is not in the code map (docs/development.md)"


def test_jsonl_appending_is_said_where_a_new_user_looks() -> None:
    # target-jsonl appends a line per emitted job version (495 lines for 418 Ids after four
    # runs): the own-project section points there, and the section says so.
    assert "(#json-lines)" in section("Use it in your own Meltano project")
    warehouses = section("Loading into warehouses")
    jsonl = warehouses[warehouses.index("### JSON lines") : warehouses.index("### DuckDB")]
    assert "appends" in jsonl
    assert "one line per version" in jsonl


def pip_url_guard(text: str) -> str:
    (line,) = [line for line in text.splitlines() if "NEXUDUS_TAP_PIP_URL:-" in line]
    return line.lstrip("# ")


def test_the_own_project_steps_stop_on_an_unset_pip_url_before_meltano_does(
    tmp_path: Path,
) -> None:
    """Unset, `meltano install` printed only uv's usage text; the guard line names it."""
    definition = (ROOT / "plugins" / "extractors" / "tap-nexudus-jobs.yml").read_text()
    guard = pip_url_guard(section("Use it in your own Meltano project"))
    assert guard == pip_url_guard(definition)
    env = {"PATH": "/usr/bin:/bin"}

    def run(dotenv: str | None, **variables: str) -> subprocess.CompletedProcess[str]:
        if dotenv is not None:
            (tmp_path / ".env").write_text(dotenv)
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", guard],
            cwd=tmp_path,
            env={**env, **variables},
            capture_output=True,
            text=True,
            check=False,
        )

    for missing in [run(None), run("OTHER=1\n"), run("NEXUDUS_TAP_PIP_URL=\n")]:
        assert missing.returncode != 0
        assert missing.stderr.strip() == "set NEXUDUS_TAP_PIP_URL in .env first"
    assert run("NEXUDUS_TAP_PIP_URL=/src/tap-nexudus-jobs\n").returncode == 0
    (tmp_path / ".env").unlink()
    assert run(None, NEXUDUS_TAP_PIP_URL="tap-nexudus-jobs==0.1.0").returncode == 0


def test_transform_readme_runs_no_duckdb_command_that_is_not_there() -> None:
    transform = (ROOT / "transform" / "README.md").read_text(encoding="utf-8")
    assert not re.search(r"`duckdb \S", transform)
