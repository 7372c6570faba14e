"""Only allowed sites get a visitor token and may frame the widget; tokens are what they say."""

from __future__ import annotations

import gzip
import json
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
    good = tokens.sign_identity(
        {"user_id": 42, "name": "Ada", "exp": time.time() + 60}, widget.secret
    )
    answer = ask(widget.public_key, SITE, {"identity": good}).json()
    visitor = tokens.read(answer["token"], widget_key=widget.public_key)
    assert answer["verified"] and visitor.visitor == "user:42" and visitor.name == "Ada"
    forged = tokens.sign_identity({"user_id": 42, "exp": time.time() + 60}, "not-the-secret")
    assert (
        "could not be verified"
        in ask(widget.public_key, SITE, {"identity": forged}).json()["error"]
    )
    stale = tokens.sign_identity({"user_id": 42, "exp": time.time() - 1}, widget.secret)
    assert "expired" in ask(widget.public_key, SITE, {"identity": stale}).json()["error"]
    Widget.objects.filter(pk=widget.pk).update(identity=Widget.Identity.REQUIRED)
    assert "Sign in" in ask(widget.public_key, SITE).json()["error"]
    assert ask(widget.public_key, SITE, {"identity": good}).status_code == 200


# --- the frame and the loader -------------------------------------------------------------------


def test_the_frame_may_be_framed_only_by_the_allowed_sites(widget):
    response = Client().get(reverse("widgets:frame", args=[widget.public_key]))
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == (f"frame-ancestors {SITE} https://*.example.org")
    assert "X-Frame-Options" not in response
    Widget.objects.filter(pk=widget.pk).update(allowed_origins="")
    nowhere = Client().get(reverse("widgets:frame", args=[widget.public_key]))
    assert nowhere["Content-Security-Policy"] == "frame-ancestors 'none'"
    Widget.objects.filter(pk=widget.pk).update(enabled=False)
    off = Client().get(reverse("widgets:frame", args=[widget.public_key]))
    assert off.status_code == 404 and off["Content-Security-Policy"] == "frame-ancestors 'none'"


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


def test_a_colour_that_bypassed_validation_never_reaches_the_style_sheet(widget):
    Widget.objects.filter(pk=widget.pk).update(accent="red;} body {display:none")
    frame = Client().get(reverse("widgets:frame", args=[widget.public_key])).text
    assert "display:none" not in frame and "--accent: #2563eb" in frame
    assert ask(widget.public_key, SITE).json()["accent"] == "#2563eb"


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
