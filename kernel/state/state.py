"""The global state, accounts and peers (CAD004, CAD005) as CVM records.

A record is a map-like value with a fixed list of keyword keys. It is encoded as a CAD3 dense
record: its tag, then the body of the vector of its field values in key order (so a record
hashes like the reference's, and decodes back to the same class). Records are immutable;
updates build a new record sharing every unchanged field, so `def` in a loop only costs a new
account record and a path copy in the accounts vector.

    State          0xd5  [:accounts :peers :globals :schedule]
    Account        0xd8  [:sequence :key :balance :allowance :holdings :controller
                          :environment :metadata :parent]
    PeerStatus     0xd9  [:controller :stake :stakes :delegated-stake :metadata :timestamp
                          :balance]

Absent optional fields are nil in the record (a new account has no environment map at all);
the Python properties used by the interpreter give the empty map / Index instead, as the
reference's accessors do.
"""
from __future__ import annotations

from typing import Any, Optional

from kernel.data import printer
from kernel.data.cell import Cell, join_refs
from kernel.data.decoding import register
from kernel.data.hashmaps import Map
from kernel.data.index import Index
from kernel.data.scalars import Address, Keyword
from kernel.data.vectors import Vector, nested_ref_equals, read_vector_body

CORE_ADDRESS = 8

# Coin units (copper is the smallest)
COPPER, SILVER, GOLD, DIAMOND, EMERALD = 1, 10**3, 10**9, 10**12, 10**15
MAX_SUPPLY = 1000 * EMERALD

# Genesis constants of the reference
INITIAL_TIMESTAMP = 1607231293086        # 2020-12-06T05:08:13.0864Z in ms
INITIAL_JUICE_PRICE = 10
INITIAL_MEMORY_POOL = 1_000_000          # bytes in the memory exchange pool
INITIAL_MEMORY_PRICE = 1_000_000         # coppers per byte
INITIAL_ACCOUNT_ALLOWANCE = 10_000       # memory allowance of genesis users
INITIAL_PEER_TIMESTAMP = -1
MINIMUM_EFFECTIVE_STAKE = 1000 * GOLD
MAX_TRANSACTION_JUICE = 10_000_000
MEMORY_POOL_GROWTH = 1_000_000
MEMORY_POOL_GROWTH_INTERVAL = 24 * 3600 * 1000

K = Keyword


class Record(Cell):
    """Base of the CVM records: `KEYS` names the fields, `_f` holds their values."""

    __slots__ = ("_f", "_cache")
    KEYS: tuple = ()
    _POS: dict = {}
    cvm_record = True

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls._POS = {k: i for i, k in enumerate(cls.KEYS)}

    @classmethod
    def _make(cls, fields: tuple) -> "Record":
        r = cls.__new__(cls)
        r._f = fields
        r._cache = None
        return r

    @classmethod
    def from_fields(cls, fields: "tuple | Vector") -> Optional["Record"]:
        """A record from its field values, or None if they are not valid for this type."""
        fields = tuple(fields)
        if len(fields) != len(cls.KEYS) or not cls.valid_fields(fields):
            return None
        return cls._make(fields)

    @staticmethod
    def valid_fields(fields: tuple) -> bool:
        return True

    # --- map view ------------------------------------------------------------------------
    @property
    def fields(self) -> tuple:
        return self._f

    def get(self, k: Any, default: Any = None) -> Any:
        i = self._POS.get(k) if type(k) is Keyword else None
        return default if i is None else self._f[i]

    def contains(self, k: Any) -> bool:
        return type(k) is Keyword and k in self._POS

    def __len__(self) -> int:
        return len(self.KEYS)

    def keys(self) -> list:
        return list(self.KEYS)

    def values(self) -> list:
        return list(self._f)

    def items(self) -> list:
        return list(zip(self.KEYS, self._f))

    def __iter__(self):
        return iter(self.items())

    def entry_at(self, i: int) -> tuple:
        return self.KEYS[i], self._f[i]

    def to_map(self) -> Map:
        return Map.from_pairs(self.items())

    # Like the reference, changing the key set makes an ordinary hash map.
    def assoc(self, k: Any, v: Any) -> Map:
        return self.to_map().assoc(k, v)

    def dissoc(self, k: Any) -> Any:
        return self.to_map().dissoc(k) if self.contains(k) else self

    def merge(self, other: Any) -> Map:
        m = self.to_map()
        for k, v in other.items():
            m = m.assoc(k, v)
        return m

    # --- cell ----------------------------------------------------------------------------
    def encode_cell(self) -> bytes:
        f = self._f
        if len(f) <= 16:    # the body of a vector leaf, built directly
            return join_refs(f, bytes((self.tag, len(f))))
        return bytes((self.tag,)) + Vector.from_seq(f).encoding()[1:]

    def children(self) -> tuple:
        f = self._f
        return f if len(f) <= 16 else Vector.from_seq(f).children()

    def __eq__(self, other: Any) -> bool:
        if self is other:
            return True
        if type(other) is type(self):
            if other._f is self._f:
                return True
            a, b = self.cached_value_id(), other.cached_value_id()
            if a is not None and b is not None:
                return a == b
            return all(map(nested_ref_equals, self._f, other._f))
        return isinstance(other, Cell) and Cell.__eq__(self, other)

    __hash__ = Cell.__hash__

    def _with(self, i: int, v: Any) -> "Record":
        f = self._f
        if f[i] is v:
            return self
        return self._make(f[:i] + (v,) + f[i + 1:])


