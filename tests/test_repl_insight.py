"""`:trace`, `:explain`, `:debug` and `:break` in the real REPL, typed in a tmux terminal as a
person would (issue 17); and the debugger's stepping on the local CVM and on a copy of a
state (what the REPL debugs when connected to a peer)."""
from __future__ import annotations

from convex_repl.api import Session
from convex_repl.insight.debugger import Debugger, Done, Stop
from lisp import read_all

from test_repl_tmux import Term, term  # noqa: F401  (the fixture)


def test_trace_shows_calls_with_juice(term):  # noqa: F811
    term.submit("(defn sq [x] (* x x))", "juice")
    s = term.submit(":trace (+ (sq 3) (sq 4))", "juice in all")
    tail = s[s.rindex(":trace"):]
    assert "=> 25" in tail and "(sq 3) => 9" in tail and "(sq 4) => 16" in tail
    assert "[71 juice]" in tail
    s = term.submit(":trace (sq :x)", "juice in all")
    assert "(sq :x) !! :CAST" in s[s.rindex(":trace (sq :x)"):]


def test_explain_shows_counts_juice_and_the_functions_called(term):  # noqa: F811
    term.submit("(defn sq [x] (* x x))", "juice")
    s = term.submit(":explain (+ (sq 3) (sq 4))", "hot path in bold")
    tail = s[s.rindex(":explain"):]
    assert "expanding and compiling" in tail
    assert "body of sq" in tail and "(* %0 %0)  ×2" in tail


def test_debug_steps_shows_locals_and_stops_at_breakpoints(term):  # noqa: F811
    term.submit("(defn sq [x] (* x x))", "juice")
    term.submit("(defn f [a b] (+ (sq a) b))", "juice")
    s = term.submit(":debug (f 3 4)", "debug>")
    tail = s[s.rindex(":debug"):]
    assert "top level · <input>:1:1" in tail and "juice left" in tail
    for _ in range(12):                                     # step in until inside f
        s = term.submit("s", "debug>", timeout=10)
        if "locals: a (%0) = 3" in s[s.rindex("debug> s"):]:
            break
    else:
        raise AssertionError("never reached f's body:\n" + s)
    assert "in f" in s[s.rindex("debug> s"):]              # its parameters named
    s = term.submit("c", "finished")                        # no breakpoint: to the end
    tail = s[s.rindex("debug> c"):]
    assert "13" in tail and "nothing was kept" in tail
    term.submit(":break sq", "breakpoints: sq")
    s = term.submit(":debug (f 3 4)", "locals: x (%0) = 3")    # the stop's last line
    tail = s[s.rindex(":debug (f 3 4)"):]
    assert "in sq ← f" in tail and "locals: x (%0) = 3" in tail
    s = term.submit("o", "debug>")                          # out of sq, back in f
    tail = s[s.rindex("debug> o"):]
    assert "in f" in tail and "in sq" not in tail
    s = term.submit("q", "debugging stopped")
    term.submit(":break -sq", "breakpoints: none")
    s = term.submit("(f 1 1)", "juice")                     # the REPL goes on as before
    assert "2" in s[s.rindex("(f 1 1)"):]


def _stops(d: Debugger, first: str, cmds: list) -> list:
    out = [d.start(first)]
    for c in cmds:
        out.append(d.step(c))
    return out


def test_stepping_in_over_out_and_juice_left():
    s = Session()
    s.eval("(defn sq [x] (* x x)) (defn f [a b] (+ (sq a) b))")
    d = Debugger(s.state, s.address, read_all("(f 3 4)"), 10_000_000)
    evs = _stops(d, "in", ["in"] * 6 + ["over", "over"])
    assert all(isinstance(e, Stop) for e in evs)
    from kernel.data.printer import print_value
    shown = [print_value(e.op) for e in evs]
    assert shown[:6] == ["(#13/f 3 4)", "#13/f", "#13", "3", "4", "(+ (#13/sq %0) %1)"]
    assert shown[6:] == ["+", "(#13/sq %0)", "%1"]      # over the call of sq, not into it
    assert evs[-1].juice_used - evs[-2].juice_used > 50  # sq's juice was spent meanwhile
    assert evs[0].function is None and evs[0].depth == 0
    inside = [e for e in evs if e.function == "f"]
    assert inside and inside[0].locals[:2] == [(0, "a", 3), (1, "b", 4)]
    lefts = [e.juice_left for e in evs]
    assert lefts == sorted(lefts, reverse=True) and lefts[0] > lefts[-1]
    assert all(e.juice_left + e.juice_used == 10_000_000 for e in evs)
    done = d.step("continue")
    assert isinstance(done, Done) and done.result.value == 13
    assert done.result.juice == s.query("(f 3 4)").juice


def test_breakpoints_out_and_quit_on_a_copied_state():
    s = Session()
    s.eval("(defn sq [x] (* x x)) (defn f [a b] (+ (sq a) b))")
    copy = Session(s.state).fork()                 # as a peer's state fetched here would be
    d = Debugger(copy.state, 13, read_all("(f 3 4) (f 5 6)"), 10_000_000, {"sq"})
    hits = [d.start("continue")]
    assert hits[0].breakpoint == "sq" and hits[0].stack == ["f", "sq"]
    out = d.step("out")
    assert out.function == "f" and out.depth < hits[0].depth
    nxt = d.step("continue")
    assert nxt.breakpoint == "sq" and nxt.locals == [(0, "x", 5)]
    done = d.quit()
    assert done.quit and done.result is None
    assert s.eval("(f 1 1)").value == 2            # nothing kept, the session unchanged


def test_abort_stops_a_running_debugger_and_frees_tracing():
    import threading
    import time
    from convex_repl.insight.run import run_traced
    s = Session()
    d = Debugger(s.state, 13, read_all("(loop [i 0] (recur (inc i)))"), 10**12)
    got: list = []
    th = threading.Thread(target=lambda: got.append(d.start("continue")))
    th.start()
    time.sleep(0.5)
    assert not got                                   # still running, traced
    d.abort()
    th.join(10)
    assert got and isinstance(got[0], Done) and got[0].quit
    t = run_traced(s.state, 13, "(+ 1 2)")           # tracing is free again
    assert t.result.value == 3


def test_trace_depth_in_the_repl(term):  # noqa: F811
    term.submit("(defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))", "juice")
    s = term.submit(":trace -d 1 (fib 5)", "juice in all")
    tail = s[s.rindex(":trace -d 1"):]
    assert "(fib 5) => 5" in tail and "(fib 4)" not in tail
    assert "… 14 more calls below, not recorded" in tail


def test_locals_are_named_after_parameters_lets_and_loops():
    s = Session()
    s.eval("(defn f [[a b] & more] (let [c (+ a b) d 2] "
           "(loop [i 0 acc c] (if (< i d) (recur (inc i) (+ acc i)) acc))))")
    d = Debugger(s.state, 13, read_all("(f [1 2] 9 9)"), 10_000_000, {"f"})
    ev = d.start("continue")
    seen = []
    while isinstance(ev, Stop):
        seen.append([(n, v) for _, n, v in ev.locals])
        ev = d.step("in")
    assert ev.result.value == 4
    from kernel.data.vectors import Vector
    assert seen[0] == [("a", 1), ("b", 2), ("more", Vector.of(9, 9))]
    deepest = max(seen, key=len)
    assert [n for n, _ in deepest] == ["a", "b", "more", "c", "d", "i", "acc"]
    assert ("i", 2) in [x for st in seen for x in st]     # the loop's second recur
