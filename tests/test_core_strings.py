"""Text, naming, blob and hashing core functions (kernel/core/strings.py)."""
from __future__ import annotations

import hashlib

import pytest

from convex_repl.api import Session
from kernel.cvm import juice as J
from kernel.data.blobs import Blob, String
from kernel.cvm.registry import BY_CODE, CORE, DOCS
from kernel.core.strings import keccak256
from kernel.cvm.errors import ErrorValue

from cvm import err, fresh_ctx, same


def ev(src: str):
    r = Session().eval(src)
    assert r.error is None, f"{src}: {r.error} {r.message}"
    return r


def printed(src: str) -> str:
    return ev(src).printed


def text(src: str) -> str:
    """The characters of a string result."""
    v = ev(src).value
    assert type(v) is String, f"{src} gave {type(v).__name__}"
    return v.data.decode("utf-8")


CODES = {"str": 10, "print": 11, "split": 12, "join": 13, "name": 14, "keyword": 15,
         "symbol": 16, "address": 34, "blob": 35, "encoding": 136, "hash": 180,
         "keccak256": 181, "sha256": 182, "char": 140, "cat": 504, "splice": 505}


@pytest.mark.parametrize("name,code", sorted(CODES.items()))
def test_codes(name, code):
    assert CORE[name].code == code
    assert BY_CODE[code] is CORE[name]
    assert DOCS[name]["description"]


# --- str / print ---------------------------------------------------------------------------------

def test_str():
    assert text("(str 1 2)") == "12"
    assert text("(str)") == ""
    assert text("(str \"baz\")") == "baz"
    assert text("(str \\b \\a \\z)") == "baz"
    assert text("(str :foo)") == ":foo"
    assert text("(str 'foo)") == "foo"
    assert text("(str nil)") == "nil"
    assert text("(str true)") == "true"
    assert text("(str \"ok \\\"test\\\" foo\")") == 'ok "test" foo'
    assert text("(str 0xCAFE)") == "cafe"
    assert text("(str [1 \"a\"])") == '[1 "a"]'
    assert text("(str #12)") == "#12"
    assert text("(str \"é\" 1)") == "é1"
    assert ev("(count (str \"é\"))").value == 2


def test_print():
    assert text("(print 'foo)") == "foo"
    assert text("(print '[foo :bar])") == "[foo :bar]"
    assert text("(print \\a)") == "\\a"
    assert text("(print 0x123456)") == "0x123456"
    assert text("(print \"a\")") == '"a"'
    assert text("(print nil)") == "nil"
    assert err("(print)") == "ARITY"
    assert err("(print {} {})") == "ARITY"


def test_print_juice_limit():
    ctx = fresh_ctx(limit=30)
    with pytest.raises(ErrorValue) as e:
        CORE["print"].invoke(ctx, [String.of("x" * 100)], 1)
    assert e.value.code.name == "JUICE"


# --- split / join --------------------------------------------------------------------------------

def test_split():
    same("(split \"\" \\a)", "[\"\"]")
    same("(split \":\" \\:)", "[\"\" \"\"]")
    same("(split \"foo.bar\" \\.)", "[\"foo\" \"bar\"]")
    same("(split \"foo.bar\" \".\")", "[\"foo\" \"bar\"]")
    same("(split \"a1b\" 49)", "[\"a\" \"b\"]")
    same("(split \"aébéc\" \\é)", "[\"a\" \"b\" \"c\"]")
    same("(split \"a,,b\" \\,)", "[\"a\" \"\" \"b\"]")
    for bad in ("(split \"foo..bar\" \"..\")", "(split \"abc\" nil)", "(split \"abc\" \"\")",
                "(split 'abc \\a)", "(split nil \\a)"):
        assert err(bad) == "CAST", bad
    assert err("(split)") == "ARITY"
    assert err("(split nil nil nil)") == "ARITY"


