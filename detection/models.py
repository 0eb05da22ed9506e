from django.db import models
from django.utils import timezone

from accounts.models import ApiKey, Organization, prefixed_id

ANSWERED_BY_CHOICES = [
    (value, value)
    for value in (
        "human", "human_gatekeeper", "voicemail", "live_voicemail", "screening",
        "ivr", "sit_invalid", "fax", "silence", "unknown",
    )
]


def new_call_id() -> str:
    return prefixed_id("C_", 20)


def new_delivery_id() -> str:
    return prefixed_id("whd_", 20)


def new_event_id() -> str:
    return prefixed_id("evt_", 20)


class CallQuerySet(models.QuerySet):
    def for_key(self, key: ApiKey):
        """What a key may see: its organization's calls in its own mode (live or test)."""
        return self.filter(organization_id=key.organization_id, livemode=key.livemode)

    def billable(self):
        return self.filter(billable=True)


class Call(models.Model):
    IN_PROGRESS, DECIDED, COMPLETED = "in_progress", "decided", "completed"
    STATUS_CHOICES = [(IN_PROGRESS, "In progress"), (DECIDED, "Decided"), (COMPLETED, "Completed")]

    id = models.CharField(primary_key=True, max_length=32, default=new_call_id, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="calls")
    api_key = models.ForeignKey(ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="calls")
    livemode = models.BooleanField()
    call_sid = models.CharField(max_length=64, blank=True, default="", db_index=True)
    stream_sid = models.CharField(max_length=64, blank=True, default="")
    account_sid = models.CharField(max_length=64, blank=True, default="")
    client_call_id = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=IN_PROGRESS)
    aggressiveness = models.FloatField()
    detect_message_end = models.BooleanField(default=False)
    webhook_url = models.URLField(max_length=2000, blank=True, default="")
    answered_by = models.CharField(max_length=32, choices=ANSWERED_BY_CHOICES, blank=True, default="")
    answered_by_twilio = models.CharField(max_length=32, blank=True, default="")
    confidence = models.FloatField(null=True, blank=True)
    decision_ms = models.PositiveIntegerField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    evidence = models.JSONField(default=list, blank=True)
    message_end = models.JSONField(null=True, blank=True)
    audio_ms = models.PositiveIntegerField(default=0)
    billable = models.BooleanField(default=False)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    started_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = CallQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        indexes = [
            models.Index(fields=["organization", "livemode", "-created"], name="call_org_mode_created"),
            models.Index(fields=["organization", "billable", "created"], name="call_org_billable_created"),
        ]

    def __str__(self):
        return f"{self.id} {self.answered_by or self.status}"


class WebhookDelivery(models.Model):
    PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"
    STATUS_CHOICES = [(PENDING, "Pending"), (SUCCEEDED, "Succeeded"), (FAILED, "Failed")]

    id = models.CharField(primary_key=True, max_length=32, default=new_delivery_id, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="webhook_deliveries")
    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="webhook_deliveries")
    event_id = models.CharField(max_length=32, default=new_event_id, unique=True)
    event_type = models.CharField(max_length=32)
    url = models.URLField(max_length=2000)
    body = models.TextField(help_text="The exact JSON body that is signed and sent.")
    status = models.CharField(max_length=16, choices=STATUS_CHOICES, default=PENDING)
    attempt_count = models.PositiveIntegerField(default=0, help_text="Attempts made, replays included.")
    attempts_before_replay = models.PositiveIntegerField(
        default=0, help_text="Attempts made before the latest replay; the retry schedule counts from here."
    )
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_status_due")]

    def __str__(self):
        return f"{self.event_type} → {self.url}"


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    created = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    response_body = models.TextField(blank=True, default="", help_text="At most 1 KB of the response.")

    class Meta:
        ordering = ["created", "id"]

    def __str__(self):
        return f"{self.delivery_id} {self.status_code or self.error}"
