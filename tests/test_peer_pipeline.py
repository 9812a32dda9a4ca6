"""The local peer's transaction pipeline: signatures checked once per peer (a cache of the
verified ones that can never accept a bad signature), the memory meter carried across
blocks, the producer's queue (stop, status, blocks as big as what is queued), and results
identical to the state transition's own."""
from __future__ import annotations

import threading
import time

import pytest
from nacl.signing import SigningKey

from convex_repl.peer.peer import Peer
from convex_repl.peer.tickets import Ticket
from kernel import Signed, encode
from kernel.state import transactions as T
from kernel.transition.ledger import genesis_signing_key
from kernel.state.transactions import (Block, Invoke, Transfer, clear_verified_cache, is_verified,
                                       sign, verify)
from kernel.transition import apply_block, apply_block_outcomes, apply_signed
from lisp import read
from stdlib.genesis import FIRST_USER

USER = FIRST_USER
KEY = genesis_signing_key(USER)
K = __import__("kernel").Keyword


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_verified_cache()
    yield
    clear_verified_cache()


def _flip(b: bytes, i: int = 0) -> bytes:
    return b[:i] + bytes([b[i] ^ 1]) + b[i + 1:]


# --- the verified-signature cache -----------------------------------------------------------

def test_a_valid_signature_is_remembered():
    s = sign(KEY, Transfer.create(USER, 1, 12, 5))
    assert not is_verified(s)
    assert verify(s)
    assert is_verified(s)
    assert verify(s)
    assert verify(s, KEY.verify_key.encode())
    assert not verify(s, bytes(32))          # a key check still applies to a cached one


def test_bad_signatures_are_rejected_after_the_good_one_was_verified():
    tx = Transfer.create(USER, 1, 12, 5)
    good = sign(KEY, tx)
    assert verify(good)
    bad_sig = Signed(good.public_key, _flip(good.signature, 10), tx)
    other_value = Signed(good.public_key, good.signature, Transfer.create(USER, 1, 12, 6))
    other_key = Signed(SigningKey.generate().verify_key.encode(), good.signature, tx)
    for s in (bad_sig, other_value, other_key):
        assert not verify(s)
        assert not is_verified(s)
        assert not verify(s)                 # and not remembered as checked
    assert verify(good)


def test_a_tampered_value_is_rejected_when_applied():
    tx = Invoke.create(USER, 1, read("(def x 1)"))
    good = sign(KEY, tx)
    assert verify(good)
    s = Peer().state
    forged = Signed(good.public_key, good.signature, Invoke.create(USER, 1, read("(def x 2)")))
    o = apply_signed(s, forged)
    assert o.error == K("SIGNATURE")
    assert o.state is s
    assert apply_signed(s, good).error is None


def test_the_peer_refuses_a_forgery_of_a_submitted_transaction():
    peer = Peer()
    tx = Transfer.create(USER, 1, 12, 5)
    good = sign(KEY, tx)
    assert peer.submit(good).error is None
    forged = Signed(good.public_key, good.signature, Transfer.create(USER, 2, 12, 10**9))
    r = peer.submit(forged)
    assert r.error == K("SIGNATURE") and r.info_value("source") == K("PEER")
    replay_bad = Signed(good.public_key, _flip(good.signature, 63),
                        Transfer.create(USER, 2, 12, 5))
    assert peer.submit(replay_bad).error == K("SIGNATURE")
    assert peer.sequence(USER) == 1


def test_a_forged_transaction_in_a_block_fails_its_signature_check():
    """A block built by someone else (not pre-checked) with a forgery of a verified one."""
    peer = Peer()
    good = sign(KEY, Transfer.create(USER, 1, 12, 5))
    assert peer.precheck(good) is None
    forged = Signed(good.public_key, good.signature, Transfer.create(USER, 1, 12, 10**9))
    txs = [forged] * 70 + [good]             # big enough for the parallel checks as well
    new, outcomes = apply_block_outcomes(peer.state, Block.create(peer.state.timestamp, txs))
    assert all(o.error == K("SIGNATURE") for o in outcomes[:70])
    assert outcomes[70].error is None


