"""Errors the web layer answers with, in one hierarchy; app.py turns them into responses.

Each carries an HTTP status and a sentence for a person; some carry the field
at fault or how long to wait before trying again.
"""

from __future__ import annotations


class PlaygroundError(Exception):
    """Base: ``status`` is the HTTP status, ``str(e)`` the sentence."""

    status = 500

    def __init__(self, message: str, *, field: str | None = None, retry_after: float | None = None):
        super().__init__(message)
        # The field names a key the client sent; never echo a 4 KB one back.
        self.field = field if field is None or len(str(field)) <= 40 else str(field)[:37] + "..."
        self.retry_after = retry_after

    def to_json(self) -> dict:
        body = {"error": str(self)}
        if self.field is not None:
            body["field"] = self.field
        if self.retry_after is not None:
            body["retry_after"] = self.retry_after
        return body


class BadRequest(PlaygroundError):
    status = 400


class Unauthorized(PlaygroundError):
    status = 401


class Forbidden(PlaygroundError):
    status = 403


class NotFound(PlaygroundError):
    status = 404


class Conflict(PlaygroundError):
    """The request is fine but cannot apply to the present state (a halted run, a replay under way)."""

    status = 409


class Gone(PlaygroundError):
    """The session existed and has ended (reaped, lifetime, closed)."""

    status = 410


class RequestTimeout(PlaygroundError):
    """The client did not send its whole body in time (a slow or stalled upload)."""

    status = 408


class ClientGone(PlaygroundError):
    """The client closed the connection before its request body arrived: nobody to answer."""

    status = 400


class TooLarge(PlaygroundError):
    status = 413


class UriTooLong(PlaygroundError):
    """A query past the link caps (scenario.MAX_LINK_CHARS, MAX_LINK_KEYS), refused before parsing."""

    status = 414


class UnsupportedMediaType(PlaygroundError):
    status = 415


class Invalid(PlaygroundError):
    """A scenario or control value was refused (ScenarioError)."""

    status = 422


class TooManyRequests(PlaygroundError):
    status = 429


class Full(PlaygroundError):
    """The server refuses new work: the handbook's own policy, reject when full."""

    status = 503
