"""The execution context: who is running, against which state, with how much juice.

Like the reference's Context it is mutable for speed; forks are explicit (`fork`) where a
boundary may roll back (query, try, actor calls). Lexical bindings are not kept here: ops
receive them as an argument (`env`), together with their depth `d`. Switching to another
account (actor calls, deploy, eval-as, query-as) and the rules for returning from it live in
kernel/core/accounts.py.
"""
from __future__ import annotations

import sys
from typing import Any, Optional

from kernel.cvm.errors import (CAST, EXCEPTION, NOBODY, UNDECLARED, ErrorValue, Exceptional, Recur,
                               Reduced, Return, TailCall, error, juice_failure)
from kernel.data.scalars import Symbol
from kernel.cvm.structures import lookup
from kernel.state.state import CORE_ADDRESS, Account, State

MAX_DEPTH = 256
LOOKUP_DEPTH = 16

# Running CVM code recurses in Python as it goes deeper: a few frames per level of depth, up
# to about 7 for a chain of nested `eval`s (~1,800 frames at MAX_DEPTH; nested macros ~1,100),
# more than Python's default limit of 1,000 allows. So the limit is raised here, once, for
# every entry point (sessions, the state transition, peers), with a wide margin, and :DEPTH
# stays deterministic. Values never need it: encoding, decoding, hashing, equality, printing
# and memory sizes recurse at most kernel.data.cell.NEST_LIMIT levels, however deep the value.
PYTHON_RECURSION_LIMIT = 10_000
if sys.getrecursionlimit() < PYTHON_RECURSION_LIMIT:
    sys.setrecursionlimit(PYTHON_RECURSION_LIMIT)
_MISSING = object()


class Context:
    __slots__ = ("state", "address", "caller", "origin", "offer", "scope", "juice", "limit",
                 "log", "result")

    def __init__(self, state: State, address: int, juice_limit: int = 10_000_000,
                 origin: Optional[int] = None, caller: Optional[int] = None, offer: int = 0):
        self.state = state
        self.address = address          # account numbers (ints) internally
        self.origin = address if origin is None else origin
        self.caller = caller
        self.offer = offer
        self.scope = None
        self.juice = 0                  # juice used so far
        self.limit = juice_limit
        self.log = None
        self.result = None              # last result at the top level (*result*)

    # --- juice -------------------------------------------------------------------------------
    def charge(self, amount: int) -> None:
        j = self.juice + amount
        if j > self.limit:
            self.juice = self.limit
            raise juice_failure()
        self.juice = j

    def check_juice(self, amount: int) -> None:
        """Fail early (as the reference does) when a known cost cannot be paid."""
        if self.juice + amount > self.limit:
            self.juice = self.limit
            raise juice_failure()

    @property
    def juice_left(self) -> int:
        return self.limit - self.juice

    # --- accounts and environments ------------------------------------------------------------
    def account(self, n: Optional[int] = None) -> Optional[Account]:
        return self.state.account(self.address if n is None else n)

    def _definer(self, addr: Optional[int], sym: Symbol) -> Optional[tuple]:
        """(account number, account, value) of the definition of sym seen from account addr
        (the current one by default), walking parents up to the core account; None if none."""
        state = self.state
        n = self.address if addr is None else addr
        for _ in range(LOOKUP_DEPTH):
            acct = state.account(n)
            if acct is None:
                return None
            v = acct.environment.get(sym, _MISSING)
            if v is not _MISSING:
                return n, acct, v
            if n == CORE_ADDRESS:
                return None
            n = CORE_ADDRESS if acct.parent is None else acct.parent.n
        return None

    def lookup_value(self, addr: Optional[int], sym: Symbol, default: Any = _MISSING) -> Any:
        found = self._definer(addr, sym)
        return default if found is None else found[2]

    def lookup(self, addr: Optional[int], sym: Symbol) -> Any:
        if addr is not None and self.state.account(addr) is None:
            raise error(NOBODY, f"No account found for: #{addr}")
        found = self._definer(addr, sym)
        if found is None:
            raise error(UNDECLARED, sym.name)
        return found[2]

    def defining_address(self, addr: Optional[int], sym: Symbol) -> Optional[int]:
        found = self._definer(addr, sym)
        return None if found is None else found[0]

    def lookup_meta(self, addr: Optional[int], sym: Symbol) -> Any:
        """Metadata map of a definition (empty map if none), or None if undeclared."""
        from kernel.data.hashmaps import Map

        found = self._definer(addr, sym)
        return None if found is None else found[1].metadata.get(sym, Map.EMPTY)

    def define(self, sym: Symbol, value: Any, meta: Any = None) -> None:
        acct = self.state.account(self.address)
        env = acct.environment.assoc(sym, value)
        if meta is None:
            acct = acct.with_(environment=env)
        else:
            acct = acct.with_(environment=env, metadata=acct.metadata.assoc(sym, meta))
        self.state = self.state.put_account(self.address, acct)

    def undefine(self, sym: Symbol) -> None:
        acct = self.state.account(self.address)
        env, meta = acct.environment, acct.metadata
        new_env, new_meta = env.dissoc(sym), meta.dissoc(sym)
        f = acct.fields
        if new_env is env and new_meta is meta and f[6] is not None and f[7] is not None:
            return
        acct = acct.with_(environment=new_env, metadata=new_meta)
        self.state = self.state.put_account(self.address, acct)

    def set_state(self, new: State) -> None:
        """Move to a new state. As in the reference, if the origin's balance went down the
        juice limit shrinks to what the remaining balance can pay for."""
        old = self.state
        self.state = new
        o = self.origin
        before = old.account(o)
        after = new.account(o)
        if before is not None and after is not None and after is not before:
            b = after.balance
            if b < before.balance:
                price = new.juice_price
                if price > 0:
                    self.limit = min(self.limit, b // price)

    def fork(self) -> "Context":
        c = Context.__new__(Context)
        for s in Context.__slots__:
            setattr(c, s, getattr(self, s))
        return c

    def restore(self, saved: "Context") -> None:
        """Roll this context's state-like fields back to a fork taken earlier (juice stays)."""
        self.state = saved.state
        self.log = saved.log
        self.offer = saved.offer
        self.limit = saved.limit


def invoke(ctx: Context, f: Any, args: list, d: int) -> Any:
    """Call any CVM function value, handling recur, tailcall and return at the boundary."""
    while True:
        try:
            call = f.invoke
        except AttributeError:
            call = data_fn_for(f)
            if call is None:
                from kernel.cvm.types import type_name
                raise error(CAST, f"Can't convert value of type {type_name(f)} to type Function")
        try:
            return call(ctx, args, d)
        except Recur as r:
            if getattr(f, "is_recur", False):
                raise
            args = r.args_
        except TailCall as t:
            if getattr(f, "is_tailcall", False):
                raise
            f = t.fn
            args = t.args_
        except Return as r:
            if getattr(f, "is_return", False):
                raise
            return r.value


def data_fn_for(f: Any):
    """Data structures and keywords used as functions: (m k), (s x), (v i), (:k m)."""
    return lookup(f)


def exit_error(ex: Exceptional) -> ErrorValue:
    """The error a non-local exit becomes when it escapes to a boundary that can't handle it."""
    if isinstance(ex, (Recur, TailCall)):
        return error(EXCEPTION, "attempt to recur or tail call outside of a function body")
    if isinstance(ex, Reduced):
        return error(EXCEPTION, "reduced used outside of a reduce operation")
    return error(EXCEPTION, "Unhandled Exception")


__all__ = ["Context", "invoke", "exit_error", "MAX_DEPTH"]
