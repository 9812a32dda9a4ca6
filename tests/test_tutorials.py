"""The lessons in tutorials/ run: every input of every lesson, in order, in a fresh session,
must print what the lesson shows (tutorial.py describes the format). Also the format itself,
the tutor that walks a learner through a lesson, and `convex tutorial` without a terminal."""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from convex_repl.repl import tutorial as tut
from convex_repl.repl import Quit, Repl
from convex_repl.repl.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
LESSONS = tut.load_lessons(ROOT / "tutorials")


def _id(ls):
    return ls.path.stem


def test_eight_lessons_numbered_in_order():
    assert len(LESSONS) >= 8
    assert [ls.number for ls in LESSONS] == list(range(1, len(LESSONS) + 1))
    for ls in LESSONS:
        assert ls.title != ls.path.stem, f"{ls.path.name} has no # title"
        assert len(ls.steps) >= 5, f"{ls.path.name} has only {len(ls.steps)} steps"


@pytest.mark.parametrize("lesson", LESSONS, ids=_id)
def test_lesson_blocks_print_what_they_show(lesson):
    bad = tut.check_lesson(lesson)
    assert not bad, "\n\n".join(str(m) for m in bad)


@pytest.mark.parametrize("lesson", LESSONS[:3], ids=_id)
def test_lessons_match_on_a_narrow_terminal(lesson):
    bad = tut.check_lesson(lesson, width=24)        # results broken over lines
    assert not bad, "\n\n".join(str(m) for m in bad)


PEER_LESSONS = [ls for ls in LESSONS if len(ls.local_steps) < len(ls.steps)]


@pytest.mark.parametrize("lesson", PEER_LESSONS, ids=_id)
def test_peer_blocks(lesson):
    bad = tut.check_peer_steps(lesson)
    assert not bad, "\n\n".join(str(m) for m in bad)


# --- the format --------------------------------------------------------------------------------

SAMPLE = '''# A sample

Some text.

```sh
convex deploy x.cvx
```

```convex
convex> (def a 1)
1
convex> (defn f [x]
     ..   (+ x a))
(fn [x] (+ %0 a))
```

More text.

```convex needs-peer
convex> (+ 1 2)
3
```

The end.
'''


def test_parse_transcripts_prose_and_markers(tmp_path):
    ls = tut.parse_lesson(SAMPLE, tmp_path / "04-sample.md")
    assert (ls.number, ls.title) == (4, "A sample")
    assert [s.input for s in ls.steps] == ["(def a 1)", "(defn f [x]\n  (+ x a))", "(+ 1 2)"]
    assert ls.steps[1].expected == "(fn [x] (+ %0 a))"
    assert "Some text." in ls.steps[0].prose and "convex deploy" in ls.steps[0].prose
    assert ls.steps[1].prose == "" and ls.steps[2].prose == "More text."
    assert [s.needs for s in ls.steps] == [None, None, "peer"]
    assert ls.outro == "The end."
    assert len(ls.local_steps) == 2


def test_parse_rejects_a_block_without_prompt(tmp_path):
    with pytest.raises(tut.LessonError, match="must start with"):
        tut.parse_lesson("```convex\n(+ 1 2)\n3\n```\n", tmp_path / "01-x.md")
    with pytest.raises(tut.LessonError, match="marker"):
        tut.parse_lesson("```convex later\nconvex> 1\n1\n```\n", tmp_path / "01-x.md")


def test_matching_wildcards_whitespace_and_error_prefix():
    assert tut.matches("#...", ["#42"], False)
    assert tut.matches("[1 2\n 3]", ["[1 2 3]"], False)
    assert not tut.matches("3", ["4"], False)
    assert not tut.matches("3", ["3", "extra"], False)
    err = ["Error :CAST  bad", "  In expression: (count 1)", "hint: count: :CAST ..."]
    assert tut.matches("Error :CAST  bad", err, True)
    assert tut.matches("Error :CAST ...\n  In expression: (count 1)", err, True)
    assert not tut.matches("Error :CAST  bad", err, False)
    assert not tut.matches("Error :ARITY ...", err, True)


