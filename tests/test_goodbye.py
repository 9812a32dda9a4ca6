"""Graceful shutdown with real processes: a peer stopped by SIGTERM says GOODBYE to its
connections, commits a last time and exits 0; the peers it leaves close those connections at
once and stop counting its stake, and log who left."""
from __future__ import annotations

import json
import socket
import time

import pytest

from tests.test_peer_process import get, post, start_peer, stop

N = 3


def _ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _json_lines(text):
    return [json.loads(x) for x in text.splitlines() if x.startswith("{")]


@pytest.fixture
def network(tmp_path):
    proto = _ports(N)
    peers = [f"127.0.0.1:{p}" for p in proto]
    procs = []
    try:
        for i in range(N):
            args = ["--cluster", str(N), "--index", str(i), "--protocol-port", str(proto[i]),
                    "--log-format", "json"]
            for a in peers:
                args += ["--peer", a]
            procs.append(start_peer(*args, data=tmp_path / f"p{i}"))
        yield procs, tmp_path
    finally:
        for p, _ in procs:
            stop(p)


def _wait_health(url, ok, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        code, h = get(url, "/health")
        if ok(code, h):
            return code, h
        time.sleep(0.1)
    raise AssertionError(h)


def test_sigterm_says_goodbye_and_the_others_stop_counting_it_at_once(network):
    from convex_repl.peer.store import Store
    procs, tmp = network
    urls = [info["url"] for _, info in procs]
    for u in urls:
        _wait_health(u, lambda c, h: c == 200 and h["status"] == "ok"
                     and h["peers-connected"] == N - 1)
    code, r = post(urls[0], "/faucet", {"address": 13, "amount": 1000})
    assert code == 200 and r.get("errorCode") is None, r
    _, h2 = _wait_health(urls[2], lambda c, h: h["consensus-point"] >= 1)
    final = h2["consensus-point"]
    total = h2["total-stake"]

    p2, info2 = procs[2]
    p2.terminate()                                   # SIGTERM
    out, err = p2.communicate(timeout=30)
    gone = time.monotonic()
    assert p2.returncode == 0, err
    assert "Traceback" not in err
    stopped = [x for x in _json_lines(err) if x["event"] == "stopped"]
    assert len(stopped) == 1 and stopped[0]["connections"] >= N - 1
    assert stopped[0]["peer"] == "2" and stopped[0]["reason"] == "shutdown"

    # the others dropped its stake before a silent peer would have timed out (3 s)
    code, h = get(urls[0], "/health")
    assert time.monotonic() - gone < 2.0
    assert h["connected-stake"] * 3 == total * 2, h
    assert h["peers-connected"] == N - 2

    # its last commit: the store holds every block it finalised, and its belief
    store = Store(str(tmp / "p2" / "peer.db"))
    try:
        assert store.head()[0] + 1 >= final
        assert store.meta("belief") is not None
    finally:
        store.close()

    for p, _ in procs[:2]:
        p.terminate()
    logs = [_json_lines(p.communicate(timeout=30)[1]) for p, _ in procs[:2]]
    for lines in logs:
        byes = [x for x in lines if x["event"] == "goodbye"]
        assert any(x["peer_key"] == info2["peer"] and x["reason"] == "shutdown"
                   for x in byes), byes
        assert all(x["level"] == "info" and x["time"].endswith("Z") for x in byes)


def test_a_stopping_cluster_peer_finishes_the_transactions_it_took():
    from convex_repl.peer.cluster import start_cluster, stop_cluster
    from kernel.state.transactions import Invoke, sign
    from kernel.transition.ledger import genesis_signing_key
    from lisp import read
    nodes = start_cluster(3)
    try:
        sk = genesis_signing_key(13)
        tickets = [nodes[0].submit_nowait(sign(sk, Invoke.create(13, i, read(f"(def a{i} {i})"))))
                   for i in range(1, 4)]
        nodes[0].shutdown()                  # at once: these are still being agreed on
        results = [nodes[0].collect(t, 5) for t in tickets]
        assert [r.error for r in results] == [None, None, None]
        assert [r.value for r in results] == [1, 2, 3]
        r = nodes[0].submit(sign(sk, Invoke.create(13, 4, read("(def b 4)"))))
        assert r.error.name == "LOAD"        # nothing more is taken
        assert nodes[1].query(read("a3"), 13).value == 3
    finally:
        stop_cluster(nodes)
