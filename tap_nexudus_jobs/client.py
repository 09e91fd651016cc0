"""HTTP behaviour shared by every Nexudus stream: base URL, auth, retries, errors."""

from __future__ import annotations

import logging
import sys
import typing as t
from http import HTTPStatus
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import urlsplit

from singer_sdk.exceptions import RetriableAPIError
from singer_sdk.streams import RESTStream
from typing_extensions import override

from tap_nexudus_jobs.auth import NexudusPasswordAuthenticator
from tap_nexudus_jobs.envelope import describe_request, is_listing_payload, parsed_json
from tap_nexudus_jobs.errors import (
    NexudusAuthError,
    NexudusNotFoundError,
    NexudusResponseError,
    NexudusTapError,
)
from tap_nexudus_jobs.nexudus_api import LISTING_PATH
from tap_nexudus_jobs.retries import TokenRejectedError, raise_if_retriable

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    import requests
    from singer_sdk.authenticators import APIAuthenticatorBase
    from singer_sdk.helpers.types import Context

    from tap_nexudus_jobs.account import NexudusAccount
    from tap_nexudus_jobs.budget import RequestBudget
    from tap_nexudus_jobs.pacing import RequestPacer

try:
    __version__ = version("tap-nexudus-jobs")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

# What Stream.sync logs (at ERROR) before re-raising any exception of a sync.
SDK_SYNC_FAILURE_LINE = "An unhandled error occurred while syncing '%s'"


class _OneErrorLine(logging.Filter):
    """Drops the SDK's sync-failure line when the failure is one of the tap's own.

    The tap's CLI prints a NexudusTapError as the one line that says what to do; the SDK's
    generic line before it would be a second ERROR saying less. The filter runs inside the
    SDK's `except` block, so `sys.exc_info()` is the exception being reported; any other
    exception (a bug) keeps the SDK's line and its traceback.
    """

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != SDK_SYNC_FAILURE_LINE:
            return True
        return not isinstance(sys.exc_info()[1], NexudusTapError)


_ONE_ERROR_LINE = _OneErrorLine()


class NexudusStream(RESTStream[t.Any]):
    """A Nexudus `/api/sys` resource; the account's pacing, session and login are shared."""

    # Never log request URLs: filters can carry e-mail addresses.
    _LOG_REQUEST_METRIC_URLS = False

    def __init__(self, *args: t.Any, account: NexudusAccount, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._account = account
        self._records_left_to_test: int | None = None
        self.logger.addFilter(_ONE_ERROR_LINE)  # a no-op if already there

    @override
    def get_records(self, context: Context | None) -> Iterable[dict[str, t.Any]]:
        """The records; under `--test`, exactly as many as the test asks for, then stop.

        At its record limit the SDK raises an abort exception, which it logs as "An
        unhandled error occurred" with status "failed" even though the test passed;
        stopping at the limit ends the sync normally instead.
        """
        records = iter(super().get_records(context))
        limit = self.ABORT_AT_RECORD_COUNT
        if limit is None:
            yield from records
            return
        if self._records_left_to_test is None:
            self._records_left_to_test = limit  # across partitions, like the SDK's count
        try:
            while self._records_left_to_test > 0:
                record = next(records, None)
                if record is None:
                    return
                self._records_left_to_test -= 1
                yield record
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                close()

    @property
    def pacer(self) -> RequestPacer:
        """The account's pacer (one pace for every stream)."""
        return self._account.pacer

    @property
    def budget(self) -> RequestBudget:
        """The account's request budget (one for every stream and partition)."""
        return self._account.budget

    @property
    @override
    def url_base(self) -> str:
        """`api_url` without a trailing slash."""
        return self._account.api_url

    @property
    @override
    def authenticator(self) -> APIAuthenticatorBase:
        """The account's one authenticator."""
        return self._account.authenticator

    @property
    @override
    def requests_session(self) -> requests.Session:
        """The account's paced session."""
        return self._account.session

    @property
    @override
    def timeout(self) -> int:
        """`request_timeout` (the SDK's 300 s is long for a 2-requests-per-second API)."""
        return self._account.request_timeout

    @property
    @override
    def http_headers(self) -> dict[str, str]:
        """JSON, and a User-Agent naming the tap."""
        return {"Accept": "application/json", "User-Agent": f"tap-nexudus-jobs/{__version__}"}

    @override
    def validate_response(self, response: requests.Response) -> None:
        """Throttling, 5xx and a first 401 with a login are retried; other errors are final."""
        status = response.status_code
        message = self.response_error_message(response)
        raise_if_retriable(response, message)
        if status == HTTPStatus.UNAUTHORIZED:
            self._on_unauthorized(response, message)
        if status == HTTPStatus.NOT_FOUND:
            raise NexudusNotFoundError(message)
        if status >= HTTPStatus.BAD_REQUEST:
            raise NexudusResponseError(message)
        if not _is_json(response):
            # An HTML page with 200 is what proxies and maintenance screens send: transient.
            content_type = response.headers.get("Content-Type", "no content type")
            msg = (
                f"{describe_request(response)}: the body is not JSON "
                f"({content_type}, {len(response.content)} bytes)"
            )
            raise RetriableAPIError(msg, response)
        if _is_listing(response) and not is_listing_payload(parsed_json(response)):
            # JSON, but no list of Records (an error object, a maintenance notice): as
            # transient as the HTML page above, so retried the same way.
            msg = f"{describe_request(response)}: the JSON answer is not a listing (no 'Records')"
            raise RetriableAPIError(msg, response)

    def _on_unauthorized(self, response: requests.Response, message: str) -> None:
        # Listing needs the -List role; get-one (`.../{Id}`) needs -Read.
        role = "Read" if urlsplit(response.url or "").path.rstrip("/")[-1:].isdigit() else "List"
        advice = (
            f"the token may be expired, or the user lacks the BusinessBackgroundJob-{role} role"
        )
        authenticator = self.authenticator
        if isinstance(authenticator, NexudusPasswordAuthenticator):
            # The token may have been revoked or used up early: one new token, then retry.
            authenticator.token_rejected(response.request)
            raise TokenRejectedError(message, response, f"{message} after a fresh token: {advice}")
        msg = f"{message} with the configured token: {advice}"
        raise NexudusAuthError(msg)

    @override
    def response_error_message(self, response: requests.Response) -> str:
        """Status and URL path only: bodies and headers may carry tokens or personal data."""
        path = urlsplit(response.url or "").path or self.path
        reason = f" {response.reason}" if response.reason else ""
        return f"Nexudus answered HTTP {response.status_code}{reason} for GET {path}"

    @override
    def request_decorator(self, func: Callable[..., t.Any]) -> Callable[..., t.Any]:
        """Every request through the account's one retry policy.

        Replaces the SDK's backoff decorator, which logs each retry twice (its own
        "Backing off" line carries the URL with its query) and cannot cover the token
        requests, which are not sent by a stream.
        """

        def send(prepared: requests.PreparedRequest, context: t.Any) -> t.Any:
            return self._account.policy.call(
                lambda: func(prepared, context),
                method=str(prepared.method or "GET"),
                url=str(prepared.url or self.url_base),
            )

        return send


def _is_listing(response: requests.Response) -> bool:
    return urlsplit(response.url or "").path.rstrip("/").endswith(LISTING_PATH)


def _is_json(response: requests.Response) -> bool:
    try:
        parsed_json(response)
    except ValueError:
        return False
    return True


logging.getLogger("pyrate_limiter").setLevel(logging.WARNING)