def test_the_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(T, "VERIFIED_CACHE_SIZE", 10)
    signed = [sign(KEY, Transfer.create(USER, i, 12, 1)) for i in range(1, 31)]
    assert all(verify(s) for s in signed)
    assert len(T._verified) <= 11
    assert is_verified(signed[-1]) and not is_verified(signed[0])
    assert verify(signed[0])                 # checked again, and still valid


# --- the peer's blocks and results ----------------------------------------------------------

def _accounts(peer: Peer, n: int) -> list:
    out = []
    for i in range(n):
        k = SigningKey(bytes([i + 1]) * 32)
        r = peer.run_as_faucet(read(f"(let [a (create-account 0x{k.verify_key.encode().hex()})]"
                                    " (transfer a 1000000000) a)"))
        out.append((k, r.value.n))
    return out


def _mixed_batches(accounts: list, blocks: int = 12) -> list:
    seq = {a: 0 for _, a in accounts}
    batches = []
    for b in range(blocks):
        batch = []
        for j in range(1 + b % 5):
            k, a = accounts[(b + j) % len(accounts)]
            seq[a] += 1
            kind = (b * 7 + j) % 4
            if kind == 0:
                tx = Transfer.create(a, seq[a], 13, 1 + b)
            elif kind == 1:
                tx = Invoke.create(a, seq[a], read(f"(def v{j} [{' '.join(map(str, range(b * 9)))}])"))
            elif kind == 2:
                tx = Invoke.create(a, seq[a], read("(fail :NOPE \"no\")"))
            else:
                tx = Invoke.create(a, seq[a], read(f"(undef v{j})"))
            batch.append(sign(k, tx))
        batches.append(batch)
    return batches


def _clock():
    t = [1_700_000_000_000]

    def now():
        t[0] += 1000
        return t[0]
    return now


def _run(limit: int, monkeypatch) -> tuple:
    monkeypatch.setattr(Peer, "METER_LIMIT", limit)
    peer = Peer(clock=_clock())
    batches = _mixed_batches(_accounts(peer, 3))
    results = []
    for batch in batches:
        ps = [Ticket(signed=s) for s in batch]
        peer._apply(ps)
        results.append([encode(p.result) for p in ps])
    return results, peer.state.value_id()


def test_results_do_not_depend_on_the_carried_meter(monkeypatch):
    fresh = _run(0, monkeypatch)             # a new meter for every block
    assert _run(300, monkeypatch) == fresh
    assert _run(10**9, monkeypatch) == fresh


def test_peer_results_are_the_state_transitions_with_tx_and_loc():
    peer = Peer(clock=_clock())
    batches = _mixed_batches(_accounts(peer, 3), blocks=6)
    for batch in batches:
        state, n, ts = peer.state, peer.block_count, peer.clock() + 1
        peer.clock = lambda ts=ts: ts
        ps = [Ticket(signed=s) for s in batch]
        peer._apply(ps)
        br = apply_block(state, Block.create(ts, batch), peer.peer_key)
        assert br.state.value_id() == peer.state.value_id()
        for i, (p, r) in enumerate(zip(ps, br.results)):
            info = r.info.assoc(K("tx"), T.Blob(batch[i].value_id()))
            info = info.assoc(K("loc"), T.Vector.of(n, i))
            assert encode(p.result) == encode(r._with(4, info)._with(0, None))


# --- the producer's queue -------------------------------------------------------------------

