"""A STATE or setting the tap cannot use: one line naming it, exit 1, nothing read or claimed.

Run as Meltano runs the tap (the console entry point, `--config` and `--state` files),
against the sandbox, so the requests it sent and the messages it wrote are what a user's
pipeline would see. tests/test_bad_input_meltano.py repeats the main cases through
`meltano run`, where the saved state must stay as it was.
"""

from __future__ import annotations

import json
import typing as t
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from nexudus_sandbox import NexudusSandbox
from tests.conftest import CliResult, run_cli, sandbox_config

STREAM = "business_background_jobs"
GOOD_BOOKMARK = "2026-06-11T18:12:27+00:00"


def stream_state(**values: t.Any) -> dict[str, t.Any]:
    return {"bookmarks": {STREAM: values}}


BAD_STATES: dict[str, tuple[t.Any, str]] = {
    "a string": ("garbage", "The state is not a JSON object: 'garbage'"),
    "a list": ([], "The state is not a JSON object: []"),
    "bookmarks a string": ({"bookmarks": "x"}, "State key 'bookmarks' is not a JSON object"),
    "stream state a string": (
        {"bookmarks": {STREAM: "x"}},
        f"State key 'bookmarks.{STREAM}' is not a JSON object: 'x'",
    ),
    "bookmark not a date": (
        stream_state(replication_key="UpdatedOn", replication_key_value="not-a-date"),
        f"State key 'bookmarks.{STREAM}.replication_key_value' is not an ISO 8601 "
        "date-time (e.g. 2024-01-31T00:00:00Z): 'not-a-date'",
    ),
    "bookmark of another key": (
        stream_state(replication_key="CreatedOn", replication_key_value=GOOD_BOOKMARK),
        f"State key 'bookmarks.{STREAM}.replication_key' is not 'UpdatedOn': 'CreatedOn'",
    ),
    "another stream": (
        {"bookmarks": {"jobs": {}}},
        "State key 'bookmarks.jobs' is not a stream of this tap",
    ),
    "an unknown key of its own": (
        stream_state(replication_key_value=GOOD_BOOKMARK, bookmark=GOOD_BOOKMARK),
        f"State key 'bookmarks.{STREAM}.bookmark' is not a key this tap writes",
    ),
    "delivered damaged": (
        stream_state(replication_key_value=GOOD_BOOKMARK, delivered={"versions": "x"}),
        f"State key 'bookmarks.{STREAM}.delivered.versions' is not a list: 'x'",
    ),
    "hour damaged": (
        stream_state(requests_last_hour=[["a", 1]]),
        f"State key 'bookmarks.{STREAM}.requests_last_hour[0]' is not [minute epoch",
    ),
    "result_data_missing damaged": (
        stream_state(result_data_missing=[[5, "03/02/2025 10:00:00", 1]]),
        f"State key 'bookmarks.{STREAM}.result_data_missing[0]' is not [Id, UpdatedOn, runs]",
    ),
    "result_data_missing not a list": (
        stream_state(result_data_missing={"5": 1}),
        f"State key 'bookmarks.{STREAM}.result_data_missing' is not a list of [Id, UpdatedOn",
    ),
    "record clock damaged": (
        stream_state(replication_key_value=GOOD_BOOKMARK, record_clock={"lead_minutes": 900}),
        f"State key 'bookmarks.{STREAM}.record_clock.lead_minutes' is not a whole number "
        "from 0 to 840: 900",
    ),
    "record clock of another shape": (
        stream_state(record_clock={"lead": 60}),
        f"State key 'bookmarks.{STREAM}.record_clock.lead' is not a key this tap writes",
    ),
    "partition not configured": (
        stream_state(partitions=[{"context": {"business_id": 5}}]),
        f"State key 'bookmarks.{STREAM}.partitions[0].context' is a business partition, but "
        "setting 'business_ids' is not set: {'business_id': 5}",
    ),
}


def run_with_state(
    sandbox: NexudusSandbox, tmp_path: Path, state: t.Any, **settings: t.Any
) -> CliResult:
    state_file = tmp_path / "state.json"
    state_file.write_text(json.dumps(state))
    return run_cli(sandbox_config(sandbox, **settings), tmp_path, "--state", str(state_file))


def error_lines(result: CliResult) -> list[str]:
    return [line for line in result.stderr.splitlines() if "tap-nexudus-jobs: error:" in line]


