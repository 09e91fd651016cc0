"""Token requests under the one retry policy, and one new token per failure, however many
threads or processes see it (the sandbox implements Nexudus's refresh-token rules)."""

from __future__ import annotations

import itertools
import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from tap_nexudus_jobs import retries
from tap_nexudus_jobs.errors import NexudusResponseError
from tests.conftest import MOCK_API, MOCK_LISTING, TapRun, job, mock_config, page, run_tap

TOKEN_PATH = "/api/token"
LOGIN = {"username": "demo@example.com", "password": "demo-password", "client_id": "etl"}
# Fast pacing, so that get-one answers slower than the pacing interval overlap (up to 4).
FAST = {"requests_per_minute": 6000, "requests_per_hour": 100000, "min_request_interval_ms": 40}


def login_config(url: str, **overrides) -> dict:
    return {"api_url": url, **LOGIN, **overrides}


def token_requests(sandbox: NexudusSandbox) -> list:
    return [e for e in sandbox.log_snapshot() if e.path == TOKEN_PATH]


def test_overlapping_get_ones_replace_a_used_up_token_once(caplog) -> None:
    caplog.set_level(logging.INFO)
    faults = SandboxFaults(latency_ms=200, token_max_uses=7)
    with NexudusSandbox(records=90, seed=21, faults=faults) as sandbox:
        # A get-one for every job, Queued and Running ones too: 90 overlapping requests.
        config = login_config(
            sandbox.url,
            page_size=30,
            include_result_data=True,
            result_data_skip_statuses=[],
            **FAST,
        )
        run = run_tap(config)
        uses = sandbox.tokens.uses_per_access_token()
        grants = token_requests(sandbox)
        get_ones = [
            e
            for e in sandbox.log_snapshot()
            if e.path.startswith("/api/sys/businessbackgroundjobs/") and e.status == 200
        ]

    assert sorted(run.ids) == sorted(sandbox.served_ids())
    assert len(get_ones) == 90
    assert "retrying with a new token" in caplog.text
    # Up to four get-one requests were in flight when a token was used up, and each saw
    # the 401; yet every token but the last authorized exactly its 7 requests: none was
    # replaced by a second, concurrent refresh.
    assert len(uses) >= 10
    assert uses[:-1] == [7] * (len(uses) - 1)
    assert len(grants) == len(uses)
    assert all(e.status == 200 for e in grants)


def test_tokens_expiring_mid_page_are_refreshed_once_each() -> None:
    # Tokens live 2 s (refreshed 0.2 s early); four get-one threads need one at a time.
    with NexudusSandbox(
        records=60, seed=22, expires_in=2, faults=SandboxFaults(latency_ms=200)
    ) as sandbox:
        config = login_config(sandbox.url, page_size=20, include_result_data=True, **FAST)
        run = run_tap(config)
        grants = token_requests(sandbox)

    assert sorted(run.ids) == sorted(sandbox.served_ids())
    assert len(grants) >= 2, "the run was too short to refresh its token"
    starts = [e.started_at for e in grants]
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    # A refresh only when the token is about to expire, never a burst of them.
    assert min(gaps) > 1.0, f"token requests {gaps} s apart"


def run_worker(config: dict, directory: Path) -> subprocess.Popen[str]:
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(config))
    return subprocess.Popen(
        [sys.executable, "-m", "tap_nexudus_jobs", "--config", str(directory / "config.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_processes_sharing_a_client_id_both_finish(tmp_path) -> None:
    # Scheduler workers on one account: each login or refresh voids the other's refresh
    # token (same client_id), so a refresh is refused now and then; each falls back to
    # the password grant once and carries on.
    with NexudusSandbox(
        records=160, seed=23, expires_in=2, faults=SandboxFaults(latency_ms=150)
    ) as sandbox:
        config = login_config(sandbox.url, page_size=10, **FAST)
        workers = [run_worker(config, tmp_path / name) for name in ("a", "b")]
        outputs = [worker.communicate(timeout=180) for worker in workers]
        grants = token_requests(sandbox)
        served = sandbox.served_ids()

    refused = [e for e in grants if e.status == 400]
    assert refused, "the two workers never invalidated each other's refresh token"
    fallbacks = 0
    for worker, (stdout, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr[-2000:]
        ids = {json.loads(line)["record"]["Id"] for line in stdout.splitlines() if "RECORD" in line}
        assert ids == served
        fallbacks += stderr.count("The refresh token was refused; requesting a new token")
        assert "demo-password" not in stderr
    # One password grant per refused refresh, not a loop of them.
    assert fallbacks == len(refused)
    assert len([e for e in grants if e.status == 200]) == len(grants) - len(refused)


TOKEN_URL = f"{MOCK_API}{TOKEN_PATH}"


def password_config(**overrides) -> dict:
    config = mock_config(username="admin@example.com", password="pw-123", **overrides)
    del config["access_token"]
    return config


def test_a_throttled_token_request_is_logged_like_any_retry(requests_mock, caplog) -> None:
    caplog.set_level(logging.WARNING)
    requests_mock.post(
        TOKEN_URL,
        [
            {"status_code": 503, "text": "busy"},
            {"status_code": 409, "headers": {"Retry-After": "1"}, "text": ""},
            {"json": {"access_token": "a-1", "expires_in": 3600}},
        ],
    )
    requests_mock.get(MOCK_LISTING, json=page([job(1, "2025-01-01T00:00:00Z")]))

    assert run_tap(password_config()).ids == [1]

    retried = [r.getMessage() for r in caplog.records if "retrying in" in r.getMessage()]
    assert [line.split(";")[0] for line in retried] == [
        "Nexudus answered HTTP 503 for POST /api/token",
        "Nexudus answered HTTP 409 for POST /api/token",
    ]
    assert retried[0].endswith("(attempt 2 of 6)")


def test_a_token_request_asked_to_wait_an_hour_stops_the_run_cleanly_at_once(
    requests_mock, caplog
) -> None:
    caplog.set_level(logging.INFO)
    requests_mock.post(TOKEN_URL, status_code=409, headers={"Retry-After": "3600"}, text="")
    outcome: list[object] = []

    def sync() -> None:
        try:
            outcome.append(run_tap(password_config()))
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=sync, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(timeout=20)

    assert not worker.is_alive(), "the token request is waiting out a 3600 s Retry-After"
    (run,) = outcome
    assert isinstance(run, TapRun) and run.ids == []
    (line,) = [m for m in caplog.messages if m.startswith("Stopping cleanly")]
    assert line.startswith(
        "Stopping cleanly: Nexudus answered HTTP 409 for POST /api/token, asking to wait "
        "3600s (Retry-After), longer than the tap waits for one request (300s); run again "
        "from "
    )
    assert time.monotonic() - started < 20


@pytest.mark.parametrize("status", [500, 502])
def test_token_server_errors_give_up_with_the_same_line_as_listings(
    requests_mock, monkeypatch, status
) -> None:
    monkeypatch.setattr(retries, "BACKOFF_BASE_SECONDS", 0.01)
    requests_mock.post(TOKEN_URL, status_code=status, text="oops")

    with pytest.raises(NexudusResponseError) as failure:
        run_tap(password_config())

    assert str(failure.value) == (
        f"Nexudus answered HTTP {status} for POST /api/token; gave up after 6 attempts"
    )
    assert requests_mock.call_count == retries.MAX_ATTEMPTS
