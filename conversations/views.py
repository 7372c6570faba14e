"""Views of the conversations app."""

from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from conversations.providers import checked_statuses


@require_GET
async def status_page(request):
    """Until the chat exists: the server is up, and these are the upstreams it talks to."""
    return render(request, "conversations/status.html", {"providers": await checked_statuses()})


@require_GET
async def health(request):
    providers = await checked_statuses()
    return JsonResponse(
        {
            "status": "ok",
            "providers": {
                p.key: {
                    "base_url": p.base_url,
                    "configured": p.configured,
                    "emulated": p.emulated,
                    "reachable": p.reachable,
                    "problem": p.problem,
                }
                for p in providers
            },
        }
    )
