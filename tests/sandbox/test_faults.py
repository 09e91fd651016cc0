"""The sandbox's fault knobs: each fires as specified, deterministically for a seed."""

from __future__ import annotations

import dataclasses
import math
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

from nexudus_sandbox import PUBLISHED_LIMITS, NexudusSandbox, SandboxFaults
from nexudus_sandbox.__main__ import (
    build_parser,
    clock_from_args,
    faults_from_args,
    main,
)
from nexudus_sandbox.clock import Clock, SimulatedClock, real_clock
from nexudus_sandbox.faults import FaultEngine

LISTING = "/api/sys/businessbackgroundjobs"
AUTH = {"Authorization": "Bearer sandbox-token"}
PASSWORD_GRANT = {
    "grant_type": "password",
    "username": "demo@example.com",
    "password": "demo-password",
}

Factory = Callable[..., NexudusSandbox]


@pytest.fixture
def make_sandbox() -> Iterator[Factory]:
    """Start sandboxes with the given faults; all are stopped after the test."""
    started: list[NexudusSandbox] = []

    def make(records: int = 30, clock: Clock = real_clock, **faults: Any) -> NexudusSandbox:
        sandbox = NexudusSandbox(
            records=records, seed=5, faults=SandboxFaults(**faults), clock=clock
        )
        sandbox.start()
        started.append(sandbox)
        return sandbox

    yield make
    for sandbox in started:
        sandbox.stop()


def get(sandbox: NexudusSandbox, path: str = LISTING, **kwargs: Any) -> requests.Response:
    kwargs.setdefault("headers", AUTH)
    return requests.get(sandbox.url + path, timeout=5, **kwargs)


def token(sandbox: NexudusSandbox, data: dict[str, str] | None = None) -> requests.Response:
    return requests.post(sandbox.url + "/api/token", data=data or PASSWORD_GRANT, timeout=5)


def outcome(send: Callable[[], requests.Response]) -> int:
    """The status, or 0 when the connection dropped without an answer."""
    try:
        return send().status_code
    except requests.ConnectionError:
        return 0


def statuses(sandbox: NexudusSandbox, count: int) -> list[int]:
    """Statuses of ``count`` listing requests (0 for a dropped connection)."""
    return [outcome(lambda: get(sandbox)) for _ in range(count)]


def logged(sandbox: NexudusSandbox) -> list[tuple[int, str | None]]:
    return [(entry.status, entry.fault) for entry in sandbox.log_snapshot()]


# -- the knobs themselves --------------------------------------------------------------


def test_defaults_are_off_and_bad_values_are_rejected() -> None:
    assert SandboxFaults().active() == {}
    published = SandboxFaults.published_limits(limit_per_hour=10)
    assert (published.limit_per_100ms, published.limit_per_minute) == (1, 120)
    assert published.limit_per_hour == 10
    assert PUBLISHED_LIMITS == {
        "limit_per_100ms": 1,
        "limit_per_minute": 120,
        "limit_per_hour": 5000,
    }
    for bad in (
        {"throttle_rate": 1.5},
        {"error_rate": -0.1},
        {"reset_rate": 2},
        {"limit_per_minute": 0},
        {"limit_window_scale": 0},
        {"token_max_uses": 0},
        {"changes_every": -1},
        {"scripted_statuses": {0: 500}},
        {"scripted_statuses": {1: 42}},
        {"garbage_listing_requests": frozenset({0})},
        {"record_clock_offset_hours": 25},
        {"record_clock_offset_hours": math.nan},
        {"date_header": "later"},
        {"to_filter": "second"},
        {"shuffle_ties": "yes"},
        {"bulk_update_at_listing": -1},
        {"bulk_update_at_listing": 2},  # no jobs to update
        {"bulk_update_jobs": 5},  # never due
        {"bulk_update_at_listing": 2, "bulk_update_jobs": 5, "bulk_update_every": -1},
    ):
        with pytest.raises(ValueError):
            SandboxFaults(**bad)


# -- published limits ------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_limit_engine_retry_after_frees_a_slot_in_every_window() -> None:
    clock = FakeClock()
    engine = FaultEngine(clock)
    faults = SandboxFaults(limit_per_100ms=1, limit_per_minute=3, limit_per_hour=5)

    assert engine.admit(faults).fault is None
    clock.now += 0.05
    refused = engine.admit(faults)  # second request inside 100 ms
    assert (refused.fault, refused.status, refused.retry_after) == ("limit", 409, 1)
    clock.now += 0.06
    assert engine.admit(faults).fault is None  # the refused one consumed no budget
    clock.now += 0.2
    assert engine.admit(faults).fault is None  # 3 in the minute now
    clock.now += 0.2
    refused = engine.admit(faults)
    # The oldest of the 3 leaves the minute window 60 s after it came: 59.49 s from now.
    assert refused.retry_after == 60
    clock.now += refused.retry_after
    assert engine.admit(faults).fault is None  # honoured: through
    clock.now += 1
    assert engine.admit(faults).fault is None  # 5 in the hour
    clock.now += 61
    refused = engine.admit(faults)
    assert refused.fault == "limit"
    assert refused.retry_after == 3478  # the first request leaves the hour 3477.49 s from now
    clock.now += refused.retry_after
    assert engine.admit(faults).fault is None
    assert engine.requests == 9


def test_limit_window_scale_shrinks_minute_and_hour_but_not_100ms() -> None:
    clock = FakeClock()
    engine = FaultEngine(clock)
    faults = SandboxFaults(limit_per_minute=2, limit_window_scale=0.01)  # 0.6 s "minute"
    assert [engine.admit(faults).fault for _ in range(3)] == [None, None, "limit"]
    clock.now += 0.61
    assert engine.admit(faults).fault is None

    engine = FaultEngine(clock)
    faults = SandboxFaults(limit_per_100ms=1, limit_window_scale=0.01)
    assert [engine.admit(faults).fault for _ in range(2)] == [None, "limit"]
    clock.now += 0.05
    assert engine.admit(faults).fault == "limit"  # still 100 ms, not 1 ms
    clock.now += 0.06
    assert engine.admit(faults).fault is None


