"""In-process helpers of bench_dossiers.py, run against a benchmark site's database:

    python benchmarks/dossier_data.py setup OUT_DIR     demo agencies, procedures, tokens, a session
    python benchmarks/dossier_data.py generate N        N dossiers in bulk (COPY / executemany)
        [--days D] [--part K --parts P]                 ... over D days (730); the K-th of P
                                                        processes loading at once
    python benchmarks/dossier_data.py indexes drop|build TABLE FILE
                                                        drop a table's indexes before a bulk
                                                        load (kept in FILE), build them after
    python benchmarks/dossier_data.py queue SESSION     the queue page in-process: queries, p95
    python benchmarks/dossier_data.py codes AGENCY      the sequence numbers of today's codes
    python benchmarks/dossier_data.py count PREFIX      dossiers whose idempotency key starts so

Each prints one line `RESULT <json>`. The environment (DATABASE_URL, THUDO_VAR_DIR, settings)
is the site's, set by the harness.
"""

from __future__ import annotations

import json
import operator
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROCEDURE = "1.001193"  # Đăng ký khai sinh (procedures/demo.py)
WARD = "HN-00070"  # Phường Hoàn Kiếm's committee: the demo officials' agency
OFFICIAL = "xuly.hoankiem"
SUBMITTERS = 50
BOUNDARY = "thudo-bench-boundary-7f3a"


def _django() -> None:
    import django

    django.setup()


def result(data: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(data, default=str), flush=True)


# --- setup ---------------------------------------------------------------------------------


def multipart(fields: dict[str, str], files: dict[str, tuple[str, str, bytes]]) -> bytes:
    """A multipart/form-data body with BOUNDARY."""
    out = bytearray()
    for name, value in fields.items():
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        out += value.encode() + b"\r\n"
    for name, (filename, content_type, content) in files.items():
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        ).encode()
        out += content + b"\r\n"
    out += f"--{BOUNDARY}--\r\n".encode()
    return bytes(out)


def setup(out_dir: str) -> None:
    _django()
    from django.test import Client

    from thudo.accounts import services as account_services
    from thudo.accounts.models import User
    from thudo.accounts.testing import login_verified
    from thudo.core.registry import registry
    from thudo.dossiers.demo import demo_form_data, demo_pdf, demo_png
    from thudo.procedures.selectors import procedure_current_version, procedure_get

    started = time.perf_counter()
    for step in registry.demo_steps():
        if step.order < 60:  # units, accounts, documents (keys), procedures; not dossiers
            step.load()
    demo_s = time.perf_counter() - started
    citizens = list(User.objects.filter(kind=User.Kind.CITIZEN).order_by("pk")[: SUBMITTERS + 1])
    tokens = [
        account_services.api_token_create(user=c, name="bench", actor="bench")[1] for c in citizens
    ]
    procedure = procedure_get(code=PROCEDURE)
    spec = procedure_current_version(procedure).spec
    files = {}
    for paper in spec["papers"]:
        if not paper.get("required"):
            continue
        if "pdf" in paper.get("file_types", ["pdf"]):
            files[paper["code"]] = (f"{paper['code']}.pdf", "application/pdf", demo_pdf())
        else:
            files[paper["code"]] = (f"{paper['code']}.png", "image/png", demo_png())
    bodies = []
    for i, citizen in enumerate(citizens):
        payload = {
            "procedure": PROCEDURE,
            "data": demo_form_data(spec, citizen, random.Random(i)),
            "receiving_agency": WARD,
        }
        path = Path(out_dir) / f"submit-{i}.body"
        path.write_bytes(multipart({"payload": json.dumps(payload)}, files))
        bodies.append(str(path))
    official = User.objects.get(username=OFFICIAL)
    client = login_verified(Client(), official)
    result(
        {
            "demo_s": demo_s,
            "tokens": tokens,
            "bodies": bodies,
            "boundary": BOUNDARY,
            "body_bytes": Path(bodies[0]).stat().st_size,
            "session": client.cookies["sessionid"].value,
        }
    )


# --- generate ------------------------------------------------------------------------------

OPEN = ["submitted", "received", "processing", "processing", "processing", "supplement_requested"]


