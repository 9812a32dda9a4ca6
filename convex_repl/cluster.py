"""A local cluster: peers that agree on blocks with CPoS (kernel/cpos.py) over the binary
peer protocol on TCP (shared/spec/peer-protocol.md), each able to serve the REST API.

    nodes = start_cluster(3)             # 3 equal-stake peers on 127.0.0.1, ephemeral ports
    nodes[0].submit(signed)              # a Result once the block holding it is confirmed
    [n.state.value_id() for n in nodes]  # the same everywhere
    stop_cluster(nodes)

Frames are a VLQ length and a message: a multi-cell CAD3 encoding (top cell, then branch
cells). Beliefs carry only novelty: on each connection a peer remembers the cells it has sent
and sends only the others; the receiver resolves the rest from the cells it already holds.
Messages: a Belief (no reply); [:TX id signed] / [:Q id form address] / [:SR id] /
[:PING id] answered with a Result record carrying the id; anything else gets :FORMAT.
Garbage, oversized frames and undecodable messages close that connection only.
"""
from __future__ import annotations

import hashlib
import socket
import threading
import time
from typing import Any, Optional

from kernel.blobs import Blob, String
from kernel.cell import BranchRef, Cell, DecodeError, encoding, is_branch, read_vlq, vlq
from kernel.cpos import Belief, Order, merge_beliefs, merge_orders
from kernel.decoding import Decoder, _branch_hashes
from kernel.index import Index
from kernel.records import Signed
from kernel.scalars import Address, Keyword
from kernel.transactions import Block, Invoke, Result, sign, verify
from kernel.vectors import Vector

from .peer import FAUCET_ACCOUNT, Peer, _Pending, now_ms
from .store import novelty

K = Keyword
MAX_FRAME = 20_000_000
MERGE_INTERVAL = 0.02


def cluster_key(i: int) -> Any:
    """The signing key of peer i of a local cluster (derived from a public seed)."""
    from nacl.signing import SigningKey
    return SigningKey(hashlib.sha3_256(f"convex-repl local cluster peer {i}".encode()).digest())


def cluster_genesis(n: int) -> Any:
    """The genesis state with the genesis peer's stake split equally among n peers."""
    from kernel.state import PeerStatus
    from stdlib.genesis import GENESIS_PEER, genesis_state
    g = genesis_state()
    total = sum(ps.peer_stake for _k, ps in g.peers.items())
    peers = Index.EMPTY
    for i in range(n):
        share = total // n + (total % n if i == 0 else 0)
        peers = peers.assoc(Blob(bytes(cluster_key(i).verify_key)),
                            PeerStatus.create(Address(GENESIS_PEER), share))
    return g.with_peers(peers)


# --- framing and messages -------------------------------------------------------------------------

def frame(msg: bytes) -> bytes:
    return vlq(len(msg)) + msg


def encode_message(v: Any, sent: Optional[set] = None) -> bytes:
    """Top cell then branch cells; with `sent`, only cells not sent before (and noted)."""
    known = sent if sent is not None else set()
    cells = novelty(v, known)
    top = encoding(v)
    parts = [top]
    th = hashlib.sha3_256(top).digest()
    for h, enc in cells:
        if h == th:
            continue
        parts.append(vlq(len(enc)))
        parts.append(enc)
        if sent is not None:
            sent.add(h)
    return b"".join(parts)


def decode_message(data: bytes, cells: dict) -> Any:
    """Decode a message whose missing branches may be in `cells` (hash -> value), adding the
    branch cells it carries to `cells`."""
    data = bytes(data)
    _, pos = Decoder(data, cells).value(0)
    raw: dict = {}
    while pos < len(data):
        n, pos = read_vlq(data, pos)
        if n == 0 or pos + n > len(data):
            raise DecodeError("bad cell length")
        enc = data[pos:pos + n]
        raw[hashlib.sha3_256(enc).digest()] = enc
        pos += n
    done: set = set()

    def resolve(h: bytes) -> None:
        stack = [(h, False)]
        while stack:
            x, expanded = stack.pop()
            if expanded:
                v, end = Decoder(raw[x], cells).value(0)
                if end != len(raw[x]) or not is_branch(v):
                    raise DecodeError("invalid branch cell")
                cells[x] = v
                continue
            if x in done or x in cells or x not in raw:
                continue
            done.add(x)
            stack.append((x, True))
            stack.extend((c, False) for c in _branch_hashes(raw[x]))
    for h in list(raw):
        resolve(h)
    v, end = Decoder(data, cells).value(0)
    return v


