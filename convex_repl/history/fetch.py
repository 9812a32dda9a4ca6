"""Fetching a peer's state lazily by value ID into an on-disk cell cache.

A state is a tree of cells named by their value IDs, and consecutive states share almost all
of them. So a fork asks the peer only for the cells its cache lacks: the walk starts at the
state's ID, and each level's missing IDs go in one `POST /api/v1/data/cells` (up to 1000
per request), each answered with that cell alone (its branches by reference); a cell already
cached is never asked for. The cells are then decoded together (decode_multi). The cache
(`$CONVEX_HOME/cache/fork-cells.db`, SQLite) keeps each cell with the IDs it refers to, so
walking a cached state decodes nothing, and the second fork of a busy network fetches only
what changed since the first. A peer without the cells endpoint (another implementation) is
asked for each missing value whole with `GET /api/v1/data/{hash}` instead.
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
    return d / "fork-cells.db"


class CellCache:
    """Cells by value ID on disk (SQLite), each with the IDs of the branch cells it refers
    to, so walking a cached value reads rows and decodes nothing."""

    SCHEMA = ("CREATE TABLE IF NOT EXISTS cells (id BLOB PRIMARY KEY, enc BLOB NOT NULL, "
              "refs BLOB NOT NULL) WITHOUT ROWID")

    def __init__(self, path: str):
        import sqlite3
        import threading
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(self.SCHEMA)

    def row(self, h: bytes) -> Optional[tuple]:
        """(encoding, [branch IDs]) of a cached cell, or None."""
        with self._lock:
            r = self._db.execute("SELECT enc, refs FROM cells WHERE id = ?", (h,)).fetchone()
        if r is None:
            return None
        refs = bytes(r[1])
        return bytes(r[0]), [refs[i:i + 32] for i in range(0, len(refs), 32)]

    def add(self, rows: list) -> None:
        """Cache (ID, encoding, [branch IDs]) rows."""
        if rows:
            with self._lock:
                self._db.execute("BEGIN")
                self._db.executemany("INSERT OR IGNORE INTO cells VALUES (?, ?, ?)",
                                     [(h, e, b"".join(r)) for h, e, r in rows])
                self._db.execute("COMMIT")

    def add_value(self, v: Any) -> None:
        """Cache every branch cell of a value (and its top cell)."""
        from kernel.data.cell import encoding, value_id
        from kernel.data.decoding import _branch_hashes
        from convex_repl.peer.store import novelty
        cells = novelty(v, set())
        top = value_id(v)
        if not any(h == top for h, _ in cells):
            cells.append((top, encoding(v)))
        self.add([(h, e, _branch_hashes(e)) for h, e in cells])

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_cache(home: Optional[Path] = None) -> CellCache:
    return CellCache(str(cache_path(home)))


def pull(remote: Remote, root: bytes, cache: CellCache) -> tuple:
    """Make the value `root` and all its cells present in `cache`, asking `remote` for the
    missing ones level by level: (cells fetched, cells found cached, {ID: encoding} of every
    cell of the value)."""
    from kernel.data.decoding import _branch_hashes
    fetched = cached = 0
    level, encs = [root], {}
    while level:
        want, nxt = [], []
        for h in level:
            if h in encs:
                continue
            row = cache.row(h)
            if row is None:
                want.append(h)
                encs[h] = None
            else:
                cached += 1
                encs[h] = row[0]
                nxt.extend(row[1])
        for i in range(0, len(want), BATCH):
            chunk = want[i:i + BATCH]
            got = _cells(remote, chunk) or [None] * len(chunk)   # None: no cells endpoint
            rows = []
            for h, enc in zip(chunk, got):
                if enc is None:                   # the whole value instead (e.g. another
                    cache.add_value(_whole(remote, h))     # implementation's peer)
                    enc, refs = cache.row(h)
                elif _hash(enc) != h:
                    raise RemoteError(f"the peer at {remote.url} answered a cell that does "
                                      f"not hash to 0x{h.hex()[:16]}…")
                else:
                    refs = _branch_hashes(enc)
                    rows.append((h, enc, refs))
                fetched += 1
                encs[h] = enc
                nxt.extend(refs)
            cache.add(rows)
        level = nxt
    return fetched, cached, encs


def assemble(root: bytes, encs: dict) -> Any:
    """The value from its cells' encodings (top first, as encode_multi lays them out)."""
    from kernel.data.cell import vlq
    from kernel.data.decoding import decode_multi
    parts = [encs[root]]
    for h, enc in encs.items():
        if h != root:
            parts += [vlq(len(enc)), enc]
    return decode_multi(b"".join(parts))


def _hash(enc: bytes) -> bytes:
    import hashlib
    return hashlib.sha3_256(enc).digest()


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


def _whole(remote: Remote, h: bytes) -> Any:
    from convex_repl.insight.remote import fetch_value
    return fetch_value(remote, h.hex())


def fetch_state(url: str, block: Optional[int] = None, home: Optional[Path] = None,
                cache: Optional[CellCache] = None) -> Fetched:
    """The peer's current state (or the state after `block`), through the cell cache."""
    from kernel.state.state import State
    from convex_repl.insight.remote import state_hash_after
    remote = Remote(url)
    h = state_hash_after(remote, block)
    root = bytes.fromhex(h[2:] if h.startswith("0x") else h)
    own = cache is None
    cache = open_cache(home) if own else cache
    try:
        fetched, cached, encs = pull(remote, root, cache)
    finally:
        if own:
            cache.close()
    state = assemble(root, encs)
    if not isinstance(state, State):
        raise RemoteError(f"the peer at {url} answered a {type(state).__name__} for its "
                          "state hash, not a state")
    return Fetched(state, "0x" + root.hex(), block, fetched, cached, url)


def fetch_cached(remote: Remote, h: str, cache: CellCache) -> Any:
    """Any value by hash (a block, results), through the cache."""
    root = bytes.fromhex(h[2:] if h.startswith("0x") else h)
    return assemble(root, pull(remote, root, cache)[2])


__all__ = ["Fetched", "CellCache", "fetch_state", "fetch_cached", "pull", "assemble",
           "open_cache", "cache_path"]
