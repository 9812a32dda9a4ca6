"""Index: a sorted map from blob-like keys, stored as a radix tree over their hex digits.

Keys are anything the reference treats as blob-like, compared by bytes alone: Blob, String,
Keyword and Symbol (their UTF-8 name) and Address or other extension values (the number as 8
big-endian bytes). So the String "ab" and the Blob 0x6162 are the same key: assoc of one
replaces an entry stored under the other, key included. Only the first 32 bytes (64 hex
digits, the maximum depth) identify a key; longer keys sharing them are the same key.

Canonical shape, a function of the entry set: no entries `84 00`; one entry `84 01 key val`;
otherwise a node at `depth` = the hex length of the keys' common prefix, holding the entry whose
key is exactly that prefix (if any) and one canonical child per next hex digit.
"""
from __future__ import annotations

from operator import itemgetter
from typing import Any, Iterable, Iterator

from kernel.data.blobs import Blob, PartialBlob, String
from kernel.data.cell import BranchRef, Cell, DecodeError, MissingData, vlq, write_ref
from kernel.data.decoding import Decoder, register
from kernel.data.scalars import Address, Extension, Keyword, Symbol

MAX_DEPTH = 64                  # hex digits of a key that count
MAX_KEY_BYTES = MAX_DEPTH // 2
_by_ident = itemgetter(0)


def key_bytes(k: Any) -> bytes:
    """The bytes of a blob-like key (TypeError for other values)."""
    t = type(k)
    if t is Blob or t is String or t is PartialBlob:
        return k.data
    if t is Keyword or t is Symbol:
        return k.name.encode("utf-8", "surrogatepass")
    if t is Address or t is Extension:
        return k.n.to_bytes(8, "big")
    if t is BranchRef:
        raise MissingData(k.hash)
    raise TypeError(f"Index keys must be blob-like, not {t.__name__}")


def _ident(k: Any) -> "bytes | None":
    """What identifies key k in an Index (None if k is not blob-like)."""
    try:
        return key_bytes(k)[:MAX_KEY_BYTES]
    except TypeError:
        return None


def _digit(b: bytes, i: int) -> int:
    return (b[i >> 1] >> (0 if i & 1 else 4)) & 15


