"""The reference's number semantics in plain Python, for the numeric core functions
(kernel.core.numeric): the numeric types and their costs, arithmetic on pairs with the
reference's type rules, Java's double operations, the Long division family, numeric
comparison and the casts. Nothing here is registered as a core function.

Numbers are native Python values: `int` (a CVM Long inside the signed 64-bit range, a big
Integer outside it, up to 4096 bytes of two's complement) and `float` (an IEEE 754 double).
Python floats differ from Java doubles in a few places, all handled here explicitly:
division by zero and overflow raise in Python (they give infinities or NaN in IEEE 754),
`math.pow` and `math.floor`/`math.ceil` have different special cases, and NaN results can
carry any payload -- every double the core functions return goes through `canonical_nan`,
which makes NaN canonical.

Integer operations reproduce the reference's semantics exactly, including its corners: Long
`div` rounds towards negative infinity only for a negative dividend, `mod` on a big Integer
is always non-negative, quot/rem/div of a Long by a big Integer give nil, and 64-bit
operations wrap the way Java longs do.
"""
from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, Optional

from kernel.cvm import juice as J
from kernel.data.blobs import Blob, PartialBlob
from kernel.cvm.errors import ARGUMENT, CAST, arg_cast_error, error
from kernel.data.scalars import NAN, Address, Char
from kernel.cvm.types import type_name

LONG_MIN = -(1 << 63)
LONG_MAX = (1 << 63) - 1
_MASK64 = (1 << 64) - 1
MAX_INTEGER_BYTES = 4096          # the reference's limit on big Integer size
_INF = math.inf


# --- number types, sizes and costs -----------------------------------------------------------


def is_number(v: Any) -> bool:
    t = type(v)
    return t is int or t is float


def is_long(v: Any) -> bool:
    return type(v) is int and LONG_MIN <= v <= LONG_MAX


def canonical_nan(x: float) -> float:
    """Any NaN becomes the canonical NaN (0x7ff8000000000000)."""
    return NAN if x != x else x


def to_double(v: Any) -> float:
    """Numeric value as a double (integers round to nearest; too large gives an infinity)."""
    if type(v) is float:
        return v
    try:
        return float(v)
    except OverflowError:
        return _INF if v > 0 else -_INF


def _wrap64(n: int) -> int:
    """Two's complement wrap to a signed 64-bit value, as Java long arithmetic does."""
    n &= _MASK64
    return n - (1 << 64) if n >> 63 else n


def integer_byte_length(n: int) -> int:
    """Bytes in the minimal two's complement form of n (the reference's byteLength)."""
    return (n if n >= 0 else ~n).bit_length() // 8 + 1


def checked_integer(n: int) -> int:
    """An integer result, failing if it exceeds the maximum big Integer size."""
    if LONG_MIN <= n <= LONG_MAX or integer_byte_length(n) <= MAX_INTEGER_BYTES:
        return n
    raise error(ARGUMENT, "Integer value too large")


def numeric_cost(v: Any) -> int:
    """The reference's costNumeric: byte length (at least 8) or -1 if not a number."""
    t = type(v)
    if t is float:
        return J.MIN_NUMERIC_COST
    if t is not int:
        return -1
    if LONG_MIN <= v <= LONG_MAX:
        return J.MIN_NUMERIC_COST
    return max(J.MIN_NUMERIC_COST, integer_byte_length(v))


def precost_linear(args: list) -> int:
    """Juice charged up front by + - *: running sum of the largest argument size so far."""
    total = 0
    size = 0
    for a in args:
        c = numeric_cost(a)
        if c < 0:
            return -1
        if c > size:
            size = c
        total = J.sat_add(total, size)
    return total


def precost_multiply(args: list) -> int:
    """The reference's precostNumericMultiply: the cost of multiplying integers of the given
    sizes (each step costs the product of the sizes so far), or -1 if one is not a number.
    mod, div, rem and quot charge it, with precost_linear, for their big-integer division."""
    total = 0
    last = 0
    doubles = False
    for a in args:
        c = numeric_cost(a)
        if c < 0:
            return -1
        if doubles:
            total = J.sat_add(total, c)
        elif type(a) is float:
            doubles = True
            total = J.sat_add(total, c + last)
            last = 0
        else:
            total = J.sat_add(total, last * c)
            last += c
    return total


def first_non_numeric(args: list) -> int:
    for i, a in enumerate(args):
        if not is_number(a):
            return i
    return -1


def number_cast_error(args: list) -> Exception:
    i = first_non_numeric(args)
    return arg_cast_error(i, args[i], "Number")


def value_cast_error(v: Any, tname: str) -> Exception:
    return error(CAST, f"Can't convert value of type {type_name(v)} to type {tname}")


def double_to_integer(x: float) -> Optional[int]:
    """The reference's double -> Integer: truncation, saturating at the Long bounds when the
    value is within them as a double; beyond, via the shortest decimal form; None if NaN/Inf."""
    if x != x or x in (_INF, -_INF):
        return None
    if -9.223372036854775808e18 <= x <= 9.223372036854775808e18:
        n = int(x)
        return LONG_MAX if n > LONG_MAX else (LONG_MIN if n < LONG_MIN else n)
    return int(Decimal(repr(x)))


def blob_long_value(data: bytes) -> int:
    """The last 8 bytes of a blob as a signed long (shorter blobs sign-extend)."""
    if not data:
        return 0
    return int.from_bytes(data[-8:], "big", signed=True)


