"""A started peer's signature stage (convex_repl/peer/verifier.py): signatures checked in
worker processes, tickets handed on in the order they were put (a client's sequence numbers
stay in order), forgeries answered :SIGNATURE, nothing lost when a worker dies or the peer
stops; a lightly loaded peer's producer checks them instead, with a helper thread beside it
(side_checks.py), and waits for submissions being pre-checked."""
from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from nacl.signing import SigningKey

from convex_repl.peer import sigworker
from convex_repl.peer.peer import Peer
from convex_repl.peer.verifier import SignatureStage, _Worker, _encode
from kernel import Signed
from kernel.state.transactions import Transfer, is_verified, sign, signature_parts
from lisp import read
from test_peer_pipeline import KEY, USER, K, _fresh_cache  # noqa: F401 (autouse fixture)


class _Ticket:
    def __init__(self, signed):
        self.signed = signed


def _forged(good: Signed, amount: int) -> Signed:
    return Signed(good.public_key, good.signature, Transfer.create(USER, 1, 12, amount))


def test_the_worker_answers_one_byte_per_signature():
    good = [sign(KEY, Transfer.create(USER, i, 12, 1)) for i in range(1, 6)]
    bad = _forged(good[0], 10**9)
    items = good[:2] + [bad] + good[2:]
    body = b"".join(p for s in items for p in _encode(s))
    assert sigworker.verify_batch(body, len(items)) == bytes([1, 1, 0, 1, 1, 1])
    empty = b"\x00" + b"\x00" + (0).to_bytes(4, "big")     # no key, no signature: invalid
    assert sigworker.verify_batch(empty + body, 1 + len(items)) == bytes([0, 1, 1, 0, 1, 1, 1])
    odd = SimpleNamespace(public_key=b"\x01" * 300, signature=good[0].signature,
                          value=good[0].value)              # (Signed itself refuses these)
    assert _encode(odd) == _encode(None)                    # a record that fails, not an error
    assert sigworker.verify_batch(b"".join(_encode(odd)), 1) == b"\x00"


def test_the_stage_hands_tickets_on_in_order_and_rejects_forgeries():
    stage = SignatureStage(workers=2)
    try:
        signed = [sign(KEY, Transfer.create(USER, i, 12, 1)) for i in range(1, 301)]
        bad_at = {7, 150, 299}
        for i in bad_at:
            signed[i] = _forged(signed[i], 10**9 + i)
        out: list = []

        def forward(t):
            out.append(("ok", t.signed))

        def reject(t):
            out.append(("bad", t.signed))
        for s in signed:
            stage.put(_Ticket(s), forward, reject)
        stage.drain(30)
        assert stage.idle()
        assert [s for _, s in out] == signed                 # the order they were put
        assert [i for i, (kind, _) in enumerate(out) if kind == "bad"] == sorted(bad_at)
        assert all(is_verified(s) for kind, s in out if kind == "ok")
        assert not any(is_verified(s) for kind, s in out if kind == "bad")
    finally:
        stage.close()


def test_a_dead_worker_loses_nothing_and_is_replaced():
    stage = SignatureStage(workers=2)
    try:
        old = [w.proc for w in stage._workers]
        for p in old:
            p.kill()
            p.wait()
        signed = [sign(KEY, Transfer.create(USER, i, 12, 1)) for i in range(1, 101)]
        signed[40] = _forged(signed[40], 10**9)
        out: list = []
        for s in signed:
            stage.put(_Ticket(s), lambda t: out.append(True), lambda t: out.append(False))
        stage.drain(30)
        assert out == [i != 40 for i in range(100)]
        assert all(w.proc not in old and w.proc.poll() is None for w in stage._workers)
    finally:
        stage.close()


@pytest.fixture
def staging(monkeypatch):
    """Peers started here check signatures in the stage, every one (as under load)."""
    monkeypatch.setattr(Peer, "OFFLOAD_SIGNATURES", True)
    monkeypatch.setattr(Peer, "CHECK_HERE_BELOW", 0)


