"""Numeric core functions: arithmetic, comparison, numeric casts and bitwise operations.

What they compute -- the reference's number semantics, Java doubles and Longs included -- is
kernel.core.arithmetic; here are the core functions themselves, with their juice, argument
checks and documentation.
"""
from __future__ import annotations

from typing import Optional

from kernel.cvm import juice as J
from kernel.cvm.errors import ARGUMENT, CAST, arg_cast_error, error
from kernel.data.scalars import NAN, Char
from kernel.cvm.registry import core
from kernel.core.arithmetic import (LONG_MAX, LONG_MIN, add2, blob_data, canonical_nan,
                                    cast_integer, cast_long, checked_integer, compare, fdiv,
                                    int_div, int_mod, int_quot, int_rem, is_number, java_ceil,
                                    java_exp, java_floor, java_pow, java_sqrt, mul2, negate,
                                    number_cast_error, precost_linear, precost_multiply, sub2,
                                    to_double, value_cast_error)


# ---------------------------------------------------------------------------------------------
# Arithmetic

_NUM_ERR = "if any argument is not a number"


def _charge_sizes(ctx, args: list) -> None:
    """+, - and * first charge for the sizes of their arguments (all must be numbers)."""
    cost = precost_linear(args)
    if cost < 0:
        raise number_cast_error(args)
    if cost:
        ctx.charge(cost)


@core("+", 160, doc={
    "description": "Adds numbers. Integers add exactly (a result outside the 64-bit range "
                   "becomes a big Integer); if any argument is a Double the sum is a Double. "
                   "With no arguments, returns 0.",
    "signature": ["[& nums]"],
    "examples": [{"code": "(+ 1 2 3)", "result": "6"},
                 {"code": "(+ 1 2.5)", "result": "3.5"},
                 {"code": "(+ 9223372036854775807 1)", "result": "9223372036854775808"}],
    "errors": {"CAST": _NUM_ERR}})
def _plus(ctx, args, d):
    _charge_sizes(ctx, args)
    if not args:
        result = 0
    else:
        result = args[0]
        for b in args[1:]:
            result = add2(result, b)
    ctx.charge(J.ARITHMETIC)
    return result


@core("-", 161, arity=(1, None), doc={
    "description": "Subtracts the remaining arguments from the first, or negates a single "
                   "argument. Integer results are exact; any Double argument gives a Double.",
    "signature": ["[x]", "[x & more]"],
    "examples": [{"code": "(- 10 3 2)", "result": "5"},
                 {"code": "(- 5)", "result": "-5"},
                 {"code": "(- 3 1.0)", "result": "2.0"}],
    "errors": {"CAST": _NUM_ERR, "ARITY": "if called with no arguments"}})
def _minus(ctx, args, d):
    _charge_sizes(ctx, args)
    result = args[0]
    if len(args) == 1:
        result = negate(result)
    else:
        for b in args[1:]:
            result = sub2(result, b)
    ctx.charge(J.ARITHMETIC)
    return result


@core("*", 162, doc={
    "description": "Multiplies numbers. Integer products are exact (big Integers as needed); "
                   "any Double argument gives a Double. With no arguments, returns 1.",
    "signature": ["[& nums]"],
    "examples": [{"code": "(* 2 3 4)", "result": "24"},
                 {"code": "(* 10 2.5)", "result": "25.0"}],
    "errors": {"CAST": _NUM_ERR}})
def _times(ctx, args, d):
    _charge_sizes(ctx, args)
    if not args:
        result = 1
    else:
        result = args[0]
        for b in args[1:]:
            result = mul2(result, b)
    ctx.charge(J.ARITHMETIC)
    return result


@core("/", 163, arity=(1, None), doc={
    "description": "Divides the first argument by each of the others, or returns the "
                   "reciprocal of a single argument. Always computes with Doubles, so the "
                   "result is a Double; division by zero gives ##Inf, ##-Inf or ##NaN.",
    "signature": ["[x]", "[x & divisors]"],
    "examples": [{"code": "(/ 10 4)", "result": "2.5"},
                 {"code": "(/ 2)", "result": "0.5"},
                 {"code": "(/ 1 0)", "result": "##Inf"}],
    "errors": {"CAST": _NUM_ERR, "ARITY": "if called with no arguments"}})
