"""Upstream failures in a person's words: what the page says, and the detail kept for the log.

The typed errors of the upstream layer carry the transport's own words ("peer closed connection
without sending complete message body", a quoted malformed event): right for a log and for the
admin's transcript, wrong for the person waiting for an answer. The page says what happened and
what to do; `detail` keeps the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from conversations.models import provider_name
from upstream.errors import (
    BadResponse,
    NotConfigured,
    NotFound,
    Rejected,
    StreamBroken,
    Unavailable,
    UpstreamError,
)


@dataclass(frozen=True)
class Explained:
    message: str  # for the person
    detail: str  # for the log and the admin's transcript


def explain(exc: UpstreamError, *, words: int = 0) -> Explained:
    """Why a reply (or a request) did not go through; `words`: how much of the reply arrived."""
    name = provider_name(exc.provider)
    so_far = _so_far(words)
    match exc:
        case NotFound():
            # Not always the conversation (an agent, an entry, a task): the runner asks the
            # provider whether the conversation itself is gone, and says so only then.
            message = f"{name} could not find something this reply needs. Try again."
        case StreamBroken():
            if words:
                message = f"The connection to {name} broke after {so_far}. What arrived is kept."
            else:
                message = f"The connection to {name} broke before the reply began."
        case BadResponse():
            message = f"{name} sent something we could not read" + (
                f", after {so_far}. What arrived is kept." if words else "."
            )
        case Unavailable(status=429):
            message = f"{name} is busy right now (too many requests). Try again in a moment."
        case Unavailable(status=int(status)) if status >= 500:
            message = f"{name} had a problem on its side. Try again in a moment."
        case Unavailable():
            message = f"{name} did not answer in time. Try again in a moment."
        case NotConfigured():
            message = (
                f"Its provider ({exc.provider}) is no longer configured here, so it cannot be "
                "reached: an administrator can add it back. What is here stays readable."
            )
        case Rejected(status=401 | 403):
            message = f"{name} refused Webchat's API key. An administrator needs to check it."
        case Rejected():
            message = f"{name} refused the request: {_short(exc.message)}"
        case _:
            message = f"{name} did not finish the reply."
    return Explained(message, str(exc))


def explain_provider_error(provider: str, message: str, code: str | None) -> Explained:
    """A stream that ended with the provider's own error event."""
    name = provider_name(provider)
    detail = f"{provider}: error event: {message}" + (f" (code {code})" if code else "")
    return Explained(f"{name} stopped with an error: {_short(message)}", detail)


def _so_far(words: int) -> str:
    return "1 word" if words == 1 else f"{words:,} words"


def _short(text: str, limit: int = 200) -> str:
    """A provider's own sentence, cut to something a page can show."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
