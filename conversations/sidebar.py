"""The sidebar's dated groups (Today, Yesterday, …, then months), in the reader's time zone.

The server keeps times in UTC, but "today" is the reader's: a conversation from 23:30 in
Auckland is today there and yesterday in UTC. So the pages are still grouped here, on the
server (no list rebuilt in the browser), with the reader's IANA time zone, which
static/js/timezone.js keeps in a cookie from the sign-in page on. A zone name rather than an
offset, so that days and months across a change to or from summer time are the reader's too.
Without the cookie (the very first page of a browser), the groups follow settings.TIME_ZONE
until the script has set it, and it then asks for the sidebar again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

ZONE_COOKIE = "webchat_tz"
# "UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Etc/GMT+5": nothing else reaches
# the zone database (no dots, so no way out of its folder).
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}")


@dataclass(frozen=True)
class Group:
    key: str  # what the page compares (static/js/chat.js hides a heading repeated by a swap)
    label: str


TODAY = Group("today", _("Today"))
YESTERDAY = Group("yesterday", _("Yesterday"))
WEEK = Group("week", _("Previous 7 days"))
MONTH = Group("month", _("Previous 30 days"))


def zone_of(request) -> tzinfo:
    """The reader's time zone, from the cookie; the site's own for a missing or unknown one."""
    name = request.COOKIES.get(ZONE_COOKIE, "")
    if len(name) <= 64 and _ZONE_NAME.fullmatch(name):
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "America" is a folder
            pass
    return timezone.get_default_timezone()


def group_of(moment: datetime, *, today: date, zone: tzinfo) -> Group:
    """The dated group of a conversation last active at `moment`, seen on `today` in `zone`."""
    day = moment.astimezone(zone).date()
    if day >= today:  # a clock a little ahead counts as today, not as a month to come
        return TODAY
    if day == today - timedelta(days=1):
        return YESTERDAY
    if day >= today - timedelta(days=7):
        return WEEK
    if day >= today - timedelta(days=30):
        return MONTH
    month = day.replace(day=1)
    return Group(month.strftime("%Y-%m"), date_format(month, "F Y"))


def with_headings(
    conversations: Iterable, *, zone: tzinfo, after: datetime | None = None, now=None
) -> list[tuple[Group | None, object]]:
    """Each conversation (newest first) with the heading of the group it begins, or None.

    `after` is the time of the last conversation the page already shows (the cursor's): its
    group is on the page already, so a page that goes on in the same group repeats no heading.
    """
    today = (now or timezone.now()).astimezone(zone).date()
    shown = group_of(after, today=today, zone=zone) if after is not None else None
    rows = []
    for conversation in conversations:
        group = group_of(conversation.updated, today=today, zone=zone)
        rows.append((group if group != shown else None, conversation))
        shown = group
    return rows
