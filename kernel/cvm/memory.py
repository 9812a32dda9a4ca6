"""Memory sizes of successive states without hashing them (CAD006 memory accounting).

Memory accounting needs the memory size of the state before and after every transaction. A
cell's memory size only depends on the *lengths* of encodings (a branch child is always a
33-byte ref, whatever its hash), so for the cells a transaction creates (records and vector
nodes along the changed paths) the size can be summed from encoding lengths, without
building encodings or computing SHA3 hashes that only the final state of a block needs.

`Meter.size(v)` gives exactly `kernel.memory_size(v)`; it remembers the sizes of the cells it
measured (keeping them alive, so one Meter per block) and uses the sizes cached in cells. Any
cell type it does not know is measured with `memory_size` itself.

A transaction replaces a few accounts, so the state after it shares all but a few paths with
the state before. `Meter.size_after(old, new)` finds the new state's size from the old one's
by walking only the cells that differ: each new cell's size is the old cell's plus the
changes of its replaced children (compared by identity, sixteen at most per node), and is
recorded as it is found, so the next transaction starts from a state whose every cell has a
known size and nothing is measured twice.
"""
from __future__ import annotations

from itertools import compress
from operator import is_not
from typing import Any

from kernel.data.cell import (MAX_EMBEDDED, MEMORY_OVERHEAD, NEST_LIMIT, BranchRef, Cell,
                              memory_size, nesting)
from kernel.state.state import Record
from kernel.data.vectors import VectorLeaf, VectorTree

_BRANCH_REF = 33
_LONG = 1 << 63


def _int_length(n: int) -> int:
    if -128 <= n < 128:
        return 1 if n == 0 else 2
    blen = (n + (n < 0)).bit_length() // 8 + 1
    return 1 + blen if blen <= 8 else 1 + _vlq_length(blen) + blen


int_length = _int_length     # the encoding length of an integer (kernel.transition.overlay)


def _vlq_length(n: int) -> int:
    k = 1
    while n >= 0x80:
        n >>= 7
        k += 1
    return k


