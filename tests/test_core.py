"""The SDK's standard tap tests, run against a live sandbox."""

from __future__ import annotations

import atexit

from singer_sdk.testing import get_tap_test_class

from nexudus_sandbox import NexudusSandbox
from tap_nexudus_jobs.tap import TapNexudusJobs
from tests.conftest import SANDBOX_TOKEN

# The test class is built at import time, so its sandbox must already be listening.
_SANDBOX = NexudusSandbox(records=240, seed=5)
_SANDBOX.start()
atexit.register(_SANDBOX.stop)

TestTapNexudusJobs = get_tap_test_class(
    tap_class=TapNexudusJobs,
    config={"api_url": _SANDBOX.url, "access_token": SANDBOX_TOKEN, "page_size": 100},
)
