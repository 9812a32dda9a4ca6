"""The printer: exact reference forms for every type, display, and read/print round trips."""
from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings

from kernel import (Blob, BranchRef, ByteFlag, Char, CodedValue, DenseRecord, Extension,
                    Keyword, List, Map, Signed, String, Symbol, Syntax, Vector, decode, encode,
                    equals)
from lisp import display, print_value, read
from strategies import values


def bits(hex_bits: str) -> float:
    return struct.unpack(">d", bytes.fromhex(hex_bits))[0]


@pytest.mark.parametrize("value, text", [
    (None, "nil"), (True, "true"), (False, "false"), (0, "0"), (-17, "-17"),
    (2**64, "18446744073709551616"),
    (1.0, "1.0"), (0.1, "0.1"), (-0.0, "-0.0"), (0.0, "0.0"), (100.0, "100.0"),
    (1e35, "1.0E35"), (1e-5, "1.0E-5"), (0.001, "0.001"), (1e-4, "1.0E-4"),
    (9999999.0, "9999999.0"), (1e7, "1.0E7"), (123456.789, "123456.789"), (1e23, "1.0E23"),
    (-1.5e-3, "-0.0015"), (5e-324, "4.9E-324"), (1e-323, "9.9E-324"),
    (1.7976931348623157e308, "1.7976931348623157E308"), (2.0**-1074 * 3, "1.5E-323"),
    (float("nan"), "##NaN"), (float("inf"), "##Inf"), (float("-inf"), "##-Inf"),
    (bits("7ff8000000ffffff"), "#[1d7ff8000000ffffff]"),
    (bits("fff8000000000000"), "#[1dfff8000000000000]"),
])
def test_numbers(value, text):
    assert print_value(value) == text


def test_huge_integers_print_past_pythons_digit_limit():
    n = -(2**32767)
    text = print_value(n)
    assert len(text) == 9865 and text.startswith("-7077") and text.endswith("8928")
    assert read(text) == n


@pytest.mark.parametrize("cp, text", [
    (ord("a"), "\\a"), (10, "\\newline"), (13, "\\return"), (32, "\\space"), (9, "\\tab"),
    (12, "\\\f"), (8, "\\\b"), (0, "\\\x00"), (0xE9, "\\é"), (0x1F600, "\\😀"),
    (ord("\\"), "\\\\"),
])
def test_characters(cp, text):
    assert print_value(Char(cp)) == text


@pytest.mark.parametrize("data, text", [
    (b"", '""'), (b"plain", '"plain"'), (b'q"b\\s', '"q\\"b\\\\s"'),
    (b"\t\b\n\r\f", '"\\t\\b\\n\\r\\f"'), (b"'", "\"'\""), (b"\x01\x7f", '"\x01\x7f"'),
    ("é日😀".encode(), '"é日😀"'),
    (b"a\xffbc", '"a\ufffdc"'),            # as the reference: a bad byte also eats the next one
    (b"\xc3", '"\ufffd"'),
])
def test_strings(data, text):
    assert print_value(String(data)) == text


def test_names_blobs_addresses():
    assert print_value(Keyword("foo")) == ":foo"
    assert print_value(Symbol("a.b/c")) == "a.b/c"
    assert print_value(Blob(bytes.fromhex("00FF10"))) == "0x00ff10"
    assert print_value(Blob(b"")) == "0x"
    assert print_value(read("#77")) == "#77"


def test_collections():
    assert print_value(Vector.of(1, Vector.EMPTY, List.EMPTY)) == "[1 [] ()]"
    assert print_value(List.of(Symbol("+"), 1, 2)) == "(+ 1 2)"
    assert print_value(read("{:a 1, :b 2, :c 3}")) == "{:c 3,:a 1,:b 2}"   # canonical order
    assert print_value(Map.EMPTY) == "{}"
    assert print_value(read("#{1 2 3}")) == "#{2 3 1}"
    assert print_value(read("#Index {0x1234 1 0x12 0}")) == "#Index {0x12 0,0x1234 1}"
    assert print_value(read("#Index {}")) == "#Index {}"


def test_syntax():
    assert print_value(read("^{:foo true} [1 2 3]")) == "^{:foo true} [1 2 3]"
    assert print_value(Syntax(1)) == "^{} 1"
    assert print_value(read("[^:a x]")) == "[^{:a true} x]"


def test_records_and_opaque_values():
    key, sig = bytes(range(32)), bytes(range(64))
    signed = Signed(key, sig, 1)
    assert print_value(signed) == (f"#Signed {{:public-key 0x{key.hex()},:signature "
                                   f"0x{sig.hex()},:value 1}}")
    result = DenseRecord(0xDD, Vector.of(1, Keyword("ok"), None, None, None))
    assert print_value(result) == "#Result {:id 1,:result :ok}"
    assert print_value(DenseRecord(0xDD, Vector.of(None, None, None, None, None))) == \
        "#Result {:result nil}"
    assert print_value(DenseRecord(0xDF, Vector.of(1, 2, 3))) == "#[df03110111021103]"
    assert print_value(CodedValue(0xC0, False, 1)) == "#[c0b01101]"
    assert print_value(ByteFlag(2)) == "#[b2]"
    assert print_value(Extension(0xE3, 100)) == "#[e364]"


def test_values_with_missing_branches_print_as_encoding():
    big = Blob(bytes(200))                               # too big to embed: a branch ref
    partial = decode(encode(Vector.of(1, big)))
    text = print_value(partial)
    assert text == f"#[{encode(partial).hex()}]"
    assert equals(read(text), partial)
    nested = decode(encode(Vector.of(Vector.of(1, big))))     # only the inner one is partial
    assert print_value(nested) == f"[#[{encode(nested[0]).hex()}]]"
    assert print_value(BranchRef(bytes(32))) == "#Ref 0x" + "00" * 32


def test_deep_nesting_prints_without_recursion_limits():
    depth = 50_000
    v = Vector.EMPTY
    for _ in range(depth):
        v = Vector.of(v)
    assert print_value(v) == "[" * (depth + 1) + "]" * (depth + 1)


def test_display():
    assert display(String.of("a\"b")) == 'a"b'
    assert display(Char(ord("x"))) == "x"
    assert display(Char(10)) == "\n"
    assert display(Keyword("k")) == ":k"
    assert display(Vector.of(String.of("s"))) == '["s"]'
    assert display(None) == "nil"
    assert display(Blob(b"\x01")) == "0x01"


def test_not_a_cvm_value():
    with pytest.raises(TypeError):
        print_value("a python str")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.data_too_large])
@given(values())
def test_read_print_round_trip(v):
    text = print_value(v)
    assert equals(read(text), v), text


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                    HealthCheck.data_too_large])
@given(values(readable=False))
def test_any_value_prints(v):
    assert isinstance(print_value(v), str)
    assert isinstance(display(v), str)
