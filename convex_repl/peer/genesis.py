"""The keys and the genesis state of a local cluster of n peers: the genesis peer's stake
split equally among them, a faucet account for each. Derived from public seeds, so every
process of a cluster (and every test) makes the same ones without exchanging anything.
Apart from cluster.py because it says what a local cluster is, not how a peer runs in one.
"""
from __future__ import annotations

import hashlib
from typing import Any

from kernel.data.blobs import Blob
from kernel.data.index import Index
from kernel.data.scalars import Address

from convex_repl.peer.peer import FAUCET_ACCOUNT


def cluster_key(i: int) -> Any:
    """The signing key of peer i of a local cluster (derived from a public seed)."""
    from nacl.signing import SigningKey
    return SigningKey(hashlib.sha3_256(f"convex-repl local cluster peer {i}".encode()).digest())


FAUCET_SHARE = 10               # each peer's faucet gets 1/FAUCET_SHARE of #12's coins / n


def cluster_genesis(n: int) -> Any:
    """The genesis state with the genesis peer's stake split equally among n peers, and a
    faucet account per peer (keyed with the peer's key, after the genesis accounts), so
    peers never race each other for one faucet account's sequence numbers. That account
    also controls the peer's record, so the peer can announce its address itself
    (connections.py), as a reference peer does when its controller has its key."""
    from kernel.state.state import Account, PeerStatus
    from stdlib.genesis import genesis_state
    g = genesis_state()
    total = sum(ps.peer_stake for _k, ps in g.peers.items())
    peers = Index.EMPTY
    for i in range(n):
        share = total // n + (total % n if i == 0 else 0)
        peers = peers.assoc(Blob(bytes(cluster_key(i).verify_key)),
                            PeerStatus.create(Address(faucet_account(i)), share))
    g = g.with_peers(peers)
    grant = g.account(FAUCET_ACCOUNT).balance // FAUCET_SHARE // n
    for i in range(n):
        g = g.with_balance(FAUCET_ACCOUNT, g.account(FAUCET_ACCOUNT).balance - grant)
        g = g.put_account(faucet_account(i), Account(
            balance=grant, key=Blob(bytes(cluster_key(i).verify_key))))
    return g


def faucet_account(i: int) -> int:
    """The address of peer i's faucet account in a cluster genesis: right after the
    accounts of the standard genesis."""
    from stdlib.genesis import genesis_state
    return len(genesis_state().accounts) + i


__all__ = ["cluster_key", "cluster_genesis", "faucet_account", "FAUCET_SHARE"]
