"""Presets: a named model or agent with its instructions and parameters, to start chats from.

The team's (made by administrators in the admin) come first, then the person's own. A preset
whose model or agent is no longer offered is not listed; one is never applied past what its
provider takes.
"""

from __future__ import annotations

from django.db import IntegrityError
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext

from conversations.assistant_settings import AssistantSettings, takes_of
from conversations.choices import Choice, choice_of
from conversations.models import Preset

PREFIX = "preset:"
NAME_MAX = Preset._meta.get_field("name").max_length
# A person's own presets, at most.
MAX_PER_PERSON = 100


def presets_for(user) -> list[tuple[Preset, Choice]]:
    """The presets a person may start from, the team's first, with the choice each names."""
    rows = Preset.objects.filter(Q(owner__isnull=True) | Q(owner=user)).order_by(
        F("owner").asc(nulls_first=True), "name", "id"
    )
    return [(preset, choice) for preset in rows if (choice := choice_of(preset)) is not None]


def value_of(preset: Preset) -> str:
    """The preset as a value of the new chat's picker."""
    return f"{PREFIX}{preset.pk}"


def preset_for(user, value: str) -> tuple[Preset, Choice] | None:
    """The team's or the person's preset a picker value names, with its choice, if offered."""
    if not value.startswith(PREFIX) or not value[len(PREFIX) :].isdigit():
        return None
    preset = Preset.objects.filter(
        Q(owner__isnull=True) | Q(owner=user), pk=int(value[len(PREFIX) :])
    ).first()
    choice = choice_of(preset) if preset is not None else None
    return (preset, choice) if choice is not None else None


def settings_of(preset: Preset) -> AssistantSettings:
    return AssistantSettings.of(preset).kept_for(takes_of(preset))


def preset_save(*, owner, name: str, conversation) -> Preset:
    """A person's preset made from a conversation's model or agent and settings (one of the
    same name is replaced)."""
    from conversations.services import Refused

    name = " ".join(name.split())
    if not name:
        raise Refused(gettext("Name the preset first."))
    if len(name) > NAME_MAX:
        raise Refused(
            gettext("A preset's name is at most %(limit)s characters.") % {"limit": NAME_MAX}
        )
    fields = {
        "provider": conversation.provider,
        "model": "" if conversation.agent else conversation.model,
        "agent": conversation.agent,
        **AssistantSettings.of(conversation).kept_for(takes_of(conversation)).as_fields(),
        "updated": timezone.now(),
    }
    existing = Preset.objects.filter(owner=owner, name=name).first()
    if existing is None and Preset.objects.filter(owner=owner).count() >= MAX_PER_PERSON:
        raise Refused(
            gettext("You have %(limit)s presets: delete one first.") % {"limit": MAX_PER_PERSON}
        )
    try:
        preset, _ = Preset.objects.update_or_create(owner=owner, name=name, defaults=fields)
    except IntegrityError:  # saved by another request meanwhile: that one stands
        preset = Preset.objects.get(owner=owner, name=name)
    return preset


def preset_delete(*, owner, pk: int) -> bool:
    """Delete a person's own preset (a team preset is the admin's); False if none."""
    deleted, _ = Preset.objects.filter(owner=owner, pk=pk).delete()
    return bool(deleted)
