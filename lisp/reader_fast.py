"""A lean driver for the reader's Lark LALR parser, for text that reads without error.

Lark stays the reader: the grammar (`convex.lark`), the terminals' regular expressions, the
LALR tables and the rule callbacks (reader._Builder) are all taken from the Lark parser the
reader builds. What this module replaces is the per-token machinery around them, which is
most of the time spent: Lark's lexer makes a Token object per token and tracks line and
column for every one, and its parser loop looks the action up through several objects per
step. Here one compiled scanner regex is matched in a loop, tokens are plain strings (the
callbacks only need their text), and the action tables are flattened into dicts once.

No positions are tracked, so anything unusual is handed back: `FastParser.parse` raises
`Fallback` for a character no terminal matches, an unexpected token, or any error raised by a
callback (which would need a token's line and column), and the reader then parses the same
text with Lark itself, which gives the exact error. Valid text gives the same values as Lark.
"""
from __future__ import annotations

from typing import Any

from lark import Lark, Token
from lark.parsers.lalr_analysis import Shift


class Fallback(Exception):
    """The text needs Lark's own parser (an error to report with its position)."""


class FastParser:
    """Lark's lexer and LALR tables for `lark`, driven without Token objects."""

    def __init__(self, lark: Lark):
        frontend = lark.parser
        lexer = frontend.lexer
        scanner = lexer.scanner
        if len(scanner._mres) != 1 or lexer.callback or lexer.user_callbacks:
            raise ValueError("grammar not supported by the fast driver")
        self._match = scanner._mres[0].match
        self._ignore = frozenset(lexer.ignore_types)
        parser = frontend.parser.parser
        table = parser.parse_table
        callbacks = parser.callbacks
        self._token_callbacks = {k: v for k, v in callbacks.items() if isinstance(k, str)}
        # state -> {terminal or rule name: state to shift to, or (size, callback, rule name)}
        self._states: dict = {}
        for state, actions in table.states.items():
            row = {}
            for name, (action, arg) in actions.items():
                if action is Shift:
                    row[name] = arg
                else:
                    row[name] = (len(arg.expansion), callbacks[arg], arg.origin.name)
            self._states[state] = row
        self._start = table.start_states["start"]
        self._end = table.end_states["start"]

    def parse(self, text: str) -> Any:
        try:
            return self._parse(text)
        except Fallback:
            raise
        except Exception:       # a callback's error: it needs the token's position
            raise Fallback from None

    def _parse(self, text: str) -> Any:
        match, ignore, states = self._match, self._ignore, self._states
        token_callbacks = self._token_callbacks
        state_stack = [self._start]
        value_stack: list = []
        end = self._end
        pos, n = 0, len(text)
        while True:
            if pos < n:
                m = match(text, pos)
                if m is None:
                    raise Fallback
                kind = m.lastgroup
                pos = m.end()
                if kind in ignore:
                    continue
                value: Any = m.group()
                if kind in token_callbacks:
                    value = token_callbacks[kind](Token(kind, value))
            else:
                kind, value = "$END", None
            while True:
                action = states[state_stack[-1]].get(kind)
                if action is None:
                    raise Fallback
                if type(action) is int:            # shift
                    if value is None:
                        raise Fallback
                    state_stack.append(action)
                    value_stack.append(value)
                    break
                size, callback, name = action
                if size:
                    args = value_stack[-size:]
                    del state_stack[-size:]
                    del value_stack[-size:]
                else:
                    args = []
                result = callback(args)
                state_stack.append(states[state_stack[-1]][name])
                value_stack.append(result)
                if value is None and state_stack[-1] == end:
                    return value_stack[-1]


__all__ = ["FastParser", "Fallback"]
