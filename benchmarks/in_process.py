"""The tap run in this process: its Singer output parsed as it is written, logs quiet.

For the scripts that need the sandbox's hooks or a clock they move (walk, clock jumps);
the others run the console script as a subprocess (``common.run_measured``).
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from typing_extensions import override

from tap_nexudus_jobs.tap import TapNexudusJobs


def parse_stamp(value: str) -> datetime:
    """An UpdatedOn as the tap (``+00:00``) or the sandbox (``Z``) renders it."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class SingerSink(io.RawIOBase):
    """The tap's stdout: Singer lines parsed as they arrive, so no run is held in memory
    unless ``keep`` asks for the RECORD payloads."""

    def __init__(self, *, keep: bool = False) -> None:
        super().__init__()
        self._partial = b""
        self.records = 0
        #: Id -> newest UpdatedOn emitted (a target keeps the newest version).
        self.emitted: dict[int, datetime] = {}
        self.kept: list[dict[str, Any]] | None = [] if keep else None
        self.last_state: dict[str, Any] | None = None

    @override
    def writable(self) -> bool:
        return True

    @override
    def write(self, data: Any) -> int:
        chunk = self._partial + bytes(data)
        *lines, self._partial = chunk.split(b"\n")
        for line in lines:
            self._line(line)
        return len(data)

    def finish(self) -> None:
        """Parse a last line written without a newline."""
        if self._partial.strip():
            self._line(self._partial)
        self._partial = b""

    def _line(self, line: bytes) -> None:
        head = line[:48]
        if b'"RECORD"' in head:
            self._record(json.loads(line)["record"])
        elif b'"STATE"' in head:
            self.last_state = json.loads(line)["value"]

    def _record(self, record: dict[str, Any]) -> None:
        self.records += 1
        if self.kept is not None:
            self.kept.append(record)
        stamp = parse_stamp(record["UpdatedOn"])
        previous = self.emitted.get(record["Id"])
        if previous is None or stamp > previous:
            self.emitted[record["Id"]] = stamp


@dataclass
class Sync:
    """What one in-process sync wrote, and how long it took."""

    sink: SingerSink
    wall: float
    records: list[dict[str, Any]] = field(default_factory=list)


@contextmanager
def quiet_logs() -> Iterator[None]:
    """The SDK logs every request and metric at INFO: noise here, and slow."""
    logging.disable(logging.INFO)
    try:
        yield
    finally:
        logging.disable(logging.NOTSET)


def sync(config: dict[str, Any], state: dict[str, Any] | None, *, keep: bool = False) -> Sync:
    """One sync of the tap, as ``tests/conftest.py::run_tap`` runs it."""
    sink = SingerSink(keep=keep)
    # The tap's writer writes bytes to sys.stdout.buffer, and flushes per STATE.
    stdout = io.TextIOWrapper(io.BufferedWriter(sink), encoding="utf-8")
    started = time.perf_counter()
    with redirect_stdout(stdout), quiet_logs():
        TapNexudusJobs(config=config, state=state or {}).sync_all()
    stdout.flush()
    wall = time.perf_counter() - started
    sink.finish()
    return Sync(sink, wall, sink.kept or [])
