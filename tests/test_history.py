"""State over time (issue 18), with real peer processes: blocks with their state hashes,
past-state queries, pruning (--keep-states), forks (--fork on eval, query, test, the REPL and
`convex local start`), replay of a data directory and of a live peer, bisect of two logs that
diverge on purpose, and state dump/load/diff."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from test_peer_process import ROOT, start_peer, stop


def convex(*args, home, timeout=180, stdin=None):
    e = dict(os.environ, PYTHONPATH=ROOT, CONVEX_HOME=str(home), NO_COLOR="1")
    for k in ("CONVEX_URL", "CONVEX_SEED", "CONVEX_KEY_PASSWORD", "CONVEX_PROFILE"):
        e.pop(k, None)
    p = subprocess.run([sys.executable, "-m", "convex_repl", *args], capture_output=True,
                       text=True, env=e, cwd=ROOT, timeout=timeout, input=stdin)
    return p.returncode, p.stdout, p.stderr


def shutdown(p):
    """Stop a peer process as Ctrl-C would (its last block committed), else kill it."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            stop(p)


def transact(url, source, address=13):
    from convex_repl.client.remote import Remote
    r = Remote(url).transact(source, address)
    assert r.error is None, (r.error, r.message)
    return r


def query_value(url, source, block=None, address=13):
    """(HTTP status, body) of POST /api/v1/query as #13 (where the tests define things)."""
    from convex_repl.client.remote import Remote
    body = {"source": source, "address": address}
    if block is not None:
        body["block"] = block
    return Remote(url).request("POST", "/api/v1/query", body)


@pytest.fixture(scope="module")
def peer(tmp_path_factory):
    """A peer with a store where block 0 defined x as 5 and block 1 as 6 (in #13)."""
    data = tmp_path_factory.mktemp("peerdata")
    p, info = start_peer("--protocol-port", "0", data=data)
    url = info["url"]
    transact(url, "(def x 5)")
    transact(url, "(def x 6)")
    yield {"url": url, "data": data, "process": p}
    shutdown(p)


# --- 1. past states and blocks ----------------------------------------------------------------

def test_blocks_list_each_state_hash_and_past_states_answer_queries(peer, tmp_path):
    url = peer["url"]
    rc, out, err = convex("blocks", "--url", url, "--json", home=tmp_path)
    assert rc == 0, err
    d = json.loads(out)
    assert d["count"] == 2 and [b["index"] for b in d["items"]] == [0, 1]
    for b in d["items"]:
        assert b["transactions"] == 1
        st, q = query_value(url, "(hash (encoding *state*))", b["index"])
        assert st == 200 and q["value"] == b["state"]
    assert d["items"][0]["state"] != d["items"][1]["state"]
    # the REST listing itself carries them
    from convex_repl.client.remote import Remote
    st, body = Remote(url).request("GET", "/api/v1/blocks/1")
    assert body["state"] == d["items"][1]["state"] and body["results"].startswith("0x")
    rc, out, err = convex("query", "--url", url, "--block", "0", "x", home=tmp_path)
    assert (rc, out.strip()) == (0, "5"), err
    rc, out, err = convex("query", "--url", url, "x", home=tmp_path)
    assert (rc, out.strip()) == (0, "6"), err
    rc, out, err = convex("blocks", "--url", url, home=tmp_path)
    assert rc == 0 and d["items"][1]["state"] in out and "2 blocks" in out


# --- 2. forks ---------------------------------------------------------------------------------

