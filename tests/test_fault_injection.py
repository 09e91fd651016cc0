"""The tap against the sandbox with each fault knob: zero jobs lost, zero stale."""

from __future__ import annotations

import itertools

import pytest

from tap_nexudus_jobs import retries
from tap_nexudus_jobs.sandbox import NexudusSandbox, SandboxFaults
from tap_nexudus_jobs.sandbox.scenarios import SCENARIOS, FaultScenario, scenario
from tests.conftest import LISTING_PATH, run_cli, run_tap, with_ids_normalised

# Fast enough for CI; the tap's pacing, not these numbers, keeps it under the limits.
RECORDS, PAGE_SIZE = 700, 100


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch) -> None:
    # Exponential backoff starts at 50 ms in tests; Retry-After stays exactly as sent.
    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.05)


def config_for(sandbox: NexudusSandbox, chosen: FaultScenario) -> dict:
    auth = (
        {"username": "demo@example.com", "password": "demo-password"}
        if chosen.password_grant
        else {"access_token": "sandbox-token"}
    )
    return {"api_url": sandbox.url, "page_size": PAGE_SIZE, **auth, **chosen.tap_settings}


def latest(records: list[dict]) -> dict[int, str]:
    versions: dict[int, str] = {}
    for record in records:
        versions[record["Id"]] = record["UpdatedOn"]
    return versions


@pytest.mark.parametrize("chosen", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_no_job_is_lost_or_stale(chosen: FaultScenario) -> None:
    with NexudusSandbox(records=RECORDS, seed=17, faults=chosen.faults) as sandbox:
        run = run_tap(config_for(sandbox, chosen))
        log = sandbox.log_snapshot()
        # The walk's contract (README): a job updated while a run reads it is emitted in
        # its new version by that run or the next. The next run, with the faults over:
        sandbox.faults = SandboxFaults()
        rerun = run_tap(config_for(sandbox, chosen), state=run.final_state)
        emitted = latest(run.records + rerun.records)
        expected = with_ids_normalised(sandbox.current_versions())

    assert set(expected) - set(emitted) == set(), "jobs lost"
    assert {i for i in expected if emitted[i] != expected[i]} == set(), "jobs stale"
    assert rerun.bookmark == max(emitted.values())
    if not chosen.faults.changes_every:
        assert rerun.records == [], "a version already delivered was emitted again"
    throttled = [e for e in log if e.status == 409]
    if not chosen.expect_throttling:
        assert throttled == [], "the tap provoked throttling"


def test_retry_after_is_honoured_to_the_second() -> None:
    chosen = scenario("throttling")
    with NexudusSandbox(records=RECORDS, seed=17, faults=chosen.faults) as sandbox:
        run_tap(config_for(sandbox, chosen))
        log = sorted(sandbox.log_snapshot(), key=lambda e: e.number)

    throttled = [e for e in log if e.status == 409]
    assert throttled, "the scenario provoked no 409"
    for answer, following in itertools.pairwise(log):
        if answer.status == 409:
            assert answer.finished_at is not None
            waited = following.started_at - answer.finished_at
            assert waited >= 1.0, f"request {following.number} came {waited:.3f}s after a 409"


def test_matching_pacing_provokes_no_409_at_the_100ms_limit(tmp_path) -> None:
    # Server and tap agree on 600/minute, so the 1-per-100-ms rule is the one that binds
    # for ~150 back-to-back requests (pages plus a get-one per job).
    # The tap runs in its own process, as in production, so it does not share a GIL
    # with the sandbox. Its interval has a wider margin than the default 10 ms: on a
    # loaded 2-core CI machine the sandbox's own thread scheduling moves arrivals more
    # than a real network would.
    faults = SandboxFaults(limit_per_100ms=1, limit_per_minute=600)
    with NexudusSandbox(records=140, seed=2, faults=faults) as sandbox:
        settings = {
            "api_url": sandbox.url,
            "access_token": "sandbox-token",
            "page_size": 50,
            "include_result_data": True,
            "result_data_skip_statuses": [],  # a get-one for every job
            "requests_per_minute": 600,
            "min_request_interval_ms": 130,
        }
        result = run_cli(settings, tmp_path)
        log = sandbox.log_snapshot()

    assert result.exit_code == 0, result.stderr

    assert len(log) >= 140
    assert [e.number for e in log if e.status == 409] == []


def test_a_server_stricter_than_the_settings_is_obeyed_via_retry_after() -> None:
    # The account is shared: another worker uses most of the budget, so the server
    # allows this tap fewer requests than its settings. 409s happen; nothing is lost.
    faults = SandboxFaults(limit_per_minute=4, limit_window_scale=0.05)  # 4 per 3 s
    with NexudusSandbox(records=RECORDS, seed=17, faults=faults) as sandbox:
        run = run_tap({"api_url": sandbox.url, "access_token": "sandbox-token", "page_size": 50})
        log = sandbox.log_snapshot()

    assert sorted(run.ids) == sorted(sandbox.served_ids())
    assert any(e.status == 409 for e in log)
    listing = [e for e in log if e.path == LISTING_PATH and e.status == 200]
    # One per page, plus what the walk spends on proving the order (a probe, re-reads).
    assert RECORDS // 50 <= len(listing) <= RECORDS // 50 + 4