# ------------------------------------------------------------------------------------------------
# Accounts
# ------------------------------------------------------------------------------------------------

_ACCOUNT_FIELDS = ("sequence", "key", "balance", "memory", "holdings", "controller",
                   "environment", "metadata", "parent")
_ACCOUNT_POS = {n: i for i, n in enumerate(_ACCOUNT_FIELDS)}


class Account(Record):
    """AccountStatus: one account's sequence, key, coins, memory allowance, holdings,
    controller, environment, metadata and parent. An account without a key is an actor."""

    __slots__ = ()
    tag = 0xD8
    KEYS = (K("sequence"), K("key"), K("balance"), K("allowance"), K("holdings"),
            K("controller"), K("environment"), K("metadata"), K("parent"))

    def __init__(self, sequence: int = 0, balance: int = 0, memory: int = 0,
                 environment: Optional[Map] = None, metadata: Optional[Map] = None,
                 holdings: Optional[Index] = None, controller: Any = None, key: Any = None,
                 parent: Optional[Address] = None):
        self._f = (sequence, key, balance, memory, holdings, controller, environment,
                   metadata, parent)
        self._cache = None

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        from kernel.data.blobs import Blob
        seq, key, bal, mem, hold, _ctl, env, meta, parent = f
        return (_is_long(seq) and seq >= 0 and _is_long(bal) and 0 <= bal <= MAX_SUPPLY
                and _is_long(mem) and mem >= 0
                and (key is None or (type(key) is Blob and len(key) == 32))
                and (hold is None or type(hold) is Index)
                and (env is None or type(env) is Map) and (meta is None or type(meta) is Map)
                and (parent is None or type(parent) is Address))

    def with_(self, **changes: Any) -> "Account":
        f = list(self._f)
        for name, v in changes.items():
            f[_ACCOUNT_POS[name]] = v
        return self._make(tuple(f))

    # Field access (the interpreter's API). Missing maps read as empty ones.
    sequence = property(lambda self: self._f[0])
    key = property(lambda self: self._f[1])
    balance = property(lambda self: self._f[2])
    memory = property(lambda self: self._f[3])
    controller = property(lambda self: self._f[5])
    parent = property(lambda self: self._f[8])

    @property
    def holdings(self) -> Index:
        h = self._f[4]
        return Index.EMPTY if h is None else h

    @property
    def environment(self) -> Map:
        e = self._f[6]
        return Map.EMPTY if e is None else e

    @property
    def metadata(self) -> Map:
        m = self._f[7]
        return Map.EMPTY if m is None else m

    @property
    def is_actor(self) -> bool:
        return self._f[1] is None

    def with_balance(self, b: int) -> "Account":
        return self if self._f[2] == b else self._with(2, b)

    def with_memory(self, m: int) -> "Account":
        return self if self._f[3] == m else self._with(3, m)

    def with_holding(self, addr: Address, value: Any) -> "Account":
        """Holding for `addr` set to value (nil removes it; no holdings left reads as nil)."""
        h = self._f[4]
        if h is None:
            h = None if value is None else Index.EMPTY.assoc(addr, value)
        elif value is None:
            h = h.dissoc(addr)
            if len(h) == 0:
                h = None
        else:
            h = h.assoc(addr, value)
        return self._with(4, h)


