"""Source positions (issue 14, item 8): the real `convex` command, in subprocesses, names
file:line:col of failing forms, failing calls, failing `is` assertions and unclosed brackets."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lisp import IncompleteInput, ReaderError, read_all, read_positioned

CONVEX = [sys.executable, "-m", "convex_repl"]
ROOT = Path(__file__).resolve().parent.parent

PROGRAM = """(def a 1)
(def b 2)

(defn f [x]
  (+ x :k))
  (f 3)
(def c 3)
"""


def convex(tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ, CONVEX_HOME=str(tmp / "home"), NO_COLOR="1",
               PYTHONPATH=str(ROOT))
    return subprocess.run(CONVEX + list(args), input=stdin, capture_output=True, text=True,
                          cwd=tmp, env=env, timeout=120)


def write(tmp: Path, name: str, text: str) -> str:
    (tmp / name).write_text(text)
    return name


# --- the reader --------------------------------------------------------------------------

@pytest.mark.parametrize("src, line, col, opener", [
    ("(a\n  [b {:c\n", 2, 6, "{"),
    ("(def a 1)\n(defn f [x]\n  (let [y 1]\n    (+ x y))\n", 2, 1, "("),
    ("[1 2\n 3\n  #{4", 3, 3, "#{"),
    ("(a 'b\n  '", 1, 1, "("),
])
def test_unclosed_bracket_is_reported_where_it_opens(src, line, col, opener):
    with pytest.raises(IncompleteInput) as info:
        read_all(src)
    assert (info.value.line, info.value.column) == (line, col)
    assert info.value.message == f"unclosed {opener!r}"


def test_mismatched_closer_names_the_open_bracket():
    with pytest.raises(ReaderError) as info:
        read_all("(let [y 1)")
    e = info.value
    assert (e.line, e.column) == (1, 10)
    assert "the '[' at line 1, column 6 is still open" in e.message


def test_read_positioned_gives_the_same_values_and_positions():
    text = "(def a 1)\n  [x y]\n 'q  ^:m (f) foo/bar #_ 9 @x.y\n(defn f [x]\n  (+ x 1))"
    forms, pos = read_positioned(text)
    assert forms == read_all(text)
    assert pos.tops == [(1, 1), (2, 3), (3, 2), (3, 6), (3, 14), (3, 27), (4, 1)]
    assert [(ln, c) for ln, c, _ in pos.within(forms[-1])] == [(4, 1), (5, 3)]
    assert pos.of(forms[0]) == (1, 1) and pos.of(forms[1]) is None   # a vector: not a call


# --- convex run --------------------------------------------------------------------------

def test_run_names_the_failing_form_and_call(tmp_path):
    name = write(tmp_path, "prog.cvx", PROGRAM)
    p = convex(tmp_path, "run", "--fresh", "--no-save", name)
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert lines[0] == ("convex: error: prog.cvx:6:3: :CAST Can't convert argument at "
                        "position 2 (with type Keyword) to type Number (form 4 of 5, "
                        "failing call at prog.cvx:5:3)")
    assert lines[1:] == ["    5 |   (+ x :k))", "      |   ^"]
    assert "Traceback" not in p.stderr


def test_run_json_carries_positions(tmp_path):
    name = write(tmp_path, "prog.cvx", PROGRAM)
    p = convex(tmp_path, "run", "--json", "--fresh", "--no-save", name)
    d = json.loads(p.stdout)
    assert (d["form"], d["file"], d["line"], d["column"]) == (4, "prog.cvx", 6, 3)
    assert d["call"] == {"line": 5, "column": 3}


@pytest.mark.parametrize("text, where, opener", [
    ("(def a 1)\n(defn f [x]\n  (let [y [1 2]]\n    (+ x y))\n", "2:1", "("),
    ("(def a [1 2\n  3 4)\n", "2:6", None),        # mismatched: at the closer
    ("(def m {:a 1\n\n      :b [2 3\n", "3:10", "["),
])
def test_run_reports_unclosed_brackets_where_they_open(tmp_path, text, where, opener):
    name = write(tmp_path, "bad.cvx", text)
    p = convex(tmp_path, "run", "--fresh", "--no-save", name)
    assert p.returncode == 2
    first = p.stderr.splitlines()[0]
    assert first.startswith(f"convex: error: bad.cvx:{where}: ")
    if opener:
        assert first.endswith(f"unclosed {opener!r}")
    else:
        assert first.endswith("unexpected ')': the '[' at line 1, column 8 is still open")
    assert "^" in p.stderr.splitlines()[2]


# --- convex test ---------------------------------------------------------------------------

TESTS = """(defn sq [x] (* x x))

