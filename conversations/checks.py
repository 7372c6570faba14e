"""Start-up checks: configuration that would only fail later, at a user's first message."""

from django.core.checks import Warning, register


@register()
def upstream_configuration(app_configs, **kwargs):
    from conversations.providers import ADAPTERS  # the adapters import models: after ready()

    problems = []
    for adapter in ADAPTERS.values():
        for problem, hint in adapter.configuration_problems():
            problems.append(Warning(problem, hint=hint, id="webchat.W001"))
        if adapter.configured and not adapter.setting("BASE_URL"):
            prefix = adapter.settings_prefix
            problems.append(
                Warning(
                    f"{prefix}_API_KEY is set but {prefix}_BASE_URL is not: nothing can reach "
                    f"{adapter.name}.",
                    hint=f"Set {prefix}_BASE_URL to its API's address.",
                    id="webchat.W003",
                )
            )
        if adapter.configured and not (adapter.models() or adapter.agents()):
            prefix = adapter.settings_prefix
            problems.append(
                Warning(
                    f"{prefix}_API_KEY is set but no models or agents are offered.",
                    hint=f"Set {prefix}_MODELS or {prefix}_AGENTS.",
                    id="webchat.W002",
                )
            )
    return problems
