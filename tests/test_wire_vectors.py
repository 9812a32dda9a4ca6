"""Wire vectors: binary-protocol messages byte for byte as a Java client or peer sends them.

Each expected message is assembled here from the rules of shared/spec/peer-protocol.md alone
(tags, VLQ counts, lists in reverse order, Ed25519 over the value's ref, and the embedding rule:
a child is written inline exactly when its encoding is at most 140 bytes, else as 0x20 + its
SHA3-256, and travels as a child cell of the message). Then both directions are checked: our
decoder reads their bytes to the value we would build, and our encoder writes the same bytes.
"""
from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys

from nacl.signing import SigningKey

from convex_repl.peer.protocol import decode_message, encode_message, frame
from kernel import (Address, Blob, Index, Keyword, String, Vector, decode, encode, equals,
                    value_id)
from kernel.consensus.cpos import Belief, Order
from kernel.data.cell import read_vlq
from kernel.state.transactions import Block, Invoke, Result, sign
from kernel.transition.ledger import genesis_signing_key
from lisp import read

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEED = bytes(range(32))          # a fixed key: Ed25519 signatures are deterministic


# --- the rules, written out independently of our encoder -------------------------------------

def vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def long_(n: int) -> bytes:
    size = 0 if n == 0 else 1
    while size and not -(1 << (8 * size - 1)) <= n < 1 << (8 * size - 1):
        size += 1
    return bytes([0x10 + size]) + n.to_bytes(size, "big", signed=True)


def keyword(name: str) -> bytes:
    return b"\x33" + bytes([len(name)]) + name.encode()


def symbol(name: str) -> bytes:
    return b"\x32" + bytes([len(name)]) + name.encode()


def address(n: int) -> bytes:
    return b"\xea" + vlq(n)


def blob(data: bytes) -> bytes:
    return b"\x31" + vlq(len(data)) + data


def string(text: str) -> bytes:
    return b"\x30" + vlq(len(text.encode())) + text.encode()


def ref(enc: bytes) -> bytes:
    return enc if len(enc) <= 140 else b"\x20" + hashlib.sha3_256(enc).digest()


def vector(*items: bytes) -> bytes:
    assert len(items) <= 16
    return b"\x80" + vlq(len(items)) + b"".join(ref(x) for x in items)


def list_(*items: bytes) -> bytes:
    return b"\x81" + vlq(len(items)) + b"".join(ref(x) for x in reversed(items))


def record(tag: int, *fields: bytes) -> bytes:
    return bytes([tag]) + vlq(len(fields)) + b"".join(ref(x) for x in fields)


def signed(seed: bytes, value: bytes) -> bytes:
    key = SigningKey(seed)
    return b"\x90" + bytes(key.verify_key) + key.sign(ref(value)).signature + ref(value)


def message(top: bytes, *children: bytes) -> bytes:
    return top + b"".join(vlq(len(c)) + c for c in children)


def split(msg: bytes) -> tuple:
    """(top cell, set of child cells) of a message: children may come in any order."""
    top_len = len(encode(decode_top(msg)))
    pos, children = top_len, set()
    while pos < len(msg):
        n, pos = read_vlq(msg, pos)
        children.add(msg[pos:pos + n])
        pos += n
    return msg[:top_len], children


def decode_top(msg: bytes):
    return decode_message(msg, {})


def both_ways(expected: bytes, value) -> None:
    """Our encoder writes exactly `expected`; our decoder reads it back to `value`."""
    ours = encode_message(value)
    assert split(ours) == split(expected)
    if len(split(expected)[1]) <= 1:
        assert ours == expected
    assert equals(decode_message(expected, {}), value)


# --- the messages ------------------------------------------------------------------------------

def invoke_bytes(origin: int, seq: int, command: bytes) -> bytes:
    return record(0xD0, address(origin), long_(seq), command)


def test_query_is_the_spec_example():
    expected = bytes.fromhex("8004" "330151" "1101" "8103" "1102" "1101" "32012b" "ea0c")
    assert vector(keyword("Q"), long_(1), list_(symbol("+"), long_(1), long_(2)),
                  address(12)) == expected
    both_ways(expected, Vector.of(Keyword("Q"), 1, read("(+ 1 2)"), Address(12)))


def test_small_transaction_travels_inline_in_one_cell():
    """(* 2 3) from #12: a 15-byte Invoke, so the SignedData is 112 bytes and sits inside the
    [:TX] vector: the whole message is one cell (what a Java client sends)."""
    tx = invoke_bytes(12, 14, list_(symbol("*"), long_(2), long_(3)))
    assert tx == bytes.fromhex("d003ea0c110e8103110311023201" "2a")
    assert value_id(decode(tx)).hex() == ("32edd944831f14a95e57008d8f7127b5"
                                         "61a880f0cd38d77e4bf681ab8f3438a9")
    sd = signed(SEED, tx)
    assert len(sd) == 112
    expected = message(vector(keyword("TX"), long_(1), sd))
    assert split(expected)[1] == set()
    ours = sign(SigningKey(SEED), Invoke.create(12, 14, read("(* 2 3)")))
    both_ways(expected, Vector.of(Keyword("TX"), 1, ours))


def test_medium_transaction_sends_its_signed_data_as_a_child_cell():
    """A 68-byte Invoke stays inside its SignedData, which at 165 bytes is a branch."""
    text = "x" * 60
    tx = invoke_bytes(12, 2, string(text))
    sd = signed(SEED, tx)
    assert len(tx) <= 140 < len(sd)
    expected = message(vector(keyword("TX"), long_(2), sd), sd)
    ours = sign(SigningKey(SEED), Invoke.create(12, 2, String(text.encode())))
    both_ways(expected, Vector.of(Keyword("TX"), 2, ours))


