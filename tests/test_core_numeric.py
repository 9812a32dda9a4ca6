"""Numeric core functions: arithmetic, comparisons, casts and bitwise operations.

Most cases evaluate Convex Lisp through the public Session and compare the result with an
expected value (also read as Convex Lisp) using Convex `=`, so 1 and 1.0, 0.0 and -0.0 are
told apart and ##NaN equals itself.
"""
from __future__ import annotations

import math
import struct

import pytest

from kernel.data.equality import equals
from kernel.data.scalars import CANONICAL_NAN_BITS

from cvm import ok, session



def ev(src: str):
    return ok(src).value


def err(src: str):
    return session().eval(src).error


def juice(src: str) -> int:
    r = session().eval(src)
    assert r.error is None, r.message
    return r.juice


def check(src: str, expected: str):
    got, want = ev(src), ev(expected)
    assert equals(got, want), f"{src} => {got!r}, expected {want!r}"


# --- values ---------------------------------------------------------------------------------

VALUES = [
    # + - * with Long overflow into big Integers
    ("(+)", "0"), ("(+ 1 2)", "3"), ("(+ 0 1 2 1)", "4"), ("(+ 1.0)", "1.0"),
    ("(+ 1.0 2)", "3.0"), ("(+ -0.0 -0.0)", "-0.0"), ("(+ 0.0 -0.0)", "0.0"),
    ("(+ 9223372036854775807 9223372036854775807)", "18446744073709551614"),
    ("(+ -9223372036854775808 -9223372036854775808)", "-18446744073709551616"),
    ("(+ 9223372036854775807 1)", "9223372036854775808"),
    ("(+ 9223372036854775808 -1)", "9223372036854775807"),
    ("(long? (+ 9223372036854775808 -1))", "true"),
    ("(+ 9223372036854775808 0.5)", "9.223372036854775808E18"),
    ("(+ ##Inf ##-Inf)", "##NaN"),
    ("(- 6 1 2)", "3"), ("(- 10 1 -2 7)", "4"), ("(- -1.0)", "1.0"), ("(- 3 1.0)", "2.0"),
    ("(- 7.5 2.5)", "5.0"), ("(- 5)", "-5"), ("(- 0.0)", "-0.0"),
    ("(- -9223372036854775808)", "9223372036854775808"),
    ("(- -9223372036854775808 1)", "-9223372036854775809"),
    ("(*)", "1"), ("(* 2 10)", "20"), ("(* 65536 65536 65536 65536)", "18446744073709551616"),
    ("(* 1.0)", "1.0"), ("(* 0 10.0)", "0.0"), ("(* 10 2.5 2)", "50.0"), ("(* -1 0.0)", "-0.0"),
    ("(* 4294967296 4294967296 0)", "0"), ("(* ##Inf 0)", "##NaN"),
    # division always gives doubles
    ("(/ 1 2.0)", "0.5"), ("(/ 2 -0.5)", "-4.0"), ("(/ 2.0 0.0)", "##Inf"),
    ("(/ -2.0 0.0)", "##-Inf"), ("(/ 1 0)", "##Inf"), ("(/ 1 -0.0)", "##-Inf"),
    ("(/ 0 0)", "##NaN"), ("(/ ##NaN 2)", "##NaN"), ("(/ 4)", "0.25"), ("(/ 10 4)", "2.5"),
    ("(/ 0)", "##Inf"), ("(/ 100 2 5)", "10.0"),
    # inc / dec
    ("(inc 1)", "2"), ("(dec 1)", "0"), ("(dec -9)", "-10"),
    ("(inc 9223372036854775807)", "9223372036854775808"),
    ("(dec -9223372036854775808)", "-9223372036854775809"),
    ("(= 1000000000000000000000 (inc 999999999999999999999))", "true"),
    ("(inc -9223372036854775809)", "-9223372036854775808"),
    # abs / signum
    ("(abs (byte 10))", "10"), ("(abs -17)", "17"), ("(abs 1.0)", "1.0"), ("(abs -13.0)", "13.0"),
    ("(abs -0.0)", "0.0"), ("(abs ##NaN)", "##NaN"), ("(abs ##-Inf)", "##Inf"),
    ("(abs -9223372036854775808)", "9223372036854775808"),
    ("(abs -99999999999999999999)", "99999999999999999999"),
    ("(signum 1)", "1"), ("(signum -17)", "-1"), ("(signum 0)", "0"),
    ("(signum -0.0)", "-0.0"), ("(signum 0.0)", "0.0"), ("(signum -13.0)", "-1.0"),
    ("(signum ##-Inf)", "-1.0"), ("(signum ##NaN)", "##NaN"),
    ("(signum -99999999999999999999)", "-1"),
    # floor / ceil / sqrt / pow / exp
    ("(floor 0.001)", "0.0"), ("(floor 1)", "1.0"), ("(floor -1.5)", "-2.0"),
    ("(floor -0.0)", "-0.0"), ("(floor ##NaN)", "##NaN"), ("(floor (/ -1 0))", "##-Inf"),
    ("(ceil 0)", "0.0"), ("(ceil 1.2)", "2.0"), ("(ceil -0.5)", "-0.0"), ("(ceil (byte 2))", "2.0"),
    ("(sqrt 4.0)", "2.0"), ("(sqrt 4)", "2.0"), ("(sqrt -3)", "##NaN"), ("(sqrt ##Inf)", "##Inf"),
    ("(sqrt ##-Inf)", "##NaN"), ("(sqrt -0.0)", "-0.0"),
    ("(pow 2 2)", "4.0"), ("(pow -1.0 7)", "-1.0"), ("(pow 2 ##NaN)", "##NaN"),
    ("(pow ##NaN 2)", "##NaN"), ("(pow ##NaN 0)", "1.0"), ("(pow 1 ##NaN)", "##NaN"),
    ("(pow 1 ##Inf)", "##NaN"), ("(pow -8 (/ 1 3))", "##NaN"), ("(pow 0 -1)", "##Inf"),
    ("(pow -0.0 -3)", "##-Inf"), ("(pow 10 400)", "##Inf"), ("(pow -10 401)", "##-Inf"),
    ("(exp 0)", "1.0"), ("(exp -0.0)", "1.0"), ("(exp ##-Inf)", "0.0"), ("(exp ##NaN)", "##NaN"),
    ("(exp 1000)", "##Inf"),
    # integer division family
    ("(quot 4 10)", "0"), ("(quot -10 4)", "-2"), ("(rem 14 10)", "4"), ("(rem -1 -7)", "-1"),
    ("(div -10 3)", "-4"), ("(div 10 3)", "3"), ("(mod 0 -1)", "0"), ("(mod -10 3)", "2"),
    ("(mod 10 -3)", "1"), ("(mod -10 -3)", "2"),
    ("(mod 9999999999999999999999999 10000000000000000000000000)", "9999999999999999999999999"),
    ("(mod 10000000000000000000000001 -2)", "1"),
    ("(mod -10000000000000000000000001 7)", "3"),
    ("(quot -10000000000000000000000001 10)", "-1000000000000000000000000"),
    ("(rem -10000000000000000000000001 10)", "-1"),
    ("(quot -9223372036854775808 -1)", "-9223372036854775808"),  # Java long overflow
    # min / max return the argument unconverted
    ("(min 1 2 3 4)", "1"), ("(min 4 3 2)", "2"), ("(min 2.0 1.0 3.0)", "1.0"), ("(min 1 2.0)", "1"),
    ("(min ##NaN)", "##NaN"), ("(min ##NaN 1 ##NaN)", "##NaN"), ("(min -0.0)", "-0.0"),
    ("(min -0.0 0.0)", "-0.0"), ("(min 0.0 -0.0)", "0.0"), ("(min ##NaN 42)", "##NaN"),
    ("(min 1000000000000000000000 5000000000000000000000)", "1000000000000000000000"),
    ("(max 1 2 3 4)", "4"), ("(max 1 ##-Inf 3 ##NaN 4)", "##NaN"), ("(max 1 2.5 ##NaN)", "##NaN"),
    ("(max 1e30 10000000000000000000000000)", "1.0E30"), ("(max ##NaN 1)", "##NaN"),
    ("(max -0.0)", "-0.0"),
    # numeric comparison
    ("(==)", "true"), ("(== 0 0.0)", "true"), ("(== -0.0 0.0)", "true"), ("(== 7.0 7)", "true"),
    ("(== ##NaN ##NaN)", "false"), ("(== ##NaN 42)", "false"), ("(== ##Inf ##-Inf)", "false"),
    ("(== 9223372036854775808 -9223372036854775808)", "false"), ("(== 0 -0)", "true"),
    ("(< 1)", "true"), ("(<)", "true"), ("(>)", "true"), ("(<=)", "true"), ("(>=)", "true"),
    ("(< 1 2)", "true"), ("(< 2 2)", "false"), ("(< 3 2)", "false"), ("(<= 1 2 6)", "true"),
    ("(<= 2.0 2.0)", "true"), ("(> 3.0 1.0 7.0)", "false"), ("(>= 3.0 3.0)", "true"),
    ("(>= 3 2)", "true"), ("(<= ##NaN ##NaN)", "false"), ("(<= ##NaN 42)", "false"),
    ("(< ##NaN ##NaN)", "false"), ("(>= ##NaN 1.0)", "false"),
    ("(> 9999999999999999999999 9223372036854775808 2 -9223372036854775808)", "true"),
    ("(>= 1 2 3 '*balance*)", "false"),   # stops at the first failing pair
    ("(!= 1 2)", "true"), ("(!= 1 1.0)", "false"), ("(!=)", "false"), ("(!= ##NaN ##NaN)", "true"),
    # casts
    ("(long \\a)", "97"), ("(long 0xff)", "-1"), ("(long 0xff00000050)", "-4294967216"),
    ("(long 0x0000000000000000FFFFFFFFFFFFFFFF)", "-1"), ("(long 0x)", "0"),
    ("(long 10.999)", "10"), ("(long -10.999)", "-10"),
    ("(long 9223372036854775807.0)", "9223372036854775807"),
    ("(long 9223372036854775809.0)", "9223372036854775807"),
    ("(long 9223372036854775807)", "9223372036854775807"), ("(long (address 1))", "1"),
    ("(int 1)", "1"), ("(int (byte 128))", "128"), ("(int 2147483648)", "2147483648"),
    ("(int 0xff)", "-1"), ("(int 0x)", "0"), ("(int 0xffffffffffffffffffffffff)", "-1"),
    ("(int 0x00ffffffffffffffffffffff)", "309485009821345068724781055"),
    ("(int 0.0)", "0"), ("(int 10.999)", "10"),
    ("(int 9223372036854775807.0)", "9223372036854775807"),
    ("(int 1e50)", "100000000000000000000000000000000000000000000000000"),
    ("(int -9223372036854775808)", "-9223372036854775808"), ("(int \\a)", "97"),
    ("(double -13)", "-13.0"), ("(double (byte -1))", "255.0"), ("(double 1)", "1.0"),
    ("(double #[1d7ff8000000ffffff])", "##NaN"),
    ("(double 9223372036854775807)", "9.223372036854775807E18"),
    ("(byte 255)", "255"), ("(byte (byte -1))", "255"), ("(byte 256)", "0"), ("(byte 0x1234)", "52"),
    ("(byte 0x)", "0"), ("(byte -9223372036854775809)", "255"),
    ("(char 97)", "\\a"), ("(char 0x20)", "\\space"), ("(char 0xDFBF)", "\\u07ff"),
    ("(char \\x)", "\\x"), ("(char 0x41)", "\\A"),
    # bitwise
    ("(bit-and 12 10)", "8"), ("(bit-or 12 10)", "14"), ("(bit-xor 12 10)", "6"),
    ("(bit-or (long 0xff00) (byte 1))", "-255"), ("(bit-not (long 0xffffffffffffffff))", "0"),
    ("(bit-not 0)", "-1"), ("(bit-and -1 9223372036854775807)", "9223372036854775807"),
    # through apply and higher-order use
    ("(apply + [1 2 3])", "6"),
]