def _divide(ctx, args, d):
    if not is_number(args[0]):
        raise number_cast_error(args)
    result = to_double(args[0])
    if len(args) == 1:
        result = fdiv(1.0, result)
    else:
        for b in args[1:]:
            if not is_number(b):
                raise number_cast_error(args)
            result = fdiv(result, to_double(b))
    ctx.charge(J.ARITHMETIC)
    return canonical_nan(result)


def _unary_double(name: str, code: int, fn, description: str, examples: list):
    @core(name, code, arity=1, doc={
        "description": description,
        "signature": ["[x]"],
        "examples": examples,
        "errors": {"CAST": "if the argument is not a number"}})
    def impl(ctx, args, d):
        x = args[0]
        if not is_number(x):
            raise arg_cast_error(0, x, "Number")
        r = fn(to_double(x))
        ctx.charge(J.ARITHMETIC)
        return canonical_nan(r)
    return impl


_unary_double("floor", 164, java_floor,
              "Rounds a number down to the nearest integer value, returned as a Double.",
              [{"code": "(floor 2.7)", "result": "2.0"}, {"code": "(floor -1.5)", "result": "-2.0"}])
_unary_double("ceil", 165, java_ceil,
              "Rounds a number up to the nearest integer value, returned as a Double.",
              [{"code": "(ceil 2.1)", "result": "3.0"}, {"code": "(ceil 4)", "result": "4.0"}])
_unary_double("sqrt", 166, java_sqrt,
              "Square root of a number as a Double. Negative arguments give ##NaN.",
              [{"code": "(sqrt 16)", "result": "4.0"}, {"code": "(sqrt -1)", "result": "##NaN"}])


@core("abs", 167, arity=1, doc={
    "description": "Absolute value of a number, keeping its type (the absolute value of the "
                   "most negative Long is a big Integer; -0.0 gives 0.0).",
    "signature": ["[x]"],
    "examples": [{"code": "(abs -7)", "result": "7"}, {"code": "(abs -2.5)", "result": "2.5"}],
    "errors": {"CAST": "if the argument is not a number"}})
def _abs(ctx, args, d):
    x = args[0]
    t = type(x)
    if t is int:
        r = checked_integer(abs(x))
    elif t is float:
        if x > 0:
            r = x
        elif x == 0:
            r = 0.0
        else:
            r = canonical_nan(-x)
    else:
        raise arg_cast_error(0, x, "Number")
    ctx.charge(J.ARITHMETIC)
    return r


@core("signum", 168, arity=1, doc={
    "description": "Sign of a number: -1, 0 or 1 for integers; -1.0, 1.0 or the argument "
                   "itself (for zeros and ##NaN) for Doubles.",
    "signature": ["[x]"],
    "examples": [{"code": "(signum -42)", "result": "-1"},
                 {"code": "(signum 0.5)", "result": "1.0"}],
    "errors": {"CAST": "if the argument is not a number"}})
def _signum(ctx, args, d):
    x = args[0]
    t = type(x)
    if t is int:
        r = (x > 0) - (x < 0)
    elif t is float:
        r = 1.0 if x > 0 else (-1.0 if x < 0 else canonical_nan(x))
    else:
        raise value_cast_error(x, "Number")
    ctx.charge(J.ARITHMETIC)
    return r


def _int_pair(name: str, code: int, op, description: str, examples: list):
    @core(name, code, arity=2, doc={
        "description": description,
        "signature": ["[a b]"],
        "examples": examples,
        "errors": {"CAST": "if either argument is not an integer",
                   "ARGUMENT": "if the divisor is zero"}})
    def impl(ctx, args, d):
        a, b = args
        if type(a) is not int or type(b) is not int:
            raise error(CAST, "Can't convert arguments to type Integer")
        if b == 0:
            raise error(ARGUMENT, f"Division by zero in {name}")
        # as the reference (Core.MOD ...): the sizes of the arguments, and the work of a
        # big-integer division, are paid before dividing
        cost = J.sat_add(precost_linear(args), precost_multiply(args))
        if cost:
            ctx.charge(cost)
        r = op(a, b)
        ctx.charge(J.ARITHMETIC)
        return r
    return impl


_int_pair("mod", 169, int_mod,
          "Integer modulus: the non-negative remainder of dividing a by b.",
          [{"code": "(mod 10 3)", "result": "1"}, {"code": "(mod -10 3)", "result": "2"}])
_int_pair("div", 170, int_div,
          "Integer division consistent with `mod` (rounds towards negative infinity for a "
          "negative dividend).",
          [{"code": "(div 10 3)", "result": "3"}, {"code": "(div -10 3)", "result": "-4"}])
