"""Transactions, blocks and results as CVM records (CAD010), and Ed25519 signed data.

Like the state records, each is a dense record: its tag, then the body of the vector of its
field values in key order.

    Invoke       0xd0  [:origin :sequence :command]
    Transfer     0xd1  [:origin :sequence :target :amount]
    Call         0xd2  [:origin :sequence :target :offer :call :args]
    Multi        0xd3  [:origin :sequence :mode :txs]
    Block        0xd6  [:timestamp :transactions]          (a vector of signed transactions)
    Result       0xdd  [:id :result :error :log :info]
    BlockResult  0xde  [:state :results]

A decoded record with one of these tags becomes its class when its fields are valid, and stays
a generic dense record otherwise (as the reference does). Branch children decoded from a
single cell are `BranchRef` placeholders, so wherever a field may be a branch a placeholder is
accepted too.

Signing: the signature covers the encoding of the *ref* to the value: the value's own encoding
when it is embedded (at most 140 bytes, e.g. a small transaction), else 0x20 + its value ID.
"""
from __future__ import annotations

import hashlib
from typing import Any, Optional

from kernel.data import printer
from kernel.data.blobs import Blob
from kernel.data.cell import BranchRef, MAX_EMBEDDED, encoding, memory_size, write_ref
from kernel.data.hashmaps import Map
from kernel.data.records import Signed
from kernel.data.scalars import Address, Keyword, Symbol
from kernel.state.state import MAX_SUPPLY, Record, State, register_records
from kernel.data.vectors import Vector

K = Keyword
LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1


def _is_long(x: Any) -> bool:
    return type(x) is int and LONG_MIN <= x <= LONG_MAX


def _is_amount(x: Any) -> bool:
    """A valid coin amount (Coin.isValidAmount): 0 to the maximum supply."""
    return type(x) is int and 0 <= x <= MAX_SUPPLY


def _vector_or_ref(x: Any) -> bool:
    return isinstance(x, Vector) or type(x) is BranchRef


# ------------------------------------------------------------------------------------------------
# Transactions
# ------------------------------------------------------------------------------------------------

class Transaction(Record):
    """Base of the transaction records: every one starts [origin sequence ...]."""

    __slots__ = ()

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        return type(f[0]) is Address and _is_long(f[1]) and f[1] >= 0

    origin = property(lambda self: self._f[0])
    sequence = property(lambda self: self._f[1])

    def with_sequence(self, n: int) -> "Transaction":
        return self._with(1, n)

    def with_origin(self, a: Address) -> "Transaction":
        return self._with(0, a)


class Invoke(Transaction):
    """Run CVM code as the origin: a form (expanded and compiled first) or a compiled op."""

    __slots__ = ()
    tag = 0xD0
    KEYS = (K("origin"), K("sequence"), K("command"))

    @classmethod
    def create(cls, origin: "Address | int", sequence: int, command: Any) -> "Invoke":
        return cls._make((_addr(origin), sequence, command))

    command = property(lambda self: self._f[2])


class Transfer(Transaction):
    """Send `amount` coins from the origin to `target`."""

    __slots__ = ()
    tag = 0xD1
    KEYS = (K("origin"), K("sequence"), K("target"), K("amount"))

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        return Transaction.valid_fields(f) and type(f[2]) is Address and _is_amount(f[3])

    @classmethod
    def create(cls, origin: "Address | int", sequence: int, target: "Address | int",
               amount: int) -> "Transfer":
        return cls._make((_addr(origin), sequence, _addr(target), amount))

    target = property(lambda self: self._f[2])
    amount = property(lambda self: self._f[3])


class Call(Transaction):
    """Call a ^:callable function of an actor: (call target offer (f & args))."""

    __slots__ = ()
    tag = 0xD2
    KEYS = (K("origin"), K("sequence"), K("target"), K("offer"), K("call"), K("args"))

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        return (Transaction.valid_fields(f) and _is_amount(f[3]) and type(f[4]) is Symbol
                and (f[5] is None or _vector_or_ref(f[5])))

    @classmethod
    def create(cls, origin: "Address | int", sequence: int, target: Any, function: Any,
               args: Any = (), offer: int = 0) -> "Call":
        if isinstance(function, str):
            function = Symbol(function)
        if type(target) is int:
            target = Address(target)
        return cls._make((_addr(origin), sequence, target, offer, function,
                          Vector.from_seq(args)))

    target = property(lambda self: self._f[2])
    offer = property(lambda self: self._f[3])
    function = property(lambda self: self._f[4])

    @property
    def args(self) -> Vector:
        a = self._f[5]
        return Vector.EMPTY if a is None else a


