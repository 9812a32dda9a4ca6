"""Showing a result to the user makes only as much text as is shown (issue 11, "no juice
bypass": host-side printing).

A value that shares its parts prints to text exponentially longer than itself: the acceptance
case is a vector nesting itself 40 times (2**40 leaves, 41 distinct cells), which any
transaction can return for 17,715 juice. `Result.printed` (Session, CLI, remote results) is
cut at api.PRINT_LIMIT characters with a note; the REPL makes SHOWN_CHARS characters of it
(MORE_CHARS with :more); the workspace journals a REPL variable that prints too long as its
encoding; :env, :compile, documentation and account facts name values in brief.
"""
from __future__ import annotations

import io
import json
import time

import pytest

from convex_repl import api
from convex_repl.api import PRINT_LIMIT, print_result, too_large
from convex_repl.repl.render import (MORE_CHARS, SHOWN_CHARS, Printer, pformat, pformat_cut,
                                     too_large_note)
from kernel import Keyword, List, Map, Vector
from lisp import print_value, read
from kernel.data.printer import print_head

from cvm import session

HUGE = "(loop [v [1] i 0] (if (< i 40) (recur [v v] (inc i)) v))"


def doubled(n: int) -> Vector:
    v = Vector.of(1)
    for _ in range(n):
        v = Vector.of(v, v)
    return v


def timed(f):
    t = time.perf_counter()
    r = f()
    return r, time.perf_counter() - t


# --- Result.printed -------------------------------------------------------------------------

def test_printed_result_of_a_huge_shared_value_is_cut_quickly():
    s = session()
    r = s.eval(HUGE)
    assert r.error is None
    text, dt = timed(lambda: r.printed)
    assert dt < 1.0
    assert text.endswith(too_large(PRINT_LIMIT))
    assert len(text) == PRINT_LIMIT + len(too_large(PRINT_LIMIT))
    assert text.startswith("[" * 41 + "1] [1]] [[1] [1]]]")
    assert "value too large to print" in text and "(count ...)" in text


def test_printed_of_a_transaction_result_is_cut_quickly():
    s = session()
    r, dt = timed(lambda: s.transact(HUGE).printed)
    assert dt < 1.0 and r.endswith(too_large(PRINT_LIMIT))


@pytest.mark.parametrize("src", ["(+ 1 2)", "[1 \"a\" {:b #{2}} (quote (x y))]", "nil",
                                 "(vec (map inc [1 2 3]))", "(str \"x\" 0x01)", HUGE.replace("40", "8")])
def test_printed_of_ordinary_values_is_the_full_text(src):
    r = session().eval(src)
    assert r.printed == print_value(r.value)


def test_print_result_at_the_limit():
    v = Vector.from_seq(range(10))       # "[0 1 2 3 4 5 6 7 8 9]": 21 characters
    assert print_result(v, 21) == "[0 1 2 3 4 5 6 7 8 9]"
    assert print_result(v, 20) == "[0 1 2 3 4 5 6 7 8 9" + too_large(20)
    assert print_head(v, 21) == ("[0 1 2 3 4 5 6 7 8 9]", False)
    assert print_head(v, 5) == ("[0 1 ", True)


def test_remote_results_print_in_brief_too():
    from convex_repl.client.remote import _print
    text, dt = timed(lambda: _print(doubled(40)))
    assert dt < 1.0 and text.endswith(too_large(PRINT_LIMIT))


def test_documentation_and_account_facts_name_values_in_brief():
    huge = doubled(40)
    d = Map.from_pairs([(Keyword("description"), huge), (Keyword("signature"), Vector.of(huge)),
                        (Keyword("errors"), Map.from_pairs([(Keyword("CAST"), huge)])),
                        (Keyword("examples"), Vector.of(Map.from_pairs(
                            [(Keyword("code"), huge), (Keyword("result"), huge)])))])
    out, dt = timed(lambda: api._doc_to_python(d))
    assert dt < 1.0 and len(json.dumps(out)) < 100_000


# --- the REPL -------------------------------------------------------------------------------

def make_repl(tmp_path=None, width=100):
    from rich.console import Console

    from convex_repl.repl import Repl
    from convex_repl.repl.workspace import Workspace
    buf = io.StringIO()
    printer = Printer(Console(file=buf, width=width, color_system=None, highlight=False))
    return Repl(Workspace(tmp_path), printer), buf


