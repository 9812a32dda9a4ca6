"""Running property tests (defprop) and invariant tests (definvariant), and shrinking what
breaks them (shrink.py).

Everything runs in the CVM on the test's state: generators are CVM closures drawing their
choices from a `cheats.Source` (a PRNG seeded from the seed, the test's name and the case),
so a seed reproduces a run exactly. Generation is metered apart (`gen_juice`): a test's
juice is what its body, setup and actor calls used, so generators never make it look dearer.
"""
from __future__ import annotations

import random
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Optional

from convex_repl.api import Result, Session
from convex_repl.testing import cheats
from convex_repl.testing.shrink import Budget, shrink_choices, shrink_steps
from kernel.cvm.ops import Constant, Invoke
from kernel.data.scalars import Address, Keyword, Symbol

K = Keyword
DEFAULT_RUNS = 100
DEFAULT_DEPTH = 20


@dataclass
class Failure:
    """What broke a property or an invariant, after shrinking."""
    result: Result                       # the failing body / invariant / generator Result
    case: int = 0                        # the run (0-based) that first failed
    bindings: list = field(default_factory=list)   # [(name, printed value)] (defprop)
    calls: list = field(default_factory=list)      # ["#13 (call #23 (f 1))  => :FUNDS"]
    original: int = 0                    # calls (or choices) before shrinking
    shrinks: int = 0                     # candidates tried while shrinking
    falsy: bool = False                  # the body returned nil or false (no error)
    where: str = ""                      # "generator", "invariant", "property", "config"


@dataclass
class Outcome:
    ok: bool
    juice: int = 0
    gen_juice: int = 0
    cases: int = 0
    failure: Optional[Failure] = None


class Runner:
    """Calls CVM functions on states, as `address`, counting juice."""

    def __init__(self, address: int, juice_limit: int, quiet: Any = None):
        self.address, self.juice_limit = address, juice_limit
        self.juice = 0
        self.gen_juice = 0
        self.quiet = quiet or nullcontext   # hides generation and shrinking from a juice report

    def call(self, state: Any, f: Any, args: list = (), address: Optional[int] = None,
             commit: bool = True, gen: bool = False) -> tuple:
        """(Result, state after) of (f args...) on `state`."""
        s = Session(state, self.address if address is None else address, self.juice_limit)
        with self.quiet() if gen else nullcontext():
            r = s.eval_forms([Invoke(Constant(f), [Constant(a) for a in args])],
                             commit=commit)
        if gen:
            self.gen_juice += r.juice
        else:
            self.juice += r.juice
        return r, s.state

    def eval(self, state: Any, form: Any, address: int) -> tuple:
        s = Session(state, address, self.juice_limit)
        r = s.eval_forms([form])
        self.juice += r.juice
        return r, s.state


def _holds(r: Result) -> bool:
    return r.ok and r.value is not None and r.value is not False


def _printed(v: Any) -> str:
    from kernel.data.printer import print_brief
    return print_brief(v)


def _seeded(seed: int, name: str, *more: Any) -> random.Random:
    return random.Random(":".join(str(x) for x in (seed, name) + more))


def _size(case: int, runs: int) -> int:
    return 1 + (49 * case) // max(1, runs - 1)


# --- properties ----------------------------------------------------------------------------------

