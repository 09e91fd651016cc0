"""The scheduled-run player's bookkeeping: what it calls lost, stale, behind and repeated."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from nexudus_sandbox import NexudusSandbox
from nexudus_sandbox.clock import SimulatedClock
from nexudus_sandbox.schedule import ScheduledRun, play_schedule

START = datetime(2026, 10, 24, 23, 0, tzinfo=timezone.utc)


def test_a_client_that_reads_once_and_repeats_itself_is_caught() -> None:
    clock = SimulatedClock(START)
    with NexudusSandbox(records=20, seed=3, clock=clock) as sandbox:
        first: list[dict[str, Any]] = []

        def sync(state: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
            # Emits the first listing it saw on every run, and leaves one job out.
            if not first:
                listed = sandbox.render_listing({"size": "100"})["Records"]
                first.extend(listed[1:])
            return list(first), {"runs": state.get("runs", 0) + 1}

        runs = [ScheduledRun(START), ScheduledRun(START + timedelta(minutes=30), updates_before=5)]
        report = play_schedule(sandbox, clock, runs, sync, seed=1)
        updated = {i for i, v in sandbox.current_versions().items() if v.startswith("2026-10-24")}

    never = min(sandbox.served_ids())
    assert report.lost == [never]
    assert set(report.stale) == updated - {never} and updated
    assert report.repeats == 19 and [r.repeats for r in report.runs] == [0, 19]
    assert [r.records for r in report.runs] == [19, 19]
    assert report.runs[0].behind == [never]
    assert set(report.runs[1].behind) == updated | {never}
    assert report.runs[1].state_bytes == len('{"runs":2}')
    assert clock() == START + timedelta(minutes=30)
    assert "lost 1, stale" in report.table()
