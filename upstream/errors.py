"""Typed upstream errors: everything above the clients speaks in these, never in status codes."""

from __future__ import annotations


class UpstreamError(Exception):
    """Base of every failure to get an answer from a provider."""

    def __init__(self, message: str, *, provider: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status = status

    def __str__(self) -> str:
        prefix = f"{self.provider}: " if self.provider else ""
        return f"{prefix}{self.message}"


class Unavailable(UpstreamError):
    """The provider could not be reached, timed out, was overloaded or rate limited us."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, status=status)
        self.retry_after = retry_after


class Rejected(UpstreamError):
    """The provider understood the request and refused it (4xx other than 404)."""

    def __init__(self, message: str, *, provider: str = "", status: int, detail: object = None):
        super().__init__(message, provider=provider, status=status)
        self.detail = detail


class NotFound(UpstreamError):
    """The conversation (or agent, task, entry) does not exist upstream."""


class BadResponse(UpstreamError):
    """The provider answered with something that does not match its documented shape."""


class StreamBroken(UpstreamError):
    """A stream ended before its final event: the connection dropped or timed out mid-reply."""


class NotConfigured(UpstreamError):
    """No provider with this key is configured here (it was taken out of the settings)."""