class Meter:
    """Memory sizes from encoding lengths; see the module doc."""

    __slots__ = ("known",)

    def __init__(self) -> None:
        # id(cell) -> (cell, encoding length, memory size, length of a ref to it)
        self.known: dict = {}

    def size(self, v: Any) -> int:
        """The memory size of v (equal to kernel.memory_size(v))."""
        return self._measure(v)[1]

    def _measure(self, v: Any) -> tuple:
        """(encoding length, memory size) of a cell or native value."""
        t = type(v)
        if t is int:
            n = _int_length(v)
            return n, (0 if n <= MAX_EMBEDDED else n + MEMORY_OVERHEAD)
        if v is None or t is bool:
            return 1, 0
        if t is float:
            return 9, 0
        k = self.known.get(id(v))
        if k is not None:
            return k[1], k[2]
        c = v._cache
        if c is not None and c[2] is not None:
            n = len(c[0])
            self.known[id(v)] = (v, n, c[2], _BRANCH_REF if n > MAX_EMBEDDED else n)
            return n, c[2]
        if isinstance(v, Record):
            f = v._f
            if len(f) > 16:
                return self._exact(v)
            length, mem = 2, 0
            children = f
        elif t is VectorLeaf:
            length, mem = 1 + _vlq_length(v.count), 0
            children = v.items if v.prefix is None else v.items + (v.prefix,)
        elif t is VectorTree:
            length, mem = 1 + _vlq_length(v.count), 0
            children = v.kids
        else:
            return self._exact(v)
        known = self.known
        for x in children:
            tx = type(x)
            if tx is int:
                if -128 <= x < 128:
                    length += 1 if x == 0 else 2
                elif -(1 << 63) <= x < (1 << 63):
                    length += (x + (x < 0)).bit_length() // 8 + 2
                else:
                    n = _int_length(x)
                    if n > MAX_EMBEDDED:
                        length += _BRANCH_REF
                        mem += n + MEMORY_OVERHEAD
                    else:
                        length += n
                continue
            if x is None or tx is bool:
                length += 1
                continue
            k = known.get(id(x))
            if k is not None:
                length += k[3]
                mem += k[2]
                continue
            if tx is float:
                length += 9
                continue
            if tx is BranchRef:
                return self._exact(v)       # raises MissingData, as memory_size does
            c = x._cache
            if c is not None and c[2] is not None:
                n, m = len(c[0]), c[2]
                length += _BRANCH_REF if n > MAX_EMBEDDED else n
            else:
                if len(nesting) >= NEST_LIMIT:  # deeply nested: memory_size needs no recursion
                    self._exact(x)
                else:
                    nesting.append(None)
                    try:
                        self._measure(x)
                    finally:
                        nesting.pop()
                k = known[id(x)]
                length += k[3]
                m = k[2]
            mem += m
        branch = length > MAX_EMBEDDED
        if branch:
            mem += length + MEMORY_OVERHEAD
        known[id(v)] = (v, length, mem, _BRANCH_REF if branch else length)
        return length, mem

    def size_after(self, old: Any, new: Any) -> int:
        """The memory size of `new`, a value made from `old` (whose size is known or cheap)
        by replacing a few parts, as after a transaction: exactly `size(new)`, found by
        walking only the cells that differ (children compared by identity). Where the two
        have the same shape (a record, vector leaf or tree node of the same kind and count)
        a new cell's encoding length is the old one's plus the change of each replaced
        child's ref length, and its memory size the old one's plus the change of each
        replaced child's memory size and of its own storage; any other new cell is
        measured as `size` does. The sizes found are remembered for the next transaction."""
        if new is old:
            return self._measure(new)[1]
        return self._after(old, new, 0)[1]

    def _after(self, old: Any, new: Any, depth: int, old_size: "tuple | None" = None
               ) -> tuple:
        """(encoding length, memory size) of new, differing from old (whose own pair is
        `old_size` when the caller has it); see size_after."""
        known = self.known
        k = known.get(id(new))
        if k is not None:
            return k[1], k[2]
        t = type(new)
        if t is not type(old) or depth > NEST_LIMIT or type(old) is BranchRef:
            return self._measure(new)
        if t is VectorLeaf:
            if old.count != new.count or (old.prefix is None) != (new.prefix is None):
                return self._measure(new)
            olds, news = old.items, new.items
            if new.prefix is not None:
                olds, news = olds + (old.prefix,), news + (new.prefix,)
        elif t is VectorTree:
            if old.count != new.count or old.shift != new.shift:
                return self._measure(new)
            olds, news = old.kids, new.kids
        elif isinstance(new, Record) and len(new._f) <= 16 and len(old._f) == len(new._f):
            olds, news = old._f, new._f
        else:
            return self._measure(new)
        if len(olds) != len(news):
            return self._measure(new)
        length, mem = self._measure(old) if old_size is None else old_size
        if length > MAX_EMBEDDED:
            mem -= length + MEMORY_OVERHEAD
        # the positions whose child was replaced, found without a Python loop over all
        for i in compress(range(len(news)), map(is_not, olds, news)):
            a, b = olds[i], news[i]
            ta = type(a)
            if ta is int and type(b) is int and -_LONG < a < _LONG and -_LONG < b < _LONG:
                length += _int_length(b) - _int_length(a)   # embedded longs: no storage
                continue
            k = known.get(id(a))
            la, ma = (k[1], k[2]) if k is not None else self._measure(a)
            if type(b) is ta and isinstance(b, Cell):
                lb, mb = self._after(a, b, depth + 1, (la, ma))
            else:
                lb, mb = self._measure(b)
            length += (_BRANCH_REF if lb > MAX_EMBEDDED else lb) - (
                _BRANCH_REF if la > MAX_EMBEDDED else la)
            mem += mb - ma
        branch = length > MAX_EMBEDDED
        if branch:
            mem += length + MEMORY_OVERHEAD
        known[id(new)] = (new, length, mem, _BRANCH_REF if branch else length)
        return length, mem

    def known_size(self, v: Any) -> "tuple | None":
        """(encoding length, memory size) if already known (cached or measured), else None."""
        k = self.known.get(id(v))
        if k is not None:
            return k[1], k[2]
        c = getattr(v, "_cache", None)
        if c is not None and c[2] is not None:
            return len(c[0]), c[2]
        return None

    def _exact(self, v: Any) -> tuple:
        m = memory_size(v)
        if isinstance(v, Cell):
            n = len(v.encoding())
            ref = _BRANCH_REF if n > MAX_EMBEDDED else n
            self.known[id(v)] = (v, n, m, ref)
            return n, m
        from kernel.data.cell import encoding
        return len(encoding(v)), m


__all__ = ["Meter"]
