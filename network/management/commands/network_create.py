from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from network import services


class Command(BaseCommand):
    help = "Create a network (tenant) with its Wagtail site, home page, collection and admin group."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--hostname", required=True, help="Host name the network's site answers"
        )
        parser.add_argument("--port", type=int, default=443)
        parser.add_argument("--time-zone", default="America/Los_Angeles")
        parser.add_argument("--default-site", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            network = services.network_create(
                name=options["name"],
                slug=options["slug"],
                hostname=options["hostname"],
                port=options["port"],
                time_zone=options["time_zone"],
                is_default_site=options["default_site"],
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Created network {network.slug} at {options['hostname']}")
        )
