"""Forms of the team chat whose fields are checked on the server: a person's settings."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from conversations.choices import choice_for
from conversations.models import UserSettings


class UserSettingsForm(forms.Form):
    """Each field says what was wrong in words; the template renders the fields itself (radio
    groups in fieldsets, and the new chat's grouped choices)."""

    theme = forms.ChoiceField(
        choices=UserSettings.Theme.choices,
        error_messages={
            "required": _("Pick a theme: the system's, light or dark."),
            "invalid_choice": _("Pick a theme: the system's, light or dark."),
        },
    )
    default_choice = forms.CharField(required=False, max_length=300, strip=True)
    send_key = forms.ChoiceField(
        choices=UserSettings.SendKey.choices,
        error_messages={
            "required": _("Pick which key sends a message: Enter, or Ctrl+Enter."),
            "invalid_choice": _("Pick which key sends a message: Enter, or Ctrl+Enter."),
        },
    )
    language = forms.ChoiceField(
        choices=UserSettings.Language.choices,
        required=False,
        error_messages={
            "invalid_choice": _("Pick English, French, or the browser's language."),
        },
    )

    def clean_default_choice(self) -> str:
        value = self.cleaned_data["default_choice"]
        if value and choice_for(value) is None:
            raise forms.ValidationError(
                _("Pick one of the offered models or agents, or the site's default.")
            )
        return value

    @classmethod
    def of(cls, saved: UserSettings) -> UserSettingsForm:
        """The form showing what is saved (a default no longer offered shows the site's)."""
        current = saved.default_choice if choice_for(saved.default_choice) else ""
        return cls(
            initial={
                "theme": saved.theme,
                "default_choice": current,
                "send_key": saved.send_key,
                "language": saved.language,
            }
        )
