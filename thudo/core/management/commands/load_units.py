from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from thudo.core.units import units_load


class Command(BaseCommand):
    help = "Load provinces and commune-level units from the vietnam-provinces package."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--province",
            type=int,
            action="append",
            help="only this province code (repeatable); default: all 34",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        created, updated = units_load(provinces=options["province"])
        self.stdout.write(f"administrative units: {created} created, {updated} refreshed")
