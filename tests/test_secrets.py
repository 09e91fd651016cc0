"""Secrets never reach the tap's output: not in records, logs (even DEBUG) or errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from nexudus_sandbox import NexudusSandbox, SandboxFaults

PASSWORD = "Pa55-word-never-shown"
TOTP = "914275"
STATIC_TOKEN = "static-token-never-shown"


def run_cli_debug(config: dict, tmp_path) -> str:
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    completed = subprocess.run(
        [sys.executable, "-m", "tap_nexudus_jobs", "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "LOGLEVEL": "DEBUG"},
    )
    return completed.stdout + completed.stderr


def test_password_grant_and_refresh_leave_no_secret_in_the_output(tmp_path) -> None:
    # Tokens expire after 2 s and pages are slow, so the run refreshes its token too.
    with NexudusSandbox(
        records=900,
        seed=3,
        username="ops@example.com",
        password=PASSWORD,
        totp=TOTP,
        expires_in=2,
        faults=SandboxFaults(latency_ms=400),
    ) as sandbox:
        config = {
            "api_url": sandbox.url,
            "username": "ops@example.com",
            "password": PASSWORD,
            "totp": TOTP,
            "client_id": "etl",
            "page_size": 100,
        }
        started = time.monotonic()
        output = run_cli_debug(config, tmp_path)
        assert time.monotonic() - started > 2
        grants = [e.query for e in sandbox.request_log if e.path == "/api/token"]
        assert len(grants) >= 2, "the token was never refreshed"
        issued = (
            sandbox.tokens.issued_secrets() if hasattr(sandbox.tokens, "issued_secrets") else set()
        )

    assert '"type":"RECORD"' in output.replace(" ", "")
    for secret in [PASSWORD, TOTP, *issued]:
        assert secret not in output


def test_a_refused_static_token_is_not_echoed(tmp_path) -> None:
    with NexudusSandbox(records=10, seed=3) as sandbox:
        output = run_cli_debug({"api_url": sandbox.url, "access_token": STATIC_TOKEN}, tmp_path)

    assert "BusinessBackgroundJob-List role" in output
    assert STATIC_TOKEN not in output


def test_a_refused_password_is_not_echoed(tmp_path) -> None:
    with NexudusSandbox(records=10, seed=3, password="the-real-one") as sandbox:
        config = {"api_url": sandbox.url, "username": "demo@example.com", "password": PASSWORD}
        output = run_cli_debug(config, tmp_path)

    assert "the username or password is incorrect" in output
    assert PASSWORD not in output
