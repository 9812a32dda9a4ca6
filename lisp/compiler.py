"""The on-chain compiler (CAD008): expanded forms to op trees, charging juice as it goes.

Symbol resolution order: lexical locals, special symbols (*address* ...), `#%name` core
references, `^:static` definitions (embedded as constants), then an environment lookup in
the account that defines the symbol (or the current account if none does).
"""
from __future__ import annotations

from typing import Any, Optional

from kernel.cvm import juice as J
from kernel.cvm.binding import (MAX_BINDING_DEPTH, BadBinding, BindingTooDeep, binding_symbols,
                                unwrap)
from kernel.cvm.context import MAX_DEPTH, Context
from kernel.cvm.errors import ARITY, CAST, COMPILE, DEPTH, SYNTAX, error
from kernel.cvm.fn import Fn, MultiFn
from kernel.data.hashmaps import Map, Set
from kernel.cvm.ops import (NIL, Cond, Constant, Def, Do, Invoke, Lambda, Let, Local, Lookup, Op,
                            Query, SetLocal, Special, Try)
from kernel.data.scalars import Address, Keyword, Symbol
from kernel.data.syntax import Syntax
from kernel.data.vectors import List, Vector

S = Symbol
DO, LET, COND, DEF, FN, QUOTE, QUASIQUOTE, UNQUOTE, QUERY, LOOP, SET_BANG, LOOKUP, TRY = map(
    S, ("do", "let", "cond", "def", "fn", "quote", "quasiquote", "unquote", "query", "loop",
        "set!", "lookup", "try"))
STATIC = Keyword("static")


class Scope:
    """Compile-time lexical scope: symbol -> binding position (immutable, shared freely)."""

    __slots__ = ("positions", "count")

    def __init__(self, positions: Optional[dict] = None, count: int = 0):
        self.positions = positions or {}
        self.count = count

    def bind(self, form: Any) -> "Scope":
        syms = binding_symbols(form)
        if not syms:
            return self
        p = dict(self.positions)
        n = self.count
        for s in syms:
            p[s] = n
            n += 1
        return Scope(p, n)


EMPTY_SCOPE = Scope()

# Coverage (convex_repl.insight.coverage) listens here for the list form each op is
# compiled from: a list it appends (op, form) to, None (no cost but this check) otherwise.
FORM_SINK: Optional[list] = None


def _enter(d: int) -> int:
    d += 1
    if d > MAX_DEPTH:
        raise error(DEPTH, f"Invalid depth: {d}")
    return d


def compile_form(ctx: Context, form: Any, scope: Scope = EMPTY_SCOPE, d: int = 0) -> Op:
    d = _enter(d)
    t = type(form)
    if t is Symbol:
        return _symbol(ctx, form, scope)
    if t is Syntax:
        return compile_form(ctx, form.datum, scope, d)
    if isinstance(form, List):
        if FORM_SINK is None:
            return _list(ctx, form, scope, d)
        op = _list(ctx, form, scope, d)
        FORM_SINK.append((op, form))
        return op
    if isinstance(form, Vector):
        if len(form) == 0:
            return _constant(ctx, form)
        ops = []
        for x in form:
            ops.append(compile_form(ctx, x, scope, d))
        ctx.charge(J.COMPILE_NODE)
        return Invoke(Constant(_core("vector")), ops)
    if isinstance(form, Map):
        if len(form) == 0:
            return _constant(ctx, form)
        items = [S("hash-map")]
        for k, v in form.items():
            items += [k, v]
        return _list(ctx, List.from_seq(items), scope, d)
    if isinstance(form, Set):
        if len(form) == 0:
            return _constant(ctx, form)
        return _list(ctx, List.from_seq([S("hash-set"), *form]), scope, d)
    if isinstance(form, Op):
        ctx.charge(J.COMPILE_CONSTANT)
        return form
    return _constant(ctx, form)


def _constant(ctx: Context, value: Any) -> Op:
    ctx.charge(J.COMPILE_CONSTANT)
    return NIL if value is None else Constant(value)


def _core(name: str) -> Any:
    from kernel.cvm.registry import CORE
    return CORE[name]


def _symbol(ctx: Context, sym: Symbol, scope: Scope) -> Op:
    pos = scope.positions.get(sym)
    if pos is not None:
        ctx.charge(J.COMPILE_LOOKUP)
        return Local(pos)
    name = sym.name
    if name[0] == "*":
        sp = Special.by_symbol.get(sym)
        if sp is not None:
            return sp
    elif name.startswith("#%"):
        from kernel.cvm.registry import CORE
        f = CORE.get(name[2:])
        if f is not None:
            return _constant(ctx, f)
    meta = ctx.lookup_meta(None, sym)
    if meta is not None and meta.get(STATIC) is True:
        ctx.charge(J.COMPILE_LOOKUP)
        return Constant(ctx.lookup_value(None, sym))
    a = ctx.defining_address(None, sym)
    ctx.charge(J.COMPILE_LOOKUP)
    return Lookup(Constant(Address(ctx.address if a is None else a)), sym)


