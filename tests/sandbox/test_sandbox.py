"""Tests of the local Nexudus emulator, through HTTP as a client sees it."""

from __future__ import annotations

import collections
import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests

from nexudus_sandbox import NexudusSandbox, SandboxFaults, generate_jobs
from nexudus_sandbox.data import FIELDS
from tap_nexudus_jobs.nexudus_api import ENVELOPE_FIELDS

LISTING = "/api/sys/businessbackgroundjobs"
AUTH = {"Authorization": "Bearer sandbox-token"}
ENVELOPE_KEYS = set(ENVELOPE_FIELDS)  # the documented envelope (nexudus_api.py)
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shared() -> Iterator[NexudusSandbox]:
    """A read-only sandbox shared by tests that do not change data or knobs."""
    with NexudusSandbox(records=120, seed=3) as sandbox:
        yield sandbox


@pytest.fixture
def fresh() -> Iterator[NexudusSandbox]:
    """A private sandbox for tests that mutate data or knobs."""
    with NexudusSandbox(records=60, seed=11) as sandbox:
        yield sandbox


def listing(sandbox: NexudusSandbox, **params: str | int) -> requests.Response:
    return requests.get(sandbox.url + LISTING, params=params, headers=AUTH, timeout=5)


def page(sandbox: NexudusSandbox, **params: str | int) -> dict[str, Any]:
    response = listing(sandbox, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def all_records(sandbox: NexudusSandbox, **params: str | int) -> list[dict[str, Any]]:
    body = page(sandbox, size=1000, **params)
    assert not body["HasNextPage"]
    records: list[dict[str, Any]] = body["Records"]
    return records


def ids(records: list[dict[str, Any]]) -> list[int]:
    return [record["Id"] for record in records]


def token(sandbox: NexudusSandbox, data: dict[str, str], **headers: str) -> requests.Response:
    return requests.post(sandbox.url + "/api/token", data=data, headers=headers, timeout=5)


PASSWORD_GRANT = {
    "grant_type": "password",
    "username": "demo@example.com",
    "password": "demo-password",
}


# -- authentication --------------------------------------------------------------------


def test_password_grant_issues_a_working_bearer_token(shared: NexudusSandbox) -> None:
    response = token(shared, PASSWORD_GRANT)
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 604799
    assert body["access_token"] and body["refresh_token"]
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert requests.get(shared.url + LISTING, headers=headers, timeout=5).status_code == 200


def test_wrong_password_is_invalid_grant(shared: NexudusSandbox) -> None:
    response = token(shared, {**PASSWORD_GRANT, "password": "nope"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "The user name or password is incorrect.",
    }


def test_json_body_is_unsupported_grant_type(shared: NexudusSandbox) -> None:
    response = requests.post(shared.url + "/api/token", json=PASSWORD_GRANT, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_totp_required_when_configured() -> None:
    with NexudusSandbox(records=1, totp="123456") as sandbox:
        missing = token(sandbox, PASSWORD_GRANT)
        wrong = token(sandbox, {**PASSWORD_GRANT, "totp": "000000"})
        right = token(sandbox, {**PASSWORD_GRANT, "totp": "123456"})
    assert missing.status_code == wrong.status_code == 400
    assert missing.json()["error"] == wrong.json()["error"] == "two_factor_auth_check"
    assert right.status_code == 200


def test_refresh_rotates_and_is_bound_to_client_id(shared: NexudusSandbox) -> None:
    first = token(shared, PASSWORD_GRANT, client_id="my-client").json()
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}

    other_client = token(shared, refresh, client_id="someone-else")
    assert other_client.status_code == 400
    assert other_client.json()["error"] == "invalid_grant"

    second = token(shared, refresh, client_id="my-client")
    assert second.status_code == 200
    assert second.json()["refresh_token"] != first["refresh_token"]
    headers = {"Authorization": f"Bearer {second.json()['access_token']}"}
    assert requests.get(shared.url + LISTING, headers=headers, timeout=5).status_code == 200

    reused = token(shared, refresh, client_id="my-client")
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_default_client_id_is_the_username(shared: NexudusSandbox) -> None:
    first = token(shared, PASSWORD_GRANT).json()
    refresh = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    assert token(shared, refresh, client_id="demo@example.com").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic ZGVtbzp3cm9uZw=="}],
)
def test_sys_calls_need_credentials(shared: NexudusSandbox, headers: dict[str, str]) -> None:
    for path in (LISTING, LISTING + "/100001"):
        response = requests.get(shared.url + path, headers=headers, timeout=5)
        assert response.status_code == 401
        assert response.json() == {"Message": "Authorization has been denied for this request."}


def test_basic_auth_is_accepted(shared: NexudusSandbox) -> None:
    auth = ("demo@example.com", "demo-password")
    assert requests.get(shared.url + LISTING, auth=auth, timeout=5).status_code == 200


def test_expired_access_token_is_refused() -> None:
    with NexudusSandbox(records=1, expires_in=0) as sandbox:
        body = token(sandbox, PASSWORD_GRANT).json()
        assert body["expires_in"] == 0
        headers = {"Authorization": f"Bearer {body['access_token']}"}
        response = requests.get(sandbox.url + LISTING, headers=headers, timeout=5)
    assert response.status_code == 401


# -- envelope and paging ---------------------------------------------------------------


def test_envelope_first_middle_last_and_past_end_pages(fresh: NexudusSandbox) -> None:
    first = page(fresh, page=1, size=25)
    middle = page(fresh, page=2, size=25)
    last = page(fresh, page=3, size=25)
    past = page(fresh, page=4, size=25)
    for body in (first, middle, last, past):
        assert set(body) == ENVELOPE_KEYS
        assert body["TotalItems"] == 60 and body["TotalPages"] == 3
        assert body["CurrentPageSize"] == 25 and body["CurrentOrderField"] == "Id"
    assert (first["FirstItem"], first["LastItem"], len(first["Records"])) == (1, 25, 25)
    assert (first["HasPreviousPage"], first["HasNextPage"]) == (False, True)
    assert (middle["FirstItem"], middle["LastItem"]) == (26, 50)
    assert (middle["HasPreviousPage"], middle["HasNextPage"]) == (True, True)
    assert (last["FirstItem"], last["LastItem"], len(last["Records"])) == (51, 60, 10)
    assert (last["HasPreviousPage"], last["HasNextPage"]) == (True, False)
    assert past["Records"] == [] and past["HasNextPage"] is False
    assert (past["FirstItem"], past["LastItem"], past["CurrentPage"]) == (0, 0, 4)
    paged = ids(first["Records"] + middle["Records"] + last["Records"])
    assert paged == sorted(fresh.served_ids())


def test_defaults_and_size_cap() -> None:
    with NexudusSandbox(records=80, max_page_size=30) as sandbox:
        default = page(sandbox)
        capped = page(sandbox, size=1000)
    assert default["CurrentPage"] == 1 and default["CurrentPageSize"] == 25
    assert len(default["Records"]) == 25 and default["CurrentSortDirection"] == 1
    assert capped["CurrentPageSize"] == 30 and len(capped["Records"]) == 30
    assert capped["TotalPages"] == 3


def test_every_field_present_and_timestamps_rendered(shared: NexudusSandbox) -> None:
    for record in page(shared, size=50)["Records"]:
        assert list(record) == list(FIELDS)
        for name in ("CreatedOn", "UpdatedOn"):
            parsed = datetime.strptime(record[name], "%Y-%m-%dT%H:%M:%SZ")
            assert parsed.year >= 2024


def test_sort_by_updated_on_ascending_and_descending(shared: NexudusSandbox) -> None:
    ascending = all_records(shared, orderBy="UpdatedOn", dir=1)
    descending = all_records(shared, orderBy="updatedon", dir=-1)
    keys = [(record["UpdatedOn"], record["Id"]) for record in ascending]
    assert keys == sorted(keys)
    assert ids(descending) == ids(ascending)[::-1]
    assert page(shared, orderBy="updatedon")["CurrentOrderField"] == "UpdatedOn"


def test_sort_by_another_field(shared: NexudusSandbox) -> None:
    records = all_records(shared, orderBy="BusinessId", dir=-1)
    keys = [(record["BusinessId"], record["Id"]) for record in records]
    assert keys == sorted(keys, reverse=True)
    assert len({record["BusinessId"] for record in records}) > 1


def test_dir_convention_knob(fresh: NexudusSandbox) -> None:
    ascending = sorted(fresh.served_ids())

    def order(direction: int) -> list[int]:
        body = page(fresh, size=1000, dir=direction)
        assert body["CurrentSortDirection"] == direction
        return ids(body["Records"])

    assert order(1) == ascending and order(0) == ascending
    assert order(-1) == ascending[::-1]
    fresh.faults = SandboxFaults(dir_convention="0/1")
    assert order(0) == ascending and order(-1) == ascending
    assert order(1) == ascending[::-1]
    assert page(fresh)["CurrentSortDirection"] == 0


# -- filters ---------------------------------------------------------------------------


def test_equality_filters(shared: NexudusSandbox) -> None:
    jobs = list(shared.jobs.values())
    failed = all_records(shared, BusinessBackgroundJob_Status="failed")
    assert ids(failed) == sorted(job["Id"] for job in jobs if job["Status"] == "Failed")
    assert failed

    business = all_records(shared, BusinessBackgroundJob_Business=1002)
    assert ids(business) == sorted(job["Id"] for job in jobs if job["BusinessId"] == 1002)
    assert {record["BusinessName"] for record in business} == {"Shoreditch"}

    target = jobs[7]
    by_job_id = all_records(shared, BusinessBackgroundJob_JobId=target["JobId"].upper())
    assert ids(by_job_id) == [target["Id"]]

    email = all_records(shared, BusinessBackgroundJob_User_Email=target["UserEmail"].upper())
    assert ids(email) == sorted(j["Id"] for j in jobs if j["UserEmail"] == target["UserEmail"])
    both = all_records(
        shared, BusinessBackgroundJob_User_Email=target["UserEmail"], BusinessBackgroundJob_User=0
    )
    assert both == []  # filters combine with AND

    bad = listing(shared, BusinessBackgroundJob_Business="abc")
    assert bad.status_code == 400
    assert "BusinessBackgroundJob_Business" in bad.json()["Message"]


def test_unknown_params_and_empty_filters_are_ignored(shared: NexudusSandbox) -> None:
    body = page(shared, size=1000, wat="1", BusinessBackgroundJob_Status="")
    assert body["TotalItems"] == 120


def test_range_filters_are_inclusive_at_minute_precision(fresh: NexudusSandbox) -> None:
    base = datetime(2030, 1, 15, 10, 30, tzinfo=timezone.utc)
    at_start, at_end, next_minute = sorted(fresh.served_ids())[:3]
    fresh.touch([at_start], at=base)
    fresh.touch([at_end], at=base + timedelta(seconds=59))
    fresh.touch([next_minute], at=base + timedelta(minutes=1))
    field = "BusinessBackgroundJob_UpdatedOn"

    same_minute = all_records(
        fresh, **{f"from_{field}": "2030-01-15T10:30", f"to_{field}": "2030-01-15T10:30"}
    )
    assert ids(same_minute) == [at_start, at_end]

    up_to = ids(all_records(fresh, **{f"to_{field}": "2030-01-15T10:30"}))
    assert at_end in up_to and at_start in up_to and next_minute not in up_to
    assert len(up_to) == 59

    from_next = ids(all_records(fresh, **{f"from_{field}": "2030-01-15T10:31"}))
    assert from_next == [next_minute]

    with_seconds = ids(all_records(fresh, **{f"to_{field}": "2030-01-15T10:30:58"}))
    assert at_start in with_seconds and at_end not in with_seconds

    exact_minute = ids(all_records(fresh, **{field: "2030-01-15T10:30"}))
    assert exact_minute == [at_start, at_end]


@pytest.mark.parametrize("field", ["UpdatedOn", "CreatedOn"])
def test_to_filter_instant_stops_at_the_first_second_of_the_minute(field: str) -> None:
    base = datetime(2030, 1, 15, 10, 30, tzinfo=timezone.utc)
    with NexudusSandbox(records=5, seed=11) as sandbox:
        at_start, at_end, next_minute = (
            sandbox.add_jobs(1, at=base + offset)[0]
            for offset in (timedelta(0), timedelta(seconds=59), timedelta(minutes=1))
        )
        name = f"BusinessBackgroundJob_{field}"
        one_minute = {f"from_{name}": "2030-01-15T10:30", f"to_{name}": "2030-01-15T10:30"}
        two_minutes = {**one_minute, f"to_{name}": "2030-01-15T10:31"}
        assert ids(all_records(sandbox, **one_minute)) == [at_start, at_end]
        assert ids(all_records(sandbox, **two_minutes)) == [at_start, at_end, next_minute]

        sandbox.faults = SandboxFaults(to_filter="instant")
        assert ids(all_records(sandbox, **one_minute)) == [at_start]
        assert ids(all_records(sandbox, **two_minutes)) == [at_start, at_end, next_minute]
        with_seconds = {**one_minute, f"to_{name}": "2030-01-15T10:30:59"}
        assert ids(all_records(sandbox, **with_seconds)) == [at_start, at_end]
        # The exact-minute filter keeps minute precision.
        assert ids(all_records(sandbox, **{name: "2030-01-15T10:30"})) == [at_start, at_end]
        up_to = {f"to_{name}": "2030-01-15T10:30", "orderBy": "UpdatedOn", "size": "100"}
        assert sandbox.render_listing(up_to) == sandbox.render_listing(up_to, indexed=False)


def crowd_minute(sandbox: NexudusSandbox, count: int) -> tuple[datetime, list[int]]:
    """``count`` jobs updated inside 10:30 (many in one second), plus neighbours outside it."""
    base = datetime(2030, 2, 1, 10, 30, tzinfo=timezone.utc)
    chosen = sorted(sandbox.served_ids())[5 : 5 + count]
    for position, job_id in enumerate(chosen):
        sandbox.touch([job_id], at=base + timedelta(seconds=(position * 7) % 3 * 20))
    sandbox.touch([max(sandbox.served_ids())], at=base + timedelta(minutes=1))
    sandbox.touch([min(sandbox.served_ids())], at=base - timedelta(seconds=1))
    return base, chosen


@pytest.mark.parametrize("descending", [False, True])
def test_order_by_id_inside_a_window_pages_by_id_with_a_full_envelope(
    fresh: NexudusSandbox, descending: bool
) -> None:
    _base, crowded = crowd_minute(fresh, 27)
    window = {
        "orderBy": "Id",
        "from_BusinessBackgroundJob_UpdatedOn": "2030-02-01T10:30",
        "to_BusinessBackgroundJob_UpdatedOn": "2030-02-01T10:30",
        "size": "10",
        "dir": "-1" if descending else "1",
    }
    hits = fresh._updated_index.hits
    bodies = [page(fresh, **{**window, "page": str(number)}) for number in (1, 2, 3, 4)]
    expected = sorted(crowded, reverse=descending)
    assert [r["Id"] for body in bodies for r in body["Records"]] == expected
    for number, body in enumerate(bodies, start=1):
        assert body["CurrentOrderField"] == "Id"
        assert body["CurrentPage"] == number
        assert (body["TotalItems"], body["TotalPages"]) == (27, 3)
        assert body["HasNextPage"] == (number < 3)
        assert body["HasPreviousPage"] == (1 < number <= 3)
    assert [(b["FirstItem"], b["LastItem"]) for b in bodies] == [
        (1, 10),
        (11, 20),
        (21, 27),
        (0, 0),
    ]
    assert fresh._updated_index.hits == hits + 4  # narrowed through the UpdatedOn index
    for body in bodies:
        query = {**window, "page": str(body["CurrentPage"])}
        assert fresh.render_listing(query, indexed=False) == body


@pytest.mark.parametrize(
    "faults",
    [
        SandboxFaults(shuffle_ties=True, seed=1),
        SandboxFaults(to_filter="instant", dir_convention="0/1"),
    ],
    ids=["shuffle-ties", "to-instant"],
)
def test_index_and_general_paths_agree_under_the_listing_knobs(faults: SandboxFaults) -> None:
    sandbox = NexudusSandbox(records=300, seed=4, faults=faults)
    crowd_minute(sandbox, 120)
    minutes = ["2030-02-01T10:29", "2030-02-01T10:30", "2030-02-01T10:31", "2026-01-01T00:00"]
    checked = 0
    for order_by in ("UpdatedOn", "Id", "Status"):
        for direction in ("1", "-1", "0"):
            for low, high in ((minutes[1], minutes[1]), (minutes[0], minutes[2]), (minutes[3], "")):
                for number in ("1", "2", "5"):
                    params = {
                        "orderBy": order_by,
                        "dir": direction,
                        "page": number,
                        "size": "25",
                        "from_BusinessBackgroundJob_UpdatedOn": low,
                        "to_BusinessBackgroundJob_UpdatedOn": high,
                    }
                    fast = sandbox.render_listing(params, listing_number=checked)
                    slow = sandbox.render_listing(params, indexed=False, listing_number=checked)
                    assert fast == slow, params
                    checked += 1
    assert checked == 81


def test_created_on_range_filter(shared: NexudusSandbox) -> None:
    cutoff = datetime(2025, 6, 1, tzinfo=timezone.utc)
    expected = sorted(job["Id"] for job in shared.jobs.values() if job["CreatedOn"] >= cutoff)
    got = all_records(shared, from_BusinessBackgroundJob_CreatedOn="2025-06-01T00:00")
    assert ids(got) == expected


def test_malformed_date_is_400_with_message(shared: NexudusSandbox) -> None:
    for value in ("yesterday", "2025-13-01T00:00", "2025-01-01"):
        response = listing(shared, from_BusinessBackgroundJob_UpdatedOn=value)
        assert response.status_code == 400
        assert value in response.json()["Message"]


# -- get one ---------------------------------------------------------------------------


def test_result_data_only_in_get_one(shared: NexudusSandbox) -> None:
    completed = all_records(shared, BusinessBackgroundJob_Status="Completed")
    assert completed and all(record["ResultData"] is None for record in completed)
    job_id = completed[0]["Id"]
    response = requests.get(f"{shared.url}{LISTING}/{job_id}", headers=AUTH, timeout=5)
    assert response.status_code == 200
    full = response.json()
    assert list(full) == list(FIELDS)
    assert json.loads(full["ResultData"])["errors"] == 0
    assert {k: v for k, v in full.items() if k != "ResultData"} == {
        k: v for k, v in completed[0].items() if k != "ResultData"
    }


def test_not_found(shared: NexudusSandbox) -> None:
    for path in (f"{LISTING}/999", f"{LISTING}/abc", "/api/sys/nothing", "/elsewhere"):
        response = requests.get(shared.url + path, headers=AUTH, timeout=5)
        assert response.status_code == 404
        assert "Message" in response.json()


# -- data control ----------------------------------------------------------------------


def test_touch_moves_job_to_end_of_updated_on_listing(fresh: NexudusSandbox) -> None:
    job_id = min(fresh.served_ids())
    fresh.touch([job_id], at=datetime(2031, 2, 3, 4, 5, 6, 789, tzinfo=timezone.utc))
    records = all_records(fresh, orderBy="UpdatedOn", dir=1)
    assert records[-1]["Id"] == job_id
    assert records[-1]["UpdatedOn"] == "2031-02-03T04:05:06Z"
    assert fresh.current_versions()[job_id] == "2031-02-03T04:05:06Z"


def test_touch_defaults_to_now_and_can_change_status(fresh: NexudusSandbox) -> None:
    job_id = min(fresh.served_ids())
    before = datetime.now(timezone.utc).replace(microsecond=0)
    fresh.touch([job_id], status="Failed")
    job = fresh.jobs[job_id]
    assert before <= job["UpdatedOn"] <= datetime.now(timezone.utc)
    assert job["Status"] == "Failed" and job["ResultData"]
    with pytest.raises(KeyError):
        fresh.touch([1])


def test_add_and_delete(fresh: NexudusSandbox) -> None:
    added = fresh.add_jobs(3, at=datetime(2030, 5, 5, tzinfo=timezone.utc))
    assert added == [100061, 100062, 100063]
    fresh.delete([100001, 100063])
    assert fresh.add_jobs(1) == [100064]  # Ids are never reused
    served = fresh.served_ids()
    assert 100001 not in served and {100061, 100062, 100064} <= served
    assert page(fresh)["TotalItems"] == 62


def test_generation_is_deterministic() -> None:
    assert generate_jobs(200, 5) == generate_jobs(200, 5)
    assert generate_jobs(200, 5) != generate_jobs(200, 6)
    jobs = generate_jobs(200, 5)
    assert [job["Id"] for job in jobs] == list(range(100001, 100201))
    assert all(set(job) == set(FIELDS) for job in jobs)
    with NexudusSandbox(records=50, seed=9) as one, NexudusSandbox(records=50, seed=9) as two:
        assert all_records(one) == all_records(two)


def test_many_jobs_share_a_minute() -> None:
    jobs = generate_jobs(500, 42)
    for name in ("CreatedOn", "UpdatedOn"):
        minutes = collections.Counter(job[name].replace(second=0) for job in jobs)
        assert max(minutes.values()) >= 20
        assert sum(count for count in minutes.values() if count >= 5) >= 200
    seconds = collections.Counter(job["CreatedOn"] for job in jobs)
    assert max(seconds.values()) >= 2
    anchor = datetime(2026, 6, 30, tzinfo=timezone.utc)
    assert all(job["CreatedOn"] <= job["UpdatedOn"] <= anchor for job in jobs)
    assert min(job["CreatedOn"] for job in jobs) < anchor - timedelta(days=600)


def test_on_listing_request_can_change_data_mid_sync(fresh: NexudusSandbox) -> None:
    calls: list[int] = []
    first_id = min(fresh.served_ids())

    def hook(count: int) -> None:
        calls.append(count)
        if count == 2:
            fresh.touch([first_id], at=datetime(2032, 1, 1, tzinfo=timezone.utc))

    fresh.on_listing_request = hook
    page_one = page(fresh, size=30, orderBy="UpdatedOn", dir=1)
    page_two = page(fresh, page=2, size=30, orderBy="UpdatedOn", dir=1)
    assert calls == [1, 2]
    assert page_two["Records"][-1]["Id"] == first_id
    seen = set(ids(page_one["Records"] + page_two["Records"]))
    assert len(seen) == 59  # the classic drift: one job skipped, one seen twice
    assert fresh.listing_requests == 2


def test_latency_knob_delays_responses(fresh: NexudusSandbox) -> None:
    fresh.faults.latency_ms = 150
    started = time.monotonic()
    page(fresh)
    assert time.monotonic() - started >= 0.15


def test_request_log(fresh: NexudusSandbox) -> None:
    fresh.clear_log()
    page(fresh, page=2, size=10)
    token(fresh, PASSWORD_GRANT)
    entries = fresh.log_snapshot()
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("GET", LISTING, 200),
        ("POST", "/api/token", 200),
    ]
    assert entries[0].query == {"page": "2", "size": "10"}
    assert entries[0].headers["Authorization"] == "Bearer"
    assert entries[0].finished_at is not None and entries[0].finished_at >= entries[0].started_at


