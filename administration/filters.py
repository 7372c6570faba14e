"""The filters of the admin's right-hand column (the widget filter is in widgets/filters.py)."""

from __future__ import annotations

import datetime
import itertools

from django.contrib import admin
from django.utils import timezone

from conversations.choices import available_choices
from conversations.models import Feedback
from webchat.admin_base import COUNT, bad_filter_value


class DateRangeFilter(admin.FieldListFilter):
    """`<field>__from` and `<field>__to` (inclusive days) from a small form of two date inputs."""

    template = "administration/date_range_filter.html"

    def __init__(self, field, request, params, model, model_admin, field_path):
        self.from_param = f"{field_path}__from"
        self.to_param = f"{field_path}__to"
        super().__init__(field, request, params, model, model_admin, field_path)
        self.start = _day(self.used_parameters.get(self.from_param))
        self.end = _day(self.used_parameters.get(self.to_param))

    def expected_parameters(self) -> list[str]:
        return [self.from_param, self.to_param]

    def has_output(self) -> bool:
        return True

    def queryset(self, request, queryset):
        bounds = {}
        if self.start is not None:
            bounds[f"{self.field_path}__gte"] = _midnight(self.start)
        if self.end is not None and self.end < datetime.date.max:  # else: no end at all
            bounds[f"{self.field_path}__lt"] = _midnight(self.end + datetime.timedelta(days=1))
        return queryset.filter(**bounds)

    def choices(self, changelist):
        # The template reads the form's state from here (Django's API for filter templates).
        yield {
            "from_param": self.from_param,
            "to_param": self.to_param,
            "from": self.start.isoformat() if self.start else "",
            "to": self.end.isoformat() if self.end else "",
            "others": [
                (key, value)
                for key, values in changelist.get_filters_params().items()
                if key not in (self.from_param, self.to_param)
                for value in (values if isinstance(values, list) else [values])
            ],
            "query": changelist.query,
            "clear_url": changelist.get_query_string(remove=[self.from_param, self.to_param]),
        }


def _day(value) -> datetime.date | None:
    if isinstance(value, list):
        value = value[-1] if value else None
    if not value:
        return None
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise bad_filter_value(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _midnight(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time()))


class ModelOrAgentFilter(admin.SimpleListFilter):
    """The configured models and agents: the options come from settings, not a DISTINCT scan."""

    title = "model or agent"
    parameter_name = "choice"

    def lookups(self, request, model_admin):
        return [
            (f"{c.kind}:{c.name}", f"{c.provider_label}: {c.label}") for c in available_choices()
        ]

    def queryset(self, request, queryset):
        kind, _, name = (self.value() or "").partition(":")
        if kind == "model":
            return queryset.filter(model=name, agent="")
        if kind == "agent":
            return queryset.filter(agent=name)
        return queryset


class FeedbackFilter(admin.SimpleListFilter):
    """Conversations by the feedback on their replies: a semi-join on the feedback table (small
    beside the conversations), never a count."""

    title = "feedback"
    parameter_name = "feedback"

    def lookups(self, request, model_admin):
        return [
            ("any", "Any feedback"),
            ("up", "Good"),
            ("down", "Bad"),
            ("comment", "With a comment"),
            ("none", "None"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        given = Feedback.objects.all()
        if value in Feedback.Rating.values:
            given = given.filter(rating=value)
        elif value == "comment":
            given = given.exclude(comment="")
        elif value not in ("any", "none"):
            raise bad_filter_value(
                f"{value!r} is not a kind of feedback (any, up, down, comment or none)"
            )
        conversations = given.values("message__conversation_id")
        if value == "none":
            return queryset.exclude(pk__in=conversations)
        return queryset.filter(pk__in=conversations)


class TrashFilter(admin.SimpleListFilter):
    """Conversations their owners moved to Trash (still here until it empties itself, or they
    delete them for good), or the others."""

    title = "trash"
    parameter_name = "trashed"

    def lookups(self, request, model_admin):
        return [("yes", "In Trash"), ("no", "Not in Trash")]

    def queryset(self, request, queryset):
        match self.value():
            case None:
                return queryset
            case "yes":
                return queryset.filter(trashed_at__isnull=False)
            case "no":
                return queryset.filter(trashed_at__isnull=True)
        raise bad_filter_value(f"{self.value()!r} is not a Trash state (yes or no)")


class OwnerFilter(admin.SimpleListFilter):
    """A user name typed in, not a list of every user (there may be thousands)."""

    title = "owner"
    parameter_name = "owner"
    template = "administration/owner_filter.html"

    def lookups(self, request, model_admin):
        return [("", "")]  # the template draws a text input instead of links

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(owner__username=self.value())
        return queryset

    def choices(self, changelist):
        yield {
            "value": self.value() or "",
            "parameter": self.parameter_name,
            "others": [
                (key, value)
                for key, values in changelist.get_filters_params().items()
                if key != self.parameter_name
                for value in (values if isinstance(values, list) else [values])
            ],
            "query": changelist.query,
        }


def bucket_filter(field: str, title: str, edges: list[int]) -> type[admin.SimpleListFilter]:
    """A filter of ranges of a number (`0`, `1-10`, …, `1000+`), for counts and tokens."""

    class Buckets(admin.SimpleListFilter):
        parameter_name = f"{field}_range"

        def lookups(self, request, model_admin):
            ranges = [(str(edges[0]), f"{edges[0]:,}")]
            for low, high in itertools.pairwise(edges):
                ranges.append((f"{low + 1}-{high}", f"{low + 1:,} to {high:,}"))
            ranges.append((f"{edges[-1] + 1}-", f"more than {edges[-1]:,}"))
            return ranges

        def queryset(self, request, queryset):
            if not self.value():
                return queryset
            low, dash, high = self.value().partition("-")
            if not COUNT.fullmatch(low) or (high and not COUNT.fullmatch(high)):
                raise bad_filter_value(
                    f"{self.value()!r} is not a range of {title} (such as 1-10 or 11-)"
                )
            if not dash:
                return queryset.filter(**{field: int(low)})
            bounds = {f"{field}__gte": int(low)}
            if high:
                bounds[f"{field}__lte"] = int(high)
            return queryset.filter(**bounds)

    Buckets.title = title
    return Buckets
