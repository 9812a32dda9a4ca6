"""Which peers a cluster peer dials and which of its outgoing connections it drops: the
connection rules of CAD017 (Connection management), as pure functions of the consensus state,
so that they can be tested alone and the peer's dial loop (cluster.py) only applies them.

- Validated hosts: a peer dials only the `:url` that a staked peer's record in the consensus
  state announces (`set-peer-data`), and the addresses its operator gave (`--peer`, `--join`).
  An address it merely heard of (an incoming connection's) is never dialled, so a bad peer
  can't steer its connections.
- Stake-weighted selection: below its target of outgoing connections (`--outgoing`), a peer
  picks whom to dial at random with probability proportional to stake, so bad peers with
  little stake have little chance of surrounding it.
- Random elimination: at its target, each connection to a peer holding less than its share
  (stake / total * target < 1) is dropped at random, on average within DROP_TIME, so that
  new peers get a chance to be connected to; a peer that lost all its stake is dropped at once.
- Announcing: a peer whose controller account is keyed with the peer's own key announces its
  public address (`--advertise`) on chain itself, as the reference's peers do.
"""
from __future__ import annotations

import random
from typing import Any, Iterable, Optional

from kernel.data.blobs import Blob, String
from kernel.data.hashmaps import Map
from kernel.data.scalars import Keyword

DROP_TIME = 20.0          # seconds: average time to drop a low-staked connection at the target
URL = Keyword("url")


def parse_url(text: Any) -> Optional[tuple]:
    """(host, port) from a peer's announced address: "host:port", "tcp://host:port" or
    "[v6-address]:port"; None if it is not one."""
    if type(text) is String:
        text = text.text
    if not isinstance(text, str) or len(text) > 300:
        return None
    if "://" in text:
        scheme, _, text = text.partition("://")
        if scheme not in ("tcp", "convex"):
            return None
    host, sep, port = text.rstrip("/").rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        return None
    return host, int(port)


def format_url(address: tuple) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def announced(state: Any) -> dict:
    """Peer key (bytes) -> (host, port) announced in its record, for staked peers."""
    out = {}
    for k, ps in state.peers.items():
        if ps.total_stake <= 0 or ps.metadata is None:
            continue
        a = parse_url(ps.metadata.get(URL))
        if a is not None:
            out[k.data] = a
    return out


def to_drop(connected: Iterable[bytes], stakes: dict, target: int, elapsed: float,
            rng: random.Random) -> list:
    """The outgoing connections (peer keys) to close now, `elapsed` seconds after the last
    look: peers without stake, and at the target, low-staked peers at random."""
    total = sum(stakes.values())
    keys = sorted(connected)
    n, out = len(keys), []
    for k in keys:
        stake = stakes.get(k, 0)
        if stake <= 0:
            out.append(k)
            n -= 1
        elif n >= target and elapsed > 0:
            keep = min(1.0, stake / total * target)
            if keep < 1.0 and rng.random() < elapsed / DROP_TIME * (1.0 - keep):
                out.append(k)
                n -= 1
    return out


def to_dial(candidates: dict, connected: set, stakes: dict, own: bytes,
            rng: random.Random) -> list:
    """Addresses to try in order, from `candidates` (address -> peer key, None when not
    known yet): first those whose key we don't know (the operator named them), then staked
    peers we are not connected to, drawn one after another with probability proportional
    to stake."""
    unknown = sorted(a for a, k in candidates.items() if k is None)
    pool: dict = {}
    for a, k in sorted(candidates.items(), key=lambda kv: kv[0]):
        if k is not None and k != own and k not in connected and stakes.get(k, 0) > 0:
            pool.setdefault(k, a)          # one address per peer
    order = []
    keys = sorted(pool)
    while keys:
        weights = [stakes[k] for k in keys]
        pick = rng.choices(range(len(keys)), weights)[0]
        order.append(pool[keys.pop(pick)])
    return unknown + order


def announcement(state: Any, own: bytes, advertise: Optional[tuple]) -> Optional[tuple]:
    """(controller address, new metadata Map) when this peer should announce `advertise` as
    its `:url`: it is staked, its record says something else, and its controller account is
    keyed with the peer's own key (so the peer can sign for it). Other metadata is kept."""
    if advertise is None:
        return None
    ps = state.peer(Blob(own))
    if ps is None or ps.total_stake <= 0:
        return None
    url = format_url(advertise)
    meta = ps.metadata if ps.metadata is not None else Map.EMPTY
    current = meta.get(URL)
    if type(current) is String and current.text == url:
        return None
    acct = state.account(ps.controller.n)
    if acct is None or acct.key is None or acct.key.data != own:
        return None
    return ps.controller.n, meta.assoc(URL, String.of(url))


__all__ = ["DROP_TIME", "parse_url", "format_url", "announced", "to_drop", "to_dial",
           "announcement"]
