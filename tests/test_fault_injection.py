"""The tap against the sandbox with each fault knob: zero jobs lost, zero stale.

Scenarios that change jobs during a sync run as a pair (run 1, then run 2 from run 1's
STATE) under every record clock: the walk's contract lets a job that changed inside the
newest minute while run 1 read it wait for run 2, and nothing else.
"""

from __future__ import annotations

import itertools
import math

import pytest

from nexudus_sandbox import NexudusSandbox, RequestLogEntry, SandboxFaults
from nexudus_sandbox.scenarios import (
    DRIFT_SCENARIOS,
    RECORD_CLOCKS,
    SCENARIOS,
    FaultScenario,
    scenario,
)
from tap_nexudus_jobs import retries
from tap_nexudus_jobs.timestamps import floor_to_minute, parse_timestamp
from tests.conftest import LISTING_PATH, TapRun, run_cli, run_tap, with_ids_normalised

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


def newest_emitted(records: list[dict]) -> str:
    stamps: list[str] = [r["UpdatedOn"] for r in records]
    return max(stamps, key=parse_timestamp)


def assert_bookmark_within(run: TapRun, records: list[dict]) -> None:
    """The bookmark may hold back in a crowded newest minute, never claim past the data."""
    assert run.bookmark is not None
    assert parse_timestamp(run.bookmark) <= parse_timestamp(newest_emitted(records))


def requests_made(log: list[RequestLogEntry]) -> str:
    """The listing requests as the sandbox saw them, one a line, for failure messages."""
    lines = []
    for entry in sorted(log, key=lambda e: e.number):
        if entry.path != LISTING_PATH:
            continue
        query = {
            k.replace("_BusinessBackgroundJob_UpdatedOn", ""): v for k, v in entry.query.items()
        }
        shown = " ".join(f"{k}={query[k]}" for k in ("orderBy", "page", "from", "to") if k in query)
        lines.append(f"  #{entry.number} {entry.status} {entry.fault or ''} {shown}".rstrip())
    return "\n".join(lines)


ONCE = [s for s in SCENARIOS if not s.changes_data]


@pytest.mark.parametrize("chosen", ONCE, ids=[s.name for s in ONCE])
def test_no_job_is_lost_or_stale(chosen: FaultScenario) -> None:
    # Nothing changes during these runs, so one run owes every job in its version.
    with NexudusSandbox(records=RECORDS, seed=17, faults=chosen.faults) as sandbox:
        run = run_tap(config_for(sandbox, chosen))
        log = sandbox.log_snapshot()
        emitted = latest(run.records)
        expected = with_ids_normalised(sandbox.current_versions())

    assert set(expected) - set(emitted) == set(), "jobs lost"
    assert {i for i in expected if emitted[i] != expected[i]} == set(), "jobs stale"
    assert_bookmark_within(run, run.records)
    throttled = [e for e in log if e.status == 409]
    if not chosen.expect_throttling:
        assert throttled == [], "the tap provoked throttling"


#: Listing requests one run may make before the case fails: a walk that keeps re-reading
#: (a livelock) fails with its request sequence instead of hanging the suite.
LISTING_BUDGET = 300


class ListingBudgetExceeded(RuntimeError):
    """Raised inside the sandbox's listing route: the tap sees HTTP 500s and gives up."""


def run_guarded(sandbox: NexudusSandbox, config: dict, state: dict | None = None) -> TapRun:
    """One sync in-process, failing the case if it spends more than LISTING_BUDGET pages."""
    first = sandbox.listing_requests

    def guard(count: int) -> None:
        if count - first > LISTING_BUDGET:
            raise ListingBudgetExceeded

    sandbox.on_listing_request = guard
    try:
        return run_tap(config, state)
    except Exception as exc:
        if sandbox.listing_requests - first > LISTING_BUDGET:
            pytest.fail(
                f"the walk made more than {LISTING_BUDGET} listing requests:\n"
                f"{requests_made(sandbox.log_snapshot()[-80:])}"
            )
        raise exc
    finally:
        sandbox.on_listing_request = None


def emitted_pairs(run: TapRun) -> set[tuple[int, str]]:
    return {(record["Id"], record["UpdatedOn"]) for record in run.records}


@pytest.mark.parametrize("hours", RECORD_CLOCKS, ids=[f"clock{h:+g}h" for h in RECORD_CLOCKS])
@pytest.mark.parametrize("base", DRIFT_SCENARIOS, ids=[s.name for s in DRIFT_SCENARIOS])
def test_a_pair_of_runs_loses_nothing_under_every_record_clock(
    base: FaultScenario, hours: float
) -> None:
    chosen = base.with_record_clock(hours)
    case = f"{chosen.name}, record clock {hours:+g} h"
    with NexudusSandbox(records=RECORDS, seed=17, faults=chosen.faults) as sandbox:
        before_first = with_ids_normalised(sandbox.current_versions())
        first = run_guarded(sandbox, config_for(sandbox, chosen))
        after_first = with_ids_normalised(sandbox.current_versions())
        first_log = sandbox.log_snapshot()
        # Run 2 catches up on a quiet account, so what it reads is final; the other
        # faults (ties, filters, Date, errors) stay on.
        sandbox.faults = chosen.faults.without_data_changes()
        sandbox.clear_log()
        second = run_guarded(sandbox, config_for(sandbox, chosen), first.final_state)
        final = with_ids_normalised(sandbox.current_versions())
        second_log = sandbox.log_snapshot()
    assert final == after_first, "the quiet run changed jobs"

    # Run 1 alone: nothing below its bookmark's minute is missing, unless it changed.
    assert_bookmark_within(first, first.records)
    assert first.bookmark is not None
    bookmark_minute = floor_to_minute(parse_timestamp(first.bookmark))
    changed_during_first = {i for i in after_first if after_first[i] != before_first.get(i)}
    shown = emitted_pairs(first)
    lost_below = sorted(
        job_id
        for job_id, version in after_first.items()
        if floor_to_minute(parse_timestamp(version)) < bookmark_minute
        and (job_id, version) not in shown
        and job_id not in changed_during_first
    )
    assert lost_below == [], (
        f"{case}: run 1 (bookmark {first.bookmark}) lost {len(lost_below)} jobs below its "
        f"bookmark: {lost_below[:20]}\nrun 1 listing requests:\n{requests_made(first_log)}"
    )

    # The pair: every job, in its current version.
    emitted = latest(first.records + second.records)
    lost = sorted(set(final) - set(emitted))
    stale = sorted(i for i in final if i in emitted and emitted[i] != final[i])
    sequence = (
        f"run 1 listing requests:\n{requests_made(first_log)}\n"
        f"run 2 listing requests:\n{requests_made(second_log)}"
    )
    assert lost == [], f"{case}: the pair lost {len(lost)} jobs: {lost[:20]}\n{sequence}"
    assert stale == [], (
        f"{case}: {len(stale)} jobs stale after the pair: "
        f"{[(i, emitted[i], final[i]) for i in stale[:10]]}\n{sequence}"
    )
    assert_bookmark_within(second, first.records + second.records)
    assert second.bookmark is not None
    assert parse_timestamp(second.bookmark) >= parse_timestamp(first.bookmark)
    if not chosen.expect_throttling:
        assert [e.number for e in first_log + second_log if e.status == 409] == []


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
            "result_data_skip_statuses": [],  # a get-one for every job, Queued ones too
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
    # One request a page, plus the few the walk spends re-anchoring.
    pages = math.ceil(RECORDS / 50)
    assert pages <= len(listing) <= pages + 4
