"""Peers and stake: create-peer, set-peer-stake, set-stake (delegated stake), set-peer-data,
evict-peer, and reading stakes with get-stake and get-peer-stake. Peer records live in the state's :peers Index under their 32-byte key.

Coins staked move between the staker's balance and the peer record's balance, so the total
of all funds never changes. When a function has nothing to do it leaves the result as the
reference does: the value of its last argument.
"""
from __future__ import annotations

from typing import Any

from kernel.cvm import juice as J
from kernel.cvm.context import Context
from kernel.cvm.errors import ARGUMENT, FUNDS, STATE, arg_cast_error, error
from kernel.data.hashmaps import Map
from kernel.data.scalars import Address
from kernel.state.state import MAX_SUPPLY, MINIMUM_EFFECTIVE_STAKE, PeerStatus
from kernel.core.accounts import ensure_blob, long_arg
from kernel.cvm.registry import core


def _key_arg(args: list, i: int) -> Any:
    """A peer key argument, as the reference checks it (Core.CREATE_PEER ...): not a blob is
    :CAST, a blob of the wrong length :ARGUMENT."""
    b = ensure_blob(args[i])
    if b is None:
        raise arg_cast_error(i, args[i], "Blob")
    if len(b) != 32:
        raise error(ARGUMENT, "Peer Key must be 32 bytes")
    return b


def _hex(k: Any) -> str:
    return "0x" + k.data.hex()


def _balance(ctx: Context, n: int) -> int:
    a = ctx.state.account(n)
    return 0 if a is None else a.balance


def create_peer(ctx: Context, key: Any, stake: int, last: Any) -> Any:
    state = ctx.state
    if state.peer(key) is not None:
        raise error(STATE, f"Peer already exists for this account key: {_hex(key)}")
    if stake == 0:
        raise error(ARGUMENT, "Cannot create a peer with zero stake")
    if not 0 <= stake <= MAX_SUPPLY:
        raise error(ARGUMENT, f"Target stake out of valid Amount range: {stake}")
    me = ctx.address
    balance = _balance(ctx, me)
    if stake > balance:
        raise error(FUNDS, f"Insufficient balance ({balance}) to assign an initial stake of "
                           f"{stake}")
    state = state.with_balance(me, balance - stake)
    ctx.set_state(state.with_peer(key, PeerStatus.create(Address(me), stake)))
    return last


def _stakeable_peer(state: Any, key: Any, new_stake: int) -> Any:
    """The peer's status, after checking it exists and the new stake is a valid amount."""
    ps = state.peer(key)
    if ps is None:
        raise error(STATE, f"Peer does not exist for account key: {_hex(key)}")
    if new_stake < 0:
        raise error(ARGUMENT, "Cannot set a negative stake")
    if new_stake > MAX_SUPPLY:
        raise error(ARGUMENT, "Target stake out of valid Amount range")
    return ps


def set_peer_stake(ctx: Context, key: Any, controller: int, new_stake: int, last: Any) -> Any:
    state = ctx.state
    ps = _stakeable_peer(state, key, new_stake)
    if ps.controller.n != controller:
        raise error(STATE, f"Address #{controller} is not the controller of this peer account")
    balance = _balance(ctx, controller)
    delta = new_stake - ps.peer_stake
    if delta == 0:
        return last
    if delta > balance:
        raise error(FUNDS, f"Insufficient balance ({balance}) to increase Peer Stake to "
                           f"{new_stake}")
    state = state.with_balance(controller, balance - delta)
    ctx.set_state(state.with_peer(key, ps.with_peer_stake(new_stake)))
    return delta