def out_of(buf):
    text = buf.getvalue()
    buf.seek(0)
    buf.truncate()
    return text


def test_pformat_of_a_huge_shared_value_makes_only_what_is_shown():
    v = doubled(40)
    (text, more), dt = timed(lambda: pformat_cut(v, 98, limit=SHOWN_CHARS))
    assert more and len(text) <= SHOWN_CHARS + 200 and dt < 0.5
    assert text.startswith("[[[[")
    (text, more), dt = timed(lambda: pformat_cut(v, 98, limit=MORE_CHARS))
    assert more and len(text) <= MORE_CHARS + 200 and dt < 1.0
    assert pformat(v, 98, limit=1000).endswith(" ...")


def test_pformat_of_values_that_fit_is_unchanged():
    for src in ["{:a [1 2 3] :b \"" + "x" * 60 + "\" :c {:d [4 5 6] :e 7}}",
                "[" + " ".join(f"[{i} {i} {i} {i} {i} {i} {i} {i}]" for i in range(40)) + "]",
                "'(" + " ".join(f"{{:k{i} [{i} {i}]}}" for i in range(30)) + ")",
                "#{" + " ".join(f"\"{'y' * 30}{i}\"" for i in range(10)) + "}"]:
        v = read(src)
        for width in (20, 40, 100):
            text, more = pformat_cut(v, width)
            assert not more and read(text) == v
    m = read("{:a [1 2 3] :b \"" + "x" * 60 + "\" :c {:d [4 5 6] :e 7}}")
    assert pformat(m, 40) == ('{:c {:d [4 5 6],:e 7},\n :a [1 2 3],\n :b "' + "x" * 60 + '"}')


@pytest.mark.parametrize("mode", ["transact", "eval", "query"])
def test_repl_shows_a_huge_result_at_once(mode):
    repl, buf = make_repl()
    repl.handle(f":mode {mode}")
    out_of(buf)
    _, dt = timed(lambda: repl.handle(HUGE))
    o = out_of(buf)
    assert dt < 1.0
    assert o.startswith("[[[[") and "value too large to print" in o and "juice" in o
    assert ":more shows up to" in o
    assert len(o) < SHOWN_CHARS + 2000
    _, dt = timed(lambda: repl.handle(":more"))
    o = out_of(buf)
    assert dt < 2.0 and "value too large to print" in o and len(o) < MORE_CHARS + 50_000


def test_repl_variables_holding_a_huge_value_are_journaled_as_encodings(tmp_path):
    from convex_repl.repl.workspace import Workspace
    repl, buf = make_repl(tmp_path)
    repl.handle(":mode eval")
    repl.handle(HUGE)
    out_of(buf)
    _, dt = timed(lambda: repl.handle("(count *1)"))
    assert dt < 1.0 and out_of(buf).startswith("2\n")
    _, dt = timed(lambda: repl.handle("(def x *2)"))
    assert dt < 1.0
    out_of(buf)
    _, dt = timed(lambda: repl.handle(":env"))
    o = out_of(buf)
    assert dt < 1.0 and "  x   " in o and len(o) < 200
    _, dt = timed(lambda: repl.handle(":compile (count (quote *3))"))
    assert dt < 1.0 and len(out_of(buf)) < 2000
    doc = json.loads((tmp_path / "session.json").read_text())
    entry = next(e for e in doc["entries"] if e["source"] == "(def x *2)")
    assert set(entry["bindings"]["*2"]) == {"cad3"}
    (tmp_path / "session.cad3").unlink()          # replay the journal
    ws = Workspace(tmp_path)
    assert not ws.warnings
    r = ws.query("[(count x) (= x (first [x]))]")
    assert r.printed == "[2 true]"
    assert ws.query("(= x (nth (nth x 0) 0))").printed == "false"


def test_repl_variables_of_ordinary_size_are_journaled_as_text(tmp_path):
    repl, buf = make_repl(tmp_path)
    repl.handle(":mode eval")
    repl.handle("[1 2 {:a \"b\"}]")
    repl.handle("(def y *1)")
    doc = json.loads((tmp_path / "session.json").read_text())
    entry = next(e for e in doc["entries"] if e["source"] == "(def y *1)")
    assert entry["bindings"] == {"*1": '[1 2 {:a "b"}]'}


def test_repl_note_names_the_limits():
    assert "80,000" in too_large_note(SHOWN_CHARS, False)
    assert ":more" not in too_large_note(MORE_CHARS, True)