_int_pair("rem", 171, int_rem,
          "Integer remainder consistent with `quot`: takes the sign of the dividend.",
          [{"code": "(rem 10 3)", "result": "1"}, {"code": "(rem -10 3)", "result": "-1"}])
_int_pair("quot", 172, int_quot,
          "Integer division truncating towards zero.",
          [{"code": "(quot 10 3)", "result": "3"}, {"code": "(quot -10 3)", "result": "-3"}])


@core("pow", 173, arity=2, doc={
    "description": "Raises a number to a power, computing with Doubles.",
    "signature": ["[base exponent]"],
    "examples": [{"code": "(pow 2 10)", "result": "1024.0"},
                 {"code": "(pow 4 0.5)", "result": "2.0"}],
    "errors": {"CAST": "if either argument is not a number"}})
def _pow(ctx, args, d):
    a, b = args
    if not is_number(a) or not is_number(b):
        raise error(CAST, "Can't convert arguments to type Double")
    r = java_pow(to_double(a), to_double(b))
    ctx.charge(J.ARITHMETIC)
    return r


@core("exp", 174, arity=1, doc={
    "description": "Euler's number e raised to the given power, as a Double.",
    "signature": ["[x]"],
    "examples": [{"code": "(exp 0)", "result": "1.0"}, {"code": "(exp 1)", "result": "2.718281828459045"}],
    "errors": {"CAST": "if the argument is not a number"}})
def _exp(ctx, args, d):
    x = args[0]
    if not is_number(x):
        raise arg_cast_error(0, x, "Double")
    r = java_exp(to_double(x))
    ctx.charge(J.ARITHMETIC)
    return r


@core("inc", 132, arity=1, doc={
    "description": "Adds one to an integer.",
    "signature": ["[n]"],
    "examples": [{"code": "(inc 41)", "result": "42"}],
    "errors": {"CAST": "if the argument is not an integer"}})
def _inc(ctx, args, d):
    x = args[0]
    if type(x) is not int:
        raise arg_cast_error(0, x, "Long")
    r = checked_integer(x + 1)
    ctx.charge(J.ARITHMETIC)
    return r


@core("dec", 133, arity=1, doc={
    "description": "Subtracts one from an integer.",
    "signature": ["[n]"],
    "examples": [{"code": "(dec 43)", "result": "42"}],
    "errors": {"CAST": "if the argument is not an integer"}})
def _dec(ctx, args, d):
    x = args[0]
    if type(x) is not int:
        raise arg_cast_error(0, x, "Long")
    r = checked_integer(x - 1)
    ctx.charge(J.ARITHMETIC)
    return r


# ---------------------------------------------------------------------------------------------
# Comparison


_NAN_HIGH = 1 << 62     # stands in for the reference's Long.MAX_VALUE / MIN_VALUE markers
_NAN_LOW = -(1 << 62)


def _compare_all(ctx, args: list, ok) -> bool:
    """Pairwise numeric comparison in order, stopping at the first pair that fails."""
    n = len(args)
    if n == 0:
        return True
    if n == 1:
        if not is_number(args[0]):
            raise number_cast_error(args)
        return True
    for i in range(n - 1):
        c = ok[1](args[i], args[i + 1])
        if c is None:
            raise number_cast_error(args)
        if not ok[0](c):
            return False
    return True


def _cmp_high(a, b):
    return compare(a, b, _NAN_HIGH)


def _cmp_low(a, b):
    return compare(a, b, _NAN_LOW)


_EQ = (lambda c: c == 0, _cmp_high)
_LT = (lambda c: c < 0, _cmp_high)
_LE = (lambda c: c <= 0, _cmp_high)
_GT = (lambda c: c > 0, _cmp_low)
_GE = (lambda c: c >= 0, _cmp_low)


def _extreme(args: list, want_max: bool):
    acc = args[0]
    if not is_number(acc):
        raise number_cast_error(args)
    for b in args[1:]:
        c = compare(acc, b, _NAN_LOW)
        if c is None:
            raise number_cast_error(args)
        if c == _NAN_LOW:
            acc = NAN
        elif (c < 0) if want_max else (c > 0):
            acc = b
    return acc


def _comparison(name: str, code: int, rule, description: str, examples: list):
    @core(name, code, doc={
        "description": description,
        "signature": ["[]", "[x]", "[x y & more]"],
        "examples": examples,
        "errors": {"CAST": "if an argument that must be compared is not a number"}})
    def impl(ctx, args, d):
        r = _compare_all(ctx, args, rule)
        ctx.charge(J.NUMERIC_COMPARE)
        return r
    return impl


