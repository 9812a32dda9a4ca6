"""A block's touched accounts held over its starting state, so a plain transfer costs the same
whatever the number of accounts.

Applying a transaction the ordinary way copies the account tree's path to each account it
changes (three times for a transfer) and walks the changed paths again to find the state's
new memory size. Within a block, plain coin transfers between user accounts need neither:
`BlockOverlay` keeps the accounts they touch in a dict over the block's starting state, and
builds the persistent tree once, with every touched path copied once, when something needs
the whole state (`state()`): any other kind of transaction (which may observe anything, e.g.
`*state*`), a transfer the fast path does not take, and the end of the block.

A transfer's memory size change is found without the tree. Replacing an integer field of an
account record changes the record's encoding length by the change of the integer's length;
as long as neither the record nor its vector leaf crosses the embedding limit (checked with
a margin wider than any transfer's change), the state's memory size changes by exactly that
amount (an embedded record grows its branch leaf by it; a branch record grows itself), and
nothing else changes. Anything else (refusals, errors, actors, too little juice or memory,
cells near the limit, missing data) is left to the ordinary path on the materialised state,
so results, juice, fees, memory and state hashes are those of applying one at a time.
"""
from __future__ import annotations

from bisect import bisect_left
from typing import Any, Optional

from kernel.core.accounts import swap_price
from kernel.cvm import juice as J
from kernel.cvm.memory import Meter, int_length
from kernel.data.cell import MAX_EMBEDDED, BranchRef, MissingData
from kernel.data.scalars import Address
from kernel.data.vectors import VectorLeaf, VectorTree
from kernel.state.state import MAX_SUPPLY, MAX_TRANSACTION_JUICE, Account, State
from kernel.state.transactions import Transfer, verify
from kernel.transition.transaction import Outcome, storage_juice, transaction_juice

# A transfer changes at most three integer fields of a record (sequence, balance, allowance),
# each encoding's length by at most 8 bytes, in at most two records (so a record's length by
# at most 24, a leaf's by at most 48): cells further than this from the embedding limit
# can't cross it within one transaction.
_MARGIN = 64
_BRANCH_REF = 33                        # the encoding length of a ref to a branch cell
_LEAF_MIN = MAX_EMBEDDED + _MARGIN      # a leaf at least this long stays a branch
_RECORD_LOW = MAX_EMBEDDED - _MARGIN    # a record at most this long stays embedded
_RECORD_HIGH = MAX_EMBEDDED + _MARGIN   # a record longer than this stays a branch


def _ilen(x: int) -> int:
    """The encoding length of an integer (a non-negative long without a call further)."""
    return (x.bit_length() >> 3) + 2 if 0 < x < _LONG else int_length(x)


_LONG = 1 << 63


class OverlayOutcome(Outcome):
    """An Outcome from the overlay: its state (after this transaction) is built on demand."""

    __slots__ = ("_view", "_state")

    @property
    def state(self) -> State:
        s = self._state
        if s is None:
            base, shell, journal, k = self._view
            s = self._state = shell.with_accounts(assoc_many(base._f[0], dict(journal[:k])))
        return s

    @state.setter
    def state(self, s: Any) -> None:
        self._state = s


