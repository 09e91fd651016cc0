"""Authentication: a static bearer token, or Nexudus's OAuth password grant."""

from __future__ import annotations

import typing as t
from datetime import datetime, timezone

import requests
from singer_sdk.authenticators import BearerTokenAuthenticator, OAuthAuthenticator

from tap_nexudus_jobs.errors import NexudusAuthError

if t.TYPE_CHECKING:
    from collections.abc import Mapping

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
    """`POST /api/token` with `grant_type=password`, form-encoded; one token per run.

    The SDK's OAuthAuthenticator posts with a session of its own and logs the error
    body; Nexudus needs a `client_id` header, a `totp` field and errors that name the
    cause without echoing anything, so the token request itself is ours.
    """

    def __init__(self, *, config: Mapping[str, t.Any], api_url: str) -> None:
        super().__init__(auth_endpoint=f"{api_url}/api/token", client_id=config.get("client_id"))
        self._username = str(config["username"])
        self._password = str(config["password"])
        self._totp = config.get("totp")
        # Not the stream's session: that one authenticates through this object.
        self._token_session = requests.Session()

    @property
    def oauth_request_body(self) -> dict[str, str]:
        """The password grant's form fields."""
        body = {"grant_type": "password", "username": self._username, "password": self._password}
        if self._totp:
            body["totp"] = str(self._totp)
        return body

    def is_token_valid(self) -> bool:
        """Valid until EXPIRY_MARGIN_SECONDS before the `expires_in` Nexudus returned."""
        if self.access_token is None or self.last_refreshed is None:
            return False
        if not self.expires_in:
            return True
        age = (datetime.now(timezone.utc) - self.last_refreshed).total_seconds()
        return age < self.expires_in - min(EXPIRY_MARGIN_SECONDS, self.expires_in / 10)

    def update_access_token(self) -> None:
        """Request a token; failures become one line naming the cause, never the body."""
        headers = {"client_id": self.client_id} if self.client_id else {}
        requested_at = datetime.now(timezone.utc)
        try:
            response = self._token_session.post(
                self.auth_endpoint, data=self.oauth_request_payload, headers=headers, timeout=60
            )
        except requests.RequestException as exc:
            msg = f"Could not reach {self.auth_endpoint} for a token: {type(exc).__name__}"
            raise NexudusAuthError(msg) from None
        token = _token_from_response(response)
        self.access_token = token["access_token"]
        self.refresh_token = token.get("refresh_token")
        expires_in = token.get("expires_in")
        self.expires_in = int(expires_in) if isinstance(expires_in, (int, float, str)) else None
        self.last_refreshed = requested_at


def _token_from_response(response: requests.Response) -> dict[str, t.Any]:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code == requests.codes.ok and isinstance(payload, dict):
        if isinstance(payload.get("access_token"), str) and payload["access_token"]:
            return payload
        msg = "POST /api/token answered 200 without an access_token"
        raise NexudusAuthError(msg)
    code = payload.get("error") if isinstance(payload, dict) else None
    advice = TOKEN_ERROR_ADVICE.get(str(code), "the token request was refused")
    shown_code = f" {code}" if code in TOKEN_ERROR_ADVICE else ""
    msg = f"POST /api/token failed (HTTP {response.status_code}{shown_code}): {advice}"
    raise NexudusAuthError(msg)


def build_authenticator(
    config: Mapping[str, t.Any], api_url: str
) -> BearerTokenAuthenticator | NexudusPasswordAuthenticator:
    """A static token wins when given; otherwise the password grant."""
    if config.get("access_token"):
        return BearerTokenAuthenticator(token=str(config["access_token"]))
    return NexudusPasswordAuthenticator(config=config, api_url=api_url)
