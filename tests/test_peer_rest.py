"""The local peer's REST API (rest-api.md): every endpoint the official SDK uses, with its JSON
shapes, status codes and error bodies; malformed requests change nothing.

The server runs in this process on 127.0.0.1 with an ephemeral port."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest
from nacl.signing import SigningKey

from convex_repl.peer.peer import Peer
from convex_repl.peer.rest import RestServer


@pytest.fixture(scope="module")
def server():
    peer = Peer(faucet_max=10**9).start()
    srv = RestServer(peer, "127.0.0.1", 0).start()
    yield srv
    srv.stop()
    peer.stop()


def call(srv, method, path, body=None, raw=None, headers=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(srv.url + path, data=data, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text)
        except ValueError:
            return e.code, text.decode()


def post(srv, path, body=None, raw=None):
    return call(srv, "POST", "/api/v1" + path, body, raw)


def get(srv, path):
    return call(srv, "GET", path if path.startswith("/openapi") else "/api/v1" + path)


def new_account(srv, funds=100_000_000):
    k = SigningKey.generate()
    st, r = post(srv, "/createAccount", {"accountKey": bytes(k.verify_key).hex(),
                                         "faucet": funds})
    assert st == 200, r
    return k, r["address"]


def transact(srv, key, address, source, sequence=None):
    st, p = post(srv, "/transaction/prepare", {"address": address, "source": source,
                                               "sequence": sequence})
    assert st == 200, p
    sig = key.sign(bytes.fromhex(p["hash"])).signature.hex()
    return post(srv, "/transaction/submit", {"address": address, "hash": p["hash"],
                                             "accountKey": bytes(key.verify_key).hex(),
                                             "sig": sig})


# --- query ---------------------------------------------------------------------------------------

def test_query_values_and_errors(server):
    assert post(server, "/query", {"source": "(+ 1 2)"}) == (200, {
        "value": 3, "result": "3", "info": {"juice": post(server, "/query", {
            "source": "(+ 1 2)"})[1]["info"]["juice"]}})
    st, r = post(server, "/query", {"source": "[1 :a \"s\" #12 0xAB nil {:k 1}]",
                                    "address": 13})
    assert st == 200 and r["value"] == [1, "a", "s", 12, "0xab", None, {"k": 1}]
    assert r["result"] == '[1 :a "s" #12 0xab nil {:k 1}]'
    st, r = post(server, "/query", {"source": "(count)", "address": "#13"})
    assert st == 200 and r["errorCode"] == "ARITY"
    st, r = post(server, "/query", {"source": "undefined-thing", "address": "13"})
    assert st == 200 and r["errorCode"] == "UNDECLARED"
    st, r = post(server, "/query", {"source": "*address*", "address": 99999})
    assert st == 200 and r["errorCode"] == "NOBODY"
    assert post(server, "/query", {"source": "*address*"})[1]["value"] == 11
    assert post(server, "/query", {"source": "*registry*", "address": 2})[1]["value"] == 9
    assert post(server, "/query", {"source": "@convex.trust", "address": 1})[1]["value"] == 10
    assert post(server, "/query", {"source": "(resolve convex.trust)", "address": 3}
                )[1]["value"] == 10
    # extra fields are ignored
    assert post(server, "/query", {"source": "1", "lang": "convex-lisp"})[1]["value"] == 1


def test_query_bad_requests(server):
    for raw in (b"", b"{", b"[1]", b"null"):
        st, r = post(server, "/query", raw=raw)
        assert st == 400 and "error" in r
    for body in ({}, {"source": None}, {"source": 12}, {"source": "(+ 1"},
                 {"source": "(+ 1 2)", "address": "nope"}, {"source": "1", "address": -1}):
        st, r = post(server, "/query", body)
        assert st == 400 and isinstance(r["error"], str), body
    assert "Could not parse source" in post(server, "/query", {"source": "(+ 1"})[1]["error"]


def test_body_without_content_type(server):
    req = urllib.request.Request(server.url + "/api/v1/query", method="POST",
                                 data=b'{"address":13,"source":"(* 6 7)"}')
    req.remove_header("Content-type")
    with urllib.request.urlopen(req) as r:
        assert json.loads(r.read())["value"] == 42


# --- prepare / submit ----------------------------------------------------------------------------

def test_prepare_hash_is_the_ref_encoding(server):
    st, r = post(server, "/transaction/prepare", {"address": 12, "source": "(* 2 3)",
                                                  "sequence": 14})
    assert st == 200
    assert r == {"address": 12, "source": "(* 2 3)", "sequence": 14,
                 "hash": "d003ea0c110e81031103110232012a",
                 "data": "d003ea0c110e81031103110232012a"}
    # a big command is a ref inside the transaction, which stays embedded
    big = "(quote [" + " ".join(f'"{"x" * 20}{i}"' for i in range(12)) + "])"
    st, r = post(server, "/transaction/prepare", {"address": 13, "source": big})
    assert st == 200 and len(r["hash"]) < 140 and len(r["data"]) > 400
    # a transaction cell over 140 bytes: the hash is 0x20 + SHA3 of its encoding
    st, r = post(server, "/transaction/prepare", {"address": 13, "source": '"' + "z" * 135 + '"'})
    assert st == 200 and len(r["hash"]) == 66 and r["hash"].startswith("20")
    # the sequence defaults to the account's next one
    st, r = post(server, "/transaction/prepare", {"address": 13, "source": "1",
                                                  "sequence": None})
    assert r["sequence"] == post(server, "/query", {"source": "*sequence*", "address": 13}
                                 )[1]["value"] + 1


def test_prepare_errors(server):
    st, r = post(server, "/transaction/prepare", {"address": 99999, "source": "1"})
    assert st == 200 and r["errorCode"] == "NOBODY"
    for body in ({"source": "1"}, {"address": 13}, {"address": 13, "source": 5},
                 {"address": 13, "source": "(("}, {"address": 13, "source": "1",
                                                   "sequence": "x"},
                 {"address": "#x", "source": "1"}):
        st, r = post(server, "/transaction/prepare", body)
        assert st == 400 and r["error"], body


def test_transaction_round_trip(server):
    key, a = new_account(server)
    st, r = transact(server, key, a, "(def x [1 2 3]) (map inc x)")
    assert st == 200 and r["value"] == [2, 3, 4] and r["result"] == "[2 3 4]"
    info = r["info"]
    assert info["juice"] > 0 and info["fees"] > 0
    assert info["tx"].startswith("0x") and len(info["tx"]) == 66
    assert isinstance(info["loc"], list) and len(info["loc"]) == 2
    acct = get(server, f"/accounts/{a}")[1]
    assert acct["sequence"] == 1
    # the transaction can be found by its hash
    st, t = get(server, "/tx?hash=" + info["tx"])
    assert st == 200 and t["position"] == info["loc"] and t["result"]["value"] == [2, 3, 4]
    # a CVM error is a 200 Result; the sequence still goes up
    st, r = transact(server, key, a, "(fail :FOO \"no\")")
    assert st == 200 and r["errorCode"] == "FOO" and r["value"] == "no"
    assert r["info"]["source"] == "CODE"
    assert get(server, f"/accounts/{a}")[1]["sequence"] == 2


def test_submit_prechecks_change_nothing(server):
    key, a = new_account(server)
    st, p = post(server, "/transaction/prepare", {"address": a, "source": "(def y 1)"})
    pk = bytes(key.verify_key).hex()
    good = key.sign(bytes.fromhex(p["hash"])).signature.hex()
    before = get(server, "/status")[1]["state"]
    other = SigningKey.generate()
    cases = [
        ({"hash": p["hash"], "accountKey": pk, "sig": "00" * 64}, "SIGNATURE"),
        ({"hash": p["hash"], "accountKey": bytes(other.verify_key).hex(),
          "sig": other.sign(bytes.fromhex(p["hash"])).signature.hex()}, "SIGNATURE"),
    ]
    for body, code in cases:
        st, r = post(server, "/transaction/submit", body)
        assert st == 200 and r["errorCode"] == code and r["info"]["source"] == "PEER"
    assert get(server, "/status")[1]["state"] == before
    st, r = post(server, "/transaction/submit", {"hash": p["hash"], "accountKey": pk,
                                                 "sig": good, "address": a})
    assert st == 200 and "errorCode" not in r
    # a replay is refused by the peer
    st, r = post(server, "/transaction/submit", {"hash": p["hash"], "accountKey": pk,
                                                 "sig": good})
    assert st == 200 and r["errorCode"] == "SEQUENCE" and r["info"]["source"] == "PEER"
    # an actor can't transact; an unknown account neither
    for addr, code in ((9, "STATE"), (99999, "NOBODY")):
        st, p2 = post(server, "/transaction/prepare", {"address": addr, "source": "1",
                                                       "sequence": 5})
        st, r = post(server, "/transaction/submit", {
            "hash": p2["hash"], "accountKey": pk,
            "sig": key.sign(bytes.fromhex(p2["hash"])).signature.hex()})
        assert r["errorCode"] == code


def test_submit_bad_requests(server):
    key, a = new_account(server)
    pk = bytes(key.verify_key).hex()
    st, p = post(server, "/transaction/prepare", {"address": a, "source": "1"})
    sig = key.sign(bytes.fromhex(p["hash"])).signature.hex()
    before = get(server, "/status")[1]["state"]
    for body in ({"accountKey": pk, "sig": sig}, {"hash": p["hash"], "sig": sig},
                 {"hash": p["hash"], "accountKey": pk}, {"hash": "zz", "accountKey": pk,
                                                         "sig": sig},
                 {"hash": p["hash"], "accountKey": pk[:10], "sig": sig},
                 {"hash": p["hash"], "accountKey": pk, "sig": sig[:100]},
                 {"hash": "ff00", "accountKey": pk, "sig": sig}):
        st, r = post(server, "/transaction/submit", body)
        assert st == 400 and r["error"], body
    # a valid value that is not a transaction: FORMAT
    st, r = post(server, "/transaction/submit", {"hash": "110c", "accountKey": pk, "sig": sig})
    assert st == 400 and r["errorCode"] == "FORMAT"
    # a ref to data never prepared: MISSING
    st, r = post(server, "/transaction/submit", {"hash": "20" + "ab" * 32, "accountKey": pk,
                                                 "sig": sig})
    assert st == 404 and r["errorCode"] == "MISSING"
    assert "prepare first" in r["value"]
    assert get(server, "/status")[1]["state"] == before


def test_big_transaction_needs_its_prepared_cells(server):
    key, a = new_account(server)
    big = "(count [" + " ".join(f'"{"y" * 30}{i}"' for i in range(10)) + "])"
    st, r = transact(server, key, a, big)
    assert st == 200 and r["value"] == 10
    st, r = transact(server, key, a, '"' + "z" * 135 + '"')
    assert st == 200 and r["value"] == "z" * 135


def test_explicit_sequence_gap_fails_in_the_cvm(server):
    key, a = new_account(server)
    st, r = transact(server, key, a, "1", sequence=5)
    assert r["errorCode"] == "SEQUENCE"


# --- accounts, faucet, createAccount -------------------------------------------------------------

def test_create_account_and_faucet(server):
    k = SigningKey.generate()
    pk = bytes(k.verify_key).hex()
    st, r = post(server, "/createAccount", {"accountKey": pk.upper()})
    assert st == 200 and set(r) == {"address"}
    a = r["address"]
    st, acct = get(server, f"/accounts/{a}")
    assert acct == {"address": a, "key": "0x" + pk, "balance": 0, "allowance": 0,
                    "memorySize": acct["memorySize"], "sequence": 0, "type": "user"}
    st, r2 = post(server, "/createAccount", {"accountKey": "0x" + pk})
    assert r2["address"] != a
    st, f = post(server, "/faucet", {"address": a, "amount": 1234})
    assert st == 200 and f == {"address": a, "amount": 1234, "value": 1234}
    st, f = post(server, "/faucet", {"address": f"#{a}", "amount": "10"})
    assert st == 200 and f["address"] == a and f["amount"] == 10
    st, f = post(server, "/faucet", {"address": a, "amount": 10**15})
    assert f["amount"] == 10**9                     # capped at the faucet maximum
    assert get(server, f"/accounts/{a}")[1]["balance"] == 1234 + 10 + 10**9
    st, r = post(server, "/faucet", {"address": a, "amount": -5})
    assert st == 400 and "must be positive" in r["error"]      # refused before any fee


def test_create_account_and_faucet_bad_requests(server):
    before = get(server, "/status")[1]["state"]
    for body in ({}, {"accountKey": "12"}, {"accountKey": None}, {"accountKey": "zz" * 32},
                 {"accountKey": 5}):
        st, r = post(server, "/createAccount", body)
        assert st == 400 and r["error"], body
    for body in ({}, {"address": 13}, {"amount": 5}, {"address": "x", "amount": 5},
                 {"address": 13, "amount": "lots"}, {"address": True, "amount": 1}):
        st, r = post(server, "/faucet", body)
        assert st == 400 and r["error"], body
    assert get(server, "/status")[1]["state"] == before


def test_faucet_disabled():
    peer = Peer(faucet=False)
    srv = RestServer(peer, "127.0.0.1", 0).start()
    try:
        st, r = post(srv, "/createAccount", {"accountKey": "ab" * 32})
        assert st == 403 and r == {"error": "Faucet use not authorised on this server"}
        st, r = post(srv, "/faucet", {"address": 13, "amount": 5})
        assert st == 403
    finally:
        srv.stop()


def test_account_endpoint(server):
    st, r = get(server, "/accounts/13")
    assert st == 200 and r["type"] == "user" and r["balance"] > 0
    for form in ("#13", "0xd", "13"):
        assert get(server, f"/accounts/{form.replace('#', '%23')}")[1]["address"] == 13
    assert get(server, "/accounts/9")[1]["type"] == "actor"
    assert get(server, "/accounts/9")[1]["key"] is None
    for bad in (str(2**100), str(2**1024), "-1", "abc"):
        st, r = get(server, f"/accounts/{bad}")
        assert st == 400 and "INCORRECT" in json.dumps(r) and r["error"].startswith(
            "Invalid address")
    st, r = get(server, "/accounts/99999")
    assert st == 404 and r["errorCode"] == "NOBODY"


def test_concurrent_create_accounts(server):
    out, errors = [], []

    def one():
        try:
            k = SigningKey.generate()
            st, r = post(server, "/createAccount", {"accountKey": bytes(k.verify_key).hex()})
            assert st == 200
            out.append(r["address"])
        except Exception as e:          # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=one) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(set(out)) == 24


# --- everything else -----------------------------------------------------------------------------

def test_openapi_document(server):
    st, doc = get(server, "/openapi")
    assert st == 200 and doc["openapi"].startswith("3.")
    for p in ("/createAccount", "/faucet", "/query", "/transaction/prepare",
              "/transaction/submit", "/accounts/{address}"):
        assert "/api/v1" + p in doc["paths"]
    assert get(server, "/openapi.json")[1] == doc


def test_http_edges(server):
    req = urllib.request.Request(server.url + "/api/v1/query", method="OPTIONS")
    with urllib.request.urlopen(req) as r:
        assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == "*"
    assert get(server, "/nothing-here")[0] == 404
    assert post(server, "/nothing-here", {})[0] == 404
    import socket
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 60000000\r\n\r\n{")
        assert sock.recv(100).startswith(b"HTTP/1.1 413")
    st, r = get(server, "/status")
    assert st == 200 and r["state"].startswith("0x")
    st, r = get(server, "/blocks?limit=2")
    assert st == 200 and r["count"] >= 1 and len(r["items"]) <= 2
    assert get(server, "/blocks/0")[1]["index"] == 0
    assert get(server, "/blocks/999999")[0] == 404
    assert post(server, "/data/encode", {"data": "12"})[1]["cad3"] == "110c"
    assert post(server, "/data/encode", {"data": "[]"})[1]["cad3"] == "8000"
    assert post(server, "/data/decode", {"cad3": "8000"})[1]["cvx"] == "[]"


def test_transact_with_seed_and_raw(server):
    from kernel.data.decoding import encode_multi
    from kernel.state.transactions import Invoke, sign
    seed = bytes(range(32))
    k = SigningKey(seed)
    st, r = post(server, "/createAccount", {"accountKey": bytes(k.verify_key).hex(),
                                            "faucet": 10**8})
    a = r["address"]
    st, r = post(server, "/transact", {"address": a, "source": "(+ 40 2)",
                                       "seed": seed.hex()})
    assert st == 200 and r["value"] == 42
    signed = sign(k, Invoke.create(a, 2, __import__("lisp").read("(* 6 7)")))
    req = urllib.request.Request(server.url + "/api/v1/transact", method="POST",
                                 data=encode_multi(signed),
                                 headers={"Content-Type": "application/cvx-raw"})
    with urllib.request.urlopen(req) as resp:
        assert json.loads(resp.read())["value"] == 42


# --- the official client ---------------------------------------------------------------------------

def test_official_sdk(server):
    sdk = pytest.importorskip("convex_sdk")
    c = sdk.Convex(server.url)
    acc = c.create_account(sdk.KeyPair())
    assert c.request_funds(10_000_000, acc) == 10_000_000
    assert c.get_balance(acc) == 10_000_000
    assert c.transact("(map inc [1 2 3])", acc).value == [2, 3, 4]
    assert c.query("(+ 1 2)", acc).value == 3
    assert c.transfer(13, 100, acc) == 100
    info = c.get_account_info(acc)
    assert info.address == acc.address and info.sequence == 2 and info.type == "user"
    assert c.resolve_name("convex.trust") == 10
    assert c.get_balance(99999) == 0
    c.transact("(def storage-example (deploy '(do (def stored-data nil) "
               "(defn get ^{:callable? true} [] stored-data) "
               "(defn set ^{:callable? true} [x] (def stored-data x)))))", acc)
    c.transact("(call storage-example(set 5))", acc)
    assert c.query("(call storage-example (get))", acc).value == 5
    with pytest.raises(sdk.exceptions.ConvexAPIError) as e:
        c.query("(count)", acc)
    assert e.value.code == "ARITY"
    with pytest.raises(sdk.exceptions.ConvexRequestError) as e:
        c.get_account_info(2**100)
    assert "INCORRECT" in str(e.value)


def test_official_sdk_from_threads(server):
    sdk = pytest.importorskip("convex_sdk")
    from test_peer_process import in_threads
    c = sdk.Convex(server.url)
    results = {}

    def worker(i):
        acc = c.create_account(sdk.KeyPair())
        c.request_funds(10_000_000, acc)
        vals = [c.transact(f"(def v{j} (* {i} {j}))", acc).value for j in range(3)]
        results[i] = (vals, c.get_account_info(acc).sequence)
    assert not in_threads(worker, 6)
    assert results == {i: ([0, i, 2 * i], 3) for i in range(6)}


def test_query_at_an_earlier_block(server):
    key, a = new_account(server)
    assert transact(server, key, a, "(def era 1)")[0] == 200
    st, r = transact(server, key, a, "(def era 2)")
    first = r["info"]["loc"][0] - 1            # the block holding (def era 1)
    q = {"source": "era", "address": a}
    assert post(server, "/query", q)[1]["value"] == 2
    assert post(server, "/query", dict(q, block=first))[1]["value"] == 1
    assert post(server, "/query", dict(q, block=first - 1))[1]["errorCode"] == "UNDECLARED"
    st, r = post(server, "/query", dict(q, block=10**6))
    assert st == 404 and "No state after block" in r["error"]
    st, r = post(server, "/query", dict(q, block="x"))
    assert st == 400


def test_a_stored_peer_keeps_past_states(tmp_path):
    from convex_repl.peer.store import Store
    from lisp import read
    peer = Peer(store=Store(str(tmp_path / "p.db"))).start()
    try:
        for i in (1, 2, 3):
            assert peer.run_as_faucet(read(f"(def k {i})")).error is None
        assert [peer.query(read("k"), 12, state=peer.state_at(n)).value
                for n in range(3)] == [1, 2, 3]
        assert peer.state_at(3) is None and peer.state_at(-1) is None
    finally:
        peer.stop()
        peer.store.close()


def test_a_huge_shared_result_is_sent_cut_and_quickly(server):
    # 2^40 elements when unfolded, a few cells in memory: the answer must not walk them all
    import time
    from kernel.data.decoding import encode_multi
    from kernel.data.vectors import Vector
    src = "(loop [v [1] i 0] (if (< i 40) (recur [v v] (inc i)) v))"
    start = time.perf_counter()
    status, body = post(server, "/query", {"source": src, "address": 13})
    assert status == 200 and body.get("errorCode") is None, body
    assert body["truncated"] is True and body["result"].endswith("...")
    assert body["result"].startswith("[[[[") and len(body["result"]) <= 1_000_003
    assert time.perf_counter() - start < 5
    status, small = post(server, "/query", {"source": "[1 [2 3] {:a 4}]", "address": 13})
    assert small["value"] == [1, [2, 3], {"a": 4}] and "truncated" not in small
    # the same value as CAD3 (a few hundred bytes) decodes without being printed in full
    v = Vector.of(1)
    for _ in range(40):
        v = Vector.of(v, v)
    start = time.perf_counter()
    status, body = post(server, "/data/decode", {"cad3": encode_multi(v).hex()})
    assert status == 200 and body["cvx"].endswith("...") and time.perf_counter() - start < 5
