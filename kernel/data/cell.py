"""The cell model shared by every CVM value: encodings, value IDs, refs and memory sizes.

CVM values are either native Python objects (None, bool, int, float: the hot types of the
interpreter, kept native for speed) or instances of `Cell`. Every value has exactly one
canonical CAD3 encoding; its SHA3-256 is the value ID. A child whose own top-cell encoding is at
most 140 bytes is embedded in its parent, otherwise the parent holds a branch ref (0x20 + ID).

Cells cache their encoding, ID and memory size lazily, so building values in the interpreter
costs nothing extra. The cache is a tuple, replaced whole when a field is filled in: holding only
bytes, ints and None, it is untracked by Python's cycle collector at its first pass, so a large
number of cached cells adds no work to every later collection (as lists would).

Values may nest to any depth (CVM code can build a vector 100,000 levels deep), so the caches
are filled by plain recursion only `NEST_LIMIT` levels deep: below that, `_encode_below` and
`_measure_below` fill the caches of the remaining uncached cells children first with an
explicit stack. Shallow values, the usual case, pay only a list append and pop per cell.
"""
from __future__ import annotations

import hashlib
import struct
from typing import Any, Iterable

MAX_EMBEDDED = 140          # longest top-cell encoding that is embedded in its parent
MEMORY_OVERHEAD = 64        # CAD006: storage overhead per non-embedded cell
MAX_CELL_LENGTH = 16383     # longest legal single-cell encoding

_sha3 = hashlib.sha3_256
_pack_double = struct.Struct(">d").pack


class DecodeError(ValueError):
    """Bytes that are not a valid canonical CAD3 encoding."""


class MissingData(LookupError):
    """A branch of a value is not available (only its hash is known)."""

    def __init__(self, ref_hash: bytes):
        super().__init__(f"missing data for branch 0x{ref_hash.hex()}")
        self.hash = ref_hash


class Cell:
    """Base class of every non-native CVM value.

    The caches live in one tuple in the instance dict (None at class level until first use):
    a miss is one attribute read, and filling all three costs a single dict insert."""

    tag: int = 0xFF
    nests = True                   # False if encoding recurses a bounded number of levels at
                                   # most (scalars, blobs): then it needs no nesting guard
    _cache: "tuple | None" = None  # (encoding, value ID, memory size), made on first use

    # --- to be provided by subclasses -------------------------------------------------------
    def encode_cell(self) -> bytes:
        """The full top-cell encoding (tag first), with children written by `write_ref`."""
        raise NotImplementedError(type(self).__name__)

    def children(self) -> tuple:
        """Child values referenced (embedded or branch) by the top-cell encoding, in order."""
        return ()

    # --- cached derived data ----------------------------------------------------------------
    def encoding(self) -> bytes:
        c = self._cache
        if c is not None:
            return c[0]
        if not self.nests:
            enc = self.encode_cell()
        elif len(nesting) >= NEST_LIMIT:        # deep: see _encode (inlined here for speed)
            _encode_below(self)
            return self._cache[0]
        else:
            nesting.append(None)
            try:
                enc = self.encode_cell()
            finally:
                nesting.pop()
        self._cache = (enc, None, None)
        return enc

    def value_id(self) -> bytes:
        c = self._cache
        if c is None:                           # encoding() inlined (the usual first use)
            # No nesting entry for this level, nor a check of the depth: its children count
            # their own levels as they encode (Cell.encoding), and nothing below calls
            # value_id on a cell still to encode (write_ref encodes first), so this adds one
            # frame at most to a walk already NEST_LIMIT deep, and Python's stack stays bounded.
            enc = self.encode_cell()
            vid = _sha3(enc).digest()
            self._cache = (enc, vid, None)
            return vid
        vid = c[1]
        if vid is None:
            vid = _sha3(c[0]).digest()
            self._cache = (c[0], vid, c[2])
        return vid

    def cached_value_id(self) -> "bytes | None":
        """The value ID if already computed (cheap equality shortcut), else None."""
        c = self._cache
        return None if c is None else c[1]

    def memory_size(self) -> int:
        c = self._cache
        if c is None:
            c = _encode(self)
        size = c[2]
        if size is not None:
            return size
        size = _own_size(self, c[0])
        if not self.nests:
            for child in self.children():
                size += memory_size(child)
        elif len(nesting) >= NEST_LIMIT:        # deep: see _measure_below
            return _measure_below(self)
        else:
            nesting.append(None)
            try:
                for child in self.children():
                    size += memory_size(child)
            finally:
                nesting.pop()
        c = self._cache                         # as filled in meanwhile (a value ID)
        self._cache = (c[0], c[1], size)
        return size

    def is_embedded(self) -> bool:
        return len(self.encoding()) <= MAX_EMBEDDED

    # Python-level equality follows Convex `=`; subclasses may override with faster structural
    # comparisons that agree with this definition.
    def __eq__(self, other: Any) -> bool:
        if self is other:
            return True
        if not isinstance(other, Cell):
            return False
        return self.value_id() == other.value_id()

    def __ne__(self, other: Any) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return int.from_bytes(self.value_id()[:8], "big")

    def __repr__(self) -> str:
        from kernel.data.printer import (print_value)  # late import: kernel never depends on lisp at load

        return print_value(self)


