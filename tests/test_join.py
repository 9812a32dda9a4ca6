"""Issue 15: a peer joins a running network (`convex peer start --join HOST:PORT` with its own
key from CONVEX_PEER_SEED): it takes the consensus state from the peer it joins through
(checked: more than 2/3 of the stake signed orders finalising those blocks), follows the
network, and once its key is staked on chain (create-peer from a funded account) the others
count its orders and it proposes blocks; withdrawing its stake takes its weight away."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from test_network import (ENV, ROOT, PeerProcess, connected, query, same_state, start_local,
                          submit, tx, until)


class Joiner(PeerProcess):
    """`convex peer start --join HOST:PORT` with CONVEX_PEER_SEED=`seed` (and --key,
    --data when given; with `join` None, a restart from --data DIR alone)."""

    def __init__(self, join, seed: str = "", key_name: str = "", env: dict = ENV,
                 data=None):
        env = dict(env, CONVEX_PEER_SEED=seed) if seed else dict(env)
        cmd = [sys.executable, "-m", "convex_repl", "peer", "start", "--port", "0",
               "--protocol-port", "0", "--json"]
        if join is not None:
            cmd += ["--join", join]
        if key_name:
            cmd += ["--key", key_name]
        if data is not None:
            cmd += ["--data", str(data)]
        self._start(cmd, env)


def _key_of(seed: str) -> str:
    from nacl.signing import SigningKey
    return bytes(SigningKey(bytes.fromhex(seed)).verify_key).hex()


class Rest:
    def __init__(self, url):
        self.url = url

    status = PeerProcess.status


@pytest.fixture()
def local3():
    p, info = start_local("--peers", "3")
    yield info
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def test_a_fourth_peer_joins_local_start_and_is_staked(local3):
    peers = [Rest(x["url"]) for x in local3["peers"]]
    protocol0 = local3["peers"][0]["protocol"]
    host, port = protocol0.rsplit(":", 1)
    addr0 = (host, int(port))
    for i in range(1, 4):                                 # some blocks before it joins
        assert submit(addr0, tx(i, f"(def x{i} {i})")).error is None
    seed = os.urandom(32).hex()
    key = _key_of(seed)
    j = Joiner(protocol0, seed)
    try:
        assert j.info["peer"] == "0x" + key
        assert j.info["joined"]["point"] >= 3 and j.info["joined"]["agreed-stake"] * 3 > \
            j.info["joined"]["total-stake"] * 2
        everyone = peers + [j]
        h = same_state(everyone)                          # it follows the network
        # not staked yet: it says so to a transaction instead of proposing a block
        r = submit(j.address, tx(4, "(def early 1)"))
        assert r.error is not None and r.error.name == "NETWORK", r
        stake = peers[0].status()["total-stake"] // 3      # as much as each of the others
        r = submit(addr0, tx(4, f"(create-peer 0x{key} {stake})"))
        assert r.error is None, r
        until(lambda: peers[0].status()["peers"] == 4, 20, "peer 0 to count 4 peers")
        until(lambda: j.status()["peers"] == 4, 20, "the new peer to see itself staked")
        # staked: it proposes blocks, the others confirm them
        r = submit(j.address, tx(5, "(def via-joiner 42)"))
        assert r.error is None, r
        h2 = same_state(everyone)
        assert h2 != h
        assert all(query(p, "via-joiner") == 42 for p in peers)
        until(lambda: {p.status()["consensus-point"] for p in everyone} == {5}, 20,
              "the same consensus point, 5 blocks (3, create-peer, its own)")
        with urllib.request.urlopen(peers[0].url + "/api/v1/blocks/4", timeout=10) as r:
            assert json.loads(r.read())["peer"] == "0x" + key   # block 4 is the new peer's
        s0 = peers[0].status()
        assert s0["live-stake"] == s0["total-stake"]     # its orders reach peer 0 and count
        # withdrawing its stake takes its weight away everywhere
        r = submit(addr0, tx(6, f"(set-peer-stake 0x{key} 0)"))
        assert r.error is None, r
        until(lambda: all(p.status()["peers"] == 3 for p in everyone), 20,
              "the unstaked peer to stop counting")
        assert peers[0].status()["total-stake"] == s0["total-stake"] - stake
        r = submit(j.address, tx(7, "(def late 1)"))
        assert r.error is not None and r.error.name == "NETWORK", r
        assert submit(addr0, tx(7, "(def after 1)")).error is None
        same_state(everyone)                               # it still follows
    finally:
        j.stop()


def test_a_joined_peer_s_stake_keeps_the_network_live(tmp_path):
    """With a fourth peer staked as much as each of three others, one of the three can stop:
    the remaining two and the new peer hold 3/4 of the stake, which confirms only if the new
    peer's orders count. The fourth peer's key is a stored one (--key NAME)."""
    seed = os.urandom(32).hex()
    key = _key_of(seed)
    env = dict(ENV, CONVEX_HOME=str(tmp_path / "home"), CONVEX_KEY_PASSWORD="pw")
    r = subprocess.run([sys.executable, "-m", "convex_repl", "key", "import", "--name", "p4"],
                       env=dict(env, CONVEX_SEED=seed), cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    peers = [PeerProcess(3, 0)]
    peers += [PeerProcess(3, i, [peers[0].info["protocol"]]) for i in (1, 2)]
    j = None
    try:
        connected(peers)
        j = Joiner(peers[0].info["protocol"], key_name="p4", env=env)
        assert j.info["peer"] == "0x" + key
        stake = peers[0].status()["total-stake"] // 3
        assert submit(peers[0].address, tx(1, f"(create-peer 0x{key} {stake})")).error is None
        until(lambda: all(p.status()["peers"] == 4 for p in peers + [j]), 20, "4 peers")
        peers[2].kill()
        t = time.time()
        r = submit(peers[0].address, tx(2, "(def with-three-quarters 1)"))
        assert r.error is None, r
        assert time.time() - t < 30
        same_state([peers[0], peers[1], j])
    finally:
        if j is not None:
            j.stop()
        for p in peers:
            p.stop()


def test_a_joined_peer_keeps_its_data_and_restarts_from_it(tmp_path):
    """`--join ... --data DIR` keeps the peer's key (encrypted) and its blocks in DIR; stopped
    and started again with `--data DIR` alone, it goes on from its stored state (its block
    count does not start over), catches up with what it missed and keeps voting."""
    seed = os.urandom(32).hex()
    key = _key_of(seed)
    env = dict(ENV, CONVEX_PEER_PASSWORD="pw")
    peers = [PeerProcess(3, 0)]
    peers += [PeerProcess(3, i, [peers[0].info["protocol"]]) for i in (1, 2)]
    data = tmp_path / "joined"
    j = j2 = None
    try:
        connected(peers)
        addr0 = peers[0].address
        assert submit(addr0, tx(1, "(def before 1)")).error is None
        j = Joiner(peers[0].info["protocol"], seed, env=env, data=data)
        assert j.info["joined"]["point"] >= 1
        stake = peers[0].status()["total-stake"] // 3
        assert submit(addr0, tx(2, f"(create-peer 0x{key} {stake})")).error is None
        until(lambda: j.status()["peers"] == 4, 30, "the new peer staked")
        assert submit(j.address, tx(3, "(def via-joined 1)")).error is None
        h = same_state(peers + [j])
        blocks = j.status()["consensus-point"]
        j.stop()
        assert j.p.returncode == 0
        assert submit(addr0, tx(4, "(def while-away 1)")).error is None  # 3/4 of the stake
        j2 = Joiner(None, "", env=env, data=data)          # --data alone: key and address
        assert j2.info["peer"] == "0x" + key
        assert blocks <= j2.info["blocks"] < j2.info["joined"]["point"]   # its own blocks,
        # not the network's newer state fetched again
        h2 = same_state(peers + [j2])
        assert h2 != h and query(j2, "while-away") == 1
        assert submit(j2.address, tx(5, "(def after-restart 1)")).error is None
        same_state(peers + [j2])
    finally:
        for p in peers + [x for x in (j, j2) if x is not None]:
            p.stop()