def test_large_transaction_signs_the_ref_and_sends_the_big_parts_as_children():
    """A 300-byte string is a branch of the Invoke: the signature covers the Invoke's own
    (now small) encoding, and the string travels as a child cell."""
    text = "y" * 300
    tx = invoke_bytes(12, 3, string(text))
    sd = signed(SEED, tx)
    expected = message(vector(keyword("TX"), long_(3), sd), string(text))
    ours = sign(SigningKey(SEED), Invoke.create(12, 3, String(text.encode())))
    both_ways(expected, Vector.of(Keyword("TX"), 3, ours))


def test_data_request_reply_attaches_the_requested_cells():
    big, small = bytes(range(200)), b"tiny"
    top = record(0xDD, long_(5), vector(blob(big), blob(small)), b"\x00", b"\x00", b"\x00")
    expected = message(top, blob(big))
    both_ways(expected, Result.create(5, Vector.of(Blob(big), Blob(small))))


def test_challenge_with_any_target_key():
    """[:CH id Signed([token nil context])]: nil target = any key; 152 bytes, so a child."""
    token, network = bytes(range(16)), bytes(32)
    sd = signed(SEED, vector(blob(token), b"\x00", blob(network)))
    expected = message(vector(keyword("CH"), long_(7), sd), sd)
    ours = sign(SigningKey(SEED), Vector.of(Blob(token), None, Blob(network)))
    both_ways(expected, Vector.of(Keyword("CH"), 7, ours))


def test_block_of_small_signed_transactions():
    """Block = 0xd6 [timestamp transactions]; its small signed transactions are inline in the
    transactions vector, which is a branch; the peer's SignedData<Block> is the top cell."""
    txs = [signed(SEED, invoke_bytes(12, i, long_(i))) for i in (1, 2)]
    block = record(0xD6, long_(1_700_000_000_000), vector(*txs))
    top = signed(bytes(32), block)
    expected = message(top, vector(*txs))
    ours_txs = [sign(SigningKey(SEED), Invoke.create(12, i, i)) for i in (1, 2)]
    ours = sign(SigningKey(bytes(32)), Block.create(1_700_000_000_000, Vector.from_seq(ours_txs)))
    both_ways(expected, ours)
    assert value_id(ours) == hashlib.sha3_256(top).digest()


def test_belief_holds_small_signed_orders_inline():
    """A Belief maps peer keys to signed Orders (an Index): a small signed Order (an empty
    one) is inline in the Index cell, a bigger one is referred to by hash and sent as a child."""
    key = SigningKey(bytes(32))
    empty = sign(key, Order.create(1))
    blocks = [sign(key, Block.create(i, Vector.of())) for i in range(3)]
    full = sign(key, Order.create(2, blocks))
    for order in (empty, full):
        orders = Index.EMPTY.assoc(Blob(bytes(key.verify_key)), order)
        b = Belief.create(orders)
        enc, sd = encode(orders), encode(order)
        if len(sd) <= 140:
            assert sd in enc
        else:
            assert b"\x20" + value_id(order) in enc and sd not in enc
            assert sd in split(encode_message(b))[1]
        assert equals(decode_message(encode_message(b), {}), b)


def test_a_peer_applies_a_transaction_sent_inline_as_java_sends_it(tmp_path):
    """The acceptance case: [:TX id <inline SignedData>] over TCP is applied by our peer."""
    cmd = [sys.executable, "-m", "convex_repl", "peer", "start", "--port", "0", "--json",
           "--protocol-port", "0"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT), cwd=ROOT)
    try:
        info = json.loads(p.stdout.readline())
        host, port = info["protocol"].rsplit(":", 1)
        seed = bytes(genesis_signing_key(13))
        tx = invoke_bytes(13, 1, list_(symbol("def"), symbol("inline"), long_(42)))
        msg = message(vector(keyword("TX"), long_(9), signed(seed, tx)))
        assert split(msg)[1] == set()                       # one cell: the SignedData inline
        with socket.create_connection((host, int(port)), timeout=30) as s:
            s.sendall(frame(msg))
            from convex_repl.peer.protocol import Connection
            reply = decode_message(Connection(s, outgoing=True).read_frame(), {})
        assert reply.id == 9 and reply.error is None and reply.value == 42
    finally:
        p.kill()
        p.wait(10)


def test_the_rest_client_posts_the_canonical_encoding(monkeypatch):
    """`convex eval/deploy --url` sign with Remote.transact: the body it posts is the rule's
    own bytes for the signed transaction (one cell when small)."""
    from convex_repl.client.remote import Remote

    remote = Remote("http://127.0.0.1:9")
    posted = {}

    def fake_request(method, path, body=None, raw=None, ctype=None):
        posted["raw"] = raw
        raise RuntimeError("stop here")

    monkeypatch.setattr(remote, "account", lambda n: {"sequence": 4, "key": None})
    monkeypatch.setattr(remote, "request", fake_request)
    try:
        remote.transact("(* 2 3)", 12, SigningKey(SEED))
    except RuntimeError:
        pass
    expected = signed(SEED, invoke_bytes(12, 5, list_(symbol("*"), long_(2), long_(3))))
    assert posted["raw"] == message(expected)
