"""The reader: every literal and form kind, reader macros, token precedence, errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from kernel import (NAN, Address, Blob, ByteFlag, Char, DenseRecord, Extension, Index, Keyword,
                    List, Map, PartialBlob, Set, Signed, String, Symbol, Syntax, Vector, encode,
                    equals)
from lisp import IncompleteInput, ReaderError, print_value, read, read_all

CONFORMANCE = Path("/work/shared/conformance")
VECTORS = [json.loads(line) for name in ("encoding.jsonl", "encoding-more.jsonl")
           for line in (CONFORMANCE / name).read_text(encoding="utf-8").splitlines() if line]


def same(a, b) -> bool:
    return equals(a, b)


@pytest.mark.parametrize("row", VECTORS, ids=lambda r: r["source"][:40])
def test_conformance_sources_read_and_encode(row):
    assert encode(read(row["source"])).hex() == row["encoding"]


# --- literals ----------------------------------------------------------------------------------

@pytest.mark.parametrize("src, value", [
    ("nil", None), ("true", True), ("false", False),
    ("0", 0), ("-0", 0), ("007", 7), ("-9205076163368583168", -9205076163368583168),
    ("9223372036854775808", 2**63),
    ("-123456789012345678901234567890", -123456789012345678901234567890),
    ("1.0", 1.0), ("-1.5E-3", -1.5e-3), ("1e10", 1e10), ("1E10", 1e10), ("-0.0", -0.0),
    ("1.0E35", 1e35), ("1e400", float("inf")), ("1.5d", 1.5), ("##NaN", NAN),
    ("##Inf", float("inf")), ("##-Inf", float("-inf")),
    ("#0", Address(0)), ("#12", Address(12)), ("#0000000000000000000000012", Address(12)),
    ("0x", Blob(b"")), ("0xFFab", Blob(b"\xff\xab")),
    (":foo", Keyword("foo")), (":a/b", None), ("::foo", Keyword(":foo")), (":/", Keyword("/")),
    ("foo", Symbol("foo")), ("+", Symbol("+")), ("*address*", Symbol("*address*")),
    ("a.b.c", Symbol("a.b.c")), ("/", Symbol("/")), ("a*+!-_?<>=!", Symbol("a*+!-_?<>=!")),
    ("nil?", Symbol("nil?")), ("truex", Symbol("truex")), ("+1", Symbol("+1")),
    (".5", Symbol(".5")), ("-", Symbol("-")), ("-a", Symbol("-a")), ("-1ab", Symbol("-1ab")),
    ("foo#:bar", Symbol("foo#:bar")), ("#%foo", Symbol("#%foo")), ("é", Symbol("é")),
])
def test_atoms(src, value):
    if src == ":a/b":      # a keyword followed by a path step: (lookup :a b)
        assert print_value(read(src)) == "(lookup :a b)"
        return
    assert same(read(src), value)


def test_big_integer_limits():
    biggest = 2**32767 - 1                       # 4096 bytes of two's complement
    text = print_value(biggest)                  # str() refuses more than 4300 digits
    assert read(text) == biggest
    assert read("-" + text) == -biggest
    assert read(print_value(-biggest - 1)) == -biggest - 1
    with pytest.raises(ReaderError, match="out of range"):
        read(print_value(biggest + 1))
    with pytest.raises(ReaderError, match="out of range"):
        read("9" * 20000)
    assert read("0" * 10000 + "5") == 5


def test_float_suffix_rounds_to_float32():
    assert read("1.1f") == 1.100000023841858
    assert read("1e39f") == float("inf")


@pytest.mark.parametrize("src, cp", [
    ("\\a", 97), ("\\u0065", 0x65), ("\\u00e9", 0xE9), ("\\newline", 10), ("\\space", 32),
    ("\\tab", 9), ("\\return", 13), ("\\formfeed", 12), ("\\backspace", 8), ("\\é", 0xE9),
    ("\\😀", 0x1F600), ("\\u", ord("u")), ("\\\\", ord("\\")), ("\\(", ord("(")),
    ("\\ ", 32), ("\\\n", 10), ("\\\udc00", 0xDC00),
])
def test_characters(src, cp):
    assert read(src) == Char(cp)


def test_character_takes_longest_name_then_stops():
    assert [print_value(v) for v in read_all("\\newlinex \\ab \\u00e9f")] == \
        ["\\newline", "x", "\\a", "b", "\\é", "f"]


@pytest.mark.parametrize("src, text", [
    ('""', ""), ('"abc"', "abc"), ('"a\\"b"', 'a"b'), ('"\\\\"', "\\"),
    ('"\\n\\t\\r\\b\\f"', "\n\t\r\b\f"), ('"\\\'"', "'"), ('"\\u0041\\u00e9"', "Aé"),
    ('"\\101\\7\\0\\377"', "A\x07\x00\xff"), ('"\\777"', "?7"),
    ('"\\ud83d\\ude00"', "😀"), ('"\\ud83d!"', "?!"), ('"multi\nline"', "multi\nline"),
    ('"日本語"', "日本語"),
])
def test_strings(src, text):
    assert read(src) == String.of(text)


# --- data structures ---------------------------------------------------------------------------

def test_collections():
    assert read("[1 2 3]") == Vector.of(1, 2, 3)
    assert read("()") == List.EMPTY
    assert read("(1 (2) [])") == List.of(1, List.of(2), Vector.EMPTY)
    assert read("{:a 1, :b 2}") == Map.from_pairs([(Keyword("a"), 1), (Keyword("b"), 2)])
    assert read("{:a 1 :a 2}") == Map.from_pairs([(Keyword("a"), 2)])
    assert read("#{1 2 2}") == Set.from_seq([1, 2])
    assert read("#Index {0x12 0 \"ab\" 1}") == Index.from_pairs([(Blob(b"\x12"), 0),
                                                                  (String.of("ab"), 1)])


def test_commas_comments_and_adjacency():
    assert read(",,[1,2,,3],") == Vector.of(1, 2, 3)
    assert read("; comment\n[1 ; two\n 2]; tail") == Vector.of(1, 2)
    assert read("(+(+ 2 3)(+ 4 5))") == read("(+ (+ 2 3) (+ 4 5))")
    assert [print_value(v) for v in read_all('(foo)bar[1 2]"s":k\\c#8{}')] == \
        ["(foo)", "bar", "[1 2]", '"s"', ":k", "\\c", "#8", "{}"]
    assert [print_value(v) for v in read_all("1\"a\"2'x")] == ['1', '"a"', '2', "(quote x)"]
    assert read_all("#9a") == [Address(9), Symbol("a")]
    assert read_all("0x12zz") == [Blob(b"\x12"), Symbol("zz")]
    assert read_all("") == [] and read_all(" ;only a comment") == []


# --- reader macros -----------------------------------------------------------------------------

@pytest.mark.parametrize("src, printed", [
    ("'x", "(quote x)"), ("`x", "(quasiquote x)"), ("~x", "(unquote x)"),
    ("~@x", "(unquote-splicing x)"),
    ("'(a ~b ~@c)", "(quote (a (unquote b) (unquote-splicing c)))"),
    ("@foo", "(resolve foo)"), ("@convex.core", "(resolve convex.core)"),
    ("foo/bar", "(lookup foo bar)"), ("#9/resolve", "(lookup #9 resolve)"),
    ("foo.bar/baz", "(lookup foo.bar baz)"), ("a/b/c", "(lookup (lookup a b) c)"),
    ("@a/b", "(lookup (resolve a) b)"), ("(f)/x", "(lookup (f) x)"), ("a//", "(lookup a /)"),
    ("'a/b", "(quote (lookup a b))"), ("[#_ 1 2 #_[3]]", "[2]"), ("{#_:a :b 1}", "{:b 1}"),
    ("#_ 1 2", "2"),
])
def test_reader_macros(src, printed):
    assert print_value(read(src)) == printed


def test_syntax_metadata_forms():
    tag = Keyword("tag")
    assert read("^{:foo 1} x") == Syntax(Symbol("x"), Map.from_pairs([(Keyword("foo"), 1)]))
    assert read("^:kw [1]").meta == Map.from_pairs([(Keyword("kw"), True)])
    assert read("^Foo 127").meta == Map.from_pairs([(tag, Symbol("Foo"))])
    assert read('^"t" 1').meta == Map.from_pairs([(tag, String.of("t"))])
    nested = read("^:a ^{:a 2, :b 3} x")
    assert nested.datum == Symbol("x")
    assert nested.meta == read("{:a true :b 3}")
    # syntax objects inside metadata are stripped, as in the reference
    assert read("^[^:q z] 1").meta == Map.from_pairs([(tag, Vector.of(Symbol("z")))])
    assert read("^:a x/y").datum == read("x/y")


def test_tagged_values():
    signed = read("#Signed {:public-key 0x" + "11" * 32 + ", :signature 0x" + "22" * 64
                  + ", :value [1]}")
    assert type(signed) is Signed and signed.value == Vector.of(1)
    result = read("#Result {:id 3 :result :ok :log [] :info {:juice 5}}")
    assert type(result) is DenseRecord and result.tag == 0xDD
    assert result.fields == (3, Keyword("ok"), None, Vector.EMPTY, read("{:juice 5}"))
    assert read("#Result {:id :x :log 1 :info 2}").fields == (None,) * 5
    assert read("#Whatever [1 2]") == Vector.of(1, 2)     # unknown tags read as the form


def test_cad3_literals():
    assert read("#[b2]") == ByteFlag(2)
    assert read("#[e364]") == Extension(0xE3, 100)
    assert read("#[ea05]") == Address(5)
    assert read("#[C0B01101]").encoding() == bytes.fromhex("c0b01101")
    tree = next(r for r in VECTORS if r["source"].startswith("#[3190"))
    assert type(read(tree["source"])) is PartialBlob


# --- errors ------------------------------------------------------------------------------------

def error_of(src: str) -> ReaderError:
    with pytest.raises(ReaderError) as info:
        read_all(src)
    return info.value


@pytest.mark.parametrize("src, line, column, message", [
    (")", 1, 1, "unexpected"),
    ("[1 2)", 1, 5, "unexpected"),
    ("(a\n  b))", 2, 5, "unexpected"),
    ("1a", 1, 1, "bad number"), ("-1a", 1, 1, "bad number"), ("1.5.5", 1, 1, "bad double"),
    ("1/2", 1, 1, "bad number"), ("1e+5", 1, 1, "bad number"), ("1.", 1, 1, "bad number"),
    ("[x\n 1:]", 2, 2, "bad number"),
    ("0x1", 1, 1, "even number of hex"), ("{1}", 1, 1, "even number of forms"),
    ("  ##foo", 1, 3, "special literal"), ("#99999999999999999999", 1, 1, "address"),
    ("#[123]", 1, 1, "malformed #[hex]"), ("#[ff]", 1, 1, "CAD3"),
    ("#Index [1]", 1, 1, "must tag a map"), ("#Index {1 2}", 1, 1, "blob-like"),
    ("#Signed {}", 1, 1, ":public-key"),
    ('"a\\qb"', 1, 3, "invalid escape"), ('"\\u12"', 1, 2, "invalid escape"),
    ("(a \u00a0b)", 1, 4, "unexpected character"), ("(a \fb)", 1, 4, "unexpected character"),
    ("/foo", 1, 1, "unexpected"), ("nil/x", 1, 4, "nil"),
    (":" + "k" * 129, 1, 1, "128 bytes"), ("s" * 129, 1, 1, "128 bytes"),
    ("\\", 1, 1, "unexpected character"),
    ("(#_#_1 2 3)", 1, 4, "unexpected '#_'"),       # as the reference: no stacked discards
])
def test_error_positions(src, line, column, message):
    e = error_of(src)
    assert not isinstance(e, IncompleteInput)
    assert (e.line, e.column) == (line, column), str(e)
    assert message in e.message
    assert f"line {line}, column {column}" in str(e)


@pytest.mark.parametrize("src", [
    "(", "(1 2", "[{", "#{", "(a\n(b", '"abc', '("a\\', '"\\u00', "'", "^:a", "^", "[1 #_",
    "#[12", "#_", "#Index", "(quote", "~@",
])
def test_incomplete_input(src):
    assert isinstance(error_of(src), IncompleteInput)


def test_read_wants_exactly_one_form():
    with pytest.raises(ReaderError, match="no form"):
        read("  ; nothing\n")
    with pytest.raises(ReaderError, match="found 2"):
        read("1 2")
    assert read("#_ 1 2") == 2


def test_reader_error_is_a_value_error():
    assert issubclass(ReaderError, ValueError)
    assert issubclass(IncompleteInput, ReaderError)


def test_deep_nesting_reads():
    depth = 20_000
    v = read("[" * depth + "]" * depth)
    for _ in range(depth - 1):
        v = v[0]
    assert v == Vector.EMPTY
    assert read("'" * 5000 + "x") is not None
    try:    # metadata is unwrapped recursively: past the recursion limit, a ReaderError
        assert type(read("^" + "[" * 5000 + "]" * 5000 + " x")) is Syntax
    except ReaderError as e:
        assert "nested too deeply" in e.message
