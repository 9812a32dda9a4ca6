"""The per-block overlay of touched accounts (kernel/transition/overlay.py) changes nothing a
network can see: random blocks (transfers of every kind, defs, state reads, actor calls,
failing transactions, juice and memory failures, bad sequences and signatures) applied with
and without it give the same Result for every transaction, the same state after each one
and the same state hash after each block; the memory sizes it records are exact."""
from __future__ import annotations

import random

import pytest
from nacl.signing import SigningKey

from convex_repl.api import Session
from kernel.cvm.memory import Meter
from kernel.data.blobs import Blob
from kernel.data.vectors import Vector
from kernel.state.state import Account
from kernel.state.transactions import Block, Call, Invoke, Transfer, sign
from kernel.transition import (apply_block_outcomes, apply_checked, apply_transaction,
                               gc_paused, local_peer)
from kernel.transition.overlay import BlockOverlay, OverlayOutcome, assoc_many
from lisp import read
from stdlib.genesis import GENESIS_USER, genesis_state

# balances chosen to cross integer-length boundaries, to be short of juice or of fees
BALANCES = [10**12, 10**12, 10**8, 2**31 - 40, 2**15 - 300, 2**23 - 60, 20_000, 8_000, 3_000,
            10**12]
ALLOWANCES = [1000, 0, 5, 0, 0, 2, 0, 0, 0, 0]


@pytest.fixture(scope="module")
def world():
    """A state with keyed users of various balances and allowances, two actors (one taking
    coins), and enough accounts that the account vector is a tree with a prefix."""
    s = Session().as_account(GENESIS_USER)
    keys = [SigningKey(bytes([i + 40]) * 32) for i in range(len(BALANCES))]
    users = []
    for k, bal, allow in zip(keys, BALANCES, ALLOWANCES):
        r = s.eval(f"(let [a (create-account 0x{bytes(k.verify_key).hex()})] "
                   f"(transfer a {bal}) (transfer-memory a {allow}) a)")
        assert r.ok, r.message
        users.append(r.value.n)
    taker = s.eval("(deploy '(do (defn receive-coin ^:callable [s a d] (accept a)) "
                   "(defn put ^:callable [v] (def stored v))))")
    refuser = s.eval("(deploy '(defn hi ^:callable [] 1))")
    assert taker.ok and refuser.ok
    for _ in range(30):
        assert s.eval("(create-account 0x" + "11" * 32 + ")").ok
    return s.state, list(zip(users, keys)), taker.value.n, refuser.value.n


FORMS = ["(def x{r} {r})", "(def big{r} (vec (range {r})))", "(balance #{t})",
         "(hash (encoding *state*))", "(account #{t})", "(transfer #{t} {r})",
         "(fail :OOPS \"no\")", "(loop [i 0] (recur (inc i)))", "*balance*",
         "(do (transfer #{t} 5) (:balance (account #{t})))", "(call #{a} (put {r}))"]


def random_block(rnd: random.Random, state, users, taker, refuser, n: int) -> Block:
    seqs = {u: state.account(u).sequence for u, _ in users}
    keys = dict(users)
    targets = [u for u, _ in users] + [taker, refuser, 0, 99_999]
    txs = []
    for _ in range(n):
        u = rnd.choice(list(keys))
        seqs[u] += 1
        seq = seqs[u] if rnd.random() > 0.04 else seqs[u] + 1
        kind = rnd.random()
        t = rnd.choice(targets + [u])
        if kind < 0.7:
            amount = rnd.choice([0, 1, 100, 77_777, 10**9, 10**17, -5, 2**15])
            tx = Transfer.create(u, seq, t, amount)
        elif kind < 0.9:
            r = rnd.randrange(1, 80)
            form = rnd.choice(FORMS).format(r=r, t=t, a=taker)
            tx = Invoke.create(u, seq, read(form))
        else:
            tx = Call.create(u, seq, taker, "put", [rnd.randrange(1000)])
        key = keys[u] if rnd.random() > 0.03 else keys[rnd.choice(list(keys))]
        txs.append(sign(key, tx))
    return Block.create(state.timestamp + rnd.randrange(1, 5000), txs)


