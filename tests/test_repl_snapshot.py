"""The REPL's fast-loading state snapshot (convex_repl.repl.snapshot) and the genesis cache
built on it: what loads is exactly what a fresh build makes, and a damaged or foreign cache
is rebuilt, never trusted."""
from __future__ import annotations

from kernel.data.cell import encoding, memory_size, value_id
from kernel.state.state import CORE_ADDRESS
from stdlib.genesis import genesis_state

from convex_repl.repl import snapshot
from convex_repl.repl.workspace import (Workspace, _code_fingerprint, cached_genesis,
                                        encode_state, faithful)

GENESIS = genesis_state()


def test_snapshot_of_genesis_equals_a_fresh_build():
    data = snapshot.encode(GENESIS)
    state, cells = snapshot.decode(data)
    assert state.value_id() == GENESIS.value_id()
    assert faithful(GENESIS, state)
    fresh, loaded = snapshot.branch_cells(GENESIS), snapshot.branch_cells(state)
    assert len(fresh) == len(loaded) == len(cells) > 100
    for a, b in zip(fresh, loaded):
        assert type(a) is type(b)
        assert encoding(a) == encoding(b)
        assert value_id(a) == value_id(b)
        assert memory_size(a) == memory_size(b)
    assert cells[state.value_id()] is state


def test_a_damaged_or_foreign_snapshot_is_refused():
    data = snapshot.encode(GENESIS)
    assert snapshot.decode(data[:-1]) is None                      # truncated
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 1
    assert snapshot.decode(bytes(flipped)) is None                 # digest no longer matches
    assert snapshot.decode(encode_state(GENESIS)) is None          # CAD3, not a snapshot
    assert snapshot.decode(b"") is None


def test_genesis_cache_is_written_then_loaded(tmp_path):
    st, ok, cells = cached_genesis(tmp_path)
    assert ok and cells is None                                    # built, and cached
    assert st.value_id() == GENESIS.value_id()
    [snap] = (tmp_path / "cache").glob("genesis-*.snap")
    st2, ok2, cells2 = cached_genesis(tmp_path)
    assert ok2 and cells2 is not None                              # loaded from the cache
    assert st2.value_id() == GENESIS.value_id() and faithful(GENESIS, st2)
    snap.write_bytes(snap.read_bytes()[:-5])                       # damaged: rebuilt
    st3, ok3, cells3 = cached_genesis(tmp_path)
    assert ok3 and cells3 is None and st3.value_id() == GENESIS.value_id()
    assert snapshot.decode(snap.read_bytes()) is not None          # and written again


def test_fingerprint_memo_is_keyed_by_the_files(tmp_path):
    cache = tmp_path / "cache"
    fp = _code_fingerprint(cache)
    assert fp == _code_fingerprint()                               # same with or without memo
    key, memo_fp = (cache / "fingerprint").read_text().split()
    assert memo_fp == fp
    (cache / "fingerprint").write_text(f"{key} 0123456789abcdef\n")
    assert _code_fingerprint(cache) == "0123456789abcdef"          # the memo is what's read
    (cache / "fingerprint").write_text("another-key 0123456789abcdef\n")
    assert _code_fingerprint(cache) == fp                          # stale key: recomputed


def test_saved_session_shares_genesis_cells(tmp_path):
    ws = Workspace(tmp_path)                    # builds and caches genesis
    ws = Workspace(tmp_path)                    # loads it from the snapshot
    r = ws.transact("(def answer 42)")
    assert r.ok
    saved = ws.state_hash()
    back = Workspace(tmp_path)
    assert back.state_hash() == saved
    assert back.session.state.value_id().hex() == saved
    assert back.query("answer").value == 42
    # a part of the state the transaction did not touch is genesis's own cell, not a copy
    env = back.genesis.account(CORE_ADDRESS).environment
    assert len(env) > 100
    assert back.session.state.account(CORE_ADDRESS).environment is env
    assert faithful(ws.session.state, back.session.state)
    r = back.transact("(+ answer 1)")
    assert r.ok and r.value == 43


def test_decode_sharing_decodes_a_whole_message_and_refuses_one_with_a_cell_missing():
    from kernel import String, Vector, equals
    from kernel.data.cell import read_vlq
    from kernel.data.decoding import encode_multi
    v = Vector.of(*[String.of(f"{i:03d}" * 60) for i in range(40)])
    msg = encode_multi(v)
    got = snapshot.decode_sharing(msg, {})
    assert equals(got, v) and value_id(got) == value_id(v)
    child = got.items[0]                          # a 180-character string: a branch cell
    assert type(child._cache) is tuple and child._cache[1] == value_id(child)
    _, pos = snapshot._trusting()(msg, {}, []).value(0)     # drop the last branch cell
    last = pos
    while pos < len(msg):
        last = pos
        n, pos = read_vlq(msg, pos)
        pos += n
    assert snapshot.decode_sharing(msg[:last], {}) is None
