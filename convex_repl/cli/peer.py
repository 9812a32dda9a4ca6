"""`convex peer start` and `convex local start`: local peers serving the REST API and the
binary peer protocol.

    convex peer start [--host 127.0.0.1] [--port 8080] [--protocol-port 18888] [--data DIR]
    convex peer start --cluster N --index I [--peer HOST:PORT ...] [--outgoing K] ...
    convex local start [--peers N] [--port 8080] [--data DIR]

They print the REST URL, the funded genesis accounts and their keys (local networks only:
these keys are derived from public seeds), then serve until Ctrl-C (or SIGTERM), which stops
cleanly: pending transactions finish, the store is closed. With --data DIR the state, blocks
and results are kept in DIR/peer.db and the peer starts again where it was.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Optional

import typer

from convex_repl.cli.base import app
from convex_repl.peer.launcher import launch, print_accounts
from convex_repl.peer.signals import on_stop_signals, restore_signals

peer_app = typer.Typer(help="Run a Convex peer serving the REST API.", no_args_is_help=True)
local_app = typer.Typer(help="A local Convex network for development.", no_args_is_help=True)
app.add_typer(peer_app, name="peer")
app.add_typer(local_app, name="local")

DEFAULT_PORT = 8080
DEFAULT_PROTOCOL_PORT = 18888
FUNDED = (11, 12, 13)


def _accounts(peer: Any) -> list:
    from kernel.transition.ledger import genesis_seed, signing_key_for

    from convex_repl.peer.peer import FAUCET_ACCOUNT
    out = []
    for n in FUNDED:
        a = peer.state.account(n)
        sk = signing_key_for(peer.state, n)
        if a is None or sk is None:
            continue
        seed = bytes(sk)[:32] if len(bytes(sk)) >= 32 else genesis_seed(n)
        role = {11: "genesis user", 12: "peer controller", 13: "first user"}[n]
        if n == getattr(peer, "faucet_account", FAUCET_ACCOUNT):
            role += ", faucet"              # cluster peers have faucet accounts of their own
        out.append({"address": n, "role": role, "balance": a.balance,
                    "publicKey": "0x" + bytes(sk.verify_key).hex(), "seed": "0x" + seed.hex()})
    return out


def open_peer(data: Optional[Path], faucet: bool = True, faucet_max: Optional[int] = None,
              host: str = "127.0.0.1", protocol_port: Optional[int] = None,
              limits: Optional[dict] = None):
    """A lone peer speaking REST and the peer protocol, persistent when `data` is a
    directory (created if needed); `limits` as parse_limits gives them."""
    from convex_repl.peer.peer import GOLD
    from convex_repl.peer.protocol_peer import ProtocolPeer
    store = _store(data)
    kw = (limits or {}).get("peer", {})
    return _listening(lambda port: ProtocolPeer(host, port, store=store, faucet=faucet,
                                                faucet_max=faucet_max or GOLD, **kw),
                      DEFAULT_PROTOCOL_PORT, protocol_port)


def open_cluster_peer(size: int, index: int, host: str, protocol_port: Optional[int],
                      data: Optional[Path], faucet: bool = True,
                      faucet_max: Optional[int] = None, outgoing: Optional[int] = None,
                      limits: Optional[dict] = None):
    """Peer `index` of the local network of `size` equal-stake peers (cluster.py), persistent
    when `data` is a directory, listening for the peer protocol on `protocol_port`."""
    from convex_repl.peer.cluster import DEFAULT_OUTGOING, ClusterPeer, cluster_genesis
    from convex_repl.peer.peer import GOLD
    store = _store(data)
    kw = (limits or {}).get("peer", {})
    return _listening(lambda port: ClusterPeer(index, cluster_genesis(size), host, port, faucet,
                                               store, outgoing or DEFAULT_OUTGOING,
                                               faucet_max=faucet_max or GOLD, **kw),
                      DEFAULT_PROTOCOL_PORT + index, protocol_port)


def open_joining_peer(join: tuple, key: Any, host: str, protocol_port: Optional[int],
                      outgoing: Optional[int] = None, limits: Optional[dict] = None):
    """A peer with its own `key` that joins the network of the peer at `join`: the
    consensus state is fetched from it and checked (join.py), then the peer starts from it
    (no faucet, in memory). Raises JoinError when the state does not pass."""
    from convex_repl.peer.cluster import DEFAULT_OUTGOING, ClusterPeer
    from convex_repl.peer.join import fetch_consensus
    joined = fetch_consensus(join, key)
    kw = (limits or {}).get("peer", {})
    return _listening(lambda port: ClusterPeer(None, None, host, port, False, None,
                                               outgoing or DEFAULT_OUTGOING, key=key,
                                               joined=joined, **kw),
                      DEFAULT_PROTOCOL_PORT, protocol_port)


def _peer_key(name: Optional[str]) -> Any:
    """The joining peer's signing key: the stored key `name` (its password from
    $CONVEX_KEY_PASSWORD), else the hex seed in $CONVEX_PEER_SEED; None if neither."""
    if name:
        from nacl.signing import SigningKey
        from convex_repl.cli.keys import _keystore, _password
        return SigningKey(_keystore(None).load(name, _password("CONVEX_KEY_PASSWORD",
                                                                confirm=False))["seed"])
    seed = os.environ.get("CONVEX_PEER_SEED")
    if not seed:
        return None
    from convex_repl.peer.join import seed_key
    return seed_key(seed)


def _store(data: Optional[Path]) -> Any:
    from convex_repl.peer.store import Store
    if data is None:
        return None
    data.mkdir(parents=True, exist_ok=True)
    return Store(str(data / "peer.db"))


def _listening(make: Any, default_port: int, port: Optional[int]) -> Any:
    """make(port) on the given port, or on the default one and any free one if it is busy."""
    if port is not None:
        return make(port)
    try:
        return make(default_port)
    except OSError:
        return make(0)


def serve(peer: Any, host: str, port: Optional[int], data: Optional[Path], faucet: bool,
          as_json: bool, verbose: bool, bootstrap: tuple = (), watch_stdin: bool = False,
          limits: Optional[dict] = None) -> int:
    """Serve the REST API for `peer` (and the peer protocol) until Ctrl-C (SIGINT) or
    SIGTERM; print where, and the funded accounts."""
    from convex_repl.peer.rest import FaucetLimits, RestServer
    kw = dict((limits or {}).get("rest", {}))
    kw["faucet_limits"] = FaucetLimits(**(limits or {}).get("faucet", {}))
    try:
        if port is None:
            try:
                server = RestServer(peer, host, DEFAULT_PORT, verbose, **kw)
            except OSError:                 # busy: any free port, as the reference does
                server = RestServer(peer, host, 0, verbose, **kw)
        else:
            server = RestServer(peer, host, port, verbose, **kw)
    except OSError as e:
        typer.echo(f"convex: error: can't listen on {host}:{port}: {e}", err=True)
        return 3
    stop = threading.Event()
    old = on_stop_signals(stop)
    if watch_stdin:                     # the launcher holds our stdin: its end is our end
        threading.Thread(target=_wait_for_eof, args=(stop,), daemon=True).start()
    from convex_repl.peer.cluster import ClusterPeer
    cluster = isinstance(peer, ClusterPeer)
    if cluster:
        peer.start_network(list(bootstrap))
    else:
        peer.start_protocol()
    server.start()
    accounts = _accounts(peer)
    info = {"url": server.url, "api": server.url + "/api/v1",
            "openapi": server.url + "/openapi", "data": None if data is None else str(data),
            "blocks": peer.block_count, "peer": "0x" + peer.peer_key.data.hex(),
            "accounts": accounts}
    info["protocol"] = f"{peer.address[0]}:{peer.address[1]}"
    if cluster:
        info["index"] = peer.index
        joined = getattr(peer, "joined", None)
        if joined is not None:
            info["joined"] = {"via": "0x" + joined.via.hex(), "point": joined.point,
                              "agreed-stake": joined.agreed, "total-stake": joined.total}
    if as_json:
        typer.echo(json.dumps(info))
    else:
        if cluster and peer.index is None:
            j = peer.joined
            typer.echo(f"Convex peer joined through 0x{j.via.hex()[:8]}... at block {j.point} "
                       f"({100 * j.agreed // max(1, j.total)}% of the stake finalised it); "
                       f"{'staked' if peer.own in peer.stakes else 'not staked yet: it follows'}")
        else:
            typer.echo("Convex local peer" + (f" {peer.index} of {len(peer.stakes)} (CPoS)"
                                              if cluster else ""))
        typer.echo(f"  REST URL:  {server.url}   (API {server.url}/api/v1, "
                   f"OpenAPI {server.url}/openapi)")
        typer.echo(f"  protocol:  {info['protocol']}   peer key {info['peer']}")
        typer.echo(f"  data:      {data if data is not None else '(in memory: --data DIR keeps it)'}"
                   f"{f'  ({peer.block_count} blocks)' if peer.block_count else ''}")
        typer.echo(f"  faucet:    {'on' if faucet else 'off'}")
        print_accounts(accounts)
        typer.echo("Ctrl-C stops the peer.")
    sys.stdout.flush()
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        restore_signals(old)
        server.stop()
        peer.shutdown()
        if peer.store is not None:
            peer.store.close()
    if not as_json:
        typer.echo("Peer stopped.")
    return 0


# --limit NAME=VALUE: (which part, its keyword, type, default, what it bounds)
def limit_table() -> dict:
    from convex_repl.peer import peer as _p, protocol as _pr, protocol_peer as _pp, rest as _r
    return {
        "rest-connections": ("rest", "max_connections", int, _r.REST_MAX_CONNECTIONS,
                             "REST connections at once (then the longest-waiting idle one "
                             "is closed, or 503)"),
        "rest-timeout": ("rest", "timeout", float, _r.REST_TIMEOUT,
                         "seconds for a REST request to arrive whole (408 or closed)"),
        "rest-idle-timeout": ("rest", "idle_timeout", float, _r.REST_IDLE_TIMEOUT,
                              "seconds a keep-alive REST connection may wait idle"),
        "source": ("rest", "max_source", int, _r.MAX_SOURCE,
                   "characters of source in /query, /transact, /transaction/prepare (413)"),
        "faucet-window": ("faucet", "window", float, _r.FAUCET_WINDOW,
                          "seconds over which the faucet limits count"),
        "faucet-address-coins": ("faucet", "per_address", int, _r.FAUCET_ADDRESS_LIMIT,
                                 "coins (copper) one address may get per window (429)"),
        "faucet-address-requests": ("faucet", "address_requests", int,
                                    _r.FAUCET_ADDRESS_REQUESTS,
                                    "faucet requests for one address per window (429)"),
        "faucet-total-coins": ("faucet", "total", int, _r.FAUCET_TOTAL_LIMIT,
                               "coins the faucet gives per window, all addresses (429)"),
        "faucet-total-requests": ("faucet", "total_requests", int, _r.FAUCET_TOTAL_REQUESTS,
                                  "faucet and createAccount requests per window (429)"),
        "prepared-bytes": ("peer", "prepared_budget", int, _p.PREPARED_BUDGET,
                           "bytes of prepared (unsigned) transactions kept, in memory only"),
        "connections": ("peer", "max_connections", int, _pp.MAX_CONNECTIONS,
                        "incoming peer-protocol connections at once (:LOAD)"),
        "connections-per-ip": ("peer", "max_connections_per_ip", int,
                               _pp.MAX_CONNECTIONS_PER_IP,
                               "incoming peer-protocol connections from one IP (:LOAD)"),
        "frame": ("peer", "max_frame", int, _pr.MAX_FRAME,
                  "bytes of one peer-protocol message (:FORMAT)"),
        "frame-budget": ("peer", "frame_budget", int, _pr.FRAME_BUDGET,
                         "bytes of messages being received, all connections (:LOAD)"),
        "query-bytes": ("peer", "max_query", int, _pp.MAX_QUERY,
                        "bytes of a peer-protocol QUERY message (:LIMIT)"),
    }


def parse_limits(items: Optional[list]) -> dict:
    """--limit NAME=VALUE options as {"rest"|"faucet"|"peer": {keyword: value}}; a bad one is
    a usage error (exit 2)."""
    table = limit_table()
    out: dict = {"rest": {}, "faucet": {}, "peer": {}}
    for item in items or ():
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or name not in table:
            raise typer.BadParameter(f"{item!r}: expected NAME=VALUE, NAME one of "
                                     f"{', '.join(table)}", param_hint="--limit")
        part, key, kind, _default, _what = table[name]
        try:
            value = kind(text.replace("_", ""))
        except ValueError:
            value = None
        if value is None or value <= 0:
            raise typer.BadParameter(f"{item!r}: {name} must be a positive "
                                     f"{'integer' if kind is int else 'number'}",
                                     param_hint="--limit")
        out[part][key] = value
    return out


def _open_or_exit(make: Any) -> Any:
    """The peer `make` opens, or a one-line error (a busy port, another network's data)."""
    try:
        return make()
    except (OSError, ValueError) as e:
        typer.echo(f"convex: error: {e}", err=True)
        raise typer.Exit(3)


def _wait_for_eof(stop: threading.Event) -> None:
    """Set `stop` when standard input ends (raw reads: a buffered reader's lock would abort
    the interpreter at exit)."""
    import os
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    stop.set()


def parse_address(text: str) -> tuple:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise typer.BadParameter(f"{text!r} is not HOST:PORT")
    return host, int(port)


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


CLUSTER = typer.Option(None, "--cluster", help="Run peer --index of the local network of N "
                       "equal-stake peers (CPoS over the peer protocol).", show_default=False)
INDEX = typer.Option(0, "--index", help="Which peer of the --cluster network (0..N-1).")
PROTOCOL_PORT = typer.Option(None, "--protocol-port", help=f"Peer protocol port (default "
                             f"{DEFAULT_PROTOCOL_PORT}, +index in a cluster; any free one if "
                             "busy; 0 for any).",
                             show_default=False)
PEER = typer.Option(None, "--peer", help="HOST:PORT of another peer to connect to (repeat).",
                    show_default=False)
OUTGOING = typer.Option(None, "--outgoing", help="Most outgoing peer connections, chosen by "
                        "stake (default 8).", show_default=False)
LIMIT = typer.Option(None, "--limit", metavar="NAME=VALUE", help="Change a resource limit "
                     "(repeat): rest-connections, rest-timeout, rest-idle-timeout, source, "
                     "faucet-window, faucet-address-coins, faucet-address-requests, "
                     "faucet-total-coins, faucet-total-requests, prepared-bytes, connections, "
                     "connections-per-ip, frame, frame-budget, query-bytes (README: "
                     "Limits).", show_default=False)
JOIN = typer.Option(None, "--join", metavar="HOST:PORT", help="Join the network of the peer "
                    "at HOST:PORT (its protocol port) with this peer's own key: from --key, "
                    "or a hex seed in $CONVEX_PEER_SEED. It takes the consensus state from "
                    "that peer, checked, follows the network, and proposes blocks and votes "
                    "once its key is staked (create-peer).", show_default=False)
PEER_KEY = typer.Option(None, "--key", help="With --join: the peer's stored key (convex key "
                        "list); its password from $CONVEX_KEY_PASSWORD.", show_default=False)
WATCH_STDIN = typer.Option(False, "--stop-on-eof", hidden=True,
                           help="Stop when standard input ends (set by `convex local start`).")


@peer_app.command("start")
def peer_start(host: str = HOST, port: Optional[int] = PORT, data: Optional[Path] = DATA,
               no_faucet: bool = NO_FAUCET, faucet_max: Optional[int] = FAUCET_MAX,
               as_json: bool = JSON, verbose: bool = VERBOSE,
               cluster: Optional[int] = CLUSTER, index: int = INDEX,
               protocol_port: Optional[int] = PROTOCOL_PORT,
               peer: Optional[list[str]] = PEER, outgoing: Optional[int] = OUTGOING,
               limit: Optional[list[str]] = LIMIT, stop_on_eof: bool = WATCH_STDIN,
               join: Optional[str] = JOIN, key: Optional[str] = PEER_KEY) -> None:
    """Start a peer serving the Convex REST API (Ctrl-C stops it)."""
    limits = parse_limits(limit)
    if join is not None or key is not None:
        raise typer.Exit(_start_joining(join, key, host, port, protocol_port, peer, outgoing,
                                        cluster, data, as_json, verbose, limits, stop_on_eof))
    if cluster is None:
        if peer or outgoing is not None:
            typer.echo("convex: error: --peer and --outgoing need --cluster N", err=True)
            raise typer.Exit(2)
        node = _open_or_exit(lambda: open_peer(data, not no_faucet, faucet_max, host,
                                               protocol_port, limits))
        raise typer.Exit(serve(node, host, port, data, not no_faucet, as_json, verbose,
                               watch_stdin=stop_on_eof, limits=limits))
    if cluster < 1 or not 0 <= index < cluster:
        typer.echo(f"convex: error: --index must be in 0..{cluster - 1} for --cluster {cluster}",
                   err=True)
        raise typer.Exit(2)
    if outgoing is not None and outgoing < 1:
        typer.echo("convex: error: --outgoing must be at least 1", err=True)
        raise typer.Exit(2)
    bootstrap = [parse_address(x) for x in peer or ()]
    node = _open_or_exit(lambda: open_cluster_peer(cluster, index, host, protocol_port, data,
                                                   not no_faucet, faucet_max, outgoing, limits))
    raise typer.Exit(serve(node, host, port, data, not no_faucet, as_json, verbose, bootstrap,
                           stop_on_eof, limits))


def _start_joining(join: Optional[str], key_name: Optional[str], host: str,
                   port: Optional[int], protocol_port: Optional[int], peer: Optional[list],
                   outgoing: Optional[int], cluster: Optional[int], data: Optional[Path],
                   as_json: bool, verbose: bool, limits: dict, stop_on_eof: bool) -> int:
    """`convex peer start --join HOST:PORT`: its checks, then serve."""
    from convex_repl.peer.join import JoinError
    if join is None:
        typer.echo("convex: error: --key needs --join HOST:PORT", err=True)
        return 2
    if cluster is not None or data is not None:
        typer.echo("convex: error: --join takes neither --cluster (the network is the joined "
                   "peer's) nor --data (a joining peer keeps its state in memory for now)",
                   err=True)
        return 2
    if outgoing is not None and outgoing < 1:
        typer.echo("convex: error: --outgoing must be at least 1", err=True)
        return 2
    target = parse_address(join)
    try:
        sk = _peer_key(key_name)
    except Exception as e:               # a bad seed, a wrong password, no such key
        typer.echo(f"convex: error: the peer key: {e}", err=True)
        return 2
    if sk is None:
        typer.echo("convex: error: --join needs the peer's own key: --key NAME or a hex seed "
                   "in CONVEX_PEER_SEED", err=True)
        return 2
    try:
        node = open_joining_peer(target, sk, host, protocol_port, outgoing, limits)
    except JoinError as e:
        typer.echo(f"convex: error: can't join {join}: {e}", err=True)
        return 1
    except OSError as e:
        typer.echo(f"convex: error: {e}", err=True)
        return 3
    bootstrap = [target] + [parse_address(x) for x in peer or ()]
    return serve(node, host, port, None, False, as_json, verbose, bootstrap, stop_on_eof,
                 limits)


@local_app.command("start")
def local_start(peers: int = typer.Option(1, "--peers", help="Number of peers."),
                host: str = HOST, port: Optional[int] = PORT, data: Optional[Path] = DATA,
                no_faucet: bool = NO_FAUCET, faucet_max: Optional[int] = FAUCET_MAX,
                as_json: bool = JSON, verbose: bool = VERBOSE,
                limit: Optional[list[str]] = LIMIT,
                protocol_port: Optional[int] = typer.Option(
                    None, "--protocol-port", show_default=False,
                    help=f"Peer protocol port of the first peer, the next ones +1, +2... "
                         f"(default {DEFAULT_PROTOCOL_PORT} for one peer, any free one if "
                         "busy; any free ones for several; 0 for any).")) -> None:
    """Start a local network: one peer, or N peer processes agreeing by CPoS, each serving
    the REST API."""
    if peers < 1:
        typer.echo("convex: error: --peers must be at least 1", err=True)
        raise typer.Exit(2)
    limits = parse_limits(limit)
    if peers > 1:
        raise typer.Exit(launch(peers, host, port, data, not no_faucet, faucet_max, as_json,
                                verbose, list(limit or ()), protocol_port))
    node = _open_or_exit(lambda: open_peer(data, not no_faucet, faucet_max, host,
                                           protocol_port, limits=limits))
    raise typer.Exit(serve(node, host, port, data, not no_faucet, as_json, verbose,
                           limits=limits))


__all__ = ["peer_app", "local_app", "serve", "open_peer", "open_cluster_peer",
           "parse_limits", "limit_table"]
