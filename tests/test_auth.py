"""Authentication: the static token and the OAuth password grant."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest

from tap_nexudus_jobs.errors import NexudusAuthError
from tests.conftest import MOCK_API, MOCK_LISTING, job, mock_config, page, run_tap, serve_listing

TOKEN_URL = f"{MOCK_API}/api/token"
LOGIN = {"username": "admin@example.com", "password": "s3cret-Pa55"}


def login_config(**overrides):
    config = mock_config(**LOGIN, **overrides)
    del config["access_token"]
    return config


def three_pages(requests_mock) -> None:
    serve_listing(requests_mock, [job(n, f"2025-01-01T00:0{n}:00Z") for n in (1, 2, 3)])


def test_password_grant_posts_one_form_encoded_request_and_reuses_the_token(
    requests_mock,
) -> None:
    requests_mock.post(
        TOKEN_URL,
        json={
            "access_token": "issued-1",
            "token_type": "bearer",
            "expires_in": 86400,
            "refresh_token": "refresh-1",
        },
    )
    three_pages(requests_mock)

    run = run_tap(login_config(totp="123456", client_id="etl-client", page_size=1))

    token_requests = [r for r in requests_mock.request_history if r.method == "POST"]
    assert len(token_requests) == 1
    (token_request,) = token_requests
    assert token_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert token_request.headers["client_id"] == "etl-client"
    assert parse_qs(token_request.text) == {
        "grant_type": ["password"],
        "username": ["admin@example.com"],
        "password": ["s3cret-Pa55"],
        "totp": ["123456"],
    }
    listings = [r for r in requests_mock.request_history if r.method == "GET"]
    assert {r.headers["Authorization"] for r in listings} == {"Bearer issued-1"}
    assert run.ids == [1, 2, 3]


def test_without_client_id_no_client_id_header_is_sent(requests_mock) -> None:
    requests_mock.post(TOKEN_URL, json={"access_token": "issued-2", "expires_in": 600})
    requests_mock.get(MOCK_LISTING, json=page([]))

    run_tap(login_config())

    assert "client_id" not in requests_mock.request_history[0].headers


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        ("invalid_grant", "the username or password is incorrect"),
        ("two_factor_auth_check", "set 'totp'"),
        ("must_reset_password", "reset the password"),
    ],
)
def test_a_refused_login_is_one_line_without_the_password(requests_mock, error, advice) -> None:
    requests_mock.post(
        TOKEN_URL,
        status_code=400,
        json={"error": error, "error_description": "detail echoing s3cret-Pa55"},
    )

    with pytest.raises(NexudusAuthError) as failure:
        run_tap(login_config())

    message = str(failure.value)
    assert message.startswith(f"POST /api/token failed (HTTP 400 {error})")
    assert advice in message
    assert "s3cret-Pa55" not in message
    assert "\n" not in message
    assert not [r for r in requests_mock.request_history if r.method == "GET"]


def test_a_rejected_static_token_fails_with_the_role_hint(requests_mock) -> None:
    requests_mock.get(MOCK_LISTING, status_code=401, json={"Message": "Authorization denied"})

    with pytest.raises(NexudusAuthError, match="BusinessBackgroundJob-List role") as failure:
        run_tap(mock_config())

    assert "mock-token-value" not in str(failure.value)
    assert "HTTP 401" in str(failure.value)
