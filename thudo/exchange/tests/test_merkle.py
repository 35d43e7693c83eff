"""RFC 6962 / 9162 Merkle hashing and proofs: the published Certificate Transparency vectors,
and a naive implementation of the RFC's recursive definitions for every index and every pair
of sizes up to 200 (plus random larger trees with hypothesis)."""

from __future__ import annotations

import hashlib
from functools import cache

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from thudo.exchange import merkle

# The leaves, roots and proofs of RFC 6962's reference tests (certificate-transparency,
# transparency-dev/merkle testonly/constants.go).
LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",  # the empty tree
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]
CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def hexes(hashes: list[bytes]) -> list[str]:
    return [h.hex() for h in hashes]


def vector_tree() -> merkle.MemoryTree:
    return merkle.MemoryTree(merkle.leaf_hash(d) for d in LEAVES)


# --- A naive implementation, straight from RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1 --------------


class Naive:
    def __init__(self, leaves: list[bytes]) -> None:
        self.leaves = leaves

    @cache  # noqa: B019 — one small object per test
    def mth(self, start: int, end: int) -> bytes:
        n = end - start
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return self.leaves[start]
        k = 1
        while k * 2 < n:
            k *= 2
        return hashlib.sha256(
            b"\x01" + self.mth(start, start + k) + self.mth(start + k, end)
        ).digest()

    def path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = 1
        while k * 2 < n:
            k *= 2
        if m < k:
            return [*self.path(m, start, start + k), self.mth(start + k, end)]
        return [*self.path(m - k, start + k, end), self.mth(start, start + k)]

    def subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self.mth(start, end)]
        k = 1
        while k * 2 < n:
            k *= 2
        if m <= k:
            return [*self.subproof(m, start, start + k, whole), self.mth(start + k, end)]
        return [*self.subproof(m - k, start + k, end, False), self.mth(start, start + k)]


def numbered_leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


# --- Known vectors ----------------------------------------------------------------------------


def test_hashes_are_domain_separated() -> None:
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert merkle.leaf_hash(b"\x01ab") != merkle.node_hash(b"a", b"b")


def test_roots_match_the_published_vectors() -> None:
    tree = vector_tree()
    assert merkle.root(0, tree.get).hex() == ROOTS[0] == merkle.EMPTY_ROOT.hex()
    for size in range(1, 9):
        assert tree.root(size).hex() == ROOTS[size], size


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_the_published_vectors(
    index: int, size: int, path: list[str]
) -> None:
    tree = vector_tree()
    proof = tree.inclusion_proof(index, size)
    assert hexes(proof) == path
    leaf = merkle.leaf_hash(LEAVES[index])
    assert merkle.verify_inclusion(leaf, index, size, proof, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("first", "second", "proof"), CONSISTENCY)
def test_consistency_proofs_match_the_published_vectors(
    first: int, second: int, proof: list[str]
) -> None:
    tree = vector_tree()
    got = tree.consistency_proof(first, second)
    assert hexes(got) == proof
    assert merkle.verify_consistency(
        first, second, bytes.fromhex(ROOTS[first]), bytes.fromhex(ROOTS[second]), got
    )


# --- Against the naive definitions: every index, every pair of sizes 1..200 -------------------

MAX = 200


