"""A person's settings (theme, default model or agent, send key, language): read once per
request or socket, saved from the Settings page, and the language each page speaks.

Nobody needs a row: until a person first saves, the defaults stand (the system's theme, the
site's default model or agent, Enter sends, the browser's language). Every page reads them
from `request.user_settings`, which the `user_language` middleware sets before any view runs,
so that templates rendered in async views never query (they may not).
"""

from __future__ import annotations

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.utils import timezone, translation
from django.utils.cache import patch_vary_headers
from django.utils.decorators import sync_and_async_middleware
from django.utils.translation.trans_real import parse_accept_lang_header

from conversations.models import UserSettings

FALLBACK_LANGUAGE = "en"


def defaults(user=None) -> UserSettings:
    """The settings of someone who has saved none (not saved: nothing is made by reading)."""
    return UserSettings(user=user if getattr(user, "is_authenticated", False) else None)


def settings_of(user) -> UserSettings:
    if not getattr(user, "is_authenticated", False):
        return defaults()
    return UserSettings.objects.filter(user=user).first() or defaults(user)


async def asettings_of(user) -> UserSettings:
    if not getattr(user, "is_authenticated", False):
        return defaults()
    return await UserSettings.objects.filter(user=user).afirst() or defaults(user)


def of_request(request) -> UserSettings:
    """What the middleware read for this request (the defaults where it did not run)."""
    return getattr(request, "user_settings", None) or defaults()


def user_settings_save(
    *, user, theme: str, default_choice: str, send_key: str, language: str
) -> UserSettings:
    """Save a person's settings (checked by `forms.UserSettingsForm`): their row is made on the
    first save and changed after."""
    saved, _ = UserSettings.objects.update_or_create(
        user=user,
        defaults={
            "theme": theme,
            "default_choice": default_choice,
            "send_key": send_key,
            "language": language,
            "updated": timezone.now(),
        },
    )
    return saved


def from_accept_language(header: str) -> str:
    """The first of the browser's languages that Webchat speaks (English when none is)."""
    for code, _ in parse_accept_lang_header(header or ""):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return FALLBACK_LANGUAGE


def language_for(chosen: UserSettings, accept_language: str) -> str:
    """The person's language if they chose one, else their browser's."""
    if chosen.language and chosen.language in dict(settings.LANGUAGES):
        return chosen.language
    return from_accept_language(accept_language)


def socket_language(chosen: UserSettings, scope: dict) -> str:
    """`language_for` from a websocket's handshake: its Accept-Language header."""
    headers = dict(scope.get("headers") or [])
    return language_for(chosen, headers.get(b"accept-language", b"").decode("latin-1"))


@sync_and_async_middleware
def user_language(get_response):
    """LocaleMiddleware for signed-in people: each request is answered in the language their
    settings name (else the browser's, else English), and its settings are read once for the
    whole request (`request.user_settings`). After AuthenticationMiddleware."""

    def respond(request, response):
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response

    def begin(request, chosen: UserSettings) -> str:
        request.user_settings = chosen
        request.LANGUAGE_CODE = language_for(chosen, request.headers.get("Accept-Language", ""))
        return request.LANGUAGE_CODE

    if iscoroutinefunction(get_response):

        async def middleware(request):
            language = begin(request, await asettings_of(await request.auser()))
            # An override, not activate(): the language ends with the request (a test's next
            # request, or the next one this thread serves, starts from none).
            with translation.override(language):
                return respond(request, await get_response(request))

    else:

        def middleware(request):
            language = begin(request, settings_of(request.user))
            with translation.override(language):
                return respond(request, get_response(request))

    return middleware


def user_settings(request) -> dict:
    """Context processor: every page's theme and send key (base.html), from the middleware."""
    return {"user_settings": of_request(request)}
