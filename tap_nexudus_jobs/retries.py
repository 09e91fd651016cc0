"""The one HTTP failure policy: listing, get-one and token requests all go through it.

What is retried (throttling, 5xx, non-JSON pages, lost connections, timeouts), how long
to wait first (exactly the `Retry-After` a throttle answer sends, exponential otherwise),
how many attempts, one log line per retry, and one line when giving up. Until the first
answer of a run has arrived, an unreachable host (unknown name, refused connection, TLS
failure, no connect) fails within FAST_FAIL_SECONDS: at that point it is a wrong
`api_url` or a network that is down, and six minutes of backoff would only hide it.

Read it in three steps: `classify` names what one failed attempt was (a `Failure`),
`decide` says what follows from it and the request's `Tries` so far (an `Outcome`: wait
and retry, retry at once, give up with this line, or stop the run cleanly), and
`HttpPolicy.call` is the loop that sends, logs, sleeps and raises. The first two are pure.

Why not `backoff` (which the SDK uses): one request here mixes an exact server-given wait
with exponential ones under one count of attempts; backoff would need a decorator per kind
of failure, each counting its own tries; its `max_time` would cut every kind short, not
only an unreachable host before the first answer; its give-up re-raises the attempt's
exception, not our one line; and it sleeps on `time.sleep`, which no test can inject.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import typing as t
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from http import HTTPStatus
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import RetriableAPIError
from typing_extensions import assert_never

from tap_nexudus_jobs.budget import LONGEST_BUDGET_WAIT, REASON_THROTTLED, RequestBudgetSpent
from tap_nexudus_jobs.connection_errors import describe_transport_error
from tap_nexudus_jobs.errors import (
    NexudusAuthError,
    NexudusConnectionError,
    NexudusResponseError,
    NexudusTapError,
)
from tap_nexudus_jobs.nexudus_api import THROTTLE_STATUSES
from tap_nexudus_jobs.timestamps import http_date

if t.TYPE_CHECKING:
    from collections.abc import Callable

T = t.TypeVar("T")

MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 60.0
# Retry-After when a throttle answer has none (Nexudus usually sends 1).
DEFAULT_RETRY_AFTER = 1.0
# The longest one request waits on throttle answers (their Retry-After, summed): as long as
# the run would wait for the hour's budget. Longer, and the run stops cleanly (resumable
# STATE, a line saying when to run again) rather than sleep through a scheduler's slot.
LONGEST_THROTTLE_WAIT = LONGEST_BUDGET_WAIT
# Before the first answer of a run: how long an unreachable host is retried, and the
# first wait (doubling), so a DNS or routing blip of a second or two is still ridden out.
FAST_FAIL_SECONDS = 10.0
FAST_FAIL_FIRST_WAIT = 1.0
TRANSPORT_ERRORS = (
    ConnectionResetError,
    requests.exceptions.Timeout,
    requests.exceptions.ConnectionError,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
# What an attempt may raise for the policy to look at; anything else is final as raised.
RETRIED_ERRORS = (RetriableAPIError, *TRANSPORT_ERRORS)


class ThrottledError(RetriableAPIError):
    """409/429 (or a 503 with `Retry-After`): retry after exactly the wait the server sent."""

    def __init__(self, message: str, response: requests.Response, retry_after: float) -> None:
        super().__init__(message, response)
        self.retry_after = retry_after


class TokenRejectedError(RetriableAPIError):
    """A 401 the authenticator can answer with a new token: retry at once, once.

    `if_again` is the message for a second 401 on the same request, after a new token.
    """

    def __init__(self, message: str, response: requests.Response, if_again: str) -> None:
        super().__init__(message, response)
        self.if_again = if_again


def raise_if_retriable(response: requests.Response, message: str) -> None:
    """Throttling and 5xx, for every kind of request, classified in one place."""
    if response.status_code in THROTTLE_STATUSES or _says_when(response):
        raise ThrottledError(message, response, retry_after_seconds(response))
    if response.status_code >= HTTPStatus.INTERNAL_SERVER_ERROR:
        raise RetriableAPIError(message, response)


def _says_when(response: requests.Response) -> bool:
    """A 503 with `Retry-After`: a throttle answer too (409, 429 and 503 alike).

    Without one, a 503 is a server error like 500 and 502, and backs off exponentially.
    """
    unavailable = response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    return unavailable and bool(response.headers.get("Retry-After", "").strip())


def retry_after_seconds(response: requests.Response, now: datetime | None = None) -> float:
    """`Retry-After` as seconds (delta or HTTP date); the default when absent or garbled."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = http_date(value)
    if when is None:
        return DEFAULT_RETRY_AFTER
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def jitter_on_top(value: float) -> float:
    """Never earlier than asked; up to 10% (at most 1 s) later, so workers spread out."""
    return value + random.uniform(0, min(1.0, 0.1 * value + 0.05))  # noqa: S311 - not crypto


