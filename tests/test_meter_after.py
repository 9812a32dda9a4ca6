"""Meter.size_after (kernel/cvm/memory.py): the memory size of a state after transactions,
found by walking only the cells that changed, equals kernel.memory_size measured afresh, and
the transition's memory charges follow from it."""
from __future__ import annotations

import random

from nacl.signing import SigningKey

from kernel.cvm.memory import Meter
from kernel.data.blobs import Blob
from kernel.data.cell import memory_size
from kernel.data.vectors import Vector
from kernel.state.state import Account
from kernel.state.transactions import Invoke, Transfer
from kernel.transition import apply_transaction
from lisp import read
from stdlib.genesis import FIRST_USER, GENESIS_USER, genesis_state


def _fresh_size(v) -> int:
    """memory_size of v with nothing cached (decoded anew from its cells)."""
    from kernel.data.decoding import decode_multi, encode_multi
    return memory_size(decode_multi(encode_multi(v)))


def _state_with_users(n: int):
    base = genesis_state()
    key = Blob(bytes(SigningKey(b"\x05" * 32).verify_key))
    accts = list(base.accounts) + [Account(balance=10**12, key=key) for _ in range(n)]
    g = accts[GENESIS_USER]
    accts[GENESIS_USER] = g.with_balance(g.balance - n * 10**12)
    return base.with_accounts(Vector.from_seq(accts)), range(len(base.accounts), len(accts))


def test_size_after_matches_a_fresh_measure_over_mixed_transactions():
    st, users = _state_with_users(300)
    rnd = random.Random(7)
    seqs = {u: 0 for u in users}
    seqs[FIRST_USER] = 0
    sources = ["(def x [1 2 3])", "(def big (vec (range 200)))", "(undef x)",
               "(create-account 0x" + "ab" * 32 + ")", "(def s \"" + "y" * 300 + "\")",
               "(fail :NO)", "(transfer #0 1)", "(def m {:a 1 :b (range 40)})"]
    meter = Meter()
    for i in range(120):
        a = rnd.choice(users) if i % 3 else FIRST_USER
        seqs[a] += 1
        if i % 2:
            tx = Transfer.create(a, seqs[a], rnd.choice(users), rnd.randrange(1, 10**9))
        else:
            tx = Invoke.create(a, seqs[a], read(rnd.choice(sources)))
        o = apply_transaction(st, tx, meter)
        new = o.state
        assert meter.size(new) == memory_size(new)
        st = new
    assert meter.size(st) == _fresh_size(st)


def test_size_after_of_unrelated_values_is_their_size():
    m = Meter()
    a, b = read("[1 [2 3] \"" + "z" * 200 + "\"]"), read("{:k [4 5 6]}")
    m.size(a)
    assert m.size_after(a, b) == memory_size(b)
    c = a.assoc(0, 2**1200)                 # a big integer: stored as its own cell
    assert m.size_after(a, c) == _fresh_size(c)
