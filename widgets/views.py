"""The widget's HTTP side: the loader script, visitor tokens for allowed sites, and the frame."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from conversations.services import Refused
from webchat.addresses import client_address
from widgets import limits, origins, tokens
from widgets.models import PUBLIC_KEY, Widget

LOADER = Path(__file__).parent / "static" / "widgets" / "widget.js"


@cache
def _loader() -> bytes:
    return LOADER.read_bytes()


@require_GET
@cache_control(public=True, max_age=300)
def loader(request: HttpRequest) -> HttpResponse:
    """`<script src=".../widget.js" data-widget="KEY" async>`: the launcher and the frame."""
    body = _loader() if not settings.DEBUG else LOADER.read_bytes()
    response = HttpResponse(body, content_type="text/javascript; charset=utf-8")
    # Any site may load the script; what it may do is decided per widget, by origin.
    response["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@csrf_exempt  # no cookies are involved: the request is bound by its Origin and its token
def visitor(request: HttpRequest, key: str) -> HttpResponse:
    """A visitor token for a request from an allowed site (renewed for a returning visitor)."""
    origin = request.headers.get("Origin")
    if request.method == "OPTIONS":
        # Any page may ask, so that a refused one can read why (in its console); only an
        # allowed one gets a token.
        return _cors(HttpResponse(status=204), origin)
    widget = _widget(key)
    refusal = _refusal(widget, origin)
    if refusal:
        return _cors(JsonResponse({"error": refusal}, status=403 if widget else 404), origin)
    if request.method != "POST":
        return _cors(JsonResponse({"error": "Use POST."}, status=405), origin)
    if request.content_type != "application/json":
        # The loader sends JSON; a form body is not read at all (it could be half-consumed).
        return _cors(JsonResponse({"error": "Send JSON."}, status=400), origin)
    with translation.override(widget.language):
        try:
            body = _json_object(request.body)
            visitor = _visitor_for(widget, origin, body, client_address(request))
        except tokens.Malformed as malformed:
            return _cors(JsonResponse({"error": str(malformed)}, status=400), origin)
        except (Refused, tokens.Refused) as refusal:
            return _cors(JsonResponse({"error": str(refusal)}, status=403), origin)
    answer = {
        "token": tokens.issue(visitor),
        "verified": visitor.verified,
        # How the launcher looks: the owner's choices, from the record.
        "accent": widget.safe_accent,
        "position": widget.position,
        "label": widget.title,
    }
    return _cors(JsonResponse(answer), origin)


def _widget(key: str, **filters) -> Widget | None:
    # A key that cannot be one names no widget (and a NUL byte never reaches PostgreSQL).
    if not PUBLIC_KEY.fullmatch(key):
        return None
    return Widget.objects.filter(public_key=key, **filters).first()


def _json_object(raw: bytes) -> dict:
    """The request's JSON object (none: an empty one); anything else is malformed."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:  # not JSON, or not UTF-8
        raise tokens.Malformed(_("That request was not understood.")) from None
    if not isinstance(body, dict):
        raise tokens.Malformed(_("That request was not understood."))
    return body


def _refusal(widget: Widget | None, origin: str | None) -> str:
    if widget is None:
        return _("There is no such widget.")
    if not widget.enabled:
        return _("This widget is switched off.")
    if not origin:
        return _(
            "This request has no Origin: a widget token is only for a page on an allowed site."
        )
    if not origins.allowed(origin, widget.origins):
        return _("%(origin)s is not allowed to use this widget.") % {"origin": origin}
    return ""


def _visitor_for(widget: Widget, origin: str, body: dict, address: str | None) -> tokens.Visitor:
    identity = body.get("identity")
    if identity is not None and not isinstance(identity, str):
        raise tokens.Malformed(_("The site's sign-in for this chat is malformed."))
    if widget.identity != Widget.Identity.OFF and identity:
        visitor_id, name = tokens.verify_identity(identity, widget.secret)
        return tokens.Visitor(widget.public_key, visitor_id, origin, name)
    if widget.identity == Widget.Identity.REQUIRED:
        raise Refused(_("Sign in on the site to use this chat."))
    previous = body.get("token")
    if isinstance(previous, str) and previous:
        try:
            known = tokens.read(previous, widget_key=widget.public_key, origin=origin)
        except tokens.Refused:
            pass  # an old or foreign token: this is a new visitor
        else:
            if not known.verified:  # a verified identity is renewed only by the site's signature
                return tokens.Visitor(widget.public_key, known.visitor, origin)
    limits.check_new_visitor(widget, address)
    return tokens.Visitor(widget.public_key, tokens.new_anonymous(), origin)


def _cors(response: HttpResponse, origin: str | None) -> HttpResponse:
    response["Vary"] = "Origin"
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "600"
    return response


@require_GET
@xframe_options_exempt  # framing is decided by the CSP below, per widget
def frame(request: HttpRequest, key: str) -> HttpResponse:
    widget = _widget(key, enabled=True)
    if widget is None:
        response = HttpResponse(
            "This chat is not available.", status=404, content_type="text/plain"
        )
        response["Content-Security-Policy"] = "frame-ancestors 'none'"
        return response
    allowed = widget.origins
    with translation.override(widget.language):
        response = render(
            request,
            "widgets/frame.html",
            {
                "widget": widget,
                "origins_json": json.dumps([str(o) for o in allowed]),
                "max_chars": min(widget.max_message_chars, settings.WEBCHAT_MAX_MESSAGE_CHARS),
            },
        )
    response["Content-Security-Policy"] = origins.frame_ancestors(allowed)
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
@cache_control(public=True, max_age=86400)
def accent(request: HttpRequest, key: str) -> HttpResponse:
    """The widget's accent as a style sheet: the frame has no inline style (a strict CSP).

    The frame links it with the colour in its query string, so a new colour is a new URL.
    """
    widget = _widget(key)
    colour = widget.safe_accent if widget else Widget.DEFAULT_ACCENT
    css = f":root, html[data-theme] {{ --accent: {colour}; --focus: {colour}; }}\n"
    return HttpResponse(css, content_type="text/css; charset=utf-8")