class BranchRef(Cell):
    """A branch known only by its value ID (decoded from a single cell, data not present)."""

    __slots__ = ("hash",)

    def __init__(self, ref_hash: bytes):
        self.hash = ref_hash

    def value_id(self) -> bytes:
        return self.hash

    def encoding(self) -> bytes:
        raise MissingData(self.hash)

    encode_cell = encoding

    def memory_size(self) -> int:
        raise MissingData(self.hash)

    def is_embedded(self) -> bool:
        return False

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, Cell) and other.value_id() == self.hash

    __hash__ = Cell.__hash__

    def __repr__(self) -> str:
        return f"#Ref 0x{self.hash.hex()}"


# --- filling the caches without deep recursion -----------------------------------------------

NEST_LIMIT = 16      # cells encoded, measured or compared by recursion, one inside another
nesting: list = []   # one entry per such recursive step in progress. Shared by all threads:
                     # appends and pops are atomic, so another thread can only make a walk
                     # switch to its explicit stack sooner, never let it recurse deeper.


def _encode(cell: Cell) -> tuple:
    """Fill and return the cache of an uncached cell: by recursion through encode_cell while
    fewer than NEST_LIMIT encodings are in progress, else with `_encode_below`."""
    if not cell.nests:
        enc = cell.encode_cell()
    elif len(nesting) >= NEST_LIMIT:
        _encode_below(cell)
        return cell._cache
    else:
        nesting.append(None)
        try:
            enc = cell.encode_cell()
        finally:
            nesting.pop()
    c = cell._cache = (enc, None, None)
    return c


def _pending(ch: Any) -> bool:
    """Whether child ch is a cell whose encoding is not cached yet (BranchRefs never are)."""
    return isinstance(ch, Cell) and ch._cache is None and type(ch) is not BranchRef


def _encode_below(root: Cell) -> None:
    """Encode root and every uncached cell under it, children before parents, keeping the
    path on a list instead of the Python stack. A cell is encoded on its second visit, once
    the children found on its first are: its encode_cell then finds their encodings cached
    and goes at most through a fixed number of intermediate nodes (such as a list's reversed
    vector). children() may make fresh intermediate nodes, so it is called once per visit."""
    stack: list = [(root, False)]
    while stack:
        cell, visited = stack.pop()
        if not visited:
            todo = [ch for ch in cell.children() if _pending(ch)]
            if todo:
                stack.append((cell, True))
                stack.extend([(ch, False) for ch in todo])
                continue
        if cell._cache is None:
            cell._cache = (cell.encode_cell(), None, None)


def _own_size(cell: Cell, enc: bytes) -> int:
    """Storage of the cell itself: none if embedded, else its encoding plus the overhead."""
    if len(enc) <= MAX_EMBEDDED:
        return 0
    return len(enc) + MEMORY_OVERHEAD


def _unmeasured(ch: Any) -> bool:
    """Whether child ch is a cell whose memory size is not cached yet."""
    if not isinstance(ch, Cell) or type(ch) is BranchRef:
        return False
    c = ch._cache
    return c is None or c[2] is None


def _measure_below(root: Cell) -> int:
    """Memory size of root, a cell whose size is not cached, with an explicit stack: every
    unmeasured cell under it is measured children first and its size cached. A cell's size
    is its own storage plus the sizes of its children, each counted every time it is
    referenced (as Cell.memory_size computes it by recursion)."""
    stack: list = [(root, None)]
    while stack:
        cell, kids = stack.pop()
        if kids is None:
            kids = cell.children()
            todo = [ch for ch in kids if _unmeasured(ch)]
            if todo:
                stack.append((cell, kids))
                stack.extend([(ch, None) for ch in todo])
                continue
        c = cell._cache
        if c is None:
            c = _encode(cell)
        if c[2] is None:
            size = _own_size(cell, c[0])
            for child in kids:
                size += memory_size(child)
            cell._cache = (c[0], c[1], size)
    return root._cache[2]


# --- native values ------------------------------------------------------------------------

def encode_long_bytes(n: int) -> bytes:
    """Minimal big-endian two's complement bytes of n (empty for 0)."""
    if n == 0:
        return b""
    length = (n + (n < 0)).bit_length() // 8 + 1
    return n.to_bytes(length, "big", signed=True)


def encode_integer(n: int) -> bytes:
    b = encode_long_bytes(n)
    if len(b) <= 8:
        return bytes((0x10 + len(b),)) + b
    if len(b) > 4096:
        raise OverflowError("integer too large to encode (more than 4096 bytes)")
    return b"\x19" + vlq(len(b)) + b


# The encodings of -128..127 indexed by the integer itself (a negative index counts from the
# end): a small integer's encoding, which is also its ref, is one list lookup.
SMALL_REFS = [encode_integer(i - 256 if i >= 128 else i) for i in range(256)]


