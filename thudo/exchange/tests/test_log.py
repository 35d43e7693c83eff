"""The exchange log in the database: appends, stored subtrees, proofs, signed tree heads,
verify-log against each kind of tampering, archiving, and the CLI."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone, translation

from thudo.core.models import AuditEvent
from thudo.exchange import keys, log, merkle
from thudo.exchange.archive import archive
from thudo.exchange.models import LogEntry, MerkleNode, TreeHead

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def node_key(tmp_path: Path, settings: Any) -> Iterator[None]:
    settings.EXCHANGE_NODE_KEY_FILE = str(tmp_path / "node-key.json")
    settings.EXCHANGE_NODE_CODE = "hanoi"
    keys.reset_cache()
    yield
    keys.reset_cache()


def entry(i: int, **extra: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "node": "hanoi",
        "side": "client",
        "mid": f"msg-{i:04d}",
        "client": "VN/GOV/HN-UBND/PORTAL",
        "service": "VN/GOV/BCA/CSDLQGDC/person",
        "method": "GET",
        "path": "person/001090123456",
        "purpose": "1.001193 Đăng ký khai sinh",
        "subject": "001090123456",
        "time": "2026-11-23T03:00:00Z",
        "status": 200,
        "error": "",
        **extra,
    }


def fill(n: int, *, sign_every: int = 0) -> merkle.MemoryTree:
    """n entries through log.append; the same leaves in a MemoryTree to compare with."""
    tree = merkle.MemoryTree()
    for i in range(n):
        row = log.append(
            message_id=f"msg-{i:04d}", kind="exchange", subject="001090123456", entry=entry(i)
        )
        tree.append(merkle.leaf_hash(keys.canonical_json(entry(i))))
        assert row.index == i
        if sign_every and (i + 1) % sign_every == 0:
            assert log.sign_tree_head() is not None
    return tree


def problem_of(result: log.LogVerification) -> log.Problem:
    assert not result.ok
    first = result.first
    assert first is not None
    return first


# --- Appends, stored subtrees, proofs ----------------------------------------------------------


def test_append_stores_the_canonical_entry_its_leaf_and_every_complete_subtree() -> None:
    row = log.append(
        message_id="m-1", kind="exchange", subject="001090123456", entry={"b": "Hà Nội", "a": 1}
    )
    assert row.index == 0
    assert row.entry == '{"a":1,"b":"Hà Nội"}'
    assert bytes(row.leaf_hash) == merkle.leaf_hash('{"a":1,"b":"Hà Nội"}'.encode())
    tree = fill(0)
    for i in range(1, 13):
        log.append(message_id=f"m-{i}", kind="exchange", subject="", entry={"i": i})
    tree = merkle.MemoryTree(
        merkle.leaf_hash(keys.canonical_json(e))
        for e in [{"b": "Hà Nội", "a": 1}, *({"i": i} for i in range(1, 13))]
    )
    stored = {(n.level, n.index): bytes(n.hash) for n in MerkleNode.objects.all()}
    expected = {s: tree.get(s) for i in range(13) for s in merkle.completed_by(i)}
    assert stored == expected
    assert len(stored) == merkle.subtree_count(13)
    assert log.tree_size() == 13
    assert log.root(13) == tree.root()
    assert log.root(0) == merkle.EMPTY_ROOT


def test_proofs_for_every_index_and_size_match_the_in_memory_tree(
    django_assert_max_num_queries: Any,
) -> None:
    n = 37
    tree = fill(n)
    for size in range(1, n + 1):
        root = tree.root(size)
        assert log.root(size) == root
        for index in range(size):
            with django_assert_max_num_queries(2):  # the size, then one query for the nodes
                proof = log.inclusion_proof(index, size)
            assert proof.audit_path == tree.inclusion_proof(index, size)
            assert proof.root_hash == root and proof.verify()
        for first in range(0, size + 1):
            cproof = log.consistency_proof(first, size)
            assert cproof.proof == tree.consistency_proof(first, size)
            assert cproof.first_root == tree.root(first) and cproof.verify()
    with pytest.raises(log.OutOfRange):
        log.inclusion_proof(n, n)
    with pytest.raises(log.OutOfRange):
        log.inclusion_proof(0, n + 1)
    with pytest.raises(log.OutOfRange):
        log.consistency_proof(5, 4)


def test_a_missing_node_is_reported_not_guessed() -> None:
    fill(8)
    MerkleNode.objects.filter(level=2, index=1).delete()
    with pytest.raises(log.LogInconsistent):
        log.inclusion_proof(0, 8)


def test_a_failed_transaction_gives_its_index_back() -> None:
    fill(3)
    with pytest.raises(RuntimeError), transaction.atomic():
        log.append(message_id="x", kind="exchange", subject="", entry={"x": 1})
        raise RuntimeError
    assert log.append(message_id="y", kind="exchange", subject="", entry={"y": 1}).index == 3
    assert MerkleNode.objects.filter(level=0).count() == 4
    assert log.verify_log().ok


def test_append_refuses_values_longer_than_their_columns() -> None:
    with pytest.raises(ValueError):
        log.append(message_id="m", kind="exchange", subject="0" * 13, entry={})
    assert LogEntry.objects.count() == 0


# --- Signed tree heads -----------------------------------------------------------------------


def test_tree_heads_are_signed_only_when_the_log_grew() -> None:
    assert log.sign_tree_head() is None  # empty log
    tree = fill(5)
    head = log.sign_tree_head()
    assert head is not None and head.tree_size == 5
    assert bytes(head.root_hash) == tree.root()
    claims = keys.verify(head.signature, keys.node_public_jwk())
    assert claims == {
        "typ": "thudo-sth",
        "node": "hanoi",
        "tree_size": 5,
        "root_hash": log.b64(tree.root()),
        "timestamp": log.iso(head.timestamp),
    }
    assert claims["timestamp"].endswith("Z")
    assert log.sign_tree_head() is None
    fill_more = log.append(message_id="m", kind="error", subject="", entry={"e": 1})
    assert log.sign_tree_head().tree_size == fill_more.index + 1  # type: ignore[union-attr]
    assert TreeHead.objects.count() == 2


def test_the_periodic_task_signs() -> None:
    from thudo.exchange.tasks import sign_tree_head

    fill(2)
    assert sign_tree_head.delay().get() == 2
    assert sign_tree_head.delay().get() is None


def test_a_head_is_not_signed_over_a_truncated_log() -> None:
    fill(4)
    log.sign_tree_head()
    LogEntry.objects.filter(index=3).delete()
    assert log.sign_tree_head() is None
    assert TreeHead.objects.count() == 1


# --- verify-log ----------------------------------------------------------------------------


def test_an_intact_log_verifies() -> None:
    fill(21, sign_every=5)
    result = log.verify_log()
    assert result.ok, result.problems
    assert result.tree_size == 21 and result.entries_checked == 21
    assert result.nodes_checked == merkle.subtree_count(21)
    assert result.heads_checked == 4 and result.latest_head_size == 20
    assert result.unsigned_entries == 1


def test_verify_log_command_names_an_edited_row(capsys: Any) -> None:
    """The issue's test: edit one LogEntry.entry in the database; the command names it."""
    fill(12, sign_every=4)
    out = io.StringIO()
    call_command("exchange", "verify-log", stdout=out)
    assert "Log intact: 12 entries" in out.getvalue()

    edited = json.loads(LogEntry.objects.get(index=6).entry)
    edited["purpose"] = "something else"
    LogEntry.objects.filter(index=6).update(entry=keys.canonical_json(edited).decode())
    out = io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("exchange", "verify-log", stdout=out)
    assert exit_.value.code == 1
    text = out.getvalue()
    assert "Log NOT intact: first bad entry #6 edited" in text
    assert "content no longer matches its leaf hash" in text
    first = problem_of(log.verify_log())
    assert (first.kind, first.index) == ("edited", 6)


