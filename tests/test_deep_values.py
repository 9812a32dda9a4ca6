"""No RecursionError anywhere: values nested to any depth are encoded, decoded, hashed,
measured, compared, printed and turned into JSON without Python recursion limits, and code
nested too deeply is refused with a CVM :DEPTH error, never a Python failure.

Walks over values run under Python's default recursion limit (1000): they do not depend on a
raised limit. CVM code runs with the limit kernel.cvm.context sets for it (the interpreter recurses
a few Python frames per level of CVM depth, up to MAX_DEPTH)."""
from __future__ import annotations

import sys

import pytest

from kernel import (DecodeError, List, Map, String, Syntax, Vector, decode, decode_multi, encode,
                    encode_multi, equals, memory_size, value_id)

DEPTH = 50_000


@pytest.fixture(autouse=True)
def default_recursion_limit():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def nested(kind: str, depth: int = DEPTH):
    v = Vector.EMPTY
    for i in range(depth):
        if kind == "vector":
            v = Vector.of(v)
        elif kind == "list":
            v = List.of(v, i)
        elif kind == "map":
            v = Map.from_pairs([(i, v)])
        elif kind == "key":                 # nested in map keys
            v = Map.from_pairs([(v, i)])
        elif kind == "syntax":              # syntax objects around vectors around ...
            v = Syntax(Vector.of(v), Map.from_pairs([(i, True)]))
        elif kind == "long":                # wide vectors, nested
            v = Vector.from_seq([v] + list(range(40)))
    return v


KINDS = ["vector", "list", "map", "key", "syntax", "long"]


@pytest.mark.parametrize("kind", KINDS)
def test_deep_values_encode_hash_and_measure(kind):
    v = nested(kind)
    enc = encode(v)
    assert len(enc) < 200                   # the top cell: deeper levels are branch refs
    vid = value_id(v)
    assert len(vid) == 32
    assert memory_size(v) > DEPTH
    again = nested(kind)                    # a fresh copy hashes the same
    assert value_id(again) == vid
    assert memory_size(again) == memory_size(v)


@pytest.mark.parametrize("kind", KINDS)
def test_deep_values_round_trip_through_messages(kind):
    v = nested(kind)
    w = decode_multi(encode_multi(v))
    assert value_id(w) == value_id(v)
    assert equals(w, v)
    assert decode(encode(v)) == v          # one cell: the rest are branch refs


@pytest.mark.parametrize("kind", KINDS)
def test_deep_values_compare(kind):
    a, b = nested(kind), nested(kind)      # equal, but sharing no cells
    assert equals(a, b) and a == b and not a != b
    assert hash(a) == hash(b)
    c = nested(kind, DEPTH - 1)
    assert not equals(a, c) and a != c
    assert {a: 1}[b] == 1


def test_deep_vectors_differing_deep_inside_are_unequal():
    a = b = Vector.of(1)
    b = Vector.of(2)
    for _ in range(DEPTH):
        a, b = Vector.of(a, 0), Vector.of(b, 0)
    assert not equals(a, b) and a != b
    assert value_id(a) != value_id(b)


@pytest.mark.parametrize("kind", KINDS)
def test_deep_values_print(kind):
    from lisp import print_value, read

    v = nested(kind, 5_000)
    text = print_value(v)
    assert len(text) > 10_000
    assert equals(read(text), v)


def test_deep_values_to_json():
    import json

    from convex_repl.peer.jsonval import to_json

    for kind in KINDS:
        assert json.dumps(to_json(nested(kind)))


def test_shallow_recursion_stays_small():
    """The walks recurse at most NEST_LIMIT levels before switching to an explicit stack."""
    from kernel.data.cell import NEST_LIMIT

    assert 4 <= NEST_LIMIT <= 64


def test_deeply_nested_embedded_cell_is_a_decode_error():
    data = b"\x80\x01" * 100_000 + b"\x80\x00"      # [[[...]]] all in one cell
    with pytest.raises(DecodeError, match="nested more than"):
        decode(data)
    with pytest.raises(DecodeError):
        decode_multi(data)
    with pytest.raises(DecodeError):
        decode(b"\x88" * 100_000 + b"\x00" * 100_001)  # syntax in syntax in ...


def test_deep_strings_in_deep_vectors():
    v = String.of("x" * 300)
    for _ in range(DEPTH):
        v = Vector.of(v, String.of("y" * 200))
    assert decode_multi(encode_multi(v)) == v


# --- values built by CVM code ------------------------------------------------------------------

@pytest.fixture
def cvm():
    from convex_repl.api import Session
    from kernel.cvm.context import PYTHON_RECURSION_LIMIT

    sys.setrecursionlimit(PYTHON_RECURSION_LIMIT)     # default_recursion_limit restores it
    return Session(juice_limit=10**10)


def loop(body: str, depth: int = DEPTH, init: str = "[]", step: str = "[v]") -> str:
    return f"(loop [v {init} i 0] (if (< i {depth}) (recur {step} (inc i)) {body}))"


@pytest.mark.parametrize("body, expect", [
    ("(count (str v))", 2 * DEPTH + 2),
    ("(count (encoding v))", None),
    ("(hash (encoding v))", None),
    ("(count (str (into [] [v])))", 2 * DEPTH + 4),
    ("(count (str (assoc {} v v)))", None),
    ("(= #{v} #{v})", True),
    ("(do (def deep v) (= deep v))", True),
])
def test_deep_values_built_in_the_cvm(body, expect, cvm):
    r = cvm.eval(loop(body))
    assert r.error is None, r.message
    if expect is not None:
        assert r.value == expect


