"""Paging over the Nexudus list envelope (`CurrentPage`, `HasNextPage`)."""

from __future__ import annotations

import typing as t

from singer_sdk.pagination import PageNumberPaginator

from tap_nexudus_jobs.envelope import listing_envelope
from tap_nexudus_jobs.errors import NexudusResponseError

if t.TYPE_CHECKING:
    import requests


class NexudusPagePaginator(PageNumberPaginator):
    """Next page = `CurrentPage + 1` while `HasNextPage`; no request after the last page.

    A server that ignores `page` and serves the same page again is stopped with a
    clear error instead of being followed forever (the SDK's own loop check would
    end in a traceback, and only after one wasted request).
    """

    def __init__(self, start_value: int = 1) -> None:
        super().__init__(start_value)
        self._previous_keys: list[tuple[int, t.Any]] | None = None

    def has_more(self, response: requests.Response) -> bool:
        """`HasNextPage` from the envelope."""
        return listing_envelope(response).has_next_page

    def get_next(self, response: requests.Response) -> int | None:
        """The page after the one the server says it returned."""
        envelope = listing_envelope(response)
        served = envelope.current_page if envelope.current_page is not None else self.current_value
        keys = [(record["Id"], record.get("UpdatedOn")) for record in envelope.records]
        if served != self.current_value:
            problem = f"returned page {served} when page {self.current_value} was requested"
        elif keys == self._previous_keys:
            problem = f"served the same jobs again as page {self.current_value}"
        else:
            self._previous_keys = keys
            return self.current_value + 1
        msg = f"Nexudus {problem}; stopping rather than loop (the state covers what was emitted)"
        raise NexudusResponseError(msg)
