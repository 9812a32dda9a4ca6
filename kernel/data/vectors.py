"""Vectors and Lists: persistent sequences with exactly the reference implementation's tree shape.

The canonical shape depends on the count alone (so equal vectors always have equal encodings):

* a leaf (count <= 16, or count % 16 != 0) holds the last `count % 16` elements (all of them when
  count <= 16) in a tuple, plus, when count > 16, a prefix vector of the leading elements;
* a tree (count > 16, count % 16 == 0) holds children of 2**shift elements each (the last holds
  the rest), shift being the smallest multiple of 4 with 2**(shift + 4) >= count.

A leaf's prefix is therefore always a tree or a full 16-element leaf, and a tree's children are
trees or full leaves. `conj` is amortised O(1) and `assoc` copies only the path to the element.

A List is encoded as the vector of its elements reversed, so it wraps such a vector and `cons`
is a cheap append to it.

Nodes decoded from a single cell may hold `BranchRef` placeholders for child nodes (or for
elements); navigating through a missing child node raises `MissingData`.
"""
from __future__ import annotations

from itertools import chain
from typing import Any, Iterable, Iterator

from kernel.data.cell import (MAX_EMBEDDED, NEST_LIMIT, SMALL_REFS, BranchRef, Cell, DecodeError,
                              MissingData, heads, nesting, value_id, vlq, write_ref)
from kernel.data.decoding import Decoder, register
from kernel.data.equality import equals

CHUNK = 16


