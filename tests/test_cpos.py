"""The CPoS belief merge (kernel/consensus/cpos.py), simulated: peers exchange signed orders
in rounds (some links cut), and we check agreement, liveness with more than 2/3 of the stake, safety
under partition, restarts and Byzantine peers, and that the finalised blocks give every peer
the same state."""
from __future__ import annotations

import random

import pytest

from nacl.signing import SigningKey

from kernel.consensus.cpos import (Belief, FinalityError, Order, Progress, merge, merge_beliefs,
                                   round_timer_runs, signed_orders, stakes_of)
from kernel.data.decoding import decode_multi, encode_multi
from kernel.data.vectors import Vector
from kernel.state.transactions import Block, sign, verify


class SimPeer:
    def __init__(self, i: int):
        self.sk = SigningKey(bytes([i + 1]) * 32)
        self.key = bytes(self.sk.verify_key)
        self.progress = Progress(Order.create(0))
        self.known: dict = {}            # key -> Signed(Order)
        self.alive = True
        self.clock = 0

    def make_block(self, n: int):
        self.clock += 1
        return sign(self.sk, Block.create(1_700_000_000_000 + n, []))

    @property
    def order(self):
        return self.progress.order

    def step(self, stakes, blocks=(), advance=False):
        self.clock += 1
        orders = {k: so.value for k, so in self.known.items() if k != self.key}
        self.progress = merge(self.key, self.progress, orders, stakes, blocks, self.clock,
                              advance)
        so = sign(self.sk, self.order)
        self.known[self.key] = so
        return so

    def receive(self, belief):
        self.known = merge_beliefs(self.known, belief, verify)

    def confirmed(self):
        return self.order.block_ids()[:self.order.finality_point]


def run(peers, stakes, rounds, links=None, new_blocks=None, seed=0):
    rnd = random.Random(seed)
    n = 0
    for r in range(rounds):
        for p in peers:
            if not p.alive:
                continue
            blocks = []
            if new_blocks and new_blocks(r, p):
                blocks = [p.make_block(n)]
                n += 1
            p.step(stakes, blocks)
        order = list(peers)
        rnd.shuffle(order)
        for src in order:
            if not src.alive:
                continue
            for dst in peers:
                if dst is src or not dst.alive or (links and not links(src, dst)):
                    continue
                dst.receive(dict(src.known))


def prefixes_agree(peers):
    cs = [p.confirmed() for p in peers]
    for a in cs:
        for b in cs:
            m = min(len(a), len(b))
            assert a[:m] == b[:m]


def test_order_and_belief_encode_and_decode():
    p = SimPeer(0)
    b = p.make_block(1)
    o = Order.create(5, [b], 1, 1, 0, round=3)
    assert decode_multi(encode_multi(o)) == o
    so = sign(p.sk, o)
    belief = Belief.create({p.key: so})
    back = decode_multi(encode_multi(belief))
    assert isinstance(back, Belief) and signed_orders(back)[p.key].value == o


def test_order_fields_are_the_references():
    """Order.java's record: :timestamp, :consensus ([blocks proposal consensus finality],
    CPoSConstants' levels) and :blocks, in that order; our :round comes after them."""
    from kernel.data import printer
    from kernel.data.scalars import Keyword
    p = SimPeer(0)
    b = p.make_block(1)
    o = Order.create(5, [b, p.make_block(2)], 2, 1, 0, round=3)
    assert [k.name for k in o.keys()] == ["timestamp", "consensus", "blocks", "round"]
    assert list(o.get(Keyword("consensus"))) == [2, 2, 1, 0] and o.points == o.get(
        Keyword("consensus"))
    assert (o.proposal_point, o.consensus_point, o.finality_point, o.round) == (2, 1, 0, 3)
    assert o.well_formed()
    printed = printer.print_value(o)
    assert printed.startswith("{:timestamp 5,:consensus [2 2 1 0],:blocks [")
    assert printed.endswith(",:round 3}")
    # the block count is the first level, and the levels never increase (Order.validateStructure)
    assert not o._make((5, Vector.of(1, 1, 1, 0), o.blocks, 3)).well_formed()
    assert not o._make((5, Vector.of(2, 1, 2, 0), o.blocks, 3)).well_formed()
    assert not o._make((5, Vector.of(2, 1, 0), o.blocks, 3)).well_formed()
    assert o.with_round(4).round == 4 and o.with_round(4).points is o.points


