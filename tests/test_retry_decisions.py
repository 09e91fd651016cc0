"""The retry policy's decisions, from hand-written failures: no HTTP, no sleeping."""

from __future__ import annotations

import logging
import typing as t
from datetime import datetime, timezone

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from singer_sdk.exceptions import RetriableAPIError

from tap_nexudus_jobs import retries
from tap_nexudus_jobs.budget import RequestBudgetSpent
from tap_nexudus_jobs.deadline import RequestDeadlineExceeded
from tap_nexudus_jobs.errors import NexudusAuthError, NexudusConnectionError, NexudusResponseError
from tap_nexudus_jobs.retries import (
    BadAnswer,
    GiveUp,
    NoAnswer,
    RetryNow,
    StopRun,
    Throttled,
    TokenRejected,
    Tries,
    Wait,
    classify,
    decide,
)

URL = "https://nexudus.test/api/sys/businessbackgroundjobs?page=2&User_Email=a%40b.test"
THROTTLED = Throttled("Nexudus answered HTTP 409 for GET /x", 3.0)
FIVE_HUNDRED = BadAnswer("Nexudus answered HTTP 500 for GET /x")
NO_CONNECT = NoAnswer("Could not reach Nexudus for GET /x: cannot resolve nexudus.test", True)
RESET = NoAnswer("Could not reach Nexudus for GET /x: the connection broke", False)
EPOCH = 1_800_000_000.0  # 2027-01-15 08:00 UTC


def after(failures: list[retries.Failure]) -> Tries:
    tries = Tries()
    for failure in failures:
        tries = tries.after(failure)
    return tries


def decided(
    failure: retries.Failure,
    tries: Tries | None = None,
    *,
    elapsed: float = 0.0,
    answered: bool = True,
) -> retries.Outcome:
    """`decide` at EPOCH, after some answer of the run unless `answered` is False."""
    return decide(failure, tries or Tries(), elapsed=elapsed, now=EPOCH, answered=answered)


