from django.contrib import admin, messages

from . import webhooks
from .models import Call, WebhookAttempt, WebhookDelivery


class RecordAdmin(admin.ModelAdmin):
    """Records the service writes: shown read-only, never added by hand."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


class WebhookDeliveryInline(admin.TabularInline):
    model = WebhookDelivery
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ["id", "event_type", "url", "status", "attempt_count", "last_status_code", "next_attempt_at",
              "delivered_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Call)
class CallAdmin(RecordAdmin):
    list_display = ["id", "organization", "call_sid", "status", "answered_by", "confidence", "decision_ms",
                    "livemode", "billable", "created"]
    list_filter = ["status", "answered_by", "livemode", "billable"]
    search_fields = ["id", "call_sid", "stream_sid", "client_call_id", "organization__name"]
    list_select_related = ["organization"]
    date_hierarchy = "created"
    inlines = [WebhookDeliveryInline]


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["created", "status_code", "duration_ms", "error", "response_body"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(RecordAdmin):
    list_display = ["id", "organization", "call", "event_type", "url", "status", "attempt_count",
                    "last_status_code", "next_attempt_at", "created"]
    list_filter = ["status", "event_type"]
    search_fields = ["id", "event_id", "call__id", "call__call_sid", "url"]
    list_select_related = ["organization"]
    inlines = [WebhookAttemptInline]
    actions = ["replay_deliveries"]

    @admin.action(description="Replay selected deliveries")
    def replay_deliveries(self, request, queryset):
        count = 0
        for delivery in queryset:
            webhooks.replay(delivery)
            count += 1
        self.message_user(request, f"Replaying {count} deliver{'y' if count == 1 else 'ies'}.", messages.SUCCESS)
