"""Collection and sequence core functions (kernel/core/collections.py)."""
from __future__ import annotations

import pytest

from kernel.cvm import juice as J
from kernel.cvm.registry import BY_CODE, CORE
from kernel.cvm.errors import ErrorValue
from kernel.data.vectors import Vector

from cvm import err, fresh_ctx, ok, same


def ev(src: str):
    return ok(src).printed


# --- registration --------------------------------------------------------------------------------

CODES = {"vector": 1, "concat": 2, "vec": 3, "reverse": 4, "set": 5, "union": 6,
         "intersection": 7, "difference": 8, "list": 9, "hash-map": 80, "index": 81,
         "hash-set": 82, "keys": 83, "values": 84, "assoc": 85, "assoc-in": 86, "get": 112,
         "get-in": 113, "contains-key?": 114, "subset?": 115, "dissoc": 116, "conj": 117,
         "disj": 118, "cons": 119, "first": 120, "second": 121, "last": 122, "count": 183,
         "empty": 192, "nth": 193, "next": 194, "slice": 195, "apply": 198, "into": 224,
         "merge": 225, "map": 226, "reduce": 227, "reduced": 228}


@pytest.mark.parametrize("name,code", sorted(CODES.items()))
def test_codes(name, code):
    assert CORE[name].code == code
    assert BY_CODE[code] is CORE[name]


@pytest.mark.parametrize("name", sorted(set(CODES) - {"reduced"}))
def test_docs_present(name):
    from kernel.cvm.registry import DOCS
    doc = DOCS[name]
    assert doc["description"] and doc["signature"] and doc["examples"]


# --- construction --------------------------------------------------------------------------------

def test_vector_list():
    assert ev("(vector 1 2)") == "[1 2]"
    assert ev("(vector)") == "[]"
    assert ev("(list 1 2)") == "(1 2)"
    assert ev("(list)") == "()"


def test_hash_map_and_set():
    same("(hash-map 1 2 3 4)", "{1 2 3 4}")
    same("(hash-map 1 2 1 3)", "{1 3}")
    assert err("(hash-map 1)") == "ARITY"
    same("(hash-set 1 2 2)", "#{1 2}")
    same("(hash-set (hash-set) (hash-set))", "#{#{}}")


def test_index():
    same("(assoc (index) 0xa2 :foo)", "(index 0xa2 :foo)")
    same("(get (index \"\" :x) 0x)", ":x")
    assert err("(index nil :bar)") == "ARGUMENT"
    assert err("(index 0xabcd)") == "ARITY"
    same("(count (index 0x01 1 0x01 2))", "1")


def test_vec_set():
    same("(vec (list 1 2 3))", "[1 2 3]")
    same("(vec {1 2})", "[[1 2]]")
    same("(vec nil)", "[]")
    same("(vec (index))", "[]")
    same("(vec 0x0102)", "[1 2]")
    same("(vec \"ab\")", "[\\a \\b]")
    assert err("(vec 1)") == "CAST"
    assert err("(vec)") == "ARITY"
    same("(set [3 2 1 2])", "#{1 2 3}")
    same("(set nil)", "#{}")
    assert err("(set 1)") == "CAST"


def test_concat():
    assert ev("(concat)") == "nil"
    assert ev("(concat nil nil)") == "nil"
    same("(concat [1 2] [3 4])", "[1 2 3 4]")
    same("(concat nil [1 2] '(3) [] [4])", "[1 2 3 4]")
    same("(concat '(1) [2])", "'(1 2)")
    same("(concat () nil)", "()")
    same("(concat {1 2} #{3})", "[[1 2] 3]")
    assert err("(concat [1] 2)") == "CAST"
    assert err("(concat \"ab\")") == "CAST"


def test_reverse():
    same("(reverse [1 2 3])", "'(3 2 1)")
    same("(reverse '(3 2 1))", "[1 2 3]")
    same("(reverse nil)", "()")
    assert err("(reverse #{1})") == "CAST"
    assert err("(reverse 1 2)") == "ARITY"


# --- sets ----------------------------------------------------------------------------------------

def test_set_algebra():
    same("(union #{1 2} #{3})", "#{1 2 3}")
    same("(union)", "#{}")
    same("(union nil nil)", "#{}")
    assert err("(union :foo)") == "CAST"
    same("(intersection #{1 2 3} #{2 3 4} #{3 4 5})", "#{3}")
    same("(intersection nil)", "#{}")
    same("(intersection #{1} nil)", "#{}")
    assert err("(intersection)") == "ARITY"
    assert err("(intersection #{1} [1])") == "CAST"
    same("(difference #{1 2 3} #{2} #{3})", "#{1}")
    assert err("(difference)") == "ARITY"
    assert err("(difference [1] [2 3])") == "CAST"