def _until(cond, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_stop_runs_what_is_queued_then_refuses():
    peer = Peer(max_block=2)
    gate = threading.Event()
    sizes = []
    original = peer._apply

    def held(batch):
        sizes.append(len(batch))
        gate.wait(10)
        original(batch)
    peer._apply = held
    peer.start()
    results = [None] * 5

    def submit(i):
        results[i] = peer.submit(sign(KEY, Transfer.create(USER, i + 1, 12, 1)))
    threads = []
    for i in range(5):                       # queued in sequence order behind the gate
        threads.append(threading.Thread(target=submit, args=(i,)))
        threads[-1].start()
        if i == 0:                           # the producer took it and is held
            _until(lambda: sizes == [1])
        else:
            _until(lambda: peer.status()["pending"] == i)
    stopper = threading.Thread(target=peer.stop)
    stopper.start()
    _until(lambda: peer._stopping)
    late = peer.submit(sign(KEY, Transfer.create(USER, 6, 12, 1)))
    assert late.error == K("LOAD")
    gate.set()
    stopper.join(10)
    for t in threads:
        t.join(10)
    assert [r.error for r in results] == [None] * 5
    assert sizes == [1, 2, 2] and peer.status()["pending"] == 0
    assert peer._thread is None and peer.sequence(USER) == 5


def test_a_started_peer_takes_what_is_queued_as_one_block():
    peer = Peer()
    signed = [sign(KEY, Transfer.create(USER, i, 12, 1)) for i in range(1, 9)]
    ps = [Ticket(signed=s) for s in signed]
    for p in ps:
        peer._queue.put(p)
    assert peer.status()["pending"] == 8
    peer.start()
    for p in ps:
        assert p.wait(10).error is None
    peer.stop()
    assert [p.result.error for p in ps] == [None] * 8
    assert {tuple(p.result.info_value("loc")) for p in ps} == {(0, i) for i in range(8)}
    assert peer.blocks()[-1]["transactionCount"] == 8


def test_restarting_a_stopped_peer_ends_at_once():
    peer = Peer().start()
    peer.stop()
    peer.start()
    peer._thread.join(5)
    assert not peer._thread.is_alive()
    assert peer.submit(sign(KEY, Transfer.create(USER, 1, 12, 1))).error == K("LOAD")


def test_subclasses_may_wrap_make_blocks():
    """A subclass (the cluster peer) may delay _make_blocks: what arrives meanwhile joins
    the block the producer started."""
    calls = []

    class Slow(Peer):
        def _make_blocks(self):
            calls.append(self._queue.qsize())
            super()._make_blocks()
    peer = Slow().start()
    try:
        r = peer.submit(sign(KEY, Transfer.create(USER, 1, 12, 1)))
        assert r.error is None and calls
    finally:
        peer.stop()


# --- transactions in flight -------------------------------------------------------------------

def test_submit_nowait_keeps_many_in_flight():
    peer = Peer().start()
    try:
        tickets = [peer.submit_nowait(sign(KEY, Invoke.create(USER, i, read(f"(def t {i})"))))
                   for i in range(1, 41)]
        bad = peer.submit_nowait(sign(KEY, Invoke.create(99999, 1, read("(def t 0)"))))
        assert bad.answered and bad.wait().error == K("NOBODY")     # at once
        results = [t.wait(30) for t in tickets]
        assert [r.error for r in results] == [None] * 40
        assert [r.value for r in results] == list(range(1, 41))
        assert [r.info_value("loc")[0] for r in results] == sorted(
            r.info_value("loc")[0] for r in results)            # queued in order
        assert peer.query(read("t"), USER).value == 40
    finally:
        peer.stop()


def test_a_peer_block_still_compares_each_key_with_its_origin_at_its_turn():
    """The peer applies its blocks as signature-checked (each signature was checked on
    admission), but a key changed by an earlier transaction of the same block still makes
    a later one signed with the old key fail :SIGNATURE."""
    peer = Peer()
    new_key = SigningKey.generate()
    rotate = sign(KEY, Invoke.create(USER, 1, read(
        f"(set-key 0x{bytes(new_key.verify_key).hex()})")))
    stale = sign(KEY, Transfer.create(USER, 2, 12, 5))
    fresh = sign(new_key, Transfer.create(USER, 2, 12, 7))
    assert peer.precheck(stale) is None                      # admitted before the rotation
    ps = [Ticket(signed=s) for s in (rotate, stale, fresh)]
    for p in ps:
        peer._queue.put(p)
    peer.start()
    results = [p.wait(10) for p in ps]
    peer.stop()
    assert [r.error for r in results] == [None, K("SIGNATURE"), None]
    assert peer.blocks()[-1]["transactionCount"] == 3
