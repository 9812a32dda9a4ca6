"""Binding forms: symbols, `_`, and vector destructuring with `&` rest (shared by let, loop
and fn parameters). A binder appends values to the lexical binding list in the same order
the compiler allocated positions for the form's symbols."""
from __future__ import annotations

from typing import Any, Callable

from .errors import ARITY, CAST, error
from .scalars import Symbol
from .syntax import Syntax
from .vectors import List, Vector

Binder = Callable[[list, Any], None]
AMP = Symbol("&")
UNDERSCORE = Symbol("_")


MAX_BINDING_DEPTH = 64      # vectors nested in a binding form, at most


class BadBinding(ValueError):
    """A binding form the compiler must reject with :COMPILE."""


class BindingTooDeep(BadBinding):
    """A binding form with vectors nested more than MAX_BINDING_DEPTH deep (:DEPTH)."""


def _too_deep() -> BindingTooDeep:
    return BindingTooDeep(f"Binding form nested more than {MAX_BINDING_DEPTH} deep")


def unwrap(form: Any) -> Any:
    while type(form) is Syntax:
        form = form.datum
    return form


def binding_symbols(form: Any, depth: int = 0) -> list:
    """Symbols bound by a form, in position order (`_` binds nothing)."""
    form = unwrap(form)
    if type(form) is Symbol:
        return [] if form is UNDERSCORE else [form]
    if isinstance(form, Vector):
        if depth >= MAX_BINDING_DEPTH:
            raise _too_deep()
        out: list = []
        items = [unwrap(x) for x in form]
        seen_amp = False
        i = 0
        while i < len(items):
            x = items[i]
            if x is AMP:
                if seen_amp:
                    raise BadBinding("Can't bind two or more ampersands in a single binding vector")
                if i >= len(items) - 1:
                    raise BadBinding("Can't bind ampersand at end of binding form")
                seen_amp = True
                i += 1
                continue
            out.extend(binding_symbols(x, depth + 1))
            i += 1
        return out
    raise BadBinding("Bad binding form")


def as_sequence(v: Any) -> "tuple | None":
    if v is None:
        return ()
    if isinstance(v, (Vector, List)):
        return v.to_tuple()
    if isinstance(v, (list, tuple)):
        return tuple(v)
    from .hashmaps import Map, Set
    if isinstance(v, (Map,)):
        return tuple(Vector.of(k, x) for k, x in v.items())
    if isinstance(v, Set):
        return tuple(v)
    return None


def binder(form: Any, depth: int = 0) -> Binder:
    form = unwrap(form)
    if type(form) is Symbol:
        if form is UNDERSCORE:
            return lambda env, v: None
        return lambda env, v: env.append(v)
    if isinstance(form, Vector):
        if depth >= MAX_BINDING_DEPTH:
            raise _too_deep()
        return _vector_binder(form, depth)
    raise BadBinding("Bad binding form")


def _vector_binder(form: Vector, depth: int) -> Binder:
    items = [unwrap(x) for x in form]
    binding_symbols(form, depth)  # validates ampersands
    if all(type(x) is Symbol and x is not AMP and x is not UNDERSCORE for x in items):
        n = len(items)

        def bind_simple(env: list, v: Any) -> None:
            seq = v if type(v) is list else as_sequence(v)
            if seq is None:
                raise error(CAST, "Trying to destructure an argument that is not a sequential collection")
            if len(seq) != n:
                raise error(ARITY, f"Expected {n} arguments but got {len(seq)} for binding form: "
                                   f"{_show(form)}")
            env.extend(seq)
        return bind_simple

    depth += 1
    if AMP in items:
        k = items.index(AMP)
        before = [binder(x, depth) for x in items[:k]]
        rest = binder(items[k + 1], depth)
        after = [binder(x, depth) for x in items[k + 2:]]
    else:
        before, rest, after = [binder(x, depth) for x in items], None, []
    nb, na = len(before), len(after)

    def bind(env: list, v: Any) -> None:
        seq = as_sequence(v)
        if seq is None:
            raise error(CAST, "Trying to destructure an argument that is not a sequential collection")
        n = len(seq)
        if rest is None:
            if n != nb:
                raise error(ARITY, f"Expected {nb} arguments but got {n} for binding form: "
                                   f"{_show(form)}")
        elif n < nb + na:
            raise error(ARITY, "Insufficient arguments to allow variadic binding")
        for i in range(nb):
            before[i](env, seq[i])
        if rest is not None:
            rest(env, Vector.from_seq(seq[nb:n - na]))
            for i in range(na):
                after[i](env, seq[n - na + i])
    return bind


def _show(form: Any) -> str:
    """A binding form named in an error message, cut short if long."""
    from lisp.printer import print_brief
    return print_brief(form)