def test_subset():
    assert ev("(subset? nil #{})") == "true"
    assert ev("(subset? #{1} #{1 2})") == "true"
    assert ev("(subset? #{1 2 3} #{0})") == "false"
    assert err("(subset? 1 2)") == "CAST"
    assert err("(subset? #{} 2)") == "CAST"


def test_disj():
    same("(disj #{1 2} 1)", "#{2}")
    same("(disj #{1 2} 1.0)", "#{1 2}")
    same("(disj nil nil)", "#{}")
    assert err("(disj (index) 0x)") == "CAST"
    assert err("(disj)") == "ARITY"


# --- maps ----------------------------------------------------------------------------------------

def test_keys_values():
    same("(keys {1 2})", "[1]")
    same("(set (keys {1 2 3 4 5 6}))", "#{1 3 5}")
    same("(values {1 2})", "[2]")
    same("(keys (index 0x01 :a))", "[0x01]")
    for bad in ("(keys 1)", "(keys [])", "(keys nil)", "(values [])"):
        assert err(bad) == "CAST"
    assert err("(values {} {})") == "ARITY"


def test_dissoc():
    same("(dissoc {1 2 3 4} 1 3)", "{}")
    same("(dissoc {1 2} 3)", "{1 2}")
    same("(dissoc nil 1)", "{}")
    same("(dissoc (index 0x 1) \"\")", "(index)")
    assert err("(dissoc 1 1 2)") == "CAST"
    assert err("(dissoc)") == "ARITY"


def test_merge():
    same("(merge)", "{}")
    same("(merge nil {1 2} nil {1 3} nil)", "{1 3}")
    same("(merge (index 0x01 1) (index 0x01 2))", "(index 0x01 2)")
    same("(merge {0x01 1} (index 0x01 2))", "{0x01 2}")
    assert err("(merge (index) {1 2})") == "CAST"
    assert err("(merge {} [1 2 3])") == "CAST"
    assert err("(merge nil :foo)") == "CAST"


# --- access --------------------------------------------------------------------------------------

def test_get():
    same("(get {1 2} 1)", "2")
    same("(get {1 2} 2)", "nil")
    same("(get {1 2 3 4} 5 7)", "7")
    same("(get [1 2 3] 4 7)", "7")
    same("(get [1 2] -1)", "nil")
    same("(get [1 2] true)", "nil")
    same("(get [1 2 3] (byte 1))", "2")
    same("(get nil 2 3)", "3")
    same("(get #{2 3} 2)", "true")
    same("(get #{2 3} 4)", "false")
    same("(get #{2 3} 4 :no)", ":no")
    same("(get (index 0x01 :a) 0x01)", ":a")
    same("(get (index 0x01 :a) 1 :none)", ":none")
    assert err("(get \"ab\" 3)") == "CAST"
    assert err("(get 1 1)") == "CAST"
    assert err("(get)") == "ARITY"
    assert err("(get 1 2 3 4)") == "ARITY"


def test_get_in():
    same("(get-in [1 2 {:foo 4} 3 5] [2 :foo])", "4")
    same("(get-in (list 1 2 3) [2])", "3")
    same("(get-in 3 [])", "3")
    same("(get-in {1 2} nil)", "{1 2}")
    same("(get-in {1 2} [3] :foo)", ":foo")
    same("(get-in {1 nil} [1] :foo)", "nil")
    same("(get-in nil [1 2])", "nil")
    same("(get-in nil [1 2] :x)", ":x")
    assert err("(get-in 1 [2])") == "CAST"
    assert err("(get-in {} :k)") == "CAST"
    assert err("(get-in 1)") == "ARITY"


def test_contains_key():
    assert ev("(contains-key? {} nil)") == "false"
    assert ev("(contains-key? {nil 1} nil)") == "true"
    assert ev("(contains-key? [0 1 2] 2)") == "true"
    assert ev("(contains-key? [0 1 2] :foo)") == "false"
    assert ev("(contains-key? #{1} 1)") == "true"
    assert ev("(contains-key? (index 0x :foo) 0x)") == "true"
    assert ev("(contains-key? nil 1)") == "false"
    assert err("(contains-key? 3 4)") == "CAST"
    assert err("(contains-key? \"ab\" 4)") == "CAST"


