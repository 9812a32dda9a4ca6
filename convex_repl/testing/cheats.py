"""Cheatcodes and the choice source: the Python side of test sessions.

Cheatcodes act on the running Context (acting account, time, balances, whole states), which
CVM code can't do, so they are CoreFn values whose implementation is here. They are not in
the core registry: `install` defines them in a test session's account only (a normal session
or a peer has no such names: :UNDECLARED), and their encoding names no known core code, so a
transaction carrying one decodes to an inert value, never a function.

`draw` and `size` are what the generator library (stdlib/gen.cvx) is built on: every random
choice is `(draw n)`, an integer in [0, n) taken from the thread's `Source` (a seeded PRNG,
or a recorded list of choices replayed while shrinking), so generation runs in the CVM, is
deterministic from the seed, and a counterexample shrinks by shrinking its choices.
"""
from __future__ import annotations

import random
import threading
from typing import Any, Optional

from kernel.cvm.context import invoke
from kernel.cvm.errors import ARGUMENT, CAST, NOBODY, error
from kernel.cvm.fn import CoreFn, is_fn
from kernel.data.scalars import Address, Symbol

_CODE_BASE = 0x7E570000         # far from the reference's core codes: decodes to nothing
MAX_DRAWS = 100_000             # choices one generation may take (a runaway generator stops)
_local = threading.local()


class Source:
    """Where `(draw n)` takes its choices: `rng` (recording them), else `replay` (a list;
    past its end, or above n-1, the smallest choices)."""

    def __init__(self, rng: Optional[random.Random] = None, replay: Optional[list] = None,
                 size: int = 10):
        self.rng = rng if rng is not None or replay is not None else random.Random(0)
        self.replay = replay
        self.size = size
        self.drawn: list = []

    def draw(self, n: int) -> int:
        i = len(self.drawn)
        if i >= MAX_DRAWS:
            raise error(ARGUMENT, f"a generator drew more than {MAX_DRAWS} choices")
        if self.replay is not None:
            c = self.replay[i] if i < len(self.replay) else 0
            c = min(c, n - 1)
        else:
            c = self.rng.randrange(n)
        self.drawn.append(c)
        return c


def source() -> Source:
    s = getattr(_local, "source", None)
    if s is None:
        s = _local.source = Source()
    return s


def use_source(s: Optional[Source]) -> None:
    _local.source = s


def reset_snapshots() -> None:
    _local.snapshots = []


def _snapshots() -> list:
    s = getattr(_local, "snapshots", None)
    if s is None:
        s = _local.snapshots = []
    return s


# --- argument checks ---------------------------------------------------------------------------

def _long(v: Any, what: str, lo: int = 0) -> int:
    if type(v) is not int:
        raise error(CAST, f"{what} must be a Long")
    if v < lo:
        raise error(ARGUMENT, f"{what} must be at least {lo}, got {v}")
    return v


def _account(ctx: Any, v: Any, what: str) -> int:
    if type(v) is not Address:
        raise error(CAST, f"{what} must be an Address")
    if ctx.state.account(v.n) is None:
        raise error(NOBODY, f"No account found for: #{v.n}")
    return v.n


def _arity(args: list, n: int, name: str) -> None:
    if len(args) != n:
        from kernel.cvm.errors import exact_arity
        raise exact_arity(n, len(args))


# --- the cheatcodes ------------------------------------------------------------------------------

def _as(ctx: Any, args: list, d: int) -> Any:
    """(as* ADDR thunk): the thunk runs with ADDR as *address* and *origin* (no *caller*),
    as if ADDR had sent it; names in it still resolve where they were compiled."""
    _arity(args, 2, "as*")
    n = _account(ctx, args[0], "as: the account")
    f = args[1]
    if not is_fn(f):
        raise error(CAST, "as*: the body must be a function of no arguments")
    saved = (ctx.address, ctx.origin, ctx.caller, ctx.limit)
    ctx.address, ctx.origin, ctx.caller = n, n, None
    try:
        return invoke(ctx, f, [], d + 1)
    finally:
        ctx.address, ctx.origin, ctx.caller, ctx.limit = saved


def _advance(ctx: Any, args: list, d: int) -> Any:
    """(advance ms): time moves on as an empty block would (scheduled operations run)."""
    _arity(args, 1, "advance")
    ms = _long(args[0], "advance: milliseconds")
    from kernel.transition.ledger import advance_time
    ctx.state, _ = advance_time(ctx.state, ms)
    return ctx.state.timestamp


def _warp(ctx: Any, args: list, d: int) -> Any:
    """(warp ts): the timestamp becomes ts; forward as `advance` does, back by setting it."""
    _arity(args, 1, "warp")
    ts = _long(args[0], "warp: timestamp")
    now = ctx.state.timestamp
    if ts >= now:
        return _advance(ctx, [ts - now], d)
    ctx.state = ctx.state.with_(timestamp=ts)
    return ts


