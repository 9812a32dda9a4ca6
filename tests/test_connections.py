"""Issue 15, discovery and connections (CAD017): peers announce their address on chain
(`:url`), dial only announced or operator-given addresses, choose by stake, drop low-staked
and unstaked peers; and a network on distinct loopback addresses whose peers find each other
through the on-chain `:url`s alone."""
from __future__ import annotations

import random
import socket
import sys
from collections import Counter

import pytest

from convex_repl.peer.connections import (DROP_TIME, announced, announcement, format_url,
                                          parse_url, to_dial, to_drop)
from convex_repl.peer.genesis import cluster_genesis, cluster_key, faucet_account
from kernel.data.blobs import Blob, String
from kernel.data.hashmaps import Map
from kernel.data.scalars import Keyword

from test_network import ENV, PeerProcess, query, same_state, submit, tx, until

KEYS = [bytes(cluster_key(i).verify_key) for i in range(4)]
URL = Keyword("url")


# --- the rules, alone ----------------------------------------------------------------------------

def test_announced_addresses_parse():
    assert parse_url("peer.example.com:18888") == ("peer.example.com", 18888)
    assert parse_url(String.of("tcp://10.0.0.2:7/")) == ("10.0.0.2", 7)
    assert parse_url("[::1]:18888") == ("::1", 18888)
    for bad in ("peer.example.com", ":18888", "h:0", "h:70000", "http://h:1", 42, None,
                "h:" + "9" * 400):
        assert parse_url(bad) is None, bad
    assert format_url(("::1", 5)) == "[::1]:5" and parse_url(format_url(("::1", 5))) == ("::1", 5)


def test_operator_addresses_first_then_stake_weighted_without_the_connected_or_ourselves():
    a, b, c, d = (("h", p) for p in (1, 2, 3, 4))
    stakes = {KEYS[1]: 1, KEYS[2]: 3, KEYS[3]: 0}
    cands = {a: None, b: KEYS[1], c: KEYS[2], d: KEYS[3], ("h", 5): KEYS[0], ("h", 6): KEYS[2]}
    firsts = Counter()
    rng = random.Random(7)
    for _ in range(4000):
        order = to_dial(cands, set(), stakes, KEYS[0], rng)
        assert order[0] == a                          # the operator's, key not known yet
        assert sorted(order[1:]) in ([b, c], [b, ("h", 6)])     # one address per peer
        assert d not in order and ("h", 5) not in order         # no stake; ourselves
        firsts[order[1] == b] += 1
    share = firsts[True] / 4000                       # stake 1 of 4: drawn first ~1/4
    assert 0.22 < share < 0.28, share
    assert to_dial(cands, {KEYS[1], KEYS[2]}, stakes, KEYS[0], rng) == [a]


def test_unstaked_peers_dropped_at_once_low_staked_at_random_near_the_target():
    rng = random.Random(11)
    stakes = {KEYS[0]: 90, KEYS[1]: 5, KEYS[2]: 5}
    conns = [KEYS[0], KEYS[1], KEYS[3]]               # KEYS[3] has no stake any more
    assert to_drop(conns, stakes, 8, 0.0, rng) == [KEYS[3]]
    assert to_drop([KEYS[0], KEYS[1]], stakes, 3, 5.0, rng) == []   # below the target
    # at the target 2, KEYS[1] keeps with chance 5/100*2 = 0.1: dropped with probability
    # elapsed/DROP_TIME * 0.9 each look; KEYS[0] (keep chance 1) never
    drops = Counter()
    for _ in range(4000):
        for k in to_drop([KEYS[0], KEYS[1]], stakes, 2, 2.0, rng):
            drops[k] += 1
    assert drops[KEYS[0]] == 0
    expected = 4000 * 2.0 / DROP_TIME * 0.9
    assert 0.8 * expected < drops[KEYS[1]] < 1.2 * expected, (drops, expected)


def test_a_peer_announces_itself_only_when_it_can_and_needs_to():
    g = cluster_genesis(3)
    plan = announcement(g, KEYS[1], ("10.0.0.2", 18888))
    assert plan is not None and plan[0] == faucet_account(1)      # its controller has its key
    assert plan[1].get(URL) == String.of("10.0.0.2:18888")
    assert announcement(g, KEYS[1], None) is None                 # nothing to announce
    assert announcement(g, KEYS[3], ("h", 1)) is None             # no record of its own
    ps = g.peer(Blob(KEYS[1]))
    done = g.with_peer(Blob(KEYS[1]), ps.with_metadata(plan[1]))
    assert announcement(done, KEYS[1], ("10.0.0.2", 18888)) is None
    assert announced(done) == {KEYS[1]: ("10.0.0.2", 18888)}
    moved = announcement(done, KEYS[1], ("10.0.0.3", 1))
    assert moved[1].get(URL) == String.of("10.0.0.3:1")
    other = g.with_peer(Blob(KEYS[1]), ps.with_metadata(Map.EMPTY.assoc(Keyword("x"), 1)))
    assert announcement(other, KEYS[1], ("h", 1))[1].get(Keyword("x")) == 1     # kept
    gone = done.with_peer(Blob(KEYS[1]), ps.with_peer_stake(0).with_metadata(plan[1]))
    if gone.peer(Blob(KEYS[1])).total_stake == 0:
        assert announced(gone) == {}                              # unstaked: not dialled


