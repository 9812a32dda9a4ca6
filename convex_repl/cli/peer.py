"""`convex peer start` and `convex local start`: local peers serving the REST API and the
binary peer protocol.

    convex peer start [--host 127.0.0.1] [--port 8080] [--protocol-port 18888] [--data DIR]
    convex peer start --cluster N --index I [--peer HOST:PORT ...] [--outgoing K] ...
    convex peer start --join HOST:PORT [--key NAME] [--data DIR]     (then: --data DIR)
    convex peer start --config peer.toml [options that win over the file's]
    convex local start [--peers N] [--port 8080] [--data DIR]

They print the REST URL, the funded genesis accounts and their keys (local networks only:
these keys are derived from public seeds), then serve until Ctrl-C (or SIGTERM), which stops
cleanly: pending transactions finish, every connection is told GOODBYE, a last commit is
made and the store is closed. With --data DIR the state, blocks and results are kept in
DIR/peer.db and the peer starts again where it was. The log (stderr) is text or JSON lines
(--log-format, --log-level; peer/log.py).
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
              limits: Optional[dict] = None, keep_states: Optional[int] = None,
              state: Any = None, sync: str = "normal"):
    """A lone peer speaking REST and the peer protocol, persistent when `data` is a
    directory (created if needed); `limits` as parse_limits gives them; `keep_states`: the
    states of only the last N blocks are kept; `state`: start from it (a fork), not genesis;
    `sync`: the store's durability (Store)."""
    from convex_repl.peer.peer import GOLD
    from convex_repl.peer.protocol_peer import ProtocolPeer
    store = _store(data, keep_states, sync)
    kw = dict((limits or {}).get("peer", {}))
    if state is not None:
        kw["state"] = state
    return _listening(lambda port: ProtocolPeer(host, port, store=store, faucet=faucet,
                                                faucet_max=faucet_max or GOLD, **kw),
                      DEFAULT_PROTOCOL_PORT, protocol_port)


def open_cluster_peer(size: int, index: int, host: str, protocol_port: Optional[int],
                      data: Optional[Path], faucet: bool = True,
                      faucet_max: Optional[int] = None, outgoing: Optional[int] = None,
                      limits: Optional[dict] = None, advertise: Optional[tuple] = None,
                      keep_states: Optional[int] = None, sync: str = "normal"):
    """Peer `index` of the local network of `size` equal-stake peers (cluster.py), persistent
    when `data` is a directory, listening for the peer protocol on `protocol_port`;
    `advertise` is the HOST:PORT it announces for others to dial (None: it announces none)."""
    from convex_repl.peer.cluster import DEFAULT_OUTGOING, ClusterPeer, cluster_genesis
    from convex_repl.peer.peer import GOLD
    store = _store(data, keep_states, sync)
    kw = dict((limits or {}).get("peer", {}))
    if advertise is not None:
        kw["advertise"] = advertise
    return _listening(lambda port: ClusterPeer(index, cluster_genesis(size), host, port, faucet,
                                               store, outgoing or DEFAULT_OUTGOING,
                                               faucet_max=faucet_max or GOLD, **kw),
                      DEFAULT_PROTOCOL_PORT + index, protocol_port)


