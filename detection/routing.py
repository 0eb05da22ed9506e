"""WebSocket routes, mounted by amd_project.asgi."""

websocket_urlpatterns: list = []
