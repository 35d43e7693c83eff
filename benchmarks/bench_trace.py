"""Traceability at city scale: 10 million EPCIS events in PostgreSQL (THUDO_BENCH_TRACE_EVENTS).

On a throwaway site (harness.site; PostgreSQL only — its own database, BENCH_TRACE_DB, default
`bench_trace`, created and dropped for the run), after `thudo migrate` and Hanoi's units: 1,000
producers with a place and 4 products each, and one batch per EVENTS_PER_BATCH events, each
with a full stage history (planting → … → selling) of ObjectEvents as Thudo stores them —
JSON-LD documents whose ids are their real CBV 2.0 hashes, EventEpc rows and each batch's hash
chain (EventLink). PostgreSQL makes them itself (INSERT … SELECT, sha256(); see
inner_generate), on two connections with the indexes and constraints dropped and made again
after (foreign keys NOT VALID: enforced for what comes next, the generated rows not re-read).
Every chain's head is then anchored as the hourly job would have left it (one signed Anchor
over them all), and a sample is checked against epcis.hashing and integrity.batch_integrity.
About 10 minutes for 10 million events on 2 CPUs (19 GB). Then:

  (a) EPCIS capture: `capture_document` with documents of 100 events (validation, hashes,
      permission, EventEpc rows, chain links with the batch rows locked, audit), sequentially,
      in-process: events captured per second, and p50/p95 per document; then `anchor_now`
      (the hourly job) over the chains the captures moved;
  (b) a QR scan: `GET /01/<GTIN>/10/<lot>` through the production server (`thudo run`,
      gunicorn, 4 workers × 2 threads, the default local-memory cache): over one keep-alive
      connection, the first scan of SCANS random batches (each page built: resolver, journey,
      integrity verdict, rendering), the same batches again (pages kept), one hot URL, and the
      same batches on a second server with the page cache off (TRACE_PAGE_CACHE_SECONDS=0:
      every scan builds the page, as before it was kept); then wrk (-t2 -c16) over 1,000
      random batches and over one URL: requests/s with p50/p99 under load (goal: p99 < 50 ms
      for a scan);
  (c) recall propagation: T3's `recall_batch` on a batch from which 10,000 batches derive
      through transformation events (two levels: 100, then 99 from each);
  (d) the EPCIS query `GET /epcis/events?gtin=&lot=` of one batch, through the view (Django
      test client, the whole middleware stack), as a food-safety officer;
  (e) `batch_integrity` alone (what a page's first scan pays for its verdict).

p50/p95/p99 are measured in one run on this machine; no figure is asserted. The load average
before and after the scans is printed: other work on the machine inflates every figure.

    .venv/bin/python benchmarks/bench_trace.py                    # 10 million events
    .venv/bin/python benchmarks/bench_trace.py --events 1000000
    .venv/bin/python benchmarks/bench_trace.py --quick            # 100,000 events, ~1-2 min
    THUDO_BENCH_QUICK=1 .venv/bin/python benchmarks/run.py trace  # the same, as make bench
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

import harness  # noqa: E402
from harness import (  # noqa: E402
    ROOT,
    BenchError,
    Options,
    Section,
    Site,
    parse_wrk,
    postgres_reachable,
    production_server,
    site,
    wrk_path,
)

N_EVENTS = int(os.environ.get("THUDO_BENCH_TRACE_EVENTS", "10000000"))
QUICK = any(
    os.environ.get(name, "") not in ("", "0")
    for name in ("THUDO_BENCH_QUICK", "THUDO_BENCH_TRACE_QUICK")
)
BENCH_DB = os.environ.get("BENCH_TRACE_DB", "bench_trace")
PRODUCERS = 1000
PRODUCTS_PER_PRODUCER = 4
EVENTS_PER_BATCH = 10
CAPTURE_EVENTS = 100
RECALL_FIRST = 100  # batches made from the recalled one
RECALL_SECOND = 99  # batches made from each of those: 100 + 100 × 99 = 10,000
SCAN_TARGET_MS = 50.0
WARMUP_SCANS = 20
STEPS = [
    # (thudo:stage, bizStep, disposition)
    ("planting", "commissioning", "active"),
    ("fertilising", "inspecting", "active"),
    ("spraying", "inspecting", "active"),
    ("harvesting", "commissioning", "active"),
    ("processing", "repackaging", "in_progress"),
    ("packing", "packing", "container_closed"),
    ("storing", "storing", "sellable_not_accessible"),
    ("shipping", "shipping", "in_transit"),
    ("receiving", "receiving", "sellable_accessible"),
    ("selling", "retail_selling", "retail_sold"),
]


@dataclass(frozen=True)
class Sizes:
    events: int = N_EVENTS
    capture_documents: int = 20
    scans: int = 300
    queries: int = 100


QUICK_SIZES = Sizes(events=100_000, capture_documents=5, scans=100, queries=30)
REDIS = ("127.0.0.1", 6379)
REDIS_CACHE_URL = os.environ.get("BENCH_TRACE_CACHE_URL", "redis://127.0.0.1:6379/13")


# --- The parent process -----------------------------------------------------------------------


def _inner(where: Site, *args: str, timeout: int = 6 * 3600) -> dict[str, Any]:
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
            f"bench_trace.py inner {' '.join(args)} failed ({done.returncode}):\n"
            f"{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
        )
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


@contextlib.contextmanager
def _own_database() -> Any:
    """harness.site with this benchmark's own PostgreSQL database (never another's)."""
    saved = harness.POSTGRES_DB
    harness.POSTGRES_DB = BENCH_DB
    try:
        with site("postgresql") as where:
            # production settings that have no default (harness.site may predate them)
            where.env.setdefault("EID_CLIENT_SECRET", secrets.token_urlsafe(24))
            yield where
    finally:
        harness.POSTGRES_DB = saved


def _server_site(where: Site) -> tuple[Site, str]:
    """The site as the servers run it: the page cache shared by the server's processes (Redis,
    as a city would run it) when Redis answers, else each process's local memory, made large
    enough to hold the pages scanned (the default keeps 300 entries)."""
    import socket

    try:
        with socket.create_connection(REDIS, timeout=1):
            url, label = REDIS_CACHE_URL, "Redis, shared by the server's processes"
    except OSError:
        url, label = "locmemcache://?max_entries=100000", "local memory of each server process"
    return Site(where.name, {**where.env, "CACHE_URL": url}, where.var), label


def _without_page_cache(where: Site) -> Site:
    """The same site with production settings and TRACE_PAGE_CACHE_SECONDS = 0 (a settings
    module written into the site's own folder)."""
    module = where.var / "bench_trace_nocache.py"
    module.write_text(
        "from config.settings.production import *  # noqa: F403\nTRACE_PAGE_CACHE_SECONDS = 0\n"
    )
    path = os.pathsep.join(p for p in (str(where.var), where.env.get("PYTHONPATH", "")) if p)
    env = {**where.env, "DJANGO_SETTINGS_MODULE": "bench_trace_nocache", "PYTHONPATH": path}
    return Site(where.name, env, where.var)


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _percentiles(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {
        "n": len(ordered),
        "p50_ms": pick(0.50),
        "p95_ms": pick(0.95),
        "p99_ms": pick(0.99),
        "max_ms": round(ordered[-1], 2),
    }


def scan_urls(base_url: str, paths: list[str], warmup: list[str]) -> dict[str, Any]:
    """GET each path once, in turn, over one keep-alive connection (after `warmup`, not
    measured): what one phone waits for, the server otherwise idle."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    statuses: dict[int, int] = {}
    times: list[float] = []
    size = 0
    try:
        for n, path in enumerate(warmup + paths):
            t0 = time.perf_counter()
            conn.request("GET", path, headers={"Accept-Language": "vi"})
            response = conn.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - t0) * 1000
            if n >= len(warmup):
                times.append(elapsed)
                statuses[response.status] = statuses.get(response.status, 0) + 1
                size += len(body)
    finally:
        conn.close()
    if set(statuses) != {200}:
        raise BenchError(f"scans answered {statuses} (expected 200 only)")
    return {**_percentiles(times), "kb": size / max(1, len(times)) / 1024}


SCAN_LUA = r"""
-- Each connection walks the list of paths (one per line of args[1]) from its own place.
local paths, i = {}, 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  for line in io.lines(args[1]) do paths[#paths + 1] = line end
  i = ((tid or 1) * 7919) % #paths
end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""


def wrk_scans(base_url: str, paths: list[str], options: Options) -> dict[str, Any]:
    """wrk over `paths` (a warm-up run first, not counted)."""
    folder = Path(tempfile.mkdtemp(prefix="thudo-bench-trace-"))
    script, listing = folder / "scan.lua", folder / "paths.txt"
    script.write_text(SCAN_LUA)
    listing.write_text("\n".join(paths) + "\n")
    figures: dict[str, Any] = {}
    try:
        for duration in (options.warmup, options.duration):
            done = subprocess.run(
                [
                    wrk_path(),
                    f"-t{options.threads}",
                    f"-c{options.connections}",
                    f"-d{duration}",
                    "--latency",
                    "-s",
                    str(script),
                    base_url,
                    "--",
                    str(listing),
                ],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            if done.returncode != 0:
                raise BenchError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
            measured = parse_wrk(done.stdout)
            if measured.non_2xx:
                raise BenchError(f"wrk: {measured.non_2xx} scans were not answered 200")
            figures = {
                "rps": measured.requests_per_s,
                "p50_ms": measured.p50_ms,
                "p99_ms": measured.p99_ms,
                "requests": measured.requests,
                "errors": measured.socket_errors,
            }
    finally:
        for f in (script, listing):
            f.unlink(missing_ok=True)
        folder.rmdir()
    return figures


def run(
    options: Options, events: int | None = None, quick: bool | None = None, *, own: bool = False
) -> list[Section]:
    """run.py's entry point (THUDO_BENCH_QUICK=1 or THUDO_BENCH_TRACE_QUICK=1: --quick; `own`:
    main() already set the wrk durations)."""
    quick = QUICK if quick is None else quick
    sizes = QUICK_SIZES if quick else Sizes()
    if quick and not own:
        options = replace(options, duration="3s", warmup="1s")
    if events:
        sizes = replace(sizes, events=events)
    section = Section(
        title=f"Traceability — {sizes.events:,} EPCIS events in PostgreSQL",
        columns=["measure", "calls", "p50 ms", "p95 ms", "p99 ms", "max ms", "note"],
    )
    load = Section(
        title=(
            f"QR scans under load — wrk -t{options.threads} -c{options.connections} "
            f"-d{options.duration}, production server"
        ),
        columns=["scans of", "req/s", "p50 ms", "p99 ms", "note"],
    )
    if not postgres_reachable():
        section.notes.append("postgresql: skipped, no server at 127.0.0.1:5432")
        return [section]
    with _own_database() as where:
        where.thudo("migrate", "--no-input", "-v", "0")
        setup = _inner(where, "setup")
        gen = _inner(where, "generate", str(sizes.events))
        wanted = WARMUP_SCANS + sizes.scans
        paths = _inner(where, "sample", str(wanted))["paths"]
        warmup, batches = paths[:WARMUP_SCANS], paths[WARMUP_SCANS:]
        where.thudo("collectstatic", "--no-input", "-v", "0")  # pages need the manifest
        served, cache_label = _server_site(where)
        loads = [_load()]
        with production_server(served) as server:
            cold = scan_urls(server.base_url, batches, warmup)
            warm = scan_urls(server.base_url, batches, [])
            hot = scan_urls(server.base_url, [batches[0]] * sizes.scans, [batches[0]])
            loads.append(_load())
            wrk_many = wrk_scans(server.base_url, batches, options)
            wrk_hot = wrk_scans(server.base_url, [batches[0]], options)
        with production_server(_without_page_cache(served)) as server:
            loads.append(_load())
            uncached = scan_urls(server.base_url, batches, warmup)
            wrk_uncached = wrk_scans(server.base_url, batches, options)
        loads.append(_load())
        m = _inner(where, "measure", str(sizes.capture_documents), str(sizes.queries))

    def row(label: str, t: dict[str, Any], note: str = "") -> None:
        section.rows.append(
            [label, t["n"], t["p50_ms"], t["p95_ms"], t.get("p99_ms", ""), t["max_ms"], note]
        )

    def goal(t: dict[str, Any]) -> str:
        return f"p99 {t['p99_ms'] / SCAN_TARGET_MS:.2f}x the {SCAN_TARGET_MS:.0f} ms goal"

    cap = m["capture"]
    row(
        f"capture_document, {CAPTURE_EVENTS} events per document",
        cap,
        f"{cap['events_per_second']:,.0f} events/s captured "
        f"({cap['links']} chain links, sequential, one process)",
    )
    row(
        "QR scan, first of each batch (page built)",
        cold,
        f"{goal(cold)}; {len(batches)} random batches, one connection; {cold['kb']:.0f} KB page",
    )
    row("QR scan, the same batches again (page kept)", warm, goal(warm))
    row("QR scan, one URL over and over", hot, goal(hot))
    row(
        "QR scan, page cache off (every scan builds)",
        uncached,
        f"{goal(uncached)}; TRACE_PAGE_CACHE_SECONDS=0, the same batches",
    )
    hourly = m["anchor"]
    section.rows.append(
        [
            "anchor_now after the captures (hourly job)",
            1,
            hourly["ms"],
            "",
            "",
            hourly["ms"],
            f"{hourly['items']:,} chains moved and signed",
        ]
    )
    rec = m["recall"]
    section.rows.append(
        [
            f"recall_batch over {rec['flagged'] - 1:,} derived batches",
            1,
            rec["ms"],
            "",
            "",
            rec["ms"],
            f"{rec['flagged']:,} batches flagged, {rec['queries']} queries, "
            f"{rec['notified']} people notified",
        ]
    )
    row("GET /epcis/events?gtin&lot (one batch, officer)", m["query"], "test client")
    row(
        "batch_integrity (a page's verdict, when built)",
        m["integrity"],
        f"{EVENTS_PER_BATCH} events re-hashed, chain and anchor checked",
    )
    section.notes.append(
        f"{gen['events']:,} events, {gen['batches']:,} batches of {gen['products']:,} products, "
        f"{gen['links']:,} chain links generated in {gen['seconds']:.0f} s "
        f"(load {gen['load_seconds']:.0f} s, indexes {gen['index_seconds']:.0f} s, anchor of "
        f"{gen['anchored']:,} chains {gen['anchor_seconds']:.0f} s); event table "
        f"{gen['event_mb']:,.0f} MB + indexes {gen['event_index_mb']:,.0f} MB, database "
        f"{gen['database_mb']:,.0f} MB; set-up {setup['seconds']:.0f} s"
    )
    section.notes.append(
        "load average (1/5/15 min) before the scans, after the kept-page runs, before the "
        f"cache-off runs, after them: {' | '.join(loads)} on {os.cpu_count()} CPUs"
    )
    section.notes.append(f"page cache of the servers: {cache_label}")
    for label, figures, note in (
        (f"{len(batches):,} random batches", wrk_many, "pages kept"),
        ("one URL", wrk_hot, "page kept"),
        (f"{len(batches):,} random batches, cache off", wrk_uncached, "every scan builds"),
    ):
        errors = f"; socket errors {figures['errors']}" if figures["errors"] else ""
        load.rows.append(
            [
                label,
                figures["rps"],
                figures["p50_ms"],
                figures["p99_ms"],
                f"{figures['requests']:,} scans{errors}; {note}",
            ]
        )
    return [section, load]


# --- The child process -------------------------------------------------------------------------


def result(data: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(data, default=str), flush=True)


def _django() -> None:
    import django

    django.setup()


def _gtin(body13: str) -> str:
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body13)))
    return body13 + str((10 - total % 10) % 10)


def inner_setup() -> None:
    """Hanoi's units, producers with a place, a member and products; a food-safety officer."""
    _django()
    from django.db import transaction

    from thudo.accounts import services as account_services
    from thudo.accounts.models import Agency, User
    from thudo.accounts.roles import Role
    from thudo.core.models import AdminUnit
    from thudo.core.registry import registry
    from thudo.trace.models import Place, Producer, ProducerMember, Product

    started = time.perf_counter()
    for step in registry.demo_steps():
        if step.name == "units":
            step.load()
    ward = AdminUnit.objects.get(code="00070")
    with transaction.atomic():
        producers = Producer.objects.bulk_create(
            Producer(
                kind=Producer.Kind.COOPERATIVE,
                name=f"HTX {n:03d}",
                address="Hà Nội",
                ward=ward,
                gs1_company_prefix=f"893{n:04d}",
            )
            for n in range(PRODUCERS)
        )
        users = User.objects.bulk_create(
            User(username=f"member{n:03d}", full_name=f"Thành viên {n}", kind=User.Kind.CITIZEN)
            for n in range(PRODUCERS)
        )
        ProducerMember.objects.bulk_create(
            ProducerMember(producer=p, user=u) for p, u in zip(producers, users, strict=True)
        )
        Place.objects.bulk_create(
            Place(
                producer=p,
                name=f"Trang trại {n}",
                kind=Place.Kind.FARM,
                code=f"BENCH-{n:03d}",
                address="Hà Nội",
                ward=ward,
            )
            for n, p in enumerate(producers)
        )
        Product.objects.bulk_create(
            Product(
                producer=p,
                gtin="0" + _gtin(f"893{n:04d}{k:05d}"),
                name=f"Sản phẩm {n}-{k}",
                category=Product.Category.VEGETABLES,
            )
            for n, p in enumerate(producers)
            for k in range(PRODUCTS_PER_PRODUCER)
        )
        agency = account_services.agency_create(
            code="HN-SNNMT-BENCH",
            name="Sở Nông nghiệp và Môi trường",
            kind=Agency.Kind.DEPARTMENT,
            admin_unit=ward.parent or ward,
        )
        officer = account_services.official_create(
            username="attp.bench", full_name="Cán bộ ATTP", password="bench-pass-123456"
        )
        account_services.role_grant(user=officer, agency=agency, role=Role.FOOD_SAFETY_OFFICER)
    result({"seconds": time.perf_counter() - started})


# The history is made by PostgreSQL itself (INSERT … SELECT over generate_series, sha256() for
# the hashes): per batch EVENTS_PER_BATCH ObjectEvents whose ids are their real CBV 2.0 hashes,
# computed in SQL from the same pre-hash string epcis.hashing builds (checked on a sample), their
# EventEpc rows and the batch's hash chain (a PL/pgSQL function over the batch's event ids).
# Two connections load alternate chunks of batches; indexes and unique constraints (not the
# primary keys) are dropped during the load and built again after, two at a time.

CHUNK_BATCHES = 20_000
LOADERS = 2
T0_SQL = (
    "(%(first)s::timestamptz + make_interval(secs => (b.id::bigint * 2654435761) %% (700 * 86400)))"
)
MS_SQL = "((b.id::bigint * 7919 + k * 104729) %% 1000)"


def _event_time_sql(k: str = "k") -> str:
    """The time of batch b's k-th event: 30 hours apart, from a start spread over 700 days."""
    ms = MS_SQL.replace("k *", f"{k} *")
    return f"({T0_SQL} + make_interval(hours => 30 * {k}) + make_interval(secs => {ms} / 1000.0))"


EVENT_TIME_SQL = _event_time_sql()
CHAIN_FUNCTION = """
CREATE OR REPLACE FUNCTION bench_trace_chain(ids text[]) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
  hashes text[] := '{}';
  previous text := '';
  i int;
BEGIN
  FOR i IN 1 .. coalesce(array_length(ids, 1), 0) LOOP
    previous := encode(sha256(convert_to(previous || ids[i], 'UTF8')), 'hex');
    hashes := hashes || previous;
  END LOOP;
  RETURN hashes;
END $$
"""


def _steps_sql() -> str:
    rows = ", ".join(
        f"({k}, '{stage}', '{step}', '{disposition}')"
        for k, (stage, step, disposition) in enumerate(STEPS)
    )
    return f"(VALUES {rows}) AS s(n, stage, step, disposition)"


def _chunk_sql(tables: dict[str, str], columns: dict[str, list[str]]) -> str:
    """One statement: the events of batches %(lo)s..%(hi)s, their EventEpc rows and chains."""
    e = EVENTS_PER_BATCH
    prehash = (
        "'eventType=ObjectEvent' || 'eventTime='"
        " || to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') || 'Z'"
        " || 'eventTimeZoneOffset=+07:00'"
        " || 'quantityListquantityElementepcClass=' || cls || 'quantity=' || quantity::text"
        " || 'uom=KGM' || 'action=' || action"
        " || 'bizStep=https://ref.gs1.org/cbv/BizStep-' || step"
        " || 'disposition=https://ref.gs1.org/cbv/Disp-' || disposition"
        " || 'readPointid=' || loc || 'bizLocationid=' || loc"
        " || '{https://thudo.hanoi.gov.vn/epcis/}stage=' || stage"
    )
    return f"""
WITH base AS MATERIALIZED (
  SELECT b.id AS batch_id, b.lot, k, (b.id - 1) * {e} + k + 1 AS pk, p.gtin, p.producer_id,
         'urn:thudo:loc:' || p.code AS loc,
         'https://id.gs1.org/01/' || p.gtin || '/10/' || b.lot AS cls,
         100 + b.id %% 50 AS quantity,
         CASE WHEN k = 0 THEN 'ADD' ELSE 'OBSERVE' END AS action,
         {EVENT_TIME_SQL} AS t, s.stage, s.step, s.disposition
  FROM {tables["batch"]} b
  JOIN bench_trace_products p ON p.product_id = b.product_id
  CROSS JOIN generate_series(0, {e - 1}) AS k
  JOIN {_steps_sql()} ON s.n = k %% {len(STEPS)}
  WHERE b.id BETWEEN %(lo)s AND %(hi)s
), ev AS MATERIALIZED (
  SELECT base.*,
         'ni:///sha-256;' || encode(sha256(convert_to({prehash}, 'UTF8')), 'hex')
           || '?ver=CBV2.0' AS event_id,
         to_char(t AT TIME ZONE 'UTC' + interval '7 hours', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS')
           || '+07:00' AS local_time
  FROM base
), events AS (
  INSERT INTO {tables["event"]} ({", ".join(columns["event"])})
  SELECT pk, event_id, 'ObjectEvent', action, t, '+07:00', t + interval '5 minutes', step,
         disposition, loc, loc, producer_id, NULL,
         'bench' || lpad((batch_id / 1000)::text, 6, '0'), NULL,
         jsonb_build_object(
           '@context', %(context)s::jsonb, 'type', 'ObjectEvent', 'eventID', event_id,
           'eventTime', local_time, 'eventTimeZoneOffset', '+07:00', 'action', action,
           'quantityList', jsonb_build_array(
             jsonb_build_object('epcClass', cls, 'quantity', quantity, 'uom', 'KGM')),
           'bizStep', step, 'disposition', disposition, 'readPoint', jsonb_build_object('id', loc),
           'bizLocation', jsonb_build_object('id', loc), 'thudo:stage', stage)
  FROM ev
), epcs AS (
  INSERT INTO {tables["epc"]} (event_id, role, epc, gtin, lot, serial)
  SELECT pk, 'quantity', cls, gtin, lot, '' FROM ev
)
INSERT INTO {tables["link"]} (event_id, batch_id, role, seq, chain_hash)
SELECT c.pk, a.batch_id, 'epc', c.seq, c.hash
FROM (
  SELECT batch_id, array_agg(pk ORDER BY k) AS pks,
         bench_trace_chain(array_agg(event_id ORDER BY k)) AS hashes
  FROM ev GROUP BY batch_id
) AS a
CROSS JOIN LATERAL unnest(a.pks, a.hashes) WITH ORDINALITY AS c(pk, hash, seq)
"""  # noqa: S608 — table names and constants only; the values are parameters


def _drop_indexes(cursor: Any, tables: list[str]) -> list[str]:
    """Drop the indexes and unique/foreign-key constraints (not the primary keys) of `tables`;
    the statements that make them again (foreign keys NOT VALID)."""
    again: list[str] = []
    for table in tables:
        cursor.execute(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = %s::regclass AND contype IN ('u', 'f')",
            [table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
            # A foreign key comes back NOT VALID: enforced from now on (captures), without
            # re-reading the generated rows, which were made consistent.
            valid = " NOT VALID" if definition.startswith("FOREIGN KEY") else ""
            again.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}{valid}')
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname "
            "NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass)",
            [table, table],
        )
        for name, definition in cursor.fetchall():
            cursor.execute(f'DROP INDEX "{name}"')
            again.append(definition)
    # Indexes and unique constraints first, the foreign keys after.
    return sorted(again, key=lambda sql: ("FOREIGN KEY" in sql, sql))


def _parallel(conninfo: str, statements: list[tuple[str, dict[str, Any]]], workers: int) -> None:
    """Run `statements` on `workers` connections at once (each in its own transaction)."""
    import queue
    import threading

    import psycopg

    todo: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
    for item in statements:
        todo.put(item)
    failures: list[BaseException] = []

    def work() -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SET synchronous_commit = off")
            conn.execute("SET session_replication_role = replica")  # no FK triggers: loading
            conn.execute("SET maintenance_work_mem = '512MB'")
            conn.execute("SET work_mem = '64MB'")
            while not failures:
                try:
                    sql, params = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    conn.execute(sql.encode(), params or None)
                except BaseException as exc:  # reported by the caller
                    failures.append(exc)
                    return

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]