def open_joining_peer(join: tuple, key: Any, host: str, protocol_port: Optional[int],
                      outgoing: Optional[int] = None, limits: Optional[dict] = None,
                      data: Optional[Path] = None, advertise: Optional[tuple] = None,
                      sync: str = "normal"):
    """A peer with its own `key` that joins the network of the peer at `join`: the
    consensus state is fetched from it and checked (join.py), then the peer starts from it
    (no faucet; persistent in `data` when given). Raises JoinError when the state does not
    pass."""
    from convex_repl.peer.cluster import DEFAULT_OUTGOING, ClusterPeer
    from convex_repl.peer.join import fetch_consensus
    joined = fetch_consensus(join, key)
    kw = dict((limits or {}).get("peer", {}))
    if advertise is not None:
        kw["advertise"] = advertise
    store = _store(data, sync=sync)
    return _listening(lambda port: ClusterPeer(None, None, host, port, False, store,
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


def _store(data: Optional[Path], keep_states: Optional[int] = None,
           sync: str = "normal") -> Any:
    from convex_repl.peer.store import Store
    if data is None:
        return None
    data.mkdir(parents=True, exist_ok=True)
    return Store(str(data / "peer.db"), keep_states=keep_states, sync=sync)


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
    from convex_repl.peer import log
    stop = threading.Event()
    old = on_stop_signals(stop)
    if watch_stdin:                     # the launcher holds our stdin: its end is our end
        threading.Thread(target=_wait_for_eof, args=(stop,), daemon=True).start()
    from convex_repl.peer.cluster import ClusterPeer
    cluster = isinstance(peer, ClusterPeer)
    log.name_peer(peer.name if cluster else "0x" + peer.peer_key.data.hex()[:8])
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
    log.event(None, "started", f"serving REST on {server.url}, the peer protocol on "
              f"{info['protocol']}", url=server.url, protocol=info["protocol"],
              peer_key=info["peer"], blocks=peer.block_count, data=info["data"])
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        restore_signals(old)
        peer.shutdown()                 # goodbyes, pending work, final commit (REST answers
        server.stop()                   # queries meanwhile and refuses transactions)
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
                        "list); its password from $CONVEX_KEY_PASSWORD. With --data DIR the "
                        "key is kept there, encrypted (password from $CONVEX_PEER_PASSWORD), "
                        "and `--data DIR` alone restarts the peer.", show_default=False)
WATCH_STDIN = typer.Option(False, "--stop-on-eof", hidden=True,
                           help="Stop when standard input ends (set by `convex local start`).")


CONFIG = typer.Option(None, "--config", help="A TOML file setting any of these options "
                      "(keys as the option names: protocol-port = 18888); the command line "
                      "wins (README: Running a peer).", show_default=False)
LOG_FORMAT = typer.Option("text", "--log-format", help="The log on stderr: text, or json "
                          "(one JSON object a line: time, level, peer, event, fields).")
LOG_LEVEL = typer.Option("info", "--log-level", help="Least level logged: debug, info, "
                         "warning, error.")
KEEP_STATES = typer.Option(None, "--keep-states", min=1, show_default=False,
                           help="With --data: keep the states of only the last N blocks "
                                "(older ones are pruned; blocks and results stay). Default: "
                                "keep every state.")
SYNC = typer.Option("normal", "--sync", help="With --data: normal (a commit survives the "
                    "peer's process being killed, as the reference's store) or full (it "
                    "also survives an OS crash or power loss: the disk is synced at every "
                    "commit, ~0.3 ms per block on this machine).")
ADVERTISE = typer.Option(None, "--advertise", metavar="HOST:PORT", help="The protocol "
                         "address other peers should dial (port 0: the protocol port this "
                         "peer gets); the peer announces it on chain as its :url when its "
                         "controller account has its key (default: it announces nothing).",
                         show_default=False)


@peer_app.command("start")
def peer_start(ctx: typer.Context, host: str = HOST, port: Optional[int] = PORT,
               data: Optional[Path] = DATA,
               no_faucet: bool = NO_FAUCET, faucet_max: Optional[int] = FAUCET_MAX,
               as_json: bool = JSON, verbose: bool = VERBOSE,
               cluster: Optional[int] = CLUSTER, index: int = INDEX,
               protocol_port: Optional[int] = PROTOCOL_PORT,
               peer: Optional[list[str]] = PEER, outgoing: Optional[int] = OUTGOING,
               limit: Optional[list[str]] = LIMIT, stop_on_eof: bool = WATCH_STDIN,
               join: Optional[str] = JOIN, key: Optional[str] = PEER_KEY,
               advertise: Optional[str] = ADVERTISE, config: Optional[Path] = CONFIG,
               log_format: str = LOG_FORMAT, log_level: str = LOG_LEVEL,
               keep_states: Optional[int] = KEEP_STATES, sync: str = SYNC) -> None:
    """Start a peer serving the Convex REST API (Ctrl-C stops it)."""
    o = dict(ctx.params)
    if config is not None:
        o.update(_from_config(ctx, config))
    raise typer.Exit(start_peer(o))


def _from_config(ctx: typer.Context, path: Path) -> dict:
    """The options `path` sets that the command line does not."""
    from convex_repl.peer.config import ConfigError, load
    try:
        found = load(path, list(limit_table()))
    except ConfigError as e:
        typer.echo(f"convex: error: {e}", err=True)
        raise typer.Exit(2)
    out = {}
    for name, value in found.items():
        name = {"json": "as_json"}.get(name, name)
        source = ctx.get_parameter_source(name)
        if source is None or source.name in ("DEFAULT", "DEFAULT_MAP"):
            out[name] = value
    return out


def start_peer(o: dict) -> int:
    """`convex peer start` with its options `o` (by parameter name): checks, then serve."""
    from convex_repl.peer import log
    try:
        log.configure(o["log_format"], o["log_level"])
    except ValueError as e:
        typer.echo(f"convex: error: {e}", err=True)
        return 2
    limits = parse_limits(o["limit"])
    from convex_repl.peer.store import Store
    if o["sync"] not in Store.SYNC:
        typer.echo(f"convex: error: --sync must be {' or '.join(Store.SYNC)}, not "
                   f"{o['sync']!r}", err=True)
        return 2
    advertise = parse_address(o["advertise"]) if o["advertise"] else None
    data, cluster, index, outgoing = o["data"], o["cluster"], o["index"], o["outgoing"]
    if o["join"] is not None or o["key"] is not None or (
            cluster is None and data is not None and saved_peer_key(data)):
        return _start_joining(o, limits, advertise)
    faucet = not o["no_faucet"]
    if cluster is None:
        if o["peer"] or outgoing is not None or advertise is not None:
            typer.echo("convex: error: --peer, --outgoing and --advertise need --cluster N or "
                       "--join HOST:PORT", err=True)
            return 2
        node = _open_or_exit(lambda: open_peer(data, faucet, o["faucet_max"], o["host"],
                                               o["protocol_port"], limits,
                                               o.get("keep_states"), sync=o["sync"]))
        return serve(node, o["host"], o["port"], data, faucet, o["as_json"], o["verbose"],
                     watch_stdin=o["stop_on_eof"], limits=limits)
    if cluster < 1 or not 0 <= index < cluster:
        typer.echo(f"convex: error: --index must be in 0..{cluster - 1} for --cluster {cluster}",
                   err=True)
        return 2
    if outgoing is not None and outgoing < 1:
        typer.echo("convex: error: --outgoing must be at least 1", err=True)
        return 2
    bootstrap = [parse_address(x) for x in o["peer"] or ()]
    node = _open_or_exit(lambda: open_cluster_peer(
        cluster, index, o["host"], o["protocol_port"], data, faucet, o["faucet_max"],
        outgoing, limits, advertise, o.get("keep_states"), o["sync"]))
    return serve(node, o["host"], o["port"], data, faucet, o["as_json"], o["verbose"],
                 bootstrap, o["stop_on_eof"], limits)


def _start_joining(o: dict, limits: dict, advertise: Optional[tuple]) -> int:
    """`convex peer start --join HOST:PORT` (or `--data DIR` of a peer that joined): its
    checks, its key (kept encrypted in DIR), then serve."""
    from convex_repl.peer.join import JoinError
    join, data, outgoing = o["join"], o["data"], o["outgoing"]
    if o["cluster"] is not None:
        typer.echo("convex: error: --join takes no --cluster (the network is the joined "
                   "peer's)", err=True)
        return 2
    if outgoing is not None and outgoing < 1:
        typer.echo("convex: error: --outgoing must be at least 1", err=True)
        return 2
    try:
        sk = _peer_key(o["key"])
    except Exception as e:               # a bad seed, a wrong password, no such key
        typer.echo(f"convex: error: the peer key: {e}", err=True)
        return 2
    if data is not None:
        sk, join = _data_identity(data, sk, join)
    if join is None:
        typer.echo("convex: error: --key needs --join HOST:PORT", err=True)
        return 2
    if sk is None:
        typer.echo("convex: error: --join needs the peer's own key: --key NAME or a hex seed "
                   "in CONVEX_PEER_SEED", err=True)
        return 2
    target = parse_address(join)
    try:
        node = open_joining_peer(target, sk, o["host"], o["protocol_port"], outgoing, limits,
                                 data, advertise, o["sync"])
    except JoinError as e:
        typer.echo(f"convex: error: can't join {join}: {e}", err=True)
        return 1
    except (OSError, ValueError) as e:
        typer.echo(f"convex: error: {e}", err=True)
        return 3
    bootstrap = [target] + [parse_address(x) for x in o["peer"] or ()]
    return serve(node, o["host"], o["port"], data, False, o["as_json"], o["verbose"],
                 bootstrap, o["stop_on_eof"], limits)


# A joining peer's data directory keeps its key, encrypted as the keystore keeps keys
# (DIR/keys/peer.json, password from $CONVEX_PEER_PASSWORD or asked on a terminal), and the
# address it joined through (DIR/join), so `convex peer start --data DIR` restarts it.
PEER_KEY_FILE = "peer"
PEER_PASSWORD = "CONVEX_PEER_PASSWORD"


def saved_peer_key(data: Path) -> bool:
    from convex_repl.client.keys import Keystore
    return Keystore(Path(data)).path(PEER_KEY_FILE).exists()


def _data_identity(data: Path, sk: Any, join: Optional[str]) -> tuple:
    """The key and join address of the peer whose data directory is `data`: those saved
    there (a key given as well must be the same), or the given ones, saved."""
    from nacl.signing import SigningKey
    from convex_repl.cli.base import EXIT_SECRET, Fail
    from convex_repl.cli.keys import _password
    from convex_repl.client.keys import Keystore, KeyError_
    ks = Keystore(Path(data))
    where = Path(data) / "join"
    if ks.path(PEER_KEY_FILE).exists():
        try:
            stored = SigningKey(ks.load(PEER_KEY_FILE, _password(PEER_PASSWORD, False))["seed"])
        except KeyError_ as e:
            raise Fail(f"the peer key in {data}: {e} (its password is in ${PEER_PASSWORD})",
                       EXIT_SECRET, "SECRET") from None
        if sk is not None and bytes(sk.verify_key) != bytes(stored.verify_key):
            raise Fail(f"{data} holds the key of peer 0x{bytes(stored.verify_key).hex()}, not "
                       f"the one given (a data directory belongs to one peer)", EXIT_SECRET,
                       "SECRET")
        sk = stored
    elif sk is not None:
        Path(data).mkdir(parents=True, exist_ok=True)
        ks.save(PEER_KEY_FILE, bytes(sk), _password(PEER_PASSWORD, True), overwrite=False)
    if join is None and where.exists():
        join = where.read_text().strip() or None
    elif join is not None and sk is not None:
        Path(data).mkdir(parents=True, exist_ok=True)
        where.write_text(join + "\n")
    return sk, join


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
                         "busy; any free ones for several; 0 for any)."),
                keep_states: Optional[int] = KEEP_STATES,
                fork: Optional[str] = typer.Option(
                    None, "--fork", metavar="URL", show_default=False,
                    help="Start from a copy of this peer's state (fetched by value ID, "
                         "cached): a new local network forked from it."),
                block: Optional[int] = typer.Option(
                    None, "--block", show_default=False,
                    help="With --fork: the state after block N.")) -> None:
    """Start a local network: one peer, or N peer processes agreeing by CPoS, each serving
    the REST API."""
    if peers < 1:
        typer.echo("convex: error: --peers must be at least 1", err=True)
        raise typer.Exit(2)
    limits = parse_limits(limit)
    if peers > 1 and (fork is not None or keep_states is not None):
        typer.echo("convex: error: --fork and --keep-states start one peer (--peers 1)",
                   err=True)
        raise typer.Exit(2)
    state = None
    if fork is not None:
        state = _forked_state(fork, block, data)
    elif block is not None:
        typer.echo("convex: error: --block needs --fork URL", err=True)
        raise typer.Exit(2)
    if peers > 1:
        raise typer.Exit(launch(peers, host, port, data, not no_faucet, faucet_max, as_json,
                                verbose, list(limit or ()), protocol_port))
    node = _open_or_exit(lambda: open_peer(data, not no_faucet, faucet_max, host,
                                           protocol_port, limits=limits,
                                           keep_states=keep_states, state=state))
    raise typer.Exit(serve(node, host, port, data, not no_faucet, as_json, verbose,
                           limits=limits))


def _forked_state(url: str, block: Optional[int], data: Optional[Path]) -> Any:
    """The state `convex local start --fork URL [--block N]` starts from (one line and exit
    3 if the peer can't give it; a data directory already holding a network is refused)."""
    from convex_repl.client.remote import RemoteError, normalise
    from convex_repl.history.fetch import fetch_state
    if data is not None and (data / "peer.db").exists():
        typer.echo(f"convex: error: {data} already holds a network: --fork needs a new data "
                   "directory", err=True)
        raise typer.Exit(2)
    try:
        return fetch_state(normalise(url), block).state
    except RemoteError as e:
        typer.echo(f"convex: error: can't fork {url}: {e}", err=True)
        raise typer.Exit(3)


__all__ = ["peer_app", "local_app", "serve", "open_peer", "open_cluster_peer",
           "parse_limits", "limit_table"]
