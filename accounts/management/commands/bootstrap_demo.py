from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils.crypto import get_random_string

from accounts.models import ApiKey, Membership, Organization

DEMO_SLUG = "demo"
DEMO_USER = "demo"


class Command(BaseCommand):
    help = "Create the demo organization, a console user and a test key (each once; secrets printed once)."

    def handle(self, *args, **options):
        User = get_user_model()
        with transaction.atomic():
            org, _ = Organization.objects.get_or_create(slug=DEMO_SLUG, defaults={"name": "Demo"})
            password = None
            user = User.objects.filter(username=DEMO_USER).first()
            if user is None:
                password = get_random_string(16)
                user = User.objects.create_user(DEMO_USER, password=password, is_staff=True, is_superuser=True)
            Membership.objects.get_or_create(user=user, organization=org, defaults={"role": Membership.OWNER})
            token = None
            if not org.api_keys.active().filter(env=ApiKey.TEST).exists():
                _, token = ApiKey.create(org, "Demo test key", ApiKey.TEST, ["amd:*"], created_by=user)

        base = settings.SITE_URL
        self.stdout.write("")
        if password:
            self.stdout.write(f"Console and admin: {base}/  user '{DEMO_USER}'  password '{password}' (shown once)")
        else:
            self.stdout.write(f"Console and admin: {base}/  user '{DEMO_USER}' (password shown at first run)")
        if token:
            self.stdout.write(f"Demo test key (shown once, store it now): {token}")
            self.stdout.write(f'  curl -H "Authorization: Bearer {token}" {base}/v1/me')
        else:
            self.stdout.write(
                "The demo test key was shown at first run. Another: "
                "python manage.py createapikey --org demo --env test --scopes 'amd:*'"
            )
        self.stdout.write("")
