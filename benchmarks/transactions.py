"""Transaction throughput against Ed25519 signature verification, measured side by side.

1. Unsigned `Transfer` transactions applied as a block's are (signature and sequence checks
   skipped, but juice, fees, memory accounting and the sequence increment all done, through
   the block's overlay of touched accounts, the account tree built at the end of each block
   of BLOCK transactions, with the cyclic GC paused as during a block), per second, as a
   ratio to pynacl verifications per second: from #13 to #12 in the genesis state
   (2 accounts), then in states of 1k, 10k and 100k user accounts, one fixed pair and random
   pairs. Goal: >= 2 at 100k, random pairs. `--one-at-a-time` applies each with
   apply_transaction instead (a state built after every transaction, as before the overlay).
2. How the cost of one transfer grows from 1k to 100k accounts (goal: within 20%).
3. A block of 1000 signed transfers (from 10 accounts to 10 others), time per transaction as
   a ratio to one verification. The process-wide verified-signature cache is cleared before
   each timed application: a peer sees each transaction once, so a benchmark that applies
   the same block again must not let the cache skip the signature checks.

Each figure is the median of several rounds, each round measuring the baseline and the
transactions side by side (the machine's load changes less within a round), in CPU time of
this process (the block, whose signatures are checked on other threads, in wall time).

Run: python benchmarks/transactions.py [--profile]
"""
from __future__ import annotations

import random
import statistics
import sys
import time

from nacl.signing import SigningKey

from kernel.cvm.memory import Meter
from kernel.data.blobs import Blob
from kernel.data.vectors import Vector
from kernel.state.state import Account
from kernel.state.transactions import Block, Transfer, clear_verified_cache, sign
from kernel.transition import (apply_block, apply_checked, apply_transaction, gc_paused,
                               local_peer)
from kernel.transition.ledger import genesis_signing_key
from stdlib.genesis import FIRST_USER, GENESIS_USER, genesis_state

N_UNSIGNED = 2000
BLOCK = 1000
SIZES = (1_000, 10_000, 100_000)


def timed(fn, setup=None, repeat: int = 3, clock=time.process_time) -> float:
    """Median seconds of fn() over `repeat` runs, `setup()` (untimed) before each. CPU
    seconds of this process by default (other processes on a loaded machine then slow
    neither side of a ratio as much); wall time for work spread over threads."""
    times = []
    for _ in range(repeat):
        if setup is not None:
            setup()
        t = clock()
        fn()
        times.append(clock() - t)
    return statistics.median(times)


def verify_time(n: int = 1000, clock=time.process_time) -> float:
    """Seconds per pynacl Ed25519 verification of a transaction-sized message."""
    sk = SigningKey(b"\x01" * 32)
    vk = sk.verify_key
    sm = sk.sign(b"\xd1" + bytes(40))
    msg, sig = sm.message, sm.signature

    def run():
        for _ in range(n):
            vk.verify(msg, sig)
    return timed(run, clock=clock) / n


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


def many_accounts(base, n: int):
    """`base` with n user accounts appended (one key, 10^9 coins each, taken from #11), its
    memory size measured once (as a peer's current state has it)."""
    key = Blob(bytes(SigningKey(b"\x07" * 32).verify_key))
    first = len(base.accounts)
    accts = list(base.accounts)
    accts += [Account(balance=10**9, key=key) for _ in range(n)]
    g = accts[GENESIS_USER]
    accts[GENESIS_USER] = g.with_balance(g.balance - n * 10**9)
    st = base.with_accounts(Vector.from_seq(accts))
    assert st.total_funds() == base.total_funds()
    st.memory_size()
    return st, range(first, first + n)


def transfers(pairs: list) -> list:
    seqs: dict = {}
    out = []
    for a, b in pairs:
        seqs[a] = seqs.get(a, 0) + 1
        out.append(Transfer.create(a, seqs[a], b, 100))
    return out


def fixed_pair(n: int = N_UNSIGNED, a: int = FIRST_USER, b: int = GENESIS_USER + 1) -> list:
    return transfers([(a, b)] * n)


def random_pairs(users: range, n: int = N_UNSIGNED, seed: int = 1) -> list:
    rnd = random.Random(seed)
    return transfers([(rnd.choice(users), rnd.choice(users)) for _ in range(n)])


ONE_AT_A_TIME = "--one-at-a-time" in sys.argv


