"""CVM ops (CAD005): compiled code as ordinary CVM values.

Each op is a Cell with the reference's encoding, and executes with `ex(ctx, env, d)`:
`env` is the list of lexical bindings (Local ops index into it) and `d` the depth at which
the op runs; children run at d + 1. Every op charges its juice before returning.
"""
from __future__ import annotations

from typing import Any, Sequence

from kernel.cvm import juice as J
from kernel.data.cell import Cell, write_ref
from kernel.cvm.context import MAX_DEPTH, Context, invoke
from kernel.cvm.errors import (BOUNDS, CAST, DEPTH, ErrorValue, Recur, arity_error, error,
                               juice_failure)
from kernel.data.scalars import Address, Symbol
from kernel.data.vectors import Vector

_depth_msg = "Invalid depth: "


def _body(ops: Sequence) -> bytes:
    """The vector body (encoding without the 0x80 tag) of a sequence of values."""
    return Vector.from_seq(ops).encoding()[1:]


def _depth_error(d: int) -> ErrorValue:
    return error(DEPTH, _depth_msg + str(d))


class Op(Cell):
    """Base of all ops. `juice` is what the op itself charges each time it runs (children,
    and for Invoke the called function, charge their own); Try charges it per attempt."""

    __slots__ = ()
    juice = 0

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        raise NotImplementedError

    def run(self, ctx: Context, env: "list | None" = None, d: int = 1) -> Any:
        """Execute as a top-level op (depth 1, no locals unless given)."""
        if d > MAX_DEPTH:
            raise _depth_error(d)
        return self.ex(ctx, [] if env is None else env, d)


# --- leaves -----------------------------------------------------------------------------------

class Constant(Op):
    __slots__ = ("value",)
    juice = J.CONSTANT
    tag = 0xC0

    def __init__(self, value: Any):
        self.value = value

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        j = ctx.juice + 5
        if j > ctx.limit:
            ctx.juice = ctx.limit
            raise juice_failure()
        ctx.juice = j
        return self.value

    def encode_cell(self) -> bytes:
        return b"\xc0\xb0" + write_ref(self.value)

    def children(self) -> tuple:
        return (self.value,)


class Local(Op):
    """Lexical lookup by position in the binding stack."""

    __slots__ = ("pos",)
    juice = J.LOOKUP
    tag = 0xE6

    def __init__(self, pos: int):
        self.pos = pos

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        j = ctx.juice + 15
        if j > ctx.limit:
            ctx.juice = ctx.limit
            raise juice_failure()
        ctx.juice = j
        try:
            return env[self.pos]
        except IndexError:
            raise error(BOUNDS, f"Bad position for Local: {self.pos}") from None

    def encode_cell(self) -> bytes:
        from kernel.data.cell import vlq
        return b"\xe6" + vlq(self.pos)


class Lookup(Op):
    """Environment lookup, optionally in another account (`addr/sym`)."""

    __slots__ = ("address", "symbol")
    juice = J.LOOKUP_DYNAMIC
    tag = 0xC1

    def __init__(self, address: "Op | None", symbol: Symbol):
        self.address = address
        self.symbol = symbol

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        if d > MAX_DEPTH:
            raise _depth_error(d)
        a = self.address
        if a is None:
            n = None
        else:
            v = a.ex(ctx, env, d + 1)
            n = address_number(v)
            if n is None:
                from kernel.cvm.types import type_name
                raise error(CAST, f"Lookup requires Address but got: {type_name(v)}")
        v = ctx.lookup(n, self.symbol)
        ctx.charge(J.LOOKUP_DYNAMIC)
        return v

    def encode_cell(self) -> bytes:
        return b"\xc1" + write_ref(self.address) + write_ref(self.symbol)

    def children(self) -> tuple:
        return (self.address, self.symbol)


def address_number(v: Any) -> "int | None":
    return v.n if type(v) is Address else None


SPECIAL_NAMES = ("*juice*", "*caller*", "*address*", "*memory*", "*balance*", "*origin*",
                 "*result*", "*timestamp*", "*depth*", "*offer*", "*state*", "*holdings*",
                 "*sequence*", "*key*", "*juice-price*", "*scope*", "*juice-limit*",
                 "*controller*", "*env*", "*parent*", "*nop*", "*memory-price*", "*signer*",
                 "*peer*", "*location*")


