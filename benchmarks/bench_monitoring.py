"""Digital-transformation monitoring at city scale: the leaders' pages and the daily snapshot job
with THUDO_BENCH_MONITORING_DOSSIERS dossiers (default 10,000,000) and
THUDO_BENCH_MONITORING_REPORTS citizen reports (default 1,000,000) in the tables.

On a throwaway site (harness.site: a PostgreSQL database created and dropped for the run; on
SQLite the tables are capped at THUDO_BENCH_MONITORING_SQLITE dossiers, default 100,000, and a
tenth as many reports), after `thudo migrate` and `collectstatic`:

  set-up   the units', accounts' and procedures' demo steps, the feedback demo's reference data
           (`bench_feedback.py inner setup`) and Hanoi's programme
           (`thudo.monitoring.programme.programme_load`);
  data     the dossiers over the last year from bench_dossiers' generator (`dossier_data.py
           generate --days 365`), on PostgreSQL COPY from THUDO_BENCH_MONITORING_PARTS processes
           at once (default: one per CPU) in binary, with the table's indexes and foreign keys
           dropped before and, after a VACUUM, put back (`dossier_data.py indexes`; the keys NOT
           VALID), then ANALYZE; the reports from bench_feedback's generator
           (`bench_feedback.py inner generate`: COPY, indexes built after); a year of daily
           snapshots of every indicator before today (made-up values on the way from the
           baseline to the target, bulk-inserted), so the charts and forecasts read a year;
  (a)      the daily snapshot job `services.snapshots_take()` for today: once cold (the first
           call in a fresh process after the load, nothing cached) and once warm (again, with
           Django's cache cleared so the sources recount); its queries; each computed source's
           `sources.source_value` alone (cache cleared), to see which one costs;
  (b)      the city overview (`monitoring:overview`) and one pillar page (`monitoring:pillar`,
           the pillar with the most targets) — and the target page of the first target as well
           — through the real views (Django test client, the whole middleware stack, production
           settings) as a signed-in leader (lanhdao.thanhpho, Perm.DASHBOARD_VIEW): p50/p95 over
           PAGES calls each (default 60), the ratio to the 500 ms p95 aim, the SQL queries per
           page and whether any reads the dossier or report tables (the pages should read
           snapshots and aggregates, not scan those);
  (c)      EXPLAIN ANALYZE (EXPLAIN QUERY PLAN on SQLite) of the heaviest page query and of the
           heaviest query of the snapshot job, once.

p50/p95 are measured in one run on this machine; no figure is asserted. Quick run:

    .venv/bin/python benchmarks/bench_monitoring.py --dossiers 200000 --reports 20000 \\
        --database postgresql
    THUDO_BENCH_MONITORING_DOSSIERS=1000000 .venv/bin/python benchmarks/run.py monitoring
"""

from __future__ import annotations

import argparse
import contextlib
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

from bench_feedback import _explain, _indexes, _ms, _stats  # noqa: E402
from harness import (  # noqa: E402
    ROOT,
    BenchError,
    Options,
    Section,
    Site,
    postgres_reachable,
    site,
)

N_DOSSIERS = int(os.environ.get("THUDO_BENCH_MONITORING_DOSSIERS", "10000000"))
N_REPORTS = int(os.environ.get("THUDO_BENCH_MONITORING_REPORTS", "1000000"))
N_SQLITE = int(os.environ.get("THUDO_BENCH_MONITORING_SQLITE", "100000"))
PARTS = int(os.environ.get("THUDO_BENCH_MONITORING_PARTS", str(os.cpu_count() or 1)))
PAGES = int(os.environ.get("THUDO_BENCH_MONITORING_PAGES", "60"))
DAYS = 365  # the dossiers are spread over the last year
HISTORY_DAYS = 365  # daily snapshots before today
TARGET_MS = 500.0
LEADER = "lanhdao.thanhpho"  # the city's leader in the demo (Role.APPROVER at HN)
RAW_TABLES = ("dossiers_dossier", "feedback_report")
DOSSIER_DATA = HERE / "dossier_data.py"
FEEDBACK = HERE / "bench_feedback.py"


# --- The parent process: sites, subprocesses, tables ------------------------------------------