def generate(n: int, *, period_days: int = 730, part: int = 0, parts: int = 1) -> None:
    """N dossiers over the last `period_days` days (two years; none today, whose codes the HTTP
    runs allocate): 10% at Phường Hoàn Kiếm's committee, the rest spread over the wards and
    departments; the recent ones mostly open, the older ones mostly settled.

    With `parts` > 1, this is the `part`-th (0-based) of that many processes loading at once
    (bench_monitoring.py): each draws from its own seed and numbers the day's codes at an agency
    part + 1, part + 1 + parts, …, so their codes never collide."""
    _django()
    from django.db import connection, transaction

    from thudo.accounts.models import Agency, User
    from thudo.core.calendar import _format_duration
    from thudo.dossiers.models import Dossier
    from thudo.procedures.models import Procedure
    from thudo.procedures.selectors import procedure_current_version

    rng = random.Random(766 + part)
    started = time.perf_counter()
    ward = Agency.objects.get(code=WARD)
    agencies = list(
        Agency.objects.filter(kind__in=["commune_committee", "department"])
        .exclude(pk=ward.pk)
        .values_list("pk", "code", "admin_unit_id")
    )
    ward_row = (ward.pk, ward.code, ward.admin_unit_id)
    versions = [
        (p.pk, procedure_current_version(p).pk)
        for p in Procedure.objects.filter(agency_kind="commune_committee")
    ]
    people = list(
        User.objects.filter(kind=User.Kind.CITIZEN)
        .exclude(personal_id=None)
        .values_list("pk", "full_name", "personal_id", "phone")[:2000]
    )
    budgets = {days: _format_duration(timedelta(hours=8 * days)) for days in range(1, 16)}
    now = datetime.now(UTC)
    today_local = (now + timedelta(hours=7)).date()
    # The latest moment: yesterday 16:59 local (09:59 UTC), so today's codes stay free.
    latest = datetime(
        today_local.year, today_local.month, today_local.day, 9, 59, tzinfo=UTC
    ) - timedelta(days=1)
    span = period_days * 86400
    sequences: dict[tuple[int, str], int] = {}
    fields = [f for f in Dossier._meta.concrete_fields if f.column != "id"]
    columns = [f.column for f in fields]
    pick = operator.itemgetter(*columns)  # the row's values in the columns' order
    sqlite = connection.vendor == "sqlite"

    def stamp(moment: datetime | None) -> Any:
        if moment is None or not sqlite:
            return moment
        return moment.strftime("%Y-%m-%d %H:%M:%S")

    def rows(count: int) -> Any:
        for _ in range(count):
            agency_pk, agency_code, unit_pk = (
                ward_row if rng.random() < 0.1 else rng.choice(agencies)
            )
            submitted = latest - timedelta(seconds=int(span * rng.random() ** 1.3))
            local = submitted + timedelta(hours=7)
            day = local.strftime("%y%m%d")
            key = (agency_pk, day)
            sequences[key] = drawn = sequences.get(key, 0) + 1
            seq = (drawn - 1) * parts + part + 1
            procedure_pk, version_pk = rng.choice(versions)
            applicant, name, personal_id, phone = rng.choice(people)
            days = rng.choice((1, 3, 5, 7, 10, 15))
            due = submitted + timedelta(days=days * 1.4 + 0.5)
            age = (now - submitted).days
            status = (
                rng.choice(OPEN)
                if (age < 20 and rng.random() < 0.7) or rng.random() < 0.02
                else rng.choice(("returned", "closed", "closed", "rejected", "refused"))
            )
            settled = returned = closed = on_time = None
            paused = status == "supplement_requested"
            if status not in OPEN:
                settled = submitted + timedelta(days=rng.uniform(0.2, days * 1.6 + 1))
                on_time = settled <= due
                if status in ("returned", "closed"):
                    returned = settled + timedelta(hours=rng.uniform(1, 48))
                if status == "closed":
                    closed = returned
            started_iso = submitted.isoformat()
            pauses = (
                f'[["{(submitted + timedelta(days=1)).isoformat()}", null]]' if paused else "[]"
            )
            clock = (
                f'{{"budget": "{budgets[days]}", "started_at": "{started_iso}", '
                f'"pauses": {pauses}}}'
            )
            public_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            values = {
                "public_id": public_id.hex if sqlite else public_id,
                "code": f"{agency_code}-{day}-{seq:04d}",
                "procedure_id": procedure_pk,
                "version_id": version_pk,
                "applicant_id": applicant,
                "applicant_name": name,
                "applicant_personal_id": personal_id,
                "applicant_phone": phone or "",
                "applicant_email": "",
                "applicant_address": "Hà Nội",
                "receiving_agency_id": agency_pk,
                "agency_id": agency_pk,
                "unit_id": unit_pk,
                "channel": "online" if rng.random() < 0.8 else "counter",
                "delivery": "online",
                "status": status,
                "step": 1 if status == "processing" else 0,
                "holder_id": None,
                "resume_status": "processing" if paused else "",
                "data": "{}",
                "created_at": stamp(submitted),
                "submitted_at": stamp(submitted),
                "received_at": stamp(submitted),
                "clock": clock,
                "due_at": None if paused else stamp(due),
                "appointment_at": stamp(due),
                "settled_at": stamp(settled),
                "on_time": on_time if not sqlite or on_time is None else int(on_time),
                "returned_at": stamp(returned),
                "closed_at": stamp(closed),
                "reminded_at": None,
                "apologised_at": None,
                "escalated_at": None,
                "digitised": (rng.random() < 0.9) if not sqlite else int(rng.random() < 0.9),
                "idempotency_key": "",
                "updated_at": stamp(settled or submitted),
            }
            yield pick(values)

    table = Dossier._meta.db_table
    batch = 50_000
    with connection.cursor() as cursor:
        if sqlite:
            marks = ", ".join("%s" for _ in columns)
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"  # noqa: S608
            done = 0
            while done < n:
                count = min(batch, n - done)
                with transaction.atomic():
                    cursor.executemany(sql, list(rows(count)))
                done += count
            cursor.execute("ANALYZE")
        else:
            copy_sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
            types = binary_copy_types(cursor, table, columns)
            with cursor.cursor.copy(copy_sql) as copy:
                copy.set_types(types)
                for row in rows(n):
                    copy.write_row(row)
            if parts == 1:
                cursor.execute(f"ANALYZE {table}")
    total = Dossier.objects.count()
    result({"generated": n, "total": total, "seconds": time.perf_counter() - started})


