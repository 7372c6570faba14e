"""The chat's Instructions panel (instructions, parameters, variables, model) and presets."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from conversations import presets
from conversations.assistant_settings import (
    AssistantSettings,
    AssistantSettingsForm,
    conversation_configure,
    model_choices,
    takes_of,
)
from conversations.choices import choice_for
from conversations.services import Refused, owned_or_404

PANEL = "conversations/instructions.html"


def _panel(request, conversation, *, form=None, error="", said="", status=200):
    takes = takes_of(conversation)
    context = {
        "conversation": conversation,
        "form": form or AssistantSettingsForm.showing(AssistantSettings.of(conversation), takes),
        "takes": takes,
        "models": model_choices(conversation),
        "read_only": conversation.trashed_at is not None or conversation.upstream_gone is not None,
        "error": error,
        "said": said,
    }
    template = f"{PANEL}#panel" if request.htmx else PANEL
    return render(request, template, context, status=status)


@login_required
@require_GET
def instructions_panel(request, pk):
    return _panel(request, owned_or_404(request.user, pk))


@login_required
@require_POST
def conversation_configure_view(request, pk):
    conversation = owned_or_404(request.user, pk)
    if conversation.trashed_at is not None or conversation.upstream_gone is not None:
        return _panel(
            request, conversation, error=gettext("This conversation is read only."), status=422
        )
    form = AssistantSettingsForm(request.POST, takes=takes_of(conversation))
    if not form.is_valid():
        return _panel(request, conversation, form=form, status=422)
    try:
        said = conversation_configure(
            conversation=conversation, settings=form.result, model=request.POST.get("model", "")
        )
    except Refused as refusal:
        return _panel(request, conversation, form=form, error=str(refusal), status=422)
    if not request.htmx:
        return redirect("conversations:instructions", pk)
    return _panel(request, conversation, said=said)


@login_required
@require_POST
def preset_save_view(request, pk):
    """A preset of this conversation's model or agent and settings, as saved."""
    conversation = owned_or_404(request.user, pk)
    try:
        preset = presets.preset_save(
            owner=request.user, name=request.POST.get("name", ""), conversation=conversation
        )
    except Refused as refusal:
        return _panel(request, conversation, error=str(refusal), status=422)
    if not request.htmx:
        return redirect("conversations:instructions", pk)
    said = gettext("Saved as the preset “%(name)s”: pick it when you start a new chat.") % {
        "name": preset.name
    }
    return _panel(request, conversation, said=said)


@login_required
@require_POST
def preset_delete_view(request, preset_pk):
    if not presets.preset_delete(owner=request.user, pk=preset_pk):
        raise Http404("No such preset.")
    if not request.htmx:
        return redirect("conversations:index")
    return new_chat_fields(request)


@login_required
@require_GET
def new_chat_fields(request):
    """The new chat's settings for the picked model, agent or preset (a preset fills them)."""
    value = request.GET.get("choice", "")
    preset = None
    found = presets.preset_for(request.user, value)
    if found is not None:
        preset, choice = found
        current = presets.settings_of(preset)
    else:
        choice = choice_for(value)
        current = AssistantSettings()
    if choice is None:
        return render(request, f"{PANEL}#new-fields", {"form": None})
    takes = choice.takes
    context = {
        "form": AssistantSettingsForm.showing(current, takes),
        "takes": takes,
        "preset": preset,
        "new_chat": True,
    }
    return render(request, f"{PANEL}#new-fields", context)
