"""The drift-safe walk itself, against an in-memory listing with a controllable clock."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tap_nexudus_jobs.envelope import ListingEnvelope
from tap_nexudus_jobs.errors import NexudusResponseError
from tap_nexudus_jobs.pagination import DriftSafeListing, FetchedPage, HighWaterMark, PageRequest
from tap_nexudus_jobs.timestamps import normalise_timestamp

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


class FakeListing:
    """UpdatedOn-ascending listing with inclusive minute windows, like Nexudus."""

    def __init__(self, stamps: dict[int, datetime], page_size: int) -> None:
        self.stamps = dict(stamps)
        self.page_size = page_size
        self.clock = 0.0  # seconds since T0 + 1 day (the server's "now")
        self.before_request = lambda number: None
        self.requests: list[PageRequest] = []
        self.descending_for_dir: set[int] = set()

    @property
    def now(self) -> datetime:
        return T0 + timedelta(days=1, seconds=self.clock)

    def fetch(self, request: PageRequest) -> FetchedPage:
        self.requests.append(request)
        self.before_request(len(self.requests))
        window = request.window
        rows = [
            (stamp, job_id)
            for job_id, stamp in self.stamps.items()
            if (window.start is None or stamp >= window.start)
            and (window.end is None or stamp < window.end + timedelta(minutes=1))
        ]
        rows.sort(reverse=request.direction in self.descending_for_dir)
        size = self.page_size
        chunk = rows[(request.page - 1) * size : request.page * size]
        pages = max(1, -(-len(rows) // size))
        records = [
            {"Id": job_id, "UpdatedOn": stamp.strftime("%Y-%m-%dT%H:%M:%SZ")}
            for stamp, job_id in chunk
        ]
        envelope = ListingEnvelope(
            records=records,
            current_page=request.page,
            has_next_page=request.page < pages,
            total_items=len(rows),
            total_pages=pages,
            order_field="UpdatedOn",
            sort_direction=request.direction,
        )
        return FetchedPage(envelope, self.now)

    def touch(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            self.stamps[job_id] = self.now.replace(microsecond=0)


def normalise(record: dict) -> dict:
    record["UpdatedOn"] = normalise_timestamp(record["UpdatedOn"])
    return record


def walk(fake: FakeListing, **kwargs) -> tuple[DriftSafeListing, list[dict]]:
    def sleep(seconds: float) -> None:
        fake.clock += seconds

    listing = DriftSafeListing(
        fake.fetch,
        normalise,
        start=kwargs.pop("start", None),
        lookback_minutes=kwargs.pop("lookback_minutes", 0),
        page_size=fake.page_size,
        sleep=sleep,
        monotonic=lambda: fake.clock,
    )
    emitted = [record for records in listing.pages() for record in records]
    return listing, emitted


def spread(count: int, seconds_apart: int = 7) -> dict[int, datetime]:
    return {n: T0 + timedelta(seconds=seconds_apart * n) for n in range(1, count + 1)}


def final_versions(emitted: list[dict]) -> dict[int, str]:
    versions: dict[int, str] = {}
    for record in emitted:
        versions[record["Id"]] = record["UpdatedOn"]
    return versions


def expected_versions(fake: FakeListing) -> dict[int, str]:
    return {job_id: stamp.isoformat() for job_id, stamp in fake.stamps.items()}


def test_nothing_changing_costs_exactly_the_pages() -> None:
    fake = FakeListing(spread(1000), page_size=100)

    listing, emitted = walk(fake)

    assert len(fake.requests) == 10
    assert listing.extra_requests == 0
    assert [r["Id"] for r in emitted] == list(range(1, 1001))
    # Page 1 is open-ended; the rest are closed at the server's clock minus a minute.
    assert fake.requests[0].window.end is None
    assert {r.window.end for r in fake.requests[1:]} == {T0 + timedelta(days=1, minutes=-1)}


def test_every_emission_is_in_ascending_order() -> None:
    fake = FakeListing(spread(600), page_size=50)
    fake.before_request = lambda n: fake.touch([n * 3, n * 5]) if n > 1 else None

    _, emitted = walk(fake)

    stamps = [r["UpdatedOn"] for r in emitted]
    assert stamps == sorted(stamps)
    assert final_versions(emitted) == expected_versions(fake)


def test_heavy_churn_in_the_current_minute_waits_for_the_minute_to_close() -> None:
    fake = FakeListing(spread(300), page_size=20)

    def churn(number: int) -> None:
        fake.clock += 1  # each request takes a second of server time
        if number > 1:
            fake.touch([(number * 7) % 300 + 1 for _ in range(1)] + [number % 300 + 1])

    fake.before_request = churn

    requests_before = len(fake.requests)
    _, emitted = walk(fake)

    assert final_versions(emitted) == expected_versions(fake)
    # More than a page changed within one minute: the walk slept until it closed.
    assert fake.clock - len(fake.requests) + requests_before >= 1


def test_a_burst_larger_than_a_page_inside_one_minute_is_complete() -> None:
    fake = FakeListing(spread(200), page_size=25)
    burst = list(range(1, 81))

    def bulk_edit(number: int) -> None:
        fake.clock += 0.5
        if number == 3:
            fake.touch(burst)  # 80 jobs, one second: more than three pages in one minute

    fake.before_request = bulk_edit

    _, emitted = walk(fake)

    assert final_versions(emitted) == expected_versions(fake)


def test_dir_zero_is_used_when_dir_one_lists_descending() -> None:
    fake = FakeListing(spread(120), page_size=50)
    fake.descending_for_dir = {1, -1}

    _, emitted = walk(fake)

    assert [r.direction for r in fake.requests] == [1, 0, 0, 0]
    assert [r["Id"] for r in emitted] == list(range(1, 121))


def test_a_listing_descending_in_every_convention_stops_before_emitting() -> None:
    fake = FakeListing(spread(120), page_size=50)
    fake.descending_for_dir = {1, 0}
    listing = DriftSafeListing(fake.fetch, normalise, start=None, lookback_minutes=0, page_size=50)

    pages = listing.pages()
    with pytest.raises(NexudusResponseError, match="did not list UpdatedOn in ascending order"):
        next(pages)


def test_an_inconclusive_first_page_is_settled_by_the_last_page() -> None:
    earlier = {n: T0 + timedelta(seconds=n) for n in range(1, 71)}
    newest_all_alike = {n: T0 + timedelta(hours=2) for n in range(71, 121)}
    fake = FakeListing({**earlier, **newest_all_alike}, page_size=50)
    fake.descending_for_dir = {1}

    _, emitted = walk(fake)

    # dir=1 showed one timestamp on page 1; the probe of its last page proved descending.
    assert [r.direction for r in fake.requests[:3]] == [1, 1, 0]
    assert sorted(r["Id"] for r in emitted) == list(range(1, 121))


def test_high_water_mark_admits_each_version_once() -> None:
    mark = HighWaterMark()
    a = {"Id": 1, "UpdatedOn": "2025-01-01T00:00:00+00:00"}
    b = {"Id": 2, "UpdatedOn": "2025-01-01T00:00:00+00:00"}
    newer_a = {"Id": 1, "UpdatedOn": "2025-01-01T00:05:00+00:00"}

    assert [mark.admit(r) for r in (a, b, a, b, newer_a, a, newer_a)] == [
        True,
        True,
        False,
        False,
        True,
        False,
        False,
    ]