def _common_hex(a: bytes, b: bytes) -> int:
    """Length in hex digits of the common prefix of a and b."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    if i == n:
        return 2 * n
    return 2 * i + ((a[i] ^ b[i]) < 16)


class Index(Cell):
    """A node of the radix tree; every node is itself a complete Index.

    `entry` is (ident, key, value) or None; `kids` are child Indexes (or BranchRef) in digit
    order; `prefix` is the ident of some key below (None when no key is loaded), which is all
    the prefix information a node needs: its first `depth` hex digits are the common prefix.
    """

    __slots__ = ("count", "depth", "entry", "mask", "kids", "prefix", "_cache")
    tag = 0x84
    EMPTY: "Index"

    def __init__(self, count: int, depth: int, entry: "tuple | None", mask: int, kids: tuple):
        self.count = count
        self.depth = depth
        self.entry = entry
        self.mask = mask
        self.kids = kids
        self._cache = None
        if entry is not None:
            self.prefix = entry[0]
        else:
            self.prefix = next((k.prefix for k in kids if type(k) is Index
                                and k.prefix is not None), None)

    # --- construction ---------------------------------------------------------------------
    @staticmethod
    def _single(e: tuple) -> "Index":
        depth = MAX_DEPTH if e[0] is None else 2 * len(e[0])
        return Index(1, depth, e, 0, ())

    @staticmethod
    def _build(ents: "list | tuple", lo: int = 0, hi: "int | None" = None) -> "Index":
        """The canonical Index of ents[lo:hi] (sorted by ident, distinct)."""
        if hi is None:
            hi = len(ents)
        n = hi - lo
        if n == 0:
            return Index.EMPTY
        if n == 1:
            return Index._single(ents[lo])
        first = ents[lo][0]
        depth = _common_hex(first, ents[hi - 1][0])
        entry = None
        if 2 * len(first) == depth:  # a key equal to the prefix sorts first
            entry = ents[lo]
            lo += 1
        kids = []
        mask = 0
        i = lo
        while i < hi:
            d = _digit(ents[i][0], depth)
            j = i + 1
            while j < hi and _digit(ents[j][0], depth) == d:
                j += 1
            kids.append(Index._build(ents, i, j))
            mask |= 1 << d
            i = j
        return Index(n, depth, entry, mask, tuple(kids))

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple]) -> "Index":
        """Index of (key, value) pairs; a later duplicate key wins (key included)."""
        by_ident = {}
        for k, v in pairs:
            i = _ident(k)
            if i is None:
                key_bytes(k)  # raises the TypeError
            by_ident[i] = (i, k, v)
        return cls._build(sorted(by_ident.values(), key=_by_ident))

    # --- cell protocol --------------------------------------------------------------------
    def encode_cell(self) -> bytes:
        out = [b"\x84", vlq(self.count)]
        e = self.entry
        if self.count == 1:
            out += (write_ref(e[1]), write_ref(e[2]))
        elif self.count > 1:
            if e is None:
                out.append(b"\x00")
            else:
                out += (b"\x80", write_ref(e[1]), write_ref(e[2]))
            out.append(bytes((self.depth, self.mask >> 8, self.mask & 0xFF)))
            out += [write_ref(k) for k in self.kids]
        return b"".join(out)

    def children(self) -> tuple:
        e = self.entry
        return self.kids if e is None else (e[1], e[2]) + self.kids

    def __eq__(self, other: Any) -> bool:
        if self is other:
            return True
        if type(other) is Index:
            return self.count == other.count and self.value_id() == other.value_id()
        return type(other) is BranchRef and other.hash == self.value_id()

    __hash__ = Cell.__hash__

    def __len__(self) -> int:
        return self.count

    # --- lookup ---------------------------------------------------------------------------
    def _find(self, ident: bytes) -> "tuple | None":
        node = self
        kl = 2 * len(ident)
        while node.count > 1 and kl > node.depth:
            bit = 1 << _digit(ident, node.depth)
            if not node.mask & bit:
                return None
            node = node.kids[(node.mask & (bit - 1)).bit_count()]
            if type(node) is BranchRef:
                raise MissingData(node.hash)
        e = node.entry
        if e is None:
            return None
        if e[0] is None:
            raise MissingData(e[1].hash)
        return e if e[0] == ident else None

    def get(self, k: Any, default: Any = None) -> Any:
        i = _ident(k)
        e = None if i is None else self._find(i)
        return default if e is None else e[2]

    def contains(self, k: Any) -> bool:
        i = _ident(k)
        return i is not None and self._find(i) is not None

    # --- persistent updates -----------------------------------------------------------------
    def assoc(self, k: Any, v: Any) -> "Index":
        """This Index with key k set to v (TypeError if k is not blob-like)."""
        i = _ident(k)
        if i is None:
            key_bytes(k)
        return self._with((i, k, v))

    def dissoc(self, k: Any) -> "Index":
        i = _ident(k)
        return self if i is None else self._without(i)

    def _with(self, e: tuple) -> "Index":
        ident = e[0]
        if self.count == 0:
            return self._single(e)
        if self.count == 1:
            old = self.entry
            if old[0] is None:
                raise MissingData(old[1].hash)
            if old[0] == ident:
                return self if old[1] is e[1] and old[2] is e[2] else self._single(e)
            return self._build((old, e) if old[0] < ident else (e, old))
        p = self.prefix
        if p is None:
            raise MissingData(self.kids[0].hash)
        depth, mask, kids = self.depth, self.mask, self.kids
        kl = 2 * len(ident)
        m = min(_common_hex(ident, p), depth)
        if m < depth:
            if m == kl:  # the new key is a proper prefix of this node's keys
                return Index(self.count + 1, m, e, 1 << _digit(p, m), (self,))
            dn, dp = _digit(ident, m), _digit(p, m)
            leaf = self._single(e)
            pair = (leaf, self) if dn < dp else (self, leaf)
            return Index(self.count + 1, m, None, (1 << dn) | (1 << dp), pair)
        if kl == depth:
            old = self.entry
            if old is None:
                return Index(self.count + 1, depth, e, mask, kids)
            if old[1] is e[1] and old[2] is e[2]:
                return self
            return Index(self.count, depth, e, mask, kids)
        bit = 1 << _digit(ident, depth)
        i = (mask & (bit - 1)).bit_count()
        if not mask & bit:
            return Index(self.count + 1, depth, self.entry, mask | bit,
                         kids[:i] + (self._single(e),) + kids[i:])
        child = kids[i]
        if type(child) is BranchRef:
            raise MissingData(child.hash)
        new = child._with(e)
        if new is child:
            return self
        return Index(self.count + new.count - child.count, depth, self.entry, mask,
                     kids[:i] + (new,) + kids[i + 1:])

    def _without(self, ident: bytes) -> "Index":
        if self.count <= 1:
            return Index.EMPTY if self._find(ident) is not None else self
        depth, mask, kids, entry = self.depth, self.mask, self.kids, self.entry
        kl = 2 * len(ident)
        if kl < depth:
            return self
        if kl == depth:
            if entry is None or entry[0] != ident:
                return self
            if len(kids) == 1:
                return _loaded(kids[0])
            return Index(self.count - 1, depth, None, mask, kids)
        bit = 1 << _digit(ident, depth)
        if not mask & bit:
            return self
        i = (mask & (bit - 1)).bit_count()
        child = _loaded(kids[i])
        new = child._without(ident)
        if new is child:
            return self
        if new.count:
            return Index(self.count - 1, depth, entry, mask, kids[:i] + (new,) + kids[i + 1:])
        rest = kids[:i] + kids[i + 1:]
        if entry is None and len(rest) == 1:
            return _loaded(rest[0])
        if not rest:
            return self._single(entry)
        return Index(self.count - 1, depth, entry, mask & ~bit, rest)

    # --- traversal (key order: a node's own entry, then its children by digit) -------------
    def _collect(self, out: list) -> None:
        if self.entry is not None:
            out.append(self.entry)
        for kid in self.kids:
            _loaded(kid)._collect(out)

    def _entries(self) -> list:
        out: list = []
        self._collect(out)
        return out

    def items(self) -> list:
        return [(e[1], e[2]) for e in self._entries()]

    def iter_entries(self) -> Iterator[tuple]:
        """The entries in key order, each found only when asked for (see _HashTrie)."""
        if self.entry is not None:
            yield self.entry
        for kid in self.kids:
            yield from _loaded(kid).iter_entries()

    def keys(self) -> list:
        return [e[1] for e in self._entries()]

    def values(self) -> list:
        return [e[2] for e in self._entries()]

    def __iter__(self) -> Iterator:
        return iter(self.keys())

    def entry_at(self, i: int) -> tuple:
        """The i-th (key, value) pair in key order."""
        if not 0 <= i < self.count:
            raise IndexError(f"index {i} out of range for count {self.count}")
        node = self
        while True:
            if node.entry is not None:
                if i == 0:
                    return node.entry[1], node.entry[2]
                i -= 1
            for kid in node.kids:
                kid = _loaded(kid)
                if i < kid.count:
                    node = kid
                    break
                i -= kid.count

    def merge(self, other: "Index") -> "Index":
        """This Index with every entry of `other` added; other's entries win."""
        r = self
        for e in other._entries():
            r = r._with(e)
        return r


