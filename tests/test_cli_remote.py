"""The CLI against real peer processes (issue 14): costs as the peer charges them, signing
with stored keys and CONVEX_SEED (locally too), -a for one command only, a URL that is not a
Convex REST peer failing fast in one line, and `convex local start --protocol-port`."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from test_peer_process import ROOT, start_peer, stop


@pytest.fixture(scope="module")
def peer():
    p, info = start_peer()
    yield info
    stop(p)


def convex(*args, home, env=None, cwd=ROOT, timeout=120):
    e = dict(os.environ, PYTHONPATH=ROOT, CONVEX_HOME=str(home), NO_COLOR="1")
    for k in ("CONVEX_URL", "CONVEX_SEED", "CONVEX_KEY_PASSWORD", "CONVEX_PROFILE"):
        e.pop(k, None)
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "convex_repl", *args], capture_output=True,
                       text=True, env=e, cwd=cwd, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def rest(url, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url + "/api/v1" + path, data=data),
                                timeout=30) as r:
        return json.loads(r.read())


def balance(url, n):
    return rest(url, f"/accounts/{n}")["balance"]


# --- item 2: costs from the target -----------------------------------------------------------

def test_transact_reports_the_peers_juice_price_and_the_fee_paid(peer, tmp_path):
    url = peer["url"]
    price = rest(url, "/query", {"source": "*juice-price*"})["value"]
    assert price != 1
    before = balance(url, 13)
    rc, out, err = convex("transact", "--url", url, "--json", "(+ 1 2)", home=tmp_path)
    assert rc == 0, err
    d = json.loads(out)
    assert d["value"] == "3" and d["juice_price"] == price
    assert d["fee"] == before - balance(url, 13)          # exactly what the peer charged
    assert d["fee"] > d["juice"] * price                  # juice + per-transaction juice
    # a query's cost is the peer's juice at the peer's price; --cost shows it
    rc, out, err = convex("query", "--url", url, "--json", "(+ 1 2)", home=tmp_path)
    q = json.loads(out)
    assert q["juice_price"] == price and q["fee"] == q["juice"] * price
    rc, out, err = convex("query", "--url", url, "--cost", "(+ 1 2)", home=tmp_path)
    assert rc == 0 and f"fee {q['fee']:,}" in err


def test_remote_estimate_runs_as_a_query(peer):
    from convex_repl.client.remote import Remote
    r = Remote(peer["url"])
    seq = r.account(13)["sequence"]
    est = r.estimate("(def estimated 1) (+ 1 2)", 13)
    assert est.ok and est.printed == "3" and est.juice > 0 and est.juice_price == 10
    assert est.fee > est.juice * 10 and est.memory is None
    assert r.account(13)["sequence"] == seq                          # nothing submitted
    assert r.query("(defined? 'estimated)", 13).printed == "false"  # nothing changed


# --- item 7: a URL that is not a Convex REST peer ---------------------------------------------

class _Html(BaseHTTPRequestHandler):
    def do_GET(self):
        body = b"<!DOCTYPE html><html><body>hello</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *a):
        pass


def _raw_server(reply):
    """A TCP server on a free port that answers every connection with `reply` bytes (None:
    says nothing and keeps the connection open)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held = []

    def serve():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            held.append(c)
            if reply is not None:
                try:
                    c.recv(4096)
                    c.sendall(reply)
                    c.close()
                except OSError:
                    pass
    threading.Thread(target=serve, daemon=True).start()
    return srv, srv.getsockname()[1]


def test_a_url_that_is_not_a_peer_fails_fast_in_one_line(peer, tmp_path):
    html = ThreadingHTTPServer(("127.0.0.1", 0), _Html)
    threading.Thread(target=html.serve_forever, daemon=True).start()
    binary, bport = _raw_server(bytes([0x90, 0x01, 0xff, 0x00, 0x13]) * 20)
    silent, sport = _raw_server(None)
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    closed = free.getsockname()[1]
    free.close()
    cases = {
        f"http://127.0.0.1:{html.server_address[1]}": "not a Convex REST peer",
        f"http://127.0.0.1:{bport}": "does not answer HTTP",
        f"http://127.0.0.1:{sport}": "no answer from",
        "http://" + peer["protocol"]: "no answer from",        # the peer-protocol port
        f"ftp://127.0.0.1:{closed}": "not a peer URL",
        f"http://127.0.0.1:{closed}": "can't reach the peer",
    }
    try:
        for url, said in cases.items():
            t0 = time.monotonic()
            rc, out, err = convex("eval", "--url", url, "1", home=tmp_path)
            took = time.monotonic() - t0
            assert rc == 3 and said in err, (url, rc, err)
            assert err.count("\n") == 1 and "Traceback" not in err, err
            assert took < 15, (url, took)
            rc, out, err = convex("status", "--url", url, "--json", home=tmp_path)
            assert rc == 3 and json.loads(out)["ok"] is False
    finally:
        html.shutdown()
        binary.close()
        silent.close()


