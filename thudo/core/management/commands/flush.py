"""`flush` erases every table, the audit trail included: a deliberate wipe (tests, a demo reset).

SQLite's flush deletes rows one table at a time, which the append-only trigger refuses, so the
guard is lifted for the wipe and put back after it, whatever happens.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.flush import Command as DjangoFlush
from django.db import connections

from thudo.core import dbguard


class Command(DjangoFlush):
    def handle(self, **options: Any) -> None:
        connection = connections[options["database"]]
        if connection.vendor != "sqlite":
            return super().handle(**options)
        dbguard.remove(connection)
        try:
            super().handle(**options)
        finally:
            dbguard.install(connection)
