"""Applying blocks to a State (CAD006): checking a peer's block, then time, the scheduled
operations that are due and each transaction in order; fees; signatures checked ahead.

A block (prepared by a peer) first counts itself in the state's block number (the sixth
global), moves the state's time forward (growing the memory pool once per interval), then
runs the scheduled operations that are due, then each transaction in order; half of the fees
go to the block's peer, the rest to the reward pool at #0.
`advance` does the same for a block with no transactions (a local node's clock).
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any, Optional

from kernel.data.blobs import Blob, String
from kernel.data.cell import BranchRef
from kernel.cvm.memory import Meter
from kernel.data.records import Signed
from kernel.data.scalars import Keyword
from kernel.state.state import MINIMUM_EFFECTIVE_STAKE, State
from kernel.state.transactions import Block, BlockResult, Result, is_verified, verify
from kernel.transition.schedule import apply_scheduled, apply_time
from kernel.transition.overlay import BlockOverlay
from kernel.transition.transaction import apply_signed

MAX_TRANSACTIONS_PER_BLOCK = 1024
MAX_BLOCK_BACKDATE = 15 * 60 * 1000

PEER = Keyword("PEER")


@contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while a block is applied. A block allocates
    tens of thousands of immutable, acyclic cells (freed by reference counting as states are
    superseded), and full collections scanning every live cell would otherwise take a
    quarter of the time. Collection resumes, and catches up, when the block is done."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def check_block(state: State, block: Any, peer_key: Any) -> Optional[str]:
    """Why a block can't be applied (None if it can): unknown peer, too little stake,
    out of order for the peer, too old, too big."""
    ps = state.peer(peer_key)
    if ps is None:
        return "Missing peer"
    if ps.peer_stake < MINIMUM_EFFECTIVE_STAKE:
        return "Insufficient stake"
    if block.timestamp < ps.timestamp:
        return "Block out of order"
    if block.timestamp < state.timestamp - MAX_BLOCK_BACKDATE:
        return "Block too old"
    if len(block.transactions) > MAX_TRANSACTIONS_PER_BLOCK:
        return "Too many transactions"
    return None


def apply_block(state: State, block: Any, peer_key: Any = None) -> BlockResult:
    """State.applyBlock: apply a signed Block (signed by a staked peer) or, for a trusted
    local peer, a bare Block with that peer's key given (fees for an unknown peer all go to
    the reward pool). The same blocks from the same state always give the same state hash."""
    with gc_paused():
        return _apply_block_checked(state, block, peer_key)


def _apply_block_checked(state: State, block: Any, peer_key: Any) -> BlockResult:
    if type(block) is Signed:
        b = block.value
        if type(b) is not Block:
            return _invalid(state, None, "Not a block")
        if not verify(block):
            return _invalid(state, b, "Bad block signature")
        peer_key = Blob(block.public_key)
        problem = check_block(state, b, peer_key)
        if problem is not None:
            return _invalid(state, b, problem)
        block = b
    elif type(block) is not Block:
        return _invalid(state, None, "Not a block")
    if type(peer_key) is bytes:
        peer_key = Blob(peer_key)
    state, outcomes = _run_block(state, block, peer_key)
    return BlockResult.create(state, [o.result(i) for i, o in enumerate(outcomes)])


def apply_block_outcomes(state: State, block: Block, peer_key: Any = None,
                         meter: Optional[Meter] = None, overlay: bool = True,
                         signatures_checked: bool = False) -> tuple:
    """Like apply_block for a bare trusted Block, but returning the Outcome of each
    transaction (state, outcomes) for callers that want more than the Result records.
    `meter` may be carried from block to block (the cells it remembers need not be measured
    again); it holds on to every cell it measured, so start a new one now and then.
    `overlay=False` applies every transaction the ordinary way (the same results; tests).
    `signatures_checked`: the caller checked every signature against the key it carries
    (a peer's own block of admitted transactions); each key is still compared with its
    origin's key when the transaction's turn comes."""
    with gc_paused():
        return _run_block(state, block, peer_key, meter, overlay, signatures_checked)


def _run_block(state: State, block: Block, peer_key: Any, meter: Optional[Meter] = None,
               overlay: bool = True, signatures_checked: bool = False) -> tuple:
    """The block number, time, scheduled operations, the transactions, fees: (state,
    transaction outcomes). Plain transfers go through a BlockOverlay (kernel.transition.
    overlay), which builds the account tree when another transaction needs the whole state
    and once at the end."""
    if meter is None:
        meter = Meter()
    state = apply_time(state.with_next_block(), block.timestamp)
    state, _scheduled, fees = apply_scheduled(state, meter=meter)
    txs = block.transactions
    checks = None if signatures_checked else prefetch_signatures(txs)
    outcomes = []
    ov = BlockOverlay(state, meter) if overlay else None
    for i, signed in enumerate(txs):
        ok = signatures_checked or (None if checks is None else checks(i))
        o = None
        if ov is not None:
            if type(signed) is Signed:
                o = ov.transfer(signed.value, signed, ok)
            if o is None:
                state = ov.state()
        if o is None:
            o = apply_signed(state, signed, meter, ok)
            state = o.state
            if ov is not None:
                ov.reset(state)
        outcomes.append(o)
        fees += o.juice_fees
    if ov is not None:
        state = ov.state()
    return distribute_fees(state, peer_key, fees, block.timestamp), outcomes


# Signatures of a large block are checked on other cores while its transactions run:
# libsodium releases the GIL, and whether a signature is valid for the key it carries does
# not depend on the state (each is compared with the origin's key when its turn comes).
PARALLEL_MIN = 64           # fewer transactions than this: verify in turn
_CHUNK = 32
_POOL: Any = None


def prefetch_signatures(txs: Any) -> Any:
    """A function i -> whether signed transaction i's signature is valid for its own key,
    computed ahead on worker threads; None when not worth it (small block, one core)."""
    import os
    n = len(txs)
    if n < PARALLEL_MIN or (os.cpu_count() or 1) < 2:
        return None
    items = list(txs)
    if sum(1 for x in items if not is_verified(x)) < PARALLEL_MIN:
        return None     # mostly checked already (a peer's pre-check): verify in turn
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor
        _POOL = ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 2) - 1),
                                   thread_name_prefix="verify")
    futures = [_POOL.submit(_verify_chunk, items[j:j + _CHUNK]) for j in range(0, n, _CHUNK)]
    done: dict = {}

    def check(i: int) -> bool:
        c = i // _CHUNK
        r = done.get(c)
        if r is None:
            r = done[c] = futures[c].result()
        return r[i - c * _CHUNK]
    return check


def _verify_chunk(items: list) -> list:
    out = []
    for x in items:
        try:
            out.append(type(x) is Signed and verify(x))
        except Exception:       # malformed: the transaction will fail its own checks
            out.append(False)
    return out


def distribute_fees(state: State, peer_key: Any, fees: int, timestamp: int) -> State:
    """Half of the fees to the block's peer (its timestamp moves to the block's), the rest
    to the reward pool at #0."""
    ps = None if peer_key is None else state.peer(peer_key)
    if ps is not None:
        peer_fees = fees // 2
        fees -= peer_fees
        ctl, stake, stakes, dstake, meta, ts, bal = ps.fields
        ps = ps._make((ctl, stake, stakes, dstake, meta, max(ts, timestamp), bal + peer_fees))
        state = state.with_peer(peer_key, ps)
    if fees > 0:
        pool = state.account(0)
        state = state.put_account(0, pool.with_balance(pool.balance + fees))
    return state


def _invalid(state: State, block: Any, message: str) -> BlockResult:
    r = Result.create(None, String.of(message), PEER)
    n = 0
    if type(block) is Block and not type(block.transactions) is BranchRef:
        n = len(block.transactions)
    return BlockResult.create(state, [r] * n if block is not None else None)


def local_peer(state: State) -> Any:
    """The key of the first peer with enough stake to sign blocks, or None."""
    for key, ps in state.peers.items():
        if ps.peer_stake >= MINIMUM_EFFECTIVE_STAKE:
            return key
    return None


def advance(state: State, ms: int) -> tuple:
    """Move time forward by `ms` and run what became due, as a block with no transactions
    would (it counts as one in the block number): (new state, outcomes of the scheduled
    operations). Fees go to the reward pool."""
    state = apply_time(state.with_next_block(), state.timestamp + ms)
    state, outcomes, fees = apply_scheduled(state)
    return distribute_fees(state, None, fees, state.timestamp), outcomes