def messages(result: CliResult) -> list[dict[str, t.Any]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def assert_nothing_emitted_and_bookmark_kept(result: CliResult, bookmark: str) -> None:
    """No traceback, no record, and no STATE that moves the bookmark: the target keeps the
    state it had."""
    assert "Traceback" not in result.stderr
    out = messages(result)
    assert [m for m in out if m["type"] == "RECORD"] == []
    for message in out:
        if message["type"] == "STATE":
            stream = message["value"]["bookmarks"][STREAM]
            assert stream["replication_key_value"] == bookmark


@pytest.mark.parametrize("case", sorted(BAD_STATES))
def test_a_state_the_tap_cannot_use_stops_it_before_anything_is_read_or_written(
    sandbox: NexudusSandbox, tmp_path: Path, case: str
) -> None:
    state, expected = BAD_STATES[case]

    result = run_with_state(sandbox, tmp_path, state)

    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert expected in line
    assert "meltano state clear" in line
    assert "Traceback" not in result.stderr
    # No STATE (nor anything else) for Meltano to save, and no request sent.
    assert messages(result) == []
    assert sandbox.log_snapshot() == []


def test_a_partition_for_a_business_not_configured_is_named(
    sandbox: NexudusSandbox, tmp_path: Path
) -> None:
    state = stream_state(partitions=[{"context": {"business_id": 1003}}])

    result = run_with_state(sandbox, tmp_path, state, business_ids=[1001, 1002])

    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "partitions[0].context' names a business not in 'business_ids' (1001, 1002)" in line
    assert messages(result) == []


def test_a_hand_written_bookmark_in_any_iso_form_is_used(
    sandbox: NexudusSandbox, tmp_path: Path
) -> None:
    newest = max(sandbox.current_versions().values())
    written_by_hand = stream_state(replication_key_value=newest)  # `...Z`, no replication_key

    result = run_with_state(sandbox, tmp_path, written_by_hand)

    assert result.exit_code == 0, result.stderr
    states = [m["value"] for m in messages(result) if m["type"] == "STATE"]
    bookmark = states[-1]["bookmarks"][STREAM]["replication_key_value"]
    assert bookmark == newest.replace("Z", "+00:00")
    # It was honoured: only the lookback hour before it was read, not all history.
    emitted = [m for m in messages(result) if m["type"] == "RECORD"]
    assert 0 < len(emitted) < len(sandbox.current_versions())


# -- a bookmark no job can reach ---------------------------------------------------------


def test_a_bookmark_later_than_every_job_fails_naming_it_and_the_newest_job(
    sandbox: NexudusSandbox, tmp_path: Path
) -> None:
    newest = max(sandbox.current_versions().values()).replace("Z", "+00:00")
    state = stream_state(replication_key="UpdatedOn", replication_key_value="9999-12-31T00:00:00Z")

    result = run_with_state(sandbox, tmp_path, state)

    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "The bookmark 9999-12-31T00:00:00+00:00" in line
    assert f"the newest is updated {newest}" in line
    assert "meltano state clear STATE_ID" in line
    assert_nothing_emitted_and_bookmark_kept(result, "9999-12-31T00:00:00+00:00")
    # The listing from the bookmark, then its two ends: three requests.
    assert len(sandbox.log_snapshot()) == 3


def test_a_record_clock_that_ran_ahead_and_came_back_is_caught(
    sandbox: NexudusSandbox, tmp_path: Path
) -> None:
    """Run 1 saw a job stamped 3 h ahead; the clock came back, and jobs changed since."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    sandbox.touch([100001], at=now + timedelta(hours=3))
    first = run_with_state(sandbox, tmp_path, {})
    assert first.exit_code == 0, first.stderr
    saved = [m["value"] for m in messages(first) if m["type"] == "STATE"][-1]
    sandbox.touch([100001, 100002], at=now)

    second = run_with_state(sandbox, tmp_path, saved)

    assert second.exit_code == 1
    (line,) = error_lines(second)
    assert f"The bookmark {(now + timedelta(hours=3)).isoformat()}" in line
    assert f"the newest is updated {now.isoformat()}" in line


def test_a_bookmark_further_ahead_than_any_time_zone_fails_naming_the_way_out(
    sandbox: NexudusSandbox, tmp_path: Path
) -> None:
    """A STATE an earlier version left at a job stamped 2099 (issue 19): the job is still
    listed, so the listing is not empty, but every job updated since is out of reach."""
    sandbox.touch([100001], at=datetime(2099, 1, 1, tzinfo=timezone.utc))
    state = stream_state(replication_key="UpdatedOn", replication_key_value="2099-01-01T00:00:00Z")

    result = run_with_state(sandbox, tmp_path, state)

    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert "The bookmark 2099-01-01T00:00:00+00:00" in line
    assert "ahead of true time (" in line
    assert "from Nexudus's Date header), further than any time zone (UTC+14)" in line
    assert "`meltano state set`" in line
    assert "meltano state clear STATE_ID" in line
    assert_nothing_emitted_and_bookmark_kept(result, "2099-01-01T00:00:00+00:00")
    # Clearing it works now: the job stamped 2099 is emitted, the bookmark stays behind it.
    cleared = run_with_state(sandbox, tmp_path, {})
    assert cleared.exit_code == 0, cleared.stderr
    assert 100001 in [m["record"]["Id"] for m in messages(cleared) if m["type"] == "RECORD"]
    final = [m["value"] for m in messages(cleared) if m["type"] == "STATE"][-1]
    assert final["bookmarks"][STREAM]["replication_key_value"] < "2098"
    assert "stamped ahead of true time" in cleared.stderr


def test_an_account_that_lists_no_job_has_nothing_to_lose(tmp_path: Path) -> None:
    with NexudusSandbox(records=0) as empty:
        state = stream_state(replication_key="UpdatedOn", replication_key_value=GOOD_BOOKMARK)
        result = run_with_state(empty, tmp_path, state)

    assert result.exit_code == 0, result.stderr


def test_a_quiet_account_is_not_a_stall(sandbox: NexudusSandbox, tmp_path: Path) -> None:
    """Nothing changed since the last run: the bookmark's own job is listed again."""
    first = run_with_state(sandbox, tmp_path, {})
    saved = [m["value"] for m in messages(first) if m["type"] == "STATE"][-1]

    again = run_with_state(sandbox, tmp_path, saved, lookback_minutes=0)

    assert again.exit_code == 0, again.stderr
    assert [m for m in messages(again) if m["type"] == "RECORD"] == []


# -- setting names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("pagesize", "page_size"), ("lookback_minute", "lookback_minutes")],
)
def test_an_unknown_setting_in_the_config_names_the_closest_one(
    sandbox: NexudusSandbox, tmp_path: Path, typo: str, meant: str
) -> None:
    result = run_cli(sandbox_config(sandbox, **{typo: 5}), tmp_path)

    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert line.endswith(f"Unknown setting '{typo}'; did you mean '{meant}'?")
    assert sandbox.log_snapshot() == []


