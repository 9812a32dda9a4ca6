"""Hash maps and sets: canonical trie shapes, encodings, persistence and partial decoding."""
from __future__ import annotations

import json
import random
import re
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel import (NAN, Blob, BranchRef, DecodeError, Index, Keyword, Map, MissingData, Set,
                    String, Symbol, Vector, decode, decode_multi, dict_key, encode,
                    encode_multi, memory_size, value_id)
from kernel.data.hashmaps import MAX_LEAF, key_hash

ROWS = [json.loads(line) for line in
        Path("/work/shared/conformance/encoding-more.jsonl").read_text().splitlines() if line]

_TOKEN = re.compile(r'\s*(?:(?P<open>#Index \{|#\{|\{)|(?P<close>\})|(?P<str>"[^"]*")'
                    r'|(?P<blob>0x[0-9a-fA-F]*)|(?P<kw>:[\w-]+)|(?P<int>-?\d+)|(?P<nil>nil)|,)')


def read_literal(src: str):
    """Tiny reader for the map/set/index conformance sources (ints, nil, :kw, 0x.., "..")."""
    tokens = []
    pos = 0
    while pos < len(src.rstrip()):
        m = _TOKEN.match(src, pos)
        assert m, f"cannot read {src[pos:]!r}"
        pos = m.end()
        if m.lastgroup:
            tokens.append((m.lastgroup, m.group(m.lastgroup)))
    it = iter(tokens)

    def form(kind: str, text: str):
        if kind == "open":
            items = []
            for k, t in it:
                if k == "close":
                    break
                items.append(form(k, t))
            if text == "#{":
                return Set.from_seq(items)
            cls = Index if text.startswith("#Index") else Map
            return cls.from_pairs(zip(items[::2], items[1::2]))
        return {"str": lambda: String.of(text[1:-1]), "blob": lambda: Blob(bytes.fromhex(text[2:])),
                "kw": lambda: Keyword(text[1:]), "int": lambda: int(text),
                "nil": lambda: None}[kind]()

    v = form(*next(it))
    assert next(it, None) is None
    return v


A, B, C = String.of("a"), String.of("b"), String.of("c")


def rows(*types: str) -> list:
    return [r for r in ROWS if r["type"] in types]


def check_canonical(node) -> None:
    """Assert the reference's shape invariants on every loaded node."""
    if node.shift < 0:
        hashes = [e[0] for e in node.nodes]
        assert len(hashes) == node.count <= MAX_LEAF
        assert hashes == sorted(hashes) and len(set(hashes)) == len(hashes)
        return
    ents = node._entries()
    assert node.count == len(ents) > MAX_LEAF
    first, last = ents[0][0], ents[-1][0]
    x = int.from_bytes(first, "big") ^ int.from_bytes(last, "big")
    assert node.shift == (256 - x.bit_length()) // 4
    assert bin(node.mask).count("1") == len(node.nodes) >= 2
    for kid in node.nodes:
        check_canonical(kid)


# --- conformance vectors ------------------------------------------------------------------

@pytest.mark.parametrize("row", rows("map", "set", "index"), ids=lambda r: r["source"][:40])
def test_conformance_encoding(row):
    v = read_literal(row["source"])
    assert encode(v).hex() == row["encoding"]
    d = decode(bytes.fromhex(row["encoding"]))
    assert type(d) is type(v) and d == v and hash(d) == hash(v)
    assert decode_multi(encode_multi(v)) == v


def test_leaf_and_tree_thresholds():
    m15 = Map.from_pairs((i, i) for i in range(15))
    m16 = m15.assoc(15, 15)
    assert encode(m15)[:2] == b"\x82\x0f" and m15.shift < 0
    assert encode(m16)[:3] == b"\x82\x10\x00" and m16.shift == 0
    assert m16.dissoc(15) == m15 and m16.dissoc(15).shift < 0
    s16 = Set.from_seq(range(16))
    assert encode(s16)[:3] == b"\x83\x10\x00"
    assert encode(s16.disj(0))[:2] == b"\x83\x0f"


