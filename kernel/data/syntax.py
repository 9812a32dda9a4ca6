"""Syntax objects (tag 0x88): a datum wrapped with a metadata map, as produced by the reader.

Encoding (datum first, unlike CAD003): 0x88, the datum ref, then `00` when the metadata is
empty, else the metadata map's full encoding inline (never a ref). So the map's own refs are
this cell's children, and a non-empty map written as `8200` would be non-canonical.
"""
from __future__ import annotations

from typing import Any

from kernel.data.cell import BranchRef, Cell, DecodeError, write_ref
from kernel.data.decoding import Decoder, register
from kernel.data.vectors import nested_ref_equals


def _map_class():
    from kernel.data.hashmaps import Map  # late import: hashmaps may import modules that import us

    return Map


class Syntax(Cell):
    """A datum with metadata (e.g. source positions); `meta` is a kernel Map, never None."""

    __slots__ = ("datum", "meta")
    tag = 0x88

    def __init__(self, datum: Any, meta: Any = None):
        self.datum = datum
        self.meta = _map_class().EMPTY if meta is None else meta

    def encode_cell(self) -> bytes:
        m = self.meta
        return b"\x88" + write_ref(self.datum) + (m.encoding() if len(m) else b"\x00")

    def children(self) -> tuple:
        return (self.datum,) + tuple(self.meta.children())

    def __eq__(self, other: Any) -> bool:
        if self is other:
            return True
        if type(other) is Syntax:
            return nested_ref_equals(self.datum, other.datum) and self.meta == other.meta
        return type(other) is BranchRef and other.hash == self.value_id()

    __hash__ = Cell.__hash__


def _read_syntax(dec: Decoder, tag: int, pos: int):
    datum, pos = dec.ref(pos)
    Map = _map_class()
    if dec.byte(pos) == 0x00:
        return Syntax(datum, Map.EMPTY), pos + 1
    meta, pos = dec.value(pos)
    if not isinstance(meta, Map):
        raise DecodeError("syntax metadata must be a map")
    if len(meta) == 0:
        raise DecodeError("empty syntax metadata must be encoded as 00")
    return Syntax(datum, meta), pos


register(0x88, _read_syntax)

__all__ = ["Syntax"]