def test_limits_over_http_count_every_endpoint_and_retry_after_works(
    make_sandbox: Factory,
) -> None:
    clock = SimulatedClock(datetime(2026, 6, 1, tzinfo=timezone.utc))
    sandbox = make_sandbox(limit_per_minute=3, limit_window_scale=1 / 60, clock=clock)  # 1 s
    assert token(sandbox).status_code == 200
    assert get(sandbox).status_code == 200
    assert get(sandbox, LISTING + "/100001").status_code == 200
    refused = get(sandbox)
    assert refused.status_code == 409
    assert refused.content == b""
    retry_after = int(refused.headers["Retry-After"])
    assert retry_after == 1
    assert outcome(lambda: token(sandbox)) == 409  # the token endpoint is limited too
    clock.advance(timedelta(seconds=retry_after))  # the sandbox's clock, not a real wait
    assert get(sandbox).status_code == 200
    assert logged(sandbox) == [
        (200, None),
        (200, None),
        (200, None),
        (409, "limit"),
        (409, "limit"),
        (200, None),
    ]


def test_published_limits_refuse_a_burst(make_sandbox: Factory) -> None:
    sandbox = make_sandbox(**PUBLISHED_LIMITS)
    with requests.Session() as session:
        results = [session.get(sandbox.url + LISTING, headers=AUTH, timeout=5) for _ in range(5)]
    assert results[0].status_code == 200
    refused = [r for r in results if r.status_code == 409]  # one request per 100 ms
    assert refused, [r.status_code for r in results]
    assert all(r.headers["Retry-After"] == "1" and r.content == b"" for r in refused)


# -- random faults ---------------------------------------------------------------------


def test_throttle_rate_is_seeded_and_sends_retry_after(make_sandbox: Factory) -> None:
    knobs = {"throttle_rate": 0.4, "throttle_retry_after": 3, "seed": 7}
    one, two = make_sandbox(**knobs), make_sandbox(**knobs)
    first, second = statuses(one, 30), statuses(two, 30)
    assert first == second
    assert set(first) == {200, 409} and 4 <= first.count(409) <= 26
    other = statuses(make_sandbox(**{**knobs, "seed": 8}), 30)
    assert other != first
    throttled = get(make_sandbox(throttle_rate=1.0, throttle_retry_after=3))
    assert throttled.status_code == 409
    assert throttled.headers["Retry-After"] == "3" and throttled.content == b""
    assert [fault for status, fault in logged(one) if status == 409] == ["throttle"] * first.count(
        409
    )


def test_error_rate_answers_500_502_503(make_sandbox: Factory) -> None:
    knobs = {"error_rate": 0.5, "seed": 3}
    one, two = make_sandbox(**knobs), make_sandbox(**knobs)
    first = statuses(one, 40)
    assert first == statuses(two, 40)
    assert set(first) == {200, 500, 502, 503}
    assert {fault for status, fault in logged(one) if status != 200} == {"error"}

    always = make_sandbox(error_rate=1.0, seed=1)
    bodies = {}
    for _ in range(15):
        response = get(always)
        bodies[response.status_code] = response
    assert set(bodies) == {500, 502, 503}
    assert bodies[500].json() == {"Message": "An error has occurred."}
    for status in (502, 503):
        assert bodies[status].headers["Content-Type"].startswith("text/html")
        assert b"<html>" in bodies[status].content and len(bodies[status].content) < 500


def test_reset_drops_the_connection_and_the_server_keeps_serving(
    make_sandbox: Factory,
) -> None:
    knobs = {"reset_rate": 0.5, "seed": 4}
    one, two = make_sandbox(**knobs), make_sandbox(**knobs)
    with requests.Session() as session:  # keep-alive: resets must not break later requests
        first = [
            outcome(lambda: session.get(one.url + LISTING, headers=AUTH, timeout=5))
            for _ in range(20)
        ]
    assert set(first) == {0, 200}
    assert statuses(two, 20) == first  # same seed, same resets (with or without keep-alive)
    assert {fault for status, fault in logged(one) if status == 0} == {"reset"}
    assert [status for status, _ in logged(one)] == first

    with pytest.raises(requests.ConnectionError):
        get(make_sandbox(reset_rate=1.0))
    one.faults = SandboxFaults()
    assert get(one).status_code == 200
    assert one._thread is not None and one._thread.is_alive()


def test_scripted_statuses_number_every_request(make_sandbox: Factory) -> None:
    sandbox = make_sandbox(scripted_statuses={2: 409, 3: 503, 4: 0, 6: 401}, throttle_retry_after=2)
    results = [
        outcome(lambda: token(sandbox)),  # 1
        outcome(lambda: get(sandbox)),  # 2
        outcome(lambda: get(sandbox, LISTING + "/100001")),  # 3
        outcome(lambda: token(sandbox)),  # 4
        outcome(lambda: get(sandbox)),  # 5
        outcome(lambda: get(sandbox)),  # 6
        outcome(lambda: get(sandbox)),  # 7
    ]
    assert results == [200, 409, 503, 0, 200, 401, 200]
    entries = sandbox.log_snapshot()
    assert [entry.number for entry in entries] == list(range(1, 8))
    assert [entry.fault for entry in entries] == [
        None,
        "scripted",
        "scripted",
        "scripted",
        None,
        "scripted",
        None,
    ]
    sandbox.clear_log()
    sandbox.faults = SandboxFaults(scripted_statuses={8: 409, 9: 500}, throttle_retry_after=2)
    conflict, failure = get(sandbox), get(sandbox)
    assert conflict.headers["Retry-After"] == "2" and conflict.content == b""
    assert failure.status_code == 500 and "Message" in failure.json()
    assert sandbox.requests_received == 9


