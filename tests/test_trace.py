"""Seeing inside execution (issue 17): call traces with juice, the op-tree explorer, and that
tracing leaves juice, results and the untraced path as they were."""
from __future__ import annotations

import io
import json
import sys

import pytest

from convex_repl.api import Session
from test_cli import run   # (exit code, stdout, stderr) of `convex args...` in-process
from convex_repl.insight.calls import trace_json
from convex_repl.insight.explain import explain_json
from convex_repl.insight.run import run_traced
from kernel.cvm import ops as O
from kernel.cvm.fn import CoreFn, Fn
from kernel.cvm.trace import Recorder, tracing

ACCEPT = "(do (defn f [x] (inc x)) (f (f 1)))"


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = tmp_path / "convex-home"
    monkeypatch.setenv("CONVEX_HOME", str(h))
    monkeypatch.delenv("CONVEX_URL", raising=False)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    return h


def traced(src: str, s: Session = None):
    s = s or Session()
    return run_traced(s.state, s.address, src)


def test_cli_trace_json_acceptance(home, capsys):
    code, out, _ = run(capsys, "trace", "--json", ACCEPT)
    assert code == 0
    t = json.loads(out)
    assert t["value"] == "3" and t["error"] is None
    assert [c["fn"] for c in t["calls"]] == ["f", "f"]
    assert [(c["args"], c["result"]) for c in t["calls"]] == [(["1"], "2"), (["2"], "3")]
    code, out, _ = run(capsys, "query", "--json", ACCEPT)
    assert code == 0 and json.loads(out)["juice"] == t["juice"]


def test_juice_is_the_untraced_juice_for_many_programs():
    s = Session()
    s.eval("(def tok (deploy '(do (def n 0) (defn bump ^:callable [k] (set! n (+ n k)) n))))")
    for src in [ACCEPT, "(map inc [1 2 3])", "(reduce + (range 100))",
                "(defn g [n] (if (> n 0) (recur (dec n)) :done)) (g 50)",
                "(call tok (bump 5))", "(eval '(+ 1 2))", "(try (fail :X \"no\") 7)",
                "(query (def z 1))", "(loop [i 0] (if (< i 9) (recur (inc i)) i))",
                "(f 1)", "(+ 1 :x)",
                "(defn d [n] (if (> n 0) (inc (d (dec n))) 0)) (d 300)",      # :DEPTH
                "(defn e [n] (if (> n 0) (eval (list 'e (dec n))) 0)) (e 40)",
                "(loop [] (recur))"]:                                         # :JUICE
        t = traced(src, s)
        q = s.query(src)
        assert (t.result.juice, t.result.error, t.result.printed) == (q.juice, q.error,
                                                                      q.printed), src


def test_calls_name_actors_eval_errors_and_recur():
    s = Session()
    s.eval("(def tok (deploy '(do (def n 0) (defn helper [x] (* 2 x)) "
           "(defn bump ^:callable [k] (set! n (+ n k)) (helper n)))))")
    tok = s.eval("tok").value.n
    t = traced("(defn f [x] (inc x)) (call tok (bump 5)) (eval '(f 10)) "
               "(defn g [n] (if (> n 0) (recur (dec n)) :done)) (g 3) (f :a)", s)
    j = trace_json(t)
    bump, ev, g, bad = j["calls"]
    assert (bump["fn"], bump["address"], bump["args"], bump["result"]) == ("bump", f"#{tok}",
                                                                            ["5"], "10")
    assert [(c["fn"], c["address"]) for c in bump["calls"]] == [("helper", f"#{tok}")]
    assert bump["juice"] > bump["calls"][0]["juice"] > 0
    assert ev["fn"] == "eval" and [c["fn"] for c in ev["calls"]] == ["f"]
    assert (g["fn"], g["args"], g["result"], g["recurs"]) == ("g", ["3"], ":done", 3)
    assert bad["error"] == "CAST" and bad["result"] is None and "Long" in bad["message"]
    assert j["error"] == "CAST"
    # expanding macros (defn) is not a call the user made
    assert all(c["fn"] != "fn" for c in j["calls"])


def test_depth_limits_the_tree_and_keeps_juice():
    src = "(defn a [x] (b x)) (defn b [x] (c x)) (defn c [x] (inc x)) (a 1)"
    full = trace_json(traced(src))
    assert full["calls"][0]["calls"][0]["calls"][0]["fn"] == "c"
    cut = trace_json(run_traced(Session().state, 13, src, Recorder(max_depth=1)))
    assert cut["calls"][0]["calls"] == [] and cut["calls"][0]["omitted"] == 2   # b and c
    assert cut["calls"][0]["juice"] == full["calls"][0]["juice"]
    shown = trace_json(traced(src), depth=2)
    assert shown["calls"][0]["calls"][0]["calls"] == []


