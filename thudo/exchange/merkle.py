"""Merkle tree hashing, proofs and proof verification of RFC 6962 / RFC 9162 (Certificate
Transparency v2), with SHA-256. Pure functions: no database, no Django.

- leaf hash  = SHA-256(0x00 || data), interior node = SHA-256(0x01 || left || right);
- the tree of n leaves splits at k, the largest power of two smaller than n (RFC 9162 §2.1.1);
- an inclusion proof (audit path) and a consistency proof are lists of subtree hashes
  (§2.1.3.1, §2.1.4.1), verified with the algorithms of §2.1.3.2 and §2.1.4.2.

Proofs are generated from *complete subtrees*: `(level, index)` stands for the leaves
[index·2^level, (index+1)·2^level). Every hash a proof or a root needs is a fold of at most
log2(n) such subtrees, so a store that keeps the hash of each complete subtree (the log's
MerkleNode table) answers any proof with O(log n) look-ups. `inclusion_nodes()`,
`consistency_nodes()` and `root_nodes()` say which subtrees a computation will read, so a
caller can fetch them in one query and pass a dict's `__getitem__` as the accessor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

Subtree = tuple[int, int]  # (level, index): leaves [index << level, (index + 1) << level)
Accessor = Callable[[Subtree], bytes]


class ProofError(ValueError):
    """A proof was asked for indexes or sizes that do not make sense."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- Which complete subtrees a range, a proof or a root is made of ---------------------------


def range_subtrees(start: int, end: int) -> list[Subtree]:
    """The complete subtrees whose right fold is MTH(D[start:end]), left to right.

    Valid for the ranges RFC 9162's recursion produces: `start` is a multiple of the largest
    power of two not smaller than the range (every range starting at 0 is)."""
    if end <= start:
        raise ProofError(f"empty range [{start}, {end})")
    out: list[Subtree] = []
    pos = start
    remaining = end - start
    while remaining:
        level = remaining.bit_length() - 1
        size = 1 << level
        if pos % size:
            raise ProofError(f"range [{start}, {end}) is not aligned")
        out.append((level, pos >> level))
        pos += size
        remaining -= size
    return out


