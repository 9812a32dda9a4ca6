"""A local peer's throughput and a cluster's confirmation latency, measured side by side.

1. Signed transfers per second through a local peer (convex_repl/peer.py: peer pre-checks,
   blocks, the state transition, results back to each submitter) from 8 client threads that
   keep their transactions in flight, as a ratio to pynacl signature verifications per
   second on this machine; also with clients that wait for each result (latency-bound).
2. Median confirmation latency of a 3-peer network (`convex local start --peers 3`: three
   processes, CPoS over the peer protocol) for transactions sent one after another over TCP,
   as a multiple of the configured block and broadcast intervals added up
   (cluster.BLOCK_INTERVAL: a peer proposes at most one block per interval;
   cluster.MERGE_INTERVAL: at most one belief broadcast per interval).

Run: python benchmarks/peer.py [--n 4000]
"""
from __future__ import annotations

import statistics
import sys
import threading
import time

from nacl.signing import SigningKey


def verifies_per_second() -> float:
    """pynacl verifications per second: the baseline benchmarks/transactions.py measures."""
    from transactions import verify_time
    return 1 / verify_time(clock=time.perf_counter)     # the peer's figures are wall time


def peer_transfers_per_second(n: int, pipelined: bool = True) -> float:
    """Signed transfers per second through Peer.submit_nowait / submit (pre-checks, blocks,
    results), from 8 client threads. Pipelined, each client keeps its transactions in flight
    and then collects the results (as a client of the peer protocol may); otherwise each
    waits for one result before sending the next."""
    from convex_repl.peer.peer import Peer
    from kernel.state.transactions import Transfer, sign
    from lisp import read
    peer = Peer().start()
    threads_n = 8
    keys = [SigningKey.generate() for _ in range(threads_n)]
    addrs = []
    for k in keys:
        r = peer.run_as_faucet(read(f"(let [a (create-account 0x{bytes(k.verify_key).hex()})]"
                                    f" (transfer a 1000000000) a)"))
        addrs.append(r.value.n)
    per = n // threads_n
    signed = [[sign(k, Transfer.create(a, i + 1, 13, 1)) for i in range(per)]
              for k, a in zip(keys, addrs)]
    errors = []

    def run(txs):
        if pipelined:
            results = [t.wait() for t in [peer.submit_nowait(s) for s in txs]]
        else:
            results = [peer.submit(s) for s in txs]
        errors.extend(r for r in results if r.error is not None)
    ts = [threading.Thread(target=run, args=(txs,)) for txs in signed]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.perf_counter() - t0
    peer.stop()
    assert not errors, errors[:3]
    return per * threads_n / dt


def ratio_to_verifies(n: int, pipelined: bool = True) -> float:
    """One run's transfers/s as a ratio to verifications/s measured just before it: this
    machine's speed drifts between runs (a verification takes 52-78 us at different times)."""
    v = verifies_per_second()
    return peer_transfers_per_second(n, pipelined) / v


def cluster_latency(n: int = 40) -> tuple:
    """Median seconds from sending [:TX] to its Result, for transactions sent one after
    another to the peers of `convex local start --peers 3` in turn (real processes)."""
    import json
    import os
    import socket
    import subprocess

    from convex_repl.peer.protocol import Connection, decode_message, encode_message, frame
    from kernel.transition.ledger import genesis_signing_key
    from kernel.data.scalars import Keyword
    from kernel.state.transactions import Invoke, sign
    from kernel.data.vectors import Vector
    from lisp import read
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = subprocess.Popen([sys.executable, "-m", "convex_repl", "local", "start", "--peers",
                          "3", "--port", "0", "--json"], stdout=subprocess.PIPE, text=True,
                         cwd=root, env=dict(os.environ, PYTHONPATH=root))
    try:
        info = json.loads(p.stdout.readline())
        conns = []
        for peer in info["peers"]:
            host, port = peer["protocol"].rsplit(":", 1)
            conns.append(Connection(socket.create_connection((host, int(port))), True))
        sk = genesis_signing_key(13)
        lat = []
        for i in range(1, n + 1):
            c = conns[i % 3]
            msg = Vector.of(Keyword("TX"), i, sign(sk, Invoke.create(13, i, read(f"(def x {i})"))))
            t0 = time.perf_counter()
            c.sock.sendall(frame(encode_message(msg)))
            r = decode_message(c.read_frame(), {})
            lat.append(time.perf_counter() - t0)
            assert r.error is None, r
        return statistics.median(lat)
    finally:
        p.terminate()
        p.wait(30)


def main() -> None:
    n = 4000
    if "--n" in sys.argv:
        n = int(sys.argv[sys.argv.index("--n") + 1])
    piped = sorted(ratio_to_verifies(n) for _ in range(5))     # short runs: the medians
    waiting = sorted(ratio_to_verifies(n, pipelined=False) for _ in range(5))
    print("signed transfers via a peer / verifies/s, 8 clients (median of 5, range)")
    print(f"  pipelined                    {piped[2]:.3f}   ({piped[0]:.2f}-{piped[-1]:.2f})")
    print(f"  each waiting for its result  {waiting[2]:.3f}   "
          f"({waiting[0]:.2f}-{waiting[-1]:.2f})")
    from convex_repl.peer.cluster import BLOCK_INTERVAL, MERGE_INTERVAL
    med = cluster_latency()
    budget = BLOCK_INTERVAL + MERGE_INTERVAL
    print(f"3-peer network median latency  {med * 1000:8.1f} ms  = {med / budget:.2f} x the "
          f"block + broadcast intervals ({BLOCK_INTERVAL * 1000:.0f} + "
          f"{MERGE_INTERVAL * 1000:.0f} ms)")


if __name__ == "__main__":
    main()