@pytest.mark.parametrize("src,expected", VALUES)
def test_values(src, expected):
    check(src, expected)


ERRORS = [
    ("(+ nil)", "CAST"), ("(+ 1 #42)", "CAST"), ("(+ #42 1.0)", "CAST"), ("(- nil)", "CAST"),
    ("(- 1 2 nil)", "CAST"), ("(-)", "ARITY"), ("(* nil)", "CAST"), ("(* :foo)", "CAST"),
    ("(/)", "ARITY"), ("(/ #7 #0)", "CAST"), ("(/ 1 :a)", "CAST"),
    ("(inc nil)", "CAST"), ("(inc true)", "CAST"), ("(inc)", "ARITY"), ("(inc 1 2)", "ARITY"),
    ("(inc (str 1))", "CAST"), ("(inc 1.0)", "CAST"), ("(dec nil)", "CAST"), ("(dec)", "ARITY"),
    ("(abs :foo)", "CAST"), ("(abs)", "ARITY"), ("(signum #1)", "CAST"), ("(signum 0xabab)", "CAST"),
    ("(signum nil)", "CAST"), ("(floor #666)", "CAST"), ("(floor nil)", "CAST"), ("(ceil [])", "CAST"),
    ("(ceil)", "ARITY"), ("(sqrt :foo)", "CAST"), ("(sqrt false)", "CAST"), ("(sqrt)", "ARITY"),
    ("(pow nil 2)", "CAST"), ("(pow 2)", "ARITY"), ("(exp)", "ARITY"), ("(exp :a)", "CAST"),
    ("(quot 0 0)", "ARGUMENT"), ("(quot :a 7)", "CAST"), ("(quot 7 nil)", "CAST"),
    ("(quot)", "ARITY"), ("(quot 1 2 3)", "ARITY"), ("(div 3 0)", "ARGUMENT"),
    ("(div -1567567567567564756767586786785688 0)", "ARGUMENT"), ("(mod 10 0)", "ARGUMENT"),
    ("(mod :a 7)", "CAST"), ("(mod 7 nil)", "CAST"), ("(mod 1 2 3)", "ARITY"),
    ("(rem :a 7)", "CAST"), ("(rem 7 nil)", "CAST"), ("(mod 1.0 2)", "CAST"),
    ("(== 1 :foo)", "CAST"), ("(== [])", "CAST"), ("(== nil nil)", "CAST"), ("(> nil)", "CAST"),
    ("(> :foo)", "CAST"), ("(< 1 :foo)", "CAST"), ("(<= 1 3 \"hello\")", "CAST"),
    ("(>= nil 1.0)", "CAST"), ("(> 3 nil 2)", "CAST"), ("(!= 1 :a)", "CAST"),
    ("(min true)", "CAST"), ("(min \\c)", "CAST"), ("(min ##NaN true)", "CAST"),
    ("(min true ##NaN)", "CAST"), ("(min)", "ARITY"), ("(max)", "ARITY"), ("(max 1 nil)", "CAST"),
    ("(long ##Inf)", "ARGUMENT"), ("(long ##NaN)", "ARGUMENT"), ("(long 1e50)", "ARGUMENT"),
    ("(long 9223372036854775808)", "ARGUMENT"), ("(long 1 2)", "ARITY"), ("(long nil nil)", "ARITY"),
    ("(long :foo)", "CAST"), ("(long true)", "CAST"), ("(long false)", "CAST"), ("(long nil)", "CAST"),
    ("(long \"1\")", "CAST"),
    ("(int ##Inf)", "ARGUMENT"), ("(int true)", "CAST"), ("(int 1 2)", "ARITY"), ("(int nil)", "CAST"),
    ("(int [])", "CAST"),
    ("(double #7)", "CAST"), ("(double true)", "CAST"), ("(double)", "ARITY"),
    ("(double :foo :bar)", "ARITY"), ("(double \\a)", "CAST"),
    ("(byte :foo)", "CAST"), ("(byte)", "ARITY"), ("(byte nil nil)", "ARITY"), ("(byte 1.5)", "CAST"),
    ("(char 12345678)", "ARGUMENT"), ("(char 9999999999999999999999)", "ARGUMENT"),
    ("(char (long 0xff00000050))", "ARGUMENT"), ("(char -1)", "ARGUMENT"), ("(char \"Z\")", "CAST"),
    ("(char :f)", "CAST"), ("(char false)", "CAST"), ("(char {})", "CAST"), ("(char)", "ARITY"),
    ("(char 0xff)", "ARGUMENT"), ("(char 0x4142)", "ARGUMENT"), ("(char 0x)", "ARGUMENT"),
    ("(char 1.0)", "CAST"),
    ("(bit-and nil 1)", "CAST"), ("(bit-and)", "ARITY"), ("(bit-and 0xFF)", "ARITY"),
    ("(bit-or nil 1)", "CAST"), ("(bit-or 20 :foo)", "CAST"), ("(bit-or)", "ARITY"),
    ("(bit-xor 1 9223372036854775808)", "CAST"), ("(bit-not nil)", "CAST"), ("(bit-not :foo)", "CAST"),
    ("(bit-not :foo :bar)", "ARITY"), ("(bit-not 1.0)", "CAST"),
]


