"""No credential crosses to another origin (issue 20, case 4).

Two small servers on loopback: the "Nexudus" one redirects, the other records whatever
reaches it. A redirect to another origin (another port is enough) must never be followed:
the run stops with one line naming where the server tried to send it.
"""

from __future__ import annotations

import json
import threading
import typing as t
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tap_nexudus_jobs.errors import NexudusRedirectError
from tap_nexudus_jobs.redirects import check_redirect
from tests.conftest import LISTING_PATH, job, page, run_cli

PASSWORD = "correct-horse-battery-staple"
TOKEN = "issued-token-value"


class Recorder:
    """What a server received: (method, path, body) per request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, str]] = []


@contextmanager
def serve(
    answer: t.Callable[[str, str], tuple[int, dict[str, str], bytes]],
) -> Iterator[tuple[str, Recorder]]:
    """A loopback server answering `answer(method, path)`; yields its URL and its log."""
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            recorder.requests.append((self.command, self.path, body))
            status, headers, payload = answer(self.command, self.path)
            self.send_response(status)
            for name, value in {**headers, "Content-Length": str(len(payload))}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _handle

        def log_message(self, *args: t.Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()


def token_or_listing(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """What the other origin would do with what reaches it: accept it."""
    if method == "POST":
        body = {"access_token": TOKEN, "expires_in": 3600}
    else:
        body = page([job(1, "2025-01-01T00:00:00Z")])
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


@pytest.mark.parametrize("status", [307, 308, 302])
def test_a_token_request_redirected_to_another_port_is_not_followed(tmp_path, status) -> None:
    with serve(token_or_listing) as (elsewhere, received):

        def redirect(method: str, path: str) -> tuple[int, dict[str, str], bytes]:
            return status, {"Location": f"{elsewhere}/api/token?x=1"}, b""

        with serve(redirect) as (api_url, _):
            config = {"api_url": api_url, "username": "admin@example.com", "password": PASSWORD}
            result = run_cli(config, tmp_path)

    assert received.requests == []  # the password went nowhere else
    assert result.exit_code == 1
    (line,) = [line for line in result.stderr.splitlines() if "error:" in line]
    assert line == (
        f"tap-nexudus-jobs: error: Nexudus answered POST /api/token with HTTP {status}, "
        f"redirecting to {elsewhere}/api/token, another origin than {api_url}: not followed, "
        "so no credential was sent there; check api_url (a proxy or a moved account?)"
    )
    assert PASSWORD not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("path", [LISTING_PATH, f"{LISTING_PATH}/1"], ids=["listing", "get-one"])
def test_a_listing_or_get_one_redirected_elsewhere_stops_with_the_same_line(tmp_path, path) -> None:
    with serve(token_or_listing) as (elsewhere, received):

        def nexudus(method: str, requested: str) -> tuple[int, dict[str, str], bytes]:
            if requested.split("?")[0] == path:
                return 302, {"Location": f"{elsewhere}{path}"}, b""
            return token_or_listing(method, requested)

        with serve(nexudus) as (api_url, _):
            config = {"api_url": api_url, "access_token": TOKEN, "include_result_data": True}
            result = run_cli(config, tmp_path)

    assert received.requests == []
    assert result.exit_code == 1
    (line,) = [line for line in result.stderr.splitlines() if "error:" in line]
    assert f"Nexudus answered GET {path} with HTTP 302, redirecting to {elsewhere}{path}" in line
    assert TOKEN not in result.stderr


def test_a_redirect_within_the_origin_is_followed() -> None:
    check_redirect("POST", 307, "https://spaces.nexudus.com/api/token", "/api/v2/token")
    check_redirect("GET", 301, "https://spaces.nexudus.com:443/a", "https://SPACES.nexudus.com/b")
    with pytest.raises(
        NexudusRedirectError, match=r"redirecting to http://spaces\.nexudus\.com/a,"
    ):
        check_redirect("GET", 301, "https://spaces.nexudus.com/a", "http://spaces.nexudus.com/a")
