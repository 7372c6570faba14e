"""The daily usage rollup: one row per day, user (or widget), provider, model and origin."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone

from conversations.models import Conversation, DailyUsage, Message, MessageStatus

CHARS_PER_TOKEN = 4  # a rough, conventional estimate for English text


def record_reply(reply: Message, conversation: Conversation) -> None:
    """Count a finished reply into its day (call inside the transaction that finishes it)."""
    if reply.status == MessageStatus.STREAMING:
        return
    reported = reply.usage_input is not None or reply.usage_output is not None
    if reported:
        tokens_in, tokens_out = reply.usage_input or 0, reply.usage_output or 0
    else:
        prompt = (
            conversation.messages.filter(role=Message.Role.USER, pk__lt=reply.pk)
            .order_by("-pk")
            .values_list("text", flat=True)
            .first()
        )
        tokens_in = estimate_tokens(prompt or "")
        tokens_out = estimate_tokens(reply.text)
    if continued := reply.continued:
        # Continued after its length limit: what it had cost is counted already.
        before = continued[-1]["before"]
        tokens_in, tokens_out = max(0, tokens_in - before[0]), max(0, tokens_out - before[1])
    day = timezone.localdate(reply.completed or timezone.now())
    key = {
        "day": day,
        # A widget visitor's reply counts as the widget's (no owner), never a person's.
        "owner_id": conversation.owner_id,
        "provider": conversation.provider,
        # An agent's replies count under the agent (whatever model it ran on), so one agent's
        # usage is one row a day; a model's under the model the provider reported.
        "model": conversation.agent or reply.model or conversation.model,
        "origin": conversation.origin,
        "widget_id": conversation.widget_id,
    }
    # First of any: a deleted widget's rows (no owner, no widget) are not unique.
    row = DailyUsage.objects.filter(**key).order_by("pk").first()
    if row is None:
        row, _ = DailyUsage.objects.get_or_create(**key)
    DailyUsage.objects.filter(pk=row.pk).update(
        replies=F("replies") + 1,
        failures=F("failures")
        + int(reply.status in (MessageStatus.FAILED, MessageStatus.INTERRUPTED)),
        tokens_in=F("tokens_in") + tokens_in,
        tokens_out=F("tokens_out") + tokens_out,
        estimated_replies=F("estimated_replies") + int(not reported),
    )


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN
