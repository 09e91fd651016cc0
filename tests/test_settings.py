"""Bad settings: one line naming the setting, exit 1, no traceback, no request sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from nexudus_sandbox import NexudusSandbox
from tap_nexudus_jobs.settings import api_url_problem
from tap_nexudus_jobs.tap import TapNexudusJobs
from tests.conftest import SANDBOX_TOKEN, run_cli, run_tap
from tests.meltano_runs import ROOT


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({}, "'access_token', or 'username' and 'password'"),
        ({"username": "admin@example.com"}, "'access_token', or 'username' and 'password'"),
        ({"start_date": "last tuesday"}, "'start_date'"),
        # Each of these once ran: Meltano rewrote the first three, "1 Jan 2024" was read
        # by a lenient parser and then ended in a traceback.
        ({"start_date": "yesterday"}, "'start_date' is not an ISO 8601 date-time"),
        ({"start_date": "2024-13-01"}, "'start_date' is not a valid date"),
        ({"start_date": "01/02/2024"}, "'start_date' is not an ISO 8601 date-time"),
        ({"start_date": "1 Jan 2024"}, "'start_date' is not an ISO 8601 date-time"),
        ({"start_date": "2024-02-30"}, "'start_date' is not a valid date-time"),
        ({"start_date": "2024-02-30T00:00:00Z"}, "'start_date' is not a valid date-time"),
        ({"page_size": "1,000"}, "'page_size' is not a whole number"),
        ({"include_result_data": "yes please"}, "'include_result_data' is not true or false"),
        ({"business_ids": "1001,1002"}, "'business_ids' is not a JSON array"),
        ({"filters": '{"Status": '}, "'filters' is not a JSON object"),
        ({"request_timeout": 0}, "'request_timeout'"),
        ({"page_size": 0}, "'page_size'"),
        ({"page_size": 1001}, "'page_size'"),
        ({"page_size": "many"}, "'page_size'"),
        ({"filters": {"Colour": "blue"}}, "'filters' has an unknown key"),
        ({"filters": {"Business": "Canary Wharf"}}, "'filters.Business'"),
        ({"filters": {"from_CreatedOn": "soon"}}, "'filters.from_CreatedOn'"),
        ({"api_url": "spaces.nexudus.com"}, "'api_url' is not an http(s) URL"),
        ({"api_url": "ftp://spaces.nexudus.com"}, "'api_url' is not an http(s) URL"),
        ({"api_url": "http://spaces.nexudus.com"}, "'api_url' uses plain http://"),
        # The endpoint's URL, as the docs show it: was a bare 404 for the path twice over.
        (
            {"api_url": "https://spaces.nexudus.com/api/sys/businessbackgroundjobs"},
            "use 'https://spaces.nexudus.com', not",
        ),
        ({"api_url": "https://spaces.nexudus.com/api/"}, "without Nexudus's /api/... path"),
        ({"lookback_minutes": -5}, "'lookback_minutes'"),
        ({"requests_per_minute": 0}, "'requests_per_minute'"),
    ],
)
def test_bad_setting_gives_one_clear_line(sandbox, tmp_path, settings, named) -> None:
    config = {"api_url": sandbox.url, "access_token": SANDBOX_TOKEN, **settings}
    if "username" in settings or settings == {}:
        del config["access_token"]

    result = run_cli(config, tmp_path)

    assert result.exit_code == 1
    # The SDK's INFO start-up lines may precede it; the error itself is one line.
    error_lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1, result.stderr
    assert error_lines[0].startswith("tap-nexudus-jobs: error: ")
    assert named in error_lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert sandbox.request_log == []


def test_a_secret_with_the_wrong_type_is_not_echoed(sandbox, tmp_path) -> None:
    result = run_cli({"api_url": sandbox.url, "access_token": 987654321987}, tmp_path)

    assert result.exit_code == 1
    assert "'access_token'" in result.stderr
    assert "987654321987" not in result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080",
        "http://localhost",
        "http://[::1]:9000/",
        "https://spaces.nexudus.com",
    ],
)
def test_https_or_loopback_http_is_accepted(url) -> None:
    assert api_url_problem(url) is None


def test_a_base_url_may_have_a_prefix_of_its_own_but_not_the_api_path() -> None:
    assert api_url_problem("https://proxy.example.com/nexudus") is None
    assert api_url_problem("https://proxy.example.com/nexudus/apis") is None
    problem = api_url_problem("http://127.0.0.1:8765/nexudus/api/token") or ""
    assert "use 'http://127.0.0.1:8765/nexudus', not" in problem


@pytest.mark.parametrize("url", ["http://10.0.0.5", "http://nexudus.example.com:80"])
def test_plain_http_elsewhere_is_refused(url) -> None:
    assert "plain http://" in (api_url_problem(url) or "")


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"business_ids": []}, "'business_ids' is empty"),
        ({"business_ids": [1001, 1001]}, "lists a business Id twice"),
        ({"business_ids": ["Shoreditch"]}, "'business_ids.0'"),
        ({"business_ids": [1001], "filters": {"Business": 1002}}, "use business_ids"),
    ],
)
def test_bad_business_ids_give_one_clear_line(sandbox, tmp_path, settings, named) -> None:
    result = run_cli({"api_url": sandbox.url, "access_token": SANDBOX_TOKEN, **settings}, tmp_path)

    assert result.exit_code == 1
    assert named in result.stderr
    assert sandbox.request_log == []


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2024-01-31T00:00:00Z", "2024-01-31T00:00:00+00:00"),
        ("2024-01-31T08:15", "2024-01-31T08:15:00+00:00"),
        ("2024-01-31 08:15:30+02:00", "2024-01-31T06:15:30+00:00"),
        ("2024-01-31T08:15:30.5-0500", "2024-01-31T13:15:30.500000+00:00"),
        # A plain date is midnight UTC, as most taps read it (it was refused).
        ("2025-01-01", "2025-01-01T00:00:00+00:00"),
        (" 2025-01-01 ", "2025-01-01T00:00:00+00:00"),
    ],
)
def test_iso_8601_start_dates_are_read_exactly(typed, expected) -> None:
    tap = TapNexudusJobs(config={"access_token": "t", "start_date": typed})

    assert tap.config["start_date"] == expected


def test_settings_given_as_text_are_parsed_by_their_type() -> None:
    # What Meltano (kind: string) and environment variables hand over.
    typed = {
        "access_token": "t",
        "page_size": "250",
        "include_result_data": "True",
        "business_ids": "[1001, 1002]",
        "filters": '{"Status": "Failed"}',
        "flattening_enabled": "false",
    }
    tap = TapNexudusJobs(config=typed)

    assert tap.config["page_size"] == 250
    assert tap.config["include_result_data"] is True
    assert tap.config["business_ids"] == [1001, 1002]
    assert tap.config["filters"] == {"Status": "Failed"}
    assert tap.config["flattening_enabled"] is False


def test_defaults_come_from_the_settings_schema_and_null_means_not_set() -> None:
    tap = TapNexudusJobs(config={"access_token": "t", "page_size": None, "totp": None})
    schema = tap.config_jsonschema["properties"]

    for name, spec in schema.items():
        if "default" in spec:
            assert tap.config[name] == spec["default"], name
    assert "totp" not in tap.config


def test_config_env_parses_variables_as_strictly(sandbox, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAP_NEXUDUS_JOBS_")}

    def run(**variables: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tap_nexudus_jobs", "--config", "ENV"],
            cwd=tmp_path,  # no .env file here
            env={**env, **{f"TAP_NEXUDUS_JOBS_{k.upper()}": v for k, v in variables.items()}},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    good = run(api_url=sandbox.url, access_token=SANDBOX_TOKEN, page_size="100")
    bad = run(api_url=sandbox.url, access_token=SANDBOX_TOKEN, page_size="many")
    maybe = run(api_url=sandbox.url, access_token=SANDBOX_TOKEN, include_result_data="maybe")

    assert good.returncode == 0, good.stderr
    assert good.stdout.count('"type":"RECORD"') == len(sandbox.served_ids())
    for result, line in [
        (bad, "tap-nexudus-jobs: error: Setting 'page_size' is not a whole number: 'many'"),
        (maybe, "tap-nexudus-jobs: error: Setting 'include_result_data' is not true or false"),
    ]:
        assert result.returncode == 1
        assert line in result.stderr
        assert "Traceback" not in result.stderr


def test_sample_config_runs_as_is_against_the_sandbox_on_its_default_port(tmp_path) -> None:
    from nexudus_sandbox.__main__ import DEFAULT_PORT, build_parser

    sample = json.loads((ROOT / "sample_config.json").read_text(encoding="utf-8"))
    documented = TapNexudusJobs.config_jsonschema["properties"]
    builtin = {"stream_maps", "stream_map_config", "faker_config", "batch_config"}
    user_settings = {name for name in documented if name not in builtin}
    user_settings -= {n for n in documented if n.startswith("flattening_")}
    assert set(sample) == user_settings, "sample_config.json must show every tap setting"

    defaults = build_parser().parse_args([])
    assert sample["api_url"] == f"http://127.0.0.1:{DEFAULT_PORT}"
    assert (sample["username"], sample["password"]) == (defaults.username, defaults.password)
    try:
        sandbox = NexudusSandbox(records=60, seed=5, port=DEFAULT_PORT)
        sandbox.start()
    except OSError:  # the port is taken on this machine: the same sandbox, elsewhere
        sandbox = NexudusSandbox(records=60, seed=5)
        sandbox.start()
        sample["api_url"] = sandbox.url
    try:
        run = run_tap(dict(sample))
        assert sorted(run.ids) == sorted(sandbox.served_ids())
        result = run_cli(sample, tmp_path)
        assert result.exit_code == 0, result.stderr
    finally:
        sandbox.stop()
