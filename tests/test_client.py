"""Throttling, retries, fatal errors and the token lifecycle (requests-mock)."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs

import pytest

from tap_nexudus_jobs import auth, retries
from tap_nexudus_jobs.errors import NexudusAuthError, NexudusConnectionError, NexudusResponseError
from tests.conftest import MOCK_API, MOCK_LISTING, job, mock_config, page, run_tap, serve_listing

TOKEN_URL = f"{MOCK_API}/api/token"
ONE_PAGE = page([job(1, "2025-01-01T00:00:00Z"), job(2, "2025-01-01T00:00:05Z")])


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch) -> None:
    """Exponential backoff starts at 10 ms here; Retry-After is still honoured as sent."""
    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.01)


def timed(responses: list[dict]):
    """A requests-mock callback list that records when each request arrived."""
    arrivals: list[float] = []

    def make(spec: dict):
        def respond(request, context):
            arrivals.append(time.monotonic())
            context.status_code = spec.get("status", 200)
            context.headers.update(spec.get("headers", {}))
            return spec.get("json", ONE_PAGE)

        return respond

    return [{"json": make(spec)} for spec in responses], arrivals


def test_409_is_retried_after_exactly_retry_after(requests_mock) -> None:
    responses, arrivals = timed(
        [{"status": 409, "headers": {"Retry-After": "2"}, "json": {}}, {"status": 200}]
    )
    requests_mock.get(MOCK_LISTING, responses)

    run = run_tap(mock_config())

    assert run.ids == [1, 2]
    waited = arrivals[1] - arrivals[0]
    assert waited >= 2.0  # never earlier than asked
    assert waited < 2.0 + 1.0 + 0.5  # jitter is small and only on top


def test_429_is_treated_like_409(requests_mock) -> None:
    responses, arrivals = timed([{"status": 429, "headers": {"Retry-After": "1"}}, {}])
    requests_mock.get(MOCK_LISTING, responses)

    assert run_tap(mock_config()).ids == [1, 2]
    assert arrivals[1] - arrivals[0] >= 1.0


def test_a_503_with_retry_after_is_waited_exactly_like_a_throttle(requests_mock) -> None:
    """The API facts: 409, 429 and 503 alike; a 503 that says when to come back is obeyed."""
    later = (datetime.now(timezone.utc) + timedelta(seconds=3)).strftime(
        "%a, %d %b %Y %H:%M:%S GMT"
    )
    responses, arrivals = timed(
        [{"status": 503, "headers": {"Retry-After": later}, "json": {}}, {"status": 200}]
    )
    requests_mock.get(MOCK_LISTING, responses)

    assert run_tap(mock_config()).ids == [1, 2]
    assert arrivals[1] - arrivals[0] >= 2.0  # the HTTP-date, less the second it rounds off


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_then_succeed(requests_mock, status) -> None:
    responses, _ = timed([{"status": status, "json": {}}, {"status": status, "json": {}}, {}])
    requests_mock.get(MOCK_LISTING, responses)

    assert run_tap(mock_config()).ids == [1, 2]
    assert requests_mock.call_count == 3


def test_persistent_server_errors_end_in_one_line_with_attempts(requests_mock) -> None:
    requests_mock.get(MOCK_LISTING, status_code=503, reason="Service Unavailable", text="oops")

    with pytest.raises(NexudusResponseError) as failure:
        run_tap(mock_config(filters={"User_Email": "private@example.com"}))

    assert str(failure.value) == (
        "Nexudus answered HTTP 503 Service Unavailable for GET "
        "/api/sys/businessbackgroundjobs; gave up after 6 attempts"
    )
    assert requests_mock.call_count == retries.MAX_ATTEMPTS


def test_connection_resets_are_retried(requests_mock) -> None:
    requests_mock.get(MOCK_LISTING, [{"exc": ConnectionResetError}, {"json": ONE_PAGE}])

    assert run_tap(mock_config()).ids == [1, 2]


def test_a_host_that_never_answers_fails_fast_naming_it(requests_mock) -> None:
    import requests

    requests_mock.get(MOCK_LISTING, exc=requests.exceptions.ConnectTimeout)
    started = time.monotonic()

    with pytest.raises(NexudusConnectionError) as failure:
        run_tap(mock_config())

    # Before the first answer of a run, an unreachable host is a configuration problem.
    assert time.monotonic() - started < retries.FAST_FAIL_SECONDS + 1
    assert str(failure.value).startswith(
        "Could not reach Nexudus for GET /api/sys/businessbackgroundjobs: "
        "no connection to nexudus.test (connect timeout); gave up after"
    )
    assert requests_mock.call_count < retries.MAX_ATTEMPTS


def test_after_a_first_answer_lost_connections_get_every_attempt(requests_mock) -> None:
    import requests

    two_pages = [
        {"json": page([job(1, "2025-01-01T00:00:00Z")], number=1, size=1, total=2)},
        *[{"exc": requests.exceptions.ConnectTimeout}] * retries.MAX_ATTEMPTS,
    ]
    requests_mock.get(MOCK_LISTING, two_pages)

    with pytest.raises(NexudusConnectionError, match=r"\(connect timeout\); gave up after 6 "):
        run_tap(mock_config(page_size=1))

    assert requests_mock.call_count == 1 + retries.MAX_ATTEMPTS


@pytest.mark.parametrize("status", [400, 403, 404])
def test_client_errors_fail_at_once_without_the_body(requests_mock, status) -> None:
    requests_mock.get(MOCK_LISTING, status_code=status, json={"Message": "secret-ish detail"})

    with pytest.raises(NexudusResponseError) as failure:
        run_tap(mock_config())

    assert requests_mock.call_count == 1
    assert f"HTTP {status}" in str(failure.value)
    assert "secret-ish" not in str(failure.value)


def test_an_enormous_retry_after_stops_the_run_cleanly_not_slept(requests_mock, caplog) -> None:
    caplog.set_level(logging.INFO)
    requests_mock.get(MOCK_LISTING, status_code=409, headers={"Retry-After": "86400"})

    run = run_tap(mock_config())

    assert run.ids == []
    assert len(requests_mock.request_history) == 1
    (line,) = [m for m in caplog.messages if m.startswith("Stopping cleanly")]
    assert "asking to wait 86400s (Retry-After)" in line and "run again from" in line


LOGIN = {"username": "admin@example.com", "password": "pw-9f8e7d", "client_id": "etl"}


def login_config(**overrides):
    config = mock_config(**LOGIN, **overrides)
    del config["access_token"]
    return config


def token_body(n: int, expires_in: int = 3600) -> dict:
    return {
        "access_token": f"access-{n}",
        "token_type": "bearer",
        "expires_in": expires_in,
        "refresh_token": f"refresh-{n}",
    }


def grants(requests_mock) -> list[dict[str, list[str]]]:
    return [parse_qs(r.text) for r in requests_mock.request_history if r.method == "POST"]


def test_a_401_refreshes_the_token_once_and_retries(requests_mock) -> None:
    requests_mock.post(TOKEN_URL, [{"json": token_body(1)}, {"json": token_body(2)}])
    seen_tokens: list[str] = []

    def listing(request, context):
        # Captured on arrival: the retried request object is re-authenticated in place.
        seen_tokens.append(request.headers["Authorization"])
        context.status_code = 401 if len(seen_tokens) == 1 else 200
        return ONE_PAGE

    requests_mock.get(MOCK_LISTING, json=listing)

    run = run_tap(login_config())

    assert run.ids == [1, 2]
    sent = grants(requests_mock)
    assert [g["grant_type"] for g in sent] == [["password"], ["refresh_token"]]
    assert sent[1]["refresh_token"] == ["refresh-1"]
    posts = [r for r in requests_mock.request_history if r.method == "POST"]
    assert {p.headers["client_id"] for p in posts} == {"etl"}
    assert seen_tokens == ["Bearer access-1", "Bearer access-2"]


def test_a_401_that_survives_a_refresh_is_fatal_with_the_role_hint(requests_mock) -> None:
    requests_mock.post(TOKEN_URL, [{"json": token_body(1)}, {"json": token_body(2)}])
    requests_mock.get(MOCK_LISTING, status_code=401, json={"Message": "denied"})

    with pytest.raises(NexudusAuthError, match="BusinessBackgroundJob-List role") as failure:
        run_tap(login_config())

    assert "after a fresh token" in str(failure.value)
    assert "pw-9f8e7d" not in str(failure.value)


def test_a_failed_refresh_falls_back_to_the_password_grant(requests_mock) -> None:
    requests_mock.post(
        TOKEN_URL,
        [
            {"json": token_body(1)},
            {"status_code": 400, "json": {"error": "invalid_grant"}},
            {"json": token_body(3)},
        ],
    )
    requests_mock.get(MOCK_LISTING, [{"status_code": 401, "json": {}}, {"json": ONE_PAGE}])

    run = run_tap(login_config())

    assert run.ids == [1, 2]
    assert [g["grant_type"] for g in grants(requests_mock)] == [
        ["password"],
        ["refresh_token"],
        ["password"],
    ]


def test_the_token_is_refreshed_before_expires_in_runs_out(requests_mock, monkeypatch) -> None:
    # expires_in=2: valid for 1.8 s (a tenth kept as margin); page 1 takes 2 s to answer,
    # on the clock token lifetimes are measured on (moved by hand: no real wait).
    now = [datetime.now(timezone.utc)]
    monkeypatch.setattr(auth, "_utc_now", lambda: now[0])

    def two_seconds_pass(listing_request: int) -> None:
        if listing_request == 1:
            now[0] += timedelta(seconds=2)

    requests_mock.post(TOKEN_URL, [{"json": token_body(1, 2)}, {"json": token_body(2, 3600)}])

    records = [
        job(2 * day - 1 + offset, f"2025-01-0{day}T00:00:0{9 * offset}Z")
        for day in (1, 2)
        for offset in (0, 1)
    ]
    serve_listing(requests_mock, records, before=two_seconds_pass)

    run = run_tap(login_config(page_size=2))

    assert run.ids == [1, 2, 3, 4]
    assert [g["grant_type"] for g in grants(requests_mock)] == [["password"], ["refresh_token"]]
    gets = [r for r in requests_mock.request_history if r.method == "GET"]
    assert gets[-1].headers["Authorization"] == "Bearer access-2"


def test_a_throttled_token_request_is_retried(requests_mock) -> None:
    requests_mock.post(
        TOKEN_URL,
        [
            {"status_code": 409, "headers": {"Retry-After": "1"}, "text": ""},
            {"json": token_body(1)},
        ],
    )
    requests_mock.get(MOCK_LISTING, json=ONE_PAGE)

    assert run_tap(login_config()).ids == [1, 2]
    assert len(grants(requests_mock)) == 2
