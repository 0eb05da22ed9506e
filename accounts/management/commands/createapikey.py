from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts import scopes as scope_catalog
from accounts.models import ApiKey, Organization


class Command(BaseCommand):
    help = "Create an API key (and its organization if needed); prints only the key on stdout."

    def add_arguments(self, parser):
        parser.add_argument("--org", required=True, help="Organization slug (created if missing).")
        parser.add_argument("--env", required=True, choices=[ApiKey.LIVE, ApiKey.TEST])
        parser.add_argument("--scopes", default="amd:*", help="Comma-separated, e.g. amd:detect,amd:read.")
        parser.add_argument("--name", default="CLI key")
        parser.add_argument("--org-name", help="Name for a new organization (default: the slug).")

    def handle(self, *args, **options):
        wanted = scope_catalog.parse_list(options["scopes"])
        bad = scope_catalog.unknown(wanted)
        if bad:
            raise CommandError(f"Unknown scope(s): {', '.join(bad)}. Known: {', '.join(scope_catalog.ALL)}.")
        if not wanted:
            raise CommandError("Give at least one scope with --scopes.")
        with transaction.atomic():
            org, created = Organization.objects.get_or_create(
                slug=options["org"], defaults={"name": options["org_name"] or options["org"]}
            )
            key, token = ApiKey.create(org, options["name"], options["env"], wanted)
        if created:
            self.stderr.write(f"Created organization {org.slug} ({org.id}).")
        self.stderr.write(f"Created key {key.masked} with scopes {', '.join(key.scopes)}.")
        self.stdout.write(token)