def test_count_and_empty():
    for src, n in (("nil", 0), ("[]", 0), ("\"abc\"", 3), ("\"é\"", 2), ("#{1 2 2}", 2),
                   ("{1 2 2 3}", 2), ("'deadbeef", 8), (":abc", 3), ("0x0102", 2),
                   ("(index 0x01 1)", 1), ("*address*", 8)):
        assert ev(f"(count {src})") == str(n), src
    assert err("(count 1)") == "CAST"
    assert err("(count \\a)") == "CAST"
    assert ev("(empty nil)") == "nil"
    same("(empty [1 2 3])", "[]")
    same("(empty '(1))", "()")
    same("(empty {1 2})", "{}")
    same("(empty #{1 2})", "#{}")
    same("(empty (index 0x01 2))", "(index)")
    same("(empty 0x1234)", "0x")
    same("(empty \"abc\")", "\"\"")
    assert ev("(empty :foo)") == "nil"
    assert err("(empty 1)") == "CAST"
    assert err("(empty [1] [2])") == "ARITY"


def test_first_second_last():
    same("(first [1 2])", "1")
    same("(first '(1 2 3 4))", "1")
    same("(first {1 2})", "[1 2]")
    same("(first 0x11223344)", "17")
    same("(first \"abc\")", "\\a")
    same("(second 0x1234)", "52")
    same("(last [1 2])", "2")
    same("(last \"abc\")", "\\c")
    for bad in ("(first 0x)", "(first nil)", "(second nil)", "(second [1])", "(last nil)",
                "(last \"\")"):
        assert err(bad) == "BOUNDS", bad
    assert err("(second 1)") == "CAST"
    assert err("(first)") == "ARITY"
    assert err("(last [1] 2)") == "ARITY"


def test_nth():
    same("(nth [1 2] 1)", "2")
    same("(nth '(1 2) 0)", "1")
    same("(nth \"abc\" 2)", "\\c")
    same("(nth :abc 1)", "\\b")
    same("(nth 'abc 0)", "\\a")
    same("(nth 0x0010 1)", "16")
    same("(nth [1 nil] 1)", "nil")
    same("(nth \"é\" 0)", "\\é")
    same("(nth \"é\" 1)", "nil")            # inside a multi-byte character
    same("(nth {1 2} 0)", "[1 2]")
    same("(nth #1 7)", "1")
    assert err("(nth [] :foo)") == "CAST"
    assert err("(nth [] nil)") == "CAST"
    assert err("(nth 1 0)") == "CAST"
    for bad in ("(nth nil 0)", "(nth {} 10)", "(nth [1 2] -1)", "(nth \"abc\" 3)",
                "(nth \"abc\" -9223372036854775809)"):
        assert err(bad) == "BOUNDS", bad
    assert err("(nth)") == "ARITY"


def test_next():
    same("(next [1 2 3])", "[2 3]")
    same("(next '(1 2 3))", "'(2 3)")
    assert ev("(next [1])") == "nil"
    assert ev("(next nil)") == "nil"
    same("(next {1 2 3 4})", "[(second (vec {1 2 3 4}))]")
    assert err("(next 1)") == "CAST"
    assert err("(next :foo)") == "CAST"


def test_slice():
    same("(slice [1 2 3 4] 1 3)", "[2 3]")
    same("(slice '(1 2 3) 1)", "'(2 3)")
    same("(slice \"Hello World\" 6 11)", "\"World\"")
    same("(slice \"Hello World\" 4 4)", "\"\"")
    same("(slice 0x010203 1)", "0x0203")
    same("(slice {1 2} 0)", "{1 2}")
    same("(slice :abc 1)", ":bc")
    assert ev("(slice 'abc 1 1)") == "nil"
    for bad in ("(slice 0x 1)", "(slice {} 2 4)", "(slice [1 2] -1)", "(slice [1 2 3] 2 1)"):
        assert err(bad) == "BOUNDS", bad
    assert err("(slice 567 0)") == "CAST"
    assert err("(slice nil 0)") == "CAST"
    assert err("(slice [1] :a)") == "CAST"
    assert err("(slice [1])") == "ARITY"


# --- update --------------------------------------------------------------------------------------

