"""Atomic CVM values that are not native Python objects, and the decoders of all atoms.

Natives: nil = None, booleans = bool, integers (CVM Long and big Integer alike) = int,
doubles = float. The classes here: Char, Keyword, Symbol, Address, ByteFlag, Extension.
Keywords and symbols are interned, so identity is equality for them.
"""
from __future__ import annotations

import struct
from typing import Any

from kernel.data.cell import ONE_BYTE, Cell, DecodeError, encode_long_bytes, heads, vlq
from kernel.data.decoding import Decoder, register

_unpack_double = struct.Struct(">d").unpack
_pack_double = struct.Struct(">d").pack
CANONICAL_NAN_BITS = bytes.fromhex("7ff8000000000000")
NAN = _unpack_double(CANONICAL_NAN_BITS)[0]


class Char(Cell):
    """A Unicode code point (not a one-character string)."""

    __slots__ = ("cp",)
    nests = False           # encodes without recursion (kernel.data.cell.Cell.nests)

    def __init__(self, cp: int):
        if not 0 <= cp <= 0x10FFFF:
            raise ValueError(f"code point out of range: {cp}")
        self.cp = cp

    def encode_cell(self) -> bytes:
        cp = self.cp
        if cp < 0x100:
            return bytes((0x3C, cp))
        if cp < 0x10000:
            return bytes((0x3D, cp >> 8, cp & 0xFF))
        return bytes((0x3E, cp >> 16, (cp >> 8) & 0xFF, cp & 0xFF))

    def __eq__(self, other: Any) -> bool:
        return type(other) is Char and other.cp == self.cp

    def __hash__(self) -> int:
        return hash(("char", self.cp))

    @property
    def text(self) -> str:
        return chr(self.cp)


class _Named(Cell):
    """Interned name (Symbol or Keyword): 1-128 bytes of UTF-8."""

    __slots__ = ("name", "_utf8", "_cache")   # the cache in a slot, as in Address
    nests = False           # encodes without recursion (kernel.data.cell.Cell.nests)
    _table: dict

    def __new__(cls, name: str):
        v = cls._table.get(name)
        if v is None:
            utf8 = name.encode("utf-8", "surrogatepass")
            if not 1 <= len(utf8) <= 128:
                raise ValueError(f"{cls.__name__.lower()} name must be 1 to 128 bytes, "
                                 f"got {len(utf8)}")
            v = object.__new__(cls)
            v.name = name
            v._utf8 = utf8
            v._cache = None
            cls._table[name] = v
        return v

    def encode_cell(self) -> bytes:
        return bytes((self.tag, len(self._utf8))) + self._utf8

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __reduce__(self):
        return (type(self), (self.name,))


class Symbol(_Named):
    __slots__ = ()
    tag = 0x32
    _table: dict = {}


class Keyword(_Named):
    __slots__ = ()
    tag = 0x33
    _table: dict = {}


_ADDRESS_HEADS = heads(0xEA)
_ADDRESS_HEADS_2 = [bytes((0xEA, 0x80 | i)) for i in range(0x80)]


class Address(Cell):
    """An account address, #n."""

    # The cache in a slot, set here, not in the instance dict: kernel.value_id reads and fills
    # it through the slot, without the dict lookups a dict attribute costs
    __slots__ = ("n", "_cache")
    nests = False           # encodes without recursion (kernel.data.cell.Cell.nests)
    tag = 0xEA

    def __init__(self, n: int):
        if n < 0 or n >= 1 << 63:
            raise ValueError(f"address out of range: {n}")
        self.n = n
        self._cache = None

    def encode_cell(self) -> bytes:
        n = self.n
        if n < 0x80:
            return _ADDRESS_HEADS[n]
        if n < 0x4000:          # a two-byte count: looked up in halves, not built
            return _ADDRESS_HEADS_2[n >> 7] + ONE_BYTE[n & 0x7F]
        return b"\xea" + vlq(n)

    def __eq__(self, other: Any) -> bool:
        return type(other) is Address and other.n == self.n

    def __hash__(self) -> int:
        return hash(("addr", self.n))

    def __lt__(self, other: "Address") -> bool:
        return self.n < other.n


