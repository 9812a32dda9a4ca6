"""Strict CAD3 decoding.

Each value module registers a reader for its tag bytes with `register`. A reader is called as
`reader(decoder, tag, pos)` with `pos` just after the tag and returns `(value, next_pos)`; it
reads children with `decoder.ref(pos)`. Readers may be lenient about canonical form: after a
cell is decoded, its canonical re-encoding must equal the bytes consumed, which rejects every
non-canonical input in one place.
"""
from __future__ import annotations

import gc
from typing import Any, Callable

from kernel.data.cell import (MAX_EMBEDDED, BranchRef, DecodeError, encoding, is_branch, read_vlq,
                              value_id)

Reader = Callable[["Decoder", int, int], "tuple[Any, int]"]
_readers: dict[int, Reader] = {}


def register(tags: "int | range | tuple", reader: Reader) -> None:
    if isinstance(tags, int):
        tags = (tags,)
    for t in tags:
        _readers[t] = reader


class Decoder:
    """Reads values out of `data`; `store` maps value IDs to already decoded branch values."""

    __slots__ = ("data", "store", "depth", "misses")

    def __init__(self, data: bytes, store: "dict[bytes, Any] | None" = None,
                 misses: "list | None" = None):
        self.data = data
        self.store = store if store is not None else {}
        self.depth = 0          # embedded values being decoded, one inside another
        self.misses = misses    # if a list: the branch refs not found in the store

    def byte(self, pos: int) -> int:
        if pos >= len(self.data):
            raise DecodeError(f"unexpected end of data at byte {pos}")
        return self.data[pos]

    def take(self, pos: int, n: int) -> bytes:
        end = pos + n
        if end > len(self.data):
            raise DecodeError(f"unexpected end of data at byte {len(self.data)} "
                              f"(needed {n} bytes from byte {pos})")
        return self.data[pos:end]

    def count(self, pos: int) -> "tuple[int, int]":
        return read_vlq(self.data, pos)

    def value(self, pos: int) -> "tuple[Any, int]":
        """Decode one complete cell starting at pos, checking it is canonical."""
        tag = self.byte(pos)
        reader = _readers.get(tag)
        if reader is None:
            raise DecodeError(f"illegal tag 0x{tag:02x} at byte {pos}")
        try:
            v, end = reader(self, tag, pos + 1)
        except DecodeError:
            raise
        except (ValueError, TypeError, IndexError, OverflowError, UnicodeError) as e:
            raise DecodeError(f"invalid encoding for tag 0x{tag:02x} at byte {pos}: {e}") from None
        if encoding(v) != self.data[pos:end]:
            raise DecodeError(f"non-canonical encoding for tag 0x{tag:02x} at byte {pos}")
        return v, end

    def ref(self, pos: int) -> "tuple[Any, int]":
        """A child reference: an embedded value or a 0x20 branch ref."""
        if self.byte(pos) == 0x20:
            h = self.take(pos + 1, 32)
            v = self.store.get(h)
            if v is None:
                if self.misses is not None:
                    self.misses.append(h)
                return BranchRef(h), pos + 33
            return v, pos + 33
        # Each level of an embedded value takes at least a byte of its at most MAX_EMBEDDED,
        # so deeper nesting is invalid: refusing it bounds the recursion of decoding a cell.
        if self.depth >= MAX_EMBEDDED:
            raise DecodeError(f"embedded values nested more than {MAX_EMBEDDED} deep at byte {pos}")
        self.depth += 1
        try:
            v, end = self.value(pos)
        finally:
            self.depth -= 1
        if end - pos > MAX_EMBEDDED:
            raise DecodeError(f"value of {end - pos} bytes embedded at byte {pos} "
                              f"(must be a branch ref above {MAX_EMBEDDED})")
        return v, end


