"""The tap: wires the settings (settings.py), the account its streams share and its stream."""

from __future__ import annotations

import copy
import os
import signal
import sys
import typing as t
from functools import cached_property
from pathlib import PurePath

from singer_sdk import Stream, Tap
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import CapabilitiesEnum, TapCapabilities
from typing_extensions import override

from tap_nexudus_jobs.account import NexudusAccount
from tap_nexudus_jobs.errors import SettingsError
from tap_nexudus_jobs.output import BufferedMsgSpecWriter
from tap_nexudus_jobs.settings import SETTINGS_SCHEMA, as_text, settings_problems
from tap_nexudus_jobs.state import checked_state, state_object
from tap_nexudus_jobs.streams import BusinessBackgroundJobsStream

if t.TYPE_CHECKING:
    from types import FrameType

# A process ended by signal N exits 128 + N by shell convention (143 SIGTERM, 130 SIGINT).
TERMINATION_EXIT_BASE = 128


class TapNexudusJobs(Tap):
    """Singer tap for Nexudus BusinessBackgroundJobs."""

    name = "tap-nexudus-jobs"
    # `--test` (the SDK's) works and is tested: declared so --about and Meltano know it.
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [*Tap.capabilities, TapCapabilities.TEST]
    # msgspec serialises RECORD lines several times faster than the default writer.
    message_writer_class = BufferedMsgSpecWriter

    # Names, types, defaults and descriptions: settings.py, next to their checks.
    config_jsonschema = SETTINGS_SCHEMA

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
        problems = settings_problems(self._config, schema, os.environ, self._env_var_prefix)
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
        return parse_environment_config(as_text(schema), cls._env_var_prefix)

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