def _list(ctx: Context, form: List, scope: Scope, d: int) -> Op:
    n = len(form)
    if n == 0:
        return _constant(ctx, form)
    head = unwrap(form[0])
    if type(head) is Symbol:
        special = _SPECIAL_FORMS.get(head)
        if special is not None:
            return special(ctx, form, scope, d)
    ops = []
    for x in form:
        ops.append(compile_form(ctx, x, scope, d))
    ctx.charge(J.COMPILE_NODE)
    return Invoke(ops[0], ops[1:])


# Compilation recurses once per level of nesting of the code: loops here (rather than list
# comprehensions, a Python frame each) keep the Python stack at MAX_DEPTH small.

def _all(ctx: Context, forms: Any, scope: Scope, d: int) -> list:
    ops = []
    for x in forms:
        ops.append(compile_form(ctx, x, scope, d))
    return ops


def _do(ctx, form, scope, d):
    ops = []
    for x in list(form)[1:]:
        ops.append(compile_form(ctx, x, scope, d))
    ctx.charge(J.COMPILE_NODE)
    if not ops:
        return NIL
    if len(ops) == 1:
        return ops[0]
    return Do(ops)


def _cond(ctx, form, scope, d):
    ops = []
    for x in list(form)[1:]:
        ops.append(compile_form(ctx, x, scope, d))
    ctx.charge(J.COMPILE_NODE)
    return Cond(ops)


def _query(ctx, form, scope, d):
    ops = _all(ctx, list(form)[1:], scope, d)
    ctx.charge(J.COMPILE_NODE)
    return Query(ops)


def _try(ctx, form, scope, d):
    # As the reference compiles it: (try) is nil and (try x) just x, as for do
    ops = _all(ctx, list(form)[1:], scope, d)
    ctx.charge(J.COMPILE_NODE)
    if not ops:
        return NIL
    if len(ops) == 1:
        return ops[0]
    return Try(ops)


def _quote(ctx, form, scope, d):
    if len(form) != 2:
        raise error(ARITY, "quote expects one argument.")
    return _constant(ctx, form[1])


def _quasiquote(ctx, form, scope, d):
    raise error(COMPILE, "unexpanded quasiquote in compiler. Remember to expand first!")


def _unquote(ctx, form, scope, d):
    from lisp.expander import expand_compile
    if len(form) != 2:
        raise error(ARITY, "unquote expects one argument.")
    op = expand_compile(ctx, form[1], d)
    value = op.run(ctx, None, d + 1)
    return expand_compile(ctx, value, d, scope)


def _binding_vector(ctx, form, what):
    if len(form) < 2:
        raise error(SYNTAX, f"{what} requires a binding vector")
    bv = unwrap(form[1])
    if not isinstance(bv, Vector):
        raise error(SYNTAX, f"{what} requires a vector of binding forms but got: {bv!r}")
    if len(bv) & 1:
        raise error(SYNTAX, f"{what} requires a binding vector with an even number of forms")
    return bv


def _let(ctx, form, scope, d, is_loop=False):
    from lisp.expander import expand_compile
    bv = _binding_vector(ctx, form, "loop" if is_loop else "let")
    bindings, ops = [], []
    for i in range(0, len(bv), 2):
        ops.append(expand_compile(ctx, bv[i + 1], d, scope))
        bf = _strip(bv[i])
        try:
            scope = scope.bind(bf)
        except BadBinding as e:
            raise _binding_error(e) from None
        bindings.append(bf)
    for x in list(form)[2:]:
        ops.append(expand_compile(ctx, x, d, scope))
    ctx.charge(J.COMPILE_NODE)
    try:
        return Let(bindings, ops, is_loop)
    except BadBinding as e:
        raise _binding_error(e) from None


def _loop(ctx, form, scope, d):
    return _let(ctx, form, scope, d, True)


def _binding_error(e: BadBinding) -> Exception:
    return error(DEPTH if isinstance(e, BindingTooDeep) else COMPILE, str(e))


def _strip(form: Any, depth: int = 0) -> Any:
    """A binding form without syntax wrappers (vectors rebuilt with plain elements)."""
    form = unwrap(form)
    if isinstance(form, Vector):
        if depth >= MAX_BINDING_DEPTH:
            raise _binding_error(BindingTooDeep(
                f"Binding form nested more than {MAX_BINDING_DEPTH} deep"))
        items = []
        for x in form:
            items.append(_strip(x, depth + 1))
        return Vector.from_seq(items)
    if type(form) is Symbol:
        return form
    raise error(COMPILE, f"Bad binding form: {_show(form)}")


