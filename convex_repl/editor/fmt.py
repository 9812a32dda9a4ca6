"""The Convex Lisp formatter (`convex fmt`, the language server's formatting): cljfmt's rules.

It keeps the author's line breaks and comments, and only fixes layout:
- each line is indented by where it sits: in a vector, map or set under the first element;
  in a list under the first argument when that is on the head's line, else under the head
  (one space in), except for body forms, indented two spaces: always for `fn`, any `def...`
  and `with-...` and a function arity (`([x] body)`); for `do`, `cond`, `try` and `query`
  when their first argument starts a line, for `let`, `loop`, `if`, `when...`, `if-...`,
  `dotimes`, `for`, `case` and `switch` when their second one does (cljfmt's :inner and
  :block rules);
- no whitespace after an opening bracket or before a closing one (a closing bracket moves up
  to the line before, unless a comment ends that line); between forms on a line the
  author's spaces (aligned map values stay aligned), a tab becomes a space, and a space is
  inserted where two forms touch (`(a(b))`); a quote or `^` touches its form (`' x` is
  `'x`), `#_` and `#Tag` keep their space or its absence;
- no trailing whitespace, at most one blank line in a row, none at the start or end, one
  newline at the end of a non-empty file. Strings are never touched.

Formatting is idempotent (indentation only depends on the formatted text before it), and it
never changes what the text reads as: the result is read again and compared with the
original forms, and refused if it differed (a bug, never silently wrong code).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from convex_repl.editor.tokens import CLOSE, OPEN, PREFIX, lex

# cljfmt's two kinds of body indentation. `:inner`: every line after the head is indented two
# spaces. `:block n`: two spaces when argument n starts a line of its own, else the plain
# list rule (under the first argument when that is on the head's line, else one space).
INNER_HEADS = frozenset(("fn",))
_INNER_PREFIX = re.compile(r"^(?:def|with-)")
BLOCK_HEADS = {"do": 0, "cond": 0, "try": 0, "query": 0,
               "if": 1, "if-let": 1, "if-some": 1, "let": 1, "loop": 1, "when": 1,
               "when-not": 1, "when-let": 1, "when-some": 1, "dotimes": 1, "doseq": 1,
               "for": 1, "binding": 1, "case": 1, "switch": 1}
_ATTACH = frozenset(("QUOTING", "META"))


class FormatError(ValueError):
    """Formatting would change what the text reads as (a formatter bug): nothing is written."""


def body_rule(head: Optional[str]) -> Optional[int]:
    """-1 for an :inner head, n for a :block n head, None for a plain call."""
    if head is None:
        return None
    if head in INNER_HEADS or _INNER_PREFIX.match(head):
        return -1
    if head in BLOCK_HEADS:
        return BLOCK_HEADS[head]
    return 1 if head.startswith("when-") or head.startswith("if-") else None


@dataclass
class _Frame:
    col: int                    # column of the opening bracket
    width: int                  # its length ( "#{" is 2 )
    kind: str                   # the opening token type
    line: int                   # output line it opened on
    breaks: tuple = ()          # whether each element starts a line, from the text
    count: int = 0              # elements started so far
    head: Optional[str] = None
    arity: bool = False         # a list starting with a vector: one arity of a function
    first_arg: Optional[int] = None

    def indent(self) -> int:
        if self.kind != "LPAR":
            return self.col + self.width
        rule = body_rule(self.head)
        if self.arity or rule == -1:
            return self.col + 2
        if rule is not None and rule + 1 < len(self.breaks) and self.breaks[rule + 1]:
            return self.col + 2
        if self.first_arg is not None:
            return self.first_arg
        return self.col + 1


def _starts(prev, t) -> bool:
    """Does token t start an element (a form) of the bracket it is in?"""
    return (t.type not in CLOSE and t.type != "COMMENT" and t.type != "SLASH_SYMBOL"
            and (prev is None or prev.type not in PREFIX))


def _line_breaks(toks: list) -> dict:
    """For each opening bracket (by token index): whether each of its elements starts a
    line in the text (a line break, or a comment, before it)."""
    out: dict = {}
    stack: list = []
    prev, newline = None, False
    for i, t in enumerate(toks):
        if t.type == "WS":
            newline = newline or "\n" in t.text
            continue
        if stack and _starts(prev, t):
            out[stack[-1]].append(newline or (prev is not None and prev.type == "COMMENT"))
        if t.type in OPEN:
            stack.append(i)
            out[i] = []
        elif t.type in CLOSE:
            stack.pop()
        prev, newline = t, False
    return {k: tuple(v) for k, v in out.items()}


def format_text(text: str) -> str:
    """The formatted text (raises lisp.ReaderError if it does not read, FormatError if
    formatting would change its forms)."""
    toks = lex(text)
    breaks = _line_breaks(toks)
    lines: list = []
    line = ""
    stack: list = []
    prev = None
    ws = ""

    def newline(n: int) -> str:
        nonlocal line
        lines.append(line.rstrip())
        lines.extend([""] * (n - 1))
        indent = stack[-1].indent() if stack else 0
        line = " " * indent
        return line

    for i, t in enumerate(toks):
        if t.type == "WS":
            ws += t.text
            continue
        nl = min(ws.count("\n"), 2)
        if prev is None:
            sep = None
        elif prev.type == "COMMENT":
            sep = max(nl, 1)
        elif t.type == "COMMENT":
            sep = nl if nl else (ws if ws and set(ws) == {" "} else " ")
        elif t.type in CLOSE:
            sep = None
        elif prev.type in OPEN:
            sep = None
        elif prev.type in _ATTACH and not (prev.text == "~" and t.text.startswith("@")):
            sep = None              # 'x `x ~x ~@x ^:meta ("~ @x" is not "~@x")
        elif t.type == "SLASH_SYMBOL" or prev.type in PREFIX:
            sep = (nl or " ") if ws else None
        else:           # between forms: the author's spaces on a line (alignment) are kept
            sep = nl or (ws if ws and set(ws) == {" "} else " ")
        ws = ""
        if isinstance(sep, int):
            newline(sep)
        elif sep:
            line += sep
        col = len(line)
        if stack and _starts(prev, t):
            f = stack[-1]
            if f.count == 0 and f.kind == "LPAR":
                f.head = t.text if t.type == "SYMBOL" else None
                f.arity = t.type == "LSQB"
            elif f.count == 1 and f.line == len(lines):
                f.first_arg = col
            f.count += 1
        if t.type in CLOSE:
            stack.pop()
        body = t.text.rstrip() if t.type == "COMMENT" else t.text
        parts = body.split("\n")
        line += parts[0]
        for p in parts[1:]:
            lines.append(line)
            line = p
        if t.type in OPEN:
            stack.append(_Frame(col, len(t.text), t.type, len(lines), breaks[i]))
        prev = t
    lines.append(line.rstrip())
    while lines and not lines[-1]:
        lines.pop()
    out = "\n".join(lines) + "\n" if lines else ""
    _check_same(text, out, toks)
    return out


def _check_same(before: str, after: str, toks: list) -> None:
    from lisp import read_all
    comments = [t.text.rstrip() for t in toks if t.type == "COMMENT"]
    try:
        same = read_all(after) == read_all(before) and comments == [
            t.text for t in lex(after) if t.type == "COMMENT"]
    except ValueError as e:
        raise FormatError(f"formatting would not read back ({e}): left as it was") from None
    if not same:
        raise FormatError("formatting would change the forms: left as it was")


__all__ = ["format_text", "FormatError", "body_rule", "BLOCK_HEADS", "INNER_HEADS"]
