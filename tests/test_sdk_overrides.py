"""How the tap sits on the SDK: one owner per account-wide resource, defaults only in the
settings schema, and every private SDK member it replaces listed next to the SDK pin."""

from __future__ import annotations

import ast
import re
import typing as t

from nexudus_sandbox import NexudusSandbox
from tap_nexudus_jobs.auth import NexudusPasswordAuthenticator
from tap_nexudus_jobs.client import NexudusStream
from tap_nexudus_jobs.output import BufferedMsgSpecWriter
from tap_nexudus_jobs.streams import BusinessBackgroundJobsStream
from tap_nexudus_jobs.tap import TapNexudusJobs
from tests.meltano_runs import ROOT

OUR_SDK_SUBCLASSES = [
    TapNexudusJobs,
    NexudusStream,
    BusinessBackgroundJobsStream,
    NexudusPasswordAuthenticator,
    BufferedMsgSpecWriter,
]


class TwoStreamTap(TapNexudusJobs):
    """The tap with a second stream over the same endpoint, as a second entity would be."""

    def discover_streams(self) -> list[t.Any]:
        return [
            BusinessBackgroundJobsStream(tap=self, account=self.account),
            BusinessBackgroundJobsStream(tap=self, account=self.account, name="jobs_again"),
        ]


def test_streams_share_one_pacer_one_session_and_one_login() -> None:
    with NexudusSandbox(records=30, seed=4) as sandbox:
        config = {
            "api_url": sandbox.url,
            "username": "demo@example.com",
            "password": "demo-password",
            "business_ids": [1001, 1002],
        }
        tap = TwoStreamTap(config=config)
        first, second = (t.cast("NexudusStream", s) for s in tap.streams.values())
        assert first.pacer is second.pacer
        assert first.authenticator is second.authenticator
        assert first.requests_session is second.requests_session

        tap.sync_all()

        token_requests = [e for e in sandbox.request_log if e.path == "/api/token"]
        listings = [e for e in sandbox.request_log if e.path != "/api/token"]
    # Two streams x two business partitions, one login, one request budget.
    assert len(token_requests) == 1
    assert first.pacer.sent == len(listings) + 1


def test_defaults_are_not_retyped_where_settings_are_read() -> None:
    offenders = []
    for path in sorted((ROOT / "tap_nexudus_jobs").rglob("*.py")):
        if "sandbox" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "get"
                and "config" in ast.unparse(node.func.value)
                and len(node.args) == 2
            ):
                offenders.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert not offenders, "read the filled-in config instead: " + "; ".join(offenders)


def sdk_private_members_replaced() -> set[str]:
    replaced = set()
    for cls in OUR_SDK_SUBCLASSES:
        for name in cls.__dict__:
            if not name.startswith("_") or name.startswith("__") or name == "_abc_impl":
                continue
            owners = [
                base.__qualname__
                for base in cls.__mro__[1:]
                if name in base.__dict__ and base.__module__.startswith("singer_sdk")
            ]
            if owners:
                replaced.add(f"{owners[-1]}.{name}")
    return replaced


def test_every_private_sdk_member_replaced_is_listed_next_to_the_sdk_pin() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    dependencies = pyproject[pyproject.index("dependencies = [") :]
    notes = dependencies[: dependencies.index('"singer-sdk[')]
    listed = set(re.findall(r"#\s+(\w+\.\w+)\s{2,}", notes))

    assert sdk_private_members_replaced() == listed
