"""`thudo registries samples|show`: look at the demo registries from the provider's side."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = "Base registries: sample personal IDs of the demo, and one resident's records."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        sub.add_parser("samples", help="Demo citizens that show each case (e-ID level, ...).")
        show = sub.add_parser("show", help="What each registry service answers for a person.")
        show.add_argument("personal_id")

    def handle(self, *args: Any, **options: Any) -> None:
        from thudo.registries.demo import demo_samples

        if options["subcommand"] == "samples":
            for case, personal_id in demo_samples().items():
                self.stdout.write(f"{case:<25} {personal_id}")
            return
        self._show(options["personal_id"])

    def _show(self, personal_id: str) -> None:
        from thudo.exchange.handlers import ProviderRequest
        from thudo.registries import handlers

        calls = [
            ("person", handlers.population_person, f"person/{personal_id}", {}),
            ("household", handlers.population_household, f"household/{personal_id}", {}),
            (
                "businesses",
                handlers.business_businesses,
                "businesses",
                {"representative": personal_id},
            ),
            ("parcels", handlers.land_parcels, "parcels", {"owner": personal_id}),
            ("insurance", handlers.insurance_insurance, f"insurance/{personal_id}", {}),
        ]
        answers = {}
        for name, handler, path, query in calls:
            response = handler(
                ProviderRequest(
                    method="GET",
                    path=path,
                    query=query,
                    body=b"",
                    message_id="cli",
                    client="cli",
                    service=name,
                    purpose="thudo registries show",
                )
            )
            if response.status == 400:
                raise CommandError(response.data["error"]["message_en"])
            answers[name] = {"status": response.status, "data": response.data}
        self.stdout.write(json.dumps(answers, ensure_ascii=False, indent=2))
