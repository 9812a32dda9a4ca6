"""The structure of typed text, for the prompt's Enter key and for piped input: which brackets
are still open, whether an input is complete (ready to submit) and how far to indent a new
line. Pure text, no prompt_toolkit: the CLI uses `is_complete` on input that is no terminal."""
from __future__ import annotations

from convex_repl.repl.background import wait_for_cvm
from convex_repl.repl.commands import COMMANDS

CLOSERS = {"(": ")", "[": "]", "{": "}"}


def open_brackets(text: str) -> list:
    """Brackets still open at the end of `text`: [(char, line index, column)], skipping
    strings, comments and character literals."""
    stack: list = []
    i, n, line, col = 0, len(text), 0, 0
    while i < n:
        c = text[i]
        if c == "\n":
            line, col, i = line + 1, 0, i + 1
            continue
        if c == ";":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c == "\\" and i + 1 < n:        # character literal \x
            i, col = i + 2, col + 2
            continue
        if c == '"':
            i, col = i + 1, col + 1
            while i < n and text[i] != '"':
                if text[i] == "\\":
                    i, col = i + 1, col + 1
                if i < n and text[i] == "\n":
                    line, col = line + 1, -1
                i, col = i + 1, col + 1
            i, col = i + 1, col + 1
            continue
        if c in "([{":
            stack.append((c, line, col))
        elif c in ")]}" and stack:
            stack.pop()
        i, col = i + 1, col + 1
    return stack


def is_complete(text: str) -> bool:
    """True when the input can be submitted: its forms are balanced (or it is a plain
    error that more input cannot fix, which evaluation will report)."""
    wait_for_cvm()
    from lisp import IncompleteInput, ReaderError, read_all

    body = text
    if text.lstrip().startswith(":"):
        name, _, rest = text.lstrip()[1:].partition(" ")
        if name in COMMANDS:
            body = rest
    if not body.strip():
        return True
    try:
        read_all(body)
    except IncompleteInput:
        return False
    except ReaderError:
        return True
    return True


def indent_for(text: str) -> int:
    """Indentation of a new line after `text`: two past an open '(' (one past '[' or '{')."""
    stack = open_brackets(text)
    if not stack:
        return 0
    c, line, col = stack[-1]
    if c == "(":
        return col + 2
    return col + 1
