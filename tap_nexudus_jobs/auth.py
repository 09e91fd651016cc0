"""Authentication: a static bearer token, or Nexudus's OAuth password grant with refresh."""

from __future__ import annotations

import logging
import threading
import typing as t
from datetime import datetime, timezone

import requests
from singer_sdk.authenticators import BearerTokenAuthenticator, OAuthAuthenticator
from typing_extensions import override

from tap_nexudus_jobs.errors import NexudusAuthError
from tap_nexudus_jobs.nexudus_api import TOKEN_PATH
from tap_nexudus_jobs.retries import raise_if_retriable

if t.TYPE_CHECKING:
    from collections.abc import Mapping

    from tap_nexudus_jobs.retries import HttpPolicy

# What each documented /api/token error code means for the person running the tap.
TOKEN_ERROR_ADVICE = {
    "invalid_grant": "the username or password is incorrect (or the client_id does not match)",
    "two_factor_auth_check": "this user has two-factor authentication: set 'totp'",
    "must_reset_password": "Nexudus requires this user to reset the password first",
    "unsupported_grant_type": "the token request was not accepted as a password grant",
}
# Refresh this long before `expires_in` runs out, so no request races the expiry.
EXPIRY_MARGIN_SECONDS = 60

logger = logging.getLogger("tap-nexudus-jobs")


def _utc_now() -> datetime:
    """The clock token lifetimes are measured on (tests replace it, instead of sleeping)."""
    return datetime.now(timezone.utc)


class TokenGrantRefusedError(NexudusAuthError):
    """/api/token answered with an OAuth error (HTTP 4xx), e.g. `invalid_grant`."""


class NexudusPasswordAuthenticator(OAuthAuthenticator):
    """`POST /api/token`: password grant, then refresh grants before `expires_in` runs out.

    The SDK's OAuthAuthenticator posts with an unpaced session of its own, knows no
    refresh grant, logs the error body and is not safe to share between threads; Nexudus
    needs a `client_id` header on both grants, a `totp` field, pacing and the retry policy
    like every other request, and errors that name the cause without echoing anything.

    One instance serves every stream, partition and get-one thread of a run. A lock makes
    sure one failure leads to one new token: a refresh token is single-use, and a token
    issued for a `client_id` also invalidates that client_id's older refresh tokens.
    """

    def __init__(
        self,
        *,
        config: Mapping[str, t.Any],
        api_url: str,
        session: requests.Session,
        policy: HttpPolicy,
        timeout: float,
    ) -> None:
        super().__init__(auth_endpoint=f"{api_url}{TOKEN_PATH}", client_id=config.get("client_id"))
        self._username = str(config["username"])
        self._password = str(config["password"])
        self._totp = config.get("totp")
        self._token_session = session
        self._policy = policy
        self._timeout = timeout
        self._lock = threading.Lock()

    @property
    @override
    def oauth_request_body(self) -> dict[str, str]:
        """The password grant's form fields."""
        body = {"grant_type": "password", "username": self._username, "password": self._password}
        if self._totp:
            body["totp"] = str(self._totp)
        return body

    @override
    def is_token_valid(self) -> bool:
        """Valid until shortly before the `expires_in` Nexudus returned."""
        if self.access_token is None or self.last_refreshed is None:
            return False
        if not self.expires_in:
            return True
        age = (_utc_now() - self.last_refreshed).total_seconds()
        return age < self.expires_in - min(EXPIRY_MARGIN_SECONDS, self.expires_in / 10)

    @override
    def authenticate_request(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        """Set the bearer header, getting a token first if there is no valid one.

        The SDK's version writes the header into a dict shared by all requests; with
        get-one threads the header is set on this request only, and the check-and-refresh
        happens under the lock so that only the first thread to find no token fetches one.
        """
        with self._lock:
            if not self.is_token_valid():
                self.update_access_token()
            token = self.access_token
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    def token_rejected(self, request: requests.PreparedRequest | None) -> None:
        """A 401 answered `request`: forget its token, unless another thread already did.

        Four get-one requests in flight can all see the same 401; comparing the token each
        was sent with keeps that to one new token rather than four.
        """
        sent = request.headers.get("Authorization") if request is not None else None
        with self._lock:
            if self.access_token is not None and sent == f"Bearer {self.access_token}":
                self.access_token = None

    @override
    def update_access_token(self) -> None:
        """Refresh grant when there is a refresh token, else (or if it is refused) password."""
        if self.refresh_token:
            refresh_form = {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
            try:
                self._store(self._request_token(refresh_form))
            except TokenGrantRefusedError:
                # Single-use, 15-day lifetime, and void once another run logs in with the
                # same client_id: log in again, once.
                self.refresh_token = None
                logger.info("The refresh token was refused; requesting a new token by password")
            else:
                return
        self._store(self._request_token(self.oauth_request_payload))

    def _store(self, token: dict[str, t.Any]) -> None:
        self.access_token = token["access_token"]
        self.refresh_token = token.get("refresh_token")
        expires_in = token.get("expires_in")
        self.expires_in = int(expires_in) if isinstance(expires_in, (int, float, str)) else None

    def _request_token(self, form: dict[str, str]) -> dict[str, t.Any]:
        """One grant, under the same retry policy as every other request."""
        requested_at = _utc_now()
        token = self._policy.call(
            lambda: self._post_token(form),
            method="POST",
            url=self.auth_endpoint,
        )
        self.last_refreshed = requested_at
        return token

    def _post_token(self, form: dict[str, str]) -> dict[str, t.Any]:
        headers = {"client_id": self.client_id} if self.client_id else {}
        response = self._token_session.post(
            self.auth_endpoint, data=form, headers=headers, timeout=self._timeout
        )
        raise_if_retriable(
            response, f"Nexudus answered HTTP {response.status_code} for POST {TOKEN_PATH}"
        )
        return _token_from_response(response, form["grant_type"])


def _token_from_response(response: requests.Response, grant_type: str) -> dict[str, t.Any]:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code == requests.codes.ok and isinstance(payload, dict):
        if isinstance(payload.get("access_token"), str) and payload["access_token"]:
            return payload
        msg = f"POST {TOKEN_PATH} answered 200 without an access_token"
        raise NexudusAuthError(msg)
    code = payload.get("error") if isinstance(payload, dict) else None
    advice = TOKEN_ERROR_ADVICE.get(str(code), "the token request was refused")
    if grant_type == "refresh_token":
        advice = "the refresh token was refused"
    shown_code = f" {code}" if code in TOKEN_ERROR_ADVICE else ""
    msg = f"POST {TOKEN_PATH} failed (HTTP {response.status_code}{shown_code}): {advice}"
    raise TokenGrantRefusedError(msg)


def build_authenticator(
    config: Mapping[str, t.Any],
    *,
    api_url: str,
    session: requests.Session,
    policy: HttpPolicy,
    timeout: float,
) -> BearerTokenAuthenticator | NexudusPasswordAuthenticator:
    """A static token wins when given; otherwise the password grant."""
    if config.get("access_token"):
        return BearerTokenAuthenticator(token=str(config["access_token"]))
    return NexudusPasswordAuthenticator(
        config=config, api_url=api_url, session=session, policy=policy, timeout=timeout
    )
