"""Direct calls between JIT-compiled closures (kernel/jit_calls.py, kernel/jit_gen_calls.py):
compiled code enters a compiled callee's direct entry with positional arguments and hands it
its unpaid juice. Every program here must end exactly as interpreted -- value or error code
and message, juice, trace, account environment -- at every juice limit, so a failure lands on
each charge, also those the caller handed over."""
from __future__ import annotations

import pytest

from cvm import session
from kernel.cvm import jit
from kernel.cvm.fn import Fn
from test_jit import FIB, calls_at_every_juice_limit, same

PROGRAMS = [  # (definitions, call)
    (FIB, "(fib 6)"),
    ("(defn ev? [n] (if (= n 0) true (od? (dec n)))) "
     "(defn od? [n] (if (= n 0) false (ev? (dec n))))", "[(ev? 5) (od? 4)]"),
    ("(defn mk [a] (fn [x] (+ x a))) (def add3 (mk 3)) (defn use [n] (add3 (add3 n)))",
     "(use 4)"),
    ("(defn cnt [n acc] (if (> n 0) (recur (dec n) (inc acc)) acc)) (defn w [n] (cnt n 0))",
     "(w 3)"),
    ("(defn r1 [x] (do (return (* x 2)) 99)) (defn r2 [x] (+ 1 (r1 x)))", "(r2 5)"),
    ("(defn r1 [x] (* x 2)) (defn t1 [x] (tailcall (r1 x))) (defn t2 [x] (inc (t1 x)))",
     "(t2 5)"),
    ("(def plus +) (defn g [x] (plus x 1)) (defn g2 [x] (g (g x)))", "(g2 1)"),
    ("(def five 5) (defn h [x] (five x)) (defn h2 [x] (inc (h x)))", "(h2 1)"),
    ("(defn sq [x] (* x x)) (defn sneaky [x] (sq (do (def sq inc) x)))",
     "[(sneaky 3) (sneaky 3)]"),
    ("(defn ap [f x] (f (f x))) (defn m [y] (ap (fn [z] (+ z y)) 1))", "[(m 2) (m 3)]"),
    ("(defn big [x] (+ x x)) (defn b2 [x] (big (big x)))",
     "[(b2 4611686018427387904) (b2 1.5) (b2 3)]"),
    ("(defn f1 [x] (if (> x 0) (f1 (dec x)) (fail :DONE \"bottom\"))) (defn f0 [] (f1 3))",
     "(f0)"),
    ("(defn var [& xs] (count xs)) (defn cv [x] (var x x))", "(cv 1)"),
]


@pytest.mark.parametrize("defs,call", PROGRAMS)
def test_direct_calls_end_as_interpreted_at_every_juice_limit(defs, call):
    calls_at_every_juice_limit(defs, call)


def test_compiled_code_calls_compiled_code_without_fn_invoke(monkeypatch):
    """With the JIT, (fib 15) goes through Fn.invoke only until the call sites have seen
    their callee (the top call, the first calls at each site); interpreted, for all 1973."""
    s = session()
    s.eval(FIB)
    calls = []
    orig = Fn.invoke

    def counted(self, ctx, args, d):
        calls.append(args)
        return orig(self, ctx, args, d)
    monkeypatch.setattr(Fn, "invoke", counted)
    with jit.threshold(None):
        assert s.fork().eval("(fib 15)").value == 610
    assert len(calls) == 1973
    calls.clear()
    with jit.threshold(0):
        assert s.fork().eval("(fib 15)").value == 610
    assert 1 <= len(calls) <= 10
    body = s.eval("fib").value.body
    assert "def jit_pos(ctx, d, p, f, v0)" in body.jit_pos[0, 1].source


def test_jit_off_never_enters_a_direct_entry():
    s = session()
    s.eval("(defn fib-off [n] (if (< n 2) n (+ (fib-off (- n 1)) (fib-off (- n 2)))))")
    with jit.threshold(0):
        s.eval("(fib-off 6)")
    body = s.eval("fib-off").value.body
    saved = body.jit_pos, body.jit_code
    assert saved[0]

    def entered(*args):
        raise AssertionError("a direct entry ran with the JIT off")
    body.jit_pos = {k: entered for k in saved[0]}
    body.jit_code = entered
    try:
        with jit.threshold(None):
            assert s.eval("(fib-off 10)").value == 55
    finally:       # compiled ops may be shared between sessions
        body.jit_pos, body.jit_code = saved


def test_redefinition_between_calls_is_seen():
    """A call site's cache is for one state: a def in between makes it look again."""
    r = same("(defn f [x] (inc x)) (defn g [x] (f x)) (def a (g 1)) (defn f [x] (dec x)) "
             "(def b (g 1)) (def f 7) [a b (g 1)]")
    assert r[0] == "CAST"


def test_depth_errors_through_direct_calls():
    base = session()
    base.eval("(defn down [n] (if (<= n 0) *depth* (down (dec n))))")
    base.eval("(defn via [n] (inc (down n)))")
    with jit.threshold(0):
        base.eval("(via 3)")
    for n in range(75, 90):
        same(f"(via {n})", s=base)


def test_threads_running_the_same_compiled_code_see_their_own_definitions():
    """Two sessions whose `helper` differ run the same compiled `caller` (compiled forms are
    shared, and so are its call sites' caches) in two threads switching as often as Python
    allows: each call goes to its own session's helper (a cache is for one state, and is
    replaced whole, so a thread never reads half of another thread's fill)."""
    import sys
    import threading

    base = session()
    base.eval("(defn caller [x] (+ (helper x) (helper x)))")
    a, b = base.fork(), base.fork()
    a.eval("(defn helper [x] (inc x))")
    b.eval("(defn helper [x] (* x 10))")
    wrong: list = []

    def run(s, expect):
        for i in range(300):
            r = s.eval(f"(caller {i})")
            if r.value != expect(i):
                wrong.append((i, r.value, r.error))
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)         # switch threads as often as possible
    try:
        with jit.threshold(0):
            threads = [threading.Thread(target=run, args=(a, lambda i: 2 * (i + 1))),
                       threading.Thread(target=run, args=(b, lambda i: 20 * i))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    finally:
        sys.setswitchinterval(old)
    assert wrong == []
