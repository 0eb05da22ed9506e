"""Forms of the web console."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.utils.text import slugify
from rest_framework import serializers

from detection.models import ANSWERED_BY_CHOICES
from detection.serializers import validate_webhook_url

from . import scopes as scope_catalog
from .models import ApiKey, Membership, Organization


def unique_slug(name: str) -> str:
    base = slugify(name)[:80] or "org"
    slug, n = base, 1
    while Organization.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


def checked_webhook_url(value: str) -> str:
    """The webhook URL rules of the API, as a form error."""
    try:
        return validate_webhook_url(value)
    except serializers.ValidationError as exc:
        raise forms.ValidationError([str(message) for message in exc.detail]) from None


class SignUpForm(UserCreationForm):
    organization = forms.CharField(
        label="Organization name", max_length=200,
        help_text="Your company or team. You become its owner.",
    )
    email = forms.EmailField(required=False, help_text="Optional.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    field_order = ["organization", "username", "email", "password1", "password2"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.pop("autofocus", None)
        self.fields["organization"].widget.attrs["autofocus"] = True
        self.fields["password1"].help_text = (
            "At least 8 characters, not a common password, not all digits, not like your username."
        )

    def clean_organization(self):
        name = self.cleaned_data["organization"].strip()
        if not name:
            raise forms.ValidationError("Enter your organization's name.")
        return name

    @transaction.atomic
    def save(self, commit=True):
        user = super().save(commit=True)
        name = self.cleaned_data["organization"]
        org = Organization.objects.create(name=name, slug=unique_slug(name))
        Membership.objects.create(user=user, organization=org, role=Membership.OWNER)
        return user


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="What uses this key, e.g. “dialer production”.")
    env = forms.ChoiceField(
        label="Environment",
        choices=[(ApiKey.TEST, "Test"), (ApiKey.LIVE, "Live")],
        initial=ApiKey.TEST,
        widget=forms.RadioSelect,
    )
    scopes = forms.MultipleChoiceField(
        choices=[(scope, scope) for scope in scope_catalog.ALL],
        initial=["amd:*"],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one scope."},
    )

    env_descriptions = {
        ApiKey.TEST: "pyai_test_… — never billed, skips the credit gate, sees only test calls.",
        ApiKey.LIVE: "pyai_live_… — calls are billed, sees only live calls.",
    }

    def env_options(self):
        """(radio, description) pairs for the environment choices."""
        return [(choice, self.env_descriptions[choice.data["value"]]) for choice in self["env"]]

    def scope_options(self):
        """(checkbox, description) pairs for the scope choices."""
        return [(choice, scope_catalog.ALL[choice.data["value"]]) for choice in self["scopes"]]


class AmdSettingsForm(forms.Form):
    aggressiveness = forms.FloatField(
        min_value=0.0, max_value=1.0,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}),
        help_text="0–0.25 human-safe · 0.6–1 machine-aggressive. Per-call parameter overrides it.",
    )
    webhook_url = forms.CharField(
        label="Default webhook URL", required=False, max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/amd-events"}),
        help_text="Decisions are POSTed here unless a call passes its own webhook parameter. "
                  "Empty: no default webhook.",
    )
    detect_message_end = forms.BooleanField(
        label="Detect the end of machine greetings by default", required=False,
        help_text="Adds an amd.message_end event (beep, silence or other) after machine decisions.",
    )

    def clean_webhook_url(self):
        value = self.cleaned_data["webhook_url"].strip()
        return checked_webhook_url(value) if value else ""

    def save(self, org: Organization) -> Organization:
        fields = ["aggressiveness", "webhook_url", "detect_message_end"]
        for name in fields:
            setattr(org, name, self.cleaned_data[name])
        org.save(update_fields=fields)
        return org


class WebhookTestForm(forms.Form):
    url = forms.CharField(
        label="Send to", required=False, max_length=2000,
        widget=forms.URLInput(attrs={"placeholder": "the default webhook URL"}),
        help_text="Empty: the default webhook URL above.",
    )

    def __init__(self, *args, organization=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_url(self):
        value = self.cleaned_data["url"].strip()
        if value:
            return checked_webhook_url(value)
        if self.organization is not None and not self.organization.webhook_url:
            raise forms.ValidationError("There is no default webhook URL: enter one here or save one above.")
        return ""


class CallFilterForm(forms.Form):
    answered_by = forms.ChoiceField(label="Answered by", required=False,
                                    choices=[("", "Any")] + list(ANSWERED_BY_CHOICES))
    mode = forms.ChoiceField(required=False, choices=[("", "Live and test"), ("live", "Live"), ("test", "Test")])
    created_after = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_before = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                     help_text="Inclusive.")
    call_sid = forms.CharField(label="CallSid", required=False, max_length=64,
                               widget=forms.TextInput(attrs={"placeholder": "CA…"}))

    def clean(self):
        data = super().clean()
        after, before = data.get("created_after"), data.get("created_before")
        if after and before and after > before:
            self.add_error("created_before", "The end date is before the start date.")
        return data


class TryItForm(forms.Form):
    recording = forms.FileField(
        help_text="WAV (PCM or μ-law, any sample rate) or raw 8 kHz μ-law (.ulaw, .mulaw, .raw, .ul); "
                  "at most 5 MB and 60 s.",
        widget=forms.ClearableFileInput(attrs={"accept": ".wav,.ulaw,.mulaw,.raw,.ul,audio/wav,audio/x-wav"}),
    )
    aggressiveness = forms.FloatField(
        min_value=0.0, max_value=1.0,
        widget=forms.NumberInput(attrs={"step": "0.01", "min": "0", "max": "1"}),
    )
    detect_message_end = forms.BooleanField(label="Also find the end of a machine greeting", required=False)

    def __init__(self, *args, max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def clean_recording(self):
        upload = self.cleaned_data["recording"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(
                f"The file is {upload.size / 1048576:.1f} MB; the limit is {self.max_bytes // 1048576} MB."
            )
        if upload.size == 0:
            raise forms.ValidationError("The file is empty.")
        return upload
