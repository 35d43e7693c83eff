"""Citizen feedback at city scale: THUDO_BENCH_REPORTS reports (default 1,000,000) in the table.

On a throwaway site (harness.site: a PostgreSQL database created and dropped for the run; on
SQLite the table is capped at THUDO_BENCH_REPORTS_SQLITE, default 100,000), after `thudo
migrate`, the units' and accounts' demo steps and the feedback demo's reference data (kinds of
problem, approximate ward centres, handlers — not its 300 reports), the reports are generated in
bulk (COPY on PostgreSQL, executemany on SQLite): two years of reports clustered around the
ward centres and a few hundred hot spots, with a tenth spread over the whole city's box; recent
ones mostly open (each open one with its lead assignment), older ones mostly closed; a fifth with
a photo row. Then, in-process (the service and selector calls a page makes, in a process with
the production settings):

  (a) submitting: `selectors.reports_nearby` (the duplicate search the form makes first) and
      `services.report_submit` (checks, nearest ward, routing, clocks, assignment, event, audit,
      follow) by distinct residents, without a photo (SUBMISSIONS) and with one 1280×960 JPEG
      (PHOTO_SUBMISSIONS, re-encoded without EXIF); target p95 < 100 ms without a photo;
  (b) the public map's viewport: `selectors.reports_public(bbox=…, limit=500)`, a ~1.5 km box
      around a random spot of a cluster, and the whole city;
  (c) Open311 `GET /open311/v2/requests.json` through the real view (Django test client, the
      whole middleware stack): the default (last 90 days) and service_code + status + a 30-day
      range;
  (d) the dashboard indicators' aggregate (`selectors.feedback_totals` for this year);
  (e) EXPLAIN of the duplicate search and of the viewport queries, once.

p50/p95 are measured in one run on this machine; no figure is asserted. Quick run:

    .venv/bin/python benchmarks/bench_feedback.py --reports 50000 --database postgresql
    THUDO_BENCH_REPORTS=200000 .venv/bin/python benchmarks/run.py feedback
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

from harness import (  # noqa: E402
    ROOT,
    BenchError,
    Options,
    Section,
    Site,
    postgres_reachable,
    site,
)

N_REPORTS = int(os.environ.get("THUDO_BENCH_REPORTS", "1000000"))
N_SQLITE = int(os.environ.get("THUDO_BENCH_REPORTS_SQLITE", "100000"))
SUBMISSIONS = 300
PHOTO_SUBMISSIONS = 40
VIEWPORTS = 200
CITY_VIEWPORTS = 40
OPEN311_GETS = 60
SUBMIT_TARGET_MS = 100.0
# The city's box (FEEDBACK_BOUNDS is wider, for the reports at its edge).
CITY = (20.56, 105.28, 21.39, 106.02)
VIEWPORT_DEG = 0.0135  # ~1.5 km north-south, ~1.4 km east-west at Hanoi's latitude
CATEGORY_WEIGHTS = {
    "road-pavement": 14,
    "street-light": 12,
    "waste": 16,
    "flooding": 7,
    "trees-parks": 8,
    "traffic-parking": 12,
    "construction": 10,
    "noise-pollution": 9,
    "food-safety": 5,
    "public-service-conduct": 3,
    "other": 4,
}
DESCRIPTIONS = [
    "Ổ gà lớn giữa làn đường, xe máy đi qua dễ ngã.",
    "Đèn đường không sáng từ ba hôm nay.",
    "Rác tập kết sai giờ, bốc mùi hôi.",
    "Cống thoát nước bị tắc, nước ngập sau mưa.",
    "Quán ăn lấn chiếm vỉa hè.",
    "Công trình không che chắn, vật liệu rơi xuống đường.",
]


# --- The parent process: sites, subprocesses, tables ------------------------------------------


def _inner(where: Site, *args: str, timeout: int = 3600) -> dict[str, Any]:
    """Run this file's in-process part in the site's environment; its RESULT line as a dict."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "inner", *args],
        cwd=ROOT,
        env=where.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode or not lines:
        raise BenchError(
            f"bench_feedback.py inner {' '.join(args)} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def _measure(where: Site, n: int) -> dict[str, Any]:
    where.thudo("migrate", "--no-input", "-v", "0")
    figures: dict[str, Any] = {"setup": _inner(where, "setup")}
    figures["generate"] = _inner(where, "generate", str(n))
    figures["measure"] = _inner(where, "measure")
    return figures


def _indexes(plan: list[str]) -> list[str]:
    """The report tables' indexes a plan reads (PostgreSQL "Index Scan using fb_near",
    "Bitmap Index Scan on fb_map"; SQLite "USING INDEX fb_near"); primary keys left out."""
    import re

    pattern = re.compile(r"(?:using(?: covering)?(?: index)?|index scan on) (\w+)", re.I)
    found: list[str] = []
    for line in plan:
        for name in pattern.findall(line):
            if name not in found and name.upper() != "INTEGER" and not name.endswith("_pkey"):
                found.append(name)
    return found


def _ms(plan: list[str]) -> str:
    for line in plan:
        if "Execution Time:" in line:
            return line.split("Execution Time:")[1].strip().removesuffix(" ms")
    return ""


def _ratio(p95: float) -> str:
    return f"{p95 / SUBMIT_TARGET_MS:.2f}x of the {SUBMIT_TARGET_MS:.0f} ms p95 target"


def run(options: Options, reports: int | None = None) -> list[Section]:
    total = reports or N_REPORTS
    section = Section(
        title=f"Citizen feedback — in-process calls over the reports table "
        f"({total:,} reports on PostgreSQL, at most {N_SQLITE:,} on SQLite)",
        columns=["database", "measure", "calls", "p50 ms", "p95 ms", "max ms", "note"],
    )
    plans = Section(
        title="Citizen feedback — query plans, once (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN "
        "QUERY PLAN on SQLite)",
        columns=["database", "query", "indexes used", "execution ms"],
    )
    for database in options.databases:
        if database == "postgresql" and not postgres_reachable():
            section.notes.append("postgresql: skipped, no server at 127.0.0.1:5432")
            continue
        n = total if database == "postgresql" else min(total, N_SQLITE)
        with site(database) as where:
            f = _measure(where, n)
        m, gen, setup = f["measure"], f["generate"], f["setup"]
        rows = gen["total"]

        def row(label: str, key: str, note: str = "", db: str = database, m: dict = m) -> None:
            t = m[key]
            section.rows.append([db, label, t["n"], t["p50_ms"], t["p95_ms"], t["max_ms"], note])

        row(
            f"nearby + report_submit, no photo ({rows:,} reports)",
            "submit",
            _ratio(m["submit"]["p95_ms"]) + f"; {m['submit_queries']} queries each",
        )
        row(
            "  of which reports_nearby (250 m, same kind, open)",
            "nearby",
            f"{m['nearby_found']:.1f} found on average",
        )
        row("  of which report_submit", "submit_only")
        row(
            "nearby + report_submit, one 1280x960 JPEG",
            "submit_photo",
            "photo checked, re-encoded without EXIF, stored",
        )
        row(
            "reports_public, ~1.5 km viewport, limit 500",
            "viewport",
            f"{m['viewport_rows']:.0f} rows on average",
        )
        row(
            "reports_public, whole city, limit 500",
            "viewport_city",
            f"{m['viewport_city_rows']:.0f} rows",
        )
        row(
            "GET /open311/v2/requests.json (last 90 days)",
            "open311_default",
            f"{m['open311_default_rows']} requests, {m['open311_default_kb']:.0f} KB",
        )
        row(
            "GET requests.json?service_code&status=open&30 days",
            "open311_filtered",
            f"{m['open311_filtered_rows']} requests, {m['open311_filtered_kb']:.0f} KB",
        )
        row(
            "feedback_totals, this year (dashboard indicators)",
            "totals",
            "cached 60 s by the indicators",
        )
        section.notes.append(
            f"{database}: {gen['generated']:,} reports generated in {gen['seconds']:.0f} s "
            f"(indexes built after the load: {gen['index_seconds']:.0f} s) "
            f"({gen['open']:,} open with their assignment, {gen['media']:,} photo rows; "
            + (
                f"database file {gen['table_mb']:.0f} MB"
                if database == "sqlite"
                else f"table {gen['table_mb']:.0f} MB, its indexes {gen['index_mb']:.0f} MB"
            )
            + f"); set-up "
            f"(units, accounts, kinds of problem, ward centres) {setup['seconds']:.0f} s"
        )
        for label, plan in m["plans"].items():
            plans.rows.append([database, label, ", ".join(_indexes(plan)) or "none", _ms(plan)])
            plans.notes.append(
                f"{database} — {label}:\n" + "\n".join(f"    {line}" for line in plan)
            )
    return [section, plans]


# --- The child process: Django with the site's settings ---------------------------------------


def result(data: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(data, default=str), flush=True)


def _django() -> None:
    import django

    django.setup()


def inner_setup() -> None:
    """Hanoi's units and centres, the demo agencies and citizens, the kinds of problem."""
    _django()
    from django.conf import settings
    from django.db import transaction

    from thudo.accounts.models import Agency
    from thudo.core.models import AdminUnit
    from thudo.core.registry import registry
    from thudo.feedback import demo

    started = time.perf_counter()
    for step in registry.demo_steps():
        if step.name in ("units", "accounts"):
            step.load()
    city = f"{settings.THUDO_CITY['PROVINCE_CODE']:02d}"
    with transaction.atomic():
        demo.centres_load()
        demo.categories_load()
        units = list(
            AdminUnit.objects.filter(
                parent__code=city, code__in=[u["code"] for u in demo.ward_centres()]
            )
        )
        demo.handlers_load({a.code: a for a in Agency.objects.all()}, units)
        demo.open311_client_load()
    result({"seconds": time.perf_counter() - started})


def _clusters(rng: Any) -> tuple[list[tuple[float, float, str]], list[tuple[float, float, str]]]:
    """(lat, lng, unit code) of the ward centres, and of hot spots around them."""
    from thudo.feedback.demo import ward_centres

    centres = [(u["latitude"], u["longitude"], u["code"]) for u in ward_centres()]
    spots = []
    for _ in range(400):
        lat, lng, code = rng.choice(centres)
        spots.append((lat + rng.gauss(0, 0.012), lng + rng.gauss(0, 0.012), code))
    return centres, spots


def _point(rng: Any, centres: list[Any], spots: list[Any], units: list[str]) -> tuple:
    """A clustered position and its ward: 65% around a ward centre, 25% at a hot spot, 10%
    anywhere in the city's box."""
    draw = rng.random()
    if draw < 0.65:
        lat, lng, code = rng.choice(centres)
        return lat + rng.gauss(0, 0.008), lng + rng.gauss(0, 0.008), code
    if draw < 0.9:
        lat, lng, code = rng.choice(spots)
        return lat + rng.gauss(0, 0.002), lng + rng.gauss(0, 0.002), code
    return rng.uniform(CITY[0], CITY[2]), rng.uniform(CITY[1], CITY[3]), rng.choice(units)


def inner_generate(n: int) -> None:
    """N reports over the last two years (none in the last two days, so the benchmark's
    residents are under the flood limits), their lead assignments when open, photo rows."""
    _django()
    import random
    import uuid
    from datetime import UTC, datetime, timedelta

    from django.db import connection, transaction

    from thudo.accounts.models import Agency, User
    from thudo.core.models import AdminUnit
    from thudo.feedback.models import Assignment, Category, Report, ReportMedia

    rng = random.Random(1207)
    started = time.perf_counter()
    sqlite = connection.vendor == "sqlite"
    centres, spots = _clusters(rng)
    units = {u.code: u.pk for u in AdminUnit.objects.filter(parent__code="01")}
    agencies = {a.code: a.pk for a in Agency.objects.all()}
    categories = {
        c.code: (c.pk, c.handler, c.department_id)
        for c in Category.objects.filter(redirect_phone="")
    }
    codes = [c for c in CATEGORY_WEIGHTS if c in categories]
    weights = [CATEGORY_WEIGHTS[c] for c in codes]
    people = list(
        User.objects.filter(kind=User.Kind.CITIZEN)
        .order_by("pk")
        .values_list("pk", "full_name", "phone")[:600]
    )
    unit_codes = list(units)
    now = datetime.now(UTC)
    latest = now - timedelta(days=2)
    span = 730 * 86400
    fields = [f for f in Report._meta.concrete_fields if f.column != "id"]
    columns = [f.column for f in fields]

    def stamp(moment: datetime | None) -> Any:
        if moment is None or not sqlite:
            return moment
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")

    def flag(value: bool | None) -> Any:
        return value if value is None or not sqlite else int(value)

    counts = {"open": 0}

    def rows(count: int) -> Any:
        for _ in range(count):
            lat, lng, unit_code = _point(rng, centres, spots, unit_codes)
            code = rng.choices(codes, weights)[0]
            category_pk, handler, department = categories[code]
            agency = (
                department
                if handler == "department" and department
                else agencies.get(f"HN-{unit_code}", agencies["HN"])
            )
            submitted = latest - timedelta(seconds=int(span * rng.random() ** 1.3))
            age = (now - submitted).days
            p_open = 0.75 if age < 7 else 0.35 if age < 30 else 0.02
            urgent = code == "flooding"
            accept_due = submitted + timedelta(hours=6 if urgent else 26)
            resolve_due = accept_due if urgent else submitted + timedelta(days=7)
            accepted = answered = closed = rated = None
            accepted_on_time = resolved_on_time = satisfied = None
            rating = None
            resolution = answer = ""
            if rng.random() < p_open:
                status = "submitted" if rng.random() < 0.35 else "accepted"
                counts["open"] += 1
            else:
                status = rng.choices(["closed", "answered", "withdrawn"], [82, 12, 6])[0]
            if status != "submitted" and status != "withdrawn":
                accepted = submitted + timedelta(hours=rng.uniform(0.5, 30))
                accepted_on_time = accepted <= accept_due
            if status in ("answered", "closed"):
                answered = accepted + timedelta(hours=rng.uniform(2, 200))  # type: ignore[operator]
                resolved_on_time = answered <= resolve_due
                resolution = rng.choice(["fixed", "fixed", "answered", "not_in_scope"])
                answer = "Đơn vị đã kiểm tra và xử lý."
                if rng.random() < 0.6:
                    rating = rng.choice([1, 2, 3, 4, 4, 5, 5])
                    satisfied = rating >= 3
                    rated = answered + timedelta(hours=rng.uniform(1, 48))
            if status in ("closed", "withdrawn"):
                closed = (rated or answered or submitted) + timedelta(hours=1)
            reporter, name, phone = rng.choice(people)
            open311 = rng.random() < 0.05
            visibility = rng.choices(["public", "flagged", "hidden"], [990, 5, 5])[0]
            token = uuid.UUID(int=rng.getrandbits(128), version=4)
            values = {
                "token": token.hex if sqlite else token,
                "category_id": category_pk,
                "reporter_id": None if open311 else reporter,
                "reporter_name": name,
                "reporter_email": "",
                "reporter_phone": phone or "",
                "show_name": flag(rng.random() < 0.3),
                "device_id": "",
                "source": "open311" if open311 else "web",
                "client_id": None,
                "description": rng.choice(DESCRIPTIONS),
                "attributes": "{}",
                "address": "Hà Nội",
                "latitude": round(lat, 6),
                "longitude": round(lng, 6),
                "unit_id": units[unit_code],
                "unit_exact": flag(False),
                "urgency": "urgent" if urgent else "normal",
                "status": status,
                "visibility": visibility,
                "agency_id": agency,
                "level": 0,
                "submitted_at": stamp(submitted),
                "accept_due": stamp(accept_due),
                "resolve_due": stamp(resolve_due),
                "accepted_at": stamp(accepted),
                "answered_at": stamp(answered),
                "closed_at": stamp(closed),
                "updated_at": stamp(closed or answered or accepted or submitted),
                "accepted_on_time": flag(accepted_on_time),
                "resolved_on_time": flag(resolved_on_time),
                "resolution": resolution,
                "answer": answer,
                "rating": rating,
                "satisfied": flag(satisfied),
                "rating_comment": "",
                "rated_at": stamp(rated),
                "reopened_at": None,
                "flag_count": 0,
                "follower_count": 0 if open311 else 1,
                "personal_data_removed_at": None,
            }
            yield tuple(values[c] for c in columns)

    def bulk(table: str, cols: list[str], source: Any, count: int) -> None:
        with connection.cursor() as cursor:
            if sqlite:
                marks = ", ".join("%s" for _ in cols)
                sql = f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})"  # noqa: S608
                done = 0
                while done < count:
                    chunk = min(50_000, count - done)
                    with transaction.atomic():
                        cursor.executemany(sql, list(source(chunk)))
                    done += chunk
            else:
                # The plain indexes are built again afterwards (much faster than keeping them
                # up to date row by row); constraints (primary key, unique token) stay.
                cursor.execute(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND "
                    "indexname NOT IN (SELECT conname FROM pg_constraint)",
                    [table],
                )
                indexes = cursor.fetchall()
                for name, _definition in indexes:
                    cursor.execute(f'DROP INDEX "{name}"')
                with cursor.cursor.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                    for r in source(count):
                        copy.write_row(r)
                t0 = time.perf_counter()
                cursor.execute("SET maintenance_work_mem = '256MB'")
                for _name, definition in indexes:
                    cursor.execute(definition)
                timings["indexes"] += time.perf_counter() - t0

    timings = {"indexes": 0.0}
    table = Report._meta.db_table
    bulk(table, columns, rows, n)

    # Lead assignments of the open reports; a photo row for a fifth of all.
    open_rows = list(
        Report.objects.filter(status__in=["submitted", "accepted"]).values_list(
            "pk", "status", "agency_id", "submitted_at", "accept_due", "resolve_due", "accepted_at"
        )
    )
    a_cols = [f.column for f in Assignment._meta.concrete_fields if f.column != "id"]

    def assignments(count: int) -> Any:
        for pk, status, agency, submitted, accept_due, resolve_due, accepted in open_rows:
            values = {
                "report_id": pk,
                "agency_id": agency,
                "role": "lead",
                "state": "pending" if status == "submitted" else "accepted",
                "created_at": stamp(submitted),
                "accept_due": stamp(accept_due),
                "resolve_due": stamp(resolve_due),
                "accepted_at": stamp(accepted),
                "answered_at": None,
                "ended_at": None,
                "escalated_at": None,
                "note": "",
            }
            yield tuple(values[c] for c in a_cols)

    bulk(Assignment._meta.db_table, a_cols, assignments, len(open_rows))
    first, last = (
        Report.objects.order_by("pk").values_list("pk", flat=True).first() or 0,
        Report.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
    )
    m_cols = [f.column for f in ReportMedia._meta.concrete_fields if f.column != "id"]
    media_ids = [pk for pk in range(first, last + 1) if rng.random() < 0.2]
    moment = stamp(now)

    def media(count: int) -> Any:
        for pk in media_ids:
            values = {
                "report_id": pk,
                "event_id": None,
                "kind": "photo",
                "purpose": "report",
                "file": f"feedback/bench/{pk}.jpg",
                "content_type": "image/jpeg",
                "size": 180_000,
                "width": 1280,
                "height": 960,
                "redacted": flag(False),
                "uploaded_by_id": None,
                "uploaded_at": moment,
            }
            yield tuple(values[c] for c in m_cols)

    bulk(ReportMedia._meta.db_table, m_cols, media, len(media_ids))
    with connection.cursor() as cursor:
        if sqlite:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA page_count")
            pages = cursor.fetchone()[0]
            cursor.execute("PRAGMA page_size")
            table_mb, index_mb = pages * cursor.fetchone()[0] / 1048576.0, 0.0  # the whole file
        else:
            for t in (table, Assignment._meta.db_table, ReportMedia._meta.db_table):
                cursor.execute(f"VACUUM ANALYZE {t}")
            cursor.execute(
                "SELECT pg_table_size(%s) / 1048576.0, pg_indexes_size(%s) / 1048576.0",
                [table, table],
            )
            table_mb, index_mb = (float(v) for v in cursor.fetchone())
    result(
        {
            "generated": n,
            "total": Report.objects.count(),
            "open": len(open_rows),
            "media": len(media_ids),
            "table_mb": table_mb,
            "index_mb": index_mb,
            "seconds": time.perf_counter() - started,
            "index_seconds": timings["indexes"],
        }
    )


