"""Code generation for calls, the half of the JIT's generator (kernel/jit_gen.py) that
handles Invoke ops: inlined core functions, calls of core functions, calls of closures through
a call-site cache into their direct entries (kernel/jit_calls.py), calls of definitions (one
state test for lookup and call), and recur in tail position of a loop as a jump.

A recursive call -- a definition whose value is the running closure, in its direct entry --
runs the closure's body inline instead of a Python call, and where the budget allows the
copies inline their own recursive calls once more: a quarter as many Python frames for a
recursion that branches in two, each of which costs more than the code it saves (arguments,
locals to clear).

`CallGen` is a mixin of `jit_gen.Generator`, whose juice bookkeeping (pending batch, what the
caller owes) and output methods it uses.
"""
from __future__ import annotations

from typing import Any, Optional

from kernel.cvm import juice as J
from kernel.cvm.fn import CoreFn
from kernel.cvm.jit_calls import CallerOverdraw
from kernel.cvm.jit_inline import INLINERS, NOT_CONSTANT, Arg, Fast
from kernel.cvm.jit_ranges import comparison, long_range, result_range
from kernel.cvm.ops import Cond, Constant, Do, Invoke, Let, Local, Lookup, SetLocal
from kernel.cvm.registry import CORE
from kernel.data.scalars import Address

# names of the bindings and facts of an inlined copy, by level (a copy inside a copy: 2)
LEVELS = (("w", "G"), ("x", "H"))


