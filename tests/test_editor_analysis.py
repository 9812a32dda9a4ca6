"""The analysis behind the language server (convex_repl.editor.analysis), in process: what is
and is not a diagnostic, juice per form, and re-running only the forms after an edit."""
import pytest

from convex_repl.editor import analysis
from convex_repl.editor.analysis import ERROR, WARNING, Analyzer


@pytest.fixture(scope="module")
def analyzer():
    return Analyzer()


def found(a):
    return [(a.text[d.start:d.end], d.severity, d.code) for d in a.diagnostics]


def test_forward_references_and_locals_are_known(analyzer):
    a = analyzer.analyse("(defn a [n] (b (inc n)))\n"
                         "(defn b [n] (loop [i n acc []] (if (> i 3) acc (recur (inc i) (conj acc i)))))\n"
                         "(a 1)\n")
    assert found(a) == []
    assert [f.error for f in a.forms] == [None, None, None]


def test_quoted_code_and_try_are_not_checked(analyzer):
    a = analyzer.analyse("(def code '(anything at all))\n(try (undefined-here) 1)\n"
                         "(deploy '(defn hidden [] (nowhere)))\n")
    assert found(a) == []


def test_runtime_errors_are_hints_not_diagnostics(analyzer):
    a = analyzer.analyse("(def v [1 2])\n(count 42)\n(nth v 5)\n")
    assert found(a) == []
    assert [f.error for f in a.forms] == [None, "CAST", "BOUNDS"]
    assert all(f.juice > 0 for f in a.forms)


def test_a_shadowed_core_name_is_not_checked_against_the_core(analyzer):
    a = analyzer.analyse("(defn count [a b] (+ a b))\n(count 1 2)\n")
    assert found(a) == []
    a = analyzer.analyse("(let [count (fn [a b] a)] (count 1 2))\n")
    assert found(a) == []


def test_test_files_know_deftest_and_is(analyzer):
    text = "(deftest sums (is (= 3 (+ 1 2))))\n"
    assert found(analyzer.analyse(text, "tests/cvx/sums_test.cvx")) == []
    assert ("deftest", WARNING, "UNDECLARED") in found(analyzer.analyse(text, "sums.cvx"))


def test_forms_before_one_that_does_not_read_are_still_analysed(analyzer):
    a = analyzer.analyse("(defn f [x] x)\n(count 1 2)\n(f [1\n")
    assert found(a) == [("(count 1 2)", ERROR, "ARITY"), ("[", ERROR, "SYNTAX")]
    assert [d[0] for d in a.definitions()] == ["f"]
    assert "f" in {n for n, _, _ in a.session.definitions()}


def test_an_edit_reruns_only_the_forms_from_the_edit_on(analyzer, monkeypatch):
    runs = []
    real = Analyzer._run

    def counting(self, session, form, node):
        runs.append(node.start)
        return real(self, session, form, node)

    monkeypatch.setattr(Analyzer, "_run", counting)
    fresh = Analyzer()
    first = fresh.analyse("(def a 1)\n(def b (inc a))\n(def c (inc b))\n")
    assert len(runs) == 3
    runs.clear()
    second = fresh.analyse("(def a 1)\n(def b (inc a))\n(def c (+ b 10))\n")
    assert len(runs) == 1
    assert second.session.lookup("c") == 12
    assert [f.juice for f in second.forms[:2]] == [f.juice for f in first.forms[:2]]
    runs.clear()
    moved = fresh.analyse("\n\n(def a 1)\n(def b (inc a))\n(def c (+ b 10))\n(count 1 2)")
    assert len(runs) == 1                      # the same forms, moved: only the new one runs
    assert [moved.text[d.start:d.end] for d in moved.diagnostics] == ["(count 1 2)"]


def test_an_endless_loop_stops_at_the_juice_limit():
    a = Analyzer(juice_limit=20_000).analyse("(loop [] (recur))\n(def after 1)\n")
    assert a.forms[0].error == "JUICE"
    assert a.session.lookup("after") == 1
    assert analysis.JUICE_LIMIT >= 1_000_000


def test_a_file_reading_args_starts_as_convex_deploy_runs_it(analyzer):
    a = analyzer.analyse("(def total (if (empty? args) 0 (first args)))\n")
    assert found(a) == [] and a.forms[0].error is None
    assert a.session.lookup("total") == 0
    b = analyzer.analyse("(def my-args 1)\n")
    assert b.session.lookup("args") is None             # only files that read it get it
