"""One total deadline per request, headers and body included: `request_timeout` seconds.

requests' timeouts bound each socket operation, not a request: a body (or headers)
arriving a byte every few seconds never trips a 60 s read timeout and holds the run for as
long as the server drips. So every request of a run gets a deadline: while the headers
come in, one watchdog thread shuts the connection down when it passes (`DeadlineAdapter`);
the body the session reads itself, giving every read only the time left. Past it the
request fails as a timeout (retried like one), with the host and the deadline in its words.
"""

from __future__ import annotations

import itertools
import socket
import threading
import time
import typing as t
from contextlib import contextmanager, suppress

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter
from typing_extensions import override
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterator

# Bytes per read: large enough that a fast body costs few calls.
READ_SIZE = 64 * 1024
# Of a request's deadline, connecting may take at most this: a TCP connection that is not
# up by then will not come up, and a wrong host should not cost a whole request timeout.
CONNECT_TIMEOUT_SECONDS = 10.0


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


class _Watchdog:
    """One daemon thread for the process: shuts down sockets whose request is past due."""

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._watched: dict[int, tuple[float, socket.socket]] = {}
        self._keys = itertools.count()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, deadline_at: float, sock: socket.socket) -> Iterator[None]:
        """While inside, `sock` is shut down once `time.monotonic()` reaches `deadline_at`."""
        with self._wake:
            key = next(self._keys)
            self._watched[key] = (deadline_at, sock)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="request-deadlines", daemon=True
                )
                self._thread.start()
            self._wake.notify()
        try:
            yield
        finally:
            with self._wake:
                self._watched.pop(key, None)

    def _run(self) -> None:
        with self._wake:
            while True:
                now = time.monotonic()
                for key, (deadline_at, sock) in list(self._watched.items()):
                    if deadline_at <= now:
                        del self._watched[key]
                        _shut(sock)
                soonest = min((at for at, _sock in self._watched.values()), default=None)
                self._wake.wait(None if soonest is None else soonest - now)


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):  # already closed: nothing is waiting on it
        sock.shutdown(socket.SHUT_RDWR)  # the blocked read returns at once


_WATCHDOG = _Watchdog()
# The deadline of the request this thread is sending (get-one threads send their own).
_SENDING = threading.local()


@contextmanager
def deadline_for_this_thread(deadline_at: float) -> Iterator[None]:
    """The deadline `DeadlineAdapter`'s connections hold the headers of this request to."""
    _SENDING.deadline_at = deadline_at
    try:
        yield
    finally:
        _SENDING.deadline_at = None


class _HeadersByDeadline:
    """A urllib3 connection whose wait for the response headers ends at the deadline."""

    sock: socket.socket | None

    def getresponse(self) -> t.Any:
        deadline_at = getattr(_SENDING, "deadline_at", None)
        sock = self.sock
        parent = t.cast("t.Any", super())
        if deadline_at is None or sock is None:
            return parent.getresponse()
        with _WATCHDOG.watching(deadline_at, sock):
            return parent.getresponse()


class _HTTPConnection(_HeadersByDeadline, HTTPConnection):
    pass


class _HTTPSConnection(_HeadersByDeadline, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, with connections that hold the response headers to the deadline."""

    @override
    def init_poolmanager(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


class DeadlineSession(requests.Session):
    """A session whose requests sent with a timeout must be answered in full by then.

    The one timeout (the `request_timeout` setting) becomes requests' (connect, read),
    the connect part capped at CONNECT_TIMEOUT_SECONDS, and the whole answer's deadline.
    """

    def __init__(self) -> None:
        super().__init__()
        for prefix in ("https://", "http://"):
            self.mount(prefix, DeadlineAdapter())

    @override
    def send(self, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        """Send; with a timeout, the headers and the body are due within it."""
        timeout = kwargs.get("timeout")
        if not isinstance(timeout, (int, float)):  # a redirect hop: (connect, read) already
            return super().send(request, **kwargs)
        deadline_at = time.monotonic() + timeout
        kwargs["timeout"] = (min(CONNECT_TIMEOUT_SECONDS, timeout), timeout)
        streamed = bool(kwargs.get("stream"))
        kwargs["stream"] = True
        try:
            with deadline_for_this_thread(deadline_at):
                response = super().send(request, **kwargs)
        except requests.exceptions.ConnectTimeout:
            raise
        except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
            if time.monotonic() < deadline_at:
                raise  # not the deadline: a reset, a refused connection, ...
            raise RequestDeadlineExceeded(timeout) from None
        if not streamed:
            read_body_by(response, deadline_at, timeout, time.monotonic)
        return response
