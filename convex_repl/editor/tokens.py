"""Convex Lisp text as tokens and a light syntax tree with positions, comments included.

The reader (lisp.reader) builds values and drops comments and layout; an editor needs both.
Its Lark grammar's lexer does the tokenising here too (`lex(..., dont_ignore=True)` keeps the
whitespace and comments the grammar ignores), so a token means exactly what it means to the
reader. Text is checked with the reader first: what does not read raises its ReaderError.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from importlib import resources
from typing import Optional

OPEN = {"LPAR": ")", "LSQB": "]", "LBR": "}", "SET_LBR": "}"}
CLOSE = frozenset(("_RPAR", "_RSQB", "_RBR"))
PREFIX = frozenset(("QUOTING", "META", "DISCARD", "TAG"))     # apply to the form after them
LAYOUT = frozenset(("WS", "COMMENT"))

_LEXER = None
_LOCK = threading.Lock()


@dataclass
class Tok:
    type: str
    text: str
    start: int          # offset in the text
    end: int
    line: int           # 1-based, as the reader's
    col: int


def _lexer():
    global _LEXER
    with _LOCK:
        if _LEXER is None:
            from lark import Lark
            grammar = resources.files("lisp").joinpath("convex.lark").read_text("utf-8")
            _LEXER = Lark(grammar, parser="lalr", lexer="basic", cache=True)
    return _LEXER


def lex(text: str) -> list:
    """Every token of `text`, whitespace and comments included, in order. The text must
    read (lisp.read_all raises its ReaderError first otherwise)."""
    from lisp import read_all
    read_all(text)
    return [Tok(t.type, str(t), t.start_pos, t.end_pos, t.line, t.column)
            for t in _lexer().lex(text, dont_ignore=True)]


def top_level_start(text: str, offset: int) -> int:
    """Where the top-level form around offset starts, for text that may not read (the start
    of the last form opened at the top level before offset; 0 if none)."""
    start, depth = 0, 0
    try:
        for t in _lexer().lex(text, dont_ignore=True):
            if t.start_pos > offset:
                break
            if t.type in OPEN:
                if depth == 0:
                    start = t.start_pos
                depth += 1
            elif t.type in CLOSE:
                depth = max(0, depth - 1)
            elif depth == 0 and t.type not in LAYOUT:
                start = t.end_pos
    except Exception:           # a token that doesn't lex: the forms before it are kept
        pass
    return start


@dataclass
class Node:
    """A form in the text: kind is "list", "vector", "map", "set" (children are the forms
    inside), "atom" (one token; `path` adds `/name` steps), or "prefixed" (a quote, `^meta`,
    `#_` or `#Tag` and the forms it applies to, in children)."""
    kind: str
    start: int
    end: int
    line: int
    col: int
    tok: Optional[Tok] = None          # the atom's token, or the opening bracket / prefix
    children: list = field(default_factory=list)
    path: list = field(default_factory=list)   # SLASH_SYMBOL tokens after the form

    @property
    def text(self) -> str:
        return self.tok.text if self.tok is not None else ""

    @property
    def symbol(self) -> Optional[str]:
        """The symbol an atom is (without path steps), or None."""
        if self.kind == "atom" and self.tok.type == "SYMBOL" and not self.path:
            return self.tok.text
        return None

    def head(self) -> Optional[str]:
        """The symbol a list starts with, or None."""
        if self.kind == "list" and self.children:
            return self.children[0].symbol
        return None

    def walk(self):
        """This node and every node inside it, depth first."""
        work = [self]
        while work:
            n = work.pop()
            yield n
            work.extend(reversed(n.children))


_KINDS = {"LPAR": "list", "LSQB": "vector", "LBR": "map", "SET_LBR": "set"}


def parse(text: str) -> tuple:
    """(top-level nodes, comment tokens) of text that reads. `#_ x` stays a prefixed node
    (kind "prefixed", tok DISCARD): it is in the text, though the reader drops it."""
    toks = [t for t in lex(text) if t.type != "WS"]
    comments = [t for t in toks if t.type == "COMMENT"]
    code = [t for t in toks if t.type != "COMMENT"]
    top: list = []
    stack: list = []            # (node, pending prefixes) of open brackets
    pending: list = []          # prefix nodes waiting for their form(s)
    frames = [(top, pending)]

    def finish(node: Node) -> None:
        items, pend = frames[-1]
        while pend:
            p = pend[-1]
            p.children.append(node)
            p.end = node.end
            need = 2 if p.tok.type == "META" else 1
            if len(p.children) < need:
                return
            pend.pop()
            node = p
        items.append(node)

    i = 0
    while i < len(code):
        t = code[i]
        if t.type in OPEN:
            node = Node(_KINDS[t.type], t.start, t.end, t.line, t.col, t)
            stack.append(node)
            frames.append((node.children, []))
        elif t.type in CLOSE:
            node = stack.pop()
            frames.pop()
            node.end = t.end
            finish(_with_path(node, code, i))
            i += len(node.path)
        elif t.type in PREFIX:
            frames[-1][1].append(Node("prefixed", t.start, t.end, t.line, t.col, t))
        else:
            node = _with_path(Node("atom", t.start, t.end, t.line, t.col, t), code, i)
            i += len(node.path)
            finish(node)
        i += 1
    return top, comments


def _with_path(node: Node, code: list, i: int) -> Node:
    j = i + 1
    while j < len(code) and code[j].type == "SLASH_SYMBOL":
        node.path.append(code[j])
        node.end = code[j].end
        j += 1
    return node


DEF_HEADS = frozenset(("def", "defn", "defmacro", "defexpander", "defonce", "deftest",
                       "defactor", "defrecord"))


def definitions(nodes: list) -> list:
    """(name, head, name node, form node) of the definitions at the top level of the
    nodes, and inside top-level `do`s: `(def x ...)`, `(defn f ...)`, `(deftest t ...)`."""
    out = []
    work = list(nodes)
    while work:
        n = work.pop(0)
        head = n.head()
        if head == "do":
            work[:0] = n.children[1:]
            continue
        if head in DEF_HEADS and len(n.children) > 1:
            name = n.children[1]
            while name.kind == "prefixed" and name.tok.type == "META" and len(name.children) == 2:
                name = name.children[1]
            if name.symbol:
                out.append((name.symbol, head, name, n))
    return out


__all__ = ["Tok", "Node", "lex", "parse", "top_level_start", "definitions", "OPEN", "CLOSE",
           "PREFIX", "DEF_HEADS"]