def _compare(state, block, peer):
    a_state, a = apply_block_outcomes(state, block, peer, overlay=True)
    b_state, b = apply_block_outcomes(state, block, peer, overlay=False)
    assert a_state.value_id() == b_state.value_id()
    assert [o.result(i).encoding() for i, o in enumerate(a)] == \
        [o.result(i).encoding() for i, o in enumerate(b)]
    for i, (x, y) in enumerate(zip(a, b)):
        assert x.state.value_id() == y.state.value_id(), f"state after transaction {i}"
    return a_state, a


@pytest.mark.parametrize("seed", range(6))
def test_random_blocks_are_the_same_with_and_without_the_overlay(world, seed):
    state, users, taker, refuser = world
    rnd = random.Random(seed)
    peer = local_peer(state)
    fast = 0
    errors = set()
    for _ in range(3):
        block = random_block(rnd, state, users, taker, refuser, 40)
        state, outcomes = _compare(state, block, peer)
        fast += sum(type(o) is OverlayOutcome for o in outcomes)
        errors |= {str(o.error) for o in outcomes}
    assert fast > 10, "the overlay took no transfers"
    assert {":SEQUENCE", ":FUNDS", ":NOBODY", ":JUICE"} <= errors, errors


def test_memory_bought_by_transfers_matches(world):
    """Transfers whose balances grow an integer's length make the sender buy memory (no
    allowance) or use its allowance: the same fees, :mem and pool with the overlay."""
    state, users, _, _ = world
    u, k = users[3]                         # 2**31 - 40 coins, no allowance
    v, _ = users[4]                         # 2**15 - 300: two bytes
    w, kw = users[0]                        # an allowance of 1000
    seq, seqw = state.account(u).sequence, state.account(w).sequence
    txs = [sign(kw, Transfer.create(w, seqw + 1, u, 10**6)),    # u's balance grows a byte
           sign(k, Transfer.create(u, seq + 1, v, 1000)),       # so does v's: u buys it
           sign(k, Transfer.create(u, seq + 2, v, 10**6))]
    block = Block.create(state.timestamp + 10, txs)
    new, outcomes = _compare(state, block, local_peer(state))
    assert all(type(o) is OverlayOutcome for o in outcomes)
    assert outcomes[0].mem > 0 and outcomes[1].mem > 0
    assert new.account(w).memory < state.account(w).memory     # from w's allowance
    assert new.memory_pool < state.memory_pool                  # u bought from the pool


def _many(n: int):
    base = genesis_state()
    key = Blob(bytes(SigningKey(b"\x07" * 32).verify_key))
    first = len(base.accounts)
    accts = list(base.accounts)
    rnd = random.Random(n)
    accts += [Account(balance=rnd.choice([10**9, 2**31 - 500, 2**23 + 7, 10**14]), key=key,
                      memory=rnd.choice([0, 3])) for _ in range(n)]
    g = accts[GENESIS_USER]
    accts[GENESIS_USER] = g.with_balance(g.balance - sum(a.balance for a in accts[first:]))
    st = base.with_accounts(Vector.from_seq(accts))
    st.memory_size()
    return st, range(first, first + n)


def test_checked_transfers_in_a_large_state_match_one_at_a_time():
    """Random transfers among 5,000 accounts through apply_checked (the overlay) and one at
    a time through apply_transaction: the same results and states; the meter's sizes of the
    built state are exact."""
    st, users = _many(5000)
    rnd = random.Random(3)
    seqs: dict = {}
    txs = []
    for _ in range(600):
        a, b = rnd.choice(users), rnd.choice(users)
        seqs[a] = seqs.get(a, 0) + 1
        txs.append(Transfer.create(a, seqs[a], b, rnd.choice([100, 2**24, 10**9 + 1])))
    with gc_paused():
        meter = Meter()
        meter.size(st)
        new, outs = apply_checked(st, txs, meter)
        one, m2 = st, Meter()
        ref = []
        for tx in txs:
            o = apply_transaction(one, tx, m2)
            ref.append(o)
            one = o.state
    assert new.value_id() == one.value_id()
    assert [o.result().encoding() for o in outs] == [o.result().encoding() for o in ref]
    assert sum(type(o) is OverlayOutcome for o in outs) > len(txs) // 2
    assert {o.mem for o in outs} - {0}, "no transfer changed the memory size"
    assert outs[123].state.value_id() == ref[123].state.value_id()
    fresh = new.with_accounts(Vector.from_seq(list(new.accounts)))   # uncached cells
    assert meter.size(new) == fresh.memory_size() == one.memory_size()


