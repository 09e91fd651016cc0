"""The tap: its settings, the account resources its streams share, and its stream list."""

from __future__ import annotations

import copy
import os
import signal
import sys
import typing as t
from functools import cached_property
from pathlib import PurePath

from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import CapabilitiesEnum, TapCapabilities
from typing_extensions import override

from tap_nexudus_jobs.account import NexudusAccount
from tap_nexudus_jobs.errors import SettingsError
from tap_nexudus_jobs.nexudus_api import MAX_PAGE_SIZE, PUBLISHED_LIMITS
from tap_nexudus_jobs.output import BufferedMsgSpecWriter
from tap_nexudus_jobs.pacing import MIN_INTERVAL_MS
from tap_nexudus_jobs.settings import (
    CREATED_ON_RANGE_KEYS,
    FILTER_KEYS,
    prepare_settings,
    unknown_setting_problems,
)
from tap_nexudus_jobs.state import checked_state, state_object
from tap_nexudus_jobs.streams import BusinessBackgroundJobsStream

if t.TYPE_CHECKING:
    from types import FrameType

# A process ended by signal N exits 128 + N by shell convention (143 SIGTERM, 130 SIGINT).
TERMINATION_EXIT_BASE = 128

FILTER_PROPERTIES = [
    th.Property(
        key,
        th.IntegerType if kind is int else th.StringType,
        description=(
            f"Jobs created on or {'after' if key.startswith('from') else 'before'} this "
            "date-time (minute precision)."
            if key in CREATED_ON_RANGE_KEYS
            else f"Sent as BusinessBackgroundJob_{key}: only jobs whose "
            f"{key.replace('_', ' ')} equals this value."
        ),
    )
    for key, kind in FILTER_KEYS.items()
]


