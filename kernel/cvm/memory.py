"""Memory sizes of successive states without hashing them (CAD006 memory accounting).

Memory accounting needs the memory size of the state before and after every transaction. A
cell's memory size only depends on the *lengths* of encodings (a branch child is always a
33-byte ref, whatever its hash), so for the cells a transaction creates (records and vector
nodes along the changed paths) the size can be summed from encoding lengths, without
building encodings or computing SHA3 hashes that only the final state of a block needs.

`Meter.size(v)` gives exactly `kernel.memory_size(v)`; it remembers the sizes of the cells it
measured (keeping them alive, so one Meter per block) and uses the sizes cached in cells. Any
cell type it does not know is measured with `memory_size` itself.
"""
from __future__ import annotations

from typing import Any

from kernel.data.cell import (MAX_EMBEDDED, MEMORY_OVERHEAD, NEST_LIMIT, BranchRef, Cell,
                              memory_size, nesting)
from kernel.state.state import Record
from kernel.data.vectors import VectorLeaf, VectorTree

_BRANCH_REF = 33


def _int_length(n: int) -> int:
    if -128 <= n < 128:
        return 1 if n == 0 else 2
    blen = (n + (n < 0)).bit_length() // 8 + 1
    return 1 + blen if blen <= 8 else 1 + _vlq_length(blen) + blen


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

    def known_size(self, v: Any) -> "tuple | None":
        """(encoding length, memory size) if already known (cached or measured), else None."""
        k = self.known.get(id(v))
        if k is not None:
            return k[1], k[2]
        c = getattr(v, "_cache", None)
        if c is not None and c[2] is not None:
            return len(c[0]), c[2]
        return None

    def note_account_change(self, base: Any, new: Any, n: int, old_acct: Any,
                            new_acct: Any) -> None:
        """Record the size of `new`, the state `base` with account n's record replaced, from
        the size of `base` without measuring the new path to it: an account change only
        changes the encoding length of the account record (if it is a branch) or of the
        vector node holding it (if embedded there), as long as neither changes between
        embedded and branch. Does nothing when base's size is unknown or a status flips."""
        kb = self.known_size(base)
        if kb is None:
            return
        n0, m0 = self._measure(old_acct)
        n1, m1 = self._measure(new_acct)
        if (n0 > MAX_EMBEDDED) != (n1 > MAX_EMBEDDED):
            return
        delta = m1 - m0
        if n0 <= MAX_EMBEDDED:
            holder = _holder(base.accounts, n)
            if holder is None:
                return
            hlen = self._measure(holder)[0]
            if hlen <= MAX_EMBEDDED or hlen + n1 - n0 <= MAX_EMBEDDED:
                return
            delta += n1 - n0
        self.known[id(new)] = (new, kb[0], kb[1] + delta,
                               _BRANCH_REF if kb[0] > MAX_EMBEDDED else kb[0])

    def _exact(self, v: Any) -> tuple:
        m = memory_size(v)
        if isinstance(v, Cell):
            n = len(v.encoding())
            ref = _BRANCH_REF if n > MAX_EMBEDDED else n
            self.known[id(v)] = (v, n, m, ref)
            return n, m
        from kernel.data.cell import encoding
        return len(encoding(v)), m


def _holder(vec: Any, i: int) -> Any:
    """The vector node whose own items hold element i (None if a branch is missing)."""
    node = vec
    while True:
        t = type(node)
        if t is VectorTree:
            s = node.shift
            b = i >> s
            i -= b << s
            node = node.kids[b]
        elif t is VectorLeaf:
            if i >= node.count - len(node.items):
                return node
            node = node.prefix
        else:
            return None


__all__ = ["Meter"]
