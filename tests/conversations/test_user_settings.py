"""Issue 14, item 12: a person's settings (theme, default model or agent, send key, language),
saved from the Settings page and followed by every page and by the chat socket."""

from __future__ import annotations

import json
import re
from html import escape

import pytest
from django.test import Client
from django.urls import reverse

from conversations import user_settings
from conversations.choices import default_choice
from conversations.models import Conversation, UserSettings
from tests.sockets import new_conversation, receive, socket_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("upstreams")]

HTMX = {"HTTP_HX_REQUEST": "true"}
URL = "/settings"
AGENT = "mistral:agent:demo"
SAVED = {"theme": "dark", "default_choice": AGENT, "send_key": "ctrl-enter", "language": "fr"}
NBSP = "\u00a0"
APOSTROPHE = "\u2019"  # French typography's, not the ASCII one


def save(owner, **fields) -> UserSettings:
    return user_settings.user_settings_save(user=owner, **{**SAVED, **fields})


def checked(page: str, name: str) -> str:
    """The value of the checked radio button of this group."""
    match = re.search(rf'name="{name}" value="([^"]*)" checked', page)
    assert match, f"no {name} is checked"
    return match.group(1)


def html_tag(page: str) -> str:
    return re.search(r"<html[^>]*>", page).group(0)


# --- defaults -------------------------------------------------------------------------------


def test_without_a_row_the_defaults_stand_and_reading_makes_none(alice, as_alice):
    assert reverse("conversations:settings") == URL
    page = as_alice.get(URL).content.decode()

    assert checked(page, "theme") == "system"
    assert checked(page, "send_key") == "enter"
    assert checked(page, "language") == ""
    site = default_choice()
    assert f"The site's default ({site.label})" in page
    assert not re.search(r'<option value="[^"]+" selected', page)  # the site's default is
    assert not UserSettings.objects.exists()
    defaults = user_settings.settings_of(alice)
    assert (defaults.pk, defaults.theme, defaults.default_choice) == (None, "system", "")
    assert (defaults.send_key, defaults.language) == ("enter", "")


def test_a_page_without_settings_is_english_light_or_dark_and_enter_sends(as_alice):
    page = as_alice.get(reverse("conversations:index")).content.decode()

    assert html_tag(page) == '<html lang="en">'  # no data-theme: the system's
    assert '<meta name="color-scheme" content="light dark">' in page
    assert 'data-send-key="enter"' in page
    assert "Enter sends, Shift+Enter adds a line" in page


# --- saving -----------------------------------------------------------------------------------


def test_saving_makes_the_row_once_and_says_so_after_the_redirect(alice, as_alice):
    response = as_alice.post(URL, SAVED)

    assert response.status_code == 302 and response["Location"] == URL
    mine = UserSettings.objects.get(user=alice)
    assert (mine.theme, mine.default_choice, mine.send_key, mine.language) == (
        "dark",
        AGENT,
        "ctrl-enter",
        "fr",
    )
    page = as_alice.get(URL).content.decode()
    # In the language just chosen, in the live region; said once, not on every visit.
    assert re.search(r'<p id="settings-status"[^>]*role="status" aria-live="polite">', page)
    assert "Paramètres enregistrés." in page
    assert "Paramètres enregistrés." not in as_alice.get(URL).content.decode()

    as_alice.post(URL, {**SAVED, "theme": "light", "language": "en"})
    assert UserSettings.objects.filter(user=alice).count() == 1
    assert UserSettings.objects.get(user=alice).theme == "light"


def test_with_htmx_the_form_comes_back_and_the_page_is_told_what_changed(alice, as_alice):
    response = as_alice.post(URL, SAVED, **HTMX)

    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="settings"' in body and "<html" not in body
    assert '<p id="settings-status" hx-swap-oob="innerHTML">Paramètres enregistrés.</p>' in body
    assert "Enregistrer les paramètres" in body  # the form, in the language just chosen
    assert checked(body, "theme") == "dark"
    told = json.loads(response["HX-Trigger"])["settings-saved"]
    assert told == {
        "theme": "dark",
        "language": "fr",
        "sendKey": "ctrl-enter",
        "title": "Paramètres · Webchat",
    }


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("theme", "sepia", "Pick a theme: the system's, light or dark."),
        ("theme", "", "Pick a theme: the system's, light or dark."),
        ("send_key", "space", "Pick which key sends a message: Enter, or Ctrl+Enter."),
        ("language", "de", "Pick English, French, or the browser's language."),
        (
            "default_choice",
            "mistral:model:not-offered",
            "Pick one of the offered models or agents, or the site's default.",
        ),
        (
            "default_choice",
            "mistral:model:" + "x" * 400,
            "Ensure this value has at most 300 characters",
        ),
    ],
)
def test_each_field_is_checked_and_says_what_is_wrong(alice, as_alice, field, value, says):
    response = as_alice.post(URL, {**SAVED, field: value}, **HTMX)

    assert response.status_code == 422
    body = response.content.decode()
    assert escape(says) in body
    assert "Nothing was saved: see what is wrong below." in body
    assert 'aria-invalid="true"' in body
    # The live region is emptied: nothing is said to be saved.
    assert '<p id="settings-status" hx-swap-oob="innerHTML"></p>' in body
    assert not UserSettings.objects.exists()
    # Without htmx, the page with the same words.
    page = as_alice.post(URL, {**SAVED, field: value})
    assert page.status_code == 422 and escape(says) in page.content.decode()


