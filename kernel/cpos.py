"""Convergent Proof of Stake: orders, beliefs and the belief merge (CAD002), as pure logic.

Each peer publishes an Order: the sequence of blocks it proposes, with two points in it,
signed by the peer. A Belief is what a peer knows of everyone's latest signed order.

    Order   0xd7  [:timestamp :consensus-points :blocks]   consensus-points: [proposal consensus]
    Belief  0xd4  [:orders]                                 an Index: peer key -> Signed(Order)

The merge (`merge_orders`) makes a peer's next order from the orders it knows:

1. its consensus prefix never changes; orders that disagree with it are ignored;
2. after it, each position is voted on by stake: every order still agreeing with the winning
   prefix votes for its block at that position; the block with the most stake wins (ties: the
   lowest block hash), and orders that voted otherwise stop counting;
3. blocks of other orders that lost, then the peer's own new blocks, go at the end, so
   nothing submitted is lost;
4. the proposal point is the longest prefix that orders holding more than 2/3 of the stake
   agree with; the consensus point the longest prefix that orders holding more than 2/3 of
   the stake agree with AND have proposed (their proposal point reaches it).

With more than 2/3 of the stake needed for either point, a minority partition confirms
nothing, and two conflicting prefixes can never both be confirmed. Blocks are identified by
their value IDs; everything here is deterministic, so peers that saw the same orders make the
same order.
"""
from __future__ import annotations

from typing import Any, Iterable, Optional

from .blobs import Blob
from .cell import BranchRef
from .index import Index
from .records import Signed
from .scalars import Keyword
from .state import Record, register_records
from .vectors import Vector

K = Keyword


def _is_long(x: Any) -> bool:
    return type(x) is int and -(1 << 63) <= x < (1 << 63)


class Order(Record):
    """A peer's proposed sequence of (signed) blocks, with its proposal and consensus points."""

    __slots__ = ()
    tag = 0xD7
    KEYS = (K("timestamp"), K("consensus-points"), K("blocks"))

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        ts, points, blocks = f
        return (_is_long(ts) and (isinstance(points, Vector) or type(points) is BranchRef)
                and (isinstance(blocks, Vector) or type(blocks) is BranchRef))

    @classmethod
    def create(cls, timestamp: int, blocks: Iterable[Any] = (), proposal: int = 0,
               consensus: int = 0) -> "Order":
        return cls._make((timestamp, Vector.of(proposal, consensus), Vector.from_seq(blocks)))

    timestamp = property(lambda self: self._f[0])
    blocks = property(lambda self: self._f[2])

    @property
    def proposal_point(self) -> int:
        return self._f[1][0]

    @property
    def consensus_point(self) -> int:
        return self._f[1][1]

    def block_ids(self) -> list:
        return [b.value_id() for b in self._f[2]]


class Belief(Record):
    """What a peer knows: the latest signed order of each peer, by peer key."""

    __slots__ = ()
    tag = 0xD4
    KEYS = (K("orders"),)

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        return isinstance(f[0], Index) or type(f[0]) is BranchRef

    @classmethod
    def create(cls, orders: Any = None) -> "Belief":
        if isinstance(orders, dict):
            ix = Index.EMPTY
            for k, v in orders.items():
                ix = ix.assoc(k if type(k) is Blob else Blob(bytes(k)), v)
            orders = ix
        return cls._make((Index.EMPTY if orders is None else orders,))

    orders = property(lambda self: self._f[0])


register_records(Order, Belief)


# ------------------------------------------------------------------------------------------------
# Merging
# ------------------------------------------------------------------------------------------------

def _agrees(ids: list, prefix: list) -> bool:
    return len(ids) >= len(prefix) and ids[:len(prefix)] == prefix


def merge_orders(own_key: bytes, own: Order, orders: dict, stakes: dict,
                 new_blocks: Iterable[Any] = (), timestamp: Optional[int] = None) -> Order:
    """The next order of peer `own_key`, whose current order is `own`, knowing `orders`
    (peer key -> Order, its own included or not) and `stakes` (peer key -> stake), adding
    `new_blocks` (signed blocks of its own). See the module doc for the rules."""
    total = sum(s for s in stakes.values() if s > 0)
    views: dict = {}                     # key -> (block ids, order)
    by_id: dict = {}
    for k, o in list(orders.items()) + [(own_key, own)]:
        if o is None or stakes.get(k, 0) <= 0 and k != own_key:
            continue
        ids = o.block_ids()
        views[k] = (ids, o)
        for b, h in zip(o.blocks, ids):
            by_id.setdefault(h, b)
    own_ids = own.block_ids()
    consensus = own.consensus_point
    result = own_ids[:consensus]
    voters = {k for k, (ids, _o) in views.items() if _agrees(ids, result)}
    # 2. stake-weighted vote, position by position
    while True:
        i = len(result)
        tally: dict = {}
        for k in voters:
            ids = views[k][0]
            if len(ids) > i:
                tally[ids[i]] = tally.get(ids[i], 0) + stakes.get(k, 0)
        if not tally:
            break
        winner = min(tally, key=lambda h: (-tally[h], h))
        if tally[winner] <= 0:
            break
        result.append(winner)
        voters = {k for k in voters if len(views[k][0]) > i and views[k][0][i] == winner}
    # 3. nothing is lost: losing blocks, then new ones, at the end
    seen = set(result)
    for k in sorted(views, key=lambda k: (-stakes.get(k, 0), k)):
        for h in views[k][0]:
            if h not in seen:
                seen.add(h)
                result.append(h)
    for b in new_blocks:
        h = b.value_id()
        if h not in seen:
            seen.add(h)
            by_id[h] = b
            result.append(h)
    # 4. proposal and consensus points
    threshold = total * 2 / 3

    def support(p: int, need_proposal: bool) -> int:
        prefix = result[:p]
        s = 0
        for k, (ids, o) in views.items():
            if k == own_key:
                continue                  # counted below with its new order
            if _agrees(ids, prefix) and (not need_proposal or o.proposal_point >= p):
                s += stakes.get(k, 0)
        return s

    own_stake = stakes.get(own_key, 0)
    proposal = max(own.proposal_point, consensus)
    p = len(result)
    while p > proposal:
        if support(p, False) + own_stake > threshold:
            break
        p -= 1
    proposal = max(p, consensus)
    c = proposal
    while c > consensus:
        if support(c, True) + (own_stake if c <= proposal else 0) > threshold:
            break
        c -= 1
    consensus = max(c, consensus)
    ts = own.timestamp if timestamp is None else max(timestamp, own.timestamp)
    return Order.create(ts, [by_id[h] for h in result], proposal, consensus)


def signed_orders(belief: Belief) -> dict:
    """peer key (bytes) -> Signed order, from a Belief record."""
    return {k.data: v for k, v in belief.orders.items()}


def merge_beliefs(known: dict, incoming: dict, verify: Any = None) -> dict:
    """Keep each peer's latest order: `known` and `incoming` map peer keys (bytes) to signed
    orders; an incoming one replaces a known one when its signature is valid (checked with
    `verify(signed)` when given), it is signed by that peer and its timestamp is later."""
    out = dict(known)
    for k, so in incoming.items():
        if type(so) is not Signed or so.public_key != k or not isinstance(so.value, Order):
            continue
        cur = out.get(k)
        if cur is not None and so.value.timestamp <= cur.value.timestamp:
            continue
        if verify is not None and not verify(so):
            continue
        out[k] = so
    return out


__all__ = ["Order", "Belief", "merge_orders", "merge_beliefs", "signed_orders"]