def _complete(v: Any, limit: int = 1_000_000) -> bool:
    stack, n = [v], 0
    while stack:
        c = stack.pop()
        n += 1
        if n > limit or type(c) is BranchRef:
            return False
        if isinstance(c, Cell):
            stack.extend(c.children())
    return True


class Connection:
    """One TCP connection: framed messages in and out, novelty tracking for beliefs."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.sent: set = set()
        self.lock = threading.Lock()
        self.closed = False

    def send(self, v: Any, novelty_only: bool = False) -> bool:
        try:
            with self.lock:
                msg = encode_message(v, self.sent if novelty_only else None)
                self.sock.sendall(frame(msg))
            return True
        except OSError:
            self.close()
            return False

    def read_frame(self) -> Optional[bytes]:
        """The next frame's bytes; None at end of stream; DecodeError for a bad length."""
        hdr = b""
        while True:
            b = self._recv(1)
            if b is None:
                return None
            hdr += b
            if not b[0] & 0x80:
                break
            if len(hdr) > 9:
                raise DecodeError("frame length too long")
        if hdr[0] == 0x80:
            raise DecodeError("non-minimal frame length")
        n, _ = read_vlq(hdr, 0)
        if n == 0 or n > MAX_FRAME:
            raise DecodeError(f"bad frame length {n}")
        data = bytearray()
        while len(data) < n:
            chunk = self._recv(min(65536, n - len(data)))
            if chunk is None:
                return None
            data += chunk
        return bytes(data)

    def _recv(self, n: int) -> Optional[bytes]:
        try:
            b = self.sock.recv(n)
        except OSError:
            return None
        return b or None

    def close(self) -> None:
        self.closed = True
        try:
            self.sock.close()
        except OSError:
            pass


# --- a cluster peer ----------------------------------------------------------------------------