def _is_long(x: Any) -> bool:
    return type(x) is int and -(1 << 63) <= x < (1 << 63)


# ------------------------------------------------------------------------------------------------
# Peers
# ------------------------------------------------------------------------------------------------

def mul_div(a: int, b: int, c: int) -> int:
    """floor(a * b / c) for non-negative values, -1 if it does not fit a long (the reference
    signals overflow with a negative result)."""
    if c <= 0:
        return -1
    r = (a * b) // c
    return r if r < (1 << 63) else -1


class PeerStatus(Record):
    """A peer's on-chain record: controller, own stake, delegated stake shares by address
    (:stakes), total delegated shares, metadata (e.g. :url), last block timestamp and the
    coin balance held for stake."""

    __slots__ = ()
    tag = 0xD9
    KEYS = (K("controller"), K("stake"), K("stakes"), K("delegated-stake"), K("metadata"),
            K("timestamp"), K("balance"))

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        ctl, stake, stakes, dstake, meta, ts, bal = f
        return (type(ctl) is Address and _is_long(stake) and _is_long(dstake)
                and _is_long(ts) and _is_long(bal)
                and (stakes is None or type(stakes) is Index)
                and (meta is None or type(meta) is Map))

    @classmethod
    def create(cls, controller: Address, stake: int, metadata: Optional[Map] = None) -> "PeerStatus":
        return cls._make((controller, stake, Index.EMPTY, 0, metadata, INITIAL_PEER_TIMESTAMP,
                          stake))

    controller = property(lambda self: self._f[0])
    stake_shares = property(lambda self: self._f[1])
    delegated_shares = property(lambda self: self._f[3])
    timestamp = property(lambda self: self._f[5])
    balance = property(lambda self: self._f[6])

    @property
    def stakes(self) -> Index:
        s = self._f[2]
        return Index.EMPTY if s is None else s

    @property
    def metadata(self) -> Optional[Map]:
        return self._f[4]

    @property
    def total_stake(self) -> int:
        return self._f[1] + self._f[3]

    @property
    def delegated_stake(self) -> int:
        """Coins of the balance owned by delegators."""
        total = self.total_stake
        if total <= 0:
            return 0
        return mul_div(self.balance, self._f[3], total)

    @property
    def peer_stake(self) -> int:
        """Coins of the balance owned by the peer itself."""
        return self.balance - self.delegated_stake

    def delegated_stake_of(self, delegator: Address) -> int:
        shares_total = self._f[3]
        if shares_total <= 0:
            return 0
        shares = self.stakes.get(delegator)
        if shares is None:
            return 0
        return mul_div(self.balance - self.peer_stake, shares, shares_total)

    def with_delegated_stake(self, delegator: Address, new_stake: int) -> "PeerStatus":
        old = self.delegated_stake_of(delegator)
        if old == new_stake:
            return self
        change = new_stake - old
        stakes = self.stakes
        stakes = stakes.dissoc(delegator) if new_stake == 0 else stakes.assoc(delegator, new_stake)
        if len(stakes) == 0:
            stakes = None
        ctl, stake, _, dstake, meta, ts, bal = self._f
        return self._make((ctl, stake, stakes, dstake + change, meta, ts, bal + change))

    def with_peer_stake(self, new_stake: int) -> "PeerStatus":
        ctl, stake, stakes, dstake, meta, ts, bal = self._f
        if stake == new_stake:
            return self
        return self._make((ctl, new_stake, stakes, dstake, meta, ts, bal + new_stake - stake))

    def with_metadata(self, meta: Optional[Map]) -> "PeerStatus":
        return self._with(4, meta)


