"""The REPL prints a value or a dim line without rich only when the bytes are rich's own:
ansi.SGR is what rich prints for each token type, the output equals rich's on a corpus of
values for every colour system, and the terminal detected is the one rich's Console finds."""
from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from convex_repl.repl import ansi

ROOT = Path(__file__).resolve().parent.parent

CORPUS_SOURCES = [
    "42", "-7", "1.5", "##Inf", "nil", "true", ":key", "'sym", "#13", "0xcafe", '"a b \\"c\\""',
    "\\a", "[1 2 3]", "{:a 1 :b [2 3]}", "#{1 2}", "(list 1 (quote x) \"s\")", "(fn [x] (* x 2))",
    "{:name \"token\" :holders {#13 100 #14 250} :flags #{:a :b} :code (fn [] nil)}",
    "[1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25]", "*address*", "(syntax 1 {:doc \"d\"})", "(blob \"ab\")",
    "{:nested {:deeper {:deepest [1 2 {:x \"y z\"}]}}}",
]

CHILD = r"""
import io, json, sys
from rich.console import Console
from rich.syntax import Syntax
from convex_repl.lexer import ConvexLexer
from convex_repl.repl import ansi
system, texts = sys.argv[1], json.loads(sys.stdin.read())
lexer = ConvexLexer()
out = []
for text, width, color, kind in texts:
    rich_buf, fast_buf = io.StringIO(), io.StringIO()
    con = Console(file=rich_buf, force_terminal=True, color_system=system, width=width,
                  no_color=not color, highlight=False, soft_wrap=False)
    term = ansi.Terminal(system, width, color, fast_buf)
    if kind == "code":
        con.print(Syntax(text, lexer, theme="monokai", background_color="default",
                         word_wrap=True))
        done = term.code(text, lexer)
    else:
        con.print(text, style="dim", markup=False, highlight=False)
        done = term.dim(text)
    out.append([done, rich_buf.getvalue(), fast_buf.getvalue()])
print(json.dumps(out))
"""


def _corpus() -> list:
    from convex_repl.api import Session
    from convex_repl.repl.render import pformat
    s = Session()
    texts = []
    for src in CORPUS_SOURCES:
        r = s.eval(src)
        assert r.ok, (src, r.error)
        for width in (30, 78, 120):
            for color in (True, False):
                texts.append([pformat(r.value, width - 2), width, color, "code"])
    notice = ("restored the saved session: 3 transactions, 1 checkpoint, acting as #13, "
              "state 3ab871fa (--fresh starts from genesis)")
    for color in (True, False):
        for width in (20, 30, 40, 41, 57, 80, 120):
            for line in ("juice 581 · fee 13,810 coins · memory +0 bytes · 736 µs", notice,
                         "a  b   c    " * 8, "x" * 25 + " y", " leading and trailing  "):
                texts.append([line, width, color, "dim"])
    return texts


@pytest.mark.parametrize("system", ["standard", "256", "truecolor"])
def test_output_is_richs_own(system):
    # each colour system in a process of its own: rich keeps a style's codes for the first
    # colour system it printed it with
    texts = _corpus()
    p = subprocess.run([sys.executable, "-c", CHILD, system], input=json.dumps(texts),
                       capture_output=True, text=True, check=True, cwd=ROOT)
    results = json.loads(p.stdout)
    printed = 0
    for (text, width, color, kind), (done, rich_out, fast_out) in zip(texts, results):
        if done:
            printed += 1
            assert fast_out == rich_out, (system, width, color, text)
        else:
            assert fast_out == ""
            if kind == "dim":                # only a word wider than the terminal
                assert max(len(w) for w in text.split()) > width, (width, text)
            else:                            # only a line as wide as the terminal
                assert max(len(line) for line in text.split("\n")) >= width, (width, text)
    assert printed >= len(texts) * 3 // 4            # the fast path is the usual one


def test_sgr_table_is_richs():
    assert ansi.export_sgr() == ansi.SGR


def test_what_rich_must_print_is_left_to_it():
    from io import StringIO

    from convex_repl.lexer import ConvexLexer
    lexer = ConvexLexer()
    term = ansi.Terminal("standard", 20, True, StringIO())
    assert not term.code("[" + " 1" * 20 + "]", lexer)     # would wrap
    assert not term.code('"tab\there"', lexer)              # tab expansion
    assert not term.code('"宽字符"', lexer)                   # double-width characters
    assert not term.code("", lexer)
    assert not term.dim("two\nlines")
    assert term.file.getvalue() == ""
    assert ansi.Terminal.detect(True, {"TERM": "xterm"}, StringIO()) is None   # not a tty


DETECT_CHILD = r"""
import json, os, sys
from rich.console import Console
from convex_repl.repl import ansi
t = ansi.Terminal.detect(True)
c = Console(highlight=False, soft_wrap=False)
os.write(int(sys.argv[1]), json.dumps([t and t.color_system, t and t.width,
                        c.color_system, c.width]).encode())
"""


@pytest.mark.parametrize("env", [
    {"TERM": "xterm"}, {"TERM": "xterm-256color"}, {"TERM": "screen-16color"},
    {"TERM": "xterm-kitty"}, {"TERM": "tmux-256color", "COLORTERM": "truecolor"},
    {"TERM": "xterm", "COLORTERM": "24bit"}, {"TERM": "dumb"}, {"TERM": "xterm", "COLUMNS": "50"},
    {"TERM": "xterm", "FORCE_COLOR": "1"},
])
def test_terminal_detected_as_rich_detects_it(env):
    master, slave = pty.openpty()
    r, w = os.pipe()
    base = {k: v for k, v in os.environ.items()
            if k not in ("TERM", "COLORTERM", "COLUMNS", "LINES", "FORCE_COLOR", "NO_COLOR",
                         "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    p = subprocess.Popen([sys.executable, "-c", DETECT_CHILD, str(w)], stdin=slave,
                         stdout=slave, stderr=subprocess.PIPE, env={**base, **env}, cwd=ROOT,
                         pass_fds=(w,))
    os.close(slave)
    os.close(w)
    _, err = p.communicate(timeout=60)
    data = os.read(r, 4096)
    os.close(r)
    os.close(master)
    assert p.returncode == 0, err
    mine_system, mine_width, rich_system, rich_width = json.loads(data)
    if mine_system is None:                 # left to rich: the environment says something
        assert any(k in env for k in ("COLUMNS", "FORCE_COLOR")) or env["TERM"] == "dumb"
    else:
        assert (mine_system, mine_width) == (rich_system, rich_width)


def test_width_follows_a_resized_terminal():
    import fcntl
    import struct
    import termios
    master, slave = pty.openpty()
    try:
        def size(cols):
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
        term = ansi.Terminal("standard", None, True, None)
        saved = [os.dup(0), os.dup(1)]
        os.dup2(slave, 0)                       # stdin and stdout on the pty (rich reads
        os.dup2(slave, 1)                       # stdin's size first, as this does)
        try:
            size(50)
            first = term.width
            size(120)
            second = term.width
        finally:
            for fd, old in enumerate(saved):
                os.dup2(old, fd)
                os.close(old)
    finally:
        os.close(master)
        os.close(slave)
    assert (first, second) == (50, 120)
