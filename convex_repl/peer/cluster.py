"""Cluster peers: blocks ordered by CPoS (kernel/consensus/cpos.py) with the other peers,
over the binary peer protocol on TCP (protocol.py, protocol_peer.py). Each peer can run in its
own process (`convex peer start --cluster N --index I`, see launcher.py) or several in one
(tests). The keys and genesis state of a local cluster are in genesis.py.

    nodes = start_cluster(3)             # 3 equal-stake peers on 127.0.0.1, ephemeral ports
    nodes[0].submit(signed)              # a Result once the block holding it is confirmed
    [n.state.value_id() for n in nodes]  # the same everywhere
    stop_cluster(nodes)

Connections. A peer dials, up to its target of outgoing connections, the addresses its
operator gave (`--peer`, `--join`) and those staked peers announce in the consensus state
(`:url`), by the rules of connections.py (stake-weighted choice, random elimination of
low-staked peers, peers without stake dropped); with `advertise` it announces its own. It
asks each peer it dials for its STATUS (network and peer key) and has it prove the key with
a CHALLENGE. An incoming connection is an untrusted client until it
sends beliefs or challenges us, and the peer has challenged it back over the same connection
(any key, which must be a staked peer's, or, when it sends beliefs, any proven key: a peer that
joined and is not staked yet follows the network that way): then beliefs flow both ways on
it. Lost connections are redialled, so peers find each other again after a partition.

Weights: the stakes are those of the consensus state (`stakes_of`), refreshed whenever blocks
are applied or a snapshot is taken; orders of keys without stake are not kept or counted.
A peer started with its own key from a state fetched and checked by join.py (`joined`)
follows the network from that state's point and votes once its key is staked.

Beliefs carry only novelty (the cells not sent on that connection before); a belief whose
cells are missing is completed with DATA_REQUEST. A peer that hears from less than 2/3 of
the stake is cut off: it answers transactions with :NETWORK and changes nothing.

With a store, a peer commits each confirmed block (with its results and the state after it)
together with its belief (its own order and the others'), so a killed peer restarts where it
was and catches up.

Safety across restarts (kernel/consensus/cpos.py states the invariant: no two peers finalise
different blocks at a height). A peer's round and lock are what keep it from voting for two
different things, so they are committed to the store *before* an order that changes them is
sent, and a restarted peer starts in the round after its saved one: whatever it signed
before it was killed, it never signs a conflicting order in the same round. A peer executes
blocks up to its finality point only; if its finalised blocks ever disagree with what peers
holding more than 2/3 of the stake precommit, it halts (no more merging or confirming) and
says so in its status, its log and its answers to transactions.

ClusterPeer is one cohesive piece: dialling, beliefs, merging, confirming, saving its progress and
catching up all read and write the same few fields (known orders, our progress, the blocks
applied, the store) under one lock, and the safety argument above runs through all of them
(what is committed before it is sent, what a restart or a snapshot may skip); split into
modules, each part would reach into the others' state.
"""
from __future__ import annotations

import random
import socket
import threading
import time
from typing import Any, Optional

from kernel.data.blobs import Blob
from kernel.data.cell import BranchRef, MissingData
from kernel.consensus.cpos import (Belief, FinalityError, Order, Progress, merge,
                                   merge_beliefs, round_timer_runs, signed_orders, stakes_of)
from kernel.data.records import Signed
from kernel.data.scalars import Keyword, Symbol
from kernel.state.transactions import Block, Invoke, Result, sign, verify
from kernel.data.vectors import List, Vector

from convex_repl.peer.connections import announced, announcement, format_url, to_dial, to_drop
from convex_repl.peer import log
from convex_repl.peer.genesis import cluster_genesis, cluster_key, faucet_account
from convex_repl.peer.peer import _summary, now_ms
from convex_repl.peer.tickets import Ticket, error_result
from convex_repl.peer.protocol import (Connection, challenge, check_response, decode_message,
                                       missing_cells, serve_connection)
from convex_repl.peer.protocol_peer import ProtocolPeer, cell_of
from convex_repl.peer.store import novelty

