"""What went wrong below HTTP, in words naming the host (never the URL's query or headers).

The retry policy (retries.py) words every lost connection with this, and treats an
`unreachable` host (no connection made at all) as a likely wrong `api_url` before the
run's first answer.
"""

from __future__ import annotations

import socket
import ssl
import typing as t
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
import urllib3.exceptions

from tap_nexudus_jobs.deadline import RequestDeadlineExceeded


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
