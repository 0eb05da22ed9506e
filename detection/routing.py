"""WebSocket routes, mounted by amd_project.asgi."""

from django.urls import path

from .consumers import StreamConsumer

websocket_urlpatterns = [
    path("v1/amd/stream", StreamConsumer.as_asgi()),
]
