"""A peer's resource bounds and its behaviour towards clients (issue 11 items 5, 6, 8b, 9):
every limit refuses with a clear answer (REST: a 4xx/503 JSON error; protocol: a Result with
a CVM-style error code) and changes nothing; one connection's transactions are taken in
order; a client disconnecting is one line on stderr; SIGINT stops a peer even when it was
started with SIGINT ignored.

Peers listen on 127.0.0.1 on ephemeral ports; each test stops what it starts."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from convex_repl.peer.peer import Peer
from convex_repl.peer.protocol import decode_message, encode_message, frame
from convex_repl.peer.protocol_peer import ProtocolPeer
from convex_repl.peer.rest import FaucetLimits, RestServer
from kernel.data.blobs import String
from kernel.data.cell import vlq
from kernel.transition.ledger import genesis_signing_key
from kernel.data.scalars import Keyword
from kernel.state.transactions import Invoke, sign
from kernel.data.vectors import Vector
from lisp import read

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SK13 = genesis_signing_key(13)
K = Keyword


# --- helpers -------------------------------------------------------------------------------------

def call(url, method, path, body=None, raw=None, timeout=30):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url + path, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode()


def post(srv, path, body=None, timeout=30):
    return call(srv.url, "POST", "/api/v1" + path, body, timeout=timeout)


def get(srv, path):
    return call(srv.url, "GET", "/api/v1" + path)


@pytest.fixture
def rest():
    """make(**RestServer options) -> a started RestServer on a started Peer."""
    made = []

    def make(peer=None, **kw):
        peer = peer or Peer().start()
        srv = RestServer(peer, "127.0.0.1", 0, **kw).start()
        made.append(srv)
        return srv
    yield make
    for srv in made:
        srv.stop()
        srv.peer.stop()


@pytest.fixture
def proto():
    """make(**ProtocolPeer options) -> a ProtocolPeer serving the peer protocol."""
    made = []

    def make(**kw):
        p = ProtocolPeer("127.0.0.1", 0, **kw).start_protocol()
        made.append(p)
        return p
    yield make
    for p in made:
        p.shutdown()


def read_frame(s, timeout=10):
    """The next frame's bytes on socket s; None if the peer closed it or sent nothing in
    time."""
    s.settimeout(timeout)
    try:
        hdr = b""
        while not hdr or hdr[-1] & 0x80:
            b = s.recv(1)
            if not b:
                return None
            hdr += b
        n = _vlq(hdr)
        data = b""
        while len(data) < n:
            b = s.recv(n - len(data))
            if not b:
                return None
            data += b
        return data
    except OSError:
        return None


def _vlq(hdr):
    n = 0
    for b in hdr:
        n = (n << 7) | (b & 0x7F)
    return n


def read_result(s, timeout=10):
    """The next message on socket s (a Result), or None."""
    data = read_frame(s, timeout)
    return None if data is None else decode_message(data, {})


def closed_by_peer(s, timeout=10):
    """True once the peer has closed s (whatever it sent before)."""
    s.settimeout(timeout)
    try:
        while s.recv(65536):
            pass
    except (ConnectionResetError, BrokenPipeError):
        pass
    return True


def tx(seq, src, key=SK13, origin=13):
    return sign(key, Invoke.create(origin, seq, read(src)))


def start_peer_process(*args, ignore_sigint=False, local=False):
    cmd = [sys.executable, "-m", "convex_repl", "local" if local else "peer", "start",
           "--port", "0", "--json", *args]
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    if ignore_sigint:                       # as nohup does: the peer inherits SIG_IGN
        cmd = [sys.executable, "-c", "import os, signal, sys; "
               "signal.signal(signal.SIGINT, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])",
               *cmd]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=ROOT)
    line = p.stdout.readline()
    if not line:
        p.kill()
        raise AssertionError("peer did not start: " + p.stderr.read())
    return p, json.loads(line)


def kill(p):
    if p.poll() is None:
        p.kill()
    p.wait(10)


# --- 5. protocol: frames and connections ------------------------------------------------------

def test_protocol_frame_too_long_is_refused_with_a_result(proto):
    p = proto(max_frame=1000)
    with socket.create_connection(p.address, timeout=10) as s:
        s.sendall(vlq(2000) + b"x" * 100)
        r = read_result(s)
        assert r.error == K("FORMAT") and "at most 1000" in str(r.value)
        assert closed_by_peer(s)
    with socket.create_connection(p.address, timeout=10) as s:      # others are served
        s.sendall(frame(encode_message(Vector.of(K("PING"), 3))))
        assert read_result(s).id == 3


def test_partial_frames_share_a_budget_and_the_peer_still_answers(proto):
    p = proto(frame_budget=1_000_000)
    socks = []
    try:
        refused = []
        for i in range(4):                   # 4 partial frames of 900 kB: 3.6 MB claimed
            s = socket.create_connection(p.address, timeout=10)
            socks.append(s)
            s.sendall(vlq(900_000) + b"\x00" * 400_000)
            time.sleep(0.3)
            assert p.budget.used <= 1_000_000
        for s in socks:
            r = read_result(s, 0.5)
            if r is not None:
                refused.append(r)
        assert refused and all(r.error == K("LOAD") and "try again" in str(r.value)
                               for r in refused)
        assert len(refused) >= 2             # at most two of 400 kB fit in 1 MB
        with socket.create_connection(p.address, timeout=10) as s:  # queries meanwhile
            s.sendall(frame(encode_message(Vector.of(K("Q"), 9, read("(+ 1 2)")))))
            r = read_result(s)
            assert r.id == 9 and r.value == 3
    finally:
        for s in socks:
            s.close()
    deadline = time.time() + 10
    while p.budget.used and time.time() < deadline:        # given back as they close
        time.sleep(0.05)
    assert p.budget.used == 0


def test_protocol_connections_are_bounded(proto):
    p = proto(max_connections=3, max_connections_per_ip=2)
    socks = [socket.create_connection(p.address, timeout=10) for _ in range(2)]
    try:
        for s in socks:                     # both served
            s.sendall(frame(encode_message(Vector.of(K("PING"), 1))))
            assert read_result(s).id == 1
        with socket.create_connection(p.address, timeout=10) as s:   # a third from this IP
            r = read_result(s)
            assert r.error == K("LOAD") and "Too many connections from 127.0.0.1" in str(r.value)
            assert closed_by_peer(s)
        socks.pop().close()
        time.sleep(0.3)
        with socket.create_connection(p.address, timeout=10) as s:   # room again
            s.sendall(frame(encode_message(Vector.of(K("PING"), 2))))
            assert read_result(s).id == 2
    finally:
        for s in socks:
            s.close()
    q = proto(max_connections=1)
    with socket.create_connection(q.address, timeout=10) as a:
        a.sendall(frame(encode_message(Vector.of(K("PING"), 1))))
        assert read_result(a).id == 1
        with socket.create_connection(q.address, timeout=10) as b:
            r = read_result(b)
            assert r.error == K("LOAD") and "at most 1" in str(r.value)


def test_protocol_query_size_is_bounded(proto):
    p = proto(max_query=1000)
    with socket.create_connection(p.address, timeout=10) as s:
        s.sendall(frame(encode_message(Vector.of(K("Q"), 4, String.of("x" * 5000)))))
        r = read_result(s)
        assert r.id == 4 and r.error == K("LIMIT") and "at most 1000" in str(r.value)
        s.sendall(frame(encode_message(Vector.of(K("Q"), 5, read("(+ 2 3)")))))
        assert read_result(s).value == 5


# --- 5. REST: sources, prepare, faucet, connections, timeouts ---------------------------------

def test_source_size_is_bounded_before_the_reader_runs(rest):
    srv = rest()
    big = "(+ 1 1) " * 600_000                # 4.8 MB: 35 s of reader before the bound
    before = get(srv, "/status")[1]["state"]
    for path, body in (("/query", {"source": big}),
                       ("/transaction/prepare", {"address": 13, "source": big}),
                       ("/transact", {"address": 13, "source": big, "seed": "00" * 32})):
        t = time.perf_counter()
        st, r = post(srv, path, body, timeout=10)
        assert st == 413 and "Source too large" in r["error"], (path, r)
        assert time.perf_counter() - t < 5
    assert get(srv, "/status")[1]["state"] == before
    small = rest(max_source=100)
    st, r = post(small, "/query", {"source": "(+ 1 2) " * 20})
    assert st == 413 and "at most 100" in r["error"]
    assert post(small, "/query", {"source": "(+ 1 2)"})[1]["value"] == 3


def _disk(path):
    return sum(f.stat().st_size for f in path.iterdir())


def test_prepare_writes_nothing_to_disk_and_memory_is_bounded(rest, tmp_path):
    from convex_repl.peer.store import Store
    store = Store(str(tmp_path / "peer.db"))
    peer = Peer(store=store, prepared_budget=500_000).start()
    srv = rest(peer)
    k = genesis_signing_key(13)

    def src(i):                             # ~90 kB of source, ~40 kB of cells of its own
        return "(def v [" + " ".join(str(i * 100_000 + j) for j in range(12_000)) + "])"
    st, first = post(srv, "/transaction/prepare", {"address": 13, "source": src(0)})
    assert st == 200
    size = _disk(tmp_path)
    for i in range(1, 21):
        st, r = post(srv, "/transaction/prepare", {"address": 13, "source": src(i)})
        assert st == 200
    assert _disk(tmp_path) - size < 100_000        # was 25 MB for 20 x 1 MB
    assert peer._prepared_bytes <= 500_000
    # the latest prepared transaction is still there to submit
    sig = k.sign(bytes.fromhex(r["hash"])).signature.hex()
    st, res = post(srv, "/transaction/submit", {"hash": r["hash"], "sig": sig,
                                                "accountKey": bytes(k.verify_key).hex()})
    assert st == 200 and "errorCode" not in res, res
    # the first one was forgotten: a clear answer, nothing changed
    sig = k.sign(bytes.fromhex(first["hash"])).signature.hex()
    st, res = post(srv, "/transaction/submit", {"hash": first["hash"], "sig": sig,
                                                "accountKey": bytes(k.verify_key).hex()})
    assert st == 404 and res["errorCode"] == "MISSING" and "prepare" in res["value"]


def test_faucet_amount_must_be_positive(rest):
    srv = rest()
    faucet = get(srv, "/accounts/12")[1]["balance"]
    before = get(srv, "/status")[1]["state"]
    for amount in (-5, 0, "-1"):
        st, r = post(srv, "/faucet", {"address": 13, "amount": amount})
        assert st == 400 and "must be positive" in r["error"], r
    st, r = post(srv, "/createAccount", {"accountKey": "ab" * 32, "faucet": -1})
    assert st == 400 and "must be 0 or more" in r["error"]
    assert get(srv, "/accounts/12")[1]["balance"] == faucet        # no fee was paid
    assert get(srv, "/status")[1]["state"] == before
    st, r = post(srv, "/faucet", {"address": 13, "amount": 10**15})   # lowered, as before
    assert st == 200 and r["amount"] == srv.peer.faucet_max


def test_faucet_limits_per_address_and_overall(rest):
    now = [1000.0]
    limits = FaucetLimits(window=60, per_address=1000, address_requests=3, total=2500,
                          total_requests=6, clock=lambda: now[0])
    srv = rest(faucet_limits=limits)
    assert post(srv, "/faucet", {"address": 13, "amount": 600})[0] == 200
    st, r = post(srv, "/faucet", {"address": 13, "amount": 600})    # 1200 > 1000 for #13
    assert st == 429 and "at most 1000 coins for #13" in r["error"]
    assert "try again in" in r["error"]
    assert post(srv, "/faucet", {"address": 13, "amount": 100})[0] == 200
    assert post(srv, "/faucet", {"address": 13, "amount": 100})[0] == 200
    st, r = post(srv, "/faucet", {"address": 13, "amount": 1})      # 4th request for #13
    assert st == 429 and "at most 3 faucet requests for #13" in r["error"]
    assert post(srv, "/faucet", {"address": 11, "amount": 900})[0] == 200
    st, r = post(srv, "/faucet", {"address": 1, "amount": 900})     # 2600 > 2500 overall
    assert st == 429 and "at most 2500 coins from the faucet" in r["error"]
    assert post(srv, "/createAccount", {"accountKey": "cd" * 32})[0] == 200
    assert post(srv, "/createAccount", {"accountKey": "cd" * 32})[0] == 200
    st, r = post(srv, "/createAccount", {"accountKey": "cd" * 32})  # 7th request
    assert st == 429 and "at most 6 faucet requests" in r["error"]
    now[0] += 61                                                       # a new window
    assert post(srv, "/faucet", {"address": 13, "amount": 900})[0] == 200


def test_rest_connections_are_bounded(rest):
    srv = rest(max_connections=4)
    idle = [socket.create_connection(("127.0.0.1", srv.port), timeout=10) for _ in range(12)]
    try:
        time.sleep(0.5)
        assert srv.httpd.count == 4              # 4 threads; 8 wait in the lobby, threadless
        st, r = get(srv, "/status")              # room made by closing the oldest idle one
        assert st == 200 and r["state"]
        assert srv.httpd.count <= 4
        time.sleep(2.5)                          # no request from them in 2 s: 503
        answers = []
        for s in idle:
            s.settimeout(0.2)
            try:
                answers.append(s.recv(4096))
            except OSError:
                answers.append(b"")
        busy = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
        assert len(busy) >= 8 and b'"error": "Server busy: too many connections"' in busy[0]
        many = [socket.create_connection(("127.0.0.1", srv.port), timeout=10)
                for _ in range(40)]              # more than the lobby holds: 503 at once
        time.sleep(0.5)
        many[-1].settimeout(2)
        assert many[-1].recv(4096).startswith(b"HTTP/1.1 503")
        for s in many:
            s.close()
    finally:
        for s in idle:
            s.close()
    # every connection busy: 503 with a message
    gate = threading.Event()
    api = srv.httpd.RequestHandlerClass.api
    orig = api.status
    api.status = lambda: (gate.wait(20), orig())[1]
    try:
        threads = [threading.Thread(target=get, args=(srv, "/status")) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        st, r = get(srv, "/accounts/13")
        assert st == 503 and r["error"] == "Server busy: too many connections"
    finally:
        gate.set()
        for t in threads:
            t.join(20)
        api.status = orig
    assert get(srv, "/accounts/13")[0] == 200


def test_slow_requests_time_out(rest):
    srv = rest(timeout=1.0)
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        closed = False
        for ch in b"GET /api/v1/status HTTP/1.1\r\nHost: a\r\nX-Slow: " + b"y" * 40:
            try:
                s.sendall(bytes([ch]))
            except OSError:
                closed = True
                break
            s.settimeout(0.2)
            try:
                if s.recv(100) == b"":
                    closed = True
                    break
            except socket.timeout:
                pass
            except OSError:
                closed = True
                break
        assert closed and time.monotonic() - start < 5    # a byte every 0.2 s: cut at 1 s
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"POST /api/v1/query HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n{")
        s.settimeout(10)
        answer = b""
        while chunk := s.recv(4096):      # headers and body may come in separate segments
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408") and b"not received within 1 s" in answer


# --- 6. one connection's transactions in order, one worker per connection ----------------------

def test_transactions_of_one_connection_arrive_in_order(proto):
    p = proto()
    n = 60
    seq = p.state.account(13).sequence
    msgs = [Vector.of(K("TX"), i, tx(seq + i, f"(def o{i} {i})")) for i in range(1, n + 1)]
    base = threading.active_count()
    most = [base]
    done = threading.Event()

    def watch():
        while not done.is_set():
            most[0] = max(most[0], threading.active_count())
            time.sleep(0.001)
    w = threading.Thread(target=watch)
    w.start()
    try:
        with socket.create_connection(p.address, timeout=30) as s:
            s.sendall(b"".join(frame(encode_message(m)) for m in msgs))   # back to back
            replies = [read_result(s, 30) for _ in msgs]
    finally:
        done.set()
        w.join()
    assert [r.id for r in replies] == list(range(1, n + 1))      # answered in order
    assert all(r.error is None for r in replies), [(r.id, r.error, r.value) for r in replies
                                                   if r.error is not None]
    assert p.state.account(13).sequence == seq + n
    assert most[0] - base <= 4          # reader + responder, not a thread per message


# --- 8b. a client disconnecting: one line, no traceback ----------------------------------------

def test_client_disconnecting_logs_one_line():
    p, info = start_peer_process("--protocol-port", "0")
    try:
        host, port = info["url"][len("http://"):].split(":")
        body = json.dumps({"source": "(loop [i 0] (if (< i 20000) (recur (inc i)) i))"})
        s = socket.create_connection((host, int(port)))       # gone before its answer
        s.sendall(b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                  % len(body) + body.encode())
        time.sleep(0.1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        rest_port = s.getsockname()[1]
        s.close()
        s = socket.create_connection((host, int(port)))       # gone mid-request
        s.sendall(b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        half_port = s.getsockname()[1]
        s.close()
        ph, pp = info["protocol"].split(":")
        s = socket.create_connection((ph, int(pp)))           # gone mid-frame
        s.sendall(vlq(5000) + b"abc")
        proto_port = s.getsockname()[1]
        s.close()
        time.sleep(2)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        kill(p)
    assert "Traceback" not in err, err
    lines = err.splitlines()
    for port_ in (rest_port, half_port, proto_port):
        mine = [x for x in lines if f":{port_} " in x]
        assert len(mine) == 1, (port_, err)
        assert mine[0].startswith("convex peer: ") and "disconnected" in mine[0]


# --- 9. SIGINT stops a peer even when started with SIGINT ignored ------------------------------

def test_sigint_stops_a_peer_started_with_sigint_ignored():
    p, info = start_peer_process(ignore_sigint=True)
    try:
        assert get(type("S", (), {"url": info["url"]}), "/status")[0] == 200
        p.send_signal(signal.SIGINT)
        assert p.wait(20) == 0
    finally:
        kill(p)


def test_limits_are_options_of_peer_start():
    p, info = start_peer_process("--protocol-port", "0", "--limit", "source=100",
                                 "--limit", "frame=1000")
    try:
        srv = type("S", (), {"url": info["url"]})
        st, r = post(srv, "/query", {"source": "(+ 1 2) " * 20})
        assert st == 413 and "at most 100" in r["error"]
        ph, pp = info["protocol"].split(":")
        with socket.create_connection((ph, int(pp)), timeout=10) as s:
            s.sendall(vlq(2000))
            r = read_result(s)
            assert r.error == K("FORMAT") and "at most 1000" in str(r.value)
    finally:
        kill(p)


def test_sigint_stops_a_local_network_started_with_sigint_ignored():
    p, info = start_peer_process("--peers", "2", "--limit", "source=100", ignore_sigint=True,
                                 local=True)
    try:
        urls = [x["url"] for x in info["peers"]]
        st, r = post(type("S", (), {"url": urls[1]}), "/query", {"source": "(+ 1 2) " * 20})
        assert st == 413 and "at most 100" in r["error"]      # --limit reaches every peer
        p.send_signal(signal.SIGINT)
        assert p.wait(30) == 0
        for u in urls:                       # its peers are gone too
            with pytest.raises(OSError):
                urllib.request.urlopen(u + "/api/v1/status", timeout=2)
    finally:
        kill(p)