def _script(where: Site, script: Path, *args: str, timeout: int = 3600) -> dict[str, Any]:
    """Run a benchmark script in the site's environment; its last RESULT line as a dict."""
    done = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=ROOT,
        env=where.env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return _result(f"{script.name} {' '.join(args)}", done.returncode, done.stdout, done.stderr)


def _result(label: str, code: int, stdout: str, stderr: str) -> dict[str, Any]:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if code or not lines:
        raise BenchError(f"{label} failed ({code}):\n{stdout[-2000:]}\n{stderr[-4000:]}")
    return dict(json.loads(lines[-1].removeprefix("RESULT ")))


def _inner(where: Site, *args: str, timeout: int = 3600) -> dict[str, Any]:
    return _script(where, Path(__file__).resolve(), "inner", *args, timeout=timeout)


def _dossiers(where: Site, n: int) -> dict[str, Any]:
    """n dossiers over the last year: on PostgreSQL the table's indexes dropped, PARTS
    generators COPYing at once, the indexes built again and the table analysed."""
    parts = max(1, PARTS) if where.name == "postgresql" and n >= 100_000 else 1
    started = time.perf_counter()
    if parts == 1:
        done = _script(where, DOSSIER_DATA, "generate", str(n), "--days", str(DAYS))
        return {**done, "parts": 1, "copy_seconds": done["seconds"], "index_seconds": 0.0}
    kept = where.var / "dossier-indexes.json"
    dropped = _script(where, DOSSIER_DATA, "indexes", "drop", "dossiers_dossier", str(kept))
    t0 = time.perf_counter()
    procs = []
    for part in range(parts):
        count = n // parts + (1 if part < n % parts else 0)
        out = (where.var / f"generate-{part}.out").open("w+")
        err = (where.var / f"generate-{part}.err").open("w+")
        command = [
            sys.executable,
            str(DOSSIER_DATA),
            "generate",
            str(count),
            "--days",
            str(DAYS),
            "--part",
            str(part),
            "--parts",
            str(parts),
        ]
        procs.append(
            (
                subprocess.Popen(
                    command, cwd=ROOT, env=where.env, stdout=out, stderr=err, text=True
                ),
                out,
                err,
            )
        )
    codes = [proc.wait(timeout=3600) for proc, _out, _err in procs]  # all, before any check
    for code, (_proc, out, err) in zip(codes, procs, strict=True):
        out.seek(0)
        err.seek(0)
        _result("dossier_data.py generate", code, out.read(), err.read())
        out.close()
        err.close()
    copy_seconds = time.perf_counter() - t0
    built = _script(where, DOSSIER_DATA, "indexes", "build", "dossiers_dossier", str(kept))
    total = _inner(where, "count")["dossiers"]
    return {
        "generated": n,
        "total": total,
        "parts": parts,
        "copy_seconds": copy_seconds,
        "vacuum_seconds": built["vacuum_seconds"],
        "index_seconds": built["seconds"] - built["vacuum_seconds"] + dropped["seconds"],
        "indexes": built["indexes"],
        "seconds": time.perf_counter() - started,
    }


def _measure(where: Site, dossiers: int, reports: int, pages: int) -> dict[str, Any]:
    where.thudo("migrate", "--no-input", "-v", "0")
    where.thudo("collectstatic", "--no-input", "-v", "0")  # pages need the static manifest
    figures: dict[str, Any] = {"setup": _script(where, FEEDBACK, "inner", "setup")}
    figures["programme"] = _inner(where, "setup")
    figures["dossiers"] = _dossiers(where, dossiers)
    figures["reports"] = _script(where, FEEDBACK, "inner", "generate", str(reports))
    figures["history"] = _inner(where, "history")
    figures["measure"] = _inner(where, "measure", str(pages))
    return figures


def _ratio(p95: float) -> str:
    return f"{p95 / TARGET_MS:.2f}x of the {TARGET_MS:.0f} ms p95 aim"


