"""A peer that speaks the binary peer protocol (convex_repl/protocol.py) on TCP besides the
REST API: clients send [:Q id form address], [:TX id signed], [:SR id], [:DR id hash...],
[:CH id signed], [:PING id] and [:BYE reason?] (the connection is closed at once), and get
Result records back with the request's id.
A CHALLENGE is answered as the reference answers it: a nil target means any key, a context
that is a 32-byte value must be our network ID.

    peer = ProtocolPeer("127.0.0.1", 18888, store=Store("peer.db"))
    peer.start_protocol()                  # accept connections, produce blocks
    peer.shutdown()                        # finish, goodbye to every connection, commit

A lone peer ignores beliefs (nobody shares its consensus); ClusterPeer (cluster.py) builds
on this with CPoS. Every connection has its own reader thread; a bad message harms nothing
but itself; garbage, oversized and stalled frames close that connection only.

A connection's transactions are admitted in the order they arrive, on its reader thread,
and their Results sent back in that order by the connection's responder
(Connection.send_in_order), so a client may send many transactions of one account back to
back. Bounds: at most `max_connections` incoming connections (MAX_CONNECTIONS), and
`max_connections_per_ip` from one address; frames share the peer's FrameBudget; a QUERY
form is at most `max_query` bytes of CAD3 (MAX_QUERY).
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Any, Optional

from kernel.data.blobs import Blob, String
from kernel.data.cell import Cell, DecodeError
from kernel.consensus.cpos import Belief, Order
from kernel.data.records import Signed
from kernel.data.scalars import Address, Keyword
from kernel.state.transactions import Result
from kernel.data.vectors import Vector

from convex_repl.peer import log
from convex_repl.peer.peer import Peer, error_result, log_event, now_ms
from convex_repl.peer.protocol import (MAX_FRAME, Connection, FrameBudget, peer_address,
                                       decode_message, missing_cells, request,
                                       respond_to_challenge, serve_connection)

K = Keyword
MAX_WAITING_TX = 2000           # transactions from the protocol waiting at once, at most
MAX_CELLS = 1_000_000           # received cells kept for resolving later messages
CELLS_BUDGET = 64_000_000       # ... and at most about this many bytes of them
MAX_CONNECTIONS = 256           # incoming protocol connections at once
MAX_CONNECTIONS_PER_IP = 64     # ... from one IP address
MAX_QUERY = 100_000             # bytes of a QUERY message (its form), as REST's MAX_SOURCE
SHUTDOWN_GRACE = 5.0            # seconds a stopping peer waits for its transactions
GOODBYE_WAIT = 0.5              # ... and for the others to close after its GOODBYE


class ProtocolPeer(Peer):
    """A Peer listening for the binary peer protocol on host:port (0: any free port)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0,
                 max_connections: int = MAX_CONNECTIONS,
                 max_connections_per_ip: int = MAX_CONNECTIONS_PER_IP,
                 max_frame: int = MAX_FRAME, frame_budget: Optional[int] = None,
                 max_query: int = MAX_QUERY, **kw: Any):
        super().__init__(**kw)
        self.max_connections = max_connections
        self.max_connections_per_ip = max_connections_per_ip
        self.max_frame = max_frame
        self.budget = None if frame_budget is None else FrameBudget(frame_budget)
        self.max_query = max_query
        self.cells: dict = {}             # branch cells received, by hash
        self._cell_bytes = 0              # frame bytes that brought them (an upper bound)
        self.lock = threading.RLock()
        self.conns: list = []
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.server.bind((host, port))
        except OSError:
            self.server.close()
            raise
        self.server.listen(64)
        self.address = self.server.getsockname()
        self.running = True
        self._tx_slots = threading.BoundedSemaphore(MAX_WAITING_TX)

    def start_protocol(self) -> "ProtocolPeer":
        threading.Thread(target=self._accept_loop, daemon=True).start()
        self.start()
        return self

    def shutdown(self, reason: str = "shutdown", grace: float = SHUTDOWN_GRACE) -> None:
        """Stop cleanly: take no more transactions and finish those taken (their blocks; a
        cluster peer also waits up to `grace` seconds for the network to confirm what it
        proposed, while it is in consensus), say GOODBYE ([:BYE reason]) on every
        connection and give the others a moment to close them, then commit what the peer
        knows a last time (a cluster peer's belief and progress) before the store closes."""
        if not self.running:
            return
        self.stop(grace)
        self._finish_waiting(grace)
        self.running = False
        self._close_server()
        conns = [c for c in list(self.conns) if not c.closed]
        for c in conns:
            c.send(request("BYE", String.of(reason)))
        end = time.monotonic() + GOODBYE_WAIT
        while time.monotonic() < end and any(not c.closed for c in conns):
            time.sleep(0.02)                # they close at once: their end first, no reset
        for c in list(self.conns):
            c.close()
        self._final_commit()
        log.event(None, "stopped", f"peer stopped ({reason}): said goodbye to "
                  f"{len(conns)} connections", reason=reason, connections=len(conns),
                  blocks=self.block_count)

    def _close_server(self) -> None:
        """Stop listening. Closing alone would not do: a listening socket that a thread is
        blocked accepting on stays open (and accepts) until that accept returns, so it is
        shut down first, which wakes the accept."""
        for stop in (lambda: self.server.shutdown(socket.SHUT_RDWR), self.server.close):
            try:
                stop()
            except OSError:
                pass

    def _finish_waiting(self, grace: float) -> None:
        """Wait for transactions handed to others to be confirmed (a lone peer has none: its
        own blocks are done when `stop` returns; a cluster peer overrides this)."""

    def _final_commit(self) -> None:
        """Commit what the peer knows a last time: a lone peer commits each block as it makes
        it, so nothing is left (a cluster peer keeps its belief and progress too)."""

    def _track(self, c: Connection) -> None:
        with self.lock:
            self.conns = [x for x in self.conns if not x.closed] + [c]

    def _accept_loop(self) -> None:
        while self.running:
            try:
                s, addr = self.server.accept()
            except OSError:
                if not self.running:
                    return
                time.sleep(0.05)          # out of descriptors, a reset: keep accepting
                continue
            if not self.running:          # accepted as we stopped: not served
                s.close()
                return
            c = Connection(s, outgoing=False, address=addr, max_frame=self.max_frame,
                           budget=self.budget)
            refused = self._refusal(addr)
            if refused is not None:
                log_event("connections", f"refused a protocol connection from {addr[0]}: "
                          f"{refused}")
                c.send(error_result("LOAD", refused))
                c.close()
                continue
            self._track(c)
            threading.Thread(target=serve_connection, args=(c, self.handle),
                             daemon=True).start()

    def _refusal(self, addr: Any) -> Optional[str]:
        """Why a new incoming connection from addr is over a limit, or None."""
        with self.lock:
            live = [x for x in self.conns if not x.closed and not x.outgoing]
        if len(live) >= self.max_connections:
            return f"Too many connections: at most {self.max_connections}"
        if sum(1 for x in live if x.address and x.address[0] == addr[0]) \
                >= self.max_connections_per_ip:
            return f"Too many connections from {addr[0]}: at most {self.max_connections_per_ip}"
        return None

    # --- messages -------------------------------------------------------------------------------
    def handle(self, c: Connection, data: bytes) -> None:
        if len(self.cells) > MAX_CELLS or self._cell_bytes > CELLS_BUDGET:
            self.cells = {}               # forget: what is missing later, DATA_REQUEST gets
            self._cell_bytes = 0
        known = len(self.cells)
        try:
            msg = decode_message(data, self.cells)
        except (DecodeError, ValueError, RecursionError):
            c.send(Result.create(None, String.of("Undecodable message"), K("FORMAT")))
            return
        except Exception:                  # a decoder bug: this message only
            c.send(Result.create(None, String.of("Bad message"), K("FORMAT")))
            return
        if len(self.cells) > known:
            self._cell_bytes += len(data)
        try:
            if c.deliver(msg) or isinstance(msg, Result):
                return
            if type(msg) is Signed and isinstance(msg.value, Order):
                msg = Belief.create({msg.public_key: msg})     # one peer's order alone
            if isinstance(msg, Belief):
                self._on_belief(c, msg, data)
                return
            self._on_request(c, msg, len(data))
        except Exception:               # a bad message harms nothing but itself
            c.send(Result.create(None, String.of("Bad message"), K("FORMAT")))

    def _on_belief(self, c: Connection, msg: Belief, data: bytes) -> None:
        """A lone peer has nobody to agree with: beliefs are ignored."""

    def _on_request(self, c: Connection, msg: Any, size: int) -> None:
        if not isinstance(msg, Vector) or len(msg) < 1 or type(msg[0]) is not Keyword:
            c.send(Result.create(None, String.of("Unknown message type"), K("FORMAT")))
            return
        kind = msg[0].name
        if kind == "BYE":
            self._goodbye(c, msg[1] if len(msg) > 1 else None)
            return
        mid = msg[1] if len(msg) > 1 else None
        if kind == "TX" and len(msg) >= 3:
            self._transact(c, mid, msg[2])
        elif kind == "Q" and len(msg) >= 3:
            if size > self.max_query:
                c.send(error_result("LIMIT", f"Query of {size} bytes: at most "
                                    f"{self.max_query}").with_id(mid))
                return
            addr = msg[3] if len(msg) > 3 else None
            n = addr.n if type(addr) is Address else None
            c.send(self.query(msg[2], n).with_id(mid))
        elif kind == "SR":
            c.send(Result.create(mid, self.status_vector()))
        elif kind == "DR":
            c.send(Result.create(mid, Vector.from_seq(self.find_cell(h.data) if type(h) is Blob
                                                      else None for h in list(msg)[2:1002])))
        elif kind == "CH":
            r = respond_to_challenge(self.key, msg, self._challenge_context_ok)
            if r is not None:
                c.send(r)
            self._challenged(c)
        elif kind == "PING":
            c.send(Result.create(mid, now_ms()))
        else:
            c.send(Result.create(mid, String.of(f"Unknown message: {kind}"), K("FORMAT")))

    def _left(self, key: bytes) -> None:
        """The peer with `key` said goodbye (a cluster peer stops counting it as live)."""

    def _goodbye(self, c: Connection, reason: Any) -> None:
        """GOODBYE: close the connection at once, and a peer that leaves no longer counts as
        live (a cluster peer's `heard`); lost connections are redialled as usual."""
        c.close()
        key = c.peer_key
        if key:
            self._left(key)
        why = reason.text if isinstance(reason, String) else None
        if key:
            log.event(None, "goodbye", f"peer 0x{key.hex()[:8]}... at {peer_address(c)} said "
                      f"goodbye{f' ({why})' if why else ''}", peer_key="0x" + key.hex(),
                      address=peer_address(c), reason=why)
        else:
            log.event(None, "goodbye", level="debug", address=peer_address(c), reason=why)

    def _challenge_context_ok(self, context: Any) -> bool:
        """A challenge's context we answer: none, anything but a 32-byte value, or our
        network ID (the reference's ConnectionManager.processChallenge)."""
        return not (type(context) is Blob and len(context) == 32) \
            or context.data == self.genesis_hash

    def _challenged(self, c: Connection) -> None:
        """A CHALLENGE came in on `c` (a cluster peer then checks the other side too)."""

    def _transact(self, c: Connection, mid: Any, signed: Any) -> None:
        """Admit the transaction now, in the connection's order, and send its Result once
        its block has run, after those of the transactions that came before it on `c`; at
        once (in turn) with :MISSING or :LOAD."""
        if missing_cells(signed) != []:
            result = error_result("MISSING", "Transaction cells missing")
        elif not self._tx_slots.acquire(blocking=False):
            result = error_result("LOAD", "Peer busy: too many transactions waiting")
        else:
            try:
                ticket = self.submit_nowait(signed)
            except BaseException:
                self._tx_slots.release()
                raise

            def reply() -> Result:
                try:
                    return self.collect(ticket).with_id(mid)
                finally:
                    self._tx_slots.release()
            c.send_in_order(reply)
            return
        c.send_in_order(lambda: result.with_id(mid))

    def status_vector(self) -> Vector:
        """STATUS: [belief-hash states-hash genesis-hash peer-key consensus-state-hash
        consensus-point proposal-point block-count consensus-points]; a lone peer's blocks
        are all confirmed: every consensus level ([blocks proposal consensus finality], as
        an Order's :consensus) is the block count."""
        h = Blob(self.state.value_id())
        n = self.block_count
        return Vector.of(Blob(Belief.create({}).value_id()), h, Blob(self.genesis_hash),
                         self.peer_key, h, n, n, n, Vector.of(n, n, n, n))

    def find_cell(self, h: bytes) -> Any:
        """A cell we hold, by hash (for DATA_REQUEST), or None."""
        state = self.state
        if state.value_id() == h:
            return state
        v = self.cells.get(h)
        if v is None and self.store is not None and self.store.has(h):
            v = self.store.get(h)
        return v

    def status(self) -> dict:
        s = super().status()
        s["protocol"] = f"{self.address[0]}:{self.address[1]}"
        return s


def cell_of(root: Any, h: bytes) -> Any:
    """The cell with value ID h inside root, or None."""
    stack = [root]
    while stack:
        c = stack.pop()
        if isinstance(c, Cell):
            if c.value_id() == h:
                return c
            stack.extend(c.children())
    return None


__all__ = ["ProtocolPeer", "cell_of", "MAX_WAITING_TX", "MAX_CELLS", "MAX_CONNECTIONS",
           "MAX_CONNECTIONS_PER_IP", "MAX_QUERY"]
