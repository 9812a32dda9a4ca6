"""The inlined encoders (kernel/data: leaf vectors, short lists, map and set leaves, addresses,
blobs and strings, small integers, VLQ counts) against a reference encoder written from the
CAD3 rules here.

The fast paths write children's refs inline (small integers from a table, cached embedded
encodings as they are) and build counts from tables; this reference builds every ref through
its definition (embedded encoding up to 140 bytes, else 0x20 + value ID) and every count bit by
bit. Values are fresh for each check, so the encoders run (nothing comes from a cache), and each
is encoded both by value_id first and by encoding first.
"""
from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings

import kernel
from kernel import Address, Blob, BranchRef, Keyword, List, Map, Set, String, Symbol, Vector
from kernel.data.cell import SMALL_REFS, encode_integer, vlq
from kernel.data.vectors import VectorLeaf, VectorTree
from tests.strategies import values
from test_wire_vectors import vlq as ref_vlq   # the CAD3 rules written out independently

EDGES = [0, 1, 63, 64, 127, 128, 255, 256]
INTS = [-257, -256, -255, -129, -128, -127, -1, 0, 1, 2, 127, 128, 255, 256, 2**31, -2**63]


def ref_encode(v) -> bytes:
    """The encoding by the rules, for the types with a fast path; others as the kernel has it."""
    t = type(v)
    if t is int:
        return encode_integer(v)
    if t is VectorLeaf:
        tail = ref(v.prefix) if v.prefix is not None else b""
        return b"\x80" + ref_vlq(v.count) + b"".join(map(ref, v.items)) + tail
    if t is VectorTree:
        return b"\x80" + ref_vlq(v.count) + b"".join(map(ref, v.kids))
    if t is List:
        return b"\x81" + ref_encode(v.reversed_vector())[1:]
    if t in (Map, Set):
        head = bytes((v.tag,)) + ref_vlq(v.count)
        if v.shift >= 0:
            return (head + bytes((v.shift, v.mask >> 8, v.mask & 0xFF))
                    + b"".join(map(ref, v.nodes)))
        refs = [ref(e[1]) + (ref(e[2]) if t is Map else b"") for e in v.nodes]
        return head + b"".join(refs)
    if t is Address:
        return b"\xea" + ref_vlq(v.n)
    if t in (Blob, String) and len(v) <= 4096:
        return bytes((v.tag,)) + ref_vlq(len(v)) + v.data
    if t in (Keyword, Symbol):
        return bytes((v.tag, len(v._utf8))) + v._utf8
    return kernel.encode(v)


def ref(v) -> bytes:
    if type(v) is BranchRef:
        return b"\x20" + v.hash
    enc = ref_encode(v)
    return enc if len(enc) <= 140 else b"\x20" + hashlib.sha3_256(enc).digest()


def check(make) -> None:
    """make() builds a fresh value; its encoding and ID equal the reference's either way round."""
    want = ref_encode(make())
    a = make()
    assert kernel.value_id(a) == hashlib.sha3_256(want).digest()
    assert kernel.encode(a) == want
    b = make()
    assert kernel.encode(b) == want
    assert kernel.value_id(b) == hashlib.sha3_256(want).digest()
    assert kernel.equals(kernel.decode(want), a)     # CVM equality: a NaN equals itself


# children of every kind a fast path treats differently: small integers (and what merely equals
# one: booleans, doubles), other integers, cells with and without a cached encoding, embedded
# and branch children
def children():
    big = "x" * 200
    return [*INTS, True, False, None, 1.0, 0.0, -0.0, 2.5, Keyword("k"), Symbol("+"),
            String.of("s"), String.of(big), Blob(b"\x01" * 139), Blob(b"\x01" * 141),
            Vector.of(1, 2), Vector.of(*range(40)), List.of(String.of(big)), Address(300)]


@pytest.mark.parametrize("x", range(len(children())))
def test_each_kind_of_child_in_each_collection(x):
    check(lambda: Vector.of(children()[x]))
    check(lambda: Vector.of(1, children()[x], Keyword("a")))
    check(lambda: List.of(children()[x], 2))
    check(lambda: Set.from_seq([children()[x], 7]))
    check(lambda: Map.from_pairs([(children()[x], children()[x]), (Keyword("b"), 2)]))
    check(lambda: Map.from_pairs([(1, children()[x])]))