def run(
    options: Options,
    dossiers: int | None = None,
    reports: int | None = None,
    pages: int | None = None,
) -> list[Section]:
    n_dossiers = N_DOSSIERS if dossiers is None else dossiers
    n_reports = N_REPORTS if reports is None else reports
    n_pages = pages or PAGES
    page_section = Section(
        title=f"Monitoring — the leaders' pages in-process (Django test client, signed-in "
        f"leader), {n_dossiers:,} dossiers and {n_reports:,} reports on PostgreSQL "
        f"(at most {N_SQLITE:,} / {N_SQLITE // 10:,} on SQLite)",
        columns=["database", "measure", "calls", "p50 ms", "p95 ms", "max ms", "note"],
    )
    job_section = Section(
        title="Monitoring — the daily snapshot job (services.snapshots_take, today) and its "
        "sources",
        columns=["database", "measure", "ms", "queries", "note"],
    )
    plans = Section(
        title="Monitoring — the heaviest queries, once (EXPLAIN ANALYZE on PostgreSQL, EXPLAIN "
        "QUERY PLAN on SQLite)",
        columns=["database", "query", "ms when measured", "indexes used", "execution ms"],
    )
    for database in options.databases:
        if database == "postgresql" and not postgres_reachable():
            page_section.notes.append("postgresql: skipped, no server at 127.0.0.1:5432")
            continue
        if database == "postgresql":
            nd, nr = n_dossiers, n_reports
        else:
            nd, nr = min(n_dossiers, N_SQLITE), min(n_reports, N_SQLITE // 10)
        with site(database) as where:
            f = _measure(where, nd, nr, n_pages)
        m, gen, rep, prog = f["measure"], f["dossiers"], f["reports"], f["programme"]
        rows = f"{gen['total']:,} dossiers, {rep['total']:,} reports"
        for key, page in m["pages"].items():
            t = page["times"]
            raw = ", ".join(page["raw_tables"]) or "none"
            page_section.rows.append(
                [
                    database,
                    f"GET {page['path']} ({key})",
                    t["n"],
                    t["p50_ms"],
                    t["p95_ms"],
                    t["max_ms"],
                    f"{_ratio(t['p95_ms'])}; {page['queries']} queries; "
                    f"{page['kb']:.0f} KB; reads {raw}",
                ]
            )
        page_section.notes.append(
            f"{database}: {rows}; programme {prog['programme']!r}: {prog['pillars']} pillars, "
            f"{prog['targets']} targets, {prog['indicators']} indicators "
            f"({prog['computed']} computed), loaded in {prog['seconds']:.1f} s; "
            f"{f['history']['snapshots']:,} snapshots of the {HISTORY_DAYS} days before today; "
            f"pillar page: {m['pillar']!r} ({m['pillar_targets']} targets)"
        )
        copy_note = (
            f"COPY from {gen['parts']} processes {gen['copy_seconds']:.0f} s, VACUUM "
            f"{gen['vacuum_seconds']:.0f} s, {gen['indexes']} indexes dropped and built and "
            f"ANALYZE {gen['index_seconds']:.0f} s"
            if gen["parts"] > 1
            else f"one process, {gen['copy_seconds']:.0f} s"
        )
        page_section.notes.append(
            f"{database}: {gen['generated']:,} dossiers over {DAYS} days generated in "
            f"{gen['seconds']:.0f} s ({copy_note}); {rep['generated']:,} reports in "
            f"{rep['seconds']:.0f} s (indexes {rep['index_seconds']:.0f} s); "
            f"set-up (units, accounts, feedback's reference data) "
            f"{f['setup']['seconds']:.0f} s"
        )
        for label in ("cold", "warm"):
            job = m["job"][label]
            job_section.rows.append(
                [
                    database,
                    f"snapshots_take, {label}",
                    job["ms"],
                    job["queries"],
                    f"{job['taken']} snapshots; heaviest query {job['heaviest_ms']:.0f} ms",
                ]
            )
        for code, source in m["sources"].items():
            job_section.rows.append(
                [
                    database,
                    f"  source {code}",
                    source["ms"],
                    source["queries"],
                    f"value {source['value']}; {source['indicators']} indicator(s)",
                ]
            )
        job_section.notes.append(
            f"{database}: cold = the first call in a fresh process after the load; warm = the "
            f"next call with Django's cache cleared (the sources count again); {rows}"
        )
        for label, plan in m["plans"].items():
            plans.rows.append(
                [
                    database,
                    label,
                    f"{plan['ms']:.1f}",
                    ", ".join(_indexes(plan["plan"])) or "none",
                    _ms(plan["plan"]),
                ]
            )
            plans.notes.append(
                f"{database} — {label}:\n    {plan['sql'][:600]}\n"
                + "\n".join(f"    {line}" for line in plan["plan"])
            )
    return [page_section, job_section, plans]


# --- The child process: Django with the site's settings ---------------------------------------


def result(data: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(data, default=str), flush=True)


def _django() -> None:
    import django

    django.setup()


def inner_setup() -> None:
    """The procedures' demo step (the dossier generator draws from them) and the programme."""
    _django()
    from thudo.core.registry import registry
    from thudo.monitoring.models import Indicator, Pillar, Programme, Target
    from thudo.monitoring.programme import programme_load

    started = time.perf_counter()
    for step in registry.demo_steps():
        if step.name == "procedures":
            step.load()
    procedures_s = time.perf_counter() - started
    started = time.perf_counter()
    programme_load()
    seconds = time.perf_counter() - started
    main = Programme.objects.filter(parent__isnull=True).order_by("-start", "-pk").first()
    result(
        {
            "procedures_seconds": procedures_s,
            "seconds": seconds,
            "programme": main.code if main else None,
            "pillars": Pillar.objects.count(),
            "targets": Target.objects.count(),
            "indicators": Indicator.objects.count(),
            "computed": Indicator.objects.filter(kind=Indicator.Kind.COMPUTED).count(),
        }
    )


def inner_count() -> None:
    _django()
    from thudo.dossiers.models import Dossier

    result({"dossiers": Dossier.objects.count()})


def inner_history() -> None:
    """A year of daily snapshots before today for every indicator: made-up values that move
    from the target's baseline towards (and sometimes past) the target, with some noise;
    reported indicators change once a quarter. Bulk-inserted: the daily job would have
    written them one day at a time."""
    _django()
    import random
    from datetime import timedelta
    from decimal import Decimal

    from django.utils import timezone

    from thudo.monitoring.models import Indicator, Snapshot, Status

    rng = random.Random(18)
    started = time.perf_counter()
    today = timezone.localdate()
    moment = timezone.now()
    statuses = [Status.ON_TRACK, Status.ON_TRACK, Status.AT_RISK, Status.OFF_TRACK]
    made: list[Snapshot] = []
    for indicator in Indicator.objects.select_related("target"):
        target = indicator.target
        goal = float(target.target_value)
        start = float(target.baseline) if target.baseline is not None else goal * 0.6
        pace = rng.uniform(0.3, 1.1)
        status = rng.choice(statuses)
        for back in range(HISTORY_DAYS, 0, -1):
            day = today - timedelta(days=back)
            # Reported indicators move once a quarter.
            since = back - back % 91 if indicator.kind == Indicator.Kind.REPORTED else back
            progress = pace * (HISTORY_DAYS - since) / HISTORY_DAYS
            value = start + (goal - start) * progress + rng.gauss(0, abs(goal - start) * 0.02)
            made.append(
                Snapshot(
                    indicator=indicator,
                    date=day,
                    value=Decimal(f"{value:.2f}"),
                    status=status,
                    taken_at=moment - timedelta(days=back),
                )
            )
    Snapshot.objects.bulk_create(made, batch_size=2000, ignore_conflicts=True)
    result({"snapshots": Snapshot.objects.count(), "seconds": time.perf_counter() - started})


def _heaviest(captured: Any) -> tuple[float, str]:
    """(ms, sql) of the slowest query captured."""
    timed = [(float(q["time"]) * 1000, q["sql"]) for q in captured.captured_queries]
    return max(timed, default=(0.0, ""))


def _plan(ms: float, sql: str) -> dict[str, Any]:
    return {"ms": ms, "sql": sql, "plan": _explain(sql) if sql else []}


def inner_measure(pages: int) -> None:
    _django()
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import NoReverseMatch, reverse
    from django.utils import timezone

    from thudo.accounts.models import User
    from thudo.accounts.testing import login_verified
    from thudo.monitoring import selectors, services, sources
    from thudo.monitoring.models import Indicator, Snapshot, Target

    figures: dict[str, Any] = {"job": {}, "sources": {}, "pages": {}, "plans": {}}

    # (a) the daily snapshot job: cold, then warm with the cache cleared.
    heaviest_job = (-1.0, "")
    for label in ("cold", "warm"):
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            t0 = time.perf_counter()
            taken = services.snapshots_take()
            ms = (time.perf_counter() - t0) * 1000
        heaviest = _heaviest(captured)
        heaviest_job = max(heaviest_job, heaviest)
        figures["job"][label] = {
            "ms": ms,
            "queries": len(captured),
            "taken": taken,
            "heaviest_ms": heaviest[0],
        }
    # Each computed source alone, nothing cached: which one costs.
    computed = Indicator.objects.filter(kind=Indicator.Kind.COMPUTED).exclude(source="")
    codes: dict[str, int] = {}
    for code in computed.values_list("source", flat=True):
        codes[code] = codes.get(code, 0) + 1
    now = timezone.now()
    for code in sorted(codes):
        cache.clear()
        with CaptureQueriesContext(connection) as captured:
            t0 = time.perf_counter()
            value = sources.source_value(code, at=now)
            ms = (time.perf_counter() - t0) * 1000
        figures["sources"][code] = {
            "ms": ms,
            "queries": len(captured),
            "value": value,
            "indicators": codes[code],
        }

    # (b) the pages, as the city's leader.
    programme = selectors.programme_current()
    if programme is None:
        raise SystemExit("no programme: programme_load() loaded nothing")
    rows = selectors.pillars_overview(programme=programme)
    busiest = max(rows, key=lambda r: len(r.targets))
    figures["pillar"] = busiest.pillar.code
    figures["pillar_targets"] = len(busiest.targets)
    paths = {
        "overview": reverse("monitoring:overview"),
        "pillar": reverse("monitoring:pillar", args=[busiest.pillar.code]),
    }
    first = Target.objects.filter(pillar=busiest.pillar).order_by("order", "code").first()
    if first is not None:
        with contextlib.suppress(NoReverseMatch):
            paths["target"] = reverse("monitoring:target", args=[first.code])
    leader = User.objects.get(username=LEADER)
    client = login_verified(Client(HTTP_HOST="127.0.0.1"), leader)
    heaviest_page = (-1.0, "", "")  # (ms, sql, page); times are captured to the millisecond
    for key, path in paths.items():
        with CaptureQueriesContext(connection) as captured:
            response = client.get(path, secure=True)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {response.content[:300]!r}")
        raw = sorted({t for t in RAW_TABLES for q in captured.captured_queries if t in q["sql"]})
        for _ in range(3):  # warm up
            client.get(path, secure=True)
        times = []
        for _ in range(pages):
            t0 = time.perf_counter()
            client.get(path, secure=True)
            times.append((time.perf_counter() - t0) * 1000)
        with CaptureQueriesContext(connection) as captured:
            client.get(path, secure=True)
        ms, sql = _heaviest(captured)
        if ms > heaviest_page[0]:
            heaviest_page = (ms, sql, key)
        figures["pages"][key] = {
            "path": path,
            "times": _stats(times),
            "queries": len(captured),
            "kb": len(response.content) / 1024,
            "raw_tables": raw,
        }

    # (c) the plans.
    ms, sql, key = heaviest_page
    figures["plans"][f"heaviest page query ({key} page)"] = _plan(ms, sql)
    figures["plans"]["heaviest query of the snapshot job (cold or warm)"] = _plan(*heaviest_job)
    figures["snapshots"] = Snapshot.objects.count()
    result(figures)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "inner":
        command, *rest = args[1:]
        if command == "setup":
            inner_setup()
        elif command == "count":
            inner_count()
        elif command == "history":
            inner_history()
        elif command == "measure":
            inner_measure(int(rest[0]))
        else:
            raise SystemExit(f"unknown command {command!r}")
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=N_DOSSIERS, help="dossiers in the table")
    parser.add_argument("--reports", type=int, default=N_REPORTS, help="reports in the table")
    parser.add_argument("--pages", type=int, default=PAGES, help="timed calls of each page")
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
        sections = run(
            options, dossiers=parsed.dossiers, reports=parsed.reports, pages=parsed.pages
        )
    except BenchError as exc:
        print(f"monitoring: FAILED — {exc}", flush=True)
        return 1
    for s in sections:
        print(s.render() + "\n", flush=True)
    print(f"(monitoring: {time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