def _stats(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    n = len(ordered)
    return {
        "n": n,
        "p50_ms": ordered[n // 2],
        "p95_ms": ordered[min(n - 1, int(n * 0.95))],
        "max_ms": ordered[-1],
    }


def _explain(sql: str, params: Any = None) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)
            lines = [str(row[0]) for row in cursor.fetchall()]
            # Leave out the memoize caches' counters: the joins' lines say enough.
            return [
                line
                for line in lines
                if not line.strip().startswith(("Cache Key", "Cache Mode", "Hits:"))
            ]
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return [str(row[-1]) for row in cursor.fetchall()]


def _photo_bytes() -> bytes:
    import io
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(5)
    image = Image.new("RGB", (1280, 960), (120, 120, 125))
    draw = ImageDraw.Draw(image)
    for _ in range(300):  # some detail, so the JPEG is not trivially small
        x, y = rng.randrange(1280), rng.randrange(960)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x, y, x + rng.randrange(10, 80), y + rng.randrange(10, 80)), fill=colour)
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "Bench phone"
    image.save(out, format="JPEG", quality=85, exif=exif.tobytes())
    return out.getvalue()


def inner_measure() -> None:
    _django()
    import random
    from datetime import datetime, timedelta
    from datetime import time as dtime

    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from thudo.accounts.models import User
    from thudo.core.models import AdminUnit
    from thudo.feedback import selectors, services
    from thudo.feedback.demo import demo_answers
    from thudo.feedback.models import Category, Report

    rng = random.Random(766)
    centres, spots = _clusters(random.Random(1207))
    unit_codes = list(AdminUnit.objects.filter(parent__code="01").values_list("code", flat=True))
    categories = {c.code: c for c in Category.objects.filter(redirect_phone="")}
    codes = [c for c in CATEGORY_WEIGHTS if c in categories]
    weights = [CATEGORY_WEIGHTS[c] for c in codes]
    # Residents who have not reported in the last two days (the generator's people are the
    # first 600): the flood limits do not stop them.
    residents = list(User.objects.filter(kind=User.Kind.CITIZEN).order_by("pk")[600:1000])
    if len(residents) < SUBMISSIONS // 2:
        raise SystemExit(f"only {len(residents)} residents for the submissions")
    figures: dict[str, Any] = {"plans": {}}

    def inside_city(lat: float, lng: float) -> tuple[float, float]:
        return min(max(lat, CITY[0]), CITY[2]), min(max(lng, CITY[1]), CITY[3])

    # (a) submissions
    photo = _photo_bytes()
    totals, nearby_t, submit_t, photo_t, found, queries = [], [], [], [], [], []
    for i in range(SUBMISSIONS + PHOTO_SUBMISSIONS):
        with_photo = i >= SUBMISSIONS
        lat, lng, _code = _point(rng, centres, spots, unit_codes)
        lat, lng = inside_city(lat, lng)
        category = categories[rng.choices(codes, weights)[0]]
        resident = residents[i % len(residents)]
        media = [SimpleUploadedFile("anh.jpg", photo, "image/jpeg")] if with_photo else []
        with CaptureQueriesContext(connection) as captured:
            t0 = time.perf_counter()
            near = selectors.reports_nearby(category=category, latitude=lat, longitude=lng)
            t1 = time.perf_counter()
            services.report_submit(
                reporter=resident,
                category=category,
                description=rng.choice(DESCRIPTIONS),
                latitude=lat,
                longitude=lng,
                address="Hà Nội",
                attributes=demo_answers(category, rng),
                media=media,
                require_media=False,
            )
            t2 = time.perf_counter()
        if with_photo:
            photo_t.append((t2 - t0) * 1000)
            continue
        totals.append((t2 - t0) * 1000)
        nearby_t.append((t1 - t0) * 1000)
        submit_t.append((t2 - t1) * 1000)
        found.append(len(near))
        queries.append(len(captured))
        if i == 0:
            nearby_sql = next(
                (q["sql"] for q in captured.captured_queries if "latitude" in q["sql"]), ""
            )
    figures["submit"] = _stats(totals[10:])  # the first ones warm the caches up
    figures["nearby"] = _stats(nearby_t[10:])
    figures["submit_only"] = _stats(submit_t[10:])
    figures["submit_photo"] = _stats(photo_t)
    figures["nearby_found"] = sum(found) / len(found)
    figures["submit_queries"] = sorted(set(queries))[len(set(queries)) // 2]

    # (b) the map's viewport
    half = VIEWPORT_DEG / 2
    viewport_t, viewport_rows = [], []
    for _ in range(VIEWPORTS):
        lat, lng, _code = _point(rng, centres, spots, unit_codes)
        bbox = (lat - half, lng - half, lat + half, lng + half)
        t0 = time.perf_counter()
        rows = list(selectors.reports_public(bbox=bbox, limit=500))
        viewport_t.append((time.perf_counter() - t0) * 1000)
        viewport_rows.append(len(rows))
    figures["viewport"] = _stats(viewport_t)
    figures["viewport_rows"] = sum(viewport_rows) / len(viewport_rows)
    city_t = []
    for _ in range(CITY_VIEWPORTS):
        t0 = time.perf_counter()
        rows = list(selectors.reports_public(bbox=CITY, limit=500))
        city_t.append((time.perf_counter() - t0) * 1000)
    figures["viewport_city"] = _stats(city_t)
    figures["viewport_city_rows"] = len(rows)

    # (c) Open311 through the view
    client = Client(HTTP_HOST="127.0.0.1")
    end = timezone.localtime().replace(microsecond=0)
    start = end - timedelta(days=30)
    variants = {
        "open311_default": ("/open311/v2/requests.json", {}),
        "open311_filtered": (
            "/open311/v2/requests.json",
            {
                "service_code": "waste",
                "status": "open",
                "start_date": start.isoformat(),
                "end_date": end.isoformat(),
            },
        ),
    }
    for key, (url, params) in variants.items():
        response = client.get(url, params, secure=True)
        if response.status_code != 200:
            raise SystemExit(
                f"GET {url} {params}: {response.status_code} {response.content[:300]!r}"
            )
        figures[f"{key}_rows"] = len(json.loads(response.content))
        figures[f"{key}_kb"] = len(response.content) / 1024
        times = []
        for _ in range(OPEN311_GETS):
            t0 = time.perf_counter()
            client.get(url, params, secure=True)
            times.append((time.perf_counter() - t0) * 1000)
        figures[key] = _stats(times)

    # (d) the indicators' aggregate
    today = timezone.localdate()
    zone = timezone.get_current_timezone()
    year_start = datetime.combine(today.replace(month=1, day=1), dtime.min, tzinfo=zone)
    year_end = datetime.combine(
        today.replace(year=today.year + 1, month=1, day=1), dtime.min, tzinfo=zone
    )
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        selectors.feedback_totals(start=year_start, end=year_end)
        times.append((time.perf_counter() - t0) * 1000)
    figures["totals"] = _stats(times)

    # (e) the plans
    lat, lng, _code = centres[3]  # Phường Hoàn Kiếm
    category = categories["waste"]
    with CaptureQueriesContext(connection) as captured:
        selectors.reports_nearby(category=category, latitude=lat, longitude=lng)
    sql = next((q["sql"] for q in captured.captured_queries if "latitude" in q["sql"]), nearby_sql)
    figures["plans"]["reports_nearby (the duplicate search)"] = _explain(sql)
    for label, bbox in (
        (
            "reports_public, ~1.5 km viewport at Hoàn Kiếm",
            (lat - half, lng - half, lat + half, lng + half),
        ),
        ("reports_public, whole city", CITY),
    ):
        qs = selectors.reports_public(bbox=bbox, limit=500)
        sql, params = qs.query.sql_with_params()
        figures["plans"][label] = _explain(sql, params)
    figures["reports"] = Report.objects.count()
    result(figures)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "inner":
        command, *rest = args[1:]
        if command == "setup":
            inner_setup()
        elif command == "generate":
            inner_generate(int(rest[0]))
        elif command == "measure":
            inner_measure()
        else:
            raise SystemExit(f"unknown command {command!r}")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=N_REPORTS, help="reports in the table")
    parser.add_argument(
        "--database",
        action="append",
        choices=["sqlite", "postgresql"],
        help="only this database (repeatable; default: both)",
    )
    parsed = parser.parse_args(args)
    options = Options(databases=tuple(parsed.database or ("sqlite", "postgresql")))
    started = time.monotonic()
    try:
        sections = run(options, reports=parsed.reports)
    except BenchError as exc:
        print(f"feedback: FAILED — {exc}", flush=True)
        return 1
    for s in sections:
        print(s.render() + "\n", flush=True)
    print(f"(feedback: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
