"""The CVM never lets a Python exception out, whatever the input: runaway loops end with
:JUICE, runaway recursion and deep nesting with :DEPTH, and random calls of every core function
on random arguments give a CVM value or a CVM error (never the UNEXPECTED safety net)."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cvm import session
from kernel.cvm.registry import CORE
from lisp import print_value
from strategies import values

# Functions whose random use would legitimately run long or end the transaction early.
SLOW_OR_EXITING = {"recur", "tailcall*", "return", "halt", "rollback", "reduced", "eval",
                   "expand", "compile", "*initial-expander*", "defmacro", "macro"}
NAMES = sorted(n for n in CORE if n not in SLOW_OR_EXITING)


def test_infinite_loop_runs_out_of_juice():
    r = session().eval("(loop [] (recur))")
    assert r.error == "JUICE"


def test_infinite_tail_recursion_runs_out_of_juice():
    r = session().eval("(do (defn f [x] (recur x)) (f 1))")
    assert r.error == "JUICE"


def test_runaway_recursion_hits_depth():
    r = session().eval("(do (defn f [x] (inc (f x))) (f 1))")
    assert r.error == "DEPTH"


def test_deeply_nested_source_hits_depth():
    src = "(inc " * 2000 + "1" + ")" * 2000
    assert session().eval(src).error == "DEPTH"


def test_deeply_nested_data_is_fine_or_depth():
    src = "[" * 3000 + "]" * 3000
    r = session().eval(src)
    assert r.error in (None, "DEPTH")


def _quoted(v) -> str:
    return "(quote " + print_value(v) + ")"


@settings(max_examples=400, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(NAMES), st.lists(values(readable=True, max_leaves=6), max_size=4))
def test_random_core_calls_never_escape(name, args):
    src = "(" + name + " " + " ".join(_quoted(a) for a in args) + ")"
    r = session().eval(src)
    assert r.error != "UNEXPECTED", f"{src}: {r.message}"
    if r.error is None:
        print_value(r.value)      # every result prints


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(values(readable=True, max_leaves=12))
def test_random_forms_evaluate_without_escaping(form):
    r = session().eval_forms([form])
    assert r.error != "UNEXPECTED", f"{print_value(form)}: {r.message}"
