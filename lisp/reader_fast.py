"""A lean driver for the reader's Lark LALR parser, for text that reads without error.

Lark stays the reader: the grammar (`convex.lark`), the terminals' regular expression, the
LALR tables and the shape of every rule's callback are all Lark's, exported once to
`reader_tables.json` (as Lark's own standalone generator exports them to code) and used
here without importing Lark. What this module replaces is the per-token machinery, most of
the time spent: Lark's lexer makes a Token object per token and tracks line and column for
every one, and its parser loop looks actions up through several objects per step. Here the
one scanner regex is matched in a loop, tokens are plain strings (the callbacks only need
their text) and the action tables are flat dicts. Importing Lark (~40 ms) is left to the
text that needs it.

No positions are tracked, so anything unusual is handed back: `FastParser.parse` raises
`Fallback` for a character no terminal matches, an unexpected token, or any error raised by a
callback (which would need a token's line and column), and the reader then parses the same
text with Lark itself, which gives the exact error. Valid text gives the same values as Lark.

The exported tables carry the grammar's hash: if the grammar changes, `load` rebuilds them
from Lark (tests/test_reader_fast.py fails until the file is written again:
`python -c "import lisp.reader_fast as f; f.write_tables()"`).
"""
from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any, Callable

TABLES = Path(__file__).with_name("reader_tables.json")


class Fallback(Exception):
    """The text needs Lark's own parser (an error to report with its position)."""


class _Tree:
    """What Lark's Tree is to the callbacks: an inlined rule's children, spliced by its
    parent (the `SLASH_SYMBOL+` of a path)."""

    __slots__ = ("data", "children")

    def __init__(self, data: str, children: list):
        self.data, self.children = data, children


def grammar_hash(grammar: str) -> str:
    return hashlib.sha3_256(grammar.encode("utf-8")).hexdigest()


def export(lark: Any, grammar: str) -> dict:
    """The tables of a Lark LALR parser with a basic lexer, as JSON data: the scanner regex,
    the ignored terminals, the rules ([size, callback shape, name]) and for each state each
    terminal's or rule's action: a state to shift to (>= 0) or rule i to reduce (-1 - i)."""
    from functools import partial

    from lark.parse_tree_builder import ChildFilterLALR_NoPlaceholders, ExpandSingleChild
    from lark.parsers.lalr_analysis import Shift
    from lark.tree import Tree

    frontend = lark.parser
    lexer = frontend.lexer
    scanner = lexer.scanner
    parser = frontend.parser.parser
    if (len(scanner._mres) != 1 or lexer.callback or lexer.user_callbacks
            or any(isinstance(k, str) for k in parser.callbacks)):
        raise ValueError("grammar not supported by the fast driver")

    def shape(cb: Any) -> list:
        if type(cb) is ExpandSingleChild:
            return ["single", shape(cb.node_builder)]
        if type(cb) is ChildFilterLALR_NoPlaceholders:
            return ["filter", [list(x) for x in cb.to_include], shape(cb.node_builder)]
        if type(cb) is partial and cb.func is Tree and len(cb.args) == 1 and not cb.keywords:
            return ["tree", cb.args[0]]
        name = getattr(cb, "__name__", None)
        if getattr(cb, "__self__", None) is not None and name:
            return ["method", name]
        raise ValueError(f"callback not supported by the fast driver: {cb!r}")

    table = parser.parse_table
    rules: list = []            # [size, callback shape, rule name]; reduce i is -1 - i
    index: dict = {}
    states = {}
    for state, actions in table.states.items():
        row = {}
        for name, (action, arg) in actions.items():
            if action is Shift:
                row[name] = arg
                continue
            if arg not in index:
                index[arg] = len(rules)
                rules.append([len(arg.expansion), shape(parser.callbacks[arg]),
                              arg.origin.name])
            row[name] = -1 - index[arg]
        states[str(state)] = row
    pattern = scanner._mres[0]
    return {"grammar": grammar_hash(grammar), "pattern": pattern.pattern,
            "flags": pattern.flags, "ignore": sorted(lexer.ignore_types),
            "start": table.start_states["start"], "end": table.end_states["start"],
            "rules": rules, "states": states}


def _callback(spec: list, builder: Any) -> Callable:
    kind = spec[0]
    if kind == "method":
        return getattr(builder, spec[1])
    if kind == "tree":
        name = spec[1]
        return lambda children: _Tree(name, children)
    if kind == "single":
        inner = _callback(spec[1], builder)
        return lambda children: children[0] if len(children) == 1 else inner(children)
    if kind == "filter":
        include = [(i, bool(expand)) for i, expand in spec[1]]
        inner = _callback(spec[2], builder)

        def filtered(children: list) -> Any:     # as Lark's ChildFilterLALR_NoPlaceholders
            out: list = []
            for i, expand in include:
                if expand:
                    if out:
                        out += children[i].children
                    else:
                        out = children[i].children
                else:
                    out.append(children[i])
            return inner(out)
        return filtered
    raise ValueError(f"unknown callback shape {spec!r}")


class FastParser:
    """Lark's scanner and LALR tables (as `export` gives them) driven without Token
    objects, calling `builder`'s rule methods."""

    def __init__(self, tables: dict, builder: Any):
        self._match = re.compile(tables["pattern"], tables["flags"]).match
        self._ignore = frozenset(tables["ignore"])
        rules = [(size, _callback(spec, builder), origin)
                 for size, spec, origin in tables["rules"]]
        self._states: dict = {}
        for state, actions in tables["states"].items():
            self._states[int(state)] = {name: a if a >= 0 else rules[-1 - a]
                                        for name, a in actions.items()}
        self._start, self._end = tables["start"], tables["end"]

    @classmethod
    def load(cls, grammar: str, builder: Any, make_lark: Callable[[], Any]) -> "FastParser":
        """From the exported tables when they are this grammar's, else from the Lark parser
        `make_lark()` builds (which imports Lark)."""
        try:
            tables = json.loads(TABLES.read_text(encoding="utf-8"))
            if tables.get("grammar") == grammar_hash(grammar):
                return cls(tables, builder)
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return cls(export(make_lark(), grammar), builder)

    def parse(self, text: str) -> Any:
        try:
            return self._parse(text)
        except Fallback:
            raise
        except Exception:       # a callback's error: it needs the token's position
            raise Fallback from None

    def _parse(self, text: str) -> Any:
        match, ignore, states = self._match, self._ignore, self._states
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


def write_tables() -> None:
    """Export the reader's Lark tables to reader_tables.json (after a grammar change)."""
    from lisp import reader
    TABLES.write_text(json.dumps(export(reader.lark_parser(), reader._GRAMMAR),
                                 sort_keys=True, separators=(",", ":")) + "\n",
                      encoding="utf-8")


__all__ = ["FastParser", "Fallback", "export", "write_tables", "TABLES"]
