"""The API's documented facts (nexudus_api.py) are what the tap sends and the sandbox serves."""

from __future__ import annotations

from nexudus_sandbox import NexudusSandbox
from tap_nexudus_jobs import nexudus_api
from tap_nexudus_jobs.settings import FILTER_KEYS
from tap_nexudus_jobs.tap import TapNexudusJobs
from tests.conftest import LISTING_PATH, run_tap, sandbox_config


def test_the_sandbox_serves_the_documented_envelope() -> None:
    with NexudusSandbox(records=3) as sandbox:
        envelope = sandbox.render_listing({})

    assert tuple(envelope) == nexudus_api.ENVELOPE_FIELDS
    assert envelope["CurrentPageSize"] == nexudus_api.DEFAULT_PAGE_SIZE
    assert envelope["CurrentOrderField"] == nexudus_api.DEFAULT_ORDER_FIELD


def test_the_tap_sends_only_documented_parameters(sandbox: NexudusSandbox) -> None:
    config = sandbox_config(sandbox, business_ids=[1001], filters={"Status": "Failed"})
    run_tap(config, {"bookmarks": {}})

    documented = {
        nexudus_api.PAGE_PARAM,
        nexudus_api.SIZE_PARAM,
        nexudus_api.ORDER_BY_PARAM,
        nexudus_api.DIR_PARAM,
        *(nexudus_api.equality_filter(suffix) for suffix in nexudus_api.EQUALITY_FILTERS),
        *(
            nexudus_api.range_filter(bound, field)
            for bound in ("from", "to")
            for field in nexudus_api.RANGE_FILTER_FIELDS
        ),
    }
    listings = [e for e in sandbox.log_snapshot() if e.path == LISTING_PATH]
    assert listings
    for entry in listings:
        assert set(entry.query) <= documented, entry.query
        assert entry.query[nexudus_api.DIR_PARAM] in {"1", "0"}


def test_settings_defaults_and_filters_follow_the_documented_facts() -> None:
    properties = TapNexudusJobs.config_jsonschema["properties"]
    limits = nexudus_api.PUBLISHED_LIMITS
    assert properties["requests_per_minute"]["default"] == limits["limit_per_minute"]
    assert properties["requests_per_hour"]["default"] == limits["limit_per_hour"]
    assert properties["page_size"]["maximum"] == nexudus_api.MAX_PAGE_SIZE
    assert set(nexudus_api.EQUALITY_FILTERS) < set(FILTER_KEYS)
