"""Destructuring pays for what it copies (issue 11, "no juice bypass").

A `& rest` binding of a value (let, loop, recur, fn parameters, interpreted or compiled by the
JIT) copies the rest of the value into a new vector: past the first chunk it pays
J.copy_cost per element, before copying. Binding without `&` checks the count before taking
any element, so a mismatch costs nothing whatever the size. The arguments of a call gathered
by `& args` are free: there are only as many as the call paid to pass (apply pays to spread a
collection). A whole vector, or a leading part of one, is shared, not copied, and is free.

`next` of a list shares the list's nodes (a list is its elements reversed, so the rest is a
leading part of that vector): it costs SIMPLE_FN whatever the length.
"""
from __future__ import annotations

import time

import pytest

from kernel import List, Map, Symbol, Vector
from kernel.cvm import jit
from kernel.cvm import juice as J
from kernel.cvm.registry import CORE
from kernel.data.hashmaps import Set

from cvm import fresh_ctx, session

BIG = 100_000


def define(s, name: str, value) -> None:
    r = s.eval_forms([List.of(Symbol("def"), Symbol(name), List.of(Symbol("quote"), value))])
    assert r.error is None, r.message


def big_session():
    s = session()
    define(s, "big", Vector.from_seq(range(BIG)))
    define(s, "bigl", List.from_seq(range(BIG)))
    define(s, "bigm", Map.from_pairs((i, i) for i in range(20_000)))
    define(s, "bigs", Set.from_seq(range(20_000)))
    define(s, "small", Vector.of(1, 2))
    return s


@pytest.fixture(scope="module")
def big():
    return big_session()


def timed(s, src: str, limit: "int | None" = None):
    s = s.fork()
    if limit is not None:
        s.juice_limit = limit
    t = time.thread_time()              # CPU time: what the work costs, whatever the load
    r = s.eval(src)
    return r, time.thread_time() - t


def juice(s, src: str, limit: int = 100_000_000) -> int:
    r, _ = timed(s, src, limit)
    assert r.error is None, (src, r.error, r.message)
    return r.juice


# --- the acceptance case --------------------------------------------------------------------

def test_destructuring_the_rest_of_a_big_vector_pays_per_element(big):
    base = juice(big, "(let [[a & r] small] 1)")
    assert juice(big, "(let [[a & r] big] 1)") == base + J.copy_cost(BIG - 1)


@pytest.mark.parametrize("threshold", [None, 0])
@pytest.mark.parametrize("body", [
    "(let [[a & r] big] 1)",
    "(let [[a & r] bigl] 1)",
    "(let [[a & r] bigm] 1)",
    "(let [[a & r] bigs] 1)",
    "((fn [[a & r]] 1) big)",
    "(f big)",
    "(loop [[a & r] big j 0] (if (< j 2) (recur big (inc j)) 1))",
])
def test_a_thousand_rest_bindings_of_a_big_value_run_out_of_juice_at_once(big, body, threshold):
    """1000 of these took 9 s for 221k juice (`(let [[a & r] big] 1)`) before they paid."""
    src = ("(let [f (fn [[a & r]] 1)] "
           f"(loop [i 0] (if (< i 1000) (do {body} (recur (inc i))) i)))")
    with jit.threshold(threshold):
        r, dt = timed(big, src)
    assert r.error == "JUICE" and dt < 1.0, (r.error, dt)


@pytest.mark.parametrize("threshold", [None, 0])
def test_the_charge_is_the_same_interpreted_and_compiled(big, threshold):
    src = "(let [f (fn [[a & r]] (count r))] (+ (f big) (f bigl) (f bigm)))"
    with jit.threshold(threshold):
        j = juice(big, src)
    with jit.threshold(threshold):
        j_small = juice(big, "(let [f (fn [[a & r]] (count r))] (+ (f small) (f small) (f small)))")
    assert j == j_small + J.copy_cost(BIG - 1) * 2 + J.copy_cost(20_000 - 1)


def test_a_count_mismatch_is_found_before_taking_elements(big):
    """[a b] against a map of 20k entries made all 20k entries before failing with :ARITY."""
    src = ("(loop [i 0] (if (< i 1000) "
           "(do (try (let [[a b] bigm] 1) nil) (try (let [[a b c] bigs] 1) nil) "
           "(recur (inc i))) i))")
    r, dt = timed(big, src)
    assert r.error is None and r.value == 1000 and dt < 1.0, (r.error, dt)


# --- what stays free ------------------------------------------------------------------------

def test_a_whole_vector_or_its_leading_part_is_shared_not_copied(big):
    base = juice(big, "(let [[& r] small] 1)")
    assert juice(big, "(let [[& r] big] 1)") == base
    assert juice(big, "(let [[& r x] big] 1)") == juice(big, "(let [[& r x] small] 1)")
    r, _ = timed(big, "(let [[& r x y] big] [(count r) (= r (slice big 0 99998)) x y])")
    assert r.printed == "[99998 true 99998 99999]"
    r, dt = timed(big, "(loop [i 0] (if (< i 1000) (do (let [[& r x] big] r) (recur (inc i))) i))")
    assert r.error is None and dt < 1.0


@pytest.mark.parametrize("threshold", [None, 0])
def test_variadic_arguments_are_not_charged_again(threshold):
    s = session()
    args = " ".join(map(str, range(40)))
    with jit.threshold(threshold):
        j40 = juice(s, f"((fn [a & r] 1) {args})")
        j2 = juice(s, "((fn [a & r] 1) 0 1)")
    # the 38 more arguments cost their expansion, compilation and constant ops, and nothing
    # for gathering them into r
    assert j40 - j2 == 38 * (J.EXPAND_CONSTANT + J.COMPILE_CONSTANT + J.CONSTANT)