def test_three_peers_agree():
    peers = [SimPeer(i) for i in range(3)]
    stakes = {p.key: 100 for p in peers}
    run(peers, stakes, 12, new_blocks=lambda r, p: r < 6)
    prefixes_agree(peers)
    conf = [p.confirmed() for p in peers]
    assert all(len(c) == 18 for c in conf), [len(c) for c in conf]   # all blocks confirmed
    assert conf[0] == conf[1] == conf[2]


def test_four_equal_peers_confirm_with_one_down():
    peers = [SimPeer(i) for i in range(4)]
    stakes = {p.key: 100 for p in peers}
    run(peers, stakes, 3, new_blocks=lambda r, p: True)
    peers[3].alive = False
    before = len(peers[0].confirmed())
    run(peers, stakes, 10, new_blocks=lambda r, p: r < 4)
    prefixes_agree(peers[:3])
    assert len(peers[0].confirmed()) > before + 8


def test_three_peers_stall_with_one_down():
    # 2 of 3 equal stakes is not more than 2/3: nothing new is confirmed, nothing conflicts
    peers = [SimPeer(i) for i in range(3)]
    stakes = {p.key: 100 for p in peers}
    run(peers, stakes, 6, new_blocks=lambda r, p: r < 2)
    peers[2].alive = False
    before = [p.confirmed() for p in peers[:2]]
    run(peers, stakes, 6, new_blocks=lambda r, p: True)
    assert [p.confirmed() for p in peers[:2]] == before


def test_partition_minority_confirms_nothing_conflicting():
    peers = [SimPeer(i) for i in range(5)]
    stakes = {p.key: 100 for p in peers}
    run(peers, stakes, 4, new_blocks=lambda r, p: r < 2)
    base = [len(p.confirmed()) for p in peers]
    major, minor = peers[:4], peers[4:]

    def links(a, b):
        return (a in major) == (b in major)
    before = set(b.value_id() for p in peers for b in p.order.blocks)
    run(peers, stakes, 8, links=links, new_blocks=lambda r, p: r < 4)
    # the minority confirms none of the blocks made during the partition, and what it
    # confirmed (agreed before the split) is a prefix of the majority's history
    assert all(h in before for h in minor[0].confirmed())
    assert len(major[0].confirmed()) > max(base)          # the majority goes on
    prefixes_agree(peers)
    # healed: everyone converges on one history, the minority's blocks included
    run(peers, stakes, 10, new_blocks=lambda r, p: False)
    prefixes_agree(peers)
    c = peers[4].confirmed()
    assert c == peers[0].confirmed()
    assert all(b.value_id() in c for b in peers[4].order.blocks)


def test_restarted_peer_catches_up():
    peers = [SimPeer(i) for i in range(4)]
    stakes = {p.key: 100 for p in peers}
    run(peers, stakes, 4, new_blocks=lambda r, p: True)
    peers[2].alive = False
    run(peers, stakes, 6, new_blocks=lambda r, p: r < 3)
    fresh = SimPeer(2)                      # restarted with nothing
    peers[2] = fresh
    run(peers, stakes, 6, new_blocks=lambda r, p: False)
    prefixes_agree(peers)
    assert fresh.confirmed() == peers[0].confirmed() and len(fresh.confirmed()) > 10


