"""What a user sees when Nexudus cannot be reached, and `--test`: the CLI, as Meltano runs it.

Before the first answer of a run, a wrong host or a refused port fails within about 10 s,
naming the host and the cause; each retry is one log line (no URL query), and the run
ends with one ERROR line, the tap's own.
"""

from __future__ import annotations

import json
import logging
import socketserver
import threading
import time
import typing as t
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from nexudus_sandbox import NexudusSandbox
from tap_nexudus_jobs import retries
from tap_nexudus_jobs.budget import RequestBudgetSpent
from tap_nexudus_jobs.errors import NexudusConnectionError
from tests.conftest import (
    MOCK_LISTING,
    job,
    mock_config,
    page,
    run_cli,
    run_tap,
    sandbox_config,
    serve_listing,
)
from tests.local_services import free_port

# The host of the report: one letter off.
WRONG_HOST = "spaces.nexudos.com"


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line or "error:" in line]


def assert_one_clear_failure(stderr: str, expected: str) -> None:
    (line,) = error_lines(stderr)
    assert line.startswith("tap-nexudus-jobs: error: Could not reach Nexudus for GET ")
    assert expected in line
    assert "An unhandled error occurred" not in stderr
    assert "Backing off" not in stderr and "Giving up" not in stderr
    assert "page=" not in stderr and "orderBy" not in stderr  # no query string anywhere
    assert "Traceback" not in stderr
    retry_lines = [line for line in stderr.splitlines() if "retrying in" in line]
    assert retry_lines, "retries are not logged"
    assert all(expected in line for line in retry_lines)
    # One line per retry: each attempt number appears once.
    attempts = [line.split("(attempt ")[1] for line in retry_lines]
    assert len(attempts) == len(set(attempts))


@pytest.mark.parametrize(
    ("api_url", "expected"),
    [
        (f"https://{WRONG_HOST}", f"cannot resolve {WRONG_HOST}"),
        ("http://127.0.0.1:{port}", "connection refused by 127.0.0.1:{port}"),
    ],
    ids=["wrong-host", "refused-port"],
)
def test_an_unreachable_api_url_fails_within_10s_naming_host_and_cause(
    tmp_path, api_url, expected
) -> None:
    port = free_port()
    config = {"api_url": api_url.format(port=port), "access_token": "never-sent-token"}
    started = time.monotonic()

    result = run_cli(config, tmp_path)

    elapsed = time.monotonic() - started
    assert result.exit_code == 1
    assert elapsed < retries.FAST_FAIL_SECONDS + 3, f"took {elapsed:.1f}s"
    assert_one_clear_failure(result.stderr, expected.format(port=port))
    assert "never-sent-token" not in result.stderr + result.stdout


def fail_requests(numbers: set[int], error: Exception):
    """A `serve_listing` hook: listing requests with these numbers get `error` instead."""

    def before(number: int) -> None:
        if number in numbers:
            raise error

    return before


TWO_JOBS = [job(1, "2025-01-01T00:00:00Z"), job(2, "2025-01-01T00:00:09Z")]


def test_lost_connections_after_a_first_answer_get_the_full_policy(
    requests_mock, monkeypatch
) -> None:
    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.01)
    refused = requests.exceptions.ConnectionError("refused")
    serve_listing(requests_mock, TWO_JOBS, before=fail_requests({2, 3}, refused))

    run = run_tap(mock_config(page_size=1))

    assert run.ids == [1, 2]


def test_request_timeout_is_sent_with_each_request_and_timeouts_are_retried(
    requests_mock, monkeypatch
) -> None:
    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.01)
    timeout = requests.exceptions.ReadTimeout("read timed out")
    serve_listing(requests_mock, TWO_JOBS, before=fail_requests({2}, timeout))

    run = run_tap(mock_config(page_size=1, request_timeout=25))

    assert run.ids == [1, 2]
    # (connect, read): connecting never waits longer than 10 s.
    assert {r.timeout for r in requests_mock.request_history} == {(10, 25)}


def test_the_default_request_timeout_is_60s(requests_mock) -> None:
    requests_mock.get(MOCK_LISTING, json=page([]))

    run_tap(mock_config())

    assert requests_mock.request_history[0].timeout == (10, 60)


