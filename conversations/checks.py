"""Start-up checks: configuration that would only fail later, at a user's first message."""

from django.conf import settings
from django.core.checks import Warning, register


@register()
def upstream_configuration(app_configs, **kwargs):
    problems = []
    if settings.ORQ_API_KEY and not settings.ORQ_PROJECT_ID:
        problems.append(
            Warning(
                "ORQ_API_KEY is set but ORQ_PROJECT_ID is not: new Orq conversations will fail.",
                hint="Set ORQ_PROJECT_ID to the project new conversations belong to.",
                id="webchat.W001",
            )
        )
    for provider in ("ORQ", "MISTRAL"):
        key = getattr(settings, f"{provider}_API_KEY")
        offers = getattr(settings, f"{provider}_MODELS") or getattr(settings, f"{provider}_AGENTS")
        if key and not offers:
            problems.append(
                Warning(
                    f"{provider}_API_KEY is set but no models or agents are offered.",
                    hint=f"Set {provider}_MODELS or {provider}_AGENTS.",
                    id="webchat.W002",
                )
            )
    return problems
