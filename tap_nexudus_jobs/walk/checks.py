"""Checks of a listing response: each stops the run when the server broke a promise.

Every error says what Nexudus did and that the run stops so the bookmark cannot skip jobs.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, replace

from tap_nexudus_jobs.errors import NexudusResponseError
from tap_nexudus_jobs.timestamps import to_utc_iso
from tap_nexudus_jobs.walk.listing import (
    ONE_MINUTE,
    ORDER_BY_ID,
    first_descending_pair,
    minute,
    minute_text,
)

if t.TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    from tap_nexudus_jobs.envelope import ListingEnvelope
    from tap_nexudus_jobs.walk.knowledge import Probe
    from tap_nexudus_jobs.walk.listing import PageRequest, Record


def check_served(request: PageRequest, envelope: ListingEnvelope) -> None:
    """The page and the order asked for are the ones served."""
    served = envelope.current_page
    if served is not None and served != request.page:
        msg = f"Nexudus returned page {served} when page {request.page} was requested"
        raise NexudusResponseError(msg)
    order_field = envelope.order_field
    if order_field is not None and order_field.lower() != request.order_by.lower():
        msg = f"Nexudus sorted page {request.page} by {order_field!r}, not by {request.order_by}"
        raise NexudusResponseError(msg)


def normalise_all(
    records: list[Record], normalise: Callable[[Record], Record], request: PageRequest
) -> None:
    """Put each record in emit-ready form, in place; one that cannot be stops the run."""
    for index, record in enumerate(records):
        try:
            records[index] = normalise(record)
        except ValueError as exc:
            msg = f"Nexudus listing page {request.page}: job {record['Id']} {exc}"
            raise NexudusResponseError(msg) from None


def not_ascending(page: int, order_by: str, pair: tuple[t.Any, t.Any]) -> NexudusResponseError:
    msg = (
        f"Nexudus listing page {page} is not in ascending {order_by} order "
        f"({pair[0]} before {pair[1]}); stopping so the bookmark cannot skip jobs"
    )
    return NexudusResponseError(msg)


def check_ascending_within(records: list[Record], page: int, order_by: str) -> None:
    pair = first_descending_pair(records, order_by)
    if pair is not None:
        raise not_ascending(page, order_by, pair)


def check_inside(records: list[Record], request: PageRequest) -> None:
    """Every job lies in the requested window, else the server ignored a filter."""
    window = request.window
    low = to_utc_iso(window.start) if window.start else None
    high = to_utc_iso(window.end + ONE_MINUTE) if window.end else None
    for record in records:
        stamp = record.get("UpdatedOn")
        if stamp is None:
            continue
        if low is not None and stamp < low:
            bound = f"from_BusinessBackgroundJob_UpdatedOn={window.start:%Y-%m-%dT%H:%M}"
        elif high is not None and stamp >= high:
            bound = f"to_BusinessBackgroundJob_UpdatedOn={window.end:%Y-%m-%dT%H:%M}"
        else:
            continue
        msg = (
            f"Nexudus ignored {bound}: page {request.page} listed job {record['Id']} "
            f"updated {stamp}; stopping so the bookmark cannot skip jobs"
        )
        raise NexudusResponseError(msg)


def check_to_filter(probe: Probe | None, total: int | None, start: datetime, end: datetime) -> None:
    """Before trusting a closed window: it must leave out the newest jobs listed.

    The probe listed the open listing from `start`: the window `[start, end]` can hold
    no more than that, less the probe's jobs after `end` (they can only move later; not
    the ones stamped ahead of true time, which a clock put right moves earlier).
    """
    if probe is None or probe.floor != start or probe.total_items is None or total is None:
        return
    outside = sum(1 for stamp in probe.stamps if minute(stamp) > end) - probe.doubted
    most = probe.total_items - outside
    if outside and total > most:
        msg = (
            f"Nexudus ignored to_BusinessBackgroundJob_UpdatedOn={end:%Y-%m-%dT%H:%M}: the "
            f"window holds {total} jobs, but at most {most} were listed up to that "
            "minute; stopping so the bookmark cannot skip jobs"
        )
        raise NexudusResponseError(msg)


def no_ascending_order(envelope: ListingEnvelope) -> NexudusResponseError:
    msg = (
        "Nexudus did not list UpdatedOn in ascending order with dir=1 or dir=0 "
        f"(it echoed CurrentOrderField={envelope.order_field!r}, "
        f"CurrentSortDirection={envelope.sort_direction!r}); stopping before any "
        "record or state is emitted"
    )
    return NexudusResponseError(msg)


# A page in UpdatedOn order with this many jobs, repeated in the same order, is no tie
# shuffle's chance (equal timestamps may come back in a new order on every request).
REPEAT_PROOF_BY_UPDATED_ON = 10


@dataclass(frozen=True)
class PageRead:
    """What a page of a query was: its number, and the TotalItems it was read with."""

    page: int
    total_items: int | None


def page_fingerprint(request: PageRequest, records: list[Record]) -> tuple[PageRequest, int]:
    """The query (the request less its page number and size) and the Ids listed, in order."""
    return replace(request, page=0, size=0), hash(tuple(record["Id"] for record in records))


def repeated_page(
    earlier: PageRead | None, request: PageRequest, envelope: ListingEnvelope
) -> NexudusResponseError | None:
    """The error when `request`'s page lists exactly the jobs another page of it listed.

    Conclusive when nothing entered the query in between (TotalItems unchanged) and the
    order cannot reshuffle: by Id (unique), or in UpdatedOn order on a page of at least
    REPEAT_PROOF_BY_UPDATED_ON jobs. A server that ignores the page number answers this
    way for ever, and each answer would cost one request of the account's hour.
    """
    records = envelope.records
    if earlier is None or earlier.page == request.page or not records:
        return None
    if earlier.total_items != envelope.total_items:
        return None
    if request.order_by != ORDER_BY_ID and len(records) < REPEAT_PROOF_BY_UPDATED_ON:
        return None
    window = request.window
    bounds = f"UpdatedOn from {minute_text(window.start)}"
    if window.end is not None:
        bounds += f" to {minute_text(window.end)}"
    msg = (
        f"Nexudus answered listing page {request.page} (ordered by {request.order_by}, "
        f"dir={request.direction}, {bounds}) with the same {len(records)} jobs as page "
        f"{earlier.page} (Ids {records[0]['Id']} to {records[-1]['Id']}): it ignores the "
        "page number; stopping so the run does not spend the account's requests reading "
        "them again (the bookmark stays where the jobs read allow)"
    )
    return NexudusResponseError(msg)


class PagesRead:
    """Every page read, by query and listed Ids: one a server repeats stops the run."""

    def __init__(self) -> None:
        self._pages: dict[tuple[PageRequest, int], PageRead] = {}

    def check(self, request: PageRequest, envelope: ListingEnvelope) -> None:
        key = page_fingerprint(request, envelope.records)
        repeated = repeated_page(self._pages.get(key), request, envelope)
        if repeated is not None:
            raise repeated
        self._pages[key] = PageRead(request.page, envelope.total_items)
