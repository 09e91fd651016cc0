"""Get-ones overlap, but take their turns (and the budget) in listing order."""

from __future__ import annotations

import threading
import typing as t

from tap_nexudus_jobs.budget import RequestBudget
from tap_nexudus_jobs.full_records import FullRecordFetcher
from tap_nexudus_jobs.pacing import RequestPacer

# Long enough never to expire on a busy machine; only a broken fetcher waits it out.
GATE_SECONDS = 10.0


def listed(job_id: int) -> dict[str, t.Any]:
    return {"Id": job_id, "Status": "Completed", "ResultData": None}


class WatchedBudget(RequestBudget):
    """A run's budget that says when it has no request left."""

    def __init__(self, max_requests: int) -> None:
        super().__init__(max_requests=max_requests, per_hour=1_000_000)
        self.full = threading.Event()

    def sent_now(self) -> None:
        super().sent_now()
        if self.remaining == 0:
            self.full.set()


class SlowFirstAccount:
    """Get-ones through a real pacer and budget; one job's request is held back.

    Each get-one takes its pacer turn as the paced session's send would. `slow_id`'s
    request waits until `release` is set (a thread scheduled late, as happens on a busy
    machine): when the budget is full, or when `release_after` has been answered.
    """

    def __init__(self, max_requests: int, slow_id: int, release_after: int | None) -> None:
        self.budget = WatchedBudget(max_requests)
        self.pacer = RequestPacer(
            per_minute=1_000_000, per_hour=1_000_000, min_interval_ms=0, budget=self.budget
        )
        self.sent: list[int] = []
        self._slow_id, self._release_after = slow_id, release_after
        self.release = self.budget.full if release_after is None else threading.Event()
        self._lock = threading.Lock()

    def fetch_one(self, job_id: int) -> tuple[dict[str, t.Any] | None, float]:
        if job_id == self._slow_id:
            self.release.wait(GATE_SECONDS)
        self.pacer.wait_turn()  # what PacedSession.send does before each request
        with self._lock:
            self.sent.append(job_id)
        if job_id == self._release_after:
            self.release.set()
        # A round trip far above the pacing interval: the fetcher overlaps get-ones.
        return {**listed(job_id), "ResultData": f"result {job_id}"}, 1.0


def fetcher_for(account: SlowFirstAccount) -> FullRecordFetcher:
    return FullRecordFetcher(account.fetch_one, dict, lambda _line: None, account.pacer)


def test_a_budget_stop_mid_page_wastes_no_get_one_and_keeps_the_listing_order() -> None:
    # Room for 3 get-ones: one on a first page, two on the second, whose third is refused.
    account = SlowFirstAccount(max_requests=3, slow_id=2, release_after=None)
    fetcher = fetcher_for(account)
    try:
        fetcher.complete([listed(1)])  # learns the round trip, so the next page overlaps
        page = fetcher.complete([listed(2), listed(3), listed(4)])
    finally:
        fetcher.close()

    assert [r["Id"] for r in page.records] == [2, 3]
    assert [r["ResultData"] for r in page.records] == ["result 2", "result 3"]
    assert page.stopped is not None
    assert "max_requests_per_run reached" in page.stopped.message
    # Every get-one sent is for a record the page emits: none for the next run to repeat.
    assert sorted(account.sent) == [1, 2, 3]


def test_without_a_stop_every_record_is_completed_in_listing_order() -> None:
    account = SlowFirstAccount(max_requests=100, slow_id=2, release_after=5)
    fetcher = fetcher_for(account)
    try:
        fetcher.complete([listed(1)])
        page = fetcher.complete([listed(job_id) for job_id in (2, 3, 4, 5)])
    finally:
        fetcher.close()

    assert page.stopped is None
    assert [r["Id"] for r in page.records] == [2, 3, 4, 5]
    assert all(r["ResultData"] == f"result {r['Id']}" for r in page.records)
    assert sorted(account.sent) == [1, 2, 3, 4, 5]