def encode_double(d: float) -> bytes:
    return b"\x1d" + _pack_double(d)


def encoding(v: Any) -> bytes:
    """The canonical top-cell encoding of any CVM value."""
    t = type(v)
    if t is int:
        return SMALL_REFS[v] if -128 <= v < 128 else encode_integer(v)
    if v is None:
        return b"\x00"
    if t is bool:
        return b"\xb1" if v else b"\xb0"
    if t is float:
        return encode_double(v)
    try:
        return v.encoding()
    except AttributeError:
        raise TypeError(f"not a CVM value: {t.__name__}") from None


def value_id(v: Any) -> bytes:
    """SHA3-256 of the value's encoding: its identity."""
    try:
        c = v._cache
    except AttributeError:                      # a native value
        return _sha3(encoding(v)).digest()
    if c is None:                               # Cell.value_id's first use, inlined
        if type(v) is BranchRef:
            return v.hash
        enc = v.encode_cell()
        vid = _sha3(enc).digest()
        v._cache = (enc, vid, None)
        return vid
    vid = c[1]
    return vid if vid is not None else v.value_id()


def memory_size(v: Any) -> int:
    """CAD006 memory size: storage of all non-embedded cells reachable from v (0 if none)."""
    t = type(v)
    if t is int:
        if -(1 << 1000) < v < (1 << 1000):     # at most 127 bytes: always embedded
            return 0
    elif v is None or t is bool or t is float:
        return 0
    elif isinstance(v, Cell):
        return v.memory_size()
    enc = encoding(v)  # native: only a very large integer can be a branch
    return 0 if len(enc) <= MAX_EMBEDDED else len(enc) + MEMORY_OVERHEAD


def write_ref(v: Any) -> bytes:
    """How a parent cell refers to child v: embedded encoding, or 0x20 + value ID."""
    t = type(v)
    if t is int and -128 <= v < 128:
        return SMALL_REFS[v]
    if v is None:
        return b"\x00"
    if t is BranchRef:
        return b"\x20" + v.hash
    if isinstance(v, Cell):
        c = v._cache
        enc = v.encoding() if c is None else c[0]
    else:
        enc = encoding(v)
    if len(enc) <= MAX_EMBEDDED:
        return enc
    return b"\x20" + value_id(v)


def join_refs(items: Any, head: bytes = b"") -> bytes:
    """The refs of `items` one after another (what a collection's encoding holds), with
    small integers and embedded cells already encoded taken inline (most children of small
    cells are one or the other), after `head` (a cell's first bytes: one join, no copy)."""
    out = [head]        # a loop, not a comprehension: one Python frame fewer (3.11)
    for x in items:
        if type(x) is int and -128 <= x < 128:
            out.append(SMALL_REFS[x])
        else:           # a child cell's cached encoding is its ref when it is embedded
            c = getattr(x, "_cache", None)
            out.append(c[0] if c is not None and len(c[0]) <= MAX_EMBEDDED else write_ref(x))
    return b"".join(out)


def is_branch(v: Any) -> bool:
    return type(v) is BranchRef or len(encoding(v)) > MAX_EMBEDDED


# --- VLQ counts ---------------------------------------------------------------------------

def vlq(n: int) -> bytes:
    """Unsigned VLQ count: 7 bits per byte, most significant first, high bit = more."""
    if n < 0x80:
        return ONE_BYTE[n]
    if n < 0x4000:
        return ONE_BYTE[0x80 | n >> 7] + ONE_BYTE[n & 0x7F]
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


ONE_BYTE = [bytes((i,)) for i in range(256)]     # looked up, not built


def heads(tag: int) -> list:
    """The encodings of `tag` followed by each one-byte VLQ count (0-127): a cell's first
    bytes, looked up rather than built."""
    return [bytes((tag, i)) for i in range(0x80)]


def read_vlq(data: bytes, pos: int) -> tuple[int, int]:
    """Read a canonical VLQ count at pos; returns (value, next position)."""
    n = 0
    start = pos
    while True:
        if pos >= len(data):
            raise DecodeError(f"truncated count at byte {start}")
        b = data[pos]
        pos += 1
        if pos - start == 1 and b == 0x80:
            raise DecodeError(f"non-canonical count (leading zero) at byte {start}")
        n = (n << 7) | (b & 0x7F)
        if not b & 0x80:
            break
        if pos - start >= 9:
            raise DecodeError(f"count too long at byte {start}")
    if n >= 1 << 63:
        raise DecodeError(f"count out of range at byte {start}")
    return n, pos


def all_cells(v: Any) -> Iterable[Any]:
    """Every non-embedded cell reachable from v, v first when it is itself a branch (depth first)."""
    seen: set[bytes] = set()
    stack = [v]
    top = True
    while stack:
        c = stack.pop()
        if type(c) is BranchRef:
            continue
        if top or is_branch(c):
            vid = value_id(c)
            if vid in seen:
                continue
            seen.add(vid)
            yield c
        top = False
        if isinstance(c, Cell):
            stack.extend(reversed(c.children()))