def fold(hashes: Sequence[bytes]) -> bytes:
    """node(h0, node(h1, … node(h_{n-2}, h_{n-1}))): the root over a range's subtrees."""
    if not hashes:
        return EMPTY_ROOT
    result = hashes[-1]
    for h in reversed(hashes[:-1]):
        result = node_hash(h, result)
    return result


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The ranges whose MTH make up PATH(index, D[0:size]), leaf level first (§2.1.3.1)."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = _split(end - start)
        if index - start < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def _consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The ranges whose MTH make up PROOF(first, D[0:second]) (§2.1.4.1), in proof order."""
    ranges: list[tuple[int, int]] = []
    start, end, m, whole = 0, second, first, True
    while True:
        n = end - start
        if m == n:
            if not whole:
                ranges.append((start, end))
            break
        k = _split(n)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            whole = False
    ranges.reverse()
    return ranges


def _check_inclusion(index: int, size: int) -> None:
    if size < 1 or not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of {size} leaves")


def _check_consistency(first: int, second: int) -> None:
    if not 0 <= first <= second:
        raise ProofError(f"no consistency proof from size {first} to size {second}")


def root_nodes(size: int) -> list[Subtree]:
    return range_subtrees(0, size) if size else []


def inclusion_nodes(index: int, size: int) -> list[Subtree]:
    _check_inclusion(index, size)
    return [s for a, b in _inclusion_ranges(index, size) for s in range_subtrees(a, b)]


def consistency_nodes(first: int, second: int) -> list[Subtree]:
    _check_consistency(first, second)
    if first in (0, second):
        return []
    return [s for a, b in _consistency_ranges(first, second) for s in range_subtrees(a, b)]


# --- Roots and proofs from an accessor of complete subtrees ----------------------------------


def root(size: int, get: Accessor) -> bytes:
    """MTH(D[0:size]) (the empty tree's is SHA-256 of nothing)."""
    return fold([get(s) for s in root_nodes(size)])


def inclusion_proof(index: int, size: int, get: Accessor) -> list[bytes]:
    """PATH(index, D[0:size]): the audit path, leaf level first."""
    _check_inclusion(index, size)
    return [fold([get(s) for s in range_subtrees(a, b)]) for a, b in _inclusion_ranges(index, size)]


def consistency_proof(first: int, second: int, get: Accessor) -> list[bytes]:
    """PROOF(first, D[0:second]); empty when first is 0 or equals second."""
    _check_consistency(first, second)
    if first in (0, second):
        return []
    return [
        fold([get(s) for s in range_subtrees(a, b)]) for a, b in _consistency_ranges(first, second)
    ]


# --- Verification (RFC 9162 §2.1.3.2 and §2.1.4.2, step by step) ----------------------------


def root_from_inclusion_proof(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes | None:
    """The root that `proof` leads to from `leaf` at `index` in a tree of `size`, or None when
    the proof has the wrong shape (§2.1.3.2 steps 1–5, without the final comparison)."""
    if index >= size or index < 0:  # step 1
        return None
    fn, sn = index, size - 1  # step 2
    r = leaf  # step 3
    for p in proof:  # step 4
        if sn == 0:  # 4a
            return None
        if fn & 1 or fn == sn:  # 4b
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1  # 4c
        sn >>= 1
    if sn != 0:  # step 5
        return None
    return r


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root_hash: bytes
) -> bool:
    """Whether `proof` proves that the leaf hash `leaf` is at `index` in the tree of `size`
    whose root is `root_hash` (RFC 9162 §2.1.3.2)."""
    computed = root_from_inclusion_proof(index, size, leaf, proof)
    return computed is not None and computed == root_hash


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether `proof` proves that the tree of `second` leaves with root `second_root` extends
    the tree of `first` leaves with root `first_root` (RFC 9162 §2.1.4.2). A tree is
    consistent with itself (empty proof, equal roots) and every tree extends the empty one."""
    if first < 0 or second < first:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof
    path = list(proof)
    if not path:  # step 1
        return False
    if first & (first - 1) == 0:  # step 2: first is an exact power of 2
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0  # step 7


# --- An in-memory tree (tests, verification, the benchmark's generator) ----------------------


class MemoryTree:
    """The leaf hashes of a log in a list, with every complete subtree's hash kept as it
    fills; the same accessor interface as the database log."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self.levels: list[list[bytes]] = [[]]
        for leaf in leaves:
            self.append(leaf)

    def __len__(self) -> int:
        return len(self.levels[0])

    def append(self, leaf: bytes) -> list[tuple[Subtree, bytes]]:
        """Add a leaf hash; returns the complete subtrees it completes, the leaf first."""
        index = len(self.levels[0])
        self.levels[0].append(leaf)
        done: list[tuple[Subtree, bytes]] = [((0, index), leaf)]
        level, h = 0, leaf
        while index & 1:
            h = node_hash(self.levels[level][index - 1], h)
            level += 1
            index >>= 1
            if len(self.levels) == level:
                self.levels.append([])
            self.levels[level].append(h)
            done.append(((level, index), h))
        return done

    def get(self, subtree: Subtree) -> bytes:
        level, index = subtree
        return self.levels[level][index]

    def root(self, size: int | None = None) -> bytes:
        return root(len(self) if size is None else size, self.get)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        return inclusion_proof(index, len(self) if size is None else size, self.get)

    def consistency_proof(self, first: int, second: int | None = None) -> list[bytes]:
        return consistency_proof(first, len(self) if second is None else second, self.get)


def completed_by(index: int) -> list[Subtree]:
    """The complete subtrees that leaf `index` completes when appended, the leaf first."""
    out = [(0, index)]
    level = 0
    while index & 1:
        level += 1
        index >>= 1
        out.append((level, index))
    return out


def subtree_count(size: int) -> int:
    """How many complete subtrees (all levels, leaves included) a tree of `size` leaves has."""
    total = 0
    while size:
        total += size
        size >>= 1
    return total


class Frontier:
    """The right edge of a growing tree: the hashes of its maximal complete subtrees (at most
    log2(n) of them). Streams a log of any length in constant memory."""

    def __init__(self) -> None:
        self.size = 0
        self.stack: list[tuple[int, bytes]] = []  # (level, hash), largest first

    def append(self, leaf: bytes) -> list[tuple[Subtree, bytes]]:
        index = self.size
        self.size += 1
        done: list[tuple[Subtree, bytes]] = [((0, index), leaf)]
        level, h = 0, leaf
        while index & 1:
            _, left = self.stack.pop()
            h = node_hash(left, h)
            level += 1
            index >>= 1
            done.append(((level, index), h))
        self.stack.append((level, h))
        return done

    def root(self) -> bytes:
        return fold([h for _, h in self.stack])
