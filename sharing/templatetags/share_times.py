"""How long ago something happened to a link, in the reader's language: `{{ when|ago }}`."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone
from django.utils.translation import gettext

register = template.Library()


@register.filter
def ago(when: datetime | None) -> str:
    """naturaltime ("3 minutes ago"), but "just now" for this very second: "made now" reads
    as an order, not a time."""
    if when is None:
        return ""
    if abs((timezone.now() - when).total_seconds()) < 1:
        return gettext("just now")
    return naturaltime(when)
