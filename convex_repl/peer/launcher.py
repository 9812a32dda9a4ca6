"""`convex local start --peers N`: a local network of N peer processes.

Each peer is `convex peer start --cluster N --index I` in its own process, so peers share
nothing but TCP, as on a real network. They start one after another, each given the
protocol addresses of those already running (connections then carry beliefs both ways), with
REST on --port for the first and any free port for the others. With --data DIR, peer I keeps
its state in DIR/peer-I and the network restarts where it was.

The launcher prints the peers and the funded accounts, then waits: Ctrl-C or SIGTERM stops
every peer cleanly; if a peer dies, the others are stopped and the exit code says so. Each
peer watches its standard input, a pipe from the launcher, so even a launcher killed with
SIGKILL takes its peers with it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import typer

from convex_repl.peer.signals import on_stop_signals, restore_signals

START_TIMEOUT = 60.0


def peer_command(n: int, i: int, host: str, port: Optional[int], data: Optional[Path],
                 faucet: bool, faucet_max: Optional[int], bootstrap: list,
                 verbose: bool, limits: tuple = (), protocol_port: Optional[int] = None) -> list:
    """Peer i's command line; its protocol port is `protocol_port` + i (any free one when
    None or 0)."""
    pp = protocol_port + i if protocol_port else 0
    cmd = [sys.executable, "-m", "convex_repl", "peer", "start", "--cluster", str(n),
           "--index", str(i), "--host", host, "--port", str(port if port is not None else 0),
           "--protocol-port", str(pp), "--json", "--stop-on-eof"]
    for a in bootstrap:
        cmd += ["--peer", a]
    if data is not None:
        cmd += ["--data", str(data / f"peer-{i}")]
    if not faucet:
        cmd.append("--no-faucet")
    if faucet_max:
        cmd += ["--faucet-max", str(faucet_max)]
    if verbose:
        cmd.append("--verbose")
    for x in limits:
        cmd += ["--limit", x]
    return cmd


def _read_info(p: subprocess.Popen, timeout: float,
               stop: Optional[threading.Event] = None) -> Optional[dict]:
    """The JSON line a peer prints once it serves, or None if it dies, takes too long or
    `stop` is set meanwhile."""
    box: list = []
    t = threading.Thread(target=lambda: box.append(p.stdout.readline()), daemon=True)
    t.start()
    end = time.monotonic() + timeout
    while t.is_alive() and time.monotonic() < end and not (stop and stop.is_set()):
        t.join(0.1)
    if not box or not box[0]:
        return None
    try:
        return json.loads(box[0])
    except ValueError:
        return None


def stop_all(procs: list, timeout: float = 10.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    end = time.monotonic() + timeout
    for p in procs:
        try:
            p.wait(max(0.1, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def launch(n: int, host: str, port: Optional[int], data: Optional[Path], faucet: bool,
           faucet_max: Optional[int], as_json: bool, verbose: bool,
           limits: Optional[list] = None, protocol_port: Optional[int] = None) -> int:
    procs: list = []
    infos: list = []
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = here + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    stop = threading.Event()
    old = on_stop_signals(stop)             # SIGINT too, even if it was ignored (nohup)
    try:
        for i in range(n):
            rest = port if i == 0 else 0
            if i == 0 and port is None:
                rest = 8080 if _free(host, 8080) else 0
            cmd = peer_command(n, i, host, rest, data, faucet, faucet_max,
                               [x["protocol"] for x in infos], verbose, tuple(limits or ()),
                               protocol_port)
            p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 text=True, env=env)
            procs.append(p)
            info = _read_info(p, START_TIMEOUT, stop)
            if info is None and stop.is_set():
                stop_all(procs)
                return 0
            if info is None:
                typer.echo(f"convex: error: peer {i} did not start", err=True)
                stop_all(procs)
                return 3
            infos.append(info)
        if not wait_connected([x["url"] for x in infos], START_TIMEOUT, stop):
            if stop.is_set():
                stop_all(procs)
                return 0
            typer.echo("convex: error: the peers did not connect to each other", err=True)
            stop_all(procs)
            return 3
        _announce(n, infos, as_json)
        dead = None
        try:
            while not stop.wait(0.5):
                dead = next((i for i, p in enumerate(procs) if p.poll() is not None), None)
                if dead is not None:
                    break
        except KeyboardInterrupt:
            pass
        stop_all(procs)
        if dead is not None:
            typer.echo(f"convex: error: peer {dead} exited (code {procs[dead].returncode}); "
                       "the network is stopped", err=True)
            return 1
    except KeyboardInterrupt:
        stop_all(procs)
    finally:
        restore_signals(old)
    if not as_json:
        typer.echo("Network stopped.")
    return 0


def wait_connected(urls: list, timeout: float, stop: Optional[threading.Event] = None) -> bool:
    """Wait until every peer reaches more than 2/3 of the stake (its status says
    consensus), so the network confirms transactions once announced (False if not in time
    or `stop` is set meanwhile)."""
    import urllib.request
    end = time.monotonic() + timeout
    pending = list(urls)
    while pending and time.monotonic() < end and not (stop and stop.is_set()):
        try:
            with urllib.request.urlopen(pending[0] + "/api/v1/status", timeout=5) as r:
                ok = json.loads(r.read()).get("consensus")
        except (OSError, ValueError):
            ok = False
        if ok:
            pending.pop(0)
        else:
            time.sleep(0.05)
    return not pending


def _free(host: str, port: int) -> bool:
    import socket
    s = socket.socket()
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _announce(n: int, infos: list, as_json: bool) -> None:
    out = {"url": infos[0]["url"],
           "peers": [{k: x[k] for k in ("url", "peer", "protocol", "data")} for x in infos],
           "accounts": infos[0]["accounts"]}
    if as_json:
        typer.echo(json.dumps(out))
    else:
        typer.echo(f"Convex local network of {n} peers (CPoS, equal stakes, one process each)")
        for i, p in enumerate(out["peers"]):
            typer.echo(f"  peer {i}  REST {p['url']}   protocol {p['protocol']}"
                       f"{'   data ' + p['data'] if p['data'] else ''}")
        print_accounts(out["accounts"])
        typer.echo("Ctrl-C stops the network.")
    sys.stdout.flush()


def print_accounts(accounts: list) -> None:
    typer.echo("Funded accounts (local keys: anyone can derive them, never use them on a "
               "real network):")
    for a in accounts:
        typer.echo(f"  #{a['address']:<3} {a['balance']:>22,} copper  ({a['role']})")
        typer.echo(f"       public key {a['publicKey']}")
        typer.echo(f"       seed       {a['seed']}")


__all__ = ["launch", "peer_command", "stop_all", "wait_connected", "print_accounts"]