def _shift(count: int) -> int:
    """Bits of index covered by each child of a tree of `count` elements."""
    return max(4, -(-((count - 1).bit_length() - 4) // 4) * 4)


def _need(node: Any) -> "Vector":
    """A child node that must be present to continue."""
    if type(node) is BranchRef:
        raise MissingData(node.hash)
    return node


def ref_equals(a: Any, b: Any) -> bool:
    """Convex `=` on two child refs, either of which may be a `BranchRef` placeholder."""
    if a is b or equals(a, b):
        return True
    return (type(a) is BranchRef or type(b) is BranchRef) and value_id(a) == value_id(b)


def nested_ref_equals(a: Any, b: Any) -> bool:
    """`ref_equals` on children compared from inside another cell's equality (syntax objects,
    coded values, signed data): one level of nesting, and by value ID (computed without
    recursion) once NEST_LIMIT levels are in progress, so chains of any depth compare."""
    if len(nesting) >= NEST_LIMIT:
        return value_id(a) == value_id(b)
    nesting.append(None)
    try:
        return ref_equals(a, b)
    finally:
        nesting.pop()


def _bounds(start: int, end: "int | None", n: int) -> int:
    if end is None:
        end = n
    if not 0 <= start <= end <= n:
        raise IndexError(f"slice [{start}, {end}) out of range for count {n}")
    return end


class Vector(Cell):
    """A persistent vector (tag 0x80). Concrete nodes are `VectorLeaf` and `VectorTree`."""

    __slots__ = ("count", "_tup", "_cache")
    tag = 0x80
    EMPTY: "VectorLeaf"

    # --- construction ---------------------------------------------------------------------
    @staticmethod
    def of(*items: Any) -> "Vector":
        return _build(items, 0, len(items))

    @staticmethod
    def from_seq(seq: Iterable[Any]) -> "Vector":
        """The canonical vector of the given elements, built directly in its final shape."""
        if isinstance(seq, Vector):
            return seq
        items = seq if type(seq) is tuple else tuple(seq)
        return _build(items, 0, len(items))

    # --- sequence API ---------------------------------------------------------------------
    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i: int) -> Any:
        if not 0 <= i < self.count:
            raise IndexError(f"index {i} out of range for vector of count {self.count}")
        return self._get(i)

    def __iter__(self) -> Iterator[Any]:
        try:
            return iter(self._tup)
        except AttributeError:
            return chain.from_iterable(self._chunks())

    def __reversed__(self) -> Iterator[Any]:
        return reversed(self.to_tuple())

    def to_tuple(self) -> tuple:
        try:
            return self._tup
        except AttributeError:
            t = self._tup = tuple(chain.from_iterable(self._chunks()))
            return t

    def assoc(self, i: int, x: Any) -> "Vector":
        """Replace element i; i == count appends."""
        n = self.count
        if i == n:
            return self.conj(x)
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for vector of count {n}")
        return self._assoc(i, x)

    def slice(self, start: int, end: "int | None" = None) -> "Vector":
        """Elements [start, end) as a new vector (IndexError unless 0 <= start <= end <= count)."""
        n = self.count
        end = _bounds(start, end, n)
        if start == 0 and end == n:
            return self
        if start == 0:
            return _take(self, end)
        out: list = []
        if start < end:
            self._collect(start, end, out)
        return _build(tuple(out), 0, len(out))

    def concat(self, seq: Iterable[Any]) -> "Vector":
        """This vector followed by the elements of seq, appending whole chunks where possible."""
        if self.count == 0:
            return Vector.from_seq(seq)
        items = seq.to_tuple() if isinstance(seq, (Vector, List)) else tuple(seq)
        v: Vector = self
        pos, m = 0, len(items)
        while pos < m and v.count & 15:
            v = v.conj(items[pos])
            pos += 1
        while m - pos >= CHUNK:
            v = v._append_chunk(VectorLeaf(items[pos:pos + CHUNK], None, CHUNK))
            pos += CHUNK
        if pos < m:
            v = VectorLeaf(items[pos:], v, v.count + m - pos)
        return v

    # --- equality ---------------------------------------------------------------------------
    def __eq__(self, other: Any) -> bool:
        if self is other:
            return True
        if not isinstance(other, Vector):
            return type(other) is BranchRef and other.hash == self.value_id()
        if self.count != other.count:
            return False
        a, b = self.cached_value_id(), other.cached_value_id()
        if a is not None and b is not None:
            return a == b
        return _same_nodes(self, other)

    __hash__ = Cell.__hash__

    # --- node operations, implemented by the concrete classes ------------------------------
    def conj(self, x: Any) -> "Vector":
        """Append x at the end."""
        raise NotImplementedError

    def _get(self, i: int) -> Any:
        raise NotImplementedError

    def _assoc(self, i: int, x: Any) -> "Vector":
        raise NotImplementedError

    def _chunks(self) -> Iterator[tuple]:
        raise NotImplementedError

    def _collect(self, lo: int, hi: int, out: list) -> None:
        raise NotImplementedError

    def _append_chunk(self, chunk: "VectorLeaf") -> "Vector":
        raise NotImplementedError


_VECTOR_HEADS, _LIST_HEADS = heads(0x80), heads(0x81)


class VectorLeaf(Vector):
    """Up to 16 trailing elements, after an optional prefix vector (a tree or a full leaf)."""

    __slots__ = ("items", "prefix")

    def __init__(self, items: tuple, prefix: "Vector | BranchRef | None", count: int):
        self.items = items
        self.prefix = prefix
        self.count = count
        self._cache = None
        if prefix is None:
            self._tup = items

    def encode_cell(self) -> bytes:
        n = self.count
        out = [_VECTOR_HEADS[n] if n < 0x80 else b"\x80" + vlq(n)]
        for x in self.items:    # join_refs inlined (one frame per cell), as in List
            if type(x) is int and -128 <= x < 128:
                out.append(SMALL_REFS[x])
            else:
                c = getattr(x, "_cache", None)
                out.append(c[0] if c is not None and len(c[0]) <= MAX_EMBEDDED else write_ref(x))
        if self.prefix is not None:
            out.append(write_ref(self.prefix))
        return b"".join(out)

    def children(self) -> tuple:
        return self.items if self.prefix is None else self.items + (self.prefix,)

    def __getitem__(self, i: int) -> Any:
        n = self.count
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for vector of count {n}")
        items = self.items
        ix = i - n + len(items)
        return items[ix] if ix >= 0 else _need(self.prefix)._get(i)

    def _get(self, i: int) -> Any:
        items = self.items
        ix = i - self.count + len(items)
        return items[ix] if ix >= 0 else _need(self.prefix)._get(i)

    def conj(self, x: Any) -> Vector:
        items = self.items
        n = len(items)
        if n < CHUNK - 1:
            return VectorLeaf(items + (x,), self.prefix, self.count + 1)
        if n == CHUNK - 1:
            chunk = VectorLeaf(items + (x,), None, CHUNK)
            return chunk if self.prefix is None else _need(self.prefix)._append_chunk(chunk)
        return VectorLeaf((x,), self, CHUNK + 1)

    def _append_chunk(self, chunk: "VectorLeaf") -> Vector:
        # only called on an empty leaf or a full leaf without prefix
        return chunk if self.count == 0 else VectorTree((self, chunk), 2 * CHUNK)

    def _assoc(self, i: int, x: Any) -> Vector:
        items = self.items
        ix = i - self.count + len(items)
        if ix >= 0:
            if items[ix] is x:
                return self
            return VectorLeaf(items[:ix] + (x,) + items[ix + 1:], self.prefix, self.count)
        p = _need(self.prefix)
        np = p._assoc(i, x)
        return self if np is p else VectorLeaf(self.items, np, self.count)

    def _chunks(self) -> Iterator[tuple]:
        if self.prefix is not None:
            yield from _need(self.prefix)._chunks()
        yield self.items

    def _collect(self, lo: int, hi: int, out: list) -> None:
        items = self.items
        plen = self.count - len(items)
        if lo < plen:
            _need(self.prefix)._collect(lo, min(hi, plen), out)
        if hi > plen:
            out.extend(items[max(lo - plen, 0):hi - plen])


class VectorTree(Vector):
    """A multiple of 16 elements (at least 32) in children of 2**shift elements each."""

    __slots__ = ("kids", "shift")

    def __init__(self, kids: tuple, count: int, shift: "int | None" = None):
        self.kids = kids
        self.count = count
        self.shift = _shift(count) if shift is None else shift
        self._cache = None

    def encode_cell(self) -> bytes:
        return b"\x80" + vlq(self.count) + b"".join(map(write_ref, self.kids))

    def children(self) -> tuple:
        return self.kids

    def _get(self, i: int) -> Any:
        node: Any = self
        while type(node) is VectorTree:
            s = node.shift
            b = i >> s
            i -= b << s
            node = node.kids[b]
            if type(node) is BranchRef:
                raise MissingData(node.hash)
        return node.items[i]

    def conj(self, x: Any) -> Vector:
        return VectorLeaf((x,), self, self.count + 1)

    def _append_chunk(self, chunk: VectorLeaf) -> Vector:
        count = self.count
        if count == 1 << (self.shift + 4):  # full: grow a level
            return VectorTree((self, chunk), count + CHUNK)
        kids = self.kids
        last = _need(kids[-1])
        if last.count == 1 << self.shift:
            return VectorTree(kids + (chunk,), count + CHUNK, self.shift)
        return VectorTree(kids[:-1] + (last._append_chunk(chunk),), count + CHUNK, self.shift)

    def _assoc(self, i: int, x: Any) -> Vector:
        s = self.shift
        b = i >> s
        kids = self.kids
        k = _need(kids[b])
        nk = k._assoc(i - (b << s), x)
        if nk is k:
            return self
        return VectorTree(kids[:b] + (nk,) + kids[b + 1:], self.count, s)

    def _chunks(self) -> Iterator[tuple]:
        for k in self.kids:
            yield from _need(k)._chunks()

    def _collect(self, lo: int, hi: int, out: list) -> None:
        s = self.shift
        step = 1 << s
        for b in range(lo >> s, ((hi - 1) >> s) + 1):
            base = b << s
            _need(self.kids[b])._collect(max(lo - base, 0), min(hi - base, step), out)


Vector.EMPTY = VectorLeaf((), None, 0)


def _build(items: tuple, lo: int, hi: int) -> Vector:
    """Canonical vector of items[lo:hi]."""
    n = hi - lo
    if n <= CHUNK:
        return VectorLeaf(items[lo:hi], None, n) if n else Vector.EMPTY
    r = n & 15
    if r:
        return VectorLeaf(items[hi - r:hi], _build_packed(items, lo, hi - r), n)
    return _build_packed(items, lo, hi)


def _build_packed(items: tuple, lo: int, hi: int) -> Vector:
    """Canonical vector of items[lo:hi] whose length is a positive multiple of 16."""
    n = hi - lo
    if n == CHUNK:
        return VectorLeaf(items[lo:hi], None, CHUNK)
    s = _shift(n)
    step = 1 << s
    kids = tuple(_build_packed(items, j, min(j + step, hi)) for j in range(lo, hi, step))
    return VectorTree(kids, n, s)


def _take(v: Vector, k: int) -> Vector:
    """The canonical vector of v's first k elements (0 <= k <= count), sharing v's nodes: the
    shape depends on the count alone and chunks are aligned from the start, so the leading
    whole chunks of v are already in their final place. O(log count), not O(k)."""
    r = k & 15
    p = k - r
    if r == 0:
        return _take_packed(v, p) if p else Vector.EMPTY
    out: list = []
    v._collect(p, k, out)
    return VectorLeaf(tuple(out), _take_packed(v, p) if p else None, k)


def _take_packed(v: Vector, p: int) -> Vector:
    """The canonical vector of v's first p elements, p a positive multiple of 16 <= count."""
    while True:
        if type(v) is VectorLeaf:
            if v.count == p:
                return v
            v = _need(v.prefix)     # p <= count - count % 16: all in the prefix
            continue
        if v.count == p:
            return v
        s = v.shift
        full, rem = p >> s, p & ((1 << s) - 1)
        kids = v.kids
        if rem == 0:
            if full == 1:
                return _need(kids[0])
            return VectorTree(kids[:full], p, s)
        if full == 0:
            v = _need(kids[0])
            continue
        return VectorTree(kids[:full] + (_take_packed(_need(kids[full]), rem),), p, s)


def _same_nodes(a: Vector, b: Vector) -> bool:
    """Element equality of two vector nodes of equal count (hence of the same shape)."""
    if type(a) is VectorLeaf:
        if not all(map(_same_elements, a.items, b.items)):
            return False
        pa, pb = a.prefix, b.prefix
        return pa is None or _same_refs(pa, pb)
    return all(map(_same_refs, a.kids, b.kids))


def _same_elements(x: Any, y: Any) -> bool:
    """`ref_equals` on two elements of vectors being compared. A cell element is one level
    of nesting (see nested_ref_equals): past NEST_LIMIT levels it compares by value ID, which
    is computed without recursion, so vectors nested to any depth compare."""
    if x is y:
        return True
    if not isinstance(x, Cell):
        return equals(x, y) or (type(y) is BranchRef and value_id(x) == y.hash)
    if len(nesting) >= NEST_LIMIT:
        return x.value_id() == value_id(y)
    nesting.append(None)
    try:
        if x == y:          # Convex `=` for cells
            return True
    finally:
        nesting.pop()
    return (type(x) is BranchRef or type(y) is BranchRef) and x.value_id() == value_id(y)


def _same_refs(a: Any, b: Any) -> bool:
    if a is b:
        return True
    if type(a) is BranchRef or type(b) is BranchRef:
        return value_id(a) == value_id(b)
    return _same_nodes(a, b)


class List(Cell):
    """A persistent list (tag 0x81), stored as the vector of its elements in reverse order."""

    __slots__ = ("rvec", "_tup", "_cache")
    tag = 0x81
    EMPTY: "List"

    def __init__(self, rvec: Vector):
        self.rvec = rvec
        self._cache = None

    @staticmethod
    def of(*items: Any) -> "List":
        return List(Vector.from_seq(items[::-1]))

    @staticmethod
    def from_seq(seq: Iterable[Any]) -> "List":
        if isinstance(seq, List):
            return seq
        items = seq.to_tuple() if isinstance(seq, Vector) else tuple(seq)
        return List(Vector.from_seq(items[::-1]))

    @staticmethod
    def from_reversed(v: Vector) -> "List":
        """The list of v's elements in reverse order, in O(1) (Convex `reverse` of a vector)."""
        return List(v)

    def reversed_vector(self) -> Vector:
        """The vector of this list's elements in reverse order, in O(1)."""
        return self.rvec

    def encode_cell(self) -> bytes:
        r = self.rvec
        if type(r) is not VectorLeaf or r.prefix is not None or r._cache is not None:
            return b"\x81" + r.encoding()[1:]
        out = [_LIST_HEADS[r.count]]    # a short list: its body built here, not cached in rvec
        for x in r.items:       # join_refs inlined (one frame per cell), as in VectorLeaf
            if type(x) is int and -128 <= x < 128:
                out.append(SMALL_REFS[x])
            else:
                c = getattr(x, "_cache", None)
                out.append(c[0] if c is not None and len(c[0]) <= MAX_EMBEDDED else write_ref(x))
        return b"".join(out)

    def children(self) -> tuple:
        return self.rvec.children()

    @property
    def count(self) -> int:
        return self.rvec.count

    def __len__(self) -> int:
        return self.rvec.count

    def __getitem__(self, i: int) -> Any:
        n = self.rvec.count
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for list of count {n}")
        return self.rvec._get(n - 1 - i)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.to_tuple())

    def to_tuple(self) -> tuple:
        try:
            return self._tup
        except AttributeError:
            t = self._tup = self.rvec.to_tuple()[::-1]
            return t

    def cons(self, x: Any) -> "List":
        """Prepend x."""
        return List(self.rvec.conj(x))

    conj = cons  # Convex `conj` on a list prepends

    def assoc(self, i: int, x: Any) -> "List":
        n = self.rvec.count
        if not 0 <= i < n:
            raise IndexError(f"index {i} out of range for list of count {n}")
        nv = self.rvec._assoc(n - 1 - i, x)
        return self if nv is self.rvec else List(nv)

    def slice(self, start: int, end: "int | None" = None) -> "List":
        n = self.rvec.count
        end = _bounds(start, end, n)
        if start == 0 and end == n:
            return self
        return List(self.rvec.slice(n - end, n - start))

    def concat(self, seq: Iterable[Any]) -> "List":
        """This list followed by the elements of seq."""
        items = seq.to_tuple() if isinstance(seq, (Vector, List)) else tuple(seq)
        if not items:
            return self
        return List(Vector.from_seq(items[::-1]).concat(self.rvec))

    def __eq__(self, other: Any) -> bool:
        if self is other:
            return True
        if type(other) is List:
            return self.rvec == other.rvec
        return type(other) is BranchRef and other.hash == self.value_id()

    __hash__ = Cell.__hash__


