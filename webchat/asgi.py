"""ASGI entry point: HTTP through Django, websockets through Channels (served by daphne)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webchat.settings")
# Django must be set up before anything imports models: routes come after this line.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from conversations.routing import websocket_urlpatterns as chat_routes  # noqa: E402
from webchat.upload_limit import UploadLimit  # noqa: E402
from webchat.websocket_auth import SessionAuthMiddleware  # noqa: E402
from webchat.websocket_origin import SameOriginValidator  # noqa: E402
from widgets.routing import websocket_urlpatterns as widget_routes  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": UploadLimit(django_asgi_app),
        "websocket": SameOriginValidator(
            SessionAuthMiddleware(URLRouter(chat_routes + widget_routes))
        ),
    }
)
