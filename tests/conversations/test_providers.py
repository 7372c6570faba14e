"""Provider adapters: nothing outside `conversations/providers/` asks which provider it is, and
the adapters' capabilities say what the README's "Where the providers differ" table says."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from conversations.models import Conversation, Message
from conversations.providers import ADAPTERS, provider_for
from conversations.providers.differences import with_table

ROOT = Path(__file__).resolve().parent.parent.parent
# Every app and the project (its `serve` command starts the emulator for the adapters).
APPS = ("conversations", "administration", "widgets", "webchat")
PROVIDER_KEYS = {"orq", "mistral"}


def _compares_a_provider_key(node: ast.Compare) -> bool:
    """`x == "orq"`, `x != "mistral"`, `x in ("orq", ...)`, `x == Provider.ORQ`."""
    for operand in [node.left, *node.comparators]:
        if isinstance(operand, ast.Constant) and operand.value in PROVIDER_KEYS:
            return True
        if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) and any(
            isinstance(e, ast.Constant) and e.value in PROVIDER_KEYS for e in operand.elts
        ):
            return True
        if (
            isinstance(operand, ast.Attribute)
            and isinstance(operand.value, ast.Name)
            and operand.value.id == "Provider"
        ):
            return True
    return False


def test_no_module_outside_the_adapters_compares_provider_keys():
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts or relative.parts[:2] == (
                "conversations",
                "providers",
            ):
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Compare) and _compares_a_provider_key(node):
                    found.append(f"{relative}:{node.lineno}")
                # Nor names one, nor reads one provider's settings (the adapter's `setting`).
                if isinstance(node, ast.Constant) and node.value in PROVIDER_KEYS:
                    found.append(f"{relative}:{node.lineno}: {node.value!r}")
                if isinstance(node, ast.Attribute) and node.attr.startswith(("ORQ_", "MISTRAL_")):
                    found.append(f"{relative}:{node.lineno}: {node.attr}")
                if isinstance(node, ast.Attribute) and node.attr in ("ORQ", "MISTRAL"):
                    if isinstance(node.value, ast.Name) and node.value.id == "Provider":
                        found.append(f"{relative}:{node.lineno}")
    templates = sorted((ROOT / "templates").rglob("*.html")) + sorted(
        ROOT.glob("*/templates/**/*.html")
    )
    for path in templates:
        text = path.read_text(encoding="utf-8")
        for key in PROVIDER_KEYS:
            for quote in ('"', "'"):
                if (
                    f"provider == {quote}{key}{quote}" in text
                    or f"provider != {quote}{key}{quote}" in text
                ):
                    found.append(f"{path.relative_to(ROOT)}: provider == {key}")
    assert found == [], "ask the adapter (provider_for / .capabilities) instead: " + ", ".join(
        found
    )


def test_capabilities_say_what_the_readme_table_says():
    # README, "Where the providers differ".
    orq, mistral = provider_for("orq").capabilities, provider_for("mistral").capabilities
    # Rename: renamed at Orq too | kept by Webchat only.
    assert (orq.can_rename, mistral.can_rename) == (True, False)
    # Title after the first exchange: Orq's generate-name | made by Webchat.
    assert (orq.names_conversations, mistral.names_conversations) == (True, False)
    # Regenerate and edit: Orq cannot branch | restart from an earlier entry.
    assert (orq.can_branch, mistral.can_branch) == (False, True)
    # Continuing a lost conversation: an Orq turn carries one message | given the earlier turns.
    assert (orq.keeps_earlier_turns_on_continue, mistral.keeps_earlier_turns_on_continue) == (
        False,
        True,
    )
    # Both take files (Mistral's documents only by a link it fetches).
    assert orq.takes_files and mistral.takes_files
    # The table of what each takes besides the text, per model and agent.
    orq_adapter, mistral_adapter = ADAPTERS["orq"], ADAPTERS["mistral"]
    said = {
        (adapter.key, kind): (
            (takes := adapter.takes(kind)).instructions,
            takes.parameters,
            takes.model_change,
            takes.variables,
        )
        for adapter in (orq_adapter, mistral_adapter)
        for kind in ("model", "agent")
    }
    assert said == {
        ("mistral", "model"): (True, True, "new", False),
        ("mistral", "agent"): (False, False, "", False),
        ("orq", "model"): (False, False, "turn", False),
        ("orq", "agent"): (False, False, "", True),
    }
    assert mistral_adapter.takes("model").instructions_fixed_at_start
    for adapter in (orq_adapter, mistral_adapter):
        for kind in ("model", "agent"):
            takes = adapter.takes(kind)
            offers_all = takes.instructions and takes.parameters
            # What is not offered is said, in a sentence the panel shows.
            assert bool(takes.why_not) != offers_all
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "| Rename | renamed at Orq too | kept by Webchat only" in readme
    assert "Orq cannot branch" in readme


def test_the_readme_table_is_the_one_the_adapters_write():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert with_table(readme, ADAPTERS.values()) == readme, (
        "the README's provider table is out of date: "
        "run `.venv/bin/python manage.py provider_table --write README.md`"
    )


def test_every_stored_provider_has_an_adapter_chosen_by_its_key():
    assert set(ADAPTERS) == {value for value, _ in Conversation._meta.get_field("provider").choices}
    conversation = Conversation(provider="mistral")
    assert conversation.adapter is provider_for("mistral") is provider_for(conversation)
    assert conversation.capabilities is provider_for("mistral").capabilities


@pytest.mark.django_db
def test_a_provider_taken_out_of_the_setting_leaves_its_conversations_readable(alice, carol):
    """Its stored key has no adapter now: its conversations open, say what happened when asked
    to reach it, and are kept rather than half-deleted."""
    conversation = Conversation.objects.create(
        owner=alice, provider="retired", model="old-model", upstream_id="up_1", title="Old talk"
    )
    Message.objects.create(conversation=conversation, role="user", text="still here")
    client = Client()
    client.force_login(alice)
    page = client.get(reverse("conversations:detail", args=[conversation.pk]))
    assert page.status_code == 200 and "still here" in page.text
    assert "Old talk" in client.get(reverse("conversations:index")).text

    deleted = client.post(
        reverse("conversations:delete", args=[conversation.pk]), headers={"HX-Request": "true"}
    )
    assert "Its provider (retired) is no longer configured here" in deleted.text
    assert Conversation.objects.filter(pk=conversation.pk).exists()

    admin = Client()
    admin.force_login(carol)
    changelist = reverse("admin:conversations_conversation_changelist")
    assert admin.get(changelist).status_code == 200
    response = admin.post(
        changelist,
        {"action": "delete_selected", "_selected_action": [conversation.pk], "post": "yes"},
        follow=True,
    )
    assert "kept; upstream failed" in response.text
    assert Conversation.objects.filter(pk=conversation.pk).exists()
