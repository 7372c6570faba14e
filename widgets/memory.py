"""What an agent remembers a returning widget visitor by (Orq agents' `memory` and `thread`).

Only a verified visitor: the site's signed identity names the same person on every device and
visit. An anonymous visitor's id is a random one in one browser's storage, so no memory is
kept for it (a shared computer's next visitor would be remembered as them).
"""

from __future__ import annotations

from widgets.tokens import is_verified


def memory_key(conversation) -> str | None:
    """The stable id of a widget conversation's verified visitor, for that widget (one widget's
    visitors are not remembered by another's agent); None for anyone else's conversation."""
    if conversation.widget_id is None or not is_verified(conversation.visitor or ""):
        return None
    return f"widget-{conversation.widget_id}-{conversation.visitor}"
