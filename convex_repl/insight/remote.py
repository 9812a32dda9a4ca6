"""Tracing against a peer: the peer runs code but cannot be watched from outside, so the
state it holds is copied here through its REST API and the code runs traced on the copy,
with the same result and juice (the CVM is deterministic).

A state is fetched as `GET /api/v1/data/{hash}`, which answers a value with all its cells
(`cad3`, encode_multi). The current state's hash is in `GET /api/v1/status`; the state after
block n is found by the query `(hash (encoding *state*))` with `"block": n`. A confirmed
transaction (`GET /api/v1/tx?hash=`: its block and position) is replayed on its pre-state:
the state after the block before, then the block's time and scheduled operations and the
transactions before it in its block, applied as the network applied them."""
from __future__ import annotations

from typing import Any, Optional

from convex_repl.client.remote import Remote, RemoteError


def fetch_value(remote: Remote, h: str) -> Any:
    from kernel.data.decoding import decode_multi
    h = h[2:] if h.startswith("0x") else h
    st, body = remote.request("GET", f"/api/v1/data/{h}")
    if st != 200 or not isinstance(body, dict) or "cad3" not in body:
        msg = body.get("error") if isinstance(body, dict) else body
        raise RemoteError(f"the peer at {remote.url} did not give the data 0x{h[:16]}… "
                          f"({st}: {msg})")
    return decode_multi(bytes.fromhex(body["cad3"]))


def state_hash_after(remote: Remote, block: Optional[int]) -> str:
    """The hash of the peer's current state (block None) or of the state after `block`;
    the genesis state for block -1."""
    if block is None:
        return remote.status()["state"]
    if block < 0:
        return remote.status()["genesis"]
    st, body = remote.request("POST", "/api/v1/query",
                              {"source": "(hash (encoding *state*))", "block": block})
    value = body.get("value") if isinstance(body, dict) else None
    if st != 200 or not isinstance(value, str):
        msg = body.get("error") if isinstance(body, dict) else body
        raise RemoteError(f"the peer at {remote.url} has no state after block {block} ({msg})")
    return value


def fetch_state(remote: Remote, block: Optional[int] = None) -> Any:
    from kernel.state.state import State
    s = fetch_value(remote, state_hash_after(remote, block))
    if not isinstance(s, State):
        raise RemoteError(f"the peer at {remote.url} answered a {type(s).__name__} for its "
                          "state hash, not a state")
    return s


def tx_pre_state(remote: Remote, tx_hash: str) -> tuple:
    """(state just before the transaction, the signed transaction, block, position): the
    state after the previous block with this block's time, scheduled operations and earlier
    transactions applied."""
    from kernel.transition.schedule import apply_scheduled, apply_time
    from kernel.transition.transaction import apply_signed
    h = tx_hash[2:] if tx_hash.startswith("0x") else tx_hash
    st, body = remote.request("GET", f"/api/v1/tx?hash={h}")
    if st == 404:
        raise RemoteError(f"the peer at {remote.url} knows no transaction 0x{h}")
    if st != 200 or not isinstance(body, dict) or "position" not in body:
        msg = body.get("error") if isinstance(body, dict) else body
        raise RemoteError(f"the peer at {remote.url} refused GET /api/v1/tx ({st}: {msg})")
    b, i = body["position"]
    st, info = remote.request("GET", f"/api/v1/blocks/{b}")
    if st != 200 or not isinstance(info, dict) or "hash" not in info:
        raise RemoteError(f"the peer at {remote.url} has no block {b}")
    signed_block = fetch_value(remote, info["hash"])
    block = getattr(signed_block, "value", signed_block)
    state = fetch_state(remote, b - 1)
    state = apply_time(state.with_next_block(), block.timestamp)
    state, _, _ = apply_scheduled(state)
    txs = block.transactions
    for k in range(i):
        state = apply_signed(state, txs[k]).state
    return state, txs[i], b, i


__all__ = ["fetch_state", "fetch_value", "tx_pre_state", "state_hash_after"]