# ------------------------------------------------------------------------------------------------
# State
# ------------------------------------------------------------------------------------------------

# Positions in the :globals vector: [timestamp fees juice-price memory memory-value block].
# The block number is that of the last block applied: -1 at genesis, one more with every
# block that is applied (a block refused as invalid changes nothing), counted before the
# block's time update, as the reference's prepareBlock does. The reference names the
# positions in State.GLOBAL_SYMBOLS; a state stored before the block number existed has
# five globals and reads as block -1 until its next block.
G_TIMESTAMP, G_FEES, G_JUICE_PRICE, G_MEMORY_POOL, G_MEMORY_VALUE, G_BLOCK = range(6)
GLOBAL_NAMES = ("timestamp", "fees", "juice-price", "memory", "memory-value", "block")
INITIAL_BLOCK = -1
INITIAL_GLOBALS = Vector.of(INITIAL_TIMESTAMP, 0, INITIAL_JUICE_PRICE, INITIAL_MEMORY_POOL,
                            INITIAL_MEMORY_POOL * INITIAL_MEMORY_PRICE, INITIAL_BLOCK)


class State(Record):
    """The global state: accounts (a vector indexed by address number), peers (an Index by
    peer key), globals ([timestamp fees juice-price memory memory-value block], GLOBAL_NAMES)
    and the schedule (an Index from 8-byte timestamp blobs to vectors of [address op])."""

    __slots__ = ()
    tag = 0xD5
    KEYS = (K("accounts"), K("peers"), K("globals"), K("schedule"))

    def __init__(self, accounts: Vector, peers: Optional[Index] = None,
                 globals_: Optional[Vector] = None, schedule: Optional[Index] = None):
        self._f = (accounts, Index.EMPTY if peers is None else peers,
                   INITIAL_GLOBALS if globals_ is None else globals_,
                   Index.EMPTY if schedule is None else schedule)
        self._cache = None

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        accounts, peers, globals_, schedule = f
        return (isinstance(accounts, Vector) and type(peers) is Index
                and isinstance(globals_, Vector) and len(globals_) >= 5
                and type(schedule) is Index)

    accounts = property(lambda self: self._f[0])
    peers = property(lambda self: self._f[1])
    globals = property(lambda self: self._f[2])
    schedule = property(lambda self: self._f[3])
    timestamp = property(lambda self: self._f[2][G_TIMESTAMP])
    fees = property(lambda self: self._f[2][G_FEES])
    juice_price = property(lambda self: self._f[2][G_JUICE_PRICE])
    memory_pool = property(lambda self: self._f[2][G_MEMORY_POOL])
    memory_value = property(lambda self: self._f[2][G_MEMORY_VALUE])

    @property
    def block_number(self) -> int:
        """The number of the last block applied (-1 before the first one)."""
        g = self._f[2]
        return g[G_BLOCK] if len(g) > G_BLOCK else INITIAL_BLOCK

    def with_next_block(self) -> "State":
        """This state counting one more block (the first step of applying a block)."""
        g = self._f[2]
        n = self.block_number + 1
        return self.with_globals(g.assoc(G_BLOCK, n) if len(g) > G_BLOCK else g.conj(n))

    @property
    def memory_price(self) -> float:
        pool = self.memory_pool
        return float(self.memory_value) / pool if pool else float("inf")

    def account(self, n: int) -> Optional[Account]:
        accounts = self._f[0]
        if 0 <= n < len(accounts):
            return accounts[n]
        return None

    def put_account(self, n: int, account: Account) -> "State":
        """This state with account n replaced (n == count appends a new account)."""
        accounts = self._f[0]
        accounts = accounts.conj(account) if n == len(accounts) else accounts.assoc(n, account)
        return self._make((accounts,) + self._f[1:])

    def with_accounts(self, accounts: Vector) -> "State":
        return self._with(0, accounts)

    def with_peers(self, peers: Index) -> "State":
        return self._with(1, peers)

    def with_globals(self, g: Vector) -> "State":
        return self._with(2, g)

    def with_schedule(self, s: Index) -> "State":
        return self._with(3, s)

    def with_(self, **changes: Any) -> "State":
        s = self
        g = s.globals
        for name, v in changes.items():
            if name == "accounts":
                s = s.with_accounts(v)
            elif name == "peers":
                s = s.with_peers(v)
            elif name == "schedule":
                s = s.with_schedule(v)
            elif name in ("globals", "globals_"):
                g = v
            elif name == "timestamp":
                g = g.assoc(G_TIMESTAMP, v)
            elif name == "juice_price":
                g = g.assoc(G_JUICE_PRICE, v)
            elif name == "fees":
                g = g.assoc(G_FEES, v)
            else:
                raise TypeError(f"unknown state field: {name}")
        return s.with_globals(g)

    def peer(self, key: Any) -> Optional[PeerStatus]:
        return self._f[1].get(key)

    def with_peer(self, key: Any, ps: PeerStatus) -> "State":
        return self.with_peers(self._f[1].assoc(key, ps))

    def with_balance(self, n: int, balance: int) -> "State":
        return self.put_account(n, self.account(n).with_balance(balance))

    def with_memory_pool(self, value: int, pool: int) -> "State":
        g = self.globals.assoc(G_MEMORY_VALUE, value).assoc(G_MEMORY_POOL, pool)
        return self.with_globals(g)

    def schedule_op(self, time: int, address: Address, op: Any) -> "State":
        """Add [address op] to the schedule at `time` (after any already there)."""
        from kernel.data.blobs import Blob
        key = Blob(time.to_bytes(8, "big", signed=True))
        sched = self._f[3]
        entry = Vector.of(address, op)
        items = sched.get(key)
        items = Vector.of(entry) if items is None else items.conj(entry)
        return self.with_schedule(sched.assoc(key, items))

    def total_funds(self) -> int:
        """All coins: account balances, peer balances, fees and the memory pool's coins."""
        total = sum(a.balance for a in self.accounts)
        total += sum(p.balance for p in self.peers.values())
        return total + self.fees + self.memory_value

    def total_memory(self) -> int:
        return sum(a.memory for a in self.accounts) + self.memory_pool


# ------------------------------------------------------------------------------------------------
# Decoding: a dense record with these tags becomes the record class when its fields are valid
# (as in the reference, anything else stays a generic dense record).
# ------------------------------------------------------------------------------------------------

def register_records(*classes: Any) -> None:
    """Decode dense records with these classes' tags as those classes (when their fields are
    valid; otherwise they stay generic dense records)."""
    by_tag = {c.tag: c for c in classes}

    def read(dec: Any, tag: int, pos: int):
        values, end = read_vector_body(dec, pos)
        cls = by_tag[tag]
        r = None
        if len(values) == len(cls.KEYS):
            try:
                r = cls.from_fields(values.to_tuple())
            except Exception:
                r = None
        if r is None:
            from kernel.data.records import DenseRecord
            return DenseRecord(tag, values), end
        return r, end
    register(tuple(by_tag), read)


register_records(State, Account, PeerStatus)

__all__ = ["Record", "Account", "PeerStatus", "State", "CORE_ADDRESS", "INITIAL_GLOBALS",
           "GLOBAL_NAMES", "MAX_SUPPLY"]


for _cls in (State, Account, PeerStatus):      # print like the maps they are (keys in field order)
    printer.register(_cls, parts=lambda v: printer.entries("{", v.items()))