def unsigned_transfers(state, txs: list) -> float:
    """Seconds per unsigned transfer transaction applied from `state` in blocks of BLOCK
    (through the overlay, the state built at the end of each), or one after another."""
    def run():
        st = state
        with gc_paused():       # as while applying a block
            if ONE_AT_A_TIME:
                meter = Meter()
                for tx in txs:
                    o = apply_transaction(st, tx, meter)
                    st = o.state
                outcomes = [o]
            else:
                meter = Meter()     # carried from block to block, as a peer's is
                for j in range(0, len(txs), BLOCK):
                    st, outcomes = apply_checked(st, txs[j:j + BLOCK], meter)
        assert all(o.error is None for o in outcomes)
        assert st.account(txs[-1].origin.n).sequence == txs[-1].sequence
    return timed(run, repeat=2) / len(txs)


def signed_block(state, senders) -> tuple:
    """Seconds per transaction of a block of BLOCK signed transfers, every signature checked
    (the verified-signature cache cleared before each run)."""
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
    t = timed(lambda: out.append(apply_block(state, block, peer)), clear_verified_cache,
              repeat=2, clock=time.perf_counter) / BLOCK     # signatures checked on threads
    br = out[-1]
    assert all(r.error is None for r in br.results), [r for r in br.results if r.error][:1]
    assert br.state.total_funds() == state.total_funds()
    return t, br


def measure(rounds: int = 3, sizes: tuple = SIZES) -> dict:
    """Every figure of this benchmark: seconds per verification, per unsigned transfer in
    each setting, per signed transaction in a block; medians over `rounds`."""
    base = genesis_state()
    base.memory_size()
    states = {n: many_accounts(base, n) for n in sizes}
    state, senders = funded_state()
    state.memory_size()
    genesis_signing_key(FIRST_USER)
    loads = {"2 accounts": (base, fixed_pair())}
    for n in sizes:
        st, users = states[n]
        loads[f"{n // 1000}k fixed"] = (st, fixed_pair(a=users[0], b=users[1]))
        loads[f"{n // 1000}k random"] = (st, random_pairs(users))
    figures: dict = {k: [] for k in ("verify", "verify wall", "block", *loads)}
    for _ in range(rounds):
        figures["verify"].append(verify_time())
        figures["verify wall"].append(verify_time(clock=time.perf_counter))
        for name, (st, txs) in loads.items():
            figures[name].append(unsigned_transfers(st, txs))
        figures["block"].append(signed_block(state, senders)[0])
    return {k: statistics.median(v) for k, v in figures.items()}


def main() -> None:
    f = measure()
    v = f["verify"]
    print(f"Ed25519 verify (pynacl): {v * 1e6:.1f} us, {1 / v:,.0f}/s")
    for name in f:
        if name in ("verify", "verify wall", "block"):
            continue
        t = f[name]
        print(f"unsigned transfers, {name:>10}: {t * 1e6:6.1f} us, {1 / t:8,.0f}/s, "
              f"ratio to verifications/s {v / t:.2f} (goal >= 2 at 100k random)")
    for kind in ("fixed", "random"):
        lo, hi = f"{SIZES[0] // 1000}k {kind}", f"{SIZES[-1] // 1000}k {kind}"
        print(f"per-transfer cost {lo} -> {hi}: x{f[hi] / f[lo]:.2f} (goal <= 1.20)")
    print(f"block of {BLOCK} signed transfers (signatures checked): {f['block'] * 1e6:.1f} us "
          f"per transaction, {f['block'] / f['verify wall']:.2f} verifications (wall time)")


def profile() -> None:
    import cProfile
    import pstats
    base = genesis_state()
    st, users = many_accounts(base, 10_000)
    txs = random_pairs(users, 3000)
    cProfile.runctx("unsigned_transfers(st, txs)", globals(), {"st": st, "txs": txs},
                    "/tmp/tx.prof")
    pstats.Stats("/tmp/tx.prof").sort_stats("tottime").print_stats(25)
    state, senders = funded_state()
    state.memory_size()
    clear_verified_cache()
    cProfile.runctx("signed_block(state, senders)", globals(),
                    {"state": state, "senders": senders}, "/tmp/block.prof")
    pstats.Stats("/tmp/block.prof").sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    profile() if "--profile" in sys.argv else main()
