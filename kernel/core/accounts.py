"""Account core functions (balances, transfers, memory allowance, offers, actor calls, deploy,
eval-as, query-as, scheduling, undef*, the log, holdings, controller, parent, key) and the coin
and memory operations behind them, with the argument helpers (the reference's RT.ensure* rules)
other core functions share.

Running code as another account (the boundary rules) is kernel.core.actors; the core functions
doing it stay registered here so that the registry's order, from which genesis builds the core
environment, is unchanged.
"""
from __future__ import annotations

from typing import Any, Optional

from kernel.cvm import juice as J
from kernel.data.blobs import Blob
from kernel.cvm.context import Context
from kernel.cvm.errors import (ARGUMENT, CAST, FUNDS, MEMORY, NOBODY, STATE, ErrorValue,
                               arg_cast_error, error)
from kernel.cvm.ops import Op
from kernel.data.scalars import Address, Symbol
from kernel.state.state import MAX_SUPPLY, Account
from kernel.data.syntax import Syntax
from kernel.data.vectors import Vector
from kernel.core.actors import (actor_call, address_text, callable_address, callable_function,
                                deploy, eval_as, query_as, value_text)
from kernel.cvm.registry import core

LONG_MIN, LONG_MAX = -(1 << 63), (1 << 63) - 1
RECEIVE_COIN = Symbol("receive-coin")


# ------------------------------------------------------------------------------------------------
# Argument helpers (the reference's RT.ensure* rules)
# ------------------------------------------------------------------------------------------------

def ensure_long(v: Any) -> Optional[int]:
    return v if type(v) is int and LONG_MIN <= v <= LONG_MAX else None


def address_arg(args: list, i: int) -> int:
    """Argument i as an account number; :CAST unless it is an Address."""
    a = args[i]
    if type(a) is not Address:
        raise arg_cast_error(i, a, "Address")
    return a.n


def long_arg(args: list, i: int) -> int:
    v = ensure_long(args[i])
    if v is None:
        raise arg_cast_error(i, args[i], "Long")
    return v


def ensure_blob(v: Any) -> Optional[Blob]:
    return v if type(v) is Blob else None


def ensure_account_key(v: Any) -> Optional[Blob]:
    """A 32-byte blob (an account key), else None."""
    return v if type(v) is Blob and len(v) == 32 else None


# ------------------------------------------------------------------------------------------------
# Coins and memory
# ------------------------------------------------------------------------------------------------

def transfer(ctx: Context, target: int, amount: int, d: int) -> int:
    """Send coins from the current account (Context.transfer). An actor other than #0 gets
    them through its `receive-coin` function, which must accept them; the result is what was
    actually sent."""
    if amount < 0:
        raise error(ARGUMENT, "Can't transfer a negative amount")
    if amount > MAX_SUPPLY:
        raise error(ARGUMENT, "Can't transfer an amount beyond maximum limit")
    state = ctx.state
    src = ctx.address
    sa = state.account(src)
    balance = sa.balance
    if balance < amount:
        raise error(FUNDS, f"Insufficient funds in account {address_text(src)} to transfer "
                           f"{amount}")
    ta = state.account(target)
    if ta is None:
        raise error(NOBODY, f"Target account for transfer {address_text(target)} does not exist")
    if ta.is_actor and target != 0:
        actor_call(ctx, Address(target), amount, RECEIVE_COIN, [Address(src), amount, None], d)
        return balance - ctx.state.account(src).balance
    state = state.put_account(src, sa.with_balance(balance - amount))
    ta = state.account(target)      # may be the source itself
    ctx.set_state(state.put_account(target, ta.with_balance(ta.balance + amount)))
    return amount


def swap_price(delta: int, a: int, b: int) -> int:
    """Coins (asset B) to pay for `delta` units of asset A from a constant-product pool of a
    units of A and b of B (negative delta sells, giving a negative price). Raises ValueError
    for an impossible trade."""
    if a <= 0 or b <= 0:
        raise ValueError("Pool quantities must be positive")
    if delta >= a:
        raise ValueError("Trying to buy entire pool!")
    new_a = a - delta
    if new_a > LONG_MAX:
        raise ValueError("Trying to sell beyond maximum pool size!")
    new_b = (a * b) // new_a
    if new_b > LONG_MAX:
        return LONG_MAX if delta > 0 else LONG_MIN
    return new_b - b + 1


