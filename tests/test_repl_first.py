"""The first prompt (convex_repl/repl/first.py), up before prompt_toolkit: keys typed on a
pseudo-terminal, read once the workspace is there; what it evaluates itself and what it
leaves to prompt_toolkit (the text so far, the keys after it)."""
from __future__ import annotations

import io
import os
import pty
import sys

import pytest

from convex_repl.repl.commands import Quit
from convex_repl.repl.first import FirstPrompt

PROMPT = "convex #13> "


class Out:
    def warn(self, text):
        raise AssertionError(text)


class StubRepl:
    """What the first prompt uses of a Repl: handle() (recorded) and prompt()."""

    def __init__(self, quit_on: str = ""):
        self.handled: list = []
        self.quit_on = quit_on
        self.out = Out()

    def handle(self, text):
        if text == self.quit_on:
            raise Quit()
        self.handled.append(text)

    def prompt(self):
        return PROMPT


@pytest.fixture
def typed(monkeypatch):
    """typed(keys) -> (FirstPrompt after reading them, its output, read()'s answer, repl)."""
    master, slave = pty.openpty()

    def run(*keys: bytes, repl=None):
        out = io.StringIO()
        monkeypatch.setattr(sys, "stdout", out)
        first = FirstPrompt(PROMPT, fd=slave)
        first.show()
        repl = repl or StubRepl()
        ok = True
        try:
            for k in keys:          # each read separately, as typed at different times
                os.write(master, k)
                ok = ok and first.read(repl)
        finally:
            first.restore()
        return first, out.getvalue(), ok, repl

    yield run
    os.close(master)
    os.close(slave)


def test_a_complete_input_is_evaluated_and_the_prompt_comes_back(typed):
    first, out, ok, repl = typed(b"(+ 1 2)\r")
    assert ok and repl.handled == ["(+ 1 2)"] and first.submitted == ["(+ 1 2)"]
    assert out.endswith(f"{PROMPT}(+ 1 2)\n\x1b[?2004l\x1b[?2004h{PROMPT}\x1b[?2004l")
    assert first.text == "" and first.rest == b""


def test_enter_in_an_open_form_opens_an_indented_line(typed):
    first, out, ok, repl = typed(b"(defn f [x]\r(* x 2))\r")
    assert repl.handled == ["(defn f [x]\n  (* x 2))"]
    assert f"\n{' ' * 9}..   (* x 2))\n" in out          # prompt_toolkit's continuation


def test_backspace_edits_the_line(typed):
    first, out, ok, repl = typed(b"(+ 12\x7f)\r")
    assert repl.handled == ["(+ 1)"] and "2\b \b)" in out


def test_other_keys_and_what_follows_are_left_to_prompt_toolkit(typed):
    first, out, ok, repl = typed(b"(+ 1\x1b[A2", b"3)\r")   # Up: history is prompt_toolkit's
    assert ok and repl.handled == [] and first.text == "(+ 1" and first.rest == b"\x1b[A23)\r"
    assert out.endswith(f"{PROMPT}(+ 1\x1b[?2004l")
    from prompt_toolkit.keys import Keys
    assert [k.key for k in first.typeahead()][:3] == [Keys.Up, "2", "3"]


def test_backspace_joining_lines_is_left_to_prompt_toolkit(typed):
    first, out, ok, repl = typed(b"(do\r\x7f\x7f\x7f")     # the indent, then the line break
    assert first.text == "(do\n" and first.rest == b"\x7f"


def test_a_command_is_left_to_prompt_toolkit(typed):
    first, out, ok, repl = typed(b":help\r")
    assert repl.handled == [] and first.text == ":help" and first.rest == b"\r"


def test_quit_ends_the_repl(typed):
    first, out, ok, repl = typed(b"(q)\r(+ 1 2)\r", repl=StubRepl(quit_on="(q)"))
    assert not ok and repl.handled == []


def test_erase_clears_every_row_shown(typed, monkeypatch):
    first, out, ok, repl = typed(b"(+ " + b"1 " * 40 + b"\r2")  # 95 columns, then a line
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    first.erase()                                     # 80 columns (no terminal size)
    assert sys.stdout.getvalue() == "\r\x1b[2A\x1b[J"


def test_keys_are_echoed_as_typed_until_the_workspace_is_made(monkeypatch):
    import threading
    master, slave = pty.openpty()
    done_r, done_w = os.pipe()
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    first = FirstPrompt(PROMPT, fd=slave)
    first.show()
    try:
        os.write(master, b"(+ 1 2")
        threading.Timer(0.3, os.write, (done_w, b".")).start()     # made, a while later
        assert first.read_until(StubRepl(), done_r)
    finally:
        first.restore()
        for fd in (master, slave, done_r, done_w):
            os.close(fd)
    assert first.text == "(+ 1 2" and f"{PROMPT}(+ 1 2" in sys.stdout.getvalue()
