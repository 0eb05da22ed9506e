from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.schema import error_responses

from .catalog import available_models
from .serializers import AmdConfigSerializer

ModelList = inline_serializer(
    "ModelList",
    {
        "object": serializers.CharField(),
        "data": inline_serializer(
            "Model",
            {
                "id": serializers.CharField(),
                "object": serializers.CharField(),
                "version": serializers.CharField(),
                "description": serializers.CharField(),
                "default": serializers.BooleanField(),
            },
            many=True,
        ),
    },
)


class ModelsView(APIView):
    """The detector model(s) and version this deployment runs."""

    @extend_schema(operation_id="models", responses={200: ModelList, **error_responses(401, 429)})
    def get(self, request):
        return Response({"object": "list", "data": available_models()})


class AmdConfigView(APIView):
    """The organization's AMD operating point, default webhook and message-end default."""

    required_scope = "amd:configure"

    @extend_schema(operation_id="amd_config_get", responses={200: AmdConfigSerializer,
                                                             **error_responses(401, 403, 429)})
    def get(self, request):
        return Response(AmdConfigSerializer(request.auth.organization).data)

    @extend_schema(
        operation_id="amd_config_update",
        request=AmdConfigSerializer,
        responses={200: AmdConfigSerializer, **error_responses(400, 401, 403, 429)},
        examples=[OpenApiExample(
            "Set the operating point and webhook",
            value={"aggressiveness": 0.25, "webhook_url": "https://you/amd-events"},
            request_only=True,
        )],
    )
    def post(self, request):
        org = request.auth.organization
        serializer = AmdConfigSerializer(org, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(AmdConfigSerializer(org).data)