# What one failed attempt was: `classify` names it, from the exception the attempt raised.


@dataclass(frozen=True)
class Throttled:
    """409/429 (or a 503 saying when): the server asked to wait `retry_after` seconds."""

    cause: str
    retry_after: float


@dataclass(frozen=True)
class BadAnswer:
    """An answer worth another try: 5xx, a page that is not JSON, JSON that is no listing."""

    cause: str


@dataclass(frozen=True)
class TokenRejected:
    """A 401 the authenticator answers with a new token; `if_again` is the line for a second."""

    cause: str
    if_again: str


@dataclass(frozen=True)
class NoAnswer:
    """No HTTP answer; `unreachable` when no connection was made at all."""

    cause: str
    unreachable: bool


Failure = Throttled | BadAnswer | TokenRejected | NoAnswer


def classify(exc: Exception, *, method: str, url: str) -> Failure:
    """What one of RETRIED_ERRORS says about the attempt, in words naming the request."""
    match exc:
        case TokenRejectedError():
            return TokenRejected(str(exc), exc.if_again)
        case ThrottledError():
            return Throttled(str(exc), exc.retry_after)
        case RetriableAPIError():
            return BadAnswer(str(exc))
    problem = describe_transport_error(exc, url)
    cause = f"Could not reach Nexudus for {method} {urlsplit(url).path}: {problem.text}"
    return NoAnswer(cause, problem.unreachable)


# What follows from a failure: `decide` returns one of these.


@dataclass(frozen=True)
class Wait:
    """Sleep `seconds` (jitter comes on top), then send again; the log line says why."""

    seconds: float
    cause: str
    next_attempt: str  # "attempt 3 of 6", or the fast-fail limit that applies instead


@dataclass(frozen=True)
class RetryNow:
    """Send again at once (with the new token the authenticator will fetch)."""

    cause: str


@dataclass(frozen=True)
class GiveUp:
    """The request failed for good: raise `error` with this one line."""

    error: type[NexudusTapError]
    line: str


@dataclass(frozen=True)
class StopRun:
    """A Retry-After longer than the tap waits: stop the run cleanly, resumable at `frees_at`."""

    line: str
    frees_at: float  # epoch seconds


Outcome = Wait | RetryNow | GiveUp | StopRun


@dataclass(frozen=True)
class Tries:
    """What one request has been through before its latest failure."""

    failed: int = 0
    new_token_tried: bool = False
    throttled_for: float = 0.0  # the Retry-After waits so far

    def after(self, failure: Failure) -> Tries:
        """The history once `failure` is counted."""
        waited = failure.retry_after if isinstance(failure, Throttled) else 0.0
        return replace(
            self,
            failed=self.failed + 1,
            new_token_tried=self.new_token_tried or isinstance(failure, TokenRejected),
            throttled_for=self.throttled_for + waited,
        )


def decide(
    failure: Failure, tries: Tries, *, elapsed: float, now: float, answered: bool
) -> Outcome:
    """What to do after `failure`, the latest of `tries`.

    `elapsed`: seconds since the request's first attempt; `now`: epoch seconds (for the
    clean stop's "run again from"); `answered`: some request of this run got an answer.
    """
    number = tries.failed + 1  # of the attempt that just failed
    match failure:
        case TokenRejected(cause, if_again):
            return GiveUp(NexudusAuthError, if_again) if tries.new_token_tried else RetryNow(cause)
        case Throttled(cause, retry_after):
            stop = throttle_stop(cause, retry_after, tries.throttled_for, now)
            return stop or _wait_or_give_up(cause, retry_after, number, NexudusResponseError)
        case BadAnswer(cause):
            return _wait_or_give_up(cause, _backoff(number), number, NexudusResponseError)
        case NoAnswer(cause, unreachable=True) if not answered:
            return _fail_fast(cause, number, elapsed)
        case NoAnswer(cause):
            return _wait_or_give_up(cause, _backoff(number), number, NexudusConnectionError)
    assert_never(failure)


