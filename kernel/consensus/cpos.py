"""Convergent Proof of Stake: orders, beliefs and the belief merge, as pure logic.

Each peer publishes an Order: the sequence of blocks it proposes, three points in the
sequence and the round it is in, signed by the peer. A Belief is what a peer knows of
everyone's latest signed order.

    Order   0xd7  [:timestamp :consensus :blocks :round]
                  :consensus is [blocks proposal consensus finality]
    Belief  0xd4  [:orders]      an Index: peer key -> Signed(Order)

The first three fields are the reference's Order (Order.java: :timestamp, then :consensus,
the vector of its consensus levels with the block count first, then :blocks); :round is ours
(the reference has no rounds), so a reference peer does not take our orders as its own. The
points are the reference's consensus levels (CAD002; the reference executes blocks up to the
finality point, and so do we):

- **proposal** (a prevote): the order's blocks up to here are what the peer votes for in
  its round. Within a round a peer only ever extends this prefix.
- **consensus** (a precommit): the peer has seen orders of the *same round* from peers
  holding more than 2/3 of the stake whose proposals cover this prefix (a *polka*).
- **finality**: the peer has seen orders of one round from peers holding more than 2/3 of
  the stake whose consensus points cover this prefix. Final blocks are executed.

Rounds are the Tendermint rounds of this protocol, numbered by the peers themselves: a peer
stays in its round while blocks keep being finalised, moves on when nothing has been for a
while (`advance`), and skips to a later round when peers holding more than 1/3 of the stake
are there. A peer *locks* on what it precommits (the prefix and the round); from then on it
proposes only orders that agree with its lock, unless it has seen a polka of a later round
for something else; and it adopts any prefix with a finality certificate.

**Safety invariant: no two peers finalise different blocks at the same height**, as long as
peers holding less than 1/3 of the stake misbehave (equivocate, lie about rounds, re-sign
old orders). Proof sketch: two polkas of one round can't conflict (they would share an
honest peer that proposed two conflicting prefixes in one round). If P is final in round r,
more than 1/3 of the stake is honest and locked on P at round r; those peers propose only
what agrees with P in later rounds unless they see a later polka for something else, which
needs some of them: by induction no polka, so no precommit and no finality, conflicts with
P in round r or later; and a conflicting finality in an earlier round would have prevented
P's polka. Locks and rounds must survive restarts: a peer persists its lock and its round
before it sends an order that changes them (convex_repl/cluster.py), and a restarted peer
starts in a new round.

**Weights.** The stake of each peer comes from the consensus state, the state after the
blocks a peer has finalised (`stakes_of`): a peer's voting weight is the total stake of its
peer record, its own stake plus what is delegated to it (the white paper's stake-weighted
voting; the reference's State.computeStakes, without its decay of stakes whose peers have
not proposed lately; rewards that accrue to the record's balance don't count), and a key
without a record or with nothing staked has no vote. The state after a finalised prefix is a function of that prefix, so all
honest peers that finalised the same blocks (which the invariant above makes the same
blocks) weigh every order with the same stakes: staking, unstaking, delegating and eviction
take effect for the blocks after the one that confirms them. Between two peers at different
finality points the weights can differ until the slower one catches up: the argument
above then needs the stake that one block moves to be smaller than the margin the quorums
have above 2/3. That is a limit of this design, not enforced yet (weights fixed per height,
from the state a fixed number of blocks earlier, would remove it).

Liveness: in a round where honest peers hear each other in time, they propose the same
prefix (the latest polka they know, then the stake-weighted vote), so it is finalised; a
round that makes no progress is left for the next.

A peer checks the invariant on every merge: its finalised prefix never changes, and if peers
holding more than 2/3 of the stake precommit something that conflicts with it, `merge`
raises FinalityError: the peer must stop and say so rather than confirm anything.
Everything here is deterministic, so peers that saw the same orders make the same order;
blocks are identified by their value IDs.
"""
from __future__ import annotations

from typing import Any, Iterable, NamedTuple, Optional

from kernel.data import printer
from kernel.data.blobs import Blob
from kernel.data.cell import BranchRef
from kernel.data.index import Index
from kernel.data.records import Signed
from kernel.data.scalars import Keyword
from kernel.state.state import Record, register_records
from kernel.data.vectors import Vector

K = Keyword


def _is_long(x: Any) -> bool:
    return type(x) is int and -(1 << 63) <= x < (1 << 63)


# Consensus levels: positions in an Order's :consensus vector (the reference's
# CPoSConstants.CONSENSUS_LEVEL_*; level 0 is the number of blocks)
PROPOSAL, CONSENSUS, FINALITY = 1, 2, 3


