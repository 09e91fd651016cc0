"""What the live API does differently from the documentation, against the tap: 7-digit
timestamps with and without ``Z``, throttling as 429 with an HTTP-date ``Retry-After``,
and jobs purged while the tap pages. Each held before the sandbox could do it (measured
against another implementation of the API); these keep it holding.

Every case runs the installed command twice (run 2 from run 1's STATE, on a quiet
account), as a scheduler would: exit 0, and every job still served is delivered in its
current version.
"""

from __future__ import annotations

import itertools
import json
import typing as t
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from nexudus_sandbox import NexudusSandbox, SandboxFaults
from nexudus_sandbox.faults import TimestampFormat
from nexudus_sandbox.schedule import parse_instant
from tests.conftest import run_cli, sandbox_config

RECORDS, PAGE_SIZE = 700, 100


@dataclass
class CliSync:
    exit_code: int
    stderr: str
    records: list[dict[str, t.Any]]
    final_state: dict[str, t.Any]


def cli_sync(
    sandbox: NexudusSandbox, tmp_path: Path, state: dict[str, t.Any] | None = None
) -> CliSync:
    """One run of the installed command, as Meltano runs it (STATE through a file)."""
    args: list[str] = []
    if state is not None:
        state_file = tmp_path / "state.json"
        state_file.write_text(json.dumps(state))
        args = ["--state", str(state_file)]
    result = run_cli(sandbox_config(sandbox, page_size=PAGE_SIZE), tmp_path, *args)
    messages = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return CliSync(
        result.exit_code,
        result.stderr,
        [m["record"] for m in messages if m["type"] == "RECORD"],
        states[-1] if states else {},
    )


def sync_pair(sandbox: NexudusSandbox, tmp_path: Path) -> list[dict[str, t.Any]]:
    """Run 1 while the faults act, run 2 on a quiet account; both must exit 0."""
    first = cli_sync(sandbox, tmp_path)
    assert first.exit_code == 0, first.stderr[-2000:]
    sandbox.faults = sandbox.faults.without_data_changes()
    second = cli_sync(sandbox, tmp_path, first.final_state)
    assert second.exit_code == 0, second.stderr[-2000:]
    return first.records + second.records


def assert_current_versions_delivered(
    sandbox: NexudusSandbox, records: list[dict[str, t.Any]]
) -> None:
    """0 lost, 0 stale among the jobs served now (as instants: formats may differ)."""
    emitted: dict[int, set[t.Any]] = {}
    for record in records:
        emitted.setdefault(record["Id"], set()).add(parse_instant(record["UpdatedOn"]))
    served = {i: parse_instant(v) for i, v in sandbox.rendered_versions().items()}
    lost = sorted(set(served) - set(emitted))
    stale = sorted(i for i in served if i in emitted and served[i] not in emitted[i])
    assert lost == [], f"{len(lost)} jobs lost: {lost[:20]}"
    assert stale == [], f"{len(stale)} jobs stale: {stale[:20]}"


@pytest.mark.parametrize("fmt", ["ticks", "ticks-no-z"])
def test_seven_digit_timestamps_with_and_without_z(tmp_path: Path, fmt: TimestampFormat) -> None:
    faults = SandboxFaults(timestamp_format=fmt, changes_every=2, changes_per_burst=3, seed=31)
    with NexudusSandbox(records=RECORDS, seed=17, faults=faults) as sandbox:
        records = sync_pair(sandbox, tmp_path)
        rendered = sandbox.rendered_versions()
        created = {
            r["Id"]: r["CreatedOn"]
            for r in sandbox.render_listing({"size": "1000", "orderBy": "Id"})["Records"]
        }
        assert_current_versions_delivered(sandbox, records)

    newest = {r["Id"]: r for r in records}
    for job_id, record in newest.items():
        # UTC, the ticks cut to microseconds (what Python holds), nothing else changed.
        assert record["UpdatedOn"] == rendered[job_id][:26] + "+00:00", record
        assert record["CreatedOn"] == created[job_id][:26] + "+00:00", record
    assert len({r["UpdatedOn"][20:26] for r in newest.values()}) > 50


def test_429_with_an_http_date_retry_after_is_waited_out(tmp_path: Path) -> None:
    faults = SandboxFaults(
        throttle_rate=0.15,
        throttle_retry_after=1,
        throttle_status=429,
        retry_after_format="http-date",
        seed=18,  # requests 4 and 12 are throttled: two waits of 1-2 s
    )
    with NexudusSandbox(records=RECORDS, seed=17, faults=faults) as sandbox:
        records = sync_pair(sandbox, tmp_path)
        log = sorted(sandbox.log_snapshot(), key=lambda e: e.number)
        assert_current_versions_delivered(sandbox, records)

    throttled = [e for e in log if e.status == 429]
    assert throttled, "the sandbox sent no 429"
    assert not [e for e in log if e.status == 409]
    retried = 0
    for answer, following in itertools.pairwise(log):
        if answer.status != 429:
            continue  # the tap is sequential: the next request is the retry
        assert answer.retry_after is not None
        until = parsedate_to_datetime(answer.retry_after).timestamp()
        early = until - following.started_wall
        assert early <= 0, f"request {following.number} came {early:.3f}s before Retry-After"
        # The date is whole seconds: the wait is 1 s to 2 s, plus at most 10% jitter.
        assert following.started_wall - answer.started_wall < 3.5
        retried += 1
    assert retried == len(throttled)


def test_jobs_purged_while_the_tap_pages(tmp_path: Path) -> None:
    # 5 jobs vanish before every 2nd listing request, 2 are updated before every 3rd.
    faults = SandboxFaults(
        purge_every=2, purge_per_burst=5, changes_every=3, changes_per_burst=2, seed=41
    )
    with NexudusSandbox(records=RECORDS, seed=17, faults=faults) as sandbox:
        records = sync_pair(sandbox, tmp_path)
        served = sandbox.served_ids()
        purged = sum(e.fault == "purge" for e in sandbox.log_snapshot())
        assert_current_versions_delivered(sandbox, records)

    assert purged >= 3 and len(served) <= RECORDS - 15, "the purge did not act"
    assert {r["Id"] for r in records} <= set(range(100001, 100001 + RECORDS))