def test_assoc():
    same("(assoc {} 1 2)", "{1 2}")
    same("(assoc nil 1 2)", "{1 2}")
    same("(assoc {1 2})", "{1 2}")
    same("(assoc [1 2 3] 0 :x 2 :y)", "[:x 2 :y]")
    same("(assoc '(1 2) 1 :x)", "'(1 :x)")
    same("(assoc #{} 1 true 2 false)", "#{1}")
    same("(assoc #{1 2} 2 false)", "#{1}")
    same("(assoc (index) 0x 2)", "(index 0x 2)")
    for bad in ("(assoc [1 2 3] :foo 7)", "(assoc [] 0 :x)", "(assoc [1 2] 2 :x)",
                "(assoc [1 2 3] nil :foo)", "(assoc (list) 2 :fail)", "(assoc (index) 2 :x)",
                "(assoc #{} 1 2)"):
        assert err(bad) == "ARGUMENT", bad
    for bad in ("(assoc 1 2 3)", "(assoc :foo 2 3)", "(assoc 0xabcdef 2 12)"):
        assert err(bad) == "CAST", bad
    for bad in ("(assoc nil 1)", "(assoc #{} 1 2 3)", "(assoc)"):
        assert err(bad) == "ARITY", bad


def test_assoc_in():
    same("(assoc-in :old [] 2)", "2")
    same("(assoc-in {3 4} [1 5] 6)", "{1 {5 6} 3 4}")
    same("(assoc-in nil [1] 2)", "{1 2}")
    same("(assoc-in [1 2 3] [1] 5)", "[1 5 3]")
    same("(assoc-in #{1} [2] true)", "#{1 2}")
    same("(assoc-in {:a [1 2]} [:a 0] :x)", "{:a [:x 2]}")
    assert err("(assoc-in #{3} [2] :fail)") == "ARGUMENT"
    assert err("(assoc-in #{3} [3 2] :fail)") == "CAST"
    assert err("(assoc-in {} :foo 42)") == "CAST"
    assert err("(assoc-in nil)") == "ARITY"


def test_conj():
    same("(conj [1 2] 3 4)", "[1 2 3 4]")
    same("(conj (list 1 2) 3)", "(list 3 1 2)")
    same("(conj '() 2 1)", "(list 1 2)")
    same("(conj nil 1)", "[1]")
    same("(conj #{} 3 2)", "#{2 3}")
    same("(conj {} [1 2])", "{1 2}")
    same("(conj (index) [0x01 2])", "(index 0x01 2)")
    same("(conj [1 2])", "[1 2]")
    assert err("(conj {} [1 2 3])") == "ARGUMENT"
    assert err("(conj {} '(1 2))") == "ARGUMENT"
    assert err("(conj (index) [1 2])") == "ARGUMENT"
    assert err("(conj :foo)") == "CAST"
    assert err("(conj \"a\" 2)") == "CAST"
    assert err("(conj)") == "ARITY"


def test_cons():
    same("(cons 3 1 [2])", "(list 3 1 2)")
    same("(cons 1 #{3})", "(list 1 3)")
    same("(cons 1 [])", "(list 1)")
    same("(cons 3 nil)", "(list 3)")
    same("(cons 1 '(2))", "(list 1 2)")
    assert err("(cons 1 2 3 4 5)") == "CAST"
    assert err("(cons [])") == "ARITY"


def test_into():
    assert ev("(into nil nil)") == "nil"
    same("(into nil [1])", "[1]")
    same("(into [1 2] [3])", "[1 2 3]")
    same("(into [1] '(2 3))", "[1 2 3]")
    same("(into '(1) [2 3])", "'(3 2 1)")
    same("(into #{} [1 2 1 2 3])", "#{1 2 3}")
    same("(into {} [[1 2] [3 4] [1 2]])", "{1 2 3 4}")
    same("(into [] {1 2})", "[[1 2]]")
    assert err("(into 0 [])") == "CAST"
    assert err("(into [] 1)") == "CAST"
    assert err("(into nil 1)") == "CAST"
    assert err("(into [] \"abc\")") == "CAST"
    assert err("(into {} [[:foo]])") == "ARGUMENT"
    assert err("(into {1 2} [[] []])") == "ARGUMENT"
    assert err("(into)") == "ARITY"


# --- higher order --------------------------------------------------------------------------------