def test_the_site_default_and_every_offered_choice_are_accepted(alice, as_alice):
    assert as_alice.post(URL, {**SAVED, "default_choice": ""}).status_code == 302
    assert UserSettings.objects.get(user=alice).default_choice == ""
    assert as_alice.post(URL, {**SAVED, "default_choice": AGENT}).status_code == 302
    assert UserSettings.objects.get(user=alice).default_choice == AGENT


# --- whose settings ---------------------------------------------------------------------------


def test_a_person_changes_only_their_own_settings(alice, bob, as_alice, as_bob):
    save(bob, theme="light", language="en")

    # There is no one else's to name: a "user" field is ignored.
    as_alice.post(URL, {**SAVED, "user": bob.pk, "user_id": bob.pk})

    assert UserSettings.objects.get(user=alice).theme == "dark"
    theirs = UserSettings.objects.get(user=bob)
    assert (theirs.theme, theirs.language) == ("light", "en")
    # Each sees their own.
    assert checked(as_bob.get(URL).content.decode(), "theme") == "light"
    assert checked(as_alice.get(URL).content.decode(), "theme") == "dark"


def test_signed_out_the_settings_page_asks_to_sign_in_and_saves_nothing():
    client = Client()
    assert client.get(URL)["Location"].startswith(reverse("login"))
    assert client.post(URL, SAVED)["Location"].startswith(reverse("login"))
    assert not UserSettings.objects.exists()


def test_saving_needs_the_csrf_token(alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)

    assert browser.post(URL, SAVED).status_code == 403
    assert not UserSettings.objects.exists()
    page = browser.get(URL).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    assert browser.post(URL, {**SAVED, "csrfmiddlewaretoken": token}).status_code == 302
    # htmx sends it as a header (base.html's hx-headers).
    assert browser.post(URL, SAVED, HTTP_X_CSRFTOKEN=token, **HTMX).status_code == 200


# --- what the pages follow --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("theme", "tag", "scheme"),
    [
        ("dark", '<html lang="en" data-theme="dark">', "dark"),
        ("light", '<html lang="en" data-theme="light">', "light"),
        ("system", '<html lang="en">', "light dark"),
    ],
)
def test_every_page_carries_the_theme(alice, as_alice, theme, tag, scheme):
    save(alice, theme=theme, language="en")
    conversation = Conversation.objects.create(
        owner=alice, provider="mistral", model="mistral-small-latest", title="Themed"
    )

    for url in (
        reverse("conversations:index"),
        reverse("conversations:detail", args=[conversation.pk]),
        URL,
        reverse("sharing:panel", args=[conversation.pk]),
    ):
        page = as_alice.get(url).content.decode()
        assert html_tag(page) == tag, url
        assert f'<meta name="color-scheme" content="{scheme}">' in page, url


def test_the_new_chat_preselects_the_persons_default(alice, as_alice):
    save(alice, default_choice=AGENT, language="en")

    page = as_alice.get(reverse("conversations:index")).content.decode()
    assert f'<option value="{AGENT}" selected>Agent: demo</option>' in page
    assert page.count(" selected>") == 1
    # The new chat's pane that htmx swaps in, too.
    pane = as_alice.get(reverse("conversations:index"), **HTMX).content.decode()
    assert f'<option value="{AGENT}" selected>' in pane


def test_a_default_no_longer_offered_falls_back_to_the_sites(alice, as_alice, settings):
    save(alice, default_choice=AGENT, language="en")
    settings.MISTRAL_AGENTS = {}  # the agent is no longer configured

    page = as_alice.get(reverse("conversations:index")).content.decode()
    site = default_choice()
    assert f'<option value="{site.value}" selected>' in page
    assert checked(as_alice.get(URL).content.decode(), "theme") == "dark"
    assert not re.search(r'<option value="[^"]+" selected', as_alice.get(URL).content.decode())


def test_ctrl_enter_is_what_the_page_says_and_tells_the_script(alice, as_alice):
    save(alice, language="en")
    conversation = Conversation.objects.create(
        owner=alice, provider="mistral", model="mistral-small-latest", title="Keys"
    )

    page = as_alice.get(reverse("conversations:detail", args=[conversation.pk])).content.decode()
    assert 'data-send-key="ctrl-enter"' in page
    assert "(Ctrl+Enter sends, Enter adds a line, Esc stops)" in page
    assert "Control and Enter sends. Enter adds a line. Escape stops a reply." in page
    assert "Enter sends, Shift+Enter" not in page
    # The "?" dialog lists it.
    assert (
        "<dt><kbd>Ctrl</kbd> <kbd>Enter</kbd></dt><dd>Send (<kbd>Enter</kbd> adds a line)" in page
    )
    new_chat = as_alice.get(reverse("conversations:index"), **HTMX).content.decode()
    assert "Your first message…  (Ctrl+Enter sends, Enter adds a line)" in new_chat


