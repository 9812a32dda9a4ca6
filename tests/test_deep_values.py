"""No RecursionError anywhere: values nested to any depth are encoded, decoded, hashed,
measured, compared, printed and turned into JSON without Python recursion limits, and code
nested too deeply is refused with a CVM :DEPTH error, never a Python failure.

Every test runs under Python's default recursion limit (1000), so nothing here depends on a
raised limit."""
from __future__ import annotations

import sys

import pytest

from kernel import (DecodeError, List, Map, String, Syntax, Vector, decode, decode_multi, encode,
                    encode_multi, equals, memory_size, value_id)

DEPTH = 50_000


@pytest.fixture(autouse=True)
def default_recursion_limit():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def nested(kind: str, depth: int = DEPTH):
    v = Vector.EMPTY
    for i in range(depth):
        if kind == "vector":
            v = Vector.of(v)
        elif kind == "list":
            v = List.of(v, i)
        elif kind == "map":
            v = Map.from_pairs([(i, v)])
        elif kind == "key":                 # nested in map keys
            v = Map.from_pairs([(v, i)])
        elif kind == "syntax":              # syntax objects around vectors around ...
            v = Syntax(Vector.of(v), Map.from_pairs([(i, True)]))
        elif kind == "long":                # wide vectors, nested
            v = Vector.from_seq([v] + list(range(40)))
    return v


KINDS = ["vector", "list", "map", "key", "syntax", "long"]


@pytest.mark.parametrize("kind", KINDS)
def test_deep_values_encode_hash_and_measure(kind):
    v = nested(kind)
    enc = encode(v)
    assert len(enc) < 200                   # the top cell: deeper levels are branch refs
    vid = value_id(v)
    assert len(vid) == 32
    assert memory_size(v) > DEPTH
    again = nested(kind)                    # a fresh copy hashes the same
    assert value_id(again) == vid
    assert memory_size(again) == memory_size(v)


@pytest.mark.parametrize("kind", KINDS)
def test_deep_values_round_trip_through_messages(kind):
    v = nested(kind)
    w = decode_multi(encode_multi(v))
    assert value_id(w) == value_id(v)
    assert equals(w, v)
    assert decode(encode(v)) == v          # one cell: the rest are branch refs


@pytest.mark.parametrize("kind", KINDS)
def test_deep_values_compare(kind):
    a, b = nested(kind), nested(kind)      # equal, but sharing no cells
    assert equals(a, b) and a == b and not a != b
    assert hash(a) == hash(b)
    c = nested(kind, DEPTH - 1)
    assert not equals(a, c) and a != c
    assert {a: 1}[b] == 1


def test_deep_vectors_differing_deep_inside_are_unequal():
    a = b = Vector.of(1)
    b = Vector.of(2)
    for _ in range(DEPTH):
        a, b = Vector.of(a, 0), Vector.of(b, 0)
    assert not equals(a, b) and a != b
    assert value_id(a) != value_id(b)


@pytest.mark.parametrize("kind", KINDS)
def test_deep_values_print(kind):
    from lisp import print_value, read

    v = nested(kind, 5_000)
    text = print_value(v)
    assert len(text) > 10_000
    assert equals(read(text), v)


def test_deep_values_to_json():
    import json

    from convex_repl.jsonval import to_json

    for kind in KINDS:
        assert json.dumps(to_json(nested(kind)))


def test_shallow_recursion_stays_small():
    """The walks recurse at most NEST_LIMIT levels before switching to an explicit stack."""
    from kernel.cell import NEST_LIMIT

    assert 4 <= NEST_LIMIT <= 64


def test_deeply_nested_embedded_cell_is_a_decode_error():
    data = b"\x80\x01" * 100_000 + b"\x80\x00"      # [[[...]]] all in one cell
    with pytest.raises(DecodeError, match="nested more than"):
        decode(data)
    with pytest.raises(DecodeError):
        decode_multi(data)
    with pytest.raises(DecodeError):
        decode(b"\x88" * 100_000 + b"\x00" * 100_001)  # syntax in syntax in ...


def test_deep_strings_in_deep_vectors():
    v = String.of("x" * 300)
    for _ in range(DEPTH):
        v = Vector.of(v, String.of("y" * 200))
    assert decode_multi(encode_multi(v)) == v
