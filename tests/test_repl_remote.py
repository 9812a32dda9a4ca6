"""The REPL against a peer, with real peer processes: one workspace interface
(interface.WorkspaceAPI) that the local CVM, a peer (`:connect`) and a network the REPL
started (`:local start`) implement completely. Every command works against a peer or answers
one line saying why it can't; `:doc`, `:apropos`, `:compile`, `:expand`, `:time` and
completion ask the peer; on a `:local start` network undo, redo, checkpoints and reset work
by restarting the network from kept copies of its stores; messages show state hashes."""
from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from rich.console import Console

from convex_repl.client.remote import Remote
from convex_repl.repl import COMMANDS, Completions, Repl
from convex_repl.repl import local as local_repl
from convex_repl.repl.interface import SessionView, WorkspaceAPI, members, missing
from convex_repl.repl.local_workspace import LocalNetWorkspace
from convex_repl.repl.remote_workspace import RemoteWorkspace
from convex_repl.repl.render import Printer
from convex_repl.repl.workspace import Workspace
from test_repl_local import say

ROOT = Path(__file__).resolve().parent.parent


def start_peer():
    cmd = [sys.executable, "-m", "convex_repl", "peer", "start", "--port", "0", "--json"]
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=ROOT, stdin=subprocess.DEVNULL)
    line = p.stdout.readline()
    if not line:
        p.kill()
        raise AssertionError("peer did not start: " + p.stderr.read())
    return p, json.loads(line)["url"]


@pytest.fixture(scope="module")
def peer():
    p, url = start_peer()
    try:
        yield url
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(10)


def make_repl(tmp_path):
    buf = io.StringIO()
    r = Repl(Workspace(tmp_path), Printer(Console(file=buf, width=200, color_system=None,
                                                  highlight=False)))
    r.buf = buf
    return r


@pytest.fixture
def repl(tmp_path):
    r = make_repl(tmp_path)
    yield r
    local_repl.stop_local(r)


@pytest.fixture
def on_peer(repl, peer):
    out = say(repl, f":connect {peer}")
    assert f"connected to {peer}" in out
    return repl


def run_convex(stdin, home, *args, env=None, timeout=120):
    e = dict(os.environ, CONVEX_HOME=str(home), NO_COLOR="1",
             PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    e.pop("CONVEX_URL", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "convex_repl", *args], input=stdin,
                          capture_output=True, text=True, env=e, timeout=timeout, cwd=ROOT)


# --- the interface ---------------------------------------------------------------------------

def test_every_workspace_implements_the_whole_interface(tmp_path):
    net = SimpleNamespace(url="http://127.0.0.1:9", peers=1, kept=tmp_path)
    for ws in (Workspace(None), RemoteWorkspace("http://127.0.0.1:9"),
               LocalNetWorkspace(net, 13, {})):
        assert missing(ws) == [], type(ws).__name__
        assert isinstance(ws, WorkspaceAPI)
    # the interface names what the commands use
    for m in ("undo", "redo", "checkpoint", "restore", "reset", "advance", "state_hash",
              "compile", "query", "transact", "transact_form", "status_report", "describe"):
        assert m in members(WorkspaceAPI)
    for m in ("doc", "metadata", "visible_names", "definitions", "accounts", "lookup"):
        assert m in members(SessionView)


# --- the acceptance: piped into `convex` -----------------------------------------------------------

ACCEPTANCE = ["(def a 1)", ":undo", ":redo", ":checkpoint c1", ":restore c1", ":accounts", ":env",
              ":advance 1000", ":reset", ":doc map", ":apropos transfer", ":compile (inc 1)",
              "(+ 40 2)"]


def test_acceptance_piped_against_a_peer(peer, tmp_path):
    p = run_convex("\n".join([f":connect {peer}", *ACCEPTANCE]) + "\n", tmp_path, "--no-save")
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert "internal error" not in out and "Traceback" not in out
    lines = out.splitlines()
    assert "(map f coll)" in lines and "(map f coll & colls)" in lines      # documented
    assert "42" in lines                                                     # answered
    assert "transfer" in out and "Invoke" in out and "*#13" in out
    for what in ("undo", "redo", "make a checkpoint", "restore a checkpoint"):
        assert f"can't {what} on a peer: the network keeps what it confirmed" in out
    assert "can't reset a peer to genesis" in out and "can't move time on a peer" in out
    assert max(len(ln) for ln in lines if ln.startswith("can't")) < 80   # unwrapped


def test_a_url_workspace_refuses_in_one_line_and_goes_on(peer, tmp_path):
    """`convex --url` (CONVEX_URL): the REPL's workspace is the peer from the start."""
    p = run_convex(":undo\n:reset\n:mode eval\n(+ 40 2)\n", tmp_path, env={"CONVEX_URL": peer})
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[0].startswith("can't undo on a peer: ")
    assert lines[1].startswith("can't reset a peer to genesis: ")
    assert lines[2] == "a peer runs signed transactions only: no unsigned :mode eval (mode: transact)"
    assert lines[3] == "42"


# --- every command against a peer ----------------------------------------------------------------