# --- item 6: signing with stored keys and CONVEX_SEED; -a for one command --------------------

def test_stored_key_signs_against_a_peer(peer, tmp_path):
    url = peer["url"]
    pw = {"CONVEX_KEY_PASSWORD": "pw"}
    rc, out, err = convex("key", "generate", "--name", "alice", "--json", home=tmp_path,
                          env=pw)
    pk = json.loads(out)["public_key"]
    rc, out, err = convex("account", "create", "--key", "alice", "--url", url, "--json",
                          home=tmp_path, env=pw)
    assert rc == 0, err
    n = json.loads(out)["address"]
    rc, out, err = convex("account", "fund", n, "100000000", "--url", url, home=tmp_path)
    assert rc == 0, err
    rc, out, err = convex("eval", "--url", url, "-a", n, "--key", "alice", "*address*",
                          home=tmp_path, env=pw)
    assert rc == 0 and out.strip() == n, err
    assert rest(url, f"/accounts/{n.lstrip('#')}")["key"] == pk
    # wrong password; a key that is not the account's: refused before anything is sent
    seq = rest(url, "/accounts/13")["sequence"]
    rc, out, err = convex("eval", "--url", url, "-a", n, "--key", "alice", "1",
                          home=tmp_path, env={"CONVEX_KEY_PASSWORD": "wrong"})
    assert rc == 5 and "wrong password" in err
    rc, out, err = convex("transact", "--url", url, "--key", "alice", "1", home=tmp_path,
                          env=pw)
    assert rc == 5 and "is not the key of #13" in err and err.count("\n") == 1
    assert rest(url, "/accounts/13")["sequence"] == seq
    rc, out, err = convex("eval", "--key", "nobody", "1", home=tmp_path, env=pw)
    assert rc == 3 and "no key named" in err
    # CONVEX_SEED signs too
    rc, out, err = convex("key", "export", "alice", "--json", home=tmp_path, env=pw)
    seed = json.loads(out)["seed"]
    rc, out, err = convex("eval", "--url", url, "-a", n, "*address*", home=tmp_path,
                          env={"CONVEX_SEED": seed})
    assert rc == 0 and out.strip() == n, err


def test_convex_seed_and_key_locally_and_address_for_one_command(tmp_path):
    pw = {"CONVEX_KEY_PASSWORD": "pw"}
    rc, out, err = convex("key", "generate", "--name", "bob", "--json", home=tmp_path, env=pw)
    pk = json.loads(out)["public_key"]
    rc, out, err = convex("eval", f"(create-account {pk})", home=tmp_path)
    n = out.strip()
    assert rc == 0 and n.startswith("#"), err
    assert convex("eval", f"(transfer {n} 100000000)", home=tmp_path)[0] == 0
    rc, out, err = convex("eval", "-a", n, "--key", "bob", "(def mine 1) *address*",
                          home=tmp_path, env=pw)
    assert rc == 0 and out.strip() == n, err
    rc, out, err = convex("key", "export", "bob", "--json", home=tmp_path, env=pw)
    seed = json.loads(out)["seed"]
    rc, out, err = convex("transact", "-a", n, "--json", "mine", home=tmp_path,
                          env={"CONVEX_SEED": seed})
    assert rc == 0 and json.loads(out)["value"] == "1", err
    # CONVEX_SEED is honoured locally: it is not #13's key, so #13 can't sign with it
    rc, out, err = convex("eval", "1", home=tmp_path, env={"CONVEX_SEED": seed})
    assert rc == 5 and "CONVEX_SEED" in err and "#13" in err
    rc, out, err = convex("eval", "1", home=tmp_path, env={"CONVEX_SEED": "12"})
    assert rc == 5 and "32 bytes" in err
    # -a was for those commands only; `account use` changes the saved acting account
    assert convex("eval", "*address*", home=tmp_path)[1].strip() == "#13"
    rc, out, err = convex("account", "use", "11", home=tmp_path)
    assert rc == 0, err
    assert convex("eval", "*address*", home=tmp_path)[1].strip() == "#11"
    assert convex("eval", "-a", "13", "*address*", home=tmp_path)[1].strip() == "#13"
    assert convex("eval", "*address*", home=tmp_path)[1].strip() == "#11"


# --- item 9: convex local start --protocol-port -----------------------------------------------

def test_local_start_protocol_port(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    e = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.Popen([sys.executable, "-m", "convex_repl", "local", "start", "--port", "0",
                          "--protocol-port", str(port), "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, env=e, cwd=ROOT)
    try:
        info = json.loads(p.stdout.readline())
        assert info["protocol"] == f"127.0.0.1:{port}"
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
    finally:
        stop(p)
