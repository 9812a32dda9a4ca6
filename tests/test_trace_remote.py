"""`convex trace --url` and `--tx HASH --url` against a real peer process (issue 17): the
peer's state is copied through its REST API and the forms (or a confirmed transaction, on
its pre-state) run traced here, with the juice the peer charged."""
from __future__ import annotations

import json

import pytest

from test_cli_remote import convex
from test_peer_process import start_peer, stop


@pytest.fixture(scope="module", params=["stored", "in memory"])
def stored_peer(request, tmp_path_factory):
    """A peer process with a store, and one without (it serves the states, blocks and
    results it keeps in memory)."""
    data = tmp_path_factory.mktemp("peer-data") if request.param == "stored" else None
    p, info = start_peer(data=data)
    yield info
    stop(p)


def test_trace_url_uses_the_peers_state_and_juice(stored_peer, tmp_path):
    url = stored_peer["url"]
    rc, out, err = convex("transact", "--url", url, "--json", "(defn f [x] (inc x))",
                          home=tmp_path)
    assert rc == 0, err
    rc, out, err = convex("trace", "--url", url, "--json", "(f (f 1))", home=tmp_path)
    assert rc == 0, err
    t = json.loads(out)
    assert t["value"] == "3" and [c["fn"] for c in t["calls"]] == ["f", "f"]
    rc, out, err = convex("query", "--url", url, "--json", "(f (f 1))", home=tmp_path)
    assert rc == 0 and json.loads(out)["juice"] == t["juice"]
    rc, out, err = convex("explain", "--url", url, "(f 41)", home=tmp_path)
    assert rc == 0 and "body of f" in out


def test_trace_tx_replays_a_confirmed_transaction(stored_peer, tmp_path):
    url = stored_peer["url"]
    rc, out, err = convex("transact", "--url", url, "--json",
                          "(defn g [x] (* 2 x)) (defn h [x] (g (inc x))) (h 5)", home=tmp_path)
    assert rc == 0, err
    tx = json.loads(out)
    rc, out, err = convex("trace", "--url", url, "--tx", tx["tx_hash"], "--json",
                          home=tmp_path)
    assert rc == 0, err
    t = json.loads(out)
    assert t["value"] == "12" and t["juice"] == tx["juice"]
    (h,) = t["calls"]
    assert (h["fn"], h["args"], h["result"]) == ("h", ["5"], "12")
    assert [(c["fn"], c["args"]) for c in h["calls"]] == [("g", ["6"])]
    rc, out, err = convex("trace", "--url", url, "--tx", "ab" * 32, home=tmp_path)
    assert rc == 3 and "no transaction" in err and "Traceback" not in err


def test_repl_connected_traces_and_debugs_a_copy_of_the_peers_state(stored_peer, tmp_path):
    from convex_repl.repl import Repl
    from convex_repl.repl.lessons import RecordingPrinter
    from convex_repl.repl.remote_workspace import RemoteWorkspace
    url = stored_peer["url"]
    rc, _, err = convex("transact", "--url", url, "(defn tw [x] (* 2 x))", home=tmp_path)
    assert rc == 0, err
    out = RecordingPrinter(echo=False, width=100)
    repl = Repl(RemoteWorkspace(url, 13), out)
    answers = ["s", "c"]
    repl.ask = lambda prompt: answers.pop(0) if answers else None
    out.start()
    repl.handle(":trace (tw 21)")
    text = "\n".join(out.lines)
    assert f"ran on a copy of the peer at {url}'s state" in text and "(tw 21) => 42" in text
    out.start()
    repl.handle(":debug (tw 21)")
    text = "\n".join(out.lines)
    assert "top level · <input>:1:1" in text and "42" in text and "nothing was kept" in text
    assert not answers