class Multi(Transaction):
    """Several child transactions run as one: their origins must be this origin or accounts
    it controls; child sequence numbers are ignored. Modes (what happens on a child error):
    ANY runs them all, ALL rolls everything back on the first error (:CHILD error), FIRST
    stops at the first success, UNTIL stops at the first error."""

    __slots__ = ()
    tag = 0xD3
    KEYS = (K("origin"), K("sequence"), K("mode"), K("txs"))
    ANY, ALL, FIRST, UNTIL = range(4)

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        return (Transaction.valid_fields(f) and type(f[2]) is int and 0 <= f[2] <= 3
                and _vector_or_ref(f[3]))

    @classmethod
    def create(cls, origin: "Address | int", sequence: int, mode: int, txs: Any) -> "Multi":
        return cls._make((_addr(origin), sequence, mode, Vector.from_seq(txs)))

    mode = property(lambda self: self._f[2])
    txs = property(lambda self: self._f[3])


def _addr(a: "Address | int") -> Address:
    return Address(a) if type(a) is int else a


def is_transaction(v: Any) -> bool:
    return isinstance(v, Transaction)


def storage_size(v: Any) -> int:
    """Cells.storageSize: the memory size, plus the encoding length when v is embedded."""
    if v is None:
        return 1
    enc = encoding(v)
    size = memory_size(v)
    if len(enc) <= MAX_EMBEDDED:
        size += len(enc)
    return size


# ------------------------------------------------------------------------------------------------
# Blocks and results
# ------------------------------------------------------------------------------------------------

class Block(Record):
    """A timestamped vector of signed transactions: the unit a state transition applies."""

    __slots__ = ()
    tag = 0xD6
    KEYS = (K("timestamp"), K("transactions"))

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        return _is_long(f[0]) and _vector_or_ref(f[1])

    @classmethod
    def create(cls, timestamp: int, transactions: Any) -> "Block":
        return cls._make((timestamp, Vector.from_seq(transactions)))

    timestamp = property(lambda self: self._f[0])
    transactions = property(lambda self: self._f[1])


class Result(Record):
    """The outcome of a transaction or query: message id, value (the error message if it
    failed), error code (nil on success), log entries and an info map (:juice, :fees, :mem,
    :source, :trace, :eaddr...). Prints as #Result {...}."""

    __slots__ = ()
    tag = 0xDD
    KEYS = (K("id"), K("result"), K("error"), K("log"), K("info"))

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        rid, _value, _err, log, info = f
        return ((rid is None or _is_long(rid))
                and (log is None or _vector_or_ref(log))
                and (info is None or type(info) is Map or type(info) is BranchRef))

    @classmethod
    def create(cls, id: Any = None, value: Any = None, error: Any = None, log: Any = None,
               info: Optional[Map] = None) -> "Result":
        return cls._make((id, value, error, log, info))

    id = property(lambda self: self._f[0])
    value = property(lambda self: self._f[1])
    error = property(lambda self: self._f[2])
    log = property(lambda self: self._f[3])

    @property
    def info(self) -> Map:
        i = self._f[4]
        return Map.EMPTY if i is None else i

    @property
    def is_error(self) -> bool:
        return self._f[2] is not None

    def info_value(self, key: str, default: Any = None) -> Any:
        return self.info.get(K(key), default)

    def with_id(self, rid: Any) -> "Result":
        return self._with(0, rid)


