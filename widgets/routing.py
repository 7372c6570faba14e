from django.urls import path

from widgets.consumers import WidgetConsumer

websocket_urlpatterns = [path("ws/widget/<str:key>/", WidgetConsumer.as_asgi())]
