"""Search inside one's messages on PostgreSQL: full text (websearch syntax) through the GIN
index, both ways it reads (few matches: sorted; many: the newest conversations in batches),
only the owner's shown messages. Run in a child process against a scratch database."""

from __future__ import annotations

import pytest

from tests.scripts import run_script

SCRIPT = """
import json
from datetime import timedelta

import django
django.setup()
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone

from conversations import message_search
from conversations.models import Conversation, Message

call_command("migrate", verbosity=0)
now = timezone.now()
alice, bob = User.objects.create(username="alice"), User.objects.create(username="bob")
for owner in (alice, bob):
    for i in range(40):
        c = Conversation.objects.create(owner=owner, provider="mistral", model="m",
                                        title=f"{owner.username} {i}",
                                        updated=now - timedelta(minutes=40 - i))
        Message.objects.bulk_create([
            Message(conversation=c, role="user", text=f"common words here, topic{i % 7} and the cats"),
            Message(conversation=c, role="assistant", text=f"a reply about gardens {owner.username}{i}"),
        ])
hidden = Message.objects.create(conversation=c, role="assistant", text="unicorn hidden")
Message.objects.filter(pk=hidden.pk).update(stash=hidden)


def found(query):
    return [(h.title, str(h.snippet)) for h in message_search.search(alice, query)]

results = {
    "rare": found("alice7"),
    "phrase": found('"about gardens"'),
    "not": found("topic3 -cats"),
    "stemless": found("cat"),
    "hidden": found("unicorn"),
    "few path": found("topic3"),
}
message_search.FEW = 5  # many matches: the batched reading of the newest conversations
message_search.BATCH = 7
results["many path"] = found("common")
results["many path, sparse"] = found("topic3")
print(json.dumps(results))
"""


@pytest.mark.slow
def test_message_search_on_postgresql(scratch_database):
    found = run_script(SCRIPT, scratch_database)
    assert found["rare"] == [["alice 7", "a reply about gardens <mark>alice7</mark>"]]
    assert len(found["phrase"]) == 20 and all("alice" in t for t, _ in found["phrase"])
    assert found["phrase"][0] == ["alice 39", "a reply <mark>about gardens</mark> alice39"]
    assert found["not"] == []  # every topic3 message has "cats"
    assert found["stemless"] == []  # whole words: "cat" is not "cats"
    assert found["hidden"] == []
    # Newest first, one per conversation, both ways of reading agree.
    titles = [t for t, _ in found["few path"]]
    assert titles == [f"alice {i}" for i in reversed(range(40)) if i % 7 == 3]
    assert [t for t, _ in found["many path, sparse"]] == titles
    assert [t for t, _ in found["many path"]] == [f"alice {i}" for i in range(39, 19, -1)]