def binary_copy_types(cursor: Any, table: str, columns: list[str]) -> list[int]:
    """The type oids of TABLE's COLUMNS, for `Copy.set_types` in a binary COPY (several times
    faster to write than text for dates and times). A jsonb column takes JSON already written
    out (a str): psycopg's own jsonb dumper would store that str as one JSON string."""
    from psycopg.adapt import Dumper
    from psycopg.pq import Format

    cursor.execute(
        "SELECT attname, atttypid::int FROM pg_attribute WHERE attrelid = %s::regclass "
        "AND attnum > 0",
        [table],
    )
    oids = dict(cursor.fetchall())
    cursor.execute("SELECT 'jsonb'::regtype::oid::int")
    jsonb = cursor.fetchone()[0]

    class JsonText(Dumper):
        format = Format.BINARY
        oid = jsonb

        def dump(self, obj: Any) -> bytes:
            return b"\x01" + obj.encode()  # jsonb's binary format: version 1, then the text

    cursor.cursor.adapters.register_dumper(None, JsonText)
    return [oids[c] for c in columns]


# --- queue ---------------------------------------------------------------------------------


def queue(session: str) -> None:
    """The officials' queue in-process: queries per page and the time of each (p50, p95)."""
    _django()
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    url = reverse("dossiers:queue")
    client = Client(HTTP_HOST="127.0.0.1")
    client.cookies[settings.SESSION_COOKIE_NAME] = session
    variants = {
        "page 1": {},
        "page 2": {"page": "2"},
        "page 40": {"page": "40"},
        "status=processing": {"status": "processing"},
        "due=overdue": {"due": "overdue"},
        "due=soon": {"due": "soon"},
    }
    queries: dict[str, int] = {}
    for label, params in variants.items():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, params, secure=True)
        if response.status_code != 200:
            raise SystemExit(f"{label}: {response.status_code} {response.content[:300]!r}")
        queries[label] = len(captured)
    times = []
    for i in range(60):
        params = list(variants.values())[i % len(variants)]
        t = time.perf_counter()
        client.get(url, params, secure=True)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    result(
        {
            "queries": queries,
            "p50_ms": times[len(times) // 2],
            "p95_ms": times[int(len(times) * 0.95) - 1],
        }
    )


# --- codes ---------------------------------------------------------------------------------


def codes(agency_code: str) -> None:
    """Duplicates and gaps in today's sequence at the agency."""
    _django()
    from django.utils import timezone

    from thudo.dossiers.models import Dossier

    prefix = f"{agency_code}-{timezone.localdate():%y%m%d}-"
    found = list(Dossier.objects.filter(code__startswith=prefix).values_list("code", flat=True))
    numbers = sorted(int(c.rsplit("-", 1)[1]) for c in found if c)
    duplicates = len(numbers) - len(set(numbers))
    missing = (max(numbers) - len(set(numbers))) if numbers else 0
    result({"count": len(numbers), "duplicates": duplicates, "missing": missing, "prefix": prefix})


def count(prefix: str) -> None:
    _django()
    from thudo.dossiers.models import Dossier

    result({"count": Dossier.objects.filter(idempotency_key__startswith=prefix).count()})


def index_timing() -> None:
    """The service index over the whole table: the city's figures and the rows per agency."""
    _django()
    from thudo.dossiers.index import service_index, service_index_rows

    start = datetime.now(UTC).date().replace(month=1, day=1)
    end = start.replace(month=12, day=31)
    t = time.perf_counter()
    figures = service_index(start=start, end=end)
    totals_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    rows = service_index_rows(start=start, end=end, group="agency")
    rows_ms = (time.perf_counter() - t) * 1000
    result(
        {
            "totals_ms": totals_ms,
            "rows_ms": rows_ms,
            "rows": len(rows),
            "received": figures.received,
        }
    )


def indexes(action: str, table: str, path: str) -> None:
    """Before a bulk load on PostgreSQL: drop TABLE's indexes, unique constraints and foreign
    keys, all but the primary key, and keep their definitions in the JSON file PATH ("drop");
    after it, VACUUM the table, build them again from PATH and ANALYZE ("build"). Building an
    index once over millions of rows is much faster than keeping it up to date row by row; a
    foreign key checked by a trigger per row (Django's are deferred: they would pile up until
    the COPY commits) is put back NOT VALID, checked for new rows only. Nothing to do on
    SQLite."""
    _django()
    from django.db import connection

    started = time.perf_counter()
    vacuum = 0.0
    kept = Path(path)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            kept.write_text("[]")
        elif action == "drop":
            cursor.execute(
                # A foreign key comes back NOT VALID: the generators draw the keys from rows
                # that exist, and validating would scan the table once per key.
                "SELECT conname, pg_get_constraintdef(oid) || CASE contype WHEN 'f' THEN "
                "' NOT VALID' ELSE '' END FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype IN ('u', 'f') ORDER BY contype DESC",
                [table],
            )
            constraints = cursor.fetchall()
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname "
                "NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
                [table, table],
            )
            plain = cursor.fetchall()
            for name, _definition in constraints:
                cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            for name, _definition in plain:
                cursor.execute(f'DROP INDEX "{name}"')
            kept.write_text(
                json.dumps(
                    [
                        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}'
                        for name, definition in constraints
                    ]
                    + [definition for _name, definition in plain]
                )
            )
        elif action == "build":
            # VACUUM first, while only the table is left: it sets the rows' hint bits and the
            # visibility map once (index-only scans, and no autovacuum pass later).
            cursor.execute(f"VACUUM {table}")
            vacuum = time.perf_counter() - started
            cursor.execute("SET maintenance_work_mem = '512MB'")
            for statement in json.loads(kept.read_text()):
                cursor.execute(statement)
            cursor.execute(f"ANALYZE {table}")
        else:
            raise SystemExit(f"unknown action {action!r}")
    result(
        {
            "indexes": len(json.loads(kept.read_text())),
            "seconds": time.perf_counter() - started,
            "vacuum_seconds": vacuum,
        }
    )


def _option(args: list[str], name: str, default: int) -> int:
    return int(args[args.index(name) + 1]) if name in args else default


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "setup":
        setup(args[0])
    elif command == "generate":
        generate(
            int(args[0]),
            period_days=_option(args, "--days", 730),
            part=_option(args, "--part", 0),
            parts=_option(args, "--parts", 1),
        )
    elif command == "indexes":
        indexes(*args)
    elif command == "queue":
        queue(args[0])
    elif command == "codes":
        codes(args[0])
    elif command == "count":
        count(args[0])
    elif command == "index":
        index_timing()
    else:
        raise SystemExit(f"unknown command {command!r}")