class Order(Record):
    """A peer's proposed sequence of (signed) blocks, its three points and its round."""

    __slots__ = ()
    tag = 0xD7
    KEYS = (K("timestamp"), K("consensus"), K("blocks"), K("round"))

    @staticmethod
    def valid_fields(f: tuple) -> bool:
        ts, points, blocks, rnd = f
        return (_is_long(ts) and _is_long(rnd) and rnd >= 0
                and (isinstance(points, Vector) or type(points) is BranchRef)
                and (isinstance(blocks, Vector) or type(blocks) is BranchRef))

    @classmethod
    def create(cls, timestamp: int, blocks: Iterable[Any] = (), proposal: int = 0,
               consensus: int = 0, finality: int = 0, round: int = 0) -> "Order":
        blocks = Vector.from_seq(blocks)
        return cls._make((timestamp, Vector.of(len(blocks), proposal, consensus, finality),
                          blocks, round))

    timestamp = property(lambda self: self._f[0])
    blocks = property(lambda self: self._f[2])
    round = property(lambda self: self._f[3])
    points = property(lambda self: self._f[1], doc="The :consensus vector.")
    proposal_point = property(lambda self: self._f[1][PROPOSAL])
    consensus_point = property(lambda self: self._f[1][CONSENSUS])
    finality_point = property(lambda self: self._f[1][FINALITY])

    def point(self, level: int) -> int:
        """The point at a consensus level (PROPOSAL, CONSENSUS, FINALITY; 0: the blocks)."""
        return self._f[1][level]

    def with_timestamp(self, ts: int) -> "Order":
        return self._with(0, ts)

    def with_round(self, rnd: int) -> "Order":
        return self._with(3, rnd)

    def well_formed(self) -> bool:
        """Points that are longs, in order, the first the number of blocks (checked before
        use: a peer's order comes off the wire). The reference checks the same
        (Order.validateStructure)."""
        p, blocks = self._f[1], self._f[2]
        if not isinstance(p, Vector) or len(p) != 4 or not isinstance(blocks, Vector):
            return False
        n, a, b, c = p[0], p[1], p[2], p[3]
        return (all(_is_long(x) for x in (n, a, b, c))
                and n == len(blocks) and n >= a >= b >= c >= 0)

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

for _cls in (Order, Belief):      # print like the maps they are, as the reference's records
    printer.register(_cls, parts=lambda v: printer.entries("{", v.items()))


def stakes_of(state: Any) -> dict:
    """The voting weights in a state: peer key (bytes) -> the total stake of its peer
    record (own plus delegated), for each peer with a positive one."""
    out = {}
    for k, ps in state.peers.items():
        if ps.total_stake > 0:
            out[k.data] = ps.total_stake
    return out


# ------------------------------------------------------------------------------------------------
# Merging
# ------------------------------------------------------------------------------------------------

class FinalityError(Exception):
    """The safety invariant would break: the peer must stop confirming and say why."""


class Progress(NamedTuple):
    """A peer's consensus state: its current order, its lock (an Order holding the locked
    blocks, in the round they were locked in; None before any) and the latest polka it has
    seen, (round, block IDs) or None."""
    order: Order
    lock: Optional[Order] = None
    polka: Optional[tuple] = None


def _agrees(ids: list, prefix: list) -> bool:
    return len(ids) >= len(prefix) and ids[:len(prefix)] == prefix


def _conflicts(a: list, b: list) -> bool:
    n = min(len(a), len(b))
    return a[:n] != b[:n]


def _common(a: list, b: list) -> int:
    """The length of the longest common prefix (list slices compare in C)."""
    lo, hi = 0, min(len(a), len(b))
    if a[:hi] == b[:hi]:
        return hi
    while hi - lo > 1:                   # a[:lo] == b[:lo], a[:hi] != b[:hi]
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _quorum(entries: list, base: list, threshold: float) -> list:
    """The longest prefix extending `base` that entries (block IDs, point, stake) holding
    more than `threshold` stake cover with their point; `base` if none goes further."""
    out = list(base)
    cands = [e for e in entries if e[1] > len(out) and _agrees(e[0], out)]
    while cands:
        i = len(out)
        tally: dict = {}
        for ids, point, s in cands:
            tally[ids[i]] = tally.get(ids[i], 0) + s
        best = next((h for h, s in tally.items() if s > threshold), None)
        if best is None:
            break
        out.append(best)
        cands = [c for c in cands if c[1] > i + 1 and c[0][i] == best]
    return out


def _skip_round(views: dict, stakes: dict, third: float) -> int:
    """The latest round that peers holding more than 1/3 of the stake have reached."""
    s = 0
    for rnd, stake in sorted(((o.round, stakes.get(k, 0)) for k, (_i, o) in views.items()),
                             reverse=True):
        s += stake
        if s > third:
            return rnd
    return 0