class Special(Op):
    """A special symbol such as *address* or *depth*."""

    __slots__ = ("code",)
    juice = J.SPECIAL
    tag = 0xE5
    by_symbol: dict = {}

    def __init__(self, code: int):
        self.code = code

    @property
    def symbol(self) -> Symbol:
        return Symbol(SPECIAL_NAMES[self.code])

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        from kernel.cvm import specials
        v = specials.value(self.code, ctx, d)
        ctx.charge(J.SPECIAL)
        return v

    def encode_cell(self) -> bytes:
        from kernel.data.cell import vlq
        return b"\xe5" + vlq(self.code)


for _i, _name in enumerate(SPECIAL_NAMES):
    Special.by_symbol[Symbol(_name)] = Special(_i)


# --- composite ops ------------------------------------------------------------------------------

class Invoke(Op):
    """Function call: evaluate the function op, then the arguments in order, then call."""

    __slots__ = ("fn", "args")
    juice = 0
    tag = 0xDB

    def __init__(self, fn: Op, args: Sequence[Op]):
        self.fn = fn
        self.args = tuple(args)

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        if d > MAX_DEPTH:
            raise _depth_error(d)
        d1 = d + 1
        f = self.fn.ex(ctx, env, d1)
        args = []
        for a in self.args:
            args.append(a.ex(ctx, env, d1))
        try:
            return invoke(ctx, f, args, d)
        except ErrorValue as e:
            e.add_trace(self)
            raise

    def encode_cell(self) -> bytes:
        return b"\xdb" + _body((self.fn,) + self.args)

    def children(self) -> tuple:
        return Vector.from_seq((self.fn,) + self.args).children()


class Do(Op):
    __slots__ = ("ops",)
    juice = J.DO
    tag = 0xDA

    def __init__(self, ops: Sequence[Op]):
        self.ops = tuple(ops)

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        if d > MAX_DEPTH:
            raise _depth_error(d)
        ctx.charge(J.DO)
        d1 = d + 1
        v = None
        for op in self.ops:
            v = op.ex(ctx, env, d1)
            ctx.result = v
        return v

    def encode_cell(self) -> bytes:
        return b"\xda" + _body(self.ops)

    def children(self) -> tuple:
        return Vector.from_seq(self.ops).children()


class Cond(Op):
    __slots__ = ("ops",)
    juice = J.COND_OP
    tag = 0xDC

    def __init__(self, ops: Sequence[Op]):
        self.ops = tuple(ops)

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        if d > MAX_DEPTH:
            raise _depth_error(d)
        ctx.charge(J.COND_OP)
        ops = self.ops
        n = len(ops)
        d1 = d + 1
        i = 0
        while i < n - 1:
            t = ops[i].ex(ctx, env, d1)
            ctx.result = t
            if t is not None and t is not False:
                return ops[i + 1].ex(ctx, env, d1)
            i += 2
        if n & 1:
            return ops[n - 1].ex(ctx, env, d1)
        return None

    def encode_cell(self) -> bytes:
        return b"\xdc" + _body(self.ops)

    def children(self) -> tuple:
        return Vector.from_seq(self.ops).children()


