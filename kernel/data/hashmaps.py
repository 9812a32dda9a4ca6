"""Hash maps and hash sets: persistent hash tries with the reference's canonical shapes.

Entries are ordered by the value ID of their key (a set's element), compared as unsigned bytes.
The shape is a pure function of the entry set, which is what makes encodings canonical:

- at most 15 entries: a leaf holding the entries in hash order;
- more: a tree node whose `shift` is the number of leading hex digits shared by every key
  hash; its children split the entries by the hex digit at `shift` (a 16-bit mask says which
  digits are present) and are themselves canonical, so a child tree has its own larger shift.

Lookups of a large map walk the trie by key hash. Each map object also builds a Python dict
index (keyed by `dict_key`) once it has been looked up often enough to pay for it, so hot
maps such as environments answer `get` with one dict lookup, while a loop that assocs and
looks up alternately never rebuilds O(n) indexes.
"""
from __future__ import annotations

from hashlib import sha3_256 as _sha3
from operator import itemgetter
from typing import Any, Iterable, Iterator

from kernel.data.blobs import PartialBlob
from kernel.data.cell import (MAX_EMBEDDED, SMALL_REFS, BranchRef, Cell, DecodeError,
                              MissingData, encoding, heads, value_id, vlq, write_ref)
from kernel.data.decoding import Decoder, register
from kernel.data.equality import dict_key

MAX_LEAF = 15                   # largest leaf; 16 or more entries make a tree node
_NEVER = -(1 << 62)             # probe count of a map that can never be indexed (partial)
_by_hash = itemgetter(0)
_int_hashes: dict[int, bytes] = {}
_MAP_HEADS, _SET_HEADS = heads(0x82), heads(0x83)


def key_hash(k: Any) -> bytes:
    """Value ID of a key, cached: on the cell itself, or in a bounded table for integers."""
    if type(k) is int:
        h = _int_hashes.get(k)
        if h is None:
            if len(_int_hashes) >= 1 << 14:
                _int_hashes.clear()
            h = _int_hashes[k] = value_id(k)
        return h
    if isinstance(k, Cell):
        return k.value_id()
    return _sha3(encoding(k)).digest()     # nil, a boolean or a double


def _digit(h: bytes, i: int) -> int:
    """Hex digit i of h (digit 0 is the high nibble of byte 0)."""
    return (h[i >> 1] >> (0 if i & 1 else 4)) & 15


def _common_digits(a: bytes, b: bytes) -> int:
    """Number of leading hex digits two 32-byte hashes share."""
    x = int.from_bytes(a, "big") ^ int.from_bytes(b, "big")
    return 64 if x == 0 else (256 - x.bit_length()) >> 2


