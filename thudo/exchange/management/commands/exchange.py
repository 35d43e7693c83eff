"""`thudo exchange <subcommand>`: the shared configuration (cli_config) and the log (cli_log)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Data exchange: configuration, node key, log verification and archiving."

    def add_arguments(self, parser: CommandParser) -> None:
        from thudo.exchange import cli_config, cli_log

        sub = parser.add_subparsers(dest="subcommand", required=True)
        cli_config.register(sub)
        cli_log.register(sub)

    def handle(self, *args: Any, **options: Any) -> None:
        code = options["func"](options, self.stdout)
        if code:
            raise SystemExit(code)
