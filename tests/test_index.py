"""Index: radix-tree shape over blob-like keys, encodings, key identity and partial decoding."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel import (Address, Blob, BranchRef, DecodeError, Index, Keyword, MissingData, String,
                    Symbol, decode, decode_multi, encode, encode_multi, memory_size)
from kernel.data.index import key_bytes

from test_hashmaps import read_literal, rows


def idx(*pairs) -> Index:
    return Index.from_pairs(pairs)


def b(hexstr: str) -> Blob:
    return Blob(bytes.fromhex(hexstr))


def check_canonical(node: Index) -> None:
    """Assert the reference's shape invariants on every node."""
    if node.count <= 1:
        assert node.kids == () and node.mask == 0
        assert (node.entry is None) == (node.count == 0)
        return
    idents = [key_bytes(k)[:32] for k in node.keys()]
    assert idents == sorted(idents) and len(set(idents)) == len(idents) == node.count
    lo, hi = idents[0], idents[-1]
    common = 0
    while common < 2 * min(len(lo), len(hi)) and (lo.hex()[common] == hi.hex()[common]):
        common += 1
    assert node.depth == common < 64
    assert (node.entry is not None) == (2 * len(lo) == common)
    assert bin(node.mask).count("1") == len(node.kids) >= (1 if node.entry else 2)
    for kid in node.kids:
        assert kid.depth > node.depth
        check_canonical(kid)


@pytest.mark.parametrize("row", rows("index"), ids=lambda r: r["source"][:40])
def test_conformance_rows_decode_to_canonical(row):
    v = read_literal(row["source"])
    check_canonical(v)
    assert encode(v).hex() == row["encoding"]
    assert decode(encode(v)) == v


def test_shapes():
    assert encode(Index.EMPTY).hex() == "8400"
    assert encode(idx((b("12"), 0))).hex() == "840131011210"
    one = idx((b("12"), 0), (b("1234"), 1))
    assert encode(one).hex() == "840280310112100200088401310212341101"
    no_entry = idx((b("01"), 1), (b("02"), 2))
    assert encode(no_entry).hex() == "8402000100068401310101110184013101021102"
    assert no_entry.entry is None and no_entry.depth == 1


def test_api_and_key_order():
    keys = [b("ff0101"), String.of(""), b("010001"), b("0001"), b("01"), b("010000"), b("ff0000")]
    ix = Index.from_pairs((k, i) for i, k in enumerate(keys))
    assert len(ix) == 7
    order = sorted(keys, key=key_bytes)
    assert ix.keys() == order and list(ix) == order
    assert [ix.entry_at(i) for i in range(7)] == ix.items()
    assert ix.values() == [keys.index(k) for k in order]
    for i, k in enumerate(keys):
        assert ix.get(k) == i and ix.contains(k)
    assert ix.get(b("02")) is None and ix.get(b("02"), -1) == -1 and not ix.contains(b("0100"))
    with pytest.raises(IndexError):
        ix.entry_at(7)
    for k in keys:
        ix = ix.dissoc(k)
        check_canonical(ix)
    assert ix is Index.EMPTY


def test_blob_like_keys_match_by_bytes():
    """The reference compares Index keys by bytes alone, whatever their type."""
    ix = idx((b("6162"), 1))
    assert ix.get(String.of("ab")) == 1 and ix.get(Keyword("ab")) == 1 and ix.get(Symbol("ab")) == 1
    replaced = ix.assoc(String.of("ab"), 2)
    assert len(replaced) == 1 and replaced.keys() == [String.of("ab")] and replaced.get(b("6162")) == 2
    assert ix.dissoc(Keyword("ab")) is Index.EMPTY
    addr = Address(5)
    ix = idx((addr, 1), (b("0000000000000006"), 2))
    assert ix.get(b("0000000000000005")) == 1 and ix.keys()[0] is addr


def test_non_blob_keys():
    with pytest.raises(TypeError):
        Index.EMPTY.assoc(1, 2)
    with pytest.raises(TypeError):
        Index.from_pairs([(None, 1)])
    ix = idx((b("01"), 1))
    assert ix.get(1) is None and not ix.contains(None) and ix.dissoc(1) is ix


def test_keys_are_identified_by_their_first_32_bytes():
    base = bytes(range(32))
    k1, k2 = Blob(base + b"\x01"), Blob(base + b"\x02")
    ix = idx((k1, 1), (Blob(base[:31]), 0))
    assert ix.get(k2) == 1 and ix.get(Blob(base)) == 1
    ix2 = ix.assoc(k2, 2)
    assert len(ix2) == 2 and ix2.keys()[1] is k2 and ix2.get(k1) == 2
    assert ix2.dissoc(Blob(base)).keys() == [Blob(base[:31])]