def test_assoc_many_builds_the_same_vector_as_assoc():
    rnd = random.Random(5)
    for n in (1, 16, 17, 40, 256, 257, 300, 4096, 5000):
        v = Vector.from_seq(range(n))
        ups = {rnd.randrange(n): -i for i in range(rnd.randrange(1, 50))}
        w = v
        for i, x in ups.items():
            w = w.assoc(i, x)
        assert assoc_many(v, ups).value_id() == w.value_id()
        assert assoc_many(v, {}) is v


def test_other_transactions_see_the_transfers_before_them(world):
    """An Invoke after transfers in the same block reads the balances and the whole state
    as they are after those transfers (the overlay is built into the state first)."""
    state, users, _, _ = world
    (u, k), (v, kv) = users[0], users[1]
    s0 = state.account(u).sequence
    txs = [sign(k, Transfer.create(u, s0 + 1, v, 12345)),
           sign(kv, Invoke.create(v, state.account(v).sequence + 1,
                                  read(f"[(balance #{v}) (hash (encoding *state*))]")))]
    ov = BlockOverlay(state, Meter())
    assert ov.transfer(txs[0].value, txs[0]) is not None
    new, outcomes = _compare(state, Block.create(state.timestamp + 1, txs), local_peer(state))
    assert outcomes[1].value[0] == outcomes[0].state.account(v).balance


def test_records_stored_apart_and_near_the_embedding_limit():
    """A sender whose account record is too long to embed in its leaf (its own storage
    changes) goes through the overlay; one whose record is near the limit is left to the
    ordinary path; results and states are the same either way."""
    s = Session().as_account(GENESIS_USER)
    people = []
    for i, defs in enumerate((8, 3, 0)):
        k = SigningKey(bytes([90 + i]) * 32)
        r = s.eval(f"(let [a (create-account 0x{bytes(k.verify_key).hex()})] "
                   f"(transfer a {2**31 - 100}) a)")
        n = r.value.n
        u = s.as_account(n, k)
        for j in range(defs):
            assert u.eval(f'(def ^{{:doc "d{j}"}} v{j} {j})').ok
        people.append((n, k))
    state = s.state
    (big, kb), (near, kn), (plain, _) = people
    assert len(state.account(big).encoding()) > 140 + 64         # stored apart
    assert 140 - 64 < len(state.account(near).encoding()) <= 140 + 64
    sb, sn = state.account(big).sequence, state.account(near).sequence
    txs = [sign(kb, Transfer.create(big, sb + 1, plain, 10**9)),      # plain crosses 2**31
           sign(kn, Transfer.create(near, sn + 1, big, 10**9)),       # big crosses back up
           sign(kb, Transfer.create(big, sb + 2, near, 5)),
           sign(kb, Transfer.create(big, sb + 3, big, 7))]            # to itself
    new, outcomes = _compare(state, Block.create(state.timestamp + 3, txs), local_peer(state))
    kinds = [type(o) is OverlayOutcome for o in outcomes]
    assert kinds == [True, False, False, True]
    assert outcomes[0].mem > 0 and all(o.error is None for o in outcomes)
    meter = Meter()
    meter.size(state)
    carried, _ = apply_block_outcomes(state, Block.create(state.timestamp + 3, txs),
                                      local_peer(state), meter)
    fresh = carried.with_accounts(Vector.from_seq(list(carried.accounts)))
    assert meter.size(carried) == fresh.memory_size()