def test_dash_dash_test_passes_quietly_with_one_record(sandbox, tmp_path) -> None:
    result = run_cli(sandbox_config(sandbox), tmp_path, "--test")

    assert result.exit_code == 0
    records = [json.loads(line) for line in result.stdout.splitlines() if '"RECORD"' in line]
    assert len(records) == 1
    assert error_lines(result.stderr) == []
    assert '"status":"failed"' not in result.stderr.replace(" ", "")


def test_dash_dash_test_exits_non_zero_when_its_request_fails(tmp_path) -> None:
    port = free_port()

    result = run_cli(
        {"api_url": f"http://127.0.0.1:{port}", "access_token": "t"}, tmp_path, "--test"
    )

    assert result.exit_code == 1
    assert_one_clear_failure(result.stderr, f"connection refused by 127.0.0.1:{port}")


def test_dash_dash_test_exits_non_zero_on_a_refused_token(tmp_path) -> None:
    with NexudusSandbox(records=5, seed=1) as sandbox:
        result = run_cli({"api_url": sandbox.url, "access_token": "wrong"}, tmp_path, "--test")

    assert result.exit_code == 1
    (line,) = error_lines(result.stderr)
    assert "HTTP 401" in line and "BusinessBackgroundJob-List role" in line


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_retry_lines_promise_only_the_attempts_that_will_be_made(caplog) -> None:
    """Before any answer the 10 s limit ends the tries, not 6 attempts: the lines say so."""

    clock = FakeClock()
    log = logging.getLogger("test-retries")
    policy = retries.HttpPolicy(log=log, sleep=clock.sleep, monotonic=lambda: clock.now)

    def never_connects() -> None:
        raise requests.exceptions.ConnectTimeout("connect timed out")

    with (
        caplog.at_level(logging.WARNING, logger="test-retries"),
        pytest.raises(NexudusConnectionError) as failure,
    ):
        policy.call(never_connects, method="GET", url="https://nexudus.test/api/x?page=1")

    lines = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert lines
    assert not any(f"of {retries.MAX_ATTEMPTS}" in line for line in lines)
    assert all(
        "nothing has answered yet, so giving up 10s after the first" in line for line in lines
    )
    assert f"gave up after {len(lines) + 1} attempts" in str(failure.value)
    # Waits of 1, 2, 4 s (plus jitter) until 10 s have passed.
    assert clock.now < retries.FAST_FAIL_SECONDS


def test_after_an_answer_retry_lines_count_to_max_attempts(caplog) -> None:

    clock = FakeClock()
    log = logging.getLogger("test-retries-answered")
    policy = retries.HttpPolicy(log=log, sleep=clock.sleep, monotonic=lambda: clock.now)
    policy.call(lambda: None, method="GET", url="https://nexudus.test/api/x")  # an answer

    def never_connects() -> None:
        raise requests.exceptions.ConnectTimeout("connect timed out")

    with (
        caplog.at_level(logging.WARNING, logger="test-retries-answered"),
        pytest.raises(NexudusConnectionError, match="gave up after 6 attempts"),
    ):
        policy.call(never_connects, method="GET", url="https://nexudus.test/api/x")

    lines = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert [line.rsplit("(", 1)[1] for line in lines] == [
        f"attempt {n} of {retries.MAX_ATTEMPTS})" for n in range(2, retries.MAX_ATTEMPTS + 1)
    ]