def test_generated_large_rows_match_generated_values():
    big = {r["source"][:60]: r for r in rows("map", "set") if len(r["source"]) > 300}
    assert len(big) == 3
    for r in big.values():
        n = r["source"].count(",") + 1 if r["type"] == "map" else len(r["source"].split())
        if r["type"] == "set":
            v = Set.from_seq(range(n))
        elif ":k" in r["source"]:
            v = Map.from_pairs((Keyword(f"k{i}"), i) for i in range(n))
        else:
            v = Map.from_pairs((i, i) for i in range(n))
        assert encode(v).hex() == r["encoding"]
        check_canonical(v)


# --- basic API ----------------------------------------------------------------------------

def test_map_api():
    m = Map.from_pairs([(1, A), (Keyword("k"), 2), (1, B)])
    assert len(m) == 2 and m.get(1) == B and m.get(Keyword("k")) == 2
    assert m.get(3) is None and m.get(3, "d") == "d"
    assert m.contains(1) and not m.contains(2)
    assert m.assoc(1, B) is m or m.assoc(1, B) == m
    assert m.dissoc(99) is m
    assert m.dissoc(1).dissoc(Keyword("k")) is Map.EMPTY
    assert list(m) == m.keys() == [k for k, _ in m.items()]
    assert m.values() == [m.get(k) for k in m.keys()]
    assert [m.entry_at(i) for i in range(len(m))] == m.items()
    hashes = [value_id(k) for k in m.keys()]
    assert hashes == sorted(hashes)
    with pytest.raises(IndexError):
        m.entry_at(2)
    assert Map.EMPTY.get(1) is None and len(Map.EMPTY) == 0


def test_nil_keys_and_values_are_entries():
    m = Map.from_pairs([(None, None)])
    assert m.contains(None) and m.get(None, 5) is None and len(m) == 1
    assert Set.from_seq([None]).contains(None)


def test_keys_use_convex_equality():
    keys = [1, True, 1.0, 0.0, -0.0, NAN, False, 0, None, String.of("1"), Blob(b"\x01")]
    m = Map.from_pairs((k, i) for i, k in enumerate(keys))
    assert len(m) == len(keys)
    for i, k in enumerate(keys):
        assert m.get(k) == i
    assert m.get(float("nan")) == keys.index(NAN)
    big = Map.from_pairs((i, i) for i in range(100)).merge(m)
    for _ in range(3):  # before and after the dict index exists
        for i, k in enumerate(keys):
            assert big.get(k) == i


def test_set_api():
    s = Set.from_seq([1, 2, 3, 2])
    assert len(s) == 3 and s.contains(2) and not s.contains(4)
    assert s.conj(2) is s and s.conj(4).contains(4)
    assert s.disj(5) is s and not s.disj(2).contains(2)
    assert [s.element_at(i) for i in range(3)] == list(s)
    a, b = Set.from_seq(range(0, 40)), Set.from_seq(range(20, 60))
    assert a.union(b) == Set.from_seq(range(60))
    assert a.intersection(b) == Set.from_seq(range(20, 40))
    assert a.difference(b) == Set.from_seq(range(20))
    assert a.union(Set.EMPTY) == a and a.intersection(Set.EMPTY) == Set.EMPTY
    assert Set.from_seq([1]) != Map.from_pairs([(1, None)])


def test_merge():
    a = Map.from_pairs((i, A) for i in range(50))
    b = Map.from_pairs((i, B) for i in range(40, 60))
    small = Map.from_pairs([(0, C)])
    assert a.merge(b) == Map.from_pairs([(i, A) for i in range(40)] +
                                        [(i, B) for i in range(40, 60)])
    assert a.merge(small).get(0) == C and len(a.merge(small)) == 50
    assert small.merge(a) == a and a.merge(Map.EMPTY) is a


