"""Bisecting two diverging block logs: the verification game of batch validation, as a tool.

1. The first block after which the two states differ, by binary search over the state
   hashes each log records: a block k they agree before and differ after (the game's step;
   the first such block unless the logs met again after parting).
2. The first transaction of that block where they part: both blocks are replayed here from
   the (equal) state before it, transaction by transaction, comparing each transaction and
   the state after it. Equal blocks whose replay agrees mean a log recorded a state its
   block does not give: the replay says which.
3. That transaction is replayed on each side's pre-state with every op recorded as it
   completes (kernel.cvm.trace, expansion and compilation left out), and the two step
   lists are compared: the first step whose op, result or juice differs is the divergence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from kernel.cvm.trace import Recorder

from convex_repl.history.logs import BlockLog

MAX_STEPS = 200_000         # ops recorded per replayed transaction


class StepRecorder(Recorder):
    """Records each op run outside expansion and compilation as it completes (so an op
    comes after the ops it ran): [depth, op, juice after, result or ('raised', error
    class)]. In completion order the first differing step of two runs is the innermost op
    that behaved differently: a constant, a lookup, a call, not the form around it."""

    def __init__(self, limit: int = MAX_STEPS):
        super().__init__(max_depth=0)
        self.limit = limit
        self.steps: list = []

    def run_op(self, orig: Any, op: Any, ctx: Any, env: list, d: int) -> Any:
        if self.quiet or len(self.steps) >= self.limit:
            return super().run_op(orig, op, ctx, env, d)
        try:
            v = super().run_op(orig, op, ctx, env, d)
        except BaseException as e:
            self.steps.append([d, op, ctx.juice, ("raised", type(e).__name__)])
            raise
        self.steps.append([d, op, ctx.juice, v])
        return v


def _text(v: Any, limit: int = 120) -> str:
    from kernel.data.printer import print_head
    if isinstance(v, tuple) and v and v[0] == "raised":
        return f"<{v[1]}>"
    try:
        text, more = print_head(v, limit)
    except Exception:
        text, more = repr(v)[:limit], False
    return text + ("…" if more else "")


@dataclass
class Divergence:
    """Where two logs part. `block` -1: different genesis states; None: no divergence in
    the blocks both have. `tx` None: before any transaction (time, schedule) or the blocks
    agree. `step`: the first differing op step of the transaction, with both sides."""

    a: str
    b: str
    common: int = 0
    block: Optional[int] = None
    tx: Optional[int] = None
    reason: str = ""
    step: Optional[int] = None
    sides: list = field(default_factory=list)     # per side: {op, result, juice, depth}
    context: list = field(default_factory=list)   # the equal steps just before
    hashes: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"a": self.a, "b": self.b, "common_blocks": self.common, "block": self.block,
                "tx": self.tx, "reason": self.reason, "step": self.step,
                "sides": self.sides, "context": self.context, **self.hashes}


def first_block(a: BlockLog, b: BlockLog) -> tuple:
    """(first block whose state differs or None, blocks both have); -1: genesis differs."""
    n = min(a.count(), b.count())
    if a.state_hash(-1) != b.state_hash(-1):
        return -1, n
    if n == 0 or a.state_hash(n - 1) == b.state_hash(n - 1):
        return None, n
    lo, hi = 0, n - 1            # invariant: they differ at hi, agree before lo
    while lo < hi:
        mid = (lo + hi) // 2
        if a.state_hash(mid) == b.state_hash(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo, n


def _tx_states(pre: Any, signed_block: Any) -> tuple:
    """Replay a block on `pre` transaction by transaction: (state before the first
    transaction, [(tx hash, state before it, state after it)], state after the block)."""
    from kernel.data.blobs import Blob
    from kernel.data.records import Signed
    from kernel.cvm.memory import Meter
    from kernel.transition.block import distribute_fees
    from kernel.transition.schedule import apply_scheduled, apply_time
    from kernel.transition.transaction import apply_signed
    block = signed_block.value if type(signed_block) is Signed else signed_block
    peer = Blob(signed_block.public_key) if type(signed_block) is Signed else None
    meter = Meter()
    s = apply_time(pre.with_next_block(), block.timestamp)
    s, _, fees = apply_scheduled(s, meter=meter)
    first, rows = s, []
    for signed in block.transactions:
        o = apply_signed(s, signed, meter)
        rows.append((signed.value_id(), s, o.state, signed))
        fees += o.juice_fees
        s = o.state
    return first, rows, distribute_fees(s, peer, fees, block.timestamp)


def trace_steps(state: Any, signed: Any, limit: int = MAX_STEPS) -> list:
    from convex_repl.insight.run import run_tx_traced
    rec = StepRecorder(limit)
    run_tx_traced(state, signed, rec)
    return rec.steps


def _step_key(s: list) -> tuple:
    return (s[0], type(s[1]).__name__, _text(s[1], 400), _text(s[3], 400), s[2])


def _side(s: Optional[list], i: int) -> dict:
    if s is None:
        return {"step": i, "op": None, "result": "(ended)", "juice": None, "depth": None}
    return {"step": i, "op": _text(s[1]), "kind": type(s[1]).__name__,
            "result": _text(s[3]), "juice": s[2], "depth": s[0]}


def diff_steps(sa: list, sb: list) -> Optional[int]:
    """The index of the first differing step (one list ending early counts), or None."""
    for i in range(max(len(sa), len(sb))):
        x = sa[i] if i < len(sa) else None
        y = sb[i] if i < len(sb) else None
        if x is None or y is None or _step_key(x) != _step_key(y):
            return i
    return None


def bisect(a: BlockLog, b: BlockLog) -> Divergence:
    d = Divergence(a.name, b.name)
    k, d.common = first_block(a, b)
    d.block = k
    if k is None:
        d.reason = "no divergence: the states agree after every block both have"
        na, nb = a.count(), b.count()
        if na != nb:
            d.reason += f" ({'a' if na > nb else 'b'} has {abs(na - nb)} more)"
        return d
    if k < 0:
        d.reason = "different genesis states (not the same network)"
        d.hashes = {"a_state": "0x" + a.state_hash(-1).hex(),
                    "b_state": "0x" + b.state_hash(-1).hex()}
        return d
    d.hashes = {"a_state": "0x" + a.state_hash(k).hex(), "b_state": "0x" + b.state_hash(k).hex()}
    pre_a, pre_b = a.state(k - 1), b.state(k - 1)
    ba, bb = a.block(k), b.block(k)
    fa, ra, end_a = _tx_states(pre_a, ba)
    fb, rb, end_b = _tx_states(pre_b, bb)
    for i in range(max(len(ra), len(rb))):          # first, the transactions themselves
        if i >= len(ra) or i >= len(rb):
            d.tx = i
            d.reason = f"only {'b' if i >= len(ra) else 'a'}'s block has transaction {i}"
            return d
        if ra[i][0] != rb[i][0]:
            d.tx, d.reason = i, "different transactions"
            _tx_found(d, ra[i], rb[i])
            return d
    ta, tb = _block_of(ba).timestamp, _block_of(bb).timestamp
    if fa.value_id() != fb.value_id():              # same transactions, another time
        for i, (x, y) in enumerate(zip(ra, rb)):
            if _outcome(x) != _outcome(y):
                d.tx = i
                d.reason = (f"the same transactions at different block times ({ta} and "
                            f"{tb}): this one's outcome differs")
                _tx_found(d, x, y)
                return d
        d.reason = (f"the same transactions with the same outcomes, at different block "
                    f"times ({ta} and {tb})")
        return d
    for i, (x, y) in enumerate(zip(ra, rb)):
        if x[2].value_id() != y[2].value_id():
            d.tx, d.reason = i, "the same transaction on the same state gives different states"
            _tx_found(d, x, y)
            return d
    if end_a.value_id() != end_b.value_id():        # the fees went to different peers
        d.reason = ("the same transactions with the same outcomes, in blocks of different "
                    "peers (the fees went to each block's own peer)")
        return d
    # same block, same replay: a log recorded a state its block does not give
    mine = end_a.value_id()
    d.hashes["replayed"] = "0x" + mine.hex()
    wrong = [x for x, log in (("a", a), ("b", b)) if log.state_hash(k) != mine]
    d.reason = (f"the blocks are the same and replay to 0x{mine.hex()[:16]}…; the state "
                f"recorded by {' and '.join(wrong)} after block {k} is not what the block "
                "gives")
    return d


def _what(signed: Any) -> str:
    """A transaction in a few words: its origin and command (or its kind)."""
    tx = signed.value
    cmd = getattr(tx, "command", None)
    body = _text(cmd, 100) if cmd is not None else type(tx).__name__
    return f"#{tx.origin.n} {body}"


def _block_of(sb: Any) -> Any:
    from kernel.data.records import Signed
    return sb.value if type(sb) is Signed else sb


def _outcome(row: tuple) -> tuple:
    """What a transaction did, without the time: its result and the accounts after it."""
    return row[2].accounts.value_id() if hasattr(row[2], "accounts") else row[2].value_id()


def _tx_found(d: Divergence, x: tuple, y: tuple) -> None:
    d.hashes.update(a_tx="0x" + x[0].hex(), b_tx="0x" + y[0].hex(),
                    a_what=_what(x[3]), b_what=_what(y[3]))
    _trace_diff(d, x[1], x[3], y[1], y[3])


def _trace_diff(d: Divergence, pa: Any, ta: Any, pb: Any, tb: Any) -> None:
    sa, sb = trace_steps(pa, ta), trace_steps(pb, tb)
    i = diff_steps(sa, sb)
    if i is None:
        return
    d.step = i
    d.sides = [_side(sa[i] if i < len(sa) else None, i),
               _side(sb[i] if i < len(sb) else None, i)]
    d.context = [_side(sa[j], j) for j in range(max(0, i - 3), i)]


__all__ = ["Divergence", "bisect", "first_block", "trace_steps", "diff_steps",
           "StepRecorder"]
