"""The listing walk itself, against an in-memory listing whose hazards a test switches on."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from nexudus_sandbox.data import Job
from nexudus_sandbox.listing import ListingQuery, list_jobs, parse_listing_query
from tap_nexudus_jobs.envelope import ListingEnvelope
from tap_nexudus_jobs.errors import NexudusResponseError
from tap_nexudus_jobs.timestamps import floor_to_minute, normalise_timestamp, parse_timestamp
from tap_nexudus_jobs.walk import (
    FetchedPage,
    ListingPage,
    ListingWalk,
    PageRequest,
    VersionLedger,
)
from tests.listing_model import envelope_of, query_params

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


class FakeListing:
    """The sandbox's listing core in memory, with hazards a test switches on and a record clock."""

    def __init__(
        self,
        stamps: dict[int, datetime],
        page_size: int,
        *,
        to_means: str = "minute",
        shuffle_ties: random.Random | None = None,
        ignores_to: bool = False,
        server_cap: int | None = None,
    ) -> None:
        self.stamps = dict(stamps)
        self.server_cap = server_cap  # the largest `size` served, silently; None: any
        self.page_size = page_size
        self.to_means = to_means  # "minute": to=10:30 is up to 10:30:59; "instant": 10:30:00
        self.shuffle_ties = shuffle_ties
        self.ignores_to = ignores_to
        # The clock that writes UpdatedOn; the walk never sees it.
        self.now = max(stamps.values(), default=T0) + timedelta(minutes=5)
        self.before_request = lambda number: None
        self.requests: list[PageRequest] = []
        self.descending_for_dir: set[int] = set()

    def touch(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.stamps[job_id] = self.now.replace(microsecond=0)

    def fetch(self, request: PageRequest) -> FetchedPage:
        self.requests.append(request)
        self.before_request(len(self.requests))
        query = parse_listing_query(
            query_params(request, request.size),
            max_page_size=min(request.size, self.server_cap or request.size),
            to_filter="ignored" if self.ignores_to else self.to_means,
            descends=self.descending_for_dir.__contains__,
        )
        jobs = [{"Id": job_id, "UpdatedOn": stamp} for job_id, stamp in self.stamps.items()]
        return FetchedPage(envelope_of(list_jobs(jobs, query, ties=self._ties)))

    def _ties(self, selected: Sequence[Job], query: ListingQuery) -> Sequence[Job]:
        if self.shuffle_ties is None:
            return selected
        # One random tie-break per listed job, drawn in the order the jobs were stored.
        listed = {int(job["Id"]): job for job in selected}
        tie_break = {i: self.shuffle_ties.random() for i in self.stamps if i in listed}
        rows = sorted(selected, key=lambda job: (job["UpdatedOn"], tie_break[int(job["Id"])]))
        return rows[::-1] if query.descending else rows


def normalise(record: dict) -> dict:
    return {**record, "UpdatedOn": normalise_timestamp(record["UpdatedOn"])}


def walk(fake: FakeListing, bookmark: str | None = None) -> tuple[list[dict], list[ListingPage]]:
    listing = ListingWalk(
        fake.fetch,
        normalise,
        start=parse_timestamp(bookmark) if bookmark else None,
        lookback_minutes=0,
        page_size=fake.page_size,
        starting_bookmark=bookmark,
    )
    pages = list(listing.pages())
    return [record for page in pages for record in page.records], pages


def spread(count: int, seconds_apart: int = 7) -> dict[int, datetime]:
    return {n: T0 + timedelta(seconds=seconds_apart * n) for n in range(1, count + 1)}


def final_versions(emitted: list[dict]) -> dict[int, str]:
    versions: dict[int, str] = {}
    for record in emitted:
        versions[record["Id"]] = record["UpdatedOn"]
    return versions


def expected_versions(fake: FakeListing) -> dict[int, str]:
    return {job_id: stamp.isoformat() for job_id, stamp in fake.stamps.items()}


def bookmark_of(pages: list[ListingPage]) -> str | None:
    return pages[-1].bookmark if pages else None


@pytest.mark.parametrize("seconds_apart", [1, 7])
def test_nothing_changing_costs_the_pages_plus_a_probe(seconds_apart: int) -> None:
    # 60 jobs a minute: re-anchoring would re-read ~30 a page, so a closed window pays;
    # 8 a minute: re-anchoring is cheaper than probing. Either way, about ceil(N/size).
    fake = FakeListing(spread(1000, seconds_apart), page_size=100)

    emitted, _ = walk(fake)

    assert [r["Id"] for r in emitted] == list(range(1, 1001))
    assert len(fake.requests) <= math.ceil(1000 / 100) + 2
    # Closed windows end before the newest listed job's minute: the records prove it.
    newest = floor_to_minute(max(fake.stamps.values()))
    closed = [r.window.end for r in fake.requests if r.window.end is not None]
    assert bool(closed) == (seconds_apart == 1)
    assert all(end < newest for end in closed)


def test_an_incremental_run_with_nothing_changed_is_one_request() -> None:
    fake = FakeListing(spread(1000), page_size=100)
    _, pages = walk(fake)
    fake.requests.clear()

    emitted, _ = walk(fake, bookmark_of(pages))

    assert len(fake.requests) == 1
    # The bookmark's minute is re-read (its jobs again; issue 10 makes that free).
    last_minute = floor_to_minute(fake.stamps[1000])
    assert [r["Id"] for r in emitted] == [i for i, s in fake.stamps.items() if s >= last_minute]


def test_no_job_is_emitted_in_an_older_version_after_a_newer_one() -> None:
    fake = FakeListing(spread(600), page_size=50)

    def changes(number: int) -> None:
        fake.now += timedelta(seconds=3)
        if number > 1:
            fake.touch([number * 3, number * 5])

    fake.before_request = changes

    emitted, pages = walk(fake)
    fake.before_request = lambda number: None
    second, _ = walk(fake, bookmark_of(pages))

    newest: dict[int, str] = {}
    for record in emitted + second:
        assert record["UpdatedOn"] >= newest.get(record["Id"], ""), record
        newest[record["Id"]] = record["UpdatedOn"]
    assert newest == expected_versions(fake)


@pytest.mark.parametrize("to_means", ["minute", "instant"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ties_in_another_order_on_every_request_lose_nothing(to_means: str, seed: int) -> None:
    # Three pages of jobs inside one second, among jobs seconds apart: ties straddle pages.
    stamps = spread(120, seconds_apart=11)
    stamps.update({n: T0 + timedelta(minutes=9, seconds=30) for n in range(121, 191)})
    fake = FakeListing(stamps, page_size=25, to_means=to_means, shuffle_ties=random.Random(seed))

    emitted, _ = walk(fake)

    assert sorted({r["Id"] for r in emitted}) == list(range(1, 191))
    assert len(emitted) == 190  # each version once


def test_a_bulk_edit_of_more_than_a_page_into_the_newest_minute_is_caught_by_the_pair() -> None:
    fake = FakeListing(spread(200), page_size=25)

    def bulk_edit(number: int) -> None:
        fake.now += timedelta(seconds=1)
        if number == 3:
            fake.touch(list(range(1, 81)))  # 80 jobs, one second: over three pages

    fake.before_request = bulk_edit
    emitted, pages = walk(fake)
    fake.before_request = lambda number: None
    second, _ = walk(fake, bookmark_of(pages))

    assert final_versions(emitted + second) == expected_versions(fake)
    # Run 1 alone: every job the bookmark claims is there in its current version.
    claimed = floor_to_minute(parse_timestamp(str(bookmark_of(pages))))
    for job_id, stamp in fake.stamps.items():
        if stamp < claimed:
            assert final_versions(emitted)[job_id] == stamp.isoformat()


def test_a_crowded_minute_nothing_newer_proves_closed_holds_the_bookmark() -> None:
    stamps = spread(20)
    stamps.update({n: T0 + timedelta(hours=1, seconds=n % 50) for n in range(21, 101)})
    fake = FakeListing(stamps, page_size=25)

    emitted, pages = walk(fake)

    assert sorted({r["Id"] for r in emitted}) == list(range(1, 101))
    # The newest minute may still be changing: the next run starts from it.
    bookmark = parse_timestamp(str(bookmark_of(pages)))
    assert floor_to_minute(bookmark) == T0 + timedelta(hours=1)
    assert any(r.order_by == "Id" for r in fake.requests)


def test_the_walk_never_waits_and_never_reads_a_clock() -> None:
    # The record clock is ten hours ahead of any real clock: nothing changes.
    ahead = {n: stamp + timedelta(hours=10) for n, stamp in spread(300).items()}
    fake = FakeListing(ahead, page_size=40)

    emitted, _ = walk(fake)

    assert final_versions(emitted) == expected_versions(fake)


def test_dir_zero_is_used_when_dir_one_lists_descending() -> None:
    fake = FakeListing(spread(120), page_size=50)
    fake.descending_for_dir = {1, -1}

    emitted, _ = walk(fake)

    assert fake.requests[0].direction == 1
    assert {r.direction for r in fake.requests[1:]} == {0}
    assert [r["Id"] for r in emitted] == list(range(1, 121))


def test_a_listing_descending_in_every_convention_stops_before_emitting() -> None:
    fake = FakeListing(spread(120), page_size=50)
    fake.descending_for_dir = {1, 0}
    listing = ListingWalk(fake.fetch, normalise, start=None, lookback_minutes=0, page_size=50)

    with pytest.raises(NexudusResponseError, match="did not list UpdatedOn in ascending order"):
        next(listing.pages())


def test_an_inconclusive_first_page_is_settled_by_the_last_page() -> None:
    earlier = {n: T0 + timedelta(seconds=n) for n in range(1, 71)}
    newest_all_alike = {n: T0 + timedelta(hours=2) for n in range(71, 121)}
    fake = FakeListing({**earlier, **newest_all_alike}, page_size=50)
    fake.descending_for_dir = {1}

    emitted, _ = walk(fake)

    # dir=1 showed one timestamp on page 1; the probe of its last page proved descending.
    assert [r.direction for r in fake.requests[:3]] == [1, 1, 0]
    assert sorted({r["Id"] for r in emitted}) == list(range(1, 121))


def test_a_server_that_ignores_the_to_filter_is_stopped_before_the_closed_window() -> None:
    fake = FakeListing(spread(1000, seconds_apart=1), page_size=100, ignores_to=True)
    listing = ListingWalk(fake.fetch, normalise, start=None, lookback_minutes=0, page_size=100)
    pages = listing.pages()
    first = next(pages)

    with pytest.raises(NexudusResponseError, match="ignored to_BusinessBackgroundJob_UpdatedOn"):
        next(pages)
    assert len(first.records) == 100  # page 1 only: nothing from the untrusted window


def test_requests_ask_for_the_page_size_the_server_serves() -> None:
    # The server silently caps `size` at 40: once a full page shows it, every request
    # names 40, and the walk reads exactly the pages a walk configured with 40 reads.
    capped = FakeListing(spread(1000), page_size=100, server_cap=40)
    emitted, _ = walk(capped)
    configured = FakeListing(spread(1000), page_size=40)
    walk(configured)

    assert sorted(r["Id"] for r in emitted) == list(range(1, 1001))
    assert capped.requests[0].size == 100
    assert {request.size for request in capped.requests[1:]} == {40}
    assert [replace(r, size=0) for r in capped.requests] == [
        replace(r, size=0) for r in configured.requests
    ]


def test_the_ledger_admits_each_version_once_and_forgets_older_minutes() -> None:
    ledger = VersionLedger()
    a = {"Id": 1, "UpdatedOn": "2025-01-01T00:00:10+00:00"}
    b = {"Id": 2, "UpdatedOn": "2025-01-01T00:00:10+00:00"}
    newer_a = {"Id": 1, "UpdatedOn": "2025-01-01T00:05:00+00:00"}

    assert [ledger.admit(r) for r in (a, b, a, b, newer_a, newer_a)] == [
        True,
        True,
        False,
        False,
        True,
        False,
    ]
    ledger.forget_before(datetime(2025, 1, 1, 0, 5, tzinfo=timezone.utc))
    assert len(ledger) == 1


def test_jobs_without_updated_on_listed_first_do_not_end_a_full_sync() -> None:
    fake = FakeListing(spread(30), page_size=10)
    real_fetch = fake.fetch
    nulls = [{"Id": 900 + n, "UpdatedOn": None} for n in range(10)]

    def nulls_first(request: PageRequest) -> FetchedPage:
        if request.window.start is not None or request.order_by != "UpdatedOn":
            return real_fetch(request)
        # An unfiltered query lists ten jobs without UpdatedOn first, as SQL Server would.
        fetched = real_fetch(replace(request, page=1))
        envelope = fetched.envelope
        return FetchedPage(
            ListingEnvelope(
                records=[dict(r) for r in nulls],
                current_page=1,
                has_next_page=True,
                total_items=(envelope.total_items or 0) + 10,
                total_pages=(envelope.total_pages or 0) + 1,
                order_field="UpdatedOn",
                sort_direction=request.direction,
            )
        )

    fake.fetch = nulls_first  # type: ignore[method-assign]
    listing = ListingWalk(
        fake.fetch,
        lambda r: r if r["UpdatedOn"] is None else normalise(r),
        start=None,
        lookback_minutes=0,
        page_size=10,
    )
    emitted = [r for page in listing.pages() for r in page.records]

    assert sorted(r["Id"] for r in emitted) == sorted([*range(1, 31), *range(900, 910)])


def test_a_one_page_answer_of_one_timestamp_still_moves_the_bookmark() -> None:
    # An incremental run whose changes all landed in one second: no order can show on
    # the page, but a page that is the whole answer is complete whichever way it is sorted.
    stamps = spread(10)
    stamps.update({n: T0 + timedelta(hours=3) for n in range(11, 36)})
    fake = FakeListing(stamps, page_size=100)
    bookmark = (T0 + timedelta(hours=3)).isoformat()

    _, pages = walk(fake, bookmark)

    assert len(fake.requests) == 1
    assert bookmark_of(pages) == bookmark
    # All 25 jobs from the bookmark's minute on change in one second (as a bulk edit does).
    fake.stamps.update({n: T0 + timedelta(hours=5) for n in range(11, 36)})
    fake.requests.clear()

    emitted, pages = walk(fake, bookmark)

    assert len(fake.requests) == 1
    assert sorted(r["Id"] for r in emitted) == list(range(11, 36))
    assert bookmark_of(pages) == (T0 + timedelta(hours=5)).isoformat()
