"""Generic CAD3 records: dense records (0xd0-0xdf), coded values (0xc0-0xcf), signed data (0x90).

These are the fallback representations for every tag in those ranges, registered at import.
The CVM registers specialised readers for the tags it interprets (ops, transactions, ...) with
`decoding.register`, which replaces these; a specialised reader that rejects an encoding can
fall back to `read_dense_record` / `read_coded_value`, as the reference does.
"""
from __future__ import annotations

from typing import Any

from kernel.data.blobs import Blob
from kernel.data.cell import BranchRef, Cell, write_ref
from kernel.data.decoding import Decoder, register
from kernel.data.vectors import Vector, nested_ref_equals, read_vector_body, ref_equals


def _same_encoding(a: Cell, b: Any) -> bool:
    """Equality with a cell of another class: only possible with the same tag (or a BranchRef)."""
    if isinstance(b, Cell) and (b.tag == a.tag or type(b) is BranchRef):
        return a.value_id() == b.value_id()
    return False


class DenseRecord(Cell):
    """A record whose fields are a vector: encoded as the tag then the vector's body."""

    __slots__ = ("tag", "values")

    def __init__(self, tag: int, values: Vector):
        if not 0xD0 <= tag <= 0xDF:
            raise ValueError(f"dense record tag out of range: 0x{tag:02x}")
        if not isinstance(values, Vector):
            raise TypeError("dense record values must be a Vector")
        self.tag = tag
        self.values = values

    @property
    def fields(self) -> tuple:
        return self.values.to_tuple()

    def encode_cell(self) -> bytes:
        return bytes((self.tag,)) + self.values.encoding()[1:]

    def children(self) -> tuple:
        return self.values.children()

    def __len__(self) -> int:
        return self.values.count

    def __eq__(self, other: Any) -> bool:
        if self is other:
            return True
        if type(other) is type(self):
            return other.tag == self.tag and other.values == self.values
        return _same_encoding(self, other)

    __hash__ = Cell.__hash__


class CodedValue(Cell):
    """A code and a value under a tag, e.g. a CVM op the kernel does not specialise."""

    __slots__ = ("tag", "code", "value")

    def __init__(self, tag: int, code: Any, value: Any):
        if not 0xC0 <= tag <= 0xCF:
            raise ValueError(f"coded value tag out of range: 0x{tag:02x}")
        self.tag = tag
        self.code = code
        self.value = value

    @property
    def fields(self) -> tuple:
        return (self.code, self.value)

    def encode_cell(self) -> bytes:
        return bytes((self.tag,)) + write_ref(self.code) + write_ref(self.value)

    def children(self) -> tuple:
        return (self.code, self.value)

    def __eq__(self, other: Any) -> bool:
        if self is other:
            return True
        if type(other) is type(self):
            return (other.tag == self.tag and ref_equals(other.code, self.code)
                    and nested_ref_equals(other.value, self.value))
        return _same_encoding(self, other)

    __hash__ = Cell.__hash__


class Signed(Cell):
    """A value with an Ed25519 public key and signature (not verified here). Like any cell it
    is embedded in its parent when its encoding is at most 140 bytes (a signed value of at most
    43 bytes), as peer-protocol.md §3 and §4 state the reference's rule."""

    __slots__ = ("public_key", "signature", "value")
    tag = 0x90

    def __init__(self, public_key: bytes, signature: bytes, value: Any):
        if len(public_key) != 32 or len(signature) != 64:
            raise ValueError("signed data needs a 32-byte key and a 64-byte signature")
        self.public_key = bytes(public_key)
        self.signature = bytes(signature)
        self.value = value

    @property
    def fields(self) -> tuple:
        """Field values in record order (:public-key :signature :value)."""
        return (Blob(self.public_key), Blob(self.signature), self.value)

    def encode_cell(self) -> bytes:
        return b"\x90" + self.public_key + self.signature + write_ref(self.value)

    def message(self) -> bytes:
        """The signed bytes: the encoding of the value ref."""
        return write_ref(self.value)

    def children(self) -> tuple:
        return (self.value,)

    def __eq__(self, other: Any) -> bool:
        if self is other:
            return True
        if type(other) is Signed:
            return (other.signature == self.signature and other.public_key == self.public_key
                    and nested_ref_equals(other.value, self.value))
        return _same_encoding(self, other)

    __hash__ = Cell.__hash__


def read_dense_record(dec: Decoder, tag: int, pos: int):
    values, pos = read_vector_body(dec, pos)
    return DenseRecord(tag, values), pos


def read_coded_value(dec: Decoder, tag: int, pos: int):
    code, pos = dec.ref(pos)
    value, pos = dec.ref(pos)
    return CodedValue(tag, code, value), pos


def _read_signed(dec: Decoder, tag: int, pos: int):
    key = dec.take(pos, 32)
    sig = dec.take(pos + 32, 64)
    value, pos = dec.ref(pos + 96)
    return Signed(key, sig, value), pos


register(range(0xD0, 0xE0), read_dense_record)
register(range(0xC0, 0xD0), read_coded_value)
register(0x90, _read_signed)

__all__ = ["DenseRecord", "CodedValue", "Signed", "read_dense_record", "read_coded_value"]
