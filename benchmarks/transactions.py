"""Transaction throughput against Ed25519 signature verification, measured side by side.

1. Unsigned `Transfer` transactions applied one after another (signature and sequence checks
   skipped, but juice, fees, memory accounting and the sequence increment all done, with the
   cyclic GC paused as during a block), per second, as a ratio to pynacl verifications per
   second. Goal: >= 1.
2. A block of 1000 signed transfers (signature checks included, from 10 accounts to 10
   others): time per transaction as a ratio to one verification. Goal: <= 2.

Run: python benchmarks/transactions.py [--profile]
"""
from __future__ import annotations

import sys
import time

from nacl.signing import SigningKey

from kernel.transition.ledger import genesis_signing_key
from kernel.state.transactions import Block, Transfer, sign
from kernel.cvm.memory import Meter
from kernel.transition import apply_block, apply_transaction, gc_paused, local_peer
from stdlib.genesis import FIRST_USER, GENESIS_USER, genesis_state

N_UNSIGNED = 5000
BLOCK = 1000


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def verify_time(n: int = 2000) -> float:
    """Seconds per pynacl Ed25519 verification of a transaction-sized message."""
    sk = SigningKey(b"\x01" * 32)
    vk = sk.verify_key
    sm = sk.sign(b"\xd1" + bytes(40))
    msg, sig = sm.message, sm.signature

    def run():
        for _ in range(n):
            vk.verify(msg, sig)
    return best_of(run) / n


def funded_state(n_senders: int = 10):
    """Genesis plus n user accounts funded by #11 (so a block has several senders)."""
    from convex_repl.api import Session
    s = Session().as_account(GENESIS_USER)
    keys = [SigningKey(bytes([i + 1]) * 32) for i in range(n_senders)]
    addrs = []
    for k in keys:
        r = s.eval(f"(let [a (create-account 0x{bytes(k.verify_key).hex()})] "
                   f"(transfer a 1000000000000) a)")
        assert r.ok, r.message
        addrs.append(r.value.n)
    return s.state, list(zip(addrs, keys))


def unsigned_transfers(state, n: int = N_UNSIGNED) -> float:
    """Seconds per unsigned transfer transaction (#13 -> #12, sequences 1..n)."""
    txs = [Transfer.create(FIRST_USER, i + 1, GENESIS_USER + 1, 100) for i in range(n)]

    def run():
        st = state
        with gc_paused():       # as while applying a block
            meter = Meter()     # one per batch, as a block has
            for tx in txs:
                o = apply_transaction(st, tx, meter)
                st = o.state
        assert o.error is None, o.value
    return best_of(run, 2) / n


def signed_block(state, senders) -> tuple:
    """Seconds per transaction of a block of BLOCK signed transfers."""
    txs = []
    seqs = {a: state.account(a).sequence for a, _ in senders}
    for i in range(BLOCK):
        a, k = senders[i % len(senders)]
        b, _ = senders[(i + 1) % len(senders)]
        seqs[a] += 1
        txs.append(sign(k, Transfer.create(a, seqs[a], b, 1000)))
    block = Block.create(state.timestamp + 1000, txs)
    peer = local_peer(state)
    out = []

    def run():
        out.append(apply_block(state, block, peer))
    t = best_of(run, 2) / BLOCK
    br = out[-1]
    assert all(r.error is None for r in br.results), [r for r in br.results if r.error][:1]
    assert br.state.total_funds() == state.total_funds()
    return t, br


def main(rounds: int = 5) -> None:
    base = genesis_state()
    base.memory_size()
    state, senders = funded_state()
    state.memory_size()
    genesis_signing_key(FIRST_USER)
    # Interleaved rounds, best of each: the machine's load changes less within a round.
    t_verify = t_tx = t_block = float("inf")
    for _ in range(rounds):
        t_verify = min(t_verify, verify_time(1000))
        t_tx = min(t_tx, unsigned_transfers(base, 2000))
        tb, br = signed_block(state, senders)
        t_block = min(t_block, tb)
    print(f"Ed25519 verify (pynacl): {t_verify * 1e6:.1f} us, {1 / t_verify:,.0f}/s")
    print(f"unsigned transfer transactions: {t_tx * 1e6:.1f} us, {1 / t_tx:,.0f}/s, "
          f"ratio to verifications/s {t_verify / t_tx:.2f} (goal >= 1)")
    print(f"block of {BLOCK} signed transfers: {t_block * 1e6:.1f} us per transaction, "
          f"{t_block / t_verify:.2f} verifications (goal <= 2); state "
          f"{br.state.value_id().hex()[:16]}...")


def profile() -> None:
    import cProfile
    import pstats
    base = genesis_state()
    base.memory_size()
    state, senders = funded_state()
    state.memory_size()
    cProfile.runctx("unsigned_transfers(base, 3000)", globals(), {"base": base}, "/tmp/tx.prof")
    pstats.Stats("/tmp/tx.prof").sort_stats("tottime").print_stats(25)
    cProfile.runctx("signed_block(state, senders)", globals(),
                    {"state": state, "senders": senders}, "/tmp/block.prof")
    pstats.Stats("/tmp/block.prof").sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    profile() if "--profile" in sys.argv else main()
