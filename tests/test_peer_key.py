"""A joining peer's key kept encrypted in its data directory (`--join ... --data DIR`): the
file holds no secret in clear, `--data DIR` alone finds the key and the address it joined
through, and a wrong password or another key is one line. (Joining and restarting a real
network from DIR: tests/test_join.py.)"""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

from nacl.signing import SigningKey

from tests.test_peer_process import ROOT


def _closed_address():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def start(*args, **env):
    e = {k: v for k, v in os.environ.items() if not k.startswith("CONVEX_")}
    e.update(env)
    return subprocess.run([sys.executable, "-m", "convex_repl", "peer", "start", "--port", "0",
                           "--protocol-port", "0", *args], cwd=ROOT, env=e, capture_output=True,
                          text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_the_key_is_kept_encrypted_and_found_again(tmp_path):
    data = tmp_path / "peer"
    sk = SigningKey.generate()
    seed = bytes(sk).hex()
    nowhere = _closed_address()
    r = start("--join", nowhere, "--data", str(data), CONVEX_PEER_SEED=seed,
              CONVEX_PEER_PASSWORD="pw-1")
    assert r.returncode == 1 and f"can't join {nowhere}" in r.stderr     # nobody there
    doc = json.loads((data / "keys" / "peer.json").read_text())
    assert doc["public_key"] == "0x" + bytes(sk.verify_key).hex()
    raw = (data / "keys" / "peer.json").read_text()
    assert seed not in raw and doc["crypto"]["kdf"] == "argon2id"
    assert (data / "join").read_text().strip() == nowhere

    # --data DIR alone: the key and the join address come from DIR
    r = start("--data", str(data), CONVEX_PEER_PASSWORD="pw-1")
    assert r.returncode == 1 and f"can't join {nowhere}" in r.stderr, r.stderr

    r = start("--data", str(data), CONVEX_PEER_PASSWORD="wrong")
    assert r.returncode == 5
    assert r.stderr.strip().splitlines() == [
        f"convex: error: the peer key in {data}: wrong password for key 'peer' (its password "
        "is in $CONVEX_PEER_PASSWORD)"]

    other = bytes(SigningKey.generate()).hex()
    r = start("--data", str(data), CONVEX_PEER_PASSWORD="pw-1", CONVEX_PEER_SEED=other)
    assert r.returncode == 5 and "holds the key of peer 0x" + bytes(sk.verify_key).hex() \
        in r.stderr


def test_no_password_is_one_line_and_saves_nothing(tmp_path):
    data = tmp_path / "peer"
    r = start("--join", _closed_address(), "--data", str(data),
              CONVEX_PEER_SEED=bytes(SigningKey.generate()).hex())
    assert r.returncode == 5
    assert r.stderr.strip().splitlines() == [
        "convex: error: no password: set CONVEX_PEER_PASSWORD (never prompted when not "
        "interactive)"]
    assert not (data / "keys" / "peer.json").exists()