def test_a_stale_lesson_is_caught(tmp_path):
    ls = tut.parse_lesson("```convex\nconvex> (+ 1 2)\n4\nconvex> (count 1)\n"
                          "Error :CAST ...\n```\n", tmp_path / "01-x.md")
    bad = tut.check_lesson(ls)
    assert len(bad) == 1 and bad[0].step.input == "(+ 1 2)" and bad[0].got == ["3"]
    assert "01-x.md:2" in str(bad[0])


def test_lessons_show_the_real_prompt():
    """Transcripts show the prompt the REPL shows (`convex #13> `), checked by the doctest."""
    for ls in LESSONS:
        for st in ls.steps:
            assert st.prompt is not None, f"{ls.path.name}:{st.line} shows 'convex> '"
            assert st.prompt.startswith("convex #"), f"{ls.path.name}:{st.line}"


def test_a_wrong_prompt_is_caught_and_continuations_parse(tmp_path):
    ls = tut.parse_lesson("```convex\nconvex #13> (defn f [x]\n         ..   x)\n"
                          "(fn [x] %0)\nconvex #13> :account #11\nnow acting as #11\n"
                          "convex #13> *address*\n#11\n```\n", tmp_path / "01-x.md")
    assert [s.prompt for s in ls.steps] == ["convex #13> "] * 3
    assert ls.steps[0].input == "(defn f [x]\n  x)"
    bad = tut.check_lesson(ls)
    assert len(bad) == 1 and bad[0].step.input == "*address*"
    assert ("01-x.md:7: the lesson shows the prompt 'convex #13> ', the REPL shows "
            "'convex #11> '") in str(bad[0])
    legacy = tut.parse_lesson("```convex\nconvex> (+ 1 2)\n3\n```\n", tmp_path / "01-y.md")
    assert legacy.steps[0].prompt is None and not tut.check_lesson(legacy)


def test_explain_a_mismatch_names_the_error_code():
    st = tut.Step("(+ 1 2)", "3", 1, 0)
    lines = tut.explain(st, "(+ 1 x)", ["Error :UNDECLARED  x"], True)
    text = "\n".join(lines)
    assert "you got:    Error :UNDECLARED  x" in text and "expected:   3" in text
    assert ":UNDECLARED means a symbol isn't defined" in text
    assert "(+ 1 2)" in text and "Ctrl-T" in text
    st = tut.Step("(count 1)", "Error :CAST ...", 1, 0)
    text = "\n".join(tut.explain(st, "(count [1])", ["1"], False))
    assert "expects the error :CAST, which means a value has the wrong type" in text


# --- the tutor ----------------------------------------------------------------------------------

def _repl(home):
    buf = io.StringIO()
    console = Console(file=buf, width=100, no_color=True, highlight=False)
    from convex_repl.repl.render import Printer
    repl = Repl(Workspace(home, fresh=True, save=False), Printer(console, color=False))
    return repl, buf


def _make(home):
    return lambda: Workspace(home, fresh=True, save=False)


def _take(buf):
    text = buf.getvalue()
    buf.truncate(0)
    buf.seek(0)
    return text


