"""Dossier codes: format, parsing, and no gaps or duplicates under concurrent submissions,
on SQLite (IMMEDIATE transactions) and on PostgreSQL (a locked counter row)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, connections

from thudo.core.testing import require_service
from thudo.dossiers.codes import code_day, code_format, code_parse
from thudo.dossiers.models import Dossier, DossierCounter, DossierFile

from .factories import HCM, submit

WORKERS = 24
CHILD = (
    "import django; django.setup(); "
    "from thudo.dossiers.tests.test_codes import _sqlite_child; _sqlite_child()"
)


def test_format_and_parse() -> None:
    code = code_format(agency_code="HN-00070", day=date(2026, 6, 15), number=7)
    assert code == "HN-00070-260615-0007"
    assert code_parse(code) == ("HN-00070", date(2026, 6, 15), 7)
    assert code_parse("HN-00070-261315-0007") is None  # no 13th month
    assert code_parse("nonsense") is None
    # The day is Vietnam's: 18:30 UTC is already tomorrow in Hanoi.
    assert code_day(datetime(2026, 6, 15, 18, 30, tzinfo=HCM).astimezone(HCM)) == date(2026, 6, 15)
    from datetime import UTC

    assert code_day(datetime(2026, 6, 15, 18, 30, tzinfo=UTC)) == date(2026, 6, 16)


def _in_threads(count: int, work: Callable[[int], Any]) -> tuple[list[Any], list[BaseException]]:
    """Run work(i) in `count` threads started together; each closes its own connection."""
    barrier = threading.Barrier(count)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            value = work(i)
            with lock:
                results.append(value)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results, errors


def _concurrent_submissions(procedure: Any, applicant: Any) -> None:
    def work(i: int) -> str:
        if i % 6 == 5:
            # Every sixth submission fails inside its transaction: its number must come back.
            try:
                submit(procedure=procedure, applicant=applicant, data={"child_name": "x"})
            except Exception:
                return "failed"
        return str(submit(procedure=procedure, applicant=applicant).code)

    results, errors = _in_threads(WORKERS, work)
    assert errors == []
    codes = sorted(r for r in results if r != "failed")
    expected = WORKERS - WORKERS // 6
    assert len(codes) == expected
    assert codes == [f"HN-00070-260615-{n:04d}" for n in range(1, expected + 1)]  # no gap, no dupe
    assert Dossier.objects.count() == expected
    assert DossierCounter.objects.get().last == expected
    assert DossierFile.objects.count() == 2 * expected


def _idempotent_race(procedure: Any, applicant: Any) -> None:
    results, errors = _in_threads(
        8,
        lambda i: submit(procedure=procedure, applicant=applicant, idempotency_key="same").pk,
    )
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 8
    assert Dossier.objects.count() == 1
    assert DossierCounter.objects.get().last == 1  # the losers gave their numbers back


def test_concurrent_submissions_get_gapless_unique_codes_on_sqlite(tmp_path: Path) -> None:
    """SQLite as deployed: a database file in WAL mode with IMMEDIATE transactions. (The test
    database lives in memory with a shared cache, whose table locks do not wait, so this test
    runs its threads in a child process on a file of its own.)"""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'codes.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sqlite: ok" in done.stdout


def _sqlite_child() -> None:
    """The child process of the SQLite test: migrate a fresh file, then race."""
    from django.core.management import call_command

    from thudo.accounts import services as accounts
    from thudo.core.models import AdminUnit

    from .factories import make_procedure

    assert connection.vendor == "sqlite" and connection.settings_dict["NAME"].endswith(".sqlite3")
    call_command("migrate", verbosity=0)
    ward = AdminUnit.objects.get(code="00070")
    accounts.agency_create(code="HN-00070", name="UBND", kind="commune_committee", admin_unit=ward)
    applicant = accounts.citizen_create(
        personal_id="001090123456",
        full_name="Nguyễn Văn An",
        sex="male",
        birth_date=date(1990, 5, 17),
        home_unit=ward,
    )
    procedure = make_procedure()
    _concurrent_submissions(procedure, applicant)
    Dossier.objects.all().delete()
    DossierCounter.objects.all().delete()
    _idempotent_race(procedure, applicant)
    print("sqlite: ok")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_submissions_get_gapless_unique_codes_on_postgresql(
    procedure: Any, applicant: Any
) -> None:
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "127.0.0.1", 5432)
        pytest.skip("run the suite with DATABASE_URL=postgres://… to test PostgreSQL")
    _concurrent_submissions(procedure, applicant)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_idempotent_race_on_postgresql(procedure: Any, applicant: Any) -> None:
    if connection.vendor != "postgresql":
        require_service("PostgreSQL", "127.0.0.1", 5432)
        pytest.skip("run the suite with DATABASE_URL=postgres://… to test PostgreSQL")
    _idempotent_race(procedure, applicant)