def set_memory(ctx: Context, allowance: int) -> int:
    """Buy or sell memory allowance at the pool price so the allowance becomes `allowance`;
    the price paid (negative when selling)."""
    if allowance < 0:
        raise error(ARGUMENT, "Can't set a negative allowance")
    state = ctx.state
    n = ctx.address
    acct = state.account(n)
    delta = allowance - acct.memory
    if delta == 0:
        return 0
    pool, value = state.memory_pool, state.memory_value
    try:
        price = swap_price(delta, pool, value)
    except ValueError as e:
        raise error(FUNDS, f"Cannot trade allowance: {e}") from None
    if price > acct.balance:
        raise error(FUNDS, f"Cannot afford allowance, would cost: {price}")
    acct = acct.with_(balance=acct.balance - price, memory=allowance)
    state = state.with_memory_pool(value + price, pool - delta)
    ctx.set_state(state.put_account(n, acct))
    ctx.charge(J.MEMORY_TRADE)
    return price


def transfer_memory(ctx: Context, target: int, amount: int) -> int:
    if amount < 0:
        raise error(ARGUMENT, "Can't transfer a negative allowance amount")
    if amount > MAX_SUPPLY:
        raise error(ARGUMENT, "Can't transfer an allowance amount beyond maximum limit")
    state = ctx.state
    src = ctx.address
    sa = state.account(src)
    if sa.memory < amount:
        raise error(MEMORY, "Insufficient memory allowance for transfer")
    state = state.put_account(src, sa.with_memory(sa.memory - amount))
    ta = state.account(target)
    if ta is None:
        raise error(NOBODY, "Cannot transfer memory allowance to non-existent account: "
                            f"{address_text(target)}")
    ctx.set_state(state.put_account(target, ta.with_memory(ta.memory + amount)))
    return amount


def accept(ctx: Context, amount: int) -> int:
    if amount < 0:
        raise error(ARGUMENT, "Negative accept argument")
    if amount == 0:
        ctx.charge(J.ACCEPT)
        return 0
    if amount > ctx.offer:
        raise error(STATE, "Insufficient offered funds")
    n = ctx.address
    acct = ctx.state.account(n)
    ctx.set_state(ctx.state.put_account(n, acct.with_balance(acct.balance + amount)))
    ctx.offer -= amount
    ctx.charge(J.ACCEPT)
    return amount


def _set_own(ctx: Context, acct: Account) -> None:
    ctx.set_state(ctx.state.put_account(ctx.address, acct))


# ------------------------------------------------------------------------------------------------
# Core functions
# ------------------------------------------------------------------------------------------------

@core("account", 36, arity=1, doc={
    "description": "The account record of an address: sequence, key, balance, memory "
                   "allowance, holdings, controller, environment, metadata and parent. Nil if "
                   "there is no such account.",
    "signature": ["[address]"],
    "examples": [{"code": "(:balance (account *address*))"},
                 {"code": "(account #99999999)", "result": "nil"}],
    "errors": {"CAST": "if the argument is not an address"}})
def _account(ctx, args, d):
    n = address_arg(args, 0)
    ctx.charge(J.SIMPLE_FN)
    return ctx.state.account(n)


@core("balance", 37, arity=1, doc={
    "description": "The coin balance of an account, or nil if there is no such account.",
    "signature": ["[address]"],
    "examples": [{"code": "(balance *address*)"}, {"code": "(balance #99999999)", "result": "nil"}],
    "errors": {"CAST": "if the argument is not an address"}})
def _balance(ctx, args, d):
    n = address_arg(args, 0)
    acct = ctx.state.account(n)
    ctx.charge(J.BALANCE)
    return None if acct is None else acct.balance


@core("transfer", 38, arity=2, doc={
    "description": "Sends coins from the current account to another. An actor receives them "
                   "through its callable `receive-coin` function, which must `accept` them; "
                   "#0 burns them. Returns the amount sent.",
    "signature": ["[address amount]"],
    "examples": [{"code": "(transfer *address* 100)", "result": "100"}],
    "errors": {"CAST": "if the target is not an address or the amount not a Long",
               "ARGUMENT": "if the amount is negative or above the coin supply",
               "FUNDS": "if the balance is too small",
               "NOBODY": "if there is no such account",
               "STATE": "if an actor target has no callable receive-coin"}})
