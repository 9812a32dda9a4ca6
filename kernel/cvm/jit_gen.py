"""Op tree -> Python source: the code generator of the JIT (see kernel/jit.py).

One closure body becomes one Python function `jit_body(ctx, env, d)` with exactly the
semantics of `body.ex(ctx, env, d)`, and, once compiled code calls the closure, a direct entry
`jit_pos(ctx, d, p, f, args...)` with the same body (kernel/jit_calls.py). What makes it fast:

* Lexical bindings live in Python locals v0, v1, ... instead of the `env` list: the number
  of bindings at every point of the body is static, given the length of `env` on entry (the
  function checks it and otherwise runs the interpreter).
* Depth is checked once on entry: if no natively compiled op can exceed MAX_DEPTH the body
  runs without per-op checks, else the interpreter runs it.
* Juice is batched. Charges that nothing can observe (Constant, Local, Lookup hits, the
  fixed cost of Do/Cond/Let/Lambda/set!, inlined core functions) accumulate at compile time
  in `pending` and are paid by one check at the next point where juice can be observed:
  before any call, anything that may raise, a special symbol, a loop head, a branch merge,
  a return. A batch that cannot be paid fails as the interpreter would (`overdraw`).
* *result* after a Cond's test that is a bool is a constant in each arm (True, then False):
  stored only where code may read it, so a store another overwrites first is never made.
* Environment lookups of a constant address are cached per op against the state object,
  which is immutable: a def makes a new state, so a stale value is never used. Caches are
  globals of the generated code's namespace (`site`), one load to read.
* Hot core functions are inlined behind type guards (kernel/jit_inline.py); `recur` in tail
  position of a loop becomes a jump. That a binding of the entry nothing assigns holds a
  Long is tested once on each path that needs it (the fact F<pos>), for all its guards, or
  not at all where its known range lies within the Longs (kernel/jit_ranges.py). Range
  tests are written so that CPython specializes them (kernel/jit_inline.py); a bool tested
  by a Cond stays a condition.
* Calls of closures go from compiled body to compiled body (kernel/jit_gen_calls.py): a
  call site caches the callee's direct entry and passes arguments as Python parameters. The
  batch pending at the call is handed to the callee (`p`), which pays it with its first own.
  A direct entry calling itself by name runs its own body inline, up to two levels deep.
* Python frames cost per local: temporaries are reused once nothing reads them.

Anything else (query, try, def, lookups of computed addresses, malformed ops, op types this
module does not know) runs through the interpreter as a subtree: its `ex` gets a list of the
current bindings, and bindings it may set! are copied back.

Invariant behind the slow paths: the true juice used is always `ctx.juice` plus the pending
total (plus `p`, in a direct entry until it is paid). A guarded fast path adds its cost to `pending`; the matching slow path pays the
pending batch, calls the function (which charges what it really costs), then takes the fast
path's total back off `ctx.juice`, so both paths leave the same pending batch behind. Since
every point that can raise or observe juice pays the batch first, `ctx.juice` is exact
whenever anything can see it.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Optional

from kernel.cvm import juice as J
from kernel.cvm.binding import UNDERSCORE, binding_symbols, unwrap
from kernel.cvm.context import MAX_DEPTH
from kernel.cvm.fn import Fn
from kernel.cvm.jit_calls import RUNTIME as CALL_RUNTIME
from kernel.cvm.jit_gen_calls import CallGen
from kernel.cvm.jit_inline import RUNTIME, long_test
from kernel.cvm.jit_ranges import is_long_range, narrowed
from kernel.cvm.ops import (Cond, Constant, Do, Invoke, Lambda, Let, Local, Lookup, Op, SetLocal,
                            Special, set_positions)
from kernel.data.scalars import Address, Symbol
from kernel.cvm.specials import value as special_value

RETURN = "return"                   # generation modes: None gives the value as an expression
RETURN_RESULT = "return+result"     # return it, after setting *result* (tail of a Do)


_RUNTIME = {"Fn": Fn, "special_value": special_value, **CALL_RUNTIME, **RUNTIME}


def set_targets(op: Any) -> Optional[set]:
    """Binding positions that set! may assign while `op` runs (None: unknown, maybe any)."""
    return set_positions((op,))


class _Loop:
    """A loop whose body is being generated: where recur in tail position jumps back to."""

    __slots__ = ("forms", "binders", "base", "saved")

    def __init__(self, forms: tuple, binders: tuple, base: int, saved: list):
        self.forms = forms
        self.binders = binders
        self.base = base
        self.saved = saved          # (position, temp) of outer bindings restored on recur


class Generator(CallGen):
    """Generates the Python function for one body op with `nlocals` bindings on entry: the
    env-list entry `jit_body`, or with `captured` set the direct entry `jit_pos` of closures
    capturing that many bindings (kernel/jit_calls.py)."""

    def __init__(self, body: Op, nlocals: int, captured: Optional[int] = None,
                 inline: int = 0):
        self.body = body
        self.nlocals = nlocals
        self.captured = captured
        self.inline_left = inline       # recursive calls that may still be inlined
        self.ns: dict = dict(_RUNTIME)
        self.names: dict = {}           # id(constant) -> name in ns
        self.lines: list = []
        self.indent = 1
        self.pending: list = []         # [amount, tag] charges not yet paid
        self.result: Optional[str] = None   # a constant *result* not yet stored (a Cond's
                                            # bool test: True in its arm, False after)
        self.owed = captured is not None    # `p`, the caller's unpaid batch, is pending first
        self.ntemp = 0
        self.temps: list = []           # every temporary made
        self.spare: list = []           # temporaries nothing after this point uses
        self.height = -1                # deepest offset of a native op that checks depth
        self.bools: set = set()         # temporaries (or conditions) known to hold a Python bool
        self.testing = False            # generating a Cond's test (kernel/jit_gen_calls.py)
        self.ranges: dict = {}          # name in `ints` -> (lo, hi) it lies in where its
                                        # fact holds (kernel/jit_ranges.py)
        self.tests: dict = {}           # bool temporary -> (name, op, constant, fact): it is
                                        # `name op constant` where that fact holds
        self.ints: dict = {}            # temporary or binding -> a fact (computed before it
                                        # was set) that, when True, means it holds an int
        self.globals: dict = {}         # (address, symbol, nargs) -> cache site and locals
                                        # read from it, set on every path to here
        self.fresh: set = set()         # keys of `globals` whose locals were tested against
                                        # ctx.state with nothing since that may change it
        self.running: set = set()       # keys of `globals` whose value local was found to be
                                        # the running closure `f`, with no refill since
        # names and offsets of the body being generated: the function's own, or a copy
        # inlined into it (kernel/jit_gen_calls.py, `inline`)
        self.vp, self.fp = "v", "F"     # prefixes of bindings and of facts about them
        self.base = 0                   # depth of the body's top relative to d
        self.inlined = 0                # level of the inlined copy being generated (0: none)
        self.levels = self.inline_levels(inline) if captured is not None and inline else 0
        targets = set_targets(body)
        self.targets = targets          # positions set! may assign (None: maybe any)
        # bindings of the entry that nothing assigns: facts about them hold for the whole body
        self.fixed = set() if targets is None else set(range(nlocals)) - targets
        self.ready: set = set()         # fixed positions p whose F<p> is set on every path here

    # --- output ------------------------------------------------------------------------------
    def emit(self, line: str) -> None:
        self.lines.append("    " * self.indent + line)

    def temp(self) -> str:
        """A new temporary, or one whose code has ended (`spare`): fewer locals make
        cheaper Python frames."""
        if self.spare:
            t = self.spare.pop()
            self.bools.discard(t)
            self.ints.pop(t, None)
            self.ranges.pop(t, None)
            self.tests.pop(t, None)
            return t
        self.ntemp += 1
        t = f"t{self.ntemp}"
        self.temps.append(t)
        return t

    def release(self, *names: str) -> None:
        """Temporaries whose values nothing after this point reads: spare for reuse."""
        for x in names:
            if x in self.temps and x not in self.spare:
                self.spare.append(x)

    def const(self, v: Any) -> str:
        if v is None or v is True or v is False:
            return repr(v)
        if type(v) is int and -(1 << 63) <= v < (1 << 63):
            return repr(v) if v >= 0 else f"({v})"
        name = self.names.get(id(v))
        if name is None:
            name = self.names[id(v)] = f"K{len(self.names)}"
            self.ns[name] = v
        return name

    def source(self) -> str:
        self.gen(self.body, 0, self.nlocals, RETURN, None)
        n, k = self.nlocals, self.captured
        test = None if self.height < 0 else f"d > {MAX_DEPTH - self.height}"
        body = self.const(self.body)
        if k is None:
            head = ["def jit_body(ctx, env, d):"]
            test = f"len(env) != {n}" + ("" if test is None else f" or {test}")
            head.append(f"    if {test}:")
            head.append(f"        return {body}.ex(ctx, env, d)")
            if n:
                head.append("    " + ", ".join(f"v{i}" for i in range(n)) + ", = env")
        else:
            # the direct entry: the closure `f` and its arguments; exits end at its boundary
            params = "".join(f", v{i}" for i in range(k, n))
            head = [f"def jit_pos(ctx, d, p, f{params}):", "  try:"]
            if test is not None:
                head.append(f"    if {test}:")
                head.append(f"        return slow_entry(ctx, {body}, d, p, f, [{params[2:]}])")
            if k:
                head.append("    " + ", ".join(f"v{i}" for i in range(k)) + ", = f.env")
            self.lines += ["  except Exit as e:", "    return finish_exit(ctx, f, e, d - 1)"]
        return "\n".join(head + self.lines) + "\n"

    def compute_fact(self, pos: int) -> None:
        """Make F<pos> (binding pos holds a Long) available from here on: computed here, the
        first use on this path (so leaves of a recursion that never need it skip the test);
        uses after a merge compute it again (`scope`)."""
        if pos not in self.ready:
            self.emit(self.fact(pos))
            self.ready.add(pos)

    def fact(self, pos: int) -> str:
        """The statement computing F<pos>, that binding pos holds a Long (a bool, by a jump)."""
        x = f"{self.vp}{pos}"
        int_fact = self.ints.get(x)
        if int_fact is not None and is_long_range(self.ranges.get(x)):
            return f"{self.fp}{pos} = {int_fact}"       # where it is an int, it is a Long
        return f"{self.fp}{pos} = True if {long_test(x, int_fact)} else False"

    def at(self, off: int) -> str:
        """The depth of an op at offset `off` of the body."""
        return f"d + {self.base + off}"

    # --- juice -------------------------------------------------------------------------------
    def charge(self, amount: int, tag: Any = None) -> None:
        p = self.pending
        if p and p[-1][1] is tag:
            p[-1][0] += amount
        else:
            p.append([amount, tag])

    def pending_total(self) -> int:
        return sum(a for a, _ in self.pending)

    def pay(self) -> None:
        """Emit the payment of the pending batch (which stays pending for the generator), with
        what the caller owes first."""
        total = self.pending_total()
        if total == 0 and not self.owed:
            return
        segments = self.segments()
        # owed + batch first: a small sum, then one addition to the (large) juice used
        amount = (f"(p + {total})" if total else "p") if self.owed else str(total)
        self.emit(f"j = ctx.juice + {amount}")
        args = f"ctx, {segments}" + (", p" if self.owed else "")
        self.emit(f"if j > ctx.limit: overdraw({args})")
        self.emit("ctx.juice = j")

    def segments(self) -> str:
        """The pending batch as `overdraw` reads it: (cumulative cost, tag) in charge order."""
        segments, cumulative = [], 0
        for amount, tag in self.pending:
            cumulative += amount
            segments.append((cumulative, tag))
        return self.const(tuple(segments))

    def flush(self) -> None:
        self.flush_result()
        self.pay()
        self.pending = []
        self.owed = False

    # --- *result* ----------------------------------------------------------------------------
    def store_result(self, x: str) -> None:
        """ctx.result = x, now (what was deferred is overwritten)."""
        self.emit(f"ctx.result = {x}")
        self.result = None

    def flush_result(self) -> None:
        """Store the deferred *result*: wherever code may read it (a call, a special symbol,
        an interpreted op, a return, a merge, a loop). Slow paths of inlined core functions
        and lookups run no CVM code: they leave it deferred."""
        if self.result is not None:
            self.store_result(self.result)

    def handoff(self) -> str:
        """The pending batch as the amount a direct call hands to its callee (then paid)."""
        total = self.pending_total()
        if self.owed:
            return f"p + {total}" if total else "p"
        return str(total)

    def state(self) -> tuple:
        return [list(p) for p in self.pending], self.owed, self.result

    def scope(self) -> tuple:
        """What code from here on may use because it was set on every path here: the locals
        read from global call-site caches, the facts and the ranges known. A branch restores
        it when it ends."""
        return dict(self.globals), set(self.ready), dict(self.ranges)

    def set_scope(self, saved: tuple) -> None:
        self.globals, self.ready, self.ranges = dict(saved[0]), set(saved[1]), dict(saved[2])
        self.fresh &= self.globals.keys()
        self.running &= self.globals.keys()

    def changes_state(self) -> None:
        """Code emitted here may change ctx.state (a call): no cached lookup is fresh."""
        self.fresh = set()

    def set_state(self, saved: tuple) -> None:
        self.pending = [list(p) for p in saved[0]]
        self.owed, self.result = saved[1], saved[2]

    def guarded(self, test: str, fast: str, slow: Callable[[], None], cost: int,
                tag: Any, negate: bool = False) -> None:
        """`if test: fast` else pay the batch and emit `slow()` (code that charges for itself),
        then re-establish the invariant so both paths go on with `cost` added to the batch
        (and what the caller owes settled on the slow path: p = 0). With `negate` and no
        fast code: only `if not test: slow`."""
        if negate:
            self.emit(f"if not ({test}):")
        else:
            self.emit(f"if {test}:")
            self.emit(f"    {fast}")
            self.emit("else:")
        self.indent += 1
        self.pay()
        if self.owed:
            self.emit("p = 0")
        slow()
        back = self.pending_total() + cost
        if back:
            self.emit(f"ctx.juice -= {back}")
        self.indent -= 1
        self.charge(cost, tag)

    # --- values and modes --------------------------------------------------------------------
    def finish(self, x: str, mode: Optional[str]) -> Optional[str]:
        if mode is None:
            return x
        if mode == RETURN_RESULT:
            self.store_result(x)
        self.flush()
        self.emit(f"return {x}")
        return None

    def truthy(self, x: str) -> str:
        if x in self.bools or x in ("None", "True", "False"):
            return x
        if x.strip("(-)").isdigit():        # an integer literal
            return "True"
        return f"{x} is not None and {x} is not False"

    def deepen(self, off: int) -> None:
        if self.base + off > self.height:
            self.height = self.base + off

    def gen(self, op: Any, off: int, live: int, mode: Optional[str],
            loop: Optional[_Loop]) -> Optional[str]:
        """Emit `op` running at depth d + off with `live` bindings. In mode None returns the
        Python expression of its value; `loop` is set when op is in tail position of a loop
        body (a recur here may jump)."""
        handler = _HANDLERS.get(type(op))
        if handler is None:
            return self.interpret(op, off, live, mode)
        return handler(self, op, off, live, mode, loop)

    # --- ops ---------------------------------------------------------------------------------
    def interpret(self, op: Any, off: int, live: int, mode: Optional[str]) -> Optional[str]:
        """Run `op` in the interpreter with the current bindings as its env."""
        self.flush()
        env = "[" + "".join(f"{self.vp}{i}, " for i in range(live)) + "]"
        targets = set_targets(op)
        back = sorted(range(live) if targets is None
                      else (p for p in targets if type(p) is int and 0 <= p < live))
        t = self.temp()
        call = f"{t} = {self.const(op)}.ex(ctx, el, {self.at(off)})"
        self.emit(f"el = {env}")
        self.changes_state()
        if back:
            self.emit("try:")
            self.emit("    " + call)
            self.emit("finally:")
            self.emit("    " + "; ".join(f"{self.vp}{p} = el[{p}]" for p in back))
        else:
            self.emit(call)
        return self.finish(t, mode)

    def constant(self, op: Constant, off, live, mode, loop):
        self.charge(J.CONSTANT)
        return self.finish(self.const(op.value), mode)

    def local(self, op: Local, off, live, mode, loop):
        pos = op.pos
        if type(pos) is not int or not 0 <= pos < live:
            return self.interpret(op, off, live, mode)
        self.charge(J.LOOKUP)
        x = f"{self.vp}{pos}"
        if self.targets is None or pos in self.targets:     # a later set! may change it
            t = self.temp()
            self.emit(f"{t} = {x}")
            x = t
        return self.finish(x, mode)

    def lookup(self, op: Lookup, off, live, mode, loop):
        a = op.address
        if type(a) is not Constant or type(a.value) is not Address:
            return self.interpret(op, off, live, mode)
        self.deepen(off)
        site, c, t = self.site("LC", 2), self.temp(), self.temp()
        slow = (f"{t} = lookup_slow(ctx, {self.const(op)}, {self.at(off)}, {self.const(self.ns)}, "
                f"'{site}')")
        self.emit(f"{c}, {t} = {site}")
        self.guarded(f"ctx.state is {c}", "pass", lambda: self.emit(slow),
                     J.CONSTANT + J.LOOKUP_DYNAMIC, None, negate=True)
        return self.finish(t, mode)

    def special(self, op: Special, off, live, mode, loop):
        self.flush()
        t = self.temp()
        self.emit(f"{t} = special_value({self.const(op.code)}, ctx, {self.at(off)})")
        self.changes_state()
        self.charge(J.SPECIAL)
        return self.finish(t, mode)

    def lambda_(self, op: Lambda, off, live, mode, loop):
        self.charge(J.LAMBDA)
        t = self.temp()
        env = "(" + "".join(f"{self.vp}{i}, " for i in range(live)) + ")"
        self.emit(f"{t} = {self.const(op.fn)}.close_over({env})")
        return self.finish(t, mode)

    def set_local(self, op: SetLocal, off, live, mode, loop):
        pos = op.pos
        inner = op.inner_sets()
        if type(pos) is not int or not 0 <= pos < live or inner is None:
            return self.interpret(op, off, live, mode)
        self.deepen(off)
        saved = self.save([p for p in inner if p < live])
        x = self.gen(op.op, off + 1, live, None, None)
        if saved and x.startswith(self.vp):
            t = self.temp()
            self.emit(f"{t} = {x}")
            x = t
        self.restore(saved)
        self.emit(f"{self.vp}{pos} = {x}")
        self.charge(J.SET_BANG)
        return self.finish(x, mode)

    def save(self, positions: list) -> list:
        """Copy bindings a block may set! to temporaries: [(position, temporary)]."""
        saved = []
        for p in positions:
            t = self.temp()
            self.emit(f"{t} = {self.vp}{p}")
            saved.append((p, t))
        return saved

    def restore(self, saved: list) -> None:
        for p, t in saved:
            self.emit(f"{self.vp}{p} = {t}")

    def do(self, op: Do, off, live, mode, loop):
        self.deepen(off)
        self.charge(J.DO)
        ops = op.ops
        if not ops:
            return self.finish("None", mode)
        for child in ops[:-1]:
            x = self.gen(child, off + 1, live, None, None)
            self.store_result(x)
        if mode is not None:
            return self.gen(ops[-1], off + 1, live, RETURN_RESULT, loop)
        x = self.gen(ops[-1], off + 1, live, None, loop)
        self.store_result(x)
        return x

    def cond(self, op: Cond, off, live, mode, loop):
        self.deepen(off)
        self.charge(J.COND_OP)
        ops = op.ops
        n = len(ops)
        target = None if mode is not None else self.temp()
        indent = self.indent
        known = self.scope()            # what tests after the first set may not have run
        fresh = []                      # `fresh`, `running` where each arm reaches the merge
        for i in range(0, n - 1, 2):
            self.testing = type(ops[i]) is Invoke   # a bool may stay a condition (invoke)
            t = self.gen(ops[i], off + 1, live, None, None)
            self.testing = False
            known_bool = t in self.bools    # *result* is True in the arm, else False
            if known_bool:
                self.result = None          # overwritten on both paths
            else:
                self.store_result(t)
            self.emit(f"if {self.truthy(t)}:")
            self.release(t)
            test = self.tests.pop(t, None)
            saved = self.state(), self.scope(), set(self.fresh), set(self.running)
            self.indent += 1
            if known_bool:
                self.result = "True"
            self.narrow(test, True)
            self.branch(ops[i + 1], off + 1, live, mode, loop, target)
            fresh.append((self.fresh, self.running))
            self.set_state(saved[0])
            self.set_scope(saved[1])
            self.fresh, self.running = saved[2], saved[3]
            if known_bool:
                self.result = "False"
            self.narrow(test, False)
            self.indent -= 1
            if mode is None:            # arms that return need no else: stay flat
                self.emit("else:")
                self.indent += 1
        if n & 1:
            self.branch(ops[n - 1], off + 1, live, mode, loop, target)
        elif mode is not None:
            self.finish("None", mode)
        else:
            self.emit(f"{target} = None")
            self.flush()
        self.indent = indent
        self.pending = []
        self.owed = False
        self.result = None
        self.fresh = self.fresh.intersection(*(f for f, _ in fresh))
        self.running = self.running.intersection(*(r for _, r in fresh))
        self.set_scope(known)
        return target

    def narrow(self, test: Optional[tuple], holds: bool) -> None:
        """In the arm of a comparison with a constant (`tests`) that was made where the name's
        int fact holds, or after it: where that fact holds, the name's range is narrowed."""
        if test is not None:
            x, op, c, fact = test
            if self.ints.get(x) == fact:
                self.ranges[x] = narrowed(self.ranges.get(x), op, c, holds)

    def branch(self, op, off, live, mode, loop, target) -> None:
        """One arm of a Cond: returns in a return mode, else assigns `target` and pays, so
        that every arm reaches the merge with nothing pending."""
        if mode is not None:
            self.gen(op, off, live, mode, loop)
            return
        x = self.gen(op, off, live, None, loop)
        self.emit(f"{target} = {x}")
        self.flush()

    def let(self, op: Let, off, live, mode, loop):
        forms, binders, ops = op.bindings, op._binders, op.ops
        nb = len(binders)
        outer = op.outer_sets()
        if len(ops) < nb or outer is None:
            return self.interpret(op, off, live, mode)
        self.deepen(off)
        self.charge(J.LET)
        base = live
        # the bindings outside the let that it may set! are put back when it ends (Let.ex)
        saved = self.save([p for p in outer if p < base])
        for i in range(nb):
            x = self.gen(ops[i], off + 1, live, None, None)
            self.store_result(x)
            live = self.bind(forms[i], binders[i], x, live)
        body = ops[nb:]
        if op.is_loop:
            return self.loop(_Loop(forms, binders, base, saved), body, off, live, mode)
        if not body:
            self.restore(saved)
            return self.finish("None", mode)
        for child in body[:-1]:
            self.gen(child, off + 1, live, None, None)
        x = self.gen(body[-1], off + 1, live, mode, loop)
        if x is not None and x.startswith(self.vp):     # its binding dies with the let
            t = self.temp()
            self.emit(f"{t} = {x}")
            x = t
        if x is not None:
            self.restore(saved)
        return x

    def bind(self, form: Any, binder: Callable, x: str, live: int) -> int:
        """Bind value `x` to a binding form at position `live`; the new number of bindings."""
        f = unwrap(form)
        if type(f) is Symbol:
            if f is UNDERSCORE:
                return live
            self.emit(f"{self.vp}{live} = {x}")
            return live + 1
        n = len(binding_symbols(f))
        self.flush()                    # destructuring may fail
        self.emit("tb = []")
        self.changes_state()
        self.emit(f"{self.const(binder)}(ctx, tb, {x})")
        if n:
            self.emit("".join(f"{self.vp}{live + i}, " for i in range(n)) + "= tb")
        return live + n

    def rebind(self, loop: _Loop, values: list) -> None:
        """Put back the outer bindings the loop may set!, then bind the loop's forms anew."""
        self.restore(loop.saved)
        live = loop.base
        for form, binder, x in zip(loop.forms, loop.binders, values):
            live = self.bind(form, binder, x, live)

    def loop(self, info: _Loop, body: tuple, off: int, live: int, mode: Optional[str]):
        self.flush()
        target = None if mode is not None else self.temp()
        self.emit("while True:")
        self.changes_state()            # the head, also reached by recur after calls
        self.running = set()
        self.indent += 1
        self.emit("try:")
        self.indent += 1
        for child in body[:-1]:
            self.gen(child, off + 1, live, None, None)
        if mode is not None:
            if body:
                self.gen(body[-1], off + 1, live, mode, info)
            else:
                self.finish("None", mode)
        else:
            x = self.gen(body[-1], off + 1, live, None, info) if body else "None"
            self.emit(f"{target} = {x}")
            self.flush()
            self.emit("break")
        self.pending = []
        self.indent -= 1
        self.emit("except Recur as rx:")
        self.indent += 1
        nb = len(info.binders)
        self.emit("rv = rx.args_")
        self.emit(f"if len(rv) != {nb}: raise recur_arity({nb}, len(rv)) from None")
        self.rebind(info, [f"rv[{i}]" for i in range(nb)])
        self.pending = []
        self.changes_state()
        self.running = set()
        self.indent -= 2
        if target is not None:
            self.restore(info.saved)
        return target


_HANDLERS = {Constant: Generator.constant, Local: Generator.local, Lookup: Generator.lookup,
             Special: Generator.special, Lambda: Generator.lambda_,
             SetLocal: Generator.set_local, Do: Generator.do, Cond: Generator.cond,
             Let: Generator.let, Invoke: Generator.invoke}


def generate(body: Op, nlocals: int, captured: Optional[int] = None,
             inline: int = 0) -> Callable:
    """The compiled form of closure body `body` for calls with `nlocals` bindings: the entry
    taking them as a list, or with `captured` set the direct entry (kernel/jit_calls.py),
    with up to `inline` recursive calls inlined (kernel/jit_gen_calls.py)."""
    g = Generator(body, nlocals, captured, inline)
    src = g.source()
    ns = g.ns
    with warnings.catch_warnings():     # `is` tests against literals are intended
        warnings.simplefilter("ignore", SyntaxWarning)
        code = compile(src, f"<jit {id(body):x}>", "exec")
    exec(code, ns)
    fn = ns["jit_body" if captured is None else "jit_pos"]
    fn.source = src
    return fn