def run_property(state: Any, address: int, prop: Any, name: str, seed: int, runs: int,
                 juice_limit: int, teardown: Any = None, quiet: Any = None) -> Outcome:
    """Run a defprop map ({:params :gens :body}) `runs` times on `state` (setup done)."""
    rn = Runner(address, juice_limit, quiet)
    params = [p.name if type(p) is Symbol else _printed(p) for p in prop.get(K("params"))]
    r, _ = rn.call(state, prop.get(K("gens")), commit=False, gen=True)
    if not r.ok:
        return Outcome(False, rn.juice, rn.gen_juice, 0, Failure(r, where="generator"))
    gens, body = list(r.value), prop.get(K("body"))

    def generate(sources: list) -> tuple:
        values = []
        for g, src in zip(gens, sources):
            cheats.use_source(src)
            try:
                r, _ = rn.call(state, g, commit=False, gen=True)
            finally:
                cheats.use_source(None)
            if not r.ok:
                return None, r
            values.append(r.value)
        return values, None

    def case(sources: list) -> tuple:
        """(body Result or None when it held, values, generator failure)."""
        values, bad = generate(sources)
        if bad is not None:
            return None, None, bad
        cheats.reset_snapshots()
        r, after = rn.call(state, body, values)
        if _holds(r) and teardown is not None:
            r, _ = rn.call(after, teardown)
        return (None if _holds(r) else r), values, None

    for i in range(runs):
        sources = [cheats.Source(_seeded(seed, name, i, j), size=_size(i, runs))
                   for j in range(len(gens))]
        bad_r, values, gen_bad = case(sources)
        if gen_bad is not None:
            return Outcome(False, rn.juice, rn.gen_juice, i + 1,
                           Failure(gen_bad, case=i, where="generator"))
        if bad_r is None:
            continue
        juice, gen_juice = rn.juice, rn.gen_juice
        choices = [s.drawn for s in sources]
        failing = {"r": bad_r, "values": values}
        budget = Budget()

        kind = bad_r.error                  # a candidate must fail the same way (no slipping
                                            # to another bug while shrinking)

        def test_binding(j: int):
            def test(cand: list) -> Optional[list]:
                srcs = [cheats.Source(replay=c if k != j else cand, size=_size(i, runs))
                        for k, c in enumerate(choices)]
                r, vals, gb = case(srcs)
                if r is None or gb is not None or r.error != kind:
                    return None
                failing["r"], failing["values"] = r, vals
                return srcs[j].drawn
            return test

        with rn.quiet():
            for j in range(len(gens)):
                choices[j] = shrink_choices(choices[j], test_binding(j), budget)
            # replay the final choices once, so the report shows exactly what they give
            srcs = [cheats.Source(replay=c, size=_size(i, runs)) for c in choices]
            r, vals, _ = case(srcs)
        if r is not None:
            failing["r"], failing["values"] = r, vals
        fr = failing["r"]
        f = Failure(fr, case=i, shrinks=budget.tried, where="property",
                    bindings=list(zip(params, (_printed(v) for v in failing["values"]))),
                    falsy=fr.ok)
        return Outcome(False, juice, gen_juice, i + 1, f)
    return Outcome(True, rn.juice, rn.gen_juice, runs)


# --- invariants ----------------------------------------------------------------------------------

@dataclass
class Config:
    actor: Address
    actions: list                        # [(name, [generator ...])], by name
    senders: list                        # [account number]
    depth: int


def _config(v: Any) -> "Config | str":
    from kernel.data.hashmaps import Map
    from kernel.data.vectors import Vector
    if not isinstance(v, Map):
        return "options must be a map {:actor ... :actions {...}}"
    actor = v.get(K("actor"))
    if type(actor) is not Address:
        return ":actor must be the actor's address"
    acts = v.get(K("actions"))
    if not isinstance(acts, Map) or len(acts) == 0:
        return ":actions must be a non-empty map {:function [generator ...]}"
    actions = []
    for k, gens in acts.items():
        if type(k) not in (Keyword, Symbol) or not isinstance(gens, Vector):
            return f":actions: {_printed(k)} must be a keyword with a vector of generators"
        actions.append((k.name, list(gens)))
    actions.sort()
    senders = v.get(K("senders"))
    if senders is None:
        senders_n = None
    elif isinstance(senders, Vector) and len(senders) and all(type(a) is Address
                                                              for a in senders):
        senders_n = [a.n for a in senders]
    else:
        return ":senders must be a non-empty vector of addresses"
    depth = v.get(K("depth"))
    if depth is None:
        depth = DEFAULT_DEPTH
    elif type(depth) is not int or depth < 1:
        return ":depth must be a positive Long"
    return Config(actor, actions, senders_n, depth)


def _uncallable(state: Any, cfg: Config) -> Optional[str]:
    """Why the actions can't be called (no such actor or callable function), else None:
    every call would fail and be undone, and the test would pass having tested nothing."""
    from kernel.core.actors import callable_function
    acct = state.account(cfg.actor.n)
    if acct is None:
        return f"no account {_printed(cfg.actor)} for :actor"
    for fname, _ in cfg.actions:
        if callable_function(acct, Symbol(fname)) is None:
            return f"{_printed(cfg.actor)} has no callable function {fname}"
    return None


def _call_form(actor: Address, fname: str, args: list) -> Any:
    from kernel.data.vectors import List
    quoted = [List.of(Symbol("quote"), a) for a in args]
    return List.of(Symbol("call"), actor, List.of(Symbol(fname), *quoted))


