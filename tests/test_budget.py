"""max_requests_per_run and the hour shared across runs: stop cleanly, continue next run."""

from __future__ import annotations

import io
import json
import logging
import typing as t
from collections import Counter
from contextlib import redirect_stdout

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tap_nexudus_jobs import retries
from tap_nexudus_jobs.budget import (
    MINUTE_SECONDS,
    HourLog,
    RequestBudget,
    RequestBudgetSpent,
)
from tap_nexudus_jobs.errors import NexudusResponseError
from tap_nexudus_jobs.state import HOUR_STATE_KEY
from tap_nexudus_jobs.tap import TapNexudusJobs
from tests.conftest import (
    LISTING_PATH,
    MOCK_LISTING,
    TapRun,
    job,
    mock_config,
    run_cli,
    run_tap,
    sandbox_config,
    serve_listing,
)

STREAM = "business_background_jobs"
# No pacing waits: these tests count requests, not seconds.
UNPACED = {"requests_per_minute": 1_000_000, "min_request_interval_ms": 0}
NO_RESULT_YET = {"Queued", "Running"}


def get_ones(sandbox: NexudusSandbox) -> list[int]:
    return [
        int(e.path.rsplit("/", 1)[1])
        for e in sandbox.log_snapshot()
        if e.path.startswith(LISTING_PATH + "/")
    ]


def stream_state(run: TapRun) -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", run.final_state["bookmarks"][STREAM])


def jobs_with_a_result(sandbox: NexudusSandbox) -> dict[int, str | None]:
    with sandbox.lock:
        return {
            job_id: job["ResultData"]
            for job_id, job in sandbox.jobs.items()
            if job["Status"] not in NO_RESULT_YET
        }


def test_budgeted_runs_from_state_deliver_every_job_once_with_its_result_data(caplog) -> None:
    caplog.set_level(logging.INFO)
    cap = 300
    with NexudusSandbox(records=1200, seed=21) as sandbox:
        settings = sandbox_config(
            sandbox,
            page_size=100,
            include_result_data=True,
            max_requests_per_run=cap,
            requests_per_hour=1_000_000,
            **UNPACED,
        )
        state: dict[str, t.Any] = {}
        emitted: Counter[int] = Counter()
        result_data: dict[int, str | None] = {}
        fetched: list[int] = []
        runs, stops = 0, 0
        while True:
            runs += 1
            caplog.clear()
            sandbox.clear_log()
            run = run_tap(settings, state=state)
            sent = sandbox.log_snapshot()
            assert len(sent) <= cap, f"run {runs} sent {len(sent)} requests"
            fetched += get_ones(sandbox)
            emitted.update(run.ids)
            result_data.update({r["Id"]: r["ResultData"] for r in run.records})
            state = run.final_state
            if "Stopping cleanly" not in caplog.text:
                break
            stops += 1
            (line,) = [m for m in caplog.messages if m.startswith("Stopping cleanly")]
            assert "max_requests_per_run reached (300 requests sent by this run)" in line
            assert "ResultData: " in line and " jobs left, about " in line
            assert line.endswith("the next run continues from here")
            assert runs < 10, "the budgeted sync does not converge"

        expected = jobs_with_a_result(sandbox)
        served = sandbox.served_ids()
        # A run with the same state again has nothing left to do.
        again = run_tap(settings, state=state)

    assert again.records == []
    assert stops == runs - 1 >= 3
    assert set(emitted) == served
    assert set(emitted.values()) == {1}, "a job was emitted twice"
    assert Counter(fetched) == Counter(set(expected)), "get-ones != jobs with a result, once each"
    assert {job_id: result_data[job_id] for job_id in expected} == expected
    assert all(result_data[job_id] is None for job_id in served - set(expected))


def test_the_stop_is_a_clean_exit_with_one_line_and_a_resumable_state(tmp_path) -> None:
    with NexudusSandbox(records=400, seed=22) as sandbox:
        settings = sandbox_config(
            sandbox, page_size=100, include_result_data=True, max_requests_per_run=150, **UNPACED
        )
        result = run_cli(settings, tmp_path)
        requests_sent = len(sandbox.log_snapshot())
        versions = sandbox.current_versions()

    assert result.exit_code == 0, result.stderr
    assert requests_sent == 150
    stops = [line for line in result.stderr.splitlines() if "Stopping cleanly" in line]
    assert len(stops) == 1
    assert "ResultData: " in stops[0]
    assert " jobs left, about " in stops[0]
    assert "at the pacing limit" in stops[0]
    messages = [json.loads(line) for line in result.stdout.splitlines()]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    emitted = {m["record"]["Id"] for m in messages if m["type"] == "RECORD"}
    assert emitted, "the complete part of the work was not emitted"
    final = states[-1]["bookmarks"][STREAM]
    assert HOUR_STATE_KEY in final
    # Nothing claimed past what was emitted: every job before the bookmark's minute is out.
    minute = final["replication_key_value"][:16]
    before = {job_id for job_id, stamp in versions.items() if stamp[:16] < minute}
    assert before <= emitted
    assert len(before) > 50


