"""Builds each emitted record in one pass: schema fields, selected ones, typed as declared.

The SDK would do this per record with a generic walk of the selection mask and of the
schema (the largest CPU cost of a sync when profiled); the schema here is flat and
fixed, so the plan is worked out once and each record costs one loop over its fields.

Two columns are the tap's own, not the API's: `ResultDataParsed` (ResultData parsed,
when it is a JSON object or array) and `ExtraFields` (every property the API sent that
the schema does not declare, unchanged), so nothing the API sends is lost.
"""

from __future__ import annotations

import json
import typing as t
from datetime import datetime

from tap_nexudus_jobs.timestamps import normalise_timestamp

if t.TYPE_CHECKING:
    from collections.abc import Callable, Collection

FieldCheck = t.Callable[[t.Any], t.Any]
UTC_SECONDS_LENGTH = len("2025-01-15T10:30:00Z")
RESULT_DATA = "ResultData"
RESULT_DATA_PARSED = "ResultDataParsed"
EXTRA_FIELDS = "ExtraFields"
# Columns the tap derives: never read from the API under these names.
DERIVED_FIELDS = frozenset({RESULT_DATA_PARSED, EXTRA_FIELDS})

# Parsed JSON, an object or an array, for one JSON/JSONB/VARIANT column. Targets read
# "type" (DuckDB, PostgreSQL, Snowflake, the SDK's flattening) or, when present, "anyOf"
# (target-bigquery's denormalized schema, which makes a REPEATED column of any type list
# that names "array"); both say the same.
RESULT_DATA_PARSED_SCHEMA = {
    "type": ["object", "array", "null"],
    "anyOf": [{"type": "object"}, {"type": "array"}, {"type": "null"}],
    "description": "ResultData parsed, when it is a JSON object or array; null otherwise "
    "(plain text stays in ResultData only).",
}


def parse_result_data(value: t.Any) -> dict[str, t.Any] | list[t.Any] | None:
    """ResultData as a JSON object or array; None for anything else (never an error).

    Its format is undocumented: plain text (`Timeout while processing file`) stays only
    in ResultData, and so does JSON that is a bare string or number.
    """
    if isinstance(value, (dict, list)):
        return value
    if not isinstance(value, str):
        return None
    text = value.lstrip()
    if not text or text[0] not in "{[":
        return None  # the common plain-text case, without a failed parse
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, (dict, list)) else None


def _result_data(value: t.Any) -> str:
    """ResultData is text; anything else the API might send is kept as its JSON text."""
    if isinstance(value, str):
        return value
    return json.dumps(value)


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


def _check_for(name: str, property_schema: dict[str, t.Any]) -> tuple[type | None, FieldCheck]:
    """The Python type a valid value already has (kept as is), and the full check."""
    if name == RESULT_DATA:
        return str, _result_data
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
        """`warn_unknown` is called once for each undeclared field name, when first seen."""
        properties: dict[str, t.Any] = schema["properties"]
        required = set(schema.get("required", []))
        self._plan = [
            (name, *_check_for(name, spec), name in required)
            for name, spec in properties.items()
            if name in selected and name not in DERIVED_FIELDS
        ]
        # The API's fields: what it sends under any other name goes to ExtraFields.
        self._known = frozenset(properties) - DERIVED_FIELDS
        derived = {name for name in DERIVED_FIELDS if name in properties and name in selected}
        self._parse_result_data = RESULT_DATA_PARSED in derived
        self._keep_extra = EXTRA_FIELDS in derived
        self._warn_unknown = warn_unknown
        self._named: set[str] = set()

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
        if self._parse_result_data:
            record[RESULT_DATA_PARSED] = parse_result_data(raw.get(RESULT_DATA))
        if self._known.issuperset(raw):  # the usual case: nothing undeclared
            if self._keep_extra:
                record[EXTRA_FIELDS] = None
            return record
        extra = {name: value for name, value in raw.items() if name not in self._known}
        new = [name for name in extra if name not in self._named]
        if new:
            self._named.update(new)
            self._warn_unknown(sorted(new))
        if self._keep_extra:
            record[EXTRA_FIELDS] = extra
        return record
