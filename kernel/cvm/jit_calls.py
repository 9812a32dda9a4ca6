"""What JIT-compiled code calls at run time (kernel/jit_gen.py generates the calls): paying a
batch of juice that cannot be paid, slow paths of lookups and calls, and the direct entries of
compiled closures.

A compiled body has two entries. `jit_body(ctx, env, d)` is what `Fn.invoke` runs (through
`jit.run_body`): bindings in a list, nothing owed. `jit_pos(ctx, d, p, f, a0, ..)` is what a
call site in compiled code enters directly once it has seen the closure f (a cache per call
site: `direct_for` checks f once, so the entry checks only the depth): arguments are Python
parameters, and `p` is the juice the caller charged but has not yet paid -- the callee pays it
with its own first batch, so a chain of calls pays once per body instead of once per call. If
that payment fails in the caller's part, the callee raises `CallerOverdraw` and the caller
fails as it would have. Recur, tailcall and return end at the direct entry's boundary, as
`context.invoke` ends them around `Fn.invoke`.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from kernel.cvm.context import Context, invoke
from kernel.cvm.errors import ErrorValue, Recur, Return, TailCall, arity_error, juice_failure


class CallerOverdraw(Exception):
    """The juice a caller handed to a direct call could not be paid: the caller fails with
    its own trace (never escapes the calling compiled body)."""


def overdraw(ctx: Context, segments: tuple, p: int = 0) -> None:
    """A batch of charges could not be paid: fail like the interpreter's first charge that
    went over the limit. `segments` are (cumulative cost, Invoke op or None) in charge order,
    after `p` owed by the caller; a charge made inside an inlined core function is traced by
    its Invoke op, and one tagged CallerOverdraw is the caller's, where a body is inlined
    into its caller (kernel/jit_gen_calls.py)."""
    base = ctx.juice + p
    limit = ctx.limit
    if p and base > limit:
        raise CallerOverdraw()
    tag = None
    for cumulative, tag in segments:
        if base + cumulative > limit:
            break
    if tag is CallerOverdraw:
        raise CallerOverdraw()
    ctx.juice = limit
    e = juice_failure()
    if tag is not None:
        e.add_trace(tag)
    raise e


def pay_owed(ctx: Context, p: int) -> None:
    """Pay what a caller handed over, where the callee runs no compiled batch of its own."""
    if p:
        j = ctx.juice + p
        if j > ctx.limit:
            raise CallerOverdraw()
        ctx.juice = j


def lookup_slow(ctx: Context, op: Any, d: int, ns: dict, site: str) -> Any:
    """A Lookup whose cache (global `site` of `ns`: state, value) is not for the current
    state: run it in the interpreter and cache the value against the (immutable) state it
    was found in."""
    v = op.ex(ctx, [], d)
    ns[site] = (ctx.state, v)
    return v


def finish_exit(ctx: Context, f: Any, x: Exception, d: int) -> Any:
    """Finish a call of `f` that ended in the exit `x`, as `context.invoke` would have: recur
    calls f again with the new arguments, tailcall calls the new function, return gives its
    value -- unless f itself is recur/tailcall*/return, whose exit goes on up."""
    if isinstance(x, Recur):
        if getattr(f, "is_recur", False):
            raise x
        return invoke(ctx, f, x.args_, d)
    if isinstance(x, TailCall):
        if getattr(f, "is_tailcall", False):
            raise x
        return invoke(ctx, x.fn, x.args_, d)
    if getattr(f, "is_return", False):
        raise x
    return x.value


def resume(ctx: Context, f: Any, x: Exception, d: int, op: Any) -> Any:
    """`finish_exit` for a direct call site, whose errors are traced by its Invoke op."""
    try:
        return finish_exit(ctx, f, x, d)
    except ErrorValue as e:
        e.add_trace(op)
        raise


def recur_arity(nb: int, got: int) -> ErrorValue:
    """The error of Let.ex for a recur with the wrong number of values."""
    return arity_error(f"Expected {nb} value(s) for recur but got: {got}")


def global_fill(ctx: Context, op: Any, n: int, d: int, ns: dict, site: str) -> tuple:
    """A global call site's cache (global `site` of the generated code's namespace `ns`:
    state, entry, value) is not for the current state: look the function up as the
    interpreter does (juice, errors), and cache its entry for n arguments and its value."""
    v = op.ex(ctx, [], d)
    note_name(v, op)
    c = direct_for(v, n)
    entry = ns[site] = (ctx.state, generic_entry(ns, site) if c is None else c, v)
    return entry


def note_name(v: Any, op: Any) -> None:
    """Remember on the body of closure v that the name Lookup `op` finds has held it: calls
    of that name in the body are likely its own, which its direct entry inlines
    (kernel/jit_gen_calls.py). Noted before `direct_for` compiles the entry."""
    from kernel.cvm.fn import Fn

    if type(v) is not Fn:
        return
    body, key = v.body, (op.address.value, op.symbol)
    try:
        body.jit_names.add(key)
    except AttributeError:
        try:
            body.jit_names = {key}
        except AttributeError:      # an op that cannot carry it: never inlined
            pass


def generic_entry(ns: dict, site: str) -> Callable:
    """The entry a global call site uses for a value without a direct entry: pay what the
    caller hands over, then call as Invoke.ex does. A closure that becomes hot meanwhile
    (compiled by `jit.run_body`) is entered directly from the next call on."""
    def call_generic(ctx: Context, d: int, p: int, f: Any, *args: Any) -> Any:
        pay_owed(ctx, p)
        cached = ns[site]
        if cached[2] is f:
            c = direct_for(f, len(args))
            if c is not None:
                ns[site] = (cached[0], c, f)
        return invoke(ctx, f, list(args), d - 1)
    return call_generic


def call_slow(ctx: Context, f: Any, args: list, d: int, ns: dict, site: str) -> Any:
    """A call site's cache (global `site` of `ns`: closure, entry) missed: remember f's
    direct entry if it has one (the next call of f from here enters it), and call f as the
    interpreter does."""
    c = direct_for(f, len(args))
    if c is not None:
        ns[site] = (f, c)
    return invoke(ctx, f, args, d)


def direct_for(f: Any, n: int) -> Optional[Callable]:
    """The direct entry of closure f for n arguments, or None: f must be a closure of plain
    parameters taking n, whose body is hot (compiled by `jit.run_body`). Compiled here once
    per body and shape (captured bindings, parameters)."""
    from kernel.cvm import jit
    from kernel.cvm.fn import Fn

    if type(f) is not Fn or f._nparams != n or jit.THRESHOLD is None:
        return None
    body = f.body
    if getattr(getattr(body, "jit_code", None), "source", None) is None:
        return None
    k = len(f.env)
    try:
        entries = body.jit_pos
    except AttributeError:
        entries = body.jit_pos = {}
    try:
        return entries[k, n]
    except KeyError:
        pass
    c = entries[k, n] = jit.compile_direct(body, k, n)
    return c


def slow_entry(ctx: Context, body: Any, d: int, p: int, f: Any, args: list) -> Any:
    """A direct entry whose depth test failed: pay what the caller owes, then interpret."""
    pay_owed(ctx, p)
    return body.ex(ctx, [*f.env, *args], d)


RUNTIME = {"invoke": invoke, "ErrorValue": ErrorValue, "Recur": Recur, "overdraw": overdraw,
           "Exit": (Recur, TailCall, Return), "resume": resume, "lookup_slow": lookup_slow,
           "recur_arity": recur_arity, "call_slow": call_slow, "CallerOverdraw": CallerOverdraw,
           "slow_entry": slow_entry, "global_fill": global_fill,
           "finish_exit": finish_exit}
