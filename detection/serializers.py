from rest_framework import serializers

from .urlcheck import UnsafeUrl, check_url


def validate_webhook_url(value: str) -> str:
    try:
        check_url(value)
    except UnsafeUrl as exc:
        raise serializers.ValidationError(str(exc))
    return value


class AmdConfigSerializer(serializers.Serializer):
    aggressiveness = serializers.FloatField(
        min_value=0.0, max_value=1.0,
        help_text="0–0.25 human-safe, 0.6–1 machine-aggressive. Default 0.25.",
    )
    webhook_url = serializers.CharField(
        allow_null=True, allow_blank=True, max_length=2000,
        help_text="Where decisions are POSTed (http/https, public host). null or \"\" clears it.",
    )
    detect_message_end = serializers.BooleanField()
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