# --- language ---------------------------------------------------------------------------------


def test_the_chosen_language_is_the_pages(alice, as_alice):
    save(alice, language="fr", theme="system")
    conversation = Conversation.objects.create(
        owner=alice, provider="mistral", model="mistral-small-latest"
    )

    index = as_alice.get(reverse("conversations:index"))
    page = index.content.decode()
    assert html_tag(page) == '<html lang="fr">'
    assert index["Content-Language"] == "fr"
    assert ">Nouvelle discussion</a>" in page
    assert f"De quoi voulez-vous parler{NBSP}?" in page
    assert ">Paramètres</a>" in page and ">Se déconnecter</button>" in page
    assert "Raccourcis clavier" in page
    chat = as_alice.get(reverse("conversations:detail", args=[conversation.pk])).content.decode()
    assert "Message à mistral-small-latest…  (Ctrl+Entrée envoie" in chat
    assert 'data-say-connecting="Connexion…"' in chat
    assert ">Nouvelle conversation</span>" in chat  # its untitled row in the sidebar
    assert "New chat" not in page and "Sign out" not in page


def test_without_a_choice_the_browsers_language_is_used(alice, as_alice):
    save(alice, language="")

    french = as_alice.get(reverse("conversations:index"), HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9")
    assert html_tag(french.content.decode()).startswith('<html lang="fr"')
    assert "Accept-Language" in french["Vary"]
    german = as_alice.get(reverse("conversations:index"), HTTP_ACCEPT_LANGUAGE="de, fr;q=0.5")
    assert html_tag(german.content.decode()).startswith('<html lang="fr"')
    none = as_alice.get(reverse("conversations:index"), HTTP_ACCEPT_LANGUAGE="de")
    assert html_tag(none.content.decode()).startswith('<html lang="en"')
    # A chosen language wins over the browser's.
    save(alice, language="en")
    english = as_alice.get(reverse("conversations:index"), HTTP_ACCEPT_LANGUAGE="fr")
    assert ">New chat</a>" in english.content.decode()


def test_the_sign_in_page_follows_the_browser():
    page = Client().get(reverse("login"), HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert html_tag(page) == '<html lang="fr">'
    assert "Se connecter à Webchat" in page and f"Nom d{APOSTROPHE}utilisateur" in page


def test_a_refusal_from_a_view_is_in_the_persons_language(alice, as_alice):
    save(alice, language="fr")
    response = as_alice.post(
        reverse("conversations:create"), {"choice": "nope", "text": "Salut"}, **HTMX
    )
    assert (
        f"Choisissez l{APOSTROPHE}un des modèles ou agents proposés." in response.content.decode()
    )
    conversation = Conversation.objects.create(
        owner=alice, provider="mistral", model="mistral-small-latest", title="Vieux titre"
    )
    response = as_alice.post(
        reverse("conversations:pin", args=[conversation.pk]),
        HTTP_HX_CURRENT_URL="http://testserver/",
        **HTMX,
    )
    said = json.loads(response["HX-Trigger"])["sidebar-changed"]["said"]
    assert said == f"«{NBSP}Vieux titre{NBSP}» est épinglée{NBSP}: elle apparaît en tête de liste."


def test_the_language_ends_with_the_request(alice, as_alice):
    """A French page leaves no French behind for whatever this thread does next."""
    from django.utils import translation

    save(alice, language="fr")
    as_alice.get(reverse("conversations:index"))
    assert translation.get_language() in (None, "en-us", "en")


# --- the socket ---------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_the_socket_answers_in_the_chosen_language(alice):
    await UserSettings.objects.acreate(user=alice, language="fr")
    conversation = await new_conversation(alice, "mistral")
    socket, connected, _ = await socket_for(conversation.pk, alice)
    assert connected
    await receive(socket)  # its snapshot

    await socket.send_json_to({"type": "send", "text": "a\x00b", "client_id": "c-1"})
    answer = await receive(socket)
    assert answer == {
        "type": "error",
        "message": "Les messages ne peuvent pas contenir de caractère NUL.",
        "client_id": "c-1",
    }
    await socket.send_json_to({"type": "regenerate", "client_id": "c-2"})
    assert (await receive(socket))["message"] == f"Il n{APOSTROPHE}y a encore rien à régénérer."
    await socket.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_without_a_choice_the_socket_speaks_the_handshakes_language(alice):
    conversation = await new_conversation(alice, "mistral")
    french, _, _ = await socket_for(
        conversation.pk, alice, extra=[(b"accept-language", b"fr-FR,fr;q=0.9,en;q=0.8")]
    )
    english, _, _ = await socket_for(conversation.pk, alice)
    for socket in (french, english):
        await receive(socket)
        await socket.send_json_to({"type": "launch"})
    assert (await receive(french))["message"] == "Demande inconnue."
    assert (await receive(english))["message"] == "Unknown request."
    for socket in (french, english):
        await socket.disconnect()