def _transfer(ctx, args, d):
    n = address_arg(args, 0)
    amount = long_arg(args, 1)
    r = transfer(ctx, n, amount, d)
    ctx.charge(J.TRANSFER)
    return r


@core("set-memory", 39, arity=1, doc={
    "description": "Buys or sells memory allowance from the memory pool so that the current "
                   "account's allowance becomes the given number of bytes. Returns the price "
                   "paid in coins (negative when allowance was sold).",
    "signature": ["[allowance]"],
    "examples": [{"code": "(set-memory *memory*)", "result": "0"}],
    "errors": {"CAST": "if the allowance is not a Long",
               "ARGUMENT": "if the allowance is negative",
               "FUNDS": "if the account cannot pay, or the pool cannot supply it"}})
def _set_memory(ctx, args, d):
    r = set_memory(ctx, long_arg(args, 0))
    ctx.charge(J.TRANSFER)
    return r


@core("transfer-memory", 40, arity=2, doc={
    "description": "Gives bytes of the current account's memory allowance to another "
                   "account. Returns the amount given.",
    "signature": ["[address amount]"],
    "examples": [{"code": "(transfer-memory *address* 10)", "result": "10"}],
    "errors": {"CAST": "if the target is not an address or the amount not a Long",
               "ARGUMENT": "if the amount is negative",
               "MEMORY": "if the allowance is too small",
               "NOBODY": "if there is no such account"}})
def _transfer_memory(ctx, args, d):
    n = address_arg(args, 0)
    r = transfer_memory(ctx, n, long_arg(args, 1))
    ctx.charge(J.TRANSFER)
    return r


@core("accept", 385, arity=1, doc={
    "description": "Inside an actor call, takes coins offered by the caller (up to *offer*) "
                   "into the actor's balance. Returns the amount accepted.",
    "signature": ["[amount]"],
    "examples": [{"code": "(accept *offer*)", "result": "0"}],
    "errors": {"CAST": "if the amount is not a Long",
               "ARGUMENT": "if the amount is negative",
               "STATE": "if more than the remaining offer is accepted"}})
def _accept(ctx, args, d):
    return accept(ctx, long_arg(args, 0))


@core("call*", 386, arity=(3, None), doc={
    "description": "Calls the callable function `f` of an actor, offering it `offer` coins: "
                   "what `call` expands to. The target may be an address or a scoped "
                   "reference [address scope], which sets *scope* in the call.",
    "signature": ["[target offer f & args]"],
    "examples": [{"code": "(call* some-actor 0 'get-value)"}],
    "errors": {"CAST": "if the offer is not a Long, f not a symbol or the target not an "
                       "address or [address scope]",
               "NOBODY": "if the actor does not exist",
               "ARGUMENT": "if the offer is negative",
               "FUNDS": "if the offer is more than the balance",
               "STATE": "if f is not a callable function of the actor"}})
def _call_star(ctx, args, d):
    ctx.charge(J.CALL_OP)
    offer = long_arg(args, 1)
    sym = args[2]
    if type(sym) is not Symbol:
        raise arg_cast_error(2, sym, "Symbol")
    return actor_call(ctx, args[0], offer, sym, args[3:], d)


@core("deploy", 387, arity=(1, None), doc={
    "description": "Creates a new actor account and evaluates each code form in it, in order. "
                   "Returns the new actor's address; the deployer is *caller* during setup.",
    "signature": ["[& codes]"],
    "examples": [{"code": "(deploy '(defn ping ^:callable [] :pong))"}],
    "errors": {"*": "any error raised by the code, which undoes the deployment"}})
def _deploy(ctx, args, d):
    return deploy(ctx, list(args), d)


@core("callable?", 30, arity=(1, 2), doc={
    "description": "With one argument, true if it is a call target (an address or "
                   "[address scope]) of an account that exists. With a symbol, true if the "
                   "target account exists and defines it as a ^:callable function.",
    "signature": ["[target]", "[target sym]"],
    "examples": [{"code": "(callable? #8)", "result": "true"},
                 {"code": "(callable? #8 'count)", "result": "false"}],
    "errors": {"CAST": "if sym is not a symbol"}})
