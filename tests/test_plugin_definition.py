"""The three descriptions of the extractor agree: the tap itself, meltano.yml and the
standalone plugin definition (plugins/extractors/tap-nexudus-jobs.yml, for
`meltano add --from-ref`).

The tap's `--about --format=json` is the truth: every setting it accepts must be declared in
both files (none missing, none extra), with a Meltano `kind` that matches its JSON type,
`sensitive: true` exactly where the tap marks the setting secret, and any `value` equal to the
tap's default. The two files must also agree with each other on capabilities and
settings_group_validation, and `meltano add --from-ref` must accept the definition file.
The definition carries what Meltano Hub expects of an extractor, and the loader
definitions under plugins/loaders/ match this project's loaders, pins included.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing as t
from importlib.metadata import entry_points, metadata
from pathlib import Path

import pytest
import yaml

from tests.meltano_runs import ROOT, find_meltano, meltano_command

EXTRACTOR = "tap-nexudus-jobs"
DEFINITION_FILE = ROOT / "plugins" / "extractors" / f"{EXTRACTOR}.yml"
SECRET_SETTINGS = {"access_token", "password", "totp"}
# Meltano Hub's extractor schema (common + extractors_specific): required keys and the
# capabilities it knows.
HUB_REQUIRED = ["name", "namespace", "variant", "label"]
HUB_CAPABILITIES = {
    "properties",
    "catalog",
    "discover",
    "state",
    "about",
    "stream-maps",
    "schema-flattening",
    "activate-version",
    "batch",
    "test",
    "log-based",
    "structured-logging",
}
LOADERS = ["target-duckdb", "target-jsonl", "target-postgres"]
AUTH_GROUPS = [["access_token"], ["username", "password"]]

Setting = dict[str, t.Any]


def load_yaml(path: Path) -> dict[str, t.Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


@pytest.fixture(scope="module")
def about() -> dict[str, t.Any]:
    """`tap-nexudus-jobs --about --format=json`, from the installed entry point's module."""
    completed = subprocess.run(
        [sys.executable, "-m", "tap_nexudus_jobs", "--about", "--format=json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return t.cast("dict[str, t.Any]", json.loads(completed.stdout))


@pytest.fixture(scope="module")
def tap_settings(about: dict[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    return t.cast("dict[str, dict[str, t.Any]]", about["settings"]["properties"])


@pytest.fixture(scope="module")
def definition() -> dict[str, t.Any]:
    return load_yaml(DEFINITION_FILE)


@pytest.fixture(scope="module")
def project_extractor() -> dict[str, t.Any]:
    project = load_yaml(ROOT / "meltano.yml")
    matches = [p for p in project["plugins"]["extractors"] if p["name"] == EXTRACTOR]
    assert len(matches) == 1, f"meltano.yml declares {len(matches)} {EXTRACTOR} extractors"
    return t.cast("dict[str, t.Any]", matches[0])


@pytest.fixture(scope="module", params=["definition file", "meltano.yml"])
def declared(
    request: pytest.FixtureRequest,
    definition: dict[str, t.Any],
    project_extractor: dict[str, t.Any],
) -> dict[str, t.Any]:
    return definition if request.param == "definition file" else project_extractor


def settings_by_name(plugin: dict[str, t.Any]) -> dict[str, Setting]:
    names = [s["name"] for s in plugin["settings"]]
    duplicates = {n for n in names if names.count(n) > 1}
    assert not duplicates, f"settings declared twice: {sorted(duplicates)}"
    return {s["name"]: s for s in plugin["settings"]}


def expected_kind(schema: dict[str, t.Any]) -> str:
    """Every setting is `kind: string`: the one kind Meltano passes to the tap as typed.

    Meltano rewrites the others before the tap sees them (date_iso8601 turns `yesterday`
    into a date, boolean turns any unknown word into false, integer, array and object
    end in a Meltano traceback for a bad value); the tap parses text by its own types.
    """
    return "string"


def test_every_tap_setting_declared_and_no_other(declared, tap_settings):
    names = set(settings_by_name(declared))
    missing = sorted(set(tap_settings) - names)
    extra = sorted(names - set(tap_settings))
    assert not missing, f"settings the tap accepts but the file does not declare: {missing}"
    assert not extra, f"settings declared that the tap does not know: {extra}"


def test_sensitive_exactly_where_the_tap_marks_secrets(declared, tap_settings):
    sensitive = {n for n, s in settings_by_name(declared).items() if s.get("sensitive") is True}
    secret = {name for name, schema in tap_settings.items() if schema.get("secret")}
    assert sensitive == secret
    assert secret >= SECRET_SETTINGS
    for name, setting in settings_by_name(declared).items():
        assert setting.get("sensitive", False) in (True, False), name
        assert "value" not in setting or name not in secret, f"a value for secret {name}"


def test_kinds_match_the_tap_types(declared, tap_settings):
    for name, setting in settings_by_name(declared).items():
        assert setting.get("kind") == expected_kind(tap_settings[name]), name


def test_values_are_the_tap_defaults(declared, tap_settings):
    for name, setting in settings_by_name(declared).items():
        if "value" in setting:
            assert setting["value"] == tap_settings[name].get("default"), name


def test_every_setting_has_label_and_description(declared):
    for name, setting in settings_by_name(declared).items():
        assert str(setting.get("label") or "").strip(), f"{name} has no label"
        assert str(setting.get("description") or "").strip(), f"{name} has no description"


def test_capabilities_and_auth_groups(declared, about):
    # Every capability the tap declares, in its order: left out, Meltano does not use it
    # (structured-logging: the tap's log levels; activate-version: full-table versions).
    assert declared["capabilities"] == about["capabilities"]
    assert declared["settings_group_validation"] == AUTH_GROUPS
    assert declared["namespace"] == "tap_nexudus_jobs"
    assert declared["executable"] == EXTRACTOR


def test_definition_file_and_meltano_yml_agree(definition, project_extractor):
    ours, theirs = settings_by_name(definition), settings_by_name(project_extractor)
    assert list(ours) == list(theirs), "settings differ (or are in a different order)"
    for name in ours:
        for key in ("kind", "sensitive", "value", "label"):
            assert ours[name].get(key) == theirs[name].get(key), f"{name}.{key}"
    for key in ("capabilities", "settings_group_validation", "namespace", "executable"):
        assert definition[key] == project_extractor[key], key


def test_definition_file_hub_metadata(definition, about):
    assert definition["name"] == EXTRACTOR
    # Not published anywhere: the user names the source (README "own project"), no sed step.
    assert definition["pip_url"] == "${NEXUDUS_TAP_PIP_URL}"
    for key in ["name", "namespace", "label", "description", "keywords", "domain_url"]:
        assert definition.get(key), f"definition file has no {key}"
    # No placeholder owner, and no repo/docs link to a page that does not exist: Meltano
    # prints them on `meltano add` ("Variant: OWNER (default)", a dead GitHub link).
    assert not {"variant", "repo", "docs"} & set(definition)
    assert "OWNER" not in DEFINITION_FILE.read_text(encoding="utf-8")
    assert set(definition["capabilities"]) <= HUB_CAPABILITIES
    assert definition["maintenance_status"] in {"active", "beta", "development", "inactive"}
    scripts = {e.name for e in entry_points(group="console_scripts")}
    assert definition["executable"] in scripts, "executable is not an installed console script"


def test_supported_python_versions_are_the_tested_ones(definition, about):
    installed = metadata("tap-nexudus-jobs")  # pyproject.toml, as `make venv` installed it
    classifiers = [
        c.rsplit("::", 1)[-1].strip()
        for c in installed.get_all("Classifier") or []
        if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert definition["supported_python_versions"] == classifiers
    assert about["supported_python_versions"] == classifiers
    # The classifiers are the tested versions; Requires-Python only has the lower bound, so
    # that a newer Python (3.14 was refused) installs the tap (issue 21).
    assert installed["Requires-Python"] == f">={classifiers[0]}"


def test_the_header_commands_name_the_source_then_add_the_extractor():
    header = [
        line.lstrip("# ")
        for line in DEFINITION_FILE.read_text(encoding="utf-8").splitlines()
        if line.startswith("#")
    ]
    commands = [line for line in header if line.startswith("meltano add")]
    assert commands, "the header shows no meltano add command"
    for command in commands:
        words = command.split()
        assert words[-1] == EXTRACTOR, f"the plugin name must come last: {command}"
        assert "extractor" not in words[2:-1], command
    # pip_url's variable is set (in .env) before `meltano add` installs the tap.
    first_add = next(i for i, line in enumerate(header) if line.startswith("meltano add"))
    assert any("NEXUDUS_TAP_PIP_URL=" in line for line in header[:first_add])


@pytest.mark.meltano
def test_every_kind_is_one_meltano_passes_on_as_typed(declared):
    """Meltano's own casting leaves each declared kind's text as the user typed it."""
    from meltano.core.setting_definition import SettingDefinition

    typed = ["yesterday", "2024-13-01", "01/02/2024", "many", "maybe", "[1,", "{bad", "0x10"]
    for name, setting in settings_by_name(declared).items():
        definition = SettingDefinition(name=name, kind=setting["kind"])
        for text in typed:
            assert definition.cast_value(text) == text, f"{name}: {text!r} is rewritten"
            assert definition.post_process_value(text) == text, f"{name}: {text!r}"


@pytest.mark.parametrize("loader", LOADERS)
def test_loader_definitions_match_this_projects_loaders(loader):
    standalone = load_yaml(ROOT / "plugins" / "loaders" / f"{loader}.yml")
    project = load_yaml(ROOT / "meltano.yml")
    (ours,) = [p for p in project["plugins"]["loaders"] if p["name"] == loader]
    for key in ("name", "namespace", "pip_url", "executable"):
        assert standalone[key] == ours[key], key
    for key in [*HUB_REQUIRED, "description", "repo", "docs"]:
        assert standalone.get(key), f"{loader}.yml has no {key}"
    kinds = {s["name"]: s["kind"] for s in standalone["settings"]}
    assert kinds == {s["name"]: s["kind"] for s in ours["settings"]}
    if loader == "target-duckdb":
        # duckdb>=1.3 makes target-duckdb 0.8.0 drop the first row of every batch.
        assert "duckdb==1.2.2" in standalone["pip_url"].split()


@pytest.mark.meltano
def test_meltano_add_from_ref_accepts_the_definition(tmp_path: Path):
    """`meltano add --from-ref` in a scratch project gives an extractor with these settings."""
    meltano = find_meltano()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TAP_NEXUDUS_", "MELTANO_"))}
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    project = tmp_path / "scratch"

    def meltano_cmd(*args: str, cwd: Path) -> str:
        completed = meltano_command(meltano, *args, cwd=cwd, env=env, timeout=180)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        return completed.stdout + completed.stderr

    meltano_cmd("init", str(project), cwd=tmp_path)
    output = meltano_cmd(
        "add", "--from-ref", str(DEFINITION_FILE), EXTRACTOR, "--no-install", cwd=project
    )
    assert f"Added extractor '{EXTRACTOR}'" in output
    added = load_yaml(project / "meltano.yml")["plugins"]
    assert set(added) == {"extractors"}, f"meltano add created {sorted(added)}"
    (plugin,) = added["extractors"]
    assert list(settings_by_name(plugin)) == list(settings_by_name(load_yaml(DEFINITION_FILE)))
    listed = meltano_cmd("config", "list", EXTRACTOR, cwd=project)
    assert "TAP_NEXUDUS_JOBS_ACCESS_TOKEN" in listed


UTILITIES = ["dbt-duckdb", "dbt-postgres"]


@pytest.mark.parametrize("utility", UTILITIES)
def test_dbt_utility_definitions_are_this_projects_utilities(utility):
    standalone = load_yaml(ROOT / "plugins" / "utilities" / f"{utility}.yml")
    project = load_yaml(ROOT / "meltano.yml")
    (ours,) = [p for p in project["plugins"]["utilities"] if p["name"] == utility]
    # meltano.yml carries the same definition, header comments aside.
    assert standalone == ours
    pins = standalone["pip_url"].split()
    assert "dbt-core~=1.11.0" in pins
    if utility == "dbt-duckdb":
        # One duckdb for target-duckdb and dbt on the same file.
        (loader,) = [p for p in project["plugins"]["loaders"] if p["name"] == "target-duckdb"]
        assert "duckdb==1.2.2" in pins and "duckdb==1.2.2" in loader["pip_url"].split()
    # dbt reads these variables: the project, its profiles, and where it writes.
    envs = {s["name"]: s.get("env") for s in standalone["settings"]}
    for name, env in {
        "project_dir": "DBT_PROJECT_DIR",
        "profiles_dir": "DBT_PROFILES_DIR",
        "target": "DBT_TARGET",
        "target_path": "DBT_TARGET_PATH",
        "log_path": "DBT_LOG_PATH",
    }.items():
        assert envs[name] == env
    assert {"build", "freshness", "docs-generate"} <= set(standalone["commands"])


def test_dbt_duckdb_reads_the_file_target_duckdb_writes_in_every_environment():
    project = load_yaml(ROOT / "meltano.yml")

    def configured(plugins: dict[str, t.Any], kind: str, name: str, key: str) -> t.Any:
        found = [p for p in plugins.get(kind, []) if p["name"] == name]
        return found[0].get("config", {}).get(key) if found else None

    base = project["plugins"]
    default_loader = configured(base, "loaders", "target-duckdb", "filepath")
    (dbt,) = [p for p in base["utilities"] if p["name"] == "dbt-duckdb"]
    default_dbt = {s["name"]: s.get("value") for s in dbt["settings"]}["path"]
    assert default_loader == default_dbt
    for environment in project["environments"]:
        plugins = environment.get("config", {}).get("plugins", {})
        loader = configured(plugins, "loaders", "target-duckdb", "filepath") or default_loader
        path = configured(plugins, "utilities", "dbt-duckdb", "path") or default_dbt
        assert loader == path, environment["name"]
