"""Console entry point: the SDK's CLI, with the tap's own errors reported as one line."""

from __future__ import annotations

import logging
import os
import sys

from tap_nexudus_jobs.errors import NexudusTapError
from tap_nexudus_jobs.tap import TapNexudusJobs

# SDK lines that say nothing to a user: Meltano passes settings in a file, so "Skipping
# parse of env var settings..." (twice per run) is always true.
SDK_NOISE = frozenset({"Skipping parse of env var settings..."})


def quiet_sdk_noise() -> None:
    """Drop the SDK's noise lines; METRIC lines only at LOGLEVEL=DEBUG (they are counters
    for machines, one per request type and stream, at INFO by default)."""
    logging.getLogger(TapNexudusJobs.name).addFilter(lambda r: r.getMessage() not in SDK_NOISE)
    metrics = logging.getLogger("singer_sdk.metrics")
    # The SDK sets this logger's level from LOGLEVEL when the tap starts: read it then.
    metrics.addFilter(lambda _record: metrics.isEnabledFor(logging.DEBUG))


def main() -> None:
    """Run the tap; a NexudusTapError ends it with its message alone and exit code 1."""
    quiet_sdk_noise()
    try:
        TapNexudusJobs.cli()
    except NexudusTapError as exc:
        # The SDK would log a traceback; the message already says everything actionable.
        report_error(f"tap-nexudus-jobs: error: {exc}")
        sys.exit(1)


def report_error(line: str) -> None:
    """The one error line on stderr; under Meltano (which configures the SDK's logging
    through SINGER_SDK_LOG_CONFIG) an ERROR record, so that with the structured-logging
    capability `meltano run` shows it at [error], not [info] under "Extractor failed"."""
    if os.environ.get("SINGER_SDK_LOG_CONFIG"):
        logging.getLogger(TapNexudusJobs.name).error(line)
    else:
        print(line, file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    main()