_comparison("==", 124, _EQ,
            "True if all arguments are numerically equal (so 1 and 1.0 are, and 0.0 and -0.0 "
            "are, but ##NaN equals nothing). Compare with `=`, which compares values exactly.",
            [{"code": "(== 1 1.0)", "result": "true"}, {"code": "(== ##NaN ##NaN)", "result": "false"}])
_comparison("<", 129, _LT, "True if the numbers are strictly increasing.",
            [{"code": "(< 1 2 3)", "result": "true"}, {"code": "(< 1 3 2)", "result": "false"}])
_comparison(">", 127, _GT, "True if the numbers are strictly decreasing.",
            [{"code": "(> 3 2 1)", "result": "true"}])
_comparison("<=", 128, _LE, "True if the numbers never decrease.",
            [{"code": "(<= 1 1 2)", "result": "true"}])
_comparison(">=", 126, _GE, "True if the numbers never increase.",
            [{"code": "(>= 3 3 1)", "result": "true"}])


@core("!=", 125, doc={
    "description": "True unless all arguments are numerically equal: the negation of `==`.",
    "signature": ["[]", "[x]", "[x y & more]"],
    "examples": [{"code": "(!= 1 2)", "result": "true"}, {"code": "(!= 1 1.0)", "result": "false"}],
    "errors": {"CAST": "if an argument that must be compared is not a number"}})
def _ne(ctx, args, d):
    r = not _compare_all(ctx, args, _EQ)
    ctx.charge(J.NUMERIC_COMPARE)
    return r


@core("min", 130, arity=(1, None), doc={
    "description": "Smallest of the arguments, compared numerically (the argument itself is "
                   "returned, unconverted). ##NaN anywhere makes the result ##NaN.",
    "signature": ["[x & more]"],
    "examples": [{"code": "(min 3 1 2)", "result": "1"}, {"code": "(min 1 2.0)", "result": "1"}],
    "errors": {"CAST": _NUM_ERR, "ARITY": "if called with no arguments"}})
def _min(ctx, args, d):
    r = _extreme(args, False)
    ctx.charge(J.NUMERIC_COMPARE)
    return r


@core("max", 131, arity=(1, None), doc={
    "description": "Largest of the arguments, compared numerically (the argument itself is "
                   "returned, unconverted). ##NaN anywhere makes the result ##NaN.",
    "signature": ["[x & more]"],
    "examples": [{"code": "(max 3 1 2)", "result": "3"}],
    "errors": {"CAST": _NUM_ERR, "ARITY": "if called with no arguments"}})
def _max(ctx, args, d):
    r = _extreme(args, True)
    ctx.charge(J.NUMERIC_COMPARE)
    return r


# ---------------------------------------------------------------------------------------------
# Casts


@core("long", 137, arity=1, doc={
    "description": "Converts to a Long: integers in the 64-bit range, Doubles (truncated "
                   "towards zero), characters (code point), addresses (account number) and "
                   "blobs (last 8 bytes as a signed number).",
    "signature": ["[x]"],
    "examples": [{"code": "(long 10.9)", "result": "10"}, {"code": "(long \\a)", "result": "97"},
                 {"code": "(long 0xff)", "result": "-1"}],
    "errors": {"CAST": "if the value is not of a convertible type",
               "ARGUMENT": "if a number is outside the Long range, infinite or ##NaN"}})
def _long(ctx, args, d):
    a = args[0]
    r = cast_long(a)
    if r is None:
        if is_number(a):
            raise error(ARGUMENT, f"Number out of Long range: {a}")
        raise arg_cast_error(0, a, "Long")
    ctx.charge(J.ARITHMETIC)
    return r


@core("int", 138, arity=1, doc={
    "description": "Converts to an Integer of any size: Doubles are truncated towards zero, "
                   "blobs are read as two's complement numbers, characters and addresses give "
                   "their numbers.",
    "signature": ["[x]"],
    "examples": [{"code": "(int 10.9)", "result": "10"},
                 {"code": "(int 0xffffffffffffffffffff)", "result": "-1"}],
    "errors": {"CAST": "if the value is not of a convertible type",
               "ARGUMENT": "if the value is infinite or ##NaN"}})
