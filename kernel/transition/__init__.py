"""The state transition: applying signed transactions and blocks to a State (CAD010, CAD006,
CAD011, CAD018), with fees and memory accounting.

A transaction goes through three phases, as in the reference:

1. checks that change nothing at all when they fail (the origin pays nothing; CAD010 makes the
   submitting peer responsible): the origin must exist (:NOBODY), the sequence number must be
   the account's next one (:SEQUENCE, on a replay or a gap), the origin must have a key
   (:STATE for actors), the signature must be valid for that key (:SIGNATURE), and the
   balance must buy some juice beyond the base transaction cost (:JUICE);
2. execution as the origin, with a juice limit of what the balance can pay for (at most
   MAX_TRANSACTION_JUICE). An error rolls every state change back;
3. completion: fees = (execution juice + transaction juice) * juice price, where transaction
   juice = TRANSACTION + TRANSACTION_PER_BYTE * storage size of the transaction. If the
   balance can't pay them the whole transaction is rolled back and the balance is taken
   (:JUICE). Otherwise, if it succeeded, memory is accounted: the growth of the state's
   memory size comes out of the origin's allowance first, then is bought from the memory pool
   at the pool price if the balance (after fees) allows, else the transaction is rolled back
   with :MEMORY (the fees are still paid). A shrinking state is credited to the allowance.
   The sequence number goes up by one whenever execution was attempted.

A block (prepared by a peer) first moves the state's time forward (growing the memory pool
once per interval), then runs the scheduled operations that are due, then each transaction
in order; half of the fees go to the block's peer, the rest to the reward pool at #0.

Scheduled operations run as their account would run a transaction (CAD018): juice limited by
the account's balance, execution juice charged at the juice price (there is no transaction
to add a base cost for), memory accounted against the account, which gets back the memory
its schedule entry used. An operation that fails is dropped; its entry is gone either way.

Results carry, as the reference reports them: the value (the error message on failure), the
error code, the log, and an info map with :juice (execution juice), :fees (all coins paid,
memory included), :mem (memory size change when non-zero), :source (:CODE for an error raised
by code, :CVM for one raised by the transition itself) and, for errors, :trace and :eaddr.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Any, Optional

from kernel.cvm import juice as J
from kernel.data.blobs import Blob, String
from kernel.data.cell import BranchRef
from kernel.cvm.context import Context, exit_error
from kernel.cvm.lang import eval_form
from kernel.core.accounts import actor_call, swap_price, transfer
from kernel.cvm.errors import (DEPTH, FATAL, JUICE, MEMORY, NOBODY, SEQUENCE, SIGNATURE, STATE, TRUST,
                     ErrorValue, Exceptional, Halt, Return, Rollback, error)
from kernel.data.hashmaps import Map
from kernel.cvm.memory import Meter
from kernel.cvm.ops import Op
from kernel.data.records import Signed
from kernel.data.scalars import Address, Keyword
from kernel.state.state import (MAX_TRANSACTION_JUICE, MEMORY_POOL_GROWTH, MEMORY_POOL_GROWTH_INTERVAL,
                    MINIMUM_EFFECTIVE_STAKE, G_MEMORY_POOL, G_TIMESTAMP, State)
from kernel.state.transactions import (Block, BlockResult, Call, Invoke, Multi, Result, Transaction,
                           Transfer, is_verified, storage_size, verify)
from kernel.data.vectors import Vector

MAX_TRANSACTIONS_PER_BLOCK = 1024
MAX_SCHEDULED_PER_BLOCK = 100
MAX_BLOCK_BACKDATE = 15 * 60 * 1000

K = Keyword
CODE, CVM, PEER = K("CODE"), K("CVM"), K("PEER")
CHILD = K("CHILD")
KW_ID, KW_JUICE, KW_FEES, KW_MEM, KW_SOURCE, KW_TRACE, KW_EADDR = map(
    K, ("id", "juice", "fees", "mem", "source", "trace", "eaddr"))


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


class Outcome:
    """What applying one transaction did (a Result record is made from it on demand).

    state: the state after the transaction; value: its result (the error message when it
    failed); error: the error code or None; juice: execution juice; fees: coins paid in all;
    juice_fees: the part of fees paid for juice; mem: memory size change (0 if not measured);
    source: CODE / CVM or None; trace, eaddr: where an error came from; log: log entries."""

    __slots__ = ("state", "value", "error", "juice", "fees", "juice_fees", "mem", "source",
                 "trace", "eaddr", "log", "juice_price")

    def __init__(self, state: State, value: Any = None, error: Any = None, juice: int = 0,
                 fees: int = 0, mem: int = 0, source: Any = None, trace: Any = None,
                 eaddr: Any = None, log: Any = None, juice_price: int = 0,
                 juice_fees: int = 0):
        self.state = state
        self.value = value
        self.error = error
        self.juice = juice
        self.fees = fees
        self.juice_fees = juice_fees
        self.mem = mem
        self.source = source
        self.trace = trace
        self.eaddr = eaddr
        self.log = log
        self.juice_price = juice_price

    @property
    def ok(self) -> bool:
        return self.error is None

    def result(self, id: Any = None, extra: tuple = ()) -> Result:
        """The Result record (Result.fromContext in the reference); `extra` (key, value)
        pairs go into its info map too (a peer's :tx and :loc), built in one go."""
        info = list(extra)
        if self.error is not None and self.trace is not None:
            info.append((KW_TRACE, self.trace))
            info.append((KW_EADDR, self.eaddr))
        if self.mem:
            info.append((KW_MEM, self.mem))
        if self.fees > 0:
            info.append((KW_FEES, self.fees))
        if self.juice > 0:
            info.append((KW_JUICE, self.juice))
        if self.source is not None:
            info.append((KW_SOURCE, self.source))
        return Result.create(id, self.value, self.error, self.log, Map.from_pairs(info))


def _fail(state: State, code: Keyword, message: str, source: Keyword = CVM) -> Outcome:
    """A transaction refused before execution: nothing changes."""
    return Outcome(state, String.of(message), code, source=source)


# ------------------------------------------------------------------------------------------------
# Transactions
# ------------------------------------------------------------------------------------------------

def apply_signed(state: State, signed: Any, meter: Optional[Meter] = None,
                 signature_ok: Optional[bool] = None) -> Outcome:
    """Check and apply one signed transaction (State.applyTransaction(SignedData)).
    `meter` measures memory sizes (share one across the transactions of a block);
    `signature_ok`, if known, says whether the signature is valid for the public key it
    carries (that key must still be the origin's key)."""
    tx = signed.value if type(signed) is Signed else None
    if not isinstance(tx, Transaction):
        return _fail(state, K("FORMAT"), "Not a signed transaction")
    n = tx._f[0].n
    acct = state.account(n)
    if acct is None:
        return _fail(state, NOBODY, f"Transaction for non-existent Account: #{n}")
    seq = tx._f[1]
    expected = acct._f[0] + 1
    if seq != expected:
        return _fail(state, SEQUENCE, f"Sequence = {seq} but expected {expected}")
    key = acct._f[1]
    if key is None:
        return _fail(state, STATE, f"Transaction for account that is an Actor: #{n}")
    if signature_ok is None:
        signature_ok = verify(signed, key)
    elif signature_ok:
        signature_ok = signed.public_key == key.data
    if not signature_ok:
        return _fail(state, SIGNATURE, "Bad signature")
    return apply_transaction(state, tx, meter)


def apply_transaction(state: State, tx: Transaction, meter: Optional[Meter] = None
                      ) -> Outcome:
    """Apply a transaction whose sequence number and signature are already checked:
    prepare, execute, complete (fees, memory, sequence)."""
    origin = tx._f[0].n
    acct = state.account(origin)
    if acct is None:
        return _fail(state, NOBODY, f"Transaction for non-existent Account: #{origin}")
    price = state._f[2][2]
    balance = acct._f[2]
    limit = juice_available(balance, price) - J.TRANSACTION
    if limit > MAX_TRANSACTION_JUICE:
        limit = MAX_TRANSACTION_JUICE
    if limit <= 0:
        return Outcome(state, String.of("Insufficient balance for juice"), JUICE, source=CVM,
                       juice_price=price)
    ctx = Context(state, origin, limit)
    value, err = run_transaction(ctx, tx)
    return complete(ctx, state, origin, transaction_juice(tx), price, value, err,
                    meter=meter)


def transaction_juice(tx: Any) -> int:
    """Juice.priceTransaction: the base cost plus a cost per byte of storage size, charged on
    top of the juice used by execution."""
    return J.sat_add(J.TRANSACTION, J.sat_mul(J.TRANSACTION_PER_BYTE, storage_size(tx)))


def juice_available(balance: int, price: int) -> int:
    """Juice a balance can pay for at a juice price (unlimited at price 0)."""
    return balance // price if price > 0 else J.LONG_MAX


def run_transaction(ctx: Context, tx: Any) -> tuple:
    """Execute a transaction (or a compiled op, for scheduled operations) in ctx:
    (value, None) on success; (None, error) on failure, with state and log rolled back."""
    state0 = ctx.state
    try:
        try:
            value = _execute(ctx, tx)
        except (Halt, Return) as h:
            value = h.value
        except Rollback as r:
            ctx.state = state0
            ctx.log = None
            value = r.value
        except ErrorValue:
            raise
        except Exceptional as x:
            raise exit_error(x) from None
    except ErrorValue as e:
        err = e
    except RecursionError:
        err = ErrorValue(DEPTH, String.of("Python recursion limit reached"))
    except MemoryError:
        err = ErrorValue(MEMORY, String.of("Host out of memory"))
    except Exception as e:  # a host failure: CAD011 calls it :FATAL
        err = ErrorValue(FATAL, String.of(f"{type(e).__name__}: {e}"))
    else:
        return value, None
    if err.address is None:
        err.address = ctx.address
    ctx.state = state0
    ctx.log = None
    return None, err


def _execute(ctx: Context, tx: Transaction, d: int = 0) -> Any:
    t = type(tx)
    if t is Transfer:
        ctx.charge(J.TRANSFER)
        return transfer(ctx, tx._f[2].n, tx._f[3], d)
    if t is Invoke:
        value = eval_form(ctx, tx._f[2], d)
        ctx.result = value
        return value
    if t is Call:
        return actor_call(ctx, tx._f[2], tx._f[3], tx._f[4], list(tx.args), d)
    if t is Multi:
        return _execute_multi(ctx, tx, d)
    if isinstance(tx, Op):
        return tx.run(ctx, None, d + 1)
    raise error(STATE, f"Unknown transaction type: {t.__name__}")


def _execute_multi(ctx: Context, tx: Multi, d: int) -> Any:
    """Run the children in turn; each child's failure rolls back only that child, except in
    mode ALL where the first failure rolls back everything (:CHILD error, results as value)."""
    mode = tx.mode
    txs = tx.txs
    if type(txs) is BranchRef:
        raise error(STATE, "Multi transaction children missing")
    start_state, start_log = ctx.state, ctx.log
    results = []
    failed = False
    for child in txs:
        origin = ctx.address
        if not isinstance(child, Transaction):
            r_value, r_err = None, error(STATE, "Not a transaction")
        else:
            o = child._f[0].n
            acct = ctx.state.account(o)
            if o != tx._f[0].n and acct is None:
                r_value, r_err = None, error(NOBODY, "Child transaction origin account does "
                                                     "not exist")
            elif o != tx._f[0].n and not (type(acct.controller) is Address
                                          and acct.controller.n == tx._f[0].n):
                r_value, r_err = None, error(TRUST, "Account control not available")
            else:
                r_value, r_err = _run_child(ctx, child, o, d)
        ctx.address = origin
        if r_err is not None:
            results.append(Result.create(None, r_err.message, r_err.code))
            failed = True
            if mode in (Multi.UNTIL, Multi.ALL):
                break
        else:
            results.append(Result.create(None, r_value, None))
            if mode == Multi.FIRST:
                break
    rs = Vector.from_seq(results)
    if failed and mode == Multi.ALL:
        ctx.state, ctx.log = start_state, start_log
        e = ErrorValue(CHILD, rs)
        raise e
    return rs


def _run_child(ctx: Context, child: Transaction, origin: int, d: int) -> tuple:
    saved = (ctx.state, ctx.log, ctx.address, ctx.caller, ctx.offer, ctx.scope, ctx.result)
    ctx.address = origin
    ctx.caller = None
    ctx.offer = 0
    ctx.scope = None
    try:
        try:
            value = _execute(ctx, child, d + 1)
        except (Halt, Return) as h:
            value = h.value
        except Rollback as r:
            ctx.state, ctx.log = saved[0], saved[1]
            value = r.value
        except ErrorValue:
            raise
        except Exceptional as x:
            raise exit_error(x) from None
    except ErrorValue as e:
        if not e.catchable:
            raise
        (ctx.state, ctx.log, ctx.address, ctx.caller, ctx.offer, ctx.scope,
         ctx.result) = saved
        return None, e
    ctx.address, ctx.caller, ctx.offer, ctx.scope, ctx.result = saved[2:]
    return value, None


def complete(ctx: Context, state0: State, origin: int, tx_juice: int, price: int, value: Any,
             err: Optional[ErrorValue], sequence: bool = True,
             rollback: Optional[State] = None, meter: Optional[Meter] = None) -> Outcome:
    """Context.completeTransaction: fees, memory accounting and the sequence number.
    `state0` is the state memory is measured from and, unless `rollback` is given, the one a
    failure returns to; `sequence` says whether the origin's sequence number goes up."""
    if rollback is None:
        rollback = state0
    state = ctx.state
    juice = ctx.juice
    juice_fees = J.sat_mul(J.sat_add(juice, tx_juice), price)
    acct = state.account(origin)
    balance = acct._f[2]
    mem = 0
    memory_spend = 0
    source = None
    failure = None
    log = ctx.log
    if juice_fees > balance:
        # The balance can't pay: undo everything and take what there is.
        state = rollback
        acct = state.account(origin)
        juice_fees = min(juice_fees, acct._f[2])
        failure = (JUICE, f"Insufficient balance to cover juice fees of "
                          f"{J.sat_mul(J.sat_add(juice, tx_juice), price)}")
    elif err is None:
        if meter is None:
            meter = Meter()
        mem = meter.size(state) - meter.size(state0)
        allowance = acct._f[3]
        if mem > 0:
            used = allowance if allowance < mem else mem
            purchase = mem - used
            new_allowance = allowance - used
            if purchase > 0:
                pool, pool_value = state.memory_pool, state.memory_value
                try:
                    memory_spend = swap_price(purchase, pool, pool_value)
                except ValueError:
                    memory_spend = J.LONG_MAX
                if balance - juice_fees >= memory_spend:
                    state = state.with_memory_pool(pool_value + memory_spend, pool - purchase)
                    acct = acct._with(3, new_allowance)
                else:
                    memory_spend = 0
                    state = rollback
                    acct = state.account(origin)
                    failure = (MEMORY, "Unable to allocate additional memory required for "
                                       f"transaction ({mem} bytes)")
            else:
                acct = acct._with(3, new_allowance)
        elif mem < 0:
            acct = acct._with(3, allowance - mem)
    else:
        source = CODE if err.catchable else CVM
    fees = juice_fees + memory_spend
    if fees > acct._f[2]:      # only when a rollback returned to a smaller balance
        fees = acct._f[2]
        juice_fees = min(juice_fees, fees)
    f = acct._f
    acct = acct._make((f[0] + 1 if sequence else f[0], f[1], f[2] - fees) + f[3:])
    base = state
    state = base.put_account(origin, acct)
    if meter is not None:       # the next transaction starts from this state
        meter.note_account_change(base, state, origin, base.account(origin), acct)
    if failure is not None:
        return Outcome(state, String.of(failure[1]), failure[0], juice, fees, mem, CVM,
                       juice_price=price, juice_fees=juice_fees)
    if err is not None:
        trace = Vector.from_seq(String.of(_trace_line(t)) for t in err.trace)
        eaddr = Address(err.address) if type(err.address) is int else err.address
        return Outcome(state, err.message, err.code, juice, fees, 0, source, trace, eaddr,
                       None, price, juice_fees)
    return Outcome(state, value, None, juice, fees, mem, None, None, None, log, price,
                   juice_fees)


TRACE_TEXT_LIMIT = 1000     # characters of an expression shown in a trace line


def _trace_line(t: Any) -> str:
    if isinstance(t, str):
        return t
    from kernel.data.printer import print_brief
    return f"In expression: {print_brief(t, TRACE_TEXT_LIMIT)}"


# ------------------------------------------------------------------------------------------------
# Time and the schedule
# ------------------------------------------------------------------------------------------------

def apply_time(state: State, timestamp: int) -> State:
    """Move the state's time forward to `timestamp` (never back), growing the memory pool by
    MEMORY_POOL_GROWTH for every growth interval boundary crossed."""
    g = state.globals
    old = g[G_TIMESTAMP]
    if timestamp <= old:
        return state
    g = g.assoc(G_TIMESTAMP, timestamp)
    steps = timestamp // MEMORY_POOL_GROWTH_INTERVAL - old // MEMORY_POOL_GROWTH_INTERVAL
    if steps > 0:
        g = g.assoc(G_MEMORY_POOL, g[G_MEMORY_POOL] + steps * MEMORY_POOL_GROWTH)
    return state.with_globals(g)


def _pop_due(sched: Any, now: int) -> tuple:
    """(schedule without its first entry, (address, op)) if that entry is due, else
    (sched, None). Entries are ordered by time, then by when they were scheduled."""
    if len(sched) == 0:
        return sched, None
    key, entries = sched.entry_at(0)
    if type(key) is not Blob or len(key) != 8:
        return sched, None
    if int.from_bytes(key.data, "big", signed=True) > now:
        return sched, None
    if len(entries) <= 1:
        sched = sched.dissoc(key)
    else:
        sched = sched.assoc(key, entries.slice(1))
    e = entries[0] if len(entries) > 0 else None
    return sched, (None, None) if not isinstance(e, Vector) or len(e) != 2 else (e[0], e[1])


def count_due(state: State, limit: int = MAX_SCHEDULED_PER_BLOCK) -> int:
    """How many scheduled operations are due at the state's time (at most `limit`)."""
    sched, now, n = state.schedule, state.timestamp, 0
    while n < limit:
        sched, e = _pop_due(sched, now)
        if e is None:
            break
        n += 1
    return n


def apply_scheduled(state: State, limit: int = MAX_SCHEDULED_PER_BLOCK,
                    meter: Optional[Meter] = None) -> tuple:
    """Run the scheduled operations due at the state's time, oldest first (at most `limit`;
    any scheduled while they run wait for the next block): (state, outcomes, juice fees)."""
    n = count_due(state, limit)
    outcomes = []
    fees = 0
    now = state.timestamp
    for _ in range(n):
        sched, (address, op) = _pop_due(state.schedule, now)
        o = _run_scheduled(state, state.with_schedule(sched), address, op, meter)
        outcomes.append(o)
        fees += o.juice_fees
        state = o.state
    return state, outcomes, fees


def _run_scheduled(with_entry: State, state: State, address: Any, op: Any,
                   meter: Optional[Meter] = None) -> Outcome:
    """Run one scheduled op as its account. Memory is measured from the state that still held
    the entry (so its memory comes back); any failure returns to the state without it."""
    if type(address) is not Address or not isinstance(op, Op):
        return _fail(state, STATE, "Invalid schedule entry")
    n = address.n
    acct = state.account(n)
    if acct is None:
        return _fail(state, NOBODY, f"Scheduled operation for missing account #{n}")
    price = state.juice_price
    limit = min(MAX_TRANSACTION_JUICE, juice_available(acct.balance, price))
    if limit <= 0:
        return _fail(state, JUICE, "Insufficient balance for juice")
    ctx = Context(state, n, limit)
    value, err = run_transaction(ctx, op)
    return complete(ctx, with_entry, n, 0, price, value, err, sequence=False,
                    rollback=state, meter=meter)


def advance(state: State, ms: int) -> tuple:
    """Move time forward by `ms` and run what became due, as a block with no transactions
    would: (new state, outcomes of the scheduled operations). Fees go to the reward pool."""
    state = apply_time(state, state.timestamp + ms)
    state, outcomes, fees = apply_scheduled(state)
    return distribute_fees(state, None, fees, state.timestamp), outcomes


# ------------------------------------------------------------------------------------------------
# Blocks
# ------------------------------------------------------------------------------------------------

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
                         meter: Optional[Meter] = None) -> tuple:
    """Like apply_block for a bare trusted Block, but returning the Outcome of each
    transaction (state, outcomes) for callers that want more than the Result records.
    `meter` may be carried from block to block (the cells it remembers need not be measured
    again); it holds on to every cell it measured, so start a new one now and then."""
    with gc_paused():
        return _run_block(state, block, peer_key, meter)


def _run_block(state: State, block: Block, peer_key: Any,
               meter: Optional[Meter] = None) -> tuple:
    """Time, scheduled operations, the transactions, fees: (state, transaction outcomes)."""
    if meter is None:
        meter = Meter()
    state = apply_time(state, block.timestamp)
    state, _scheduled, fees = apply_scheduled(state, meter=meter)
    txs = block.transactions
    checks = prefetch_signatures(txs)
    outcomes = []
    for i, signed in enumerate(txs):
        ok = None if checks is None else checks(i)
        o = apply_signed(state, signed, meter, ok)
        outcomes.append(o)
        fees += o.juice_fees
        state = o.state
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


__all__ = ["Outcome", "apply_signed", "apply_transaction", "apply_block", "apply_time",
           "apply_scheduled", "advance", "distribute_fees", "check_block", "local_peer",
           "MAX_TRANSACTIONS_PER_BLOCK"]
