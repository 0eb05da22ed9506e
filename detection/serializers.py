import base64
import binascii
import re
from datetime import UTC, datetime

from django.utils.dateparse import parse_date, parse_datetime
from rest_framework import serializers

from .models import ANSWERED_BY_CHOICES
from .urlcheck import UnsafeUrl, check_url

CALL_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # service ids (C_…) and Twilio CallSids (CA…)


def validate_webhook_url(value: str) -> str:
    try:
        check_url(value)
    except UnsafeUrl as exc:
        raise serializers.ValidationError(str(exc))
    return value


class JsonNumberField(serializers.FloatField):
    """A JSON number: neither a boolean nor a numeric string."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float):
            self.fail("invalid")
        return super().to_internal_value(data)


class JsonBooleanField(serializers.BooleanField):
    """A JSON true or false, not "yes", 1 or "true"."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input=data)
        return data


class JsonStringField(serializers.CharField):
    """A JSON string, not a number turned into one."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class AmdConfigSerializer(serializers.Serializer):
    aggressiveness = JsonNumberField(
        min_value=0.0, max_value=1.0,
        help_text="0–0.25 human-safe, 0.6–1 machine-aggressive. Default 0.25.",
    )
    webhook_url = JsonStringField(
        allow_null=True, allow_blank=True, max_length=2000,
        help_text="Where decisions are POSTed (http/https, public host). null or \"\" clears it.",
    )
    detect_message_end = JsonBooleanField()
    webhook_signing_secret_hint = serializers.CharField(read_only=True)

    def validate(self, attrs):
        if isinstance(self.initial_data, dict):
            unknown = sorted(set(self.initial_data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return attrs

    def validate_webhook_url(self, value):
        if value in (None, ""):
            return ""
        return validate_webhook_url(value)

    def to_representation(self, org):
        return {
            "aggressiveness": org.aggressiveness,
            "webhook_url": org.webhook_url or None,
            "detect_message_end": org.detect_message_end,
            "webhook_signing_secret_hint": org.webhook_signing_secret_hint,
        }

    def update(self, org, validated_data):
        for field, value in validated_data.items():
            setattr(org, field, value)
        org.save(update_fields=list(validated_data))
        return org


class AmdConfigUpdateSerializer(AmdConfigSerializer):
    """The body of POST /v1/amd/config: any subset of the writable fields."""

    def get_fields(self):
        fields = super().get_fields()
        for field in fields.values():
            field.required = False
        return fields


class DeliverySummarySerializer(serializers.Serializer):
    """One webhook delivery of a call's event, without the body."""

    id = serializers.CharField()
    object = serializers.CharField(default="webhook_delivery", help_text='Always "webhook_delivery".')
    event_id = serializers.CharField(help_text="The event's id (evt_…), also sent as the PyAI-Event-Id header.")
    event_type = serializers.ChoiceField(choices=["amd", "amd.message_end"])
    url = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "succeeded", "failed"])
    attempts = serializers.IntegerField(source="attempt_count")
    last_status_code = serializers.IntegerField(allow_null=True, help_text="HTTP status of the latest attempt.")
    last_error = serializers.CharField(allow_null=True, help_text="Why the latest attempt got no HTTP answer.")
    next_attempt_at = serializers.DateTimeField(allow_null=True)
    created = serializers.DateTimeField()
    delivered_at = serializers.DateTimeField(allow_null=True)

    def to_representation(self, delivery):
        data = super().to_representation(delivery)
        data["object"] = "webhook_delivery"
        data["last_error"] = delivery.last_error or None
        if delivery.status != "pending":
            data["next_attempt_at"] = None
        return data


class CallWebhookSerializer(serializers.Serializer):
    url = serializers.CharField(
        allow_null=True,
        help_text="Where this call's events go, fixed when its stream started (the call's `webhook` parameter "
                  "or the account's URL then); null: the account's URL at the time of each event.",
    )
    deliveries = DeliverySummarySerializer(many=True)


