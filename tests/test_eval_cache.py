"""Session.eval's compiled-form cache (convex_repl/api.py): repeated source skips expand and
compile, with the same values, errors and juice as compiling afresh, and a change to any
definition the compilation consulted (or a macro that may read the state) compiles again."""
from __future__ import annotations

import pytest

from convex_repl import api
from convex_repl.api import Session


@pytest.fixture
def compiles(monkeypatch):
    """Counts calls of expand_compile made by Session.eval."""
    calls = []
    real = api.expand_compile

    def counting(ctx, form, d):
        calls.append(form)
        return real(ctx, form, d)
    monkeypatch.setattr(api, "expand_compile", counting)
    api._COMPILED.clear()
    api._READ_CACHE.clear()
    return calls


def fresh(s: Session, src: str):
    """The result of src compiled from scratch (cache emptied first), on a copy of s."""
    api._COMPILED.clear()
    api._READ_CACHE.clear()
    return s.fork().eval(src)


def same(a, b) -> bool:
    return (a.error, a.message, a.juice) == (b.error, b.message, b.juice) and \
        (a.error is not None or a.value == b.value)


SOURCES = ["(+ 1 2)", "(if true :a :b)", "(when 1 2 3)", "(defn sq [x] (* x x)) (sq 7)",
           "(let [[a & more] [1 2 3]] `(do ~a ~@more))", "(and 1 nil 3)", "(or nil 2)",
           "(fail :ASSERT \"no\")", "(undefined-thing 1)", "(do (def z 5) (* z z))",
           "(cond (= 1 2) 3 4)", "(reduce + [1 2 3 4])", "(str \"a\" 1 :b)",
           "(call #9 (nope))", "(schedule (+ *timestamp* 1000) (def done true))",
           "(import convex.asset :as asset)", "(set! nothing 1)", "(dotimes [i 3] i)"]


@pytest.mark.parametrize("src", SOURCES)
def test_cached_result_equals_fresh_compilation(src, compiles):
    s = Session()
    want = fresh(s, src)
    s.fork().eval(src)                       # fills the cache
    n = len(compiles)
    got = s.fork().eval(src)
    assert same(got, want), (got, want)
    if want.error is None:                   # the first form at least is a hit (a later one
        from lisp import read_all            # compiled after a def in the same source is not)
        assert len(compiles) - n < len(read_all(src))


def test_repeated_source_compiles_once(compiles):
    s = Session()
    for _ in range(5):
        assert s.eval("(+ 1 2)").value == 3
    assert len(compiles) == 1


def test_static_definition_change_recompiles(compiles):
    s = Session()
    s.eval("(def ^:static x 1)")
    assert s.eval("x").value == 1            # compiled to the constant 1
    assert s.eval("x").value == 1
    s.eval("(def ^:static x 2)")
    assert s.eval("x").value == 2


def test_user_macro_shadowing_a_core_macro(compiles):
    s = Session()
    assert s.eval("(if true 1 2)").value == 1
    assert s.eval("(defmacro if [a b c] c)").ok
    assert s.eval("(if true 1 2)").value == 2
    t = s.as_account(11)                     # another account still sees the core macro
    assert t.eval("(if true 1 2)").value == 1


def test_macro_reading_the_state_is_expanded_every_time(compiles):
    s = Session()
    assert s.eval("(defmacro bal [] *balance*)").ok
    b0 = s.eval("(bal)").value
    assert s.eval("(transfer #11 1000)").ok
    assert s.eval("(bal)").value == b0 - 1000
    assert s.eval("*balance*").value == b0 - 1000


def test_set_bang_before_and_after_definition(compiles):
    s = Session()
    assert s.eval("(set! y 5)").error == "UNDECLARED"
    assert s.eval("(def y 1)").ok
    r = s.eval("(set! y 5)")
    assert r.ok and s.eval("y").value == 5


def test_core_library_change_recompiles(compiles):
    s2 = Session()
    assert s2.eval("(when true 7)").value == 7
    core = Session(s2.state, address=8)      # development mode: acting as #8 itself
    r = core.eval("(defmacro when [c & body] 42)")
    assert r.ok, r.message
    s2.state = core.state
    assert s2.eval("(when true 7)").value == 42


@pytest.mark.parametrize("src", ["(defn sq [x] (* x x)) (sq 7)", "(when 1 2 3)"])
def test_juice_limit_during_compilation(src):
    """A hit whose compile juice does not fit the limit fails exactly as compiling does."""
    total = fresh(Session(), src).juice
    for limit in range(0, total + 2):
        want = fresh(Session(juice_limit=limit), src)
        Session(juice_limit=10**6).eval(src)          # cache it
        got = Session(juice_limit=limit).eval(src)
        assert same(got, want), (limit, got, want)


def test_forms_given_as_values_and_text_agree(compiles):
    from lisp import read_all
    s = Session()
    a = s.fork().eval("(+ 40 2)")
    b = s.fork().eval_forms(read_all("(+ 40 2)"))
    assert a.value == b.value == 42 and a.juice == b.juice


def test_compiler_listeners_see_every_compilation(compiles):
    """While lisp.compiler.FORM_SINK listens (coverage), every form is compiled afresh."""
    from lisp import compiler
    s = Session()
    s.eval("(if true 1 2)")
    compiler.FORM_SINK = sink = []
    try:
        assert s.eval("(if true 1 2)").value == 1
    finally:
        compiler.FORM_SINK = None
    assert sink and len(compiles) == 2
