from django.urls import path
from drf_spectacular.views import SpectacularJSONAPIView

from accounts.api import MeView, SandboxKeyView, ScopesView
from detection.api import AmdConfigView, CallDetailView, CallListView, ModelsView


class OpenApiView(SpectacularJSONAPIView):
    authentication_classes: list = []
    permission_classes: list = []
    throttle_classes: list = []


urlpatterns = [
    path("me", MeView.as_view(), name="api-me"),
    path("scopes", ScopesView.as_view(), name="api-scopes"),
    path("models", ModelsView.as_view(), name="api-models"),
    path("sandbox/keys", SandboxKeyView.as_view(), name="api-sandbox-keys"),
    path("amd/config", AmdConfigView.as_view(), name="api-amd-config"),
    path("amd/calls", CallListView.as_view(), name="api-amd-calls"),
    path("amd/calls/<str:id>", CallDetailView.as_view(), name="api-amd-call"),
    path("openapi.json", OpenApiView.as_view(), name="api-openapi"),
]
