from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html

from . import billing
from . import scopes as scope_catalog
from .models import ApiKey, Membership, MonthlyRollup, Organization


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "credit_balance", "amd_bundled", "aggressiveness", "created"]
    list_filter = ["amd_bundled"]
    search_fields = ["name", "slug", "id"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["id", "signing_secret_hint", "created"]
    exclude = ["webhook_signing_secret"]
    inlines = [MembershipInline]
    actions = ["rotate_signing_secret"]

    @admin.display(description="Webhook signing secret")
    def signing_secret_hint(self, obj):
        return obj.webhook_signing_secret_hint if obj.pk else "—"

    @admin.action(description="Rotate the webhook signing secret")
    def rotate_signing_secret(self, request, queryset):
        for org in queryset:
            org.rotate_signing_secret()
        self.message_user(request, f"Rotated {queryset.count()} signing secret(s).", messages.SUCCESS)


class ApiKeyCreateForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=[(scope, f"{scope} — {text}") for scope, text in scope_catalog.ALL.items()],
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = ApiKey
        fields = ["organization", "name", "env", "scopes", "allowed_origins",
                  "requests_per_second", "burst", "concurrent_streams"]


class ApiKeyChangeForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "allowed_origins", "requests_per_second", "burst", "concurrent_streams"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["name", "masked", "organization", "env", "scope_list", "created", "last_used", "revoked_at"]
    list_filter = ["env", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "id", "masked", "organization__name", "organization__slug"]
    list_select_related = ["organization"]
    actions = ["revoke_keys"]
    autocomplete_fields = ["organization"]

    def get_form(self, request, obj=None, **kwargs):
        kwargs["form"] = ApiKeyChangeForm if obj else ApiKeyCreateForm
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        if obj:
            return ["id", "masked", "organization", "env", "scope_list", "created", "created_by",
                    "last_used", "revoked_at"]
        return []

    def get_fields(self, request, obj=None):
        if obj:
            return self.get_readonly_fields(request, obj) + list(ApiKeyChangeForm.Meta.fields)
        return list(ApiKeyCreateForm.Meta.fields)

    @admin.display(description="Scopes")
    def scope_list(self, obj):
        return ", ".join(obj.scopes)

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        data = form.cleaned_data
        key, token = ApiKey.create(
            data["organization"], data["name"], data["env"], data["scopes"],
            allowed_origins=data.get("allowed_origins") or [],
            requests_per_second=data["requests_per_second"], burst=data["burst"],
            concurrent_streams=data["concurrent_streams"], created_by=request.user,
        )
        obj.pk = key.pk
        obj._state.adding = False
        obj._state.db = key._state.db
        self.message_user(
            request,
            format_html("New key (shown only now, copy it): <code>{}</code>", token),
            messages.WARNING,
        )

    @admin.action(description="Revoke selected keys")
    def revoke_keys(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} key(s).", messages.SUCCESS)


@admin.register(MonthlyRollup)
class MonthlyRollupAdmin(admin.ModelAdmin):
    list_display = ["organization", "period", "billable_calls", "free_calls", "charged_calls", "amount_usd",
                    "credit_applied_usd", "computed_at"]
    list_filter = ["period"]
    list_select_related = ["organization"]
    search_fields = ["organization__name", "organization__slug"]
    date_hierarchy = "period"
    readonly_fields = list_display
    actions = ["recompute"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Recompute selected rollups from the call records")
    def recompute(self, request, queryset):
        rollups = list(queryset.select_related("organization"))
        for rollup in rollups:
            billing.rollup_month(rollup.organization, rollup.period)
        self.message_user(request, f"Recomputed {len(rollups)} rollup(s).", messages.SUCCESS)
