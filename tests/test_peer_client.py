"""Client side against a peer started in a subprocess (`convex peer start`): the CLI with
--url / CONVEX_URL / a profile, the REPL's :connect / :disconnect, and our client and the
official convex-sdk from several threads giving the same results."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from test_peer_process import ROOT, start_peer, stop


@pytest.fixture(scope="module")
def peer():
    p, info = start_peer()
    yield info["url"]
    stop(p)


def convex(*args, env=None, home):
    e = dict(os.environ, PYTHONPATH=ROOT, CONVEX_HOME=str(home), NO_COLOR="1")
    e.pop("CONVEX_URL", None)
    e.update(env or {})
    p = subprocess.run([sys.executable, "-m", "convex_repl", *args], capture_output=True,
                       text=True, env=e, cwd=ROOT, timeout=120)
    return p.returncode, p.stdout, p.stderr


def test_cli_commands_with_url(peer, tmp_path):
    rc, out, err = convex("eval", "--url", peer, "(def x 41) (inc x)", "--cost", home=tmp_path)
    assert rc == 0 and out.strip() == "42" and "juice" in err and "fee" in err
    rc, out, _ = convex("query", f"--url={peer}", "x", home=tmp_path)
    assert rc == 0 and out.strip() == "41"
    # macros defined by one form are usable by the next, as locally
    rc, out, _ = convex("transact", "--url", peer, "--json",
                        "(defmacro twice [e] `(do ~e ~e)) (twice 5)", home=tmp_path)
    d = json.loads(out)
    assert rc == 0 and d["value"] == "5" and d["sequence"] >= 1 and d["fee"] > 0
    rc, out, err = convex("eval", "--url", peer, "(count)", home=tmp_path)
    assert rc == 1 and ":ARITY" in err and "Traceback" not in err
    rc, out, _ = convex("eval", "--url", peer, "-a", "11", "*address*", home=tmp_path)
    assert out.strip() == "#11"
    rc, out, _ = convex("account", "balance", "13", "--json", env={"CONVEX_URL": peer},
                        home=tmp_path)
    assert rc == 0 and json.loads(out)["balance"] > 0
    rc, out, _ = convex("account", "info", env={"CONVEX_URL": peer}, home=tmp_path)
    assert rc == 0 and "#13" in out and "definitions" in out
    rc, out, _ = convex("status", "--json", "--url", peer, home=tmp_path)
    st = json.loads(out)
    assert rc == 0 and st["url"] == peer and st["state"].startswith("0x")
    rc, out, _ = convex("deploy", "--url", peer, "tutorials/examples/counter.cvx", "--json",
                        home=tmp_path)
    assert rc == 0 and json.loads(out)["address"].startswith("#")
    # nothing was kept in the local session
    rc, out, _ = convex("query", "x", home=tmp_path)
    assert rc == 1


def test_profile_and_unreachable_peer(peer, tmp_path):
    (tmp_path / "profiles.json").write_text(json.dumps({"dev": {"url": peer,
                                                                "address": 11}}))
    rc, out, _ = convex("eval", "*address*", env={"CONVEX_PROFILE": "dev"}, home=tmp_path)
    assert rc == 0 and out.strip() == "#11"
    rc, out, err = convex("eval", "--url", "http://127.0.0.1:9", "1", home=tmp_path)
    assert rc == 3 and "can't reach the peer" in err and "Traceback" not in err
    rc, out, err = convex("eval", "--url", peer, "-a", "99999", "1", home=tmp_path)
    assert rc == 3 and "no account #99999" in err


def test_repl_connect_and_disconnect(peer, tmp_path):
    script = "\n".join(["(def here :local)", f":connect {peer}", "(def there 7)",
                        "(* there 6)", "(count)", "*address*", ":disconnect", "here",
                        "there"]) + "\n"
    e = dict(os.environ, PYTHONPATH=ROOT, CONVEX_HOME=str(tmp_path), NO_COLOR="1")
    p = subprocess.run([sys.executable, "-m", "convex_repl", "--fresh", "--no-save"],
                       input=script, capture_output=True, text=True, env=e, cwd=ROOT,
                       timeout=120)
    out = p.stdout + p.stderr
    assert "connected to " + peer in out
    assert "42" in out and ":ARITY" in out and "back to the local CVM" in out
    assert ":local" in out
    assert ":UNDECLARED" in out         # `there` was defined on the peer, not locally
    assert out.count("juice") >= 4      # cost badges, locally and connected


def test_our_client_and_the_sdk_agree_from_threads(peer):
    clients_agree(peer)


def clients_agree(peer):
    """Our Remote client and convex-sdk, 3 threads each, run the same programs against the
    peer at URL `peer`, and give the same results."""
    sdk = pytest.importorskip("convex_sdk")
    from nacl.signing import SigningKey

    from convex_repl.client.remote import Remote
    programs = ["(def v (* 6 7))", "(map inc [1 2 3])", "{:a 1 :b [2 3]}", "(str \"x\" v)",
                "(count)", "(do (def f (fn [n] (* n n))) (f 12))"]
    ours, theirs, errors = {}, {}, []
    c = sdk.Convex(peer)

    def with_ours(i):
        try:
            k = SigningKey.generate()
            acct = c.create_account(sdk.KeyPair.import_from_bytes(bytes(k)))
            c.request_funds(50_000_000, acct)
            r = Remote(peer)
            ours[i] = [(x.error, x.printed) for x in
                       (r.transact(p, acct.address, k) for p in programs)]
        except Exception as e:                  # pragma: no cover - reported below
            errors.append(e)

    def with_sdk(i):
        try:
            acct = c.create_account(sdk.KeyPair())
            c.request_funds(50_000_000, acct)
            out = []
            for p in programs:
                try:
                    res = c.transact(p, acct)
                    out.append((None, c._url and _printed(peer, res, acct.address, p)))
                except sdk.exceptions.ConvexAPIError as e:
                    out.append((e.code, None))
            theirs[i] = out
        except Exception as e:                  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=f, args=(i,)) for i in range(3)
               for f in (with_ours, with_sdk)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(180)
    assert not errors, errors
    expected = [(None, "42"), (None, "[2 3 4]"), (None, "{:a 1,:b [2 3]}"),
                (None, '"x42"'), ("ARITY", None), (None, "144")]
    assert all(v == expected for v in ours.values()) and len(ours) == 3
    assert all(v == expected for v in theirs.values()) and len(theirs) == 3


def _printed(url, res, address, program):
    """The SDK gives JSON values: print them back as the CVM would, through a query."""
    v = res.value
    if isinstance(v, dict):
        return "{" + ",".join(f":{k} {_cvx(x)}" for k, x in v.items()) + "}"
    return _cvx(v)


def _cvx(v):
    if isinstance(v, list):
        return "[" + " ".join(_cvx(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v)
    return str(v)
