"""Memory accounting (CAD006) of signed transactions: growth of the state's memory size comes
out of the origin's allowance, then is bought from the memory pool, else the transaction
fails with :MEMORY, rolled back but for its fees; shrinking gives allowance back."""
from __future__ import annotations

import random

from nacl.signing import SigningKey

import lisp
from convex_repl.api import Session
from kernel import memory_size
from kernel.core.accounts import swap_price
from kernel.cvm.memory import Meter
from kernel.data.scalars import Symbol
from kernel.state.transactions import Invoke, Transfer
from kernel.transition import transaction_juice
from kernel.transition import apply_transaction
from stdlib.genesis import FIRST_USER, GENESIS_USER, genesis_state

BIG = Symbol("big")


def big_vector(n: int) -> str:
    return f"(loop [v [] i 0] (if (< i {n}) (recur (conj v i) (inc i)) v))"


def new_account(s: Session, balance: int, allowance: int = 0):
    """A user account made in development mode: (session acting as it, its number)."""
    key = SigningKey(bytes([balance % 251 + 1]) * 32)
    r = s.eval(f"(let [a (create-account 0x{bytes(key.verify_key).hex()})] "
               f"(transfer a {balance}) (transfer-memory a {allowance}) a)")
    assert r.ok, r.message
    n = r.value.n
    assert s.state.account(n).memory == allowance
    return s.as_account(n, key), n


def juice_fee(r, tx_juice: int) -> int:
    return (r.juice + tx_juice) * r.juice_price


def last_tx_juice(s: Session, source: str, seq: int) -> int:
    """Transaction juice of the Invoke `transact` built for a one-form source."""
    return transaction_juice(Invoke.create(s.address, seq, lisp.read(source)))


def test_def_of_a_large_value_costs_allowance_and_undef_gives_it_back():
    s = Session()
    a0 = s.state.account(FIRST_USER).memory
    src = f"(def big {big_vector(300)})"
    r = s.transact(src)
    assert r.ok, r.message
    value = s.state.account(FIRST_USER).environment.get(BIG)
    size = memory_size(value)
    assert size > 900 and r.memory >= size            # the vector and its definition
    a1 = s.state.account(FIRST_USER).memory
    assert a1 == a0 - r.memory
    assert r.record.info_value("mem") == r.memory
    # the allowance covered it: fees are juice only
    assert r.fee == juice_fee(r, last_tx_juice(s, src, r.sequence))
    pool = s.state.memory_pool

    r2 = s.transact("(undef big)")
    assert r2.ok and r2.memory < 0
    a2 = s.state.account(FIRST_USER).memory
    assert a2 == a1 - r2.memory
    assert abs(a2 - a0) <= 16           # back, but for a few bytes of larger sequence numbers
    assert s.state.memory_pool == pool


def test_beyond_the_allowance_memory_is_bought_from_the_pool():
    s, n = new_account(Session(), 10**13)
    st0 = s.state
    src = f"(def big {big_vector(200)})"
    r = s.transact(src)
    assert r.ok, r.message
    st = s.state
    assert st.account(n).memory == 0
    pool0, value0 = st0.memory_pool, st0.memory_value
    spend = swap_price(r.memory, pool0, value0)
    assert spend > 0
    assert r.fee == juice_fee(r, last_tx_juice(s, src, r.sequence)) + spend
    assert st.memory_pool == pool0 - r.memory and st.memory_value == value0 + spend
    assert st.account(n).balance == st0.account(n).balance - r.fee
    assert st.total_funds() == st0.total_funds()


def test_partial_allowance_is_used_first():
    s, n = new_account(Session(), 10**13, allowance=500)
    st0 = s.state
    r = s.transact(f"(def big {big_vector(200)})")
    assert r.ok and r.memory > 500
    spend = swap_price(r.memory - 500, st0.memory_pool, st0.memory_value)
    assert s.state.account(n).memory == 0
    assert s.state.memory_pool == st0.memory_pool - (r.memory - 500)
    assert r.fee == juice_fee(r, transaction_juice(
        Invoke.create(n, 1, lisp.read(f"(def big {big_vector(200)})")))) + spend


def test_out_of_allowance_and_coins_fails_with_memory_and_changes_only_the_fee():
    s, n = new_account(Session(), 10**8)         # plenty for juice, far too little for memory
    st0 = s.state
    before = st0.account(n)
    src = f"(def big {big_vector(300)})"
    r = s.transact(src)
    assert r.error == "MEMORY" and r.source == "CVM"
    st = s.state
    after = st.account(n)
    fee = juice_fee(r, last_tx_juice(s, src, r.sequence))
    assert r.fee == fee > 0
    assert after.balance == before.balance - fee
    assert after.sequence == before.sequence + 1
    assert after.memory == before.memory == 0
    assert after.environment.get(BIG) is None
    assert (st.memory_pool, st.memory_value) == (st0.memory_pool, st0.memory_value)
    # everything else is as it was, apart from where the fee went (peer and #0)
    for i in range(len(st.accounts)):
        if i not in (0, n):
            assert st.account(i) == st0.account(i), i


def test_memory_failure_keeps_the_fee_but_not_a_transfer():
    s, _ = new_account(Session(), 10**8)
    peer_before = s.state.account(12).balance
    r = s.transact(f"(transfer #12 1000) (def big {big_vector(300)})")
    assert r.error == "MEMORY"
    assert s.state.account(12).balance == peer_before


def test_meter_agrees_with_memory_size_along_transactions():
    state = genesis_state()
    meter = Meter()
    rng = random.Random(7)
    forms = ["(def x [1 2 3])", f"(def y {big_vector(100)})", "(undef y)", "(fail :X \"x\")",
             "(transfer #12 10)", "(def z {:a 1 :b (str \"hello\" 1)})", "(undef x)",
             "(set-memory 20000)", f"(def w {big_vector(2000)})"]
    seq = {FIRST_USER: state.account(FIRST_USER).sequence,
           GENESIS_USER: state.account(GENESIS_USER).sequence}
    chain = []
    for _ in range(120):
        o = rng.choice(list(seq))
        seq[o] += 1
        if rng.random() < 0.4:
            tx = Transfer.create(o, seq[o], rng.choice([0, 12, 13, 11]), rng.randint(0, 10**6))
        else:
            tx = Invoke.create(o, seq[o], lisp.read(rng.choice(forms)))
        out = apply_transaction(state, tx, meter)
        state = out.state
        chain.append((state, meter.known_size(state)))
    measured = [(st, k) for st, k in chain if k is not None]
    assert len(measured) > 100
    for st, k in measured:                  # exact sizes computed afterwards, from scratch
        assert k[1] == st.memory_size()