def throttle_stop(cause: str, retry_after: float, waited: float, now: float) -> StopRun | None:
    """None while this request's throttle waits stay within LONGEST_THROTTLE_WAIT.

    Otherwise the clean stop, saying from when (`now` is epoch seconds) to run again.
    """
    if waited + retry_after <= LONGEST_THROTTLE_WAIT:
        return None
    again = datetime.fromtimestamp(now + retry_after, tz=timezone.utc)
    more = f" more, after {waited:.0f}s" if waited else ""
    line = (
        f"{cause}, asking to wait {retry_after:.0f}s{more} (Retry-After), longer than the tap "
        f"waits for one request ({LONGEST_THROTTLE_WAIT:.0f}s); run again from "
        f"{again:%Y-%m-%d %H:%M} UTC"
    )
    return StopRun(line, now + retry_after)


def _fail_fast(cause: str, number: int, elapsed: float) -> Outcome:
    """Nothing has answered yet: short doubling waits, and FAST_FAIL_SECONDS in all."""
    wait = FAST_FAIL_FIRST_WAIT * 2 ** (number - 1)
    if elapsed + wait > FAST_FAIL_SECONDS:
        line = (
            f"{cause}; gave up after {number} attempts in {elapsed:.0f}s "
            "(check api_url and the network)"
        )
        return GiveUp(NexudusConnectionError, line)
    # Fewer than MAX_ATTEMPTS fit in FAST_FAIL_SECONDS: "of 6" would promise too much.
    next_attempt = (
        f"attempt {number + 1}; nothing has answered yet, so giving up "
        f"{FAST_FAIL_SECONDS:.0f}s after the first"
    )
    return _wait_or_give_up(cause, wait, number, NexudusConnectionError, next_attempt)


def _wait_or_give_up(
    cause: str,
    wait: float,
    number: int,
    error: type[NexudusTapError],
    next_attempt: str | None = None,
) -> Outcome:
    """Wait and retry, unless this was the last of MAX_ATTEMPTS."""
    if number >= MAX_ATTEMPTS:
        return GiveUp(error, f"{cause}; gave up after {number} attempts")
    return Wait(wait, cause, next_attempt or f"attempt {number + 1} of {MAX_ATTEMPTS}")


def _backoff(number: int) -> float:
    # Read at call time, so tests can shorten it.
    return float(min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (number - 1)))


class HttpPolicy:
    """Sends one request with retries; shared by every request of a run (thread-safe).

    `attempt()` sends the request once; it raises ThrottledError / RetriableAPIError /
    TokenRejectedError for answers worth another try and a NexudusTapError for final ones.
    """

    def __init__(
        self,
        *,
        log: logging.Logger,
        on_throttled: Callable[[], None] = lambda: None,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], float] = time.time,
        stop: Callable[[RequestBudgetSpent], t.NoReturn] | None = None,
    ) -> None:
        """`stop` ends the run cleanly (the account's budget: every request stops then)."""
        self._log = log
        self._on_throttled = on_throttled
        self._sleep = sleep
        self._monotonic = monotonic
        self._clock = clock
        self._stop = stop or _raise
        self._answered = threading.Event()

    @property
    def server_answered(self) -> bool:
        """True once any request of this run got an HTTP answer (even an error status)."""
        return self._answered.is_set()

    def call(self, attempt: Callable[[], T], *, method: str, url: str) -> T:
        """`attempt()`'s result, retried under the policy; one NexudusTapError otherwise."""
        started = self._monotonic()
        tries = Tries()
        while True:
            try:
                result = attempt()
            except RETRIED_ERRORS as exc:
                failure = classify(exc, method=method, url=url)
            else:
                self._answered.set()
                return result
            self._carry_out(self._decide(failure, tries, started))
            tries = tries.after(failure)

    def _decide(self, failure: Failure, tries: Tries, started: float) -> Outcome:
        """`decide`, once the run knows what this failure says (an answer, a throttle)."""
        if not isinstance(failure, NoAnswer):
            self._answered.set()
        if isinstance(failure, Throttled):
            self._on_throttled()  # the pacer slows down on every throttle answer
        elapsed = self._monotonic() - started
        answered = self._answered.is_set()
        return decide(failure, tries, elapsed=elapsed, now=self._clock(), answered=answered)

    def _carry_out(self, outcome: Outcome) -> None:
        """Log and sleep before the next attempt, or end the request."""
        match outcome:
            case Wait(seconds, cause, next_attempt):
                wait = jitter_on_top(seconds)
                self._log.warning("%s; retrying in %.1fs (%s)", cause, wait, next_attempt)
                self._sleep(wait)
            case RetryNow(cause):
                self._log.warning("%s; retrying with a new token", cause)
            case GiveUp(error, line):
                raise error(line)
            case StopRun(line, frees_at):
                self._stop(RequestBudgetSpent(REASON_THROTTLED, line, frees_at))


def _raise(spent: RequestBudgetSpent) -> t.NoReturn:
    raise spent