def _fn(ctx, form, scope, d):
    if len(form) < 2:
        raise error(ARITY, "fn requires a parameter vector and body")
    first = unwrap(form[1])
    if isinstance(first, Vector):
        return _fn_instance(ctx, first, list(form)[2:], scope, d)
    fns = []
    for inst in list(form)[1:]:
        inst = unwrap(inst)
        if not isinstance(inst, List):
            raise error(SYNTAX, "fn instances must be of the form ([params] body...)")
        if len(inst) == 0:
            raise error(ARITY, "fn instance requires a parameter vector and body")
        if not isinstance(unwrap(inst[0]), Vector):
            raise error(SYNTAX, "fn instance requires a vector of parameters")
        fns.append(_fn_instance(ctx, unwrap(inst[0]), list(inst)[1:], scope, d).fn)
    ctx.charge(J.COMPILE_NODE)
    return Lambda(MultiFn(tuple(fns)))


def _fn_instance(ctx, params, body_forms, scope, d):
    params = _strip(params)
    try:
        inner = scope.bind(params)
    except BadBinding as e:
        raise _binding_error(e) from None
    body = []
    for x in body_forms:
        body.append(compile_form(ctx, x, inner, d))
    if not body:
        op = NIL
    elif len(body) == 1:
        op = body[0]
    else:
        op = Do(body)
    ctx.charge(J.COMPILE_NODE)
    try:
        return Lambda(Fn(params, op))
    except BadBinding as e:
        raise _binding_error(e) from None


def _def(ctx, form, scope, d):
    n = len(form)
    if n < 2:
        raise error(COMPILE, "def requires a symbol as second argument")
    if n > 3:
        raise error(COMPILE, "Too many arguments to def")
    key = form[1]
    if type(unwrap(key)) is not Symbol:
        raise error(COMPILE, "def requires a Symbol as first argument")
    if n == 3:
        exp = form[2]
        if type(exp) is Syntax:
            key = _merge_meta(key, exp.meta)
            exp = exp.datum
        op = compile_form(ctx, exp, scope, d)
    else:
        op = None
    ctx.charge(J.COMPILE_NODE)
    return Def(key, op)


def _merge_meta(key: Any, meta: Map) -> Any:
    if type(key) is Syntax:
        m = key.meta
        for k, v in meta.items():
            m = m.assoc(k, v)
        return Syntax(key.datum, m)
    return Syntax(key, meta) if len(meta) else key


def _set_bang(ctx, form, scope, d):
    if len(form) != 3:
        raise error(ARITY, "set! requires two arguments, a symbol and an expression")
    sym = unwrap(form[1])
    if type(sym) is not Symbol:
        raise error(SYNTAX, "set! requires a symbol as first argument")
    exp = compile_form(ctx, form[2], scope, d)
    pos = scope.positions.get(sym)
    ctx.charge(J.COMPILE_NODE)
    if pos is None:
        acct = ctx.account()
        if acct is not None and acct.environment.contains(sym):
            return Def(sym, exp)
        # Not defined yet (e.g. a def earlier in the same form): as in the reference, check
        # when it runs: (cond (lookup-meta *address* 'sym) (def sym exp) (fail :UNDECLARED 'sym))
        ctx.charge(2 * J.COMPILE_NODE)
        name = Constant(sym)
        return Cond((Invoke(Constant(_core("lookup-meta")),
                            (Special.by_symbol[Symbol("*address*")], name)),
                     Def(sym, exp),
                     Invoke(Constant(_core("fail")), (Constant(Keyword("UNDECLARED")), name))))
    return SetLocal(pos, exp)


def _lookup(ctx, form, scope, d):
    n = len(form)
    if n < 2 or n > 3:
        raise error(ARITY, "lookup requires one or two arguments: an optional expression "
                           "specifying an account and a Symbol")
    addr_op = compile_form(ctx, form[1], scope, d) if n == 3 else None
    sym = unwrap(form[n - 1])
    if type(sym) is not Symbol:
        raise error(COMPILE, "lookup requires a Symbol as last argument")
    if isinstance(addr_op, Constant):
        # a constant that is not an address fails here, when compiling, as in the reference
        if type(addr_op.value) is not Address:
            raise error(CAST, "lookup first expression must be an Address")
        meta = ctx.lookup_meta(addr_op.value.n, sym)
        if meta is not None and meta.get(STATIC) is True:
            ctx.charge(J.COMPILE_LOOKUP)
            return Constant(ctx.lookup_value(addr_op.value.n, sym))
    ctx.charge(J.COMPILE_NODE)
    return Lookup(addr_op, sym)


_SPECIAL_FORMS = {
    DO: _do, LET: _let, COND: _cond, DEF: _def, FN: _fn, QUOTE: _quote,
    QUASIQUOTE: _quasiquote, UNQUOTE: _unquote, QUERY: _query, LOOP: _loop,
    SET_BANG: _set_bang, LOOKUP: _lookup, TRY: _try,
}


def _show(v: Any) -> str:
    from kernel.data.printer import print_value
    return print_value(v)


__all__ = ["compile_form", "Scope", "EMPTY_SCOPE"]