def test_an_unknown_setting_variable_names_the_closest_one(
    sandbox: NexudusSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAP_NEXUDUS_JOBS_LOOKBACK_MINUTE", "60")

    result = run_cli(sandbox_config(sandbox), tmp_path)

    assert result.exit_code == 1
    (line,) = error_lines(result)
    assert line.endswith(
        "Unknown environment variable 'TAP_NEXUDUS_JOBS_LOOKBACK_MINUTE'; "
        "did you mean 'TAP_NEXUDUS_JOBS_LOOKBACK_MINUTES'?"
    )


def test_meltanos_own_variables_are_accepted(
    sandbox: NexudusSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What `meltano invoke` sets besides the settings (Meltano 4.4: extras, double `_`).
    monkeypatch.setenv("TAP_NEXUDUS_JOBS__SELECT", '["business_background_jobs.*"]')
    monkeypatch.setenv("TAP_NEXUDUS_JOBS__LOAD_SCHEMA", "tap_nexudus_jobs")
    monkeypatch.setenv("TAP_NEXUDUS_JOBS_PAGE_SIZE", "100")

    result = run_cli(sandbox_config(sandbox), tmp_path)

    assert result.exit_code == 0, result.stderr


def test_a_job_leaving_a_status_filter_is_not_a_stall(
    sandbox: NexudusSandbox, tmp_path: Path
) -> None:
    """The bookmark's job changed status: the filtered listing lost it, the account did not."""
    versions = sandbox.current_versions()
    newest_id = max(versions, key=lambda job_id: (versions[job_id], job_id))
    sandbox.touch([newest_id], status="Failed")  # now the newest job, and a Failed one
    first = run_with_state(sandbox, tmp_path, {}, filters={"Status": "Failed"})
    saved = [m["value"] for m in messages(first) if m["type"] == "STATE"][-1]
    sandbox.touch([newest_id], status="Completed")

    second = run_with_state(sandbox, tmp_path, saved, filters={"Status": "Failed"})

    assert second.exit_code == 0, second.stderr
    # The two ends were read without the filter: the account's listing, not the filtered one.
    probes = [e.query for e in sandbox.log_snapshot() if e.query.get("size") == "1"]
    assert probes and all("BusinessBackgroundJob_Status" not in q for q in probes)


def test_a_start_date_past_the_bookmark_is_not_blamed_on_the_bookmark(
    sandbox: NexudusSandbox, tmp_path: Path
) -> None:
    """The run reads from start_date, not from the bookmark: nothing there is no stall."""
    state = stream_state(replication_key="UpdatedOn", replication_key_value=GOOD_BOOKMARK)

    result = run_with_state(sandbox, tmp_path, state, start_date="2099-01-01T00:00:00Z")

    assert result.exit_code == 0, result.stderr
    assert [m for m in messages(result) if m["type"] == "RECORD"] == []
