"""What the assistant is told besides the messages: instructions, parameters and variables.

A conversation, a preset and a widget each keep them (fields `instructions`, `parameters`,
`variables`), always cut down to what their provider takes for their model or agent (the
adapter's `takes`): nothing is kept that would not be sent, so nothing pretends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django import forms
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from conversations.choices import kind_and_name
from conversations.models import Conversation
from conversations.providers import Takes, provider_for

PARAMETERS = ("temperature", "top_p", "max_tokens")
MAX_VARIABLES = 20
VARIABLE_VALUE_CHARS = 1000
_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class AssistantSettings:
    instructions: str = ""
    parameters: dict = field(default_factory=dict)
    variables: dict = field(default_factory=dict)

    @classmethod
    def of(cls, record) -> AssistantSettings:
        """Those a conversation, preset or widget keeps."""
        return cls(
            instructions=record.instructions or "",
            parameters=dict(record.parameters or {}),
            variables=dict(record.variables or {}),
        )

    def kept_for(self, takes: Takes) -> AssistantSettings:
        """Only what the provider takes for that model or agent."""
        return AssistantSettings(
            instructions=self.instructions if takes.instructions else "",
            parameters={k: v for k, v in self.parameters.items() if k in PARAMETERS}
            if takes.parameters
            else {},
            variables=self.variables if takes.variables else {},
        )

    def as_fields(self) -> dict:
        return {
            "instructions": self.instructions,
            "parameters": self.parameters,
            "variables": self.variables,
        }

    @property
    def sent(self) -> dict | None:
        """What a reply was produced with (the transcript shows it), or None for nothing."""
        kept = {name: value for name, value in self.as_fields().items() if value}
        return kept or None


def takes_of(record) -> Takes:
    """What the provider takes for the record's model or agent."""
    kind, _name = kind_and_name(record.model, record.agent)
    return provider_for(record.provider).takes(kind)


def variables_text(variables: dict) -> str:
    """Variables as the form shows them: one `name = value` a line."""
    return "\n".join(f"{name} = {value}" for name, value in variables.items())


def parse_variables(text: str) -> dict[str, str]:
    """`name = value` lines into variables; raises ValidationError saying which line is wrong."""
    variables: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        name, equals, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not equals or not _VARIABLE_NAME.fullmatch(name):
            raise forms.ValidationError(
                gettext(
                    "Line %(line)s: write each variable as name = value, the name in letters, "
                    "digits and underscores."
                )
                % {"line": number}
            )
        if len(value) > VARIABLE_VALUE_CHARS:
            raise forms.ValidationError(
                gettext("Line %(line)s: a value is at most %(limit)s characters.")
                % {"line": number, "limit": VARIABLE_VALUE_CHARS}
            )
        variables[name] = value
    if len(variables) > MAX_VARIABLES:
        raise forms.ValidationError(
            gettext("At most %(limit)s variables.") % {"limit": MAX_VARIABLES}
        )
    return variables


