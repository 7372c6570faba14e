"""Only allowed sites get a visitor token and may frame the widget; tokens are what they say."""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import html
import json
import re
import time

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from tests.widgets.conftest import SITE
from widgets import tokens
from widgets.models import LimitHit, Widget
from widgets.views import LOADER

pytestmark = pytest.mark.django_db


def sign_identity(claims: dict, secret: str) -> str:
    """What a site owner's server does (the README's `webchat_identity`)."""
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    signature = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{signature}"


def ask(widget_key: str, origin: str | None, body: dict | None = None, **extra):
    headers = {"HTTP_ORIGIN": origin} if origin else {}
    return Client().post(
        reverse("widgets:visitor", args=[widget_key]),
        json.dumps(body or {}),
        content_type="application/json",
        **headers,
        **extra,
    )


def test_an_allowed_site_gets_a_token_bound_to_it(widget):
    response = ask(widget.public_key, SITE)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SITE and "Origin" in response["Vary"]
    visitor = tokens.read(response.json()["token"], widget_key=widget.public_key, origin=SITE)
    assert visitor.visitor.startswith("anon:") and not visitor.verified


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("https://help.example.org", True),  # a subdomain under the * entry
        ("https://a.b.example.org", True),
        ("https://example.org", False),  # the * entry covers subdomains only
        ("http://help.example.org", False),  # another scheme
        ("https://shop.example.com:8443", False),  # another port
        ("https://evil.com", False),
        ("https://shop.example.com.evil.com", False),
        ("null", False),
    ],
)
def test_origins_must_match_exactly_or_by_subdomain(widget, origin, ok):
    response = ask(widget.public_key, origin)
    assert (response.status_code == 200) is ok
    if not ok:
        assert "token" not in response.json()
        assert "not allowed" in response.json()["error"]


def test_no_origin_an_unknown_key_and_a_disabled_widget_are_refused_clearly(widget):
    assert "no Origin" in ask(widget.public_key, None).json()["error"]
    unknown = ask("wk_nope", SITE)
    assert unknown.status_code == 404 and "no such widget" in unknown.json()["error"]
    Widget.objects.filter(pk=widget.pk).update(enabled=False)
    off = ask(widget.public_key, SITE)
    assert off.status_code == 403 and "switched off" in off.json()["error"]


def test_an_empty_list_of_origins_means_nowhere(widget):
    Widget.objects.filter(pk=widget.pk).update(allowed_origins="")
    assert ask(widget.public_key, SITE).status_code == 403


def test_any_page_may_ask_and_read_the_refusal_but_only_allowed_ones_get_a_token(widget):
    url = reverse("widgets:visitor", args=[widget.public_key])
    preflight = Client().options(url, HTTP_ORIGIN="https://evil.com")
    assert preflight.status_code == 204
    assert preflight["Access-Control-Allow-Origin"] == "https://evil.com"
    refused = ask(widget.public_key, "https://evil.com")
    assert refused.status_code == 403 and "token" not in refused.json()


def test_a_returning_visitor_keeps_their_identity(widget):
    first = ask(widget.public_key, SITE).json()["token"]
    again = ask(widget.public_key, SITE, {"token": first}).json()["token"]
    read = lambda t: tokens.read(t, widget_key=widget.public_key).visitor  # noqa: E731
    assert read(first) == read(again)
    # A token from another site is not renewed there: a new visitor instead.
    Widget.objects.filter(pk=widget.pk).update(allowed_origins=f"{SITE}\nhttps://other.example.com")
    elsewhere = ask(widget.public_key, "https://other.example.com", {"token": first}).json()[
        "token"
    ]
    assert read(elsewhere) != read(first)


def test_new_visitors_per_address_are_limited(widget):
    Widget.objects.filter(pk=widget.pk).update(new_visitors_per_hour=2, limit_message="Slow down!")
    for _ in range(2):
        assert ask(widget.public_key, SITE, REMOTE_ADDR="198.51.100.9").status_code == 200
    refused = ask(widget.public_key, SITE, REMOTE_ADDR="198.51.100.9")
    assert refused.status_code == 403 and refused.json()["error"] == "Slow down!"
    assert ask(widget.public_key, SITE, REMOTE_ADDR="198.51.100.10").status_code == 200
    assert LimitHit.objects.get().kind == "new_visitors_per_hour"


# --- tokens -------------------------------------------------------------------------------------