def test_join():
    assert text("(join [\"\" \"\" \"\"] \\.)") == ".."
    assert text("(join [\"a\" \"b\"] \\,)") == "a,b"
    assert text("(join '(\"a\") \\,)") == "a"
    assert text("(join [] \\,)") == ""
    assert text("(join nil \\,)") == ""
    assert text("(join [\"a\" \"b\"] \"é\")") == "aéb"
    assert err("(join [\"foo\" 2] \\.)") == "CAST"
    assert err("(join #{\"a\"} \\.)") == "CAST"
    assert err("(join [\"a\"] nil)") == "CAST"
    assert err("(join [\"a\"])") == "ARITY"


# --- names ---------------------------------------------------------------------------------------

def test_name():
    assert text("(name :count)") == "count"
    assert text("(name 'foo)") == "foo"
    long_name = "x" * 200
    assert text(f"(name \"{long_name}\")") == long_name
    assert err("(name 1)") == "CAST"
    assert err("(name nil)") == "CAST"
    assert err("(name 1 3)") == "ARITY"


def test_keyword_symbol():
    same("(keyword \"foo\")", ":foo")
    same("(keyword 'foo)", ":foo")
    same("(keyword :foo)", ":foo")
    same("(keyword (name :state))", ":state")
    assert printed("(keyword? (keyword \"0\"))") == "true"
    same("(symbol \"foo\")", "'foo")
    same("(symbol :foo)", "'foo")
    same("(symbol (str 'count))", "(quote count)")
    assert err("(keyword (str))") == "ARGUMENT"
    assert err(f"(keyword \"{'k' * 129}\")") == "ARGUMENT"
    assert ev(f"(keyword \"{'k' * 128}\")").error is None
    assert err("(symbol (str))") == "ARGUMENT"
    for bad in ("(keyword nil)", "(keyword [])", "(keyword 1)", "(symbol nil)", "(symbol 1)"):
        assert err(bad) == "CAST", bad
    assert err("(symbol 1 2 3)") == "ARITY"
    assert err("(keyword)") == "ARITY"


# --- address / blob / encoding -------------------------------------------------------------------

def test_address():
    same("(address 12)", "#12")
    same("(address #7)", "#7")
    same("(address 0x0c)", "#12")
    same("(address 0x)", "#0")
    same("(address (blob #0))", "#0")
    same("(address 0x0000000000000100)", "#256")
    for bad in ("(address -1)", "(address 0xffffffffffffffff)", "(address 0x000000000000000001)",
                "(address 99999999999999999999)"):
        assert err(bad) == "ARGUMENT", bad
    for bad in ("(address :foo)", "(address \"1234\")", "(address nil)", "(address 1.0)"):
        assert err(bad) == "CAST", bad
    assert err("(address)") == "ARITY"
    assert err("(address 1 2)") == "ARITY"


def test_blob():
    assert text("(str (blob \"Cafebabe\"))") == "cafebabe"
    same("(blob \"\")", "0x")
    same("(blob 0x12)", "0x12")
    same("(blob -1)", "0xff")
    same("(blob 0)", "0x00")
    same("(blob 255)", "0x00ff")
    same("(blob -18446744073709551616)", "0xff0000000000000000")
    same("(blob false)", "0x00")
    same("(blob true)", "0x01")
    same("(blob #1)", "0x0000000000000001")
    same("(blob :ab)", "0x6162")
    same("(blob \\a)", "0x61")
    same("(blob *key*)", "*key*")
    assert printed("(blob? (blob (hash (encoding [1 2 3]))))") == "true"
    for bad in ("(blob nil)", "(blob \"xyz\")", "(blob \"abc\")", "(blob [])", "(blob 1.5)"):
        assert err(bad) == "CAST", bad
    assert err("(blob)") == "ARITY"


def test_encoding():
    same("(encoding 1)", "0x1101")
    same("(encoding nil)", "0x00")
    same("(encoding [1 2])", "0x800211011102")
    same("(encoding \"a\")", "0x300161")
    assert err("(encoding)") == "ARITY"


# --- hashes --------------------------------------------------------------------------------------