class BlockResult(Record):
    """The state after a block, and one Result per transaction of the block."""

    __slots__ = ()
    tag = 0xDE
    KEYS = (K("state"), K("results"))

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        state, results = f
        return (isinstance(state, State) or type(state) is BranchRef) and (
            results is None or _vector_or_ref(results))

    @classmethod
    def create(cls, state: State, results: Any) -> "BlockResult":
        return cls._make((state, None if results is None else Vector.from_seq(results)))

    state = property(lambda self: self._f[0])

    @property
    def results(self) -> Vector:
        r = self._f[1]
        return Vector.EMPTY if r is None else r


# ------------------------------------------------------------------------------------------------
# Signing
# ------------------------------------------------------------------------------------------------

def signing_message(value: Any) -> bytes:
    """The bytes an Ed25519 signature covers: the encoding of the ref to the value."""
    return write_ref(value)


def sign(key: Any, value: Any) -> Signed:
    """Sign a value with a nacl SigningKey (or a 32-byte seed)."""
    from nacl.signing import SigningKey
    if not isinstance(key, SigningKey):
        key = SigningKey(bytes(key))
    sig = key.sign(write_ref(value)).signature
    return Signed(bytes(key.verify_key), sig, value)


# Signatures already found valid, as (public key, signature, signed message), so a
# transaction is verified once per peer however many times it is checked (the peer's
# pre-check, then the block that applies it), as the reference caches a SignedData's
# verified status. The message is the exact bytes the signature covers, so any other value,
# key or signature is a miss and is verified afresh; only valid signatures are stored. The
# oldest go first beyond VERIFIED_CACHE_SIZE (a peer's backlog, at ~300 bytes each).
VERIFIED_CACHE_SIZE = 50_000
_verified: dict = {}


def verify(signed: Signed, public_key: Any = None) -> bool:
    """True if the signature is valid for the signed value, and (when given) made with
    `public_key` (a 32-byte Blob or bytes)."""
    if type(signed) is not Signed:
        return False
    pk = signed.public_key
    if public_key is not None:
        expected = public_key.data if type(public_key) is Blob else bytes(public_key)
        if expected != pk:
            return False
    key = signature_parts(signed)
    if key in _verified:
        return True
    from nacl.bindings import crypto_sign_open
    from nacl.exceptions import BadSignatureError
    _, sig, msg = key
    try:
        crypto_sign_open(sig + msg, pk)
    except (BadSignatureError, ValueError):
        return False
    _remember_verified(key)
    return True


def is_verified(signed: Any) -> bool:
    """True if this signed value's signature is known valid (verified before), without
    checking it now."""
    if type(signed) is not Signed:
        return False
    try:
        return signature_parts(signed) in _verified
    except Exception:           # malformed: verify will say
        return False


def signature_parts(signed: Signed) -> tuple:
    """(public key, signature, signed message) of a signed value, as bytes."""
    return signed.public_key, signed.signature, write_ref(signed.value)


def mark_verified(signed: Signed) -> None:
    """Record that this signed value's signature is valid (checked elsewhere: a peer's
    signature workers), so applying its block does not check it again."""
    _remember_verified(signature_parts(signed))


def _remember_verified(key: tuple) -> None:
    v = _verified
    v[key] = None
    if len(v) > VERIFIED_CACHE_SIZE:
        try:                    # oldest first; another thread may be evicting too
            del v[next(iter(v))]
        except (KeyError, RuntimeError, StopIteration):
            pass


def clear_verified_cache() -> None:
    """Forget every verified signature (tests, benchmarks)."""
    _verified.clear()


def signed_hash(signed: Signed) -> bytes:
    """The value ID of a signed value (what the :tx info field reports)."""
    return signed.value_id()


# ------------------------------------------------------------------------------------------------
# Decoding
# ------------------------------------------------------------------------------------------------

register_records(Invoke, Transfer, Call, Multi, Block, Result, BlockResult)


def _sha3(b: bytes) -> bytes:
    return hashlib.sha3_256(b).digest()


printer.register(Result, parts=printer.record_parts)     # #Result {..}, as any 0xdd record


__all__ = ["Transaction", "Invoke", "Transfer", "Call", "Multi", "Block", "Result",
           "BlockResult", "sign", "verify", "is_verified", "clear_verified_cache",
           "signature_parts", "mark_verified",
           "signing_message", "storage_size", "is_transaction"]
