"""Hypothesis strategies for CVM values of every type, for property tests across the project.

`values()` draws nested values of all kinds. With `readable=True` (the default) it keeps to
values whose printed text reads back to an equal value: symbol and keyword names the reader
accepts, valid UTF-8 strings, no syntax objects nested in metadata, and Result records with
well-typed fields. With `readable=False` names and strings may be any legal content.
"""
from __future__ import annotations

import struct

from hypothesis import strategies as st

from kernel import (Address, Blob, ByteFlag, Char, CodedValue, DenseRecord, Extension, Index,
                    Keyword, List, Map, Set, Signed, String, Symbol, Syntax, Vector)

_NAME_RE = r"[a-zA-Z*+!_?$%&=<>][a-zA-Z0-9*+!_?$%&=<>.:#-]{0,24}"
_RESERVED = {"nil", "true", "false"}

int64 = st.integers(-2**63, 2**63 - 1)
big_integers = st.binary(min_size=9, max_size=4096).map(
    lambda b: int.from_bytes(b, "big", signed=True))    # up to the 4096-byte CVM limit
integers = st.one_of(st.integers(-300, 300), int64, big_integers)

doubles = st.one_of(
    st.floats(allow_nan=False),
    st.sampled_from([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 5e-324, 1e-3, 1e7]),
    st.integers(0, 2**64 - 1).map(lambda b: struct.unpack(">d", struct.pack(">Q", b))[0]),
)


def names(readable: bool = True) -> st.SearchStrategy:
    """Symbol or keyword names: 1-128 UTF-8 bytes (readable ones as the reader takes them)."""
    if readable:
        return st.from_regex(_NAME_RE, fullmatch=True).filter(lambda s: s not in _RESERVED)
    return st.text(min_size=1, max_size=40).filter(lambda s: len(s.encode()) <= 128)


def strings(readable: bool = True) -> st.SearchStrategy:
    if readable:
        return st.text(max_size=60).map(String.of)
    return st.binary(max_size=60).map(String)


chars = st.integers(0, 0x10FFFF).map(Char)
blobs = st.binary(max_size=80).map(Blob)
addresses = st.integers(0, 2**63 - 1).map(Address)
byte_flags = st.integers(2, 15).map(ByteFlag)
extensions = st.builds(Extension, st.sampled_from([t for t in range(0xE0, 0xF0) if t != 0xEA]),
                       st.integers(0, 2**63 - 1))


def atoms(readable: bool = True) -> st.SearchStrategy:
    """Every non-container value."""
    return st.one_of(
        st.none(), st.booleans(), integers, doubles, chars, blobs, addresses,
        strings(readable), names(readable).map(Symbol), names(readable).map(Keyword),
        byte_flags, extensions)


_blob_like_keys = st.one_of(blobs, strings(), names().map(Keyword), names().map(Symbol),
                            addresses)


def _containers(children: st.SearchStrategy, readable: bool) -> st.SearchStrategy:
    small = st.lists(children, max_size=6)
    pairs = st.lists(st.tuples(children, children), max_size=6)
    meta = st.lists(st.tuples(atoms(readable), atoms(readable)), max_size=3).map(Map.from_pairs)
    # the reader unwraps syntax inside metadata, and never makes a syntax of a syntax
    datum = children.map(lambda v: v.datum if type(v) is Syntax else v)
    return st.one_of(
        small.map(Vector.from_seq),
        st.lists(children, max_size=40).map(Vector.from_seq),
        small.map(List.from_seq),
        small.map(Set.from_seq),
        pairs.map(Map.from_pairs),
        st.lists(st.tuples(_blob_like_keys, children), max_size=6).map(Index.from_pairs),
        st.builds(Syntax, datum, meta),
        st.builds(Signed, st.binary(min_size=32, max_size=32), st.binary(min_size=64,
                                                                          max_size=64), children),
        st.builds(DenseRecord, st.sampled_from([t for t in range(0xD0, 0xE0) if t != 0xDD]),
                  small.map(Vector.from_seq)),
        st.builds(lambda i, r, e, log, info: DenseRecord(0xDD, Vector.of(i, r, e, log, info)),
                  st.none() | int64, children, children, st.none() | small.map(Vector.from_seq),
                  st.none() | pairs.map(Map.from_pairs)),
        st.builds(CodedValue, st.integers(0xC0, 0xCF), children, children),
    )


def values(readable: bool = True, max_leaves: int = 30) -> st.SearchStrategy:
    """Any CVM value, containers nested to a few levels."""
    return st.recursive(atoms(readable), lambda c: _containers(c, readable),
                        max_leaves=max_leaves)
