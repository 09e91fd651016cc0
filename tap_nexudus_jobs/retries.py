"""The one HTTP failure policy: listing, get-one and token requests all go through it.

What is retried (throttling, 5xx, non-JSON pages, lost connections, timeouts), how long
to wait first (exactly the `Retry-After` a throttle answer sends, exponential otherwise),
how many attempts, one log line per retry, and one line when giving up. Until the first
answer of a run has arrived, an unreachable host (unknown name, refused connection, TLS
failure, no connect) fails within FAST_FAIL_SECONDS: at that point it is a wrong
`api_url` or a network that is down, and six minutes of backoff would only hide it.
"""

from __future__ import annotations

import logging
import random
import socket
import ssl
import threading
import time
import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from urllib.parse import urlsplit

import requests
import urllib3.exceptions
from singer_sdk.exceptions import RetriableAPIError

from tap_nexudus_jobs.budget import LONGEST_BUDGET_WAIT, REASON_THROTTLED, RequestBudgetSpent
from tap_nexudus_jobs.deadline import RequestDeadlineExceeded
from tap_nexudus_jobs.errors import (
    NexudusAuthError,
    NexudusConnectionError,
    NexudusResponseError,
    NexudusTapError,
)
from tap_nexudus_jobs.nexudus_api import THROTTLE_STATUSES

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


class ThrottledError(RetriableAPIError):
    """409/429: retry after exactly the `Retry-After` the server sent."""

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
    if response.status_code in THROTTLE_STATUSES:
        raise ThrottledError(message, response, retry_after_seconds(response))
    if response.status_code >= HTTPStatus.INTERNAL_SERVER_ERROR:
        raise RetriableAPIError(message, response)


def retry_after_seconds(response: requests.Response) -> float:
    """`Retry-After` as seconds (delta or HTTP date); the default when absent or garbled."""
    value = response.headers.get("Retry-After", "").strip()
    if not value:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def jitter_on_top(value: float) -> float:
    """Never earlier than asked; up to 10% (at most 1 s) later, so workers spread out."""
    return value + random.uniform(0, min(1.0, 0.1 * value + 0.05))  # noqa: S311 - not crypto


@dataclass(frozen=True)
class TransportProblem:
    """What went wrong below HTTP, in words naming the host; `unreachable` if no connection."""

    text: str
    unreachable: bool