def _sql_anchor(tables: dict[str, str]) -> tuple[int, float]:
    """The history's anchor, as the hourly job would have left it: one Anchor whose items are
    every batch's chain head (made in SQL), its Merkle root computed and signed as
    integrity.anchor_now does. (items, seconds)"""
    from django.db import connection, transaction
    from django.utils import timezone

    from thudo.exchange import keys, merkle
    from thudo.trace import integrity
    from thudo.trace.models import Anchor, AnchorItem, Batch, Product

    started = time.perf_counter()
    with transaction.atomic():
        anchor = Anchor.objects.create(
            created_at=timezone.now(), item_count=0, root_hash="", signature=""
        )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {AnchorItem._meta.db_table} "  # noqa: S608 — names only
                "(anchor_id, batch_id, seq, chain_hash, position) "
                f"SELECT %s, l.batch_id, l.seq, l.chain_hash, l.batch_id - 1 "
                f"FROM {tables['link']} l WHERE l.seq = %s",
                [anchor.pk, EVENTS_PER_BATCH],
            )
            count = cursor.rowcount
        leaves: list[bytes] = []
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT p.gtin, b.lot, a.seq, a.chain_hash FROM {AnchorItem._meta.db_table} a "  # noqa: S608
                f"JOIN {Batch._meta.db_table} b ON b.id = a.batch_id "
                f"JOIN {Product._meta.db_table} p ON p.id = b.product_id "
                "WHERE a.anchor_id = %s ORDER BY a.position",
                [anchor.pk],
            )
            while rows := cursor.fetchmany(50_000):
                leaves.extend(
                    merkle.leaf_hash(integrity.leaf_data(gtin, lot, seq, chain))
                    for gtin, lot, seq, chain in rows
                )
        anchor.item_count = count
        anchor.root_hash = integrity.merkle_root(leaves).hex()
        anchor.signature = keys.sign(
            integrity.anchor_claims(anchor), key=integrity.anchor_key(), typ="JWT"
        )
        anchor.save(update_fields=["item_count", "root_hash", "signature"])
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {AnchorItem._meta.db_table}")
    return count, time.perf_counter() - started