def test_the_first_of_several_edits_is_named() -> None:
    fill(30, sign_every=10)
    for index in (25, 9, 17):
        LogEntry.objects.filter(index=index).update(entry='{"forged":true}')
    result = log.verify_log()
    first = problem_of(result)
    assert (first.kind, first.index) == ("edited", 9)
    assert {p.index for p in result.problems if p.kind == "edited"} == {9, 17, 25}


def test_a_deleted_row_is_named() -> None:
    fill(10, sign_every=5)
    LogEntry.objects.filter(index=4).delete()
    first = problem_of(log.verify_log())
    assert (first.kind, first.index) == ("deleted", 4)


def test_deleted_rows_at_the_end_are_named_by_the_signed_head() -> None:
    fill(10, sign_every=10)
    LogEntry.objects.filter(index__gte=7).delete()
    MerkleNode.objects.filter(level=0, index__gte=7).delete()
    MerkleNode.objects.filter(level=1, index__gte=3).delete()
    MerkleNode.objects.filter(level=2, index__gte=1).delete()
    MerkleNode.objects.filter(level=3).delete()
    first = problem_of(log.verify_log())
    assert (first.kind, first.index, first.last_index) == ("deleted", 7, 9)


def test_a_deleted_last_row_after_the_last_head_is_caught_by_its_leftover_leaf() -> None:
    fill(6, sign_every=4)
    LogEntry.objects.filter(index=5).delete()
    first = problem_of(log.verify_log())
    assert (first.kind, first.index) == ("deleted", 5)