class CallSerializer(serializers.Serializer):
    """A call as GET /v1/amd/calls/{id} shows it."""

    id = serializers.CharField(help_text="The service's call id (C_…).")
    object = serializers.CharField(default="amd.call", help_text='Always "amd.call".')
    call_sid = serializers.CharField(allow_null=True, help_text="Twilio CallSid (CA…).")
    stream_sid = serializers.CharField(allow_null=True, help_text="Twilio StreamSid (MZ…).")
    account_sid = serializers.CharField(allow_null=True, help_text="Twilio AccountSid (AC…).")
    call_id = serializers.CharField(allow_null=True, help_text="Your own reference, from the call_id parameter.")
    status = serializers.ChoiceField(choices=["in_progress", "decided", "completed"])
    answered_by = serializers.ChoiceField(choices=[value for value, _ in ANSWERED_BY_CHOICES], allow_null=True)
    answered_by_twilio = serializers.ChoiceField(
        choices=["human", "machine_start", "machine_end_beep", "machine_end_silence", "machine_end_other", "fax",
                 "unknown"],
        allow_null=True,
        help_text="Twilio's AnsweredBy equivalent.",
    )
    confidence = serializers.FloatField(allow_null=True)
    decision_ms = serializers.IntegerField(
        allow_null=True, help_text="Audio time from the first media frame to the deciding frame."
    )
    reason = serializers.CharField(allow_null=True)
    evidence = serializers.ListField(child=serializers.DictField(), help_text="Segments, tones, phrases with ms.")
    aggressiveness = serializers.FloatField()
    message_end = serializers.DictField(allow_null=True, help_text="The amd.message_end event, if one was sent.")
    started_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    audio_ms = serializers.IntegerField(help_text="Inbound audio received, in ms.")
    livemode = serializers.BooleanField()
    billable = serializers.BooleanField()
    webhook = CallWebhookSerializer()

    def to_representation(self, call):
        return {
            "id": call.id,
            "object": "amd.call",
            "call_sid": call.call_sid or None,
            "stream_sid": call.stream_sid or None,
            "account_sid": call.account_sid or None,
            "call_id": call.client_call_id or None,
            "status": call.status,
            "answered_by": call.answered_by or None,
            "answered_by_twilio": call.answered_by_twilio or None,
            "confidence": call.confidence,
            "decision_ms": call.decision_ms,
            "reason": call.reason or None,
            "evidence": call.evidence or [],
            "aggressiveness": call.aggressiveness,
            "message_end": call.message_end,
            "started_at": self.fields["started_at"].to_representation(call.started_at),
            "ended_at": self.fields["ended_at"].to_representation(call.ended_at) if call.ended_at else None,
            "audio_ms": call.audio_ms,
            "livemode": call.livemode,
            "billable": call.billable,
            "webhook": {
                "url": call.webhook_url or None,
                "deliveries": DeliverySummarySerializer(call.webhook_deliveries.all(), many=True).data,
            },
        }


class CallListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list", help_text='Always "list".')
    data = CallSerializer(many=True)
    has_more = serializers.BooleanField(help_text="Whether more calls follow this page.")
    next_cursor = serializers.CharField(
        allow_null=True, help_text="Pass as `cursor` for the next page; null on the last page."
    )


def parse_timestamp(value: str) -> datetime:
    """ISO 8601 date or date-time (no offset means UTC), or Unix seconds; always returned in UTC."""
    value = value.strip()
    # An unencoded "+" in a query string arrives as a space: 2026-11-01T00:00:00 02:00.
    value = re.sub(r" (\d{2}(?::?\d{2})?)$", r"+\1", value)
    try:
        if re.fullmatch(r"-?\d{1,12}", value):
            moment = datetime.fromtimestamp(int(value), tz=UTC)
        else:
            moment = parse_datetime(value)
            if moment is None:
                day = parse_date(value)
                if day is None:
                    raise ValueError(value)
                moment = datetime(day.year, day.month, day.day)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        raise serializers.ValidationError(
            "Expected an ISO 8601 date-time such as 2026-11-01T00:00:00Z, a date, or Unix seconds."
        )


class CallListQuerySerializer(serializers.Serializer):
    """Query parameters of GET /v1/amd/calls."""

    limit = serializers.IntegerField(min_value=1, max_value=100, default=20, help_text="Page size, 1–100.")
    cursor = serializers.CharField(
        required=False, max_length=200, help_text="`next_cursor` of the previous page (opaque)."
    )
    starting_after = serializers.CharField(
        required=False, max_length=64, help_text="A call id (C_…): list the calls after it, as Stripe does."
    )
    answered_by = serializers.ChoiceField(
        choices=[value for value, _ in ANSWERED_BY_CHOICES], required=False, help_text="Only this outcome."
    )
    call_sid = serializers.CharField(required=False, max_length=64, help_text="Only this Twilio CallSid.")
    created_after = serializers.CharField(
        required=False, max_length=64, help_text="Calls created at or after this time (ISO 8601, or Unix seconds)."
    )
    created_before = serializers.CharField(
        required=False, max_length=64, help_text="Calls created before this time (ISO 8601, or Unix seconds)."
    )

    def validate_created_after(self, value):
        return parse_timestamp(value)

    def validate_created_before(self, value):
        return parse_timestamp(value)

    def validate(self, attrs):
        unknown = sorted(set(self.initial_data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: ["Unknown query parameter."] for name in unknown})
        if "cursor" in attrs and "starting_after" in attrs:
            raise serializers.ValidationError({"starting_after": ["Give either cursor or starting_after, not both."]})
        if "cursor" in attrs:
            try:
                attrs["position"] = decode_cursor(attrs["cursor"])
            except (ValueError, OverflowError):
                raise serializers.ValidationError({"cursor": ["Invalid cursor; pass next_cursor as given."]})
        return attrs


def encode_cursor(call) -> str:
    raw = f"{call.created.astimezone(UTC).isoformat()}|{call.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """(created, id) of the last call on the previous page; ValueError if the cursor is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ValueError("undecodable cursor")
    created_text, sep, call_id = raw.partition("|")
    created = parse_datetime(created_text) if sep else None
    if created is None or created.tzinfo is None or not CALL_ID_PATTERN.fullmatch(call_id):
        raise ValueError("malformed cursor")
    return created.astimezone(UTC), call_id
