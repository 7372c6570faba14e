"""What every Webchat admin shares: the base classes, and two ways for an app to plug in.

Apps import downwards only: `upstream` <- `conversations` <- `administration`, `widgets`
(tests/test_layers.py holds the rule). `administration` and `widgets` each register their own
admin, and neither may import the other, so what both use lives here, in the project package,
and imports no app:

- `WebchatAdmin`: input a list cannot use is a 400 that says what was wrong.
- `AuditedAdmin`: adds, changes and deletes go to the audit trail. The trail (a model of
  `administration`) is written by the function administration/admin.py hands over when the
  admin modules are loaded (`keep_audit_trail_with`): the widgets' admin uses it without
  importing administration.
- `add_list_filter`: an app adds a filter to another app's list (the widget filter of the
  conversation list lives with the widgets; the conversation admin does not import them).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db.models import Model
from django.http import HttpRequest

from webchat.badinput import BadInput, parse_id


class WebchatAdmin(admin.ModelAdmin):
    """Our admins' base: input a list cannot use is a 400 that says what was wrong.

    Django answers a bad filter with a redirect to a page about a broken database
    installation, and a few inputs (selected ids that are not ids, a year past 9999 in the
    date hierarchy) with a 500.
    """

    def get_changelist_instance(self, request):
        try:
            return super().get_changelist_instance(request)
        except IncorrectLookupParameters as exc:
            raise BadInput(f"This list cannot be shown that way: {_lookup_problem(exc)}") from None
        except OverflowError:
            raise BadInput("This list cannot be shown that way: a date is out of range.") from None

    def response_action(self, request, queryset):
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            parse_id(value, what="selected row")
        return super().response_action(request, queryset)

    def get_list_filter(self, request):
        filters = list(super().get_list_filter(request))
        for after, extra in _added_filters.get(self.model._meta.label, ()):
            filters.insert(filters.index(after) + 1, extra)
        return filters


def _lookup_problem(exc: IncorrectLookupParameters) -> str:
    cause = exc.args[0] if exc.args else None
    if isinstance(cause, ValidationError):
        return " ".join(cause.messages)
    if cause is None:
        return "there is no such page."  # Django's paginator found none
    return str(cause)


# --- filters ----------------------------------------------------------------------------------

# ASCII digits only: str.isdigit() also says yes to "²", which int() refuses.
COUNT = re.compile(r"[0-9]{1,18}")


def bad_filter_value(message: str) -> IncorrectLookupParameters:
    """What a filter raises for a value it cannot use (the admin answers 400 with `message`)."""
    return IncorrectLookupParameters(ValidationError(message + "."))


# "app_label.Model" -> [(the filter it follows, the filter added)]
_added_filters: dict[str, list[tuple[object, object]]] = {}


def add_list_filter(model: str, list_filter, *, after) -> None:
    """Show `list_filter` in the list of `model` ("app_label.Model") right after `after`.

    For an app above the model's: its filter lives with it, and the model's admin (any
    `WebchatAdmin`) shows it without importing that app.
    """
    added = _added_filters.setdefault(model, [])
    if (after, list_filter) not in added:
        added.append((after, list_filter))


# --- the audit trail ------------------------------------------------------------------------

# (request, action "add" | "change" | "delete", the object, a summary) -> None
AuditTrail = Callable[[HttpRequest, str, Model, str], None]
_audit_trail: AuditTrail | None = None


def keep_audit_trail_with(write: AuditTrail) -> None:
    """The administration app hands over how to write its trail (administration/admin.py)."""
    global _audit_trail
    _audit_trail = write


def _audit(request: HttpRequest, action: str, obj: Model, summary: str) -> None:
    if _audit_trail is None:
        raise ImproperlyConfigured("An audited admin needs the administration app installed.")
    _audit_trail(request, action, obj, summary)


class AuditedAdmin(WebchatAdmin):
    """Every add, change and delete made through this admin also goes to the audit trail."""

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        _audit_log_entry(request, "add", obj, entry)
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        _audit_log_entry(request, "change", obj, entry)
        return entry

    def log_deletions(self, request, queryset):
        for obj in queryset:
            _audit(request, "delete", obj, f"Deleted {obj._meta.verbose_name} “{obj}”")
        return super().log_deletions(request, queryset)


def _audit_log_entry(request, action: str, obj, entry) -> None:
    what = entry.get_change_message() if entry is not None else ""
    verb = "Added" if action == "add" else "Changed"
    summary = f"{verb} {obj._meta.verbose_name} “{obj}”" + (f": {what}" if what else "")
    _audit(request, action, obj, summary)
