"""Blobs and Strings: byte data encoded as a Merkle tree of 4096-byte chunks.

Both keep their bytes flat in memory (fast slicing and hashing in Python) and derive the
canonical tree shape only for encoding: up to 4096 bytes is one cell; above, with
chunks = ceil(n / 4096) and s the smallest multiple of 4 with 16 * 2**s >= chunks, the top cell
holds refs to children of 4096 * 2**s bytes each (the last holds the rest). Children are
Blobs even under a String. A tree decoded without its branches is a `PartialBlob`.
"""
from __future__ import annotations

from typing import Any

from kernel.data.cell import BranchRef, Cell, DecodeError, MissingData, heads, vlq, write_ref
from kernel.data.decoding import Decoder, register

CHUNK = 4096
_STRING_HEADS, _BLOB_HEADS = heads(0x30), heads(0x31)   # tag and one-byte count, looked up


def _child_size(n: int) -> int:
    size = CHUNK
    while size * 16 < n:
        size <<= 4
    return size


class _Bytes(Cell):
    __slots__ = ("data", "_kids", "_cache")
    nests = False           # encoding recurses at most the chunk tree's height (Cell.nests)

    def __init__(self, data: bytes):
        self.data = data
        self._cache = None

    def __len__(self) -> int:
        return len(self.data)

    def children(self) -> tuple:
        if len(self.data) <= CHUNK:
            return ()
        try:
            return self._kids
        except AttributeError:
            d = self.data
            step = _child_size(len(d))
            kids = self._kids = tuple(Blob(d[i:i + step]) for i in range(0, len(d), step))
            return kids

    def _encode_long(self) -> bytes:
        """The encoding of more than 127 bytes: a longer count, and a tree above CHUNK.

        Shorter ones (the usual case) Blob and String each write in their own encode_cell
        from a module table: Python 3.11 does not specialise a class attribute read through an
        instance, and one method shared by both classes would switch between the two."""
        d = self.data
        n = len(d)
        if n <= CHUNK:
            return bytes((self.tag,)) + vlq(n) + d
        return bytes((self.tag,)) + vlq(n) + b"".join(write_ref(k) for k in self.children())

    def __hash__(self) -> int:
        return hash((self.tag, self.data))


class Blob(_Bytes):
    """Arbitrary immutable bytes, printed 0x..."""

    __slots__ = ()
    tag = 0x31

    def encode_cell(self) -> bytes:
        d = self.data
        n = len(d)
        return _BLOB_HEADS[n] + d if n < 0x80 else self._encode_long()

    def __eq__(self, other: Any) -> bool:
        if type(other) is Blob:
            return other.data == self.data
        return isinstance(other, PartialBlob) and other.value_id() == self.value_id()

    __hash__ = _Bytes.__hash__


class String(_Bytes):
    """UTF-8 text. `count` and indexing work on bytes, as in the reference."""

    __slots__ = ("_text",)
    tag = 0x30

    def encode_cell(self) -> bytes:
        d = self.data
        n = len(d)
        return _STRING_HEADS[n] + d if n < 0x80 else self._encode_long()

    @classmethod
    def of(cls, text: str) -> "String":
        s = cls(text.encode("utf-8", "surrogatepass"))
        s._text = text
        return s

    @property
    def text(self) -> str:
        try:
            return self._text
        except AttributeError:
            t = self._text = self.data.decode("utf-8", "replace")
            return t

    def __eq__(self, other: Any) -> bool:
        if type(other) is String:
            return other.data == self.data
        return isinstance(other, PartialBlob) and other.value_id() == self.value_id()

    __hash__ = _Bytes.__hash__


class PartialBlob(Cell):
    """A blob or string tree whose branches are only known by hash."""

    __slots__ = ("tag", "count", "kids")

    def __init__(self, tag: int, count: int, kids: tuple):
        self.tag = tag
        self.count = count
        self.kids = kids

    def children(self) -> tuple:
        return self.kids

    def encode_cell(self) -> bytes:
        return bytes((self.tag,)) + vlq(self.count) + b"".join(write_ref(k) for k in self.kids)

    def __len__(self) -> int:
        return self.count

    @property
    def data(self) -> bytes:
        for k in self.kids:
            if type(k) is BranchRef:
                raise MissingData(k.hash)
        return b"".join(k.data for k in self.kids)


def _read_bytes(dec: Decoder, tag: int, pos: int):
    n, pos = dec.count(pos)
    if n <= CHUNK:
        data = dec.take(pos, n)
        if tag == 0x30:
            return String(data), pos + n
        return Blob(data), pos + n
    step = _child_size(n)
    nkids = -(-n // step)
    kids = []
    for i in range(nkids):
        k, pos = dec.ref(pos)
        want = min(step, n - i * step)
        if type(k) is BranchRef:
            kids.append(k)
            continue
        if type(k) not in (Blob, PartialBlob) or len(k) != want:
            raise DecodeError(f"blob tree child {i} has the wrong type or length")
        kids.append(k)
    if any(type(k) is not Blob for k in kids):
        return PartialBlob(tag, n, tuple(kids)), pos
    data = b"".join(k.data for k in kids)
    return (String(data) if tag == 0x30 else Blob(data)), pos


register((0x30, 0x31), _read_bytes)

__all__ = ["Blob", "String", "PartialBlob", "CHUNK"]
