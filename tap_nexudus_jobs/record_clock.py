"""Jobs stamped ahead of true time: emitted as written, but the bookmark stays behind them.

A bookmark is only as good as the clock that writes `UpdatedOn`. If that clock runs
ahead (10 hours, or one write stamped 2099) and is then corrected, the jobs stamped ahead
stay listed at the top of the bookmark's window for good (a finished job never changes
again), the bookmark sits on them, and every update written after the correction lands
below where the next run reads from: lost, with exit 0.

The records alone cannot tell a clock that ran ahead from one that always runs ahead (a
business at UTC+10 whose local time is labelled `Z`), so the tap compares them with true
time: the HTTP `Date` header of each response (HTTP requires it of a server with a
clock; when it is missing, the tap's own clock stands in). Per account (or business),
STATE keeps the record clock's *lead*: how far ahead of true time its stamps have run,
learned from the records (never more than UTC+14, the furthest any time zone is ahead;
never less than 0). Then:

- A stamp further ahead than true time + lead + `lookback_minutes` (at least an hour) is
  *ahead*: no time zone and no clock change the lookback covers explains it. The job is emitted as
  written, a WARNING names it, and the bookmark claims no further than that bound, so
  the next run reads from where the record clock should be now; the jobs stamped ahead
  are read again there (kept in STATE as delivered, they are not emitted twice) until
  true time catches up with them.
- Until the records have shown the lead (no lead in STATE yet), any time zone is
  believed: the bound is true time + 14 h. The lead is shown by a job updated within
  that slack of true time or later; so a fixed offset of any real size costs
  nothing, while a jump ahead after that (a change of offset between runs) is evidence,
  as is a stamp past UTC+14 at any time.
- The lead rises only with stamps inside the bound (by at most `lookback_minutes` a
  run: a spring-forward), never with stamps ahead.

Pure decisions on hand-written inputs; `RecordClockGuard` carries them through one
partition's run (the stream feeds it each listing response and each page).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone

from tap_nexudus_jobs.errors import StalledBookmarkError
from tap_nexudus_jobs.timestamps import http_date, parse_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Iterable

Record = dict[str, t.Any]

#: The furthest ahead of UTC any time zone is (Kiribati, UTC+14).
MAX_ZONE_LEAD = timedelta(hours=14)
#: The least slack a stamp gets before it counts as ahead, whatever `lookback_minutes`
#: says: the newest job that showed the lead may have been that old (so the lead learned
#: is that much short), and a spring-forward jumps an hour. A `lookback_minutes` below it
#: already gives up a clock that comes back by an hour (README: the record-clock table).
MIN_TOLERANCE = timedelta(hours=1)
#: How many jobs stamped ahead one WARNING names (the rest are counted).
NAMED_AHEAD = 5


def host_clock() -> datetime:
    """True UTC from this machine: stands in for a missing `Date` header (tests inject it)."""
    return datetime.now(timezone.utc)


def date_header_time(value: str | None) -> datetime | None:
    """A response's `Date` header as an aware instant; None if missing or unreadable."""
    return http_date(value)


@dataclass(frozen=True)
class Ahead:
    """A job version stamped past the bound: how far past true time and past the bound."""

    job_id: int
    updated_on: str
    ahead_of_true_time: timedelta


@dataclass(frozen=True)
class RecordClockCheck:
    """What one run knows of the record clock against true time."""

    #: The lead STATE kept (None: not learned yet, so any time zone is believed).
    lead: timedelta | None
    #: `lookback_minutes`, at least MIN_TOLERANCE: a clock change it covers is no evidence.
    tolerance: timedelta
    #: The latest true time the run has seen (Date headers, else the tap's clock).
    now: datetime | None = None
    #: Whether some response came without a usable `Date` header.
    date_missing: bool = False
    #: The largest lead of a stamp inside the bound this run (None: no stamp yet).
    seen_lead: timedelta | None = None
    #: The newest version listed this run that is not ahead, emitted now or by an earlier
    #: run (None: none yet): where the bookmark may stop when the walk claims past the bound.
    newest_inside: str | None = None

    @property
    def allowed_lead(self) -> timedelta:
        return MAX_ZONE_LEAD if self.lead is None else self.lead

    @property
    def bound(self) -> datetime | None:
        """No stamp past this is explained by the record clock's lead and the lookback."""
        if self.now is None:
            return None
        return self.now + self.allowed_lead + self.tolerance