def test_forged_and_stale_orders_are_ignored():
    a, b = SimPeer(0), SimPeer(1)
    stakes = {a.key: 100, b.key: 100}
    so = b.step(stakes, [b.make_block(1)])
    forged = sign(a.sk, so.value)                       # b's order signed by a
    assert merge_beliefs({}, {b.key: forged}, verify) == {}
    from kernel.data.records import Signed
    bad = Signed(so.public_key, bytes(64), so.value)    # bad signature
    assert merge_beliefs({}, {b.key: bad}, verify) == {}
    known = merge_beliefs({}, {b.key: so}, verify)
    older = sign(b.sk, Order.create(so.value.timestamp - 1))
    assert merge_beliefs(known, {b.key: older}, verify)[b.key] is so


def test_confirmed_blocks_give_the_same_state():
    from kernel.transition import apply_block
    from stdlib.genesis import genesis_state
    from convex_repl.peer.peer import Peer
    from lisp import read
    peers = [SimPeer(i) for i in range(3)]
    stakes = {p.key: 100 for p in peers}
    g = genesis_state()
    # real blocks of real transactions, made by each peer
    from kernel.transition.ledger import genesis_signing_key
    from kernel.state.transactions import Invoke
    sk = genesis_signing_key(13)
    seq = [0]

    def tx_block(p, n):
        seq[0] += 1
        t = sign(sk, Invoke.create(13, seq[0], read(f"(def x{seq[0]} {n})")))
        return sign(p.sk, Block.create(g.timestamp + n, [t]))
    for r in range(3):
        for p in peers:
            p.step(stakes, [tx_block(p, r)])
        for src in peers:
            for dst in peers:
                if dst is not src:
                    dst.receive(dict(src.known))
    run(peers, stakes, 6)
    hashes = set()
    for p in peers:
        s = g
        for b in list(p.order.blocks)[:p.order.finality_point]:
            s = apply_block(s, b.value, p.key).state   # trusted: consensus ordered them
        hashes.add(s.value_id())
    assert len(hashes) == 1
    assert Peer  # the local peer module imports cleanly alongside


# --- rounds, restarts and Byzantine peers, with asynchronous delivery --------------------------

class RoundPeer(SimPeer):
    """A peer as convex_repl/cluster.py runs one: a round timeout that runs once more than
    2/3 of the stake is in its round, its progress saved before each order is sent, and a
    restart that resumes from the saved progress in the next round, knowing nobody else's
    orders."""

    PATIENCE = 8                    # merges without finality before the round is left

    def __init__(self, i: int):
        super().__init__(i)
        self.saved = self.progress
        self.final: list = []
        self.idle = 0

    def tick(self, stakes, blocks, now):
        o = self.order
        orders = {k: so.value for k, so in self.known.items() if k != self.key}
        if not round_timer_runs(self.key, o, orders, stakes):
            self.idle = 0
        pending = len(o.blocks) > o.finality_point or bool(blocks)
        new = merge(self.key, self.progress, orders, stakes, blocks, now,
                    pending and self.idle >= self.PATIENCE)
        moved = new.order.finality_point > o.finality_point
        self.idle = 0 if moved or new.order.round != o.round else self.idle + 1
        self.progress = new._replace(order=new.order.with_timestamp(max(now, o.timestamp + 1)))
        self.known[self.key] = sign(self.sk, self.order)
        ids = self.confirmed()
        assert ids[:len(self.final)] == self.final, "a peer changed its own finalised blocks"
        self.final = ids
        self.saved = self.progress

    def restart(self):
        p = self.saved
        p = p._replace(order=p.order.with_round(p.order.round + 1), polka=None)
        self.progress = p
        self.known = {self.key: sign(self.sk, p.order)}


def forked(peers) -> bool:
    cs = [p.final for p in peers]
    return any(a[:min(len(a), len(b))] != b[:min(len(a), len(b))] for a in cs for b in cs)


def equivocate(rnd, peer, blocks, now):
    """A Byzantine order: the peer's blocks shuffled, random points and round."""
    ids = list(peer.order.blocks)
    rnd.shuffle(ids)
    ids += blocks
    a = rnd.randint(0, len(ids))
    b = rnd.randint(0, a)
    return sign(peer.sk, Order.create(now, ids, a, b, rnd.randint(0, b),
                                      rnd.randint(0, peer.order.round + 3)))


