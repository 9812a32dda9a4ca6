"""Running code as another account: actor calls, deployment, eval-as and query-as, with the
context switch and the boundary rules they share (Context.actorCall, deploy, evalAs, queryAs).

Boundaries follow the reference's rules: the code runs with *address*, *caller*, *offer* and
*scope* switched and fresh *result*; juice goes on accumulating; at the boundary `halt` keeps
the state changes and gives its value, `rollback` undoes them (refunding the offer) and gives
its value, an error undoes them and goes on up (with a "Calling Actor ..." trace for calls),
and a stray recur/tailcall/reduced becomes an :EXCEPTION error. An offer is taken from the
caller before the call; whatever the actor has not accepted is given back afterwards.

No core function is registered here: call*, deploy, callable?, eval-as and query-as are
defined with the other account functions in kernel.core.accounts (which also sends coins to
actors through actor_call), and the state transition calls actor_call for Call transactions.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

from kernel.cvm import juice as J
from kernel.cvm.context import Context, exit_error, invoke
from kernel.cvm.errors import (ARGUMENT, CAST, FUNDS, NOBODY, STATE, TRUST, ErrorValue, Exceptional,
                               Halt, Return, Rollback, error)
from kernel.cvm.fn import is_fn
from kernel.data.scalars import Address, Keyword, Symbol
from kernel.state.state import Account
from kernel.data.vectors import Vector
from kernel.cvm.lang import eval_form

CHECK_TRUSTED = Symbol("check-trusted?")
CONTROL = Keyword("control")
CALLABLE = Keyword("callable")
CALLABLE_Q = Keyword("callable?")       # the older spelling, still used by clients


def callable_function(acct: Account, sym: Any) -> Any:
    """The function `acct` defines as `sym` if it is marked ^:callable, else None."""
    f = acct.environment.get(sym)
    if f is None or not is_fn(f):
        return None
    meta = acct.metadata.get(sym)
    if meta is None:
        return None
    flag = meta.get(CALLABLE)
    if flag is None:
        flag = meta.get(CALLABLE_Q)
    return f if flag is not None and flag is not False else None


def callable_address(v: Any) -> Optional[Address]:
    """The actor of a call target: an Address, or [Address scope]; None otherwise."""
    if type(v) is Address:
        return v
    if isinstance(v, Vector) and len(v) == 2 and type(v[0]) is Address:
        return v[0]
    return None


def address_text(n: int) -> str:
    """Account number n as error messages show it."""
    return f"#{n}"


def value_text(v: Any) -> str:
    """A value named in an error message or trace, cut short if long (it may be huge)."""
    from kernel.data.printer import print_brief
    return print_brief(v)


# ------------------------------------------------------------------------------------------------
# Context switches and the boundary rules
# ------------------------------------------------------------------------------------------------

def _switch(ctx: Context, state: Any, address: int, caller: int, offer: int,
            scope: Any) -> tuple:
    """Enter another account's execution context; returns what `_boundary` restores."""
    saved = (ctx.state, ctx.address, ctx.caller, ctx.offer, ctx.scope, ctx.log, ctx.result,
             ctx.limit)
    ctx.state = state
    ctx.address = address
    ctx.caller = caller
    ctx.offer = offer
    ctx.scope = scope
    ctx.result = None
    return saved


def _restore(ctx: Context, saved: tuple) -> None:
    (ctx.state, ctx.address, ctx.caller, ctx.offer, ctx.scope, ctx.log, ctx.result,
     ctx.limit) = saved


def _boundary(ctx: Context, saved: tuple, run: Callable[[], Any], rollback: bool = False) -> Any:
    """Run code in a switched context and return to the saved one (Context.handleStateResults).
    `rollback` discards every state change even on success (query-as)."""
    try:
        value = run()
    except Rollback as r:
        value, rollback = r.value, True
    except (Halt, Return) as h:
        value = h.value
    except ErrorValue as e:
        if e.address is None:   # where the error was raised (the Result's :eaddr)
            e.address = ctx.address
        _restore(ctx, saved)
        raise
    except Exceptional as x:
        _restore(ctx, saved)
        raise exit_error(x) from None
    except BaseException:
        _restore(ctx, saved)
        raise
    address = saved[1]
    if rollback:
        _restore(ctx, saved)
    else:
        new_state, log, refund = ctx.state, ctx.log, ctx.offer
        if refund > 0:      # give back what the actor did not accept
            a = new_state.account(address)
            new_state = new_state.put_account(address, a.with_balance(a.balance + refund))
        _restore(ctx, saved)
        ctx.log = log
        ctx.set_state(new_state)    # the juice limit shrinks if the origin paid out
    ctx.result = value
    return value