def test_partial_decoding():
    long = String.of("y" * 200)
    ix = Index.from_pairs([(Blob(bytes([i, j])), long) for i in range(4) for j in range(8)])
    d = decode(encode(ix))
    assert d == ix and hash(d) == hash(ix) and encode(d) == encode(ix)
    assert any(type(k) is BranchRef for k in d.kids)
    with pytest.raises(MissingData):
        d.items()
    with pytest.raises(MissingData):
        d.get(Blob(bytes([0, 0])))
    full = decode_multi(encode_multi(ix))
    assert full.items() == ix.items() and memory_size(full) == memory_size(ix)
    big_key = idx((Blob(bytes(200)), 1))
    single = decode(encode(big_key))
    assert single == big_key and type(single.keys()[0]) is BranchRef
    with pytest.raises(MissingData):
        single.get(Blob(bytes(200)))
    assert decode_multi(encode_multi(big_key)).get(Blob(bytes(200))) == 1


def _tamper(enc: bytes) -> None:
    with pytest.raises(DecodeError):
        decode(enc)


def test_rejects_structural_errors():
    good = encode(idx((b("12"), 0), (b("1234"), 1)))   # 8402 80 310112 10, 02, 0008, child
    assert decode(good)
    _tamper(good[:2] + b"\x20" + good[3:])            # CAD003's marker is not Java's
    _tamper(good[:2] + b"\x00" + good[7:])            # no entry: one child is too few
    _tamper(good[:7] + b"\x03" + good[8:])            # depth disagrees with the entry key
    _tamper(good[:8] + b"\x00\x04" + good[10:])       # child under the wrong digit
    _tamper(good[:8] + b"\x00\x0c" + good[10:])       # mask popcount != children
    _tamper(good[:1] + b"\x03" + good[2:])            # count disagrees with entries
    _tamper(b"\x84\x01\x11\x01\x11\x02")              # integer key
    two = encode(idx((b("01"), 1), (b("02"), 2)))
    _tamper(two[:3] + b"\x40" + two[4:])              # depth 64 with several entries
    _tamper(two[:3] + b"\x02" + two[4:])              # children not deeper than the node
    _tamper(b"\x84\x02\x00\x02\x00\x18" + encode(idx((b("1234"), 1)))
            + encode(idx((b("5644"), 2))))              # children disagree on the prefix
    _tamper(b"\x84\x00\x00")


# --- properties ---------------------------------------------------------------------------

SMALL_BYTES = st.lists(st.sampled_from([0x00, 0x01, 0x10, 0x11, 0xFF]), max_size=4).map(bytes)
KEYS = st.one_of(SMALL_BYTES.map(Blob), SMALL_BYTES.map(String),
                 st.sampled_from([Keyword("a"), Symbol("a"), Keyword("ab"), Address(1)]),
                 st.binary(min_size=31, max_size=34).map(lambda x: Blob(bytes(30) + x[30:])))
OPS = st.lists(st.tuples(st.booleans(), KEYS, st.integers(0, 5)), max_size=80)


@settings(max_examples=200, deadline=None)
@given(OPS)
def test_index_matches_model(ops):
    ix = Index.EMPTY
    model: dict = {}
    for add, k, v in ops:
        ident = key_bytes(k)[:32]
        if add:
            ix = ix.assoc(k, v)
            model[ident] = (k, v)
        else:
            ix = ix.dissoc(k)
            model.pop(ident, None)
        assert len(ix) == len(model)
        check_canonical(ix)
    expected = [model[i] for i in sorted(model)]
    assert ix.items() == expected
    built = Index.from_pairs(expected)
    assert ix == built and encode(ix) == encode(built) and memory_size(ix) == memory_size(built)
    for _, k, _ in ops:
        ident = key_bytes(k)[:32]
        assert ix.get(k, -1) == model.get(ident, (k, -1))[1]
        assert ix.contains(k) == (ident in model)
    assert decode(encode(ix)) == ix


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(KEYS, st.integers(0, 5)), max_size=60), st.randoms())
def test_insertion_order_does_not_matter(pairs, rnd):
    last = {key_bytes(k)[:32]: (k, v) for k, v in pairs}
    items = list(last.values())
    rnd.shuffle(items)
    ix = Index.EMPTY
    for k, v in items:
        ix = ix.assoc(k, v)
    assert encode(ix) == encode(Index.from_pairs(pairs))
    merged = Index.from_pairs(items[: len(items) // 2]).merge(Index.from_pairs(items))
    assert merged == ix


def test_many_entries_fast_and_canonical():
    rnd = random.Random(1)
    keys = [Blob(rnd.randbytes(rnd.randint(0, 6))) for _ in range(5000)]
    ix = Index.EMPTY
    for i, k in enumerate(keys):
        ix = ix.assoc(k, i)
    check_canonical(ix)
    assert encode(ix) == encode(Index.from_pairs((k, i) for i, k in enumerate(keys)))
    assert decode_multi(encode_multi(ix)) == ix
