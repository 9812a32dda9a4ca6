"""CHALLENGE as the reference does it (Message.signChallenge / answerChallenge /
verifyChallengeResponse, ConnectionManager.processChallenge, AConvexConnected's client
handler), over real sockets: [:CH id Signed([token target context?])] with a nil target
means any key; the answer is Signed([token challenger context?]) by the one challenged; a
client connection answers the challenges a peer sends it, with its own key."""
from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from nacl.signing import SigningKey

from kernel.data.blobs import Blob, String
from kernel.data.cell import read_vlq
from kernel.data.records import Signed
from kernel.data.scalars import Keyword
from kernel.data.vectors import Vector
from kernel.state.transactions import Result, sign, verify
from lisp.reader import read

from convex_repl.peer.protocol import (Client, Connection, check_response, decode_message,
                                       encode_message, frame)
from convex_repl.peer.protocol_peer import ProtocolPeer

K = Keyword


@pytest.fixture(scope="module")
def peer():
    p = ProtocolPeer("127.0.0.1", 0).start_protocol()
    yield p
    p.shutdown()


def ask(address, msg, timeout=10):
    """Send one message on a new connection and read the one frame that comes back."""
    with socket.create_connection(address, timeout=timeout) as s:
        s.sendall(frame(encode_message(msg)))
        return decode_message(Connection(s, outgoing=True).read_frame(), {})


def java_challenge(key, token, target=None, context=None):
    """[:CH id Signed(...)] as the reference's Message.createChallenge(signChallenge(...))
    builds it: [token target] or [token target context], target nil for any key."""
    v = Vector.of(token, target) if context is None else Vector.of(token, target, context)
    return sign(key, v)


def test_nil_target_challenge_is_answered(peer):
    me = SigningKey.generate()
    mine = Blob(bytes(me.verify_key))
    network = Blob(peer.genesis_hash)
    token = Blob(os.urandom(32))
    r = ask(peer.address, Vector.of(K("CH"), 7, java_challenge(me, token, None, network)))
    assert type(r) is Result and r.id == 7 and r.error is None
    resp = r.value
    assert type(resp) is Signed and verify(resp)
    assert resp.public_key == bytes(peer.key.verify_key)            # the peer's own key
    assert list(resp.value) == [token, mine, network]                # the context echoed
    assert check_response(r, token, mine.data, network) == resp.public_key
    # aimed at the peer's key, and without a context: [token challenger]
    r = ask(peer.address, Vector.of(K("CH"), 8, java_challenge(me, token, peer.peer_key)))
    assert r.id == 8 and list(r.value.value) == [token, mine] and verify(r.value)
    assert check_response(r, token, mine.data) == bytes(peer.key.verify_key)
    # the checks of verifyChallengeResponse: token, our key, the context, exactly
    assert check_response(r, Blob(os.urandom(32)), mine.data) is None
    assert check_response(r, token, bytes(32)) is None
    assert check_response(r, token, mine.data, network) is None
    assert check_response(r, token, mine.data, expected=bytes(32)) is None


def test_what_the_peer_refuses(peer):
    me = SigningKey.generate()
    token = Blob(os.urandom(32))
    network = Blob(peer.genesis_hash)
    bad_sig = Signed(bytes(me.verify_key), bytes(64), Vector.of(token, None))
    elements = "Invalid challenge elements"
    cases = [
        (java_challenge(me, token, Blob(bytes(32))), "TRUST", "Wrong target key"),
        (java_challenge(me, token, None, Blob(bytes(32))), "TRUST", "Context mismatch"),
        (java_challenge(me, Blob(os.urandom(16)), None), "FORMAT", elements),
        (java_challenge(me, token, None, network).value, "FORMAT", "Missing signed data"),
        (sign(me, Vector.of(token)), "FORMAT", elements),
        (sign(me, Vector.of(token, None, network, 1)), "FORMAT", elements),
        (sign(me, token), "FORMAT", "Invalid challenge data"),
        (bad_sig, "TRUST", "Invalid challenge signature"),
    ]
    for i, (signed, code, message) in enumerate(cases):
        r = ask(peer.address, Vector.of(K("CH"), 20 + i, signed))
        assert (r.id, r.error, r.value) == (20 + i, K(code), String.of(message)), (i, r)
    r = ask(peer.address, Vector.of(K("CH"), 30))
    assert (r.id, r.error, r.value) == (30, K("FORMAT"), String.of("Invalid challenge format"))
    # a context that is not a 32-byte value is no network ID: answered, and echoed
    r = ask(peer.address, Vector.of(K("CH"), 31,
                                    java_challenge(me, token, None, String.of("lattice"))))
    assert r.error is None and r.value.value[2] == String.of("lattice")


