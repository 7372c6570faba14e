"""Upstream failures in a person's words: what the page says, and the detail kept for the log.

The typed errors of the upstream layer carry the transport's own words ("peer closed connection
without sending complete message body", a quoted malformed event): right for a log and for the
admin's transcript, wrong for the person waiting for an answer. The page says what happened and
what to do; `detail` keeps the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import formats
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

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
            message = _("%(provider)s could not find something this reply needs. Try again.")
        case StreamBroken():
            if words:
                message = _(
                    "The connection to %(provider)s broke after %(so_far)s. What arrived is kept."
                )
            else:
                message = _("The connection to %(provider)s broke before the reply began.")
        case BadResponse():
            if words:
                message = _(
                    "%(provider)s sent something we could not read, after %(so_far)s. What "
                    "arrived is kept."
                )
            else:
                message = _("%(provider)s sent something we could not read.")
        case Unavailable(status=429):
            message = _(
                "%(provider)s is busy right now (too many requests). Try again in a moment."
            )
        case Unavailable(status=int(status)) if status >= 500:
            message = _("%(provider)s had a problem on its side. Try again in a moment.")
        case Unavailable():
            message = _("%(provider)s did not answer in time. Try again in a moment.")
        case NotConfigured():
            message = _(
                "Its provider (%(key)s) is no longer configured here, so it cannot be "
                "reached: an administrator can add it back. What is here stays readable."
            )
        case Rejected(status=401 | 403):
            message = _(
                "%(provider)s refused Webchat's API key. An administrator needs to check it."
            )
        case Rejected():
            message = _("%(provider)s refused the request: %(why)s")
        case _:
            message = _("%(provider)s did not finish the reply.")
    words_said = {"provider": name, "so_far": so_far, "key": exc.provider}
    if isinstance(exc, Rejected):
        words_said["why"] = _short(exc.message)
    return Explained(message % words_said, str(exc))


def explain_provider_error(provider: str, message: str, code: str | None) -> Explained:
    """A stream that ended with the provider's own error event."""
    name = provider_name(provider)
    detail = f"{provider}: error event: {message}" + (f" (code {code})" if code else "")
    said = _("%(provider)s stopped with an error: %(why)s")
    return Explained(said % {"provider": name, "why": _short(message)}, detail)


def _so_far(words: int) -> str:
    return ngettext("%(count)s word", "%(count)s words", words) % {"count": _number(words)}


def _number(count: int) -> str:
    return formats.number_format(count, force_grouping=True)


def _short(text: str, limit: int = 200) -> str:
    """A provider's own sentence, cut to something a page can show."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