ARGS = {"doc": "count", "apropos": "balance", "expand": "(when 1 2)", "compile": "(inc 1)",
        "juice": "(+ 1 2)", "time": "(+ 1 2)", "account": "", "env": "", "checkpoint": "c1",
        "restore": "c1", "advance": "10", "mode": "query"}
SKIP = {"quit", "exit", "tutorial", "local", "connect", "disconnect", "vi", "emacs"}


def test_every_command_works_or_says_why_in_one_line(on_peer, tmp_path):
    (tmp_path / "f.cvx").write_text("(def loaded 1)\n(inc loaded)\n")
    args = dict(ARGS, load=str(tmp_path / "f.cvx"))
    cant = {}
    for name in sorted(COMMANDS):
        if name in SKIP:
            continue
        out = say(on_peer, f":{name} {args.get(name, '')}".strip())
        assert "Traceback" not in out and out.strip(), name
        if "can't" in out:
            cant[name] = out
    assert sorted(cant) == ["advance", "checkpoint", "redo", "reset", "restore", "undo"]
    for name, out in cant.items():
        assert out.count("\n") == 1, out           # one line (wrapped only by the terminal)
    assert "checkpoints: none" in say(on_peer, ":checkpoint")
    say(on_peer, ":mode transact")
    assert say(on_peer, "(+ 40 2)").splitlines()[0] == "42"       # the session goes on


def test_doc_apropos_env_and_accounts_read_the_peers_state(on_peer, peer):
    # a definition made on the peer only: the REPL must have asked the peer
    say(on_peer, '(defn peer-only-fn "Doubles a number held only by the peer." [x] (* 2 x))')
    out = say(on_peer, ":doc peer-only-fn")
    assert out.splitlines() == ["Doubles a number held only by the peer."]
    assert "peer-only-fn" in say(on_peer, ":apropos held only by the peer")
    out = say(on_peer, ":doc #8/map")
    assert "(map f coll)" in out and "(map inc [1 2])   ; => [2 3]" in out
    assert ":CAST" in out
    assert "no-such-name is not defined" in say(on_peer, ":doc no-such-name")
    say(on_peer, ":account #11")                    # an account without definitions
    assert "(map f coll)" in say(on_peer, ":doc map")
    say(on_peer, ":account #13")
    out = say(on_peer, ":apropos transfer")
    assert re.search(r"^  transfer +Sends coins", out, re.M)
    assert "peer-only-fn" in say(on_peer, ":env") and "#8 has no definitions" not in \
        say(on_peer, ":env #8")
    accounts = say(on_peer, ":accounts")
    assert re.search(r"^\*#13 +user", accounts, re.M) and re.search(r"^ #8 +actor", accounts,
                                                                     re.M)
    # the local CVM knows nothing of it: the answers came from the peer
    say(on_peer, ":disconnect")
    assert "peer-only-fn is not defined" in say(on_peer, ":doc peer-only-fn")


def test_compile_expand_time_and_juice_on_the_peer(on_peer):
    out = say(on_peer, ":compile (inc 1)")
    assert "Invoke    (inc 1)" in out and "Constant  inc" in out and "compiling took" in out
    long = "(fn [x] (if (> x 10) " + '"' + "a" * 300 + '"' + " x))"
    out = say(on_peer, f":compile {long}")          # an op of several cells: as printed
    assert "the op compiled on the peer at" in out and "printed as Lisp" in out
    assert out.startswith("(fn\n [x]\n (cond")
    assert say(on_peer, ":expand (when 1 2)").splitlines()[0] == "(cond 1 (do 2))"
    out = say(on_peer, ":time (+ 1 2)")
    assert out.splitlines()[0] == "3"
    assert re.search(r"[\d.]+ (ms|µs|s) round trip to the peer at http://\S+ \(network and "
                     r"evaluation\) · [\d,]+ juice on the peer", out)
    assert "juice" in say(on_peer, ":juice (+ 1 2)")
    say(on_peer, "(+ 40 2)")
    assert say(on_peer, ":mode query") and say(on_peer, "(inc *1)").splitlines()[0] == "43"


def test_completion_asks_the_peer(on_peer):
    say(on_peer, "(def peer-only-value 5)")
    comp = Completions(on_peer)
    names = [c for c, _ in comp.candidates("peer-only")]
    assert "peer-only-value" in names
    meta = dict(comp.candidates("transf"))
    assert "transfer" in meta and "Sends coins" in meta["transfer"]
    assert [c for c, _ in comp.candidates("#8/coun")] == ["#8/count", "#8/countable?"]
    say(on_peer, ":disconnect")
    assert "peer-only-value" not in [c for c, _ in Completions(on_peer).candidates("peer-only")]


# --- a network the REPL started: going back in time --------------------------------------------

def _hash(out, label="state"):
    return re.search(label + r" ([0-9a-f]{8})", out).group(1)


