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
old = Conversation.objects.get(owner=alice, title="alice 2")
Message.objects.create(conversation=old, role="assistant", text="here and the words common")
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
results["not a phrase, many path"] = found('topic3 -"the cats"')
# A phrase of words found in more than FEW messages: the newest conversations, batch by batch,
# up to COMMON_SCAN of them; then the page offers to look in all of them.
message_search.COMMON_SCAN = 14
newest = message_search.search(alice, '"words common"')
results["rare phrase, common words"] = [found('"words common"'), newest.partial, newest.scanned]
everywhere = message_search.search(alice, '"words common"', everywhere=True)
results["everywhere"] = [[h.title for h in everywhere], everywhere.partial]
from django.test import Client
client = Client(SERVER_NAME="localhost")
client.force_login(alice)
page = client.get("/conversations/", {"q": '"words common"'}, headers={"HX-Request": "true"})
results["page"] = page.content.decode()
page = client.get("/conversations/", {"q": '"words common"', "all": "1"}, headers={"HX-Request": "true"})
results["page, all"] = page.content.decode()
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
    assert found["not a phrase, many path"] == []
    assert found["rare phrase, common words"] == [[], True, 14]
    assert found["everywhere"] == [["alice 2"], False]
    assert "Looked in your newest 14 conversations." in found["page"]
    assert "all=1" in found["page"] and "alice 2" not in found["page"]
    assert "<mark>words common</mark>" in found["page, all"]
    assert "Looked in your newest" not in found["page, all"]