class FakePeer:
    """A listening socket standing for a peer: it sends frames to the client and reads
    what comes back."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(1)
        self.address = self.server.getsockname()
        self.key = SigningKey.generate()
        self.sock = None
        self._accepted = threading.Thread(target=self._accept, daemon=True)
        self._accepted.start()

    def _accept(self):
        self.sock, _ = self.server.accept()

    def connected(self):
        self._accepted.join(10)
        return self.sock

    def send(self, v):
        self.sock.sendall(frame(encode_message(v)))

    def receive(self, timeout=10):
        """The next message from the client; None if none comes within `timeout`."""
        self.sock.settimeout(timeout)
        try:
            hdr = b""
            while not hdr or hdr[-1] & 0x80:
                b = self.sock.recv(1)
                if not b:
                    return None
                hdr += b
            n, _ = read_vlq(hdr, 0)
            data = b""
            while len(data) < n:
                more = self.sock.recv(n - len(data))
                if not more:
                    return None
                data += more
        except TimeoutError:
            return None
        return decode_message(data, {})

    def close(self):
        for s in (self.sock, self.server):
            if s is not None:
                s.close()


def test_client_answers_a_challenge():
    fake = FakePeer()
    me = SigningKey.generate()
    client = Client(fake.address, me)
    try:
        assert fake.connected() is not None
        token = Blob(os.urandom(32))
        network = Blob(os.urandom(32))
        # as the reference's InboundVerifier: any key, the network ID as the context
        fake.send(Vector.of(K("CH"), 41, java_challenge(fake.key, token, None, network)))
        r = fake.receive()
        assert type(r) is Result and r.id == 41 and r.error is None
        assert r.value.public_key == bytes(me.verify_key) and verify(r.value)
        assert list(r.value.value) == [token, Blob(bytes(fake.key.verify_key)), network]
        assert check_response(r, token, bytes(fake.key.verify_key), network) == bytes(
            me.verify_key)
        assert client.challenges_answered == 1
        # aimed at another key: answered with the refusal, as the reference's client does
        fake.send(Vector.of(K("CH"), 42, java_challenge(fake.key, token, Blob(bytes(32)))))
        r = fake.receive()
        assert r.id == 42 and r.error == K("TRUST")
        # requests still get their own Results, a challenge coming in between
        out: dict = {}
        t = threading.Thread(target=lambda: out.update(r=client.query(read("(+ 1 2)"))))
        t.start()
        q = fake.receive()
        assert q[0] == K("Q") and type(q[1]) is int
        fake.send(Vector.of(K("CH"), 43, java_challenge(fake.key, token, None)))
        fake.send(Result.create(q[1], 3))
        t.join(10)
        assert out["r"].value == 3 and out["r"].id == q[1]
        r = fake.receive()
        assert r.id == 43 and list(r.value.value) == [token, Blob(bytes(fake.key.verify_key))]
    finally:
        client.close()
        fake.close()


def test_client_without_a_key_leaves_challenges_unanswered():
    fake = FakePeer()
    client = Client(fake.address)
    try:
        assert fake.connected() is not None
        token = Blob(os.urandom(32))
        fake.send(Vector.of(K("CH"), 1, java_challenge(fake.key, token, None)))
        assert fake.receive(timeout=1) is None and not client.conn.closed
        assert client.challenges_answered == 0
    finally:
        client.close()
        fake.close()


def test_client_and_cluster_peer_prove_their_keys_to_each_other():
    """Our client challenges a cluster peer (verify_peer, as Convex.verifyPeer); the peer
    challenges it back (as Server.processChallenge starts its InboundVerifier), and the
    client answers with its key: a key with no stake stays an untrusted client."""
    from convex_repl.peer.cluster import start_cluster, stop_cluster
    nodes = start_cluster(1)
    me = SigningKey.generate()
    try:
        n = nodes[0]
        with Client(n.address, me) as c:
            assert c.verify_peer(None, n.genesis_hash) == bytes(n.key.verify_key)
            assert c.verify_peer(bytes(n.key.verify_key), n.genesis_hash) is not None
            assert c.verify_peer(bytes(32), n.genesis_hash) is None       # :TRUST
            end = time.monotonic() + 10
            while c.challenges_answered == 0 and time.monotonic() < end:
                time.sleep(0.05)
            assert c.challenges_answered >= 1
            assert c.status().value[3] == Blob(bytes(n.key.verify_key))
            assert c.query(read("(+ 2 3)")).value == 5
            incoming = [x for x in n.conns if not x.outgoing and not x.closed]
            assert incoming and not any(x.wants_beliefs for x in incoming)
    finally:
        stop_cluster(nodes)