def run_invariant(state: Any, address: int, inv: Any, name: str, seed: int, runs: int,
                  juice_limit: int, quiet: Any = None) -> Outcome:
    """Run a definvariant map ({:config :check}) on `state` (setup done)."""
    rn = Runner(address, juice_limit, quiet)
    r, _ = rn.call(state, inv.get(K("config")), commit=False, gen=True)
    if not r.ok:
        return Outcome(False, rn.juice, rn.gen_juice, 0, Failure(r, where="config"))
    cfg = _config(r.value)
    if isinstance(cfg, str):
        bad = Result(error="ARGUMENT", message=f"definvariant {name}: {cfg}",
                     error_value=K("ARGUMENT"))
        return Outcome(False, rn.juice, rn.gen_juice, 0, Failure(bad, where="config"))
    problem = _uncallable(state, cfg)
    if problem:
        bad = Result(error="ARGUMENT", message=f"definvariant {name}: {problem}",
                     error_value=K("ARGUMENT"))
        return Outcome(False, rn.juice, rn.gen_juice, 0, Failure(bad, where="config"))
    senders = cfg.senders or [address]
    check = inv.get(K("check"))

    def holds(st: Any) -> Optional[Result]:
        cheats.reset_snapshots()
        r, _ = rn.call(st, check, commit=False)
        return None if _holds(r) else r

    def step(st: Any, src: cheats.Source) -> tuple:
        """(state after, description, generator failure) of one random call."""
        fname, gens = cfg.actions[src.draw(len(cfg.actions))]
        sender = senders[src.draw(len(senders))]
        args = []
        cheats.use_source(src)
        try:
            for g in gens:
                r, _ = rn.call(st, g, commit=False, gen=True)
                if not r.ok:
                    return st, None, r
                args.append(r.value)
        finally:
            cheats.use_source(None)
        form = _call_form(cfg.actor, fname, args)
        cheats.reset_snapshots()
        r, after = rn.eval(st, form, sender)
        text = (f"#{sender} (call {_printed(cfg.actor)} ({fname}"
                + "".join(" " + _printed(a) for a in args) + "))")
        if not r.ok:
            return st, f"{text}  => :{r.error} (undone)", None
        return after, text, None

    def replay(seq: list, size: int) -> tuple:
        """(failing prefix's choices, calls, Result) replaying `seq`, or (None, calls, None)."""
        st, calls, drawn = state, [], []
        for choices in seq:
            src = cheats.Source(replay=choices, size=size)
            st, text, gb = step(st, src)
            drawn.append(src.drawn)
            if gb is not None:
                return None, calls, None
            calls.append(text)
            bad = holds(st)
            if bad is not None:
                return drawn, calls, bad
        return None, calls, None

    bad = holds(state)
    if bad is not None:
        return Outcome(False, rn.juice, rn.gen_juice, 0, Failure(bad, where="invariant",
                                                                  falsy=bad.ok))
    for i in range(runs):
        st, seq, calls, size = state, [], [], _size(i, runs)
        for k in range(cfg.depth):
            src = cheats.Source(_seeded(seed, name, i, k), size=size)
            st, text, gb = step(st, src)
            seq.append(src.drawn)
            if gb is not None:
                return Outcome(False, rn.juice, rn.gen_juice, i + 1,
                               Failure(gb, case=i, where="generator"))
            calls.append(text)
            bad = holds(st)
            if bad is None:
                continue
            juice, gen_juice = rn.juice, rn.gen_juice
            last = {"calls": calls, "r": bad}
            budget = Budget()

            def test(cand: list) -> Optional[list]:
                drawn, cs, r = replay(cand, size)
                if drawn is None or r.error != bad.error:
                    return None
                last["calls"], last["r"] = cs, r
                return drawn

            with rn.quiet():
                best = shrink_steps(seq, test, budget)
                _, cs, r = replay(best, size)
            if r is not None:
                last["calls"], last["r"] = cs, r
            f = Failure(last["r"], case=i, calls=last["calls"], original=len(seq),
                        shrinks=budget.tried, where="invariant", falsy=last["r"].ok)
            return Outcome(False, juice, gen_juice, i + 1, f)
    return Outcome(True, rn.juice, rn.gen_juice, runs)


__all__ = ["run_property", "run_invariant", "Outcome", "Failure", "DEFAULT_RUNS"]