def test_stop_closes_keep_alive_connections() -> None:
    sandbox = NexudusSandbox(records=5)
    url = sandbox.start()
    with requests.Session() as session:
        assert session.get(url + LISTING, headers=AUTH, timeout=5).status_code == 200
        sandbox.stop()
        with pytest.raises(requests.ConnectionError):
            session.get(url + LISTING, headers=AUTH, timeout=5)


# -- command line ----------------------------------------------------------------------


def test_cli_port_file_serves_and_exits_cleanly_on_sigterm(tmp_path: Path) -> None:
    port_file = tmp_path / "sandbox.url"
    command = [sys.executable, "-m", "nexudus_sandbox", "--records", "40"]
    command += ["--seed", "8", "--port", "0", "--port-file", str(port_file), "--touch", "3"]
    command += ["--record-clock-offset-hours", "-5", "--date-header", "missing"]
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 10
        while not port_file.exists() and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.02)
        url = port_file.read_text().strip()
        assert url.startswith("http://127.0.0.1:")
        response = requests.get(url + LISTING, headers=AUTH, params={"size": 100}, timeout=5)
        assert "Date" not in response.headers
        body = response.json()
        assert body["TotalItems"] == 40
        # --touch stamps the record clock: 5 hours behind true UTC.
        five_hours_ago = datetime.now(timezone.utc) - timedelta(hours=5)
        touched = [
            datetime.fromisoformat(record["UpdatedOn"].replace("Z", "+00:00"))
            for record in body["Records"]
        ]
        assert sum(abs(t - five_hours_ago) < timedelta(seconds=10) for t in touched) == 3
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert stdout == f"Nexudus sandbox listening on {url} (40 jobs, seed 8)\n"
    assert "faults: date_header='missing', record_clock_offset_hours=-5.0" in stderr