def _set_balance(ctx: Any, args: list, d: int) -> Any:
    """(set-balance ADDR n): the account holds exactly n coins (minted or burnt)."""
    _arity(args, 2, "set-balance")
    n = _account(ctx, args[0], "set-balance: the account")
    b = _long(args[1], "set-balance: the balance")
    if b > 1_000_000_000_000_000_000:
        raise error(ARGUMENT, "set-balance: more than the maximum supply")
    ctx.state = ctx.state.put_account(n, ctx.state.account(n).with_balance(b))
    return b


def _snapshot(ctx: Any, args: list, d: int) -> Any:
    """(snapshot): an id of the whole current state, for `revert` within the same test."""
    _arity(args, 0, "snapshot")
    snaps = _snapshots()
    snaps.append(ctx.state)
    return len(snaps) - 1


def _revert(ctx: Any, args: list, d: int) -> Any:
    """(revert id): back to the state `snapshot` gave that id (later ones stay usable)."""
    _arity(args, 1, "revert")
    i = _long(args[0], "revert: the snapshot id")
    snaps = _snapshots()
    if i >= len(snaps):
        raise error(ARGUMENT, f"revert: no snapshot {i} in this test")
    ctx.state = snaps[i]
    return True


def _draw(ctx: Any, args: list, d: int) -> Any:
    _arity(args, 1, "draw")
    n = _long(args[0], "draw: the bound", 1)
    return source().draw(n)


def _size(ctx: Any, args: list, d: int) -> Any:
    _arity(args, 0, "size")
    return source().size


CHEATS = {"as*": _as, "warp": _warp, "advance": _advance, "set-balance": _set_balance,
          "snapshot": _snapshot, "revert": _revert}
DOCS = {
    "as*": ("[address f]", "Calls f (no arguments) as the account: *address* and *origin* "
            "are it. A test session's cheatcode; `as` is the macro to use."),
    "warp": ("[timestamp]", "Sets the time: forward as advance does, back by setting it. "
             "A test session's cheatcode."),
    "advance": ("[ms]", "Moves time forward as an empty block would (scheduled operations "
                "run); the new timestamp. A test session's cheatcode."),
    "set-balance": ("[address n]", "The account holds exactly n coins (minted or burnt). A "
                    "test session's cheatcode."),
    "snapshot": ("[]", "An id of the current state, for revert in the same test. A test "
                 "session's cheatcode."),
    "revert": ("[id]", "Back to the state snapshot gave that id. A test session's "
               "cheatcode."),
    "draw": ("[n]", "A choice in [0, n) from the runner's source (seeded, or replayed "
             "while shrinking): what every generator is built on."),
    "size": ("[]", "How big generated collections may grow (1 to 50 over a test's runs)."),
}


def _meta(name: str) -> Any:
    from lisp import read
    params, text = DOCS[name]
    return read('{:doc {:description "%s" :signature [{:params %s}]}}' % (text, params))
GEN_PRIMITIVES = {"draw": _draw, "size": _size}
_FNS: dict = {}


def cheat_fn(name: str) -> CoreFn:
    f = _FNS.get(name)
    if f is None:
        impl = CHEATS.get(name) or GEN_PRIMITIVES[name]
        f = _FNS[name] = CoreFn(name, _CODE_BASE + len(_FNS), impl)
    return f


def install(session: Any) -> int:
    """Make `session` a test session: the cheatcodes defined in its account, and the
    generator library deployed as an account of its own (its primitives defined there
    before its code compiles), aliased `gen`. The gen account's number."""
    from kernel.cvm.context import Context
    from stdlib import source as stdlib_source
    from convex_repl.api import Session
    ctx = Context(session.state, session.address)
    for name in CHEATS:
        ctx.define(Symbol(name), cheat_fn(name), _meta(name))
    session.state = ctx.state
    r = session.eval("(deploy '(do))")
    if not r.ok:
        raise RuntimeError(f"can't create the gen account: :{r.error} {r.message}")
    gen = r.value.n
    ctx = Context(session.state, gen)
    for name in GEN_PRIMITIVES:
        ctx.define(Symbol(name), cheat_fn(name), _meta(name))
    g = Session(ctx.state, gen, session.juice_limit)
    r = g.eval(stdlib_source("gen.cvx"))
    if not r.ok:
        raise RuntimeError(f"stdlib/gen.cvx failed to load: :{r.error} {r.message}")
    session.state = g.state
    r = session.eval(f"(def gen #{gen})")
    if not r.ok:
        raise RuntimeError(f"can't alias gen: :{r.error} {r.message}")
    return gen


__all__ = ["Source", "source", "use_source", "reset_snapshots", "install", "cheat_fn", "CHEATS"]