def test_explain_counts_and_juice_add_up():
    t = traced("(defn f [x] (if (> x 2) (inc x) :small)) (f 1) (f 5) (f 7)")
    j = explain_json(t)
    assert j["value"] == "8"
    ran = sum(n["total"] for n in j["ops"])
    assert ran + j["compile_juice"] == t.result.juice

    def find(n, code):
        if n["code"] == code:
            return n
        for k in n["children"]:
            hit = find(k, code)
            if hit:
                return hit
    cond = find(j["ops"][0], "(cond (> %0 2) (inc %0) :small)")
    assert cond["count"] == 3
    assert find(cond, "(inc %0)")["count"] == 2
    assert find(cond, ":small")["count"] == 1
    calls = [n for n in j["ops"][1:]]
    assert all(n["count"] == 1 for n in calls)
    hot = [n for n in j["ops"] if n["hot"]]
    assert hot and max(j["ops"], key=lambda n: n["total"]) in hot


def test_explain_shows_bodies_of_functions_defined_before():
    s = Session()
    s.eval("(defn sq [x] (* x x))")
    j = explain_json(traced("(sq (sq 3))", s))
    assert j["value"] == "81"
    (f,) = j["functions"]
    assert f["name"] == "sq" and f["body"]["count"] == 2 and f["body"]["code"] == "(* %0 %0)"


def test_tracing_is_off_outside_the_block_and_in_other_threads():
    import threading
    originals = {c: c.__dict__["ex"] for c in (O.Constant, O.Invoke, O.Cond, O.Let)}
    fn_invoke, core_invoke = Fn.__dict__["invoke"], CoreFn.__dict__["invoke"]
    rec = Recorder()
    other: list = []
    with tracing(rec):
        assert O.Invoke.__dict__["ex"] is not originals[O.Invoke]
        th = threading.Thread(target=lambda: other.append(Session().eval("(map inc [1 2])")))
        th.start()
        th.join()
    assert other[0].printed == "[2 3]"
    assert rec.stats == {} and rec.root.calls == []      # the other thread was not traced
    assert {c: c.__dict__["ex"] for c in originals} == originals
    assert (Fn.__dict__["invoke"], CoreFn.__dict__["invoke"]) == (fn_invoke, core_invoke)


def test_cli_trace_text_explain_and_errors(home, capsys, tmp_path):
    code, out, _ = run(capsys, "trace", ACCEPT)
    assert code == 0 and "(f 1) => 2" in out and "(f 2) => 3" in out
    code, out, _ = run(capsys, "explain", ACCEPT)
    assert code == 0 and "(inc %0)" in out and "×2" in out
    code, out, _ = run(capsys, "explain", "--json", ACCEPT)
    assert code == 0 and json.loads(out)["ops"][0]["op"] == "do"
    f = tmp_path / "bad.cvx"
    f.write_text("(defn f [x]\n  (inc x))\n(f :oops)\n")
    code, out, err = run(capsys, "trace", "-f", str(f))
    assert code == 1 and "(f :oops) !! :CAST" in out
    assert f"{f}:3:1: :CAST" in err and f"failing call at {f}:2:3" in err
    assert "Traceback" not in err
    code, _, err = run(capsys, "explain", "-f", str(f))
    assert code == 1 and f"{f}:3:1: :CAST" in err
    code, _, err = run(capsys, "trace", "(+ 1")
    assert code == 2 and err.count("\n") <= 3 and "Traceback" not in err
    code, _, err = run(capsys, "trace", "--tx", "00" * 32)
    assert code == 2 and "--url" in err


def test_calls_say_where_in_the_source_they_were_made(home, capsys, tmp_path):
    f = tmp_path / "prog.cvx"
    f.write_text("(defn f [x] (inc x))\n(defn g [x]\n  (f (f x)))\n\n(g 1)\n")
    code, out, _ = run(capsys, "trace", "--json", "-f", str(f))
    assert code == 0
    (g,) = json.loads(out)["calls"]
    assert g["at"] == f"{f}:5:1"
    assert [c["at"] for c in g["calls"]] == [f"{f}:3:6", f"{f}:3:3"]   # inner call first
    code, out, _ = run(capsys, "trace", "(+ 1\n   (inc 2))")
    assert code == 0 and "=> 4" in out
    code, _, err = run(capsys, "trace", "(+ 1 [2")
    assert code == 2 and "<forms>:1:6: unclosed '['" in err


def test_bodies_the_jit_compiled_before_are_traced_op_by_op():
    from kernel.cvm import jit
    s = Session()
    s.eval("(defn fib [n] (if (< n 2) n (+ (fib (- n 1)) (fib (- n 2)))))")
    with jit.threshold(0):
        assert s.query("(fib 12)").value == 144          # compiled and run compiled
    t = traced("(fib 5)", s)
    assert t.result.juice == s.query("(fib 5)").juice
    calls, todo = 0, list(t.recorder.root.calls)
    while todo:
        c = todo.pop()
        calls += 1
        todo.extend(c.calls)
    assert calls == 15                                    # fib(5) calls fib 15 times
    body = explain_json(t)["functions"][0]["body"]
    assert body["count"] == 15 and body["op"] == "cond"