def test_local_network_undo_redo_checkpoint_restore_reset(repl):
    out = say(repl, ":local start")
    net = repl.local_net
    assert net is not None and (net.data / "peer.db").exists()
    genesis = repl.ws.state_hash()[:8]
    say(repl, "(def a 1)")
    say(repl, "(+ 40 2)")                           # only fees: not an undo step
    out = say(repl, ":undo")
    assert "undoing: restarting the local network (1 peer) from its kept stores" in out
    assert f"undone: state {genesis} (was " in out
    assert "UNDECLARED" in say(repl, "a")
    assert Remote(repl.ws.url).query("a", 13).error == "UNDECLARED"      # the peer itself
    out = say(repl, ":redo")
    assert "redone: state" in out
    assert say(repl, "a").splitlines()[0] == "1"
    out = say(repl, ":checkpoint c1")
    c1 = _hash(out)
    assert c1 == repl.ws.state_hash()[:8]
    say(repl, "(def a 2)")
    say(repl, "(def b 3)")
    assert f"checkpoints: c1 ({c1})" in say(repl, ":checkpoint")
    out = say(repl, ":restore c1")
    assert f"restored c1: state {c1} (was " in out
    assert say(repl, "a").splitlines()[0] == "1" and "UNDECLARED" in say(repl, "b")
    say(repl, ":undo")                              # back to before the restore
    assert say(repl, "b").splitlines()[0] == "3"
    out = say(repl, ":reset")
    assert f"reset to genesis: state {genesis}" in out
    assert "UNDECLARED" in say(repl, "a")
    assert "(map f coll)" in say(repl, ":doc map")     # #13 has no definitions again
    assert "can't move time on the local network" in say(repl, ":advance 10")
    # only the copies still needed are kept, and all go with the network
    kept = {d.name for d in net.kept.iterdir()}
    ws = repl.ws
    needed = {m.tag for m in ws.undo_stack + ws.redo_stack + list(ws.checkpoints.values())}
    needed |= {ws.genesis.tag} | ({ws._current.tag} if ws._current else set())
    assert kept <= needed
    root = net.root
    say(repl, ":local stop")
    assert not root.exists()


def test_two_peer_network_restores_every_peer(repl):
    say(repl, ":local start 2")
    net = repl.local_net
    say(repl, "(def v 1)")
    say(repl, ":checkpoint one")
    say(repl, "(def v 2)")
    out = say(repl, ":restore one")
    assert "restored one" in out
    time.sleep(0.2)
    for url in net.urls:                            # every peer is back at the checkpoint
        assert Remote(url).query("v", 13).value == 1
    assert say(repl, "(def v 3)").splitlines()[0] == "3"
    end = time.time() + 10
    while time.time() < end and any(Remote(u).query("v", 13).value != 3 for u in net.urls):
        time.sleep(0.1)
    assert all(Remote(u).query("v", 13).value == 3 for u in net.urls)    # and agree again


# --- state hashes and the restored session ------------------------------------------------------

def test_local_messages_show_state_hashes(repl):
    g = repl.ws.state_hash()[:8]
    assert f"nothing to undo (state {g})" in say(repl, ":undo")
    say(repl, "(def a 1)")
    h = repl.ws.state_hash()[:8]
    assert f"checkpoint c1 saved: state {h}" in say(repl, ":checkpoint c1")
    assert f"undone: state {g} (was {h})" in say(repl, ":undo")
    assert f"redone: state {h} (was {g})" in say(repl, ":redo")
    assert f"reset to genesis: state {g} (was {h}" in say(repl, ":reset")
    assert f"restored c1: state {h} (was {g}" in say(repl, ":restore c1")
    assert f"checkpoints: c1 ({h})" in say(repl, ":checkpoint")
    assert "no checkpoint 'nope' (checkpoints: c1)" in say(repl, ":restore nope")
    out = say(repl, ":advance 1000")
    assert "timestamp is now" in out and f"state {repl.ws.state_hash()[:8]}" in out


def test_saved_session_says_it_was_restored(tmp_path):
    ws = Workspace(tmp_path)
    assert ws.notices == []
    ws.transact("(def a 1)")
    ws.checkpoint("c1")
    again = Workspace(tmp_path)
    h = again.state_hash()[:8]
    assert again.notices == [f"restored the saved session: 1 transaction, 1 checkpoint, acting "
                             f"as #13, state {h} (--fresh starts from genesis)"]
    assert again.checkpoint_hashes() == {"c1": ws.state_hash()}     # kept with the session
    assert Workspace(tmp_path, fresh=True).notices == []


def test_the_real_prompt_says_the_session_was_restored(tmp_path):
    from test_repl_tmux import Term              # its helpers (skips without tmux as it does)
    Workspace(tmp_path).transact("(def kept 7)")
    term = Term(tmp_path)
    try:
        s = term.wait("restored the saved session: 1 transaction, acting as #13")
        assert "(--fresh starts from genesis)" in s
        s = term.submit("kept", "juice")
        assert "7" in s[s.rindex("convex #13> kept"):].splitlines()[1]
        assert term.screen().count("restored the saved session") == 1
    finally:
        term.close()
    term = Term(tmp_path, "--fresh")
    try:
        term.wait("convex #13>")
        time.sleep(1.0)
        assert "restored the saved session" not in term.screen()
    finally:
        term.close()