def _next_round(own_key: bytes, own: Order, views: dict, stakes: dict) -> int:
    """Where a peer goes when its round made no progress: to the latest round any peer is
    in, if that is later (catching up); else to the next one, once peers holding more than
    2/3 of the stake have reached its round (the first there waits for the others, so rounds
    don't drift apart)."""
    latest = max((o.round for _ids, o in views.values()), default=own.round)
    if latest > own.round:
        return latest
    reached = _stake_from(own.round, own_key, {k: o for k, (_i, o) in views.items()}, stakes)
    if reached * 3 > sum(s for s in stakes.values() if s > 0) * 2:
        return own.round + 1
    return own.round


def _stake_from(rnd: int, own_key: bytes, orders: dict, stakes: dict) -> int:
    """The stake of this peer and of the peers whose well-formed orders are in round `rnd`
    or a later one."""
    return stakes.get(own_key, 0) + sum(
        stakes.get(k, 0) for k, o in orders.items()
        if k != own_key and o is not None and o.well_formed() and o.round >= rnd)


def round_timer_runs(own_key: bytes, own: Order, orders: dict, stakes: dict) -> bool:
    """Whether `own`'s round timeout runs: some peer is in a later round (to catch up), or
    peers holding more than 2/3 of the stake are in its round or later. A peer that entered
    a round first must give the others the whole timeout there, or the first to time out
    keeps leaving rounds as the others arrive."""
    if any(o is not None and o.well_formed() and o.round > own.round
           for k, o in orders.items() if k != own_key):
        return True
    total = sum(s for s in stakes.values() if s > 0)
    return _stake_from(own.round, own_key, orders, stakes) * 3 > total * 2


