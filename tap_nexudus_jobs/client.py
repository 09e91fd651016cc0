"""HTTP behaviour shared by every Nexudus stream: base URL, auth, errors, retries."""

from __future__ import annotations

import typing as t
from functools import cached_property
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.streams import RESTStream

from tap_nexudus_jobs.auth import build_authenticator
from tap_nexudus_jobs.envelope import listing_envelope
from tap_nexudus_jobs.errors import NexudusAuthError, NexudusResponseError

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.authenticators import APIAuthenticatorBase

try:
    __version__ = version("tap-nexudus-jobs")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

# Nexudus answers 409 Conflict when throttling ("for legacy reasons"); 429 just in case.
THROTTLE_STATUSES = (HTTPStatus.CONFLICT, HTTPStatus.TOO_MANY_REQUESTS)


class NexudusStream(RESTStream[t.Any]):
    """A Nexudus `/api/sys` listing."""

    # Never log request URLs or bodies: filters can carry e-mail addresses.
    _LOG_REQUEST_METRIC_URLS = False
    extra_retry_statuses = [int(status) for status in THROTTLE_STATUSES]  # noqa: RUF012 - SDK attribute

    @property
    def url_base(self) -> str:
        """`api_url` without a trailing slash."""
        return str(self.config.get("api_url", "https://spaces.nexudus.com")).rstrip("/")

    @cached_property
    def authenticator(self) -> APIAuthenticatorBase:
        """One authenticator per run, so a password-grant token is fetched once."""
        return build_authenticator(self.config, self.url_base)

    @property
    def http_headers(self) -> dict[str, str]:
        """JSON, and a User-Agent naming the tap."""
        return {"Accept": "application/json", "User-Agent": f"tap-nexudus-jobs/{__version__}"}

    def validate_response(self, response: requests.Response) -> None:
        """Retry throttling and 5xx (SDK); fail at once on other 4xx with one line."""
        status = response.status_code
        if status in self.extra_retry_statuses or status >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(self.response_error_message(response), response)
        if status == HTTPStatus.UNAUTHORIZED:
            msg = (
                f"{self.response_error_message(response)}: the token may be expired, or the "
                "user lacks the BusinessBackgroundJob-List role"
            )
            raise NexudusAuthError(msg)
        if status >= HTTPStatus.BAD_REQUEST:
            raise NexudusResponseError(self.response_error_message(response))

    def response_error_message(self, response: requests.Response) -> str:
        """Status and URL path only: bodies and headers may carry tokens or personal data."""
        path = urlsplit(response.url or "").path or self.path
        reason = f" {response.reason}" if response.reason else ""
        return f"Nexudus answered HTTP {response.status_code}{reason} for GET {path}"

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        """The listing's `Records`, after the envelope has been checked."""
        return listing_envelope(response).records