class ClusterPeer(Peer):
    """A Peer whose blocks are ordered by CPoS with the other peers of its cluster."""

    def __init__(self, index: int, genesis: Any, host: str = "127.0.0.1", port: int = 0,
                 faucet: bool = True, **kw: Any):
        self.index = index
        super().__init__(state=genesis, key=cluster_key(index), faucet=faucet, **kw)
        from kernel.ledger import signing_key_for
        self.faucet_key = signing_key_for(self.state, FAUCET_ACCOUNT)
        self.stakes = {k.data: ps.peer_stake for k, ps in genesis.peers.items()}
        self.order = Order.create(0)
        self.known: dict = {}             # peer key -> Signed(Order)
        self.cells: dict = {}             # branch cells received, by hash
        self.applied = 0                  # blocks of the order applied to the state
        self.waiting: dict = {}           # signed tx hash -> _Pending
        self.proposed: list = []          # signed blocks of ours not merged yet
        self.lock = threading.RLock()
        self.dirty = threading.Event()
        self.conns: list = []
        self.peer_addrs: list = []
        self.faucet_seq = 0
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.server.bind((host, port))
        self.server.listen(64)
        self.address = self.server.getsockname()
        self.running = True
        self.confirm_times: list = []     # seconds from proposal to confirmation
        self._proposed_at: dict = {}

    # life cycle
    def start_network(self, peers: list) -> None:
        self.peer_addrs = [a for a in peers if a != self.address]
        for target in (self._accept_loop, self._merge_loop, self._dial_loop):
            threading.Thread(target=target, daemon=True).start()
        self.start()

    def shutdown(self) -> None:
        self.running = False
        self.stop(2)
        try:
            self.server.close()
        except OSError:
            pass
        for c in list(self.conns):
            c.close()

    def _accept_loop(self) -> None:
        while self.running:
            try:
                s, _ = self.server.accept()
            except OSError:
                return
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            c = Connection(s)
            threading.Thread(target=self._read_loop, args=(c, False), daemon=True).start()

    def _dial_loop(self) -> None:
        """Keep one outgoing connection to each other peer (beliefs go out on these)."""
        out: dict = {}
        while self.running:
            for a in self.peer_addrs:
                c = out.get(a)
                if c is None or c.closed:
                    try:
                        s = socket.create_connection(a, timeout=1)
                        s.settimeout(None)
                        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    except OSError:
                        continue
                    c = out[a] = Connection(s)
                    with self.lock:
                        self.conns = [x for x in self.conns if not x.closed] + [c]
                    self.dirty.set()
            time.sleep(0.2)

    def _read_loop(self, c: Connection, outgoing: bool) -> None:
        while self.running and not c.closed:
            try:
                data = c.read_frame()
            except DecodeError:
                break
            if data is None:
                break
            try:
                self.handle(c, data)
            except Exception:           # a bad message closes nothing but itself
                c.send(Result.create(None, String.of("Bad message"), K("FORMAT")))
        c.close()

    # messages
    def handle(self, c: Connection, data: bytes) -> None:
        try:
            msg = decode_message(data, self.cells)
        except (DecodeError, ValueError, RecursionError):
            c.send(Result.create(None, String.of("Undecodable message"), K("FORMAT")))
            return
        if isinstance(msg, Belief):
            incoming = {}
            for k, so in msg.orders.items():
                if type(k) is Blob and type(so) is Signed and _complete(so):
                    incoming[k.data] = so
            with self.lock:
                new = merge_beliefs(self.known, {k: v for k, v in incoming.items()
                                                 if k in self.stakes}, verify)
                if new != self.known:
                    self.known = new
                    self.dirty.set()
            return
        if not isinstance(msg, Vector) or len(msg) < 2 or type(msg[0]) is not Keyword:
            c.send(Result.create(None, String.of("Unknown message type"), K("FORMAT")))
            return
        kind, mid = msg[0].name, msg[1]
        if kind == "TX" and len(msg) >= 3 and _complete(msg[2]):
            threading.Thread(target=lambda: c.send(self.submit(msg[2]).with_id(mid)),
                             daemon=True).start()
        elif kind == "Q" and len(msg) >= 3:
            addr = msg[3] if len(msg) > 3 else None
            n = addr.n if type(addr) is Address else None
            c.send(self.query(msg[2], n).with_id(mid))
        elif kind == "SR":
            s = self.status()
            c.send(Result.create(mid, Vector.of(
                String.of(s["state"]), self.order.consensus_point,
                self.order.proposal_point, len(self.order.blocks))))
        elif kind == "PING":
            c.send(Result.create(mid, now_ms()))
        else:
            c.send(Result.create(mid, String.of(f"Unknown message: {kind}"), K("FORMAT")))

    # blocks: what the producer thread hands over goes into our next order
    def _apply(self, batch: list) -> None:
        with self.lock:
            state = self.state
            acct = state.account(FAUCET_ACCOUNT)
            self.faucet_seq = max(self.faucet_seq, acct.sequence if acct else 0)
            for p in batch:
                if p.signed is None:
                    self.faucet_seq += 1
                    p.signed = sign(self.faucet_key,
                                    Invoke.create(FAUCET_ACCOUNT, self.faucet_seq, p.form))
                self.waiting[p.signed.value_id()] = p
            ts = max(now_ms(), state.timestamp)
            sb = sign(self.key, Block.create(ts, [p.signed for p in batch]))
            self.proposed.append(sb)
            self._proposed_at[sb.value_id()] = time.perf_counter()
            self.dirty.set()
        # the submitters wait on their own events; the producer goes on with the next batch

    def _enqueue(self, p: _Pending, timeout: float) -> Result:
        r = super()._enqueue(p, timeout)
        if r is not None and r.error is not None and r.error.name == "TIMEOUT":
            with self.lock:
                if p.signed is not None:
                    self.waiting.pop(p.signed.value_id(), None)
        return r

    def _merge_loop(self) -> None:
        last_sent = 0.0
        while self.running:
            self.dirty.wait(0.25)
            self.dirty.clear()
            with self.lock:
                orders = {k: so.value for k, so in self.known.items() if k != self.key.verify_key
                          .encode()}
                new = merge_orders(self.key.verify_key.encode(), self.order, orders,
                                   self.stakes, self.proposed,
                                   max(now_ms(), self.order.timestamp + 1))
                self.proposed = []
                changed = new.value_id() != self.order.value_id()
                if changed:
                    self.order = new
                    self.known[self.key.verify_key.encode()] = sign(self.key, new)
                self._apply_confirmed()
                belief = Belief.create(dict(self.known))
                conns = [c for c in self.conns if not c.closed]
            if changed or time.perf_counter() - last_sent > 0.5:
                last_sent = time.perf_counter()
                for c in conns:
                    c.send(belief, novelty_only=True)
            time.sleep(MERGE_INTERVAL)

    def _apply_confirmed(self) -> None:
        from kernel.transition import apply_block
        blocks = self.order.blocks
        while self.applied < self.order.consensus_point:
            sb = blocks[self.applied]
            n = self.applied
            br = apply_block(self.state, sb)
            self.state = br.state
            self.applied += 1
            self.block_count = self.applied
            t0 = self._proposed_at.pop(sb.value_id(), None)
            if t0 is not None:
                self.confirm_times.append(time.perf_counter() - t0)
            txs = sb.value.transactions if type(sb.value) is Block else ()
            rv = []
            for i, (tx, r) in enumerate(zip(txs, br.results)):
                h = tx.value_id()
                r = r._with(4, r.info.assoc(K("tx"), Blob(h)).assoc(K("loc"),
                                                                    Vector.of(n, i)))
                rv.append(r)
                self._tx_index[h] = (n, i)
                p = self.waiting.pop(h, None)
                if p is not None:
                    p.result = r
                    p.event.set()
            self._blocks.append({"index": n, "timestamp": sb.value.timestamp,
                                 "peer": "0x" + sb.public_key.hex(),
                                 "hash": "0x" + sb.value_id().hex(),
                                 "transactionCount": len(rv), "finalised": True,
                                 "_results": Vector.from_seq(rv)})

    def status(self) -> dict:
        s = super().status()
        s.update({"consensus-point": self.order.consensus_point,
                  "proposal-point": self.order.proposal_point,
                  "block-point": len(self.order.blocks), "peers": len(self.stakes)})
        return s


