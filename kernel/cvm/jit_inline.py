"""Inline fast paths for hot core functions, used by the JIT (kernel/jit_gen.py).

A call of a core function costs several Python frames (invoke, the arity wrapper, the impl,
its helpers) although for the common argument types the work is one Python operator. An
inliner describes that common case for one call site: a guard on the argument values, the
result expression and the juice the impl charges in exactly that case. When the guard fails
the compiled code calls the function as the interpreter does, so each inliner only has to
agree with its impl (value, juice, no error) on the values its guard admits.

Juice formulas, read from the impls:
  + - *        precost_linear (8 per Long argument) + ARITHMETIC; for Longs only
  < > <= >= == !=   NUMERIC_COMPARE, whatever the integer sizes
  =            EQUALS
  inc dec      ARITHMETIC (Long argument, so the result never exceeds the Integer limit)
  not nil?     SIMPLE_FN
  count first nth   SIMPLE_FN
  get          GET
  vector       BUILD_DATA + BUILD_PER_ELEMENT per element (check_juice then charge: one charge)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from kernel.cvm import juice as J
from kernel.cvm.structures import count_of, ds_get, ds_get_default, is_data_structure
from kernel.data.equality import equals
from kernel.data.vectors import List, Vector

LONG_MIN = -(1 << 63)
LONG_MAX = (1 << 63) - 1
COMPACT = (1 << 30) - 1         # CPython's compact ints (one digit) lie within +-COMPACT
NOT_CONSTANT = object()

# Names the fast paths use, for the generated code's namespace.
RUNTIME = {"equals": equals, "count_of": count_of, "ds_get": ds_get,
           "ds_get_default": ds_get_default, "is_data_structure": is_data_structure,
           "Vector": Vector, "SEQUENCE": (Vector, List)}


@dataclass(frozen=True)
class Arg:
    """An argument at a call site: its Python expression, if the argument op is a Constant
    its value (else NOT_CONSTANT), and maybe the name of a fact about it."""

    expr: str
    value: Any = NOT_CONSTANT
    fact: Optional[str] = None      # a local that is True iff expr holds a Long (see jit_gen)
    ready: bool = False             # the fact is already computed (else it costs a Long test)
    int_fact: Optional[str] = None  # a local (computed) that, when True, means expr is an int


@dataclass(frozen=True)
class Fast:
    """The guarded fast path of one call: when `guard` (None: always) holds, the call's value
    is `value` and the impl would have charged exactly `cost`. With `none_is_slow`, a value of
    None means the fast path does not apply after all. `is_bool`: the value is a Python bool,
    and `test` (if set) the same as a condition for a jump, cheaper in an `if`; `is_int`: an
    int."""

    guard: Optional[str]
    value: str
    cost: int
    is_bool: bool = False
    none_is_slow: bool = False
    is_int: bool = False
    test: Optional[str] = None


def long_test(x: str, int_fact: Optional[str] = None) -> str:
    """Python test that expression x holds a Long, for a jump (an `if`, or `True if .. else
    False`): in that position CPython (3.11+) specializes a comparison of two compact ints.
    `.__class__` reads faster than `type()`, and two comparisons faster than one chained;
    a fact that x is an int where it holds reads faster still."""
    return f"{int_fact or _int_test(x)} and {_range_test(x)}"


def _int_test(x: str) -> str:
    return f"{x}.__class__ is int"


def _range_test(x: str) -> str:
    """That int x is a Long: a compact int (the usual case, two specialized comparisons),
    else by the full range (a comparison with a big constant is never specialized)."""
    return (f"({x} <= {COMPACT} and {x} >= {-COMPACT}"
            f" or {x} >= {LONG_MIN} and {x} <= {LONG_MAX})")


def _long_guard(args: Sequence[Arg]) -> "str | None | bool":
    """Test that every argument is a Long: a guard string, None if statically true, False if
    statically false."""
    tests, ranges = [], []          # the cheap type tests first
    for a in args:
        if a.value is not NOT_CONSTANT:
            if not (type(a.value) is int and LONG_MIN <= a.value <= LONG_MAX):
                return False
        elif a.fact is not None:
            tests.append(a.fact)
        else:
            tests.append(a.int_fact or _int_test(a.expr))
            ranges.append(_range_test(a.expr))
    tests += ranges
    return " and ".join(tests) if tests else None


def _int_guard(args: Sequence[Arg]) -> "str | None | bool":
    """Test that every argument is an integer of any size (not a bool). A Long fact already
    computed is a cheaper, stronger test: an integer beyond the Long range takes the slow
    path, which is exact."""
    tests = []
    for a in args:
        if a.value is not NOT_CONSTANT:
            if type(a.value) is not int:
                return False
        elif a.fact is not None and a.ready:
            tests.append(a.fact)
        else:
            tests.append(a.int_fact or _int_test(a.expr))
    return " and ".join(tests) if tests else None


def _linear(op: str, identity: Optional[str], unary: Optional[str], max_args: int):
    """+ - *: Long arguments, exact Python integer arithmetic (big results are fine: the impl
    gives the same big Integer, far below the size limit for at most `max_args` Longs)."""
    def inline(args: Sequence[Arg]) -> Optional[Fast]:
        n = len(args)
        if n == 0:
            return None if identity is None else Fast(None, identity, J.ARITHMETIC)
        if n > max_args:
            return None
        guard = _long_guard(args)
        if guard is False:
            return None
        if n == 1:
            value = args[0].expr if unary is None else f"({unary}{args[0].expr})"
        else:
            value = "(" + f" {op} ".join(a.expr for a in args) + ")"
        return Fast(guard, value, J.MIN_NUMERIC_COST * n + J.ARITHMETIC, is_int=True)
    return inline


def _compare(op: str):
    """Numeric comparisons of integers: Python's operators chain exactly as the impl pairs.
    The value is computed by a jump (`True if .. else False`), where CPython specializes the
    comparison of compact ints, and is a bool either way."""
    def inline(args: Sequence[Arg]) -> Optional[Fast]:
        if len(args) < 2:
            return None
        guard = _int_guard(args)
        if guard is False:
            return None
        test = f" {op} ".join(a.expr for a in args)
        return Fast(guard, f"(True if {test} else False)", J.NUMERIC_COMPARE, is_bool=True,
                    test=test)
    return inline


def _not_equal(args: Sequence[Arg]) -> Optional[Fast]:
    if len(args) != 2:
        return None
    guard = _int_guard(args)
    if guard is False:
        return None
    test = f"{args[0].expr} != {args[1].expr}"
    return Fast(guard, f"(True if {test} else False)", J.NUMERIC_COMPARE, is_bool=True,
                test=test)


def _equals(args: Sequence[Arg]) -> Optional[Fast]:
    if len(args) != 2:
        return None
    a, b = args[0].expr, args[1].expr
    return Fast(None, f"(True if equals({a}, {b}) else False)", J.EQUALS, is_bool=True,
                test=f"equals({a}, {b})")


def _step(op: str):
    """inc / dec of a Long."""
    def inline(args: Sequence[Arg]) -> Optional[Fast]:
        if len(args) != 1:
            return None
        guard = _long_guard(args)
        if guard is False:
            return None
        return Fast(guard, f"({args[0].expr} {op} 1)", J.ARITHMETIC, is_int=True)
    return inline


def _unary(template: str, is_bool: bool = False, none_is_slow: bool = False,
           guard: Optional[str] = None, cost: int = J.SIMPLE_FN):
    def inline(args: Sequence[Arg]) -> Optional[Fast]:
        if len(args) != 1:
            return None
        x = args[0].expr
        value = template.format(x=x)
        return Fast(None if guard is None else guard.format(x=x), value, cost, is_bool=is_bool,
                    none_is_slow=none_is_slow, test=value if is_bool else None)
    return inline


def _nth(args: Sequence[Arg]) -> Optional[Fast]:
    if len(args) != 2:
        return None
    o, i = args[0].expr, args[1].expr
    return Fast(f"{i}.__class__ is int and isinstance({o}, SEQUENCE) and 0 <= {i} < len({o})",
                f"{o}[{i}]", J.SIMPLE_FN)


def _get(args: Sequence[Arg]) -> Optional[Fast]:
    n = len(args)
    if n not in (2, 3):
        return None
    exprs = ", ".join(a.expr for a in args)
    fn = "ds_get" if n == 2 else "ds_get_default"
    return Fast(f"is_data_structure({args[0].expr})", f"{fn}({exprs})", J.GET)


def _vector(args: Sequence[Arg]) -> Optional[Fast]:
    items = ", ".join(a.expr for a in args)
    return Fast(None, f"Vector.from_seq([{items}])",
                J.BUILD_DATA + J.BUILD_PER_ELEMENT * len(args))


INLINERS: dict[str, Callable[[Sequence[Arg]], Optional[Fast]]] = {
    "+": _linear("+", "0", None, 16),
    "-": _linear("-", None, "-", 16),
    "*": _linear("*", "1", None, 8),
    "<": _compare("<"),
    ">": _compare(">"),
    "<=": _compare("<="),
    ">=": _compare(">="),
    "==": _compare("=="),
    "!=": _not_equal,
    "=": _equals,
    "inc": _step("+"),
    "dec": _step("-"),
    "not": _unary("({x} is None or {x} is False)", is_bool=True),
    "nil?": _unary("({x} is None)", is_bool=True),
    "count": _unary("count_of({x})", none_is_slow=True),
    "first": _unary("{x}[0]", guard="isinstance({x}, SEQUENCE) and len({x}) > 0"),
    "nth": _nth,
    "get": _get,
    "vector": _vector,
}
