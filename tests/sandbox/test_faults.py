"""The sandbox's fault knobs: each fires as specified, deterministically for a seed."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest
import requests

from tap_nexudus_jobs.sandbox import PUBLISHED_LIMITS, NexudusSandbox, SandboxFaults
from tap_nexudus_jobs.sandbox.__main__ import build_parser, faults_from_args, main
from tap_nexudus_jobs.sandbox.faults import FaultEngine

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

    def make(records: int = 30, **faults: Any) -> NexudusSandbox:
        sandbox = NexudusSandbox(records=records, seed=5, faults=SandboxFaults(**faults))
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
    sandbox = make_sandbox(limit_per_minute=3, limit_window_scale=1 / 60)  # 1 s window
    assert token(sandbox).status_code == 200
    assert get(sandbox).status_code == 200
    assert get(sandbox, LISTING + "/100001").status_code == 200
    refused = get(sandbox)
    assert refused.status_code == 409
    assert refused.content == b""
    retry_after = int(refused.headers["Retry-After"])
    assert retry_after == 1
    assert outcome(lambda: token(sandbox)) == 409  # the token endpoint is limited too
    time.sleep(retry_after)
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
    ):
        assert flag in help_text


@pytest.mark.parametrize(
    "argv",
    [
        ["--throttle-rate", "2"],
        ["--garbage-listing-requests", "a,b"],
        ["--scripted-statuses", "5"],
        ["--limit-per-minute", "0"],
    ],
)
def test_cli_rejects_bad_fault_values(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert "error" in capsys.readouterr().err
