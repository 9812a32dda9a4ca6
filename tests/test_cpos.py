"""The CPoS belief merge (kernel/cpos.py), simulated: peers exchange signed orders in rounds
(some links cut), and we check agreement, liveness with more than 2/3 of the stake, safety
under partition, and that the confirmed blocks give every peer the same state."""
from __future__ import annotations

import random

from nacl.signing import SigningKey

from kernel.cpos import Belief, Order, merge_beliefs, merge_orders, signed_orders
from kernel.decoding import decode_multi, encode_multi
from kernel.transactions import Block, sign, verify


class SimPeer:
    def __init__(self, i: int):
        self.sk = SigningKey(bytes([i + 1]) * 32)
        self.key = bytes(self.sk.verify_key)
        self.order = Order.create(0)
        self.known: dict = {}            # key -> Signed(Order)
        self.alive = True
        self.clock = 0

    def make_block(self, n: int):
        self.clock += 1
        return sign(self.sk, Block.create(1_700_000_000_000 + n, []))

    def step(self, stakes, blocks=()):
        self.clock += 1
        orders = {k: so.value for k, so in self.known.items() if k != self.key}
        self.order = merge_orders(self.key, self.order, orders, stakes, blocks, self.clock)
        so = sign(self.sk, self.order)
        self.known[self.key] = so
        return so

    def receive(self, belief):
        self.known = merge_beliefs(self.known, belief, verify)

    def confirmed(self):
        return self.order.block_ids()[:self.order.consensus_point]


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
    o = Order.create(5, [b], 1, 0)
    assert decode_multi(encode_multi(o)) == o
    so = sign(p.sk, o)
    belief = Belief.create({p.key: so})
    back = decode_multi(encode_multi(belief))
    assert isinstance(back, Belief) and signed_orders(back)[p.key].value == o


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
    from kernel.records import Signed
    bad = Signed(so.public_key, bytes(64), so.value)    # bad signature
    assert merge_beliefs({}, {b.key: bad}, verify) == {}
    known = merge_beliefs({}, {b.key: so}, verify)
    older = sign(b.sk, Order.create(so.value.timestamp - 1))
    assert merge_beliefs(known, {b.key: older}, verify)[b.key] is so


def test_confirmed_blocks_give_the_same_state():
    from kernel.transition import apply_block
    from stdlib.genesis import genesis_state
    from convex_repl.peer import Peer
    from lisp import read
    peers = [SimPeer(i) for i in range(3)]
    stakes = {p.key: 100 for p in peers}
    g = genesis_state()
    # real blocks of real transactions, made by each peer
    from kernel.ledger import genesis_signing_key
    from kernel.transactions import Invoke
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
        for b in list(p.order.blocks)[:p.order.consensus_point]:
            s = apply_block(s, b.value, p.key).state   # trusted: consensus ordered them
        hashes.add(s.value_id())
    assert len(hashes) == 1
    assert Peer  # the local peer module imports cleanly alongside