class _HashTrie(Cell):
    """One node of a hash trie; every node (leaf or tree) is itself a complete map or set.

    Leaf: `shift` < 0 and `nodes` is a tuple of (key hash, key, value) entries in hash order.
    Tree: `nodes` holds the children in digit order (same class, or BranchRef if not loaded).
    """

    __slots__ = ("count", "shift", "mask", "nodes", "_index", "_probes", "_cache")

    def __init__(self, shift: int, mask: int, nodes: tuple, count: int):
        self.shift = shift
        self.mask = mask
        self.nodes = nodes
        self.count = count
        self._index = None
        self._probes = 0
        self._cache = None

    # --- construction ---------------------------------------------------------------------
    @classmethod
    def _build(cls, ents: "list | tuple", lo: int = 0, hi: "int | None" = None):
        """The canonical node for ents[lo:hi] (sorted by hash, distinct)."""
        if hi is None:
            hi = len(ents)
        n = hi - lo
        if n <= MAX_LEAF:
            return cls(-1, 0, tuple(ents[lo:hi]), n)
        shift = _common_digits(ents[lo][0], ents[hi - 1][0])
        kids = []
        mask = 0
        i = lo
        while i < hi:
            d = _digit(ents[i][0], shift)
            j = i + 1
            while j < hi and _digit(ents[j][0], shift) == d:
                j += 1
            kids.append(cls._build(ents, i, j))
            mask |= 1 << d
            i = j
        return cls(shift, mask, tuple(kids), n)

    @classmethod
    def _from_entries(cls, ents: Iterable[tuple]):
        """Canonical node from entries in any order; a later duplicate key wins."""
        by_hash = {e[0]: e for e in ents}
        return cls._build(sorted(by_hash.values(), key=_by_hash))

    # --- cell protocol --------------------------------------------------------------------
    # Map and Set each write a leaf's entries in their own encode_cell (one frame per cell)
    def _tree_encoding(self) -> bytes:
        """A tree node's encoding: tag, count, shift, digit mask, then its children's refs."""
        n = self.count
        head = self._HEADS[n] if n < 0x80 else bytes((self.tag,)) + vlq(n)
        return (head + bytes((self.shift, self.mask >> 8, self.mask & 0xFF))
                + b"".join(map(write_ref, self.nodes)))

    def __eq__(self, other: Any) -> bool:
        if self is other:
            return True
        if type(other) is type(self):
            return self.count == other.count and self.value_id() == other.value_id()
        return type(other) is BranchRef and other.hash == self.value_id()

    __hash__ = Cell.__hash__

    def __len__(self) -> int:
        return self.count

    # --- lookup ---------------------------------------------------------------------------
    def _lookup(self, k: Any) -> "tuple | None":
        """The entry whose key is `=` to k, or None."""
        idx = self._index
        if idx is None:
            probes = self._probes = self._probes + 1
            if probes <= self.count >> 4 or not self._build_index():
                return self._find(key_hash(k))
            idx = self._index
        t = type(k)
        return idx.get(dict_key(k) if t is bool or t is float else k)

    def _build_index(self) -> bool:
        """Index all entries by dict_key; impossible (False) while any part is missing."""
        try:
            ents = self._entries()
        except MissingData:
            self._probes = _NEVER
            return False
        idx = {}
        for e in ents:
            k = e[1]
            t = type(k)
            if t is BranchRef or t is PartialBlob:  # hash differs from the full value's
                self._probes = _NEVER
                return False
            idx[dict_key(k) if t is bool or t is float else k] = e
        self._index = idx
        return True

    def _find(self, h: bytes) -> "tuple | None":
        node = self
        while node.shift >= 0:
            bit = 1 << _digit(h, node.shift)
            mask = node.mask
            if not mask & bit:
                return None
            node = node.nodes[(mask & (bit - 1)).bit_count()]
            if type(node) is BranchRef:
                raise MissingData(node.hash)
        for e in node.nodes:
            if e[0] == h:
                return e
        return None

    # --- traversal ------------------------------------------------------------------------
    def _entries(self) -> list:
        """All entries in canonical (hash) order."""
        if self.shift < 0:
            return list(self.nodes)
        out: list = []
        self._collect(out)
        return out

    def iter_entries(self) -> Iterator[tuple]:
        """The entries in canonical order, each found only when asked for: a walk that stops
        early does no work for the rest (as _entries, which lists them all, would)."""
        if self.shift < 0:
            yield from self.nodes
            return
        for kid in self.nodes:
            if type(kid) is BranchRef:
                raise MissingData(kid.hash)
            yield from kid.iter_entries()

    def _collect(self, out: list) -> None:
        if self.shift < 0:
            out.extend(self.nodes)
            return
        for kid in self.nodes:
            if type(kid) is BranchRef:
                raise MissingData(kid.hash)
            kid._collect(out)

    def _entry_at(self, i: int) -> tuple:
        if not 0 <= i < self.count:
            raise IndexError(f"index {i} out of range for count {self.count}")
        node = self
        while node.shift >= 0:
            for kid in node.nodes:
                if type(kid) is BranchRef:
                    raise MissingData(kid.hash)
                if i < kid.count:
                    node = kid
                    break
                i -= kid.count
        return node.nodes[i]

    def _some_hash(self) -> "bytes | None":
        """Any key hash in this subtree (None if every path to an entry is missing)."""
        if self.shift < 0:
            return self.nodes[0][0] if self.nodes else None
        for kid in self.nodes:
            if type(kid) is not BranchRef:
                h = kid._some_hash()
                if h is not None:
                    return h
        return None

    def _prefix_hash(self) -> bytes:
        h = self._some_hash()
        if h is None:
            raise MissingData(self.nodes[0].hash)
        return h

    # --- persistent updates -----------------------------------------------------------------
    def _with(self, e: tuple):
        """This node with entry e added or replacing the entry with the same key hash."""
        h = e[0]
        if self.shift < 0:
            ents = self.nodes
            i = 0
            for x in ents:
                if x[0] >= h:
                    if x[0] == h:
                        if x[1] is e[1] and x[2] is e[2]:
                            return self
                        return type(self)(-1, 0, ents[:i] + (e,) + ents[i + 1:], self.count)
                    break
                i += 1
            new = ents[:i] + (e,) + ents[i:]
            if len(new) <= MAX_LEAF:
                return type(self)(-1, 0, new, len(new))
            return self._build(new)
        shift = self.shift
        sample = self._prefix_hash()
        p = _common_digits(h, sample)
        cls = type(self)
        if p < shift:  # the new key leaves this node's common prefix: split above it
            leaf = cls(-1, 0, (e,), 1)
            dn, ds = _digit(h, p), _digit(sample, p)
            kids = (leaf, self) if dn < ds else (self, leaf)
            return cls(p, (1 << dn) | (1 << ds), kids, self.count + 1)
        bit = 1 << _digit(h, shift)
        mask = self.mask
        i = (mask & (bit - 1)).bit_count()
        nodes = self.nodes
        if not mask & bit:
            return cls(shift, mask | bit, nodes[:i] + (cls(-1, 0, (e,), 1),) + nodes[i:],
                       self.count + 1)
        child = nodes[i]
        if type(child) is BranchRef:
            raise MissingData(child.hash)
        new = child._with(e)
        if new is child:
            return self
        return cls(shift, mask, nodes[:i] + (new,) + nodes[i + 1:],
                   self.count + new.count - child.count)

    def _without(self, h: bytes):
        """This node without the entry whose key hash is h."""
        cls = type(self)
        if self.shift < 0:
            ents = self.nodes
            for i, x in enumerate(ents):
                if x[0] == h:
                    if self.count == 1:
                        return cls.EMPTY
                    return cls(-1, 0, ents[:i] + ents[i + 1:], self.count - 1)
            return self
        bit = 1 << _digit(h, self.shift)
        mask = self.mask
        if not mask & bit:
            return self
        i = (mask & (bit - 1)).bit_count()
        nodes = self.nodes
        child = nodes[i]
        if type(child) is BranchRef:
            raise MissingData(child.hash)
        new = child._without(h)
        if new is child:
            return self
        count = self.count - 1
        if count <= MAX_LEAF:
            ents: list = []
            for kid in nodes[:i] + (new,) + nodes[i + 1:]:
                if type(kid) is BranchRef:
                    raise MissingData(kid.hash)
                kid._collect(ents)
            return cls(-1, 0, tuple(ents), count)
        if new.count == 0:
            rest = nodes[:i] + nodes[i + 1:]
            if len(rest) == 1:  # the survivor has > 15 entries: a tree with its own shift
                return rest[0]
            return cls(self.shift, mask & ~bit, rest, count)
        return cls(self.shift, mask, nodes[:i] + (new,) + nodes[i + 1:], count)


