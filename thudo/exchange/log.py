"""This node's append-only exchange log: a Merkle tree (RFC 6962/9162 hashing) over every
finished exchange, with signed tree heads, inclusion and consistency proofs, and a full
verification that names the first entry that was edited, deleted or reordered
(docs/exchange-log.md).

Storage: one LogEntry per leaf (the canonical JSON that was hashed and its leaf hash) and one
MerkleNode per complete subtree, written in the append's transaction as each subtree fills, so
a root or a proof reads O(log n) rows with one query. Appends are serialised by a PostgreSQL
advisory transaction lock (SQLite: its single write lock), so two appends never take the same
index and a subtree's hash is written by the append that completes it.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import gzip
import hashlib
import heapq
import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import reduce
from operator import or_
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from thudo.core.errors import NotFound, ThudoError

from . import keys, merkle
from .models import LogEntry, MerkleNode, TreeHead

logger = logging.getLogger(__name__)

# pg_advisory_xact_lock key of the log's append lock (ASCII "ThudoLog"; any constant works as
# long as nothing else in the database uses it).
ADVISORY_LOCK_KEY = 0x5468_7564_6F4C_6F67
STH_TYPE = "thudo-sth"
VERIFY_CHUNK = 5000
MAX_PROBLEMS = 100
MAX_LOOKUPS = 10


class OutOfRange(NotFound):
    """An index or a tree size beyond the log."""

    code = "out_of_range"
    default_message = _("There is no such entry or tree size in the log.")


class LogInconsistent(ThudoError):
    """A hash the log needs is missing from its tables (run `thudo exchange verify-log`)."""

    code = "log_inconsistent"
    status = 500
    default_message = _("The log's stored hashes are incomplete; the operators have to check it.")


# --- Encoding --------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    """Standard base64 with padding (RFC 4648 §4), as Certificate Transparency's JSON API."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str) -> bytes:
    """Standard or URL-safe base64, padding optional; a '+' that a query string turned into a
    space is put back. Raises ValueError."""
    text = text.strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from exc


def iso(moment: datetime) -> str:
    """UTC, millisecond precision, "Z": the timestamp form that tree heads sign."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- Appending --------------------------------------------------------------------------------


def _lock() -> None:
    """Serialise appends (and tree-head signing) until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK_KEY])
    elif connection.vendor == "sqlite":
        options = connection.settings_dict.get("OPTIONS", {})
        if str(options.get("transaction_mode", "")).upper() in ("IMMEDIATE", "EXCLUSIVE"):
            return  # the transaction took the write lock at BEGIN
        # Under DEFERRED transactions a write statement takes the write lock, before the read
        # of the last index, so two appends cannot both read the same last index.
        with connection.cursor() as cursor:
            cursor.execute("UPDATE exchange_logentry SET archived = archived WHERE 0 = 1")