def answer(status: int, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    return response


# classify: what one failed attempt was


def test_classify_names_each_kind_of_failure() -> None:
    throttle = retries.ThrottledError("HTTP 409", answer(409), 7.0)
    token = retries.TokenRejectedError("HTTP 401", answer(401), "HTTP 401 again")
    assert classify(throttle, method="GET", url=URL) == Throttled("HTTP 409", 7.0)
    assert classify(token, method="GET", url=URL) == TokenRejected("HTTP 401", "HTTP 401 again")
    assert classify(RetriableAPIError("HTTP 502", answer(502)), method="GET", url=URL) == (
        BadAnswer("HTTP 502")
    )


@pytest.mark.parametrize(
    ("exc", "text", "unreachable"),
    [
        (
            requests.exceptions.ConnectTimeout(),
            "no connection to nexudus.test (connect timeout)",
            True,
        ),
        (
            ConnectionResetError(),
            "the connection to nexudus.test broke (ConnectionResetError)",
            False,
        ),
        (
            RequestDeadlineExceeded(30.0),
            "no complete answer from nexudus.test within 30s (request_timeout)",
            False,
        ),
    ],
)
def test_classify_words_a_lost_connection_by_host_and_path_only(
    exc: Exception, text: str, unreachable: bool
) -> None:
    failure = classify(exc, method="GET", url=URL)

    assert failure == NoAnswer(
        f"Could not reach Nexudus for GET /api/sys/businessbackgroundjobs: {text}", unreachable
    )
    assert "User_Email" not in failure.cause and "page=" not in failure.cause


# decide: what follows


def test_a_throttle_waits_exactly_its_retry_after() -> None:
    assert decided(THROTTLED) == Wait(3.0, THROTTLED.cause, "attempt 2 of 6")
    assert decided(THROTTLED, after([THROTTLED] * 4)) == Wait(
        3.0, THROTTLED.cause, "attempt 6 of 6"
    )


def test_the_sixth_failure_gives_up_naming_the_attempts() -> None:
    assert decided(THROTTLED, after([THROTTLED] * 5)) == GiveUp(
        NexudusResponseError, "Nexudus answered HTTP 409 for GET /x; gave up after 6 attempts"
    )
    assert decided(RESET, after([FIVE_HUNDRED] * 5)) == GiveUp(
        NexudusConnectionError,
        "Could not reach Nexudus for GET /x: the connection broke; gave up after 6 attempts",
    )


def test_other_answers_back_off_exponentially() -> None:
    waits = [decided(FIVE_HUNDRED, after([FIVE_HUNDRED] * n)) for n in range(5)]

    assert [(w.seconds, w.next_attempt) for w in waits if isinstance(w, Wait)] == [
        (2.0, "attempt 2 of 6"),
        (4.0, "attempt 3 of 6"),
        (8.0, "attempt 4 of 6"),
        (16.0, "attempt 5 of 6"),
        (32.0, "attempt 6 of 6"),
    ]
    assert retries._backoff(10) == retries.BACKOFF_CAP_SECONDS


def test_a_retry_after_beyond_the_limit_stops_the_run_cleanly() -> None:
    long = Throttled("Nexudus answered HTTP 429 for GET /x", 900.0)

    assert decided(long) == StopRun(
        "Nexudus answered HTTP 429 for GET /x, asking to wait 900s (Retry-After), longer than "
        "the tap waits for one request (300s); run again from 2027-01-15 08:15 UTC",
        EPOCH + 900.0,
    )


def test_retry_after_waits_add_up_to_the_same_limit() -> None:
    two_minutes = Throttled("HTTP 429", 120.0)
    tries = after([two_minutes, two_minutes])

    assert tries.throttled_for == 240.0
    stop = decided(two_minutes, tries)
    assert isinstance(stop, StopRun)
    assert "asking to wait 120s more, after 240s (Retry-After)" in stop.line
    # Other failures in between are not throttle waits.
    assert decided(two_minutes, after([two_minutes, FIVE_HUNDRED])) == Wait(
        120.0, "HTTP 429", "attempt 4 of 6"
    )


def test_a_rejected_token_is_retried_at_once_then_fails_with_its_own_line() -> None:
    rejected = TokenRejected("HTTP 401 for GET /x", "HTTP 401 for GET /x after a fresh token")

    assert decided(rejected) == RetryNow("HTTP 401 for GET /x")
    assert decided(rejected, after([rejected])) == GiveUp(
        NexudusAuthError, "HTTP 401 for GET /x after a fresh token"
    )
    # One new token per request, however far apart the two 401s are.
    assert isinstance(decided(rejected, after([rejected, FIVE_HUNDRED])), GiveUp)


def test_an_unreachable_host_before_any_answer_fails_within_the_fast_fail_limit() -> None:
    limit = "nothing has answered yet, so giving up 10s after the first"
    first = decided(NO_CONNECT, answered=False)
    second = decided(NO_CONNECT, after([NO_CONNECT]), elapsed=1.0, answered=False)
    third = decided(NO_CONNECT, after([NO_CONNECT] * 2), elapsed=3.1, answered=False)
    last = decided(NO_CONNECT, after([NO_CONNECT] * 3), elapsed=7.2, answered=False)

    assert first == Wait(1.0, NO_CONNECT.cause, f"attempt 2; {limit}")
    assert second == Wait(2.0, NO_CONNECT.cause, f"attempt 3; {limit}")
    assert third == Wait(4.0, NO_CONNECT.cause, f"attempt 4; {limit}")
    assert last == GiveUp(
        NexudusConnectionError,
        f"{NO_CONNECT.cause}; gave up after 4 attempts in 7s (check api_url and the network)",
    )


def test_after_an_answer_an_unreachable_host_gets_every_attempt() -> None:
    assert decided(NO_CONNECT, after([NO_CONNECT] * 3), elapsed=7.2, answered=True) == Wait(
        16.0, NO_CONNECT.cause, "attempt 5 of 6"
    )


def test_a_broken_connection_is_not_a_wrong_api_url() -> None:
    """A reset means something answered the connect: the full backoff, even before answers."""
    assert decided(RESET, answered=False) == Wait(2.0, RESET.cause, "attempt 2 of 6")


FAILURES = st.sampled_from(
    [
        THROTTLED,
        Throttled("HTTP 409", 100.0),
        FIVE_HUNDRED,
        NO_CONNECT,
        RESET,
        TokenRejected("HTTP 401", "HTTP 401 again"),
    ]
)


@given(st.lists(FAILURES, min_size=12, max_size=12), st.booleans())
def test_every_request_ends_within_the_caps(
    failures: list[retries.Failure], answered: bool
) -> None:
    """At most MAX_ATTEMPTS + one token retry, and throttle waits within their limit."""
    tries, elapsed, throttle_waits = Tries(), 0.0, 0.0
    for failure in failures:
        outcome = decided(failure, tries, elapsed=elapsed, answered=answered)
        if isinstance(outcome, Wait):
            elapsed += outcome.seconds
            if isinstance(failure, Throttled):
                assert outcome.seconds == failure.retry_after
                throttle_waits += outcome.seconds
        if isinstance(outcome, (GiveUp, StopRun)):
            break
        tries = tries.after(failure)
    else:
        pytest.fail(f"still retrying after {len(failures)} attempts")
    assert tries.failed + 1 <= retries.MAX_ATTEMPTS + 1
    assert throttle_waits <= retries.LONGEST_THROTTLE_WAIT


# Which answers are throttles, read from hand-written answers


@pytest.mark.parametrize(
    ("status", "headers", "raised", "retry_after"),
    [
        (409, {"Retry-After": "4"}, retries.ThrottledError, 4.0),
        (429, {}, retries.ThrottledError, retries.DEFAULT_RETRY_AFTER),
        (503, {"Retry-After": "7"}, retries.ThrottledError, 7.0),
        (503, {}, RetriableAPIError, None),
        (500, {"Retry-After": "7"}, RetriableAPIError, None),
    ],
)
def test_409_429_and_a_503_saying_when_are_throttles_other_5xx_back_off(
    status: int, headers: dict[str, str], raised: type[Exception], retry_after: float | None
) -> None:
    with pytest.raises(raised) as failure:
        retries.raise_if_retriable(answer(status, **headers), f"HTTP {status}")

    assert type(failure.value) is raised
    assert getattr(failure.value, "retry_after", None) == retry_after


def test_other_answers_are_not_the_policys_business() -> None:
    for status in (200, 400, 401, 404):
        retries.raise_if_retriable(answer(status, **{"Retry-After": "3"}), "fine")


# Retry-After, read from an answer


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "2"}, 2.0),
        ({"Retry-After": " 0.5 "}, 0.5),
        ({"Retry-After": "Fri, 15 Jan 2027 08:00:30 GMT"}, 30.0),
        ({"Retry-After": "Fri, 15 Jan 2027 07:59:00 GMT"}, 0.0),
        # `-0000` (no zone said) is still UTC: it raised a TypeError (naive minus aware).
        ({"Retry-After": "Fri, 15 Jan 2027 08:00:30 -0000"}, 30.0),
        ({"Retry-After": "-5"}, 0.0),
        ({"Retry-After": "soon"}, retries.DEFAULT_RETRY_AFTER),
        ({}, retries.DEFAULT_RETRY_AFTER),
    ],
)
def test_retry_after_as_seconds_or_http_date(headers: dict[str, str], seconds: float) -> None:
    now = datetime.fromtimestamp(EPOCH, tz=timezone.utc)
    assert retries.retry_after_seconds(answer(409, **headers), now) == seconds


