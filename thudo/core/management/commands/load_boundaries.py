from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from thudo.core.errors import ThudoError
from thudo.core.units import boundaries_load


class Command(BaseCommand):
    help = "Attach GeoJSON boundaries to units (a FeatureCollection; all or nothing)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument(
            "--code-property",
            default="code",
            help="the feature property holding the unit code (default: code)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with open(options["path"], encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, json.JSONDecodeError) as exc:
            raise CommandError(f"cannot read {options['path']}: {exc}") from None
        try:
            count = boundaries_load(feature_collection=data, code_property=options["code_property"])
        except ThudoError as exc:
            raise CommandError(json.dumps(exc.as_dict(), ensure_ascii=False)) from None
        self.stdout.write(f"boundaries loaded: {count}")