def start_cluster(n: int, host: str = "127.0.0.1", faucet: bool = True) -> list:
    g = cluster_genesis(n)
    nodes = [ClusterPeer(i, g, host, 0, faucet) for i in range(n)]
    addrs = [x.address for x in nodes]
    for x in nodes:
        x.start_network(addrs)
    return nodes


def stop_cluster(nodes: list) -> None:
    for x in nodes:
        x.shutdown()


def serve_cluster(n: int, host: str, port: Optional[int], data: Any, faucet: bool,
                  faucet_max: Optional[int], as_json: bool, verbose: bool) -> int:
    """`convex local start --peers N`: N peers, the REST API on each (the first on --port)."""
    import json
    import signal

    import typer

    from .rest import RestServer
    if data is not None:
        typer.echo("convex: error: --data is not supported for clusters yet", err=True)
        return 4
    nodes = start_cluster(n, host, faucet)
    servers = []
    for i, x in enumerate(nodes):
        if faucet_max:
            x.faucet_max = faucet_max
        servers.append(RestServer(x, host, (port or 0) if i == 0 else 0, verbose).start())
    stop = threading.Event()
    old = signal.signal(signal.SIGTERM, lambda *a: stop.set())
    from .peer_cli import _accounts
    info = {"url": servers[0].url, "peers": [{"url": s.url, "peer": "0x" + bytes(
        x.key.verify_key).hex(), "protocol": f"{x.address[0]}:{x.address[1]}"}
        for s, x in zip(servers, nodes)], "accounts": _accounts(nodes[0])}
    if as_json:
        typer.echo(json.dumps(info))
    else:
        typer.echo(f"Convex local cluster of {n} peers (CPoS, equal stakes)")
        for p in info["peers"]:
            typer.echo(f"  REST URL:  {p['url']}   peer protocol {p['protocol']}")
        for a in info["accounts"]:
            typer.echo(f"  #{a['address']:<3} {a['balance']:>22,} copper  seed {a['seed']}")
        typer.echo("Ctrl-C stops the cluster.")
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, old)
        for s in servers:
            s.stop()
        stop_cluster(nodes)
    if not as_json:
        typer.echo("Cluster stopped.")
    return 0


__all__ = ["ClusterPeer", "start_cluster", "stop_cluster", "cluster_genesis", "cluster_key",
           "encode_message", "decode_message", "frame", "serve_cluster"]
