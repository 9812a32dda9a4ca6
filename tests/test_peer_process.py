"""`convex peer start` as a real process: the URL and keys it prints, a clean Ctrl-C, and
persistence (--data): a peer killed at any moment restarts with every confirmed transaction.

Every peer listens on 127.0.0.1 with an ephemeral port and is stopped by the test."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
from nacl.signing import SigningKey

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start_peer(*args, data=None):
    cmd = [sys.executable, "-m", "convex_repl", "peer", "start", "--port", "0", "--json",
           *args]
    if data is not None:
        cmd += ["--data", str(data)]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=ROOT)
    line = p.stdout.readline()
    if not line:
        p.kill()
        raise AssertionError("peer did not start: " + p.stderr.read())
    return p, json.loads(line)


def in_threads(worker, n, timeout=180):
    """Run worker(i) for i < n on n threads at once; the exceptions they raised."""
    errors = []

    def guarded(i):
        try:
            worker(i)
        except Exception as e:              # pragma: no cover - reported by the caller
            errors.append(e)
    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return errors


def stop(p):
    if p.poll() is None:
        p.kill()
    p.wait(10)


def post(url, path, body, timeout=60):
    req = urllib.request.Request(url + "/api/v1" + path, data=json.dumps(body).encode(),
                                 method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def get(url, path):
    try:
        with urllib.request.urlopen(url + "/api/v1" + path, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def transfer(url, key, a, to, amount, seq=None):
    st, p = post(url, "/transaction/prepare", {"address": a, "sequence": seq,
                                               "source": f"(transfer #{to} {amount})"})
    sig = key.sign(bytes.fromhex(p["hash"])).signature.hex()
    return post(url, "/transaction/submit", {"hash": p["hash"], "sig": sig,
                                             "accountKey": bytes(key.verify_key).hex()})


def test_start_prints_url_and_keys_and_stops_on_ctrl_c():
    p, info = start_peer()
    try:
        assert info["url"].startswith("http://127.0.0.1:")
        assert [a["address"] for a in info["accounts"]] == [11, 12, 13]
        a13 = info["accounts"][2]
        seed = bytes.fromhex(a13["seed"][2:])
        assert "0x" + bytes(SigningKey(seed).verify_key).hex() == a13["publicKey"]
        # the printed seed signs for #13
        st, r = post(info["url"], "/transact", {"address": 13, "source": "(+ 1 2)",
                                                "seed": a13["seed"]})
        assert st == 200 and r["value"] == 3
        p.send_signal(signal.SIGINT)
        assert p.wait(20) == 0
    finally:
        stop(p)


def test_human_output_and_sigterm():
    cmd = [sys.executable, "-m", "convex_repl", "local", "start", "--peers", "1",
           "--port", "0"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=ROOT)
    try:
        lines = []
        while not lines or "Ctrl-C stops" not in lines[-1]:
            lines.append(p.stdout.readline())
            assert lines[-1], p.stderr.read()
        assert "REST URL:" in lines[1] and "http://127.0.0.1:" in lines[1]
        assert any("#13" in x for x in lines)
        p.terminate()
        assert p.wait(20) == 0
        assert "Peer stopped." in p.stdout.read()
    finally:
        stop(p)


def test_confirmed_transactions_survive_kill(tmp_path):
    p, info = start_peer(data=tmp_path)
    url = info["url"]
    try:
        key = SigningKey.generate()
        st, r = post(url, "/createAccount", {"accountKey": bytes(key.verify_key).hex(),
                                             "faucet": 10**9})
        a = r["address"]
        confirmed = []
        for i in range(5):
            st, r = transfer(url, key, a, 13, 1000 + i)
            assert st == 200 and "errorCode" not in r
            confirmed.append(r["info"]["tx"])
        before = get(url, f"/accounts/{a}")[1]
        # transactions in flight from several threads while the peer is killed
        acks, lock = [], threading.Lock()
        keys = []
        for _ in range(4):
            k = SigningKey.generate()
            st, r = post(url, "/createAccount", {"accountKey": bytes(k.verify_key).hex(),
                                                 "faucet": 10**9})
            keys.append((k, r["address"]))

        def flood(k, addr):
            for i in range(200):
                try:
                    st, r = transfer(url, k, addr, 13, 1, seq=i + 1)
                except Exception:
                    return
                if st == 200 and "errorCode" not in r:
                    with lock:
                        acks.append((addr, i + 1, r["info"]["tx"]))
        threads = [threading.Thread(target=flood, args=ka) for ka in keys]
        for t in threads:
            t.start()
        time.sleep(1.5)
        p.kill()                                   # SIGKILL: no chance to clean up
        p.wait(10)
        for t in threads:
            t.join(60)
    finally:
        stop(p)
    assert acks, "no transaction confirmed before the kill"
    p, info = start_peer(data=tmp_path)
    url = info["url"]
    try:
        after = get(url, f"/accounts/{a}")[1]
        assert after == before
        for h in confirmed + [x[2] for x in acks]:
            st, t = get(url, "/tx?hash=" + h)
            assert st == 200 and "errorCode" not in t["result"], h
        for k, addr in keys:
            done = max([s for (x, s, _) in acks if x == addr], default=0)
            assert get(url, f"/accounts/{addr}")[1]["sequence"] >= done
        # and the peer goes on from there
        st, r = transfer(url, key, a, 13, 7)
        assert st == 200 and "errorCode" not in r
        assert get(url, f"/accounts/{a}")[1]["sequence"] == before["sequence"] + 1
        p.send_signal(signal.SIGINT)
        assert p.wait(20) == 0
    finally:
        stop(p)
    # a clean stop keeps everything too
    p, info = start_peer(data=tmp_path)
    try:
        assert get(info["url"], f"/accounts/{a}")[1]["sequence"] == before["sequence"] + 1
        assert info["blocks"] > 0
    finally:
        stop(p)


def test_the_store_syncs_to_disk_as_asked(tmp_path):
    """The default keeps a commit across a killed process (the test above); "full" waits
    for the disk at every commit as well."""
    from convex_repl.peer.store import Store

    def level(store):
        return store._db.execute("PRAGMA synchronous").fetchone()[0]
    assert level(Store(str(tmp_path / "a.db"))) == 1                     # NORMAL
    assert level(Store(str(tmp_path / "b.db"), sync="full")) == 2        # FULL
    with pytest.raises(ValueError, match="sync must be one of normal, full"):
        Store(str(tmp_path / "c.db"), sync="fast")
    out = subprocess.run([sys.executable, "-m", "convex_repl", "peer", "start", "--sync",
                          "fast", "--data", str(tmp_path / "d")], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 2 and out.stderr.strip() == (
        "convex: error: --sync must be normal or full, not 'fast'")


@pytest.mark.parametrize("n", [3])
def test_store_round_trips_states(tmp_path, n):
    from convex_repl.peer.peer import Peer
    from convex_repl.peer.store import Store
    from lisp import read
    store = Store(str(tmp_path / "p.db"))
    peer = Peer(store=store)
    for i in range(n):
        r = peer.run_as_faucet(read(f"(def v{i} (loop [v [] k 0] (if (< k {i * 50}) (recur (conj v k) (inc k)) v)))"))
        assert r.error is None
    h = peer.state.value_id()
    store.close()
    again = Peer(store=Store(str(tmp_path / "p.db")))
    assert again.state.value_id() == h and again.block_count == n
    assert again.query(read("(count v2)"), 12).value == 100


def test_a_store_in_the_old_cell_format_is_refused_with_a_clear_error(tmp_path):
    """Stores written before signed data was embedded have other block and belief IDs: the
    peer says so and exits 3 rather than failing somewhere later."""
    import sqlite3

    from convex_repl.peer.store import Store
    from kernel import Vector
    store = Store(str(tmp_path / "peer.db"))
    assert store.meta("format") == b"2"
    store.put(Vector.of(1, 2))
    store.close()
    db = sqlite3.connect(str(tmp_path / "peer.db"))
    db.execute("DELETE FROM meta")                     # as an older version left it
    db.commit()
    db.close()
    p = subprocess.run([sys.executable, "-m", "convex_repl", "peer", "start", "--data",
                        str(tmp_path), "--port", "0"], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert p.returncode == 3
    assert "older cell format" in p.stderr and "Traceback" not in p.stderr


def test_a_lone_peer_speaks_the_binary_protocol():
    import socket

    from convex_repl.peer.protocol import Connection, decode_message, encode_message, frame
    from kernel.data.blobs import Blob
    from kernel.transition.ledger import genesis_signing_key
    from kernel.data.scalars import Address, Keyword
    from kernel.state.transactions import Invoke, sign
    from kernel.data.vectors import Vector
    from lisp import read
    p, info = start_peer("--protocol-port", "0")
    try:
        host, port = info["protocol"].rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as s:
            c = Connection(s, outgoing=True)

            def ask(*msg):
                s.sendall(frame(encode_message(Vector.of(Keyword(msg[0]), *msg[1:]))))
                return decode_message(c.read_frame(), {})
            tx = sign(genesis_signing_key(13), Invoke.create(13, 1, read("(def lone 42)")))
            r = ask("TX", 1, tx)
            assert r.id == 1 and r.value == 42 and r.info_value("loc") is not None
            assert ask("Q", 2, read("(inc lone)"), Address(13)).value == 43
            assert ask("Q", 3, read("*address*"), None).value == Address(11)   # the default
            st = ask("SR", 4).value
            assert len(st) == 9 and st[5] == st[7] == 1
            assert st[3] == Blob(bytes.fromhex(info["peer"][2:]))
            state = ask("DR", 5, st[4]).value[0]
            assert state.value_id() == st[4].data
            assert ask("NOPE", 6).error == Keyword("FORMAT")
    finally:
        stop(p)
