from django.db import transaction
from django.utils.crypto import get_random_string
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import billing
from . import scopes as scope_catalog
from .models import ApiKey, Organization
from .schema import error_responses
from .serializers import KeySerializer, MeSerializer, SandboxKeySerializer, ScopeListSerializer
from .throttling import SandboxRateThrottle


class MeView(APIView):
    """The calling key, its organization, limits, month-to-date usage and credit."""

    @extend_schema(operation_id="me", responses={200: MeSerializer, **error_responses(401, 403, 429)})
    def get(self, request):
        key: ApiKey = request.auth
        org = key.organization
        return Response({
            "object": "key",
            "key": KeySerializer(key).data,
            "organization": {"id": org.id, "name": org.name},
            "limits": {
                "requests_per_second": key.requests_per_second,
                "burst": key.burst,
                "concurrent_streams": key.concurrent_streams,
            },
            "usage": billing.usage(org).as_dict(),
            "credit": billing.credit_summary(org),
        })


class ScopesView(APIView):
    """The scopes a key can hold."""

    @extend_schema(operation_id="scopes", responses={200: ScopeListSerializer, **error_responses(401, 429)})
    def get(self, request):
        data = [
            {"scope": scope, "description": text, "wildcard": scope in scope_catalog.WILDCARDS}
            for scope, text in scope_catalog.ALL.items()
        ]
        return Response({"object": "list", "data": data})


class SandboxKeyView(APIView):
    """A new sandbox organization with a ``pyai_test_`` key holding ``amd:*``. No card, no sign-up."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [SandboxRateThrottle]

    @extend_schema(operation_id="sandbox_key_create", request=None,
                   responses={201: SandboxKeySerializer, **error_responses(429)})
    def post(self, request):
        suffix = get_random_string(10, "abcdefghijklmnopqrstuvwxyz0123456789")
        with transaction.atomic():
            org = Organization.objects.create(name=f"Sandbox {suffix}", slug=f"sandbox-{suffix}")
            key, token = ApiKey.create(org, name="Sandbox key", env=ApiKey.TEST, scopes=["amd:*"])
        return Response(
            {
                "object": "sandbox_key",
                "key": token,
                "key_id": key.pk,
                "scopes": key.scopes,
                "organization": {"id": org.id, "name": org.name},
            },
            status=201,
        )