def simulate(seed, n=4, byzantine=0, restarts=True, steps=2500):
    """Random steps: a peer merges (maybe with a new block) and sends its belief, a message
    in flight is delivered (often out of order), or an honest peer restarts. Byzantine peers
    send every other peer its own random order. Then the network heals (honest peers only,
    no new blocks). Returns (honest peers, whether they forked, whether they converged)."""
    rnd = random.Random(seed)
    peers = [RoundPeer(i) for i in range(n)]
    honest = peers[byzantine:]
    stakes = {p.key: 100 for p in peers}
    flight: list = []
    now = made = 0
    for _ in range(steps):
        now += 1
        x = rnd.random()
        if x < 0.3:
            p = rnd.choice(peers)
            blocks = []
            if rnd.random() < 0.5:
                made += 1
                blocks = [sign(p.sk, Block.create(1000 + made, []))]
            if p in honest:
                p.tick(stakes, blocks, now)
                flight += [(q, dict(p.known)) for q in peers if q is not p]
            else:
                for q in peers:
                    if q is not p:
                        flight.append((q, {**p.known, p.key: equivocate(rnd, p, blocks, now)}))
                p.tick(stakes, blocks, now)
        elif x < 0.95 and flight:
            q, belief = flight.pop(rnd.randrange(len(flight)) if rnd.random() < 0.5 else 0)
            q.known = merge_beliefs(q.known, belief)
        elif restarts and x < 0.96:
            rnd.choice(honest).restart()
        if forked(honest):
            return honest, True, False
    for _ in range(300):
        for p in honest:
            now += 1
            p.tick(stakes, [], now)
            for q in honest:
                if q is not p:
                    q.known = merge_beliefs(q.known, dict(p.known))
        if forked(honest):
            return honest, True, False
        everything = {h for p in honest for h in p.order.block_ids()}
        if len({tuple(p.final) for p in honest}) == 1 and len(honest[0].final) == len(everything):
            return honest, False, True
    return honest, False, False


@pytest.mark.parametrize("seed", range(8))
def test_restarts_never_fork_and_the_network_converges(seed):
    _peers, fork, converged = simulate(seed)
    assert not fork and converged, f"seed {seed}"


@pytest.mark.parametrize("seed,n,byzantine", [(s, 4, 1) for s in range(8)]
                         + [(s, 7, 2) for s in range(3)])
def test_byzantine_minority_can_not_fork_honest_peers(seed, n, byzantine):
    _peers, fork, converged = simulate(seed, n, byzantine)
    assert not fork and converged, f"seed {seed}, {byzantine} of {n} Byzantine"


