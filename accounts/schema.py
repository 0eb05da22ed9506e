"""OpenAPI descriptions shared by every endpoint."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = ["BearerAuth", "ApiKeyHeader"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer pyai_live_…"},
            {"type": "apiKey", "in": "header", "name": "x-api-key", "description": "x-api-key: pyai_live_…"},
        ]


ErrorEnvelope = inline_serializer(
    "ErrorEnvelope",
    {
        "error": inline_serializer(
            "ErrorBody",
            {
                "message": serializers.CharField(),
                "type": serializers.CharField(),
                "code": serializers.ChoiceField(choices=[
                    "invalid_request_error", "unauthorized", "forbidden", "origin_not_allowed",
                    "credit_exhausted", "key_budget_exceeded", "insufficient_quota", "rate_limit_exceeded",
                    "concurrency_limit_exceeded", "daily_cap_exceeded",
                ]),
                "param": serializers.CharField(allow_null=True),
            },
        )
    },
)

Problem = inline_serializer(
    "Problem",
    {
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "errors": serializers.DictField(child=serializers.ListField(child=serializers.CharField()), required=False),
    },
)


def error_responses(*statuses: int) -> dict:
    """OpenAPI responses for the given error statuses, each with its envelope."""
    descriptions = {
        400: "Validation error (problem+json, errors per field).",
        401: "Missing, malformed, forged or revoked API key.",
        402: "Credit exhausted.",
        403: "The key lacks the required scope, or the Origin is not allowed.",
        404: "Not found (also another organization's object).",
        429: "Rate limit exceeded; see Retry-After.",
    }
    responses = {}
    for status in statuses:
        if status in (401, 402, 403, 429):
            responses[status] = OpenApiResponse(ErrorEnvelope, description=descriptions[status])
        else:
            responses[(status, "application/problem+json")] = OpenApiResponse(
                Problem, description=descriptions[status]
            )
    return responses
