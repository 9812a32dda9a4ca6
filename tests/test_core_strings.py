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
         "keccak256": 181, "sha256": 182, "char": 140}


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