def test_index_is_not_a_python_dict_trap():
    """A map looked up once must not cost an O(n) index; a hot map gets one."""
    m = Map.from_pairs((i, i) for i in range(1000))
    m.get(5)
    assert m._index is None
    for i in range(100):
        assert m.get(i) == i
    assert m._index is not None and m.get(999) == 999 and m.get(1000) is None


# --- decoding -----------------------------------------------------------------------------

def test_partial_tree_decoding():
    m = Map.from_pairs((i, i) for i in range(300))
    d = decode(encode(m))
    assert any(type(k) is BranchRef for k in d.nodes)
    assert d == m and m == d and hash(d) == hash(m) and len(d) == 300
    assert encode(d) == encode(m)
    found = missing = 0
    for i in range(300):
        try:
            assert d.get(i) == i
            found += 1
        except MissingData:
            missing += 1
    assert found and missing
    with pytest.raises(MissingData):
        d.items()
    full = decode_multi(encode_multi(m))
    assert full.items() == m.items() and memory_size(full) == memory_size(m)


def test_branch_keys_and_values():
    long = String.of("x" * 200)
    m = Map.from_pairs([(long, long), (1, 2)])
    d = decode(encode(m))
    assert d == m and d.contains(long) and d.get(1) == 2
    assert type(d.get(long)) is BranchRef
    s = decode(encode(Set.from_seq([long])))
    assert s.contains(long)


def _tamper(enc: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(enc)


def test_rejects_structural_errors():
    leaf = encode(Map.from_pairs([(1, 2), (3, 4)]))
    k1, k2 = leaf[2:6], leaf[6:10]
    _tamper(leaf[:2] + k2 + k1)                     # not in hash order
    _tamper(leaf[:2] + k1 + k1)                     # duplicate key
    _tamper(b"\x82\x02" + leaf[2:6])                # truncated
    _tamper(leaf + b"\x00")                         # trailing bytes
    tree = encode(Map.from_pairs((i, i) for i in range(16)))
    assert tree[:5].hex() == "821000b7d7"
    _tamper(tree[:1] + b"\x11" + tree[2:])          # count does not match the children
    _tamper(tree[:1] + b"\x0f" + tree[2:])          # too small for a tree
    _tamper(tree[:3] + b"\xb7\xd6" + tree[5:])      # mask popcount != children
    _tamper(tree[:3] + b"\x7b\xd7" + tree[5:])      # children under the wrong digits
    _tamper(tree[:2] + b"\x01" + tree[3:])          # wrong shift
    _tamper(tree[:2] + b"\x40" + tree[3:])          # shift out of range
    one_child = b"\x82\x10\x00\x00\x01" + encode(Map.from_pairs((i, i) for i in range(16)))
    _tamper(one_child)
    _tamper(b"\x82" + encode(Set.from_seq(range(16)))[1:])   # set children in a map
    _tamper(b"\x83" + tree[1:])                     # map children in a set


# --- properties ---------------------------------------------------------------------------

KEYS = st.one_of(
    st.integers(-300, 300), st.booleans(), st.none(),
    st.sampled_from([0.0, -0.0, 1.0, NAN, 2.5]),
    st.sampled_from([Keyword(f"k{i}") for i in range(30)] + [Symbol(f"s{i}") for i in range(30)]),
    st.binary(max_size=3).map(Blob), st.text(max_size=3).map(String.of),
)
VALUES = st.one_of(st.integers(), st.none(), st.text(max_size=5).map(String.of))
OPS = st.lists(st.tuples(st.booleans(), KEYS, VALUES), max_size=120)


@settings(max_examples=150, deadline=None)
@given(OPS)
def test_map_matches_dict_model(ops):
    m = Map.EMPTY
    model: dict = {}
    for add, k, v in ops:
        if add:
            m = m.assoc(k, v)
            model[dict_key(k)] = (k, v)
        else:
            m = m.dissoc(k)
            model.pop(dict_key(k), None)
        assert len(m) == len(model)
    check_canonical(m)
    built = Map.from_pairs(model.values())
    assert m == built and encode(m) == encode(built) and memory_size(m) == memory_size(built)
    assert hash(m) == hash(built)
    for _ in range(2):
        for add, k, v in ops:
            assert m.contains(k) == (dict_key(k) in model)
            assert m.get(k, "absent") == model.get(dict_key(k), (k, "absent"))[1]
    hashes = [value_id(k) for k in m.keys()]
    assert hashes == sorted(hashes)
    d = decode(encode(m))
    full = decode_multi(encode_multi(m))
    assert d == m and [encode(k) for k in full.keys()] == [encode(k) for k in m.keys()]


@settings(max_examples=100, deadline=None)
@given(st.lists(KEYS, max_size=80), st.randoms(use_true_random=False))
def test_insertion_order_does_not_matter(keys, rnd):
    a = Set.from_seq(keys)
    shuffled = list(keys)
    rnd.shuffle(shuffled)
    b = Set.EMPTY
    for k in shuffled:
        b = b.conj(k)
    check_canonical(b)
    assert a == b and encode(a) == encode(b)
    for k in keys:
        assert b.contains(k)
    assert len(b) == len({dict_key(k) for k in keys})


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 60), max_size=50), st.lists(st.integers(0, 60), max_size=50))
def test_set_algebra(xs, ys):
    a, b = Set.from_seq(xs), Set.from_seq(ys)
    sx, sy = set(xs), set(ys)
    for got, want in ((a.union(b), sx | sy), (a.intersection(b), sx & sy),
                      (a.difference(b), sx - sy)):
        assert got == Set.from_seq(want) and sorted(got) == sorted(want)
        check_canonical(got)


