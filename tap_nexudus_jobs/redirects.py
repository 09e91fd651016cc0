"""Redirects: followed only within the origin they come from (scheme, host and port).

A token request carries the password (or a refresh token) in its body, and requests
follows a 307 with the body unchanged to wherever `Location` points; a listing or
get-one carries a bearer token. A redirect to another origin is therefore never followed,
for any request: the run stops with one line naming where the server tried to send it.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import requests
from typing_extensions import override

from tap_nexudus_jobs.errors import NexudusRedirectError

_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: no origin matches it
        port = -1
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def shown(url: str) -> str:
    """`scheme://host:port/path`: a Location's query or user info may carry anything."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ":?"
    return f"{parts.scheme}://{host}{port}{parts.path}"


def check_redirect(method: str, status: int, url: str, location: str) -> None:
    """Nothing for a redirect within `url`'s origin; otherwise the error that ends the run.

    Raises:
        NexudusRedirectError: naming the request, the status and the other origin.
    """
    target = urljoin(url, location)
    if origin(target) == origin(url):
        return
    source = urlsplit(url)
    home = f"{source.scheme}://{source.netloc.rpartition('@')[2]}"
    msg = (
        f"Nexudus answered {method} {source.path} with HTTP {status}, redirecting to "
        f"{shown(target)}, another origin than {home}: "
        "not followed, so no credential was sent there; check api_url (a proxy or a moved "
        "account?)"
    )
    raise NexudusRedirectError(msg)


class SameOriginSession(requests.Session):
    """A session that follows a redirect only within its origin; else the run stops."""

    @override
    def get_redirect_target(self, resp: requests.Response) -> str | None:
        """The redirect's Location, if it stays within the origin."""
        location = super().get_redirect_target(resp)
        if location is not None:
            request = resp.request
            try:
                check_redirect(
                    str(request.method), resp.status_code, str(request.url or resp.url), location
                )
            except NexudusRedirectError:
                resp.close()
                raise
        return location
