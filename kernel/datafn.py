"""Values that act as functions: maps and indexes look up keys, sets test membership,
sequences index by position, and keywords look themselves up in a map."""
from __future__ import annotations

from typing import Any, Callable, Optional

from . import juice as J
from .errors import BOUNDS, CAST, arg_cast_error, error, exact_arity, range_arity
from .hashmaps import Map, Set
from .index import Index
from .scalars import Keyword
from .vectors import List, Vector

_MISSING = object()


def _get(coll: Any, k: Any, default: Any) -> Any:
    if coll is None:
        return default
    if isinstance(coll, (Map, Index)):
        return coll.get(k, default)
    if isinstance(coll, Set):
        return True if coll.contains(k) else default
    if isinstance(coll, (Vector, List)):
        if type(k) is int and 0 <= k < len(coll):
            return coll[k]
        return default
    return default


def _map_fn(m: Any) -> Callable:
    def call(ctx, args: list, d: int) -> Any:
        n = len(args)
        if n not in (1, 2):
            raise range_arity(1, 2, n)
        ctx.charge(J.GET)
        return m.get(args[0], args[1] if n == 2 else None)
    return call


def _set_fn(s: Set) -> Callable:
    def call(ctx, args: list, d: int) -> Any:
        if len(args) != 1:
            raise exact_arity(1, len(args))
        ctx.charge(J.GET)
        return s.contains(args[0])
    return call


def _seq_fn(v: Any) -> Callable:
    def call(ctx, args: list, d: int) -> Any:
        if len(args) != 1:
            raise exact_arity(1, len(args))
        i = args[0]
        if type(i) is not int:
            raise arg_cast_error(0, i, "Long")
        ctx.charge(J.GET)
        if not 0 <= i < len(v):
            raise error(BOUNDS, f"Index: {i}")
        return v[i]
    return call


def _keyword_fn(k: Keyword) -> Callable:
    def call(ctx, args: list, d: int) -> Any:
        n = len(args)
        if n not in (1, 2):
            raise range_arity(1, 2, n)
        coll = args[0]
        if coll is not None and not isinstance(coll, (Map, Index, Set, Vector, List)):
            raise arg_cast_error(0, coll, "DataStructure")
        ctx.charge(J.GET)
        return _get(coll, k, args[1] if n == 2 else None)
    return call


def lookup(f: Any) -> Optional[Callable]:
    if isinstance(f, (Map, Index)):
        return _map_fn(f)
    if isinstance(f, Set):
        return _set_fn(f)
    if isinstance(f, (Vector, List)):
        return _seq_fn(f)
    if type(f) is Keyword:
        return _keyword_fn(f)
    return None


__all__ = ["lookup", "CAST"]