def _int(ctx, args, d):
    a = args[0]
    r = cast_integer(a)
    if r is None:
        if is_number(a) or blob_data(a) is not None:
            raise error(ARGUMENT, "Value cannot be converted to an Integer")
        raise arg_cast_error(0, a, "Integer")
    ctx.charge(J.ARITHMETIC)
    return r


@core("double", 139, arity=1, doc={
    "description": "Converts a number to a Double (integers round to the nearest Double).",
    "signature": ["[x]"],
    "examples": [{"code": "(double 3)", "result": "3.0"}],
    "errors": {"CAST": "if the argument is not a number"}})
def _double(ctx, args, d):
    a = args[0]
    if not is_number(a):
        raise arg_cast_error(0, a, "Double")
    r = canonical_nan(to_double(a))
    ctx.charge(J.ARITHMETIC)
    return r


def _char_from_utf8(data: bytes) -> Optional[Char]:
    if not 1 <= len(data) <= 4:
        return None
    try:
        s = data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None
    if len(s) != 1:
        return None
    return Char(ord(s))


@core("char", 140, arity=1, doc={
    "description": "Converts to a character: an integer is taken as a Unicode code point and "
                   "a blob as the UTF-8 encoding of one character.",
    "signature": ["[x]"],
    "examples": [{"code": "(char 97)", "result": "\\a"}, {"code": "(char 0x41)", "result": "\\A"}],
    "errors": {"CAST": "if the argument is not a character, integer or blob",
               "ARGUMENT": "if it is not a valid code point or UTF-8 character"}})
def _char(ctx, args, d):
    a = args[0]
    if type(a) is Char:
        r = a
    else:
        data = blob_data(a)
        if data is not None:
            r = _char_from_utf8(data)
            if r is None:
                raise error(ARGUMENT, "Not a valid UTF-8 character")
        elif type(a) is int:
            if not (0 <= a <= 0x10FFFF):
                raise error(ARGUMENT, f"Invalid code point: {a}")
            r = Char(a)
        else:
            raise arg_cast_error(0, a, "Character")
    ctx.charge(J.ARITHMETIC)
    return r


@core("byte", 141, arity=1, doc={
    "description": "Converts to a byte value 0-255 (as a Long): the low 8 bits of an integer "
                   "or the last byte of a blob (0 for an empty blob).",
    "signature": ["[x]"],
    "examples": [{"code": "(byte 257)", "result": "1"}, {"code": "(byte -1)", "result": "255"},
                 {"code": "(byte 0x1234)", "result": "52"}],
    "errors": {"CAST": "if the argument is not an integer or blob"}})
def _byte(ctx, args, d):
    a = args[0]
    data = blob_data(a)
    if data is not None:
        r = data[-1] if data else 0
    elif type(a) is int:
        r = a & 0xFF
    else:
        raise arg_cast_error(0, a, "Long")
    ctx.charge(J.ARITHMETIC)
    return r


# ---------------------------------------------------------------------------------------------
# Bitwise operations on Longs


def _ensure_long(args: list, i: int) -> int:
    v = args[i]
    if type(v) is not int or not LONG_MIN <= v <= LONG_MAX:
        raise arg_cast_error(i, v, "Long")
    return v


def _bitwise(name: str, code: int, op, description: str, example: dict):
    @core(name, code, arity=2, doc={
        "description": description,
        "signature": ["[a b]"],
        "examples": [example],
        "errors": {"CAST": "if either argument is not a Long"}})
    def impl(ctx, args, d):
        a = _ensure_long(args, 0)
        b = _ensure_long(args, 1)
        r = op(a, b)
        ctx.charge(J.ARITHMETIC)
        return r
    return impl


_bitwise("bit-and", 176, lambda a, b: a & b, "Bitwise AND of two Longs.",
         {"code": "(bit-and 12 10)", "result": "8"})
_bitwise("bit-xor", 177, lambda a, b: a ^ b, "Bitwise exclusive OR of two Longs.",
         {"code": "(bit-xor 12 10)", "result": "6"})
_bitwise("bit-or", 178, lambda a, b: a | b, "Bitwise OR of two Longs.",
         {"code": "(bit-or 12 10)", "result": "14"})


@core("bit-not", 179, arity=1, doc={
    "description": "Bitwise complement of a Long (flips all 64 bits).",
    "signature": ["[a]"],
    "examples": [{"code": "(bit-not 0)", "result": "-1"}],
    "errors": {"CAST": "if the argument is not a Long"}})
def _bit_not(ctx, args, d):
    a = _ensure_long(args, 0)
    ctx.charge(J.ARITHMETIC)
    return ~a
