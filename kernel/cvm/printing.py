"""Ops and functions print as the Lisp they came from: `(fn [x] (+ %0 1))`, `(let [a 1] %0)`.

Registered with the printer (kernel.data) when kernel.cvm is loaded, since the printer sits below
the classes it prints here.
"""
from __future__ import annotations

from typing import Any

from kernel.cvm import ops as O
from kernel.cvm.fn import CoreFn, Fn, MultiFn
from kernel.data.printer import PUNCT, SPACE, Text, encoded, register, seq
from kernel.data.scalars import Symbol
from kernel.data.vectors import List


def _form(head: str, *items: Any) -> list:
    parts = [Text("(" + head)]
    for x in items:
        parts += (SPACE, x)
    parts.append(PUNCT[")"])
    return parts


def _fn_body(f: Fn) -> list:
    return [seq("[", f.params, "]"), SPACE, f.body]


def _flat(nested: list) -> list:
    out = []
    for p in nested:
        out.extend(p if isinstance(p, list) else [p])
    return out


def _multi_fn(m: MultiFn) -> list:
    fns = m._functions()
    if not all(type(f) is Fn for f in fns):     # decoded data, not a real function
        return [Text(encoded(m))]
    return ([Text("(fn")]
            + _flat([[SPACE, PUNCT["("]] + _flat(_fn_body(f)) + [PUNCT[")"]] for f in fns])
            + [PUNCT[")"]])


def _let(op: Any) -> list:
    head = "(loop [" if op.is_loop else "(let ["
    parts: list = [Text(head)]
    for i, b in enumerate(op.bindings):
        if i:
            parts.append(SPACE)
        parts += (b, SPACE, op.ops[i])
    parts.append(PUNCT["]"])
    for body in op.ops[len(op.bindings):]:
        parts += (SPACE, body)
    parts.append(PUNCT[")"])
    return parts


def _lookup(op: Any) -> list:
    if op.address is None:
        return [op.symbol]
    return [op.address, Text("/"), op.symbol]


def _needs_quote(v: Any) -> bool:
    return isinstance(v, (Symbol, List))


register(CoreFn, atom=lambda f: f.name)
register(O.Local, atom=lambda op: f"%{op.pos}")
register(O.Special, atom=lambda op: op.symbol.name)
register(Fn, parts=lambda f: [Text("(fn ")] + _flat(_fn_body(f)) + [PUNCT[")"]])
register(MultiFn, parts=_multi_fn)
register(O.Constant,
         parts=lambda op: [op.value] if not _needs_quote(op.value) else _form("quote", op.value))
register(O.Invoke, parts=lambda op: seq("(", (op.fn,) + op.args, ")"))
register(O.Do, parts=lambda op: _form("do", *op.ops))
register(O.Cond, parts=lambda op: _form("cond", *op.ops))
register(O.Query, parts=lambda op: _form("query", *op.ops))
register(O.Try, parts=lambda op: _form("try", *op.ops))
register(O.Def, parts=lambda op: _form("def", op.key) if op.op is None else _form("def", op.key, op.op))
register(O.SetLocal, parts=lambda op: [Text(f"(set! %{op.pos} "), op.op, PUNCT[")"]])
register(O.Lambda, parts=lambda op: [op.fn])
register(O.Let, parts=_let)
register(O.Lookup, parts=_lookup)
