"""How Singer messages leave the tap: msgspec-encoded lines, flushed per STATE."""

from __future__ import annotations

import sys
import typing as t

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage
from typing_extensions import override

if t.TYPE_CHECKING:
    from singer_sdk.singerlib import Message


class BufferedMsgSpecWriter(MsgSpecWriter):
    """The SDK's msgspec writer, without a flush (a system call) after every RECORD.

    Every other message (SCHEMA, STATE, ...) still flushes, so a STATE line never
    reaches the target before the records it covers: a killed run loses no record that
    its last STATE claims.
    """

    @override
    def write_message(self, message: Message) -> None:
        """Write one line; flush unless it is a RECORD."""
        sys.stdout.buffer.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()
