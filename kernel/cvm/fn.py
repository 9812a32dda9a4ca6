"""Function values: closures (Fn), multi-arity closures (MultiFn) and core functions (CoreFn).

All expose `invoke(ctx, args, d)` where `d` is the depth of the calling op; a closure body
runs at d + 1. Recur, tailcall and return are handled by `context.invoke` around them.
"""
from __future__ import annotations

from typing import Any, Callable

from kernel.cvm.binding import AMP, binder, unwrap
from kernel.data.cell import BranchRef, Cell, MissingData, vlq, write_ref
from kernel.cvm.context import MAX_DEPTH, Context
from kernel.cvm.errors import ARITY, DEPTH, error
from kernel.cvm.jit import run_body
from kernel.data.scalars import Symbol
from kernel.data.vectors import Vector


class Fn(Cell):
    """A closure: parameter binding form, body op, captured lexical bindings."""

    __slots__ = ("params", "body", "env", "_bind", "_nparams", "_variadic")
    tag = 0xDF

    def __init__(self, params: Vector, body: Any, env: tuple = ()):
        self.params = params
        self.body = body
        self.env = env
        items = [unwrap(p) for p in params]
        if AMP in items:
            self._nparams = -1
            self._variadic = items.index(AMP)
            self._bind = binder(params)
        elif all(type(p) is Symbol and p.name != "_" for p in items):
            self._nparams = len(items)        # fast path: plain symbols only
            self._variadic = -1
            self._bind = None
        else:
            self._nparams = -1
            self._variadic = -1
            self._bind = binder(params)

    def close_over(self, env: tuple) -> "Fn":
        if not env and not self.env:
            return self
        f = Fn.__new__(Fn)
        f.params, f.body, f.env = self.params, self.body, env
        f._bind, f._nparams, f._variadic = self._bind, self._nparams, self._variadic
        return f

    def has_arity(self, n: int) -> bool:
        if self._variadic >= 0:
            return n >= len(self.params) - 2
        return n == len(self.params)

    def invoke(self, ctx: Context, args: list, d: int) -> Any:
        d1 = d + 1
        if d1 > MAX_DEPTH:
            raise error(DEPTH, f"Invalid depth: {d1}")
        n = self._nparams
        if n >= 0:
            if len(args) != n:
                raise error(ARITY, f"Expected {n} arguments but got {len(args)} for binding form: "
                                   f"{_show(self.params)}")
            env = [*self.env, *args]
        else:
            env = list(self.env)
            self._bind(ctx, env, args)
        return run_body(self.body, ctx, env, d1)

    def encode_cell(self) -> bytes:
        return b"\xdf" + Vector.of(self.params, self.body, Vector.from_seq(self.env)).encoding()[1:]

    def children(self) -> tuple:
        return Vector.of(self.params, self.body, Vector.from_seq(self.env)).children()

    def __eq__(self, other: Any) -> bool:
        return self is other or (isinstance(other, Cell) and Cell.__eq__(self, other))

    __hash__ = Cell.__hash__


class MultiFn(Cell):
    """Several closures; a call picks the first whose arity fits."""

    __slots__ = ("fns",)
    tag = 0xCB   # the reference's multi-function tag, in the generic coded shape:
                 # 0xcb, a ref to the vector of fns, then nil

    def __init__(self, fns: "tuple | Vector | BranchRef"):
        # a BranchRef stands for the vector of functions when only its hash is known
        self.fns = fns if type(fns) is BranchRef else tuple(fns)

    def _functions(self) -> tuple:
        if type(self.fns) is BranchRef:
            raise MissingData(self.fns.hash)
        return self.fns

    def close_over(self, env: tuple) -> "MultiFn":
        return MultiFn(tuple(f.close_over(env) if isinstance(f, Fn) else f
                             for f in self._functions()))

    def has_arity(self, n: int) -> bool:
        return any(isinstance(f, Fn) and f.has_arity(n) for f in self._functions())

    def invoke(self, ctx: Context, args: list, d: int) -> Any:
        n = len(args)
        for f in self._functions():
            if isinstance(f, Fn) and f.has_arity(n):   # decoded data may hold non-functions
                return f.invoke(ctx, args, d)
        raise error(ARITY, f"No matching function arity found for arity {n}")

    def _vector(self) -> "Vector | BranchRef":
        return self.fns if type(self.fns) is BranchRef else Vector.from_seq(self.fns)

    def encode_cell(self) -> bytes:
        return b"\xcb" + write_ref(self._vector()) + b"\x00"

    def children(self) -> tuple:
        return (self._vector(),)


class CoreFn(Cell):
    """A function of the convex.core runtime, identified on the wire by its core code."""

    __slots__ = ("name", "code", "impl", "symbol", "is_recur", "is_tailcall", "is_return")
    tag = 0xED

    def __init__(self, name: str, code: int, impl: Callable[[Context, list, int], Any]):
        self.name = name
        self.code = code
        self.impl = impl
        self.symbol = Symbol(name)
        self.is_recur = name == "recur"
        self.is_tailcall = name == "tailcall*"
        self.is_return = name == "return"

    def invoke(self, ctx: Context, args: list, d: int) -> Any:
        return self.impl(ctx, args, d)

    def encode_cell(self) -> bytes:
        return b"\xed" + vlq(self.code)

    def __eq__(self, other: Any) -> bool:
        return self is other or (isinstance(other, Cell) and other.encoding() == self.encoding())

    __hash__ = Cell.__hash__


def is_fn(v: Any) -> bool:
    return isinstance(v, (Fn, MultiFn, CoreFn))


def _show(v: Any) -> str:
    """A value named in an error message, cut short if long."""
    from kernel.data.printer import print_brief
    return print_brief(v)


__all__ = ["Fn", "MultiFn", "CoreFn", "is_fn"]