def test_hashes():
    same("(hash 0x)", "0xa7ffc6f8bf1ed76651c14756a061d662f580ff4de43b49fa82d80a4b80f8434a")
    same("(sha256 0x)", "0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    same("(sha256 0xdeadbeef)",
         "0x5f78c33274e43fa9de5659265c1d917e25c03722dcb0b8d27db8d5feaa813953")
    same("(keccak256 0x)", "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470")
    same("(keccak256 0x616263)",
         "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45")
    assert printed("(blob? (keccak256 0x00))") == "true"
    assert printed("(count (hash 0x01))") == "32"
    for bad in ("(hash nil)", "(hash #44)", "(hash \"abc\")", "(sha256 :foo)",
                "(keccak256 #44)"):
        assert err(bad) == "CAST", bad
    for bad in ("(hash)", "(hash nil nil)", "(keccak256)", "(sha256 0x 0x)"):
        assert err(bad) == "ARITY", bad


def test_keccak_known_vectors():
    assert keccak256(b"The quick brown fox jumps over the lazy dog").hex() == \
        "4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15"
    # padding edge cases and multi-block inputs run and give 32 bytes, all distinct
    outs = {keccak256(b"a" * n) for n in (0, 1, 134, 135, 136, 137, 271, 272, 1000)}
    assert len(outs) == 9 and all(len(o) == 32 for o in outs)


def test_hash_juice():
    ctx = fresh_ctx()
    CORE["sha256"].invoke(ctx, [Blob(b"abcd")], 1)
    assert ctx.juice == J.HASH + 4 * J.HASH_PER_BYTE
    assert hashlib.sha256(b"abcd").digest()


# --- char ----------------------------------------------------------------------------------------

def test_char():
    same("(char 97)", "\\a")
    same("(char \\b)", "\\b")
    same("(char 0x20)", "\\space")
    same("(char 0xDFBF)", "\\u07ff")
    for bad in ("(char 12345678)", "(char 9999999999999999999999)", "(char -1)",
                "(char 0xff)", "(char 0x6162)"):
        assert err(bad) == "ARGUMENT", bad
    for bad in ("(char \"Z\")", "(char :f)", "(char false)", "(char {})"):
        assert err(bad) == "CAST", bad
    assert err("(char)") == "ARITY"


# --- cat / splice (Convex 0.8.8: byte surgery; cases from the reference's MigrationFixesTest) ---

CAT = [
    ("(cat 0x1234 0xee99)", "0x1234ee99"), ("(cat 0x01 0x0203)", "0x010203"),
    ('(cat "foo" "bar")', '"foobar"'),
    # keywords and symbols give their names (no colon) and a string result
    ("(cat :foo :bar)", '"foobar"'), ('(cat :hello "-" :world)', '"hello-world"'),
    ("(cat 'ab :c)", '"abc"'),
    # raw bytes, never a cast: a string gives its UTF-8, not hex digits parsed
    ('(cat 0x00 "cafe")', "0x0063616665"), ('(cat 0x "cafe")', "0x63616665"),
    ("(cat #8 0x00)", "0x000000000000000800"),        # an address gives its 8 bytes, as a blob
    ("(cat)", "0x"), ("(cat 0x01)", "0x01"), ('(cat "ab")', '"ab"'), ("(cat :foo)", '"foo"'),
    ('(cat "a" (char 98))', '"ab"'), ("(cat (char 97) (char 98))", '"ab"'),
    ("(cat 0x00 (char 65))", "0x0041"), ("(cat 0x (char 0xe282ac))", "0xe282ac"),
    ("(cat nil nil)", "0x"), ("(cat 0x00 nil 0x11)", "0x0011"), ('(cat nil "abc")', '"abc"'),
    ("(cat nil 0xab)", "0xab"), ('(cat "\u00e9" 0x41)', '"\u00e9A"'),
]