def test_the_token_request_counts_too() -> None:
    with NexudusSandbox(records=300, seed=23) as sandbox:
        settings = {
            "api_url": sandbox.url,
            "username": "demo@example.com",
            "password": "demo-password",
            "page_size": 100,
            "include_result_data": True,
            "max_requests_per_run": 120,
            **UNPACED,
        }
        run_tap(settings)
        log = sandbox.log_snapshot()

    assert len(log) == 120
    assert sum(1 for e in log if e.path == "/api/token") == 1


def test_without_result_data_the_budget_counts_listing_pages(caplog) -> None:
    caplog.set_level(logging.INFO)
    with NexudusSandbox(records=1000, seed=24) as sandbox:
        settings = sandbox_config(sandbox, page_size=100, max_requests_per_run=4, **UNPACED)
        first = run_tap(settings)
        assert len(sandbox.log_snapshot()) == 4
        assert "Listing: " in caplog.text
        second = run_tap(settings, state=first.final_state)
        third = run_tap(settings, state=second.final_state)
        served = sandbox.served_ids()

    assert set(first.ids) | set(second.ids) | set(third.ids) == served
    assert len(first.ids) + len(second.ids) + len(third.ids) == len(served)


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        (
            {"include_result_data": True, "max_requests_per_run": 500},
            "'max_requests_per_run' (500) is below what one listing page needs (1,001",
        ),
        (
            {"include_result_data": True, "page_size": 200, "max_requests_per_run": 200},
            "(200) is below what one listing page needs (201",
        ),
    ],
)
def test_a_budget_below_one_page_is_a_one_line_config_error(
    sandbox, tmp_path, settings, named
) -> None:
    result = run_cli(sandbox_config(sandbox, **settings), tmp_path)

    assert result.exit_code == 1
    error_lines = [line for line in result.stderr.splitlines() if "error" in line.lower()]
    assert len(error_lines) == 1, result.stderr
    assert named in error_lines[0]
    assert "Traceback" not in result.stderr
    assert sandbox.request_log == []