def inner_generate(n: int) -> None:
    """N events (see above); then the anchor of every chain (_sql_anchor)."""
    _django()
    import random
    from datetime import UTC, datetime, timedelta

    from django.db import connection

    from thudo.trace.epcis import hashing
    from thudo.trace.epcis.validate import standard_context
    from thudo.trace.integrity import batch_integrity
    from thudo.trace.models import Batch, Event, EventEpc, EventLink, Place, Product

    started = time.perf_counter()
    conninfo = os.environ["DATABASE_URL"]
    batches_n = max(1, n // EVENTS_PER_BATCH)
    first = (datetime.now(UTC) - timedelta(days=720)).replace(microsecond=0)
    tables = {
        "batch": Batch._meta.db_table,
        "event": Event._meta.db_table,
        "epc": EventEpc._meta.db_table,
        "link": EventLink._meta.db_table,
    }
    columns = {"event": [f.column for f in Event._meta.concrete_fields]}
    timings: dict[str, float] = {}
    with connection.cursor() as cursor:
        cursor.execute(CHAIN_FUNCTION)
        cursor.execute(
            "CREATE UNLOGGED TABLE bench_trace_products AS "  # noqa: S608 — names only
            "SELECT row_number() OVER (ORDER BY p.id) - 1 AS n, p.id AS product_id, p.gtin, "
            "p.producer_id, (SELECT min(code) FROM trace_place pl WHERE pl.producer_id = "
            f"p.producer_id) AS code FROM {Product._meta.db_table} p"
        )
        cursor.execute("CREATE UNIQUE INDEX ON bench_trace_products (product_id)")
        cursor.execute("CREATE UNIQUE INDEX ON bench_trace_products (n)")
        cursor.execute("SELECT count(*) FROM bench_trace_products")
        products = cursor.fetchone()[0]
        # The batches: product by turn, made at the producer's place, last event known.
        last = _event_time_sql(str(EVENTS_PER_BATCH - 1))
        cursor.execute(
            f"INSERT INTO {tables['batch']} (id, product_id, lot, produced_on, expires_on, "  # noqa: S608
            "quantity, unit, place_id, serial_count, created_at, last_event_at) "
            "SELECT b.id, p.product_id, 'L' || lpad(b.id::text, 7, '0'), "
            f"({T0_SQL})::date, NULL, 100, 'KGM', "
            f"(SELECT min(id) FROM {Place._meta.db_table} pl WHERE pl.producer_id = p.producer_id),"
            f" 0, now(), {last} "
            "FROM generate_series(1, %(n)s) AS b(id) "
            f"JOIN bench_trace_products p ON p.n = (b.id - 1) %% {products}",
            {"n": batches_n, "first": first},
        )
        again = _drop_indexes(cursor, [tables["event"], tables["epc"], tables["link"]])
    t0 = time.perf_counter()
    chunk = _chunk_sql(tables, columns)
    context = json.dumps(standard_context())
    statements = [
        (chunk, {"lo": lo, "hi": min(batches_n, lo + CHUNK_BATCHES - 1), "first": first,
                 "context": context})
        for lo in range(1, batches_n + 1, CHUNK_BATCHES)
    ]  # fmt: skip
    _parallel(conninfo, statements, LOADERS)
    timings["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    _parallel(conninfo, [(sql, {}) for sql in again], LOADERS)
    timings["indexes"] = time.perf_counter() - t0
    with connection.cursor() as cursor:
        for table in tables.values():
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
            cursor.execute(f"ANALYZE {table}")
        cursor.execute("DROP TABLE bench_trace_products")
        cursor.execute("DROP FUNCTION bench_trace_chain(text[])")
        cursor.execute(
            "SELECT count(*), pg_relation_size(%s), pg_indexes_size(%s), "  # noqa: S608
            "pg_total_relation_size(%s) FROM " + tables["event"],
            [tables["event"]] * 3,
        )
        events, event_bytes, index_bytes, event_total = cursor.fetchone()
        cursor.execute(f"SELECT count(*) FROM {tables['link']}")  # noqa: S608
        links = cursor.fetchone()[0]
        cursor.execute("SELECT pg_database_size(current_database())")
        database_bytes = cursor.fetchone()[0]
    anchored, timings["anchor"] = _sql_anchor(tables)
    # The SQL-made ids are the canonical hashes, and the chains and the anchor verify (a sample).
    rng = random.Random(902)
    sample = [rng.randint(1, events) for _ in range(200)]
    for event_id, document in Event.objects.filter(pk__in=sample).values_list(
        "event_id", "document"
    ):
        if hashing.event_hash(document) != event_id:
            raise SystemExit(f"SQL-made id {event_id} is not the CBV 2.0 hash of its document")
    for batch in Batch.objects.filter(pk__in=[rng.randint(1, batches_n) for _ in range(50)]):
        verdict = batch_integrity(batch)
        if not verdict.ok or verdict.events != EVENTS_PER_BATCH or not verdict.anchored_events:
            raise SystemExit(f"batch {batch.lot}: {verdict.problem or verdict.events}")
    result(
        {
            "events": events,
            "links": links,
            "batches": batches_n,
            "products": products,
            "seconds": time.perf_counter() - started,
            "load_seconds": timings["load"],
            "index_seconds": timings["indexes"],
            "anchor_seconds": timings["anchor"],
            "anchored": anchored,
            "event_mb": event_bytes / 2**20,
            "event_index_mb": index_bytes / 2**20,
            "event_total_mb": event_total / 2**20,
            "database_mb": database_bytes / 2**20,
        }
    )


def inner_sample(count: int) -> None:
    """`count` different random batches, as the paths their labels' QR codes hold."""
    _django()
    from thudo.trace.models import Batch

    rng = random.Random(17)
    top = Batch.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    ids = rng.sample(range(1, top + 1), min(count, top))
    rows = {
        pk: (gtin, lot)
        for pk, gtin, lot in Batch.objects.filter(pk__in=ids).values_list(
            "pk", "product__gtin", "lot"
        )
    }
    result({"paths": [f"/01/{rows[i][0]}/10/{rows[i][1]}" for i in ids if i in rows]})


def inner_measure(capture_documents: int, query_count: int) -> None:
    _django()
    from datetime import timedelta

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from thudo.accounts.models import User
    from thudo.notifications.models import Notification
    from thudo.trace.epcis.capture import capture_document
    from thudo.trace.identifiers import location_uri, lot_uri
    from thudo.trace.models import Batch, Event, EventLink, Producer

    rng = random.Random(5)
    figures: dict[str, Any] = {}

    # (a) capture
    producer = Producer.objects.order_by("pk").first()
    assert producer is not None
    member = User.objects.get(username="member000")
    place = producer.places.first()
    assert place is not None
    own = list(
        Batch.objects.filter(product__producer=producer)
        .order_by("pk")
        .values_list("product__gtin", "lot")[:5000]
    )
    where = location_uri(code=place.code)

    def doc(k: int) -> dict[str, Any]:
        events = []
        for i in range(CAPTURE_EVENTS):
            gtin, lot = rng.choice(own)
            moment = timezone.localtime() - timedelta(minutes=30, seconds=k * 1000 + i)
            events.append(
                {
                    "type": "ObjectEvent",
                    "eventTime": moment.isoformat(timespec="milliseconds"),
                    "eventTimeZoneOffset": "+07:00",
                    "action": "OBSERVE",
                    "quantityList": [{"epcClass": lot_uri(gtin, lot), "quantity": 5, "uom": "KGM"}],
                    "bizStep": "inspecting",
                    "disposition": "active",
                    "readPoint": {"id": where},
                    "bizLocation": {"id": where},
                    "thudo:stage": "inspecting",
                }
            )
        return {
            "@context": [
                "https://ref.gs1.org/standards/epcis/epcis-context.jsonld",
                {"thudo": "https://thudo.hanoi.gov.vn/epcis/"},
            ],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": timezone.now().isoformat(),
            "epcisBody": {"eventList": events},
        }

    capture_document(document=doc(999), producer=producer, user=member)  # warm-up
    documents = [doc(k) for k in range(capture_documents)]
    times = []
    links_before = EventLink.objects.count()
    t_all = time.perf_counter()
    for d in documents:
        t0 = time.perf_counter()
        capture_document(document=d, producer=producer, user=member)
        times.append((time.perf_counter() - t0) * 1000)
    elapsed = time.perf_counter() - t_all
    figures["capture"] = {
        **_percentiles(times),
        "documents": len(documents),
        "events_per_second": capture_documents * CAPTURE_EVENTS / elapsed,
        "links": EventLink.objects.count() - links_before,
    }

    # the hourly anchor that follows: the chains the captures moved
    from thudo.trace.integrity import anchor_now

    t0 = time.perf_counter()
    anchor = anchor_now()
    figures["anchor"] = {
        "ms": round((time.perf_counter() - t0) * 1000, 1),
        "items": anchor.item_count if anchor else 0,
    }

    # (c) recall through 10,000 derived batches
    from thudo.trace.models import Product
    from thudo.trace.recalls import recall_batch

    officer = User.objects.get(username="attp.bench")
    makers = list(Producer.objects.order_by("pk")[:5])
    products = {p.producer_id: p for p in Product.objects.filter(producer__in=makers)}
    root_product = products[makers[0].pk]
    root = Batch.objects.create(
        product=root_product, lot="RECALL-0", produced_on=timezone.localdate(), unit="KGM"
    )
    first = Batch.objects.bulk_create(
        Batch(
            product=products[makers[1 + i % 4].pk],
            lot=f"R1-{i:05d}",
            produced_on=timezone.localdate(),
            unit="KGM",
        )
        for i in range(RECALL_FIRST)
    )
    second = Batch.objects.bulk_create(
        Batch(
            product=products[makers[1 + i % 4].pk],
            lot=f"R2-{i:05d}",
            produced_on=timezone.localdate(),
            unit="KGM",
        )
        for i in range(RECALL_FIRST * RECALL_SECOND)
    )
    moment = timezone.now() - timedelta(days=1)

    def transformation(n: int, maker: Producer) -> Event:
        return Event(
            event_id=f"urn:uuid:bench-recall-{n}",
            event_type="TransformationEvent",
            event_time=moment,
            biz_step="commissioning",
            producer=maker,
            document={"type": "TransformationEvent", "eventID": f"urn:uuid:bench-recall-{n}"},
        )

    events = Event.objects.bulk_create(
        [transformation(0, makers[0])]
        + [transformation(i + 1, makers[1 + i % 4]) for i in range(RECALL_FIRST)]
    )
    links = [EventLink(event=events[0], batch=root, role="input", seq=1, chain_hash="0")]
    links += [
        EventLink(event=events[0], batch=b, role="output", seq=1, chain_hash="0") for b in first
    ]
    for i, b in enumerate(first):
        links.append(EventLink(event=events[i + 1], batch=b, role="input", seq=2, chain_hash="0"))
        links += [
            EventLink(event=events[i + 1], batch=c, role="output", seq=1, chain_hash="0")
            for c in second[i * RECALL_SECOND : (i + 1) * RECALL_SECOND]
        ]
    EventLink.objects.bulk_create(links, batch_size=5000)
    notified_before = Notification.objects.count()
    with CaptureQueriesContext(connection) as queries:
        t0 = time.perf_counter()
        recall = recall_batch(batch=root, reason="Dư lượng thuốc bảo vệ thực vật", user=officer)
        recall_ms = (time.perf_counter() - t0) * 1000
    figures["recall"] = {
        "ms": round(recall_ms, 1),
        "flagged": recall.flags.count(),
        "queries": len(queries.captured_queries),
        "notified": Notification.objects.count() - notified_before,
    }

    # (d) the EPCIS query of one batch
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(officer)
    top = Batch.objects.filter(lot__startswith="L").order_by("-pk").values_list("pk", flat=True)
    top_pk = top.first() or 1
    picks = list(
        Batch.objects.filter(
            pk__in=[rng.randint(1, top_pk) for _ in range(query_count)]
        ).values_list("product__gtin", "lot")
    )
    client.get("/epcis/events", {"gtin": picks[0][0], "lot": picks[0][1]}, secure=True)
    times = []
    for gtin, lot in picks:
        t0 = time.perf_counter()
        response = client.get("/epcis/events", {"gtin": gtin, "lot": lot}, secure=True)
        times.append((time.perf_counter() - t0) * 1000)
        if response.status_code != 200:
            raise SystemExit(
                f"query {gtin}/{lot}: {response.status_code} {response.content[:300]!r}"
            )
    figures["query"] = _percentiles(times)

    # (e) the integrity verdict alone
    from thudo.trace.integrity import batch_integrity

    chosen = list(
        Batch.objects.filter(
            pk__in=[rng.randint(1, top_pk) for _ in range(query_count)]
        ).select_related("product")
    )
    batch_integrity(chosen[0])  # the first call verifies the anchor's signature (then cached)
    times = []
    for batch in chosen:
        t0 = time.perf_counter()
        verdict = batch_integrity(batch)
        times.append((time.perf_counter() - t0) * 1000)
        if not verdict.ok:
            raise SystemExit(f"batch {batch}: {verdict.problem}")
    figures["integrity"] = _percentiles(times)
    result(figures)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "inner":
        command, *rest = args[1:]
        if command == "setup":
            inner_setup()
        elif command == "generate":
            inner_generate(int(rest[0]))
        elif command == "sample":
            inner_sample(int(rest[0]))
        elif command == "measure":
            inner_measure(int(rest[0]), int(rest[1]))
        else:
            raise SystemExit(f"unknown command {command!r}")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, help=f"events in the table ({N_EVENTS:,})")
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_SIZES.events:,} events, fewer scans and captures, wrk 3 s (+1 s warm-up)",
    )
    parser.add_argument("--duration", help="wrk duration (10s)")
    parser.add_argument("--warmup", help="unmeasured wrk run before each (2s)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    parsed = parser.parse_args(args)
    quick = parsed.quick or QUICK
    options = Options(
        threads=parsed.threads,
        connections=parsed.connections,
        duration=parsed.duration or ("3s" if quick else "10s"),
        warmup=parsed.warmup or ("1s" if quick else "2s"),
        databases=("postgresql",),
    )
    started = time.monotonic()
    try:
        sections = run(options, events=parsed.events, quick=quick, own=True)
    except BenchError as exc:
        print(f"trace: FAILED — {exc}", flush=True)
        return 1
    for s in sections:
        print(s.render() + "\n", flush=True)
    print(f"(trace: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
