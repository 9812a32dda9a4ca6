"""A local cluster over TCP (convex_repl/cluster.py): peers agree on one state, keep
confirming with more than 2/3 of the stake up, a restarted peer catches up; bad
transactions change nothing; garbage and oversized messages don't stop a peer.

Every peer listens on 127.0.0.1 with an ephemeral port; each test stops its cluster."""
from __future__ import annotations

import socket
import time

import pytest

from convex_repl.peer.cluster import (ClusterPeer, cluster_genesis, cluster_key, start_cluster,
                                      stop_cluster, wait_connected)
from convex_repl.peer.protocol import decode_message, encode_message, frame
from kernel.transition.ledger import genesis_signing_key
from kernel.data.scalars import Address, Keyword
from kernel.state.transactions import Invoke, Result, sign
from kernel.data.vectors import Vector
from lisp import read

SK = genesis_signing_key(13)


def tx(seq, src, key=SK, origin=13):
    return sign(key, Invoke.create(origin, seq, read(src)))


def wait_same_state(nodes, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        hs = {n.state.value_id() for n in nodes}
        if len(hs) == 1 and len({n.applied for n in nodes}) == 1:
            return hs.pop()
        time.sleep(0.05)
    raise AssertionError([n.applied for n in nodes])


@pytest.fixture
def cluster3():
    nodes = start_cluster(3)
    yield nodes
    stop_cluster(nodes)


def test_three_peers_reach_the_same_state(cluster3):
    for i in range(1, 7):
        r = cluster3[i % 3].submit(tx(i, f"(def x{i} (* {i} {i}))"), timeout=30)
        assert r.error is None and r.value == i * i
        assert r.info_value("loc") is not None
    wait_same_state(cluster3)
    for n in cluster3:
        assert n.query(read("x6"), 13).value == 36


def test_four_equal_peers_confirm_with_one_down():
    nodes = start_cluster(4)
    try:
        assert nodes[0].submit(tx(1, "(def a 1)"), timeout=30).error is None
        nodes[3].shutdown()
        for i in range(2, 5):
            r = nodes[i % 3].submit(tx(i, f"(def a {i})"), timeout=30)
            assert r.error is None, r
        wait_same_state(nodes[:3])
    finally:
        stop_cluster(nodes)


def test_restarted_peer_catches_up():
    nodes = start_cluster(4)
    try:
        assert nodes[0].submit(tx(1, "(def b 1)"), timeout=30).error is None
        addr = nodes[2].address
        nodes[2].shutdown()
        for i in range(2, 5):
            assert nodes[i % 2].submit(tx(i, f"(def b {i})"), timeout=30).error is None
        time.sleep(0.3)
        fresh = ClusterPeer(2, cluster_genesis(4), addr[0], addr[1])
        fresh.start_network([n.address for n in nodes])
        nodes[2] = fresh
        h = wait_same_state(nodes, 30)
        assert fresh.query(read("b"), 13).value == 4 and fresh.state.value_id() == h
    finally:
        stop_cluster(nodes)


def test_bad_transactions_change_nothing(cluster3):
    n = cluster3[0]
    assert n.submit(tx(1, "(def c 1)"), timeout=30).error is None
    wait_same_state(cluster3)
    before = n.state.value_id()
    from nacl.signing import SigningKey
    from kernel.data.records import Signed
    good = tx(2, "(def c 2)")
    bad_sig = Signed(good.public_key, bytes(64), good.value)
    cases = [(bad_sig, "SIGNATURE"), (tx(2, "1", SigningKey.generate()), "SIGNATURE"),
             (tx(1, "(def c 3)"), "SEQUENCE"), (tx(1, "1", origin=99999), "NOBODY"),
             (tx(1, "1", origin=9), "STATE")]
    for signed, code in cases:
        r = n.submit(signed, timeout=30)
        assert r.error == Keyword(code), (code, r)
    assert all(x.state.value_id() == before for x in cluster3)


def _talk(addr, payload, read_reply=True):
    with socket.create_connection(addr, timeout=5) as s:
        s.sendall(payload)
        if not read_reply:
            return None
        hdr = s.recv(1)
        n = hdr[0]
        data = b""
        while len(data) < n:
            data += s.recv(n - len(data))
        return decode_message(data, {})


def test_protocol_messages_and_garbage(cluster3):
    n = cluster3[1]
    q = Vector.of(Keyword("Q"), 7, read("(+ 1 2)"), Address(13))
    r = _talk(n.address, frame(encode_message(q)))
    assert isinstance(r, Result) and r.id == 7 and r.value == 3
    r = _talk(n.address, frame(encode_message(Vector.of(Keyword("PING"), 8))))
    assert r.id == 8 and isinstance(r.value, int)
    r = _talk(n.address, frame(encode_message(Vector.of(Keyword("NOPE"), 9))))
    assert r.error == Keyword("FORMAT")
    r = _talk(n.address, frame(b"\xff\xff\xff"))
    assert r.error == Keyword("FORMAT")
    # garbage, zero and oversized lengths: the connection is dropped, the peer goes on
    for junk in (b"\x80\x01", b"\x00", b"\xff\xff\xff\xff\x7f" + b"x" * 100,
                 bytes(range(256)) * 4):
        try:
            _talk(n.address, junk, read_reply=False)
        except OSError:
            pass
    r = n.submit(tx(1, "(def d 1)"), timeout=30)
    assert r.error is None
    r = _talk(n.address, frame(encode_message(Vector.of(Keyword("PING"), 10))))
    assert r.id == 10


def test_beliefs_carry_only_novelty():
    from kernel.consensus.cpos import Belief, Order
    from kernel.state.transactions import Block
    k = genesis_signing_key(11)
    vec = "[" + " ".join(map(str, range(40))) + "]"
    blocks = [sign(k, Block.create(1000 + i, [tx(i + 1, f"(def v{i} {vec})")]))
              for i in range(33)]
    sent: set = set()
    o1 = sign(k, Order.create(1, blocks[:32]))
    first = encode_message(Belief.create({bytes(k.verify_key): o1}), sent)
    o2 = sign(k, Order.create(2, blocks))
    second = encode_message(Belief.create({bytes(k.verify_key): o2}), sent)
    # small signed blocks sit inline in the blocks vector's chunks of 16: the two full
    # chunks already sent are not sent again, only the new block and the cells above it
    assert len(second) < len(first) / 10
    cells: dict = {}
    b1 = decode_message(first, cells)
    b2 = decode_message(second, cells)          # resolves old cells from the first
    assert b2 == Belief.create({bytes(k.verify_key): o2}) and b1 is not None


# --- protocol messages ------------------------------------------------------------------------

def _request(addr, v):
    """Send one message, read one reply frame (any length) on a fresh connection."""
    from convex_repl.peer.protocol import Connection
    with socket.create_connection(addr, timeout=10) as s:
        s.sendall(frame(encode_message(v)))
        data = Connection(s, outgoing=True).read_frame()
    return None if data is None else decode_message(data, {})


def test_status_is_the_nine_element_vector(cluster3):
    from kernel.data.blobs import Blob
    n = cluster3[0]
    assert n.submit(tx(1, "(def s 1)"), timeout=30).error is None
    r = _request(n.address, Vector.of(Keyword("SR"), 5))
    v = r.value
    assert r.id == 5 and len(v) == 9
    assert v[2] == Blob(n.genesis_hash) and v[3] == Blob(bytes(n.key.verify_key))
    assert v[4] == Blob(n.state.value_id())
    assert v[5] == n.order.finality_point >= 1 and v[6] >= v[5] and v[7] >= v[6]
    assert list(v[8]) == [v[7], v[6], n.order.consensus_point, v[5]]


def test_data_request_returns_cells(cluster3):
    from kernel.data.blobs import Blob
    from kernel.data.cell import all_cells
    from kernel.consensus.cpos import Belief
    n = cluster3[0]
    assert n.submit(tx(1, "(def big " + "[" + " ".join(map(str, range(60))) + "])"),
                    timeout=30).error is None
    with n.lock:
        belief = Belief.create(dict(n.known))
    cells = [c for c in all_cells(belief) if c is not belief]   # branch cells below the top
    assert cells
    h = cells[0].value_id()
    r = _request(n.address, Vector.of(Keyword("DR"), 6, Blob(h), Blob(bytes(32))))
    assert r.id == 6 and len(r.value) == 2
    assert r.value[0].value_id() == h and r.value[1] is None


def test_challenge_proves_the_peer_key(cluster3):
    from nacl.signing import SigningKey

    from convex_repl.peer.protocol import challenge, check_response
    n = cluster3[1]
    me = SigningKey.generate()
    target = bytes(n.key.verify_key)
    ch, token = challenge(me, target, n.genesis_hash)
    r = _request(n.address, Vector.of(Keyword("CH"), 7, ch))
    mine = bytes(me.verify_key)
    assert r.error is None
    assert check_response(r, token, mine, n.genesis_hash, target) == target
    assert check_response(r, token, mine, n.genesis_hash, bytes(32)) is None
    # any key (a nil target), as the reference's peers challenge
    ch, token = challenge(me, None, n.genesis_hash)
    r = _request(n.address, Vector.of(Keyword("CH"), 9, ch))
    assert check_response(r, token, mine, n.genesis_hash) == target
    # aimed at another key, or for another network: refused
    for bad in (challenge(me, bytes(32), n.genesis_hash)[0],
                challenge(me, target, bytes(32))[0]):
        r = _request(n.address, Vector.of(Keyword("CH"), 8, bad))
        assert r.error == Keyword("TRUST")


def test_goodbye_closes_and_bad_lengths_are_refused(cluster3):
    from convex_repl.peer import protocol
    n = cluster3[2]
    with socket.create_connection(n.address, timeout=10) as s:
        s.sendall(frame(encode_message(Vector.of(Keyword("BYE")))))
        assert s.recv(10) == b""                 # the peer hung up
    with socket.create_connection(n.address, timeout=10) as s:
        from kernel.data.cell import vlq
        s.sendall(vlq(protocol.MAX_FRAME + 1))
        r = decode_message(protocol.Connection(s, outgoing=True).read_frame(), {})
        assert r.error == Keyword("FORMAT") and "at most 50000000" in str(r.value)
        assert s.recv(10) == b""                 # over the 50 MB limit: dropped at once
    assert protocol.MAX_FRAME == 50_000_000


def test_stalled_frame_is_dropped(monkeypatch):
    from convex_repl.peer import protocol
    monkeypatch.setattr(protocol, "FRAME_TIMEOUT", 0.5)
    nodes = start_cluster(1)
    try:
        with socket.create_connection(nodes[0].address, timeout=10) as s:
            s.sendall(b"\x20\x80")               # a 32-byte frame that never comes
            t0 = time.time()
            assert s.recv(10) == b""
            assert time.time() - t0 < 5
    finally:
        stop_cluster(nodes)


def test_one_outgoing_connection_each_still_agrees():
    nodes = start_cluster(4, outgoing=1)
    try:
        assert all(sum(1 for c in x.conns if c.outgoing and not c.closed) <= 1 for x in nodes)
        for i in range(1, 4):
            assert nodes[i].submit(tx(i, f"(def o {i})"), timeout=30).error is None
        wait_same_state(nodes)
    finally:
        stop_cluster(nodes)


def test_cut_off_peer_answers_network():
    nodes = start_cluster(3)
    try:
        for x in nodes[1:]:
            x.shutdown()
        end = time.time() + 10
        while not nodes[0].cut_off() and time.time() < end:
            time.sleep(0.05)
        r = nodes[0].submit(tx(1, "(def z 1)"), timeout=30)
        assert r.error == Keyword("NETWORK") and r.info_value("source") == Keyword("PEER")
        assert nodes[0].query(read("z"), 13).error == Keyword("UNDECLARED")
    finally:
        stop_cluster(nodes)


def test_new_peer_catches_up_from_a_snapshot(monkeypatch, tmp_path):
    from convex_repl.peer import cluster
    from convex_repl.peer.store import Store
    monkeypatch.setattr(cluster, "SNAPSHOT_MIN", 3)
    g = cluster_genesis(4)
    nodes = [ClusterPeer(i, g) for i in range(3)]
    for x in nodes:
        x.start_network([y.address for y in nodes])
    wait_connected(nodes)
    try:
        sent = [tx(i, f"(def s {i})") for i in range(1, 6)]
        for i, t in enumerate(sent):
            assert nodes[i % 3].submit(t, timeout=30).error is None
        wait_same_state(nodes)
        late = ClusterPeer(3, g, store=Store(str(tmp_path / "late.db")))
        late.start_network([y.address for y in nodes])
        nodes.append(late)
        h = wait_same_state(nodes, 30)
        assert late.snapshots == 1 and late.query(read("s"), 13).value == 5
        assert late.store.head()[1] == h
        # it knows where the transactions of the blocks it skipped are
        for t in sent:
            assert late.tx_location(t.value_id()) == nodes[0].tx_location(t.value_id()) != None
        # it goes on confirming from there like any other peer
        assert late.submit(tx(6, "(def s 6)"), timeout=30).error is None
        wait_same_state(nodes)
        assert len(late.blocks(0, 1000)) == late.applied
    finally:
        stop_cluster(nodes)


def test_forgotten_cells_are_fetched_with_data_request(monkeypatch):
    from convex_repl.peer import protocol_peer
    monkeypatch.setattr(protocol_peer, "MAX_CELLS", 0)     # every message starts from nothing
    nodes = start_cluster(3)
    try:
        for i in range(1, 4):
            big = "[" + " ".join(str(i * 1000 + j) for j in range(50)) + "]"
            assert nodes[i % 3].submit(tx(i, f"(def m {big})"), timeout=30).error is None
        wait_same_state(nodes)
        assert all(len(n.query(read("m"), 13).value) == 50 for n in nodes)
    finally:
        stop_cluster(nodes)


def test_too_many_waiting_transactions_get_load(monkeypatch):
    from convex_repl.peer import protocol_peer
    from convex_repl.peer.protocol import Connection
    from convex_repl.peer import cluster
    monkeypatch.setattr(protocol_peer, "MAX_WAITING_TX", 1)
    monkeypatch.setattr(cluster, "BLOCK_INTERVAL", 2.0)
    nodes = start_cluster(1)
    try:
        # the first transaction holds the only slot ~2 s (its block waits BLOCK_INTERVAL),
        # however slowly a loaded machine gets to the second
        nodes[0]._last_block = time.perf_counter()
        msgs = [Vector.of(Keyword("TX"), i, tx(i, f"(def w {i})")) for i in (1, 2)]
        with socket.create_connection(nodes[0].address, timeout=10) as s:
            s.sendall(b"".join(frame(encode_message(m)) for m in msgs))
            c = Connection(s, outgoing=True)
            replies = {r.id: r for r in (decode_message(c.read_frame(), {}) for _ in msgs)}
        assert replies[1].error is None
        assert replies[2].error == Keyword("LOAD")
    finally:
        stop_cluster(nodes)


def test_a_stored_peer_keeps_its_belief(tmp_path):
    from convex_repl.peer.store import Store
    g = cluster_genesis(3)
    nodes = [ClusterPeer(i, g, store=Store(str(tmp_path / "p0.db")) if i == 0 else None)
             for i in range(3)]
    for x in nodes:
        x.start_network([y.address for y in nodes])
    wait_connected(nodes)
    try:
        assert nodes[1].submit(tx(1, "(def kept 1)"), timeout=30).error is None
        h = wait_same_state(nodes)
    finally:
        stop_cluster(nodes)
    last = nodes[0].progress
    nodes[0].store.close()
    again = ClusterPeer(0, g, store=Store(str(tmp_path / "p0.db")))
    try:
        assert again.state.value_id() == h and again.applied >= 1
        assert len(again.known) == 3 and again.order.finality_point == again.applied
        assert again.query(read("kept"), 13).value == 1
        # it starts in the round after the one it last sent, its lock kept, and has saved
        # that before sending anything
        assert again.order.round == last.order.round + 1 and again.progress.lock == last.lock
        signed, lock = again.store.get(again.store.meta("consensus"))
        assert signed.value == again.order and lock == last.lock
    finally:
        again.server.close()
        again.store.close()


def test_a_signed_order_alone_is_a_belief(cluster3):
    from kernel.consensus.cpos import Order
    n = cluster3[0]
    other = cluster3[1]
    o = other.order
    newer = Order.create(o.timestamp + 1000, o.blocks, o.proposal_point, o.consensus_point,
                         o.finality_point, o.round)
    so = sign(other.key, newer)
    with socket.create_connection(n.address, timeout=10) as s:
        s.sendall(frame(encode_message(so)))
        end = time.time() + 10
        while n.known.get(other.own) != so and time.time() < end:
            time.sleep(0.02)
    assert n.known.get(other.own) == so or n.known[other.own].value.timestamp > newer.timestamp


def test_data_of_another_network_is_refused(tmp_path):
    from convex_repl.peer.peer import Peer
    from convex_repl.peer.store import Store
    single = Store(str(tmp_path / "single.db"))
    Peer(store=single)
    single.close()
    with pytest.raises(ValueError, match="another network"):
        ClusterPeer(0, cluster_genesis(2), store=Store(str(tmp_path / "single.db")))
    clustered = Store(str(tmp_path / "cluster.db"))
    ClusterPeer(0, cluster_genesis(2), store=clustered).server.close()
    clustered.close()
    for other in (lambda s: Peer(store=s), lambda s: ClusterPeer(1, cluster_genesis(3), store=s)):
        with pytest.raises(ValueError, match="another network"):
            other(Store(str(tmp_path / "cluster.db")))


def test_a_peer_contradicted_by_the_stake_halts_and_says_so():
    # the other three peers (their keys are public in a local cluster) sign orders that
    # precommit a block in place of what peer 0 finalised: it must stop, not follow them
    from kernel.consensus.cpos import Belief, Order
    from kernel.state.transactions import Block
    nodes = start_cluster(4)
    try:
        n = nodes[0]
        assert n.submit(tx(1, "(def h 1)"), timeout=30).error is None
        for x in nodes[1:]:
            x.shutdown()
        final = n.order.finality_point
        assert final >= 1
        forged = sign(cluster_key(1), Block.create(n.order.timestamp, []))
        blocks = [forged] + list(n.order.blocks)
        belief = {}
        for i in (1, 2, 3):
            o = Order.create(n.order.timestamp + 100, blocks, len(blocks), len(blocks), 0,
                             n.order.round)
            belief[bytes(cluster_key(i).verify_key)] = sign(cluster_key(i), o)
        with socket.create_connection(n.address, timeout=10) as s:
            s.sendall(frame(encode_message(Belief.create(belief))))
            end = time.time() + 10
            while n.halted is None and time.time() < end:
                time.sleep(0.05)
        assert n.halted is not None and "conflict" in n.halted
        st = n.status()
        assert st["halted"] == n.halted and st["consensus"] is False
        assert st["consensus-point"] == final          # nothing more was confirmed
        r = n.submit(tx(2, "(def h 2)"), timeout=30)
        assert r.error == Keyword("NETWORK") and "halted" in str(r.value)
        assert n.query(read("h"), 13).value == 1
    finally:
        stop_cluster(nodes)


def test_voting_weights_follow_confirmed_stake_changes():
    """Issue 15: the peers weigh orders with the stakes of their consensus state, so a key
    staked with create-peer starts counting everywhere once confirmed, and stops counting
    when its stake is withdrawn (rewards left in its record don't count)."""
    nodes = start_cluster(3)
    key = "0x" + bytes(range(32)).hex()
    k = bytes(range(32))
    try:
        base = nodes[0].total_stake
        r = nodes[0].run_as_faucet(read(f"(create-peer {key} 1000000000)"))
        assert r.error is None, r
        end = time.monotonic() + 10
        while time.monotonic() < end and not all(k in n.stakes for n in nodes):
            time.sleep(0.05)
        assert all(n.stakes.get(k) == 1_000_000_000 for n in nodes)
        assert all(n.status()["peers"] == 4 for n in nodes)
        assert nodes[1].total_stake >= base + 1_000_000_000
        r = nodes[1].run_as_faucet(read("(+ 1 2)"))        # 3 of 4 peers still confirm
        assert r.value == 3
        r = nodes[0].run_as_faucet(read(f"(set-peer-stake {key} 0)"))
        assert r.error is None, r
        end = time.monotonic() + 10
        while time.monotonic() < end and any(k in n.stakes for n in nodes):
            time.sleep(0.05)
        assert not any(k in n.stakes for n in nodes)
        assert all(n.status()["peers"] == 3 for n in nodes)
    finally:
        stop_cluster(nodes)
