"""`thudo transit <subcommand>`: import a GTFS feed, run the MQTT ingest worker, track
vehicles, simulate buses."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Transit: GTFS import, MQTT ingest, tracking and the bus simulator."

    def add_arguments(self, parser: CommandParser) -> None:
        from thudo.transit import cli_import, cli_mqtt, cli_simulate, cli_track

        sub = parser.add_subparsers(dest="subcommand", required=True)
        cli_import.register(sub)
        cli_mqtt.register(sub)
        cli_track.register(sub)
        cli_simulate.register(sub)

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["func"](options, self.stdout)
        if code:
            raise SystemExit(code)
