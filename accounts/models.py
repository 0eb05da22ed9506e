import secrets
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from . import scopes as scope_catalog
from . import tokens

LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used is written at most once a minute


def prefixed_id(prefix: str, length: int = 16) -> str:
    return prefix + "".join(secrets.choice(tokens.ALPHABET) for _ in range(length))


def new_org_id() -> str:
    return prefixed_id("org_")


def new_signing_secret() -> str:
    return prefixed_id("whsec_", 32)


def default_aggressiveness() -> float:
    return settings.AMD_DEFAULT_AGGRESSIVENESS


class Organization(models.Model):
    id = models.CharField(primary_key=True, max_length=32, default=new_org_id, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True)
    credit_balance = models.DecimalField(
        max_digits=12, decimal_places=4, default=Decimal("0"), help_text="Prepaid credit in USD."
    )
    amd_bundled = models.BooleanField(
        default=False, help_text="AMD is bundled with PyAI telephony/Omni: calls are never billed."
    )
    # AMD config (GET/POST /v1/amd/config)
    aggressiveness = models.FloatField(
        default=default_aggressiveness, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)]
    )
    webhook_url = models.URLField(max_length=2000, blank=True, default="")
    detect_message_end = models.BooleanField(default=False)
    webhook_signing_secret = models.CharField(max_length=64, default=new_signing_secret)
    twilio_auth_token = models.CharField(
        max_length=64, blank=True, default="",
        help_text="When set, the X-Twilio-Signature of stream handshakes is verified.",
    )
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def webhook_signing_secret_hint(self) -> str:
        return f"whsec_…{self.webhook_signing_secret[-4:]}"

    def rotate_signing_secret(self) -> str:
        self.webhook_signing_secret = new_signing_secret()
        self.save(update_fields=["webhook_signing_secret"])
        return self.webhook_signing_secret


class Membership(models.Model):
    OWNER, MEMBER = "owner", "member"
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=[(OWNER, "Owner"), (MEMBER, "Member")], default=MEMBER)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "organization"], name="unique_membership")]

    def __str__(self):
        return f"{self.user} in {self.organization}"


class ApiKeyQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    LIVE, TEST = "live", "test"
    ENV_CHOICES = [(LIVE, "Live"), (TEST, "Test")]

    id = models.CharField(primary_key=True, max_length=tokens.KEY_ID_LENGTH, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=200)
    env = models.CharField(max_length=4, choices=ENV_CHOICES)
    scopes = models.JSONField(default=list)
    secret_hash = models.CharField(max_length=64, editable=False)
    masked = models.CharField(max_length=32, editable=False)
    allowed_origins = models.JSONField(default=list, blank=True, help_text="Browser origins; empty allows any.")
    requests_per_second = models.PositiveIntegerField(default=20)
    burst = models.PositiveIntegerField(default=40)
    concurrent_streams = models.PositiveIntegerField(default=100)
    created = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    last_used = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-created"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.masked})"

    @classmethod
    def create(cls, organization, name, env, scopes, **fields) -> tuple["ApiKey", str]:
        """Create a key; return it with its token, which exists nowhere else afterwards."""
        bad = scope_catalog.unknown(scopes)
        if bad:
            raise ValueError(f"unknown scope(s): {', '.join(bad)}")
        if not scopes:
            raise ValueError("a key needs at least one scope")
        fields.setdefault("requests_per_second", settings.KEY_DEFAULT_RATE_PER_SECOND)
        fields.setdefault("burst", settings.KEY_DEFAULT_BURST)
        fields.setdefault("concurrent_streams", settings.KEY_DEFAULT_CONCURRENT_STREAMS)
        key_id = tokens.new_key_id()
        token, secret = tokens.mint(env, key_id)
        key = cls.objects.create(
            id=key_id, organization=organization, name=name, env=env, scopes=list(scopes),
            secret_hash=tokens.hash_secret(secret), masked=tokens.masked(token), **fields,
        )
        return key, token

    @property
    def livemode(self) -> bool:
        return self.env == self.LIVE

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def has_scope(self, scope: str) -> bool:
        return scope_catalog.grants(self.scopes, scope)

    def origin_allowed(self, origin: str | None) -> bool:
        return not self.allowed_origins or origin in self.allowed_origins

    def revoke(self):
        if self.revoked_at is None:
            self.revoked_at = timezone.now()
            self.save(update_fields=["revoked_at"])

    def touch(self):
        """Record use, writing at most once per LAST_USED_RESOLUTION."""
        now = timezone.now()
        if self.last_used and now - self.last_used < LAST_USED_RESOLUTION:
            return
        stale = models.Q(last_used__isnull=True) | models.Q(last_used__lt=now - LAST_USED_RESOLUTION)
        ApiKey.objects.filter(stale, pk=self.pk).update(last_used=now)
        self.last_used = now


class MonthlyRollup(models.Model):
    """One organization's billed usage for one calendar month (UTC)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="rollups")
    period = models.DateField(help_text="First day of the month (UTC).")
    billable_calls = models.PositiveIntegerField(default=0)
    free_calls = models.PositiveIntegerField(default=0)
    charged_calls = models.PositiveIntegerField(default=0)
    amount_usd = models.DecimalField(max_digits=12, decimal_places=3, default=Decimal("0"))
    credit_applied_usd = models.DecimalField(
        max_digits=12, decimal_places=3, default=Decimal("0"),
        help_text="How much of amount_usd has been deducted from the organization's credit balance.",
    )
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period", "organization__name"]
        constraints = [models.UniqueConstraint(fields=["organization", "period"], name="unique_rollup_period")]

    def __str__(self):
        return f"{self.organization} {self.period:%Y-%m}"
