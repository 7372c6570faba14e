"""A widget: one agent or model, embeddable by the sites its owner allows, with its limits."""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from conversations.models import provider_choices
from conversations.providers import provider_for

if TYPE_CHECKING:
    from widgets.origins import Origin

ACCENT = re.compile(r"#[0-9a-fA-F]{6}")
PUBLIC_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}", re.ASCII)  # what new_public_key makes
# The variables `page_variables` sets from the visitor's page.
PAGE_VARIABLES = frozenset({"page", "language"})


def new_public_key() -> str:
    return "wk_" + secrets.token_urlsafe(12)


def new_secret() -> str:
    return secrets.token_urlsafe(32)


class Widget(models.Model):
    DEFAULT_ACCENT = "#2563eb"

    class Identity(models.TextChoices):
        OFF = "off", "Anonymous visitors only"
        OPTIONAL = "optional", "Verified identity when the site gives one"
        REQUIRED = "required", "Verified identity required"

    class Position(models.TextChoices):
        RIGHT = "right", "Bottom right"
        LEFT = "left", "Bottom left"

    class Theme(models.TextChoices):
        AUTO = "auto", "Follow the visitor's system"
        LIGHT = "light", "Light"
        DARK = "dark", "Dark"

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="widgets",
        help_text="Who looks after this widget. Visitors' conversations are not theirs: they "
        "belong to the widget and are read in the admin (each reading is audited).",
    )
    public_key = models.CharField(
        max_length=40,
        unique=True,
        default=new_public_key,
        help_text="In the snippet; not a secret.",
    )
    enabled = models.BooleanField(default=True)
    provider = models.CharField(max_length=16, choices=provider_choices)
    # Exactly one of the two, from the configured choices; visitors cannot change it.
    model = models.CharField(max_length=200, blank=True)
    agent = models.CharField(max_length=200, blank=True)
    # What the assistant is told besides the visitor's messages (conversations.assistant_settings):
    # each new visitor conversation starts with them, kept to what the provider takes.
    instructions = models.TextField(
        blank=True,
        help_text="How the assistant should answer: its role, tone, format. Taken by a Mistral "
        "model only (sent when each conversation starts); agents answer with their own.",
    )
    parameters = models.JSONField(
        default=dict,
        blank=True,
        help_text="Taken by a Mistral model only: temperature (0 to 2), top_p (0 to 1), "
        'max_tokens, as {"temperature": 0.3, "max_tokens": 500}. Orq conversations and '
        "agents take none.",
    )
    variables = models.JSONField(
        default=dict,
        blank=True,
        help_text="Taken by an Orq agent only: named text values its own instructions refer "
        'to, as {"shop_name": "Example shop"}.',
    )
    page_variables = models.BooleanField(
        default=False,
        help_text="Pass the visitor's page and language as variables `page` and `language` "
        "(an Orq agent only): the address of the page the conversation started on, and the "
        "widget's language.",
    )
    allowed_origins = models.TextField(
        blank=True,
        help_text="One per line, e.g. https://shop.example.com or https://*.example.com. "
        "Empty: the widget works on no site.",
    )
    title = models.CharField(max_length=100, default="Ask us anything")
    greeting = models.TextField(blank=True, default="Hello! How can I help?")
    starters = models.JSONField(
        default=list, blank=True, help_text="Up to four starter prompts shown to new visitors."
    )
    # Validated: it is written into the frame's style sheet and the launcher's.
    accent = models.CharField(
        max_length=7,
        default="#2563eb",
        validators=[RegexValidator(ACCENT, "A colour like #2563eb.")],
        help_text="A colour like #2563eb.",
    )
    position = models.CharField(max_length=8, choices=Position.choices, default=Position.RIGHT)
    theme = models.CharField(max_length=8, choices=Theme.choices, default=Theme.AUTO)
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="en")
    identity = models.CharField(max_length=10, choices=Identity.choices, default=Identity.OFF)
    secret = models.CharField(
        max_length=64,
        default=new_secret,
        help_text="Signs verified identities on the site owner's server. Keep it there.",
    )
    # Limits: each refusal shows `limit_message` to the visitor.
    max_message_chars = models.PositiveIntegerField(default=2000)
    messages_per_minute = models.PositiveIntegerField(default=6)
    visitor_tokens_per_day = models.PositiveIntegerField(default=20_000)
    tokens_per_day = models.PositiveIntegerField(
        default=1_000_000, help_text="The widget's budget."
    )
    new_visitors_per_hour = models.PositiveIntegerField(
        default=20, help_text="New visitor tokens one address may get in an hour."
    )
    limit_message = models.TextField(
        default="You have reached this chat's limit for now. Please try again later."
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from conversations.choices import choice_of, kind_and_name

        if bool(self.model) == bool(self.agent):
            raise ValidationError("Choose a model or an agent (one of the two).")
        if choice_of(self) is None:
            kind, name = kind_and_name(self.model, self.agent)
            raise ValidationError(
                f"{provider_for(self.provider).label} {kind} {name!r} is not offered here."
            )
        if self.max_message_chars > settings.WEBCHAT_MAX_MESSAGE_CHARS:
            # The socket's frame size is set for the site-wide limit: a longer message would be
            # closed by the server instead of answered in words.
            raise ValidationError(
                {
                    "max_message_chars": "At most "
                    f"{settings.WEBCHAT_MAX_MESSAGE_CHARS:,} characters "
                    "(WEBCHAT_MAX_MESSAGE_CHARS, the site-wide limit)."
                }
            )
        if len(self.starters) > 4 or not all(isinstance(s, str) for s in self.starters):
            raise ValidationError({"starters": "At most four starter prompts, as text."})
        from widgets.origins import parse_origins

        parse_origins(self.allowed_origins)  # raises ValidationError naming a bad line
        self.clean_assistant_settings()

    def clean_assistant_settings(self) -> None:
        """Nothing its provider would not take for its model or agent (the admin says why)."""
        from conversations.assistant_settings import check_record, takes_of

        # A JSON field the admin left empty: nothing, as the columns keep it.
        self.parameters = {} if self.parameters in (None, "") else self.parameters
        self.variables = {} if self.variables in (None, "") else self.variables
        try:
            check_record(self)
        except ValidationError as refusal:
            # A provider that takes the rest says no reason for what it does not (its why_not
            # is empty): say it here rather than show an empty error.
            raise ValidationError(
                {
                    name: [str(m) or self.not_taken(name) for m in messages]
                    for name, messages in refusal.message_dict.items()
                }
            ) from None
        if self.page_variables:
            takes = takes_of(self)
            if not takes.variables:
                raise ValidationError(
                    {"page_variables": takes.why_not or self.not_taken("variables")}
                )
            taken = sorted(PAGE_VARIABLES & set(self.variables))
            if taken:
                raise ValidationError(
                    {
                        "variables": f"{' and '.join(taken)}: set from the visitor's page "
                        "here. Name yours otherwise, or pass no page variables."
                    }
                )

    def not_taken(self, name: str) -> str:
        from conversations.choices import kind_and_name

        kind, _name = kind_and_name(self.model, self.agent)
        return f"A {provider_for(self.provider).name} {kind} takes no {name} here."

    def page_variables_for(self, *, page: str) -> dict[str, str]:
        """The variables a visitor's page adds, when the widget passes them (else none)."""
        if not self.page_variables:
            return {}
        return {"page": page, "language": self.language}

    @property
    def safe_accent(self) -> str:
        """The accent, or the default if a row bypassed validation: it goes into CSS."""
        return self.accent if ACCENT.fullmatch(self.accent or "") else self.DEFAULT_ACCENT

    @property
    def origins(self) -> list[Origin]:
        """What the server acts on: a line that bypassed validation and does not parse is left out."""
        from widgets.origins import usable_origins

        return usable_origins(self.allowed_origins)


class LimitHit(models.Model):
    """A visitor refused by a limit: what the admin shows (at most one row a minute per kind)."""

    widget = models.ForeignKey(Widget, on_delete=models.CASCADE, related_name="limit_hits")
    kind = models.CharField(max_length=32)
    visitor = models.CharField(max_length=100, blank=True)
    address = models.GenericIPAddressField(null=True, blank=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.kind} at {self.at:%Y-%m-%d %H:%M}"
