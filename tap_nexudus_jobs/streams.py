"""The `business_background_jobs` stream: schema, requests and records (state.py: the bookmark)."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import datetime, timezone

from singer_sdk import typing as th
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

from tap_nexudus_jobs.budget import RequestBudgetSpent, estimate_work_left, stop_line
from tap_nexudus_jobs.client import NexudusStream
from tap_nexudus_jobs.envelope import listing_envelope, parsed_json
from tap_nexudus_jobs.errors import NexudusNotFoundError
from tap_nexudus_jobs.full_records import CompletedPage, FullRecordFetcher
from tap_nexudus_jobs.nexudus_api import (
    ASCENDING_DIR_CANDIDATES,
    DIR_PARAM,
    LISTING_PATH,
    ORDER_BY_PARAM,
    PAGE_PARAM,
    RANGE_FILTER_FORMAT,
    SIZE_PARAM,
    equality_filter,
    range_filter,
)
from tap_nexudus_jobs.progress import SyncProgress, result_data_cost_line
from tap_nexudus_jobs.records import (
    EXTRA_FIELDS,
    RESULT_DATA_PARSED,
    RESULT_DATA_PARSED_SCHEMA,
    RecordBuilder,
)
from tap_nexudus_jobs.settings import CREATED_ON_RANGE_KEYS
from tap_nexudus_jobs.stall import check_reachable, newest_stamp, worth_checking
from tap_nexudus_jobs.state import RunState, bookmark_key, run_start
from tap_nexudus_jobs.timestamps import filter_minute, parse_timestamp
from tap_nexudus_jobs.walk import FetchedPage, ListingWalk, ListingWindow, PageRequest

if t.TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator

    import requests
    from singer_sdk.helpers.types import Context
    from singer_sdk.metrics import Counter

LOOSE_OBJECT = th.CustomType({"type": ["object", "null"], "additionalProperties": True})


@dataclass(frozen=True)
class _Run:
    """What every request of one partition's sync goes through."""

    send: Callable[..., requests.Response]  # the SDK's request, wrapped in our retries
    counter: Counter
    context: Context | None
    state: RunState  # the partition's STATE: its start, and each page's claim (state.py)