List.EMPTY = List(Vector.EMPTY)


# --- decoding -----------------------------------------------------------------------------

def _check_node(node: Any, want: int) -> None:
    if type(node) is not BranchRef and (
            type(node) not in (VectorLeaf, VectorTree) or node.count != want):
        raise DecodeError(f"vector child must be a vector of {want} elements")


def read_vector_body(dec: Decoder, pos: int) -> "tuple[Vector, int]":
    """Read a vector encoding without its tag (shared by lists and dense records)."""
    c, pos = dec.count(pos)
    if c == 0:
        return Vector.EMPTY, pos
    r = c & 15
    if c <= CHUNK or r:
        items = []
        for _ in range(c if c <= CHUNK else r):
            v, pos = dec.ref(pos)
            items.append(v)
        prefix = None
        if c > CHUNK:
            prefix, pos = dec.ref(pos)
            _check_node(prefix, c - r)
        return VectorLeaf(tuple(items), prefix, c), pos
    s = _shift(c)
    step = 1 << s
    kids = []
    for j in range(0, c, step):
        k, pos = dec.ref(pos)
        _check_node(k, min(step, c - j))
        kids.append(k)
    return VectorTree(tuple(kids), c, s), pos


def _read_vector(dec: Decoder, tag: int, pos: int):
    return read_vector_body(dec, pos)


def _read_list(dec: Decoder, tag: int, pos: int):
    v, pos = read_vector_body(dec, pos)
    return List(v), pos


register(0x80, _read_vector)
register(0x81, _read_list)

__all__ = ["Vector", "VectorLeaf", "VectorTree", "List", "read_vector_body", "ref_equals"]
