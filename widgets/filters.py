"""The widget filter of the admin's conversation list: it lives with the widgets.

widgets/admin.py adds it to that list (`webchat.admin_base.add_list_filter`): the conversation
admin (administration) shows it without importing widgets (tests/test_layers.py).
"""

from __future__ import annotations

from django.contrib import admin

from webchat.admin_base import COUNT, bad_filter_value
from widgets.models import Widget


class WidgetFilter(admin.SimpleListFilter):
    """The widgets (a short table), not a DISTINCT over every conversation."""

    title = "widget"
    parameter_name = "widget"

    def lookups(self, request, model_admin):
        return [(str(w.pk), w.name) for w in Widget.objects.order_by("name")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        if not COUNT.fullmatch(self.value()):
            raise bad_filter_value(f"{self.value()!r} is not the number of a widget")
        return queryset.filter(widget_id=int(self.value()))