def test_a_started_peer_checks_signatures_in_the_stage(staging):
    peer = Peer().start()
    try:
        assert peer._signatures is not None
        txs = [sign(KEY, Transfer.create(USER, i, 12, 1)) for i in range(1, 201)]
        tickets = [peer.submit_nowait(s) for s in txs]      # one client, in flight together
        forged = peer.submit_nowait(_forged(txs[0], 10**9))
        results = [t.wait(30) for t in tickets]
        assert [r.error for r in results] == [None] * 200   # no :SEQUENCE: order was kept
        r = forged.wait(30)
        assert r.error == K("SIGNATURE") and r.info_value("source") == K("PEER")
        assert peer.sequence(USER) == 200
    finally:
        peer.stop()


def test_stopping_answers_everything_the_stage_held(staging):
    peer = Peer().start()
    tickets = [peer.submit_nowait(sign(KEY, Transfer.create(USER, i, 12, 1)))
               for i in range(1, 401)]
    peer.stop()
    assert all(t.answered for t in tickets)
    assert [t.wait(0).error for t in tickets] == [None] * 400


def test_signature_parts_are_what_the_signature_covers():
    s = sign(KEY, Transfer.create(USER, 1, 12, 1))
    pk, sig, msg = signature_parts(s)
    assert (pk, sig) == (s.public_key, s.signature) and len(sig) == 64
    from nacl.signing import VerifyKey
    VerifyKey(pk).verify(msg, sig)
    w = _Worker()
    try:
        parts = [(1).to_bytes(4, "big")] + _encode(s)
        w.send(parts)
        assert w.receive(1) == b"\x01"
    finally:
        w.close()


def test_a_checked_signature_does_not_overtake_those_in_the_stage(staging):
    """A transaction whose signature the peer knows already (submitted before, or seen in
    a belief) would skip the stage; while the stage holds earlier ones it must not: the
    sequence numbers of one account have no gaps."""
    from kernel.state.transactions import verify
    peer = Peer().start()
    try:
        txs = [sign(KEY, Transfer.create(USER, i, 12, 1)) for i in range(1, 201)]
        assert verify(txs[-1]) and is_verified(txs[-1])
        tickets = [peer.submit_nowait(s) for s in txs]
        assert [t.wait(30).error for t in tickets] == [None] * 200
    finally:
        peer.stop()


def test_a_lightly_loaded_peer_checks_beside_its_producer(monkeypatch):
    monkeypatch.setattr(Peer, "OFFLOAD_SIGNATURES", True)
    staged = []
    peer = Peer().start()
    try:
        put = peer._signatures.put
        monkeypatch.setattr(peer._signatures, "put", lambda *a: (staged.append(a), put(*a)))
        good = sign(KEY, Transfer.create(USER, 1, 12, 1))
        forged = peer.submit_nowait(_forged(good, 10**9))
        assert forged.wait(10).error == K("SIGNATURE")
        assert forged.result.info_value("loc") is None       # in no block
        assert peer.submit(good).error is None
        assert staged == []
        monkeypatch.setattr(Peer, "CHECK_HERE_BELOW", 0)    # as with a long queue
        assert peer.submit(sign(KEY, Transfer.create(USER, 2, 12, 1))).error is None
        assert len(staged) == 1
    finally:
        peer.stop()


def test_a_burst_with_forgeries_keeps_its_order_and_loses_nothing(monkeypatch):
    """Checked by the producer and its helper in any order, a burst still runs in the order it
    came (one account's sequence numbers), the forgeries answered :SIGNATURE."""
    monkeypatch.setattr(Peer, "OFFLOAD_SIGNATURES", True)
    peer = Peer().start()
    try:
        good = [sign(KEY, Transfer.create(USER, i, 12, 1)) for i in range(1, 11)]
        items = good[:3] + [_forged(good[0], 10**9)] + good[3:7] + [_forged(good[1], 7)] \
            + good[7:]
        tickets = [peer.submit_nowait(s) for s in items]
        results = [t.wait(10) for t in tickets]
        assert [r.error for r in results] == [None] * 3 + [K("SIGNATURE")] + [None] * 4 \
            + [K("SIGNATURE")] + [None] * 3
        locs = [tuple(r.info_value("loc")) for r in results if r.error is None]
        assert locs == sorted(locs) and len(locs) == 10
        assert peer.state.account(USER).sequence == 10
    finally:
        peer.stop()


