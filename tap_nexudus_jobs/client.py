"""HTTP behaviour shared by every Nexudus stream: base URL, auth, pacing, retries, errors."""

from __future__ import annotations

import functools
import logging
import typing as t
from functools import cached_property
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.streams import RESTStream

from tap_nexudus_jobs.auth import NexudusPasswordAuthenticator, build_authenticator
from tap_nexudus_jobs.envelope import describe_request, listing_envelope, parsed_json
from tap_nexudus_jobs.errors import (
    NexudusAuthError,
    NexudusNotFoundError,
    NexudusResponseError,
    NexudusTapError,
)
from tap_nexudus_jobs.pacing import PacedSession, RequestPacer
from tap_nexudus_jobs.retries import (
    LONGEST_RETRY_AFTER,
    MAX_ATTEMPTS,
    THROTTLE_STATUSES,
    TRANSPORT_ERRORS,
    ThrottledError,
    TokenRejectedError,
    jitter_on_top,
    retry_after_seconds,
    retry_waits,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator

    import requests
    from backoff.types import Details
    from singer_sdk.authenticators import APIAuthenticatorBase

try:
    __version__ = version("tap-nexudus-jobs")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"


class NexudusStream(RESTStream[t.Any]):
    """A Nexudus `/api/sys` resource."""

    # Never log request URLs: filters can carry e-mail addresses.
    _LOG_REQUEST_METRIC_URLS = False

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.pacer = RequestPacer.from_config(self.config)
        self._requests_session = PacedSession(self.pacer)
        self._refreshed_after_401 = False

    @property
    def url_base(self) -> str:
        """`api_url` without a trailing slash."""
        return str(self.config.get("api_url", "https://spaces.nexudus.com")).rstrip("/")

    @cached_property
    def authenticator(self) -> APIAuthenticatorBase:
        """One authenticator per run, so a password-grant token is fetched once."""
        return build_authenticator(self.config, self.url_base, self.pacer)

    @property
    def http_headers(self) -> dict[str, str]:
        """JSON, and a User-Agent naming the tap."""
        return {"Accept": "application/json", "User-Agent": f"tap-nexudus-jobs/{__version__}"}

    def validate_response(self, response: requests.Response) -> None:
        """Throttling, 5xx and a first 401 with a login are retried; other errors are final."""
        status = response.status_code
        message = self.response_error_message(response)
        if status in THROTTLE_STATUSES:
            self.pacer.throttled()
            retry_after = retry_after_seconds(response)
            if retry_after > LONGEST_RETRY_AFTER:
                msg = f"{message}, asking to wait {retry_after:.0f}s: the request budget is spent"
                raise NexudusResponseError(msg)
            raise ThrottledError(message, response, retry_after)
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(message, response)
        if status == HTTPStatus.UNAUTHORIZED:
            self._on_unauthorized(response, message)
        if status == HTTPStatus.NOT_FOUND:
            raise NexudusNotFoundError(message)
        if status >= HTTPStatus.BAD_REQUEST:
            raise NexudusResponseError(message)
        self._refreshed_after_401 = False
        if not _is_json(response):
            # An HTML page with 200 is what proxies and maintenance screens send: transient.
            content_type = response.headers.get("Content-Type", "no content type")
            msg = (
                f"{describe_request(response)}: the body is not JSON "
                f"({content_type}, {len(response.content)} bytes)"
            )
            raise RetriableAPIError(msg, response)

    def _on_unauthorized(self, response: requests.Response, message: str) -> None:
        authenticator = self.authenticator
        if (
            isinstance(authenticator, NexudusPasswordAuthenticator)
            and not self._refreshed_after_401
        ):
            # Once per failure: the token may have been revoked or expired early.
            self._refreshed_after_401 = True
            authenticator.invalidate()
            raise TokenRejectedError(message, response)
        hint = "after a fresh token" if self._refreshed_after_401 else "with the configured token"
        # Listing needs the -List role; get-one (`.../{Id}`) needs -Read.
        role = "Read" if urlsplit(response.url or "").path.rstrip("/")[-1:].isdigit() else "List"
        msg = (
            f"{message} {hint}: the token may be expired, or the user lacks the "
            f"BusinessBackgroundJob-{role} role"
        )
        raise NexudusAuthError(msg)

    def response_error_message(self, response: requests.Response) -> str:
        """Status and URL path only: bodies and headers may carry tokens or personal data."""
        path = urlsplit(response.url or "").path or self.path
        reason = f" {response.reason}" if response.reason else ""
        return f"Nexudus answered HTTP {response.status_code}{reason} for GET {path}"

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        """The listing's `Records`, after the envelope has been checked."""
        return listing_envelope(response).records

    # -- retries, through the SDK's backoff hooks ------------------------------------

    def backoff_wait_generator(self) -> Generator[float, t.Any, None]:
        """Retry-After for throttling (exactly), exponential for the rest."""
        return retry_waits()

    def backoff_jitter(self, value: float) -> float:
        """Jitter only on top of the wait, and small."""
        return jitter_on_top(value)

    def backoff_max_tries(self) -> int:
        """Attempts per request before the tap gives up."""
        return MAX_ATTEMPTS

    def backoff_handler(self, details: Details) -> None:
        """One line per retry: what failed and how long the tap waits."""
        exception = details.get("exception")
        cause = (
            str(exception)
            if isinstance(exception, (RetriableAPIError, NexudusTapError))
            else f"{type(exception).__name__} calling GET {self.path}"
        )
        self.logger.warning(
            "%s; retrying in %.1fs (attempt %d of %d)",
            cause,
            details.get("wait", 0.0),
            details["tries"] + 1,
            MAX_ATTEMPTS,
        )

    def request_decorator(self, func: Callable[..., t.Any]) -> Callable[..., t.Any]:
        """The SDK's retrying decorator, with giving up turned into one clear line."""
        retrying = super().request_decorator(func)

        @functools.wraps(func)
        def send(*args: t.Any, **kwargs: t.Any) -> t.Any:
            try:
                return retrying(*args, **kwargs)
            except RetriableAPIError as exc:
                msg = f"{exc}; gave up after {MAX_ATTEMPTS} attempts"
                raise NexudusResponseError(msg) from None
            except TRANSPORT_ERRORS as exc:
                msg = (
                    f"Could not reach Nexudus for GET {self.path} ({type(exc).__name__}); "
                    f"gave up after {MAX_ATTEMPTS} attempts"
                )
                raise NexudusResponseError(msg) from None

        return send


def _is_json(response: requests.Response) -> bool:
    try:
        parsed_json(response)
    except ValueError:
        return False
    return True


logging.getLogger("pyrate_limiter").setLevel(logging.WARNING)
