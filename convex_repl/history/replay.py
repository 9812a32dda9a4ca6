"""Replaying a block log: batch validation. From a stored state (genesis, or the state after
block `start - 1`), each block is applied again with the state transition and the state after
it and its results must hash to what the log recorded; the first block that does not is
named. The CVM is deterministic, so an honest log replays exactly."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from convex_repl.history.logs import BlockLog


@dataclass
class Replayed:
    """The outcome: blocks checked, the final state hash, and the first bad block (None: all
    matched) with what differed."""

    start: int
    blocks: int = 0
    final: Optional[str] = None
    bad: Optional[int] = None
    problem: Optional[str] = None
    expected: Optional[str] = None
    got: Optional[str] = None
    seconds: float = 0.0
    transactions: int = 0
    ok: bool = field(default=True)

    def as_json(self) -> dict:
        return {"ok": self.ok, "from": self.start, "blocks": self.blocks,
                "transactions": self.transactions, "final": self.final, "bad_block": self.bad,
                "problem": self.problem, "expected": self.expected, "got": self.got,
                "seconds": round(self.seconds, 3)}


def apply_logged(state: Any, signed_block: Any) -> tuple:
    """Apply a block as the peer that made it did (its signer collects the fees): (state
    after, transaction outcomes)."""
    from kernel.data.blobs import Blob
    from kernel.data.records import Signed
    from kernel.transition import apply_block_outcomes
    if type(signed_block) is Signed:
        return apply_block_outcomes(state, signed_block.value, Blob(signed_block.public_key))
    return apply_block_outcomes(state, signed_block, None)


def results_hashes(n: int, signed_block: Any, outcomes: list) -> tuple:
    """The value IDs the block's results vector can have as peers record it (a lone peer's
    results carry no id; a CPoS peer's carry their index), each with :tx and :loc."""
    from kernel.data.blobs import Blob
    from kernel.data.records import Signed
    from kernel.data.scalars import Keyword
    from kernel.data.vectors import Vector
    block = signed_block.value if type(signed_block) is Signed else signed_block
    kw_tx, kw_loc = Keyword("tx"), Keyword("loc")
    lone, cluster = [], []
    for i, (tx, o) in enumerate(zip(block.transactions, outcomes)):
        h = Blob(tx.value_id())
        loc = Vector.of(n, i)
        lone.append(o.result(None, ((kw_tx, h), (kw_loc, loc))))
        r = o.result(i)
        cluster.append(r._with(4, r.info.assoc(kw_tx, h).assoc(kw_loc, loc)))
    return (Vector.from_seq(lone).value_id(), Vector.from_seq(cluster).value_id())


def replay(log: BlockLog, start: int = 0, end: Optional[int] = None,
           on_block: Optional[Callable[[int, str], None]] = None) -> Replayed:
    """Replay blocks start..end-1 (default: all) of `log` from the state after block
    start-1, checking each; stops at the first that differs."""
    t0 = time.perf_counter()
    out = Replayed(start)
    state = log.state(start - 1)
    end = log.count() if end is None else end
    for n in range(start, end):
        sb = log.block(n)
        state, outcomes = apply_logged(state, sb)
        out.transactions += len(outcomes)
        got = state.value_id()
        want = log.state_hash(n)
        if got != want:
            out.bad, out.problem = n, "state"
            out.expected, out.got = "0x" + want.hex(), "0x" + got.hex()
            break
        rh = log.results_hash(n)
        if rh is not None and rh not in results_hashes(n, sb, outcomes):
            out.bad, out.problem = n, "results"
            out.expected = "0x" + rh.hex()
            out.got = "0x" + results_hashes(n, sb, outcomes)[0].hex()
            break
        out.blocks += 1
        out.final = "0x" + got.hex()
        if on_block is not None:
            on_block(n, out.final)
    out.ok = out.bad is None
    if out.final is None and out.ok:
        out.final = "0x" + log.state_hash(start - 1).hex()
    out.seconds = time.perf_counter() - t0
    return out


__all__ = ["Replayed", "replay", "apply_logged", "results_hashes"]