class Let(Op):
    """let / loop: bind (possibly destructuring) forms, then run the body. A loop is a recur
    target: recur re-binds the same forms and runs the body again.

    As in the reference (its Let op saves the binding vector and puts it back), the bindings
    in scope outside the let are restored when it exits, however it exits, and a loop
    restores them before each recur re-binds: a set! of an outer local inside the block is
    undone when the block ends, `(let [a 10] (let [] (set! a 13)) a)` is 10. Only the
    positions a set! in the block may assign are saved (`outer_sets`)."""

    __slots__ = ("bindings", "ops", "is_loop", "_binders", "_sets")
    juice = J.LET

    def __init__(self, bindings: Sequence[Any], ops: Sequence[Op], is_loop: bool):
        from kernel.cvm.binding import binder
        self.bindings = tuple(bindings)
        self.ops = tuple(ops)
        self.is_loop = is_loop
        self._binders = tuple(binder(b) for b in self.bindings)

    @property
    def tag(self) -> int:  # type: ignore[override]
        return 0xC3 if self.is_loop else 0xC2

    def outer_sets(self) -> "tuple | None":
        """The binding positions a set! in this block may assign, sorted (None: unknown, an
        op of a kind not known here may assign any)."""
        try:
            return self._sets
        except AttributeError:
            found = set_positions(self.ops)
            s = self._sets = None if found is None else valid_positions(found)
            return s

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        if d > MAX_DEPTH:
            raise _depth_error(d)
        ctx.charge(J.LET)
        d1 = d + 1
        base = len(env)
        ops = self.ops
        binders = self._binders
        nb = len(binders)
        sets = self.outer_sets()
        if sets is None:
            saved = list(enumerate(env))
        elif sets and sets[0] < base:
            saved = [(p, env[p]) for p in sets if p < base]
        else:
            saved = None
        try:
            for i in range(nb):
                v = ops[i].ex(ctx, env, d1)
                ctx.result = v
                binders[i](ctx, env, v)
            if not self.is_loop:
                v = None
                for i in range(nb, len(ops)):
                    v = ops[i].ex(ctx, env, d1)
                return v
            while True:
                try:
                    v = None
                    for i in range(nb, len(ops)):
                        v = ops[i].ex(ctx, env, d1)
                    return v
                except Recur as r:
                    vals = r.args_
                    if len(vals) != nb:
                        raise arity_error(f"Expected {nb} value(s) for recur but got: "
                                          f"{len(vals)}") from None
                    del env[base:]
                    if saved:
                        for p, x in saved:
                            env[p] = x
                    for i in range(nb):
                        binders[i](ctx, env, vals[i])
        finally:
            del env[base:]
            if saved:
                for p, x in saved:
                    env[p] = x

    def encode_cell(self) -> bytes:
        return (bytes((self.tag,)) + write_ref(Vector.from_seq(self.bindings))
                + write_ref(Vector.from_seq(self.ops)))

    def children(self) -> tuple:
        return (Vector.from_seq(self.bindings), Vector.from_seq(self.ops))


class Def(Op):
    """Define a symbol in the current account's environment (with metadata from syntax)."""

    __slots__ = ("key", "op")
    juice = J.DEF
    tag = 0xCD

    def __init__(self, key: Any, op: "Op | None"):
        self.key = key          # Symbol or Syntax wrapping a Symbol
        self.op = op

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        from kernel.data.syntax import Syntax
        if d > MAX_DEPTH:
            raise _depth_error(d)
        k = self.key
        if self.op is None:        # (def x) keeps the value x already has here, or nil
            acct = ctx.account()
            v = acct.environment.get(k.datum if type(k) is Syntax else k)
        else:
            v = self.op.ex(ctx, env, d + 1)
        if type(k) is Syntax:
            ctx.define(k.datum, v, k.meta)
        else:
            ctx.define(k, v)
        ctx.charge(J.DEF)
        return v

    def encode_cell(self) -> bytes:
        return b"\xcd" + write_ref(self.key) + write_ref(self.op)

    def children(self) -> tuple:
        return (self.key, self.op)


class Lambda(Op):
    """Create a closure over the current lexical bindings."""

    __slots__ = ("fn",)
    juice = J.LAMBDA
    tag = 0xC0

    def __init__(self, fn: Any):
        self.fn = fn            # an Fn or MultiFn template with an empty lexical environment

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        ctx.charge(J.LAMBDA)
        return self.fn.close_over(tuple(env))

    def encode_cell(self) -> bytes:
        return b"\xc0\xbf" + write_ref(self.fn)

    def children(self) -> tuple:
        return (self.fn,)


class Query(Op):
    """Run the child ops, then roll back every state change; the value is kept."""

    __slots__ = ("ops",)
    juice = J.QUERY
    tag = 0xC0

    def __init__(self, ops: Sequence[Op]):
        self.ops = tuple(ops)

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        if d > MAX_DEPTH:
            raise _depth_error(d)
        ctx.charge(J.QUERY)
        saved = ctx.fork()
        saved_env = env[:]
        try:
            v = None
            for op in self.ops:
                v = op.ex(ctx, env, d + 1)
        finally:
            ctx.restore(saved)
            env[:] = saved_env      # set! on locals is rolled back too
        return v

    def encode_cell(self) -> bytes:
        return b"\xc0\xbb" + write_ref(Vector.from_seq(self.ops))

    def children(self) -> tuple:
        return (Vector.from_seq(self.ops),)