@pytest.mark.parametrize("init, step", [
    ("[]", "[v]"), ("()", "(list v)"), ("{}", "{i v}"), ("[]", "(syntax [v] {:i i})")])
def test_deep_cvm_values_compare(init, step, cvm):
    src = (f"(loop [v {init} w {init} i 0] (if (< i {DEPTH}) "
           f"(recur {step} (let [v w] {step}) (inc i)) [(= v w) (= v [w]) (count (str v))]))")
    r = cvm.eval(src)
    assert r.error is None, r.message
    assert r.value[0] is True and r.value[1] is False


def test_deep_value_in_a_signed_transaction(cvm):
    r = cvm.transact(loop("(count (str (hash (encoding v))))", 15_000))
    assert r.error is None, r.message


def assert_depth_error(r):
    assert r.error == "DEPTH", (r.error, r.message)
    assert r.message and "Python" not in r.message


def test_deeply_nested_source_is_a_depth_error_not_fatal(cvm):
    """What the REPL gets for 20,000 nested lists typed in, in both modes."""
    src = "(" * 20_000 + ")" * 20_000
    s = cvm
    assert_depth_error(s.eval(src))
    assert_depth_error(s.transact(src))
    assert_depth_error(s.transact("[" * 20_000 + "]" * 20_000))


@pytest.mark.parametrize("src", [
    "(eval '" * 300 + "1" + ")" * 300,                       # the most Python frames per level
    "(defmacro m [n] (if (> n 0) (list 'inc (list 'm (dec n))) 0)) (m 300)",
    "(if true " * 300 + "1" + " 2)" * 300,
    "(defn f [n] (if (> n 0) (inc (apply f [(dec n)])) 0)) (f 300)",
])
def test_cvm_depth_limit_comes_before_python_limits(src, cvm):
    r = cvm.eval(src)
    assert_depth_error(r)
    assert r.message.startswith("Invalid depth")


@pytest.mark.parametrize("body", [
    "(eval v)", "(expand v)", "(compile v)", "(eval (list 'quasiquote v))",
    "(eval (list 'let [v 1] 2))"])
def test_deep_data_as_code_is_a_depth_error(body, cvm):
    assert_depth_error(cvm.eval(loop(body)))


def test_deep_quoted_data_evaluates(cvm):
    r = cvm.eval(loop("(count (str (eval (list 'quote v))))"))
    assert r.error is None and r.value == 2 * DEPTH + 2


def test_deep_quasiquote_template_is_a_depth_error(cvm):
    s = cvm
    assert_depth_error(s.eval("`" + "[" * 5_000 + "]" * 5_000))
    assert s.eval("`" + "[" * 100 + "~(+ 1 2)" + "]" * 100).error is None


def test_binding_forms_nest_at_most_max_binding_depth(cvm):
    from kernel.cvm.binding import MAX_BINDING_DEPTH

    def nest(n, x):
        return "[" * n + x + "]" * n

    s = cvm
    ok = s.eval(f"(let [{nest(MAX_BINDING_DEPTH, 'a')} (quote {nest(MAX_BINDING_DEPTH, '7')})] a)")
    assert ok.error is None and ok.value == 7
    deep = nest(MAX_BINDING_DEPTH + 1, "a")
    for src in (f"(let [{deep} 1] a)", f"(fn [{deep}] a)", f"(loop [{deep} 1] a)"):
        r = s.eval(src)
        assert r.error == "DEPTH" and "Binding form nested" in r.message, (src, r.message)


def test_decoded_code_with_a_deep_binding_form_stays_data():
    from kernel import CodedValue
    from kernel.cvm.ops import Constant, Op

    binding = Vector.EMPTY
    for _ in range(DEPTH):
        binding = Vector.of(binding)
    let = CodedValue(0xC2, Vector.of(binding), Vector.of(Constant(1)))
    v = decode_multi(encode_multi(let))
    assert not isinstance(v, Op)            # not executable code, but decoded all the same
    assert value_id(v) == value_id(let)


# --- reader, REPL and REST ---------------------------------------------------------------------

def test_deep_metadata_reads():
    from lisp import read

    v = read("^" + "[" * DEPTH + "]" * DEPTH + " x")
    assert type(v) is Syntax and len(encode_multi(v)) > DEPTH


def test_repl_pretty_printer_handles_deep_values():
    from convex_repl.repl.render import pformat
    from lisp import print_value

    v = nested("vector", 20_000)
    assert pformat(v).replace("\n", "").replace(" ", "") == print_value(v).replace(" ", "")


def test_rest_data_encode_and_decode_deep_values():
    from convex_repl.peer.rest import Api, BadRequest
    from lisp import print_value

    api = Api(None, max_source=10**6)
    depth = 40_000
    text = "[" * depth + "]" * depth
    status, body = api.data_encode({"data": text})
    assert status == 200
    v = nested("vector", depth - 1)
    assert body["hash"] == value_id(v).hex() and body["cad3"] == encode(v).hex()
    status, body = api.data_decode({"cad3": encode_multi(v).hex()})
    assert status == 200 and body["cvx"] == print_value(v)
    with pytest.raises(BadRequest) as e:        # a 4xx, not a 500
        api.data_decode({"cad3": (b"\x80\x01" * depth + b"\x80\x00").hex()})
    assert e.value.status == 400