# --- real processes on distinct addresses --------------------------------------------------------

def _loopback_aliases_work() -> bool:
    try:
        s = socket.create_server(("127.0.0.3", 0))
    except OSError:
        return False
    s.close()
    return True


class HostedPeer(PeerProcess):
    """Peer i of an n-peer local network listening on its own address `host`, announcing it,
    knowing only the addresses in `peers`."""

    def __init__(self, n, i, host, peers=(), outgoing=None):
        cmd = [sys.executable, "-m", "convex_repl", "peer", "start", "--cluster", str(n),
               "--index", str(i), "--host", host, "--port", "0", "--protocol-port", "0",
               "--advertise", f"{host}:0", "--json"]
        for p in peers:
            cmd += ["--peer", p]
        if outgoing is not None:
            cmd += ["--outgoing", str(outgoing)]
        self._start(cmd, ENV)


@pytest.mark.skipif(not _loopback_aliases_work(), reason="127.0.0.x aliases not routable here")
def test_peers_on_distinct_hosts_find_each_other_through_on_chain_urls():
    """Peer 0 on 127.0.0.1 knows nobody; peers 1-3 on 127.0.0.2-4 know only peer 0. Each
    announces its address on chain; once peer 0 is killed, peers 1-3 (3/4 of the stake) go
    on confirming blocks: they found each other through the `:url`s in the state."""
    first = HostedPeer(4, 0, "127.0.0.1")
    others = []
    try:
        for i in (1, 2, 3):
            others.append(HostedPeer(4, i, f"127.0.0.{i + 1}", [first.info["protocol"]]))
        everyone = [first] + others
        until(lambda: all(p.status()["consensus"] for p in everyone), 60, "consensus")

        def urls():
            got = query(first, "(mapv (fn [k] (get-in *state* [:peers k :metadata :url])) "
                        f"[{' '.join('0x' + k.hex() for k in KEYS)}])")
            return got if None not in got else None
        announced_urls = until(urls, 60, "every peer's :url on chain")
        assert announced_urls == [p.info["protocol"] for p in everyone]
        assert all(p.status()["url"] == p.info["protocol"] for p in everyone)
        same_state(everyone)
        first.kill()
        r = submit(others[0].address, tx(1, "(def found 1)"), timeout=60)
        assert r.error is None, r
        same_state(others)
    finally:
        for p in [first] + others:
            p.stop()


def _announcing_network(n, outgoing=None):
    """n peer processes on 127.0.0.1 that know only peer 0 and announce their addresses."""
    first = HostedPeer(n, 0, "127.0.0.1", outgoing=outgoing)
    addr = first.info["protocol"]
    return [first] + [HostedPeer(n, i, "127.0.0.1", [addr], outgoing=outgoing)
                      for i in range(1, n)]


def test_an_evicted_peer_loses_its_weight_and_its_connections():
    """4 peer processes; peer 3's controller (its faucet account, keyed with its key) evicts
    it: the others count 3 peers, drop their connections to it (no stake: connection rules)
    and go on confirming among themselves; peer 3 follows but refuses transactions."""
    peers = _announcing_network(4)
    try:
        until(lambda: all(p.status()["outgoing"] == 3 for p in peers), 60, "3 outgoing each")
        seq = query(peers[0], f"(:sequence (account #{faucet_account(3)}))") + 1
        evict = tx(seq, f"(evict-peer 0x{KEYS[3].hex()})", key=cluster_key(3),
                   origin=faucet_account(3))
        r = submit(peers[0].address, evict)
        assert r.error is None, r
        rest = peers[:3]
        until(lambda: all(p.status()["peers"] == 3 for p in rest), 60, "3 peers counted")
        until(lambda: all(p.status()["outgoing"] == 2 for p in rest), 60,
              "connections to the evicted peer dropped")
        assert submit(peers[1].address, tx(1, "(def after-eviction 1)")).error is None
        r = submit(peers[3].address, tx(2, "(def from-the-evicted 1)"))
        assert r.error is not None and r.error.name == "NETWORK", r
        same_state(peers)                             # it still follows the network
    finally:
        for p in peers:
            p.stop()


def test_the_outgoing_target_bounds_each_peers_connections():
    """With --outgoing 1 each of 4 peers keeps one outgoing connection (beliefs flow both
    ways on it), and the network still confirms."""
    everyone = _announcing_network(4, outgoing=1)
    try:
        until(lambda: all(p.status()["consensus"] for p in everyone), 60, "consensus")
        assert submit(everyone[3].address, tx(1, "(def few 1)")).error is None
        counts = [[p.status()["outgoing"] for p in everyone] for _ in range(10)]
        assert all(n <= 1 for row in counts for n in row), counts
        assert sum(counts[-1]) >= 3, counts
    finally:
        for p in everyone:
            p.stop()
