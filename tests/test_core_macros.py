"""The Convex Lisp part of convex.core (stdlib/core.cvx): macros and Lisp-level functions.

Each case evaluates in a fresh fork of the genesis state; results are compared by printed form.
"""
from __future__ import annotations

import pytest


from cvm import ok, session


def printed(src: str) -> str:
    return ok(src).printed


def err(src: str):
    return session().eval(src).error


VALUES = [
    # if
    ("(if 1 2 3)", "2"), ("(if nil 2 3)", "3"), ("(if false 1 2)", "2"), ("(if :foo 7)", "7"),
    ("(if false 1)", "nil"), ("(if (= 1 1) (* 2 3) (* 3 4))", "6"),
    ("(if true 1 (fail))", "1"), ("(if nil (fail) 2)", "2"),
    ("(expand '(if a b c))", "(cond a b c)"),
    # and / or
    ("(and)", "true"), ("(and :foo)", ":foo"), ("(and :bar :foo)", ":foo"),
    ("(and :foo nil :bar)", "nil"), ("(and 1 false 2)", "false"), ("(and 1 :foo true true)", "true"),
    ("(and nil (fail))", "nil"),
    ("(or)", "nil"), ("(or :foo)", ":foo"), ("(or nil false)", "false"), ("(or nil 1 (fail))", "1"),
    ("(or :foo (+ nil :bar))", ":foo"), ("(or false nil 3)", "3"),
    ("(expand-1 '(or 1 2 3))", "(cond 1 *result* (or 2 3))"),
    ("(expand-1 '(and 1 2 3))", "(cond 1 (and 2 3) *result*)"),
    ("(let [x 5] (and (> x 1) (< x 10) x))", "5"),
    # when / when-not
    ("(when true)", "nil"), ("(when 2 3 4 5 [])", "[]"), ("(when nil (fail))", "nil"),
    ("(do (def a 6) (when true :foo (def a nil) :bar) a)", "nil"),
    ("(do (def a 6) (when false (def a nil)) a)", "6"),
    ("(when-not false 1 2)", "2"), ("(when-not 1 (fail))", "nil"), ("(when-not nil)", "nil"),
    # if-let / when-let
    ("(if-let [a 1] a)", "1"), ("(if-let [a nil] 3 4)", "4"), ("(if-let [a false] 1)", "nil"),
    ("(if-let [[a b] [1 2]] (+ a b) :no)", "3"), ("(if-let [a false] (fail) :else)", ":else"),
    ("(when-let [a 1] a)", "1"), ("(when-let [a 1] 2 3)", "3"), ("(when-let [a true])", "nil"),
    ("(when-let [a nil] (fail))", "nil"), ("(when-let [[x] false] 1)", "nil"),
    # switch
    ("(switch 3 1 2 3 4 (fail))", "4"), ("(switch 88 666)", "666"),
    ("(switch true true 1 (fail) (fail))", "1"), ("(switch nil nil 1 (fail))", "1"),
    ("(switch nil 2 3)", "nil"), ("(switch :foo 2 (fail) 4 5)", "nil"),
    ("(switch 2 1 :one 2 :two :many)", ":two"), ("(switch 5 1 :one 2 :two :many)", ":many"),
    ("(switch 1)", "nil"), ("(switch 1 1 (switch 2 2 :inner) :x)", ":inner"),
    ("(let [x 1] (switch (+ x 1) x :one (inc x) :two))", ":two"),
    # identity / comp
    ("(identity nil)", "nil"), ("(identity :a :ignored)", ":a"), ("(map identity [1 2])", "[1 2]"),
    ("((comp inc) 42)", "43"), ("((comp inc inc inc inc) 42)", "46"), ("((comp str +) 1 2)", "\"3\""),
    ("((comp inc inc inc inc inc) 0)", "5"), ("((comp vector inc) 1)", "[2]"),
    # defined?
    ("(defined? 'foobar)", "false"), ("(defined? 'count)", "true"), ("(defined? 'if)", "true"),
    ("(do (def a 1) (defined? 'a))", "true"), ("(defined? #8 'if)", "true"),
    ("(defined? #8 'nothing-here)", "false"),
    # doc
    ("(do (def foo ^{:doc 42} nil) (doc foo))", "42"), ("(doc no-such-thing)", "nil"),
    ("(str? (:description (doc count)))", "true"), ("(str? (:description (doc if)))", "true"),
    ("(= (doc count) (doc #8/count))", "true"), ("(vector? (:signature (doc defn)))", "true"),
    # defn
    ("(do (defn f [a & more] more) (f 1 2 3))", "[2 3]"),
    ("(do (defn f ([] 4) ([a] 1 2)) (f 3))", "2"),
    ("(do (defn f ([[a b] c] [a b c])) (f [1 2] 3))", "[1 2 3]"),
    ("(do (defn f [] *depth*) (long? (f)))", "true"),
    ("(do (defn sq ^{:doc {:description \"sq\"}} [x] (* x x)) [(sq 3) (doc sq)])",
     "[9 {:description \"sq\"}]"),
    ("(do (defn sq \"squares\" [x] (* x x)) [(sq 3) (doc sq)])", "[9 {:description \"squares\"}]"),
    ("(do (defn ^:private p [x] x) (lookup-meta 'p))", "{:private true}"),
    ("(do (defn m ^{:doc \"multi\"} ([] 0) ([x] x)) [(m) (m 5) (lookup-meta 'm)])",
     "[0 5 {:doc \"multi\"}]"),
    ("(do (defn f [x] x) (lookup-meta 'f))", "{}"),
    ("(expand '(defn f [x] x))", "(def f (fn [x] x))"),
    ("(do (defn fact [n] (if (> n 1) (* n (fact (dec n))) 1)) (fact 10))", "3628800"),
    # a recursive definition shadowing a core function calls itself, not the core one
    ("(do (defn count [x] (if (empty? x) 100 (inc (count (next x))))) (count [1 2]))", "102"),
    # declare / define / undef
    ("(declare a)", "nil"), ("(declare)", "nil"), ("(do (declare x y) [x y])", "[nil nil]"),
    ("(do (def z 5) (declare z) z)", "5"), ("(do (declare count) (count [1 2]))", "2"),
    ("(do (define q 7) q)", "7"),
    ("(expand '(undef foo))", "(undef* (quote foo))"),
    # assert
    ("(assert)", "nil"), ("(assert true)", "nil"), ("(assert (= 1 1))", "nil"),
    ("(assert '(= 1 2))", "nil"), ("(assert 1 2 :three)", "nil"),
    ("(expand '(assert (= 1 2)))", "(do (cond (= 1 2) nil (fail :ASSERT \"Assert failed: (= 1 2)\")))"),
    # tailcall
    ("(expand '(tailcall (f 1 2)))", "(tailcall* f 1 2)"),
    ("(do (defn down [n] (if (> n 0) (tailcall (down (dec n))) :done)) (down 500))", ":done"),
    # dotimes
    ("(do (def a []) (dotimes [i 3] (def a (conj a i))) a)", "[0 1 2]"),
    ("(dotimes [i 0] (fail))", "nil"), ("(dotimes [i -5] (fail))", "nil"),
    ("(dotimes [i 3] i)", "nil"),
    # dotimes is a let / loop: as in the reference (Let op), a set! of a local from outside it
    # is undone when the loop recurs and when it ends; a def stays
    ("(let [n 3 v []] (dotimes [i n] (set! v (conj v i))) v)", "[]"),
    ("(let [v []] (dotimes [i 2] (dotimes [j 2] (set! v (conj v [i j])))) v)", "[]"),
    ("(let [k 0] (dotimes [i (do (set! k (inc k)) 3)] nil) k)", "0"),
    ("(do (def v []) (dotimes [i 2] (dotimes [j 2] (def v (conj v [i j])))) v)",
     "[[0 0] [0 1] [1 0] [1 1]]"),
    # for
    ("(for [x nil] (inc x))", "[]"), ("(for [x [1 2 3]] (inc x))", "[2 3 4]"),
    ("(for [x '(1 2)] (* x 10))", "[10 20]"), ("(for [x :foo] x)", "[\\f \\o \\o]"),
    ("(for [x \"ab\"] x)", "[\\a \\b]"), ("(for [[k v] {1 2}] (+ k v))", "[3]"),
    ("(for [x [1 2]] (for [y [10 20]] (+ x y)))", "[[11 21] [12 22]]"),
    ("(for [x [1 2]] :ignored x)", "[1 2]"), ("(for [x [1 2]])", "[nil nil]"),
    # for-loop
    ("(for-loop [i 0 (< i 5) (inc i)] (* i i))", "16"),
    ("(for-loop [i 0 false (inc i)] (fail))", "nil"),
    ("(let [v []] (for-loop [i 0 (< i 3) (inc i)] (set! v (conj v i))) v)", "[]"),
    ("(let [v []] (for-loop [i 0 (< i 3) (inc i)] (set! v (conj v i)) v))", "[2]"),
    # mapv / mapcat
    ("(mapv inc '(1 2 3))", "[2 3 4]"), ("(mapv + '(1 2) nil)", "[]"), ("(mapv + nil)", "[]"),
    ("(mapv + [1 2] [10 20 30])", "[11 22]"), ("(mapv inc (index))", "[]"),
    ("(mapv second (into (index) {0x 4 0x01 5 0x0101 6}))", "[4 5 6]"),
    ("(mapv count (index 0x00 :foo))", "[2]"),
    ("(mapcat (fn [x] x) nil)", "nil"), ("(mapcat (fn [x] nil) [1 2 3 4])", "[]"),
    ("(mapcat (fn [x] [x x]) '(1 2))", "(1 1 2 2)"), ("(mapcat vector [:a :b] [1 2])", "[:a 1 :b 2]"),
    # filter / filterv
    ("(filter number? [1 :foo 2 :bar 3])", "[1 2 3]"), ("(filter #{:foo} '(:foo 2 3))", "(:foo)"),
    ("(filter nil? {1 2 3 4})", "{}"), ("(filter (fn [[k v]] (keyword? k)) {:foo 1 'bar 2})", "{:foo 1}"),
    ("(filter #{:foo 3} '(:foo 2 3 :bar))", "(:foo 3)"), ("(filter nil? nil)", "nil"),
    ("(filter (fn [x] (> x 1)) '(1 2 3))", "(2 3)"),
    ("(filterv (fn [x] (> x 1)) '(1 2 3))", "[2 3]"), ("(filterv identity nil)", "[]"),
    ("(filterv (fn [[k v]] (> v 1)) {:a 1 :b 2})", "[[:b 2]]"),
    # update / update-in / dissoc-in / set-in!
    ("(update [[1 2 3]] 0 count)", "[3]"), ("(update nil 2 union #{2})", "{2 #{2}}"),
    ("(update {:n 1} :n + 10)", "{:n 11}"), ("(update {:n 1} :n + 10 100)", "{:n 111}"),
    ("(update-in [1 2 3] [2] inc)", "[1 2 4]"), ("(update-in [1 2 3] [] count)", "3"),
    ("(update-in [1 2 3] [1] identity)", "[1 2 3]"),
    ("(:count (update-in {:count 1} [:count] inc))", "2"),
    ("(update-in {:a {:n 1}} [:a :n] + 1 2 3)", "{:a {:n 7}}"),
    ("(update-in {} [:a :b] (fn [x] (cond x x 0)))", "{:a {:b 0}}"),
    ("(dissoc-in {1 2,3 4} [3])", "{1 2}"), ("(dissoc-in {:data {:count 1}} [:data :count])", "{}"),
    ("(dissoc-in {1 {2 {3 4, 5 6}}} [1 2 3])", "{1 {2 {5 6}}}"), ("(dissoc-in {:a 1} [])", "{:a 1}"),
    ("(dissoc-in {:a {:b 1} :c 2} [:a :b])", "{:c 2}"),
    ("(let [foo {}] (set-in! foo [:a] 1) foo)", "{:a 1}"),
    ("(let [m {}] (set-in! m [:a :b] 1) m)", "{:a {:b 1}}"),
    ("(def m {:x 1}) (set-in! m [:y] 2) m", "{:x 1,:y 2}"),
    # call / schedule / defexpander expansions
    ("(expand '(call #5 (foo 1 2)))", "(call* #5 0 (quote foo) 1 2)"),
    ("(expand '(call #5 100 (foo)))", "(call* #5 100 (quote foo))"),
    ("(expand '(schedule 10 (def a 1)))", "(schedule* 10 (compile (quote (def a 1))))"),
    ("(do (defexpander twice [x e] (e (list 'do (second x) (second x)) e)) (expand '(twice 1)))",
     "(do 1 1)"),
    # quasiquote helpers
    ("(qq* 7 1)", "(quote 7)"), ("(qq* '(unquote (inc 1)) 1)", "(inc 1)"),
    ("(eval (qq-seq '[1 ~2 ~(dec 4)] 1))", "[1 2 3]"), ("(qq-seq '[1 2] 1)", "nil"),
    ("(quasiquote* '[a b] 1)", "nil"), ("(eval (qq* '(1 ~nil) 1))", "(1 nil)"),
    ("(let [b 2 c 3] (eval (list 'let ['b b 'c c] (qq* '[a ~b {:x ~c} #{~b}] 1))))",
     "[a 2 {:x 3} #{2}]"),
    ("(qq* '`(b ~(c ~d)) 1)",
     "(list (quote quasiquote) (list (quote b) (list (quote unquote) (list (quote c) d))))"),
]


