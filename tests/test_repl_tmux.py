"""The real REPL in a real terminal: tmux runs `convex`, send-keys types, capture-pane reads.

Each test gets its own tmux server (-L socket) and convex directory. In CI tmux must be there
(.ci/run installs it); elsewhere the tests are skipped without it.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

if shutil.which("tmux") is None:
    if os.environ.get("CI"):
        raise RuntimeError("tmux is required in CI (.ci/run installs it)")
    pytest.skip("tmux is not installed", allow_module_level=True)


class Term:
    def __init__(self, home: Path, args: str = "", width: int = 110, height: int = 45):
        self.sock = f"convex-test-{uuid.uuid4().hex[:8]}"
        env = {"CONVEX_HOME": str(home), "PYTHONPATH": str(ROOT), "TERM": "xterm-256color",
               "PATH": os.environ.get("PATH", ""), "HOME": str(home), "LANG": "C.UTF-8"}
        envs = " ".join(f"{k}='{v}'" for k, v in env.items())
        cmd = f"env -i {envs} {sys.executable} -m convex_repl {args}; echo REPL-EXITED $?; sleep 30"
        self.tmux("new-session", "-d", "-s", "main", "-x", str(width), "-y", str(height), cmd)
        self.tmux("set-option", "-g", "history-limit", "5000")

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.sock, *args], capture_output=True,
                              text=True, timeout=20).stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "main", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "main", "-l", text)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "main", "-S", "-200")

    def wait(self, text: str, timeout: float = 20.0, seen: int = 0) -> str:
        """Wait until `text` is on screen more than `seen` times; the screen."""
        end = time.time() + timeout
        s = ""
        while time.time() < end:
            s = self.screen()
            if s.count(text) > seen:
                return s
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear; screen:\n{s}")

    def count(self, text: str) -> int:
        return self.screen().count(text)

    def submit(self, line: str, expect: str, timeout: float = 20.0) -> str:
        n = self.count(expect)
        self.type(line)
        self.keys("Enter")
        return self.wait(expect, timeout, seen=n)

    def close(self) -> None:
        self.tmux("kill-server")


@pytest.fixture
def term(tmp_path):
    t = Term(tmp_path)
    try:
        t.wait("convex #13>")
        yield t
    finally:
        t.close()


def test_multiline_defn_result_and_cost_badge(term):
    term.type("(defn sq [x]")
    term.keys("Enter")
    s = term.wait("..")                       # a continuation line: not submitted yet
    time.sleep(0.3)
    assert "juice" not in term.screen()
    term.type("(* x x))")
    term.keys("Enter")
    s = term.wait("juice")
    assert "(fn [x]" in s
    s = term.submit("(sq 12)", "fee")
    tail = s[s.rindex("(sq 12)"):]
    assert "144" in tail
    badge = [ln for ln in tail.splitlines() if "juice" in ln][0]
    assert "fee" in badge and "coins" in badge and ("µs" in badge or "ms" in badge)


def test_completion_shows_candidates_with_docs(term):
    term.type("(coun")
    term.keys("Tab")
    s = term.wait("count")
    # a unique candidate is inserted; with several, the menu shows signatures and doc lines
    term.keys("C-e")
    time.sleep(0.3)
    s = term.screen()
    assert "(count" in s


def test_completion_menu_with_signature(term):
    term.type("(assoc")
    term.keys("Tab")
    s = term.wait("assoc-in")
    assert "[m ks v]" in s or "assoc-in" in s
    term.keys("C-c")
    term.submit("(+ 1 2)", "juice")


def test_error_shows_code_trace_and_hint(term):
    s = term.submit("(count 1)", "juice")
    tail = s[s.rindex("convex #13> (count 1)"):]
    assert "Error :CAST" in tail
    assert "In expression: (count 1)" in tail
    assert "hint: count: :CAST" in tail


def test_undo_takes_back_a_definition(term):
    term.submit("(def a 42)", "juice")
    term.submit("(def a 43)", "juice")
    term.submit(":undo", "undone")
    s = term.submit("a", "juice")
    assert "42" in s[s.rindex("convex #13> a"):]
    term.submit(":undo", "undone")
    s = term.submit("a", "juice")
    assert "UNDECLARED" in s[s.rindex("convex #13> a"):]


def test_ctrl_c_interrupts_endless_loop_and_keeps_session(tmp_path):
    term = Term(tmp_path, "--juice-limit 1000000000000")   # the loop would run for hours
    try:
        term.wait("convex #13>")
        _interrupt_loop(term)
    finally:
        term.close()


def _interrupt_loop(term):
    term.submit("(def kept 7)", "juice")
    # A signed transaction is capped at the network's juice maximum (under a second here);
    # development mode (:mode eval) honours --juice-limit, so the loop runs until Ctrl-C.
    term.submit(":mode eval", "mode: eval")
    term.type("(loop [] (recur))")
    term.keys("Enter")
    time.sleep(1.5)
    assert "juice" not in term.screen().split("(loop [] (recur))")[-1]   # still running
    term.keys("C-c")
    term.wait("Interrupted")
    term.submit(":mode transact", "mode: transact")
    s = term.submit("kept", "juice")
    assert "7" in s[s.rindex("convex #13> kept"):]


def test_ctrl_c_cancels_input_and_quit_commands(term):
    term.type("(+ 1")
    term.keys("C-c")
    time.sleep(0.3)
    term.submit("(+ 2 3)", "5")
    term.type(":quit")
    term.keys("Enter")
    term.wait("REPL-EXITED 0")


def test_ctrl_d_quits_and_session_persists(tmp_path):
    t = Term(tmp_path)
    try:
        t.wait("convex #13>")
        t.submit("(def saved [1 2 3])", "juice")
        t.keys("C-d")
        t.wait("REPL-EXITED 0")
    finally:
        t.close()
    t = Term(tmp_path)
    try:
        t.wait("convex #13>")
        s = t.submit("saved", "juice")
        assert "[1 2 3]" in s[s.rindex("convex #13> saved"):]
    finally:
        t.close()
    t = Term(tmp_path, "--fresh")
    try:
        t.wait("convex #13>")
        s = t.submit("saved", "juice")
        assert "UNDECLARED" in s[s.rindex("convex #13> saved"):]
    finally:
        t.close()


def test_bracketed_paste_of_several_lines_waits_for_enter(term):
    term.tmux("set-buffer", "(defn add3 [a b c]\n  (+ a\n     b c))\n(add3 1 2 3)")
    term.tmux("paste-buffer", "-p", "-t", "main")        # -p: as a bracketed paste
    time.sleep(0.8)
    assert "juice" not in term.screen()                  # pasted, not submitted
    term.keys("Enter")
    s = term.wait("juice")
    assert "6" in s.split("(add3 1 2 3)")[-1]


def test_vi_mode_edits_and_submits_from_normal_mode(tmp_path):
    t = Term(tmp_path, "--vi")
    try:
        t.wait("convex #13>")
        t.type("(+ 10 2)")
        t.keys("Escape")
        time.sleep(0.3)
        t.keys("0", "l", "r", "*")                        # normal mode: replace + with *
        time.sleep(0.3)
        t.keys("Enter")
        s = t.wait("juice")
        assert "(* 10 2)" in s and "20" in s.split("(* 10 2)")[-1]
    finally:
        t.close()


def test_tutorial_lesson_1_wrong_then_right_to_the_end(tmp_path):
    """`convex tutorial 1` as a learner: a step typed wrong (explained), then right, the rest
    with Ctrl-T (inserts the step's code) and Enter, to the end of the lesson."""
    from convex_repl.repl.tutorial import load_lessons
    lesson = load_lessons(ROOT / "tutorials")[0]
    n = len(lesson.steps)
    t = Term(tmp_path, "tutorial 1")
    try:
        t.wait(f"Step 1 of {n}")
        s = t.submit("(+ 1 3)", "Not what the lesson expects")
        tail = s[s.rindex("(+ 1 3)"):]
        assert "you got:    4" in tail and "expected:   3" in tail and "Ctrl-T" in tail
        t.submit(lesson.steps[0].input, f"Step 2 of {n}")        # typed right
        t.type("(count 42")                                        # unbalanced: a new line
        t.keys("Enter")
        time.sleep(0.3)
        t.keys("C-c")                                             # dropped
        for k in range(2, n + 1):
            t.keys("C-t")
            time.sleep(0.15)
            t.keys("Enter")
            t.wait(f"Step {k + 1} of {n}" if k < n else "Lesson 1 complete", timeout=30)
        s = t.screen()
        assert "Not what the lesson expects" not in s.split("Step 2 of")[-1]
        assert "Lesson 1 complete" in s and ":next" in s
        t.type(":quit")
        t.keys("Enter")
        t.wait("REPL-EXITED 0")
    finally:
        t.close()
    import json
    assert json.loads((tmp_path / "tutorial.json").read_text())["completed"] == [1]


def test_tutorial_command_inside_the_repl(term):
    s = term.submit(":tutorial 2", "Step 1 of")
    assert "Functions, closures and recursion" in s
    term.keys("C-t")
    time.sleep(0.2)
    term.keys("Enter")
    term.wait("✓ right")
    s = term.submit(":quit", "your own session again")
    term.submit("(+ 1 1)", "juice")