class BusinessBackgroundJobsStream(NexudusStream):
    """Bulk-edit and import jobs of a Nexudus account, oldest change first."""

    name = "business_background_jobs"
    path = LISTING_PATH
    primary_keys = ("Id",)
    replication_key = "UpdatedOn"
    is_sorted = True

    schema = th.PropertiesList(
        th.Property("Id", th.IntegerType, required=True, description="Job record Id."),
        th.Property("BusinessId", th.IntegerType, description="Location (business) Id."),
        th.Property("BusinessName", th.StringType, description="Location name."),
        th.Property("UserId", th.IntegerType, description="Id of the user who started the job."),
        th.Property("UserFullName", th.StringType, description="Who started the job."),
        th.Property("UserEmail", th.StringType, description="E-mail of who started the job."),
        th.Property("JobId", th.StringType, description="GUID of the background job."),
        th.Property("Description", th.StringType, description="What the job does."),
        th.Property("Files", th.StringType, description="Files the job works on (imports)."),
        th.Property("Status", th.StringType, description="Current status of the job."),
        th.Property(
            "ResultData",
            th.StringType,
            description="Result of the job; empty in the listing (see include_result_data).",
        ),
        th.Property("UpdatedOn", th.DateTimeType, description="Last change, UTC."),
        th.Property("CreatedOn", th.DateTimeType, description="Creation time, UTC."),
        th.Property("UniqueId", th.StringType, description="GUID of the record."),
        th.Property("UpdatedBy", th.StringType, description="Who last changed the record."),
        th.Property("IsNew", th.BooleanType),
        th.Property("SystemId", th.StringType),
        th.Property("ToStringText", th.StringType, description="Display text of the record."),
        th.Property("LocalizationDetails", LOOSE_OBJECT),
        th.Property("CustomFields", LOOSE_OBJECT),
        # The tap's own columns (records.py): nothing the API sends is lost.
        th.Property(RESULT_DATA_PARSED, th.CustomType(RESULT_DATA_PARSED_SCHEMA)),
        th.Property(
            EXTRA_FIELDS,
            LOOSE_OBJECT,
            description="Properties Nexudus sent that this schema does not declare (fields "
            "added to the API later), unchanged; null when there are none.",
        ),
    ).to_dict()
    # th.Property would add the string "null" to the anyOf list (SDK 0.54): say it exactly.
    schema["properties"][RESULT_DATA_PARSED] = RESULT_DATA_PARSED_SCHEMA

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._extracted_at = datetime.now(timezone.utc)
        self._builder: RecordBuilder | None = None
        self.listing: ListingWalk | None = None

    @override
    def get_new_paginator(self) -> None:
        """Paging is the drift-safe walk in `request_records` (see walk/)."""
        return

    @override
    def request_records(self, context: Context | None) -> Iterator[dict[str, t.Any]]:
        """Walk the listing page by page, writing STATE after each page.

        Stops cleanly, with a resumable STATE, when the request budget is spent
        (budget.py): the records of complete work are out, the rest is the next run's.
        """
        include_result_data = bool(self.config["include_result_data"])
        state = self._run_state(context, include_result_data)
        self.budget.seed(state.start.hour)
        delivered_before = len(state.start.delivered)
        progress = SyncProgress(self.logger.info, self.pacer.seconds_for, lambda: self.pacer.sent)
        with self.get_http_request_counter() as request_counter:
            request_counter.with_context(context)
            run = _Run(self.request_decorator(self._request), request_counter, context, state)
            self.listing = listing = self._new_walk(run)
            full_records = self._new_fetcher(run) if include_result_data else None
            try:
                if full_records is not None and state.start.missing:
                    yield from self._ask_again(run, full_records)
                stopped = yield from self._emit_pages(run, listing, progress, full_records)
            except RequestBudgetSpent as spent:  # refused a listing request
                stopped = spent
            finally:
                if full_records is not None:
                    full_records.close()
                # For the final STATE too: the hour's requests, and what was delivered.
                self._save_run_state(run)
            if stopped is not None:
                self._log_stop(stopped, progress, full_records, delivered_before)
            self.logger.info("%s", progress.final_summary())

    def _run_state(self, context: Context | None, include_result_data: bool) -> RunState:
        """This partition's STATE, read once (state.py)."""
        start = run_start(
            self.get_context_state(context),
            self.stream_state,
            partitioned=bool(context),
            start_date=self.config.get("start_date"),
            with_result_data=include_result_data,
            lookback_minutes=self.lookback_minutes,
        )
        if start.inherited is not None and context:
            self.logger.info(
                "Business %s has no bookmark of its own yet: starting from %s, the bookmark a "
                "run without business_ids left for all businesses",
                context.get("business_id"),
                start.inherited,
            )
        return RunState(start, self.lookback_minutes, self.logger.warning)

    def _emit_pages(
        self,
        run: _Run,
        listing: ListingWalk,
        progress: SyncProgress,
        full_records: FullRecordFetcher | None,
    ) -> Generator[dict[str, t.Any], None, RequestBudgetSpent | None]:
        """Each page's records, then its STATE; what stopped the run early, if anything."""
        state = run.state
        for page in listing.pages():
            if progress.pages == 0:
                self._check_bookmark_reachable(run, listing)
                state.clock.check_start(where=self._bookmark_key(run.context))
                self._announce(listing, progress, full_records)
            wanted = [r for r in page.records if state.start.wanted(r)]
            done = full_records.complete(wanted) if full_records else CompletedPage(wanted)
            # Emit the complete part; STATE claims nothing past the rest (state.py).
            bookmark = state.after_page(page.bookmark, wanted, done.records)
            progress.page_done(len(done.records))
            self._extracted_at = datetime.now(timezone.utc)
            yield from done.records
            # The SDK has written every record yielded so far: make that resumable.
            state.start.delivered.add(done.records)
            self._save_bookmark(bookmark, run.context)
            self._save_run_state(run)
            self._write_state_message()
            if done.stopped is not None:
                return done.stopped
        return None

    def _ask_again(self, run: _Run, full_records: FullRecordFetcher) -> Iterator[dict[str, t.Any]]:
        """The versions earlier runs emitted without ResultData, if get-one has them now."""
        asked, found = len(run.state.start.missing), 0
        for record in full_records.ask_again():
            found += 1
            yield record
        self.logger.info(
            "include_result_data: asked again for %d job(s) whose get-one answered 404 "
            "before: %d came back and are emitted again with ResultData",
            asked,
            found,
        )
        self._save_run_state(run)
        self._write_state_message()

    def _new_walk(self, run: _Run) -> ListingWalk:
        start = run.state.start
        return ListingWalk(
            lambda request: self._listing_page(run, request),
            self._normalise,
            start=start.start,
            lookback_minutes=start.lookback_minutes,
            page_size=self.page_size,
            starting_bookmark=start.bookmark,
            log=self.logger.info,
            delivered=start.delivered,
            trusted=run.state.clock.trusts,
        )

    def _new_fetcher(self, run: _Run) -> FullRecordFetcher:
        return FullRecordFetcher(
            lambda job_id: self._full_record(run, job_id),
            self._normalise,
            self.logger.warning,
            self.pacer,
            skip_statuses=self._result_data_skip_statuses(),
            missing=run.state.start.missing,
        )

    def _save_run_state(self, run: _Run) -> None:
        """What the next run needs beyond the bookmark (state.py)."""
        # The hour belongs to the account, not to a partition: kept once per stream.
        run.state.save(
            self.get_context_state(run.context), self.stream_state, self.budget.minute_counts()
        )

    def _log_stop(
        self,
        spent: RequestBudgetSpent,
        progress: SyncProgress,
        full_records: FullRecordFetcher | None,
        delivered_before: int,
    ) -> None:
        """One line per run (not per partition): why it stopped and what is left."""
        budget = self.budget
        if budget.stop_announced:
            return
        budget.stop_announced = True
        left = estimate_work_left(
            total_items=progress.total_items,
            jobs_done=progress.records + delivered_before,
            page_size=self.page_size,
            get_one_share=full_records.get_one_share if full_records else 0.0,
        )
        self.logger.info(
            "%s",
            stop_line(
                spent,
                left,
                self.pacer.seconds_per_request,
                include_result_data=full_records is not None,
            ),
        )

    def _listing_page(self, run: _Run, request: PageRequest) -> FetchedPage:
        """One listing request, through pacing, retries and the envelope checks."""
        prepared = self.build_prepared_request(
            method="GET",
            url=self.get_url(run.context),
            params=self.listing_params(request, run.context),
            headers=self.http_headers,
        )
        response = run.send(prepared, run.context)
        run.counter.increment()
        page = FetchedPage(listing_envelope(response))
        run.state.clock.saw_response(response.headers.get("Date"), page.records)
        return page

    def _check_bookmark_reachable(self, run: _Run, listing: ListingWalk) -> None:
        """Nothing listed from the bookmark: is it later than every job? (see stall.py)

        The listing's two ends, one job each, hold its newest job in either sort order.
        Unfiltered: a job can leave a filtered listing (a `Status` filter) and take the
        bookmark's job with it, but no job leaves the account's listing by changing.
        """
        bookmark, read_from = run.state.start.bookmark, listing.read_from
        if (
            bookmark is None
            or read_from is None
            or not worth_checking(bookmark, read_from, listing.total_items)
        ):
            return
        whole = ListingWindow(None)
        direction = ASCENDING_DIR_CANDIDATES[0]
        first = self._listing_page(run, PageRequest(whole, 1, direction, size=1, filtered=False))
        total = first.envelope.total_items or 0
        last = (
            self._listing_page(run, PageRequest(whole, total, direction, size=1, filtered=False))
            if total > 1
            else first
        )
        where = self._bookmark_key(run.context)
        check_reachable(bookmark, read_from, newest_stamp(first.records, last.records), where=where)

    def _bookmark_key(self, context: Context | None) -> str:
        return bookmark_key(self.name, context.get("business_id") if context else None)

    def _full_record(self, run: _Run, job_id: int) -> tuple[dict[str, t.Any] | None, float]:
        """Get-one for a job: its full record (None if deleted) and the round-trip time."""
        prepared = self.build_prepared_request(
            method="GET", url=f"{self.get_url(run.context)}/{job_id}", headers=self.http_headers
        )
        try:
            response = run.send(prepared, run.context)
        except NexudusNotFoundError:
            return None, 0.0
        run.counter.increment()
        full = t.cast("dict[str, t.Any]", parsed_json(response))
        return full, response.elapsed.total_seconds()

    def _announce(
        self,
        listing: ListingWalk,
        progress: SyncProgress,
        full_records: FullRecordFetcher | None,
    ) -> None:
        """Before the expensive part: how much this run will cost at the current pacing."""
        progress.total_items = listing.total_items
        progress.total_pages = listing.total_pages
        if full_records is None:
            return
        progress.requests_per_record = 1.0
        seconds = self.pacer.seconds_for(progress.remaining_requests() or 0)
        line = result_data_cost_line(
            listing.total_items or 0,
            seconds,
            cap=self.budget.max_requests,
            left=self.budget.remaining,
            per_minute=self.config["requests_per_minute"],
            per_hour=self.config["requests_per_hour"],
        )
        self.logger.info("%s", line)

    def _result_data_skip_statuses(self) -> list[str]:
        statuses = self.config["result_data_skip_statuses"]
        return [str(status) for status in statuses or []]

    @property
    @override
    def partitions(self) -> list[dict[str, t.Any]] | None:
        """One partition per configured business, each with its own bookmark."""
        business_ids = self.config.get("business_ids")
        return [{"business_id": int(b)} for b in business_ids] if business_ids else None

    @property
    def page_size(self) -> int:
        """`page_size` setting."""
        return int(self.config["page_size"])

    @property
    def lookback_minutes(self) -> int:
        """`lookback_minutes` setting."""
        return int(self.config["lookback_minutes"])

    def listing_params(self, request: PageRequest, context: Context | None) -> dict[str, t.Any]:
        """Query for one page: order, window and the configured filters."""
        params: dict[str, t.Any] = {
            PAGE_PARAM: request.page,
            SIZE_PARAM: request.size or self.page_size,
            ORDER_BY_PARAM: request.order_by,
            DIR_PARAM: request.direction,
        }
        window = request.window
        if window.start is not None:
            params[range_filter("from", "UpdatedOn")] = window.start.strftime(RANGE_FILTER_FORMAT)
        if window.end is not None:
            params[range_filter("to", "UpdatedOn")] = window.end.strftime(RANGE_FILTER_FORMAT)
        if not request.filtered:
            return params
        if context and "business_id" in context:
            params[equality_filter("Business")] = context["business_id"]
        for key, value in (self.config.get("filters") or {}).items():
            if key in CREATED_ON_RANGE_KEYS:
                bound, field = key.split("_", 1)
                params[range_filter(bound, field)] = filter_minute(parse_timestamp(str(value)))
            else:
                params[equality_filter(key)] = value
        return params

    def _normalise(self, row: dict[str, t.Any]) -> dict[str, t.Any]:
        """The record to emit: selected schema fields, typed, timestamps in UTC ISO 8601."""
        if self._builder is None:
            selected = [
                name for name in self.schema["properties"] if self.mask[("properties", name)]
            ]
            self._builder = RecordBuilder(self.schema, selected, self._warn_unknown_fields)
        return self._builder.build(row)

    def _warn_unknown_fields(self, names: list[str]) -> None:
        # Once per name and run: a new API field is news, not a per-record problem.
        where = (
            "; kept, unchanged, in ExtraFields"
            if self.mask[("properties", EXTRA_FIELDS)]
            else " (not emitted: ExtraFields is not selected)"
        )
        self.logger.warning("Nexudus sent fields the schema does not declare%s: %s", where, names)

    @override
    def _generate_record_messages(
        self, record: dict[str, t.Any]
    ) -> Generator[RecordMessage, None, None]:
        # RecordBuilder already applied the selection and the schema's types when the page
        # arrived; the SDK's generic per-record mask walk and type conformance would only
        # repeat that work, and were most of the CPU time of a sync when profiled.
        for stream_map in self.stream_maps:
            mapped = stream_map.transform(record)
            if mapped is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped,
                    version=self._stream_version,
                    time_extracted=self._extracted_at,
                )

    @override
    def _increment_stream_state(
        self, latest_record: dict[str, t.Any], *, context: Context | None = None
    ) -> None:
        # The bookmark is not the newest record: the listing walk claims, per page, how far
        # STATE may go (it holds back where a minute may still be re-read), state.py's
        # RunState holds that behind stops and clocks, and _save_bookmark writes it.
        return

    def _save_bookmark(self, bookmark: str | None, context: Context | None) -> None:
        # Never backwards (state.py), so the SDK's sort check holds.
        if bookmark is not None:
            super()._increment_stream_state({self.replication_key: bookmark}, context=context)