def test_eval_on_a_fork_sees_the_peers_state_and_sends_nothing(peer, tmp_path):
    url = peer["url"]
    before = query_value(url, "[*state* (:sequence (account #13))]")[1]["value"]
    rc, out, err = convex("eval", "--fork", url, "(def y (* x 2)) y", home=tmp_path)
    assert (rc, out.strip()) == (0, "12"), err
    rc, out, err = convex("query", "--fork", url, "--block", "0", "(* x 2)", home=tmp_path)
    assert (rc, out.strip()) == (0, "10"), err
    st, q = query_value(url, "y")
    assert q.get("errorCode") == "UNDECLARED"            # the peer still has no y
    assert query_value(url, "[*state* (:sequence (account #13))]")[1]["value"] == before
    rc, out, err = convex("transact", "--fork", url, "--json", "(def y 1)", home=tmp_path)
    assert rc == 0 and json.loads(out)["sequence"] == 3, err   # the next one after the peer's


def test_a_fork_impersonates_any_account_and_warps_time(peer, tmp_path):
    url = peer["url"]
    from convex_repl.client.remote import Remote
    r = Remote(url)
    st, made = r.request("POST", "/api/v1/createAccount", {"accountKey": "0x" + "ab" * 32})
    n = made["address"]
    st, _ = r.request("POST", "/api/v1/faucet", {"address": n, "amount": 10_000_000})
    assert st == 200
    # no one holds the key 0xabab...: only the fork lets #n act
    rc, out, err = convex("eval", "--fork", url, "-a", str(n), "(def mine 7) [*address* mine]",
                          home=tmp_path)
    assert (rc, out.strip()) == (0, f"[#{n} 7]"), err
    st, q = query_value(url, f"(defined? #{n} 'mine)")
    assert q["value"] is False
    t = query_value(url, "*timestamp*")[1]["value"]
    rc, out, err = convex("query", "--fork", url, "--advance", "86400000", "*timestamp*",
                          home=tmp_path)
    assert (rc, out.strip()) == (0, str(t + 86_400_000)), err
    rc, out, err = convex("eval", "--advance", "5", "1", home=tmp_path)
    assert rc == 2 and "--advance needs --fork" in err
    rc, out, err = convex("repl", "--fork", url, home=tmp_path,
                          stdin="(def t0 *timestamp*)\n:advance 60000\n(- *timestamp* t0)\n"
                                ":account #11\n*address*\n")
    assert rc == 0, err
    assert "60000" in out and "#11" in out.split("now acting as #11")[1]


def test_the_fork_cache_fetches_only_what_changed(peer, tmp_path):
    from convex_repl.history.fetch import fetch_state
    url = peer["url"]
    first = fetch_state(url, None, tmp_path)
    assert first.fetched > 100 and first.cached == 0
    again = fetch_state(url, None, tmp_path)
    assert again.fetched == 0 and again.cached == first.fetched
    assert again.state.value_id() == first.state.value_id()
    earlier = fetch_state(url, 0, tmp_path)           # the state after block 0: a few cells
    assert 0 < earlier.fetched < first.fetched // 10
    st, q = query_value(url, "(hash (encoding *state*))", 0)
    assert earlier.hash == q["value"]


def test_convex_test_runs_on_a_fork(peer, tmp_path):
    f = tmp_path / "test_forked.cvx"
    f.write_text("(deftest from-the-peer (is (= 6 x)))\n")
    rc, out, err = convex("test", str(f), "--fork", peer["url"], home=tmp_path)
    assert rc == 0 and "1 passed" in out, out + err
    rc, out, err = convex("test", str(f), home=tmp_path)       # genesis has no x
    assert rc == 1 and "UNDECLARED" in out