def test_swapped_rows_are_named_as_reordered() -> None:
    fill(10, sign_every=5)
    LogEntry.objects.filter(index=3).update(index=-100)
    LogEntry.objects.filter(index=7).update(index=3)
    LogEntry.objects.filter(index=-100).update(index=7)
    result = log.verify_log()
    first = problem_of(result)
    assert (first.kind, first.index) == ("reordered", 3)
    assert "#7" in first.detail
    assert {p.index for p in result.problems if p.kind == "reordered"} == {3, 7}


def rewrite_tree() -> None:
    """What an attacker with SQL access but without the node's key can do at most: recompute
    every leaf hash from the (edited) entries and every stored subtree from them."""
    MerkleNode.objects.all().delete()
    frontier = merkle.Frontier()
    nodes = []
    for row in LogEntry.objects.order_by("index"):
        leaf = merkle.leaf_hash(row.entry.encode())
        LogEntry.objects.filter(pk=row.pk).update(leaf_hash=leaf)
        for (level, index), h in frontier.append(leaf):
            nodes.append(MerkleNode(level=level, index=index, hash=h))
    MerkleNode.objects.bulk_create(nodes)


def test_an_edit_with_rewritten_hashes_is_caught_by_the_signed_heads() -> None:
    fill(16, sign_every=1)  # a head after every entry: the edit is pinned to one entry
    LogEntry.objects.filter(index=11).update(entry='{"forged":true}')
    rewrite_tree()
    first = problem_of(log.verify_log())
    assert (first.kind, first.index, first.last_index) == ("changed", 11, 11)


def test_with_sparse_heads_the_change_is_located_between_two_heads() -> None:
    fill(40, sign_every=8)
    LogEntry.objects.filter(index=19).update(entry='{"forged":true}')
    rewrite_tree()
    result = log.verify_log()
    first = problem_of(result)
    assert (first.kind, first.index, first.last_index) == ("changed", 16, 23)
    assert "tree head of size 24" in first.detail and "size 16 still matches" in first.detail


def test_reordering_with_rewritten_hashes_is_caught_by_the_signed_heads() -> None:
    fill(12, sign_every=1)
    LogEntry.objects.filter(index=5).update(index=-1)
    LogEntry.objects.filter(index=8).update(index=5)
    LogEntry.objects.filter(index=-1).update(index=8)
    rewrite_tree()
    first = problem_of(log.verify_log())
    assert (first.kind, first.index) == ("changed", 5)


def test_deleting_and_renumbering_with_rewritten_hashes_is_caught() -> None:
    fill(12, sign_every=1)
    LogEntry.objects.filter(index=4).delete()
    for i in range(5, 12):
        LogEntry.objects.filter(index=i).update(index=i - 1)
    rewrite_tree()
    first = problem_of(log.verify_log())
    assert (first.kind, first.index) == ("changed", 4)