@pytest.mark.parametrize("src,code", ERRORS)
def test_errors(src, code):
    assert err(src) == code


def test_division_consistency():
    for a, b in [(10, 3), (-10, 3), (10, -3), (-10, -3), (10000000, 1), (1, 10000000)]:
        assert ev(f"(== {a} (+ (* {b} (quot {a} {b})) (rem {a} {b})))") is True
    for a, b in [(10, 3), (-10, 3), (7, 7), (-7, 2)]:
        assert ev(f"(== {a} (+ (* {b} (div {a} {b})) (mod {a} {b})))") is True


def test_reference_quirk_long_by_big_integer_is_nil():
    # the reference's Long quot/rem/div by a big Integer produce nil (no Long result)
    assert ev("(quot 5 100000000000000000000)") is None
    assert ev("(rem 5 100000000000000000000)") is None
    assert ev("(div 5 100000000000000000000)") is None
    assert ev("(mod 5 100000000000000000000)") == 5


def test_nan_results_are_canonical():
    for src in ["(+ ##Inf ##-Inf)", "(* ##Inf 0)", "(- ##NaN)", "(sqrt -1)", "(/ 0.0 0)",
                "(abs ##NaN)", "(double #[1d7ff8000000ffffff])", "(pow -8 0.5)",
                "(floor ##NaN)", "(signum ##NaN)", "(min 1 ##NaN)"]:
        v = ev(src)
        assert type(v) is float and v != v
        assert struct.pack(">d", v) == CANONICAL_NAN_BITS, src