def test_local_start_fork_is_a_new_network_from_the_peers_state(peer, tmp_path):
    url = peer["url"]
    e = dict(os.environ, PYTHONPATH=ROOT, CONVEX_HOME=str(tmp_path))
    e.pop("CONVEX_URL", None)
    p = subprocess.Popen([sys.executable, "-m", "convex_repl", "local", "start", "--fork", url,
                          "--port", "0", "--protocol-port", "0", "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e,
                         cwd=ROOT)
    try:
        line = p.stdout.readline()
        assert line, p.stderr.read()
        fork = json.loads(line)["url"]
        assert query_value(fork, "x")[1]["value"] == 6
        transact(fork, "(def x 100)")
        assert query_value(fork, "x")[1]["value"] == 100
        assert query_value(url, "x")[1]["value"] == 6
    finally:
        shutdown(p)


def test_a_fork_of_nothing_fails_in_one_line(tmp_path):
    rc, out, err = convex("eval", "--fork", "http://127.0.0.1:9", "(+ 1 2)", home=tmp_path)
    assert rc == 3 and err.startswith("convex: error: can't fork") and len(
        err.strip().splitlines()) == 1
    rc, out, err = convex("eval", "--block", "3", "(+ 1 2)", home=tmp_path)
    assert rc == 2 and "--block needs --fork" in err


# --- 3. replay ---------------------------------------------------------------------------------

def test_replay_a_stopped_peers_data_directory_and_a_live_peer(tmp_path):
    data = tmp_path / "data"
    p, info = start_peer("--protocol-port", "0", data=data)
    url = info["url"]
    try:
        for i in range(3):
            transact(url, f"(def v{i} {i})")
        rc, out, err = convex("replay", "--url", url, "--json", home=tmp_path)
        assert rc == 0, err
        live = json.loads(out)
        assert live["ok"] and live["blocks"] == 3 and live["transactions"] == 3
    finally:
        shutdown(p)
    rc, out, err = convex("replay", str(data), home=tmp_path)
    assert rc == 0, err
    assert out.startswith("replayed 3 blocks") and live["final"] in out
    rc, out, err = convex("replay", str(data), "--from", "2", "--json", home=tmp_path)
    assert rc == 0 and json.loads(out)["blocks"] == 1 and json.loads(out)["final"] == \
        live["final"]
    rc, out, err = convex("replay", str(tmp_path / "nowhere"), home=tmp_path)
    assert rc == 3 and "no such data directory" in err


def test_keep_states_prunes_older_states_but_replays_from_genesis(tmp_path):
    data = tmp_path / "data"
    p, info = start_peer("--protocol-port", "0", "--keep-states", "2", data=data)
    url = info["url"]
    try:
        for i in range(17):                  # block 16 prunes: states after 15 and 16 stay
            transact(url, f"(def k{i} {i})")
        st, q = query_value(url, "k0", 0)
        assert st == 404 and "pruned" in q["error"]
        st, q = query_value(url, "k16", 16)
        assert st == 200 and q["value"] == 16
        rc, out, err = convex("query", "--url", url, "--block", "3", "k0", home=tmp_path)
        assert rc == 3 and "pruned (--keep-states)" in err
    finally:
        shutdown(p)
    rc, out, err = convex("blocks", str(data), "--limit", "17", "--json", home=tmp_path)
    kept = [b["kept"] for b in json.loads(out)["items"]]
    assert kept == [False] * 15 + [True, True], kept
    rc, out, err = convex("replay", str(data), home=tmp_path)
    assert rc == 0 and out.startswith("replayed 17 blocks"), err
    rc, out, err = convex("replay", str(data), "--from", "5", home=tmp_path)
    assert rc == 3 and "pruned with --keep-states" in err


# --- 4. bisect ---------------------------------------------------------------------------------

def build_store(directory, blocks, tamper=None, t0=1_800_000_000_000):
    """A peer data directory whose blocks run `blocks` (each a list of (address, source))
    from genesis, one second apart, as the genesis peer makes them; `tamper` (n, f) records
    f(state) as the state after block n, as a faulty peer would, and goes on from it."""
    from kernel.data.blobs import Blob
    from kernel.data.scalars import Keyword
    from kernel.data.vectors import Vector
    from kernel.state.transactions import Block, Invoke, sign
    from kernel.transition import apply_block_outcomes
    from kernel.transition.ledger import genesis_signing_key, signing_key_for
    from lisp import read
    from stdlib.genesis import GENESIS_USER, genesis_state
    from convex_repl.peer.store import Store
    Path(directory).mkdir(parents=True, exist_ok=True)
    store = Store(str(Path(directory) / "peer.db"))
    state = genesis_state()
    with store.batch():
        store.put(state)
        store.set_meta("genesis", state.value_id())
    pk = genesis_signing_key(GENESIS_USER)
    pub = Blob(bytes(pk.verify_key))
    for n, txs in enumerate(blocks):
        seqs, signed = {}, []
        for addr, src in txs:
            seqs[addr] = seqs.get(addr, state.account(addr).sequence) + 1
            signed.append(sign(signing_key_for(state, addr),
                               Invoke.create(addr, seqs[addr], read(src))))
        ts = t0 + 1000 * n
        block = Block.create(ts, signed)
        state, outcomes = apply_block_outcomes(state, block, pub)
        assert all(o.error is None for o in outcomes), [o.value for o in outcomes]
        if tamper is not None and tamper[0] == n:
            state = tamper[1](state)
        hashes = [s.value_id() for s in signed]
        rv = Vector.from_seq(o.result(None, ((Keyword("tx"), Blob(h)),
                                             (Keyword("loc"), Vector.of(n, i))))
                             for i, (h, o) in enumerate(zip(hashes, outcomes)))
        store.add_block(n, sign(pk, block), rv, state, ts, pub.data, hashes)
    store.close()


COMMON = [[(13, "(def y 7)")], [(11, "(def z 1)"), (13, "(def w [1 2])")]]


def _stores(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    build_store(a, COMMON + [[(11, "(def a 1)"), (13, "(def x (* y (+ 1 2)))")],
                             [(13, "(def q 1)")]])
    build_store(b, COMMON + [[(11, "(def a 1)"), (13, "(def x (* y (+ 1 3)))")],
                             [(13, "(def q 1)")]])

    def richer(s):                       # #13 one coin richer than the block makes it
        return s.put_account(13, s.account(13).with_balance(s.account(13).balance + 1))
    build_store(c, COMMON + [[(11, "(def a 1)"), (13, "(def x (* y (+ 1 2)))")],
                             [(13, "(def q 1)")]], tamper=(2, richer))
    return a, b, c


def _planted(d):
    assert d["diverged"] and d["block"] == 2 and d["tx"] == 1, d
    assert d["reason"] == "different transactions"
    sa, sb = d["sides"]
    assert (sa["kind"], sa["op"], sa["result"]) == ("Constant", "2", "2")
    assert (sb["kind"], sb["op"], sb["result"]) == ("Constant", "3", "3")
    assert sa["step"] == sb["step"] == d["step"] and sa["juice"] == sb["juice"]
    assert [s["result"] for s in d["context"]][-3:] == ["7", "+", "1"]   # y, +, 1 agreed


def test_bisect_finds_the_planted_block_transaction_and_step(tmp_path):
    a, b, c = _stores(tmp_path)
    rc, out, err = convex("bisect", str(a), str(b), "--json", home=tmp_path)
    assert rc == 1, err
    _planted(json.loads(out))
    rc, out, err = convex("bisect", str(a), str(b), home=tmp_path)
    assert "first differing block: 2" in out and "first differing transaction: 1" in out
    assert "#13 (def x (* y (+ 1 2)))" in out and "#13 (def x (* y (+ 1 3)))" in out
    # a store recording a state its block does not give: replay and bisect say which
    rc, out, err = convex("replay", str(c), "--json", home=tmp_path)
    r = json.loads(out)
    assert rc == 1 and r["bad_block"] == 2 and r["problem"] == "state" and r["blocks"] == 2
    rc, out, err = convex("replay", str(c), home=tmp_path)
    assert rc == 1 and err.startswith("convex: error: block 2 differs")
    rc, out, err = convex("bisect", str(a), str(c), "--json", home=tmp_path)
    d = json.loads(out)
    assert rc == 1 and d["block"] == 2 and d["tx"] is None
    assert "recorded by b after block 2" in d["reason"] and d["replayed"] == d["a_state"]
    rc, out, err = convex("bisect", str(a), str(a), home=tmp_path)
    assert rc == 0 and "agree" in out and "(4 blocks)" in out


def test_bisect_two_live_peers_serving_diverged_stores(tmp_path):
    a, b, c = _stores(tmp_path)
    pa, ia = start_peer("--protocol-port", "0", data=a)
    try:
        pb, ib = start_peer("--protocol-port", "0", data=b)
        try:
            rc, out, err = convex("bisect", ia["url"], ib["url"], "--json", home=tmp_path)
            assert rc == 1, err
            _planted(json.loads(out))
            rc, out, err = convex("bisect", ia["url"], str(b), "--json", home=tmp_path)
            _planted(json.loads(out))
        finally:
            shutdown(pb)
        pc, ic = start_peer("--protocol-port", "0", data=c)
        try:
            rc, out, err = convex("replay", "--url", ic["url"], "--json", home=tmp_path)
            assert rc == 1 and json.loads(out)["bad_block"] == 2
        finally:
            shutdown(pc)
    finally:
        shutdown(pa)


# --- 5. dump, load, diff -----------------------------------------------------------------------

def test_state_dump_load_and_diff(peer, tmp_path):
    url = peer["url"]
    f0, f1 = tmp_path / "s0.cad3", tmp_path / "s1.cad3"
    rc, out, err = convex("state", "dump", str(f0), "--url", url, "--block", "0", "--json",
                          home=tmp_path)
    assert rc == 0, err
    st, q = query_value(url, "(hash (encoding *state*))", 0)
    assert json.loads(out)["state"] == q["value"] and f0.stat().st_size > 1000
    rc, out, err = convex("state", "dump", str(f1), "--from", url + "@1", home=tmp_path)
    assert rc == 0, err
    rc, out, err = convex("state", "diff", str(f0), str(f1), "--json", home=tmp_path)
    assert rc == 1, err
    changes = json.loads(out)["changes"]
    env = [c for c in changes if c["field"] == "env:x"]
    assert env == [{"account": 13, "field": "env:x", "before": "5", "after": "6"}]
    seq = [c for c in changes if c["account"] == 13 and c["field"] == "sequence"]
    assert seq[0]["delta"] == 1
    rc, out, err = convex("state", "diff", str(f0), str(f1), home=tmp_path)
    assert "#13 ~ env:x 5 -> 6" in out and "state ~ block 0 -> 1 (+1)" in out
    # load into a fresh session, which then runs on it
    home = tmp_path / "home"
    rc, out, err = convex("state", "load", str(f1), home=home)
    assert rc == 0, err
    rc, out, err = convex("query", "x", home=home)
    assert (rc, out.strip()) == (0, "6"), err
    rc, out, err = convex("state", "diff", "local", str(f1), home=home)
    assert rc == 0 and "the same state" in out
    bad = tmp_path / "bad.cad3"
    bad.write_bytes(b"\x01\x02")
    rc, out, err = convex("state", "load", str(bad), home=home)
    assert rc == 2 and err.count("\n") == 1 and "bad.cad3" in err
    rc, out, err = convex("state", "diff", str(bad), str(f1), home=home)
    assert rc == 2 and "bad.cad3" in err


def test_a_fork_workspace_is_a_complete_local_workspace(peer, tmp_path):
    """It has everything the local Workspace has (the REPL and CLI use it as one), and
    :reset goes back to the forked state."""
    from convex_repl.history.fork import ForkWorkspace
    from convex_repl.repl.interface import missing
    from convex_repl.repl.workspace import Workspace
    ws = ForkWorkspace.open(peer["url"], None, tmp_path)
    assert missing(ws) == []
    assert set(vars(Workspace(None, fresh=True, save=False))) <= set(vars(ws))
    forked = ws.state_hash()
    assert ws.transact("(def local-only 1) local-only").printed == "1"
    assert ws.state_hash() != forked and ws.undo()
    assert ws.state_hash() == forked
    ws.transact("(def local-only 2)")
    ws.reset()
    assert ws.state_hash() == forked and "a fork of " + peer["url"] in ws.describe()


def test_a_peer_without_a_store_can_be_forked_at_its_current_state(tmp_path):
    p, info = start_peer("--protocol-port", "0")             # convex local start's default
    try:
        url = info["url"]
        transact(url, "(def x 5)")
        rc, out, err = convex("eval", "--fork", url, "(def y (* x 2)) y", home=tmp_path)
        assert (rc, out.strip()) == (0, "10"), err
        assert query_value(url, "y")[1].get("errorCode") == "UNDECLARED"
    finally:
        shutdown(p)


def test_pruning_keeps_every_block_result_and_kept_state_whatever_they_share(tmp_path):
    """Values that come back after being removed, a transaction carrying a value the state
    holds, a store reopened (no state in memory) and one that ran without pruning first:
    every block, result, kept state and genesis still loads; pruned states don't, and their
    cells are gone."""
    from kernel.data.cell import MissingData
    from convex_repl.history.logs import StoreLog
    from convex_repl.history.replay import replay
    from convex_repl.peer.store import Store
    big = "(loop [v [] i 0] (if (< i 200) (recur (conj v i) (inc i)) v))"
    script = [[(13, f"(def big {big})")], [(13, "(undef big)")], [(13, "(def n 1)")],
              [(13, "(def lit [0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20])")],
              [(13, "(undef lit)")], [(13, f"(def big {big})")],
              [(13, "(def r (loop [v [] i 0] (if (< i 300) (recur (conj v i) (inc i)) v)))")], [(13, "(undef r)")]]
    script += [[(13, f"(def k{i} {i})")] for i in range(28)]
    build_store(tmp_path / "d", script)                 # written without pruning
    db = str(tmp_path / "d" / "peer.db")

    def cells():
        st = Store(db)
        n = st._db.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
        st.close()
        return n
    before = cells()
    st = Store(db, keep_states=3)
    gone = st.prune_states(3)
    assert gone > 0 and st.prune_states(3) == 0         # nothing new to prune
    st.close()
    assert cells() == before - gone

    def check(store, top, keep):
        for n in range(top + 1):
            row = store.blocks(n, 1)[0]
            store.get(row[1])
            store.get(row[2])
            if n > top - keep:
                store.get(row[3])
        store.get(store.meta("genesis"))
    st = Store(db, keep_states=3)
    check(st, 35, 3)
    with pytest.raises(MissingData):
        st.get(st.blocks(10, 1)[0][3])
    st.close()
    log = StoreLog(tmp_path / "d")
    assert replay(log).ok and replay(log, 34).ok        # from genesis, from a kept state
    log.close()
    # a peer going on with this store prunes the cells of a value it drops, then makes the
    # value again: its cells are written again (blocks 36 and 37, pruned at 48, then 49)
    from lisp import read
    from convex_repl.peer.peer import Peer
    r400 = "(do (def r (loop [v [] i 0] (if (< i 400) (recur (conj v i) (inc i)) v))) nil)"
    forms = [r400, "(undef r)"] + [f"(def j{i} {i})" for i in range(11)] + [r400, "(def j 0)"]
    peer = Peer(store=Store(db, keep_states=3)).start()
    for f in forms:
        assert peer.run_as_faucet(read(f)).error is None
    peer.stop()
    peer.store.close()
    st = Store(db)
    check(st, 50, 3)
    from convex_repl.api import Session
    r = Session(st.get(st.head()[1]), 12).query("[(count r) (nth r 399) (count #13/big)]")
    assert r.printed == "[400 399 200]"                  # whole again, and big still whole
    with pytest.raises(MissingData):
        st.get(st.blocks(36, 1)[0][3])
    st.close()
    log = StoreLog(tmp_path / "d")
    assert replay(log).ok and replay(log).blocks == 51
    log.close()