def test_an_edited_leaf_hash_without_the_tree_is_named() -> None:
    fill(9, sign_every=3)
    LogEntry.objects.filter(index=2).update(
        entry='{"forged":true}', leaf_hash=merkle.leaf_hash(b'{"forged":true}')
    )
    first = problem_of(log.verify_log())
    assert (first.kind, first.index) == ("edited", 2)
    assert "leaf hash were both changed" in first.detail


def test_an_edited_tree_node_is_named() -> None:
    fill(16, sign_every=16)
    MerkleNode.objects.filter(level=2, index=2).update(hash=b"\x00" * 32)
    first = problem_of(log.verify_log())
    assert (first.kind, first.index, first.last_index) == ("node", 8, 11)


def test_forged_or_edited_tree_heads_are_reported_and_not_trusted() -> None:
    fill(6)
    head = log.sign_tree_head()
    assert head is not None
    TreeHead.objects.filter(pk=head.pk).update(root_hash=b"\x11" * 32)
    TreeHead.objects.create(tree_size=7, root_hash=b"\x22" * 32, signature="a.b.c")
    result = log.verify_log()
    kinds = sorted((p.kind, p.detail[:40]) for p in result.problems)
    assert [k for k, _ in kinds] == ["head", "head"]
    assert result.first is not None and result.first.index is None


# --- Archiving -------------------------------------------------------------------------------


def test_archived_entries_still_prove_and_verify_with_their_archive(tmp_path: Path) -> None:
    tree = fill(10)
    old = timezone.now() - timedelta(days=40)
    LogEntry.objects.filter(index__lt=6).update(logged_at=old)
    target = tmp_path / "log-2026.jsonl.gz"
    count = archive(before=timezone.now() - timedelta(days=30), to=target, actor="test")
    assert count == 6
    assert TreeHead.objects.filter(tree_size=10).exists()  # signed before archiving
    rows = list(LogEntry.objects.order_by("index").values_list("archived", "entry"))
    assert rows[:6] == [(True, "")] * 6 and all(not a and e for a, e in rows[6:])
    assert AuditEvent.objects.filter(action="exchange.log_archived").count() == 1

    with gzip.open(target, "rt", encoding="utf-8") as fh:
        lines = [json.loads(line) for line in fh]
    assert lines[0]["typ"] == "thudo-log-archive" and lines[0]["first"] == 0
    assert [x["index"] for x in lines[1:]] == list(range(6))
    assert lines[1]["entry"] == keys.canonical_json(entry(0)).decode()
    assert lines[1]["leaf_hash"] == tree.get((0, 0)).hex()
    checksum = (tmp_path / "log-2026.jsonl.gz.sha256").read_text().split()[0]
    assert checksum == log.file_sha256(target)

    # Proofs still work: they read leaf hashes and subtrees, never the content.
    for index in range(10):
        proof = log.inclusion_proof(index, 10)
        assert proof.verify() and proof.root_hash == tree.root()

    without = log.verify_log()
    assert without.ok and without.archived_unchecked == 6 and without.archived_checked == 0
    with_archive = log.verify_log(archives=[target])
    assert with_archive.ok and with_archive.archived_checked == 6
    out = io.StringIO()
    call_command("exchange", "verify-log", stdout=out)
    assert "6 archived entries were not checked" in out.getvalue()

    # Nothing left to archive; an existing file is never overwritten.
    assert archive(before=timezone.now() - timedelta(days=30), to=tmp_path / "again.gz") == 0
    assert not (tmp_path / "again.gz").exists()
    from thudo.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        archive(before=timezone.now(), to=target)