class ByteFlag(Cell):
    """The one-byte values 0xb2-0xbf (0xb0/0xb1 are the booleans)."""

    __slots__ = ("n",)
    nests = False           # encodes without recursion (kernel.data.cell.Cell.nests)

    def __init__(self, n: int):
        if not 2 <= n <= 15:
            raise ValueError(f"byte flag out of range: {n}")
        self.n = n

    def encode_cell(self) -> bytes:
        return bytes((0xB0 + self.n,))

    def __eq__(self, other: Any) -> bool:
        return type(other) is ByteFlag and other.n == self.n

    def __hash__(self) -> int:
        return hash(("flag", self.n))


class Extension(Cell):
    """A generic extension value: tag 0xe0-0xef followed by a VLQ number."""

    __slots__ = ("tag", "n")
    nests = False           # encodes without recursion (kernel.data.cell.Cell.nests)

    def __init__(self, tag: int, n: int):
        self.tag = tag
        self.n = n

    def encode_cell(self) -> bytes:
        return bytes((self.tag,)) + vlq(self.n)

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Extension):
            return other.tag == self.tag and other.n == self.n
        # an op or core definition decoded from the same bytes is the same value
        return isinstance(other, Cell) and other.encoding() == self.encoding()

    __hash__ = Cell.__hash__


def double_bits(d: float) -> bytes:
    return _pack_double(d)


def is_canonical_double(d: float) -> bool:
    return d == d or _pack_double(d) == CANONICAL_NAN_BITS


# --- decoders -----------------------------------------------------------------------------

def _read_nil(dec: Decoder, tag: int, pos: int):
    return None, pos


def _read_bool(dec: Decoder, tag: int, pos: int):
    return tag == 0xB1, pos


def _read_flag(dec: Decoder, tag: int, pos: int):
    return ByteFlag(tag - 0xB0), pos


def _read_small_int(dec: Decoder, tag: int, pos: int):
    n = tag - 0x10
    return int.from_bytes(dec.take(pos, n), "big", signed=True), pos + n


def _read_big_int(dec: Decoder, tag: int, pos: int):
    n, pos = dec.count(pos)
    if not 9 <= n <= 4096:
        raise DecodeError(f"big integer length {n} out of range 9..4096")
    return int.from_bytes(dec.take(pos, n), "big", signed=True), pos + n


def _read_double(dec: Decoder, tag: int, pos: int):
    return _unpack_double(dec.take(pos, 8))[0], pos + 8


def _read_char(dec: Decoder, tag: int, pos: int):
    n = tag - 0x3B
    cp = int.from_bytes(dec.take(pos, n), "big")
    if cp > 0x10FFFF:
        raise DecodeError(f"character code point 0x{cp:x} out of range")
    return Char(cp), pos + n


def _read_named(cls):
    def read(dec: Decoder, tag: int, pos: int):
        n = dec.byte(pos)
        raw = dec.take(pos + 1, n)
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"{cls.__name__.lower()} name is not valid UTF-8") from None
        return cls(name), pos + 1 + n
    return read


def _read_address(dec: Decoder, tag: int, pos: int):
    n, pos = dec.count(pos)
    return Address(n), pos


def _read_extension(dec: Decoder, tag: int, pos: int):
    n, pos = dec.count(pos)
    return Extension(tag, n), pos


register(0x00, _read_nil)
register((0xB0, 0xB1), _read_bool)
register(range(0xB2, 0xC0), _read_flag)
register(range(0x10, 0x19), _read_small_int)
register(0x19, _read_big_int)
register(0x1D, _read_double)
register(range(0x3C, 0x3F), _read_char)
register(0x32, _read_named(Symbol))
register(0x33, _read_named(Keyword))
register(range(0xE0, 0xF0), _read_extension)
register(0xEA, _read_address)

__all__ = ["Char", "Symbol", "Keyword", "Address", "ByteFlag", "Extension", "NAN",
           "double_bits", "is_canonical_double", "encode_long_bytes"]
