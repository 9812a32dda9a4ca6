"""Expansion (CAD009): expansion-passing style, where an expander is `(fn [x e] ...)` that
gets the form and the continuation expander `e` to apply to the result.

The initial expander walks data structures and hands lists headed by an expander
(a definition with `:expander true` metadata) to that expander. `quote`, `quasiquote`,
`defmacro` and `macro` are expanders defined here; everything else (if, defn, when, ...) is
written in Convex Lisp in stdlib/core.cvx.

`eval`, `expand`, `expand-1` and `compile` are core functions: they charge juice and run
inside the CVM like any other call.
"""
from __future__ import annotations

from typing import Any, Optional

from kernel.cvm import juice as J
from kernel.cvm import lang
from kernel.cvm.binding import unwrap
from kernel.cvm.context import MAX_DEPTH, Context, invoke
from kernel.cvm.registry import core
from kernel.cvm.errors import ARITY, DEPTH, Recur, Return, TailCall, arg_cast_error, error
from kernel.cvm.fn import is_fn
from kernel.data.hashmaps import Map, Set
from kernel.cvm.ops import Op
from kernel.data.scalars import Address, Keyword, Symbol
from kernel.data.syntax import Syntax
from kernel.data.vectors import List, Vector

from lisp.compiler import EMPTY_SCOPE, Scope, compile_form

EXPANDER = Keyword("expander?")
S = Symbol
LOOKUP, QUOTE, QUASIQUOTE, UNQUOTE, UNQUOTE_SPLICING = map(
    S, ("lookup", "quote", "quasiquote", "unquote", "unquote-splicing"))


def _enter(d: int) -> int:
    d += 1
    if d > MAX_DEPTH:
        raise error(DEPTH, f"Invalid depth: {d}")
    return d


def lookup_expander(ctx: Context, form: Any) -> Any:
    """The expander a list head names, or None."""
    addr: Optional[int] = None
    if type(form) is Symbol:
        sym = form
    elif isinstance(form, List):
        n = len(form)
        if n < 2 or unwrap(form[0]) is not LOOKUP:
            return None
        sym = unwrap(form[n - 1])
        if type(sym) is not Symbol:
            return None
        if n == 3:
            a = unwrap(form[1])
            if type(a) is Symbol:
                a = ctx.lookup_value(None, a, None)
            if type(a) is not Address:
                return None
            addr = a.n
        elif n != 2:
            return None
    else:
        return None
    meta = ctx.lookup_meta(addr, sym)
    if meta is None:
        return None
    flag = meta.get(EXPANDER)
    if flag is None or flag is False:
        return None
    f = ctx.lookup_value(addr, sym, None)
    return f if is_fn(f) else None


def expand(ctx: Context, expander: Any, form: Any, cont: Any, d: int) -> Any:
    """Apply an expander to a form with a continuation, one level deeper. The initial
    expander is called directly, as `invoke` would (it recurses once per level of nesting of
    the code, so this keeps the Python stack at MAX_DEPTH small)."""
    d = _enter(d)
    if expander is INITIAL_EXPANDER:
        try:
            return _initial(ctx, [form, cont], d)
        except Recur as r:            # what invoke does with them, for a function that is
            return invoke(ctx, expander, r.args_, d)     # not recur, tailcall* or return
        except TailCall as t:
            return invoke(ctx, t.fn, t.args_, d)
        except Return as r:
            return r.value
    return invoke(ctx, expander, [form, cont], d)


def _initial(ctx: Context, args: list, d: int) -> Any:
    x, cont = args
    if not is_fn(cont):
        raise arg_cast_error(1, cont, "Function")
    if type(x) is Syntax:
        expanded = invoke(ctx, INITIAL_EXPANDER, [x.datum, cont], d)
        ctx.charge(J.EXPAND_CONSTANT)
        return _merge_syntax(expanded, x)
    if isinstance(x, List):
        if len(x) == 0:
            ctx.charge(J.EXPAND_CONSTANT)
            return x
        ex = lookup_expander(ctx, unwrap(x[0]))
        if ex is not None:
            return expand(ctx, ex, x, cont, d)
        return _expand_items(ctx, x, cont, d, List.from_seq)
    if isinstance(x, Vector):
        if len(x) == 0:
            ctx.charge(J.EXPAND_CONSTANT)
            return x
        return _expand_items(ctx, x, cont, d, Vector.from_seq)
    if isinstance(x, Set):
        out = [expand(ctx, cont, e, cont, d) for e in x]
        ctx.charge(J.EXPAND_SEQUENCE)
        return Set.from_seq(out)
    if isinstance(x, Map):
        pairs = []
        for k, v in x.items():
            pairs.append((expand(ctx, cont, k, cont, d), expand(ctx, cont, v, cont, d)))
        ctx.charge(J.EXPAND_SEQUENCE)
        return Map.from_pairs(pairs)
    ctx.charge(J.EXPAND_CONSTANT)
    return x


