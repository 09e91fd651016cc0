"""One total deadline per request, the body included: `request_timeout` seconds.

requests' timeouts bound each socket operation, not a request: a body arriving a byte
every few seconds never trips a 60 s read timeout and holds the run for as long as the
server drips. The session reads each body itself, giving every read only the time left
until the deadline; past it the request fails as a timeout (retried like one), with the
host and the deadline in its words.
"""

from __future__ import annotations

import typing as t

import requests
import urllib3.exceptions

if t.TYPE_CHECKING:
    from collections.abc import Callable

# Bytes per read: large enough that a fast body costs few calls.
READ_SIZE = 64 * 1024


class RequestDeadlineExceeded(requests.exceptions.ReadTimeout):
    """No complete answer within the request's deadline (`seconds`)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g}s")
        self.seconds = seconds


def remaining(deadline_at: float, now: float, seconds: float) -> float:
    """Seconds left before `deadline_at`; the request has failed if none are.

    Raises:
        RequestDeadlineExceeded: when `now` is at or past the deadline.
    """
    left = deadline_at - now
    if left <= 0:
        raise RequestDeadlineExceeded(seconds)
    return left


def read_body_by(
    response: requests.Response,
    deadline_at: float,
    seconds: float,
    monotonic: Callable[[], float],
) -> None:
    """Read `response`'s body (sent with `stream=True`) before `deadline_at`, or fail.

    Each read waits at most the time left (the socket's timeout is set to it), and returns
    what has arrived, so a dripping body meets the deadline within one read. The body
    ends up where requests keeps it (`response.content`), and the connection goes back to
    the pool as usual once it is read to the end.
    """
    raw = response.raw
    chunks: list[bytes] = []
    try:
        while True:
            _limit_socket_wait(raw, remaining(deadline_at, monotonic(), seconds))
            chunk = raw.read1(READ_SIZE, decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        response.close()
        raise RequestDeadlineExceeded(seconds) from None
    except urllib3.exceptions.ProtocolError as exc:  # as requests maps them
        response.close()
        raise requests.exceptions.ChunkedEncodingError(exc) from exc
    except urllib3.exceptions.DecodeError as exc:
        response.close()
        raise requests.exceptions.ContentDecodingError(exc) from exc
    except RequestDeadlineExceeded:
        response.close()
        raise
    # Where requests keeps a body it has read (`response.content` returns it).
    response._content = b"".join(chunks)
    t.cast("t.Any", response)._content_consumed = True


def _limit_socket_wait(raw: t.Any, seconds: float) -> None:
    connection = getattr(raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(seconds)
