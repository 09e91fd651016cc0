"""Authentication: a static bearer token, or Nexudus's OAuth password grant with refresh."""

from __future__ import annotations

import typing as t
from datetime import datetime, timezone
from http import HTTPStatus

import backoff
import requests
from singer_sdk.authenticators import BearerTokenAuthenticator, OAuthAuthenticator
from singer_sdk.exceptions import RetriableAPIError

from tap_nexudus_jobs.errors import NexudusAuthError
from tap_nexudus_jobs.pacing import PacedSession, RequestPacer
from tap_nexudus_jobs.retries import (
    MAX_ATTEMPTS,
    THROTTLE_STATUSES,
    TRANSPORT_ERRORS,
    ThrottledError,
    jitter_on_top,
    retry_after_seconds,
    retry_waits,
)

if t.TYPE_CHECKING:
    from collections.abc import Mapping

TOKEN_PATH = "/api/token"  # noqa: S105 - a URL path, not a secret
# What each documented /api/token error code means for the person running the tap.
TOKEN_ERROR_ADVICE = {
    "invalid_grant": "the username or password is incorrect (or the client_id does not match)",
    "two_factor_auth_check": "this user has two-factor authentication: set 'totp'",
    "must_reset_password": "Nexudus requires this user to reset the password first",
    "unsupported_grant_type": "the token request was not accepted as a password grant",
}
# Refresh this long before `expires_in` runs out, so no request races the expiry.
EXPIRY_MARGIN_SECONDS = 60


class NexudusPasswordAuthenticator(OAuthAuthenticator):
    """`POST /api/token`: password grant, then refresh grants before `expires_in` runs out.

    The SDK's OAuthAuthenticator posts with an unpaced session of its own, knows no
    refresh grant and logs the error body; Nexudus needs a `client_id` header on both
    grants, a `totp` field, pacing like every other request and errors that name the
    cause without echoing anything, so the token requests themselves are ours.
    """

    def __init__(self, *, config: Mapping[str, t.Any], api_url: str, pacer: RequestPacer) -> None:
        super().__init__(auth_endpoint=f"{api_url}{TOKEN_PATH}", client_id=config.get("client_id"))
        self._username = str(config["username"])
        self._password = str(config["password"])
        self._totp = config.get("totp")
        # Not the stream's session: that one authenticates through this object.
        self._token_session = PacedSession(pacer)

    @property
    def oauth_request_body(self) -> dict[str, str]:
        """The password grant's form fields."""
        body = {"grant_type": "password", "username": self._username, "password": self._password}
        if self._totp:
            body["totp"] = str(self._totp)
        return body

    def is_token_valid(self) -> bool:
        """Valid until shortly before the `expires_in` Nexudus returned."""
        if self.access_token is None or self.last_refreshed is None:
            return False
        if not self.expires_in:
            return True
        age = (datetime.now(timezone.utc) - self.last_refreshed).total_seconds()
        return age < self.expires_in - min(EXPIRY_MARGIN_SECONDS, self.expires_in / 10)

    def invalidate(self) -> None:
        """Forget the access token (after a 401); the next request gets a fresh one."""
        self.access_token = None

    def update_access_token(self) -> None:
        """Refresh grant when there is a refresh token, else (or if it fails) password grant."""
        if self.refresh_token:
            refresh_form = {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
            try:
                self._store(self._request_token(refresh_form))
            except NexudusAuthError:
                # Refresh tokens are single-use and expire after 15 days: log in again.
                self.refresh_token = None
            else:
                return
        self._store(self._request_token(self.oauth_request_payload))

    def _store(self, token: dict[str, t.Any]) -> None:
        self.access_token = token["access_token"]
        self.refresh_token = token.get("refresh_token")
        expires_in = token.get("expires_in")
        self.expires_in = int(expires_in) if isinstance(expires_in, (int, float, str)) else None

    def _request_token(self, form: dict[str, str]) -> dict[str, t.Any]:
        """One grant, retried like any request on throttling, 5xx and lost connections."""
        requested_at = datetime.now(timezone.utc)
        post = backoff.on_exception(
            retry_waits,
            (RetriableAPIError, *TRANSPORT_ERRORS),
            max_tries=MAX_ATTEMPTS,
            jitter=jitter_on_top,
            logger=None,
        )(self._post_token)
        try:
            token = post(form)
        except RetriableAPIError as exc:
            msg = f"{exc}; gave up after {MAX_ATTEMPTS} attempts"
            raise NexudusAuthError(msg) from None
        except TRANSPORT_ERRORS as exc:
            msg = f"Could not reach Nexudus for POST {TOKEN_PATH} ({type(exc).__name__})"
            raise NexudusAuthError(msg) from None
        self.last_refreshed = requested_at
        return token

    def _post_token(self, form: dict[str, str]) -> dict[str, t.Any]:
        headers = {"client_id": self.client_id} if self.client_id else {}
        response = self._token_session.post(
            self.auth_endpoint, data=form, headers=headers, timeout=60
        )
        message = f"Nexudus answered HTTP {response.status_code} for POST {TOKEN_PATH}"
        if response.status_code in THROTTLE_STATUSES:
            self._token_session.pacer.throttled()
            raise ThrottledError(message, response, retry_after_seconds(response))
        if response.status_code >= HTTPStatus.INTERNAL_SERVER_ERROR:
            raise RetriableAPIError(message, response)
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
    raise NexudusAuthError(msg)


def build_authenticator(
    config: Mapping[str, t.Any], api_url: str, pacer: RequestPacer
) -> BearerTokenAuthenticator | NexudusPasswordAuthenticator:
    """A static token wins when given; otherwise the password grant."""
    if config.get("access_token"):
        return BearerTokenAuthenticator(token=str(config["access_token"]))
    return NexudusPasswordAuthenticator(config=config, api_url=api_url, pacer=pacer)
