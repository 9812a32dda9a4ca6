"""The cell model shared by every CVM value: encodings, value IDs, refs and memory sizes.

CVM values are either native Python objects (None, bool, int, float: the hot types of the
interpreter, kept native for speed) or instances of `Cell`. Every value has exactly one
canonical CAD3 encoding; its SHA3-256 is the value ID. A child whose own top-cell encoding is at
most 140 bytes is embedded in its parent, otherwise the parent holds a branch ref (0x20 + ID).

Cells cache their encoding, ID and memory size lazily, so building values in the interpreter
costs nothing extra.
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

    The caches live in one list in the instance dict (None at class level until first use):
    a miss is one attribute read, and filling all three costs a single dict insert."""

    tag: int = 0xFF
    always_branch = False          # True for types the reference never embeds (signed data)
    _cache: "list | None" = None   # [encoding, value ID, memory size], made on first use

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
        if c is None:
            enc = self.encode_cell()
            self._cache = [enc, None, None]
            return enc
        return c[0]

    def value_id(self) -> bytes:
        c = self._cache
        if c is None:
            enc = self.encode_cell()
            vid = _sha3(enc).digest()
            self._cache = [enc, vid, None]
            return vid
        vid = c[1]
        if vid is None:
            vid = c[1] = _sha3(c[0]).digest()
        return vid

    def cached_value_id(self) -> "bytes | None":
        """The value ID if already computed (cheap equality shortcut), else None."""
        c = self._cache
        return None if c is None else c[1]

    def memory_size(self) -> int:
        enc = self.encoding()
        c = self._cache
        size = c[2]
        if size is None:
            embedded = len(enc) <= MAX_EMBEDDED and not self.always_branch
            size = 0 if embedded else len(enc) + MEMORY_OVERHEAD
            for child in self.children():
                size += memory_size(child)
            c[2] = size
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
        from lisp.printer import print_value  # late import: kernel never depends on lisp at load

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


# --- native values ------------------------------------------------------------------------

def encode_long_bytes(n: int) -> bytes:
    """Minimal big-endian two's complement bytes of n (empty for 0)."""
    if n == 0:
        return b""
    length = (n + (n < 0)).bit_length() // 8 + 1
    return n.to_bytes(length, "big", signed=True)


_small_int_cache: dict[int, bytes] = {}


def encode_integer(n: int) -> bytes:
    b = encode_long_bytes(n)
    if len(b) <= 8:
        return bytes((0x10 + len(b),)) + b
    if len(b) > 4096:
        raise OverflowError("integer too large to encode (more than 4096 bytes)")
    return b"\x19" + vlq(len(b)) + b


def encode_double(d: float) -> bytes:
    return b"\x1d" + _pack_double(d)


_SMALL_INTS: list = []


def encoding(v: Any) -> bytes:
    """The canonical top-cell encoding of any CVM value."""
    t = type(v)
    if t is int:
        if -128 <= v < 128:
            e = _small_int_cache.get(v)
            if e is None:
                e = _small_int_cache[v] = encode_integer(v)
            return e
        return encode_integer(v)
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
    if isinstance(v, Cell):
        return v.value_id()
    return _sha3(encoding(v)).digest()


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
        return _SMALL_INTS[v + 128]
    if v is None:
        return b"\x00"
    if t is BranchRef:
        return b"\x20" + v.hash
    if isinstance(v, Cell):
        c = v._cache
        enc = v.encoding() if c is None else c[0]
        if v.always_branch:
            return b"\x20" + v.value_id()
    else:
        enc = encoding(v)
    if len(enc) <= MAX_EMBEDDED:
        return enc
    return b"\x20" + value_id(v)


def is_branch(v: Any) -> bool:
    return (type(v) is BranchRef or getattr(v, "always_branch", False)
            or len(encoding(v)) > MAX_EMBEDDED)


# --- VLQ counts ---------------------------------------------------------------------------

def vlq(n: int) -> bytes:
    """Unsigned VLQ count: 7 bits per byte, most significant first, high bit = more."""
    if n < 0x80:
        return _ONE_BYTE[n]
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


_ONE_BYTE = [bytes((i,)) for i in range(256)]


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


_SMALL_INTS.extend(encode_integer(i) for i in range(-128, 128))
