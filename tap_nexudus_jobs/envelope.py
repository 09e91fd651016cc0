"""The list envelope every Nexudus listing returns, read once per response and checked."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from tap_nexudus_jobs.errors import NexudusResponseError

if t.TYPE_CHECKING:
    import requests

_JSON_ATTRIBUTE = "_nexudus_json"
_NOT_JSON = object()


def parsed_json(response: requests.Response) -> t.Any:
    """The response body as JSON, parsed once per response (validate_response reads it too).

    Raises:
        ValueError: if the body is not JSON.
    """
    payload = getattr(response, _JSON_ATTRIBUTE, None)
    if payload is None:
        try:
            payload = response.json()
        except ValueError:
            payload = _NOT_JSON
        setattr(response, _JSON_ATTRIBUTE, payload)
    if payload is _NOT_JSON:
        msg = "the body is not JSON"
        raise ValueError(msg)
    return payload


def is_listing_payload(payload: t.Any) -> bool:
    """A JSON object with a list of `Records`: a listing, whatever else it gets wrong."""
    return isinstance(payload, dict) and isinstance(payload.get("Records"), list)


@dataclass(frozen=True)
class ListingEnvelope:
    """The parts of a listing response the tap relies on."""

    records: list[dict[str, t.Any]]
    current_page: int | None
    has_next_page: bool
    total_items: int | None
    total_pages: int | None
    order_field: str | None
    sort_direction: int | None


def listing_envelope(response: requests.Response) -> ListingEnvelope:
    """Parse and check a listing response."""
    where = describe_request(response)
    try:
        payload = parsed_json(response)
    except ValueError:
        content_type = response.headers.get("Content-Type", "no content type")
        msg = f"{where}: the body is not JSON ({content_type}, {len(response.content)} bytes)"
        raise NexudusResponseError(msg) from None
    if not isinstance(payload, dict):
        msg = f"{where}: expected a JSON object, got {type(payload).__name__}"
        raise NexudusResponseError(msg)
    records = payload.get("Records")
    if not isinstance(records, list):
        state = "missing" if records is None else f"a {type(records).__name__}"
        msg = f"{where}: 'Records' is {state}, expected a list"
        raise NexudusResponseError(msg)
    for index, record in enumerate(records):
        if not isinstance(record, dict) or type(record.get("Id")) is not int:
            msg = f"{where}: record #{index + 1} has no integer 'Id'"
            raise NexudusResponseError(msg)
    current_page = _optional_int(payload, "CurrentPage", where)
    total_pages = _optional_int(payload, "TotalPages", where)
    has_next = payload.get("HasNextPage")
    if has_next is None and current_page is not None and total_pages is not None:
        has_next = current_page < total_pages
    if not isinstance(has_next, bool):
        msg = f"{where}: 'HasNextPage' is {'missing' if has_next is None else 'not a boolean'}"
        raise NexudusResponseError(msg)
    order_field = payload.get("CurrentOrderField")
    return ListingEnvelope(
        records=records,
        current_page=current_page,
        has_next_page=has_next,
        total_items=_optional_int(payload, "TotalItems", where),
        total_pages=total_pages,
        order_field=order_field if isinstance(order_field, str) else None,
        sort_direction=_optional_int(payload, "CurrentSortDirection", where),
    )


def _optional_int(payload: dict[str, t.Any], key: str, where: str) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    if type(value) is not int:
        msg = f"{where}: '{key}' is {value!r}, expected an integer"
        raise NexudusResponseError(msg)
    return value


def describe_request(response: requests.Response) -> str:
    """ "Nexudus listing page 3 (GET /path)" or "Nexudus GET /path": no query, no secrets."""
    url = urlsplit(response.url or "")
    page = parse_qs(url.query).get("page")
    if page:
        return f"Nexudus listing page {page[0]} (GET {url.path})"
    return f"Nexudus GET {url.path}"