class AssistantSettingsForm(forms.Form):
    """The panel's fields. What the provider does not take is disabled (Django then ignores
    whatever a browser sends for it) and the panel says why."""

    instructions = forms.CharField(
        required=False,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 4}),
        label=_("Instructions"),
        help_text=_("How the assistant should answer: its role, tone, format."),
    )
    temperature = forms.FloatField(
        required=False,
        min_value=0,
        max_value=2,
        label=_("Temperature"),
        help_text=_("0 to 2: lower is steadier, higher more varied."),
        widget=forms.NumberInput(attrs={"step": "0.1"}),
    )
    top_p = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        label=_("Top-p"),
        help_text=_("0 to 1: the share of likely words it picks from."),
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )
    max_tokens = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=131_072,
        label=_("Max tokens"),
        help_text=_("The longest reply, in tokens; a reply cut there can be continued."),
    )
    variables = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=_("Variables"),
        help_text=_("One name = value a line, for the agent's own instructions."),
    )

    def __init__(self, *args, takes: Takes, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.takes = takes
        self.fields["instructions"].max_length = settings.WEBCHAT_MAX_MESSAGE_CHARS
        offered = {
            "instructions": takes.instructions,
            "temperature": takes.parameters,
            "top_p": takes.parameters,
            "max_tokens": takes.parameters,
            "variables": takes.variables,
        }
        for name, able in offered.items():
            self.fields[name].disabled = not able

    @classmethod
    def showing(cls, current: AssistantSettings, takes: Takes, **kwargs) -> AssistantSettingsForm:
        initial = {
            "instructions": current.instructions,
            **{name: current.parameters.get(name) for name in PARAMETERS},
            "variables": variables_text(current.variables),
        }
        return cls(takes=takes, initial=initial, **kwargs)

    def clean_variables(self) -> dict[str, str]:
        return parse_variables(self.cleaned_data.get("variables") or "")

    @property
    def result(self) -> AssistantSettings:
        """The settings the valid form says, kept to what the provider takes."""
        data = self.cleaned_data
        return AssistantSettings(
            instructions=data.get("instructions") or "",
            parameters={name: data[name] for name in PARAMETERS if data.get(name) is not None},
            variables=data.get("variables") or {},
        ).kept_for(self.takes)


def started_with(conversation) -> dict:
    """What an upstream conversation starting now is started with (kept as `upstream_settings`,
    so a later change the provider cannot apply to it is known)."""
    return {
        "model": conversation.model,
        "instructions": conversation.instructions,
        "parameters": dict(conversation.parameters or {}),
    }


def model_choices(conversation) -> list[str]:
    """The models a conversation may go on with: its provider's, when it talks to a model and
    the provider lets the model change (per turn, or in a new conversation)."""
    if conversation.agent or not takes_of(conversation).model_change:
        return []
    return list(provider_for(conversation.provider).models())


def conversation_configure(*, conversation, settings: AssistantSettings, model: str = "") -> str:
    """Keep new instructions, parameters and variables (and another model, where allowed) for
    the turns to come; returns what the panel says about when they apply."""
    from conversations.services import Refused

    if model and model != conversation.model:
        if model not in model_choices(conversation):
            raise Refused(gettext("Pick one of this provider's offered models."))
    changed = settings.kept_for(takes_of(conversation)).as_fields()
    if model:
        changed["model"] = model
    fields = list(changed)
    with transaction.atomic():
        # Read under the lock: a first reply may be recording the upstream conversation it
        # started (runner._record_start) at this very moment.
        current = Conversation.objects.select_for_update().get(pk=conversation.pk)
        conversation.upstream_id = current.upstream_id
        conversation.upstream_settings = current.upstream_settings
        if conversation.upstream_id and not conversation.upstream_settings:
            # Begun before its settings were kept: what it runs with upstream is what it had.
            conversation.upstream_settings = started_with(current)
            fields.append("upstream_settings")
        for name, value in changed.items():
            setattr(conversation, name, value)
        conversation.save(update_fields=fields)
    because = conversation.adapter.reseed_because(conversation)
    if because:
        return gettext(
            "Saved. %(because)s, so your next message starts a new %(provider)s conversation "
            "that is given the earlier turns."
        ) % {"because": because, "provider": conversation.provider_name}
    return gettext("Saved. They apply from your next message.")


_RANGES = {"temperature": (0, 2, float), "top_p": (0, 1, float), "max_tokens": (1, 131_072, int)}


def check_record(record) -> None:
    """A preset's or widget's model or agent and settings, as the admin saves them: offered,
    and nothing its provider would not take (an admin is told, never silently cut)."""
    from conversations.choices import choice_of

    problems: dict[str, str] = {}
    if bool(record.model) == bool(record.agent):
        problems["model"] = gettext("Name a model or an agent, not both.")
    elif choice_of(record) is None:
        field_name = "agent" if record.agent else "model"
        problems[field_name] = gettext("Not offered here: pick a configured model or agent.")
    if problems:
        raise forms.ValidationError(problems)
    takes = takes_of(record)
    provider = provider_for(record.provider).name

    def not_taken(what: str) -> str:
        return takes.why_not or gettext("%(provider)s takes no %(what)s here.") % {
            "provider": provider,
            "what": what,
        }

    if record.instructions and not takes.instructions:
        problems["instructions"] = not_taken(gettext("instructions"))
    parameters = record.parameters or {}
    if not isinstance(parameters, dict):
        problems["parameters"] = gettext('An object, such as {"temperature": 0.3}.')
    elif parameters and not takes.parameters:
        problems["parameters"] = not_taken(gettext("parameters"))
    else:
        for name, value in parameters.items():
            if name not in _RANGES:
                problems["parameters"] = gettext(
                    "Only temperature, top_p and max_tokens, not %(name)s."
                ) % {"name": name}
                break
            low, high, kind = _RANGES[name]
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not (low <= value <= high)
                or (kind is int and not isinstance(value, int))
            ):
                problems["parameters"] = gettext(
                    "%(name)s is a number from %(low)s to %(high)s."
                ) % {"name": name, "low": low, "high": high}
                break
    variables = record.variables or {}
    if not isinstance(variables, dict):
        problems["variables"] = gettext('An object, such as {"customer_name": "Jane"}.')
    elif variables and not takes.variables:
        problems["variables"] = not_taken(gettext("variables"))
    else:
        try:
            parse_variables("\n".join(f"{name} = {value}" for name, value in variables.items()))
        except forms.ValidationError as exc:
            problems["variables"] = " ".join(exc.messages)
        if any(not isinstance(value, str) for value in variables.values()):
            problems["variables"] = gettext("Each variable's value is text.")
    if problems:
        raise forms.ValidationError(problems)
