"""How Singer messages leave the tap: msgspec-encoded lines, flushed per STATE, always UTF-8.

Text Nexudus sends may hold a lone UTF-16 surrogate (a .NET string cut inside an emoji,
escaped as `\\ud83d` in otherwise valid JSON). No UTF-8 encoder can write it, so a line
holding one is written again with U+FFFD in its place, and a WARNING names the job and the
field (once each per run): the run goes on, and every line is valid UTF-8 JSON.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.singerlib import Message

logger = logging.getLogger("tap-nexudus-jobs")

REPLACEMENT_CHARACTER = "\ufffd"
# json.loads pairs escaped surrogates that belong together: any left in a str are lone.
_SURROGATE = re.compile("[\ud800-\udfff]")


def without_lone_surrogates(value: t.Any, path: str = "") -> tuple[t.Any, list[str]]:
    """`value` with every lone surrogate in its strings (keys too) replaced by U+FFFD.

    Also the paths (`Description`, `CustomFields.Note`, `Tags[2]`) that held one.
    """
    if isinstance(value, str):
        repaired = _SURROGATE.sub(REPLACEMENT_CHARACTER, value)
        return repaired, [path] if repaired != value else []
    if isinstance(value, dict):
        result: dict[t.Any, t.Any] = {}
        paths: list[str] = []
        for key, item in value.items():
            name, bad_key = without_lone_surrogates(key) if isinstance(key, str) else (key, [])
            inner = f"{path}.{name}" if path else str(name)
            result[name], found = without_lone_surrogates(item, inner)
            paths += [inner] if bad_key else []
            paths += found
        return result, paths
    if isinstance(value, list):
        items, paths = [], []
        for index, item in enumerate(value):
            repaired_item, found = without_lone_surrogates(item, f"{path}[{index}]")
            items.append(repaired_item)
            paths += found
        return items, paths
    return value, []


class BufferedMsgSpecWriter(MsgSpecWriter):
    """The SDK's msgspec writer, without a flush (a system call) after every RECORD.

    Every other message (SCHEMA, STATE, ...) still flushes, so a STATE line never
    reaches the target before the records it covers: a killed run loses no record that
    its last STATE claims. A message with text UTF-8 cannot hold is repaired (see above):
    the encoder's error is the check, so a clean message costs nothing extra.
    """

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._repairs_named: set[tuple[str, str]] = set()  # (job, field): warned once

    @override
    def write_message(self, message: Message) -> None:
        """Write one line; flush unless it is a RECORD."""
        try:
            line = self.format_message(message)
        except UnicodeEncodeError:
            line = self.format_message(self._repaired(message))
        sys.stdout.buffer.write(line)
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()

    def _repaired(self, message: Message) -> Message:
        if isinstance(message, RecordMessage):
            record, paths = without_lone_surrogates(message.record)
            job_id = message.record.get("Id")
            what = f"Job {job_id}" if job_id is not None else f"A {message.stream} record"
            message.record = record
        else:
            what = f"The {type(message).__name__}"
            for field in dataclasses.fields(message):
                value = getattr(message, field.name)
                setattr(message, field.name, without_lone_surrogates(value)[0])
            paths = ["(message)"]
        self._warn_once(what, paths)
        return message

    def _warn_once(self, what: str, paths: list[str]) -> None:
        named = self._repairs_named
        for path in dict.fromkeys(paths):
            if (what, path) in named:
                continue
            named.add((what, path))
            logger.warning(
                "%s: field '%s' holds text that is not valid Unicode (a lone UTF-16 "
                "surrogate, e.g. half an emoji); written with U+FFFD in its place",
                what,
                path,
            )