def _callable_q(ctx, args, d):
    if len(args) == 1:     # as the reference: the account must exist too
        a = callable_address(args[0])
        ctx.charge(J.LOOKUP)
        return a is not None and ctx.state.account(a.n) is not None
    sym = args[1]
    if type(sym) is not Symbol:
        raise arg_cast_error(1, sym, "Symbol")
    a = callable_address(args[0])
    acct = None if a is None else ctx.state.account(a.n)
    ctx.charge(J.LOOKUP)
    return acct is not None and callable_function(acct, sym) is not None


@core("eval-as", 18, arity=2, doc={
    "description": "Evaluates a form as another account, which must be the current account "
                   "or one it controls (directly or through a trust monitor controller).",
    "signature": ["[address form]"],
    "examples": [{"code": "(eval-as *address* '(+ 1 2))", "result": "3"}],
    "errors": {"CAST": "if the address is not an Address",
               "NOBODY": "if there is no such account",
               "TRUST": "if the current account does not control it"}})
def _eval_as(ctx, args, d):
    n = address_arg(args, 0)
    r = eval_as(ctx, n, args[1], d)
    ctx.charge(J.EVAL)
    return r


@core("query-as", 19, arity=2, doc={
    "description": "Evaluates a form as any account, then discards all its state changes; "
                   "returns the value. *caller* is the current account.",
    "signature": ["[address form]"],
    "examples": [{"code": "(query-as #8 '*address*)", "result": "#8"}],
    "errors": {"CAST": "if the address is not an Address",
               "NOBODY": "if there is no such account"}})
def _query_as(ctx, args, d):
    n = address_arg(args, 0)
    r = query_as(ctx, n, args[1], d)
    ctx.charge(J.EVAL)
    return r


@core("schedule*", 20, arity=2, doc={
    "description": "Schedules a compiled op to run in the current account at a timestamp "
                   "(now if it is in the past); what `schedule` expands to. Costs juice for "
                   "the delay. Returns the timestamp scheduled.",
    "signature": ["[timestamp op]"],
    "examples": [{"code": "(schedule* (+ *timestamp* 1000) (compile '(def done true)))"}],
    "errors": {"CAST": "if the timestamp is not a Long or the code not an op"}})
def _schedule_star(ctx, args, d):
    time = long_arg(args, 0)
    op = args[1]
    if not isinstance(op, Op):
        raise arg_cast_error(1, op, "Op")
    state = ctx.state
    now = state.timestamp
    if now < 0:
        raise error(STATE)
    if time < now:
        time = now
    juice = (time - now) // J.SCHEDULE_MILLIS_PER_JUICE_UNIT
    ctx.check_juice(juice)
    ctx.set_state(state.schedule_op(time, Address(ctx.address), op))
    ctx.charge(juice)
    return time


@core("undef*", 31, arity=1, doc={
    "description": "Removes a symbol's definition (and metadata) from the current account; "
                   "what `undef` expands to. Returns nil.",
    "signature": ["[sym]"],
    "examples": [{"code": "(undef* 'tmp)", "result": "nil"}],
    "errors": {"ARGUMENT": "if the argument is not a symbol"}})
def _undef_star(ctx, args, d):
    sym = args[0]
    if type(sym) is Syntax:
        sym = sym.datum
    if type(sym) is not Symbol:
        raise error(ARGUMENT, f"Invalid Symbol name for undef: {value_text(args[0])}")
    ctx.undefine(sym)
    ctx.charge(J.DEF)
    return None


@core("log", 384, doc={
    "description": "Adds an entry for the current account and *scope* with the given values "
                   "to the transaction's event log (kept only if the transaction succeeds). "
                   "Returns the values as a vector.",
    "signature": ["[& values]"],
    "examples": [{"code": "(log :TRANSFER *address* 100)", "result": "[:TRANSFER #13 100]"}]})
def _log(ctx, args, d):
    juice = J.LOG + J.BUILD_DATA + len(args) * J.BUILD_PER_ELEMENT
    ctx.check_juice(juice)
    values = Vector.from_seq(args)
    entry = Vector.of(Address(ctx.address), ctx.scope, None, values)
    ctx.log = Vector.of(entry) if ctx.log is None else ctx.log.conj(entry)
    ctx.charge(juice)
    return values


