"""The REPL's `:local start [N]` / `:local stop` / `:local`: a local network launched as a
child process (`convex local start --peers N --port 0 --json`), the REPL connected to its
first peer as `:connect` does, and stopped again (the child gone, back on the local CVM).

Driven through the Repl object, and once at the real `convex` prompt in tmux."""
from __future__ import annotations

import io
import os
import re
import sys
import time

import pytest
from rich.console import Console

from convex_repl.repl import local as local_repl
from convex_repl.client.remote import Remote
from convex_repl.repl.render import Printer
from convex_repl.repl import Repl
from convex_repl.repl.workspace import Workspace


@pytest.fixture
def repl(tmp_path):
    buf = io.StringIO()
    r = Repl(Workspace(tmp_path), Printer(Console(file=buf, width=200, color_system=None,
                                                  highlight=False)))
    r.buf = buf
    yield r
    local_repl.stop_local(r)            # whatever a failing test left running


def say(repl, text):
    """Handle one input; what it printed."""
    repl.handle(text)
    out = repl.buf.getvalue()
    repl.buf.seek(0)
    repl.buf.truncate()
    return out


def gone(proc, timeout=5.0):
    end = time.time() + timeout
    while proc.poll() is None and time.time() < end:
        time.sleep(0.05)
    return proc.poll() is not None


def test_start_transact_over_the_peer_and_stop(repl):
    local = repl.ws
    say(repl, "(def here :local)")
    out = say(repl, ":local start 1")
    assert "Traceback" not in out
    net = repl.local_net
    assert net is not None and net.alive
    url = net.url
    assert f"connected to {url} as #13" in out
    assert f"peer REST API: {url}" in out
    assert repl.ws is not local and repl.ws.remote and repl.ws.url == url

    out = say(repl, "(def x 5)")
    assert out.splitlines()[0] == "5" and "juice" in out
    out = say(repl, "x")
    assert out.splitlines()[0] == "5"
    # it really is on the peer: its own REST API says so
    assert Remote(url).query("x", 13).value == 5

    status = say(repl, ":local")
    assert f"pid {net.proc.pid}" in status and "connected as #13" in status

    out = say(repl, ":local stop")
    assert "stopped the local network (1 peer); back to the local CVM" in out
    assert gone(net.proc) and net.proc.returncode == 0       # SIGTERM: a clean stop
    assert repl.local_net is None and local_repl._running == []
    assert repl.ws is local and not getattr(repl.ws, "remote", False)
    assert say(repl, "here").splitlines()[0] == ":local"     # the local CVM, as it was
    assert "UNDECLARED" in say(repl, "x")                    # x was defined on the peer only
    assert "no local network is running" in say(repl, ":local")
    assert "no local network is running" in say(repl, ":local stop")


@pytest.mark.parametrize("arg", ["0", "abc", "-1", "1.5"])
def test_bad_number_of_peers_is_one_line(repl, arg):
    local = repl.ws
    out = say(repl, f":local start {arg}")
    assert out.count("\n") == 1 and "at least 1" in out and "usage: :local start [N]" in out
    assert repl.ws is local and getattr(repl, "local_net", None) is None
    assert local_repl._running == []
    assert "usage: :local [start [N]|stop]" in say(repl, ":local frob")


@pytest.mark.parametrize("code,expect", [
    ("import sys; sys.exit('convex: error: boom')", "(exit code 1): convex: error: boom"),
    ("raise ValueError('bad thing')", "(exit code 1): ValueError: bad thing"),
    ("import sys, time; print('convex: error: busy', file=sys.stderr, flush=True); "
     "time.sleep(60)", "did not start: convex: error: busy"),
    ("print('hello', flush=True); import time; time.sleep(60)", "printed 'hello', not its JSON"),
    ("import time; time.sleep(60)", "did not start within 1 s"),
])
def test_a_network_that_fails_to_start_is_one_line(repl, monkeypatch, code, expect):
    started = []

    def command(self):
        started.append(self)
        return [sys.executable, "-c", code]
    monkeypatch.setattr(local_repl.LocalNet, "command", command)
    monkeypatch.setattr(local_repl, "START_TIMEOUT", 1.0)
    monkeypatch.setattr(local_repl, "PER_PEER", 0.0)
    local = repl.ws
    out = say(repl, ":local start")
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("starting a local network of 1 peer")
    assert "the local network did not start" in lines[1] or "printed" in lines[1]
    assert expect in lines[1]
    assert gone(started[0].proc, 0.1)                          # stopped, not left behind
    assert repl.ws is local and getattr(repl, "local_net", None) is None
    assert local_repl._running == []


def test_start_again_replaces_the_network_and_two_peers(repl):
    say(repl, ":local start")
    first = repl.local_net
    t = time.time()
    out = say(repl, ":local start 2")
    assert time.time() - t < 20
    assert gone(first.proc) and "stopped the local network (1 peer)" in out
    net = repl.local_net
    urls = re.findall(r"peer \d REST API: (\S+)", out)
    assert len(urls) == 2 and urls == net.urls and urls[0] == net.url
    assert f"connected to {net.url} as #13" in out
    assert say(repl, "(def y (* 6 7))").splitlines()[0] == "42"
    assert say(repl, "y").splitlines()[0] == "42"
    # the other accounts the network printed sign too
    assert "now acting as #11" in say(repl, ":account #11")
    assert say(repl, "*address*").splitlines()[0] == "#11"
    say(repl, ":account #13")
    assert "stopped the local network (2 peers)" in say(repl, ":local stop")
    assert gone(net.proc)


def test_help_lists_the_commands(repl):
    out = say(repl, ":help")
    assert ":local [start [N]|stop]" in out
    assert ":connect URL [#n]" in out


def test_local_start_at_the_real_prompt(tmp_path):
    from test_repl_tmux import Term              # its helpers (skips without tmux as it does)
    term = Term(tmp_path, "--fresh")
    try:
        term.wait("convex #13>")
        s = term.submit(":local start", "peer REST API: ", timeout=60)
        url = re.search(r"peer REST API: (http://127\.0\.0\.1:\d+)", s).group(1)
        assert f"connected to {url} as #13" in s.replace("\n", "")
        s = term.submit("(+ 1 2)", "juice")
        tail = s[s.rindex("convex #13> (+ 1 2)"):]
        assert "3" in tail.splitlines()[1]
        s = term.submit(":local", "pid ")
        pid = int(re.findall(r"\(pid (\d+)\)", s)[-1])
        s = term.submit(":local stop", "back to the local CVM")
        assert "stopped the local network (1 peer)" in s
        end = time.time() + 5
        while _alive(pid) and time.time() < end:
            time.sleep(0.05)
        assert not _alive(pid)
        s = term.submit(":local", "no local network is running")
        s = term.submit("(+ 1 2)", "juice", timeout=20)
        assert "Traceback" not in s
    finally:
        term.close()


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:                                    # a zombie not reaped yet is gone as well
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def test_a_network_that_dies_is_reported_not_a_traceback(repl):
    import signal
    local = repl.ws
    say(repl, ":local start")
    net = repl.local_net
    os.kill(net.proc.pid, signal.SIGKILL)
    assert gone(net.proc)
    out = say(repl, "(+ 1 2)")
    assert out.count("\n") == 1 and f"can't reach the peer at {net.url}" in out
    out = say(repl, ":local")
    assert "the local network has stopped by itself (exit code -9); back to the local CVM" in out
    assert repl.ws is local and repl.local_net is None
    assert say(repl, "(+ 1 2)").splitlines()[0] == "3"
