"""The database-level guard that keeps the audit trail append-only (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

SQLITE_CREATE = [
    """CREATE TRIGGER IF NOT EXISTS core_auditevent_no_update BEFORE UPDATE ON core_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS core_auditevent_no_delete BEFORE DELETE ON core_auditevent
       BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS core_auditevent_no_update",
    "DROP TRIGGER IF EXISTS core_auditevent_no_delete",
]
# Row triggers: PostgreSQL's TRUNCATE (used by a deliberate `flush`) is not a row operation.
POSTGRES_CREATE = [
    """CREATE OR REPLACE FUNCTION core_auditevent_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit trail is append-only'; END; $$ LANGUAGE plpgsql""",
    """DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent""",
    """CREATE TRIGGER core_auditevent_append_only BEFORE UPDATE OR DELETE ON core_auditevent
       FOR EACH ROW EXECUTE FUNCTION core_auditevent_append_only()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS core_auditevent_append_only ON core_auditevent",
    "DROP FUNCTION IF EXISTS core_auditevent_append_only()",
]

CREATE = {"sqlite": SQLITE_CREATE, "postgresql": POSTGRES_CREATE}
DROP = {"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}


def install(connection: Any) -> None:
    with connection.cursor() as cursor:
        for sql in CREATE.get(connection.vendor, []):
            cursor.execute(sql)


def remove(connection: Any) -> None:
    with connection.cursor() as cursor:
        for sql in DROP.get(connection.vendor, []):
            cursor.execute(sql)
