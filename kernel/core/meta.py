"""Syntax objects, definitions and metadata: syntax, meta, unsyntax, syntax?, lookup (as a
function value: the compiler handles `(lookup ...)` forms itself) and lookup-meta."""
from __future__ import annotations

from typing import Any

from kernel.cvm import juice as J
from kernel.cvm.errors import arg_cast_error
from kernel.data.hashmaps import Map
from kernel.data.scalars import Address, Symbol
from kernel.data.syntax import Syntax
from kernel.cvm.registry import core


@core("syntax", 21, arity=(1, 2), doc={
    "description": "Wraps a value in a syntax object with a metadata map (merged with any "
                   "metadata it already has).",
    "signature": ["[value]", "[value meta]"],
    "examples": [{"code": "(meta (syntax 1 {:a 2}))", "result": "{:a 2}"}],
    "errors": {"CAST": "if meta is not a map"}})
def _syntax(ctx, args: list, d: int) -> Any:
    v = args[0]
    meta = args[1] if len(args) > 1 else None
    if meta is not None and not isinstance(meta, Map):
        raise arg_cast_error(1, meta, "Map")
    ctx.charge(J.SYNTAX)
    if type(v) is Syntax:
        m = v.meta
        if meta is not None:
            ctx.charge(J.copy_cost(len(meta)))     # its entries are copied in
            m = m.merge(meta)
        return Syntax(v.datum, m)
    return Syntax(v, meta if meta is not None else Map.EMPTY)


@core("meta", 23, arity=1, doc={
    "description": "The metadata map of a syntax object, or nil for any other value.",
    "signature": ["[x]"],
    "examples": [{"code": "(meta (syntax :a {:doc \"x\"}))", "result": "{:doc \"x\"}"}]})
def _meta(ctx, args: list, d: int) -> Any:
    ctx.charge(J.META)
    v = args[0]
    return v.meta if type(v) is Syntax else None


@core("syntax?", 24, arity=1, doc={
    "description": "True if the value is a syntax object.",
    "signature": ["[x]"],
    "examples": [{"code": "(syntax? (syntax 1))", "result": "true"}]})
def _syntax_q(ctx, args: list, d: int) -> Any:
    ctx.charge(J.CHEAP_OP)
    return type(args[0]) is Syntax


@core("unsyntax", 22, arity=1, doc={
    "description": "The value inside a syntax object; any other value is returned unchanged.",
    "signature": ["[x]"],
    "examples": [{"code": "(unsyntax (syntax 1))", "result": "1"}]})
def _unsyntax(ctx, args: list, d: int) -> Any:
    ctx.charge(J.SYNTAX)
    v = args[0]
    return v.datum if type(v) is Syntax else v


@core("lookup", 32, arity=(1, 2), doc={
    "description": "The value a symbol is defined as in an account (the current one by "
                   "default, else through its parents to the core), or nil if it is not "
                   "defined. Written (lookup sym) it is a special form that takes the symbol "
                   "unevaluated; as a function value its arguments are evaluated.",
    "signature": ["[sym]", "[addr sym]"],
    "examples": [{"code": "(do (def x 1) (lookup x))", "result": "1"},
                 {"code": "(apply lookup [#8 'count])", "result": "count"}],
    "errors": {"CAST": "if sym is not a symbol or addr not an address",
               "COMPILE": "written as a form, if the last argument is not a symbol",
               "UNDECLARED": "written as a form, if the symbol is not defined"}})
def _lookup(ctx, args: list, d: int) -> Any:
    n = len(args)
    if n == 2:
        a = args[0]
        if type(a) is not Address:
            raise arg_cast_error(0, a, "Address")
        addr = a.n
    else:
        addr = None
    sym = args[n - 1]
    if type(sym) is not Symbol:
        raise arg_cast_error(n - 1, sym, "Symbol")
    result = ctx.lookup_value(addr, sym, None)
    ctx.charge(J.LOOKUP)
    return result


@core("lookup-meta", 33, arity=(1, 2), doc={
    "description": "The metadata map of a definition in an account (the current one by "
                   "default), or nil if the symbol is not defined there.",
    "signature": ["[sym]", "[addr sym]"],
    "examples": [{"code": "(do (def ^{:doc \"hi\"} x 1) (lookup-meta 'x))"}],
    "errors": {"CAST": "if sym is not a symbol or addr not an address"}})
def _lookup_meta(ctx, args: list, d: int) -> Any:
    if len(args) == 2:
        a, sym = args
        if type(a) is not Address:
            raise arg_cast_error(0, a, "Address")
        addr = a.n
    else:
        addr, sym = None, args[0]
    if type(sym) is not Symbol:
        raise arg_cast_error(len(args) - 1, sym, "Symbol")
    ctx.charge(J.LOOKUP)
    if addr is not None and ctx.state.account(addr) is None:
        return None
    return ctx.lookup_meta(addr, sym)
