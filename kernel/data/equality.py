"""Convex `=` over native and cell values, and Python-dict keys that respect it.

Python's own `==` is wrong for CVM values: `1 == True`, `1 == 1.0`, `0.0 == -0.0` and
`nan != nan`. Convex equality is by value and type: doubles compare by their bits (so ##NaN
equals itself and -0.0 differs from 0.0), and cells compare by canonical encoding.
"""
from __future__ import annotations

import struct
from typing import Any, Hashable

from kernel.data.cell import Cell

_pack = struct.Struct(">d").pack


class _FlagKey:
    __slots__ = ("v",)

    def __init__(self, v: bool):
        self.v = v

    def __repr__(self) -> str:
        return f"<{self.v}>"


_TRUE_KEY, _FALSE_KEY = _FlagKey(True), _FlagKey(False)


def equals(a: Any, b: Any) -> bool:
    """Convex `=` on two values."""
    if a is b:
        return True
    ta = type(a)
    if ta is not type(b):
        return isinstance(a, Cell) and isinstance(b, Cell) and a == b
    if ta is float:
        return _pack(a) == _pack(b)
    return a == b


def dict_key(v: Any) -> Hashable:
    """A Python dict key for v such that keys are equal exactly when the values are `=`."""
    t = type(v)
    if t is bool:
        return _TRUE_KEY if v else _FALSE_KEY
    if t is float:
        return ("double", _pack(v))
    return v
