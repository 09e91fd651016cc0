"""Builds each emitted record in one pass: schema fields, selected ones, typed as declared.

The SDK would do this per record with a generic walk of the selection mask and of the
schema (the largest CPU cost of a sync when profiled); the schema here is flat and
fixed, so the plan is worked out once and each record costs one loop over its fields.
"""

from __future__ import annotations

import typing as t
from datetime import datetime

from tap_nexudus_jobs.timestamps import normalise_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Callable, Collection

FieldCheck = t.Callable[[t.Any], t.Any]
UTC_SECONDS_LENGTH = len("2025-01-15T10:30:00Z")


def _integer(value: t.Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    msg = f"is {value!r}, expected an integer"
    raise ValueError(msg)


def _string(value: t.Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # lossless, and what a string column can hold
    msg = f"is {type(value).__name__} {value!r}, expected a string"
    raise ValueError(msg)


def _boolean(value: t.Any) -> bool:
    if isinstance(value, bool):
        return value
    msg = f"is {value!r}, expected true or false"
    raise ValueError(msg)


def _object(value: t.Any) -> dict[str, t.Any]:
    if isinstance(value, dict):
        return value
    msg = f"is {type(value).__name__}, expected an object"
    raise ValueError(msg)


def _date_time(value: t.Any) -> str | None:
    if not isinstance(value, str):
        msg = f"is {value!r}, expected an ISO 8601 date-time"
        raise ValueError(msg)
    try:
        if len(value) == UTC_SECONDS_LENGTH and value[-1] == "Z":
            # The common `2025-01-15T10:30:00Z`: checked by parsing, re-rendered by hand
            # (without the `Z`, which 3.10's parser only reads once the SDK has patched it).
            datetime.fromisoformat(value[:-1])
            return value[:-1] + "+00:00"
        return normalise_timestamp(value)
    except ValueError:
        msg = f"is {value!r}, not an ISO 8601 date-time"
        raise ValueError(msg) from None


def _check_for(property_schema: dict[str, t.Any]) -> tuple[type | None, FieldCheck]:
    """The Python type a valid value already has (kept as is), and the full check."""
    types = property_schema.get("type", [])
    kinds = {types} if isinstance(types, str) else set(types)
    if property_schema.get("format") == "date-time":
        return None, _date_time
    for kind, exact, check in (
        ("integer", int, _integer),
        ("boolean", bool, _boolean),
        ("object", dict, _object),
        ("string", str, _string),
    ):
        if kind in kinds:
            return exact, t.cast("FieldCheck", check)
    return None, lambda value: value


class RecordBuilder:
    """Schema-shaped, typed records; a value of the wrong type is a clear ValueError."""

    def __init__(
        self,
        schema: dict[str, t.Any],
        selected: Collection[str],
        warn_unknown: Callable[[list[str]], None] = lambda _names: None,
    ) -> None:
        properties: dict[str, t.Any] = schema["properties"]
        required = set(schema.get("required", []))
        self._plan = [
            (name, *_check_for(spec), name in required)
            for name, spec in properties.items()
            if name in selected
        ]
        self._known = frozenset(properties)
        self._warn_unknown = warn_unknown
        self._warned = False

    def build(self, raw: dict[str, t.Any]) -> dict[str, t.Any]:
        """The record to emit for one raw Nexudus record."""
        record: dict[str, t.Any] = {}
        for name, exact, check, required in self._plan:
            value = raw.get(name)
            if value is None:
                if required:
                    msg = f"field '{name}' is missing"
                    raise ValueError(msg)
                record[name] = None
            elif type(value) is exact:  # the usual case: already the declared type
                record[name] = value
            else:
                try:
                    record[name] = check(value)
                except ValueError as exc:
                    msg = f"field '{name}' {exc}"
                    raise ValueError(msg) from None
        if not self._warned and len(raw) > len(record) and not self._known.issuperset(raw):
            self._warned = True
            self._warn_unknown(sorted(set(raw) - self._known))
        return record