def test_tampered_expired_other_widget_and_other_site_tokens_are_refused(widget, settings, bob):
    token = ask(widget.public_key, SITE).json()["token"]
    with pytest.raises(tokens.Refused, match="not valid"):
        tokens.read(
            token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1],
            widget_key=widget.public_key,
        )
    other = Widget.objects.create(name="Other", owner=bob, provider="mistral",
                                  model="mistral-small-latest", allowed_origins=SITE)  # fmt: skip
    with pytest.raises(tokens.Refused, match="another widget"):
        tokens.read(token, widget_key=other.public_key)
    with pytest.raises(tokens.Refused, match="another site"):
        tokens.read(token, widget_key=widget.public_key, origin="https://evil.com")
    settings.WEBCHAT_WIDGET_TOKEN_DAYS = 0
    time.sleep(1.1)
    with pytest.raises(tokens.Refused, match="expired"):
        tokens.read(token, widget_key=widget.public_key)


def test_verified_identity_good_bad_expired_and_required(widget):
    Widget.objects.filter(pk=widget.pk).update(identity=Widget.Identity.OPTIONAL)
    widget.refresh_from_db()
    good = sign_identity({"user_id": 42, "name": "Ada", "exp": time.time() + 60}, widget.secret)
    answer = ask(widget.public_key, SITE, {"identity": good}).json()
    visitor = tokens.read(answer["token"], widget_key=widget.public_key)
    assert answer["verified"] and visitor.visitor == "user:42" and visitor.name == "Ada"
    forged = sign_identity({"user_id": 42, "exp": time.time() + 60}, "not-the-secret")
    assert (
        "could not be verified"
        in ask(widget.public_key, SITE, {"identity": forged}).json()["error"]
    )
    stale = sign_identity({"user_id": 42, "exp": time.time() - 1}, widget.secret)
    assert "expired" in ask(widget.public_key, SITE, {"identity": stale}).json()["error"]
    Widget.objects.filter(pk=widget.pk).update(identity=Widget.Identity.REQUIRED)
    assert "Sign in" in ask(widget.public_key, SITE).json()["error"]
    assert ask(widget.public_key, SITE, {"identity": good}).status_code == 200


# --- the frame and the loader -------------------------------------------------------------------


def frame_ancestors(response) -> str:
    """The frame-ancestors directive of a response's policy (the site-wide one sits beside it)."""
    directives = [d.strip() for d in response["Content-Security-Policy"].split(";")]
    [directive] = [d for d in directives if d.startswith("frame-ancestors")]
    return directive


def test_the_frame_may_be_framed_only_by_the_allowed_sites(widget):
    response = Client().get(reverse("widgets:frame", args=[widget.public_key]))
    assert response.status_code == 200
    assert frame_ancestors(response) == f"frame-ancestors {SITE} https://*.example.org"
    assert "X-Frame-Options" not in response
    Widget.objects.filter(pk=widget.pk).update(allowed_origins="")
    nowhere = Client().get(reverse("widgets:frame", args=[widget.public_key]))
    assert frame_ancestors(nowhere) == "frame-ancestors 'none'"
    Widget.objects.filter(pk=widget.pk).update(enabled=False)
    off = Client().get(reverse("widgets:frame", args=[widget.public_key]))
    assert off.status_code == 404 and frame_ancestors(off) == "frame-ancestors 'none'"


def test_the_loader_is_small(client):
    response = client.get("/widget.js")
    assert response.status_code == 200 and "javascript" in response["Content-Type"]
    compressed = len(gzip.compress(LOADER.read_bytes(), compresslevel=9))
    assert compressed <= 5 * 1024, f"the loader is {compressed} bytes compressed"


def test_a_french_widget_speaks_french_to_its_visitors(widget):
    Widget.objects.filter(pk=widget.pk).update(language="fr", identity=Widget.Identity.REQUIRED)
    frame = Client().get(reverse("widgets:frame", args=[widget.public_key]))
    assert (
        'lang="fr"' in frame.text
        and "Envoyer" in frame.text
        and "Nouvelle conversation" in frame.text
    )
    refusal = ask(widget.public_key, SITE).json()["error"]
    assert refusal == "Connectez-vous sur le site pour utiliser cette discussion."