class Try(Op):
    """Run each op in turn until one succeeds; a catchable error moves on to the next op
    (with the error code as *result*) and rolls back that op's state changes."""

    __slots__ = ("ops",)
    juice = J.TRY
    tag = 0xC0

    def __init__(self, ops: Sequence[Op]):
        self.ops = tuple(ops)

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        if d > MAX_DEPTH:
            raise _depth_error(d)
        ops = self.ops
        n = len(ops)
        if n == 0:
            ctx.charge(J.TRY)
            return None
        for i, op in enumerate(ops):
            ctx.charge(J.TRY)
            saved = ctx.fork()
            saved_env = env[:]
            try:
                return op.ex(ctx, env, d + 1)
            except ErrorValue as e:
                if not e.catchable or i + 1 >= n:
                    raise
                env[:] = saved_env
                ctx.restore(saved)
                ctx.result = e.code
        return None

    def encode_cell(self) -> bytes:
        return b"\xc0\xba" + write_ref(Vector.from_seq(self.ops))

    def children(self) -> tuple:
        return (Vector.from_seq(self.ops),)


class SetLocal(Op):
    """set! on a local binding. As in the reference's Set op, the position is checked first,
    and the new binding replaces the one in the bindings as they were before the value was
    computed: a set! of another local made while computing it does not survive."""

    __slots__ = ("pos", "op", "_sets")
    juice = J.SET_BANG
    tag = 0xC0

    def __init__(self, pos: int, op: Op):
        self.pos = pos
        self.op = op

    def inner_sets(self) -> "tuple | None":
        """Other positions a set! inside the value's op may assign (None: unknown)."""
        try:
            return self._sets
        except AttributeError:
            found = set_positions((self.op,))
            s = self._sets = None if found is None else valid_positions(found, self.pos)
            return s

    def ex(self, ctx: Context, env: list, d: int) -> Any:
        if d > MAX_DEPTH:
            raise _depth_error(d)
        pos = self.pos
        if type(pos) is not int or not 0 <= pos < len(env):
            raise error(BOUNDS, f"Bad position for set!: {pos}")
        sets = self.inner_sets()
        if sets is None:
            saved = list(enumerate(env))
        elif sets:
            saved = [(p, env[p]) for p in sets if p < len(env)]
        else:
            saved = None
        v = self.op.ex(ctx, env, d + 1)
        if saved:
            for p, x in saved:
                env[p] = x
        env[pos] = v
        ctx.charge(J.SET_BANG)
        return v

    def encode_cell(self) -> bytes:
        return b"\xc0" + write_ref(self.pos) + write_ref(self.op)

    def children(self) -> tuple:
        return (self.pos, self.op)


def valid_positions(found: set, exclude: Any = None) -> tuple:
    """The binding positions (non-negative integers) among `found`, sorted."""
    return tuple(sorted(p for p in found if type(p) is int and p >= 0 and p != exclude))


def set_positions(ops: Sequence[Any]) -> "set | None":
    """Binding positions that a set! may assign while `ops` run in the current lexical
    environment (closure bodies run in their own and are not looked into); None if an op of
    a kind not known here is met. A nested let answers from its own cache."""
    out: set = set()
    todo = list(ops)
    while todo:
        o = todo.pop()
        t = type(o)
        if t is SetLocal:
            out.add(o.pos)
            inner = o.inner_sets()
            if inner is None:
                return None
            out.update(inner)
        elif t in (Constant, Local, Special, Lambda):
            pass
        elif t is Let:
            inner = o.outer_sets()
            if inner is None:
                return None
            out.update(inner)
        elif t is Lookup:
            if o.address is not None:
                todo.append(o.address)
        elif t is Invoke:
            todo.append(o.fn)
            todo.extend(o.args)
        elif t in (Do, Cond, Query, Try):
            todo.extend(o.ops)
        elif t is Def:
            if o.op is not None:
                todo.append(o.op)
        else:
            return None
    return out


NIL = Constant(None)

__all__ = ["Op", "Constant", "Local", "Lookup", "Special", "Invoke", "Do", "Cond", "Let",
           "Def", "Lambda", "Query", "Try", "SetLocal", "NIL", "SPECIAL_NAMES", "set_positions"]