def test_results_keep_types():
    assert type(ev("(+ 1 2)")) is int
    assert type(ev("(+ 1 2.0)")) is float
    assert type(ev("(/ 4 2)")) is float
    assert ev("(long? (* 3037000500 3037000500))") is False
    assert ev("(int? (* 3037000500 3037000500))") is True


def test_big_integer_limit():
    # big Integers are limited to 4096 bytes; larger results fail rather than grow forever
    assert err("(let [x (* 4294967296 4294967296 4294967296 4294967296)] "
               "(loop [v x i 0] (if (< i 20) (recur (* v v) (inc i)) v)))") == "ARGUMENT"


def _invoke(name, *args):
    """Call a core function directly; returns (result, juice charged)."""
    from kernel.cvm.context import Context
    from kernel.cvm.registry import CORE

    ctx = Context(session().state, session().address)
    return CORE[name].invoke(ctx, list(args), 1), ctx.juice


def test_juice():
    # + - * charge a running sum of the largest argument size so far (at least 8 bytes
    # each), then Juice.ARITHMETIC (20)
    assert _invoke("+") == (0, 20)
    assert _invoke("+", 1, 2) == (3, 8 + 8 + 20)
    assert _invoke("*", 2, 3, 4)[1] == 8 * 3 + 20
    big = 1 << 200                        # 26 bytes
    assert _invoke("+", 1, big, 1)[1] == 8 + 26 + 26 + 20
    assert _invoke("-", 1.5)[1] == 8 + 20
    assert _invoke("/", 1, 2)[1] == 20
    assert _invoke("inc", 1)[1] == 20
    assert _invoke("long", 1.5) == (1, 20)
    # comparisons and min/max charge NUMERIC_COMPARE (10) whatever the argument count
    assert _invoke("<", 1, 2, 3, 4) == (True, 10)
    assert _invoke("==") == (True, 10)
    assert _invoke("max", 1, 2, 3) == (3, 10)
    assert _invoke("bit-and", 6, 3) == (2, 20)


def test_inf_printing_roundtrip():
    assert ev("(/ 1 0)") == math.inf
    assert ev("(- (/ 1 0))") == -math.inf
