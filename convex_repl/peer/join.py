"""Joining a running network: fetch the consensus state from one of its peers and check it
before a new peer (ClusterPeer with its own key) starts from it.

    joined = fetch_consensus(("127.0.0.1", 18888), key)     # raises JoinError
    peer = ClusterPeer(None, None, key=key, joined=joined, ...)
    peer.start_network([("127.0.0.1", 18888)])

What is checked, over the peer protocol:

1. the peer's STATUS names its network (genesis hash), its key, its consensus point (the
   blocks it finalised) and the hash of its consensus state and of its belief;
2. it proves its key with a CHALLENGE in the context of that network;
3. the state and the belief are fetched with DATA_REQUEST and must hash to what STATUS said;
   the state must say it is after `point` blocks (its block number is point - 1);
4. the key of the peer is staked in that state, and the belief holds orders, signed by
   their peers (signatures checked), from peers holding more than 2/3 of the stake in that
   state, whose finality points reach the consensus point and whose first `point` blocks
   are the same as the serving peer's: more than 2/3 of the stake finalised exactly those
   blocks.

What is not checked: that the state is what those blocks produce from genesis (that takes
replaying every block, which is what joining from a state avoids), and the stakes in (4)
come from the state being checked. As the reference's peers do when they join through a
source peer, the joining peer trusts the peer it joins through for that; every block after
the point it executes itself, and a peer whose state was wrong would soon see its state hash
differ from the others' at the same consensus point (STATUS shows both).
"""
from __future__ import annotations

from typing import Any, NamedTuple

from kernel.consensus.cpos import merge_beliefs, signed_orders, stakes_of
from kernel.data.blobs import Blob
from kernel.data.vectors import Vector
from kernel.state.transactions import verify

from convex_repl.peer.protocol import Client, missing_cells


class JoinError(Exception):
    """The peer to join through did not give a consensus state that passes the checks."""


class Joined(NamedTuple):
    state: Any                 # the consensus state
    point: int                 # the number of blocks it is after (the consensus point)
    genesis_hash: bytes        # the network's ID
    via: bytes                 # the key of the peer it came from
    agreed: int                # the stake whose orders finalised the same blocks
    total: int                 # the stake in the state
    block: Any = None          # the signed block the state is after (None at genesis)


def _fetch(c: Client, h: bytes, what: str) -> Any:
    r = c.data(h)
    if r.error is not None or not isinstance(r.value, Vector) or len(r.value) != 1:
        raise JoinError(f"the peer did not send its {what} ({r.error})")
    v = r.value[0]
    if v is None or missing_cells(v) != [] or v.value_id() != h:
        raise JoinError(f"the {what} the peer sent is incomplete or not the one it named")
    return v


def fetch_consensus(address: tuple, key: Any, timeout: float = 30.0,
                    attempts: int = 5) -> Joined:
    """The consensus state of the peer at `address`, checked as the module doc says; `key`
    (a nacl SigningKey, the joining peer's) signs the challenge. A peer between two points
    (its state not yet at its consensus point) is asked again, `attempts` times in all."""
    import time
    # the blocks it will execute need the core functions and the Convex Lisp compiler, which
    # register as the standard genesis state is built (a cluster peer builds it to make its
    # own genesis; a joining peer only needs what building it loads)
    from stdlib.genesis import genesis_state
    genesis_state()
    for i in range(attempts):
        try:
            return _fetch_once(address, key, timeout)
        except JoinError:
            if i == attempts - 1:
                raise
            time.sleep(0.3)
    raise JoinError("no attempts")


def _fetch_once(address: tuple, key: Any, timeout: float) -> Joined:
    try:
        c = Client(address, key, timeout)
    except OSError as e:
        raise JoinError(f"can't connect to {address[0]}:{address[1]}: {e}") from None
    with c:
        st = c.status()
        v = st.value
        if st.error is not None or not isinstance(v, Vector) or len(v) < 6:
            raise JoinError(f"no STATUS from the peer ({st.error})")
        belief_h, genesis, peer_key, state_h, point = v[0], v[2], v[3], v[4], v[5]
        if not all(type(x) is Blob for x in (belief_h, genesis, peer_key, state_h)) \
                or type(point) is not int or point < 0:
            raise JoinError("the peer's STATUS is not a cluster peer's")
        if c.verify_peer(peer_key.data, genesis) != peer_key.data:
            raise JoinError("the peer did not prove its key")
        state = _fetch(c, state_h.data, "consensus state")
        belief = _fetch(c, belief_h.data, "belief")
    if state.block_number != point - 1:
        raise JoinError(f"the state is after {state.block_number + 1} blocks, the peer says "
                        f"{point}")
    stakes = stakes_of(state)
    total = sum(stakes.values())
    if stakes.get(peer_key.data, 0) <= 0:
        raise JoinError("the peer has no stake in the state it sent")
    try:
        orders = merge_beliefs({}, signed_orders(belief), verify)
    except Exception:
        raise JoinError("the peer's belief is not a belief") from None
    mine = orders.get(peer_key.data)
    if mine is None or mine.value.finality_point < point:
        raise JoinError("the peer's own order does not finalise its consensus point")
    blocks = mine.value.block_ids()[:point]
    agreed = sum(stakes.get(k, 0) for k, so in orders.items()
                 if so.value.finality_point >= point
                 and so.value.block_ids()[:point] == blocks)
    if agreed * 3 <= total * 2:
        raise JoinError(f"only {100 * agreed // max(1, total)}% of the stake signed orders "
                        f"that finalise the peer's {point} blocks; more than 2/3 must")
    block = mine.value.blocks[point - 1] if point > 0 else None
    return Joined(state, point, genesis.data, peer_key.data, agreed, total, block)


def seed_key(text: str) -> Any:
    """A signing key from a hex seed (32 bytes, 0x optional)."""
    from nacl.signing import SigningKey
    t = text.strip()
    t = t[2:] if t[:2].lower() == "0x" else t
    try:
        raw = bytes.fromhex(t)
    except ValueError:
        raise ValueError("the seed is not hex") from None
    if len(raw) != 32:
        raise ValueError(f"the seed must be 32 bytes (64 hex digits), not {len(raw)}")
    return SigningKey(raw)


__all__ = ["Joined", "JoinError", "fetch_consensus", "seed_key"]
