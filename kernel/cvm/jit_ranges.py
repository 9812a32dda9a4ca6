"""Integer ranges for the JIT's generator (kernel/jit_gen.py): what an inlined + - inc dec
gives, and what a comparison with a constant in a Cond's test tells each arm.

Each range holds where one fact holds (the fast path's guard, an int fact of
`Generator.ints`), so only code guarded by that fact relies on it. Its use: a binding known
to be an int where a fact holds, whose range there lies within the Longs, needs no range
test for its Long fact -- the fact is that int fact. In a recursion such as fib, the
argument of an inlined call, `(- n 1)` of a Long, is a Long in the arm where `(< n 2)` is
false: n - 1 is then at least 1 and below the largest Long.
"""
from __future__ import annotations

from typing import Optional, Sequence

from kernel.cvm.jit_inline import LONG_MAX, LONG_MIN, NOT_CONSTANT, Arg

UNBOUNDED = (float("-inf"), float("inf"))
FLIPPED = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}


def is_long_range(r: Optional[tuple]) -> bool:
    return r is not None and LONG_MIN <= r[0] and r[1] <= LONG_MAX


def long_range(r: Optional[tuple]) -> tuple:
    """Range r (None: unknown) of a value known to be a Long."""
    lo, hi = UNBOUNDED if r is None else r
    return max(lo, LONG_MIN), min(hi, LONG_MAX)


def result_range(name: str, ranges: Sequence[Optional[tuple]]) -> Optional[tuple]:
    """The range of the value of core function `name` on integers in these ranges, or None."""
    if not ranges or None in ranges:
        return None
    los = [r[0] for r in ranges]
    his = [r[1] for r in ranges]
    if name == "+":
        return sum(los), sum(his)
    if name == "-":
        if len(ranges) == 1:
            return -his[0], -los[0]
        return los[0] - sum(his[1:]), his[0] - sum(los[1:])
    if name in ("inc", "dec") and len(ranges) == 1:
        step = 1 if name == "inc" else -1
        return los[0] + step, his[0] + step
    return None


def comparison(name: str, args: Sequence[Arg]) -> Optional[tuple]:
    """(name compared, op, integer constant) for a comparison of one argument with an
    integer constant, the constant on the right; else None."""
    if name not in FLIPPED or len(args) != 2:
        return None
    a, b = args
    if type(b.value) is int and a.value is NOT_CONSTANT:
        return a.expr, name, b.value
    if type(a.value) is int and b.value is NOT_CONSTANT:
        return b.expr, FLIPPED[name], a.value
    return None


def narrowed(r: Optional[tuple], op: str, c: int, holds: bool) -> tuple:
    """Range r (None: unknown) where `x op c` is `holds`."""
    lo, hi = UNBOUNDED if r is None else r
    if not holds:
        op = {"<": ">=", ">": "<=", "<=": ">", ">=": "<"}[op]
    if op == "<":
        return lo, min(hi, c - 1)
    if op == ">":
        return max(lo, c + 1), hi
    if op == "<=":
        return lo, min(hi, c)
    return max(lo, c), hi
