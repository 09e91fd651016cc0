"""Bad settings: one line naming the setting, exit 1, no traceback, no request sent."""

from __future__ import annotations

import pytest

from tap_nexudus_jobs.settings import api_url_problem
from tests.conftest import SANDBOX_TOKEN, run_cli


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({}, "'access_token', or 'username' and 'password'"),
        ({"username": "admin@example.com"}, "'access_token', or 'username' and 'password'"),
        ({"start_date": "last tuesday"}, "'start_date'"),
        ({"page_size": 0}, "'page_size'"),
        ({"page_size": 1001}, "'page_size'"),
        ({"page_size": "many"}, "'page_size'"),
        ({"filters": {"Colour": "blue"}}, "'filters' has an unknown key"),
        ({"filters": {"Business": "Canary Wharf"}}, "'filters.Business'"),
        ({"filters": {"from_CreatedOn": "soon"}}, "'filters.from_CreatedOn'"),
        ({"api_url": "spaces.nexudus.com"}, "'api_url' is not an http(s) URL"),
        ({"api_url": "ftp://spaces.nexudus.com"}, "'api_url' is not an http(s) URL"),
        ({"api_url": "http://spaces.nexudus.com"}, "'api_url' uses plain http://"),
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
