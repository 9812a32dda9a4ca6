"""Applying one transaction to a State (CAD010, CAD011): checks, execution, fees, memory and
the Result.

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

Results carry, as the reference reports them: the value (the error message on failure), the
error code, the log, and an info map with :juice (execution juice), :fees (all coins paid,
memory included), :mem (memory size change when non-zero), :source (:CODE for an error raised
by code, :CVM for one raised by the transition itself) and, for errors, :trace and :eaddr.

Execution and completion are shared with scheduled operations (kernel.transition.schedule).
"""
from __future__ import annotations

from typing import Any, Optional

from kernel.cvm import juice as J
from kernel.data.blobs import String
from kernel.data.cell import BranchRef
from kernel.cvm.context import Context, exit_error
from kernel.cvm.lang import eval_form
from kernel.core.accounts import swap_price, transfer
from kernel.core.actors import actor_call
from kernel.cvm.errors import (DEPTH, FATAL, JUICE, MEMORY, NOBODY, SEQUENCE, SIGNATURE, STATE,
                               TRUST, ErrorValue, Exceptional, Halt, Return, Rollback, error)
from kernel.data.hashmaps import Map, key_hash
from kernel.cvm.memory import Meter
from kernel.cvm.ops import Op
from kernel.data.records import Signed
from kernel.data.scalars import Address, Keyword
from kernel.state.state import MAX_TRANSACTION_JUICE, State
from kernel.state.transactions import (Call, Invoke, Multi, Result, Transaction, Transfer,
                                       storage_size, verify)
from kernel.data.vectors import Vector

K = Keyword
CODE, CVM = K("CODE"), K("CVM")
CHILD = K("CHILD")
KW_ID, KW_JUICE, KW_FEES, KW_MEM, KW_SOURCE, KW_TRACE, KW_EADDR = map(
    K, ("id", "juice", "fees", "mem", "source", "trace", "eaddr"))


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
        pairs go into its info map too (a peer's :tx and :loc), built in one go. A peer
        makes one per transaction: the keys' hashes are known ahead (_KH)."""
        info = [(key_hash(k), k, v) for k, v in extra]
        if self.error is not None and self.trace is not None:
            info.append((_KH[KW_TRACE], KW_TRACE, self.trace))
            info.append((_KH[KW_EADDR], KW_EADDR, self.eaddr))
        if self.mem:
            info.append((_KH[KW_MEM], KW_MEM, self.mem))
        if self.fees > 0:
            info.append((_KH[KW_FEES], KW_FEES, self.fees))
        if self.juice > 0:
            info.append((_KH[KW_JUICE], KW_JUICE, self.juice))
        if self.source is not None:
            info.append((_KH[KW_SOURCE], KW_SOURCE, self.source))
        return Result.create(id, self.value, self.error, self.log, Map._from_entries(info))


_KH = {k: key_hash(k) for k in (KW_TRACE, KW_EADDR, KW_MEM, KW_FEES, KW_JUICE, KW_SOURCE)}


def refused(state: State, code: Keyword, message: str, source: Keyword = CVM) -> Outcome:
    """A transaction refused before execution: nothing changes."""
    return Outcome(state, String.of(message), code, source=source)


def apply_signed(state: State, signed: Any, meter: Optional[Meter] = None,
                 signature_ok: Optional[bool] = None) -> Outcome:
    """Check and apply one signed transaction (State.applyTransaction(SignedData)).
    `meter` measures memory sizes (share one across the transactions of a block);
    `signature_ok`, if known, says whether the signature is valid for the public key it
    carries (that key must still be the origin's key)."""
    tx = signed.value if type(signed) is Signed else None
    if not isinstance(tx, Transaction):
        return refused(state, K("FORMAT"), "Not a signed transaction")
    n = tx._f[0].n
    acct = state.account(n)
    if acct is None:
        return refused(state, NOBODY, f"Transaction for non-existent Account: #{n}")
    seq = tx._f[1]
    expected = acct._f[0] + 1
    if seq != expected:
        return refused(state, SEQUENCE, f"Sequence = {seq} but expected {expected}")
    key = acct._f[1]
    if key is None:
        return refused(state, STATE, f"Transaction for account that is an Actor: #{n}")
    if signature_ok is None:
        signature_ok = verify(signed, key)
    elif signature_ok:
        signature_ok = signed.public_key == key.data
    if not signature_ok:
        return refused(state, SIGNATURE, "Bad signature")
    return apply_transaction(state, tx, meter)


def apply_transaction(state: State, tx: Transaction, meter: Optional[Meter] = None
                      ) -> Outcome:
    """Apply a transaction whose sequence number and signature are already checked:
    prepare, execute, complete (fees, memory, sequence)."""
    origin = tx._f[0].n
    acct = state.account(origin)
    if acct is None:
        return refused(state, NOBODY, f"Transaction for non-existent Account: #{origin}")
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
    return storage_juice(storage_size(tx))


def storage_juice(size: int) -> int:
    """The juice of a transaction whose storage size is known: the base cost plus the cost
    per byte."""
    return J.sat_add(J.TRANSACTION, J.sat_mul(J.TRANSACTION_PER_BYTE, size))


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
        m0 = meter.size(state0)
        mem = meter.size_after(state0, state) - m0
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
    if meter is not None and meter.known_size(base) is not None:
        meter.size_after(base, state)   # the next transaction starts from this state
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