S17 = " ".join(map(str, range(17)))
S40 = " ".join(map(str, range(40)))


@pytest.mark.parametrize("threshold", [None, 0])
@pytest.mark.parametrize("src,j", [     # juice measured before destructuring paid for copies
    (f"(let [[a & r] [{S17}]] r)", 4095),
    (f"(let [[& r x] [{S17}]] r)", 4095),
    (f"(let [[a b & r] '({S17})] r)", 990),
    ("(let [[a & r] {1 2 3 4}] r)", 2000),
    ("(let [[a & r] #{1 2 3}] r)", 1835),
    ("(let [[a b] [1 2]] a)", 1580),
    (f"((fn [a & r] r) {S40})", 4065),
    (f"(loop [[a & r] [{S17}] n 0] (if (< n 3) (recur r (inc n)) n))", 7840),
    (f"(let [f (fn [[a & r]] r)] (f [{S17}]) (f [{S17}]) (f '({S17})))", 10175),
    # 39 elements copied: copy_cost(39) = 1150 more than the 7890 and 3650 of before
    (f"(let [[a & r] [{S40}]] r)", 7890 + J.copy_cost(39)),
    (f"(let [[a & r] (into [] '({S40}))] r)", 3650 + J.copy_cost(39)),
    # next of a list of 40 shares it: copy_cost(39) less than the 1640 and 9440 of before
    (f"(next '({S40}))", 1640 - J.copy_cost(39)),
    (f"(next (into '() [{S40}]))", 9440 - J.copy_cost(39)),
])
def test_juice_unchanged_up_to_a_chunk_and_changed_by_the_copy_past_it(src, j, threshold):
    with jit.threshold(threshold):
        r = session().eval(src)
    assert r.error is None and r.juice == j


@pytest.mark.parametrize("src,text", [
    ("(let [[a & r] [1 2 3]] [a r])", "[1 [2 3]]"),
    ("(let [[a & r] '(1 2 3)] [a r])", "[1 [2 3]]"),
    ("(let [[a & r b] '(1 2 3 4)] [a r b])", "[1 [2 3] 4]"),
    ("(let [[a & r] {1 2 3 4}] [a r])", "[[3 4] [[1 2]]]"),
    ("(let [[a b] {1 2 3 4}] [a b])", "[[3 4] [1 2]]"),
    ("(let [[a & r] #{7}] [a r])", "[7 []]"),
    ("(let [[& r] nil] r)", "[]"),
    ("(let [[& r] '(1 2)] r)", "[1 2]"),
    ("(let [[a & [b & c]] [1 2 3 4]] [a b c])", "[1 2 [3 4]]"),
    ("(let [[[a & r] _ x] [[1 2 3] 0 9]] [a r x])", "[1 [2 3] 9]"),
    (f"(let [[_ & r] [{S40}]] [(count r) (first r) (last r)])", "[39 1 39]"),
    (f"(let [[& r x] [{S40}]] [(count r) (last r) x])", "[39 38 39]"),
    (f"(let [[a & r] (into '() [{S40}])] [a (count r) (first r)])", "[39 39 38]"),
    ("((fn [a & r] [a r]) 1 2 3)", "[1 [2 3]]"),
    ("((fn [& r] r))", "[]"),
    ("(loop [[a & r] [1 2 3] acc 0] (if (empty? r) (+ acc a) (recur r (+ acc a))))", "6"),
])
def test_results_unchanged(src, text):
    for t in (None, 0):
        with jit.threshold(t):
            r = session().eval(src)
        assert r.error is None and r.printed == text, (src, t, r.error, r.message, r.printed)


@pytest.mark.parametrize("src,code", [
    ("(let [[a] 1] a)", "CAST"), ("(let [[a & r] :k] a)", "CAST"),
    ("(let [[a b] [1]] a)", "ARITY"), ("(let [[a b & r] [1]] a)", "ARITY"),
    ("(let [[a & r b c] [1 2]] a)", "ARITY"),
])
def test_errors_unchanged(src, code):
    assert session().eval(src).error == code


# --- next of a list -------------------------------------------------------------------------

def test_next_of_a_big_list_shares_its_nodes():
    big_list = List.from_seq(range(BIG))
    ctx = fresh_ctx(1_000)
    rest = CORE["next"].invoke(ctx, [big_list], 1)
    assert ctx.juice == J.SIMPLE_FN
    assert rest == List.from_seq(range(1, BIG))
    assert rest.encoding() == List.from_seq(range(1, BIG)).encoding()
    s = big_session()
    r, dt = timed(s, "(loop [l bigl i 0] (if (< i 1000) (recur (next l) (inc i)) [(count l) (first l)]))")
    assert r.error is None and r.printed == "[99000 1000]" and dt < 1.0, (r.error, dt)


@pytest.mark.parametrize("n", [1, 2, 15, 16, 17, 31, 32, 33, 255, 256, 257, 272, 273, 4096, 4097,
                               4112, 4113, 65536, 65537, 65552])
def test_leading_slices_share_nodes_and_are_canonical(n):
    v = Vector.from_seq(range(n))
    grown = Vector.EMPTY
    for i in range(min(n, 5000)):
        grown = grown.conj(i)
    for k in {0, 1, n // 2, n - 17, n - 16, n - 15, n - 1, n, (n // 16) * 16}:
        if 0 <= k <= n:
            want = Vector.from_seq(range(k))
            got = v.slice(0, k)
            assert got.value_id() == want.value_id() and list(got) == list(range(k)), (n, k)
            if k <= grown.count:
                assert grown.slice(0, k).value_id() == want.value_id(), (n, k)
    lst = List.from_seq(range(n))
    assert lst.slice(1).value_id() == List.from_seq(range(1, n)).value_id()