class BlockOverlay:
    """Touched accounts of a block over `base`; see the module doc."""

    __slots__ = ("base", "shell", "vec", "count", "accounts", "sizes", "leaves", "journal",
                 "meter")

    def __init__(self, base: State, meter: Meter) -> None:
        self.meter = meter
        self.reset(base)

    def reset(self, base: State) -> None:
        """Start again over `base` (after the ordinary path applied a transaction)."""
        self.base = base
        self.shell = base           # base with the current globals (memory bought)
        self.vec = base._f[0]
        self.count = len(self.vec)
        self.accounts: dict = {}    # n -> current Account
        self.sizes: dict = {}       # n -> [encoding length, memory size] of that account
        self.leaves: dict = {}      # n >> 4 -> [leaf, encoding length, memory size] now
        self.journal: list = []     # (n, account) in order of writing

    def state(self) -> State:
        """The whole state now: the persistent tree built with every touched path copied
        once. The sizes of the new records and leaves go to the meter as they are known
        (a meter carried to the next block, as a peer's is, then measures none of them);
        the nodes above them are measured only if a later transaction needs the state's
        size. The overlay then starts over the new state."""
        if not self.journal and self.shell is self.base:
            return self.base
        made: dict = {}
        new = self.shell.with_accounts(assoc_many(self.vec, self.accounts, made))
        known = self.meter.known
        sizes = self.sizes
        for n, a in self.accounts.items():
            ln, m = sizes[n]
            known[id(a)] = (a, ln, m, _BRANCH_REF if ln > MAX_EMBEDDED else ln)
        leaves = self.leaves
        for key, leaf in made.items():
            if leaf.prefix is None:     # (a prefix's changes are not in the leaf's figures)
                _, ln, m = leaves[key]
                known[id(leaf)] = (leaf, ln, m, _BRANCH_REF)
        self.reset(new)
        return new

    # --- the fast transfer -------------------------------------------------------------------
    def _account(self, n: int) -> Optional[Account]:
        """Account n now (None if missing or not an account record), its leaf and sizes
        noted on first touch."""
        a = self.accounts.get(n)
        if a is not None:
            return a
        if not 0 <= n < self.count:
            return None
        key = n >> 4
        entry = self.leaves.get(key)
        if entry is None:
            leaf = _leaf(self.vec, n)
            c = leaf._cache
            entry = self.leaves[key] = ([leaf, len(c[0]), c[2]] if c is not None
                                        and c[2] is not None
                                        else [leaf, *self.meter._measure(leaf)])
        leaf = entry[0]
        a = leaf.items[n & 15]     # leaves hold 16-aligned runs of elements
        if type(a) is not Account:
            return None
        return a

    def _size(self, n: int, a: Account) -> list:
        k = self.sizes.get(n)
        if k is None:
            c = a._cache
            if c is not None and c[2] is not None:
                return [len(c[0]), c[2]]
            return list(self.meter._measure(a))
        return k

    def transfer(self, tx: Any, signed: Any = None, signature_ok: Optional[bool] = None
                 ) -> Optional[Outcome]:
        """Apply a plain Transfer between user accounts (or to #0) that succeeds, as
        apply_signed (`signed` given) or apply_transaction would: its Outcome, or None
        (nothing changed) for the ordinary path to handle."""
        try:
            return self._transfer(tx, signed, signature_ok)
        except (MissingData, IndexError, AttributeError):
            return None

    def _transfer(self, tx: Any, signed: Any, signature_ok: Optional[bool]
                  ) -> Optional[Outcome]:
        if type(tx) is not Transfer:
            return None
        origin, seq, target, amount = tx._f[:4]
        if type(origin) is not Address or type(target) is not Address or type(amount) is not int:
            return None
        if not 0 <= amount <= MAX_SUPPLY:
            return None
        n, t = origin.n, target.n
        src = self._account(n)
        if src is None:
            return None
        sf = src._f
        if signed is not None:      # apply_signed's checks, in its order
            key = sf[1]
            if seq != sf[0] + 1 or key is None:
                return None
            if signature_ok is None:
                signature_ok = verify(signed, key)
            elif signature_ok:
                signature_ok = signed.public_key == key.data
            if not signature_ok:
                return None
        shell = self.shell
        price = shell._f[2][2]
        balance = sf[2]
        limit = (balance // price if price > 0 else J.LONG_MAX) - J.TRANSACTION
        if limit > MAX_TRANSACTION_JUICE:
            limit = MAX_TRANSACTION_JUICE
        if limit < J.TRANSFER or balance < amount:
            return None
        tgt = src if t == n else self._account(t)
        if tgt is None or (tgt._f[1] is None and t != 0):
            return None             # no such account, or an actor's receive-coin
        leaves = self.leaves
        size_s = self._size(n, src)
        if _RECORD_LOW < size_s[0] <= _RECORD_HIGH or leaves[n >> 4][1] < _LEAF_MIN:
            return None
        tf = tgt._f
        if t != n:
            size_t = self._size(t, tgt)
            if _RECORD_LOW < size_t[0] <= _RECORD_HIGH or leaves[t >> 4][1] < _LEAF_MIN:
                return None
        # execution: the memory size changes by the change of the balances' lengths
        len_b = _ilen(balance)
        if t == n:
            mem = 0
            after = balance
        else:
            after = balance - amount
            tb = tf[2]
            d_t = _ilen(tb + amount) - _ilen(tb)
            mem = _ilen(after) - len_b + d_t
        # completion (transaction.complete on success)
        juice = J.TRANSFER
        if type(seq) is int and -_LONG <= seq < _LONG:
            # storage_size without the walk: a transfer of Longs between addresses is one
            # embedded cell (~40 bytes at most) with nothing stored below it
            tx_juice = storage_juice(len(tx.encoding()))
        else:
            tx_juice = transaction_juice(tx)
        juice_fees = J.sat_mul(J.sat_add(juice, tx_juice), price)
        if juice_fees > after:
            return None
        allowance = sf[3]
        spend = 0
        if mem > 0:
            used = allowance if allowance < mem else mem
            purchase = mem - used
            allowance -= used
            if purchase > 0:
                pool, value = shell.memory_pool, shell.memory_value
                try:
                    spend = swap_price(purchase, pool, value)
                except ValueError:
                    return None
                if after - juice_fees < spend:
                    return None     # :MEMORY, rolled back: the ordinary path says so
                shell = shell.with_memory_pool(value + spend, pool - purchase)
        elif mem < 0:
            allowance -= mem
        fees = juice_fees + spend
        # commit
        new_s = Account._make((sf[0] + 1, sf[1], after - fees, allowance) + sf[4:])
        d_s = _ilen(sf[0] + 1) - _ilen(sf[0]) + _ilen(after - fees) - len_b
        if allowance != sf[3]:
            d_s += _ilen(allowance) - _ilen(sf[3])
        self._put(n, new_s, size_s, d_s)
        if t != n:
            new_t = Account._make(tf[:2] + (tb + amount,) + tf[3:])
            self._put(t, new_t, size_t, d_t)
        self.shell = shell
        o = OverlayOutcome(None, amount, None, juice, fees, mem, None, None, None, None,
                           price, juice_fees)
        o._view = (self.base, shell, self.journal, len(self.journal))
        return o

    def _put(self, n: int, a: Account, size: list, delta: int) -> None:
        """Account n becomes a, whose encoding is `delta` longer than the old one's (whose
        [length, memory size] is `size`): the state's memory size changes by delta, in the
        leaf's own storage if the record is embedded in it, else in the record's."""
        self.accounts[n] = a
        leaf = self.leaves[n >> 4]
        if size[0] <= MAX_EMBEDDED:
            self.sizes[n] = [size[0] + delta, size[1]]
            leaf[1] += delta
        else:
            self.sizes[n] = [size[0] + delta, size[1] + delta]
        leaf[2] += delta
        self.journal.append((n, a))


def _leaf(v: Any, i: int) -> Any:
    """The vector leaf holding element i."""
    while True:
        if type(v) is BranchRef:
            raise MissingData(v.hash)
        if type(v) is VectorLeaf:
            p = v.prefix
            if p is None or i >= v.count - len(v.items):
                return v
            v = p
        else:
            s = v.shift
            b = i >> s
            i -= b << s
            v = v.kids[b]


def assoc_many(v: Any, updates: dict, made: Optional[dict] = None) -> Any:
    """Vector v with elements replaced ({index: value}, every index < count): the same
    vector as assoc one by one, each node on a changed path copied once. `made`, if given,
    receives each new leaf whose own elements changed, by index >> 4."""
    if not updates:
        return v
    idx = sorted(updates)
    return _assoc_run(v, idx, [updates[i] for i in idx], 0, len(idx), 0, made)


def _assoc_run(v: Any, idx: list, vals: list, lo: int, hi: int, offset: int,
               made: Optional[dict]) -> Any:
    """v (whose first element is element `offset` of the whole vector) with the elements at
    the sorted indices idx[lo:hi] (of the whole vector) replaced by vals[lo:hi]."""
    if type(v) is BranchRef:
        raise MissingData(v.hash)
    if type(v) is VectorLeaf:
        items = v.items
        start = offset + v.count - len(items)       # index of items[0]
        j = bisect_left(idx, start, lo, hi)
        prefix = v.prefix if j == lo else _assoc_run(v.prefix, idx, vals, lo, j, offset, made)
        if j == hi:
            return VectorLeaf(items, prefix, v.count)
        own = list(items)
        for k in range(j, hi):
            own[idx[k] - start] = vals[k]
        leaf = VectorLeaf(tuple(own), prefix, v.count)
        if made is not None:
            made[start >> 4] = leaf
        return leaf
    s = v.shift
    kids = list(v.kids)
    k = lo
    while k < hi:
        b = (idx[k] - offset) >> s
        e = bisect_left(idx, offset + ((b + 1) << s), k, hi)
        kids[b] = _assoc_run(kids[b], idx, vals, k, e, offset + (b << s), made)
        k = e
    return VectorTree(tuple(kids), v.count, s)


def apply_checked(state: State, txs: Any, meter: Optional[Meter] = None) -> tuple:
    """Transactions whose sequence numbers and signatures are already checked, applied in
    turn as a block's are (plain transfers through the overlay, the rest with
    apply_transaction), without the block's time, schedule or fees: (state, outcomes)."""
    from kernel.transition.transaction import apply_transaction
    if meter is None:
        meter = Meter()
    ov = BlockOverlay(state, meter)
    outcomes = []
    for tx in txs:
        o = ov.transfer(tx)
        if o is None:
            o = apply_transaction(ov.state(), tx, meter)
            ov.reset(o.state)
        outcomes.append(o)
    return ov.state(), outcomes


__all__ = ["BlockOverlay", "OverlayOutcome", "apply_checked", "assoc_many"]
