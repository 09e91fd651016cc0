"""OAuth2 token issuing and checking for the sandbox's ``POST /api/token``.

Mirrors the documented behaviour: password grant (+ optional totp), refresh grant bound
to the issuing ``client_id`` and rotating on use, a new token for a ``client_id`` voiding
that client_id's older refresh tokens, bearer or HTTP Basic on ``/api/sys``.
Kept free of HTTP so the rules read in one place.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

#: Outcome of :meth:`TokenStore.check`: accepted, refused, or an issued token used up.
AuthOutcome = Literal["ok", "denied", "used-up"]

#: Refresh tokens live 15 days per the documentation.
REFRESH_TOKEN_LIFETIME_S = 15 * 24 * 3600
BAD_CREDENTIALS = "The user name or password is incorrect."


def _same(given: str, expected: str) -> bool:
    """Constant-time comparison that also copes with non-ASCII input."""
    return secrets.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class TokenError(Exception):
    """A /api/token failure, answered as HTTP 400 with an OAuth2 error body."""

    def __init__(self, error: str, description: str | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        """The JSON body the real server sends for this error."""
        body = {"error": self.error}
        if self.description is not None:
            body["error_description"] = self.description
        return body


@dataclass(frozen=True)
class _Grant:
    client_id: str
    expires_at: float


class TokenStore:
    """Issued access/refresh tokens plus the one configured user (thread-safe)."""

    def __init__(
        self,
        *,
        username: str,
        password: str,
        totp: str | None,
        static_token: str,
        expires_in: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.username = username
        self.password = password
        self.totp = totp
        self.static_token = static_token
        self.expires_in = expires_in
        self._clock = clock
        self._lock = threading.Lock()
        self._access: dict[str, _Grant] = {}
        self._refresh: dict[str, _Grant] = {}
        #: Authorized requests made with each issued access token.
        self._uses: dict[str, int] = {}
        #: Every access and refresh token ever issued (spent or not).
        self._issued: set[str] = set()
        #: Access tokens in the order they were issued.
        self._access_order: list[str] = []

    def grant(self, form: Mapping[str, str], client_id: str | None) -> dict[str, Any]:
        """Handle a token request body; return the success JSON or raise TokenError."""
        grant_type = form.get("grant_type")
        if grant_type == "password":
            return self._password_grant(form, client_id)
        if grant_type == "refresh_token":
            return self._refresh_grant(form, client_id)
        raise TokenError("unsupported_grant_type")

    def _password_grant(self, form: Mapping[str, str], client_id: str | None) -> dict[str, Any]:
        username = form.get("username", "")
        # E-mail addresses are matched without regard to case; passwords exactly.
        if username.casefold() != self.username.casefold() or not _same(
            form.get("password", ""), self.password
        ):
            raise TokenError("invalid_grant", BAD_CREDENTIALS)
        if self.totp is not None and form.get("totp") != self.totp:
            raise TokenError("two_factor_auth_check", "A valid two-factor code is required.")
        return self._issue(client_id or username)

    def _refresh_grant(self, form: Mapping[str, str], client_id: str | None) -> dict[str, Any]:
        token = form.get("refresh_token", "")
        with self._lock:
            grant = self._refresh.get(token)
            if grant is None or grant.expires_at <= self._clock():
                raise TokenError("invalid_grant", "The refresh token is invalid or has expired.")
            # No client_id on the refresh cannot match: the default (e-mail) is not known here.
            if client_id != grant.client_id:
                raise TokenError(
                    "invalid_grant", "Refresh token is issued to a different clientId."
                )
            del self._refresh[token]  # rotation: the old refresh token is now spent
        return self._issue(grant.client_id)

    def _issue(self, client_id: str) -> dict[str, Any]:
        access = secrets.token_urlsafe(32)
        refresh = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            # Nexudus: a token issued for a client_id invalidates its older refresh tokens,
            # so two workers sharing a client_id void each other's refresh tokens.
            self._refresh = {
                token: grant
                for token, grant in self._refresh.items()
                if grant.client_id != client_id
            }
            self._access[access] = _Grant(client_id, now + self.expires_in)
            self._refresh[refresh] = _Grant(client_id, now + REFRESH_TOKEN_LIFETIME_S)
            self._issued.update((access, refresh))
            self._access_order.append(access)
        return {
            "access_token": access,
            "token_type": "bearer",
            "expires_in": self.expires_in,
            "refresh_token": refresh,
        }

    def uses_per_access_token(self) -> list[int]:
        """Authorized requests made with each issued access token, in issue order."""
        with self._lock:
            return [self._uses.get(token, 0) for token in self._access_order]

    def issued(self) -> set[str]:
        """Every access and refresh token issued so far (a copy)."""
        with self._lock:
            return set(self._issued)

    def authorize(self, header: str | None) -> bool:
        """True for a live issued bearer token, the static token, or Basic with the user."""
        return self.check(header) == "ok"

    def check(self, header: str | None, max_uses: int | None = None) -> AuthOutcome:
        """Like :meth:`authorize`, counting uses of issued access tokens.

        With ``max_uses``, an issued access token that has already authorized that many
        requests is "used-up" (the static token and Basic auth are never counted).
        """
        if not header:
            return "denied"
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() == "bearer":
            return self._bearer(credentials, max_uses)
        if scheme.lower() == "basic":
            return "ok" if self._basic_ok(credentials) else "denied"
        return "denied"

    def _bearer(self, token: str, max_uses: int | None) -> AuthOutcome:
        if token and _same(token, self.static_token):
            return "ok"
        with self._lock:
            grant = self._access.get(token)
            if grant is None or grant.expires_at <= self._clock():
                return "denied"
            uses = self._uses.get(token, 0)
            if max_uses is not None and uses >= max_uses:
                return "used-up"
            self._uses[token] = uses + 1
        return "ok"

    def _basic_ok(self, credentials: str) -> bool:
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        username, _, password = decoded.partition(":")
        return username.casefold() == self.username.casefold() and _same(password, self.password)
