"""Pacing: which limits bind, and the gentler pace after a throttle answer."""

from __future__ import annotations

import time

import pytest

from tap_nexudus_jobs.pacing import (
    GENTLE_HALF_LIFE,
    GENTLE_MAX_FACTOR,
    PaceLimits,
    RequestPacer,
    Slowdown,
    binding_rates,
)
from tap_nexudus_jobs.progress import SyncProgress, format_duration


def limits(rates) -> list[tuple[int, int]]:
    return [(rate.limit, int(rate.interval)) for rate in rates]


def test_published_limits_all_bind() -> None:
    rates = binding_rates([(1, 110), (120, 60_000), (5000, 3_600_000)])
    assert limits(rates) == [(1, 110), (120, 60_000), (5000, 3_600_000)]


def test_limits_that_can_never_bind_are_dropped() -> None:
    # 1000/minute can never be reached at one request per 110 ms.
    assert limits(binding_rates([(1, 110), (1000, 60_000), (50_000, 3_600_000)])) == [(1, 110)]
    # 120/minute never binds under 100/hour: the hour window is the tighter one.
    assert limits(binding_rates([(1, 110), (120, 60_000), (100, 3_600_000)])) == [
        (1, 110),
        (100, 3_600_000),
    ]
    # No minimum interval at all.
    assert limits(binding_rates([(1, 0), (120, 60_000)])) == [(120, 60_000)]


def test_the_spacings_each_limit_allows() -> None:
    published = PaceLimits(per_minute=120, per_hour=5000, min_interval_ms=110)
    assert published.minute_spacing == 0.5  # 120 a minute binds, not the 110 ms
    assert published.nominal_spacing == 0.72  # the hour's 5000 binds in the long run
    assert published.gentle_base == 0.11  # a slowdown multiplies the shortest spacing
    assert PaceLimits(per_minute=600, per_hour=100_000, min_interval_ms=0).gentle_base == 0.1


def test_a_slowdown_doubles_per_throttle_up_to_its_cap_and_decays_with_calm() -> None:
    slowdown = Slowdown()
    assert slowdown.at(0.0) == 1.0
    for _ in range(6):
        slowdown = slowdown.after_throttle(100.0)
    assert (slowdown.at(100.0), slowdown.answers) == (GENTLE_MAX_FACTOR, 6)
    assert slowdown.at(100.0 + GENTLE_HALF_LIFE) == GENTLE_MAX_FACTOR / 2
    assert slowdown.at(100.0 + 4 * GENTLE_HALF_LIFE) == 1.0  # 16 halved 4 times: gone
    # A throttle after calm starts from what is left of the slowdown, not from the cap.
    assert slowdown.after_throttle(100.0 + 3 * GENTLE_HALF_LIFE).at(190.0) == 4.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_throttle_answer_slows_the_pace_and_calm_restores_it() -> None:
    clock = FakeClock()
    pacer = RequestPacer(
        per_minute=600,
        per_hour=100_000,
        min_interval_ms=0,
        sleep=clock.sleep,
        monotonic=lambda: clock.now,
    )
    pacer.wait_turn()
    assert clock.slept == []
    assert pacer.seconds_per_request == 0.1

    pacer.throttled()
    pacer.wait_turn()
    assert [round(s, 6) for s in clock.slept] == [0.2]  # twice the 600/minute spacing
    pacer.throttled()
    pacer.wait_turn()
    assert clock.slept[-1] == pytest.approx(0.4, rel=0.01)  # a second throttle doubles it
    assert pacer.throttle_answers == 2

    clock.now += GENTLE_HALF_LIFE
    assert pacer.burst_spacing == pytest.approx(0.2, rel=0.03)  # calm halves the slowdown
    clock.now += 5 * GENTLE_HALF_LIFE
    pacer.wait_turn()
    assert len(clock.slept) == 2  # back to normal pace
    assert pacer.sent == 4


def test_the_minimum_interval_is_kept_between_real_requests() -> None:
    pacer = RequestPacer(per_minute=600, per_hour=100_000, min_interval_ms=50)
    started = time.monotonic()
    for _ in range(5):
        pacer.wait_turn()
    assert time.monotonic() - started >= 4 * 0.05


