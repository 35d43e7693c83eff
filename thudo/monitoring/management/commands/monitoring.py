"""`thudo monitoring snapshot [--day YYYY-MM-DD] | backfill --start --end | remind`."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from thudo.core.errors import ValidationFailed
from thudo.monitoring import services


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {text!r}") from None


class Command(BaseCommand):
    help = "Take the monitoring snapshots (today, a past day or a range) or send the reminders."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        snapshot = sub.add_parser("snapshot", help="snapshot of today (or --day)")
        snapshot.add_argument("--day", default="")
        backfill = sub.add_parser("backfill", help="snapshots of every day from --start to --end")
        backfill.add_argument("--start", required=True)
        backfill.add_argument("--end", required=True)
        sub.add_parser("remind", help="send the reminders and escalations due today")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "snapshot":
                day = _day(options["day"]) if options["day"] else None
                count = services.snapshots_take(day=day)
                self.stdout.write(f"{count} snapshots taken")
            elif action == "backfill":
                count = services.snapshots_backfill(
                    start=_day(options["start"]), end=_day(options["end"])
                )
                self.stdout.write(f"{count} snapshots taken")
            else:
                count = services.reminders_send()
                self.stdout.write(f"{count} reminders sent")
        except ValidationFailed as exc:
            problems = "; ".join(f"{k}: {v}" for k, v in exc.as_dict()["fields"].items())
            raise CommandError(problems or str(exc.message)) from None