@core("get-holding", 96, arity=1, doc={
    "description": "The holding the current account has recorded on another account (see "
                   "`set-holding`), or nil.",
    "signature": ["[address]"],
    "examples": [{"code": "(get-holding *address*)", "result": "nil"}],
    "errors": {"CAST": "if the argument is not an address"}})
def _get_holding(ctx, args, d):
    n = address_arg(args, 0)
    acct = ctx.state.account(n)
    ctx.charge(J.LOOKUP)
    if acct is None:
        return None
    return acct.holdings.get(Address(ctx.address))


@core("set-holding", 97, arity=2, doc={
    "description": "Records a value in another account's holdings under the current "
                   "account's address (nil removes it). Typically used by token actors for "
                   "balances. Returns the value.",
    "signature": ["[address value]"],
    "examples": [{"code": "(set-holding *address* 100)", "result": "100"}],
    "errors": {"CAST": "if the first argument is not an address",
               "NOBODY": "if there is no such account"}})
def _set_holding(ctx, args, d):
    n = address_arg(args, 0)
    value = args[1]
    acct = ctx.state.account(n)
    if acct is None:
        raise error(NOBODY, f"No account for holding: {address_text(n)}")
    ctx.set_state(ctx.state.put_account(n, acct.with_holding(Address(ctx.address), value)))
    ctx.charge(J.ASSOC)
    return value


@core("set-controller", 98, arity=1, doc={
    "description": "Sets the controller of the current account: an address or a scoped trust "
                   "monitor [address scope] that may act as this account (e.g. with "
                   "`eval-as`), or nil for none. Returns the new controller.",
    "signature": ["[controller]"],
    "examples": [{"code": "(set-controller nil)", "result": "nil"}],
    "errors": {"CAST": "if the controller is not an address, [address scope] or nil",
               "NOBODY": "if the controller account does not exist"}})
def _set_controller(ctx, args, d):
    arg = args[0]
    if arg is not None:
        a = callable_address(arg)
        if a is None:
            raise error(CAST, "set-controller requires an Address or scoped Actor")
        if ctx.state.account(a.n) is None:
            raise error(NOBODY, "set-controller requires an address for an existing account")
    _set_own(ctx, ctx.account().with_(controller=arg))
    ctx.charge(J.ASSOC)
    return arg


@core("set-parent", 99, arity=1, doc={
    "description": "Sets the parent of the current account: symbols not defined here are "
                   "looked up in the parent (then its parent, up to the core). Nil resets it. "
                   "Returns the new parent.",
    "signature": ["[address]"],
    "examples": [{"code": "(set-parent nil)", "result": "nil"}],
    "errors": {"CAST": "if the argument is not an address or nil",
               "NOBODY": "if the account does not exist",
               "ARGUMENT": "if it is the current account itself"}})
def _set_parent(ctx, args, d):
    arg = args[0]
    if arg is not None:
        if type(arg) is not Address:
            raise error(CAST, "set-parent requires an Address or nil")
        if ctx.state.account(arg.n) is None:
            raise error(NOBODY, "set-parent requires an address for an existing account")
        if arg.n == ctx.address:
            raise error(ARGUMENT, "Can't set parent of account to itself!")
    _set_own(ctx, ctx.account().with_(parent=arg))
    ctx.charge(J.ASSOC)
    return arg


@core("set-key", 100, arity=1, doc={
    "description": "Sets the public key of the current account (a 32-byte blob), or nil to "
                   "make it an actor that accepts no transactions. Returns the key.",
    "signature": ["[key]"],
    "examples": [{"code": "(set-key *key*)"}],
    "errors": {"CAST": "if the key is not a blob or nil",
               "ARGUMENT": "if the blob is not 32 bytes long"}})
def _set_key(ctx, args, d):
    arg = args[0]
    key = None
    if arg is not None:
        b = ensure_blob(arg)
        if b is None:
            raise cast_value(arg, "Blob")
        if len(b) != 32:
            raise error(ARGUMENT, "Invalid key length")
        key = b
    _set_own(ctx, ctx.account().with_(key=key))
    ctx.charge(J.ASSOC)
    return key


def cast_value(v: Any, type_name_: str) -> ErrorValue:
    from kernel.cvm.types import type_name
    return error(CAST, f"Can't convert value of type {type_name(v)} to type {type_name_}")


__all__ = ["transfer", "accept", "set_memory", "transfer_memory", "ensure_account_key",
           "swap_price"]
