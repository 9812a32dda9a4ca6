"""GET /api/v1/health: 200 while a peer takes part in consensus, 503 when it is halted or cut
off, with its lag, connected stake and last block time; peers that say GOODBYE stop counting
at once."""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest

from convex_repl.peer.cluster import start_cluster, stop_cluster
from convex_repl.peer.peer import Peer
from convex_repl.peer.rest import RestServer
from kernel.state.transactions import Invoke, sign
from kernel.transition.ledger import genesis_signing_key
from lisp import read

SK = genesis_signing_key(13)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_a_lone_peer_is_healthy_and_reports_its_last_block():
    peer = Peer().start()
    srv = RestServer(peer, "127.0.0.1", 0).start()
    try:
        code, h = get(srv.url + "/api/v1/health")
        assert code == 200 and h["status"] == "ok" and h["healthy"] and h["consensus"]
        assert h["last-block-time"] is None and h["consensus-point"] == 0
        total = h["total-stake"]
        assert total > 0 and h["connected-stake"] == total and h["stake-fraction"] == 1.0
        r = peer.submit(sign(SK, Invoke.create(13, 1, read("(def a 1)"))))
        assert r.error is None
        code, h = get(srv.url + "/api/v1/health")
        block = peer.blocks(0, 1)[0]
        assert code == 200 and h["consensus-point"] == 1 and h["lag-blocks"] == 0
        assert h["last-block-time"] == block["timestamp"]
        assert 0 <= h["since-final-ms"] < 60_000
        doc = get(srv.url + "/openapi")[1]
        assert set(doc["paths"]["/api/v1/health"]["get"]["responses"]) == {"200", "503"}
    finally:
        srv.stop()
        peer.stop()


@pytest.fixture
def cluster3():
    nodes = start_cluster(3)
    yield nodes
    stop_cluster(nodes)


def test_a_cluster_peer_in_consensus_then_cut_off_by_goodbyes(cluster3):
    n0 = cluster3[0]
    srv = RestServer(n0, "127.0.0.1", 0).start()
    try:
        url = srv.url + "/api/v1/health"
        end = time.time() + 20
        while time.time() < end:
            code, h = get(url)
            if h["peers-connected"] == 2 and h["status"] == "ok":
                break
            time.sleep(0.1)
        assert code == 200 and h["status"] == "ok", h
        assert h["connected-stake"] == h["total-stake"] == n0.total_stake
        assert h["peers"] == 3 and h["halted"] is None
        r = n0.submit(sign(SK, Invoke.create(13, 1, read("(def a 1)"))), timeout=30)
        assert r.error is None
        code, h = get(url)
        assert h["consensus-point"] >= 1
        assert h["last-block-time"] == n0.blocks(h["consensus-point"] - 1, 1)[0]["timestamp"]
        for x in cluster3[1:]:
            x.shutdown()
        # their GOODBYEs take them out of the live stake at once, not after LIVE_WINDOW (3 s)
        # of silence: health answers 503 right after they left
        t = time.monotonic()
        code, h = get(url)
        assert time.monotonic() - t < 1.0
        assert code == 503 and h["status"] == "degraded" and not h["consensus"], h
        assert h["connected-stake"] * 3 == h["total-stake"]
        assert h["peers-connected"] == 0 and "cut off" in h["reason"]
        time.sleep(1.0)                   # a stopped peer takes no connection: n0 redials
        code, h = get(url)                # in vain
        assert code == 503 and h["peers-connected"] == 0, h
    finally:
        srv.stop()


def test_a_halted_peer_answers_503(cluster3):
    n0 = cluster3[0]
    srv = RestServer(n0, "127.0.0.1", 0).start()
    try:
        n0.halted = "finalised blocks differ from what 2/3 of the stake precommits"
        code, h = get(srv.url + "/api/v1/health")
        assert code == 503 and h["status"] == "halted" and not h["healthy"]
        assert h["halted"] == n0.halted and h["reason"].endswith(n0.halted)
    finally:
        n0.halted = None
        srv.stop()