def test_garbage_listing_pages_are_200_html(make_sandbox: Factory) -> None:
    sandbox = make_sandbox(garbage_listing_requests=frozenset({2, 4}))
    first = get(sandbox)
    assert token(sandbox).status_code == 200  # not a listing request: not counted
    assert get(sandbox, LISTING + "/100001").status_code == 200
    second, third, fourth = get(sandbox), get(sandbox), get(sandbox)
    assert first.json()["Records"] and third.json()["Records"]
    for garbage in (second, fourth):
        assert garbage.status_code == 200
        assert garbage.headers["Content-Type"].startswith("text/html")
        assert garbage.text.startswith("<!DOCTYPE html>")
        with pytest.raises(ValueError):
            garbage.json()
    listing_faults = [e.fault for e in sandbox.log_snapshot() if e.path == LISTING]
    assert listing_faults == [None, "garbage", None, "garbage"]


def test_ignore_page_by_id_serves_page_1_under_any_page_number(make_sandbox: Factory) -> None:
    sandbox = make_sandbox(records=30, ignore_page_by_id=True)
    by_id = LISTING + "?orderBy=Id&dir=1&size=10&page="
    first, third = get(sandbox, by_id + "1").json(), get(sandbox, by_id + "3").json()
    assert [r["Id"] for r in third["Records"]] == [r["Id"] for r in first["Records"]]
    assert (third["CurrentPage"], third["HasNextPage"]) == (3, True)
    # Other orders page as usual.
    by_time = get(sandbox, LISTING + "?orderBy=UpdatedOn&dir=1&size=10&page=3").json()
    assert by_time["CurrentPage"] == 3 and by_time["HasNextPage"] is False


def test_garbage_listing_format_json_is_a_notice_without_records(make_sandbox: Factory) -> None:
    sandbox = make_sandbox(garbage_listing_requests=frozenset({1}), garbage_listing_format="json")
    notice, listing = get(sandbox), get(sandbox)
    assert notice.status_code == 200 and notice.json() == {
        "Message": "The service is being updated"
    }
    assert listing.json()["Records"]


def test_get_one_missing_answers_404_while_the_listing_shows_the_job(make_sandbox: Factory) -> None:
    sandbox = make_sandbox(records=10)
    first = min(sandbox.served_ids())
    sandbox.faults = SandboxFaults(get_one_missing=frozenset({first}))
    assert get(sandbox, f"{LISTING}/{first}").status_code == 404
    assert get(sandbox, f"{LISTING}/{first + 1}").status_code == 200
    assert first in {r["Id"] for r in get(sandbox).json()["Records"]}


def test_timestamp_format_slashed_is_month_first_without_a_zone(make_sandbox: Factory) -> None:
    sandbox = make_sandbox(records=5, timestamp_format="slashed")
    record = get(sandbox).json()["Records"][0]
    stored = sandbox.current_versions()[record["Id"]]  # 2026-06-11T18:12:29Z
    assert record["UpdatedOn"] == f"{stored[5:7]}/{stored[8:10]}/{stored[:4]} {stored[11:19]}"


