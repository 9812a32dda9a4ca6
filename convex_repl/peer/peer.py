"""A local Convex peer: it orders submitted transactions into blocks, applies them with the
state transition (kernel/transition.py) and hands each result back to whoever submitted it.

    peer = Peer(store=Store("peer.db"))    # genesis state, or the state it had when stopped
    peer.start()                           # the block producer thread
    r = peer.submit(signed)                # a kernel Result record, once its block has run
    r = peer.query(form, address)          # read-only, against the current state
    peer.faucet(address, amount)           # the faucet account (#12) transfers coins
    peer.stop()

Blocks: whatever is pending when the producer is free becomes the next block (at most
MAX_TRANSACTIONS_PER_BLOCK), timestamped with the wall clock (never going back), signed by
the peer's key; so a busy peer makes big blocks and an idle one answers at once. With a
store, each block is committed (block, results, state after it) before anyone hears of its
results: a confirmed transaction survives the peer being killed.

Pre-checks done on submission, answered at once with source :PEER and changing nothing: the
origin exists (:NOBODY), its sequence number is above the account's (:SEQUENCE), it is not
an actor (:STATE), the key is the account's (:SIGNATURE). The signature itself is checked
then too; by a started peer with a second core, soon after, with the same :SIGNATURE Result
for a bad one: lightly loaded, by the block producer and a helper thread as the block is
gathered (side_checks.py); under load, in worker processes (verifier.py).
"""
from __future__ import annotations

import gc
import os
import queue
import threading
import time
from collections import OrderedDict
from typing import Any, Optional

from kernel.data.blobs import Blob, String
from kernel.data.cell import BranchRef, Cell, all_cells, encoding, is_branch, value_id
from kernel.data.hashmaps import Map
from kernel.data.records import Signed
from kernel.data.scalars import Keyword
from kernel.state.transactions import (Block, Invoke, Result, Transaction, is_verified, sign,
                                       verify)
from kernel.data.vectors import Vector
from kernel.transition import gc_paused

from convex_repl.peer import log
from convex_repl.peer.tickets import Ticket, bad_signature, error_result, reject_signature

K = Keyword
PEER, CODE = K("PEER"), K("CODE")
GOLD = 1_000_000_000
FAUCET_ACCOUNT = 12
QUERY_ACCOUNT = 11
PREPARED_BUDGET = 16_000_000    # encoded bytes of prepared transactions' cells kept in memory
LOG_EVERY = 10.0                # a window of the log: at most LOG_BURST lines of one kind
LOG_BURST = 20


_logged: dict = {}              # kind -> [window start, lines in it, events not logged]
_log_lock = threading.Lock()


def log_event(kind: str, message: str) -> None:
    """One warning in the peer's log (log.py) for an event a peer refuses or survives (a
    client over a limit or disconnecting, a handler bug), at most LOG_BURST lines of one kind every LOG_EVERY
    seconds: a flood of hostile clients must not flood the log. The next line logged says
    how many were left out."""
    now = time.monotonic()
    with _log_lock:
        w = _logged.setdefault(kind, [now, 0, 0])
        if now - w[0] >= LOG_EVERY:
            w[0], w[1] = now, 0
        if w[1] >= LOG_BURST:
            w[2] += 1
            return
        more = f" ({w[2]} more like this not logged)" if w[2] else ""
        w[1] += 1
        w[2] = 0
    log.event(None, kind, message + more, level="warning")


SETTLE_SECONDS = 60.0


def settle_heap(last: float) -> float:
    """Every SETTLE_SECONDS (from `last`; the time it did so returned): collect cyclic
    garbage once, then hide every object alive from the cyclic collector (gc.freeze). A
    peer's states and code live long, and scanning them in each full collection took over
    half of a small block's time; what dies later is still freed by reference counting,
    and the next settle unfreezes first, so no cyclic garbage is kept for good."""
    now = time.monotonic()
    if now - last < SETTLE_SECONDS:
        return last
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return now


def now_ms() -> int:
    return int(time.time() * 1000)


