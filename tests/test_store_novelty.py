"""The store writes a state's novelty: exactly the branch cells reachable from it that it
does not hold yet, found without walking what it holds or what can't reach a branch."""
from __future__ import annotations

from convex_repl.api import Session
from convex_repl.peer.store import Store, novelty
from kernel.data.cell import BranchRef, Cell, encoding, is_branch, value_id


def _all_branches(v) -> dict:
    """Every branch cell reachable from v, by ID: a walk into everything."""
    out, stack = {}, [v]
    while stack:
        c = stack.pop()
        if type(c) is BranchRef:
            continue
        if type(c) is int:
            if is_branch(c):
                out[value_id(c)] = c
            continue
        if not isinstance(c, Cell):
            continue
        if is_branch(c):
            out[value_id(c)] = c
        stack.extend(c.children())
    return out


def test_novelty_is_what_the_store_lacks():
    s = Session()
    store = Store()
    store.put(s.state)
    s.state.memory_size()                   # sizes cached, as a peer's current state has
    s.eval("(defn upto [n] (loop [i 0 v []] (if (< i n) (recur (inc i) (conj v i)) v)))")
    for src in ("(def big (upto 300))",
                "(def huge (reduce * (next (upto 200))))",          # a branch integer
                "(transfer #13 1000)", "(def m {:a [1 2 3] :b (upto 50)})",
                "(deploy '(do (def x [1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18])"
                " (defn f ^:callable [] x)))"):
        assert s.eval(src).ok, src
        want = {h for h in _all_branches(s.state) if h not in store._known}
        got = novelty(s.state, store._known)
        assert {h for h, _ in got} == want, src
        cells = _all_branches(s.state)
        assert all(enc == encoding(cells[h]) for h, enc in got)
        store.put(s.state)
        assert novelty(s.state, store._known) == []