def actor_call(ctx: Context, target: Any, offer: int, sym: Symbol, args: list, d: int) -> Any:
    """Call the ^:callable function `sym` of an actor (Context.actorCall)."""
    if type(target) is Address:
        n, scope = target.n, None
    elif isinstance(target, Vector):
        if len(target) != 2:
            raise error(CAST, "call target vector must have length 2")
        a = target[0]
        if type(a) is not Address:
            raise error(CAST, "call target vector must start with an Address")
        n, scope = a.n, target[1]
    else:
        raise error(CAST, "call target must be an Address or [Address *scope*] vector")
    state = ctx.state
    acct = state.account(n)
    if acct is None:
        raise error(NOBODY, f"Call target Account does not exist: {value_text(target)}")
    if offer > 0:   # taken first, so it cannot be spent twice
        me = state.account(ctx.address)
        if me.balance < offer:
            raise error(FUNDS, f"Insufficient funds for offer: {offer} trying to call Actor "
                               f"{value_text(target)} function ({sym.name} ...)")
        state = state.put_account(ctx.address, me.with_balance(me.balance - offer))
    elif offer < 0:
        raise error(ARGUMENT, f"Cannot make negative offer in Actor call: {offer}")
    fn = callable_function(acct, sym)
    if fn is None:
        if not acct.environment.contains(sym):
            raise error(STATE, f"Account {address_text(n)} does not define Symbol: {sym.name}")
        raise error(STATE, f"Value defined in account {address_text(n)} is not a callable "
                           f"function: {sym.name}")
    saved = _switch(ctx, state, n, ctx.address, offer, scope)

    def run() -> Any:
        try:
            return invoke(ctx, fn, list(args), d + 1)
        except ErrorValue as e:
            e.add_trace(f"Calling Actor {value_text(target)} with function ({sym.name} ...)")
            raise
    return _boundary(ctx, saved, run)


def deploy(ctx: Context, codes: list, d: int) -> Address:
    """Create a new actor account and run each form of `codes` in it (Context.deploy)."""
    state0 = ctx.state
    n = len(state0.accounts)
    saved = _switch(ctx, state0.put_account(n, Account()), n, ctx.address, 0, None)

    def run() -> Any:
        for code in codes:
            eval_form(ctx, code, d + 1)
        return None
    _boundary(ctx, saved, run)
    ctx.charge(J.DEPLOY_CONTRACT)
    return Address(n)


def eval_as(ctx: Context, target: int, form: Any, d: int) -> Any:
    """Evaluate `form` as account `target`, which the current account must control."""
    caller = ctx.address
    acct = ctx.state.account(target)
    if acct is None:
        raise error(NOBODY, f"Account does not exist: {address_text(target)}")
    controller = acct.controller
    if caller == target:
        pass
    elif controller is None:
        raise error(TRUST, "Cannot control address with nil controller set: "
                           f"{address_text(target)}")
    elif type(controller) is Address and controller.n == caller:
        pass
    else:   # ask the controller as a trust monitor
        monitor = callable_address(controller)
        if monitor is None:
            raise error(TRUST, "Cannot control address because controller is not a valid "
                               "address or scoped actor")
        if ctx.state.account(monitor.n) is None:
            raise error(TRUST, "Cannot control address because controller does not exist: "
                               f"{value_text(controller)}")
        try:
            ok = actor_call(ctx, controller, 0, CHECK_TRUSTED,
                            [Address(caller), CONTROL, Address(target)], d)
        except ErrorValue:
            raise error(TRUST, "Failure trying to obtain :control rights") from None
        if ok is None or ok is False:
            raise error(TRUST, f"Cannot control address: {address_text(target)}")
    saved = _switch(ctx, ctx.state, target, caller, 0, None)
    return _boundary(ctx, saved, lambda: eval_form(ctx, form, d + 1))


def query_as(ctx: Context, target: int, form: Any, d: int) -> Any:
    """Evaluate `form` as account `target`, then discard every state change."""
    if ctx.state.account(target) is None:
        raise error(NOBODY, f"Address does not exist: {address_text(target)}")
    saved = _switch(ctx, ctx.state, target, ctx.address, 0, None)
    return _boundary(ctx, saved, lambda: eval_form(ctx, form, d), rollback=True)


__all__ = ["actor_call", "deploy", "eval_as", "query_as", "callable_function",
           "callable_address", "address_text", "value_text"]
