"""Errors the tap reports to its user as one line, without a traceback."""

from __future__ import annotations


class NexudusTapError(Exception):
    """A failure the user can act on; its message is the whole report."""


class SettingsError(NexudusTapError):
    """A setting is missing or invalid; raised before any request is sent."""


class StateError(NexudusTapError):
    """The STATE a run starts from cannot be used; raised before anything is read."""


class StalledBookmarkError(NexudusTapError):
    """The bookmark is later than every job Nexudus lists: nothing after it could load."""


class NexudusAuthError(NexudusTapError):
    """Nexudus refused the credentials or the token."""


class NexudusResponseError(NexudusTapError):
    """Nexudus answered with something the tap cannot safely use."""


class NexudusNotFoundError(NexudusResponseError):
    """HTTP 404: the resource (e.g. a job deleted a moment ago) does not exist."""


class NexudusConnectionError(NexudusTapError):
    """Nexudus could not be reached (name, connection, TLS or timeouts), after the retries."""


class NexudusRedirectError(NexudusTapError):
    """Nexudus redirected a request to another origin: not followed (credentials stay)."""
