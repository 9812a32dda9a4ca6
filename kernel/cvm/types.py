"""CVM type names as the reference reports them in errors and `(type x)`-style output."""
from __future__ import annotations

from typing import Any

from kernel.data.blobs import Blob, PartialBlob, String
from kernel.data.hashmaps import Map, Set
from kernel.data.index import Index
from kernel.data.scalars import Address, ByteFlag, Char, Keyword, Symbol
from kernel.data.syntax import Syntax
from kernel.data.vectors import List, Vector

LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1

_NAMES = [(Address, "Address"), (String, "String"), (Blob, "Blob"), (PartialBlob, "Blob"),
          (Keyword, "Keyword"), (Symbol, "Symbol"), (Char, "Character"), (Vector, "Vector"),
          (List, "List"), (Map, "Map"), (Set, "Set"), (Index, "Index"), (Syntax, "Syntax"),
          (ByteFlag, "ByteFlag")]


def type_name(v: Any) -> str:
    if v is None:
        return "Nil"
    t = type(v)
    if t is bool:
        return "Boolean"
    if t is int:
        return "Long" if LONG_MIN <= v <= LONG_MAX else "Integer"
    if t is float:
        return "Double"
    for cls, name in _NAMES:
        if isinstance(v, cls):
            return name
    if getattr(t, "cvm_record", False):
        return "Record"
    if getattr(v, "invoke", None) is not None:
        return "Function"
    from kernel.cvm.ops import Op
    if isinstance(v, Op):
        return "Op"
    return type(v).__name__