class Map(_HashTrie):
    """A Convex hash map `{k v ...}`."""

    __slots__ = ()
    tag = 0x82
    EMPTY: "Map"
    _HEADS = _MAP_HEADS

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple]) -> "Map":
        """Map of (key, value) pairs; a later duplicate key wins."""
        return cls._from_entries((key_hash(k), k, v) for k, v in pairs)

    def encode_cell(self) -> bytes:
        n = self.count
        if self.shift >= 0:
            return self._tree_encoding()
        out = [_MAP_HEADS[n]]
        for _, k, v in self.nodes:  # keys' cached encodings and small values inline
            c = getattr(k, "_cache", None)
            out.append(c[0] if c is not None and len(c[0]) <= MAX_EMBEDDED else write_ref(k))
            out.append(SMALL_REFS[v] if type(v) is int and -128 <= v < 128 else write_ref(v))
        return b"".join(out)

    def children(self) -> tuple:
        if self.shift >= 0:
            return self.nodes
        out: list = []
        for e in self.nodes:
            out.append(e[1])
            out.append(e[2])
        return tuple(out)

    def get(self, k: Any, default: Any = None) -> Any:
        e = self._lookup(k)
        return default if e is None else e[2]

    def contains(self, k: Any) -> bool:
        return self._lookup(k) is not None

    def assoc(self, k: Any, v: Any) -> "Map":
        return self._with((key_hash(k), k, v))

    def dissoc(self, k: Any) -> "Map":
        return self._without(key_hash(k))

    def items(self) -> list:
        """(key, value) pairs in canonical order."""
        return [(e[1], e[2]) for e in self._entries()]

    def keys(self) -> list:
        return [e[1] for e in self._entries()]

    def values(self) -> list:
        return [e[2] for e in self._entries()]

    def __iter__(self) -> Iterator:
        return iter(self.keys())

    def entry_at(self, i: int) -> tuple:
        """The i-th (key, value) pair in canonical order."""
        e = self._entry_at(i)
        return e[1], e[2]

    def merge(self, other: "Map") -> "Map":
        """This map with every entry of `other` added; other's values win."""
        if not self.count:
            return other
        if other.count * 8 <= self.count:
            m = self
            for e in other._entries():
                m = m._with(e)
            return m
        return self._from_entries(self._entries() + other._entries())