def test_the_admin_shows_the_snippet_and_refuses_a_colour_that_is_not_one(widget, carol):
    client = Client()
    client.force_login(carol)
    url = reverse("admin:widgets_widget_change", args=[widget.pk])
    page = client.get(url)
    assert f"data-widget=&quot;{widget.public_key}&quot;" in page.text and "/widget.js" in page.text
    widget.accent = "#fff;} body{display:none"
    with pytest.raises(ValidationError):
        widget.full_clean()


def test_a_widget_offers_only_a_configured_model_or_agent(widget):
    widget.model = "gpt-secret-internal"
    with pytest.raises(ValidationError, match="not offered here"):
        widget.full_clean()
    widget.model, widget.agent = "mistral-small-latest", "demo"
    with pytest.raises(ValidationError, match="one of the two"):
        widget.full_clean()


def accent_sheet(widget) -> str:
    """The frame's accent style sheet, as the frame links it."""
    frame = Client().get(reverse("widgets:frame", args=[widget.public_key])).text
    [href] = re.findall(r'<link rel="stylesheet" href="([^"]*/accent\.css[^"]*)"', frame)
    response = Client().get(html.unescape(href))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/css")
    return response.text


def test_the_frame_takes_the_accent_from_a_style_sheet(widget):
    Widget.objects.filter(pk=widget.pk).update(accent="#10b981")
    assert "--accent: #10b981" in accent_sheet(widget)


def test_a_colour_that_bypassed_validation_never_reaches_the_style_sheet(widget):
    Widget.objects.filter(pk=widget.pk).update(accent="x;}*{y:")  # seven characters fit the column
    sheet = accent_sheet(widget)
    assert "}*{" not in sheet and "--accent: #2563eb" in sheet
    assert ask(widget.public_key, SITE).json()["accent"] == "#2563eb"


def test_the_frame_has_no_inline_script_or_style_for_a_strict_policy(widget):
    Widget.objects.filter(pk=widget.pk).update(starters=["Where is my order?", "Returns"])
    frame = Client().get(reverse("widgets:frame", args=[widget.public_key])).text
    assert re.findall(r"<script\b[^>]*>", frame) == [
        '<script src="/static/js/chat.js">',
        '<script src="/static/widgets/frame.js">',
    ]
    assert "<style" not in frame and " style=" not in frame
    assert not re.search(r"\son[a-z]+=", frame), "an inline event handler"


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil@help.example.org",
        "https://help.example.org:443x",
        "https://help.example.org/path",
        "HTTPS://SHOP.EXAMPLE.COM/",
    ],
)
def test_origins_with_user_info_bad_ports_or_paths_are_not_origins(widget, origin):
    assert ask(widget.public_key, origin).status_code == 403


# --- origins: the form saves only what the server can match -------------------------------------

JUNK_ORIGINS = [
    "https://shop.example.com:1 *",
    "https://shop.example.com *",
    "https://shop.example.com:99999",
    "https://shop.example.com:",
    "https://*",
    "https://*.com",
    "https://shop.*.example.com",
    "https://shop.example.com/path",
    "https://user@shop.example.com",
    "ftp://shop.example.com",
    "https://exa mple.com",
    "https://-shop.example.com",
    "https://shop.example.com?x",
    "*",
    "'none'",
]


def admin_form(widget) -> dict:
    """The widget's change form as the admin posts it (inline included)."""
    fields = {
        name: getattr(widget, name)
        for name in ["name", "provider", "model", "agent", "allowed_origins", "title", "greeting",
                     "accent", "position", "theme", "language", "identity", "secret",
                     "max_message_chars", "messages_per_minute", "visitor_tokens_per_day",
                     "tokens_per_day", "new_visitors_per_hour", "limit_message"]
    }  # fmt: skip
    return {
        **fields,
        "owner": widget.owner_id,
        "enabled": "on",
        "starters": json.dumps(widget.starters),
        "limit_hits-TOTAL_FORMS": "0",
        "limit_hits-INITIAL_FORMS": "0",
        "limit_hits-MIN_NUM_FORMS": "0",
        "limit_hits-MAX_NUM_FORMS": "0",
    }