class CallGen:
    """The Invoke handler and its helpers (see the module docstring)."""

    def invoke(self, op: Invoke, off, live, mode, loop):
        testing, self.testing = self.testing, False
        self.deepen(off)
        fop = op.fn
        if is_global(fop):
            return self.global_call(op, off, live, mode)
        f = self.gen(fop, off + 1, live, None, None)
        args = [self.arg(a, off + 1, live) for a in op.args]
        callee = fop.value if type(fop) is Constant else None
        if loop is not None and callee is CORE["recur"] and len(args) == len(loop.binders):
            return self.jump(op, loop, [a.expr for a in args])
        inliner = INLINERS.get(getattr(callee, "name", None))
        fast = None
        if inliner is not None and CORE.get(callee.name) is callee:
            fast = inliner(args)
            if fast is not None and fast.guard is not None:
                words = fast.guard.split()
                for a in args:
                    if a.fact is not None and not a.ready and a.fact in words:
                        self.compute_fact(int(a.fact[len(self.fp):]))
        argv = "[" + "".join(f"{a.expr}, " for a in args) + "]"
        t = self.temp()
        if fast is not None:
            t = self.fast_call(fast, t, f"invoke(ctx, {f}, {argv}, {self.at(off)})", op, testing)
            self.note_range(callee.name, args, fast, t)
        elif type(callee) is CoreFn:
            self.flush()
            self.direct(t, f"{f}.invoke(ctx, {argv}, {self.at(off)})", f, off, op)
        else:
            self.closure_call(t, f, args, off, op)
        self.release(f, *(a.expr for a in args))
        return self.finish(t, mode)

    def note_range(self, name: str, args: list, fast: Fast, t: str) -> None:
        """After an inlined core function whose fast path is guarded by one fact: the range
        of its int value where that fact holds, or that its bool value compares a name with
        a constant there (kernel/jit_ranges.py)."""
        g = fast.guard
        if g is None or not g.isidentifier():
            return
        if fast.is_int:
            r = result_range(name, [self.arg_range(a, g) for a in args])
            if r is not None:
                self.ranges[t] = r
        elif fast.is_bool:
            test = comparison(name, args)
            if test is not None:
                self.tests[t] = test + (g,)

    def arg_range(self, a: Arg, guard: str) -> Optional[tuple]:
        """Where `guard` holds: the range of argument `a`, as far as known."""
        if a.value is not NOT_CONSTANT:
            return (a.value, a.value) if type(a.value) is int else None
        r = self.ranges.get(a.expr) if self.ints.get(a.expr) is not None else None
        if a.fact == guard:         # its Long fact: within the Long range
            return long_range(r)
        return r if self.ints.get(a.expr) == guard else None

    def arg(self, a: Any, off: int, live: int) -> Arg:
        """An argument of a call: its expression, constant value, and the name of the fact
        that it is a Long when it is a binding of the entry that nothing assigns."""
        x = self.gen(a, off, live, None, None)
        if type(a) is Constant:
            return Arg(x, a.value)
        if type(a) is Local and a.pos in self.fixed and x == f"{self.vp}{a.pos}":
            return Arg(x, NOT_CONSTANT, f"{self.fp}{a.pos}", a.pos in self.ready,
                       self.ints.get(x))
        return Arg(x, int_fact=self.ints.get(x))

    def site(self, prefix: str, size: int) -> str:
        """The name of a call site's cache: a global of the generated code's namespace
        holding a tuple, which the slow paths (kernel/jit_calls.py) replace whole, so code
        that reads it once into a local sees one consistent entry, whatever other threads
        running the same code do."""
        name = f"{prefix}{len(self.names) + self.ntemp}"
        self.ntemp += 1
        self.ns[name] = (None,) * size
        return name

    def closure_call(self, t: str, f: str, args: list, off: int, op: Invoke) -> None:
        """A call of a function value computed here. The call site caches the last closure
        it called that has a direct entry (`direct_for` checked its kind and arity) and
        enters it with the arguments as parameters, handing it the pending batch; the depth
        Fn.invoke would check holds by the entry test (off + 1 counts in the height). Any
        other value goes through `invoke`, as Invoke.ex does, and fills the cache."""
        self.deepen(off + 1)
        values = "".join(f", {a.expr}" for a in args)
        site, cf, ce = self.site("CC", 2), self.temp(), self.temp()
        self.emit(f"{cf}, {ce} = {site}")
        self.emit(f"if {f} is {cf}:")
        self.indent += 1
        saved = self.state()
        self.enter(t, ce, f, values, off, op)
        self.set_state(saved)
        self.indent -= 1
        self.emit("else:")
        self.indent += 1
        self.flush()
        ns = self.const(self.ns)
        self.traced(f"{t} = call_slow(ctx, {f}, [{values[2:]}], {self.at(off)}, {ns}, '{site}')",
                    op)
        self.changes_state()
        self.indent -= 1

    def global_call(self, op: Invoke, off: int, live: int, mode: Optional[str]):
        """A call of a definition (`(f x)` with f looked up in an account). Its call-site
        cache holds, for one state, the direct entry of the value (or a generic entry for a
        value without one) and the value: one test of the state covers the lookup and the
        call. The lookup stays where the interpreter makes it, before the arguments.

        A later call of the same definition with as many arguments, where the locals read
        from the cache here are set on every path (`self.globals`), tests the state against
        them again instead of reading the cache anew: they always hold one consistent entry
        (a refill replaces all three), and when a call in between changed the state, the test
        fails and refills them. Where that test has already been made on every path here and
        nothing since may have changed the state (`self.fresh`: no call, only inlined core
        functions, whose slow paths are pure), the locals hold the lookup's value: no test."""
        self.deepen(off + 1)
        n = len(op.args)
        key = (op.fn.address.value, op.fn.symbol, n)
        known = self.globals.get(key)
        if known is None:
            site = self.site("GC", 3)
            c = f"{self.temp()}, {self.temp()}, {self.temp()}"
            self.emit(f"{c} = {site}")
            self.globals[key] = site, c
        else:
            site, c = known
        cs, entry, f = c.split(", ")
        lookup, ns = self.const(op.fn), self.const(self.ns)
        slow = f"{c} = global_fill(ctx, {lookup}, {n}, {self.at(off + 1)}, {ns}, '{site}')"
        if key in self.fresh:           # tested since, and the state cannot have changed
            self.charge(J.CONSTANT + J.LOOKUP_DYNAMIC)
        else:
            self.guarded(f"ctx.state is {cs}", "pass", lambda: self.emit(slow),
                         J.CONSTANT + J.LOOKUP_DYNAMIC, None, negate=True)
            self.fresh.add(key)
            self.running.discard(key)   # the locals may have been refilled
        args = [self.arg(a, off + 1, live) for a in op.args]
        values = "".join(f", {a.expr}" for a in args)
        if not self.inlines(op):
            t = self.temp()
            self.enter(t, entry, f, values, off, op)
            self.release(*(a.expr for a in args))
            return self.finish(t, mode)
        if key in self.running:         # tested, not refilled since: the running closure
            t = self.inline(args, off, op)
            self.release(*(a.expr for a in args))
            return self.finish(t, mode)
        self.emit(f"if {f} is f:")      # the running closure calls itself: its body inline
        saved = self.state(), self.scope()
        running = set(self.running)
        self.running.add(key)
        self.indent += 1
        t = self.inline(args, off, op)
        self.running &= running         # not after the else branch
        self.indent -= 1
        self.set_state(saved[0])
        self.set_scope(saved[1])
        self.emit("else:")
        self.indent += 1
        self.enter(t, entry, f, values, off, op)
        self.indent -= 1
        self.set_scope(saved[1])
        self.release(*(a.expr for a in args))
        return self.finish(t, mode)

    def inlines(self, op: Invoke) -> bool:
        """Whether a call of a definition has the body being generated inline for when the
        value is the running closure (tested, unless `running` says so): in a direct entry
        (which has it, `f`), at most
        `self.levels` deep, within the budget, with as many arguments as its parameters, of
        a name seen to hold a closure of this body (`note_name` in kernel/jit_calls.py), so
        likely a recursive call."""
        return (self.captured is not None and self.inlined < self.levels
                and self.inline_left > 0 and self.recursive(op))

    def recursive(self, op: Any) -> bool:
        """A call of a definition that is likely the body's own recursive call (`inlines`)."""
        return (type(op) is Invoke and is_global(op.fn)
                and len(op.args) == self.nlocals - (self.captured or 0)
                and (op.fn.address.value, op.fn.symbol) in getattr(self.body, "jit_names", ()))

    def inline_levels(self, budget: int) -> int:
        """How deep copies nest: two levels (the copies inline their own recursive calls)
        when a copy for every call at both fits the budget, as for a body calling itself
        twice, else one. Each level halves the Python calls of a branching recursion."""
        n = recursive_sites(self, self.body)
        return 2 if n + n * n <= budget else 1

    def inline(self, args: list, off: int, op: Invoke) -> str:
        """The temporary holding the value of the body being generated, run here for the
        running closure `f` with `args`: what entering its direct entry does, without the
        Python call. It runs at depth d + off + 1, inside this body's entry test (its height
        counts); it pays the pending batch with its own first, as the callee of a call does,
        which that batch's one segment tagged CallerOverdraw marks: a failure to pay it is
        this body's own, as for a call; its errors are traced by the call op, and exits end
        at its boundary (`finish_exit`). Its bindings and facts have names of their own
        (`LEVELS`: w and G, in a copy inside a copy x and H); a parameter bound to a value
        known to be an int where a fact holds keeps that."""
        self.inline_left -= 1
        owed, segments, total = self.owed, self.segments(), self.pending_total()
        frame = (self.vp, self.fp, self.base, self.ready)
        spare, made = list(self.spare), len(self.temps)
        self.emit("try:")
        self.indent += 1
        level = self.inlined
        (self.vp, self.fp), self.base = LEVELS[level], self.base + off + 1
        self.ready, self.inlined = set(), level + 1
        self.pending = [[total, CallerOverdraw]] if total else []
        k = self.captured
        if k:
            self.emit("".join(f"{self.vp}{i}, " for i in range(k)) + "= f.env")
        for i, a in enumerate(args):
            w = f"{self.vp}{k + i}"
            self.emit(f"{w} = {a.expr}")
            fact = self.ints.get(a.expr)
            if fact is not None and k + i in self.fixed:
                self.ints[w] = fact
                self.ranges[w] = self.ranges.get(a.expr)
            else:
                self.ints.pop(w, None)
                self.ranges.pop(w, None)
        t = self.gen(self.body, 0, self.nlocals, None, None)
        if t not in self.temps:             # a binding or a constant
            x, t = t, self.temp()
            self.emit(f"{t} = {x}")
        self.bools.discard(t)               # the call may give any value
        self.flush()
        (self.vp, self.fp, self.base, self.ready) = frame
        # the copy's temporaries end with it, but the value's
        self.spare = [x for x in spare + self.temps[made:] if x != t]
        self.inlined = level
        self.indent -= 1
        self.emit("except Exit as e:")
        self.emit(f"    try: {t} = finish_exit(ctx, f, e, {self.at(off)})")
        self.emit("    except ErrorValue as x:")
        self.emit(f"        x.add_trace({self.const(op)})")
        self.emit("        raise")
        self.changes_state()
        self.emit("except ErrorValue as e:")
        self.emit(f"    e.add_trace({self.const(op)})")
        self.emit("    raise")
        if total or owed:
            self.emit("except CallerOverdraw:")
            self.emit(f"    overdraw(ctx, {segments}{', p' if owed else ''})")
        self.pending = []
        self.owed = False
        return t

    def enter(self, t: str, entry: str, f: str, values: str, off: int, op: Invoke) -> None:
        """`t = entry(...)`: enter a direct entry (or `call_generic`) of function `f`,
        handing it the pending batch; its errors are traced as Invoke.ex does, and a failure
        to pay the batch is this body's own (`CallerOverdraw`). Nothing is pending after."""
        handoff, segments, owed = self.handoff(), self.segments(), self.owed
        self.flush_result()
        self.changes_state()
        self.emit(f"try: {t} = {entry}(ctx, {self.at(off + 1)}, {handoff}, {f}{values})")
        self.emit("except ErrorValue as e:")
        self.emit(f"    e.add_trace({self.const(op)})")
        self.emit("    raise")
        if handoff != "0":
            self.emit("except CallerOverdraw:")
            self.emit(f"    overdraw(ctx, {segments}{', p' if owed else ''})")
        self.pending = []
        self.owed = False

    def direct(self, t: str, call: str, f: str, off: int, op: Invoke) -> None:
        """`t = call`, a call of function `f` made without `invoke`: exits are finished by
        `resume`, errors traced as Invoke.ex does."""
        o = self.const(op)
        self.changes_state()
        self.emit(f"try: {t} = {call}")
        self.emit("except ErrorValue as e:")
        self.emit(f"    e.add_trace({o})")
        self.emit("    raise")
        self.emit("except Exit as e:")
        self.emit(f"    {t} = resume(ctx, {f}, e, {self.at(off)}, {o})")

    def traced(self, line: str, op: Invoke) -> None:
        """A call, with the error trace Invoke.ex adds."""
        self.emit("try: " + line)
        self.emit("except ErrorValue as e:")
        self.emit(f"    e.add_trace({self.const(op)})")
        self.emit("    raise")

    def fast_call(self, fast: Fast, t: str, call: str, op: Invoke, testing: bool) -> str:
        """An inlined core function: its fast path, else the traced call; the expression of
        its value. A bool for a Cond's test (`testing`) under at most one fact is not set to
        a temporary but tested as a condition, the slow path's value where the fact fails."""
        g = fast.guard
        if testing and fast.test is not None and (g is None or g.isidentifier()):
            if g is None:
                self.charge(fast.cost, op)
                x = f"({fast.test})"
            else:
                self.guarded(g, "", lambda: self.traced(f"{t} = {call}", op), fast.cost, op,
                             negate=True)
                x = f"({fast.test} if {g} else {t} is not None and {t} is not False)"
            self.bools.add(x)
            return x
        if fast.is_bool:
            self.bools.add(t)
        if fast.is_int and fast.guard is not None and fast.guard.isidentifier():
            self.ints[t] = fast.guard       # a fact: an int where it holds
        if fast.guard is None and not fast.none_is_slow:
            self.emit(f"{t} = {fast.value}")
            self.charge(fast.cost, op)
            return t
        if fast.none_is_slow:
            self.emit(f"{t} = {fast.value}")
            test, body = f"{t} is not None", "pass"
        else:
            test, body = fast.guard, f"{t} = {fast.value}"
        self.guarded(test, body, lambda: self.traced(f"{t} = {call}", op), fast.cost, op)
        return t

    def jump(self, op: Invoke, loop: Any, exprs: list) -> str:
        """(recur ...) in tail position of the innermost loop: pay recur's charge, rebind,
        jump back to the loop head -- what raising Recur to the Let would do."""
        temps = []
        for x in exprs:
            t = self.temp()
            self.emit(f"{t} = {x}")
            temps.append(t)
        self.charge(J.RECUR, op)
        self.flush()
        self.rebind(loop, temps)
        self.emit("continue")
        return "None"


def recursive_sites(gen: CallGen, op: Any) -> int:
    """The calls in `op` that `gen` would inline (`CallGen.recursive`), outside functions."""
    t = type(op)
    if t is Invoke:
        return (gen.recursive(op) + recursive_sites(gen, op.fn)
                + sum(recursive_sites(gen, a) for a in op.args))
    if t in (Do, Cond, Let):
        return sum(recursive_sites(gen, o) for o in op.ops)
    if t is SetLocal:
        return recursive_sites(gen, op.op)
    return 0


def is_global(op: Any) -> bool:
    """A Lookup the JIT compiles: in an account given as a constant address."""
    return (type(op) is Lookup and type(op.address) is Constant
            and type(op.address.value) is Address)
