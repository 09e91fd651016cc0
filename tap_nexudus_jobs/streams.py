"""The `business_background_jobs` stream: schema, query and incremental bookmark."""

from __future__ import annotations

import typing as t
from collections import OrderedDict
from datetime import datetime

from singer_sdk import typing as th

from tap_nexudus_jobs.client import NexudusStream
from tap_nexudus_jobs.pagination import NexudusPagePaginator
from tap_nexudus_jobs.settings import CREATED_ON_RANGE_KEYS
from tap_nexudus_jobs.timestamps import filter_minute, normalise_timestamp, parse_timestamp

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

ENTITY = "BusinessBackgroundJob"
# Nexudus's documented direction for ascending order on this endpoint.
ASCENDING = 1

LOOSE_OBJECT = th.CustomType({"type": ["object", "null"], "additionalProperties": True})


class EmittedRecently:
    """The (Id, UpdatedOn) versions emitted lately, so a re-read never emits twice.

    Bounded: re-reads only ever reach back a page or so, and an unbounded set of
    every Id would grow with the account.
    """

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._versions: OrderedDict[tuple[int, str | None], None] = OrderedDict()

    def add(self, record_id: int, updated_on: str | None) -> bool:
        """Remember a version; False when it was already emitted."""
        key = (record_id, updated_on)
        if key in self._versions:
            return False
        self._versions[key] = None
        if len(self._versions) > self._capacity:
            self._versions.popitem(last=False)
        return True


class BusinessBackgroundJobsStream(NexudusStream):
    """Bulk-edit and import jobs of a Nexudus account, oldest change first."""

    name = "business_background_jobs"
    path = "/api/sys/businessbackgroundjobs"
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
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        page_size = int(self.config.get("page_size", 1000))
        self._emitted = EmittedRecently(capacity=4 * page_size)
        self._skip_before: datetime | None = None
        self._starting_bookmark: str | None = None

    def get_new_paginator(self) -> NexudusPagePaginator:
        """Page numbers driven by the envelope."""
        return NexudusPagePaginator(start_value=1)

    def get_url_params(self, context: Context | None, next_page_token: t.Any) -> dict[str, t.Any]:
        """Ascending by UpdatedOn from the bookmark's minute (less lookback), plus filters."""
        params: dict[str, t.Any] = {
            "page": next_page_token or 1,
            "size": int(self.config.get("page_size", 1000)),
            "orderBy": "UpdatedOn",
            "dir": ASCENDING,
        }
        start = self.get_starting_timestamp(context)
        if start is not None:
            lookback = int(self.config.get("lookback_minutes", 0))
            params[f"from_{ENTITY}_UpdatedOn"] = filter_minute(start, minus_minutes=lookback)
        for key, value in (self.config.get("filters") or {}).items():
            if key in CREATED_ON_RANGE_KEYS:
                bound, field = key.split("_", 1)
                params[f"{bound}_{ENTITY}_{field}"] = filter_minute(parse_timestamp(str(value)))
            else:
                params[f"{ENTITY}_{key}"] = value
        return params

    def request_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The SDK's paging loop, skipping jobs older than `start_date` (state wins)."""
        self._skip_before = self._start_date_cutoff(context)
        bookmark = self.get_context_state(context).get("replication_key_value")
        self._starting_bookmark = normalise_timestamp(str(bookmark)) if bookmark else None
        yield from super().request_records(context)

    def post_process(
        self, row: dict[str, t.Any], context: Context | None = None
    ) -> dict[str, t.Any] | None:
        """UTC timestamps; drop versions already emitted this run and pre-start_date jobs."""
        row["UpdatedOn"] = normalise_timestamp(row.get("UpdatedOn"))
        row["CreatedOn"] = normalise_timestamp(row.get("CreatedOn"))
        updated_on = row["UpdatedOn"]
        if (
            self._skip_before is not None
            and updated_on is not None
            and parse_timestamp(updated_on) < self._skip_before
        ):
            return None
        if not self._emitted.add(row["Id"], updated_on):
            return None
        return row

    def _increment_stream_state(
        self, latest_record: dict[str, t.Any], *, context: Context | None = None
    ) -> None:
        # Jobs re-read from the bookmark's minute or the lookback window are older than
        # the starting bookmark: they are emitted again (targets upsert on Id), but must
        # not move the bookmark backwards or trip the SDK's sort check.
        updated_on = latest_record.get("UpdatedOn")
        if self._starting_bookmark and updated_on and updated_on < self._starting_bookmark:
            return
        super()._increment_stream_state(latest_record, context=context)

    def _start_date_cutoff(self, context: Context | None) -> datetime | None:
        """`start_date` is exact, unless the bookmark is past it (its minute is re-read)."""
        start_date = self.config.get("start_date")
        if not start_date:
            return None
        cutoff = parse_timestamp(str(start_date))
        bookmark = self.get_context_state(context).get("replication_key_value")
        if bookmark and parse_timestamp(str(bookmark)) >= cutoff:
            return None
        return cutoff