def test_an_edited_archive_is_caught(tmp_path: Path) -> None:
    fill(5)
    target = tmp_path / "a.jsonl.gz"
    assert archive(before=timezone.now() + timedelta(days=1), to=target) == 5
    with gzip.open(target, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    item = json.loads(lines[3])  # entry #2
    item["entry"] = item["entry"].replace("Đăng ký khai sinh", "Something else")
    lines[3] = json.dumps(item, ensure_ascii=False)
    lines.pop(5)  # entry #4 is gone from the file
    forged = tmp_path / "forged.jsonl.gz"
    with gzip.open(forged, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    result = log.verify_log(archives=[forged])
    first = problem_of(result)
    assert (first.kind, first.index) == ("edited", 2)
    assert "archived content" in first.detail
    assert any(p.kind == "deleted" and p.index == 4 for p in result.problems)
    assert log.verify_log(archives=[target]).ok
    # A file that is not an archive is reported, not a crash.
    junk = tmp_path / "junk.gz"
    junk.write_bytes(b"not gzip")
    assert problem_of(log.verify_log(archives=[junk])).kind == "archive"


def test_archive_refuses_a_tampered_entry_and_leaves_nothing_behind(tmp_path: Path) -> None:
    from thudo.core.errors import ValidationFailed

    fill(4)
    LogEntry.objects.filter(index=2).update(entry='{"forged":true}')
    target = tmp_path / "a.jsonl.gz"
    with pytest.raises(ValidationFailed):
        archive(before=timezone.now() + timedelta(days=1), to=target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["node-key.json"]
    assert not LogEntry.objects.filter(archived=True).exists()


def test_archive_and_sign_commands(tmp_path: Path) -> None:
    fill(3)
    out = io.StringIO()
    call_command("exchange", "sign-tree-head", stdout=out)
    assert "Signed tree head: size 3" in out.getvalue()
    out = io.StringIO()
    call_command("exchange", "sign-tree-head", stdout=out)
    assert "Nothing new to sign: 3 entries" in out.getvalue()
    LogEntry.objects.update(logged_at=timezone.now() - timedelta(days=3))
    target = tmp_path / "old.jsonl.gz"
    day = (timezone.localdate() - timedelta(days=1)).isoformat()
    out = io.StringIO()
    call_command("exchange", "archive", "--before", day, "--to", str(target), stdout=out)
    assert "Archived 3 entries" in out.getvalue() and target.exists()
    out = io.StringIO()
    call_command("exchange", "verify-log", "--archive", str(target), stdout=out)
    assert "Log intact: 3 entries (0 recomputed from their content, 3 from archives" in (
        out.getvalue()
    )
    out = io.StringIO()
    with pytest.raises(SystemExit), translation.override("en"):
        call_command("exchange", "archive", "--before", day, "--to", str(target), stdout=out)
    assert "already exists" in out.getvalue()


# --- Concurrency -----------------------------------------------------------------------------

CHILD = (
    "import django; django.setup(); "
    "from thudo.exchange.tests.test_log import _concurrent_child; _concurrent_child()"
)


def test_concurrent_appends_from_threads_take_distinct_gapless_indexes(tmp_path: Path) -> None:
    """SQLite as deployed (a file in WAL mode, IMMEDIATE transactions): the test database lives
    in memory with a shared cache whose table locks do not wait, so the threads race in a
    child process on a file of its own."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'log.sqlite3'}",
        "EXCHANGE_NODE_KEY_FILE": str(tmp_path / "key.json"),
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
    assert "log: ok" in done.stdout


def _concurrent_child() -> None:
    """The child process: the log's three tables on a fresh file, then the race."""
    assert connection.vendor == "sqlite" and connection.settings_dict["NAME"].endswith(".sqlite3")
    with connection.schema_editor() as editor:
        for model in (LogEntry, MerkleNode, TreeHead):
            editor.create_model(model)
    _race()


def _race() -> None:
    import threading

    from django.db import connections

    threads_n, per_thread = 8, 15
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work(t: int) -> None:
        try:
            barrier.wait(timeout=30)
            for k in range(per_thread):
                log.append(
                    message_id=f"t{t}-{k}", kind="exchange", subject="", entry={"t": t, "k": k}
                )
                if k % 5 == 0:
                    log.sign_tree_head()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    total = threads_n * per_thread
    assert list(LogEntry.objects.order_by("index").values_list("index", flat=True)) == list(
        range(total)
    )
    assert MerkleNode.objects.count() == merkle.subtree_count(total)
    result = log.verify_log()
    assert result.ok, result.problems
    assert result.heads_checked >= 2
    print("log: ok")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        from thudo.core.testing import require_service

        require_service("PostgreSQL", "127.0.0.1", 5432)
        pytest.skip("run the suite with DATABASE_URL=postgres://… to test PostgreSQL")
    _race()