(deftest squares
  (is (= 4 (sq 2)))
  (is (= 10 (sq 3)) "nine"))

(deftest casts
  (is (= 1 1))
    (sq :a))

(deftest fine (is (= 1 1)))
"""


def test_convex_test_names_the_failing_assertion(tmp_path):
    (tmp_path / "tests").mkdir()
    write(tmp_path, "tests/test_sq.cvx", TESTS)
    p = convex(tmp_path, "test")
    assert p.returncode == 1
    out = p.stdout.splitlines()
    i = next(k for k, ln in enumerate(out) if ln.startswith("FAIL squares"))
    assert out[i + 1].strip() == ("tests/test_sq.cvx:5:3: :ASSERT nine: expected 10, got 9 "
                                  "in (= 10 (sq 3))")
    i = next(k for k, ln in enumerate(out) if ln.startswith("FAIL casts"))
    assert out[i + 1].strip().startswith("tests/test_sq.cvx:1:14: :CAST")   # (* x x)
    assert any(ln.startswith("PASS fine") for ln in out)
    d = json.loads(convex(tmp_path, "test", "--json").stdout)
    squares = next(t for t in d["tests"] if t["name"] == "squares")
    assert (squares["line"], squares["column"]) == (5, 3)


def test_convex_test_file_errors_have_positions(tmp_path):
    (tmp_path / "tests").mkdir()
    write(tmp_path, "tests/test_load.cvx", "(def a 1)\n(def b (+ a\n         :x))\n")
    write(tmp_path, "tests/test_syntax.cvx", "(deftest x\n  (is (= [1 2\n")
    p = convex(tmp_path, "test")
    assert p.returncode == 1
    assert "ERROR tests/test_load.cvx:2:1: :CAST" in p.stdout
    assert "ERROR tests/test_syntax.cvx:2:10: :SYNTAX unclosed '['" in p.stdout


# --- :load and the REPL ----------------------------------------------------------------------

def test_load_names_the_failing_form(tmp_path):
    write(tmp_path, "prog.cvx", PROGRAM)
    write(tmp_path, "open.cvx", "(def a 1)\n\n(defn g [x]\n  [x\n")
    p = convex(tmp_path, "--fresh", "--no-save", stdin=":load prog.cvx\n:load open.cvx\n(+ 1 2)\n")
    out = p.stdout
    assert ("prog.cvx:6:3: loading stopped at this form (form 4 of 5, failing call at "
            "prog.cvx:5:3)") in out
    assert "open.cvx:4:3: unclosed '['" in out
    assert "    4 |   [x" in out
    assert out.rstrip().splitlines()[-2] == "3"      # the session goes on
    assert "Traceback" not in out + p.stderr


def test_repl_points_at_the_failing_call_in_the_input(tmp_path):
    p = convex(tmp_path, "--fresh", "--no-save", stdin="(+ 1\n   (inc :a))\n(+ 1 2]\n")
    out = p.stdout
    assert "at <input>:2:4" in out
    assert "    2 |    (inc :a))" in out
    assert "at <input>:1:7" in out
    assert "Traceback" not in out + p.stderr
