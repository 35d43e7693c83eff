"""What differs between the two database engines (ADR 0002).

CI runs the whole suite twice: on SQLite, and with DATABASE_URL naming PostgreSQL. Each test here
either holds on both engines or says which engine it is about.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, connections, transaction
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper

from thudo.core.audit import audit_record
from thudo.core.models import AuditEvent
from thudo.core.testing import require_service

pytestmark = pytest.mark.django_db

# Django 5.2 supports PostgreSQL 14 and later.
POSTGRESQL_MIN_VERSION = 140000
# The server CI provides beside the suite; DATABASE_URL points the suite at it in the second run.
POSTGRESQL_DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres connect_timeout=5"


def _only(vendor: str) -> None:
    if connection.vendor != vendor:
        pytest.skip(f"about {vendor}; this run uses {connection.vendor} (ADR 0002)")


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Iterator[Any]:
    """A second SQLite database on disk, opened with exactly the project's settings.

    The test database itself is in memory, where WAL does not exist; deployments use a file.
    Yields a function that opens one more connection to it, registered so `atomic(using=…)`
    works; all are closed and forgotten afterwards.
    """
    _only("sqlite")
    base = dict(settings.DATABASES["default"])
    base["NAME"] = str(tmp_path / "probe.sqlite3")
    opened: list[str] = []

    def open_connection(**options: Any) -> Any:
        alias = f"sqlite_probe_{len(opened)}"
        config = {**base, "OPTIONS": {**base["OPTIONS"], **options}}
        wrapper = SQLiteWrapper(config, alias=alias)
        connections[alias] = wrapper
        opened.append(alias)
        return wrapper

    yield open_connection
    for alias in opened:
        connections[alias].close()
        del connections[alias]


def _pragma(conn: Any, name: str) -> Any:
    with conn.cursor() as cursor:
        cursor.execute(f"PRAGMA {name}")
        return cursor.fetchone()[0]


def test_sqlite_file_database_uses_wal_a_busy_timeout_and_immediate_transactions(
    sqlite_file: Any,
) -> None:
    writer = sqlite_file()
    assert _pragma(writer, "journal_mode") == "wal"
    assert (
        _pragma(writer, "busy_timeout")
        == settings.DATABASES["default"]["OPTIONS"]["timeout"] * 1000
    )
    assert _pragma(writer, "foreign_keys") == 1
    assert writer.transaction_mode == "IMMEDIATE"
    with writer.cursor() as cursor:
        cursor.execute("CREATE TABLE t (v TEXT)")

    other = sqlite_file(timeout=0.2)  # waits 0.2 s for the lock, not the configured 20 s
    with transaction.atomic(using=writer.alias):
        # IMMEDIATE: the write lock is taken at BEGIN, before any statement ...
        with pytest.raises(OperationalError, match="locked"), transaction.atomic(using=other.alias):
            pass
        with writer.cursor() as cursor:
            cursor.execute("INSERT INTO t VALUES ('Phường Hoàn Kiếm')")
        # ... and WAL: a reader is not blocked by the writer, and sees the last commit.
        with other.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM t")
            assert cursor.fetchone()[0] == 0
    with other.cursor() as cursor:
        cursor.execute("SELECT v FROM t")
        assert cursor.fetchall() == [("Phường Hoàn Kiếm",)]


def test_sqlite_test_connection_has_the_same_options() -> None:
    _only("sqlite")
    # An in-memory database (the test default) has no WAL: its journal is in memory too.
    journal = "memory" if connection.is_in_memory_db() else "wal"  # type: ignore[attr-defined]
    assert _pragma(connection, "journal_mode") == journal
    timeout = settings.DATABASES["default"]["OPTIONS"]["timeout"]
    assert _pragma(connection, "busy_timeout") == timeout * 1000
    assert _pragma(connection, "foreign_keys") == 1
    assert connection.transaction_mode == "IMMEDIATE"  # type: ignore[attr-defined]


def test_the_database_refuses_to_change_or_delete_audit_rows() -> None:
    """Migration core/0002 installs triggers on both engines; raw SQL bypasses the ORM guard."""
    event = audit_record(actor=None, action="test", object_type="x", object_id="1")

    for sql in (
        "UPDATE core_auditevent SET action = 'changed' WHERE id = %s",
        "DELETE FROM core_auditevent WHERE id = %s",
    ):
        # atomic(): on PostgreSQL a failed statement spoils the transaction; the savepoint
        # is rolled back and the test's own transaction stays usable.
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [event.pk])

    assert AuditEvent.objects.get(pk=event.pk).action == "test"


def test_postgresql_is_reachable_and_recent_enough() -> None:
    """On the PostgreSQL run, about the suite's own database; on the SQLite run, CI's server."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version_num")
            version = int(cursor.fetchone()[0])
            # Vietnamese text: the database must be UTF-8, and case rules must know its letters.
            cursor.execute("SHOW server_encoding")
            assert cursor.fetchone()[0] == "UTF8"
            cursor.execute("SELECT upper(%s)", ["phường hoàn kiếm"])
            assert cursor.fetchone()[0] == "PHƯỜNG HOÀN KIẾM"
        assert connection.settings_dict["CONN_HEALTH_CHECKS"] is True
    else:
        require_service("PostgreSQL", "127.0.0.1", 5432)
        with psycopg.connect(POSTGRESQL_DSN) as pg:
            version = pg.info.server_version
            assert pg.execute("SELECT 1").fetchone() == (1,)
    assert version >= POSTGRESQL_MIN_VERSION, f"PostgreSQL {version} is older than 14"


def test_database_url_decides_the_engine() -> None:
    url = os.environ.get("DATABASE_URL", "")
    expected = "postgresql" if url.startswith(("postgres://", "postgresql://")) else "sqlite"
    assert connection.vendor == expected