def _fake_hash(rnd: random.Random) -> bytes:
    """Hashes from a tiny digit alphabet, so that tries skip digits and split above nodes."""
    digits = [rnd.choice("01") for _ in range(6)] + [rnd.choice("0123456789abcdef")
                                                     for _ in range(58)]
    return bytes.fromhex("".join(digits))


@pytest.mark.parametrize("seed", range(30))
def test_shift_skips_and_splits(seed):
    """Updates keep the canonical shape when key hashes share long prefixes (rare naturally)."""
    rnd = random.Random(seed)
    prefix = bytes([rnd.choice([0x00, 0x11, 0xA5])])
    pool = [(prefix + _fake_hash(rnd)[1:], i, i) for i in range(rnd.randint(10, 200))]
    m = Map.EMPTY
    live: dict = {}
    for _ in range(400):
        e = rnd.choice(pool)
        if rnd.random() < 0.6:
            m = m._with(e)
            live[e[0]] = e
        else:
            m = m._without(e[0])
            live.pop(e[0], None)
        check_canonical(m)
    built = Map._build(sorted(live.values()))
    assert encode(m) == encode(built)
    for h, k, v in pool:
        assert (m._find(h) is not None) == (h in live)


def test_repeated_assoc_is_fast():
    t = time.perf_counter()
    m = Map.EMPTY
    for i in range(10_000):
        m = m.assoc(i, m.get(i - 1, 0))
    assert time.perf_counter() - t < 1.0
    assert len(m) == 10_000 and encode(m) == encode(Map.from_pairs((i, 0) for i in range(10_000)))


def test_memory_size():
    assert memory_size(Map.from_pairs([(1, 2)])) == 0
    m = Map.from_pairs((i, i) for i in range(300))
    assert memory_size(m) == memory_size(Map.from_pairs(reversed(m.items())))
    assert memory_size(m) > len(encode(m))


def test_vector_keys():
    v = Vector.of(1, 2)
    m = Map.from_pairs([(v, 1)])
    assert m.get(Vector.of(1, 2)) == 1 and key_hash(v) == value_id(v)