def test_apply():
    assert ev("(apply + 1 2 [3 4])") == "10"
    assert ev("(apply + 1 2 nil)") == "3"
    assert ev("(apply + [1 2 3])") == "6"
    same("(apply vector ())", "[]")
    same("(apply list [])", "()")
    same("(apply concat {} {})", "[]")
    assert ev("(apply {1 2} [1])") == "2"
    assert ev("(apply :a [{:a 5}])") == "5"
    assert ev("(apply [7 8] [1])") == "8"
    assert ev("(apply #{3} [3])") == "true"
    assert err("(apply :n 1 2 [3 4])") == "ARITY"
    assert err("(apply inc 1)") == "CAST"
    assert err("(apply 1 [])") == "CAST"
    assert err("(apply vector)") == "ARITY"


def test_map():
    same("(map inc [1 2])", "[2 3]")
    same("(map + [1 2] [3 4 5])", "[4 6]")
    same("(map inc '(1 2 3))", "'(2 3 4)")
    same("(map inc [1 2] nil)", "[]")
    same("(map inc {:a 1 :b 3} nil)", "{}")
    assert ev("(map inc nil)") == "nil"
    same("(map (fn [[a b]] [b a]) {1 2 3 4})", "{2 1 4 3}")
    same("(map (fn [a b] b) #{1 2 3} [4 5 6])", "#{4 5 6}")
    same("(map :a [{:a 1} {:a 2}])", "[1 2]")
    assert err("(map 1 [1])") == "CAST"
    assert err("(map inc 1)") == "CAST"
    assert err("(map inc [1] 0x1234)") == "CAST"
    assert err("(map (fn [_ _] :foo) {1 2} [1 2 3 4])") == "ARGUMENT"
    assert err("(map (fn [_] :foo) {1 2} [1 2 3 4])") == "ARITY"
    assert err("(map inc)") == "ARITY"


def test_reduce():
    assert ev("(reduce * 1 [1 2 3 4])") == "24"
    assert ev("(reduce + 2 [])") == "2"
    assert ev("(reduce + 2 nil)") == "2"
    assert ev("(reduce * nil)") == "1"
    assert ev("(reduce + [5])") == "5"
    assert ev("(reduce (fn [] :foo) [])") == ":foo"
    same("(reduce conj '() '(1 2 3))", "(list 3 2 1)")
    same("(reduce (fn [a [k v]] (+ a v)) 0 {:a 1 :b 2})", "3")
    same("(reduce (fn [i v] (if (== v 3) (reduced [i v]) v)) 1 [1 2 3 4 5])", "[2 3]")
    same("(reduce (fn [] (reduced :foo)) [])", ":foo")
    assert ev("(reduce address 2 [])") == "2"
    assert err("(reduce address 2 [:foo :bar])") == "ARITY"
    assert err("(reduce + 2 :foo)") == "CAST"
    assert err("(reduce 1 [1 2])") == "CAST"
    assert err("(reduce +)") == "ARITY"
    assert err("(reduced 1)") == "EXCEPTION"
    assert err("(reduced)") == "ARITY"


# --- juice ---------------------------------------------------------------------------------------

def _juice(name: str, args: list) -> int:
    ctx = fresh_ctx()
    CORE[name].invoke(ctx, args, 1)
    return ctx.juice


def test_juice_costs():
    assert _juice("vector", [1, 2, 3]) == J.BUILD_DATA + 3 * J.BUILD_PER_ELEMENT
    assert _juice("list", [1]) == J.BUILD_DATA + J.BUILD_PER_ELEMENT
    assert _juice("count", [Vector.of(1)]) == J.SIMPLE_FN
    assert _juice("get", [Vector.of(1), 0]) == J.GET
    v = Vector.of(1, 2, 3, 4)
    assert _juice("slice", [v, 1, 3]) == J.BUILD_DATA + 2 * J.BUILD_PER_ELEMENT
    from kernel.data.blobs import Blob
    assert _juice("slice", [Blob(b"abcd"), 1, 3]) == J.BUILD_DATA + 2 * J.BUILD_PER_BYTE
    assert _juice("concat", [v, None, v]) == J.CONSTANT + 2 * (J.BUILD_DATA + 4 * J.BUILD_PER_ELEMENT)
    assert _juice("assoc-in", [None, Vector.of(1, 2), 3]) == (J.GET + J.ASSOC) * 3


def test_juice_precheck_fails_early():
    ctx = fresh_ctx(limit=100)
    with pytest.raises(ErrorValue) as e:
        CORE["vector"].invoke(ctx, list(range(10)), 1)
    assert e.value.code.name == "JUICE"