SPLICE = [
    ('(splice "hello world" 6 "there")', '"hello there"'),
    ("(splice 0x00000000 1 0xffff)", "0x00ffff00"), ("(splice 0x1234 0 0xabcd)", "0xabcd"),
    ("(splice 0x000000 1 0xff)", "0x00ff00"), ("(splice 0x0000000000 2 0xffff)", "0x0000ffff00"),
    ("(splice 0x0000 1 0x11223344)", "0x0011223344"),  # runs past the end: grows
    ("(splice 0x1234 2 0xabcd)", "0x1234abcd"),        # at the count: appends
    ("(splice 0x1234 1 0x)", "0x1234"), ("(splice 0x 0 0xabcd)", "0xabcd"),
    ('(splice "foobar" 2 0x58)', '"foXbar"'), ("(splice #8 7 0x42)", "0x0000000000000042"),
    ('(splice "abc" 1 (char 88))', '"aXc"'), ("(splice 0x0000 1 (char 65))", "0x0041"),
    ("(splice 0x1234 1 nil)", "0x1234"), ("(splice nil 0 0xabcd)", "0xabcd"),
    ('(splice :abc 0 "x")', '"xbc"'),
]

CAT_SPLICE_ERRORS = [
    ("(cat 0x00 5)", "CAST"), ("(cat 123)", "CAST"), ("(cat 0x00 [1 2])", "CAST"),
    ("(cat true)", "CAST"), ("(cat nil 1.5)", "CAST"),
    ("(splice 0x0000 5 0xff)", "BOUNDS"), ("(splice 0x0000 -1 0xff)", "BOUNDS"),
    ("(splice nil 1 0xff)", "BOUNDS"), ("(splice 123 0 0xff)", "CAST"),
    ("(splice 0x0000 0 5)", "CAST"), ("(splice 0x0000 :x 0xff)", "CAST"),
    ("(splice 0x0000 nil 0xff)", "CAST"), ("(splice 0x0000 1.0 0xff)", "CAST"),
    ("(splice 0x0000 0)", "ARITY"), ("(splice 0x0000 0 0xff 0xff)", "ARITY"), ("(splice)", "ARITY"),
]


@pytest.mark.parametrize("src,expect", CAT + SPLICE)
def test_cat_splice(src, expect):
    r = ev(src)
    assert r.printed == expect, src


@pytest.mark.parametrize("src,code", CAT_SPLICE_ERRORS)
def test_cat_splice_errors(src, code):
    assert err(src) == code


def test_acceptance_cat_splice():
    assert printed("(cat 0x1234 0xee99)") == "0x1234ee99"
    assert printed('(splice "hello world" 6 "there")') == '"hello there"'


@pytest.mark.parametrize("dst,off,src", [
    ("0x00112233445566", "3", "0xaabb"), ("0x00112233", "2", "0xaabbccdd"),
    ("0x1234", "2", "0xabcd"), ('"hello world"', "6", '"there!"'), ('"abcdef"', "0", "0x58")])
def test_splice_is_cat_of_slices(dst, off, src):
    via = (f"(cat (slice {dst} 0 {off}) {src} "
           f"(slice {dst} (min (+ {off} (count {src})) (count {dst})) (count {dst})))")
    assert printed(f"(splice {dst} {off} {src})") == printed(via)


def test_cat_splice_juice():
    ctx = fresh_ctx()
    assert CORE["cat"].invoke(ctx, [Blob(b"ab"), String(b"cde")], 1) == Blob(b"abcde")
    assert ctx.juice == J.build_blob_cost(5)
    ctx = fresh_ctx()
    assert CORE["cat"].invoke(ctx, [None, String(b"ab")], 1) == String(b"ab")
    assert ctx.juice == J.build_string_cost(2)
    ctx = fresh_ctx()
    CORE["splice"].invoke(ctx, [Blob(bytes(100)), 3, Blob(b"xyz")], 1)
    assert ctx.juice == J.build_blob_cost(3)     # pays for the bytes written
    # the size is known before anything is built: a result beyond the juice left fails early
    ctx = fresh_ctx(limit=1000)
    with pytest.raises(ErrorValue) as e:
        CORE["cat"].invoke(ctx, [Blob(bytes(600)), Blob(bytes(600))], 1)
    assert str(e.value.code) == ":JUICE" and ctx.juice == 1000


def test_cat_splice_docs_examples():
    for name in ("cat", "splice"):
        doc = DOCS[name]
        assert doc["description"] and doc["errors"] and doc["signature"]
        for ex in doc["examples"]:
            assert printed(ex["code"]) == ex["result"], ex
