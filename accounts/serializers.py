from rest_framework import serializers

from .models import ApiKey


class KeySerializer(serializers.ModelSerializer):
    scopes = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = ApiKey
        fields = ["id", "name", "env", "masked", "scopes", "created", "last_used"]


class OrganizationRefSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()


class LimitsSerializer(serializers.Serializer):
    requests_per_second = serializers.IntegerField()
    burst = serializers.IntegerField()
    concurrent_streams = serializers.IntegerField()


class UsageSerializer(serializers.Serializer):
    period = serializers.CharField(help_text="Calendar month (UTC), YYYY-MM.")
    billable_calls = serializers.IntegerField()
    free_remaining = serializers.IntegerField()
    charged_calls = serializers.IntegerField()
    amount_usd = serializers.CharField(help_text="Decimal string.")


class CreditSerializer(serializers.Serializer):
    balance_usd = serializers.CharField(help_text="Prepaid credit less this month's charges, decimal string.")
    gate = serializers.ChoiceField(choices=["open", "closed"])


class MeSerializer(serializers.Serializer):
    object = serializers.CharField(default="key")
    key = KeySerializer()
    organization = OrganizationRefSerializer()
    limits = LimitsSerializer()
    usage = UsageSerializer()
    credit = CreditSerializer()


class ScopeSerializer(serializers.Serializer):
    scope = serializers.CharField()
    description = serializers.CharField()
    wildcard = serializers.BooleanField()


class ScopeListSerializer(serializers.Serializer):
    object = serializers.CharField(default="list")
    data = ScopeSerializer(many=True)


class SandboxKeySerializer(serializers.Serializer):
    object = serializers.CharField(default="sandbox_key")
    key = serializers.CharField(help_text="The new pyai_test_ key. Shown once; store it now.")
    key_id = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    organization = OrganizationRefSerializer()