def test_every_root_and_inclusion_proof_up_to_200_leaves() -> None:
    leaves = numbered_leaves(MAX)
    tree = merkle.MemoryTree(leaves)
    naive = Naive(leaves)
    for size in range(1, MAX + 1):
        root = tree.root(size)
        assert root == naive.mth(0, size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            assert proof == naive.path(index, 0, size), (index, size)
            assert merkle.verify_inclusion(leaves[index], index, size, proof, root)


def test_every_consistency_proof_up_to_200_leaves() -> None:
    leaves = numbered_leaves(MAX)
    tree = merkle.MemoryTree(leaves)
    naive = Naive(leaves)
    roots = [naive.mth(0, n) for n in range(MAX + 1)]
    for second in range(1, MAX + 1):
        for first in range(1, second + 1):
            proof = tree.consistency_proof(first, second)
            assert proof == naive.subproof(first, 0, second, True), (first, second)
            assert merkle.verify_consistency(first, second, roots[first], roots[second], proof)


def test_tampered_inclusion_proofs_fail() -> None:
    leaves = numbered_leaves(40)
    tree = merkle.MemoryTree(leaves)
    for size in (2, 3, 7, 8, 13, 40):
        root = tree.root(size)
        for index in range(size):
            proof = tree.inclusion_proof(index, size)
            leaf = leaves[index]
            for j in range(len(proof)):
                bad = list(proof)
                bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
                assert not merkle.verify_inclusion(leaf, index, size, bad, root)
            assert not merkle.verify_inclusion(leaves[(index + 1) % size], index, size, proof, root)
            for other in (index - 1, index + 1):
                if 0 <= other < size and proof:
                    assert not merkle.verify_inclusion(leaf, other, size, proof, root)
            if proof:
                assert not merkle.verify_inclusion(leaf, index, size, proof[:-1], root)
            assert not merkle.verify_inclusion(leaf, index, size, [*proof, root], root)
            assert not merkle.verify_inclusion(leaf, index, 2 * size, proof, root)
            assert not merkle.verify_inclusion(leaf, size, size, proof, root)


def test_tampered_consistency_proofs_fail() -> None:
    tree = merkle.MemoryTree(numbered_leaves(40))
    for second in (2, 5, 8, 9, 31, 40):
        for first in range(1, second):
            r1, r2 = tree.root(first), tree.root(second)
            proof = tree.consistency_proof(first, second)
            assert merkle.verify_consistency(first, second, r1, r2, proof)
            assert not merkle.verify_consistency(first, second, r2, r2, proof)
            assert not merkle.verify_consistency(first, second, r1, r1, proof)
            assert not merkle.verify_consistency(first, second, r1, r2, [])
            assert not merkle.verify_consistency(first, second, r1, r2, proof[:-1])
            assert not merkle.verify_consistency(first, second, r1, r2, [*proof, r1])
            assert not merkle.verify_consistency(first, 2 * second, r1, r2, proof)
            for j in range(len(proof)):
                bad = list(proof)
                bad[j] = bytes([bad[j][0] ^ 1]) + bad[j][1:]
                assert not merkle.verify_consistency(first, second, r1, r2, bad)


def test_edge_cases() -> None:
    tree = merkle.MemoryTree(numbered_leaves(5))
    root = tree.root()
    # Every tree extends the empty one; a tree is consistent with itself only.
    assert tree.consistency_proof(0, 5) == []
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, root, [])
    assert merkle.verify_consistency(5, 5, root, root, [])
    assert not merkle.verify_consistency(5, 5, root, tree.root(4), [])
    assert not merkle.verify_consistency(5, 5, root, root, [root])
    assert not merkle.verify_consistency(3, 2, root, root, [])
    with pytest.raises(merkle.ProofError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(merkle.ProofError):
        tree.inclusion_proof(-1, 5)
    with pytest.raises(merkle.ProofError):
        tree.consistency_proof(4, 3)
    with pytest.raises(merkle.ProofError):
        merkle.range_subtrees(1, 4)  # not a range the RFC's recursion makes


def test_subtree_bookkeeping() -> None:
    assert merkle.completed_by(0) == [(0, 0)]
    assert merkle.completed_by(7) == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert merkle.subtree_count(8) == 15 and merkle.subtree_count(5) == 8
    assert merkle.root_nodes(13) == [(3, 0), (2, 2), (0, 12)]
    tree = merkle.MemoryTree()
    frontier = merkle.Frontier()
    count = 0
    for i, leaf in enumerate(numbered_leaves(77)):
        done = tree.append(leaf)
        assert frontier.append(leaf) == done
        assert [s for s, _ in done] == merkle.completed_by(i)
        count += len(done)
        assert frontier.root() == tree.root()
    assert count == merkle.subtree_count(77)
    # A proof reads O(log n) subtrees, whatever the size.
    for size in (1000, 2**20 + 1, 10_000_000, 2**40 - 1):
        for index in (0, size // 3, size - 1):
            assert len(merkle.inclusion_nodes(index, size)) <= 2 * size.bit_length()
        assert len(merkle.consistency_nodes(size // 2 + 1, size)) <= 2 * size.bit_length()


# --- Random larger trees ----------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(data=st.data(), size=st.integers(min_value=1, max_value=3000))
def test_random_proofs_in_larger_trees(data: st.DataObject, size: int) -> None:
    leaves = numbered_leaves(size)
    tree = merkle.MemoryTree(leaves)
    naive = Naive(leaves)
    root = tree.root()
    assert root == naive.mth(0, size)
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    proof = tree.inclusion_proof(index)
    assert proof == naive.path(index, 0, size)
    assert merkle.verify_inclusion(leaves[index], index, size, proof, root)
    first = data.draw(st.integers(min_value=1, max_value=size))
    cproof = tree.consistency_proof(first)
    assert cproof == naive.subproof(first, 0, size, True)
    assert merkle.verify_consistency(first, size, tree.root(first), root, cproof)