def after_response(
    check: RecordClockCheck, date: datetime | None, host_now: datetime
) -> RecordClockCheck:
    """True time moves on with each response (its `Date`, else `host_now`); never back."""
    now = date if date is not None else host_now
    if check.now is not None and now < check.now:
        now = check.now
    return replace(check, now=now, date_missing=check.date_missing or date is None)


def after_listing(check: RecordClockCheck, records: Iterable[Record]) -> RecordClockCheck:
    """The newest stamp listed inside the bound, versions emitted before included.

    A version held as ahead is listed again by every run, as delivered; once true time
    brings it inside the bound the bookmark may pass it, so a record clock ahead for good
    costs the versions of its last hours, not every version since it jumped.
    """
    bound, newest = check.bound, check.newest_inside
    if bound is None:
        return check
    newest_at = _instant(newest)
    for record in records:
        instant = _instant(record.get("UpdatedOn"))
        if instant is not None and instant <= bound and (newest_at is None or instant > newest_at):
            newest, newest_at = record["UpdatedOn"], instant
    return replace(check, newest_inside=newest)


def _instant(stamp: t.Any) -> datetime | None:
    """A listed stamp as an instant; None if it is not one (the walk's checks of the same
    page name it in their error line)."""
    if not isinstance(stamp, str):
        return None
    try:
        return parse_timestamp(stamp)
    except ValueError:
        return None


def after_records(
    check: RecordClockCheck, records: Iterable[Record]
) -> tuple[RecordClockCheck, list[Ahead]]:
    """The versions emitted now stamped past the bound; the others show the lead.

    Only versions emitted now show the lead: one emitted before, as ahead, and now inside
    the bound shows where the clock was, not where it is (learning from it would let the
    lead follow a clock that ran ahead, and lose the updates after it is put right).
    """
    bound, now = check.bound, check.now
    if bound is None or now is None:
        return check, []
    ahead: list[Ahead] = []
    seen = check.seen_lead
    for record in records:
        stamp = record.get("UpdatedOn")
        if not isinstance(stamp, str):
            continue
        instant = parse_timestamp(stamp)
        if instant > bound:
            ahead.append(Ahead(int(record["Id"]), stamp, instant - now))
        elif seen is None or instant - now > seen:
            seen = instant - now
    return after_listing(replace(check, seen_lead=seen), records), ahead


def bounded_bookmark(
    bookmark: str | None, check: RecordClockCheck, saved: str | None
) -> str | None:
    """`bookmark`, or if it is past the bound, the newest version emitted that is not.

    That version was written, so the record clock got there (the walk's own assumption),
    and everything before it was emitted (the walk claimed more). It may be one an earlier
    run emitted as ahead that true time has since brought inside the bound. Claiming less is always
    safe: the next run reads from there and finds again the versions ahead, which STATE
    keeps as delivered. Never behind `saved`, which STATE already claims.
    """
    bound = check.bound
    if bookmark is None or bound is None or parse_timestamp(bookmark) <= bound:
        return bookmark
    newest = check.newest_inside
    if newest is None or (saved is not None and parse_timestamp(saved) >= parse_timestamp(newest)):
        return saved
    return newest


def lead_to_keep(check: RecordClockCheck, starting_bookmark: str | None) -> timedelta | None:
    """The lead the next run starts from: what STATE had, raised by stamps inside the bound.

    Only a stamp within the slack of true time or past it shows the record clock
    at work: an account whose newest job is days old has shown no lead yet (None: any
    time zone stays believed). A run without a lead also counts its starting bookmark
    (a STATE written before the lead was kept). Kept from 0 to UTC+14.
    """
    now = check.now
    if now is None:
        return check.lead
    leads = [check.lead, check.seen_lead]
    if check.lead is None and starting_bookmark is not None:
        leads.append(parse_timestamp(starting_bookmark) - now)
    shown = [lead for lead in leads if lead is not None and lead >= -check.tolerance]
    if not shown:
        return check.lead
    return min(max(max(shown), timedelta(0)), MAX_ZONE_LEAD)


