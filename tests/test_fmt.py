"""The formatter (convex_repl.editor.fmt, `convex fmt`): its layout rules, comments kept,
idempotence on every .cvx file of the repository, and `convex fmt --check` as CI runs it."""
import subprocess
import sys
from pathlib import Path

import pytest

from convex_repl.editor.fmt import format_text
from lisp import ReaderError, read_all

ROOT = Path(__file__).resolve().parent.parent
REPO_CVX = sorted(p for top in ("stdlib", "tests", "tutorials") for p in (ROOT / top).rglob("*.cvx"))


def convex(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "convex_repl", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("before, after", [
    # body forms indent by two, calls under their first argument, data under the first element
    ("(defn f [x]\n(+ x\n1))", "(defn f [x]\n  (+ x\n     1))\n"),
    ("(let [a 1\nb 2]\na)", "(let [a 1\n      b 2]\n  a)\n"),
    ("(foo\nbar\nbaz)", "(foo\n bar\n baz)\n"),
    ("{:a 1\n:b 2}", "{:a 1\n :b 2}\n"),
    ("#{1\n2}", "#{1\n  2}\n"),
    ("(fn\n([x] x)\n([x y]\nx))", "(fn\n  ([x] x)\n  ([x y]\n    x))\n"),
    ("(when-let [x 1]\n x)", "(when-let [x 1]\n  x)\n"),
    # cljfmt's :block rules: two spaces once the block argument starts a line, else a call
    ("(do (a)\n(b))", "(do (a)\n    (b))\n"),
    ("(do\n(a)\n(b))", "(do\n  (a)\n  (b))\n"),
    ("(if (ok? x)\nyes\nno)", "(if (ok? x)\n  yes\n  no)\n"),
    ("(if (ok? x) yes\nno)", "(if (ok? x) yes\n    no)\n"),
    ("(cond (a) 1\n(b) 2)", "(cond (a) 1\n      (b) 2)\n"),
    ("(switch k\n:a 1\n:b 2)", "(switch k\n  :a 1\n  :b 2)\n"),
    ("(call *registry*\n(register {}))", "(call *registry*\n      (register {}))\n"),
    # whitespace inside brackets, between forms, trailing, blank lines
    ("( + 1   2 )", "(+ 1   2)\n"),
    ("(a(b)\"s\"[c])", "(a (b) \"s\" [c])\n"),
    ("(a\n  b\n)\n", "(a\n b)\n"),
    ("(a)   \n\n\n\n(b)\n\n\n", "(a)\n\n(b)\n"),
    ("\n\n(a)", "(a)\n"),
    ("(a\tb)", "(a b)\n"),
    # reader macros stay attached; paths stay paths
    ("(f ' x @a.b #8/count fungible/balance ~@ y)", "(f 'x @a.b #8/count fungible/balance ~@y)\n"),
    ("(defn ^:callable f [] 1)", "(defn ^:callable f [] 1)\n"),
    ("#_ (ignored) (kept)", "#_ (ignored) (kept)\n"),
    # comments: kept, a closing bracket after one stays on the next line
    ("(a ; one\nb)", "(a ; one\n b)\n"),
    ("(a\n;; alone\nb ;; end   \n)", "(a\n ;; alone\n b ;; end\n )\n"),
    ("; top\n(a)   ; after", "; top\n(a)   ; after\n"),
    # strings are never touched, even spanning lines
    ('(def s "a\n   b  ")', '(def s "a\n   b  ")\n'),
    ("", ""),
    ("  \n ", ""),
])
def test_layout_rules(before, after):
    assert format_text(before) == after
    assert format_text(after) == after           # idempotent
    assert read_all(after) == read_all(before)   # same forms


def test_text_that_does_not_read_is_refused_where_it_breaks():
    with pytest.raises(ReaderError) as e:
        format_text("(defn f [x]\n  (+ x 1)")
    assert (e.value.line, e.value.column) == (1, 1)


@pytest.mark.parametrize("path", REPO_CVX, ids=lambda p: str(p.relative_to(ROOT)))
def test_idempotent_and_faithful_on_every_repository_file(path):
    text = path.read_text()
    once = format_text(text)
    assert format_text(once) == once
    assert read_all(once) == read_all(text)
    comments = [ln.split(";", 1)[1].rstrip() for ln in text.splitlines()
                if ";" in ln and '"' not in ln]
    for c in comments:
        assert c in once


def test_the_repository_is_formatted():
    r = convex("fmt", "--check", "stdlib", "tests", "tutorials")
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(REPO_CVX)} files checked, 0 would be reformatted" in r.stderr


def test_fmt_rewrites_files_and_check_fails_on_unformatted_ones(tmp_path):
    good = tmp_path / "good.cvx"
    good.write_text("(def a 1)\n")
    messy = tmp_path / "sub" / "messy.cvx"
    messy.parent.mkdir()
    messy.write_text("(defn f [x]\n(inc x)  )  ; comment\n")
    r = convex("fmt", "--check", str(tmp_path))
    assert r.returncode == 1
    assert r.stdout.strip() == f"would reformat {messy}"
    assert messy.read_text() == "(defn f [x]\n(inc x)  )  ; comment\n"    # unchanged
    r = convex("fmt", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"formatted {messy}"
    assert messy.read_text() == "(defn f [x]\n  (inc x))  ; comment\n"
    assert convex("fmt", "--check", str(tmp_path)).returncode == 0


def test_bad_input_is_one_line_with_its_place(tmp_path):
    bad = tmp_path / "bad.cvx"
    bad.write_text("(def a 1)\n(defn f [x]\n  (+ x 1)\n")
    r = convex("fmt", str(bad))
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == f"convex: error: {bad}:2:1: unclosed '('"
    assert "Traceback" not in r.stderr
    assert bad.read_text() == "(def a 1)\n(defn f [x]\n  (+ x 1)\n"
    r = convex("fmt", str(tmp_path / "missing.cvx"))
    assert r.returncode == 3
    assert r.stderr.strip() == f"convex: error: no such file or directory: {tmp_path / 'missing.cvx'}"
