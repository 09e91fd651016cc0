"""Console entry point: the SDK's CLI, with the tap's own errors reported as one line."""

from __future__ import annotations

import sys

from tap_nexudus_jobs.errors import NexudusTapError
from tap_nexudus_jobs.tap import TapNexudusJobs


def main() -> None:
    """Run the tap; a NexudusTapError ends it with its message alone and exit code 1."""
    try:
        TapNexudusJobs.cli()
    except NexudusTapError as exc:
        # The SDK would log a traceback; the message already says everything actionable.
        print(f"tap-nexudus-jobs: error: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
