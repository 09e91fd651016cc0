"""The walk's decisions, driven directly from hand-written pages: no listing, no requests.

Each test names what the walk knows, hands a decision the page just read, and checks what
it says to read next or what the bookmark may claim (tap_nexudus_jobs/walk/decisions.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tap_nexudus_jobs.envelope import ListingEnvelope
from tap_nexudus_jobs.errors import NexudusResponseError
from tap_nexudus_jobs.walk import FetchedPage, steps
from tap_nexudus_jobs.walk import decisions as decide
from tap_nexudus_jobs.walk.checks import check_to_filter
from tap_nexudus_jobs.walk.knowledge import (
    Claim,
    ClockProof,
    Overlap,
    Probe,
    ServerHabits,
    SortProof,
)

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def at(minutes: int, seconds: int = 0) -> str:
    """The normalised `UpdatedOn` of a job `minutes` (and `seconds`) after T0."""
    return (T0 + timedelta(minutes=minutes, seconds=seconds)).isoformat()


def minute(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def page(
    *jobs: tuple[int, str | None],
    has_next: bool = False,
    total: int | None = None,
    pages: int | None = None,
) -> FetchedPage:
    """A listing page of (Id, UpdatedOn) jobs, as Nexudus would send it."""
    return FetchedPage(
        ListingEnvelope(
            records=[{"Id": job_id, "UpdatedOn": stamp} for job_id, stamp in jobs],
            current_page=1,
            has_next_page=has_next,
            total_items=total,
            total_pages=pages,
            order_field=None,
            sort_direction=None,
        )
    )


# -- re-anchoring ------------------------------------------------------------------------


def test_a_page_over_several_minutes_re_anchors_at_its_last_minute() -> None:
    fetched = page((1, at(0, 5)), (2, at(1, 10)), (3, at(3, 20)), has_next=True)
    assert decide.anchor_step(fetched, None) == steps.Spread(minute(3))


def test_a_whole_page_inside_one_minute_is_read_by_id() -> None:
    fetched = page((1, at(2, 1)), (2, at(2, 30)), (3, at(2, 59)), has_next=True)
    assert decide.anchor_step(fetched, minute(1)) == steps.Crowded(minute(2))


def test_the_page_that_ends_the_listing_is_the_last() -> None:
    fetched = page((1, at(2)), (2, at(2)))
    assert decide.anchor_step(fetched, minute(1)) == steps.ListingEnds()


def test_a_full_page_without_timestamps_goes_on_from_the_earliest_minute() -> None:
    fetched = page((1, None), (2, None), has_next=True)
    assert decide.anchor_step(fetched, None) == steps.NullsFirst()
    # From a floor, a page without timestamps has nothing to re-anchor at: it ends the walk.
    assert decide.anchor_step(fetched, minute(0)) == steps.ListingEnds()


def test_the_same_jobs_from_two_floors_mean_the_from_filter_was_ignored() -> None:
    jobs = [(1, at(0)), (2, at(1))]
    chase = decide.chase_after_page(decide.Chase(5, None), page(*jobs).records, None)
    with pytest.raises(NexudusResponseError, match=r"ignored the UpdatedOn filter.*12:01"):
        decide.chase_after_page(chase, page(*jobs).records, minute(1))


def test_past_the_first_probe_the_walk_stops() -> None:
    clock = ClockProof(newest_listed=at(10), stop_after=minute(10))
    verdict, _ = decide.chase_verdict(decide.Chase(5, None), minute(11), clock, Claim())
    assert verdict == steps.StopChase()


def test_with_an_open_window_it_reads_one_page_past_the_bound_first() -> None:
    clock = ClockProof(newest_listed=at(10), stop_after=minute(10))
    claim = Claim(open_windows=(minute(9),))
    verdict, chase = decide.chase_verdict(decide.Chase(5, None), minute(11), clock, claim)
    assert (verdict, chase.looked_past) == (steps.ReadOn(), True)
    verdict, _ = decide.chase_verdict(chase, minute(12), clock, claim)
    assert verdict == steps.StopChase()


def test_more_pages_than_the_listing_had_ask_for_a_probe_once() -> None:
    chase = decide.Chase(2, None)
    verdict, chase = decide.chase_verdict(chase, minute(1), ClockProof(), Claim())
    assert verdict == steps.ReadOn()
    verdict, chase = decide.chase_verdict(chase, minute(2), ClockProof(), Claim())
    assert verdict == steps.ProbeThenRead()
    verdict, _ = decide.chase_verdict(chase, minute(3), ClockProof(), Claim())
    assert verdict == steps.ReadOn()


def test_a_closed_walk_pays_only_when_re_anchoring_re_reads_enough() -> None:
    # 10 pages left, a quarter of each page re-read: 10 * 25 / 75 = 3.3 pages saved.
    assert decide.closed_walk_pays(11, Overlap(25, 1), 100, probe_needed=True)
    # One page left, re-reading 10 of 100: 0.11 pages saved, less than the probe costs.
    assert not decide.closed_walk_pays(2, Overlap(10, 1), 100, probe_needed=False)
    assert not decide.closed_walk_pays(11, Overlap(0, 3), 100, probe_needed=False)


def test_a_closed_window_ends_before_the_newest_listed_minute() -> None:
    clock = ClockProof(newest_listed=at(10, 30))
    assert decide.closed_end(clock, minute(3)) == minute(9)
    assert decide.closed_end(clock, minute(9)) is None


# -- the sort direction ------------------------------------------------------------------


def test_page_one_shows_the_order_when_it_holds_two_timestamps() -> None:
    assert decide.page_one_order(page((1, at(0)), (2, at(1)), has_next=True)) == steps.Ascending(
        proven=True
    )
    assert decide.page_one_order(page((1, at(1)), (2, at(0)), has_next=True)) == steps.Descending()


def test_one_timestamp_on_page_one_asks_the_last_page() -> None:
    one_value = page((1, at(5)), (2, at(5)), has_next=True, pages=3)
    assert decide.page_one_order(one_value) == steps.AskLastPage()
    # Page 1 alone is the whole answer: complete whichever way it is sorted.
    assert decide.page_one_order(page((1, at(5)), (2, at(5)))) == steps.Ascending(proven=True)
    # More pages but one page or no timestamps: only Id order can show the direction.
    assert decide.page_one_order(page((1, at(5)), (2, at(5)), has_next=True)) == steps.AskIdOrder()
    assert decide.page_one_order(page((1, None), (2, None), has_next=True, pages=3)) == (
        steps.AskIdOrder()
    )
    # A last page older than page 1 shows the listing newest first.
    assert decide.last_page_order(one_value.records, page((7, at(1))).records) == steps.Descending()
    assert decide.last_page_order(one_value.records, page((7, at(6)), (8, at(7))).records) == (
        steps.Ascending(proven=True)
    )
    # Newer and one value: drift could explain it, so it proves nothing.
    assert decide.last_page_order(one_value.records, page((7, at(9))).records) == steps.AskIdOrder()


def test_two_ids_settle_the_direction() -> None:
    assert decide.id_order([3, 8]) == steps.Ascending(proven=True)
    assert decide.id_order([8, 3]) == steps.Descending()
    assert decide.id_order([3]) == steps.Ascending(proven=False)


def test_a_descending_page_before_the_direction_is_proven_restarts_the_walk() -> None:
    records = page((1, at(2)), (2, at(1))).records
    with pytest.raises(decide.DirectionDisproven):
        decide.sort_after_page(SortProof(), records, 2, "UpdatedOn")
    with pytest.raises(NexudusResponseError, match="page 2 is not in ascending UpdatedOn") as e:
        decide.sort_after_page(SortProof(proven=True), records, 2, "UpdatedOn")
    assert not isinstance(e.value, decide.DirectionDisproven)
    ascending = page((1, at(1)), (2, at(2))).records
    assert decide.sort_after_page(SortProof(), ascending, 2, "UpdatedOn").proven


# -- probes ------------------------------------------------------------------------------


def test_the_first_probe_bounds_the_run_and_later_ones_do_not_move_it() -> None:
    first = page((1, at(0)), (2, at(1)), has_next=True, total=5, pages=3)
    clock = decide.with_probe(ClockProof(), minute(0), page((5, at(7))), first)
    assert clock.stop_after == minute(7)
    clock = decide.with_probe(clock, minute(3), page((9, at(12))), first)
    assert (clock.stop_after, clock.probe and clock.probe.floor) == (minute(7), minute(3))


def test_the_probe_page_follows_from_what_lies_before_the_new_floor() -> None:
    # 250 jobs from the old floor, 2 of them before minute 3: 248 from it, page 3 of 100.
    fetched = page((1, at(1)), (2, at(2)), (3, at(3)), has_next=True, total=250, pages=3)
    assert decide.probe_pages_from(minute(3), fetched, 100) == [3, 2]
    assert decide.probe_pages_from(minute(3), page((1, at(1)), total=1), 100) == [1]


def test_the_probe_finishes_a_window_when_it_listed_every_newer_job() -> None:
    probe = Probe(minute(0), 40, page((1, at(8)), (2, at(9)), (3, at(10))).records, False)
    clock = ClockProof(newest_listed=at(10), probe=probe)
    resume = decide.window_finished(ServerHabits(100), clock, minute(9))
    assert isinstance(resume, steps.Finished)
    assert [r["Id"] for r in resume.newest] == [2, 3]
    # The probe starts inside minute 9: it may not hold all of it, so re-anchor there.
    late = Probe(minute(0), 40, page((2, at(9)), (3, at(10))).records, False)
    resume = decide.window_finished(ServerHabits(100), ClockProof(probe=late), minute(9))
    assert resume == steps.Reanchor(minute(9))


def test_a_probe_with_jobs_stamped_ahead_does_not_finish_a_window() -> None:
    # Issue 19: put right, a record clock moves such a job earlier, maybe into a minute
    # already read, so its probed version may be stale: the walk reads on instead.
    probed = page((1, at(8)), (2, at(9)), (3, at(10)), (4, "2099-01-01T00:00:00+00:00"))
    clock = decide.with_probe(ClockProof(), minute(0), probed, probed, doubted=1)
    assert clock.probe is not None
    assert clock.probe.doubted == 1
    assert decide.window_finished(ServerHabits(100), clock, minute(9)) == steps.Reanchor(minute(9))


def test_a_later_probe_with_a_job_stamped_ahead_moves_the_runs_end_past_it() -> None:
    # Issue 19, found by the contract test: a job stamped 70 years ahead existed when the
    # run started, but the first probe (not the listing's last page: jobs moved while it
    # was read) bounded the run at minute 7. A later probe lists the job: the run must
    # not stop before it, or it is left to a later run it does not belong to.
    first = page((1, at(0)), (2, at(1)), has_next=True, total=5, pages=3)
    clock = decide.with_probe(ClockProof(), minute(0), page((5, at(7)), has_next=True), first)
    assert clock.stop_after == minute(7)
    ahead = page((6, at(9)), (7, "2096-11-19T19:34:03+00:00"))
    clock = decide.with_probe(clock, minute(3), ahead, first, doubted=1)
    assert clock.stop_after == datetime(2096, 11, 19, 19, 34, tzinfo=timezone.utc)


def test_jobs_stamped_ahead_are_no_proof_that_to_was_ignored() -> None:
    probed = page((1, at(8)), (2, at(12)), (3, "2099-01-01T00:00:00+00:00"), total=6)
    probe = decide.with_probe(ClockProof(), minute(0), probed, probed, doubted=1).probe
    # The window [0, 10] may hold 5: job 3, put right, may have moved into it.
    check_to_filter(probe, 5, minute(0), minute(10))
    with pytest.raises(NexudusResponseError, match="ignored to_BusinessBackgroundJob"):
        check_to_filter(probe, 6, minute(0), minute(10))


def test_when_to_covers_the_whole_minute_the_window_is_re_anchored_past_it() -> None:
    habits = decide.habits_after_window_page(
        ServerHabits(100), page((1, at(9, 30))).records, minute(9)
    )
    assert habits.to_covers_whole_minute
    assert decide.window_finished(habits, ClockProof(), minute(9)) == steps.Reanchor(minute(10))


# -- closed windows ----------------------------------------------------------------------


def test_a_window_page_is_read_while_total_items_holds() -> None:
    tie = decide.tie_after(decide.TieGroup(), page((1, at(1)), (2, at(2))).records)
    assert tie == decide.TieGroup(at(2), frozenset({2}))
    following = page((3, at(2)), (4, at(3)), has_next=True, total=10)
    assert decide.window_page_verdict(tie, following, 10, 2) == steps.ReadPage()


def test_a_job_leaving_the_window_re_reads_it_from_page_one() -> None:
    tie = decide.TieGroup(at(2), frozenset({2}))
    assert decide.window_page_verdict(tie, page((3, at(3)), total=9), 10, 2) == steps.JobsLeft()
    assert decide.window_page_verdict(tie, page(total=10), 10, 2) == steps.JobsLeft()


def test_a_tie_seen_twice_means_ties_were_reordered() -> None:
    tie = decide.TieGroup(at(2), frozenset({2, 5}))
    reordered = page((5, at(2)), (6, at(3)), total=10)
    assert decide.window_page_verdict(tie, reordered, 10, 2) == steps.TiesShuffled()
    assert decide.by_id_then(minute(2), minute(9)) == steps.ByIdThen(minute(2))
    # The window's last minute is left to the re-anchor that follows the closed walk.
    assert decide.by_id_then(minute(9), minute(9)) == steps.Reanchor(minute(9))


def test_a_page_going_back_while_total_items_held_stops_the_run() -> None:
    tie = decide.TieGroup(at(5), frozenset({2}))
    with pytest.raises(NexudusResponseError, match="page 3 went back in UpdatedOn order"):
        decide.window_page_verdict(tie, page((7, at(4)), total=10), 10, 3)


# -- a minute in Id order ----------------------------------------------------------------


def test_jobs_leaving_a_minute_step_the_id_walk_back() -> None:
    cursor = steps.IdCursor(page=4, baseline=300, last_id=90)
    fetched = page((95, at(2)), total=180, has_next=True)
    step = decide.id_page_step(cursor, fetched, closed=True, sort=SortProof(proven=True), size=100)
    assert step == steps.StepBack(steps.IdCursor(2, 180, None), SortProof(proven=True))


def test_an_id_page_carries_on_where_the_last_ended() -> None:
    cursor = steps.IdCursor(page=1)
    first = page((10, at(2)), (11, at(2)), has_next=True, total=3)
    step = decide.id_page_step(cursor, first, closed=True, sort=SortProof(), size=2)
    assert isinstance(step, steps.MoreIds)
    assert step.cursor == steps.IdCursor(2, 3, 11)
    second = page((12, at(2)), total=3)
    step = decide.id_page_step(step.cursor, second, closed=True, sort=SortProof(), size=2)
    # Closed and TotalItems held: Ids going on upwards prove the direction.
    assert isinstance(step, steps.LastIds)
    assert step.sort.proven


def test_an_id_page_starting_below_the_last_one_stops_or_restarts() -> None:
    cursor = steps.IdCursor(page=2, baseline=3, last_id=11)
    back = page((5, at(2)), total=3)
    with pytest.raises(decide.DirectionDisproven):
        decide.id_page_step(cursor, back, closed=True, sort=SortProof(), size=2)
    with pytest.raises(NexudusResponseError, match="ordered by Id started at job 5"):
        decide.id_page_step(cursor, back, closed=True, sort=SortProof(proven=True), size=2)
    # A window that may still be open can change between pages: no verdict from it.
    step = decide.id_page_step(cursor, back, closed=False, sort=SortProof(), size=2)
    assert isinstance(step, steps.LastIds)


# -- what the bookmark may claim ---------------------------------------------------------


def test_the_bookmark_claims_the_newest_job_but_not_past_the_incomplete_minute() -> None:
    admitted = page((1, at(1, 5)), (2, at(5, 40))).records
    claim = decide.claim_after(Claim(), admitted, minute(3), proven=True)
    assert claim.bookmark == minute(3).isoformat()
    assert claim.newest_emitted == at(5, 40)
    # Inside the incomplete minute is fine: a run re-reads the bookmark's whole minute.
    inside = decide.claim_after(Claim(), admitted, minute(5), proven=True)
    assert inside.bookmark == at(5, 40)
    done = decide.claim_after(claim, [], None, proven=True)
    assert done.bookmark == at(5, 40)


def test_nothing_is_claimed_until_the_order_is_proven() -> None:
    admitted = page(
        (1, at(1)),
    ).records
    claim = decide.claim_after(Claim(bookmark=at(0)), admitted, None, proven=False)
    assert claim.bookmark == at(0)


def test_the_bookmark_never_goes_back() -> None:
    claim = decide.claim_after(Claim(bookmark=at(5)), page((1, at(2))).records, None, proven=True)
    assert claim.bookmark == at(5)


def test_an_open_window_holds_the_bookmark_until_it_is_closed() -> None:
    claim = decide.open_window(Claim(), minute(4))
    claim = decide.open_window(claim, minute(6))
    assert claim.hold == minute(4)
    claim = decide.claim_after(claim, page((1, at(8))).records, minute(8), proven=True)
    assert claim.bookmark == minute(4).isoformat()
    claim = decide.close_window(claim, minute(4))
    claim = decide.claim_after(claim, [], minute(8), proven=True)
    assert (claim.hold, claim.bookmark) == (minute(6), minute(6).isoformat())
    claim = decide.claim_after(decide.close_window(claim, minute(6)), [], None, proven=True)
    assert claim.bookmark == at(8)