class Peer:
    """One peer's state, block log and transaction pipeline."""

    # The memory meter is carried over a few blocks, so the cells of the state a block starts
    # from are not measured again (for small blocks that costs more than their transfers);
    # it keeps every cell it measured alive, and once those outlive the young GC generation
    # they cost more to collect than to measure again: a new one starts past this many.
    METER_LIMIT = 300

    # A started peer with a second core checks submitted signatures in worker processes
    # (verifier.py) under load, with its producer and a helper thread when lightly loaded
    # (side_checks.py); else in the submitting thread.
    OFFLOAD_SIGNATURES = (os.cpu_count() or 1) >= 2

    def __init__(self, state: Any = None, store: Any = None, key: Any = None,
                 faucet: bool = True, faucet_max: int = GOLD, clock: Any = None,
                 max_block: Optional[int] = None, prepared_budget: int = PREPARED_BUDGET,
                 network: Optional[bytes] = None):
        from kernel.transition.ledger import genesis_signing_key, signing_key_for
        from kernel.transition import MAX_TRANSACTIONS_PER_BLOCK
        from stdlib.genesis import GENESIS_USER, genesis_state

        self.key = genesis_signing_key(GENESIS_USER) if key is None else key
        self.peer_key = Blob(bytes(self.key.verify_key))
        self.store = store
        self.faucet_enabled = faucet
        self.faucet_max = faucet_max
        self.clock = clock or now_ms
        self.max_block = max_block or MAX_TRANSACTIONS_PER_BLOCK
        # Submitters put Ticket items on a C-level queue the producer blocks on (None asks
        # it to stop): no Python condition variable to wake or contend for per transaction.
        self._queue: "queue.SimpleQueue" = queue.SimpleQueue()
        self._lock = threading.Lock()       # _stopping, and nothing queued after a stop
        self._stopping = False
        self._stop_seen = False             # the producer met the stop mark
        self._arriving = 0                  # submissions being checked, not yet queued
        self._taken: list = []            # taken off the queue by the producer: the next block
        self._thread: Optional[threading.Thread] = None
        self._signatures: Any = None      # verifier.SignatureStage once started
        self._side: Any = None            # side_checks.SideChecks once started
        self._prepared: "OrderedDict[bytes, tuple]" = OrderedDict()   # hash -> (cell, size)
        self._prepared_bytes = 0
        self.prepared_budget = prepared_budget
        self._prepared_lock = threading.Lock()
        self._blocks: list = []           # summaries of the blocks made or loaded
        self._tx_index: dict = {}         # signed tx hash -> (block, index), without a store
        self._meter: Any = None           # kernel.cvm.memory.Meter carried across blocks
        if state is None:
            state = genesis_state()
        network = network or state.value_id()     # a joined peer's state is not genesis
        stored = None if store is None else store.meta("genesis")
        if stored is not None and stored != network:
            raise ValueError("the data directory belongs to another network (genesis "
                             f"0x{stored.hex()[:16]}...)")
        head = None if store is None else store.head()
        if head is not None:
            n, state_id = head
            self.state = store.get(state_id)
            self.block_count = n + 1
            self.genesis_hash = store.meta("genesis") or b""
            for row in store.blocks(0, n + 1):
                self._blocks.append(_summary(row[0], row[4], row[5], row[1], row[6]))
        else:
            self.state = state
            self.block_count = 0
            self.genesis_hash = network
            if store is not None:
                with store.batch():
                    store.put(self.state)
                    store.set_meta("genesis", self.genesis_hash)
        self.faucet_key = signing_key_for(self.state, FAUCET_ACCOUNT)
        # without a store, the state it started from is kept too (the pre-state of block 0)
        self._first_state = self.state if store is None else None

    # --- life cycle ---------------------------------------------------------------------------
    def start(self) -> "Peer":
        if self._thread is None:
            if self.OFFLOAD_SIGNATURES:
                from convex_repl.peer.side_checks import SideChecks
                from convex_repl.peer.verifier import signature_stage
                self._signatures = signature_stage()
                self._side = SideChecks()
            self._thread = threading.Thread(target=self._run, name="block-producer",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking transactions; what is pending still runs; then the producer ends."""
        with self._lock:
            self._stopping = True
        if self._signatures is not None:    # what it holds reaches the queue before the mark
            self._signatures.drain(timeout)
        with self._lock:
            if self._thread is not None:
                self._queue.put(None)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    # --- transactions -------------------------------------------------------------------------
    def precheck(self, signed: Any, state: Any = None,
                  signature: bool = True) -> Optional[Result]:
        """The peer's checks before accepting a transaction: a :PEER error Result, or None.
        With `signature` False the signature itself is left to the signature stage."""
        state = self.state if state is None else state
        if type(signed) is not Signed or not isinstance(signed.value, Transaction):
            return error_result("FORMAT", "Not a signed transaction")
        tx = signed.value
        info = {"tx": Blob(signed.value_id())}
        acct = state.account(tx.origin.n)
        if acct is None:
            return error_result("NOBODY", f"Account {tx.origin} does not exist", info=info)
        if tx.sequence <= acct.sequence:
            return error_result("SEQUENCE", f"Sequence {tx.sequence} already used: the "
                                f"account's sequence is {acct.sequence}", info=info)
        if acct.key is None:
            return error_result("STATE", f"Account {tx.origin} is an actor, with no key",
                                info=info)
        if acct.key.data != signed.public_key:
            return error_result("SIGNATURE", "Key does not match the account's key",
                                info=info)
        if signature and not verify(signed):
            return bad_signature(signed)
        return None

    def submit(self, signed: Any, timeout: float = 60.0) -> Result:
        """Check, then queue a signed transaction; its Result once its block has run."""
        return self._enqueue(self.submit_nowait(signed), timeout)

    def submit_nowait(self, signed: Any) -> Ticket:
        """Check and queue a signed transaction without waiting for it: a ticket whose
        wait(timeout) gives the Result (at once when a check fails). One client can keep
        many transactions in flight, as the peer protocol allows."""
        with self._lock:
            self._arriving += 1
        try:
            pre = self.admit(signed)
            if pre is not None:
                return Ticket(result=pre)
            return self._queue_pending(Ticket(signed=signed))
        finally:
            with self._lock:
                self._arriving -= 1

    def pending(self) -> int:
        """Transactions waiting for a block: queued, or taken for the next one."""
        return self._queue.qsize() + len(self._taken)

    def collect(self, ticket: Ticket, timeout: float = 60.0) -> Result:
        """The Result of a submit_nowait ticket, exactly as submit would have given it."""
        return self._enqueue(ticket, timeout)

    # A lightly loaded started peer (its signature stage idle, fewer than CHECK_HERE_BELOW
    # queued for blocks) leaves a signature to the block producer and its helper thread
    # (side_checks.py): the stage's round trip to a worker process costs a few times the
    # check itself, all of it added to a waiting client's latency. Under load, the stage
    # keeps the checks off the interpreter lock the block producer needs.
    CHECK_HERE_BELOW = 16

    def admit(self, signed: Any) -> Optional[Result]:
        """Why the peer won't take this transaction now (a Result), or None; a started peer
        with a second core leaves the signature itself for later (see _queue_pending)."""
        return self.precheck(signed, signature=self._signatures is None)

    def run_as_faucet(self, form: Any, timeout: float = 60.0) -> Result:
        """Run a command as the faucet account (#12), signed with its key; its sequence
        number is given when its block is made, so any number of requests may be waiting."""
        if self.faucet_key is None:
            return error_result("STATE", "No key for the faucet account", K("SERVER"))
        return self._enqueue(Ticket(form=form), timeout)

    def _enqueue(self, p: Ticket, timeout: float) -> Result:
        """Queue p, unless submit_nowait did, and wait for its Result (subclasses refine
        what a wait gives: a cluster peer answers a timeout with :NETWORK when cut off)."""
        if not p.queued:
            p = self._queue_pending(p)
        return p.wait(timeout)

    def _queue_pending(self, p: Ticket) -> Ticket:
        with self._lock:
            if self._stopping:
                return Ticket(result=error_result("LOAD", "Peer is shutting down",
                                                    K("SERVER")))
            p.queued = True
            stage = self._signatures    # skipped only when empty: order kept
            if stage is not None and p.signed is not None:
                known = is_verified(p.signed)
                if stage.idle() and (known or self.pending() < self.CHECK_HERE_BELOW):
                    p.unchecked = not known
                    self._queue.put(p)
                else:
                    stage.put(p, self._queue.put, reject_signature)
            else:
                self._queue.put(p)
        if self._thread is None:            # not started: run it here (tests, tools)
            self._make_blocks()
        return p

    def _run(self) -> None:
        side = self._side       # the producer's own: closed when it ends, not by stop()
        try:                    # (whose join may time out while a block still runs)
            self._produce()
        finally:
            if side is not None:
                side.close()
            if self._side is side:
                self._side = None

    def _produce(self) -> None:
        q = self._queue
        settled = settle_heap(-SETTLE_SECONDS)
        while not (self._stopping and self._upstream_idle() and q.empty()):
            first = q.get()             # blocks, without the GIL, until something comes
            if first is None:
                return
            settled = settle_heap(settled)
            self._take(first)
            self._gather()
            self._make_blocks()
            if self._stop_seen:
                return

    def _upstream_idle(self) -> bool:
        """Nothing is in the signature stage on its way to the queue."""
        return self._signatures is None or self._signatures.idle()

    # Group commit: while transactions keep arriving, wait up to GATHER seconds for more, as
    # a block costs a signature and bookkeeping whatever its size. Not with GATHER_ENOUGH
    # taken (that cost is spread thin already). Meanwhile check the signatures left to the
    # producer; while a submission is being pre-checked, look again every ARRIVAL_STEP
    # (clients that each wait for their result submit together: a block made without the
    # last of them would leave it for a block of its own); with a signature stage, while it
    # is checking more, until it hands on its next chunk (its chunks are the batches); else
    # a lone transaction waits one short GATHER_STEP.
    GATHER = 0.005
    GATHER_STEP = 0.0005
    GATHER_ENOUGH = 64
    ARRIVAL_STEP = 0.00005

    def _gather(self) -> None:
        stage, side = self._signatures, self._side
        limit, end = min(self.max_block, self.GATHER_ENOUGH), time.perf_counter() + self.GATHER
        while len(self._taken) < limit and time.perf_counter() < end:
            if side is not None and side.check_one():
                self._take()
                continue
            if self._arriving:
                time.sleep(self.ARRIVAL_STEP)
                self._take()
                continue
            n = len(self._taken)
            if stage is None:
                time.sleep(self.GATHER_STEP)
            elif not stage.wait_handed(self.GATHER_STEP):
                return
            self._take()
            if len(self._taken) == n:
                return

    def _take(self, first: Optional[Ticket] = None) -> None:
        """Move what is queued (after `first`, taken off already) to the block in the making,
        at most max_block; signatures left to the producer go to its side checks."""
        taken, side = self._taken, self._side
        if first is not None:
            taken.append(first)
            if first.unchecked:
                side.add(first)
        get = self._queue.get_nowait
        while len(taken) < self.max_block and not self._stop_seen:
            try:
                p = get()
            except queue.Empty:
                break
            if p is None:               # stop: nothing was queued after it
                self._stop_seen = True
                break
            taken.append(p)
            if p.unchecked:
                side.add(p)
        if side is not None:
            side.kick()

    def _make_blocks(self) -> None:
        """Make the next block: what the producer took and what is queued, as long as there
        is any, at most max_block transactions, less those with a bad signature."""
        self._take()
        if self._side is not None:
            self._side.finish()
        batch = []
        for p in self._taken:
            if p.forged:
                reject_signature(p)
            else:
                batch.append(p)
        self._taken = []
        if not batch:
            return
        try:
            with gc_paused():           # the block's cells and results are acyclic
                self._apply(batch)
        except Exception as e:          # a bug must not leave submitters waiting forever
            r = error_result("FATAL", f"{type(e).__name__}: {e}", K("SERVER"))
            for p in batch:
                p.answer(r)

    def _apply(self, batch: list) -> None:
        from kernel.cvm.memory import Meter
        from kernel.transition import apply_block_outcomes

        state = self.state
        seq = None
        for p in batch:
            if p.signed is None:
                if seq is None:
                    acct = state.account(FAUCET_ACCOUNT)
                    seq = acct.sequence if acct is not None else 0
                seq += 1
                p.signed = sign(self.faucet_key, Invoke.create(FAUCET_ACCOUNT, seq, p.form))
        ts = max(self.clock(), state.timestamp)
        block = Block.create(ts, [p.signed for p in batch])
        signed_block = sign(self.key, block)
        meter = self._meter
        if meter is None or len(meter.known) > self.METER_LIMIT:
            meter = self._meter = Meter()
        # every transaction here passed the signature check (pre-check or signature stage)
        # or was signed just now by the faucet's key
        new_state, outcomes = apply_block_outcomes(state, block, self.peer_key, meter,
                                                   signatures_checked=True)
        n = self.block_count
        results, hashes = [], []
        kw_tx, kw_loc = K("tx"), K("loc")
        for i, (p, o) in enumerate(zip(batch, outcomes)):
            h = p.signed.value_id()
            hashes.append(h)
            results.append(o.result(None, ((kw_tx, Blob(h)), (kw_loc, Vector.of(n, i)))))
        rv = Vector.from_seq(results)
        if self.store is not None:
            self.store.add_block(n, signed_block, rv, new_state, ts, self.peer_key.data, hashes)
        else:
            for i, h in enumerate(hashes):
                self._tx_index[h] = (n, i)
        self.state = new_state
        self.block_count = n + 1
        self._blocks.append(_summary(n, ts, self.peer_key.data, signed_block.value_id(),
                                     len(batch), signed_block if self.store is None else None,
                                     rv if self.store is None else None,
                                     new_state if self.store is None else None))
        for p, r in zip(batch, results):
            p.answer(r)

    # --- reading ------------------------------------------------------------------------------
    def query(self, form: Any, address: Optional[int] = None,
              juice_limit: Optional[int] = None, state: Any = None) -> Result:
        """Run a form read-only as `address` (default #11) on the current state (or the
        given one, e.g. from state_at)."""
        from convex_repl.api import DEFAULT_JUICE_LIMIT, Session

        state = self.state if state is None else state
        n = QUERY_ACCOUNT if address is None else address
        if state.account(n) is None:
            return error_result("NOBODY", "Query for non-existant account", K("CVM"))
        s = Session(state, n, juice_limit or DEFAULT_JUICE_LIMIT)
        r = s.eval_forms([form], commit=False)
        info = [(K("juice"), r.juice)]
        if r.error is not None:
            info.append((K("source"), CODE))
            if r.trace:
                info.append((K("trace"), Vector.from_seq(String.of(t) for t in r.trace)))
            return Result.create(None, None if r.message is None else String.of(r.message),
                                 r.error_value if r.error_value is not None else K(r.error),
                                 None, Map.from_pairs(info))
        return Result.create(None, r.value, None, None, Map.from_pairs(info))

    def sequence(self, address: int) -> Optional[int]:
        a = self.state.account(address)
        return None if a is None else a.sequence

    def account(self, address: int) -> Optional[dict]:
        from kernel.data.cell import memory_size
        a = self.state.account(address)
        if a is None:
            return None
        key = a.key
        return {"address": address, "key": None if key is None else "0x" + key.data.hex(),
                "balance": a.balance, "allowance": a.memory,
                "memorySize": memory_size(a), "sequence": a.sequence,
                "type": "actor" if key is None else "user"}

    # --- prepared transactions ----------------------------------------------------------------
    def remember(self, value: Any) -> None:
        """Keep the branch cells of a prepared transaction in memory so submit can resolve
        them: at most `prepared_budget` encoded bytes, the oldest forgotten first. Nothing is
        written to the store (preparing is unsigned: anyone may ask)."""
        cells = [c for c in all_cells(value) if is_branch(c)]
        with self._prepared_lock:
            for c in cells:
                h = value_id(c)
                old = self._prepared.pop(h, None)
                if old is not None:
                    self._prepared_bytes -= old[1]
                n = len(encoding(c))
                self._prepared[h] = (c, n)
                self._prepared_bytes += n
            while self._prepared_bytes > self.prepared_budget and self._prepared:
                self._prepared_bytes -= self._prepared.popitem(last=False)[1][1]

    def lookup(self, h: bytes) -> Any:
        kept = self._prepared.get(h)
        if kept is not None:
            return kept[0]
        if self.store is not None:
            try:
                return self.store.get(h)
            except Exception:
                return None
        return self._kept(h)

    def _kept(self, h: bytes) -> Any:
        """A state, block or block's results that a peer without a store keeps in memory (the
        current state, the one it started from, each block with its results and the state
        after it), by value ID: what GET /api/v1/data serves it."""
        if self.state.value_id() == h:
            return self.state
        if self._first_state is not None and self._first_state.value_id() == h:
            return self._first_state
        for b in reversed(self._blocks):
            for v in (b.get("_state"), b.get("_results"), b.get("_block")):
                if v is not None and v.value_id() == h:
                    return v
        return None

    def resolver(self) -> "_Resolver":
        return _Resolver(self)

    # --- blocks and status --------------------------------------------------------------------
    def blocks(self, offset: int = 0, limit: int = 100) -> list:
        return [b for b in self._blocks[offset:offset + limit]]

    def state_at(self, n: int) -> Any:
        """The state after block n, which the peer keeps (in its store, or in memory), or
        None if it has no such block."""
        if not 0 <= n < self.block_count:
            return None
        if self.store is not None:
            rows = self.store.blocks(n, 1)
            return self.store.get(rows[0][3]) if rows and rows[0][0] == n else None
        b = self._blocks[n] if n < len(self._blocks) else None
        return None if b is None else b.get("_state")

    def tx_location(self, h: bytes) -> Optional[tuple]:
        if self.store is not None:
            return self.store.tx_location(h)
        return self._tx_index.get(h)

    def block_results(self, n: int) -> Any:
        if not 0 <= n < len(self._blocks):
            return None
        b = self._blocks[n]
        if b.get("_results") is not None:
            return b["_results"]
        if self.store is not None:
            rows = self.store.blocks(n, 1)
            if rows:
                return self.store.get(rows[0][2])
        return None

    def status(self) -> dict:
        state = self.state
        return {"peer": "0x" + self.peer_key.data.hex(),
                "state": "0x" + state.value_id().hex(),
                "genesis": "0x" + self.genesis_hash.hex(),
                "timestamp": state.timestamp,
                "block-point": self.block_count,
                "consensus-point": self.block_count,
                "proposal-point": self.block_count,
                "consensus": True,
                "pending": self.pending()}


class _Resolver(dict):
    """A dict-like store for the decoder: prepared cells, then the persistent store."""

    def __init__(self, peer: Peer):
        super().__init__()
        self.peer = peer

    def get(self, h: bytes, default: Any = None) -> Any:     # type: ignore[override]
        v = self.peer.lookup(h)
        return default if v is None else v


def _summary(n: int, ts: int, peer: Optional[bytes], block_id: bytes, count: int,
             block: Any = None, results: Any = None, state: Any = None) -> dict:
    """A block as the REST API lists it; without a store, the signed block, its results and
    the state after it are kept here too."""
    return {"index": n, "timestamp": ts, "peer": None if peer is None else "0x" + peer.hex(),
            "hash": "0x" + block_id.hex(), "transactionCount": count, "finalised": True,
            "_block": block, "_results": results, "_state": state}


def has_missing(v: Any, limit: int = 100_000) -> bool:
    """True if some branch of v is only known by its hash."""
    stack, n = [v], 0
    while stack and n < limit:
        c = stack.pop()
        n += 1
        if type(c) is BranchRef:
            return True
        if isinstance(c, Cell):
            stack.extend(c.children())
    return False


__all__ = ["Peer", "error_result", "has_missing", "log_event", "GOLD", "FAUCET_ACCOUNT",
           "PREPARED_BUDGET"]
