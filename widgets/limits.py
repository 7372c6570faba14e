"""The widget's abuse limits. Each refusal shows the owner's message and is noted for the admin.

Checked before anything is saved, so a refused message leaves nothing behind. Counters of
messages and new visitors live in Django's cache (Redis when `REDIS_URL` is set); tokens are
summed from what replies reported today, so they cannot drift from the usage page.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from conversations.models import Message
from conversations.services import Refused
from widgets.models import LimitHit, Widget


def check_message(widget: Widget, text: str, *, visitor: str, address: str | None) -> None:
    if not text.strip():
        raise Refused(_("Type a message first."))
    limit = min(widget.max_message_chars, settings.WEBCHAT_MAX_MESSAGE_CHARS)
    if len(text) > limit:
        _hit(widget, "message_length", visitor, address)
        raise Refused(
            _("%(message)s (At most %(count)d characters.)")
            % {"message": widget.limit_message, "count": limit}
        )
    check_turn(widget, visitor=visitor, address=address)


def check_turn(widget: Widget, *, visitor: str, address: str | None) -> None:
    """Before any new reply (a message or a regenerate): the rate and the token budgets."""
    window = int(time.time() // 60)
    if _count(f"widget:{widget.pk}:sends:{visitor}:{window}", 120) > widget.messages_per_minute:
        _hit(widget, "messages_per_minute", visitor, address)
        raise Refused(widget.limit_message)
    if _tokens_today(widget, Q(conversation__visitor=visitor)) >= widget.visitor_tokens_per_day:
        _hit(widget, "visitor_tokens_per_day", visitor, address)
        raise Refused(widget.limit_message)
    if _tokens_today(widget, Q()) >= widget.tokens_per_day:
        _hit(widget, "tokens_per_day", visitor, address)
        raise Refused(widget.limit_message)


def check_new_visitor(widget: Widget, address: str | None) -> None:
    hour = int(time.time() // 3600)
    if _count(f"widget:{widget.pk}:visitors:{address}:{hour}", 7200) > widget.new_visitors_per_hour:
        _hit(widget, "new_visitors_per_hour", "", address)
        raise Refused(widget.limit_message)


def _tokens_today(widget: Widget, who: Q) -> int:
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    used = Message.objects.filter(
        who, conversation__widget=widget, completed__gte=midnight
    ).aggregate(total=Coalesce(Sum("usage_input"), 0) + Coalesce(Sum("usage_output"), 0))["total"]
    return used or 0


def _count(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
        return 1


def _hit(widget: Widget, kind: str, visitor: str, address: str | None) -> None:
    # One row a minute per widget and kind: enough to see when limits bite, not a flood.
    if cache.add(f"widget:{widget.pk}:hit:{kind}:{int(time.time() // 60)}", 1, timeout=120):
        LimitHit.objects.create(widget=widget, kind=kind, visitor=visitor, address=address)