def test_back_to_back_runs_share_the_hour(caplog) -> None:
    caplog.set_level(logging.INFO)
    per_hour = 30
    with NexudusSandbox(records=200, seed=25) as sandbox:
        settings = sandbox_config(
            sandbox, page_size=10, include_result_data=True, requests_per_hour=per_hour, **UNPACED
        )
        first = run_tap({**settings, "max_requests_per_run": 20}, state={})
        sent_first = len(sandbox.log_snapshot())
        assert sent_first == 20
        caplog.clear()

        second = run_tap(settings, state=first.final_state)
        sent_both = len(sandbox.log_snapshot())

        assert sent_both == per_hour, "the two runs together went past requests_per_hour"
        (line,) = [m for m in caplog.messages if m.startswith("Stopping cleanly")]
        assert "the hour's request budget is spent" in line
        assert f"with {sent_first:,} from earlier runs on this state" in line
        assert "it frees up from " in line and " UTC" in line
        hour = stream_state(second)[HOUR_STATE_KEY]
        assert sum(count for _, count in hour) == per_hour
        assert len(hour) <= 61

        # An hour later the same state continues, and finishes the job.
        later = json.loads(json.dumps(second.final_state))
        later["bookmarks"][STREAM][HOUR_STATE_KEY] = [
            [minute - 3600, count] for minute, count in hour
        ]
        more = {**settings, "requests_per_hour": 10_000}
        third = run_tap(more, state=later)
        fourth = run_tap(more, state=third.final_state)
        expected = jobs_with_a_result(sandbox)

    assert fourth.records == []
    runs = [first, second, third]
    delivered = {r["Id"]: r["ResultData"] for run in runs for r in run.records}
    assert {job_id: delivered.get(job_id) for job_id in expected} == expected
    assert sum(len(run.records) for run in runs) == len(delivered)


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_short_wait_for_the_hour_is_waited_a_long_one_stops() -> None:
    clock = FakeClock(1_800_000_000.0)
    minute = int(clock.now // MINUTE_SECONDS) * MINUTE_SECONDS
    earlier = [(minute - 3540, 3), (minute - 60, 2)]  # 59 minutes ago, and a minute ago
    budget = RequestBudget(
        max_requests=None, per_hour=5, clock=lambda: clock.now, sleep=clock.sleep
    )
    budget.seed(earlier)

    budget.admit()  # waits for the 59-minute-old requests to age out: a minute at most
    budget.sent_now()
    # Seeded requests count as sent at the end of their minute: at most 2 minutes' wait.
    assert len(clock.slept) == 1 and 0 < clock.slept[0] <= 120
    for _ in range(2):
        budget.admit()
        budget.sent_now()
    with pytest.raises(RequestBudgetSpent, match="the hour's request budget is spent") as spent:
        budget.admit()  # the next slot frees only when the minute-old ones age out
    assert spent.value.frees_at is not None and spent.value.frees_at - clock.now > 300
    with pytest.raises(RequestBudgetSpent):
        budget.admit()  # stays stopped


def test_the_hour_in_state_is_bounded_and_round_trips() -> None:
    now = 1_800_000_000.0
    log = HourLog()
    for second in range(0, 7200, 2):  # two hours of requests, one every 2 s
        log.record(now - 7200 + second)
    value = log.minute_counts(now)

    assert len(value) <= 61
    assert sum(count for _, count in value) == log.in_last_hour(now) == 1799
    again = HourLog()
    assert again.seed(value, now) == 1799
    assert again.minute_counts(now) == value
    # A minute's count from STATE is bounded (a malformed one is refused by state.py).
    assert HourLog().seed([(int(now), 10**9)], now) == 100_000


def test_a_get_one_that_fails_for_good_fails_the_run_with_no_bookmark_past_it(
    requests_mock, monkeypatch
) -> None:
    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.001)
    jobs = [job(i, f"2025-01-01T00:0{i}:00Z", Status="Completed") for i in range(1, 7)]
    serve_listing(requests_mock, jobs)
    for listed in jobs:
        requests_mock.get(f"{MOCK_LISTING}/{listed['Id']}", json={**listed, "ResultData": "ok"})
    requests_mock.get(f"{MOCK_LISTING}/4", status_code=500, json={"Message": "An error"})

    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8")
    tap = TapNexudusJobs(config=mock_config(page_size=2, include_result_data=True), state={})
    with redirect_stdout(out), pytest.raises(NexudusResponseError, match="gave up after 6"):
        tap.sync_all()
    out.flush()

    messages = [json.loads(line) for line in raw.getvalue().decode().splitlines()]
    # Pages [1, 2], [2, 3] (re-read from minute 00:02), then [3, 4]: job 4 fails.
    assert [m["record"]["Id"] for m in messages if m["type"] == "RECORD"] == [1, 2, 3]
    states = [m["value"]["bookmarks"][STREAM] for m in messages if m["type"] == "STATE"]
    assert states[-1]["replication_key_value"] == "2025-01-01T00:03:00+00:00"
    for state in states:
        assert state.get("replication_key_value", "") < "2025-01-01T00:04:00+00:00"
        delivered = state.get("delivered", {}).get("versions", [])
        assert {job_id for _, ids in delivered for job_id in ids} <= {1, 2, 3}


def test_a_long_retry_after_stops_cleanly_and_the_next_run_goes_on(caplog, tmp_path) -> None:
    """Issue 20, case 6: a throttle asking for an hour ended the run as a failure."""
    faults = SandboxFaults(scripted_statuses={3: 409}, throttle_retry_after=3600)
    with NexudusSandbox(records=300, seed=8, faults=faults) as sandbox:
        config = sandbox_config(sandbox, page_size=100)

        result = run_cli(config, tmp_path)

        assert result.exit_code == 0
        (line,) = [line for line in result.stderr.splitlines() if "Stopping cleanly" in line]
        assert (
            "Nexudus answered HTTP 409 Conflict for GET /api/sys/businessbackgroundjobs, asking "
            in line
        )
        assert (
            "to wait 3600s (Retry-After), longer than the tap waits for one request (300s); "
            in line
        )
        assert "run again from " in line and line.endswith("the next run continues from here")
        messages = [json.loads(text) for text in result.stdout.splitlines()]
        first = {m["record"]["Id"] for m in messages if m["type"] == "RECORD"}
        state = [m["value"] for m in messages if m["type"] == "STATE"][-1]
        assert 0 < len(first) < 300

        sandbox.faults = SandboxFaults()
        rerun = run_tap(config, state=state)

        assert first | set(rerun.ids) == sandbox.served_ids()