@pytest.mark.parametrize("src,expected", VALUES)
def test_values(src, expected):
    out = printed(src)
    if expected is not None:
        assert out == expected


ERRORS = [
    ("(if)", "ARITY"), ("(if 1)", "ARITY"), ("(if :foo)", "ARITY"), ("(if :foo 1 2 3 4 5)", "ARITY"),
    ("(or nil (count) true)", "ARITY"), ("(and 1 (fail :STATE \"x\"))", "STATE"),
    ("(if-let [:foo 1])", "ARITY"), ("(if-let [])", "ARITY"), ("(if-let [] 1)", "ARITY"),
    ("(if-let [a] 1)", "ARITY"), ("(if-let [a 1] 2 3 4)", "ARITY"),
    ("(when-let [:foo 1])", "COMPILE"), ("(when-let [a 1 2] 3)", "ARITY"), ("(when-let)", "ARITY"),
    ("(switch)", "ARITY"), ("(switch 1 2 3 (fail :ARGUMENT \"bad test reached\") nil 7)", "ARGUMENT"),
    ("(comp)", "ARITY"), ("(identity)", "ARITY"),
    ("(defined? :count)", "CAST"), ("(defined? nil)", "CAST"), ("(defined? 1)", "CAST"),
    ("(defined? 0x)", "CAST"), ("(defined? nil 'foo)", "CAST"), ("(defined? 12 'foo)", "CAST"),
    ("(defined?)", "ARITY"), ("(defined? :foo :bar :baz)", "ARITY"),
    ("(doc)", "ARITY"), ("(doc 1)", "CAST"), ("(doc (foo bar))", "CAST"), ("(doc count extra)", "ARITY"),
    ("(defn)", "ARITY"), ("(defn f)", "ARITY"), ("(defn foo [42 ok])", "COMPILE"),
    ("(defn 1 [x] x)", "COMPILE"), ("(defn s \"only a string\")", "SYNTAX"),
    ("(update {} :n inc)", "CAST"), ("(do (defn f ([] nil)) (f 3))", "ARITY"),
    ("(declare ~'count)", "CAST"), ("(declare 1)", "CAST"), ("(declare foo 1)", "CAST"),
    ("(assert false)", "ASSERT"), ("(assert true false)", "ASSERT"), ("(assert (= 1 2))", "ASSERT"),
    ("(assert nil (fail :STATE \"not reached\"))", "ASSERT"),
    ("(tailcall 1)", "ARGUMENT"), ("(tailcall ())", "ARGUMENT"), ("(tailcall)", "ARITY"),
    ("(tailcall (count 1))", "EXCEPTION"),
    ("(do (defn g [] :foo) (defn f [x] (tailcall (g 1))) (f 1))", "ARITY"),
    ("(dotimes [1 10])", "CAST"), ("(dotimes [:foo 10])", "CAST"), ("(dotimes [i 2 3])", "ARITY"),
    ("(dotimes [i :x] 1)", "CAST"), ("(dotimes)", "ARITY"),
    ("(for [x] 1)", "ARITY"), ("(for [x [1 2] [2 3]] 1)", "ARITY"), ("(for [x 1] :foo)", "CAST"),
    ("(for)", "ARITY"), ("(for [] nil nil)", "ARITY"),
    ("(for-loop [1 2 3 4] 5)", "COMPILE"), ("(for-loop [1 2 3] 4)", "ARITY"), ("(for-loop)", "ARITY"),
    ("(mapv)", "ARITY"), ("(mapv inc)", "ARITY"), ("(mapcat identity)", "ARITY"),
    ("(filter nil? 1)", "CAST"), ("(filter 1 [1 2 3])", "CAST"), ("(filter +)", "ARITY"),
    ("(filterv nil? 1)", "CAST"), ("(filterv +)", "ARITY"),
    ("(update [1 2 3] 2 666)", "CAST"), ("(update {} :k)", "ARITY"),
    ("(update [[2]] 0 count 666)", "ARITY"),
    ("(update-in [1 2 3] [2] 666)", "CAST"), ("(update-in 666 [2] inc)", "CAST"),
    ("(update-in)", "ARITY"), ("(update-in {} :k)", "ARITY"), ("(update-in [[2]] [0] count 666)", "ARITY"),
    ("(dissoc-in {})", "ARITY"), ("(set-in! a [:b])", "ARITY"),
    ("(call #5 foo)", "COMPILE"), ("(call #5)", "ARITY"), ("(schedule :foo 2 3)", "ARITY"),
    ("(qq* '(unquote 1 2) 1)", "ARITY"),
]


