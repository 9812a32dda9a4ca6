"""Syntax objects and the generic CAD3 records: dense records, coded values, signed data."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel import (Address, Blob, BranchRef, ByteFlag, CodedValue, DecodeError, DenseRecord,
                    Keyword, List, Map, Signed, String, Symbol, Syntax, Vector, decode,
                    decode_multi, encode, encode_multi, memory_size, value_id)
from kernel.data import decoding
from kernel.data.records import read_coded_value, read_dense_record

ROWS = [json.loads(line) for line in
        Path("/work/shared/conformance/encoding-more.jsonl").read_text().splitlines() if line]

FOO = Keyword("foo")
TEXT_138 = ("This is a string containing exactly 138 characters. This is slightly too long to "
            "be an embedded Cell within a Convex encoding. Watch out!!")
TEXT_137 = ("This is a string containing exactly 137 characters. This is just right for a "
            "maximum embedded string in Convex. How lucky is that, eh????")
PK = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")


def const(v):
    """A CVM Constant op as a generic coded value (code = the false byte)."""
    return CodedValue(0xC0, False, v)


def meta(*pairs):
    return Map.from_pairs(pairs)


def expected_values() -> dict:
    """Values built directly in Python for the conformance rows, keyed by source text."""
    sig1 = bytes.fromhex(
        "89ec6d33cc9359c1ea9ee17d8d7d1e0f547d09cee593ac40c5a6c64d7f26fd0e"
        "9f473af47b58da4e2ecf2aea37585795355ee4a7a3430f8311a724728b1fa00f")
    sig2 = bytes.fromhex(
        "6c6f2447f9f38286c6aece26b40c17ed3bf6a69999d248127f7f03194020e977"
        "59527f3d0a5f8110922205e871cab7cca26ff4996d0ce3493daec14faf0fd407")
    invoke = DenseRecord(0xD0, Vector.of(Address(12), 5, 1))
    return {
        "^{} 1": Syntax(1),
        "^{:foo true} 1": Syntax(1, meta((FOO, True))),
        "^{:foo true} [1 2 3]": Syntax(Vector.of(1, 2, 3), meta((FOO, True))),
        "^{:start 0, :end 3} foo": Syntax(Symbol("foo"),
                                          meta((Keyword("start"), 0), (Keyword("end"), 3))),
        "[^{} #32]": Vector.of(Syntax(Address(32))),
        '^{:foo true} "' + TEXT_138 + '"': Syntax(String.of(TEXT_138), meta((FOO, True))),
        "#[c0112dc0b000]": CodedValue(0xC0, 45, const(None)),
        "#[c0bb800100]": CodedValue(0xC0, ByteFlag(11), Vector.of(None)),
        "#[c0b000]": const(None),
        "#[c0b01101]": const(1),
        "#[c1003205636f756e74]": CodedValue(0xC1, None, Symbol("count")),
        "#[cd3203666f6fc0b01101]": CodedValue(0xCD, Symbol("foo"), const(1)),
        "#[da02c0b01101c0b01102]": DenseRecord(0xDA, Vector.of(const(1), const(2))),
        "#[db03c10032012bc0b01101c0b01102]": DenseRecord(
            0xDB, Vector.of(CodedValue(0xC1, None, Symbol("+")), const(1), const(2))),
        "#[df03110111021103]": DenseRecord(0xDF, Vector.of(1, 2, 3)),
        "#[df00]": DenseRecord(0xDF, Vector.EMPTY),
        "#[d603110111021103]": DenseRecord(0xD6, Vector.of(1, 2, 3)),
        "#[c9110100]": CodedValue(0xC9, 1, None),
        "#[d104ea0110ea021203e8]": DenseRecord(0xD1, Vector.of(Address(1), 0, Address(2), 1000)),
        "#[d003ea011081031102110132012b]": DenseRecord(
            0xD0, Vector.of(Address(1), 0, List.of(Symbol("+"), 1, 2))),
        "#[d003ea0c11051101]": invoke,
        "#[dc0388111700308109" + String.of(TEXT_137).data.hex() + "3003666f6f]": DenseRecord(
            0xDC, Vector.of(Syntax(23), String.of(TEXT_137), String.of("foo"))),
        **{src: Signed(PK, sig1, 1) for src in _signed_sources(sig1)},
        **{src: Signed(PK, sig2, invoke) for src in _signed_sources(sig2)},
    }


def _signed_sources(sig: bytes) -> list:
    return [r["source"] for r in ROWS if r["type"] == "signed" and sig.hex() in r["source"]]


RECORD_ROWS = [r for r in ROWS
               if r["type"] in ("op", "record", "coded", "transaction", "signed", "syntax")]


@pytest.mark.parametrize("row", RECORD_ROWS, ids=lambda r: r["source"][:40])
def test_conformance(row):
    enc = bytes.fromhex(row["encoding"])
    d = decode(enc)
    assert encode(d) == enc
    assert decode_multi(encode_multi(d)) == d
    built = expected_values().get(row["source"])
    if built is not None:
        assert encode(built).hex() == row["encoding"]
        assert built == d and value_id(built) == value_id(d) and hash(built) == hash(d)
    else:
        assert row["source"] in ("#[ed00]", "#[e500]", "#[e645]"), "row not covered"


def test_all_built_values_match_a_row():
    sources = {r["source"] for r in RECORD_ROWS}
    assert set(expected_values()) <= sources


# --- syntax -------------------------------------------------------------------------------

def test_syntax_basics():
    s = Syntax(Vector.of(1), meta((FOO, True)))
    assert s.datum == Vector.of(1) and s.meta.get(FOO) is True
    assert Syntax(1).meta == Map.EMPTY and len(Syntax(1).meta) == 0
    assert Syntax(1) == Syntax(1, Map.EMPTY) and hash(Syntax(1)) == hash(Syntax(1, Map.EMPTY))
    assert Syntax(1) != Syntax(True) and Syntax(1) != Syntax(1, meta((FOO, True)))
    assert Syntax(1) != 1 and Syntax(Vector.EMPTY) != Vector.EMPTY


def test_syntax_empty_meta_written_as_nil():
    with pytest.raises(DecodeError):
        decode(bytes.fromhex("8811018200"))
    assert encode(Syntax(1)).hex() == "88110100"


@pytest.mark.parametrize("hexdata", [
    "881101" "8300",          # metadata a set
    "881101" "800111",        # metadata a vector (and truncated)
    "881101" "80011101",      # metadata a vector
    "881101" "1101",          # metadata an integer
    "8811",                   # truncated datum
    "881101",                 # missing metadata
])
def test_syntax_rejects_malformed(hexdata):
    with pytest.raises(DecodeError):
        decode(bytes.fromhex(hexdata))


def test_syntax_metadata_is_inline_even_when_large():
    big = meta(*((Keyword(f"k{i}"), String.of("v" * 20)) for i in range(6)))
    assert len(encode(big)) > 140
    s = Syntax(1, big)
    assert encode(s) == b"\x88\x11\x01" + encode(big)
    d = decode(encode(s))
    assert d == s and d.meta == big
    assert memory_size(s) == len(encode(s)) + 64  # one cell: the map is not a separate cell


def test_syntax_branch_datum():
    s = Syntax(String.of(TEXT_138), meta((FOO, True)))
    d = decode(encode(s))
    assert type(d.datum) is BranchRef and d == s
    assert decode_multi(encode_multi(s)).datum == String.of(TEXT_138)
    assert memory_size(s) == memory_size(String.of(TEXT_138))


# --- records ------------------------------------------------------------------------------

def test_dense_record_fields_and_equality():
    r = DenseRecord(0xDF, Vector.of(1, 2, 3))
    assert r.fields == (1, 2, 3) and len(r) == 3 and r.values == Vector.of(1, 2, 3)
    assert r == DenseRecord(0xDF, Vector.of(1, 2, 3))
    assert r != DenseRecord(0xDE, Vector.of(1, 2, 3))
    assert r != DenseRecord(0xDF, Vector.of(1, 2, True))
    assert r != Vector.of(1, 2, 3)
    assert hash(r) == hash(DenseRecord(0xDF, Vector.from_seq([1, 2, 3])))
    with pytest.raises(ValueError):
        DenseRecord(0xC0, Vector.EMPTY)
    with pytest.raises(TypeError):
        DenseRecord(0xD0, List.EMPTY)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2000), st.sampled_from(range(0xD0, 0xE0)))
def test_dense_record_roundtrip_any_size(n, tag):
    r = DenseRecord(tag, Vector.from_seq(range(n)))
    enc = encode(r)
    assert enc == bytes((tag,)) + encode(Vector.from_seq(range(n)))[1:]
    # the generic reader (the CVM may register specialised readers for some of these tags)
    generic, end = read_dense_record(decoding.Decoder(enc), tag, 1)
    assert end == len(enc) and generic == r and type(generic) is DenseRecord
    assert encode(generic) == enc
    assert memory_size(r) == memory_size(Vector.from_seq(range(n)))


def test_coded_value():
    c = CodedValue(0xC9, 1, None)
    assert c.fields == (1, None) and c.code == 1 and c.value is None
    assert c == CodedValue(0xC9, 1, None) and c != CodedValue(0xC8, 1, None)
    assert c != CodedValue(0xC9, True, None)
    big = CodedValue(0xC9, String.of(TEXT_138), Vector.from_seq(range(100)))
    enc = encode(big)
    generic, end = read_coded_value(decoding.Decoder(enc), 0xC9, 1)
    assert end == len(enc) and type(generic.code) is BranchRef and generic == big
    assert decode_multi(encode_multi(big)) == big
    with pytest.raises(ValueError):
        CodedValue(0xD0, 1, 2)


def test_signed():
    sig = bytes(range(64))
    s = Signed(PK, sig, Vector.of(1, 2))
    assert s.public_key == PK and s.signature == sig and s.value == Vector.of(1, 2)
    assert s.message() == encode(Vector.of(1, 2))
    assert s.fields == (Blob(PK), Blob(sig), Vector.of(1, 2))
    assert encode(s) == b"\x90" + PK + sig + encode(Vector.of(1, 2))
    assert decode(encode(s)) == s
    assert s != Signed(PK, bytes(64), Vector.of(1, 2))
    big = Signed(PK, sig, String.of(TEXT_138))
    d = decode(encode(big))
    assert type(d.value) is BranchRef and d == big and len(encode(big)) == 1 + 96 + 33
    with pytest.raises(ValueError):
        Signed(PK[:31], sig, 1)
    with pytest.raises(DecodeError):
        decode(encode(s)[:50])


def test_later_registration_overrides_generic_reader():
    tag = 0xCE
    original = decoding._readers[tag]

    class Special(CodedValue):
        __slots__ = ()

    def read_special(dec, t, pos):
        v, end = read_coded_value(dec, t, pos)
        return Special(t, v.code, v.value), end

    decoding.register(tag, read_special)
    try:
        d = decode(bytes.fromhex("ce110100"))
        assert type(d) is Special and d == CodedValue(0xCE, 1, None)
    finally:
        decoding.register(tag, original)


def test_signed_data_follows_the_embedding_rule_like_any_cell():
    """Signed data is embedded in its parent exactly when its encoding is at most 140 bytes
    (the signed value at most 43), else referred to by ID; a split the other way is refused."""
    import pytest

    import kernel
    from kernel import Blob, DecodeError, Signed, Vector

    small = Signed(bytes(32), bytes(64), Blob(bytes(41)))        # value 43 bytes: 140 in all
    big = Signed(bytes(32), bytes(64), Blob(bytes(42)))          # value 44 bytes: 141
    assert len(kernel.encode(small)) == 140 and len(kernel.encode(big)) == 141
    assert kernel.encode(Vector.of(small)) == b"\x80\x01" + kernel.encode(small)
    assert kernel.encode(Vector.of(big)) == b"\x80\x01\x20" + kernel.value_id(big)
    assert kernel.memory_size(small) == 0
    assert kernel.memory_size(big) == 141 + 64
    for v in (Vector.of(small), Vector.of(big)):
        back = kernel.decode_multi(kernel.encode_multi(v))
        assert kernel.equals(back, v)
    # the old split (small signed data as a separate child cell) is not canonical any more
    old = (b"\x80\x01\x20" + kernel.value_id(small) + bytes([140]) + kernel.encode(small))
    with pytest.raises(DecodeError):
        kernel.decode_multi(old)
    with pytest.raises(DecodeError):                      # nor is a big one written inline
        kernel.decode(b"\x80\x01" + kernel.encode(big))


def test_code_values_decode_to_executable_ops():
    """Encoded ops, closures and core definitions decode to values that run again."""
    import kernel
    from convex_repl.api import Session

    s = Session()
    op = s.eval("(compile '(let [x 2] (+ x 1)))").value
    back = kernel.decode_multi(kernel.encode_multi(op))
    assert kernel.equals(back, op) and type(back) is type(op)
    assert s.eval("(eval #[db03c10032012bc0b01101c0b01102])").printed == "3"   # (+ 1 2)
    assert s.eval("(#[ed8137] [1 2 3])").printed == "3"                        # core count
    f = s.eval("(fn [a b] (* a b))").value
    g = kernel.decode_multi(kernel.encode_multi(f))
    assert type(g).__name__ == "Fn" and kernel.equals(g, f)
    assert type(kernel.decode(bytes.fromhex("df03110111021103"))).__name__ == "DenseRecord"


def test_genesis_state_round_trips_through_cad3():
    """The whole genesis state (closures, multi-arity macros, libraries) encodes and decodes
    to an equal state that still runs: what state snapshots and caches rely on."""
    import kernel
    from convex_repl.api import Session
    from stdlib.genesis import genesis_state

    state = genesis_state()
    back = kernel.decode_multi(kernel.encode_multi(state))
    assert kernel.value_id(back) == kernel.value_id(state)
    s = Session(state=back)
    assert s.eval("(if (< 1 2) :yes :no)").printed == ":yes"
    assert s.eval("(defn f ([a] a) ([a b] b)) (f 1 2)").printed == "2"
    assert s.eval("(import convex.fungible :as fun) (fn? fun/build-token)").printed == "true"