@pytest.mark.parametrize("n", EDGES + [15, 16, 17, 31, 33, 4097])
def test_edge_sizes(n):
    items = [INTS[i % len(INTS)] for i in range(n)]
    check(lambda: Vector.of(*items))
    check(lambda: List.of(*items))
    check(lambda: Vector.of(*[String.of("y" * (i % 150)) for i in range(n)]))
    check(lambda: Set.from_seq(range(-n // 2, n - n // 2)))
    check(lambda: Map.from_pairs((i, -i) for i in range(n)))
    check(lambda: Map.from_pairs((Keyword(f"k{i}"), String.of("v" * (i % 150))) for i in range(n)))
    check(lambda: Blob(bytes(range(256)) * (n // 256) + bytes(n % 256)))
    check(lambda: String(b"z" * n))


def test_nested_cells_become_refs():
    """Children over 140 bytes are branch refs, at each level of a fresh tree."""
    def deep(level):
        v = Vector.of(*range(60))
        for i in range(level):
            v = Vector.of(v, List.of(v, i), Map.from_pairs([(Keyword("x"), v)]), Set.from_seq([v]))
        return v
    for level in range(4):
        check(lambda: deep(level))


@pytest.mark.parametrize("n", [126, 127, 128, 129, 4095, 4096, 4097, 16383, 16384, 65536,
                               65537, 2**20 + 1])
def test_blob_and_string_sizes(n):
    """Blob and String each write up to 127 bytes from their own table, longer ones (a longer
    count, a chunk tree above 4096 bytes) in the shared method: both sides of each edge."""
    data = bytes(i * 7 % 256 for i in range(n))
    check(lambda: Blob(data))
    check(lambda: String(data))
    check(lambda: String.of("\u00e9" * (n // 2)))
    check(lambda: Vector.of(Blob(data), String(data)))      # embedded or a branch ref


def test_scalar_caches_are_slots():
    """Addresses, keywords and symbols keep their cache in a slot that starts empty and is
    filled by value_id like any cell's, whichever of value_id, encoding and memory_size is first."""
    for make in (lambda: Address(1234), lambda: Address(5), lambda: Address(2**40)):
        a, b = make(), make()
        assert a._cache is None and "_cache" not in getattr(a, "__dict__", {})
        vid = kernel.value_id(a)
        assert a._cache == (ref_encode(a), vid, None) == (kernel.encode(b), vid, None)
        assert kernel.memory_size(b) == 0 and kernel.value_id(b) == vid
    k = Keyword("a-keyword-made-only-here")
    assert k._cache is None
    assert kernel.value_id(k) == hashlib.sha3_256(ref_encode(k)).digest() == k._cache[1]
    assert Symbol("a-symbol-made-only-here")._cache is None


@pytest.mark.parametrize("n", [0, 1, 63, 64, 127, 128, 255, 256, 16383, 16384, 2**21 - 1, 2**21,
                               2**63 - 1])
def test_addresses_and_counts(n):
    assert vlq(n) == ref_vlq(n)
    check(lambda: Address(n))


def test_small_integer_table():
    for i in range(-128, 128):
        assert SMALL_REFS[i] == encode_integer(i) == kernel.encode(i)
    for i in INTS:
        assert kernel.encode(i) == encode_integer(i)


def test_cache_is_filled_in_any_order():
    """value_id, encoding and memory_size each fill their part of the cache, whichever is first."""
    def make():
        return Vector.of(String.of("q" * 150), 1)
    a, b, c = make(), make(), make()
    vid = kernel.value_id(a)
    assert a._cache == (kernel.encode(a), vid, None)
    size = kernel.memory_size(a)
    assert a._cache == (kernel.encode(a), vid, size)
    assert kernel.encode(b) == kernel.encode(a) and b._cache[1] is None
    assert kernel.value_id(b) == vid and kernel.memory_size(b) == size
    assert kernel.memory_size(c) == size and kernel.value_id(c) == vid


@settings(max_examples=150, deadline=None)
@given(values(max_leaves=12))
def test_generated_values(v):
    """Any value, rebuilt without caches (all its cells, decoded from a message)."""
    msg = kernel.encode_multi(v)
    check(lambda: kernel.decode_multi(msg))


@settings(max_examples=100, deadline=None)
@given(values(max_leaves=12))
def test_generated_top_cells(v):
    """A top cell decoded alone: its branches are BranchRefs, written as refs by hash."""
    enc = kernel.encode(v)
    check(lambda: kernel.decode(enc))
