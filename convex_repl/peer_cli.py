"""`convex peer start` and `convex local start`: a local peer serving the REST API.

    convex peer start [--host 127.0.0.1] [--port 8080] [--data DIR] [--no-faucet]
    convex local start [--peers N] [--port 8080] [--data DIR]

They print the REST URL, the funded genesis accounts and their keys (local networks only:
these keys are derived from public seeds), then serve until Ctrl-C (or SIGTERM), which stops
cleanly: pending transactions finish, the store is closed. With --data DIR the state, blocks
and results are kept in DIR/peer.db and the peer starts again where it was.
"""
from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Optional

import typer

peer_app = typer.Typer(help="Run a Convex peer serving the REST API.", no_args_is_help=True)
local_app = typer.Typer(help="A local Convex network for development.", no_args_is_help=True)

DEFAULT_PORT = 8080
FUNDED = (11, 12, 13)


def _accounts(peer: Any) -> list:
    from kernel.ledger import genesis_seed, signing_key_for
    out = []
    for n in FUNDED:
        a = peer.state.account(n)
        sk = signing_key_for(peer.state, n)
        if a is None or sk is None:
            continue
        seed = bytes(sk)[:32] if len(bytes(sk)) >= 32 else genesis_seed(n)
        role = {11: "genesis user", 12: "peer controller, faucet", 13: "first user"}[n]
        out.append({"address": n, "role": role, "balance": a.balance,
                    "publicKey": "0x" + bytes(sk.verify_key).hex(), "seed": "0x" + seed.hex()})
    return out


def open_peer(data: Optional[Path], faucet: bool = True, faucet_max: Optional[int] = None):
    """A Peer, persistent when `data` is a directory (created if needed)."""
    from .peer import GOLD, Peer
    from .store import Store
    store = None
    if data is not None:
        data.mkdir(parents=True, exist_ok=True)
        store = Store(str(data / "peer.db"))
    return Peer(store=store, faucet=faucet, faucet_max=faucet_max or GOLD)


def serve(host: str, port: Optional[int], data: Optional[Path], faucet: bool,
          faucet_max: Optional[int], as_json: bool, verbose: bool) -> int:
    from .rest import RestServer
    peer = open_peer(data, faucet, faucet_max)
    try:
        if port is None:
            try:
                server = RestServer(peer, host, DEFAULT_PORT, verbose)
            except OSError:                 # busy: any free port, as the reference does
                server = RestServer(peer, host, 0, verbose)
        else:
            server = RestServer(peer, host, port, verbose)
    except OSError as e:
        typer.echo(f"convex: error: can't listen on {host}:{port}: {e}", err=True)
        return 3
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()
    old = signal.signal(signal.SIGTERM, on_signal)
    peer.start()
    server.start()
    accounts = _accounts(peer)
    if as_json:
        typer.echo(json.dumps({"url": server.url, "api": server.url + "/api/v1",
                               "openapi": server.url + "/openapi",
                               "data": None if data is None else str(data),
                               "blocks": peer.block_count, "accounts": accounts}))
    else:
        typer.echo("Convex local peer")
        typer.echo(f"  REST URL:  {server.url}   (API {server.url}/api/v1, "
                   f"OpenAPI {server.url}/openapi)")
        typer.echo(f"  data:      {data if data is not None else '(in memory: --data DIR keeps it)'}"
                   f"{f'  ({peer.block_count} blocks)' if peer.block_count else ''}")
        typer.echo(f"  faucet:    {'on' if faucet else 'off'}")
        typer.echo("Funded accounts (local keys: anyone can derive them, never use them on a "
                   "real network):")
        for a in accounts:
            typer.echo(f"  #{a['address']:<3} {a['balance']:>22,} copper  ({a['role']})")
            typer.echo(f"       public key {a['publicKey']}")
            typer.echo(f"       seed       {a['seed']}")
        typer.echo("Ctrl-C stops the peer.")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, old)
        server.stop()
        peer.stop()
        if peer.store is not None:
            peer.store.close()
    if not as_json:
        typer.echo("Peer stopped.")
    return 0


HOST = typer.Option("127.0.0.1", "--host", help="Address to listen on.")
PORT = typer.Option(None, "--port", "-p", help=f"REST port (default {DEFAULT_PORT}, any free "
                    "one if busy; 0 for any).", show_default=False)
DATA = typer.Option(None, "--data", help="Directory keeping the peer's state (default: in "
                    "memory only).", show_default=False)
NO_FAUCET = typer.Option(False, "--no-faucet", help="Refuse faucet and createAccount.")
FAUCET_MAX = typer.Option(None, "--faucet-max", help="Most coins (copper) one faucet request "
                          "gives (default 1 Gold).", show_default=False)
JSON = typer.Option(False, "--json", help="Print the URL and accounts as one JSON line.")
VERBOSE = typer.Option(False, "--verbose", "-v", help="Log each HTTP request.")


@peer_app.command("start")
def peer_start(host: str = HOST, port: Optional[int] = PORT, data: Optional[Path] = DATA,
               no_faucet: bool = NO_FAUCET, faucet_max: Optional[int] = FAUCET_MAX,
               as_json: bool = JSON, verbose: bool = VERBOSE) -> None:
    """Start a peer serving the Convex REST API (Ctrl-C stops it)."""
    raise typer.Exit(serve(host, port, data, not no_faucet, faucet_max, as_json, verbose))


@local_app.command("start")
def local_start(peers: int = typer.Option(1, "--peers", help="Number of peers."),
                host: str = HOST, port: Optional[int] = PORT, data: Optional[Path] = DATA,
                no_faucet: bool = NO_FAUCET, faucet_max: Optional[int] = FAUCET_MAX,
                as_json: bool = JSON, verbose: bool = VERBOSE) -> None:
    """Start a local network: one peer (or a cluster) serving the REST API."""
    if peers < 1:
        typer.echo("convex: error: --peers must be at least 1", err=True)
        raise typer.Exit(2)
    if peers > 1:
        try:
            from .cluster import serve_cluster
        except ImportError:
            typer.echo("convex: error: clusters of several peers are not supported yet",
                       err=True)
            raise typer.Exit(4)
        raise typer.Exit(serve_cluster(peers, host, port, data, not no_faucet, faucet_max,
                                       as_json, verbose))
    raise typer.Exit(serve(host, port, data, not no_faucet, faucet_max, as_json, verbose))


__all__ = ["peer_app", "local_app", "serve", "open_peer"]