def _expand_items(ctx: Context, seq: Any, cont: Any, d: int, build) -> Any:
    items = list(seq)
    changed = False
    for i, e in enumerate(items):
        n = expand(ctx, cont, e, cont, d)
        if n is not e:
            items[i] = n
            changed = True
    ctx.charge(J.EXPAND_SEQUENCE)
    return build(items) if changed else seq


def _merge_syntax(expanded: Any, original: Syntax) -> Syntax:
    if type(expanded) is Syntax:
        meta = expanded.meta
        for k, v in original.meta.items():
            meta = meta.assoc(k, v)
        return Syntax(expanded.datum, meta)
    return Syntax(expanded, original.meta)


INITIAL_EXPANDER = core("*initial-expander*", 259, arity=2, doc={
    "description": "The expander every form starts with: expands macros in list heads and "
                   "walks into vectors, maps and sets, passing each part to the continuation.",
    "signature": ["[form cont]"],
    "examples": [{"code": "(*initial-expander* '(if a b) *initial-expander*)"}],
})(_initial)


def expand_compile(ctx: Context, form: Any, d: int, scope: Scope = EMPTY_SCOPE) -> Op:
    """Expand with the initial expander, then compile (what `compile` and `eval` do)."""
    d = _enter(d)
    expanded = invoke(ctx, INITIAL_EXPANDER, [form, INITIAL_EXPANDER], d)
    return compile_form(ctx, expanded, scope, d)


def eval_form(ctx: Context, form: Any, d: int = 0) -> Any:
    """Evaluate a form in the current account: ops run directly, anything else is expanded
    and compiled first. Runs with no lexical bindings, one level below `d`."""
    op = form if isinstance(form, Op) else expand_compile(ctx, form, d)
    return op.run(ctx, None, d + 1)


# --- core functions -------------------------------------------------------------------------

@core("eval", 17, arity=1, doc={
    "description": "Evaluates a form as code in the current account: expands, compiles and "
                   "runs it. Local bindings of the caller are not visible.",
    "signature": ["[form]"],
    "examples": [{"code": "(eval '(+ 1 2))", "result": "3"}],
    "errors": {"UNDECLARED": "if the form uses a symbol that is not defined"}})
def _eval(ctx: Context, args: list, d: int) -> Any:
    ctx.charge(J.EVAL)
    return eval_form(ctx, args[0], d)


@core("compile", 257, arity=1, doc={
    "description": "Expands and compiles a form into an op, the CVM's executable code value.",
    "signature": ["[form]"],
    "examples": [{"code": "(compile '(+ 1 2))"}]})
def _compile(ctx: Context, args: list, d: int) -> Any:
    return expand_compile(ctx, args[0], d)


@core("expand", 258, arity=(1, 3), doc={
    "description": "Expands a form. With one argument uses the initial expander; with an "
                   "expander `e` calls `(e form e)`; with a continuation `c` calls `(e form c)`.",
    "signature": ["[form]", "[form expander]", "[form expander cont]"],
    "examples": [{"code": "(expand '(if a b))", "result": "(cond a b)"}],
    "errors": {"CAST": "if the expander or continuation is not a function"}})
def _expand(ctx: Context, args: list, d: int) -> Any:
    form = args[0]
    ex = args[1] if len(args) > 1 else INITIAL_EXPANDER
    cont = args[2] if len(args) > 2 else ex
    if not is_fn(ex):
        raise arg_cast_error(1, ex, "Function")
    if not is_fn(cont):
        raise arg_cast_error(2, cont, "Function")
    return expand(ctx, ex, form, cont, d)


