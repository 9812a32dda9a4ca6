"""`convex peer start --config peer.toml`: every option as a key, the command line wins, and
mistakes named by file, line and key; the structured log a started peer writes."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from convex_repl.peer.config import OPTIONS, ConfigError, load

ROOT = Path(__file__).resolve().parent.parent


def _write(tmp_path, text, name="peer.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_values_are_converted_and_paths_are_relative_to_the_file(tmp_path):
    p = _write(tmp_path, 'host = "0.0.0.0"\nprotocol-port = 18900\ndata = "state"\n'
                         'peer = ["10.0.0.2:18888", "10.0.0.3:18888"]\nno-faucet = true\n'
                         'log-format = "json"\n[limit]\nconnections = 12\nrest-timeout = 2.5\n')
    o = load(p)
    assert o["host"] == "0.0.0.0" and o["protocol_port"] == 18900
    assert o["data"] == tmp_path.resolve() / "state"
    assert o["peer"] == ["10.0.0.2:18888", "10.0.0.3:18888"]
    assert o["no_faucet"] is True and o["log_format"] == "json"
    assert o["limit"] == ["connections=12", "rest-timeout=2.5"]


@pytest.mark.parametrize("text, expected", [
    ('host = "x"\n\nprot = 1\n', "peer.toml:3: unknown key 'prot'"),
    ('port = "8080"\n', 'peer.toml:1: port: expected an integer, not "8080"'),
    ('json = 1\n', "peer.toml:1: json: expected true or false, not 1"),
    ('peer = [1, 2]\n', "peer.toml:1: peer: expected a list of strings"),
    ('\nlog-level = "loud"\n', "peer.toml:2: log-level: expected 'debug' or 'info'"),
    ('sync = "fast"\n', "peer.toml:1: sync: expected 'normal' or 'full'"),
    ('port = \n', "peer.toml:1:8: Invalid value"),
    ('[limit]\nframe = "big"\n', 'peer.toml:2: limit.frame: expected a number, not "big"'),
    ('[limit]\nconnections = 3\nframes = 5\n', "peer.toml:3: limit.frames: unknown limit"),
    ('limit = ["frame=0"]\n', "peer.toml:1: limit.frame: expected a positive number, not 0"),
])
def test_mistakes_name_the_file_line_and_key(tmp_path, text, expected):
    p = _write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load(p, ["connections", "frame"])
    message = str(e.value)
    assert message.startswith(str(p) + ":")
    assert expected.split(":", 1)[1] in message, message
    assert "\n" not in message


def test_every_option_of_peer_start_is_a_key():
    from convex_repl.cli import app  # noqa: F401  (registers the commands)
    from convex_repl.cli.peer import peer_start
    import inspect
    params = set(inspect.signature(peer_start).parameters) - {"ctx", "config", "stop_on_eof"}
    keys = {k.replace("-", "_") for k in OPTIONS}
    assert params == {{"json": "as_json"}.get(k, k) for k in keys}


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_peer_started_from_a_file_the_command_line_winning(tmp_path):
    rest, proto, other = _free_port(), _free_port(), _free_port()
    p = _write(tmp_path, f'port = {other}\nprotocol-port = {proto}\ndata = "d"\njson = true\n'
                         f'no-faucet = true\nlog-format = "json"\nlog-level = "info"\n')
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "convex_repl", "peer", "start", "--config",
                             str(p), "--port", str(rest)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        info = json.loads(proc.stdout.readline())
        assert info["url"] == f"http://127.0.0.1:{rest}"         # --port beat the file's
        assert info["protocol"] == f"127.0.0.1:{proto}"
        assert info["data"] == str(tmp_path.resolve() / "d")
        assert (tmp_path / "d" / "peer.db").exists()
        from urllib.request import urlopen, Request
        req = Request(info["api"] + "/faucet", data=b'{"address": 13, "amount": 5}',
                      headers={"Content-Type": "application/json"})
        try:
            urlopen(req, timeout=10)
            refused = False
        except Exception:
            refused = True
        assert refused                                     # no-faucet from the file
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    events = [x["event"] for x in lines]
    assert "started" in events and events[-1] == "stopped", err
    started = lines[events.index("started")]
    assert started["level"] == "info" and started["peer"] == info["peer"][:10]
    assert started["url"] == info["url"] and time.strftime("%Y") in started["time"]


def test_a_bad_file_stops_the_command_with_one_line(tmp_path):
    p = _write(tmp_path, 'host = "127.0.0.1"\nportt = 1\n')
    r = subprocess.run([sys.executable, "-m", "convex_repl", "peer", "start", "--config",
                        str(p)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"convex: error: {p}:2: unknown key 'portt' (the keys are the options of `convex peer "
        f"start`: {', '.join(OPTIONS)})"]


def test_log_formats_levels_and_the_request_log(capsys):
    from convex_repl.peer import log
    from convex_repl.peer.peer import Peer
    from convex_repl.peer.rest import RestServer
    from urllib.request import urlopen
    try:
        log.configure("text", "warning")
        log.event("2", "goodbye", "peer 0xab... said goodbye", reason="shutdown")   # info
        log.event("2", "halted", "HALTED: orders differ", level="error", why="orders differ")
        log.event(None, "refused", level="warning", address="1.2.3.4:5")
        assert capsys.readouterr().err.splitlines() == [
            "convex peer 2: HALTED: orders differ", "convex peer: refused address=1.2.3.4:5"]
        log.configure("json", "debug", peer="7")
        log.event(None, "goodbye", "bye", level="debug", peer_key="0xab", n=3)
        line = json.loads(capsys.readouterr().err)
        assert {k: line[k] for k in ("level", "peer", "event", "message", "peer_key", "n")} == {
            "level": "debug", "peer": "7", "event": "goodbye", "message": "bye",
            "peer_key": "0xab", "n": 3}
        assert line["time"].endswith("Z") and len(line["time"]) == len("2026-01-01T00:00:00.000Z")
        with pytest.raises(ValueError, match="expected one of text, json"):
            log.configure("xml")
        peer = Peer().start()
        srv = RestServer(peer, "127.0.0.1", 0, verbose=True).start()
        try:
            urlopen(srv.url + "/api/v1/health", timeout=10).read()
        finally:
            srv.stop()
            peer.stop()
        requests = [json.loads(x) for x in capsys.readouterr().err.splitlines()
                    if '"request"' in x]
        assert len(requests) == 1 and requests[0]["request"] == "GET /api/v1/health HTTP/1.1"
        assert requests[0]["client"] == "127.0.0.1" and " 200 " in requests[0]["message"]
    finally:
        log.configure("text", "info")
        log.name_peer(None)
