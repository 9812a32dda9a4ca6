"""Vectors and lists: canonical tree shapes, encodings, persistence and partial decoding."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel import (NAN, Address, Blob, BranchRef, Char, DecodeError, Keyword, List, MissingData,
                    String, Symbol, Vector, decode, decode_multi, encode, encode_multi, equals,
                    memory_size, value_id)
from kernel.data.cell import MAX_EMBEDDED, all_cells, is_branch
from kernel.data.vectors import VectorLeaf, VectorTree

ROWS = [json.loads(line) for line in
        Path("/work/shared/conformance/encoding-more.jsonl").read_text().splitlines() if line]


def rows(*types: str) -> list:
    return [r for r in ROWS if r["type"] in types]


def read_simple(src: str):
    """Tiny reader for the conformance sources made of integers, nil, symbols, [..] and (..)."""
    tokens = re.findall(r"[\[\]()]|[^\s\[\]()]+", src)
    pos = 0

    def form():
        nonlocal pos
        t = tokens[pos]
        pos += 1
        if t in "[(":
            out = []
            while tokens[pos] not in "])":
                out.append(form())
            pos += 1
            return Vector.from_seq(out) if t == "[" else List.from_seq(out)
        if t == "nil":
            return None
        if re.fullmatch(r"-?\d+", t):
            return int(t)
        return Symbol(t)

    v = form()
    assert pos == len(tokens)
    return v


def _set_vector():
    from kernel import Set

    return Vector.of(101, String.of("Hello"), Set.EMPTY)


SPECIAL = {
    '[101 "Hello" #{}]': _set_vector,
    '[:a "b" \\c 0x0d #14 1.0 true nil]': lambda: Vector.of(
        Keyword("a"), String.of("b"), Char(ord("c")), Blob(b"\x0d"), Address(14), 1.0, True,
        None),
}


@pytest.mark.parametrize("row", rows("vector", "list"), ids=lambda r: r["source"][:40])
def test_conformance(row):
    src = row["source"]
    v = SPECIAL[src]() if src in SPECIAL else read_simple(src)
    assert encode(v).hex() == row["encoding"]
    d = decode(bytes.fromhex(row["encoding"]))
    assert encode(d).hex() == row["encoding"]
    assert d == v and v == d and hash(d) == hash(v)


def test_conformance_hashes():
    for r in rows("vector", "list"):
        if "hash" in r:
            assert value_id(decode(bytes.fromhex(r["encoding"]))).hex() == r["hash"]


def test_int_vector_300_shape():
    v = Vector.from_seq(range(300))
    assert type(v) is VectorLeaf and len(v.items) == 12
    prefix = v.prefix
    assert type(prefix) is VectorTree and prefix.count == 288 and prefix.shift == 8
    assert [k.count for k in prefix.kids] == [256, 32]
    assert len(encode(prefix)) == 138 and is_branch(prefix.kids[0])


# --- shapes -------------------------------------------------------------------------------

def check_shape(v) -> None:
    """Every node has exactly the canonical shape for its count."""
    n = v.count
    if type(v) is VectorLeaf:
        assert n <= 16 or n % 16
        assert len(v.items) == (n if n <= 16 else n % 16)
        if n > 16:
            assert v.prefix.count == n - n % 16
            check_shape(v.prefix)
        else:
            assert v.prefix is None
    else:
        assert type(v) is VectorTree and n > 16 and n % 16 == 0
        s = v.shift
        assert s % 4 == 0 and 2 ** (s + 4) >= n and (s == 4 or 2 ** s < n)
        sizes = [k.count for k in v.kids]
        assert all(c == 2 ** s for c in sizes[:-1]) and sum(sizes) == n
        for k in v.kids:
            check_shape(k)


@pytest.mark.parametrize("n", [0, 1, 15, 16, 17, 31, 32, 33, 48, 255, 256, 257, 271, 272,
                               4095, 4096, 4097, 4112, 65536, 65537])
def test_construction_paths_agree(n):
    a = Vector.from_seq(range(n))
    b = Vector.EMPTY
    for i in range(n):
        b = b.conj(i)
    c = Vector.EMPTY
    for i in range(n):
        c = c.assoc(i, i)
    for v in (a, b, c):
        check_shape(v)
        assert list(v) == list(range(n)) and len(v) == n
    assert encode(a) == encode(b) == encode(c)
    assert a == b == c and hash(a) == hash(b) == hash(c)


def test_empty_and_small():
    assert Vector.of() is Vector.EMPTY and len(Vector.EMPTY) == 0
    assert encode(Vector.EMPTY).hex() == "8000"
    assert encode(List.EMPTY).hex() == "8100"
    v = Vector.of(1, 2, 3)
    assert v.to_tuple() == (1, 2, 3) and v[0] == 1 and v[2] == 3
    for bad in (-1, 3, 100):
        with pytest.raises(IndexError):
            v[bad]
    with pytest.raises(IndexError):
        v.assoc(4, 0)
    with pytest.raises(IndexError):
        v.assoc(-1, 0)
    assert v.assoc(3, 4) == Vector.of(1, 2, 3, 4)


# --- equality -----------------------------------------------------------------------------

def test_convex_equality_of_elements():
    assert Vector.of(1) != Vector.of(True)
    assert Vector.of(1) != Vector.of(1.0)
    assert Vector.of(0.0) != Vector.of(-0.0)
    assert Vector.of(NAN) == Vector.of(NAN)
    assert Vector.of(1, 2) != List.of(1, 2)
    assert List.of(1, 2) != Vector.of(1, 2)
    assert Vector.of(1, 2) != Vector.of(1, 2, 3)
    assert Vector.of(Vector.of(1)) == Vector.of(Vector.of(1))
    assert len({Vector.of(1, 2), Vector.from_seq([1, 2]), Vector.EMPTY.conj(1).conj(2)}) == 1
    assert equals(Vector.of(1), Vector.of(1)) and not equals(Vector.of(1), Vector.of(2))


def test_equality_against_branch_ref():
    v = Vector.from_seq(range(100))
    assert v == BranchRef(v.value_id()) and BranchRef(v.value_id()) == v
    lst = List.from_seq(range(100))
    assert lst == BranchRef(lst.value_id())


# --- lists --------------------------------------------------------------------------------

def test_list_basics():
    lst = List.of(1, 2, 3)
    assert encode(lst).hex() == "8103110311021101"
    assert list(lst) == [1, 2, 3] and lst[0] == 1 and lst[2] == 3 and len(lst) == 3
    assert lst.cons(0).to_tuple() == (0, 1, 2, 3)
    assert lst.conj(0) == List.of(0, 1, 2, 3)
    assert lst.assoc(0, 9) == List.of(9, 2, 3)
    with pytest.raises(IndexError):
        lst.assoc(3, 9)
    with pytest.raises(IndexError):
        lst[3]
    assert lst.slice(1, 3) == List.of(2, 3) and lst.slice(0) is lst
    assert lst.concat([4, 5]) == List.of(1, 2, 3, 4, 5)
    assert lst.reversed_vector() == Vector.of(3, 2, 1)
    assert List.from_reversed(Vector.of(3, 2, 1)) == lst
    assert List.from_seq(Vector.of(1, 2, 3)) == lst


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(), max_size=600), st.data())
def test_list_model(items, data):
    lst = List.from_seq(items)
    built = List.EMPTY
    for x in reversed(items):
        built = built.cons(x)
    assert encode(built) == encode(lst) and built == lst
    assert list(lst) == items and [lst[i] for i in range(len(items))] == items
    assert encode(lst)[1:] == encode(Vector.from_seq(items[::-1]))[1:]
    start = data.draw(st.integers(0, len(items)))
    end = data.draw(st.integers(start, len(items)))
    assert list(lst.slice(start, end)) == items[start:end]
    more = data.draw(st.lists(st.integers(), max_size=40))
    assert list(lst.concat(more)) == items + more
    if items:
        i = data.draw(st.integers(0, len(items) - 1))
        model = list(items)
        model[i] = String.of("x")
        assert list(lst.assoc(i, String.of("x"))) == model


# --- properties ---------------------------------------------------------------------------

elements = st.one_of(
    st.integers(min_value=-2**80, max_value=2**80), st.none(), st.booleans(), st.floats(),
    st.text(max_size=200).map(String.of), st.sampled_from([Keyword("k"), Symbol("s")]))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 5000), st.data())
def test_build_paths_random(n, data):
    items = [i * 7 - 3 for i in range(n)]
    a = Vector.from_seq(items)
    b = Vector.EMPTY
    for x in items:
        b = b.conj(x)
    # start from zeros and assoc every element in a random order
    c = Vector.from_seq([0] * n)
    for i in data.draw(st.permutations(range(n))):
        c = c.assoc(i, items[i])
    assert value_id(a) == value_id(b) == value_id(c)
    assert a == b == c
    check_shape(c)
    assert list(c) == items


@settings(max_examples=40, deadline=None)
@given(st.lists(elements, max_size=300))
def test_roundtrip_mixed_elements(items):
    v = Vector.from_seq(items)
    d = decode(encode(v))
    assert d == v and encode(d) == encode(v)
    full = decode_multi(encode_multi(v))
    assert full == v and [equals(x, y) for x, y in zip(full, items)] == [True] * len(items)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 5000))
def test_decode_partial_and_multi(n):
    v = Vector.from_seq(range(n))
    d = decode(encode(v))
    assert d == v and len(d) == n and hash(d) == hash(v)
    for dk, vk in zip(d.children(), v.children()):
        assert type(dk) is BranchRef if is_branch(vk) else equals(dk, vk)
    full = decode_multi(encode_multi(v))
    assert full == v and list(full) == list(range(n))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 5000))
def test_memory_size(n):
    v = Vector.from_seq(range(n))
    expected = sum(len(encode(c)) + 64 for c in all_cells(v) if is_branch(c))
    assert memory_size(v) == expected
    if any(is_branch(k) for k in v.children()):
        assert memory_size(v) > 0
    w = Vector.EMPTY.concat(range(n))
    assert memory_size(w) == memory_size(v)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 700), st.integers(0, 300), st.data())
def test_slice_and_concat(n, m, data):
    items = list(range(n))
    more = list(range(1000, 1000 + m))
    v = Vector.from_seq(items)
    start = data.draw(st.integers(0, n))
    end = data.draw(st.integers(start, n))
    s = v.slice(start, end)
    check_shape(s)
    assert list(s) == items[start:end]
    c = v.concat(more)
    check_shape(c)
    assert list(c) == items + more
    assert c == Vector.from_seq(items + more)
    assert v.concat(Vector.from_seq(more)) == c and v.concat(List.from_seq(more)) == c


def test_slice_bounds():
    v = Vector.of(1, 2, 3)
    assert v.slice(0) is v and v.slice(1).to_tuple() == (2, 3) and v.slice(2, 2) is Vector.EMPTY
    for a, b in ((-1, 2), (2, 1), (0, 4)):
        with pytest.raises(IndexError):
            v.slice(a, b)


def test_structural_sharing():
    v = Vector.from_seq(range(4096 + 5))
    w = v.assoc(4100, "x")
    assert w.prefix is v.prefix  # untouched prefix shared
    u = v.assoc(0, -1)
    assert u.items is v.items
    assert u.prefix.kids[1:] == v.prefix.kids[1:]
    assert all(a is b for a, b in zip(u.prefix.kids[1:], v.prefix.kids[1:]))
    assert v.assoc(3, 3) is v  # identical element: no copy
    assert v.conj(1).prefix is v.prefix


def test_persistence():
    v = Vector.from_seq(range(100))
    w = v.assoc(50, -1).conj(7)
    assert v[50] == 50 and len(v) == 100 and w[50] == -1 and len(w) == 101


# --- partial nodes ------------------------------------------------------------------------

def test_partial_vector_operations():
    enc = encode(Vector.from_seq(range(300)))
    d = decode(enc)
    assert len(d) == 300 and d[299] == 299 and d[260] == 260
    with pytest.raises(MissingData):
        d[0]
    with pytest.raises(MissingData):
        list(d)
    with pytest.raises(MissingData):
        d.assoc(5, 0)
    assert d.assoc(299, 0)[299] == 0
    e = d.conj(300)
    assert len(e) == 301 and e[300] == 300
    assert encode(e) == encode(Vector.from_seq(range(301)))


def test_partial_list_operations():
    lst = List.from_seq(range(1000))
    d = decode(encode(lst))
    assert d == lst and len(d) == 1000 and encode(d) == encode(lst)
    assert d.cons(-1) == lst.cons(-1)
    with pytest.raises(MissingData):
        d[999]


# --- malformed input ----------------------------------------------------------------------

LEAF16 = "8010" + "".join(f"11{i:02x}" for i in range(16))


@pytest.mark.parametrize("hexdata", [
    "8002" "1101",                       # too few elements
    "8001" "1101" "1102",                # trailing element
    "8011" "1101" "1101",                # prefix is not a vector
    "8011" "1101" "80011101",            # prefix of the wrong count
    "8011" "1101" "8110" + LEAF16[4:],   # prefix is a list
    "8020" + LEAF16 + "80011101",        # tree child of the wrong count
    "8020" + LEAF16 + "1101",            # tree child not a vector
    "81021101",                          # list with too few elements
    "800180",                            # truncated nested vector
])
def test_rejects_malformed(hexdata):
    with pytest.raises(DecodeError):
        decode(bytes.fromhex(hexdata))


def test_rejects_embedded_oversized_child():
    big = String.of("x" * 200)
    enc = bytes.fromhex("8001") + encode(big)
    with pytest.raises(DecodeError):
        decode(enc)
    assert len(encode(Vector.of(big))) == 2 + 33


# --- performance --------------------------------------------------------------------------

def test_large_vector_is_fast():
    t = time.perf_counter()
    v = Vector.EMPTY
    for i in range(100_000):
        v = v.conj(i)
    assert time.perf_counter() - t < 1.0
    t = time.perf_counter()
    w = Vector.from_seq(range(100_000))
    assert v == w and value_id(v) == value_id(w)
    assert sum(v[i] for i in range(0, 100_000, 7)) == sum(range(0, 100_000, 7))
    assert time.perf_counter() - t < 1.0


def test_top_cell_embedding_boundary():
    # 16 strings of 5 chars: 16 * 7 + 2 = 114 bytes, embedded in a parent
    v = Vector.from_seq(String.of(f"s{i:04d}") for i in range(16))
    assert len(encode(v)) <= MAX_EMBEDDED and not is_branch(v)
