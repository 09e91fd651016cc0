"""The sandbox HTTP server: routes, auth, request log, and the NexudusSandbox controller.

Requests are served by a ThreadingHTTPServer in a daemon thread, so tests can drive the
tap and mutate data (``touch``/``add_jobs``/``delete``) at the same time; one re-entrant
lock guards ``jobs``. Fault knobs (``SandboxFaults``) are decided per request by a
``FaultEngine`` (see faults.py for the order they apply in).

Two clocks: the HTTP ``Date`` header is true UTC (unless ``date_header`` says otherwise),
while every UpdatedOn/CreatedOn the sandbox writes by itself comes from
:meth:`NexudusSandbox.record_now`, true UTC shifted by ``record_clock_offset_hours`` and,
from ``record_clock_jump_at`` on, ``record_clock_jump_minutes``. True UTC is the
sandbox's ``clock`` (real time unless a test injects a :class:`SimulatedClock`).
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from math import ceil
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from nexudus_sandbox.clock import Clock, real_clock
from nexudus_sandbox.data import (
    FINISHED_STATUSES,
    FIRST_ID,
    Job,
    format_timestamp,
    generate_jobs,
    make_job,
    render_job,
    render_timestamp,
    restyle_timestamps,
    result_data_for,
    seeded_rng,
)
from nexudus_sandbox.faults import (
    FAULT_BULK_UPDATE,
    FAULT_CHANGES,
    FAULT_GARBAGE,
    FAULT_PURGE,
    FAULT_TOKEN_EXPIRED,
    THROTTLE_STATUSES,
    WRONG_DATE_OFFSET,
    FaultEngine,
    SandboxFaults,
    Verdict,
)
from nexudus_sandbox.lifecycle import (
    FAULT_STATUS_FLOW,
    add_extra_fields,
    advance_status_flow,
    status_flow_due,
)
from nexudus_sandbox.listing import (
    ListingError,
    UpdatedOnIndex,
    list_jobs,
    list_jobs_indexed,
    parse_listing_query,
)
from nexudus_sandbox.tokens import TokenError, TokenStore
from tap_nexudus_jobs.nexudus_api import LISTING_PATH, TOKEN_PATH

MAX_BODY_BYTES = 1 << 20
DENIED_MESSAGE = "Authorization has been denied for this request."
#: Request headers worth keeping in the log; Authorization is reduced to its scheme.
LOGGED_HEADERS = ("User-Agent", "Accept", "Content-Type", "client_id")
HTML_CONTENT_TYPE = "text/html; charset=utf-8"
#: What a proxy or the web tier sends for 502/503, and the listing's garbage page.
_HTML_ERRORS: dict[int, bytes] = {
    502: b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad "
    b"Gateway</h1></center><hr><center>nginx</center></body></html>",
    503: b"<html><head><title>Service Unavailable</title></head><body><h1>Service "
    b"Unavailable</h1><p>The service is temporarily unavailable.</p></body></html>",
}
GARBAGE_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Nexudus - Error</title></head><body>"
    b"<h1>Sorry, something went wrong.</h1><p>An unexpected error occurred while processing "
    b"your request. Please try again later.</p></body></html>\n"
)


@dataclass
class RequestLogEntry:
    """One request as the sandbox saw it (no secrets: bodies are not kept)."""

    method: str
    path: str
    query: dict[str, str]
    #: ``time.monotonic()`` when the request line was read.
    started_at: float
    headers: dict[str, str] = field(default_factory=dict)
    #: HTTP status sent; 0 while the request is still being handled, and for a reset.
    status: int = 0
    finished_at: float | None = None
    #: The fault injected into this request ("limit", "throttle", "error", "reset",
    #: "scripted", "garbage", "token-expired", "changes", "bulk-update",
    #: "status-flow"), or None. A listing request that saw several is logged as the last:
    #: changes, then a bulk update, then a status flow, then a garbage page.
    fault: str | None = None
    #: 1-based number of this request among all the sandbox received (fault numbering).
    number: int = 0
    #: ``time.time()`` (real) when the request line was read, to compare with a
    #: Retry-After HTTP-date.
    started_wall: float = 0.0
    #: The ``Retry-After`` header sent with this answer, if any.
    retry_after: str | None = None


@dataclass
class Response:
    """What the handler will send; faults build these to short-circuit a request."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        """A JSON response in the content type ASP.NET Web API uses."""
        all_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return cls(status, json.dumps(payload).encode("utf-8"), all_headers)


def _message(status: int, message: str) -> Response:
    """Web API error shape: ``{"Message": ...}``."""
    return Response.json(status, {"Message": message})


def _utc_seconds(at: datetime | None) -> datetime:
    """``at`` (naive means UTC) or now, as aware UTC truncated to whole seconds."""
    if at is None:
        at = datetime.now(timezone.utc)
    elif at.tzinfo is None:
        at = at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc).replace(microsecond=0)


def date_header_value(mode: str, now: float | None = None) -> str | None:
    """The ``Date`` header for ``date_header`` ``mode`` at ``now`` (epoch seconds); None: omit."""
    if mode == "missing":
        return None
    instant = time.time() if now is None else now
    if mode == "wrong":
        instant += WRONG_DATE_OFFSET.total_seconds()
    return formatdate(instant, usegmt=True)


def retry_after_value(seconds: int, fmt: str, now: float | None = None) -> str:
    """``Retry-After`` for a wait of ``seconds``: "seconds" or an HTTP-date (real time).

    The date is rounded up to a whole second, so the client never may come back early.
    """
    if fmt == "seconds":
        return str(seconds)
    instant = (time.time() if now is None else now) + seconds
    return formatdate(ceil(instant), usegmt=True)


def _fault_response(verdict: Verdict, retry_after_format: str = "seconds") -> Response:
    """The response for a request-level fault (status 0: reset, sent as nothing)."""
    status = verdict.status
    if status == 0:
        return Response(0)
    if status in THROTTLE_STATUSES:
        # Throttling: empty body and Retry-After, as the documentation says.
        value = retry_after_value(verdict.retry_after or 0, retry_after_format)
        return Response(status, b"", {"Retry-After": value})
    if verdict.fault == "error" and status in _HTML_ERRORS:
        return Response(status, _HTML_ERRORS[status], {"Content-Type": HTML_CONTENT_TYPE})
    if verdict.fault == "error":
        return _message(status, "An error has occurred.")
    return _message(status, f"Scripted response (HTTP {status}).")


def _tie_seed(faults: SandboxFaults, listing_number: int) -> str | None:
    """The tie order of listing request ``listing_number``: a new one per request."""
    return f"{faults.seed}:ties:{listing_number}" if faults.shuffle_ties else None


class _SandboxServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its sandbox and can drop keep-alive connections."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], sandbox: NexudusSandbox) -> None:
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket) -> None:
        """Remember an open connection so ``close_connections`` can end it."""
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        """Forget a connection its handler has finished with."""
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        """Shut idle keep-alive sockets, or a stopped sandbox would keep answering on them."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hang up; report anything else."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Routes one request. Keep-alive (HTTP/1.1) like the real API, so sessions reuse sockets."""

    server: _SandboxServer
    protocol_version = "HTTP/1.1"
    server_version = "NexudusSandbox/1.0"
    timeout = 60  # seconds an idle keep-alive connection is kept open

    def setup(self) -> None:
        """Register the connection for shutdown."""
        super().setup()
        # Headers and body go out in two writes: without this, Nagle holds the second
        # until the client's delayed ACK, about 40 ms a response on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection)

    def finish(self) -> None:
        """Unregister the connection."""
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def do_GET(self) -> None:
        """Serve GET."""
        self._serve()

    def do_POST(self) -> None:
        """Serve POST."""
        self._serve()

    def do_PUT(self) -> None:
        """Serve PUT (always refused: the entity is read-only)."""
        self._serve()

    def do_DELETE(self) -> None:
        """Serve DELETE (always refused: the entity is read-only)."""
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request stderr lines; ``request_log`` is the record."""

    def send_response(self, code: int, message: str | None = None) -> None:
        """Status line, Server and Date, with Date as the ``date_header`` knob says."""
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Server", self.version_string())
        sandbox = self.server.sandbox
        date = date_header_value(sandbox.faults.date_header, sandbox.clock().timestamp())
        if date is not None:
            self.send_header("Date", date)

    # -- pipeline ----------------------------------------------------------------------

    def _serve(self) -> None:
        sandbox = self.server.sandbox
        split = urlsplit(self.path)
        entry = RequestLogEntry(
            method=self.command,
            path=split.path,
            query=dict(parse_qsl(split.query, keep_blank_values=True)),
            started_at=time.monotonic(),
            headers=self._logged_headers(),
            started_wall=time.time(),
        )
        verdict = sandbox._fault_engine.admit(sandbox.faults)
        entry.number = verdict.number
        body = self._read_body()
        if body is None:
            response = _message(413, "The request body is too large.")
        else:
            try:
                response = self._before_response(entry, verdict) or self._route(entry, body)
            except Exception:
                traceback.print_exc(file=sys.stderr)
                response = _message(500, "An error has occurred.")
        entry.status = response.status
        entry.retry_after = response.headers.get("Retry-After")
        entry.finished_at = time.monotonic()
        # Logged before the bytes go out, so a client that got a reply sees it logged.
        sandbox._record(entry)
        if response.status == 0:
            self._reset()
        else:
            self._send(response)

    def _before_response(self, entry: RequestLogEntry, verdict: Verdict) -> Response | None:
        """The fault hook: runs before routing; a returned Response replaces the real one.

        ``verdict`` is the request-level fault the engine chose (limit, throttle, reset,
        error, scripted). A Response with status 0 means "close without answering".
        """
        faults = self.server.sandbox.faults
        if faults.latency_ms > 0:
            time.sleep(faults.latency_ms / 1000)
        if verdict.fault is None:
            return None
        entry.fault = verdict.fault
        return _fault_response(verdict, faults.retry_after_format)

    def _route(self, entry: RequestLogEntry, body: bytes) -> Response:
        path = entry.path.rstrip("/").lower()  # ASP.NET routes ignore case
        if path == TOKEN_PATH:
            return self._token(body) if self.command == "POST" else self._not_allowed()
        if path.startswith("/api/sys/"):
            # Auth comes first: a bad token and a missing permission both answer 401.
            sandbox = self.server.sandbox
            outcome = sandbox.tokens.check(
                self.headers.get("Authorization"), sandbox.faults.token_max_uses
            )
            if outcome != "ok":
                if outcome == "used-up":
                    entry.fault = FAULT_TOKEN_EXPIRED
                return Response.json(
                    401, {"Message": DENIED_MESSAGE}, {"WWW-Authenticate": "Bearer"}
                )
            if path == LISTING_PATH:
                return self._listing(entry) if self.command == "GET" else self._not_allowed()
            if (
                path.startswith(LISTING_PATH + "/")
                and path.count("/") == LISTING_PATH.count("/") + 1
            ):
                raw_id = path.rsplit("/", 1)[1]
                return self._get_one(raw_id) if self.command == "GET" else self._not_allowed()
        return _message(
            404, f"No HTTP resource was found that matches the request URI '{entry.path}'."
        )

    # -- endpoints ---------------------------------------------------------------------

    def _token(self, body: bytes) -> Response:
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        form: dict[str, str] = {}
        if content_type == "application/x-www-form-urlencoded":
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        # Any other body (JSON included) has no readable grant_type: unsupported_grant_type.
        client_id = self.headers.get("client_id") or form.get("client_id") or None
        try:
            payload = self.server.sandbox.tokens.grant(form, client_id)
        except TokenError as exc:
            return Response.json(400, exc.body())
        return Response.json(200, payload, {"Cache-Control": "no-cache"})

    def _listing(self, entry: RequestLogEntry) -> Response:
        sandbox = self.server.sandbox
        count = sandbox._count_listing_request()
        faults = sandbox.faults
        if faults.changes_due(count) and sandbox._change_random_jobs(faults):
            entry.fault = FAULT_CHANGES
        if faults.bulk_update_due(count) and sandbox._bulk_update(faults):
            entry.fault = FAULT_BULK_UPDATE
        if faults.purge_due(count) and sandbox._purge_random_jobs(faults):
            entry.fault = FAULT_PURGE
        if status_flow_due(faults, count) and any(
            advance_status_flow(sandbox, faults, count).values()
        ):
            entry.fault = FAULT_STATUS_FLOW
        callback = sandbox.on_listing_request
        if callback is not None:
            callback(count)  # before the page is computed, so it can move data under a sync
        if count in faults.garbage_listing_requests:
            entry.fault = FAULT_GARBAGE
            if faults.garbage_listing_format == "json":
                return Response.json(200, {"Message": "The service is being updated"})
            return Response(200, GARBAGE_PAGE, {"Content-Type": HTML_CONTENT_TYPE})
        try:
            query = parse_listing_query(
                entry.query,
                max_page_size=sandbox.max_page_size,
                dir_convention=faults.dir_convention,
                to_filter=faults.to_filter,
            )
        except ListingError as exc:
            return _message(400, str(exc))
        tie_seed = _tie_seed(faults, count)
        ignored_page = faults.ignore_page_by_id and query.order_field.lower() == "id"
        served = replace(query, page=1) if ignored_page else query
        with sandbox.lock:
            envelope = list_jobs_indexed(
                sandbox.jobs, served, sandbox._updated_index, tie_seed=tie_seed
            )
        if ignored_page:
            envelope.update(CurrentPage=query.page, HasNextPage=True)
        restyle_timestamps(envelope["Records"], faults.timestamp_format)
        add_extra_fields(envelope["Records"], faults)
        return Response.json(200, envelope)

    def _get_one(self, raw_id: str) -> Response:
        try:
            job_id = int(raw_id)
        except ValueError:
            return _message(404, f"No HTTP resource was found for id '{raw_id}'.")
        sandbox = self.server.sandbox
        with sandbox.lock:
            job = sandbox.jobs.get(job_id)
            rendered = render_job(job) if job is not None else None
        if job_id in sandbox.faults.get_one_missing:
            rendered = None
        if rendered is None:
            return _message(404, f"BusinessBackgroundJob with Id {job_id} was not found.")
        restyle_timestamps([rendered], sandbox.faults.timestamp_format)
        add_extra_fields([rendered], sandbox.faults)
        return Response.json(200, rendered)

    def _not_allowed(self) -> Response:
        return _message(
            405, f"The requested resource does not support http method '{self.command}'."
        )

    # -- plumbing ----------------------------------------------------------------------

    def _logged_headers(self) -> dict[str, str]:
        headers = {name: value for name in LOGGED_HEADERS if (value := self.headers.get(name))}
        authorization = self.headers.get("Authorization")
        if authorization:
            headers["Authorization"] = authorization.split(" ", 1)[0]  # scheme only
        return headers

    def _read_body(self) -> bytes | None:
        """Read the declared body (needed to keep the connection usable); None if too big."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _reset(self) -> None:
        """Drop the connection without a response (linger 0: the close ends in a TCP RST).

        The client sees RemoteDisconnected or a connection reset. Only this handler's
        connection ends (keep-alive or not); the server keeps serving.
        """
        self.close_connection = True
        with suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)


class NexudusSandbox:
    """A local BusinessBackgroundJobs API with controllable data and faults.

    Use as a context manager (``with NexudusSandbox(records=200) as sandbox:``) or call
    ``start()``/``stop()``. ``jobs`` maps Id to the internal job dict (aware datetimes);
    mutate it only through ``touch``/``add_jobs``/``delete``, or while holding ``lock``
    and then calling ``reindex()`` (the UpdatedOn listing reads a sorted index that those
    methods maintain).
    """

    def __init__(
        self,
        records: int = 500,
        seed: int = 42,
        *,
        username: str = "demo@example.com",
        password: str = "demo-password",  # noqa: S107 - well-known demo credential
        totp: str | None = None,
        static_token: str = "sandbox-token",  # noqa: S107 - well-known demo credential
        expires_in: int = 604799,
        max_page_size: int = 1000,
        faults: SandboxFaults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock = real_clock,
    ) -> None:
        self.records = records
        #: True UTC for this sandbox: record stamps and the Date header follow it.
        self.clock = clock
        self.seed = seed
        self.host = host
        self.port = port
        self.max_page_size = max_page_size
        #: Read on every request, so knobs can be changed while serving.
        self.faults = faults if faults is not None else SandboxFaults()
        #: Called with the 1-based number of listing requests so far, before the page is
        #: computed: the place to change data in the middle of a paged sync.
        self.on_listing_request: Callable[[int], None] | None = None
        self.tokens = TokenStore(
            username=username,
            password=password,
            totp=totp,
            static_token=static_token,
            expires_in=expires_in,
        )
        self.lock = threading.RLock()
        self.jobs: dict[int, Job] = {job["Id"]: job for job in generate_jobs(records, seed)}
        #: Sorted (UpdatedOn, Id) index for the sync's listing query (see listing.py).
        self._updated_index = UpdatedOnIndex()
        self.request_log: list[RequestLogEntry] = []
        self._log_lock = threading.Lock()
        self._listing_requests = 0
        # The rate-limit windows run on the sandbox's clock, so a test can move past them.
        self._fault_engine = FaultEngine(lambda: self.clock().timestamp())
        # Like an identity column: Ids are never reused, even after deletes.
        self._next_id = max(self.jobs, default=FIRST_ID - 1) + 1
        self._server: _SandboxServer | None = None
        self._thread: threading.Thread | None = None
        #: True once the ``stray_write_*`` knobs' one write has happened.
        self.stray_written = False

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> str:
        """Bind (port 0 picks a free port), serve in a daemon thread, return the base URL."""
        if self._server is not None:
            raise RuntimeError("sandbox already started")
        server = _SandboxServer((self.host, self.port), self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="nexudus-sandbox",
            daemon=True,
        )
        thread.start()
        self._server, self._thread = server, thread
        return self.url

    def stop(self) -> None:
        """Stop serving and close every connection; safe to call twice."""
        server, thread = self._server, self._thread
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> NexudusSandbox:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL such as ``http://127.0.0.1:54321`` (the tap's ``api_url``)."""
        if self._server is None:
            raise RuntimeError("sandbox not started")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- data control ------------------------------------------------------------------

    def served_ids(self) -> set[int]:
        """All Ids currently served."""
        with self.lock:
            return set(self.jobs)

    def record_now(self) -> datetime:
        """Now on the clock that stamps records, whole seconds: true UTC (``clock``) plus
        the record clock offset, plus the jump once ``record_clock_jump_at`` has passed.

        Rendered with ``Z`` like every stored timestamp, however far from UTC it is.
        """
        now = self.clock()
        return (now + self.faults.record_clock_shift(now)).replace(microsecond=0)

    def _write_stamp(self) -> datetime:
        """The stamp of a write whose time the sandbox picks: :meth:`record_now`, or once,
        from ``stray_write_at`` on, ``stray_write_stamp`` (one write under a broken clock)."""
        faults = self.faults
        stray, due = faults.stray_write_stamp, faults.stray_write_at
        if stray is None or due is None or self.stray_written or self.clock() < due:
            return self.record_now()
        self.stray_written = True
        return _utc_seconds(stray)

    def current_versions(self) -> dict[int, str]:
        """Id -> UpdatedOn as the API renders it, to compare with what a tap emitted."""
        with self.lock:
            return {job_id: format_timestamp(job["UpdatedOn"]) for job_id, job in self.jobs.items()}

    def rendered_versions(self) -> dict[int, str]:
        """Id -> UpdatedOn as the listing writes it now (``timestamp_format`` applied)."""
        fmt = self.faults.timestamp_format
        return {i: render_timestamp(v, i, fmt) for i, v in self.current_versions().items()}

    def touch(
        self, ids: Iterable[int], at: datetime | None = None, status: str | None = None
    ) -> None:
        """Mark jobs updated at ``at``, maybe with a new Status.

        ``at`` is stored as given (naive means UTC; whole seconds); the default is
        :meth:`record_now`, so ``record_clock_offset_hours`` applies. Raises KeyError (and
        changes nothing) if any Id is not served.
        """
        wanted = list(ids)
        with self.lock:
            when = _utc_seconds(at) if at is not None else self._write_stamp()
            missing = [job_id for job_id in wanted if job_id not in self.jobs]
            if missing:
                raise KeyError(f"unknown job ids: {missing}")
            touched: list[Job] = []
            for job_id in wanted:
                job = self.jobs[job_id]
                touched.append(job)
                job["UpdatedOn"] = when
                if status is not None and status != job["Status"]:
                    job["Status"] = status
                    rng = seeded_rng(f"{self.seed}:status:{job_id}:{status}")
                    processed = rng.randint(1, 400)
                    job["ResultData"] = (
                        result_data_for(status, processed, rng)
                        if status in FINISHED_STATUSES
                        else None
                    )
            self._updated_index.moved(touched)

    def add_jobs(
        self, count: int, at: datetime | None = None, status: str | None = None
    ) -> list[int]:
        """Create ``count`` jobs created and updated at ``at``; return their Ids.

        ``at`` as in :meth:`touch` (default :meth:`record_now`); ``status`` gives them all
        that Status (default: drawn like generated jobs').
        """
        added: list[int] = []
        with self.lock:
            when = _utc_seconds(at) if at is not None else self._write_stamp()
            for _ in range(count):
                job_id = self._next_id
                self._next_id += 1
                rng = seeded_rng(f"{self.seed}:add:{job_id}")
                self.jobs[job_id] = make_job(rng, job_id, when, when, status=status)
                added.append(job_id)
            self._updated_index.added([self.jobs[job_id] for job_id in added])
        return added

    def delete(self, ids: Iterable[int]) -> None:
        """Remove jobs; unknown Ids are ignored."""
        with self.lock:
            removed = [job_id for job_id in ids if self.jobs.pop(job_id, None) is not None]
            self._updated_index.removed(removed)

    def reindex(self) -> None:
        """Call after changing ``jobs`` directly (not via touch/add_jobs/delete)."""
        with self.lock:
            self._updated_index.invalidate()

    def render_listing(
        self,
        params: Mapping[str, str],
        *,
        indexed: bool = True,
        listing_number: int | None = None,
    ) -> dict[str, Any]:
        """The listing envelope for ``params``, as the listing route computes it.

        No request-level faults, counting or callbacks; ``dir_convention``,
        ``to_filter`` and ``timestamp_format`` apply, and with ``shuffle_ties`` ties take
        the order listing request ``listing_number`` would show (None: ordered by Id).
        ``indexed=False`` forces the general path, so tests can check both give the same
        answer. Raises ListingError for a bad query.
        """
        faults = self.faults
        query = parse_listing_query(
            params,
            max_page_size=self.max_page_size,
            dir_convention=faults.dir_convention,
            to_filter=faults.to_filter,
        )
        tie_seed = _tie_seed(faults, listing_number) if listing_number is not None else None
        with self.lock:
            if indexed:
                envelope = list_jobs_indexed(
                    self.jobs, query, self._updated_index, tie_seed=tie_seed
                )
            else:
                envelope = list_jobs(self.jobs.values(), query, tie_seed=tie_seed)
        restyle_timestamps(envelope["Records"], faults.timestamp_format)
        return envelope

    def _change_random_jobs(self, faults: SandboxFaults) -> bool:
        """Touch ``changes_per_burst`` seeded-random jobs now; True if any were touched."""
        with self.lock:
            chosen = self._fault_engine.pick_changes(faults, list(self.jobs))
            if chosen:
                self.touch(chosen)
        return bool(chosen)

    def _purge_random_jobs(self, faults: SandboxFaults) -> bool:
        """Delete ``purge_per_burst`` seeded-random jobs; True if any were deleted."""
        with self.lock:
            chosen = self._fault_engine.pick_purge(faults, sorted(self.jobs))
            self.delete(chosen)
        return bool(chosen)

    def _bulk_update(self, faults: SandboxFaults) -> bool:
        """Give ``bulk_update_jobs`` seeded-random jobs one UpdatedOn, now; True if any."""
        with self.lock:
            chosen = self._fault_engine.pick_bulk_update(faults, list(self.jobs))
            if chosen:
                self.touch(chosen, at=self._write_stamp())
        return bool(chosen)

    def issued_secrets(self) -> set[str]:
        """Every access and refresh token /api/token has issued so far."""
        return self.tokens.issued()

    @property
    def requests_received(self) -> int:
        """How many requests the sandbox has numbered (the scripted_statuses numbering)."""
        return self._fault_engine.requests

    # -- request log -------------------------------------------------------------------

    def log_snapshot(self) -> list[RequestLogEntry]:
        """A copy of ``request_log`` that will not grow while you iterate it."""
        with self._log_lock:
            return list(self.request_log)

    def clear_log(self) -> None:
        """Forget logged requests (the listing-request counter keeps counting)."""
        with self._log_lock:
            self.request_log.clear()

    @property
    def listing_requests(self) -> int:
        """How many listing requests have reached the listing route so far."""
        with self._log_lock:
            return self._listing_requests

    def _count_listing_request(self) -> int:
        with self._log_lock:
            self._listing_requests += 1
            return self._listing_requests

    def _record(self, entry: RequestLogEntry) -> None:
        with self._log_lock:
            self.request_log.append(entry)