class Set(_HashTrie):
    """A Convex hash set `#{x ...}` (entries carry None as their value)."""

    __slots__ = ()
    tag = 0x83
    EMPTY: "Set"
    _HEADS = _SET_HEADS

    @classmethod
    def from_seq(cls, xs: Iterable) -> "Set":
        return cls._from_entries((key_hash(x), x, None) for x in xs)

    def encode_cell(self) -> bytes:
        n = self.count
        if self.shift >= 0:
            return self._tree_encoding()
        out = [_SET_HEADS[n]]
        for _, x, _v in self.nodes:     # small elements inline
            out.append(SMALL_REFS[x] if type(x) is int and -128 <= x < 128 else write_ref(x))
        return b"".join(out)

    def children(self) -> tuple:
        if self.shift >= 0:
            return self.nodes
        return tuple(e[1] for e in self.nodes)

    def contains(self, x: Any) -> bool:
        return self._lookup(x) is not None

    def conj(self, x: Any) -> "Set":
        h = key_hash(x)
        return self if self._find(h) is not None else self._with((h, x, None))

    def disj(self, x: Any) -> "Set":
        return self._without(key_hash(x))

    def __iter__(self) -> Iterator:
        return (e[1] for e in self._entries())

    def element_at(self, i: int) -> Any:
        return self._entry_at(i)[1]

    def union(self, other: "Set") -> "Set":
        big, small = (self, other) if self.count >= other.count else (other, self)
        if small.count * 8 <= big.count:
            for e in small._entries():
                if big._find(e[0]) is None:
                    big = big._with(e)
            return big
        return self._from_entries(self._entries() + other._entries())

    def intersection(self, other: "Set") -> "Set":
        big, small = (self, other) if self.count >= other.count else (other, self)
        return self._build([e for e in small._entries() if big._find(e[0]) is not None])

    def difference(self, other: "Set") -> "Set":
        if other.count * 8 <= self.count:
            s = self
            for e in other._entries():
                s = s._without(e[0])
            return s
        return self._build([e for e in self._entries() if other._find(e[0]) is None])


Map.EMPTY = Map(-1, 0, (), 0)
Set.EMPTY = Set(-1, 0, (), 0)


# --- decoding -------------------------------------------------------------------------------

def _check_tree(cls: type, n: int, shift: int, mask: int, kids: list) -> None:
    """Reject tree nodes the reference could never produce (as far as loaded data shows)."""
    if shift >= 64:
        raise DecodeError(f"hash trie shift {shift} out of range")
    if len(kids) < 2:
        raise DecodeError("hash trie node must have at least two children")
    digits = [d for d in range(16) if mask >> d & 1]
    prefix = None
    known = missing = 0
    for d, kid in zip(digits, kids):
        if type(kid) is BranchRef:
            missing += 1
            continue
        if type(kid) is not cls:
            raise DecodeError(f"{cls.__name__} tree child is a {type(kid).__name__}")
        if kid.count == 0:
            raise DecodeError("empty child in hash trie")
        if 0 <= kid.shift <= shift:
            raise DecodeError("hash trie child shift must exceed its parent's")
        edges = (kid.nodes[0][0], kid.nodes[-1][0]) if kid.shift < 0 else (kid._some_hash(),)
        for h in edges:
            if h is None:
                continue
            if _digit(h, shift) != d:
                raise DecodeError(f"hash trie child under digit {d:x} holds other keys")
            if prefix is None:
                prefix = h
            elif _common_digits(prefix, h) < shift:
                raise DecodeError("hash trie children do not share the node's prefix")
        known += kid.count
    if known + missing > n or (not missing and known != n):
        raise DecodeError(f"hash trie count {n} does not match its children")


def _reader(cls: type, with_values: bool):
    def read(dec: Decoder, tag: int, pos: int):
        n, pos = dec.count(pos)
        if n == 0:
            return cls.EMPTY, pos
        if n <= MAX_LEAF:
            ents = []
            for _ in range(n):
                k, pos = dec.ref(pos)
                v = None
                if with_values:
                    v, pos = dec.ref(pos)
                ents.append((key_hash(k), k, v))
            for a, b in zip(ents, ents[1:]):
                if a[0] >= b[0]:
                    raise DecodeError(f"{cls.__name__} entries not in strict hash order")
            return cls(-1, 0, tuple(ents), n), pos
        shift = dec.byte(pos)
        mask = int.from_bytes(dec.take(pos + 1, 2), "big")
        pos += 3
        kids = []
        for _ in range(mask.bit_count()):
            kid, pos = dec.ref(pos)
            kids.append(kid)
        _check_tree(cls, n, shift, mask, kids)
        return cls(shift, mask, tuple(kids), n), pos
    return read


register(0x82, _reader(Map, True))
register(0x83, _reader(Set, False))

__all__ = ["Map", "Set", "key_hash", "MAX_LEAF"]