# The loop: it carries out what decide says, with injected sleep and clocks


def test_the_loop_logs_one_line_per_retry_sleeps_and_slows_the_pacer(caplog) -> None:
    slept: list[float] = []
    throttle_calls: list[None] = []
    policy = retries.HttpPolicy(
        log=logging.getLogger("test-retry-loop"),
        on_throttled=lambda: throttle_calls.append(None),
        sleep=slept.append,
        monotonic=lambda: sum(slept),
    )
    fails = iter(
        [
            retries.ThrottledError("HTTP 409 for GET /x", answer(409), 3.0),
            retries.TokenRejectedError("HTTP 401 for GET /x", answer(401), "again"),
            RetriableAPIError("HTTP 500 for GET /x", answer(500)),
        ]
    )

    def attempt() -> str:
        failure = next(fails, None)
        if failure is not None:
            raise failure
        return "answer"

    with caplog.at_level(logging.WARNING, logger="test-retry-loop"):
        assert policy.call(attempt, method="GET", url=URL) == "answer"

    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3
    assert lines[0].startswith("HTTP 409 for GET /x; retrying in 3.")
    assert lines[1] == "HTTP 401 for GET /x; retrying with a new token"
    assert lines[2].startswith("HTTP 500 for GET /x; retrying in ")
    assert lines[2].endswith("(attempt 4 of 6)")
    assert len(slept) == 2  # the new token is asked for at once
    assert 3.0 <= slept[0] <= 3.0 + 0.4  # never earlier than asked
    assert 8.0 <= slept[1] <= 9.0  # the third attempt's backoff
    assert len(throttle_calls) == 1
    assert policy.server_answered


def test_the_loop_stops_the_run_through_the_budget() -> None:
    stops: list[RequestBudgetSpent] = []

    def stop(spent: RequestBudgetSpent) -> t.NoReturn:
        stops.append(spent)
        raise spent

    policy = retries.HttpPolicy(
        log=logging.getLogger("test-retry-stop"), stop=stop, clock=lambda: EPOCH
    )

    def attempt() -> None:
        raise retries.ThrottledError("HTTP 409", answer(409), 600.0)

    with pytest.raises(RequestBudgetSpent):
        policy.call(attempt, method="GET", url=URL)
    assert [(s.reason, s.frees_at) for s in stops] == [("Retry-After", EPOCH + 600.0)]
