"""Console pages of the detection app (mounted by accounts.urls)."""

from django.urls import path

from . import console

urlpatterns = [
    path("calls/", console.calls, name="calls"),
    path("calls/<str:call_id>/", console.call_detail, name="call-detail"),
    path("calls/<str:call_id>/deliveries/<str:delivery_id>/replay/", console.delivery_replay,
         name="delivery-replay"),
    path("settings/", console.amd_settings, name="settings"),
    path("settings/signing-secret/", console.signing_secret, name="signing-secret"),
    path("settings/test-webhook/", console.test_webhook, name="test-webhook"),
    path("try/", console.try_it, name="try"),
]