def describe_transport_error(exc: BaseException, url: str) -> TransportProblem:
    """The cause of a failed connection, without the URL's query or any header."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    where = f"{host}:{parts.port}" if parts.port else host
    chain = _causes(exc)
    if any(isinstance(c, (socket.gaierror, urllib3.exceptions.NameResolutionError)) for c in chain):
        return TransportProblem(f"cannot resolve {host}", unreachable=True)
    if any(isinstance(c, ConnectionRefusedError) for c in chain):
        return TransportProblem(f"connection refused by {where}", unreachable=True)
    if any(isinstance(c, (ssl.SSLError, requests.exceptions.SSLError)) for c in chain):
        detail = next((c.reason for c in chain if isinstance(c, ssl.SSLError) and c.reason), "")
        reason = f" ({str(detail).lower().replace('_', ' ')})" if detail else ""
        return TransportProblem(f"TLS handshake with {host} failed{reason}", unreachable=True)
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TransportProblem(f"no connection to {where} (connect timeout)", unreachable=True)
    if isinstance(exc, RequestDeadlineExceeded):
        return TransportProblem(
            f"no complete answer from {host} within {exc.seconds:g}s (request_timeout)", False
        )
    if isinstance(exc, requests.exceptions.Timeout):
        return TransportProblem(f"no answer from {host} in time (request_timeout)", False)
    if isinstance(exc, requests.exceptions.ConnectionError) and any(
        isinstance(c, urllib3.exceptions.NewConnectionError) for c in chain
    ):
        return TransportProblem(f"cannot connect to {where}", unreachable=True)
    return TransportProblem(
        f"the connection to {host} broke ({type(exc).__name__})", unreachable=False
    )


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps: requests and urllib3 nest causes in args and .reason."""
    seen: list[BaseException] = []
    pending: list[t.Any] = [exc]
    while pending and len(seen) < 20:
        current = pending.pop()
        if not isinstance(current, BaseException) or any(current is s for s in seen):
            continue
        seen.append(current)
        pending.extend([current.__cause__, current.__context__, getattr(current, "reason", None)])
        pending.extend(current.args)
    return seen


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

    def call(
        self,
        attempt: Callable[[], T],
        *,
        method: str,
        url: str,
    ) -> T:
        """`attempt()`'s result, retried under the policy; one NexudusTapError otherwise."""
        started = self._monotonic()
        path = urlsplit(url).path
        new_token_tried = False
        throttled_for = 0.0  # Retry-After waits of this request so far
        number = 0
        final: type[NexudusTapError]
        fast_fail = False
        while True:
            number += 1
            try:
                result = attempt()
            except TokenRejectedError as exc:
                self._answered.set()
                if new_token_tried:
                    raise NexudusAuthError(exc.if_again) from None
                new_token_tried = True
                self._log.warning("%s; retrying with a new token", exc)
                continue
            except ThrottledError as exc:
                self._answered.set()
                self._on_throttled()
                self._stop_if_too_long(str(exc), exc.retry_after, throttled_for)
                throttled_for += exc.retry_after
                cause, wait, final = str(exc), exc.retry_after, NexudusResponseError
            except RetriableAPIError as exc:
                self._answered.set()
                cause, wait, final = str(exc), _backoff(number), NexudusResponseError
            except TRANSPORT_ERRORS as exc:
                final = NexudusConnectionError
                problem = describe_transport_error(exc, url)
                cause = f"Could not reach Nexudus for {method} {path}: {problem.text}"
                fast_fail = problem.unreachable and not self._answered.is_set()
                if fast_fail:
                    wait = FAST_FAIL_FIRST_WAIT * 2 ** (number - 1)
                    elapsed = self._monotonic() - started
                    if elapsed + wait > FAST_FAIL_SECONDS:
                        msg = (
                            f"{cause}; gave up after {number} attempts in {elapsed:.0f}s "
                            "(check api_url and the network)"
                        )
                        raise NexudusConnectionError(msg) from None
                else:
                    wait = _backoff(number)
            else:
                self._answered.set()
                return result
            if number >= MAX_ATTEMPTS:
                raise final(f"{cause}; gave up after {number} attempts") from None
            wait = jitter_on_top(wait)
            self._log.warning("%s; retrying in %.1fs (%s)", cause, wait, _next(number, fast_fail))
            self._sleep(wait)

    def _stop_if_too_long(self, cause: str, retry_after: float, throttled_for: float) -> None:
        stop = throttle_stop(cause, retry_after, throttled_for, self._clock())
        if stop is not None:
            self._stop(stop)


def throttle_stop(
    cause: str, retry_after: float, waited: float, now: float
) -> RequestBudgetSpent | None:
    """None while this request's throttle waits stay within LONGEST_THROTTLE_WAIT.

    Otherwise the clean stop, saying from when (`now` is epoch seconds) to run again.
    """
    if waited + retry_after <= LONGEST_THROTTLE_WAIT:
        return None
    again = datetime.fromtimestamp(now + retry_after, tz=timezone.utc)
    more = f" more, after {waited:.0f}s" if waited else ""
    message = (
        f"{cause}, asking to wait {retry_after:.0f}s{more} (Retry-After), longer than the tap "
        f"waits for one request ({LONGEST_THROTTLE_WAIT:.0f}s); run again from "
        f"{again:%Y-%m-%d %H:%M} UTC"
    )
    return RequestBudgetSpent(REASON_THROTTLED, message, now + retry_after)


def _raise(spent: RequestBudgetSpent) -> t.NoReturn:
    raise spent


def _next(number: int, fast_fail: bool) -> str:
    """Which attempt comes next, and what limits the tries: say the one that applies."""
    if fast_fail:
        # Fewer than MAX_ATTEMPTS fit in FAST_FAIL_SECONDS: "of 6" would promise too much.
        return (
            f"attempt {number + 1}; nothing has answered yet, so giving up "
            f"{FAST_FAIL_SECONDS:.0f}s after the first"
        )
    return f"attempt {number + 1} of {MAX_ATTEMPTS}"


def _backoff(number: int) -> float:
    # Read at call time, so tests can shorten it.
    return float(min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (number - 1)))