def blob_data(v: Any) -> Optional[bytes]:
    if type(v) is Blob:
        return v.data
    if type(v) is PartialBlob and v.tag == 0x31:
        return v.data
    return None


# --- arithmetic on pairs, with the reference's type rules ------------------------------------


def add2(a, b):
    if type(a) is int and type(b) is int:
        return checked_integer(a + b)
    return canonical_nan(to_double(a) + to_double(b))


def sub2(a, b):
    if type(a) is int and type(b) is int:
        return checked_integer(a - b)
    return canonical_nan(to_double(a) - to_double(b))


def mul2(a, b):
    if type(a) is int and type(b) is int:
        return checked_integer(a * b)
    return canonical_nan(to_double(a) * to_double(b))


def negate(a):
    if type(a) is int:
        return checked_integer(-a)
    return canonical_nan(-a)


def fdiv(a: float, b: float) -> float:
    """IEEE 754 double division (Python raises on a zero divisor)."""
    if b == 0.0:
        if a != a or a == 0.0:
            return NAN
        neg = (math.copysign(1.0, a) < 0) != (math.copysign(1.0, b) < 0)
        return -_INF if neg else _INF
    return canonical_nan(a / b)


def _is_odd_integer(y: float) -> bool:
    return math.isfinite(y) and y == math.floor(y) and math.fmod(y, 2.0) != 0.0


def java_pow(x: float, y: float) -> float:
    """Math.pow special cases (they differ from C99 pow for NaN exponents and |x| = 1)."""
    if y == 0.0:
        return 1.0
    if y != y or x != x:
        return NAN
    if abs(x) == 1.0 and math.isinf(y):
        return NAN
    try:
        return canonical_nan(math.pow(x, y))
    except ValueError:
        if x == 0.0:           # zero to a negative power
            if math.copysign(1.0, x) < 0 and _is_odd_integer(y):
                return -_INF
            return _INF
        return NAN             # negative base, non-integer exponent
    except OverflowError:
        if x < 0 and _is_odd_integer(y):
            return -_INF
        return _INF


def java_exp(x: float) -> float:
    try:
        return canonical_nan(math.exp(x))
    except OverflowError:
        return _INF


def java_floor(x: float) -> float:
    if x != x or x == 0.0 or math.isinf(x):
        return canonical_nan(x)
    return float(math.floor(x))


def java_ceil(x: float) -> float:
    if x != x or x == 0.0 or math.isinf(x):
        return canonical_nan(x)
    r = float(math.ceil(x))
    return -0.0 if r == 0.0 and x < 0 else r


def java_sqrt(x: float) -> float:
    if x != x or x < 0:
        return NAN
    return math.sqrt(x)


def compare(a: Any, b: Any, nan_value: int) -> Optional[int]:
    """-1, 0 or 1; `nan_value` if a double involved is NaN; None if either is not a number."""
    ta, tb = type(a), type(b)
    if (ta is not int and ta is not float) or (tb is not int and tb is not float):
        return None
    if ta is int and tb is int:
        return (a > b) - (a < b)
    da = to_double(a)
    db = to_double(b)
    if da != da or db != db:
        return nan_value
    return (da > db) - (da < db)


# --- Java long division family ---------------------------------------------------------------


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def _trunc_rem(a: int, b: int) -> int:
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def int_mod(a: int, b: int) -> int:
    if is_long(a):
        if is_long(b):
            m = _trunc_rem(a, b)
            if m < 0:
                m = _wrap64(m + _wrap64(abs(b)))
            return m
        if b < 0:
            raise error(ARGUMENT, "Negative modulus in mod")
        return a % b
    return a % abs(b)


def int_div(a: int, b: int) -> Optional[int]:
    if is_long(a):
        if not is_long(b):
            return None
        num = a
        if num < 0:
            num = _wrap64(num - _wrap64(b - 1))
        return _wrap64(_trunc_div(num, b))
    return _trunc_div(a, b)


def int_quot(a: int, b: int) -> Optional[int]:
    if is_long(a):
        if not is_long(b):
            return None
        return _wrap64(_trunc_div(a, b))
    return _trunc_div(a, b)


def int_rem(a: int, b: int) -> Optional[int]:
    if is_long(a):
        if not is_long(b):
            return None
        return _trunc_rem(a, b)
    return _trunc_rem(a, b)


# --- casts ------------------------------------------------------------------------------------


def cast_long(a: Any) -> Optional[int]:
    """The reference's castLong (None when not convertible)."""
    t = type(a)
    if t is int:
        return a if LONG_MIN <= a <= LONG_MAX else None
    if t is float:
        n = double_to_integer(a)
        return n if n is not None and LONG_MIN <= n <= LONG_MAX else None
    if t is Char:
        return a.cp
    if t is Address:
        return a.n
    data = blob_data(a)
    if data is not None:
        return blob_long_value(data)
    return None


def cast_integer(a: Any) -> Optional[int]:
    t = type(a)
    if t is int:
        return a
    if t is float:
        return double_to_integer(a)
    data = blob_data(a)
    if data is not None:
        if len(data) <= 8:
            return blob_long_value(data)
        n = int.from_bytes(data, "big", signed=True)
        return n if integer_byte_length(n) <= MAX_INTEGER_BYTES else None
    return cast_long(a)
