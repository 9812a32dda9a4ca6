"""Time and the schedule: moving a State's time forward and running the scheduled
operations that are due (CAD018).

Time only moves forward; the memory pool grows by MEMORY_POOL_GROWTH at every boundary of
MEMORY_POOL_GROWTH_INTERVAL crossed. Scheduled operations run as their account would run a
transaction: juice limited by the account's balance, execution juice charged at the juice
price (there is no transaction to add a base cost for), memory accounted against the account,
which gets back the memory its schedule entry used. An operation that fails is dropped; its
entry is gone either way.
"""
from __future__ import annotations

from typing import Any, Optional

from kernel.data.blobs import Blob
from kernel.cvm.context import Context
from kernel.cvm.errors import JUICE, NOBODY, STATE
from kernel.cvm.memory import Meter
from kernel.cvm.ops import Op
from kernel.data.scalars import Address
from kernel.state.state import (MAX_TRANSACTION_JUICE, MEMORY_POOL_GROWTH,
                                MEMORY_POOL_GROWTH_INTERVAL, G_MEMORY_POOL, G_TIMESTAMP, State)
from kernel.data.vectors import Vector
from kernel.transition.transaction import (Outcome, complete, juice_available, refused,
                                           run_transaction)

MAX_SCHEDULED_PER_BLOCK = 100


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
        return refused(state, STATE, "Invalid schedule entry")
    n = address.n
    acct = state.account(n)
    if acct is None:
        return refused(state, NOBODY, f"Scheduled operation for missing account #{n}")
    price = state.juice_price
    limit = min(MAX_TRANSACTION_JUICE, juice_available(acct.balance, price))
    if limit <= 0:
        return refused(state, JUICE, "Insufficient balance for juice")
    ctx = Context(state, n, limit)
    value, err = run_transaction(ctx, op)
    return complete(ctx, with_entry, n, 0, price, value, err, sequence=False,
                    rollback=state, meter=meter)
