"""Binding forms: symbols, `_`, and vector destructuring with `&` rest (shared by let, loop
and fn parameters). A binder appends values to the lexical binding list in the same order
the compiler allocated positions for the form's symbols.

Destructuring takes only the elements it binds: the count is checked first, and a `& rest`
of a value pays J.copy_cost for the elements it copies, before copying them (a rest that is
a leading part of a vector shares its nodes and is free, as are the arguments of a call)."""
from __future__ import annotations

from typing import Any, Callable

from kernel.cvm import juice as J
from kernel.cvm.errors import ARITY, CAST, error
from kernel.data.hashmaps import Map, Set
from kernel.data.scalars import Symbol
from kernel.data.syntax import Syntax
from kernel.data.vectors import List, Vector

Binder = Callable[[Any, list, Any], None]   # (ctx, env, value)
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


_COUNTED = (list, tuple, Vector, List, Map, Set)


def _count(v: Any) -> "int | None":
    """Elements of a value a vector binding form can destructure, or None: nil, a sequence,
    a map (its entries), a set, or the argument list of a call (a Python list or tuple)."""
    if isinstance(v, _COUNTED):
        return len(v)
    return 0 if v is None else None


def _nth(v: Any, i: int) -> Any:
    """Element i of a value _count accepts (0 <= i < count), taken without copying the rest."""
    if isinstance(v, Map):
        k, x = v.entry_at(i)
        return Vector.of(k, x)
    if isinstance(v, Set):
        return v.element_at(i)
    return v[i]


_FEW = 2 * J.COPY_FREE     # values with at most this many elements are taken whole


def _elements(v: Any, n: int) -> Any:
    """All n elements of a value _count accepts (the caller knows n is small, or that v
    is the argument list of a call), as a list or tuple."""
    t = type(v)
    if t is list or t is tuple:
        return v
    if isinstance(v, (Vector, List)):
        return v.to_tuple()
    return [_nth(v, i) for i in range(n)]


def _rest(ctx: Any, v: Any, lo: int, hi: int, seq: Any) -> Vector:
    """Elements [lo, hi) of v as a vector, for a `& rest` binding (seq: v's elements if
    already taken, else None). The arguments of a call are collected free: there are only as
    many as the call paid to pass. A value's elements are paid for per element copied past
    the first chunk (J.copy_cost), before they are copied; a whole vector, or a leading part
    of one, is shared, not copied."""
    t = type(v)
    if t is list or t is tuple:
        return Vector.from_seq(tuple(v[lo:hi]))
    if v is None:
        return Vector.EMPTY
    if isinstance(v, Vector) and lo == 0:
        return v.slice(0, hi)
    cost = J.copy_cost(hi - lo)
    if cost:
        ctx.charge(cost)
    if seq is not None:
        return Vector.from_seq(tuple(seq[lo:hi]))
    if isinstance(v, Vector):
        return v.slice(lo, hi)
    if isinstance(v, List):
        return Vector.from_seq(v.slice(lo, hi).to_tuple())
    if isinstance(v, Map):
        return Vector.from_seq(tuple(Vector.of(k, x) for k, x in v.items()[lo:hi]))
    return Vector.from_seq(tuple(v)[lo:hi])


def _not_sequential() -> Exception:
    return error(CAST, "Trying to destructure an argument that is not a sequential collection")


def binder(form: Any, depth: int = 0) -> Binder:
    """A function (ctx, env, v) that appends to env the values form binds from v, paying ctx
    for any copying that needs."""
    form = unwrap(form)
    if type(form) is Symbol:
        if form is UNDERSCORE:
            return lambda ctx, env, v: None
        return lambda ctx, env, v: env.append(v)
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

        def bind_simple(ctx: Any, env: list, v: Any) -> None:
            m = _count(v)
            if m == n:      # checked before any element is taken
                env.extend(v if type(v) is list else _elements(v, n))
                return
            if m is None:
                raise _not_sequential()
            raise error(ARITY, f"Expected {n} arguments but got {m} for binding form: "
                               f"{_show(form)}")
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

    def bind(ctx: Any, env: list, v: Any) -> None:
        n = _count(v)
        if n is None:
            raise _not_sequential()
        if rest is None:
            if n != nb:
                raise error(ARITY, f"Expected {nb} arguments but got {n} for binding form: "
                                   f"{_show(form)}")
        elif n < nb + na:
            raise error(ARITY, "Insufficient arguments to allow variadic binding")
        # the elements, when there are few (else each is taken as it is bound)
        seq = _elements(v, n) if n <= _FEW or type(v) is list else None
        for i in range(nb):
            before[i](ctx, env, _nth(v, i) if seq is None else seq[i])
        if rest is not None:
            rest(ctx, env, _rest(ctx, v, nb, n - na, seq))
            for i in range(n - na, n):
                after[i - n + na](ctx, env, _nth(v, i) if seq is None else seq[i])
    return bind


def _show(form: Any) -> str:
    """A binding form named in an error message, cut short if long."""
    from kernel.data.printer import print_brief
    return print_brief(form)