def check_bookmark_in_reach(bookmark: str | None, check: RecordClockCheck, *, where: str) -> None:
    """Stop a run whose bookmark is further ahead of true time than any time zone.

    Left by a write stamped far in the future (before the tap held its bookmark back), or
    set by hand: from there, every job updated since would stay out of reach.
    """
    now = check.now
    if bookmark is None or now is None:
        return
    limit = now + MAX_ZONE_LEAD + check.tolerance
    if parse_timestamp(bookmark) <= limit:
        return
    msg = (
        f"The bookmark {bookmark} ({where}) is {_span(parse_timestamp(bookmark) - now)} ahead "
        f"of true time ({now:%Y-%m-%dT%H:%M:%SZ}, {_source(check)}), further than any time zone "
        "(UTC+14): it was left by a job stamped in the future, or set by hand, and every job "
        "updated since would stay out of reach. Set it to before the record clock ran ahead "
        "(`meltano state set`), or clear it and read again from start_date "
        "(`meltano state clear STATE_ID`; `meltano state list` names it; a bare tap: no --state)"
    )
    raise StalledBookmarkError(msg)


def ahead_warning(ahead: list[Ahead], check: RecordClockCheck, held_at: str | None) -> str:
    """One line: the jobs stamped ahead (Id, UpdatedOn, how far), and what the tap did."""
    named = ", ".join(
        f"{a.job_id} (UpdatedOn {a.updated_on}, {_span(a.ahead_of_true_time)} ahead)"
        for a in ahead[:NAMED_AHEAD]
    )
    more = f" and {len(ahead) - NAMED_AHEAD} more" if len(ahead) > NAMED_AHEAD else ""
    usual = "any time zone, UTC+14" if check.lead is None else _span(check.allowed_lead)
    now = check.now or datetime.min.replace(tzinfo=timezone.utc)
    return (
        f"{len(ahead)} job version(s) stamped ahead of true time ({now:%Y-%m-%dT%H:%M:%SZ}, "
        f"{_source(check)}) by more than the record clock's usual lead ({usual}) plus "
        f"{_span(check.tolerance)}: {named}{more}. Emitted as Nexudus wrote them; the bookmark "
        f"stays at {held_at or 'where it was'}, so the jobs updated once Nexudus's clock is "
        "right again are still read (the ones stamped ahead are read again, not emitted "
        "again, until true time passes them)"
    )


def _source(check: RecordClockCheck) -> str:
    if check.date_missing:
        return "from the tap's clock: Nexudus sent no Date header"
    return "from Nexudus's Date header"


def _span(delta: timedelta) -> str:
    """A duration for people: 10h 02m, 3m, or 26,400 days."""
    minutes = int(delta.total_seconds() // 60)
    if minutes >= 48 * 60:
        return f"{minutes // (24 * 60):,} days"
    if minutes >= 60:
        return f"{minutes // 60}h {minutes % 60:02d}m"
    return f"{max(minutes, 0)}m"


class RecordClockGuard:
    """One run's check, replaced with what each decision returns; logs what it did."""

    def __init__(
        self,
        lead: timedelta | None,
        lookback_minutes: int,
        starting_bookmark: str | None,
        log: t.Callable[[str], None],
    ) -> None:
        tolerance = max(timedelta(minutes=lookback_minutes), MIN_TOLERANCE)
        self.check = RecordClockCheck(lead, tolerance)
        self._starting_bookmark = starting_bookmark
        self._warn = log
        self._ahead_seen = 0

    def saw_response(self, date_header: str | None, records: Iterable[Record] = ()) -> None:
        """A listing response arrived: true time from its `Date` (else the tap's clock), and
        its records, emitted now or before, as places the bookmark may stop."""
        self.saw_time(date_header_time(date_header))
        self.check = after_listing(self.check, records)

    def saw_time(self, date: datetime | None) -> None:
        """True time as a response's `Date` gave it (None: it gave none)."""
        self.check = after_response(self.check, date, host_clock())

    def trusts(self, stamp: str) -> bool:
        """False for a stamp past the bound: it proves nothing of the record clock."""
        bound = self.check.bound
        return bound is None or parse_timestamp(stamp) <= bound

    def check_start(self, *, where: str) -> None:
        """Stop now if the starting bookmark is out of any time zone's reach."""
        check_bookmark_in_reach(self._starting_bookmark, self.check, where=where)

    def bookmark_after(
        self, emitted: list[Record], bookmark: str | None, saved: str | None
    ) -> str | None:
        """The bookmark a page may claim, once its `emitted` versions are out."""
        self.check, ahead = after_records(self.check, emitted)
        bounded = bounded_bookmark(bookmark, self.check, saved)
        if ahead:
            self._ahead_seen += len(ahead)
            self._warn(ahead_warning(ahead, self.check, bounded))
        return bounded

    def lead_to_keep(self) -> timedelta | None:
        """The lead STATE keeps for the next run."""
        return lead_to_keep(self.check, self._starting_bookmark)