def _loaded(node: Any) -> Index:
    if type(node) is BranchRef:
        raise MissingData(node.hash)
    return node


Index.EMPTY = Index(0, 0, None, 0, ())


# --- decoding -------------------------------------------------------------------------------

def _read_entry(dec: Decoder, pos: int) -> "tuple[tuple, int]":
    k, pos = dec.ref(pos)
    v, pos = dec.ref(pos)
    if type(k) is BranchRef:
        return (None, k, v), pos
    i = _ident(k)
    if i is None:
        raise DecodeError(f"Index key of type {type(k).__name__} is not blob-like")
    return (i, k, v), pos


def _read_index(dec: Decoder, tag: int, pos: int):
    n, pos = dec.count(pos)
    if n == 0:
        return Index.EMPTY, pos
    if n == 1:
        e, pos = _read_entry(dec, pos)
        return Index._single(e), pos
    marker = dec.byte(pos)
    pos += 1
    entry = None
    if marker == 0x80:
        entry, pos = _read_entry(dec, pos)
    elif marker != 0x00:
        raise DecodeError(f"bad Index entry marker 0x{marker:02x}")
    depth = dec.byte(pos)
    mask = int.from_bytes(dec.take(pos + 1, 2), "big")
    pos += 3
    kids = []
    for _ in range(mask.bit_count()):
        kid, pos = dec.ref(pos)
        kids.append(kid)
    _check_node(n, depth, entry, mask, kids)
    return Index(n, depth, entry, mask, tuple(kids)), pos


def _check_node(n: int, depth: int, entry: "tuple | None", mask: int, kids: list) -> None:
    """Reject nodes the reference could never produce (as far as loaded data shows)."""
    if depth >= MAX_DEPTH:
        raise DecodeError(f"Index node with {n} entries at depth {depth}")
    if len(kids) < (1 if entry else 2):
        raise DecodeError("Index node has too few children")
    prefix = None
    if entry is not None:
        if entry[0] is None or 2 * len(entry[0]) != depth:
            raise DecodeError("Index entry key length does not match the node depth")
        prefix = entry[0]
    digits = [d for d in range(16) if mask >> d & 1]
    known = 0 if entry is None else 1
    missing = 0
    for d, kid in zip(digits, kids):
        if type(kid) is BranchRef:
            missing += 1
            continue
        if type(kid) is not Index or kid.count == 0:
            raise DecodeError("Index child must be a non-empty Index")
        if kid.depth <= depth:
            raise DecodeError("Index child must be deeper than its parent")
        p = kid.prefix
        if p is not None:
            if _digit(p, depth) != d:
                raise DecodeError(f"Index child under digit {d:x} holds other keys")
            if prefix is None:
                prefix = p
            elif _common_hex(prefix, p) < depth:
                raise DecodeError("Index children do not share the node's prefix")
        known += kid.count
    if known + missing > n or (not missing and known != n):
        raise DecodeError(f"Index count {n} does not match its entries")


register(0x84, _read_index)

__all__ = ["Index", "key_bytes", "MAX_DEPTH"]