def decode(data: bytes) -> Any:
    """Decode exactly one cell; branch refs become `BranchRef` placeholders."""
    data = bytes(data)
    v, end = Decoder(data).value(0)
    if end != len(data):
        raise DecodeError(f"{len(data) - end} unexpected bytes after the value at byte {end}")
    return v


def encode_multi(v: Any) -> bytes:
    """Top cell followed by every branch cell (VLQ length-prefixed): a self-contained message."""
    from kernel.data.cell import all_cells, vlq

    parts = [encoding(v)]
    for c in all_cells(v):
        if c is v:
            continue
        enc = encoding(c)
        parts.append(vlq(len(enc)))
        parts.append(enc)
    return b"".join(parts)


def decode_multi(data: bytes) -> Any:
    """Inverse of `encode_multi`: resolves branch refs from the cells that follow the top cell.
    A large message (a state snapshot) is decoded with Python's cyclic garbage collector
    paused: it allocates tens of thousands of acyclic cells, and the collections they would
    trigger scan them all again and again (a third of the time)."""
    if len(data) < _GC_PAUSE_BYTES or not gc.isenabled():
        return _decode_multi(data)
    gc.disable()
    try:
        return _decode_multi(data)
    finally:
        gc.enable()


_GC_PAUSE_BYTES = 64 * 1024


def _decode_multi(data: bytes) -> Any:
    data = bytes(data)
    top_dec = Decoder(data)
    # Find the extent of the top cell by decoding it once without a store.
    _, pos = top_dec.value(0)
    raw: dict[bytes, bytes] = {}
    while pos < len(data):
        n, pos = read_vlq(data, pos)
        if n == 0 or pos + n > len(data):
            raise DecodeError(f"bad cell length {n} at byte {pos}")
        enc = data[pos:pos + n]
        raw[_hash(enc)] = enc
        pos += n
    store: dict[bytes, Any] = {}
    decode_cells(raw, store)
    v, end = Decoder(data, store).value(0)
    return v


def _strict_branch(h: bytes, v: Any, enc: bytes, end: int, misses: list) -> None:
    if end != len(enc):
        raise DecodeError("trailing bytes in branch cell")
    if not is_branch(v):
        raise DecodeError("embedded-size value sent as a branch cell")


def decode_cells(raw: dict, store: dict, decoder: Any = Decoder,
                 accept: Any = _strict_branch) -> None:
    """Decode the branch cells `raw` ({value ID: encoding}, in encode_multi's order) into
    `store`, each after the cells it refers to, with an explicit stack (any depth).
    `accept(h, value, encoding, end, refs left unresolved)` checks each decoded cell before it
    is stored (raising refuses the message). Cells are taken last first: encode_multi writes
    a cell before the cells under it, so those are usually decoded already; a cell that meets
    one still to decode (a cell shared by several parents) is decoded again once that one is."""
    for h in reversed(list(raw)):
        stack = [h]
        while stack:
            h = stack[-1]
            if h in store:
                stack.pop()
                continue
            enc = raw[h]
            misses: list = []
            v, end = decoder(enc, store, misses).value(0)
            todo = [c for c in misses if c in raw and c not in store]
            if todo:
                stack.extend(todo)
                continue
            accept(h, v, enc, end, misses)
            store[h] = v
            stack.pop()


def _hash(enc: bytes) -> bytes:
    import hashlib

    return hashlib.sha3_256(enc).digest()


def _branch_hashes(enc: bytes) -> list:
    """Branch refs mentioned by one cell (found by decoding it without a store)."""
    from kernel.data.cell import Cell

    out: list = []
    stack = [Decoder(enc).value(0)[0]]
    while stack:
        v = stack.pop()
        if type(v) is BranchRef:
            out.append(v.hash)
        elif isinstance(v, Cell):
            stack.extend(c for c in reversed(v.children())
                         if type(c) is BranchRef or not is_branch(c))
    return out


__all__ = ["Decoder", "DecodeError", "decode", "register", "encode_multi", "decode_multi",
           "decode_cells",
           "value_id"]