def test_progress_reports_records_pages_requests_and_eta() -> None:
    lines: list[str] = []
    clock = FakeClock()
    progress = SyncProgress(
        lines.append, lambda n: n * 0.5, lambda: 12, monotonic=lambda: clock.now, every=30
    )
    progress.total_items, progress.total_pages = 48_000, 48
    progress.page_done(1000)
    assert lines == []  # not yet 30 s
    clock.now += 31
    progress.page_done(1000)
    assert lines == [
        "Progress: 2000 of 48000 jobs, 2 of 48 pages, 12 requests, "
        "about 23s to go at the pacing limit"
    ]
    progress.requests_per_record = 1.0
    assert progress.remaining_requests() == 46 + 46_000


def test_progress_past_total_pages_and_one_request_read_naturally() -> None:
    progress = SyncProgress(lambda _line: None, lambda n: n * 0.5, lambda: 1)
    progress.total_items, progress.total_pages = 100, 2
    for _ in range(3):  # a re-read of the bookmark's minute: one page more than TotalPages
        progress.page_done(40)
    assert progress.summary() == "Progress: 120 of 100 jobs, 3 pages read, 1 request"
    assert "of 2 pages" not in progress.summary()


def test_a_run_with_nothing_new_ends_with_done_not_0_of_n() -> None:
    progress = SyncProgress(lambda _line: None, lambda n: n * 0.5, lambda: 1)
    progress.total_items, progress.total_pages = 30, 1
    progress.page_done(0)  # every listed job was delivered by an earlier run
    assert progress.final_summary() == (
        "Done: 0 jobs emitted (30 listed from the bookmark; the rest delivered before), "
        "1 page read, 1 request"
    )
    progress.total_items = 0  # nothing changed since the bookmark at all
    assert progress.final_summary() == "Done: 0 jobs emitted, 1 page read, 1 request"


def test_eta_uses_the_minute_rate_while_the_hour_has_room() -> None:
    clock = FakeClock()
    pacer = RequestPacer(
        per_minute=120,
        per_hour=5000,
        min_interval_ms=110,
        sleep=clock.sleep,
        monotonic=lambda: clock.now,
    )
    # 130 requests at 120/minute take about 65 s, not 130 x 0.72 s (the hour's average).
    assert pacer.seconds_for(130) == pytest.approx(65.0)
    # Past the hour's 5000, the hour's pace: 0.72 s each.
    assert pacer.seconds_for(6000) == pytest.approx(5000 * 0.5 + 1000 * 0.72)


def test_durations_read_naturally() -> None:
    assert [format_duration(s) for s in (42, 185, 3725)] == ["42s", "3m 05s", "1h 02m"]


class GrantingLimiter:
    """Stands in for pyrate-limiter (which waits on the real clock): grants at once."""

    def try_acquire(self, _name: str) -> bool:
        return True


def paced(clock: FakeClock, lines: list[str], per_minute: int) -> RequestPacer:
    pacer = RequestPacer(
        per_minute=per_minute,
        per_hour=5000,
        sleep=clock.sleep,
        monotonic=lambda: clock.now,
        log=lines.append,
    )
    pacer._limiter = GrantingLimiter()  # type: ignore[assignment]
    return pacer


def test_a_full_minute_window_is_announced_before_the_wait() -> None:
    clock, lines = FakeClock(), list[str]()
    pacer = paced(clock, lines, per_minute=3)
    for _ in range(3):
        pacer.wait_turn()
        clock.now += 0.2
    assert lines == []  # room in the minute: no line
    clock.now += 0.4  # the 4th request, 1 s after the first
    pacer.wait_turn()
    assert lines == [
        "Pacing: 3 requests in the last minute (requests_per_minute); the next goes out in 59s"
    ]


def test_a_short_wait_for_the_window_is_not_announced() -> None:
    clock, lines = FakeClock(), list[str]()
    pacer = paced(clock, lines, per_minute=3)
    for _ in range(3):
        pacer.wait_turn()
        clock.now += 28.0  # the first request is 56 s old when the 4th comes: 4 s to wait
    pacer.wait_turn()
    assert lines == []