@core("expand-1", 1001, arity=1, doc={
    "description": "Expands a form one step: macros in the head are applied once, without "
                   "expanding their result further.",
    "signature": ["[form]"],
    "examples": [{"code": "(expand-1 '(when a b))", "result": "(cond a (do b))"}]})
def _expand_1(ctx: Context, args: list, d: int) -> Any:
    return expand(ctx, INITIAL_EXPANDER, args[0], IDENTITY_EXPANDER, d)


def _identity(ctx: Context, args: list, d: int) -> Any:
    ctx.charge(J.EXPAND_CONSTANT)
    return args[0]


IDENTITY_EXPANDER = core("identity-expander", 1002, arity=2, doc={
    "description": "An expander that returns its form unchanged.",
    "signature": ["[form cont]"],
    "examples": [{"code": "(expand '(if a b) *initial-expander* identity-expander)"}]})(_identity)


# --- expanders for quote, quasiquote, macro, defmacro ----------------------------------------

def _quote(ctx: Context, args: list, d: int) -> Any:
    ctx.charge(J.EXPAND_CONSTANT)
    return args[0]


QUOTE_EXPANDER = core("quote", 0, arity=2, doc={
    "description": "Returns its argument unevaluated: 'x is (quote x).",
    "signature": ["[form]"],
    "examples": [{"code": "'(+ 1 2)", "result": "(+ 1 2)"}]})(_quote)


def _qq(form: Any, level: int, gensyms: dict, d: int) -> Any:
    """Code that builds `form` with unquoted parts evaluated (at quasiquote depth `level`).
    Symbols ending in # become generated symbols, the same within one quasiquote; syntax
    metadata (^{...}) is kept by rebuilding the syntax object around the datum. Each level of
    the template is one level of depth (`d`), so a template nested too deeply is a :DEPTH
    error."""
    d = _enter(d)
    if type(form) is Syntax and len(form.meta):
        return List.of(S("syntax"), _qq(form.datum, level, gensyms, d),
                       List.of(QUOTE, form.meta))
    x = unwrap(form)
    if isinstance(x, List) and len(x) > 0:
        head = unwrap(x[0])
        if head is UNQUOTE and len(x) == 2:
            if level == 1:
                return x[1]
            return List.of(S("list"), List.of(QUOTE, UNQUOTE), _qq(x[1], level - 1, gensyms, d))
        if head is QUASIQUOTE and len(x) == 2:
            return List.of(S("list"), List.of(QUOTE, QUASIQUOTE),
                           _qq(x[1], level + 1, gensyms, d))
        return _qq_seq(x, level, S("list"), gensyms, d)
    if isinstance(x, Vector):
        if len(x) == 0:
            return x
        return _qq_seq(x, level, S("vector"), gensyms, d)
    if isinstance(x, Map):
        if len(x) == 0:
            return x
        items = [S("hash-map")]
        for k, v in x.items():
            items += [_qq(k, level, gensyms, d), _qq(v, level, gensyms, d)]
        return List.from_seq(items)
    if isinstance(x, Set):
        if len(x) == 0:
            return x
        items = [S("hash-set")]
        for e in x:
            items.append(_qq(e, level, gensyms, d))
        return List.from_seq(items)
    if type(x) is Symbol:
        if x.name.endswith("#") and len(x.name) > 1:
            x = gensyms.setdefault(x, Symbol(f"{x.name[:-1]}__{gensyms['#seed']}"))
        return List.of(QUOTE, x)
    if isinstance(x, List):
        return List.of(QUOTE, x)
    return x


def _qq_seq(items: Any, level: int, builder: Symbol, gensyms: dict, d: int) -> Any:
    parts, chunk, spliced = [], [], False
    for e in items:
        u = unwrap(e)
        if (isinstance(u, List) and len(u) == 2 and unwrap(u[0]) is UNQUOTE_SPLICING
                and level == 1):
            if chunk:
                parts.append(List.from_seq([S("vector")] + chunk))
                chunk = []
            parts.append(u[1])
            spliced = True
        else:
            chunk.append(_qq(e, level, gensyms, d))
    if not spliced:
        return List.from_seq([builder] + chunk)
    if chunk:
        parts.append(List.from_seq([S("vector")] + chunk))
    cat = List.from_seq([S("concat")] + parts)
    if builder is S("vector"):
        return List.of(S("vec"), cat)
    return List.of(S("apply"), S("list"), cat)