def set_delegated_stake(ctx: Context, key: Any, staker: int, new_stake: int, last: Any) -> Any:
    state = ctx.state
    ps = _stakeable_peer(state, key, new_stake)
    balance = _balance(ctx, staker)
    delta = new_stake - ps.delegated_stake_of(Address(staker))
    if delta == 0:
        return last
    if delta > balance:
        raise error(FUNDS, f"Insufficient balance ({balance}) to increase Delegated Stake to "
                           f"{new_stake}")
    state = state.with_balance(staker, balance - delta)
    ctx.set_state(state.with_peer(key, ps.with_delegated_stake(Address(staker), new_stake)))
    return delta


def evict_peer(ctx: Context, key: Any, last: Any) -> Any:
    peers = ctx.state.peers
    ps = peers.get(key)
    if ps is None:
        return last
    controller = ps.controller.n
    if ctx.address != controller and ps.peer_stake >= MINIMUM_EFFECTIVE_STAKE:
        raise error(STATE, "Peer has too much stake to be evicted")
    if len(peers) == 1:
        raise error(STATE, "Cannot evict last peer")
    result = last
    for staker, _shares in ps.stakes.items():     # refund delegators first
        ctx.limit += J.TRANSFER
        ctx.charge(J.TRANSFER)
        result = set_delegated_stake(ctx, key, staker.n, 0, result)
    result = set_peer_stake(ctx, key, controller, 0, result)
    state = ctx.state
    ctx.set_state(state.with_peers(state.peers.dissoc(key)))
    return result


@core("create-peer", 65, arity=2, doc={
    "description": "Creates a peer record for a peer key, controlled by the current account, "
                   "staking the given coins from its balance.",
    "signature": ["[peer-key stake]"],
    "examples": [{"code": "(create-peer 0x42ae93b185bd2ba64fd9b0304fec81a4d4809221a5b68de4da041b48c85bcc2e 1000000)"}],
    "errors": {"CAST": "if the key is not a blob or the stake not a Long",
               "STATE": "if a peer already exists for the key",
               "ARGUMENT": "if the key is not 32 bytes, or the stake is zero or out of range",
               "FUNDS": "if the balance is too small"}})
def _create_peer(ctx, args, d):
    key = _key_arg(args, 0)
    stake = long_arg(args, 1)
    r = create_peer(ctx, key, stake, args[-1])
    ctx.charge(J.PEER_UPDATE)
    return r


@core("set-peer-data", 66, arity=2, doc={
    "description": "Sets the metadata map (e.g. {:url \"host:port\"}) of the peer whose key "
                   "is the current account's key; the current account must control it.",
    "signature": ["[peer-key data]"],
    "examples": [{"code": "(set-peer-data peer-key {:url \"peer.example.com:18888\"})"}],
    "errors": {"CAST": "if the key is not a blob or the data not a map",
               "ARGUMENT": "if the key is not 32 bytes",
               "STATE": "if the account has no key, no peer has it, or the account does "
                        "not control the peer"}})
def _set_peer_data(ctx, args, d):
    _key_arg(args, 0)
    data = args[1]
    if data is None:
        data = Map.EMPTY
    elif type(data) is not Map:
        raise arg_cast_error(1, data, "Map")
    ctx.charge(J.PEER_UPDATE)
    me = ctx.address
    acct = ctx.account()
    key = acct.key
    if key is None:
        raise error(STATE, "The account signing this transaction must have a public key")
    state = ctx.state
    ps = state.peer(key)
    if ps is None:
        raise error(STATE, f"Peer does not exist for this account and account key: {_hex(key)}")
    if ps.controller.n != me:
        raise error(STATE, f"Current address #{me} is not the controller of this peer account")
    new = state.with_peer(key, ps.with_metadata(data))
    if new.value_id() != state.value_id():
        ctx.set_state(new)
    return args[-1]


@core("set-peer-stake", 67, arity=2, doc={
    "description": "Sets the peer's own stake, moving coins between the current account (its "
                   "controller) and the peer. Returns the change in stake.",
    "signature": ["[peer-key stake]"],
    "examples": [{"code": "(set-peer-stake peer-key 2000000)"}],
    "errors": {"CAST": "if the key is not a blob or the stake not a Long",
               "STATE": "if there is no such peer or the current account does not control it",
               "ARGUMENT": "if the key is not 32 bytes, or the stake is negative or out of "
                           "range",
               "FUNDS": "if the balance is too small"}})
