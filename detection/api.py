from django.db.models import Prefetch, Q
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.schema import error_responses

from .catalog import available_models
from .models import Call, WebhookDelivery
from .serializers import (
    CALL_ID_PATTERN,
    AmdConfigSerializer,
    AmdConfigUpdateSerializer,
    CallListQuerySerializer,
    CallListSerializer,
    CallSerializer,
    encode_cursor,
)

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

    @extend_schema(
        operation_id="amd_config_get",
        description="Requires scope `amd:configure`.",
        responses={200: AmdConfigSerializer, **error_responses(401, 403, 429)},
        extensions={"x-required-scope": "amd:configure"},
        examples=[OpenApiExample(
            "The defaults",
            value={"aggressiveness": 0.25, "webhook_url": None, "detect_message_end": False,
                   "webhook_signing_secret_hint": "whsec_…abcd"},
            response_only=True,
        )],
    )
    def get(self, request):
        return Response(AmdConfigSerializer(request.auth.organization).data)

    @extend_schema(
        operation_id="amd_config_update",
        description=(
            "Requires scope `amd:configure`. Send any subset of the writable fields; the whole config comes "
            "back. A value out of range, an unknown field or a webhook URL breaking the webhook rules is a 400 "
            "problem naming the field."
        ),
        extensions={"x-required-scope": "amd:configure"},
        request=AmdConfigUpdateSerializer,
        responses={200: AmdConfigSerializer, **error_responses(400, 401, 403, 429)},
        examples=[OpenApiExample(
            "Set the operating point and webhook",
            value={"aggressiveness": 0.25, "webhook_url": "https://you/amd-events"},
            request_only=True,
        )],
    )
    def post(self, request):
        org = request.auth.organization
        serializer = AmdConfigUpdateSerializer(org, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        serializer.save()
        return Response(AmdConfigSerializer(org).data)


CALL_READ_SCOPE = "amd:read"

EXAMPLE_CALL = {
    "id": "C_7hQ2mV9xK3pL0aZ8sT1u",
    "object": "amd.call",
    "call_sid": "CA5f1e7c0d2b9a48e6b3c4d5e6f7a8b9c0",
    "stream_sid": "MZ18ad3ab5a668481ce02b83e7395059f0",
    "account_sid": "AC9c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3b",
    "call_id": "order-4711",
    "status": "completed",
    "answered_by": "voicemail",
    "answered_by_twilio": "machine_start",
    "confidence": 0.96,
    "decision_ms": 720,
    "reason": "machine phrase: 'please leave a message' at 1.2s",
    "evidence": [{"kind": "phrase", "text": "please leave a message", "start_ms": 1200, "end_ms": 2300}],
    "aggressiveness": 0.25,
    "message_end": None,
    "started_at": "2026-11-21T13:02:11.482913Z",
    "ended_at": "2026-11-21T13:02:40.100230Z",
    "audio_ms": 28600,
    "livemode": True,
    "billable": True,
    "webhook": {
        "url": None,
        "deliveries": [{
            "id": "whd_Vb2nQ8xL1mK4pZ7sT0aR",
            "object": "webhook_delivery",
            "event_id": "evt_K2mV9xQ7hL0aZ8sT1uP3",
            "event_type": "amd",
            "url": "https://you/amd-events",
            "status": "succeeded",
            "attempts": 1,
            "last_status_code": 200,
            "last_error": None,
            "next_attempt_at": None,
            "created": "2026-11-21T13:02:12.220001Z",
            "delivered_at": "2026-11-21T13:02:12.391456Z",
        }],
    },
}


def calls_for(key):
    """The calls ``key`` may read, with their webhook deliveries loaded in one more query."""
    return Call.objects.for_key(key).prefetch_related(
        Prefetch("webhook_deliveries", queryset=WebhookDelivery.objects.order_by("created", "id"))
    )


class CallListView(APIView):
    """The key's calls (its organization, its mode), newest first, a page at a time."""

    required_scope = CALL_READ_SCOPE

    @extend_schema(
        operation_id="amd_calls_list",
        summary="List calls",
        description=(
            "Requires scope `amd:read`. Only the key's organization and mode: a test key lists test calls, a "
            "live key live calls. Newest first. Paginate with `limit` and the opaque `next_cursor` (pass it "
            "back as `cursor`) while `has_more` is true; or Stripe-style with `starting_after=<call id>`. "
            "Filters combine with AND; `created_after` is inclusive, `created_before` exclusive. An invalid "
            "parameter is a 400 problem naming it in `errors`."
        ),
        parameters=[CallListQuerySerializer],
        responses={200: CallListSerializer, **error_responses(400, 401, 403, 429)},
        extensions={"x-required-scope": CALL_READ_SCOPE},
        examples=[OpenApiExample(
            "A page of calls",
            value={"object": "list", "data": [EXAMPLE_CALL], "has_more": True,
                   "next_cursor": "MjAyNi0xMS0yMVQxMzowMjoxMS40ODI5MTMrMDA6MDB8Q183aFEybVY5eEszcEwwYVo4c1QxdQ"},
            response_only=True,
        )],
    )
    def get(self, request):
        query = CallListQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        params = query.validated_data
        calls = calls_for(request.auth).order_by("-created", "-id")
        if "answered_by" in params:
            calls = calls.filter(answered_by=params["answered_by"])
        if "call_sid" in params:
            calls = calls.filter(call_sid=params["call_sid"])
        if "created_after" in params:
            calls = calls.filter(created__gte=params["created_after"])
        if "created_before" in params:
            calls = calls.filter(created__lt=params["created_before"])
        position = params.get("position")
        if "starting_after" in params:
            anchor = Call.objects.for_key(request.auth).filter(pk=params["starting_after"]).first()
            if anchor is None:
                raise ValidationError({"starting_after": ["No such call."]})
            position = (anchor.created, anchor.pk)
        if position:
            created, call_id = position
            calls = calls.filter(Q(created__lt=created) | Q(created=created, id__lt=call_id))
        limit = params["limit"]
        page = list(calls[: limit + 1])
        has_more = len(page) > limit
        page = page[:limit]
        return Response({
            "object": "list",
            "data": CallSerializer(page, many=True).data,
            "has_more": has_more,
            "next_cursor": encode_cursor(page[-1]) if has_more else None,
        })


class CallDetailView(APIView):
    """One call, by the service's id (C_…) or Twilio's CallSid (CA…)."""

    required_scope = CALL_READ_SCOPE

    @extend_schema(
        operation_id="amd_calls_retrieve",
        summary="Retrieve a call",
        description=(
            "Requires scope `amd:read`. `id` is the service's call id (`C_…`) or Twilio's `CallSid` (`CA…`; "
            "the newest call with that CallSid). Another organization's call, or a call of the other mode, "
            "is a 404."
        ),
        parameters=[OpenApiParameter("id", str, OpenApiParameter.PATH,
                                     description="Call id (C_…) or Twilio CallSid (CA…).")],
        responses={200: CallSerializer, **error_responses(401, 403, 404, 429)},
        extensions={"x-required-scope": CALL_READ_SCOPE},
        examples=[OpenApiExample("A decided call", value=EXAMPLE_CALL, response_only=True)],
    )
    def get(self, request, id):
        call = None
        if CALL_ID_PATTERN.fullmatch(id):
            calls = calls_for(request.auth)
            if id.startswith("C_"):
                call = calls.filter(pk=id).first()
            else:
                call = calls.filter(call_sid=id).order_by("-created", "-id").first()
        if call is None:
            raise NotFound(f"No such call: {id[:64]!r}.")
        return Response(CallSerializer(call).data)
