"""What to retry, and how long to wait first: throttling, server errors, lost connections."""

from __future__ import annotations

import random
import typing as t
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from http import HTTPStatus

import requests
from singer_sdk.exceptions import RetriableAPIError

if t.TYPE_CHECKING:
    from collections.abc import Generator

# Nexudus answers 409 Conflict when throttling ("for legacy reasons"); 429 just in case.
THROTTLE_STATUSES = frozenset({HTTPStatus.CONFLICT, HTTPStatus.TOO_MANY_REQUESTS})
MAX_ATTEMPTS = 6
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 60.0
# Retry-After when a throttle answer has none (Nexudus usually sends 1).
DEFAULT_RETRY_AFTER = 1.0
# A longer wait than this is not worth holding a scheduler slot for: fail and say so.
LONGEST_RETRY_AFTER = 900.0
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
    """A 401 with a refreshable login: refresh the token, then retry at once."""


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


def retry_waits() -> Generator[float, BaseException | None, None]:
    """backoff wait generator: Retry-After for throttling, exponential otherwise.

    backoff sends each failure's exception in, so the wait can depend on it.
    """
    attempt = 0
    exception = yield  # type: ignore[misc]  # primed by backoff
    while True:
        attempt += 1
        if isinstance(exception, ThrottledError):
            wait = exception.retry_after
        elif isinstance(exception, TokenRejectedError):
            wait = 0.0
        else:
            wait = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
        exception = yield wait


def jitter_on_top(value: float) -> float:
    """Never earlier than asked; up to 10% (at most 1 s) later, so workers spread out."""
    return value + random.uniform(0, min(1.0, 0.1 * value + 0.05))  # noqa: S311 - not crypto