def merge(own_key: bytes, progress: Progress, orders: dict, stakes: dict,
          new_blocks: Iterable[Any] = (), timestamp: Optional[int] = None,
          advance: bool = False) -> Progress:
    """The next consensus state of peer `own_key`, knowing the latest `orders` of the others
    (peer key -> Order) and `stakes` (peer key -> stake), adding `new_blocks` (signed blocks
    of its own); `advance` moves it to the next round. See the module doc for the rules;
    raises FinalityError when peers holding more than 2/3 of the stake contradict what this
    peer finalised."""
    own, lock, polka = progress
    total = sum(s for s in stakes.values() if s > 0)
    two_thirds, third = total * 2 / 3, total / 3
    views: dict = {}                     # the others: key -> (block ids, order)
    by_id: dict = {}
    for k, o in orders.items():
        if k == own_key or o is None or stakes.get(k, 0) <= 0 or not o.well_formed():
            continue
        ids = o.block_ids()
        views[k] = (ids, o)
        for b, h in zip(o.blocks, ids):
            by_id.setdefault(h, b)
    own_ids = own.block_ids()
    for b, h in zip(own.blocks, own_ids):
        by_id[h] = b
    own_stake = stakes.get(own_key, 0)
    final = own_ids[:own.finality_point]
    against = sum(stakes.get(k, 0) for k, (ids, o) in views.items()
                  if _conflicts(ids[:o.consensus_point], final))
    if against > two_thirds:
        raise FinalityError(f"peers holding {100 * against // max(1, total)}% of the stake "
                            f"precommit blocks that conflict with the {len(final)} this peer "
                            "finalised")

    def by_round(level: int, own_order: Order, ids_of_own: list) -> dict:
        """round -> [(block ids, point at `level`, stake)], own order included."""
        out: dict = {}
        for k, (ids, o) in views.items():
            out.setdefault(o.round, []).append((ids, o.point(level), stakes.get(k, 0)))
        out.setdefault(own_order.round, []).append(
            (ids_of_own, own_order.point(level), own_stake))
        return out

    # what the orders show: the latest polka, and any prefix with a finality certificate
    for rnd, entries in sorted(by_round(PROPOSAL, own, own_ids).items()):
        if polka is None or rnd >= polka[0]:
            p = _quorum(entries, final, two_thirds)
            if len(p) > len(final) and (polka is None or rnd > polka[0]
                                        or len(p) > len(polka[1])):
                polka = (rnd, p)
    certified = final
    for entries in by_round(CONSENSUS, own, own_ids).values():
        p = _quorum(entries, final, two_thirds)
        if len(p) > len(certified):
            certified = p

    # the round
    rnd = max(own.round, _skip_round(views, stakes, third))
    if advance:
        rnd = max(rnd, _next_round(own_key, own, views, stakes))
    new_round = rnd != own.round

    # 1. the base: what this peer must propose
    if not new_round:
        base = own_ids[:own.proposal_point]          # a round's proposal only grows
    else:
        base = lock.block_ids() if lock is not None else []
        if polka is not None and polka[0] > (lock.round if lock is not None else -1):
            if _conflicts(polka[1], base) or len(polka[1]) > len(base):
                base = list(polka[1])
    if _conflicts(certified, base) or len(certified) > len(base):
        base = list(certified)                       # final is final: always safe to follow
    result = list(base)
    if not _agrees(result, final):
        raise FinalityError("this peer's own proposal conflicts with what it finalised")

    # 2. vote on the rest, position by position: proposed stake, then stake, then lowest hash
    everyone = dict(views)
    everyone[own_key] = (own_ids, own)
    voters = {k for k, (ids, _o) in everyone.items() if _agrees(ids, result)}
    while True:
        i = len(result)
        tally: dict = {}
        for k in voters:
            ids, o = everyone[k]
            if len(ids) > i:
                s = stakes.get(k, 0)
                proposed, free = tally.get(ids[i], (0, 0))
                tally[ids[i]] = (proposed + (s if o.proposal_point > i else 0), free + s)
        if not tally:
            break
        winner = min(tally, key=lambda h: (-tally[h][0], -tally[h][1], h))
        result.append(winner)
        voters = {k for k in voters if len(everyone[k][0]) > i and everyone[k][0][i] == winner}
    # 3. nothing is lost: losing blocks, then new ones, at the end
    seen = set(result)
    for k in sorted(everyone, key=lambda k: (-stakes.get(k, 0), k)):
        for h in everyone[k][0]:
            if h not in seen:
                seen.add(h)
                result.append(h)
    for b in new_blocks:
        h = b.value_id()
        if h not in seen:
            seen.add(h)
            by_id[h] = b
            result.append(h)

    # 4. proposal: the base, then the longest prefix more than 2/3 of the stake agrees with
    proposal = len(result)
    while proposal > len(base):
        prefix = result[:proposal]
        if own_stake + sum(stakes.get(k, 0) for k, (ids, _o) in views.items()
                           if _agrees(ids, prefix)) > two_thirds:
            break
        proposal -= 1
    proposal = max(proposal, len(base))

    # 5. consensus (precommit): a polka of this round that this order proposes too
    same = [(ids, o.proposal_point, stakes.get(k, 0)) for k, (ids, o) in views.items()
            if o.round == rnd] + [(result, proposal, own_stake)]
    p = _quorum(same, final, two_thirds)
    kept = 0 if new_round else min(own.consensus_point, _common(own_ids, result))
    consensus = min(max(_common(p, result[:proposal]), len(certified), kept), proposal)
    if consensus > len(final) and (new_round or consensus > own.consensus_point):
        held = lock.block_ids() if lock is not None else []
        mine = result[:consensus]
        ids = held if _agrees(held, mine) else mine
        lock = Order.create(0, [by_id[h] for h in ids], round=rnd)

    # 6. finality: a certificate, counting this order's precommit too
    same = [(ids, o.consensus_point, stakes.get(k, 0)) for k, (ids, o) in views.items()
            if o.round == rnd] + [(result, consensus, own_stake)]
    finality = max(len(certified), len(_quorum(same, final, two_thirds)))
    finality = min(finality, consensus)
    ts = own.timestamp if timestamp is None else max(timestamp, own.timestamp)
    order = Order.create(ts, [by_id[h] for h in result], proposal, consensus, finality, rnd)
    return Progress(order, lock, polka)


def signed_orders(belief: Belief) -> dict:
    """peer key (bytes) -> Signed order, from a Belief record."""
    return {k.data: v for k, v in belief.orders.items()}


def merge_beliefs(known: dict, incoming: dict, verify: Any = None,
                  latest: Optional[int] = None) -> dict:
    """Keep each peer's latest order: `known` and `incoming` map peer keys (bytes) to signed
    orders; an incoming one replaces a known one when it is signed by that peer, well formed,
    later (and not later than `latest`, a timestamp, when given: a peer can't pin its order
    with one from the future) and its signature is valid (checked with `verify(signed)`)."""
    out = dict(known)
    for k, so in incoming.items():
        if type(so) is not Signed or so.public_key != k or not isinstance(so.value, Order):
            continue
        o = so.value
        cur = out.get(k)
        if cur is not None and o.timestamp <= cur.value.timestamp:
            continue
        if (latest is not None and o.timestamp > latest) or not o.well_formed():
            continue
        if verify is not None and not verify(so):
            continue
        out[k] = so
    return out


__all__ = ["Order", "Belief", "Progress", "FinalityError", "merge", "merge_beliefs",
           "round_timer_runs", "signed_orders", "stakes_of"]