@pytest.mark.parametrize("src,code", ERRORS)
def test_errors(src, code):
    assert err(src) == code


def test_doc_metadata_on_every_lisp_definition():
    """Every definition made by core.cvx carries a :doc map with a description."""
    from kernel.cvm.registry import CORE
    from stdlib import source
    from lisp import read_all
    from kernel.cvm.binding import unwrap

    names = []
    for form in read_all(source("core.cvx")):
        form = unwrap(form)
        head = unwrap(form[0]).name
        if head in ("defn", "defmacro"):
            names.append(unwrap(form[1]).name)
    assert names, "no definitions found"
    s = session()
    for name in names:
        assert name not in CORE, f"{name} is also a Python core function"
        r = s.eval(f"(:description (doc {name}))")
        assert r.error is None and isinstance(r.printed, str) and r.printed.startswith('"'), name


def test_macros_are_expanders():
    s = session()
    for name in ("if", "and", "or", "when", "when-not", "if-let", "when-let", "defn", "declare",
                 "assert", "doc", "switch", "tailcall", "dotimes", "for", "for-loop", "undef",
                 "set-in!", "call", "schedule", "define", "defexpander"):
        assert s.eval(f"(:expander? (lookup-meta '{name}))").printed == "true", name
    for name in ("identity", "comp", "defined?", "mapv", "mapcat", "filter", "filterv", "update",
                 "update-in", "dissoc-in", "qq*", "qq-seq", "quasiquote*"):
        assert s.eval(f"(fn? {name})").printed == "true", name
        assert s.eval(f"(:expander? (lookup-meta '{name}))").printed == "nil", name


def test_macro_usable_from_other_accounts():
    """Definitions live in #8 and are found from a user account through the fallback."""
    s = session()
    assert s.eval("(contains-key? *env* 'when)").printed == "false"
    assert s.eval("(:expander? (lookup-meta #8 'when))").printed == "true"
    assert s.eval("(when 1 2)").printed == "2"