class TapNexudusJobs(Tap):
    """Singer tap for Nexudus BusinessBackgroundJobs."""

    name = "tap-nexudus-jobs"
    # `--test` (the SDK's) works and is tested: declared so --about and Meltano know it.
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [*Tap.capabilities, TapCapabilities.TEST]
    # msgspec serialises RECORD lines several times faster than the default writer.
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_url",
            th.StringType,
            default="https://spaces.nexudus.com",
            title="API URL",
            description="Base URL of the Nexudus API, without the /api/... path. Plain "
            "http:// only for loopback hosts.",
        ),
        th.Property(
            "access_token",
            th.StringType,
            secret=True,
            title="Access token",
            description="Static bearer token. Give this, or username and password.",
        ),
        th.Property(
            "username",
            th.StringType,
            title="Username",
            description="Nexudus administrator e-mail, for the OAuth password grant.",
        ),
        th.Property(
            "password",
            th.StringType,
            secret=True,
            title="Password",
            description="Password for `username`.",
        ),
        th.Property(
            "totp",
            th.StringType(pattern=r"^[0-9]{6,8}$"),
            secret=True,
            title="TOTP code",
            description="Two-factor code (6 to 8 digits), for users with two-factor "
            "authentication.",
        ),
        th.Property(
            "client_id",
            th.StringType,
            title="Client ID",
            description="`client_id` header for /api/token; Nexudus uses the e-mail if omitted.",
        ),
        th.Property(
            "start_date",
            th.DateTimeType,
            title="Start date",
            description="ISO 8601 date-time, e.g. 2024-01-31T00:00:00Z (no offset: UTC; "
            "a plain date is midnight UTC); jobs last updated before it are skipped. "
            "Default: all history.",
        ),
        th.Property(
            "page_size",
            th.IntegerType(minimum=1, maximum=MAX_PAGE_SIZE),
            default=1000,
            title="Page size",
            description="Records per listing request (1 to 1000).",
        ),
        th.Property(
            "lookback_minutes",
            th.IntegerType(minimum=0),
            default=60,
            title="Lookback minutes",
            description="Minutes before the bookmark each run reads again, so that a "
            "record clock that jumps back (e.g. local time at the end of daylight saving) "
            "loses nothing. Versions already delivered there are neither fetched nor "
            "emitted again.",
        ),
        th.Property(
            "filters",
            th.ObjectType(*FILTER_PROPERTIES, additional_properties=False),
            title="Filters",
            description='Endpoint filters by suffix (e.g. {"Business": 1001, '
            '"Status": "Failed"}), plus from_CreatedOn / to_CreatedOn.',
        ),
        th.Property(
            "business_ids",
            th.ArrayType(th.IntegerType),
            title="Business Ids",
            description="Extract only these Nexudus businesses (locations), one partition "
            "each with its own bookmark, so workers can split an account. Default: one "
            "unpartitioned stream over every business.",
        ),
        th.Property(
            "include_result_data",
            th.BooleanType,
            default=False,
            title="Include ResultData",
            description="Also fetch each emitted job's full record, for ResultData: one "
            "get-one request per job changed since the last run (needs the "
            "BusinessBackgroundJob-Read role). Paced like every request.",
        ),
        th.Property(
            "result_data_skip_statuses",
            th.ArrayType(th.StringType),
            default=["Queued", "Running"],
            title="ResultData skip statuses",
            description="With include_result_data: jobs in these Status values have no "
            "result yet and are emitted from the listing without a get-one request; when "
            "their status changes, their new version is fetched. Other statuses, unknown "
            "ones included, are fetched.",
        ),
        th.Property(
            "max_requests_per_run",
            th.IntegerType(minimum=1),
            title="Max requests per run",
            description="Stop cleanly (exit 0, resumable STATE) before the request that "
            "would exceed this many in one run; token, listing and get-one requests all "
            "count. Must cover one listing page: 1 request, plus page_size get-ones with "
            "include_result_data. Default: no cap.",
        ),
        th.Property(
            "requests_per_minute",
            th.IntegerType(minimum=1),
            default=PUBLISHED_LIMITS["limit_per_minute"],
            title="Requests per minute",
            description="Pacing: the most requests the tap sends in any minute.",
        ),
        th.Property(
            "min_request_interval_ms",
            th.IntegerType(minimum=0),
            default=MIN_INTERVAL_MS,
            title="Minimum request interval (ms)",
            description="Pacing: the least time between two requests. Nexudus allows one "
            "per 100 ms; the default keeps 10 ms for network jitter. Lower it only for a "
            "server without that limit (e.g. the local sandbox in benchmarks).",
        ),
        th.Property(
            "requests_per_hour",
            th.IntegerType(minimum=1),
            default=PUBLISHED_LIMITS["limit_per_hour"],
            title="Requests per hour",
            description="Pacing: the most requests the tap sends in any hour, counting "
            "those earlier runs on the same state sent (kept in STATE). A run that would "
            "wait more than 5 minutes for the hour's budget stops cleanly instead.",
        ),
        th.Property(
            "request_timeout",
            th.IntegerType(minimum=1),
            default=60,
            title="Request timeout (s)",
            description="Seconds one request may take in all, its whole answer included "
            "(connecting: at most 10). A request past it is retried like a 5xx.",
        ),
    ).to_dict()

    def __init__(
        self, *, state: PurePath | str | dict[str, t.Any] | None = None, **kwargs: t.Any
    ) -> None:
        # `--state` hands over the file's JSON value: a string there is not a file path
        # (the SDK would look for a file of that name), nor is a list an empty state.
        if state is not None and not isinstance(state, dict | PurePath):
            state_object(state)
        super().__init__(state=state, **kwargs)

    @override
    def load_state(self, state: dict[str, t.Any]) -> None:
        # Checked before any request, and not echoed as the run's first STATE (below).
        checked = checked_state(
            state,
            stream=BusinessBackgroundJobsStream.name,
            replication_key=str(BusinessBackgroundJobsStream.replication_key),
            business_ids=self.config.get("business_ids"),
        )
        super().load_state(checked)
        # sync_all (final in the SDK) writes the incoming state as the run's first STATE,
        # before any request. target-duckdb 0.8.0 saves only the first STATE of a run that
        # loads no row, so a quiet run's requests (requests_last_hour) were lost. The
        # StateWriter skips a state equal to the last one written: marking the incoming one
        # written drops that echo, and the first STATE is one a page wrote after its requests.
        self.state_writer._last_emitted_state = copy.deepcopy(self.state)

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        # Replaces the SDK's check, which reports each schema error on its own line plus a
        # summary, echoes values (secrets too) and cannot parse settings given as text.
        # Runs in Tap.__init__, before any stream reads the config.
        schema = dict(self.config_jsonschema)
        self.append_builtin_config(schema)
        problems = unknown_setting_problems(self._config, schema, os.environ, self._env_var_prefix)
        problems = problems or prepare_settings(self._config, schema)
        if problems and raise_errors:
            raise SettingsError(problems[0])
        return problems

    @classproperty
    @override
    def _env_var_config(cls) -> dict[str, t.Any]:
        # `--config ENV`: the SDK would convert each variable itself (a traceback for
        # `TAP_NEXUDUS_JOBS_PAGE_SIZE=many`, False for any word but true/1/yes/on); hand
        # over the text, which _validate_config parses as strictly as Meltano's values.
        schema = dict(cls.config_jsonschema)
        cls.append_builtin_config(schema)
        as_text = {"properties": {key: {"type": "string"} for key in schema["properties"]}}
        return parse_environment_config(as_text, cls._env_var_prefix)

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # The SDK's handler exits 0, so a scheduler that stops a run at its timeout would
        # record success and build models on a partial load. The same clean shutdown
        # (SystemExit, `finally` blocks run, nothing more is written), the usual code.
        name = signal.Signals(signum).name
        self.logger.warning(
            "Stopped by %s before the end: the last STATE written is where the next run "
            "resumes (exit %d)",
            name,
            TERMINATION_EXIT_BASE + signum,
        )
        sys.exit(TERMINATION_EXIT_BASE + signum)

    @cached_property
    def account(self) -> NexudusAccount:
        """Pacing, session, retries and login: once per run, for every stream and partition."""
        return NexudusAccount(self.config)

    @override
    def discover_streams(self) -> list[Stream]:
        """The one stream this tap extracts."""
        return [BusinessBackgroundJobsStream(tap=self, account=self.account)]


if t.TYPE_CHECKING:  # pragma: no cover
    _: type[Tap] = TapNexudusJobs
