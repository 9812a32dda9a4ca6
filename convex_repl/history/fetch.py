"""Fetching a peer's state lazily by value ID into an on-disk cell cache.

A state is a tree of cells named by their value IDs, and consecutive states share almost all
of them. So a fork asks the peer only for the cells its cache lacks: the walk starts at the
state's ID, and each level's missing IDs go in one `POST /api/v1/data/cells` (up to 1000
per request), each answered with that cell alone (its branches by reference); a cell already
cached is never asked for, and neither is its subtree once it is known whole. The cache is
a peer Store (`$CONVEX_HOME/cache/cells.db`), so the second fork of a busy network fetches
only what changed since the first. A peer without the cells endpoint (another
implementation) is asked for the whole value with `GET /api/v1/data/{hash}` instead.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from convex_repl.client.remote import Remote, RemoteError

BATCH = 1000                # cells per request (the endpoint's bound)


@dataclass
class Fetched:
    """A state taken from a peer: the value, its hash, the block it is after (None: the
    peer's current state) and how many cells came over the wire versus from the cache."""

    state: Any
    hash: str
    block: Optional[int]
    fetched: int
    cached: int
    url: str


def cache_path(home: Optional[Path] = None) -> Path:
    from convex_repl.home import convex_home
    base = home if home is not None else convex_home()
    d = Path(base) / "cache"
    d.mkdir(parents=True, exist_ok=True)
    return d / "cells.db"


def open_cache(home: Optional[Path] = None) -> Any:
    from convex_repl.peer.store import Store
    return Store(str(cache_path(home)))


def pull(remote: Remote, root: bytes, store: Any) -> tuple:
    """Make the value `root` and all its cells present in `store`, asking `remote` for the
    missing ones level by level: (cells fetched, cells found cached)."""
    from kernel.data.decoding import _branch_hashes
    fetched = cached = 0
    level, seen = [root], set()
    complete = _complete(store)
    while level:
        want, nxt = [], []
        for h in level:
            if h in seen or h in complete:
                continue
            seen.add(h)
            enc = store.raw(h)
            if enc is None:
                want.append(h)
            else:
                cached += 1
                nxt.extend(_branch_hashes(enc))
        for i in range(0, len(want), BATCH):
            chunk = want[i:i + BATCH]
            got = _cells(remote, chunk)
            if got is None:                       # no cells endpoint: the whole values
                for h in chunk:
                    _whole(remote, h, store)
                fetched += len(chunk)
                continue
            rows = []
            for h, enc in zip(chunk, got):
                if enc is None:
                    _whole(remote, h, store)      # e.g. a cell the peer can't find alone
                    fetched += 1
                    continue
                if _hash(enc) != h:
                    raise RemoteError(f"the peer at {remote.url} answered a cell that does "
                                      f"not hash to 0x{h.hex()[:16]}…")
                rows.append((h, enc))
                nxt.extend(_branch_hashes(enc))
            fetched += len(rows)
            _put_cells(store, rows)
        level = nxt
    _mark_complete(store, root)
    return fetched, cached


def _hash(enc: bytes) -> bytes:
    import hashlib
    return hashlib.sha3_256(enc).digest()


def _complete(store: Any) -> set:
    """IDs of values known to be whole in the cache (their walks can stop there)."""
    raw = store.meta("complete") or b""
    return {raw[i:i + 32] for i in range(0, len(raw), 32)}


def _mark_complete(store: Any, root: bytes) -> None:
    have = store.meta("complete") or b""
    if root not in _complete(store):
        store.set_meta("complete", (have + root)[-32 * 64:])     # the last 64 states


def _put_cells(store: Any, rows: list) -> None:
    if not rows:
        return
    with store.batch():
        store._db.executemany("INSERT OR IGNORE INTO cells (id, enc) VALUES (?, ?)", rows)


def _cells(remote: Remote, hashes: list) -> Optional[list]:
    st, body = remote.request("POST", "/api/v1/data/cells",
                              {"hashes": ["0x" + h.hex() for h in hashes]})
    if st == 404 and not (isinstance(body, dict) and "cells" in body):
        return None
    if st != 200 or not isinstance(body, dict) or not isinstance(body.get("cells"), list):
        msg = body.get("error") if isinstance(body, dict) else body
        raise RemoteError(f"the peer at {remote.url} refused POST /api/v1/data/cells "
                          f"({st}: {msg})")
    return [None if c is None else bytes.fromhex(c) for c in body["cells"]]


def _whole(remote: Remote, h: bytes, store: Any) -> None:
    from convex_repl.insight.remote import fetch_value
    store.put(fetch_value(remote, h.hex()))


def fetch_state(url: str, block: Optional[int] = None, home: Optional[Path] = None,
                store: Any = None) -> Fetched:
    """The peer's current state (or the state after `block`), through the cell cache."""
    from kernel.state.state import State
    from convex_repl.insight.remote import state_hash_after
    remote = Remote(url)
    h = state_hash_after(remote, block)
    root = bytes.fromhex(h[2:] if h.startswith("0x") else h)
    own = store is None
    store = open_cache(home) if own else store
    try:
        fetched, cached = pull(remote, root, store)
        state = store.get(root)
    finally:
        if own:
            store.close()
    if not isinstance(state, State):
        raise RemoteError(f"the peer at {url} answered a {type(state).__name__} for its "
                          "state hash, not a state")
    return Fetched(state, "0x" + root.hex(), block, fetched, cached, url)


def fetch_cached(remote: Remote, h: str, store: Any) -> Any:
    """Any value by hash (a block, results), through the cache."""
    root = bytes.fromhex(h[2:] if h.startswith("0x") else h)
    pull(remote, root, store)
    return store.get(root)


__all__ = ["Fetched", "fetch_state", "fetch_cached", "pull", "open_cache", "cache_path"]
