"""Local networks of real peer processes on localhost (`convex peer start --cluster N`,
`convex local start --peers N`): transactions submitted to any peer are confirmed and every
peer reaches the same state hash; with 4 equal-stake peers, one killed with SIGKILL does not
stop the others, and restarted (from its --data, or empty) it catches up; a partitioned
minority confirms nothing conflicting; the official convex-sdk works against the network.

Partitions are real: peers reach each other only through TCP relays owned by the test,
which cuts and heals them."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from convex_repl.peer.protocol import Connection, decode_message, encode_message, frame
from test_peer_process import in_threads
from kernel.transition.ledger import genesis_signing_key
from kernel.data.scalars import Keyword
from kernel.state.transactions import Invoke, Result, sign
from kernel.data.vectors import Vector
from lisp import read

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
SK = genesis_signing_key(13)


# --- processes --------------------------------------------------------------------------------

class PeerProcess:
    """`convex peer start --cluster n --index i` and what it printed."""

    def __init__(self, n, i, peers=(), data=None, protocol_port=0):
        cmd = [sys.executable, "-m", "convex_repl", "peer", "start", "--cluster", str(n),
               "--index", str(i), "--port", "0", "--protocol-port", str(protocol_port),
               "--json"]
        for p in peers:
            cmd += ["--peer", p]
        if data is not None:
            cmd += ["--data", str(data)]
        self._start(cmd, ENV)

    def _start(self, cmd, env):
        """Run the peer command and read the JSON line it prints once listening."""
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=env, cwd=ROOT)
        line = self.p.stdout.readline()
        if not line:
            raise AssertionError("peer did not start: " + self.p.stderr.read())
        self.info = json.loads(line)
        self.url = self.info["url"]
        host, port = self.info["protocol"].rsplit(":", 1)
        self.address = (host, int(port))

    def status(self):
        with urllib.request.urlopen(self.url + "/api/v1/status", timeout=10) as r:
            return json.loads(r.read())

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait(10)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(15)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def until(check, timeout=40.0, what="condition"):
    end = time.time() + timeout
    while True:
        v = check()
        if v:
            return v
        assert time.time() < end, f"timed out waiting for {what}"
        time.sleep(0.1)


def same_state(peers, timeout=40.0):
    def check():
        hs = {p.status()["state"] for p in peers}
        return hs.pop() if len(hs) == 1 else None
    return until(check, timeout, "the same state hash on every peer")


def connected(peers, timeout=40.0):
    until(lambda: all(p.status()["consensus"] for p in peers), timeout, "peers to connect")


def tx(seq, src, key=SK, origin=13):
    return sign(key, Invoke.create(origin, seq, read(src)))


def submit(address, signed, timeout=60.0) -> Result:
    """[:TX id signed] over the peer protocol; the Result."""
    with socket.create_connection(address, timeout=timeout) as s:
        s.sendall(frame(encode_message(Vector.of(Keyword("TX"), 1, signed))))
        c = Connection(s, outgoing=True)
        data = c.read_frame()
    assert data is not None, "no reply"
    return decode_message(data, {})


def query(peer, src):
    req = urllib.request.Request(peer.url + "/api/v1/query", method="POST",
                                 data=json.dumps({"source": src, "address": 13}).encode())
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read()).get("value")


# --- relays the test can cut ---------------------------------------------------------------------

class Relay:
    """A TCP relay to `target`. cut() drops its connections and refuses new ones; pause()
    is a silent partition: connections stay open but nothing gets through until heal()."""

    def __init__(self, target):
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = "127.0.0.1:%d" % self.server.getsockname()[1]
        self.is_cut = False
        self.flowing = threading.Event()
        self.flowing.set()
        self.socks: list = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                a, _ = self.server.accept()
            except OSError:
                return
            if self.is_cut:
                a.close()
                continue
            try:
                b = socket.create_connection(self.target, timeout=2)
            except OSError:
                a.close()
                continue
            with self.lock:
                self.socks += [a, b]
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pump, args=(x, y), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while True:
                d = src.recv(65536)
                self.flowing.wait()
                if not d or self.is_cut:
                    break
                dst.sendall(d)
        except OSError:
            pass
        _hang_up(src, dst)

    def cut(self):
        self.is_cut = True
        with self.lock:
            socks, self.socks = self.socks, []
        _hang_up(*socks)

    def pause(self):
        self.flowing.clear()

    def heal(self):
        self.is_cut = False
        self.flowing.set()

    def close(self):
        self.cut()
        self.server.close()


def _hang_up(*socks):
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


def start_network(n, data=None, relays=False):
    """n peer processes started in turn, each dialling those before it (through relays when
    asked: relays[(j, i)] carries j's connection to i)."""
    peers, links = [], {}
    for j in range(n):
        bootstrap = []
        for i, p in enumerate(peers):
            if relays:
                links[(j, i)] = Relay(p.address)
                bootstrap.append(links[(j, i)].address)
            else:
                bootstrap.append("%s:%d" % p.address)
        peers.append(PeerProcess(n, j, bootstrap, None if data is None else data / f"p{j}"))
    connected(peers)
    return peers, links


def stop_network(peers, links=None):
    for p in peers:
        p.stop()
    for r in (links or {}).values():
        r.close()


# --- tests --------------------------------------------------------------------------------------

def test_three_processes_confirm_and_agree():
    peers, _ = start_network(3)
    try:
        for i in range(1, 7):
            r = submit(peers[i % 3].address, tx(i, f"(def x{i} (* {i} {i}))"))
            assert r.error is None and r.value == i * i, r
            assert r.info_value("loc") is not None
        h = same_state(peers)
        assert all(query(p, "x6") == 36 for p in peers)
        st = peers[0].status()
        assert st["consensus-point"] >= 6 and st["state"] == h
    finally:
        stop_network(peers)


def test_killed_peer_does_not_stop_the_others_and_catches_up(tmp_path):
    peers, _ = start_network(4, data=tmp_path)
    try:
        assert submit(peers[0].address, tx(1, "(def b 1)")).error is None
        same_state(peers)
        port2, port3 = peers[2].address[1], peers[3].address[1]
        peers[2].kill()                                 # SIGKILL: no goodbye
        peers[3].kill()
        # 2 of 4 equal stakes down: nothing can be confirmed, and the peers say so
        until(lambda: not peers[0].status()["consensus"], what=":NETWORK on peer 0")
        r = submit(peers[0].address, tx(2, "(def b 2)"))
        assert r.error == Keyword("NETWORK"), r
        # peer 3 back with an empty store: 3 of 4 again
        peers[3] = PeerProcess(4, 3, ["%s:%d" % p.address for p in peers[:2]], None, port3)
        connected([peers[0], peers[1], peers[3]])
        for i in range(2, 5):
            r = submit(peers[(0, 1, 3)[i % 3]].address, tx(i, f"(def b {i})"))
            assert r.error is None, r
        # peer 2 restarts from its own store, at its old address, and catches up
        peers[2] = PeerProcess(4, 2, ["%s:%d" % p.address for p in peers[:2]],
                               tmp_path / "p2", port2)
        assert peers[2].info["blocks"] >= 1            # what it had confirmed was kept
        h = same_state(peers)
        assert query(peers[2], "b") == 4 and query(peers[3], "b") == 4
        assert peers[2].status()["state"] == h
    finally:
        stop_network(peers)


def test_partitioned_minority_confirms_nothing_conflicting():
    peers, links = start_network(4, relays=True)
    try:
        assert submit(peers[0].address, tx(1, "(def side :start)")).error is None
        same_state(peers)
        before = peers[3].status()
        for (j, i), r in links.items():
            if 3 in (i, j):
                r.pause()               # silent: peer 3 notices only when nothing arrives
        # peer 3 takes a conflicting transaction before it can know it is cut off
        minority: list = []
        t = threading.Thread(target=lambda: minority.append(
            submit(peers[3].address, tx(2, "(def side :minority)"), timeout=120)))
        t.start()
        r = submit(peers[1].address, tx(2, "(def side :majority)"))
        assert r.error is None, r
        until(lambda: not peers[3].status()["consensus"], what="peer 3 to see it is cut off")
        r = submit(peers[3].address, tx(3, "(def side :late)"))
        assert r.error == Keyword("NETWORK") and "cut off" in str(r.value), r
        assert query(peers[3], "side") == "start"     # it confirmed nothing meanwhile
        assert peers[3].status()["consensus-point"] == before["consensus-point"]
        for r in links.values():
            r.heal()
        t.join(120)
        # peer 3's block was ordered after the majority's: its transaction ran second, and
        # failed on its sequence number
        assert minority and minority[0].error == Keyword("SEQUENCE"), minority
        same_state(peers, 60)
        assert all(query(p, "side") == "majority" for p in peers)
        # an even split: neither half has more than 2/3 of the stake
        for (j, i), r in links.items():
            if (i < 2) != (j < 2):
                r.cut()
        until(lambda: not any(p.status()["consensus"] for p in peers), what="both halves cut off")
        assert submit(peers[0].address, tx(3, "(def side :left)")).error == Keyword("NETWORK")
        assert submit(peers[2].address, tx(3, "(def side :right)")).error == Keyword("NETWORK")
        for r in links.values():
            r.heal()
        connected(peers)
        assert submit(peers[2].address, tx(3, "(def side :whole)")).error is None
        same_state(peers)
        assert all(query(p, "side") == "whole" for p in peers)
    finally:
        stop_network(peers, links)


def start_local(*args):
    """`convex local start --port 0 --json ARGS...`: (its process, the JSON it printed)."""
    p = subprocess.Popen([sys.executable, "-m", "convex_repl", "local", "start", "--port", "0",
                          "--json", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                         cwd=ROOT)
    line = p.stdout.readline()
    if not line:
        p.kill()
        raise AssertionError("network did not start: " + p.stderr.read())
    return p, json.loads(line)


@pytest.fixture(scope="module")
def local3(tmp_path_factory):
    data = tmp_path_factory.mktemp("net")
    p, info = start_local("--peers", "3", "--data", str(data))
    yield p, info, data
    if p.poll() is None:
        p.kill()
        p.wait()


def test_official_sdk_against_local_start(local3):
    sdk = pytest.importorskip("convex_sdk")
    _p, info, _data = local3
    urls = [x["url"] for x in info["peers"]]
    assert len(urls) == 3 and info["url"] == urls[0]
    results = {}

    def worker(i):
        c = sdk.Convex(urls[i % 3])                     # each thread on its own peer
        acc = c.create_account(sdk.KeyPair())
        assert c.request_funds(10_000_000, acc) == 10_000_000
        vals = [c.transact(f"(def v{j} (* {i} {j}))", acc).value for j in range(3)]
        assert c.transfer(13, 100, acc) == 100
        c.transact("(def store (deploy '(do (def x nil) (defn put ^{:callable? true} "
                   "[v] (def x v)) (defn get ^{:callable? true} [] x))))", acc)
        c.transact(f"(call store (put {i}))", acc)
        got = c.query("(call store (get))", acc).value
        results[i] = (vals, got, c.get_account_info(acc).sequence)
    errors = in_threads(worker, 6)
    assert not errors, errors
    assert results == {i: ([0, i, 2 * i], i, 6) for i in range(6)}


def test_our_client_and_the_sdk_agree_on_local_start(local3):
    from test_peer_client import clients_agree
    clients_agree(local3[1]["peers"][2]["url"])


def test_our_url_client_against_local_start(local3, tmp_path):
    _p, info, _data = local3
    env = dict(ENV, CONVEX_HOME=str(tmp_path), NO_COLOR="1")
    outs = []
    for x in info["peers"]:
        r = subprocess.run([sys.executable, "-m", "convex_repl", "query", "--url", x["url"],
                            "(balance #13)"], capture_output=True, text=True, env=env,
                           cwd=ROOT, timeout=60)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout.strip())
    assert len(set(outs)) == 1 and int(outs[0]) > 0
    r = subprocess.run([sys.executable, "-m", "convex_repl", "status", "--url",
                        info["peers"][1]["url"]], capture_output=True, text=True, env=env,
                       cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "3 peers" in r.stdout and "reaching      100% of the stake" in r.stdout
    # a past state (the SDK test made blocks): every peer gives the same *timestamp* then
    past = {subprocess.run([sys.executable, "-m", "convex_repl", "query", "--url", x["url"],
                            "--block", "0", "*timestamp*"], capture_output=True, text=True,
                           env=env, cwd=ROOT, timeout=60).stdout.strip()
            for x in info["peers"]}
    assert len(past) == 1 and past.pop().isdigit()
    r = subprocess.run([sys.executable, "-m", "convex_repl", "query", "--block", "0", "1"],
                       capture_output=True, text=True, env=env, cwd=ROOT, timeout=60)
    assert r.returncode != 0 and "--block needs a peer" in r.stderr


def test_local_start_keeps_its_data(local3):
    p, info, data = local3
    urls = [x["url"] for x in info["peers"]]
    req = urllib.request.Request(urls[1] + "/api/v1/createAccount", method="POST",
                                 data=json.dumps({"accountKey": "cd" * 32}).encode())
    with urllib.request.urlopen(req, timeout=60) as r:
        a = json.loads(r.read())["address"]

    def states():
        out = set()
        for u in urls:
            with urllib.request.urlopen(u + "/api/v1/status", timeout=10) as r:
                out.add(json.loads(r.read())["state"])
        return out
    h = until(lambda: (lambda s: s.pop() if len(s) == 1 else None)(states()))
    p.send_signal(signal.SIGINT)
    assert p.wait(30) == 0
    q = subprocess.Popen([sys.executable, "-m", "convex_repl", "local", "start", "--peers",
                          "3", "--port", "0", "--json", "--data", str(data)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
                         cwd=ROOT)
    try:
        again = json.loads(q.stdout.readline())
        urls = [x["url"] for x in again["peers"]]
        assert states() == {h}
        with urllib.request.urlopen(urls[2] + f"/api/v1/accounts/{a}", timeout=10) as r:
            assert json.loads(r.read())["key"] == "0x" + "cd" * 32
    finally:
        q.send_signal(signal.SIGTERM)
        q.wait(30)