def test_token_max_uses_expires_issued_tokens(make_sandbox: Factory) -> None:
    sandbox = make_sandbox(token_max_uses=3)

    def bearer(access: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {access}"}

    issued = token(sandbox).json()
    headers = bearer(issued["access_token"])
    used = [get(sandbox, headers=headers).status_code for _ in range(3)]
    used.append(get(sandbox, LISTING + "/100001", headers=headers).status_code)
    assert used == [200, 200, 200, 401]
    assert get(sandbox, headers=headers).json() == {
        "Message": "Authorization has been denied for this request."
    }
    assert sandbox.log_snapshot()[-1].fault == "token-expired"

    again = token(sandbox).json()  # a new password grant works again
    assert [get(sandbox, headers=bearer(again["access_token"])).status_code for _ in range(4)] == [
        200,
        200,
        200,
        401,
    ]
    refresh = {"grant_type": "refresh_token", "refresh_token": again["refresh_token"]}
    refreshed = requests.post(
        sandbox.url + "/api/token",
        data=refresh,
        headers={"client_id": "demo@example.com"},
        timeout=5,
    ).json()
    assert get(sandbox, headers=bearer(refreshed["access_token"])).status_code == 200
    # The static token and Basic auth are never used up.
    assert {get(sandbox).status_code for _ in range(5)} == {200}
    basic = ("demo@example.com", "demo-password")
    assert {get(sandbox, headers={}, auth=basic).status_code for _ in range(5)} == {200}


def record_touches(sandbox: NexudusSandbox, monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Record the Ids of every ``touch`` call (the changes knob goes through touch)."""
    calls: list[list[int]] = []
    original = sandbox.touch

    def touch(ids: Any, at: datetime | None = None, status: str | None = None) -> None:
        calls.append(list(ids))
        original(calls[-1], at, status)

    monkeypatch.setattr(sandbox, "touch", touch)
    return calls


def test_changes_touch_jobs_between_listing_requests(
    make_sandbox: Factory, monkeypatch: pytest.MonkeyPatch
) -> None:
    knobs = {"changes_every": 2, "changes_per_burst": 4, "seed": 9}
    sandbox, twin = make_sandbox(records=50, **knobs), make_sandbox(records=50, **knobs)
    touches, twin_touches = record_touches(sandbox, monkeypatch), record_touches(twin, monkeypatch)
    callback_saw: list[tuple[int, int]] = []
    # The knob composes with a callback: both run, the knob's change first.
    sandbox.on_listing_request = lambda count: callback_saw.append((count, len(touches)))

    changed_before: dict[int, list[int]] = {}
    for number in range(1, 7):
        started = datetime.now(timezone.utc).replace(microsecond=0)
        calls_before = len(touches)
        assert get(sandbox, params={"orderBy": "UpdatedOn"}).status_code == 200
        changed_before[number] = [i for call in touches[calls_before:] for i in call]
        for job_id in changed_before[number]:
            updated = sandbox.jobs[job_id]["UpdatedOn"]
            assert updated >= started and updated.microsecond == 0
    assert callback_saw == [(1, 0), (2, 1), (3, 1), (4, 2), (5, 2), (6, 3)]
    assert [len(set(changed_before[n])) for n in range(1, 7)] == [0, 4, 0, 4, 0, 4]
    listing_faults = [e.fault for e in sandbox.log_snapshot()]
    assert listing_faults == [None, "changes", None, "changes", None, "changes"]
    # The touched jobs are what an UpdatedOn listing now ends with.
    changed = {job_id for ids in changed_before.values() for job_id in ids}
    newest = get(sandbox, params={"orderBy": "UpdatedOn", "dir": -1, "size": len(changed)})
    assert {record["Id"] for record in newest.json()["Records"]} == changed

    for _ in range(4):
        get(twin)
    assert twin_touches == [changed_before[2], changed_before[4]]  # same seed, same jobs


def test_changes_every_one_changes_before_every_request_but_the_first(
    make_sandbox: Factory,
) -> None:
    sandbox = make_sandbox(changes_every=1, changes_per_burst=1)
    for _ in range(4):
        get(sandbox)
    assert [e.fault for e in sandbox.log_snapshot()] == [None, "changes", "changes", "changes"]


# -- clocks, ties and bulk updates -----------------------------------------------------


def listing_json(sandbox: NexudusSandbox, **params: str | int) -> dict[str, Any]:
    response = get(sandbox, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def newest(sandbox: NexudusSandbox, size: int = 1) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = listing_json(sandbox, orderBy="UpdatedOn", dir=-1, size=size)[
        "Records"
    ]
    return records


@pytest.mark.parametrize("hours", [10.0, -5.0, 5.5])
def test_record_clock_offset_stamps_changes_and_new_jobs_but_not_the_date_header(
    make_sandbox: Factory, hours: float
) -> None:
    sandbox = make_sandbox(records=40, record_clock_offset_hours=hours)
    offset = timedelta(hours=hours)
    touched = min(sandbox.served_ids())
    sandbox.touch([touched])
    (added,) = sandbox.add_jobs(1)
    response = get(sandbox, params={"orderBy": "UpdatedOn", "dir": -1, "size": 2})
    server_time = parsedate_to_datetime(response.headers["Date"])
    records = {record["Id"]: record for record in response.json()["Records"]}

    assert set(records) == {touched, added}
    assert abs(server_time - datetime.now(timezone.utc)) < timedelta(seconds=3)  # true UTC
    for stamped in (
        records[touched]["UpdatedOn"],
        records[added]["UpdatedOn"],
        records[added]["CreatedOn"],
    ):
        assert stamped.endswith("Z")
        assert abs(stamp(stamped) - (server_time + offset)) < timedelta(seconds=3), stamped
    # An explicit time is stored as given: the offset is the clock's, not the caller's.
    explicit = datetime(2031, 1, 1, 12, 0, tzinfo=timezone.utc)
    sandbox.touch([touched], at=explicit)
    assert sandbox.current_versions()[touched] == "2031-01-01T12:00:00Z"
    # Range filters compare stored values as they are: the offset minute finds the new job.
    shifted = (server_time + offset).strftime("%Y-%m-%dT%H:%M")
    found = listing_json(sandbox, from_BusinessBackgroundJob_UpdatedOn=shifted, size=100)
    assert added in [record["Id"] for record in found["Records"]]
    true_minute = (server_time - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    since_true = listing_json(sandbox, from_BusinessBackgroundJob_UpdatedOn=true_minute)
    assert (added in [r["Id"] for r in since_true["Records"]]) == (hours > 0)


def test_record_clock_offset_applies_to_the_changes_knob(make_sandbox: Factory) -> None:
    sandbox = make_sandbox(
        records=40, changes_every=1, changes_per_burst=3, record_clock_offset_hours=-5
    )
    get(sandbox)
    response = get(sandbox, params={"orderBy": "UpdatedOn", "dir": -1, "size": 3})
    server_time = parsedate_to_datetime(response.headers["Date"])
    for record in response.json()["Records"]:
        behind = server_time - stamp(record["UpdatedOn"])
        assert timedelta(hours=5) - timedelta(seconds=3) < behind < timedelta(hours=5, seconds=3)


def test_date_header_true_missing_or_seven_hours_ahead(make_sandbox: Factory) -> None:
    for mode, ahead in (("true", timedelta(0)), ("wrong", timedelta(hours=7))):
        sandbox = make_sandbox(date_header=mode)
        for response in (get(sandbox), get(sandbox, "/nowhere"), token(sandbox)):
            sent = parsedate_to_datetime(response.headers["Date"])
            assert abs(sent - datetime.now(timezone.utc) - ahead) < timedelta(seconds=3), mode
    missing = make_sandbox(date_header="missing", throttle_rate=1.0)
    throttled = get(missing)
    assert throttled.status_code == 409 and "Date" not in throttled.headers
    missing.faults = SandboxFaults(date_header="missing")
    for response in (get(missing), get(missing, "/nowhere"), token(missing)):
        assert response.status_code in (200, 404)
        assert "Date" not in response.headers
        assert response.headers["Server"].startswith("NexudusSandbox")


def tied_sandbox(make_sandbox: Factory, seed: int = 3) -> tuple[NexudusSandbox, list[int]]:
    """A sandbox where 40 jobs share one UpdatedOn second, newest of all."""
    sandbox = make_sandbox(records=80, shuffle_ties=True, seed=seed)
    tied = sorted(sandbox.served_ids())[:40]
    sandbox.touch(tied, at=datetime(2031, 5, 1, 9, 30, 15, tzinfo=timezone.utc))
    return sandbox, tied


TIE_WINDOW = {"from_BusinessBackgroundJob_UpdatedOn": "2031-05-01T09:30"}


def test_shuffle_ties_reorders_equal_updated_on_on_every_request(make_sandbox: Factory) -> None:
    sandbox, tied = tied_sandbox(make_sandbox)
    hits = sandbox._updated_index.hits
    orders = [
        [
            r["Id"]
            for r in listing_json(sandbox, orderBy="UpdatedOn", size=100, **TIE_WINDOW)["Records"]
        ]
        for _ in range(3)
    ]
    assert all(sorted(order) == tied for order in orders)
    assert len({tuple(order) for order in orders}) == 3  # a new order every time
    assert sandbox._updated_index.hits == hits + 3  # the index path honours the knob
    # Paging through a tie group shows some jobs twice and others never.
    paged = [
        r["Id"]
        for number in (1, 2, 3)
        for r in listing_json(sandbox, orderBy="UpdatedOn", size=15, page=number, **TIE_WINDOW)[
            "Records"
        ]
    ]
    assert len(paged) == 40 and len(set(paged)) < 40
    # Distinct values keep their order: only ties move.
    everything = listing_json(sandbox, orderBy="UpdatedOn", size=100)["Records"]
    stamps = [record["UpdatedOn"] for record in everything]
    assert stamps == sorted(stamps)
    assert [r["Id"] for r in everything[-40:]] != tied


def test_shuffle_ties_leaves_id_order_stable_and_shuffles_other_fields(
    make_sandbox: Factory,
) -> None:
    sandbox, _tied = tied_sandbox(make_sandbox)
    by_id = [listing_json(sandbox, orderBy="Id", size=100, **TIE_WINDOW) for _ in range(2)]
    assert by_id[0] == by_id[1]
    assert [r["Id"] for r in by_id[0]["Records"]] == sorted(r["Id"] for r in by_id[0]["Records"])
    by_status = [
        [r["Id"] for r in listing_json(sandbox, orderBy="Status", dir=-1, size=100)["Records"]]
        for _ in range(2)
    ]
    assert by_status[0] != by_status[1] and sorted(by_status[0]) == sorted(by_status[1])
    statuses_seen = [sandbox.jobs[job_id]["Status"].casefold() for job_id in by_status[0]]
    assert statuses_seen == sorted(statuses_seen, reverse=True)


def test_shuffle_ties_is_seeded_per_listing_request(make_sandbox: Factory) -> None:
    one, _ = tied_sandbox(make_sandbox)
    two, _ = tied_sandbox(make_sandbox)
    params: dict[str, str | int] = {"orderBy": "UpdatedOn", "size": 100, **TIE_WINDOW}
    first = [listing_json(one, **params) for _ in range(3)]
    assert [listing_json(two, **params) for _ in range(3)] == first  # same seed, same orders
    text_params = {key: str(value) for key, value in params.items()}
    # Request n's order is what render_listing gives for listing number n, on both paths.
    assert one.render_listing(text_params, listing_number=2) == first[1]
    assert one.render_listing(text_params, listing_number=2, indexed=False) == first[1]
    other, _ = tied_sandbox(make_sandbox, seed=4)
    assert [listing_json(other, **params) for _ in range(3)] != first


def test_bulk_update_gives_more_than_a_page_one_timestamp_now(make_sandbox: Factory) -> None:
    knobs = {
        "bulk_update_at_listing": 2,
        "bulk_update_jobs": 60,
        "record_clock_offset_hours": -5.0,
        "seed": 2,
    }
    sandbox, twin = make_sandbox(records=150, **knobs), make_sandbox(records=150, **knobs)
    before = sandbox.current_versions()
    get(sandbox)
    assert sandbox.current_versions() == before  # not before request 1
    second = get(sandbox, params={"orderBy": "UpdatedOn", "dir": -1, "size": 100})
    server_time = parsedate_to_datetime(second.headers["Date"])
    after = sandbox.current_versions()
    changed = {job_id for job_id in after if after[job_id] != before[job_id]}
    assert len(changed) == 60
    (bulk_stamp,) = {after[job_id] for job_id in changed}  # one shared UpdatedOn
    behind = server_time - stamp(bulk_stamp)
    assert timedelta(hours=5) - timedelta(seconds=3) < behind < timedelta(hours=5, seconds=3)
    # The request it preceded already shows them, as the newest.
    assert {r["Id"] for r in second.json()["Records"][:60]} == changed
    get(sandbox)
    assert sandbox.current_versions() == after  # once only
    assert [e.fault for e in sandbox.log_snapshot()] == [None, "bulk-update", None]

    twin_before = twin.current_versions()
    get(twin), get(twin)
    twin_after = twin.current_versions()
    assert {i for i in twin_after if twin_after[i] != twin_before[i]} == changed  # seeded


def test_bulk_update_every_repeats(make_sandbox: Factory) -> None:
    sandbox = make_sandbox(
        records=50, bulk_update_at_listing=2, bulk_update_jobs=5, bulk_update_every=3
    )
    for _ in range(9):
        get(sandbox)
    faults = [e.fault for e in sandbox.log_snapshot()]
    assert [n for n, fault in enumerate(faults, start=1) if fault == "bulk-update"] == [2, 5, 8]


# -- determinism and secrets -----------------------------------------------------------


def test_same_seed_same_fault_sequence_across_knobs(make_sandbox: Factory) -> None:
    knobs = {
        "seed": 11,
        "throttle_rate": 0.2,
        "error_rate": 0.2,
        "reset_rate": 0.1,
        "scripted_statuses": {5: 418},
    }
    runs = []
    for _ in range(2):
        sandbox = make_sandbox(**knobs)
        statuses(sandbox, 40)
        runs.append(logged(sandbox))
    assert runs[0] == runs[1]
    assert {fault for _, fault in runs[0]} == {None, "throttle", "error", "reset", "scripted"}


def test_replacing_faults_reseeds(make_sandbox: Factory) -> None:
    sandbox = make_sandbox(throttle_rate=0.5, seed=2)
    first = statuses(sandbox, 15)
    sandbox.faults = SandboxFaults(throttle_rate=0.5, seed=2)
    assert statuses(sandbox, 15) == first
    sandbox.faults.seed = 3  # changing the seed in place reseeds too
    third = statuses(sandbox, 15)
    sandbox.faults = SandboxFaults(throttle_rate=0.5, seed=3)
    assert statuses(sandbox, 15) == third


def test_issued_secrets_holds_every_token_issued(make_sandbox: Factory) -> None:
    sandbox = make_sandbox()
    assert sandbox.issued_secrets() == set()
    first = token(sandbox).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    second = requests.post(
        sandbox.url + "/api/token",
        data=refresh,
        headers={"client_id": "demo@example.com"},
        timeout=5,
    ).json()
    expected = {first[k] for k in ("access_token", "refresh_token")}
    expected |= {second[k] for k in ("access_token", "refresh_token")}
    assert sandbox.issued_secrets() == expected
    assert "sandbox-token" not in sandbox.issued_secrets()


# -- command line ----------------------------------------------------------------------


def test_cli_flags_build_the_faults() -> None:
    parser = build_parser()
    args = parser.parse_args(
        [
            "--published-limits",
            "--limit-per-hour",
            "50",
            "--limit-window-scale",
            "0.5",
            "--throttle-rate",
            "0.1",
            "--throttle-retry-after",
            "2",
            "--error-rate",
            "0.2",
            "--reset-rate",
            "0.05",
            "--token-max-uses",
            "7",
            "--changes-every",
            "3",
            "--changes-per-burst",
            "4",
            "--garbage-listing-requests",
            "3,7",
            "--scripted-statuses",
            "5:500,9:409",
            "--fault-seed",
            "99",
            "--latency-ms",
            "5",
            "--record-clock-offset-hours",
            "-5",
            "--date-header",
            "wrong",
            "--shuffle-ties",
            "--to-filter",
            "instant",
            "--bulk-update-at-listing",
            "3",
            "--bulk-update-jobs",
            "250",
            "--bulk-update-every",
            "4",
        ]
    )
    assert faults_from_args(args) == SandboxFaults(
        latency_ms=5,
        seed=99,
        limit_per_100ms=1,
        limit_per_minute=120,
        limit_per_hour=50,
        limit_window_scale=0.5,
        throttle_rate=0.1,
        throttle_retry_after=2,
        error_rate=0.2,
        reset_rate=0.05,
        scripted_statuses={5: 500, 9: 409},
        garbage_listing_requests=frozenset({3, 7}),
        token_max_uses=7,
        changes_every=3,
        changes_per_burst=4,
        record_clock_offset_hours=-5.0,
        date_header="wrong",
        shuffle_ties=True,
        to_filter="instant",
        bulk_update_at_listing=3,
        bulk_update_jobs=250,
        bulk_update_every=4,
    )
    assert faults_from_args(parser.parse_args([])) == SandboxFaults()
    help_text = parser.format_help()
    for flag in (
        "--limit-per-100ms",
        "--limit-per-minute",
        "--limit-per-hour",
        "--limit-window-scale",
        "--throttle-rate",
        "--throttle-retry-after",
        "--error-rate",
        "--reset-rate",
        "--token-max-uses",
        "--changes-every",
        "--changes-per-burst",
        "--garbage-listing-requests",
        "--scripted-statuses",
        "--fault-seed",
        "--published-limits",
        "--record-clock-offset-hours",
        "--date-header",
        "--shuffle-ties",
        "--to-filter",
        "--bulk-update-at-listing",
        "--bulk-update-jobs",
        "--bulk-update-every",
    ):
        assert flag in help_text


@pytest.mark.parametrize(
    "argv",
    [
        ["--throttle-rate", "2"],
        ["--garbage-listing-requests", "a,b"],
        ["--scripted-statuses", "5"],
        ["--limit-per-minute", "0"],
        ["--record-clock-offset-hours", "30"],
        ["--date-header", "sometimes"],
        ["--to-filter", "second"],
        ["--bulk-update-at-listing", "2"],
    ],
)
def test_cli_rejects_bad_fault_values(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err


# -- record clock jumps, the injectable clock, live-API variants (issue 13) -------------

FALL_BACK = datetime(2026, 10, 25, 1, 0, tzinfo=timezone.utc)  # end of summer time, EU


@pytest.mark.parametrize(
    "bad",
    [
        {"record_clock_jump_minutes": -60},  # no instant: would never jump
        {"record_clock_jump_at": FALL_BACK},  # no minutes: would not jump
        {"record_clock_jump_at": datetime(2026, 10, 25, 1), "record_clock_jump_minutes": -60},
        {"record_clock_jump_at": FALL_BACK, "record_clock_jump_minutes": 100 * 366 * 24 * 60 + 1},
        # A jump that ends before it starts, or ends without having started.
        {
            "record_clock_jump_at": FALL_BACK,
            "record_clock_jump_minutes": 600,
            "record_clock_jump_until": FALL_BACK,
        },
        {"record_clock_jump_until": FALL_BACK},
        {"stray_write_at": FALL_BACK},  # no stamp: would write nothing stray
        {"stray_write_stamp": datetime(2099, 1, 1, tzinfo=timezone.utc)},
        {"stray_write_at": datetime(2026, 10, 25), "stray_write_stamp": FALL_BACK},  # naive
        {"timestamp_format": "millis"},
        {"throttle_status": 503},
        {"retry_after_format": "minutes"},
        {"purge_every": -1},
        {"purge_per_burst": -2},
    ],
)
def test_new_knobs_reject_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        SandboxFaults(**bad)


def test_record_clock_jump_at_may_be_given_as_iso_text() -> None:
    # For faults given as JSON (benchmarks.harness.SandboxProcess).
    faults = SandboxFaults(
        record_clock_jump_at="2026-10-25T01:00:00Z",  # type: ignore[arg-type]
        record_clock_jump_minutes=-60,
    )
    assert faults.record_clock_jump_at == FALL_BACK
    with pytest.raises(ValueError, match="not ISO 8601"):
        SandboxFaults(
            record_clock_jump_at="soon",  # type: ignore[arg-type]
            record_clock_jump_minutes=-60,
        )


def clocked(records: int = 30, **faults: Any) -> tuple[NexudusSandbox, SimulatedClock]:
    clock = SimulatedClock(FALL_BACK - timedelta(minutes=30))
    return NexudusSandbox(
        records=records, seed=5, faults=SandboxFaults(**faults), clock=clock
    ), clock


@pytest.mark.parametrize("minutes", [-60, 60, -37])
def test_record_clock_jumps_at_the_chosen_instant(minutes: int) -> None:
    # Local summer time stamped Z: an hour ahead of UTC until the jump.
    sandbox, clock = clocked(
        record_clock_offset_hours=1,
        record_clock_jump_at=FALL_BACK,
        record_clock_jump_minutes=minutes,
    )
    first, second, third = sorted(sandbox.served_ids())[:3]
    with sandbox:
        sandbox.touch([first])
        clock.set(FALL_BACK - timedelta(seconds=1))
        sandbox.touch([second])
        clock.set(FALL_BACK)
        sandbox.touch([third])
        response = get(sandbox, params={"orderBy": "UpdatedOn", "dir": -1, "size": 3})
    stamps = {r["Id"]: r["UpdatedOn"] for r in response.json()["Records"]}

    assert stamps[first] == "2026-10-25T01:30:00Z"
    assert stamps[second] == "2026-10-25T01:59:59Z"
    after = FALL_BACK + timedelta(hours=1, minutes=minutes)
    assert stamps[third] == after.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The Date header is the injected clock's true UTC, untouched by the record clock.
    assert parsedate_to_datetime(response.headers["Date"]) == FALL_BACK


def test_a_record_clock_jump_of_any_size_ends_at_the_chosen_instant() -> None:
    # Issue 19: ten hours ahead for half an hour, then corrected.
    sandbox, clock = clocked(
        record_clock_jump_at=FALL_BACK,
        record_clock_jump_minutes=600,
        record_clock_jump_until=FALL_BACK + timedelta(minutes=30),
    )
    first, second, third = sorted(sandbox.served_ids())[:3]
    with sandbox:
        clock.set(FALL_BACK)
        sandbox.touch([first])
        clock.set(FALL_BACK + timedelta(minutes=29, seconds=59))
        sandbox.touch([second])
        clock.set(FALL_BACK + timedelta(minutes=30))
        sandbox.touch([third])
        stamps = sandbox.current_versions()
    assert stamps[first] == "2026-10-25T11:00:00Z"
    assert stamps[second] == "2026-10-25T11:29:59Z"
    assert stamps[third] == "2026-10-25T01:30:00Z"
    # A century ahead is a jump the knob takes too.
    assert SandboxFaults(record_clock_jump_at=FALL_BACK, record_clock_jump_minutes=52_560_000)


def test_one_stray_write_gets_the_far_future_stamp_once() -> None:
    stray = datetime(2099, 1, 1, tzinfo=timezone.utc)
    sandbox, clock = clocked(
        stray_write_at=FALL_BACK.isoformat(),
        stray_write_stamp=stray,
    )
    first, second, third = sorted(sandbox.served_ids())[:3]
    with sandbox:
        sandbox.touch([first])  # before the instant: the record clock's now
        clock.set(FALL_BACK)
        sandbox.touch([second])
        sandbox.touch([third])
        stamps = sandbox.current_versions()
    assert stamps[first] == "2026-10-25T00:30:00Z"
    assert stamps[second] == "2099-01-01T00:00:00Z"
    assert stamps[third] == "2026-10-25T01:00:00Z"


def test_the_changes_knob_and_new_jobs_follow_the_jumped_record_clock() -> None:
    sandbox, clock = clocked(
        changes_every=1,
        changes_per_burst=2,
        record_clock_jump_at=FALL_BACK,
        record_clock_jump_minutes=-60,
    )
    clock.set(FALL_BACK + timedelta(minutes=5))
    with sandbox:
        get(sandbox)
        (added,) = sandbox.add_jobs(1)
        records = get(sandbox, params={"orderBy": "UpdatedOn", "dir": -1, "size": 3}).json()
    expected = "2026-10-25T00:05:00Z"  # 01:05 UTC, an hour behind after the fall-back
    assert [r["UpdatedOn"] for r in records["Records"]] == [expected] * 3
    assert added in [r["Id"] for r in records["Records"]]


def test_simulated_clock_stands_still_until_moved_and_can_run() -> None:
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    clock = SimulatedClock(start)
    assert clock() == start
    assert clock.advance(timedelta(minutes=90)) == start + timedelta(minutes=90)
    clock.set(start)
    assert clock() == start
    running = SimulatedClock(start, running=True)
    time.sleep(0.02)
    assert start < running() < start + timedelta(seconds=5)
    with pytest.raises(ValueError):
        SimulatedClock(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("fmt", "pattern"),
    [
        ("seconds", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
        ("ticks", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z"),
        ("ticks-no-z", r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}"),
    ],
)
def test_timestamp_format_writes_seven_digit_ticks_with_or_without_z(
    make_sandbox: Factory, fmt: str, pattern: str
) -> None:
    sandbox = make_sandbox(records=200, timestamp_format=fmt)
    listed = listing_json(sandbox, orderBy="UpdatedOn", dir=1, size=200)["Records"]
    one = get(sandbox, f"{LISTING}/{listed[0]['Id']}").json()
    whole = sandbox.current_versions()

    for record in [*listed, one]:
        for name in ("UpdatedOn", "CreatedOn"):
            assert re.fullmatch(pattern, record[name]), record[name]
        # Same second as stored, so minute filters mean what they meant.
        assert record["UpdatedOn"][:19] == whole[record["Id"]][:19]
    assert one["UpdatedOn"] == sandbox.rendered_versions()[one["Id"]]
    assert one["UpdatedOn"] == next(r for r in listed if r["Id"] == one["Id"])["UpdatedOn"]
    # The rendered values sort exactly as the server listed them.
    stamps = [r["UpdatedOn"] for r in listed]
    assert stamps == sorted(stamps)
    if fmt != "seconds":
        assert len({s[20:27] for s in stamps}) > 50  # not one constant fraction


@pytest.mark.parametrize("status", [409, 429])
def test_throttling_as_429_with_an_http_date_retry_after(
    make_sandbox: Factory, status: int
) -> None:
    sandbox = make_sandbox(
        throttle_rate=1.0,
        throttle_retry_after=2,
        throttle_status=status,
        retry_after_format="http-date",
    )
    before = time.time()
    response = get(sandbox)
    assert response.status_code == status and response.content == b""
    until = parsedate_to_datetime(response.headers["Retry-After"]).timestamp()
    # Rounded up to a whole second: never earlier than 2 s from the answer.
    assert before + 2 <= until <= time.time() + 3
    assert sandbox.log_snapshot()[-1].retry_after == response.headers["Retry-After"]


def test_published_limits_and_scripted_429_use_the_throttle_knobs(make_sandbox: Factory) -> None:
    limited = make_sandbox(limit_per_100ms=1, throttle_status=429)
    assert statuses(limited, 2) == [200, 429]
    assert [fault for _, fault in logged(limited)] == [None, "limit"]
    scripted = make_sandbox(scripted_statuses={1: 429}, throttle_retry_after=1)
    response = get(scripted)
    assert (response.status_code, response.headers["Retry-After"]) == (429, "1")


def test_purge_deletes_seeded_jobs_before_chosen_listing_requests(make_sandbox: Factory) -> None:
    knobs = {"purge_every": 2, "purge_per_burst": 3, "seed": 4}
    sandbox, twin = make_sandbox(records=40, **knobs), make_sandbox(records=40, **knobs)
    sizes = []
    for _ in range(5):
        sizes.append(listing_json(sandbox, size=100)["TotalItems"])
        listing_json(twin, size=100)
    assert sizes == [40, 37, 37, 34, 34]  # before requests 2 and 4
    assert sandbox.served_ids() == twin.served_ids()
    assert [fault for _, fault in logged(sandbox)] == [None, "purge", None, "purge", None]
    gone = min(set(range(100001, 100041)) - sandbox.served_ids())
    assert get(sandbox, f"{LISTING}/{gone}").status_code == 404


def test_cli_flags_for_the_new_knobs(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        [
            "--record-clock-jump-at",
            "2026-10-25T01:00Z",
            "--record-clock-jump-minutes",
            "-60",
            "--timestamp-format",
            "ticks-no-z",
            "--throttle-status",
            "429",
            "--retry-after-format",
            "http-date",
            "--purge-every",
            "3",
            "--purge-per-burst",
            "2",
            "--clock-start",
            "2026-10-25T00:59:00+00:00",
        ]
    )
    assert faults_from_args(args) == SandboxFaults(
        record_clock_jump_at=FALL_BACK,
        record_clock_jump_minutes=-60,
        timestamp_format="ticks-no-z",
        throttle_status=429,
        retry_after_format="http-date",
        purge_every=3,
        purge_per_burst=2,
    )
    clock = clock_from_args(args)
    assert FALL_BACK - timedelta(minutes=1) <= clock() < FALL_BACK
    for argv in (
        ["--record-clock-jump-at", "2026-10-25T01:00"],  # no Z: which clock?
        ["--record-clock-jump-minutes", "-60"],  # no instant
        ["--throttle-status", "503"],
        ["--timestamp-format", "millis"],
    ):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 2
        assert "error" in capsys.readouterr().err


def test_every_knob_has_a_flag_generated_from_its_declaration() -> None:
    """The CLI is generated from SandboxFaults: a new knob gets its flag, and help text."""
    parser = build_parser()
    by_dest = {action.dest: action for action in parser._actions}
    for knob in dataclasses.fields(SandboxFaults):
        flag = by_dest.get(f"knob_{knob.name}")
        assert flag is not None, f"SandboxFaults.{knob.name} has no command-line flag"
        assert flag.help, knob.name
    # Each knob is set by its own flag: setting one changes that knob alone.
    assert faults_from_args(parser.parse_args(["--seed", "9"])) == SandboxFaults()
    assert faults_from_args(parser.parse_args(["--fault-seed", "9"])) == SandboxFaults(seed=9)
