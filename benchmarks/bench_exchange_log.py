"""The exchange log (docs/exchange-log.md): appends per second through `log.append` (one
thread, then several at once), and inclusion and consistency proofs (generated from the
stored subtrees, then verified as a client would) in a log of 10 million entries.

    .venv/bin/python benchmarks/bench_exchange_log.py [--entries N] [--appends N] [--json]

runs against DATABASE_URL (default: a SQLite file in a temporary folder), which must hold no
log yet (`--reuse` measures an existing benchmark log instead). The big log is generated in
bulk, not through `append`: on PostgreSQL with INSERT … SELECT and the server's sha256() (the
leaves' canonical JSON, their leaf hashes and every level of complete subtrees, level by level
with a window over the level below); on SQLite in Python with executemany. A sample of entries
is then rehashed in Python and proved against a signed tree head, so a generator that hashed
differently from `log.append` fails the run instead of printing figures.

Default size: 10,000,000 entries on PostgreSQL, 1,000,000 on SQLite (--entries, or
THUDO_BENCH_LOG_ENTRIES). `run.py` runs it on a throwaway site per database (harness.site).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from harness import BenchError, Options, Section, postgres_reachable, site  # noqa: E402

DEFAULT_ENTRIES = {"postgresql": 10_000_000, "sqlite": 1_000_000}
APPENDS = 2000
THREADS = 4
PROOFS = 2000
SAMPLE = 50
# Exchange calls write one entry per side; in the embedded set-up both sides are this node.
ENTRIES_PER_CALL = 2


# --- In the benchmark process ----------------------------------------------------------------


def _entry_sql() -> str:
    """The canonical JSON of generated entry i, in SQL (keys sorted, no spaces)."""
    return (
        '\'{"i":\' || i || \',"mid":"bench-\' || i || \'","node":"hanoi",'
        '"purpose":"benchmark","service":"VN/GOV/BCA/CSDLQGDC/person","status":200,'
        '"subject":"\' || lpad((i % 1000000)::text, 12, \'0\') || \'","v":1}\''
    )


def entry_of(i: int) -> dict[str, Any]:
    return {
        "i": i,
        "mid": f"bench-{i}",
        "node": "hanoi",
        "purpose": "benchmark",
        "service": "VN/GOV/BCA/CSDLQGDC/person",
        "status": 200,
        "subject": f"{i % 1_000_000:012d}",
        "v": 1,
    }


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def generate_postgresql(n: int) -> None:
    from django.db import connection, transaction

    batch = 1_000_000
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET work_mem = '256MB'")
        cursor.execute("SET maintenance_work_mem = '512MB'")
        # The look-up indexes (message id, subject, leaf hash) are built once after the load,
        # not row by row: a btree over random hashes filled in index order is the slow part.
        cursor.execute(
            "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE i.indrelid = 'exchange_logentry'::regclass AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)"
        )
        deferred = cursor.fetchall()
        for name, _definition in deferred:
            cursor.execute(f'DROP INDEX "{name}"')
        for start in range(0, n, batch):
            end = min(n, start + batch)
            t = time.perf_counter()
            with transaction.atomic():
                cursor.execute(
                    "INSERT INTO exchange_logentry "  # noqa: S608 — constant SQL, numbers as parameters
                    "(index, logged_at, message_id, kind, subject, entry, leaf_hash, archived) "
                    "SELECT i, now() - (%s - i) * interval '1 millisecond', 'bench-' || i, "
                    "'exchange', lpad((i %% 1000000)::text, 12, '0'), e, "
                    "sha256('\\x00'::bytea || convert_to(e, 'UTF8')), false "
                    f"FROM (SELECT i, {_entry_sql().replace('%', '%%')} AS e "
                    "FROM generate_series(%s, %s) AS i) AS g",
                    [n, start, end - 1],
                )
            _say(f"  entries {end:,}/{n:,} ({time.perf_counter() - t:.1f} s)")
        t = time.perf_counter()
        for _name, definition in deferred:
            cursor.execute(definition)
        _say(f"  {len(deferred)} look-up indexes built ({time.perf_counter() - t:.1f} s)")
        t = time.perf_counter()
        cursor.execute(
            "INSERT INTO exchange_merklenode (level, index, hash) "
            "SELECT 0, index, leaf_hash FROM exchange_logentry"
        )
        _say(f"  level 0: {n:,} leaves ({time.perf_counter() - t:.1f} s)")
        level, width = 0, n
        while width > 1:
            t = time.perf_counter()
            cursor.execute(
                "INSERT INTO exchange_merklenode (level, index, hash) "
                "SELECT %s, idx / 2, sha256('\\x01'::bytea || h || nh) FROM ("
                "  SELECT index AS idx, hash AS h, lead(hash) OVER (ORDER BY index) AS nh"
                "  FROM exchange_merklenode WHERE level = %s"
                ") AS w WHERE idx %% 2 = 0 AND nh IS NOT NULL",
                [level + 1, level],
            )
            level, width = level + 1, width // 2
            if level <= 3 or width < 2:
                _say(f"  level {level}: {width:,} nodes ({time.perf_counter() - t:.1f} s)")
        cursor.execute("ANALYZE exchange_logentry")
        cursor.execute("ANALYZE exchange_merklenode")


def generate_sqlite(n: int) -> None:
    from django.db import connection, transaction
    from django.utils import timezone

    from thudo.exchange import keys, merkle

    frontier = merkle.Frontier()
    batch = 50_000
    now = timezone.now().strftime("%Y-%m-%d %H:%M:%S.%f")  # as Django stores it (UTC)
    with connection.cursor() as cursor:
        for start in range(0, n, batch):
            end = min(n, start + batch)
            entries, nodes = [], []
            for i in range(start, end):
                data = keys.canonical_json(entry_of(i))
                leaf = merkle.leaf_hash(data)
                entries.append(
                    (i, now, f"bench-{i}", "exchange", f"{i % 1_000_000:012d}", data.decode(), leaf)
                )
                nodes.extend((lv, ix, h) for (lv, ix), h in frontier.append(leaf))
            with transaction.atomic():
                cursor.executemany(
                    'INSERT INTO exchange_logentry ("index", logged_at, message_id, kind, '
                    "subject, entry, leaf_hash, archived) VALUES (%s, %s, %s, %s, %s, %s, %s, 0)",
                    entries,
                )
                cursor.executemany(
                    'INSERT INTO exchange_merklenode (level, "index", hash) VALUES (%s, %s, %s)',
                    nodes,
                )
            if end % 500_000 == 0 or end == n:
                _say(f"  entries {end:,}/{n:,}")
        cursor.execute("ANALYZE")


def check_sample(size: int, head_root: bytes) -> None:
    """Entries rehashed in Python must match the generated leaves, and prove."""
    from thudo.exchange import log, merkle
    from thudo.exchange.models import LogEntry

    rng = random.Random(6962)
    for index in [0, size - 1, *(rng.randrange(size) for _ in range(SAMPLE))]:
        row = LogEntry.objects.get(index=index)
        if merkle.leaf_hash(row.entry.encode()) != bytes(row.leaf_hash):
            raise BenchError(f"entry #{index}: the generated leaf hash is not SHA-256(0x00||entry)")
        proof = log.inclusion_proof(index, size)
        if proof.leaf_hash != bytes(row.leaf_hash) or proof.root_hash != head_root:
            raise BenchError(f"entry #{index}: the proof does not lead to the signed root")
        if not proof.verify():
            raise BenchError(f"entry #{index}: the inclusion proof does not verify")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return p50 * 1000, p99 * 1000


def measure(args: argparse.Namespace) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    from thudo.exchange import log, merkle
    from thudo.exchange.models import TreeHead

    vendor = connection.vendor
    n = args.entries or int(
        os.environ.get("THUDO_BENCH_LOG_ENTRIES", DEFAULT_ENTRIES.get(vendor, 1_000_000))
    )
    figures: dict[str, Any] = {"database": vendor, "entries": n}
    call_command("migrate", verbosity=0)
    existing = log.tree_size()
    if existing and not args.reuse:
        raise BenchError(
            f"the log on this database already has {existing:,} entries; the benchmark writes "
            "a log of its own: use an empty database, or --reuse to measure this one"
        )

    if not existing:
        _say(f"generating {n:,} entries and their subtrees ({vendor})")
        t = time.perf_counter()
        (generate_postgresql if vendor == "postgresql" else generate_sqlite)(n)
        figures["generate_s"] = time.perf_counter() - t
    figures["generated"] = log.tree_size()

    # Appends through log.append on top of the big log: one thread, then several.
    payload = {
        "v": 1,
        "node": "hanoi",
        "side": "client",
        "client": "VN/GOV/HN-UBND/PORTAL",
        "service": "VN/GOV/BCA/CSDLQGDC/person",
        "method": "GET",
        "path": "person/001090123456",
        "purpose": "1.001193 Đăng ký khai sinh; Nghị định 47/2020/NĐ-CP",
        "subject": "001090123456",
        "time": "2026-11-23T03:00:00Z",
        "status": 200,
        "error": "",
        "request_sha256": "x" * 43,
        "response_sha256": "y" * 43,
        "request_signature": "z" * 240,
        "response_signature": "w" * 240,
        "duration_ms": 3.2,
    }
    for k in range(20):  # warm-up
        log.append(message_id=f"warm-{k}", kind="exchange", subject="001090123456", entry=payload)
    t = time.perf_counter()
    for k in range(args.appends):
        log.append(
            message_id=f"one-{k}",
            kind="exchange",
            subject="001090123456",
            entry={**payload, "k": k},
        )
    figures["append_1"] = args.appends / (time.perf_counter() - t)

    per_thread = max(1, args.appends // args.threads)
    errors: list[BaseException] = []
    gate = threading.Barrier(args.threads)

    def worker(w: int) -> None:
        try:
            gate.wait(timeout=60)
            for k in range(per_thread):
                log.append(
                    message_id=f"t{w}-{k}",
                    kind="exchange",
                    subject="001090123456",
                    entry={**payload, "w": w, "k": k},
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(args.threads)]
    t = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise BenchError(f"concurrent appends failed: {errors[0]!r}")
    figures["append_threads"] = per_thread * args.threads / (time.perf_counter() - t)

    t = time.perf_counter()
    head = log.sign_tree_head()
    figures["sign_ms"] = (time.perf_counter() - t) * 1000
    if head is None:
        head = TreeHead.objects.order_by("-tree_size").first()
    if head is None:
        raise BenchError("no tree head could be signed")
    size, head_root = head.tree_size, bytes(head.root_hash)
    expected = figures["generated"] + 20 + args.appends + per_thread * args.threads
    if not args.reuse and size != expected:
        raise BenchError(f"the log has {size:,} entries, {expected:,} expected (lost appends?)")
    figures["size"] = size
    check_sample(size, head_root)

    # Inclusion proofs of random entries against the signed head, verified as a client does.
    rng = random.Random(9162)
    samples, path_lengths = [], []
    for _ in range(args.proofs):
        index = rng.randrange(size)
        t = time.perf_counter()
        proof = log.inclusion_proof(index, size)
        ok = merkle.verify_inclusion(proof.leaf_hash, index, size, proof.audit_path, head_root)
        samples.append(time.perf_counter() - t)
        if not ok:
            raise BenchError(f"the inclusion proof of #{index} does not verify")
        path_lengths.append(len(proof.audit_path))
    figures["inclusion"] = percentiles(samples)
    figures["path_length"] = max(path_lengths)
    figures["nodes_read"] = max(
        len(set(merkle.inclusion_nodes(i, size)) | set(merkle.root_nodes(size)))
        for i in (0, size // 3, size - 1)
    )

    samples = []
    for _ in range(max(1, args.proofs // 2)):
        first = rng.randrange(1, size)
        t = time.perf_counter()
        proof_c = log.consistency_proof(first, size)
        ok = merkle.verify_consistency(first, size, proof_c.first_root, head_root, proof_c.proof)
        samples.append(time.perf_counter() - t)
        if not ok:
            raise BenchError(f"the consistency proof {first} -> {size} does not verify")
    figures["consistency"] = percentiles(samples)

    # The verification of one proof alone (the client's share).
    proof = log.inclusion_proof(size // 2, size)
    t = time.perf_counter()
    for _ in range(2000):
        merkle.verify_inclusion(proof.leaf_hash, size // 2, size, proof.audit_path, head_root)
    figures["verify_only_us"] = (time.perf_counter() - t) / 2000 * 1e6
    return figures


# --- Presenting ------------------------------------------------------------------------------


def sections(results: list[dict[str, Any]], notes: list[str]) -> list[Section]:
    section = Section(
        title="Exchange log — appends through log.append, proofs in the big log (in-process)",
        columns=["database", "measure", "per second", "p50 ms", "p99 ms", "note"],
        notes=list(notes),
    )
    for r in results:
        db = r["database"]
        section.rows += [
            [
                db,
                "append, 1 thread",
                round(r["append_1"], 1),
                "",
                "",
                f"bounds exchange calls at {r['append_1'] / ENTRIES_PER_CALL:,.0f}/s "
                f"({ENTRIES_PER_CALL} entries per call)",
            ],
            [
                db,
                f"append, {r['threads']} threads at once",
                round(r["append_threads"], 1),
                "",
                "",
                f"{r['append_threads'] / r['append_1']:.2f}x of one thread (appends serialise)",
            ],
            [
                db,
                f"inclusion proof + verify, {r['size']:,} entries",
                round(1000 / r["inclusion"][0], 1),
                round(r["inclusion"][0], 3),
                round(r["inclusion"][1], 3),
                f"{r['nodes_read']} stored subtrees read in 1 query; path of {r['path_length']}; "
                f"p99 {r['inclusion'][1] / 50:.3f}x of a 50 ms budget",
            ],
            [
                db,
                "consistency proof + verify",
                round(1000 / r["consistency"][0], 1),
                round(r["consistency"][0], 3),
                round(r["consistency"][1], 3),
                "random first size -> the signed head",
            ],
            [
                db,
                "verify an inclusion proof only (client side)",
                round(1e6 / r["verify_only_us"]),
                round(r["verify_only_us"] / 1000, 3),
                "",
                "",
            ],
        ]
        generated = (
            f"{r['generated']:,} entries generated in {r['generate_s']:.0f} s"
            if "generate_s" in r
            else f"{r['generated']:,} entries reused"
        )
        section.notes.append(
            f"{db}: {generated}; signing a tree head over {r['size']:,} entries "
            f"{r['sign_ms']:.1f} ms"
        )
    return [section]


def run(options: Options) -> list[Section]:
    """run.py's entry point: a throwaway site per database, this script in it."""
    results, notes = [], []
    for database in options.databases:
        if database == "postgresql" and not postgres_reachable():
            notes.append("postgresql: skipped, no server at 127.0.0.1:5432")
            continue
        with site(database) as where:
            done = subprocess.run(
                [sys.executable, str(Path(__file__).resolve()), "--json"],
                cwd=ROOT,
                env=where.env,
                capture_output=True,
                text=True,
                timeout=3600,
                check=False,
            )
        lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
        if done.returncode or not lines:
            raise BenchError(
                f"bench_exchange_log.py on {database} failed ({done.returncode}):\n"
                f"{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
            )
        results.append(json.loads(lines[-1].removeprefix("RESULT ")))
    return sections(results, notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=0, help="size of the big log")
    parser.add_argument("--appends", type=int, default=APPENDS, help=f"appends timed ({APPENDS})")
    parser.add_argument(
        "--threads", type=int, default=THREADS, help=f"appending threads ({THREADS})"
    )
    parser.add_argument("--proofs", type=int, default=PROOFS, help=f"proofs timed ({PROOFS})")
    parser.add_argument("--reuse", action="store_true", help="measure the log already there")
    parser.add_argument("--json", action="store_true", help="print one RESULT line (run.py)")
    args = parser.parse_args(argv)

    cleanup = tempfile.TemporaryDirectory(prefix="thudo-bench-log-")
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = f"sqlite:///{cleanup.name}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    # The benchmark signs tree heads with a throwaway node key, never the installation's.
    os.environ["EXCHANGE_NODE_KEY_FILE"] = os.path.join(cleanup.name, "node-key.json")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    try:
        figures = measure(args)
    except BenchError as exc:
        print(f"FAILED — {exc}", file=sys.stderr)
        return 1
    finally:
        cleanup.cleanup()
    figures["threads"] = args.threads
    if args.json:
        print("RESULT " + json.dumps(figures))
    else:
        for section in sections([figures], []):
            print(section.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