K = Keyword
BLOCK_INTERVAL = 0.02           # least time between two blocks of one peer (batching)
MERGE_INTERVAL = 0.005          # least time between two belief broadcasts
BROADCAST_INTERVAL = 0.5        # an unchanged order is signed and sent again this often
LIVE_WINDOW = 3.0               # a peer not heard from for this long is out of reach
DEFAULT_OUTGOING = 8
ANNOUNCE_INTERVAL = 10.0        # least time between two announcements of our address
SNAPSHOT_MIN = 64               # this many confirmed blocks behind: fetch a state snapshot
ROUND_TIMEOUT = 1.0             # blocks pending and none finalised for this long: next round
ROUND_TIMEOUT_MAX = 8.0         # (the timeout doubles with each round that finalises nothing)
CLOCK_AHEAD_MS = 30_000         # orders timestamped further ahead of our clock are ignored


class ClusterPeer(ProtocolPeer):
    """A Peer whose blocks are ordered by CPoS with the other peers of its network."""

    def __init__(self, index: Optional[int], genesis: Any, host: str = "127.0.0.1",
                 port: int = 0, faucet: bool = True, store: Any = None,
                 outgoing: int = DEFAULT_OUTGOING, key: Any = None,
                 joined: Any = None, advertise: Optional[tuple] = None,
                 rng: Optional[random.Random] = None, **kw: Any):
        """Peer `index` of a local cluster whose genesis state is `genesis`; or, with `key`
        and `joined` (join.py: a consensus state fetched from a running peer and checked),
        a peer with its own key that starts from that state (`genesis` is ignored, no
        faucet). With a store, a joining peer keeps the joined state as its first block
        (the rows before it are missing) and, when restarted, goes on from its stored state
        and saved progress: the state it joined through again only serves as the check that
        the network is the same. `advertise` (host, port): the address to announce on
        chain as our `:url` (port 0: our protocol port); `rng` draws connection choices."""
        self.index = index
        self.joined = joined              # join.Joined: where a joining peer's state came from
        if joined is not None:
            genesis, faucet = joined.state, False
            kw["network"] = joined.genesis_hash
        super().__init__(host, port, state=genesis, key=key or cluster_key(index),
                         faucet=faucet, store=store, **kw)
        if joined is not None and self.block_count == 0 < joined.point:
            self.block_count = joined.point   # the blocks the joined state is after
            if store is not None:
                sb = joined.block
                store.add_block(joined.point - 1, sb, Vector.EMPTY, joined.state,
                                sb.value.timestamp, sb.public_key, [])
        self.faucet_account = None if index is None else faucet_account(index)
        self.faucet_key = self.key
        self.own = self.key.verify_key.encode()
        self._refresh_stakes()            # from the consensus state (restored from the store)
        self.known: dict = {}             # peer key -> Signed(Order)
        self.heard: dict = {}             # peer key -> when a newer order of its arrived
        self.halted: Optional[str] = None  # why this peer stopped confirming (FinalityError)
        self.progress = self._restore(store)
        self.applied = self.block_count   # blocks of the order applied to the state
        self._check_stored_blocks()
        if store is not None:             # summaries from the order: a snapshot has no rows
            self._blocks = [self._summary(n, sb, None) for n, sb in
                            zip(range(self.applied), self.order.blocks)]
        self.recent_states: dict = {}     # state hash -> state, the last few (DATA_REQUEST)
        self.recent_beliefs: dict = {}    # belief hash -> belief, the last few STATUS named
        self.snapshots = 0                # states taken from other peers instead of replaying
        self._syncing = False
        self.waiting: dict = {}           # signed tx hash -> Ticket
        self.proposed: list = []          # signed blocks of ours not merged yet
        self.dirty = threading.Event()
        self.outgoing_target = outgoing
        self.addresses: dict = {}         # operator's addresses -> peer key (None: not known)
        if advertise is not None and advertise[1] == 0:      # port 0: the one we got
            advertise = (advertise[0], self.address[1])
        self.advertise = advertise
        self.rng = rng or random.SystemRandom()
        self._next_announce = 0.0
        self.faucet_seq = 0
        self._last_block = 0.0
        self._round_clock = time.monotonic()    # the round timeout runs from here
        self._idle_rounds = 0                   # rounds left without finalising anything

    order = property(lambda self: self.progress.order, doc="Our current order.")
    name = property(lambda self: str(self.index) if self.index is not None
                    else "0x" + self.own.hex()[:8], doc="Its index, or its key's start.")

    def _refresh_stakes(self) -> None:
        """The voting weights: the peers and stakes of our consensus state (the state after
        the blocks we finalised and applied), so confirmed staking, unstaking, delegation and
        eviction change them (kernel/consensus/cpos.py, Weights)."""
        self.stakes = stakes_of(self.state)
        self.total_stake = sum(self.stakes.values())

    def _restore(self, store: Any) -> Progress:
        """Where we were: everyone's orders as we knew them, and our own progress (order,
        lock) in the round after the saved one, committed before anything is sent."""
        if store is None:
            return Progress(Order.create(0))
        saved = store.meta("belief")
        if saved is not None:
            self.known = signed_orders(store.get(saved))
        mine = store.meta("consensus")
        if mine is not None:
            signed, lock = store.get(mine)
            progress = Progress(signed.value, lock)
        elif self.own in self.known:
            progress = Progress(self.known[self.own].value)
        else:
            return Progress(Order.create(0))
        order = progress.order
        order = order.with_round(order.round + 1).with_timestamp(
            max(now_ms(), order.timestamp + 1))
        progress = progress._replace(order=order)
        self.known[self.own] = sign(self.key, order)
        self._save_progress(progress, store)
        return progress

    def _check_stored_blocks(self) -> None:
        """The blocks in the store must be the first blocks of our order (both are
        committed together); anything else means a damaged data directory."""
        if self.store is None or self.applied == 0 or self.store.meta("consensus") is None:
            return                        # (a peer that joined and stopped before voting)
        rows = self.store.blocks(0, self.applied)
        blocks = self.order.blocks
        if (self.order.finality_point < self.applied
                or any(row[1] != blocks[row[0]].value_id() for row in rows)):
            raise ValueError("the data directory is inconsistent: its blocks are not the "
                             "finalised blocks of its saved order")

    def _save_progress(self, progress: Optional[Progress] = None, store: Any = None) -> None:
        """Commit our signed order and lock: done before an order with a new round or lock
        is sent, so a restart can't make us vote against what we sent."""
        store = store or self.store
        lock = (progress or self.progress).lock
        if store is not None:
            store.set_meta("consensus", store.put(Vector.of(self.known[self.own], lock)))

    # --- life cycle -----------------------------------------------------------------------------
    def start_network(self, peers: list) -> "ClusterPeer":
        """Start serving, dialling `peers` (addresses; our own is ignored), merging."""
        for a in peers:
            if tuple(a) != tuple(self.address):
                self.addresses.setdefault(tuple(a), None)
        for target in (self._merge_loop, self._dial_loop):
            threading.Thread(target=target, daemon=True).start()
        self.start_protocol()
        return self

    def _dial_loop(self) -> None:
        """Keep up to `outgoing_target` verified outgoing connections by the rules of
        connections.py, and announce our address when the state doesn't have it yet."""
        last = time.monotonic()
        while self.running:
            now = time.monotonic()
            for c in list(self.conns):     # half-open after a silent partition: start over
                if c.peer_key and not c.closed and now - c.last_heard > 2 * LIVE_WINDOW:
                    c.close()
            with self.lock:
                out = {c.peer_key: c for c in self.conns
                       if c.outgoing and not c.closed and c.peer_key}
                stakes, state = dict(self.stakes), self.state
            for k in to_drop(out, stakes, self.outgoing_target, now - last, self.rng):
                out.pop(k).close()
            last = now
            candidates = dict(self.addresses)
            for k, a in announced(state).items():
                candidates.setdefault(a, k)
            for a in to_dial(candidates, set(out), stakes, self.own, self.rng):
                if len(out) >= self.outgoing_target or not self.running:
                    break
                key = self._dial(a, candidates[a])
                if key is not None:
                    out[key] = None
            self._maybe_announce(state)
            time.sleep(0.2)

    def _dial(self, a: tuple, expect: Optional[bytes] = None) -> Optional[bytes]:
        """Connect to `a` and verify the peer there (the one whose key is `expect`, when it
        is known); its key, or None."""
        try:
            s = socket.create_connection(a, timeout=1)
            s.settimeout(None)
        except OSError:
            return None
        c = Connection(s, outgoing=True, address=a, max_frame=self.max_frame,
                       budget=self.budget)
        threading.Thread(target=serve_connection, args=(c, self.handle), daemon=True).start()
        key = self._verify_remote(c)
        if key is None or (expect is not None and key != expect):
            c.close()
            return None
        if a in self.addresses:
            self.addresses[a] = key
        self._track(c)
        self.dirty.set()
        return key

    def _maybe_announce(self, state: Any) -> None:
        """Announce `advertise` as our `:url` (set-peer-data, signed for our controller
        account, which must have our key) when the consensus state says otherwise; at most
        once per ANNOUNCE_INTERVAL, the answer awaited on its own thread."""
        now = time.monotonic()
        if now < self._next_announce or self.cut_off():
            return
        plan = announcement(state, self.own, self.advertise)
        if plan is None:
            return
        self._next_announce = now + ANNOUNCE_INTERVAL
        threading.Thread(target=self._announce, args=plan, daemon=True).start()

    def _announce(self, controller: int, meta: Any) -> None:
        form = List.of(Symbol("set-peer-data"), Blob(self.own),
                       List.of(Symbol("quote"), meta))
        if controller == self.faucet_account:
            r = self.run_as_faucet(form)
        else:
            acct = self.state.account(controller)
            r = self.submit(sign(self.key, Invoke.create(controller, acct.sequence + 1, form)))
        url = format_url(self.advertise)
        if r.error is not None:
            log.event(self.name, "announce-failed", f"announcing {url} failed: {r.error}",
                      "warning", url=url, error=str(r.error))
        else:
            log.event(self.name, "announced", f"announced {url} as this peer's :url", url=url)

    def _verify_remote(self, c: Connection, ask_status: bool = True,
                       follower: bool = False) -> Optional[bytes]:
        """Challenge the other side of `c` to prove its key (any key, our network ID as the
        context, as the reference's ConnectionManager and InboundVerifier do); first, when
        `ask_status`, ask its STATUS for its network and key, which the proof must match.
        The key if it is a peer of our network with stake (or, when `follower`, any key: a
        peer that sends beliefs but has no stake yet, e.g. one that joined, gets ours and
        counts once it is staked), else None."""
        expected = None
        if ask_status:
            r = c.request("SR")
            if r is None or r.error is not None or not isinstance(r.value, Vector) or len(
                    r.value) < 4:
                return None
            genesis, key = r.value[2], r.value[3]
            if type(genesis) is not Blob or genesis.data != self.genesis_hash:
                return None
            if type(key) is not Blob:
                return None
            expected = key.data
        ch, token = challenge(self.key, None, self.genesis_hash)
        key = check_response(c.request("CH", ch), token, self.own, self.genesis_hash, expected)
        if key is None or key == self.own or (self.stakes.get(key, 0) <= 0 and not follower):
            return None
        c.peer_key = key
        c.wants_beliefs = True
        return key

    def _maybe_verify(self, c: Connection, follower: bool = False) -> None:
        """An incoming connection not proven yet sent a challenge (or, `follower`, a belief):
        challenge it back (once for each; a client that only challenges us and has no stake
        stays an untrusted client, one that sends beliefs gets ours)."""
        if c.outgoing or c.wants_beliefs:
            return
        if follower:
            if getattr(c, "follower_checked", False):
                return
            c.follower_checked = True
        elif c.peer_key is not None:
            return
        c.peer_key = b""                 # verification under way
        threading.Thread(target=self._verify_incoming, args=(c, follower),
                         daemon=True).start()

    def _verify_incoming(self, c: Connection, follower: bool = False) -> None:
        if self._verify_remote(c, ask_status=False, follower=follower) is not None:
            self.dirty.set()

    def _challenged(self, c: Connection) -> None:
        self._maybe_verify(c)             # they check us: we check them

    # --- shutdown (ProtocolPeer.shutdown's hooks) --------------------------------------------------
    def _finish_waiting(self, grace: float) -> None:
        """Wait up to `grace` seconds, while in consensus, for the network to confirm the
        transactions we proposed; those left are answered :LOAD (the network may still
        confirm them: ask by their hash)."""
        end = time.monotonic() + grace
        while self.waiting and time.monotonic() < end and not self.cut_off():
            time.sleep(0.02)
        with self.lock:
            left = list(self.waiting.values())
            self.waiting.clear()
        for p in left:
            p.answer(error_result("LOAD", "The peer shut down before the network confirmed "
                                  "this transaction: it may still be confirmed (look it "
                                  "up by its hash on another peer)", K("SERVER")))

    def _final_commit(self) -> None:
        """Our belief and progress, saved once more so a restart starts from all we knew."""
        if self.store is not None:
            with self.lock:
                with self.store.batch():
                    self._save_belief()

    def _left(self, key: bytes) -> None:
        with self.lock:
            self.heard.pop(key, None)     # gone: no longer live, without waiting LIVE_WINDOW

    # --- reachability ---------------------------------------------------------------------------
    def live_stake(self) -> int:
        """Our stake plus that of the peers whose new orders reached us lately (directly or
        relayed: every peer signs its order again each BROADCAST_INTERVAL)."""
        now = time.monotonic()
        keys = {k for k, t in list(self.heard.items()) if now - t < LIVE_WINDOW}
        keys.add(self.own)
        return sum(self.stakes.get(k, 0) for k in keys)

    def cut_off(self) -> bool:
        """True when we can't take part in consensus: halted, or too little stake in reach."""
        return self.halted is not None or self.live_stake() * 3 <= self.total_stake * 2

    def _network_error(self) -> Result:
        if self.halted is not None:
            return self._halted_error()
        pct = 100 * self.live_stake() // max(1, self.total_stake)
        return error_result("NETWORK", f"Peer is cut off from the network: it reaches {pct}% "
                            "of the stake, consensus needs more than 2/3")

    def admit(self, signed: Any) -> Optional[Result]:
        pre = super().admit(signed)
        if pre is None and self.cut_off():
            return self._network_error()
        if pre is None and self.stakes.get(self.own, 0) <= 0:
            return error_result("NETWORK", "This peer has no stake in the consensus state: "
                                "it follows the network but can't propose blocks (stake its "
                                "key with create-peer, or send the transaction to a staked "
                                "peer)")
        return pre

    def run_as_faucet(self, form: Any, timeout: float = 60.0) -> Result:
        if self.cut_off():
            return self._network_error()
        return super().run_as_faucet(form, timeout)

    # --- beliefs --------------------------------------------------------------------------------
    def _on_belief(self, c: Connection, msg: Belief, data: bytes, rounds: int = 0) -> None:
        self._maybe_verify(c, follower=True)
        incoming, missing = {}, []
        try:
            entries = msg.orders.items()
        except (AttributeError, MissingData):  # (part of) the orders' Index was left out
            entries = []
            missing.extend(missing_cells(msg) or [])
        for k, so in entries:
            if type(k) is not Blob or k.data not in self.stakes:
                continue
            if type(so) is not Signed and type(so) is not BranchRef:
                continue
            m = missing_cells(so)          # a signed order left out is missing itself
            if m:
                missing.extend(m)
            elif m is not None:
                incoming[k.data] = so
        with self.lock:
            new = merge_beliefs(self.known, incoming, verify, now_ms() + CLOCK_AHEAD_MS)
            if new != self.known:
                now = time.monotonic()
                for k, so in new.items():
                    if self.known.get(k) is not so:
                        self.heard[k] = now
                self.known = new
                self.dirty.set()
        if missing and rounds < 8:
            threading.Thread(target=self._complete_belief, args=(c, missing, data, rounds),
                             daemon=True).start()

    def _complete_belief(self, c: Connection, missing: list, data: bytes, rounds: int) -> None:
        """Fetch the cells a belief refers to but nobody sent us, then take it again."""
        r = c.request("DR", *[Blob(h) for h in missing[:1000]])
        if r is None or not isinstance(r.value, Vector):
            return
        msg = decode_message(data, self.cells)
        if isinstance(msg, Belief):
            self._on_belief(c, msg, data, rounds + 1)

    def status_vector(self) -> Vector:
        """STATUS: [belief-hash states-hash genesis-hash peer-key consensus-state-hash
        consensus-point proposal-point block-count consensus-points]: the consensus point is
        the finality point (the consensus state is the state after the blocks up to it), the
        consensus points are our order's :consensus vector, [blocks proposal precommit
        finality], as the reference's Order.getConsensusPoints."""
        with self.lock:
            order, belief = self.order, Belief.create(dict(self.known))
            state = self.state
            self.recent_beliefs[belief.value_id()] = belief   # so DATA_REQUEST finds it
            while len(self.recent_beliefs) > 4:
                del self.recent_beliefs[next(iter(self.recent_beliefs))]
        h = Blob(state.value_id())
        return Vector.of(Blob(belief.value_id()), h, Blob(self.genesis_hash), Blob(self.own),
                         h, order.finality_point, order.proposal_point, len(order.blocks),
                         order.points)

    def find_cell(self, h: bytes) -> Any:
        v = super().find_cell(h)
        if v is None:
            v = self.recent_states.get(h)
        if v is None:
            v = self.recent_beliefs.get(h)
        if v is None:
            with self.lock:
                belief = Belief.create(dict(self.known))
            for ch, _enc in novelty(belief, set()):
                if ch == h:
                    return cell_of(belief, h)
        return v

    # --- blocks: what the producer thread hands over goes into our next order ------------------
    def _make_blocks(self, *args: Any) -> Any:
        """Propose at most one block per BLOCK_INTERVAL: what arrives meanwhile joins it."""
        gap = BLOCK_INTERVAL - (time.perf_counter() - self._last_block)
        if gap > 0:
            time.sleep(gap)
        self._last_block = time.perf_counter()
        return super()._make_blocks(*args)

    def _apply(self, batch: list) -> None:
        with self.lock:
            state = self.state
            acct = None if self.faucet_account is None else state.account(self.faucet_account)
            self.faucet_seq = max(self.faucet_seq, acct.sequence if acct else 0)
            for p in batch:
                if p.signed is None:
                    self.faucet_seq += 1
                    p.signed = sign(self.faucet_key, Invoke.create(
                        self.faucet_account, self.faucet_seq, p.form))
                self.waiting[p.signed.value_id()] = p
            ts = max(now_ms(), state.timestamp)
            sb = sign(self.key, Block.create(ts, [p.signed for p in batch]))
            self.proposed.append(sb)
            self.dirty.set()
        # the submitters wait on their own events; the producer goes on with the next batch

    def _enqueue(self, p: Ticket, timeout: float) -> Result:
        r = super()._enqueue(p, timeout)
        if r is not None and r.error is not None and r.error.name == "TIMEOUT":
            with self.lock:
                if p.signed is not None:
                    self.waiting.pop(p.signed.value_id(), None)
            if self.cut_off():
                return self._network_error()
        return r

    def _merge_loop(self) -> None:
        """Merge whenever something arrives and broadcast each change, at most once per
        MERGE_INTERVAL (what arrives meanwhile goes out with the next one). An unchanged
        order is signed again every BROADCAST_INTERVAL as a heartbeat."""
        last_signed = last_sent = 0.0
        unsent = False
        while self.running:
            wait = 0.1
            if unsent:                        # a broadcast is due when the interval is up
                wait = max(0.0, MERGE_INTERVAL - (time.perf_counter() - last_sent))
            self.dirty.wait(wait)
            self.dirty.clear()
            now = time.perf_counter()
            with self.lock:
                if self.halted is not None:
                    continue
                try:
                    changed, to_save = self._merge_step()
                except FinalityError as e:
                    self._halt(str(e))
                    continue
                if changed or to_save or now - last_signed > BROADCAST_INTERVAL:
                    order = self.order.with_timestamp(max(now_ms(), self.order.timestamp + 1))
                    self.progress = self.progress._replace(order=order)
                    self.known[self.own] = sign(self.key, order)
                    if to_save:
                        self._save_progress()
                    last_signed = now
                    unsent = True
                self._apply_confirmed()
                conns = None
                if unsent and now - last_sent >= MERGE_INTERVAL:
                    belief = Belief.create(dict(self.known))
                    conns = [c for c in self.conns if not c.closed and c.wants_beliefs]
            if conns is not None:
                for c in conns:
                    c.send(belief, novelty_only=True)
                last_sent, unsent = time.perf_counter(), False

    def _merge_step(self) -> tuple:
        """One merge with what we know (under the lock): (whether our order changed, whether
        its round or our lock did: then it is committed before it is sent). A round in which
        more than 2/3 of the stake has arrived and nothing is finalised for a while is left
        for the next (the timeout doubles with each round left that way, up to
        ROUND_TIMEOUT_MAX)."""
        old = self.progress
        pending = len(old.order.blocks) > old.order.finality_point or bool(self.proposed)
        orders = {k: so.value for k, so in self.known.items() if k != self.own}
        now = time.monotonic()
        if not round_timer_runs(self.own, old.order, orders, self.stakes):
            self._round_clock = now
        timeout = min(ROUND_TIMEOUT * 2 ** self._idle_rounds, ROUND_TIMEOUT_MAX)
        advance = pending and now - self._round_clock > timeout
        new = merge(self.own, old, orders, self.stakes, self.proposed, old.order.timestamp,
                    advance)
        self.proposed = []
        if new.order.finality_point > old.order.finality_point or not pending:
            self._round_clock, self._idle_rounds = now, 0
        elif new.order.round != old.order.round:
            self._round_clock = now
            self._idle_rounds += 1
        self.progress = new
        return (new.order.value_id() != old.order.value_id(),
                new.order.round != old.order.round or new.lock is not old.lock)

    def _halt(self, why: str) -> None:
        """Stop confirming: our finalised blocks conflict with what most of the stake says."""
        self.halted = why
        log.event(self.name, "halted", f"HALTED, consensus safety violated: {why}",
                  "error", why=why)
        for p in list(self.waiting.values()):
            p.answer(self._halted_error())
        self.waiting.clear()

    def _halted_error(self) -> Result:
        return error_result("NETWORK", f"Peer halted: {self.halted}")

    def _apply_confirmed(self) -> None:
        from kernel.transition import apply_block
        blocks = self.order.blocks
        final = self.order.finality_point
        if self.applied >= final:
            return
        if self._syncing:
            return
        if final - self.applied >= SNAPSHOT_MIN and self.snapshots == 0:
            self._syncing = True
            threading.Thread(target=self._snapshot, daemon=True).start()
            return
        done = []
        if len(self._blocks) < self.applied:      # joined from a state: the earlier blocks
            self._blocks.extend(self._summary(n, blocks[n], None)
                                for n in range(len(self._blocks), self.applied))
        while self.applied < final:
            sb = blocks[self.applied]
            n = self.applied
            br = apply_block(self.state, sb)
            self.state = br.state
            self.applied += 1
            self.block_count = self.applied
            txs = _transactions(sb)
            rv, hashes = [], []
            for i, (tx, r) in enumerate(zip(txs, br.results)):
                h = tx.value_id()
                hashes.append(h)
                rv.append(r._with(4, r.info.assoc(K("tx"), Blob(h)).assoc(
                    K("loc"), Vector.of(n, i))))
            done.append((n, sb, Vector.from_seq(rv), self.state, hashes))
        if self.store is not None:          # durable before anyone hears of the results
            with self.store.batch():
                for n, sb, rv, state, hashes in done:
                    self.store.add_block(n, sb, rv, state, sb.value.timestamp,
                                         sb.public_key, hashes)
                self._save_belief()
        for n, sb, rv, state, hashes in done:
            for i, (h, r) in enumerate(zip(hashes, rv)):
                if self.store is None:
                    self._tx_index[h] = (n, i)
                p = self.waiting.pop(h, None)
                if p is not None:
                    p.answer(r)
            self._blocks.append(self._summary(n, sb, rv if self.store is None else None,
                                              state if self.store is None else None))
        self._remember_state()
        self._refresh_stakes()

    def _save_belief(self) -> None:
        """Keep our belief (every order we know, ours included) and our progress in the
        store."""
        self.store.set_meta("belief", self.store.put(Belief.create(dict(self.known))))
        self._save_progress()

    def _remember_state(self) -> None:
        self.recent_states[self.state.value_id()] = self.state
        while len(self.recent_states) > 16:
            del self.recent_states[next(iter(self.recent_states))]

    @staticmethod
    def _summary(n: int, sb: Any, results: Any, state: Any = None) -> dict:
        txs = _transactions(sb)
        return _summary(n, sb.value.timestamp, sb.public_key, sb.value_id(), len(txs), sb,
                        results, state)

    # --- catching up from a snapshot ------------------------------------------------------------
    def _snapshot(self, attempts: int = 5) -> None:
        """Far behind: take the consensus state that peers holding more than 2/3 of the
        stake report (the same point and state hash), fetched with DATA_REQUEST and checked
        against that hash, instead of replaying every block. If they don't agree, or the
        fetch fails, the blocks are replayed as usual."""
        try:
            for _ in range(attempts):
                if self._take_snapshot():
                    self.snapshots += 1
                    return
                time.sleep(0.2)
            self.snapshots = -1           # gave up: replay
        finally:
            self._syncing = False
            self.dirty.set()

    def _take_snapshot(self) -> bool:
        reports: dict = {}
        conns = [c for c in list(self.conns) if c.peer_key and not c.closed]
        for c in conns:
            r = c.request("SR")
            if r is None or not isinstance(r.value, Vector) or len(r.value) < 6:
                continue
            h, cp = r.value[4], r.value[5]
            if type(h) is Blob and type(cp) is int:
                reports.setdefault((cp, h.data), []).append(c)
        for (cp, h), cs in sorted(reports.items(), key=lambda kv: -kv[0][0]):
            stake = sum(self.stakes.get(c.peer_key, 0) for c in cs)
            if stake * 3 <= self.total_stake * 2 or cp <= self.applied:
                continue
            if cp > self.order.finality_point:
                continue                  # our own view must have finalised that far
            r = cs[0].request("DR", Blob(h), timeout=30)
            if r is None or not isinstance(r.value, Vector) or len(r.value) != 1:
                return False
            state = r.value[0]
            if state is None or missing_cells(state) != [] or state.value_id() != h:
                return False
            with self.lock:
                if self.applied >= cp:
                    return True
                blocks = self.order.blocks
                located = [(tx.value_id(), n, i) for n in range(self.applied, cp)
                           for i, tx in enumerate(_transactions(blocks[n]))]
                if self.store is not None:
                    sb = blocks[cp - 1]
                    with self.store.batch():
                        self.store.add_block(cp - 1, sb, Vector.EMPTY, state,
                                             sb.value.timestamp, sb.public_key, [])
                        self.store.index_txs(located)
                        self._save_belief()
                else:
                    self._tx_index.update((h, (n, i)) for h, n, i in located)
                self._blocks = self._blocks[:self.applied] + [
                    self._summary(n, blocks[n], None) for n in range(self.applied, cp)]
                if self.store is None:
                    self._blocks[cp - 1]["_state"] = state
                self.state = state
                self.applied = self.block_count = cp
                self._remember_state()
                self._refresh_stakes()
            return True
        return False

    def status(self) -> dict:
        s = super().status()
        with self.lock:
            belief = Belief.create(dict(self.known))
        s.update({"belief": "0x" + belief.value_id().hex(),
                  "consensus-point": self.order.finality_point,
                  "precommit-point": self.order.consensus_point,
                  "proposal-point": self.order.proposal_point,
                  "round": self.order.round, "halted": self.halted,
                  "block-point": len(self.order.blocks), "peers": len(self.stakes),
                  "live-stake": self.live_stake(), "total-stake": self.total_stake,
                  "consensus": not self.cut_off(),
                  "outgoing": sum(1 for c in self.conns if c.outgoing and not c.closed),
                  "url": None if self.advertise is None else format_url(self.advertise)})
        return s


def _transactions(sb: Any) -> Any:
    """The transactions of a signed block (none if it holds something else)."""
    return sb.value.transactions if type(sb.value) is Block else ()


def start_cluster(n: int, host: str = "127.0.0.1", faucet: bool = True,
                  outgoing: int = DEFAULT_OUTGOING) -> list:
    """n peers in this process, each dialling the others; returns when they are connected."""
    g = cluster_genesis(n)
    nodes = [ClusterPeer(i, g, host, 0, faucet, outgoing=outgoing) for i in range(n)]
    addrs = [x.address for x in nodes]
    for x in nodes:
        x.start_network(addrs)
    wait_connected(nodes)
    return nodes


def wait_connected(nodes: list, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end and any(x.cut_off() for x in nodes):
        time.sleep(0.05)


def stop_cluster(nodes: list) -> None:
    for x in nodes:
        x.shutdown()


__all__ = ["ClusterPeer", "start_cluster", "stop_cluster", "wait_connected", "cluster_genesis",
           "cluster_key", "faucet_account"]