def _set_peer_stake(ctx, args, d):
    key = _key_arg(args, 0)
    stake = long_arg(args, 1)
    ctx.charge(J.PEER_UPDATE)
    return set_peer_stake(ctx, key, ctx.address, stake, args[-1])


@core("set-stake", 64, arity=2, doc={
    "description": "Sets the current account's delegated stake on a peer, moving coins "
                   "between its balance and the peer. Returns the change in stake.",
    "signature": ["[peer-key stake]"],
    "examples": [{"code": "(set-stake peer-key 1000000)"}],
    "errors": {"CAST": "if the key is not a blob or the stake not a Long",
               "ARGUMENT": "if the key is not 32 bytes, or the stake is negative or out of "
                           "range",
               "STATE": "if there is no such peer",
               "FUNDS": "if the balance is too small"}})
def _set_stake(ctx, args, d):
    b = ensure_blob(args[0])
    if b is None:
        raise arg_cast_error(0, args[0], "Blob")
    if len(b) != 32:
        raise error(ARGUMENT, "Account Key for stake must be 32 bytes")
    stake = long_arg(args, 1)
    r = set_delegated_stake(ctx, b, ctx.address, stake, args[-1])
    ctx.charge(J.TRANSFER)
    return r


@core("evict-peer", 68, arity=1, doc={
    "description": "Removes a peer, refunding its delegated stakes and then its own stake to "
                   "their owners. Its controller may always evict it; anyone may evict a peer "
                   "whose own stake has fallen below the minimum effective stake. Returns the "
                   "change in the controller's stake.",
    "signature": ["[peer-key]"],
    "examples": [{"code": "(evict-peer peer-key)"}],
    "errors": {"CAST": "if the key is not a blob",
               "ARGUMENT": "if the key is not 32 bytes",
               "STATE": "if the peer has too much stake to be evicted by the current "
                        "account, or it is the last peer"}})
def _evict_peer(ctx, args, d):
    key = _key_arg(args, 0)
    ctx.charge(J.PEER_UPDATE)
    return evict_peer(ctx, key, args[-1])


@core("get-stake", 69, arity=2, doc={
    "description": "The stake an account has delegated to a peer: 0 if none, nil if no peer "
                   "has this key.",
    "signature": ["[peer-key address]"],
    "examples": [{"code": "(get-stake (first (keys (:peers *state*))) *address*)", "result": "0"}],
    "errors": {"CAST": "if the key is not a blob or the address not an address",
               "ARGUMENT": "if the key is not 32 bytes"}})
def _get_stake(ctx, args, d):
    key = _key_arg(args, 0)
    a = args[1]
    if type(a) is not Address:
        raise arg_cast_error(1, a, "Address")
    ps = ctx.state.peer(key)
    ctx.charge(J.LOOKUP)
    return None if ps is None else ps.delegated_stake_of(a)


@core("get-peer-stake", 70, arity=1, doc={
    "description": "The stake a peer has put up itself, or nil if no peer has this key.",
    "signature": ["[peer-key]"],
    "examples": [{"code": "(int? (get-peer-stake (first (keys (:peers *state*)))))",
                  "result": "true"}],
    "errors": {"CAST": "if the key is not a blob",
               "ARGUMENT": "if the key is not 32 bytes"}})
def _get_peer_stake(ctx, args, d):
    key = _key_arg(args, 0)
    ps = ctx.state.peer(key)
    ctx.charge(J.LOOKUP)
    return None if ps is None else ps.peer_stake


__all__ = ["create_peer", "set_peer_stake", "set_delegated_stake", "evict_peer"]
