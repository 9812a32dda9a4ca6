"""Data structures as the CVM sees them: one uniform view of every countable value (count,
nth, elements, sequences) and the generic get / assoc / conj / merge on data structures,
following the reference's runtime rules. Core functions, data values called as functions
and the JIT's inlined lookups all go through here.

* countable: nil (count 0), vectors, lists, maps and Indexes (elements are [k v] entry vectors),
  sets, blobs (elements are byte values), strings (elements are the characters starting at each
  byte position, nil inside a multi-byte character), keywords and symbols (the characters of
  their names) and addresses (their 8 big-endian bytes);
* data structures (get / assoc / conj / empty): vectors, lists, maps, Indexes and sets;
* sequences for traversal: nil is the empty vector, sets and maps become vectors of their
  elements / entries.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Optional

from kernel.cvm.errors import ARITY, BOUNDS, CAST, arg_cast_error, error
from kernel.cvm.types import type_name
from kernel.data.blobs import Blob, String
from kernel.data.hashmaps import Map, Set
from kernel.data.index import Index
from kernel.data.scalars import Address, Char, Keyword, Symbol
from kernel.data.vectors import List, Vector
from kernel.state.state import Record

LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
_EMPTY_BLOB = Blob(b"")
_EMPTY_STRING = String(b"")



def cast_value_error(value: Any, type_name_: str):
    """A :CAST error about a value (not a numbered argument)."""
    return error(CAST, f"Can't convert value of type {type_name(value)} to type {type_name_}")


def bounds_error(i: Any):
    return error(BOUNDS, f"Index out of bounds: {i}")


def is_long(x: Any) -> bool:
    """An integer (not a boolean) within the 64-bit signed range."""
    return type(x) is int and LONG_MIN <= x <= LONG_MAX


def utf8_char_at(data: bytes, i: int) -> Optional[Char]:
    """The character whose UTF-8 encoding starts at byte i, or None if none starts there."""
    n = len(data)
    if not 0 <= i < n:
        return None
    b = data[i]
    if b < 0x80:
        return Char(b)
    if b & 0xC0 != 0xC0:
        return None
    if b & 0xE0 == 0xC0:
        length, cp = 2, b & 0x1F
    elif b & 0xF0 == 0xE0:
        length, cp = 3, b & 0x0F
    elif b & 0xF8 == 0xF0:
        length, cp = 4, b & 0x07
    else:
        return None
    if i + length > n:
        return None
    for k in range(1, length):
        c = data[i + k]
        if c & 0xC0 != 0x80:
            return None
        cp = (cp << 6) | (c & 0x3F)
    if cp > 0x10FFFF:
        return None
    return Char(cp)


def _name_bytes(v: Any) -> bytes:
    return v.name.encode("utf-8", "surrogatepass")


def _entry(pair: tuple) -> Vector:
    return Vector.of(pair[0], pair[1])


def is_data_structure(v: Any) -> bool:
    t = type(v)
    return (t is Map or t is Set or t is Index or isinstance(v, (Vector, List))
            or isinstance(v, Record))


def is_mapping(v: Any) -> bool:
    """Hash maps, Indexes and records (which are maps with fixed keyword keys)."""
    t = type(v)
    return t is Map or t is Index or isinstance(v, Record)


def is_sequence(v: Any) -> bool:
    return isinstance(v, (Vector, List))


def count_of(v: Any) -> Optional[int]:
    """Element count of a countable value (nil counts 0), or None if not countable."""
    if v is None:
        return 0
    if isinstance(v, (Vector, List, Map, Set, Index, Blob, String, Record)):
        return len(v)
    t = type(v)
    if t is Keyword or t is Symbol:
        return len(_name_bytes(v))
    if t is Address:
        return 8
    return None


def nth_of(v: Any, i: int) -> Any:
    """Element i of a countable value (caller checks 0 <= i < count)."""
    if isinstance(v, (Vector, List)):
        return v[i]
    t = type(v)
    if is_mapping(v):
        return _entry(v.entry_at(i))
    if t is Set:
        return v.element_at(i)
    if t is Blob:
        return v.data[i]
    if t is String:
        return utf8_char_at(v.data, i)
    if t is Keyword or t is Symbol:
        return utf8_char_at(_name_bytes(v), i)
    if t is Address:
        return v.n.to_bytes(8, "big")[i]
    raise TypeError(f"not countable: {type_name(v)}")


def elements(v: Any) -> tuple:
    """All elements of a countable value, in order."""
    if v is None:
        return ()
    if isinstance(v, (Vector, List)):
        return v.to_tuple()
    t = type(v)
    if is_mapping(v):
        return tuple(_entry(p) for p in v.items())
    if t is Set:
        return tuple(v)
    n = count_of(v)
    return tuple(nth_of(v, i) for i in range(n))


def iter_elements(v: Any) -> Iterator:
    """The elements of a countable value in order, each made only when asked for: a call that
    stops early (reduced, an error) does no work for the rest, as it pays for none of it."""
    if v is None:
        return iter(())
    if isinstance(v, Vector):
        return iter(v)
    if isinstance(v, List):
        return map(v.__getitem__, range(len(v)))
    t = type(v)
    if t is Map or t is Index:
        return (Vector.of(e[1], e[2]) for e in v.iter_entries())
    if t is Set:
        return (e[1] for e in v.iter_entries())
    if isinstance(v, Record):
        return iter(elements(v))
    return (nth_of(v, i) for i in range(count_of(v)))


def is_traversable(v: Any) -> bool:
    """nil, a sequence, a set or a map: what sequence_of accepts."""
    return v is None or isinstance(v, (Vector, List)) or type(v) is Set or is_mapping(v)


def sequence_of(v: Any) -> Any:
    """The value as a sequence for traversal (nil -> [], sets and maps -> vectors), else None."""
    if v is None:
        return Vector.EMPTY
    if isinstance(v, (Vector, List)):
        return v
    if type(v) is Set or is_mapping(v):
        return Vector.from_seq(elements(v))
    return None


def ensure_sequence(v: Any) -> Any:
    """A vector or list as-is, nil as the empty vector, else None."""
    if v is None:
        return Vector.EMPTY
    if isinstance(v, (Vector, List)):
        return v
    return None


def ensure_set(v: Any) -> Optional[Set]:
    if v is None:
        return Set.EMPTY
    return v if type(v) is Set else None


def ensure_map(v: Any) -> Any:
    """A hash map or Index as-is, nil as the empty map, else None."""
    if v is None:
        return Map.EMPTY
    return v if is_mapping(v) else None


def ensure_associative(v: Any) -> Any:
    if v is None:
        return Map.EMPTY
    return v if is_data_structure(v) else None


def vector_of(v: Any) -> Vector:
    """Vector of the elements of a countable value."""
    if isinstance(v, Vector):
        return v
    return Vector.from_seq(elements(v))


def empty_of(v: Any) -> Any:
    """The empty value of the same type (None when the type has no empty value)."""
    if isinstance(v, Vector):
        return Vector.EMPTY
    if isinstance(v, List):
        return List.EMPTY
    t = type(v)
    if t is Map:
        return Map.EMPTY
    if t is Set:
        return Set.EMPTY
    if t is Index:
        return Index.EMPTY
    if isinstance(v, Record):
        return Map.EMPTY
    if t is Blob:
        return _EMPTY_BLOB
    if t is String:
        return _EMPTY_STRING
    return None


def slice_of(v: Any, start: int, end: int) -> Any:
    """Elements [start, end) of a countable value, as a value of the same kind where possible."""
    if isinstance(v, (Vector, List)):
        return v.slice(start, end)
    t = type(v)
    if t is Map:
        n = len(v)
        if start == 0 and end == n:
            return v
        return Map.from_pairs(v.entry_at(i) for i in range(start, end))
    if t is Index:
        n = len(v)
        if start == 0 and end == n:
            return v
        return Index.from_pairs(v.entry_at(i) for i in range(start, end))
    if isinstance(v, Record):
        n = len(v)
        if start == 0 and end == n:
            return v
        return Map.from_pairs(v.entry_at(i) for i in range(start, end))
    if t is Set:
        n = len(v)
        if start == 0 and end == n:
            return v
        return Set.from_seq(v.element_at(i) for i in range(start, end))
    if t is Blob:
        return Blob(v.data[start:end])
    if t is String:
        return String(v.data[start:end])
    if t is Keyword or t is Symbol:
        part = _name_bytes(v)[start:end]
        if not part:
            return None
        try:
            return t(part.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
    if t is Address:
        return Blob(v.n.to_bytes(8, "big")[start:end])
    return None


def ds_get(ds: Any, k: Any) -> Any:
    """(get ds k): the value for key k, or nil (false for a set) when absent."""
    if is_mapping(ds):
        return ds.get(k)
    t = type(ds)
    if t is Set:
        return ds.contains(k)
    # sequences: integer keys within range
    if is_long(k) and 0 <= k < len(ds):
        return ds[k]
    return None


def ds_get_default(ds: Any, k: Any, not_found: Any) -> Any:
    """(get ds k not-found)."""
    if is_mapping(ds):
        e = ds.get(k, ABSENT)
        return not_found if e is ABSENT else e
    t = type(ds)
    if t is Set:
        return True if ds.contains(k) else not_found
    if is_long(k) and 0 <= k < len(ds):
        return ds[k]
    return not_found


ABSENT = object()


def ds_contains_key(ds: Any, k: Any) -> bool:
    if type(ds) is Set or is_mapping(ds):
        return ds.contains(k)
    return is_long(k) and 0 <= k < len(ds)


def ds_assoc(ds: Any, k: Any, v: Any) -> Any:
    """ds with key k set to v, or None if k (or v) is not valid for this data structure."""
    t = type(ds)
    if t is Map or isinstance(ds, Record):
        return ds.assoc(k, v)
    if t is Index:
        try:
            return ds.assoc(k, v)
        except TypeError:
            return None
    if t is Set:
        if v is True:
            return ds.conj(k)
        if v is False:
            return ds.disj(k)
        return None
    if is_long(k) and 0 <= k < len(ds):
        return ds.assoc(k, v)
    return None


def ds_conj(ds: Any, x: Any) -> Any:
    """ds with x added in its natural place, or None if x is not a valid element."""
    if isinstance(ds, (Vector, List, Set)):
        return ds.conj(x)
    # maps take [k v] entries
    if isinstance(x, Vector) and len(x) == 2:
        return ds_assoc(ds, x[0], x[1])
    return None


def ds_merge(a: Any, b: Any) -> Any:
    """Map a with all entries of map b added (b's values win), or None if a key is invalid."""
    if type(a) is type(b):
        return a.merge(b)
    r = a
    for k, v in b.items():
        r = ds_assoc(r, k, v)
        if r is None:
            return None
    return r


class DataFn:
    """A data value used as a function: maps, sequences and sets look up their argument,
    keywords look themselves up in their argument."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def invoke(self, ctx: Any, args: list, d: int) -> Any:
        v = self.value
        n = len(args)
        t = type(v)
        if t is Keyword:
            if n == 1:
                ds = ensure_associative(args[0])
                if ds is None:
                    raise arg_cast_error(0, args[0], "DataStructure")
                return ds_get(ds, v)
            if n == 2:
                if args[0] is None:
                    return args[1]
                ds = ensure_associative(args[0])
                if ds is None:
                    raise arg_cast_error(0, args[0], "DataStructure")
                return ds_get_default(ds, v, args[1])
            raise error(ARITY, f"Expected arity 1 or 2 for keyword lookup but got: {n}")
        if t is Set:
            if n == 1:
                return v.contains(args[0])
            if n == 2:
                return True if v.contains(args[0]) else args[1]
            raise error(ARITY, f"Expected arity 1 or 2 for set lookup but got: {n}")
        if is_mapping(v):
            if n == 1:
                return ds_get(v, args[0])
            if n == 2:
                return ds_get_default(v, args[0], args[1])
            raise error(ARITY, f"Expected arity 1 or 2 for map lookup but got: {n}")
        # sequences
        if n not in (1, 2):
            raise error(ARITY, "Expected arity 1 or 2 for sequence lookup")
        k = args[0]
        if not is_long(k):
            raise arg_cast_error(0, k, "Long")
        if 0 <= k < len(v):
            return v[k]
        if n == 2:
            return args[1]
        raise bounds_error(k)


def as_function(f: Any) -> Any:
    """f as something invokable (functions as-is, data values wrapped), or None."""
    if getattr(f, "invoke", None) is not None:
        return f
    if is_data_structure(f) or type(f) is Keyword:
        return DataFn(f)
    return None


def lookup(f: Any) -> Optional[Callable]:
    """The invoke callable for a data value used as a function, or None."""
    g = as_function(f)
    return None if g is None else g.invoke
