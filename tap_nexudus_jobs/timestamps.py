"""Timestamp handling: UTC normalisation and Nexudus's minute-precision range filters."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

# Nexudus range filters take `YYYY-MM-DDTHH:mm`: minute precision, inclusive.
FILTER_MINUTE_FORMAT = "%Y-%m-%dT%H:%M"
# An ISO 8601 date-time as people write it in settings: date, `T` (or a space), hours and
# minutes, optional seconds and fraction, optional `Z` or offset.
_ISO_DATE_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def parse_setting_date_time(value: str) -> datetime:
    """A setting's ISO 8601 date-time, strictly: nothing guessed, no offset means UTC.

    The same on every Python version (3.10's `fromisoformat` knows no `Z`; pendulum and
    dateutil would read `1 Jan 2024` or `01/02/2024` somehow).

    Raises:
        ValueError: naming what is wrong, if `value` is not such a date-time.
    """
    match = _ISO_DATE_TIME.fullmatch(value.strip())
    if match is None:
        msg = "is not an ISO 8601 date-time (e.g. 2024-01-31T00:00:00Z)"
        if date_only := _ISO_DATE.fullmatch(value.strip()):
            try:
                y, m, d = (int(part) for part in date_only.groups())
                datetime(y, m, d)
            except ValueError as exc:
                msg = f"is not a valid date ({exc})"
            else:
                msg = f"is a date without a time; write {value.strip()}T00:00:00Z"
        raise ValueError(msg)
    year, month, day, hour, minute, second, fraction, _zulu, sign, off_h, off_m = match.groups()
    offset = timezone.utc
    if sign:
        delta = timedelta(hours=int(off_h), minutes=int(off_m))
        if delta >= timedelta(hours=24):
            msg = "is not a valid date-time (its UTC offset is a day or more)"
            raise ValueError(msg)
        offset = timezone(-delta if sign == "-" else delta)
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second or 0),
            int((fraction or "0")[:6].ljust(6, "0")),
            tzinfo=offset,
        )
    except ValueError as exc:  # month 13, 30 February, hour 25
        msg = f"is not a valid date-time ({exc})"
        raise ValueError(msg) from None


def parse_timestamp(value: str) -> datetime:
    """Parse an ISO 8601 date-time, strictly; a value without an offset is taken as UTC.

    Nothing is guessed: `03/02/2025 10:00:00` could be 3 February or 2 March, and a
    timestamp read the wrong way would move the bookmark (issue 20). The same on every
    Python version.

    Raises:
        ValueError: if the value is not an ISO 8601 date-time.
    """
    if not isinstance(value, str) or _ISO_DATE_TIME.fullmatch(value) is None:
        msg = f"{value!r} is not an ISO 8601 date-time"
        raise ValueError(msg)
    try:
        # The stdlib parser is many times faster per record, where it reads the value.
        fast = datetime.fromisoformat(value)
    except ValueError:
        return parse_setting_date_time(value)  # `Z` on 3.10, 7 fractional digits (ticks)
    return fast if fast.tzinfo else fast.replace(tzinfo=timezone.utc)


def to_utc_iso(value: datetime) -> str:
    """Render as `YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00` so strings sort like instants."""
    return value.astimezone(timezone.utc).isoformat()


def normalise_timestamp(value: str | None) -> str | None:
    """Re-render a Nexudus timestamp in UTC ISO 8601; None stays None."""
    if value is None:
        return None
    return to_utc_iso(parse_timestamp(value))


def floor_to_minute(value: datetime) -> datetime:
    """Drop seconds: the finest instant a Nexudus range filter can name."""
    return value.astimezone(timezone.utc).replace(second=0, microsecond=0)


def filter_minute(value: datetime, *, minus_minutes: int = 0) -> str:
    """The `from_..._UpdatedOn` value that includes `value`, reaching back `minus_minutes`."""
    return (floor_to_minute(value) - timedelta(minutes=minus_minutes)).strftime(
        FILTER_MINUTE_FORMAT
    )


def http_date(value: str | None) -> datetime | None:
    """An HTTP-date (a `Date` or `Retry-After` header) as an aware instant; None if missing
    or unreadable. `-0000` (no zone said) is UTC, as HTTP-dates always are."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