@pytest.mark.parametrize("junk", JUNK_ORIGINS)
def test_the_admin_form_refuses_an_origin_the_server_cannot_parse(widget, carol, junk):
    client = Client()
    client.force_login(carol)
    form = admin_form(widget) | {"allowed_origins": f"{SITE}\n{junk}"}
    response = client.post(reverse("admin:widgets_widget_change", args=[widget.pk]), form)
    assert response.status_code == 200, "saved anyway"
    errors = response.context["adminform"].form.errors["allowed_origins"]
    assert errors == [
        f"{junk!r} is not an origin like https://shop.example.com or https://*.example.com: "
        + errors[0].split(": ", 1)[1]
    ]
    widget.refresh_from_db()
    assert widget.allowed_origins == f"{SITE}\nhttps://*.example.org"  # unchanged


def test_the_admin_form_saves_origins_as_the_server_matches_them(widget, carol):
    client = Client()
    client.force_login(carol)
    form = admin_form(widget) | {
        "allowed_origins": " HTTPS://Shop.Example.com:443/ \nhttp://localhost:8001\nhttps://*.example.org"
    }
    response = client.post(reverse("admin:widgets_widget_change", args=[widget.pk]), form)
    assert response.status_code == 302
    widget.refresh_from_db()
    assert [str(o) for o in widget.origins] == [
        SITE, "http://localhost:8001", "https://*.example.org",
    ]  # fmt: skip
    assert ask(widget.public_key, SITE).status_code == 200  # the default port is no port


def test_an_origin_that_bypassed_validation_never_reaches_the_frame_or_breaks_a_request(widget):
    # Saved without the form (a shell, an old row): it is left out, everything else works.
    Widget.objects.filter(pk=widget.pk).update(
        allowed_origins="\n".join([SITE, *JUNK_ORIGINS, "https://*.example.org"])
    )
    frame = Client().get(reverse("widgets:frame", args=[widget.public_key]))
    assert frame.status_code == 200
    assert frame_ancestors(frame) == f"frame-ancestors {SITE} https://*.example.org"
    assert "*" not in frame_ancestors(frame).replace("https://*.example.org", "")
    assert ask(widget.public_key, SITE).status_code == 200
    for junk in ["https://shop.example.com:1", "https://shop.example.com:1 *", "*", "null"]:
        response = ask(widget.public_key, junk)
        assert response.status_code == 403 and "not allowed" in response.json()["error"]


# --- every input gets a clear answer, never a 500 -----------------------------------------------


@pytest.mark.parametrize(
    "identity",
    [
        "abc.é",  # non-ASCII where the signature goes: compare_digest raised on it
        "é.abc",
        "ünïcödé",
        "\ud800.abc",  # half of a surrogate pair, as JSON can carry it
        "eyJ1c2VyX2lkIjoxfQ." + "é" * 64,
        "abc." + "g" * 64,  # not hex
        "x" * 5000 + "." + "0" * 64,
        42,
        ["abc.def"],
    ],
)
def test_a_malformed_identity_is_a_clear_400(widget, identity):
    Widget.objects.filter(pk=widget.pk).update(identity=Widget.Identity.OPTIONAL)
    response = ask(widget.public_key, SITE, {"identity": identity})
    assert response.status_code == 400
    assert response.json() == {"error": "The site's sign-in for this chat is malformed."}
    assert response["Access-Control-Allow-Origin"] == SITE  # the site can read why


@pytest.mark.parametrize(
    ("claims", "why"),
    [
        ({"user_id": 1, "exp": float("nan")}, "malformed"),  # NaN never expires
        ({"user_id": 1, "exp": "tomorrow"}, "malformed"),
        ({"user_id": 1, "exp": True}, "malformed"),
        ({"user_id": {"id": 1}, "exp": 4e9}, "malformed"),
        ({"user_id": "a\x00b", "exp": 4e9}, "no usable user id"),
        ({"user_id": "", "exp": 4e9}, "no usable user id"),
        ({"exp": 4e9}, "malformed"),
    ],
)
def test_a_signed_identity_with_unusable_claims_is_refused_in_words(widget, claims, why):
    Widget.objects.filter(pk=widget.pk).update(identity=Widget.Identity.OPTIONAL)
    widget.refresh_from_db()
    identity = sign_identity(claims, widget.secret)
    response = ask(widget.public_key, SITE, {"identity": identity})
    assert response.status_code in (400, 403) and why in response.json()["error"]


def test_a_verified_name_in_any_script_is_kept(widget):
    Widget.objects.filter(pk=widget.pk).update(identity=Widget.Identity.OPTIONAL)
    widget.refresh_from_db()
    identity = sign_identity(
        {"user_id": "zoë-7", "name": "Zoë 佐藤", "exp": time.time() + 60}, widget.secret
    )
    token = ask(widget.public_key, SITE, {"identity": identity}).json()["token"]
    visitor = tokens.read(token, widget_key=widget.public_key)
    assert (visitor.visitor, visitor.name) == ("user:zoë-7", "Zoë 佐藤")