@contextmanager
def serving(server: socketserver.ThreadingTCPServer | ThreadingHTTPServer) -> t.Iterator[str]:
    """Run a loopback `server` in a thread; its URL while inside."""
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def dripping_server(body: bytes, every_s: float, *, drip: int) -> t.Iterator[str]:
    """Loopback: a 200 listing whose first `drip` body bytes come one per `every_s` seconds."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for index in range(len(body)):
                    self.wfile.write(body[index : index + 1])
                    self.wfile.flush()
                    if index < drip:
                        time.sleep(every_s)
            except OSError:
                return  # the client hung up: what a deadline does

        def log_message(self, *args: t.Any) -> None:
            return

    with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as url:
        yield url


LISTING_BODY = json.dumps(page([job(1, "2025-01-01T00:00:00Z")])).encode()


def test_a_dripping_body_meets_one_deadline_per_request_and_the_run_gives_up(
    monkeypatch,
) -> None:
    """Issue 20, case 5: a byte every 0.3 s never trips a 1 s read timeout on its own."""
    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.01)
    with dripping_server(LISTING_BODY, 0.3, drip=len(LISTING_BODY)) as url:
        started = time.monotonic()
        with pytest.raises(NexudusConnectionError) as failure:
            run_tap({"api_url": url, "access_token": "t", "request_timeout": 1})
        elapsed = time.monotonic() - started

    assert str(failure.value) == (
        "Could not reach Nexudus for GET /api/sys/businessbackgroundjobs: no complete answer "
        f"from 127.0.0.1 within 1s (request_timeout); gave up after {retries.MAX_ATTEMPTS} "
        "attempts"
    )
    # Six attempts of 1 s each, give or take one read: not the body's 30 s.
    assert elapsed < retries.MAX_ATTEMPTS * 1.5 + 2


def test_a_slow_body_within_the_deadline_is_read_whole() -> None:
    with dripping_server(LISTING_BODY, 0.05, drip=8) as url:
        run = run_tap({"api_url": url, "access_token": "t", "request_timeout": 2})

    assert run.ids == [1]


def test_a_retry_after_longer_than_the_tap_waits_stops_instead_of_sleeping() -> None:
    """Issue 20, case 6: `Retry-After: 900` was honoured 5 times (75 minutes asleep)."""
    clock = FakeClock()
    policy = retries.HttpPolicy(
        log=logging.getLogger("test-retry-after"),
        sleep=clock.sleep,
        monotonic=lambda: clock.now,
        clock=lambda: 1_800_000_000.0 + clock.now,
    )
    response = requests.Response()
    response.status_code = 409

    def throttled() -> None:
        raise retries.ThrottledError("Nexudus answered HTTP 409 for GET /x", response, 900.0)

    with pytest.raises(RequestBudgetSpent) as stop:
        policy.call(throttled, method="GET", url="https://nexudus.test/x")

    assert clock.now == 0  # not one second asleep
    assert stop.value.message == (
        "Nexudus answered HTTP 409 for GET /x, asking to wait 900s (Retry-After), longer "
        "than the tap waits for one request (300s); run again from 2027-01-15 08:15 UTC"
    )


def test_retry_after_waits_of_one_request_add_up_to_the_same_limit() -> None:
    clock = FakeClock()
    policy = retries.HttpPolicy(
        log=logging.getLogger("test-retry-after-sum"), sleep=clock.sleep, monotonic=lambda: 0.0
    )
    response = requests.Response()
    response.status_code = 429

    def throttled() -> None:
        raise retries.ThrottledError("Nexudus answered HTTP 429 for GET /x", response, 120.0)

    with pytest.raises(RequestBudgetSpent, match=r"asking to wait 120s more, after 240s"):
        policy.call(throttled, method="GET", url="https://nexudus.test/x")
    assert 240 <= clock.now < 243  # two waits (and their jitter), not a third


@contextmanager
def header_dripping_server(every_s: float) -> t.Iterator[str]:
    """Loopback: a status line, then header bytes one per `every_s` seconds, for ever."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.rfile.readline()
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while True:
                    self.wfile.write(b"a")
                    self.wfile.flush()
                    time.sleep(every_s)
            except OSError:
                return

    with serving(socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)) as url:
        yield url


def test_dripping_headers_meet_the_same_deadline(monkeypatch) -> None:
    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.01)
    with header_dripping_server(0.3) as url:
        started = time.monotonic()
        with pytest.raises(
            NexudusConnectionError, match=r"no complete answer from 127\.0\.0\.1 within 1s"
        ):
            run_tap({"api_url": url, "access_token": "t", "request_timeout": 1})
        elapsed = time.monotonic() - started

    assert elapsed < retries.MAX_ATTEMPTS * 1.5 + 2
