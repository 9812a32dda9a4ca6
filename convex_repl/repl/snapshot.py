"""A state snapshot that loads fast: the REPL's cached genesis (and the cells a saved session
shares with it) read back without the checks and recomputation of strict CAD3 decoding.

The file is a cache the REPL wrote itself (in the user's convex directory, named by a
fingerprint of the code): every branch cell children first, each with its value ID and memory
size, then a SHA3-256 of all that. Reading decodes each cell once, with the kernel's own
readers, trusting the encoding to be canonical (it was written by `encode`; the digest
catches a damaged file) and seeding each branch cell's cache with its encoding, value ID and
memory size: strict decoding re-encodes every cell to check it, and the first transaction
after it re-measured the memory of every account it touched (~20k cells for genesis).

`decode_sharing` reads a CAD3 `encode_multi` message (a saved session) reusing the decoded
cells of a snapshot it shares value IDs with: only the cells that differ are decoded.
"""
from __future__ import annotations

import hashlib
from typing import Any, Optional

MAGIC = b"CVXSNAP1"


def _cache_layout_ok() -> bool:
    """Cells cache [encoding, value ID, memory size] in `_cache` (kernel.data.cell.Cell)."""
    from kernel.data.cell import Cell
    return getattr(Cell, "_cache", 0) is None


def branch_cells(root: Any) -> list:
    """Every branch cell reachable from root (root included), each once, children first."""
    from kernel.data.cell import Cell, is_branch, value_id
    seen: set = set()
    order: list = []
    stack: list = [(root, False)]
    while stack:
        cell, done = stack.pop()
        if done:
            order.append(cell)
            continue
        vid = value_id(cell)
        if vid in seen:
            continue
        seen.add(vid)
        stack.append((cell, True))
        inner = list(cell.children())
        while inner:                      # embedded children are part of this cell
            ch = inner.pop()
            if isinstance(ch, Cell) and type(ch).__name__ != "BranchRef":
                if is_branch(ch):
                    stack.append((ch, False))
                else:
                    inner.extend(ch.children())
    return order


def encode(root: Any) -> bytes:
    """The snapshot of a cell (a State): see the module docstring."""
    from kernel.data.cell import encoding, memory_size, value_id, vlq
    parts = [MAGIC]
    for c in branch_cells(root):
        enc = encoding(c)
        parts += [value_id(c), vlq(memory_size(c)), vlq(len(enc)), enc]
    body = b"".join(parts)
    return body + hashlib.sha3_256(body).digest()


def _decoder_class() -> Any:
    from kernel.data.decoding import Decoder, _readers

    class Trusting(Decoder):
        """Decodes a known-canonical encoding without the re-encoding check. Embedded values
        are left to encode themselves if ever needed (most never are)."""
        __slots__ = ()

        def value(self, pos: int) -> tuple:
            tag = self.data[pos]
            return _readers[tag](self, tag, pos + 1)

        def ref(self, pos: int) -> tuple:
            data = self.data
            if data[pos] == 0x20:
                h = data[pos + 1:pos + 33]
                v = self.store.get(h)
                if v is None:
                    if self.misses is None:
                        raise KeyError(h)
                    self.misses.append(h)
                    from kernel.data.cell import BranchRef
                    return BranchRef(h), pos + 33
                return v, pos + 33
            return self.value(pos)

    return Trusting


_Trusting: Any = None


def _trusting() -> Any:
    global _Trusting
    if _Trusting is None:
        _Trusting = _decoder_class()
    return _Trusting


def decode(data: bytes) -> Optional[tuple]:
    """(top value, {value ID: cell} of every branch cell) from `encode`'s bytes, or None if
    they are not a whole snapshot (or this kernel caches cells differently)."""
    import gc
    from kernel.data.cell import Cell, read_vlq
    if len(data) < len(MAGIC) + 32 or not data.startswith(MAGIC) or not _cache_layout_ok():
        return None
    body = data[:-32]
    if hashlib.sha3_256(body).digest() != data[-32:]:
        return None
    dec = _trusting()
    store: dict = {}
    v: Any = None
    pos, n = len(MAGIC), len(body)
    enabled = gc.isenabled()
    gc.disable()         # tens of thousands of acyclic cells: collections would rescan them
    try:
        while pos < n:
            vid = body[pos:pos + 32]
            size, pos = read_vlq(body, pos + 32)
            length, pos = read_vlq(body, pos)
            enc = body[pos:pos + length]
            pos += length
            v, end = dec(enc, store).value(0)
            if end != length or len(vid) != 32:
                return None
            if isinstance(v, Cell):
                v._cache = (enc, vid, size)
            store[vid] = v
    except Exception:    # a file from another version of the code: the caller rebuilds
        return None
    finally:
        if enabled:
            gc.enable()
    return (v, store) if v is not None else None


def _complete_and_primed(h: bytes, v: Any, enc: bytes, end: int, misses: list) -> None:
    """decode_sharing's check of each branch cell: every ref resolved, no trailing bytes;
    its cache primed with the encoding and value ID already known."""
    from kernel.data.cell import Cell
    from kernel.data.decoding import DecodeError
    if misses or end != len(enc):
        raise DecodeError("incomplete snapshot cell")
    if isinstance(v, Cell):
        v._cache = (enc, h, None)


def decode_sharing(data: bytes, shared: dict) -> Any:
    """The value of a CAD3 `encode_multi` message (one this REPL wrote, checked by its hash),
    reusing the cells of `shared` ({value ID: cell}) for the branch cells it has; the others
    are decoded trusting their encoding. None if the message does not decode."""
    import gc
    from kernel.data.cell import Cell, read_vlq
    from kernel.data.decoding import decode_cells
    dec = _trusting()
    store = dict(shared)
    try:
        _, pos = dec(data, store, []).value(0)     # the top cell's extent
        raw: dict = {}
        while pos < len(data):
            k, pos = read_vlq(data, pos)
            enc = data[pos:pos + k]
            pos += k
            h = hashlib.sha3_256(enc).digest()
            if h not in store:
                raw[h] = enc
        enabled = gc.isenabled()
        gc.disable()
        try:
            decode_cells(raw, store, dec, _complete_and_primed)
            v, end = dec(data, store).value(0)
            if isinstance(v, Cell):
                v._cache = (data[:end], None, None)
        finally:
            if enabled:
                gc.enable()
    except Exception:
        return None
    return v


__all__ = ["encode", "decode", "decode_sharing", "branch_cells"]
