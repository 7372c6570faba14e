"""Feedback on replies: a thumb up or down and an optional comment, one per reply and person."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import formats, timezone
from django.utils.translation import gettext

from conversations.models import Feedback, Message, MessageStatus
from conversations.services import Refused

COMMENT_MAX_CHARS = 2000


@dataclass(frozen=True)
class Given:
    """A reply's feedback as the chat shows it: `NONE_GIVEN` until there is some."""

    rating: str = ""
    comment: str = ""

    @property
    def up(self) -> bool:
        return self.rating == Feedback.Rating.UP

    @property
    def down(self) -> bool:
        return self.rating == Feedback.Rating.DOWN

    @property
    def comment_limit(self) -> int:
        return COMMENT_MAX_CHARS


NONE_GIVEN = Given()


def offered(message: Message) -> bool:
    """Feedback is for a reply that has ended with something to judge: not while it streams,
    nor on a failure that wrote nothing (its Retry is the way on)."""
    if message.role != Message.Role.ASSISTANT or message.is_streaming:
        return False
    return message.status == MessageStatus.COMPLETE or bool(message.text)


async def given_for(messages: Iterable[Message], *, user_id: int) -> dict[int, Given]:
    """What `user_id` gave on each of these messages that takes feedback, in one query (none
    when no message takes any): the chat's page of history reads it before rendering, since
    templates also render in async code, where they may not query."""
    ids = [m.pk for m in messages if offered(m)]
    if not ids:
        return {}
    rows = Feedback.objects.filter(message_id__in=ids, user_id=user_id)
    found = {
        message_id: Given(rating, comment)
        async for message_id, rating, comment in rows.values_list("message_id", "rating", "comment")
    }
    return {pk: found.get(pk, NONE_GIVEN) for pk in ids}


def check_rating(rating: str) -> str:
    if rating not in Feedback.Rating.values:
        raise Refused(gettext("Say whether the reply was good or bad."))
    return rating


def check_comment(text: str) -> str:
    text = text.strip()
    if len(text) > COMMENT_MAX_CHARS:
        count, limit = (
            formats.number_format(n, force_grouping=True) for n in (len(text), COMMENT_MAX_CHARS)
        )
        raise Refused(
            gettext(
                "That comment is %(count)s characters; the limit is %(limit)s. "
                "Nothing was saved: shorten it and send it again."
            )
            % {"count": count, "limit": limit}
        )
    return text


def _check_reply(message: Message) -> None:
    if not offered(message):
        raise Refused(gettext("Only a finished reply takes feedback."))


def feedback_rate(*, message: Message, user, rating: str) -> Given:
    """A thumb: given if there was none, changed if it was the other one, taken back (with its
    comment) if it was this one."""
    _check_reply(message)
    check_rating(rating)
    with transaction.atomic():
        feedback, made = Feedback.objects.select_for_update().get_or_create(
            message=message, user=user, defaults={"rating": rating}
        )
        if made:
            return Given(rating)
        if feedback.rating == rating:
            feedback.delete()
            return NONE_GIVEN
        feedback.rating = rating
        feedback.updated = timezone.now()
        feedback.save(update_fields=["rating", "updated"])
        return Given(feedback.rating, feedback.comment)


def feedback_comment(*, message: Message, user, rating: str, comment: str) -> Given:
    """The comment under a thumb (empty removes it). The form carries its thumb, so a comment
    sent after the thumb was taken back in another tab gives it again rather than failing."""
    _check_reply(message)
    check_rating(rating)
    comment = check_comment(comment)
    Feedback.objects.update_or_create(
        message=message,
        user=user,
        defaults={"rating": rating, "comment": comment, "updated": timezone.now()},
    )
    return Given(rating, comment)
