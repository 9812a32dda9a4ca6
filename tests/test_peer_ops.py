"""`convex peer info / stake / unstake / announce` against a peer process's REST API: the
records in the state, create-peer then set-peer-stake as the controller, the share of the
stake, :url announced by the controller whose key is the peer's; mistakes in one line."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from nacl.signing import SigningKey

from tests.test_peer_process import ROOT, start_peer, stop

GENESIS_PEER = "0x7fd65ae69f21fa28bce48d0adeda07ff3256e32ff5b81450d93e0283120011a9"


@pytest.fixture(scope="module")
def peer():
    p, info = start_peer("--protocol-port", "0")
    yield info["url"]
    stop(p)


def convex(url, tmp, *args, seed=None):
    env = dict(os.environ, CONVEX_HOME=str(tmp), CONVEX_URL=url)
    env.pop("CONVEX_SEED", None)
    if seed is not None:
        env["CONVEX_SEED"] = seed
    return subprocess.run([sys.executable, "-m", "convex_repl", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def info(url, tmp, *args):
    r = convex(url, tmp, "peer", "info", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_stake_creates_then_changes_a_record_and_info_shows_the_shares(peer, tmp_path):
    before = info(peer, tmp_path)
    genesis = [p for p in before["peers"] if p["key"] == GENESIS_PEER][0]
    key = "0x" + bytes(SigningKey.generate().verify_key).hex()

    r = convex(peer, tmp_path, "peer", "stake", key, "5000000000000", "-a", "13", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["created"] is True and out["controller"] == 13 and out["stake"] == 5 * 10**12
    mine = info(peer, tmp_path, key)["peers"]
    assert len(mine) == 1 and mine[0]["controller"] == 13 and mine[0]["stake"] == 5 * 10**12
    total = before["total-stake"] + 5 * 10**12
    assert mine[0]["share"] == round(5 * 10**12 / total, 6)

    r = convex(peer, tmp_path, "peer", "stake", key, "7000000000000", "-a", "13", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["created"] is False, r.stderr
    after = info(peer, tmp_path)
    assert after["total-stake"] == before["total-stake"] + 7 * 10**12
    shares = {p["key"]: p["share"] for p in after["peers"]}
    assert shares[key] == round(7 * 10**12 / after["total-stake"], 6)
    assert shares[GENESIS_PEER] == round(genesis["weight"] / after["total-stake"], 6)

    # only its controller may change it: a CVM error, one line, exit 1
    r = convex(peer, tmp_path, "peer", "stake", key, "1", "-a", "11")
    assert r.returncode == 1
    assert r.stderr.strip() == "convex: error: :STATE Address #11 is not the controller of " \
                               "this peer account"

    r = convex(peer, tmp_path, "peer", "unstake", key, "-a", "13")
    assert r.returncode == 0, r.stderr
    gone = info(peer, tmp_path, key)["peers"][0]
    assert gone["stake"] == 0 and gone["share"] == 0.0
    assert info(peer, tmp_path)["total-stake"] == before["total-stake"]
    text = convex(peer, tmp_path, "peer", "info", key).stdout
    assert "controller #13" in text and "stake 0" in text and "share 0.00%" in text


def test_announce_sets_the_url_from_the_controller_with_the_peer_key(peer, tmp_path):
    sk = SigningKey.generate()
    seed, key = "0x" + bytes(sk).hex(), "0x" + bytes(sk.verify_key).hex()
    r = convex(peer, tmp_path, "transact", "-a", "13", "--json",
               f"(let [a (create-account {key})] (transfer a 20000000000000) a)")
    assert r.returncode == 0, r.stderr
    n = json.loads(r.stdout)["value"].lstrip("#")
    r = convex(peer, tmp_path, "peer", "stake", key, "10000000000000", "-a", n, seed=seed)
    assert r.returncode == 0, r.stderr
    r = convex(peer, tmp_path, "peer", "announce", key, "10.0.0.7:18888", "-a", n, seed=seed)
    assert r.returncode == 0, r.stderr
    p = info(peer, tmp_path, key)["peers"][0]
    assert p["url"] == "10.0.0.7:18888" and p["controller"] == int(n)

    # another controller's account (#13's key is not this peer's) is refused before sending
    r = convex(peer, tmp_path, "peer", "announce", key, "10.0.0.8:18888", "-a", "13")
    assert r.returncode == 2 and "whose key is the peer key" in r.stderr
    assert info(peer, tmp_path, key)["peers"][0]["url"] == "10.0.0.7:18888"


@pytest.mark.parametrize("args, code, words", [
    (("peer", "info", "0x12"), 2, "is not a peer key"),
    (("peer", "info", "0x" + "cd" * 32), 3, "no peer record for"),
    (("peer", "info", "nosuchkey"), 3, "neither a peer key"),
    (("peer", "unstake", "0x" + "ef" * 32, "-a", "13"), 3, "nothing to unstake"),
    (("peer", "stake", "0x" + "ef" * 32, "-5", "-a", "13"), 2, ""),
    (("peer", "announce", "0x" + "ef" * 32, "nowhere", "-a", "13"), 2, "is not HOST:PORT"),
])
def test_mistakes_are_one_line(peer, tmp_path, args, code, words):
    r = convex(peer, tmp_path, *args)
    assert r.returncode == code, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("convex: error:") and words in lines[0]