def test_an_equivocating_peer_splits_nobody():
    # peer 0 signs two orders with different blocks at the same positions and sends one to
    # peers 1 and 2, the other to peer 3, over and over, re-signing old ones with newer
    # timestamps; the three honest peers finalise one history between them
    peers = [SimPeer(i) for i in range(4)]
    bad, honest = peers[0], peers[1:]
    stakes = {p.key: 100 for p in peers}
    x, y = bad.make_block(1), bad.make_block(2)
    left = Order.create(0, [x, y], 2, 2, 2)
    right = Order.create(0, [y, x], 2, 2, 2)
    for r in range(1, 30):
        bad.clock += 1
        for p, o in zip(honest, (left, left, right)):
            o = o.with_timestamp(bad.clock).with_round(r // 3)
            p.receive({bad.key: sign(bad.sk, o)})
        for p in honest:
            p.step(stakes, [p.make_block(100 + r)] if r < 10 else [], advance=r % 5 == 0)
        for src in honest:
            for dst in honest:
                if dst is not src:
                    dst.receive(dict(src.known))
        prefixes_agree(honest)
    finals = [p.confirmed() for p in honest]
    assert finals[0] == finals[1] == finals[2] and len(finals[0]) >= 9


def test_finality_contradicted_by_the_stake_raises():
    peers = [SimPeer(i) for i in range(4)]
    stakes = {p.key: 100 for p in peers}
    run(peers, stakes, 6, new_blocks=lambda r, p: r < 2)
    me = peers[0]
    assert me.order.finality_point >= 2
    other = me.make_block(99)
    lies = {p.key: Order.create(10**6, [other] + list(me.order.blocks), 1, 1, 1)
            for p in peers[1:]}
    with pytest.raises(FinalityError, match="conflict"):
        merge(me.key, me.progress, lies, stakes)


# --- weights from the consensus state (stakes_of) -------------------------------------------------

def _state_with(peers, stake):
    """A genesis state whose peers are `peers`, each staked `stake` by the genesis peer's
    account (their controller)."""
    from kernel.data.blobs import Blob
    from kernel.data.index import Index
    from kernel.data.scalars import Address
    from kernel.state.state import PeerStatus
    from stdlib.genesis import GENESIS_PEER, genesis_state
    ix = Index.EMPTY
    for p in peers:
        ix = ix.assoc(Blob(p.key), PeerStatus.create(Address(GENESIS_PEER), stake))
    return genesis_state().with_peers(ix)


def _run_in(state, src):
    """The state after `src` runs as the genesis peer's account (the controller)."""
    from convex_repl.api import Session
    from stdlib.genesis import GENESIS_PEER
    s = Session(state, GENESIS_PEER)
    r = s.eval(src)
    assert r.error is None, r
    return s.state


def test_withdrawn_stake_stops_counting():
    peers = [SimPeer(i) for i in range(4)]
    state = _state_with(peers, 1_000_000)
    assert stakes_of(state) == {p.key: 1_000_000 for p in peers}
    after = _run_in(state, f"(set-peer-stake 0x{peers[3].key.hex()} 0)")
    stakes = stakes_of(after)
    assert peers[3].key not in stakes and len(stakes) == 3
    # peer 2 down, peer 3 unstaked: peers 0 and 1 hold 2/3 of the stake, not more, so peer
    # 3's orders must not help them finalise anything
    run(peers, stakes, 6, new_blocks=lambda r, p: r < 2)
    peers[2].alive = False
    before = [p.confirmed() for p in peers[:2]]
    run(peers, stakes, 8, new_blocks=lambda r, p: True)
    assert [p.confirmed() for p in peers[:2]] == before
    # with the old weights (peer 3 still staked) the same three peers do finalise
    run(peers, stakes_of(state), 8, new_blocks=lambda r, p: r < 2)
    assert len(peers[0].confirmed()) > len(before[0])
    prefixes_agree(peers)


def test_new_staked_peer_starts_counting():
    peers = [SimPeer(i) for i in range(4)]
    state = _state_with(peers[:3], 1_000_000)
    old = stakes_of(state)
    assert peers[3].key not in old
    after = _run_in(state, f"(create-peer 0x{peers[3].key.hex()} 1000000)")
    new = stakes_of(after)
    assert new[peers[3].key] == 1_000_000 and len(new) == 4
    peers[2].alive = False
    # peers 0, 1 and the new peer 3: with the old weights 0 and 1 hold only 2/3 and peer 3's
    # orders don't count; with the new ones the three hold 3/4
    run(peers, old, 8, new_blocks=lambda r, p: r < 3)
    assert all(p.confirmed() == [] for p in peers)
    run(peers, new, 8)
    prefixes_agree(peers)
    assert len(peers[0].confirmed()) == 9 and peers[3].confirmed() == peers[0].confirmed()


def test_delegated_stake_and_eviction_change_the_weights():
    peers = [SimPeer(i) for i in range(2)]
    from kernel.state.state import MINIMUM_EFFECTIVE_STAKE
    state = _state_with(peers, MINIMUM_EFFECTIVE_STAKE)
    k0, k1 = (f"0x{p.key.hex()}" for p in peers)
    state = _run_in(state, f"(set-stake {k0} 500)")            # delegated: counts too
    assert stakes_of(state)[peers[0].key] == MINIMUM_EFFECTIVE_STAKE + 500
    state = _run_in(state, f"(evict-peer {k1})")               # by its controller
    assert peers[1].key not in stakes_of(state)
