"""What tests need to start local servers: a free loopback port, a tool from a side venv."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def venv_tool(venv: Path, name: str, make_target: str) -> Path:
    """`venv/bin/name`, or fail the test with the make target that installs it."""
    tool = venv / "bin" / name
    if not tool.is_file():
        pytest.fail(
            f"{tool} is missing: run `make {make_target}` (`make test` does).", pytrace=False
        )
    return tool