@pytest.mark.parametrize("previous", ["é", "\ud800", "😀:😀:😀", "x" * 5000, 7])
def test_a_non_ascii_or_junk_previous_token_makes_a_new_visitor(widget, previous):
    response = ask(widget.public_key, SITE, {"token": previous})
    assert response.status_code == 200
    assert tokens.read(response.json()["token"], widget_key=widget.public_key).visitor.startswith(
        "anon:"
    )


@pytest.mark.parametrize("body", [b"not json", b"\xff\xfe", b"[1, 2]", b'"text"', b"1e999"])
def test_a_body_that_is_not_a_json_object_is_a_clear_400(widget, body):
    response = Client().post(
        reverse("widgets:visitor", args=[widget.public_key]), body,
        content_type="application/json", HTTP_ORIGIN=SITE,
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json() == {"error": "That request was not understood."}


@pytest.mark.parametrize("key", ["wk_%00nul", "wk_%C3%A9t%C3%A9", "x" * 41])
def test_a_key_that_cannot_be_one_is_no_such_widget(widget, key):
    response = Client().post(f"/widget/{key}/visitor", "{}", content_type="application/json",
                             HTTP_ORIGIN=SITE)  # fmt: skip
    # (A NUL in the path may be refused before any view with a plain 400.)
    assert response.status_code in (400, 404) and response.status_code != 500
    if response.status_code == 404:
        assert "no such widget" in response.json()["error"]
    assert Client().get(f"/widget/{key}/frame").status_code in (400, 404)


# --- the snippet: absolute, with a copy button --------------------------------------------------


def change_page(widget, carol) -> str:
    client = Client()
    client.force_login(carol)
    return client.get(reverse("admin:widgets_widget_change", args=[widget.pk])).text


def test_the_snippet_loads_from_this_server_absolutely_and_has_a_copy_button(widget, carol):
    page = change_page(widget, carol)
    tag = (
        f"&lt;script src=&quot;http://testserver/widget.js&quot; "
        f"data-widget=&quot;{widget.public_key}&quot; async&gt;&lt;/script&gt;"
    )
    assert f'<code id="widget-snippet">{tag}</code>' in page
    assert '<button type="button" class="button" data-copy="widget-snippet"' in page
    assert '<script src="/static/widgets/admin.js">' in page
    # Under a strict policy: neither the snippet nor the preview carries inline style or script.
    fields = page[page.index('class="form-row field-snippet"') : page.index("field-provider")]
    assert " style=" not in fields and "<script" not in fields and "onclick" not in fields


def test_the_snippet_uses_the_public_address_when_it_is_set(widget, carol, settings):
    settings.WEBCHAT_PUBLIC_URL = "https://chat.example.com"
    page = change_page(widget, carol)
    assert "src=&quot;https://chat.example.com/widget.js&quot;" in page


def test_the_public_address_must_be_a_url():
    from django.core.exceptions import ImproperlyConfigured

    from webchat.env import env_url

    assert env_url("WEBCHAT_PUBLIC_URL", "", {"WEBCHAT_PUBLIC_URL": "https://chat.example.com/"})
    with pytest.raises(ImproperlyConfigured, match="WEBCHAT_PUBLIC_URL"):
        env_url("WEBCHAT_PUBLIC_URL", "", {"WEBCHAT_PUBLIC_URL": "chat.example.com"})


@pytest.mark.parametrize(
    "body, content_type",
    [
        ({"previous": "x"}, "multipart/form-data; boundary=BoUnDaRy"),
        ("previous=x", "application/x-www-form-urlencoded"),
        ("previous", "text/plain"),
    ],
)
def test_a_token_request_that_is_not_json_is_a_400_not_a_500(widget, body, content_type):
    if isinstance(body, dict):  # a real multipart body, as a form on any page could send
        from django.test.client import encode_multipart

        body = encode_multipart("BoUnDaRy", body)
    response = Client().post(
        f"/widget/{widget.public_key}/visitor", body, content_type=content_type, HTTP_ORIGIN=SITE
    )
    assert response.status_code == 400
    assert response.json() == {"error": "Send JSON."}
