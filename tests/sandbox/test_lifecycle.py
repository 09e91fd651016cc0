"""The living-account knobs: statuses that change over time, and fields the API adds."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
import requests

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from nexudus_sandbox.__main__ import build_parser, faults_from_args
from nexudus_sandbox.data import FIELDS
from nexudus_sandbox.lifecycle import FAULT_STATUS_FLOW, status_flow_due

LISTING = "/api/sys/businessbackgroundjobs"
AUTH = {"Authorization": "Bearer sandbox-token"}


def listing(sandbox: NexudusSandbox, **params: Any) -> dict[str, Any]:
    response = requests.get(sandbox.url + LISTING, headers=AUTH, params=params, timeout=5)
    response.raise_for_status()
    return dict(response.json())


def statuses(sandbox: NexudusSandbox) -> dict[int, str]:
    with sandbox.lock:
        return {job_id: job["Status"] for job_id, job in sandbox.jobs.items()}


def test_the_flow_is_off_by_default_and_rejects_negative_values() -> None:
    assert not status_flow_due(SandboxFaults(), 2)
    assert [
        n
        for n in range(1, 9)
        if status_flow_due(SandboxFaults(status_flow_every=3, status_flow_per_burst=1), n)
    ] == [2, 5, 8]
    with pytest.raises(ValueError, match="status_flow"):
        SandboxFaults(status_flow_every=-1)
    with pytest.raises(ValueError, match="status_flow"):
        SandboxFaults(status_flow_per_burst=-2)


def test_each_burst_moves_jobs_one_step_on_and_new_ones_arrive_queued() -> None:
    faults = SandboxFaults(status_flow_every=1, status_flow_per_burst=3, seed=4)
    with NexudusSandbox(records=400, seed=7, faults=faults) as sandbox:
        before = statuses(sandbox)
        listing(sandbox)  # request 1: no burst yet
        assert statuses(sandbox) == before
        listing(sandbox)  # request 2: a burst
        after = statuses(sandbox)
        with sandbox.lock:
            jobs = {job_id: dict(job) for job_id, job in sandbox.jobs.items()}
        entries = sandbox.log_snapshot()

    moved = {job_id for job_id in before if after[job_id] != before[job_id]}
    arrived = set(after) - set(before)
    assert len(arrived) == 3 and {after[job_id] for job_id in arrived} == {"Queued"}
    finished = {job_id for job_id in moved if before[job_id] == "Running"}
    started = {job_id for job_id in moved if before[job_id] == "Queued"}
    assert len(finished) == 3 and len(started) == 3 and moved == finished | started
    assert {after[job_id] for job_id in finished} <= {"Completed", "Failed"}
    assert {after[job_id] for job_id in started} == {"Running"}
    for job_id in finished:
        assert jobs[job_id]["ResultData"], "a finished job has its result"
    for job_id in started | arrived:
        assert jobs[job_id]["ResultData"] is None
    newest = max(job["UpdatedOn"] for job in jobs.values())
    assert {jobs[job_id]["UpdatedOn"] for job_id in moved | arrived} == {newest}
    assert [entry.fault for entry in entries] == [None, FAULT_STATUS_FLOW]


def test_the_account_clock_moves_on_between_bursts() -> None:
    faults = SandboxFaults(status_flow_every=1, status_flow_per_burst=2, status_flow_minutes=5)
    with NexudusSandbox(records=200, seed=7, faults=faults) as sandbox:
        stamps = []
        for _ in range(4):
            listing(sandbox)  # bursts before requests 2, 3 and 4
            with sandbox.lock:
                stamps.append(max(job["UpdatedOn"] for job in sandbox.jobs.values()))

    gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(stamps[1:])]
    assert [round(gap / 60) for gap in gaps] == [5, 5]


def test_the_flow_is_seeded() -> None:
    def run() -> dict[int, str]:
        faults = SandboxFaults(status_flow_every=1, status_flow_per_burst=4, seed=9)
        with NexudusSandbox(records=300, seed=7, faults=faults) as sandbox:
            for _ in range(4):
                listing(sandbox)
            return statuses(sandbox)

    assert run() == run()


def test_extra_fields_reach_the_listing_and_get_one_unchanged() -> None:
    extra = {"Priority": {"Level": 2, "Tags": ["a", "b"]}, "Region": "EMEA"}
    with NexudusSandbox(records=30, seed=7, faults=SandboxFaults(extra_fields=extra)) as sandbox:
        records = listing(sandbox, size=10)["Records"]
        job_id = records[0]["Id"]
        one = requests.get(f"{sandbox.url}{LISTING}/{job_id}", headers=AUTH, timeout=5).json()
        sandbox.faults = SandboxFaults()
        plain = listing(sandbox, size=10)["Records"]

    assert all({k: r[k] for k in extra} == extra for r in records)
    assert all(set(r) == set(FIELDS) | set(extra) for r in records)
    assert {k: one[k] for k in extra} == extra
    assert all(set(r) == set(FIELDS) for r in plain)


def test_cli_flags_for_the_living_account() -> None:
    parser = build_parser()
    args = parser.parse_args(
        [
            "--status-flow-every",
            "2",
            "--status-flow-per-burst",
            "5",
            "--extra-field",
            'Priority={"Level": 2}',
            "--extra-field",
            "Region=EMEA",
            "--status-flow-minutes",
            "15",
        ]
    )
    faults = faults_from_args(args)

    assert (faults.status_flow_every, faults.status_flow_per_burst) == (2, 5)
    assert faults.status_flow_minutes == 15
    assert faults.extra_fields == {"Priority": {"Level": 2}, "Region": "EMEA"}
    assert faults_from_args(parser.parse_args([])) == SandboxFaults()
    with pytest.raises(SystemExit):
        parser.parse_args(["--extra-field", "no-equals-sign"])
    assert json.loads(json.dumps(faults.active()["extra_fields"])) == faults.extra_fields
