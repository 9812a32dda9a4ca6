"""Seeing execution: the interpreter in an instrumented mode, for call traces, per-op juice,
coverage and the step debugger.

Tracing costs nothing when it is off because nothing in the normal path checks for it:
`tracing(recorder)` swaps wrappers in for the Op classes' `ex`, `Fn.invoke` and
`CoreFn.invoke` while it lasts, with the JIT off (compiled bodies would skip the ops), and
puts the originals back after. The wrappers act only in the thread that started the trace
(another thread running CVM code meanwhile, a background cost badge say, just runs the
originals) and one trace runs at a time per process. Juice is the same as untraced: the
wrappers only read `ctx.juice` around the originals.

The Recorder keeps, per op (keyed by the op that ran it and the op itself, so an op shared
by two places in one tree is told apart when its parents differ), how often it ran and the
juice it charged itself, and the tree of calls: each call of a closure (a user or actor
function) and of `eval`, `eval-as`, `query-as`, `deploy`, `call` into an actor and
`schedule`, with arguments, result or error and the juice used including callees.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from kernel.cvm import jit
from kernel.cvm.errors import ErrorValue, Recur, Return
from kernel.cvm.fn import CoreFn, Fn
from kernel.cvm.ops import Invoke, Lookup, Op

_LOCK = threading.Lock()
_get_ident = threading.get_ident

# Core functions that appear in the call tree as calls of their own (name shown, address
# argument position or None); `call*` is shown as the actor function it calls.
TRACED_CORE = {"eval": "eval", "eval-as": "eval-as", "query-as": "query-as",
               "deploy": "deploy", "schedule*": "schedule"}
# Expanding and compiling run macro functions: not calls the user made, so not in the tree
# (their juice counts in the caller's, `eval` say).
QUIET_CORE = frozenset(("*initial-expander*", "expand", "compile"))


class Call:
    """One call in the tree: the function's name, the account it ran in, its arguments,
    result or error (a CVM value / code) and the juice it used including its callees."""

    __slots__ = ("fn", "address", "args", "result", "error", "message", "juice", "calls",
                 "depth", "recurs", "omitted", "site", "core", "_fn_value")

    def __init__(self, fn: str, address: Optional[int], args: list, depth: int):
        self.fn, self.address, self.args, self.depth = fn, address, args, depth
        self.result = self.error = self.message = None
        self.juice = 0
        self.calls: list = []
        self.recurs = 0          # times its body ran again through recur
        self.omitted = 0         # calls below it not recorded (past the depth or count limit)
        self.site: Any = None    # the Invoke op that made the call, when one did directly
        self.core = False        # a core function (eval, deploy...) run in `address`
        self._fn_value: Any = None


class OpStat:
    """How often one op ran at one place, and the juice it charged itself (children and
    called functions' bodies excluded)."""

    __slots__ = ("op", "count", "juice")

    def __init__(self, op: Any):
        self.op, self.count, self.juice = op, 0, 0


class Recorder:
    """Collects op statistics and the call tree while `tracing(recorder)` is active.
    `max_depth` bounds the recorded call depth and `max_calls` the calls recorded (their
    juice still counts in their callers'); `pause(op, ctx, env, d)`, when a subclass defines
    it, runs before each op (the debugger stops there)."""

    pause: Any = None

    def __init__(self, max_depth: Optional[int] = None, max_calls: int = 100_000):
        self.max_depth, self.max_calls = max_depth, max_calls
        self.root = Call("root", None, [], 0)
        self.stats: dict = {}        # (id(parent op) or 0, id(op)) -> OpStat
        self.calls_recorded = 0
        self._frames: list = []      # [op or None, juice at entry, juice of op children,
        #                              bindings at entry]
        self._calls: list = [self.root]
        self._invokes: list = []     # the Invoke ops running, innermost last (names calls)
        self._names: dict = {}       # id(fn value) -> name found in an environment
        self._absorb: Optional[Call] = None     # a call* node whose Fn call is itself
        self._recur: Optional[Call] = None      # a node whose body recurs into itself
        self.quiet = 0               # > 0 while expanding or compiling

    def new_root(self) -> Call:
        """Start a new call tree (the next test, say); the finished one is returned."""
        old = self.root
        self.root = Call("root", None, [], 0)
        self._calls = [self.root]
        self.calls_recorded = 0
        return old

    # --- ops -------------------------------------------------------------------------------
    def run_op(self, orig: Any, op: Any, ctx: Any, env: list, d: int) -> Any:
        frames = self._frames
        parent = frames[-1][0] if frames else None
        key = (0 if parent is None else id(parent), id(op))
        st = self.stats.get(key)
        if st is None:
            st = self.stats[key] = OpStat(op)
        st.count += 1
        if self.pause is not None:
            self.pause(op, ctx, env, d)
        frame = [op, ctx.juice, 0, len(env)]
        frames.append(frame)
        is_invoke = type(op) is Invoke
        if is_invoke:
            self._invokes.append(op)
        try:
            return orig(op, ctx, env, d)
        finally:
            if is_invoke:
                self._invokes.pop()
            frames.pop()
            total = ctx.juice - frame[1]
            st.juice += total - frame[2]
            for f in reversed(frames):      # the nearest op below: its children's juice
                if f[0] is not None:
                    f[2] += total
                    break

    def _body_frame(self) -> list:
        """A frame with no op: what runs under it (a function body, eval'd code) is a root."""
        return [None, 0, 0, 0]

    # --- calls -----------------------------------------------------------------------------
    def _open(self, name: str, address: Optional[int], args: list) -> Optional[Call]:
        if self.quiet:
            return None
        parent = self._calls[-1]
        depth = parent.depth + 1
        if ((self.max_depth is not None and depth > self.max_depth)
                or self.calls_recorded >= self.max_calls):
            parent.omitted += 1
            return None
        self.calls_recorded += 1
        node = Call(name, address, list(args), depth)
        parent.calls.append(node)
        return node

    def call_fn(self, orig: Any, f: Any, ctx: Any, args: list, d: int) -> Any:
        absorbed = self._absorb
        self._absorb = None
        again = self._recur
        self._recur = None
        if absorbed is not None:
            node = None                     # the call* node already stands for this call
        elif again is not None and again._fn_value is f:
            node = again                    # recur: the same call running its body again
            node.recurs += 1
        elif self.quiet:
            node = None
        else:
            name, addr = self._name(f, ctx)
            node = self._open(name, addr, args)
            if node is not None:
                node._fn_value = f
                node.site = self._site()
        return self._run_call(node, orig, f, ctx, args, d, True)

    def call_core(self, orig: Any, f: Any, ctx: Any, args: list, d: int) -> Any:
        self._absorb = None
        name = f.name
        node = None
        if name == "call*" and len(args) >= 3:
            from kernel.data.scalars import Address, Symbol
            t, sym = args[0], args[2]
            if type(t) is not Address and hasattr(t, "__len__") and len(t) == 2:
                t = t[0]
            node = self._open(sym.name if type(sym) is Symbol else "call",
                              t.n if type(t) is Address else None, args[3:])
        elif name in TRACED_CORE:
            node = self._open(TRACED_CORE[name], ctx.address, args)
            if node is not None:
                node.core = True
        if node is not None:
            node.site = self._site()
        if node is None:
            quiet = name in QUIET_CORE
            self.quiet += quiet
            self._frames.append(self._body_frame())
            try:
                return orig(f, ctx, args, d)
            finally:
                self._frames.pop()
                self.quiet -= quiet
        if name == "call*":
            self._absorb = node
        try:
            return self._run_call(node, orig, f, ctx, args, d, False)
        finally:
            self._absorb = None

    def _run_call(self, node: Optional[Call], orig: Any, f: Any, ctx: Any, args: list,
                  d: int, body: bool) -> Any:
        j0 = ctx.juice
        if node is not None:
            self._calls.append(node)
        self._frames.append(self._body_frame())
        try:
            v = orig(f, ctx, args, d)
            if node is not None:
                node.result = v
            return v
        except Recur:
            if node is not None and body:
                self._recur = node          # its body runs again with the new arguments
            raise
        except Return as r:
            if node is not None:
                node.result = r.value
            raise
        except ErrorValue as e:
            if node is not None:
                node.error, node.message = e.code, e.message
            raise
        finally:
            self._frames.pop()
            if node is not None:
                node.juice += ctx.juice - j0
                self._calls.pop()

    def _site(self) -> Any:
        """The Invoke op making the call being entered, if it calls directly."""
        inv = self._invokes[-1] if self._invokes else None
        return inv if inv is not None and self._frames and self._frames[-1][0] is inv else None

    def _name(self, f: Any, ctx: Any) -> tuple:
        """(name, address) of a called function: from the Invoke op calling it when its
        function is a lookup, else the name it has in the running account's environment."""
        inv = self._invokes[-1] if self._invokes else None
        frames = self._frames
        direct = inv is not None and frames and frames[-1][0] is inv
        if direct and type(inv.fn) is Lookup:
            a = inv.fn.address
            addr = getattr(getattr(a, "value", None), "n", None)
            return inv.fn.symbol.name, ctx.address if addr is None else addr
        key = (id(f), ctx.address)
        cached = self._names.get(key)
        if cached is None or cached[0] is not f:     # (the function is kept: ids stay unique)
            cached = self._names[key] = (f, _name_in(ctx, f))
        return cached[1], ctx.address

    # --- results ---------------------------------------------------------------------------
    def op_stats(self) -> dict:
        """id(op) -> [count, juice] summed over the places it ran."""
        out: dict = {}
        for (_, oid), st in self.stats.items():
            c = out.get(oid)
            if c is None:
                out[oid] = [st.count, st.juice]
            else:
                c[0] += st.count
                c[1] += st.juice
        return out


def _name_in(ctx: Any, f: Any) -> str:
    acct = ctx.state.account(ctx.address)
    if acct is not None:
        for sym, v in acct.environment.items():
            if v is f:
                return sym.name
    return "fn"


# --- switching the instrumented mode on and off ---------------------------------------------------

def _op_classes() -> list:
    out, todo = [], [Op]
    while todo:
        c = todo.pop()
        todo.extend(c.__subclasses__())
        if "ex" in c.__dict__ and c is not Op:
            out.append(c)
    return out


def _wrap_ex(orig: Any, rec: Recorder, tid: int) -> Any:
    run = rec.run_op

    def ex(self: Any, ctx: Any, env: list, d: int) -> Any:
        if _get_ident() != tid:
            return orig(self, ctx, env, d)
        return run(orig, self, ctx, env, d)
    return ex


def _wrap_invoke(orig: Any, hook: Any, tid: int) -> Any:
    def invoke(self: Any, ctx: Any, args: list, d: int) -> Any:
        if _get_ident() != tid:
            return orig(self, ctx, args, d)
        return hook(orig, self, ctx, args, d)
    return invoke


@contextmanager
def tracing(rec: Recorder) -> Iterator[Recorder]:
    """Run the block with `rec` seeing every op and call made in this thread (JIT off)."""
    with _LOCK:
        tid = _get_ident()
        saved = [(c, c.__dict__["ex"]) for c in _op_classes()]
        fn_invoke, core_invoke = Fn.__dict__["invoke"], CoreFn.__dict__["invoke"]
        try:
            for c, orig in saved:
                c.ex = _wrap_ex(orig, rec, tid)
            Fn.invoke = _wrap_invoke(fn_invoke, rec.call_fn, tid)
            CoreFn.invoke = _wrap_invoke(core_invoke, rec.call_core, tid)
            with jit.threshold(None):
                yield rec
        finally:
            for c, orig in saved:
                c.ex = orig
            Fn.invoke = fn_invoke
            CoreFn.invoke = core_invoke


__all__ = ["Recorder", "Call", "OpStat", "tracing", "TRACED_CORE"]
