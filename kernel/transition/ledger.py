"""A local node's view of transactions: keys for the genesis accounts, building and signing
transactions for an account, and running them through the real state transition in a block
of their own (kernel.transition), as a single local peer would.

Session.transact / submit / advance (convex_repl/api.py) are thin wrappers over this.
"""
from __future__ import annotations

import hashlib
from typing import Any, Optional

from kernel.data.blobs import Blob
from kernel.data.records import Signed
from kernel.state.state import State
from kernel.state.transactions import Block, Invoke, Multi, Transaction, sign
from kernel.transition import Outcome, advance, apply_block_outcomes, local_peer


def genesis_seed(n: int) -> bytes:
    """Ed25519 seed of the local genesis key of account #n: the same derivation as
    stdlib.genesis.genesis_key (local networks only: anyone can compute it)."""
    return hashlib.sha3_256(f"convex-repl local genesis account {n}".encode()).digest()


def genesis_signing_key(n: int) -> Any:
    """The nacl SigningKey whose public key stdlib.genesis.genesis_key(n) gives."""
    from nacl.signing import SigningKey
    return SigningKey(genesis_seed(n))


# Genesis accounts whose keys are their own seeds; the others use the genesis user's key.
_GENESIS_SEEDS = (11, 13)


def signing_key_for(state: State, n: int) -> Optional[Any]:
    """The signing key of account #n if its public key is one of the local genesis keys
    (the governance accounts, the genesis user and peer controller, the first user), else
    None."""
    acct = state.account(n)
    key = None if acct is None else acct.key
    if key is None:
        return None
    for seed_n in (n,) + _GENESIS_SEEDS:
        sk = genesis_signing_key(seed_n)
        if bytes(sk.verify_key) == key.data:
            return sk
    return None


def next_sequence(state: State, n: int) -> int:
    acct = state.account(n)
    return 1 if acct is None else acct.sequence + 1


def command_transaction(state: State, n: int, forms: list) -> Transaction:
    """The transaction that runs `forms` as account #n, in order and atomically: one form is
    an Invoke; several are a Multi of Invokes in mode ALL, so each form is expanded and
    compiled only after the previous one ran (a macro defined by one form can be used by the
    next, as with eval)."""
    seq = next_sequence(state, n)
    if len(forms) == 1:
        return Invoke.create(n, seq, forms[0])
    return Multi.create(n, seq, Multi.ALL, [Invoke.create(n, seq, f) for f in forms])


def submit(state: State, signed: Signed, peer_key: Any = None) -> tuple:
    """Apply one signed transaction in a block of its own, at the state's current time, with
    a local peer (by default the first staked peer) collecting half the fees:
    (new state, Outcome)."""
    block = Block.create(state.timestamp, [signed])
    if peer_key is None:
        peer_key = local_peer(state)
    new_state, outcomes = apply_block_outcomes(state, block, peer_key)
    return new_state, outcomes[0]


def transact(state: State, n: int, key: Any, forms: list) -> tuple:
    """Sign `forms` as a transaction of account #n with `key` and submit it:
    (new state, Outcome, the signed transaction)."""
    tx = command_transaction(state, n, forms)
    signed = sign(key, tx)
    new_state, outcome = submit(state, signed)
    return new_state, outcome, signed


def advance_time(state: State, ms: int) -> tuple:
    """Move time forward by ms, running the scheduled operations that fall due:
    (new state, their outcomes)."""
    return advance(state, ms)


def state_hash(state: State) -> str:
    """Hex of the state's value ID (equal states, equal hashes)."""
    return state.value_id().hex()


def public_key_blob(key: Any) -> Blob:
    return Blob(bytes(key.verify_key))


__all__ = ["genesis_seed", "genesis_signing_key", "signing_key_for", "command_transaction",
           "submit", "transact", "advance_time", "state_hash", "Outcome"]