def _fetch(subtrees: Iterable[merkle.Subtree]) -> dict[merkle.Subtree, bytes]:
    """The stored hashes of these subtrees, in one query: a join of the wanted (level, index)
    pairs with the unique index (plain SQL: the ORM would build an OR of a few dozen
    conditions, slower to build and to plan than to run)."""
    wanted = set(subtrees)
    if not wanted:
        return {}
    qn = connection.ops.quote_name
    pairs = sorted(wanted)
    params: list[Any]
    if connection.vendor == "postgresql":  # one query text whatever the count: cheap to plan
        prefix, source = "", "unnest(%s::smallint[], %s::bigint[]) AS w(l, i)"
        params = [[lv for lv, _ in pairs], [ix for _, ix in pairs]]
    else:
        prefix = "WITH w(l, i) AS (VALUES " + ", ".join(["(%s, %s)"] * len(pairs)) + ") "
        source = "w"
        params = [v for pair in pairs for v in pair]
    sql = (
        f"{prefix}SELECT m.{qn('level')}, m.{qn('index')}, m.{qn('hash')} "  # noqa: S608
        f"FROM {source} JOIN {qn(MerkleNode._meta.db_table)} m "
        f"ON m.{qn('level')} = w.l AND m.{qn('index')} = w.i"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = {(level, index): bytes(h) for level, index, h in cursor.fetchall()}
    missing = wanted - found.keys()
    if missing:
        level, index = min(missing)
        logger.error("exchange log: Merkle node %s/%s is missing", level, index)
        raise LogInconsistent()
    return found


def _insert_sql(model: type[Any], columns: list[str], rows: int = 1) -> str:
    qn = connection.ops.quote_name
    names = ", ".join(qn(model._meta.get_field(c).column) for c in columns)
    values = ", ".join(["(" + ", ".join(["%s"] * len(columns)) + ")"] * rows)
    sql = f"INSERT INTO {qn(model._meta.db_table)} ({names}) VALUES {values}"  # noqa: S608
    if rows == 1 and connection.features.can_return_columns_from_insert:
        sql += f" RETURNING {qn(model._meta.pk.column)}"
    return sql


def append(*, message_id: str, kind: str, subject: str, entry: dict[str, Any]) -> LogEntry:
    """Add one entry at the next index; stores its leaf and every subtree it completes.

    Call it as late as possible in the caller's transaction: the append lock is held until
    that transaction ends. (Plain SQL: the lock is held for as few statements and as little
    Python as possible, which is what bounds appends per second.)"""
    if len(message_id) > 64 or len(kind) > 20 or len(subject) > 12:
        raise ValueError("message_id, kind or subject is longer than its column")
    data = keys.canonical_json(entry)
    leaf = merkle.leaf_hash(data)
    row = LogEntry(
        logged_at=timezone.now(),
        message_id=message_id,
        kind=kind,
        subject=subject,
        entry=data.decode(),
        leaf_hash=leaf,
        archived=False,
    )
    fields = {f.name: f for f in LogEntry._meta.concrete_fields}
    columns = [
        "index", "logged_at", "message_id", "kind", "subject", "entry", "leaf_hash", "archived"
    ]  # fmt: skip
    with transaction.atomic():
        _lock()
        row.index = index = tree_size()
        params = [fields[c].get_db_prep_save(getattr(row, c), connection) for c in columns]
        with connection.cursor() as cursor:
            cursor.execute(_insert_sql(LogEntry, columns), params)
            if connection.features.can_return_columns_from_insert:
                row.pk = cursor.fetchone()[0]
            else:  # pragma: no cover — engines without RETURNING
                row.pk = cursor.lastrowid
            completed = merkle.completed_by(index)
            siblings = _fetch((level, (index >> level) - 1) for level in range(len(completed) - 1))
            nodes: list[Any] = [0, index, leaf]
            h = leaf
            for level, _i in completed[:-1]:
                h = merkle.node_hash(siblings[(level, (index >> level) - 1)], h)
                nodes += [level + 1, index >> (level + 1), h]
            cursor.execute(
                _insert_sql(MerkleNode, ["level", "index", "hash"], len(completed)).split(
                    " RETURNING"
                )[0],
                nodes,
            )
    row._state.adding = False
    row._state.db = connection.alias
    return row


# --- Reading: size, roots, proofs -------------------------------------------------------------


def tree_size() -> int:
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MAX({qn('index')}) FROM {qn(LogEntry._meta.db_table)}")  # noqa: S608
        last = cursor.fetchone()[0]
    return 0 if last is None else int(last) + 1


def _check_size(size: int, current: int | None = None) -> None:
    current = tree_size() if current is None else current
    if size < 0 or size > current:
        raise OutOfRange(
            _("The log has %(current)s entries; there is no tree of size %(size)s.")
            % {"current": current, "size": size}
        )


def root(size: int) -> bytes:
    """The Merkle tree hash of the first `size` entries."""
    _check_size(size)
    return merkle.root(size, _fetch(merkle.root_nodes(size)).__getitem__)


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    audit_path: list[bytes]
    root_hash: bytes

    def verify(self) -> bool:
        return merkle.verify_inclusion(
            self.leaf_hash, self.leaf_index, self.tree_size, self.audit_path, self.root_hash
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "leaf_hash": b64(self.leaf_hash),
            "audit_path": [b64(h) for h in self.audit_path],
            "root_hash": b64(self.root_hash),
        }


@dataclass(frozen=True)
class ConsistencyProof:
    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: list[bytes]

    def verify(self) -> bool:
        return merkle.verify_consistency(
            self.first, self.second, self.first_root, self.second_root, self.proof
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "first": self.first,
            "second": self.second,
            "consistency": [b64(h) for h in self.proof],
        }


def inclusion_proof(index: int, size: int) -> InclusionProof:
    """The audit path of entry `index` in the tree of the first `size` entries, with the leaf
    hash and the root it leads to (one query for the nodes)."""
    _check_size(size)
    if not 0 <= index < size:
        raise OutOfRange(
            _("Entry %(index)s is not in the tree of size %(size)s.")
            % {"index": index, "size": size}
        )
    needed = merkle.inclusion_nodes(index, size)
    hashes = _fetch([(0, index), *needed, *merkle.root_nodes(size)])
    return InclusionProof(
        leaf_index=index,
        tree_size=size,
        leaf_hash=hashes[(0, index)],
        audit_path=merkle.inclusion_proof(index, size, hashes.__getitem__),
        root_hash=merkle.root(size, hashes.__getitem__),
    )


def consistency_proof(first: int, second: int) -> ConsistencyProof:
    """The proof that the tree of `second` entries extends the tree of `first` entries."""
    _check_size(second)
    if not 0 <= first <= second:
        raise OutOfRange(
            _("There is no consistency proof from size %(first)s to size %(second)s.")
            % {"first": first, "second": second}
        )
    hashes = _fetch(
        [
            *merkle.consistency_nodes(first, second),
            *merkle.root_nodes(first),
            *merkle.root_nodes(second),
        ]
    )
    get = hashes.__getitem__
    return ConsistencyProof(
        first=first,
        second=second,
        first_root=merkle.root(first, get),
        second_root=merkle.root(second, get),
        proof=merkle.consistency_proof(first, second, get),
    )


def entry_index_by_hash(leaf: bytes) -> int | None:
    """The (first) entry whose leaf hash is `leaf`."""
    return (
        LogEntry.objects.filter(leaf_hash=leaf)
        .order_by("index")
        .values_list("index", flat=True)
        .first()
    )


# --- Signed tree heads ------------------------------------------------------------------------


def tree_head_claims(head: TreeHead) -> dict[str, Any]:
    return {
        "typ": STH_TYPE,
        "node": settings.EXCHANGE_NODE_CODE,
        "tree_size": head.tree_size,
        "root_hash": b64(bytes(head.root_hash)),
        "timestamp": iso(head.timestamp),
    }


def sign_tree_head() -> TreeHead | None:
    """Sign the log's current size and root, when it grew since the last signed head."""
    with transaction.atomic():
        _lock()
        size = tree_size()
        latest = TreeHead.objects.aggregate(size=Max("tree_size"))["size"]
        if size == 0 or (latest is not None and size <= latest):
            if latest is not None and size < latest:
                logger.error(
                    "exchange log: %s entries but a head of size %s was signed; not signing",
                    size,
                    latest,
                )
            return None
        moment = timezone.now()
        moment = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
        head = TreeHead(tree_size=size, root_hash=root(size), timestamp=moment)
        head.signature = keys.sign(tree_head_claims(head))
        head.save()
    return head


def verify_tree_head(head: TreeHead) -> dict[str, Any] | None:
    """The head's signed claims when its signature is this node's and they match the row,
    else None."""
    try:
        claims = keys.verify(head.signature, keys.node_key())
    except Exception:  # joserfc's errors, a payload that is not JSON, a malformed token
        return None
    if claims != tree_head_claims(head):
        return None
    return claims


def latest_tree_head() -> TreeHead | None:
    return TreeHead.objects.order_by("-tree_size").first()


def tree_head_json(head: TreeHead) -> dict[str, Any]:
    claims = tree_head_claims(head)
    return {
        "node": claims["node"],
        "tree_size": head.tree_size,
        "root_hash": claims["root_hash"],
        "timestamp": claims["timestamp"],
        "signature": head.signature,
    }


# --- Archive files (written by archive.py, read here to check archived entries) ---------------

ARCHIVE_TYPE = "thudo-log-archive"


class ArchiveError(ValueError):
    """An archive file that cannot be read."""


def archive_checksum_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_archive(path: Path) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
    """The header of an archive file and an iterator over its entries (index order)."""
    fh = gzip.open(path, "rt", encoding="utf-8")  # noqa: SIM115 — closed by the iterator
    try:
        header = json.loads(fh.readline() or "null")
    except (OSError, EOFError, ValueError) as exc:
        fh.close()
        raise ArchiveError(f"{path}: not a log archive ({exc})") from exc
    if not isinstance(header, dict) or header.get("typ") != ARCHIVE_TYPE:
        fh.close()
        raise ArchiveError(f"{path}: not a log archive (no {ARCHIVE_TYPE} header line)")

    def lines() -> Iterator[dict[str, Any]]:
        number = 1
        with fh:
            try:
                for number, line in enumerate(fh, start=2):  # noqa: B007 — read after the loop
                    item = json.loads(line)
                    if not isinstance(item, dict):
                        raise ValueError("not an object")
                    int(item["index"]), str(item["entry"]), str(item["leaf_hash"])
                    yield item
            except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
                raise ArchiveError(f"{path}, line {number}: unreadable ({exc})") from exc

    return header, lines()


# --- Verification ---------------------------------------------------------------------------


@dataclass
class Problem:
    """One thing wrong with the log. `index` is the first entry concerned (None for a problem
    with a tree head or an archive file), `last_index` the last one for a range."""

    kind: str  # edited | deleted | reordered | node | changed | head | archive
    index: int | None
    detail: str
    last_index: int | None = None

    def __str__(self) -> str:
        if self.index is None:
            return f"{self.kind}: {self.detail}"
        where = f"#{self.index}"
        if self.last_index is not None and self.last_index != self.index:
            where += f"–#{self.last_index}"
        return f"entry {where} {self.kind}: {self.detail}"


@dataclass
class LogVerification:
    tree_size: int = 0
    entries_checked: int = 0
    archived_checked: int = 0
    archived_unchecked: int = 0
    nodes_checked: int = 0
    heads_checked: int = 0
    latest_head_size: int | None = None
    unsigned_entries: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        """The problem at the lowest entry index (problems without one come last)."""
        if not self.problems:
            return None
        return min(self.problems, key=lambda p: (p.index is None, p.index or 0))


class _Verifier:
    def __init__(self, archives: Sequence[Path]) -> None:
        self.result = LogVerification()
        self.archive_stream: Iterator[tuple[int, int, dict[str, Any]]] = iter(())
        self.archive_ranges: list[tuple[int, int, Path]] = []
        self._open_archives(archives)
        self.next_archived: tuple[int, int, dict[str, Any]] | None = None
        self.frontier = merkle.Frontier()
        self.tree_ok = True  # false after a gap: positions no longer mean indexes
        self.precise: list[int] = []  # indexes of the precise problems so far (ascending)
        self.heads: list[tuple[int, bytes, TreeHead]] = []
        self.head_pos = 0
        self.last_good_size = 0
        self.head_mismatch = False
        self.lookups = 0

    # problems
    def add(self, problem: Problem, precise: bool = True) -> None:
        if len(self.result.problems) < MAX_PROBLEMS:
            self.result.problems.append(problem)
        if precise and problem.index is not None:
            bisect.insort(self.precise, problem.index)

    def explained(self, first: int, last: int) -> bool:
        """Whether a precise problem already found lies in [first, last]."""
        at = bisect.bisect_left(self.precise, first)
        return at < len(self.precise) and self.precise[at] <= last

    # archives
    def _open_archives(self, archives: Sequence[Path]) -> None:
        streams: list[Iterator[tuple[int, int, dict[str, Any]]]] = []
        for n, path in enumerate(archives):
            path = Path(path)
            try:
                header, items = read_archive(path)
            except (OSError, ArchiveError) as exc:
                self.add(Problem("archive", None, str(exc)), precise=False)
                continue
            checksum = archive_checksum_path(path)
            if checksum.exists():
                expected = (checksum.read_text().split() or [""])[0]
                if expected != file_sha256(path):
                    self.add(
                        Problem("archive", None, f"{path}: SHA-256 differs from {checksum.name}"),
                        precise=False,
                    )
            if header.get("node") != settings.EXCHANGE_NODE_CODE:
                self.add(
                    Problem(
                        "archive",
                        None,
                        f"{path}: an archive of node {header.get('node')!r}, not of this node",
                    ),
                    precise=False,
                )
                continue
            if isinstance(header.get("first"), int) and isinstance(header.get("last"), int):
                self.archive_ranges.append((header["first"], header["last"], path))
            streams.append((int(item["index"]), n, item) for item in items)
        self.archive_stream = heapq.merge(*streams, key=lambda t: (t[0], t[1]))

    def archived_item(self, index: int) -> dict[str, Any] | None:
        try:
            while self.next_archived is None or self.next_archived[0] < index:
                self.next_archived = next(self.archive_stream)
        except StopIteration:
            self.next_archived = (1 << 62, 0, {})
        except ArchiveError as exc:
            self.add(Problem("archive", None, str(exc)), precise=False)
            self.next_archived = (1 << 62, 0, {})
        if self.next_archived[0] == index:
            return self.next_archived[2]
        return None

    # heads
    def load_heads(self) -> None:
        for head in TreeHead.objects.order_by("tree_size"):
            claims = verify_tree_head(head)
            self.result.heads_checked += 1
            if claims is None:
                self.add(
                    Problem(
                        "head",
                        None,
                        f"the tree head of size {head.tree_size} does not carry this node's "
                        "valid signature over its size, root and time (forged or edited)",
                    ),
                    precise=False,
                )
                continue
            self.heads.append((head.tree_size, bytes(head.root_hash), head))
            self.result.latest_head_size = head.tree_size

    def check_heads(self, size: int) -> None:
        while self.head_pos < len(self.heads) and self.heads[self.head_pos][0] <= size:
            head_size, root_hash, head = self.heads[self.head_pos]
            self.head_pos += 1
            if head_size != size or self.head_mismatch:
                continue
            if self.frontier.root() == root_hash:
                self.last_good_size = size
                continue
            self.head_mismatch = True
            if self.precise:
                continue  # an edit already named explains it
            first, last = self.last_good_size, size - 1
            self.add(
                Problem(
                    "changed",
                    first,
                    f"the log no longer matches the tree head of size {size} signed at "
                    f"{iso(head.timestamp)}, though every stored hash agrees with the entries: "
                    f"an entry between #{first} and #{last} was edited, deleted or reordered "
                    "after it was signed, and the hashes were rewritten to hide it"
                    + (f" (the head of size {first} still matches)" if first else ""),
                    last_index=last,
                ),
            )

    # nodes
    def stored_nodes(self, start: int, end: int) -> dict[merkle.Subtree, bytes]:
        """The stored hashes of the subtrees that leaves [start, end) complete."""
        conditions = []
        level = 0
        while (1 << level) <= end:
            lo = ((start + 1 + (1 << level) - 1) >> level) - 1
            hi = (end >> level) - 1
            if hi >= lo:
                conditions.append(Q(level=level, index__gte=lo, index__lte=hi))
            level += 1
        if not conditions:
            return {}
        return {
            (lv, ix): bytes(h)
            for lv, ix, h in MerkleNode.objects.filter(reduce(or_, conditions)).values_list(
                "level", "index", "hash"
            )
        }

    def check_leaf(self, index: int, stored_leaf: bytes, tree_leaf: bytes, stored: dict) -> None:
        for (level, node), expected in self.frontier.append(tree_leaf):
            self.result.nodes_checked += 1
            have = stored.get((level, node))
            first, last = node << level, ((node + 1) << level) - 1
            if have == expected:
                continue
            if self.explained(first, last):
                continue
            if have is None:
                self.add(
                    Problem(
                        "node",
                        first,
                        f"the tree has no hash at level {level}, #{node} (over entries "
                        f"#{first}–#{last})"
                        if level
                        else "the tree has no leaf hash for it",
                        last_index=last,
                    )
                )
            elif level == 0:
                moved = None
                if self.lookups < MAX_LOOKUPS:  # a scan of the leaves: only for a few
                    self.lookups += 1
                    moved = (
                        MerkleNode.objects.filter(level=0, hash=stored_leaf)
                        .exclude(index=index)
                        .values_list("index", flat=True)
                        .first()
                    )
                if moved is not None:
                    self.add(
                        Problem(
                            "reordered",
                            index,
                            f"this row is the entry that the tree has at #{moved} (rows were "
                            "swapped or moved)",
                        )
                    )
                else:
                    self.add(
                        Problem(
                            "edited",
                            index,
                            "its content and leaf hash were both changed; the tree still has "
                            "the original leaf hash",
                        )
                    )
            else:
                self.add(
                    Problem(
                        "node",
                        first,
                        f"the stored hash at level {level}, #{node} does not match entries "
                        f"#{first}–#{last} (the tree's hashes were changed)",
                        last_index=last,
                    )
                )

    # the pass
    def run(self) -> LogVerification:
        r = self.result
        self.load_heads()
        expected = 0
        after = -1
        while True:
            rows = list(
                LogEntry.objects.filter(index__gt=after)
                .order_by("index")
                .values_list("index", "entry", "leaf_hash", "archived")[:VERIFY_CHUNK]
            )
            if not rows:
                break
            after = rows[-1][0]
            start = expected
            stored = self.stored_nodes(start, start + len(rows)) if self.tree_ok else {}
            for index, entry, leaf_hash, archived in rows:
                stored_leaf = bytes(leaf_hash)
                if index != expected:
                    if index > expected:
                        self.add(
                            Problem(
                                "deleted",
                                expected,
                                f"missing: the indexes jump from #{expected - 1} to #{index}"
                                if expected
                                else f"missing: the log starts at #{index}",
                                last_index=index - 1,
                            )
                        )
                    else:
                        self.add(Problem("edited", index, "an index below 0"))
                    self.tree_ok = False
                    expected = index
                tree_leaf = self.content_hash(index, entry, stored_leaf, archived)
                if self.tree_ok:
                    self.check_leaf(index, stored_leaf, tree_leaf, stored)
                    self.check_heads(index + 1)
                expected += 1
        r.tree_size = expected
        self.finish(expected)
        return r

    def content_hash(self, index: int, entry: str, stored_leaf: bytes, archived: bool) -> bytes:
        r = self.result
        r.entries_checked += 1
        if not archived:
            content = merkle.leaf_hash(entry.encode())
            if content != stored_leaf:
                self.add(Problem("edited", index, "its content no longer matches its leaf hash"))
            return content
        item = self.archived_item(index)
        if item is None:
            for first, last, path in self.archive_ranges:
                if first <= index <= last:
                    self.add(
                        Problem(
                            "deleted",
                            index,
                            f"archived, but missing from {path.name}, which covers it",
                        )
                    )
            r.archived_unchecked += 1
            return stored_leaf
        r.archived_checked += 1
        content = merkle.leaf_hash(str(item["entry"]).encode())
        if content != stored_leaf:
            self.add(Problem("edited", index, "its archived content does not match its leaf hash"))
        elif str(item["leaf_hash"]) != stored_leaf.hex():
            self.add(Problem("archive", None, f"entry #{index}: the archive's leaf hash differs"))
        return content

    def finish(self, size: int) -> None:
        r = self.result
        if self.tree_ok:
            for head_size, _root, _head in self.heads[self.head_pos :]:
                if head_size > size and not self.precise and not self.head_mismatch:
                    self.add(
                        Problem(
                            "deleted",
                            size,
                            f"missing: the signed tree head of size {head_size} includes them",
                            last_index=head_size - 1,
                        )
                    )
                    break
        # Hashes stored beyond the log: what is left of deleted entries at the end.
        conditions = []
        level = 0
        while level < 63 and ((size >> level) or level == 0):
            conditions.append(Q(level=level, index__gte=size >> level))
            level += 1
        conditions.append(Q(level__gte=level))
        for level, index in (
            MerkleNode.objects.filter(reduce(or_, conditions))
            .order_by("level", "index")
            .values_list("level", "index")[:10]
        ):
            first = index << level
            if self.explained(first, ((index + 1) << level) - 1):
                continue
            self.add(
                Problem(
                    "deleted" if level == 0 else "node",
                    first,
                    "missing, but its leaf hash is still in the tree"
                    if level == 0
                    else f"the tree has a hash at level {level}, #{index}, beyond the log's end",
                )
            )
        if r.latest_head_size is not None:
            r.unsigned_entries = max(0, size - r.latest_head_size)
        else:
            r.unsigned_entries = size


def verify_log(*, archives: Sequence[Path | str] = ()) -> LogVerification:
    """Recompute every leaf hash from its entry (or, for archived entries, from the archive
    files given), check that the indexes run from 0 without a gap, every stored subtree hash,
    and every signed tree head (signature, and root recomputed from the entries).

    Streams the log in chunks (constant memory). `.first` names the first entry that was
    edited, deleted or reordered; see docs/exchange-log.md for what each check catches."""
    return _Verifier([Path(p) for p in archives]).run()
