"""Where in a source file things happen: `Source` reads a file with positions
(`reader.read_positioned`) and turns a runtime error into `file:line:col` of the failing
top-level form, of the failing call inside it where it can be found, and a source excerpt
with a caret, as compilers show them.

The failing call is found from the error's trace (the printed ops, innermost first: `(+ %0
:k)`) by matching it against the lists read from the file: locals print as `%n` and resolved
names as `#13/f`, so those match any symbol and an unqualified name. Forms a macro rewrote
(or calls made up by one) may match nothing; then only the top-level form is named. This
costs nothing until an error is reported.
"""
from __future__ import annotations

import re
from typing import Any, Optional

from kernel.data.printer import print_value
from lisp.reader import Positions, ReaderError, read_positioned

_TRACE_PREFIX = "In expression: "
_ANY_SYMBOL = r"[^\s()\[\]{}\"]+"


def location(name: str, line: int, col: int) -> str:
    return f"{name}:{line}:{col}"


def excerpt(text: str, line: int, col: int, note: str = "") -> str:
    """Two lines as compilers print them: the source line, then a caret under column col."""
    lines = text.splitlines()
    if not 1 <= line <= len(lines):
        return ""
    src = lines[line - 1]
    pad = "".join(c if c == "\t" else " " for c in src[:col - 1])
    gutter = f"{line:>5} | "
    caret = " " * (len(gutter) - 2) + "| " + pad + "^" + (f" {note}" if note else "")
    return f"{gutter}{src}\n{caret}"


def syntax_error_line(name: str, e: ReaderError) -> str:
    """`file:line:col: message` for text that does not read."""
    return f"{location(name, e.line, e.column)}: {e.message}"


def _trace_pattern(entry: str) -> "Optional[re.Pattern[str]]":
    text = entry[len(_TRACE_PREFIX):] if entry.startswith(_TRACE_PREFIX) else None
    if not text or not text.startswith("("):
        return None
    truncated = text.endswith("...")
    if truncated:
        text = text[:-3]
    out, i = [], 0
    for m in re.finditer(r"%\d+|#\d+/|\s+", text):
        out.append(re.escape(text[i:m.start()]))
        tok = m.group()
        out.append(_ANY_SYMBOL if tok[0] == "%" else r"(?:#\d+/)?" if tok[0] == "#" else r"\s+")
        i = m.end()
    out.append(re.escape(text[i:]))
    return re.compile("".join(out) + (".*" if truncated else ""), re.S)


class Source:
    """A file's text, its forms and their positions (raises ReaderError if it doesn't read)."""

    def __init__(self, text: str, name: str):
        self.text, self.name = text, name
        self.forms, self.positions = read_positioned(text)

    @property
    def pos(self) -> Positions:
        return self.positions

    def form_at(self, i: int) -> "tuple[int, int]":
        return self.positions.tops[i]

    def where(self, i: int) -> str:
        return location(self.name, *self.form_at(i))

    def call_in(self, i: int, trace: Any) -> "Optional[tuple[int, int]]":
        """(line, col) of the call that failed, found from the trace (innermost first):
        lists of top-level form i first, then the rest of the file (a function defined
        earlier and called from form i)."""
        pats = [p for p in (_trace_pattern(t) for t in trace or () if isinstance(t, str)) if p]
        if not pats:
            return None
        first = self.positions.within(self.forms[i]) if 0 <= i < len(self.forms) else []
        seen = {id(h[2]) for h in first}
        rest = [h for j, f in enumerate(self.forms) if j != i
                for h in self.positions.within(f) if id(h[2]) not in seen]
        printed: dict = {}
        for pat in pats:
            for line, col, lst in first + rest:
                s = printed.get(id(lst))
                if s is None:
                    s = printed[id(lst)] = print_value(lst)
                if pat.fullmatch(s):
                    return line, col
        return None

    def explain(self, i: int, message: str, trace: Any = (),
                context: str = "") -> "tuple[str, str, dict]":
        """For an error in top-level form i: one line `file:line:col: message (context,
        failing call at file:line:col)`, an excerpt with a caret (at the call, else at the
        form) and the positions as a dict for JSON."""
        line, col = self.form_at(i)
        call = self.call_in(i, trace)
        info: dict = {"file": self.name, "line": line, "column": col}
        notes = [context] if context else []
        if call is not None and call != (line, col):
            notes.append(f"failing call at {location(self.name, *call)}")
        one = f"{location(self.name, line, col)}: {message}"
        if notes:
            one += f" ({', '.join(notes)})"
        if call is not None:
            info["call"] = {"line": call[0], "column": call[1]}
        at = call or (line, col)
        return one, excerpt(self.text, *at), info


__all__ = ["Source", "location", "excerpt", "syntax_error_line"]