def test_side_checks_share_the_work_and_check_each_once(monkeypatch):
    import threading
    from convex_repl.peer import side_checks
    seen = []

    def slow_verify(signed):
        seen.append((signed.value.amount, threading.get_ident()))
        if signed.value.amount == 1:
            time.sleep(0.2)                 # the producer is busy: the helper takes the rest
        return signed.value.amount != 3
    monkeypatch.setattr(side_checks, "verify", slow_verify)
    side = side_checks.SideChecks()
    try:
        tickets = [_Ticket(sign(KEY, Transfer.create(USER, 1, 12, a))) for a in (1, 2, 3, 4)]
        for t in tickets:
            side.add(t)
        side.kick()
        side.finish()
        assert sorted(a for a, _ in seen) == [1, 2, 3, 4]     # each exactly once
        assert [t.forged for t in tickets] == [False, False, True, False]
        assert len({th for _, th in seen}) == 2     # whoever took the slow one, the other did more
    finally:
        side.close()


def test_the_producer_waits_for_a_submission_being_checked(monkeypatch):
    """Clients that each wait for their result submit together: a block made while one of
    them is still being checked would leave it for the next block (twice the blocks)."""
    import threading
    monkeypatch.setattr(Peer, "OFFLOAD_SIGNATURES", True)
    monkeypatch.setattr(Peer, "GATHER", 10.0)
    peer = Peer().start()
    checking, release = threading.Event(), threading.Event()
    precheck = peer.precheck

    def slow(signed, *a, **k):
        if signed.value.amount == 2:
            checking.set()
            release.wait(10)
        return precheck(signed, *a, **k)
    peer.precheck = slow
    try:
        other = SigningKey(b"\x05" * 32)
        a = peer.run_as_faucet(read(f"(let [a (create-account 0x{bytes(other.verify_key).hex()})]"
                                    " (transfer a 1000000000) a)")).value.n
        slow_one = threading.Thread(target=lambda: out.append(peer.submit(
            sign(other, Transfer.create(a, 1, 12, 2)))))
        out: list = []
        slow_one.start()
        assert checking.wait(10)
        first = peer.submit_nowait(sign(KEY, Transfer.create(USER, 1, 12, 1)))
        time.sleep(0.2)
        assert not first.answered           # its block waits for the one being checked
        release.set()
        slow_one.join(10)
        assert first.wait(10).error is None and out[0].error is None
        assert first.result.info_value("loc")[0] == out[0].info_value("loc")[0]
    finally:
        release.set()
        peer.stop()


def test_a_check_that_fails_refuses_the_ticket_and_stops_nothing(monkeypatch):
    import threading
    from convex_repl.peer import side_checks

    def broken(signed):
        if signed.value.amount == 2:
            raise ValueError("malformed")
        return True
    monkeypatch.setattr(side_checks, "verify", broken)
    side = side_checks.SideChecks()
    try:
        for _ in range(2):              # the helper and the producer both live on
            tickets = [_Ticket(sign(KEY, Transfer.create(USER, 1, 12, a))) for a in (1, 2, 3)]
            for t in tickets:
                side.add(t)
            side.kick()
            finished = threading.Event()
            threading.Thread(target=lambda: (side.finish(), finished.set()), daemon=True).start()
            assert finished.wait(10)
            assert [t.forged for t in tickets] == [False, True, False]
    finally:
        side.close()



def test_a_stop_that_gives_up_waiting_leaves_the_producer_its_checks(monkeypatch):
    """stop() whose join times out while a block still runs: the producer goes on with its
    own side checks (it closes them when it ends), so what was queued meanwhile is checked and
    answered, a forgery refused."""
    monkeypatch.setattr(Peer, "OFFLOAD_SIGNATURES", True)
    errors: list = []
    monkeypatch.setattr("threading.excepthook", lambda a: errors.append(a.exc_value))

    class SlowBlocks(Peer):
        def _apply(self, batch):
            time.sleep(0.5)
            super()._apply(batch)
    peer = SlowBlocks().start()
    first = peer.submit_nowait(sign(KEY, Transfer.create(USER, 1, 12, 1)))
    time.sleep(0.2)                                     # its block is running
    good = sign(KEY, Transfer.create(USER, 2, 12, 1))
    second = peer.submit_nowait(good)
    forged = peer.submit_nowait(_forged(good, 10**9))
    assert second.unchecked and forged.unchecked        # left to the producer
    peer.stop(timeout=0.05)
    assert first.wait(10).error is None and second.wait(10).error is None
    assert forged.wait(10).error == K("SIGNATURE")
    assert peer.state.account(USER).sequence == 2 and errors == []