def _quasiquote(ctx: Context, args: list, d: int) -> Any:
    x, e = args
    x = unwrap(x)
    if len(x) != 2:
        raise error(ARITY, "quasiquote expects one argument.")
    ctx.charge(J.EXPAND_SEQUENCE)
    from kernel import value_id
    seed = value_id(x[1]).hex()[:8]   # deterministic: generated names depend only on the form
    return expand(ctx, e, _qq(x[1], 1, {"#seed": seed}, d), e, d)


QUASIQUOTE_EXPANDER = core("quasiquote", 1004, arity=2, doc={
    "description": "Builds a form from a template: parts marked ~x are evaluated and ~@xs "
                   "are spliced in; everything else is quoted.",
    "signature": ["[form]"],
    "examples": [{"code": "(let [a 2] `[1 ~a ~@[3 4]])", "result": "[1 2 3 4]"}]})(_quasiquote)


def _unquote(ctx: Context, args: list, d: int) -> Any:
    ctx.charge(J.EXPAND_CONSTANT)
    return args[0]


def _macro_fn(spec: list) -> Any:
    """`(fn [x e] (e (apply (fn spec...) (next x)) e))` -- a macro body as an expander."""
    x, e = S("x"), S("e")
    inner = List.from_seq([S("fn")] + spec)
    call = List.of(S("apply"), inner, List.of(S("next"), x))
    return List.of(S("fn"), Vector.of(x, e), List.of(e, call, e))


def _defmacro(ctx: Context, args: list, d: int) -> Any:
    x, e = args
    x = unwrap(x)
    if len(x) < 3:
        raise error(ARITY, "defmacro requires a name and a function definition")
    name = x[1]
    spec = list(x)[2:]
    meta = Map.from_pairs([(EXPANDER, True)])
    if _is_string(spec[0]) and len(spec) > 1:      # Clojure-style docstring
        meta = meta.assoc(Keyword("doc"),
                          Map.from_pairs([(Keyword("description"), unwrap(spec[0]))]))
        spec = spec[1:]
    if type(spec[0]) is Syntax:                     # ^{:doc ...} on the parameter vector
        meta = _merge(spec[0].meta, meta)
    if type(name) is Syntax:
        meta = _merge(name.meta, meta)
    form = List.of(S("def"), Syntax(unwrap(name), meta), _macro_fn(spec))
    ctx.charge(J.EXPAND_SEQUENCE)
    return expand(ctx, e, form, e, d)


def _macro(ctx: Context, args: list, d: int) -> Any:
    x, e = args
    x = unwrap(x)
    ctx.charge(J.EXPAND_SEQUENCE)
    return expand(ctx, e, _macro_fn(list(x)[1:]), e, d)


def _is_string(v: Any) -> bool:
    from kernel.data.blobs import String
    return isinstance(unwrap(v), String)


def _merge(a: Map, b: Map) -> Map:
    for k, v in b.items():
        a = a.assoc(k, v)
    return a


UNQUOTE_EXPANDER = core("unquote", 1005, arity=2, doc={
    "description": "Inside a quasiquote template, marks a form to evaluate: `[1 ~(+ 1 1)] "
                   "gives [1 2]. Outside a template it evaluates its form at compile time.",
    "signature": ["[form]"],
    "examples": [{"code": "`[1 ~(+ 1 1)]", "result": "[1 2]"}]})(_unquote)
DEFMACRO = core("defmacro", 1006, arity=2, doc={
    "description": "Defines a macro: a function from forms to a form, applied at expansion "
                   "time to the arguments of every call.",
    "signature": ["[name params & body]"],
    "examples": [{"code": "(defmacro twice [x] `(do ~x ~x))"}]})(_defmacro)
MACRO = core("macro", 1007, arity=2, doc={
    "description": "Makes an expander from a function over forms (the value a defmacro "
                   "defines).",
    "signature": ["[params & body]"],
    "examples": [{"code": "(def twice ^{:expander? true} (macro [x] (list 'do x x)))"}]})(_macro)

lang.install(eval_form)     # the CVM's eval, deploy and eval-as run forms through here

EXPANDER_DEFS = ("quote", "quasiquote", "unquote", "defmacro", "macro")

__all__ = ["expand_compile", "eval_form", "lookup_expander", "INITIAL_EXPANDER",
           "EXPANDER_DEFS"]