def test_tutor_checks_steps_explains_and_keeps_progress(tmp_path):
    lesson = LESSONS[0]
    repl, buf = _repl(tmp_path)
    t = tut.attach(repl, 1, tmp_path, _make(tmp_path), exit_on_quit=True,
                   fresh_workspace=True)
    out = _take(buf)
    assert "Lesson 1" in out and "Step 1 of" in out and lesson.steps[0].input in out
    repl.handle("(+ 40 2)")                      # wrong
    out = _take(buf)
    assert "Not what the lesson expects" in out and "42" in out
    assert t.index == 0
    repl.handle(":next")                         # puts the code on the prompt
    assert repl.take_insert() == lesson.steps[0].input
    repl.handle(lesson.steps[0].input)           # right
    out = _take(buf)
    assert "✓" in out and "Step 2 of" in out and t.index == 1
    assert json.loads((tmp_path / "tutorial.json").read_text())["step"] == 1
    repl.handle(":doc count")                    # a REPL command on the side: not a step
    assert "(count coll)" in _take(buf) and t.index == 1
    repl.handle(":skip")
    assert t.index == 2
    while not lesson.steps[t.index].input.startswith("(:born"):
        repl.handle(lesson.steps[t.index].input)
    with pytest.raises(Quit):
        repl.handle(":quit")
    # resuming: the earlier steps replay, so definitions made before are there
    repl2, buf2 = _repl(tmp_path)
    t2 = tut.attach(repl2, None, tmp_path, _make(tmp_path), exit_on_quit=True,
                    fresh_workspace=True)
    assert t2.index == t.index and "resuming" in _take(buf2)
    repl2.handle(LESSONS[0].steps[t2.index].input)   # needs `ada`, defined before
    assert "✓" in _take(buf2)


def test_tutor_finishes_a_lesson_and_moves_on(tmp_path):
    repl, buf = _repl(tmp_path)
    t = tut.attach(repl, 1, tmp_path, _make(tmp_path), exit_on_quit=True,
                   fresh_workspace=True)
    for st in LESSONS[0].steps:
        repl.handle(st.input)
        assert "Not what the lesson expects" not in buf.getvalue(), buf.getvalue()
    out = _take(buf)
    assert "Lesson 1 complete" in out and ":next" in out and t.finished
    progress = json.loads((tmp_path / "tutorial.json").read_text())
    assert progress["completed"] == [1]
    repl.handle(":next")
    assert t.lesson.number == 2 and t.index == 0 and "Lesson 2" in _take(buf)
    repl.handle(":lessons")
    out = _take(buf)
    assert "✓  1" in out and "you are here" in out


def test_tutorial_command_in_the_repl_comes_back_to_the_session(tmp_path):
    repl, buf = _repl(tmp_path)
    repl.handle("(def mine 7)")
    repl.handle(":tutorial 1")
    assert repl.tutor is not None and "Lesson 1" in _take(buf)
    repl.handle("mine")                          # the tutorial has a session of its own
    assert "UNDECLARED" in _take(buf)
    repl.handle(":quit")
    assert repl.tutor is None
    _take(buf)
    repl.handle("mine")
    assert "7" in _take(buf)


# --- convex tutorial without a terminal ------------------------------------------------------------

def _convex(args, home, stdin=""):
    env = dict(os.environ, CONVEX_HOME=str(home), PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "convex_repl", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=120)


def test_cli_list_and_plain_walkthrough(tmp_path):
    r = _convex(["tutorial", "--list"], tmp_path)
    assert r.returncode == 0 and " 1  Expressions and data" in r.stdout
    first = LESSONS[0].steps[0].input
    r = _convex(["tutorial"], tmp_path, stdin=f"(+ 2 2)\n{first}\n:quit\n")
    assert r.returncode == 0, r.stderr
    assert "Not what the lesson expects" in r.stdout and "✓" in r.stdout
    assert json.loads((tmp_path / "tutorial.json").read_text())["step"] == 1
    r = _convex(["tutorial", "--list"], tmp_path)
    assert "Expressions and data  ← you are here (step 2)" in r.stdout
    progress = json.loads((tmp_path / "tutorial.json").read_text())
    progress.update(step=len(LESSONS[0].steps), completed=[1])
    (tmp_path / "tutorial.json").write_text(json.dumps(progress))
    r = _convex(["tutorial", "--list"], tmp_path)
    assert "✓  1  Expressions and data\n" in r.stdout
    assert "2  Functions, closures and recursion  ← you are here\n" in r.stdout
    r = _convex(["tutorial", "99"], tmp_path)
    assert r.returncode == 3 and "no lesson 99" in r.stderr


def test_cli_check_runs_a_lesson(tmp_path):
    r = _convex(["tutorial", "--check", "1"], tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ok   01-")
