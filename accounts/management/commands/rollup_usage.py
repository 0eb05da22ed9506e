from django.core.management.base import BaseCommand, CommandError

from accounts import billing
from accounts.models import Organization


class Command(BaseCommand):
    help = ("Roll up billable usage for a calendar month (UTC), replacing any earlier rollup of it. "
            "Defaults to the previous month and every organization.")

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM (default: the previous month).")
        parser.add_argument("--org", help="Organization slug (default: every organization).")

    def handle(self, *args, **options):
        if options["month"]:
            try:
                period = billing.parse_period(options["month"])
            except ValueError:
                raise CommandError(f"--month must be YYYY-MM, got {options['month']!r}.")
        else:
            period = billing.previous_month(billing.month_start())
        orgs = Organization.objects.order_by("slug")
        if options["org"]:
            orgs = orgs.filter(slug=options["org"])
            if not orgs.exists():
                raise CommandError(f"No organization with slug {options['org']!r}.")
        count = 0
        for org in orgs:
            rollup = billing.rollup_month(org, period)
            count += 1
            self.stdout.write(
                f"{org.slug} {period:%Y-%m}: {rollup.billable_calls} billable, {rollup.free_calls} free, "
                f"{rollup.charged_calls} charged, ${rollup.amount_usd}"
            )
        self.stderr.write(f"Rolled up {count} organization(s) for {period:%Y-%m}.")
