"""An embedded content-addressed store: value ID -> CAD3 cell encoding, in SQLite.

A peer keeps its states, blocks, results and prepared transactions here. Values are written
as their cells (each non-embedded cell once, under its SHA3-256 value ID), so consecutive
states share everything they have in common and a write only adds the novelty: the walk
stops at cells already stored. A few named pointers (`meta`) and a block table say where the
peer is; each block is committed in one SQLite transaction together with its results and the
state after it, so a peer killed at any moment restarts at its last committed block. With
`keep_states=N` only the states of the last N blocks are kept (`prune_states`).

Durability (`sync`): "normal" (the default) commits to SQLite's write-ahead log without
waiting for the disk, so a commit survives the peer's process being killed at any moment
but an OS crash or power loss may roll the store back to an earlier block (never corrupt
it): what the reference's Etch store gives, which forces its memory-mapped file to disk only
when closed. "full" waits for the disk at every commit (fsync: ~0.3 ms on this machine's
disk, per block and per saved consensus round), so those survive a power loss too.

    store = Store("peer.db")               # or Store(":memory:")
    h = store.put(value)                   # value ID (bytes); novelty only
    store.get(h)                           # the value, branches resolved (MissingData if absent)
    with store.batch():                    # several writes, one transaction
        ...
"""
from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from typing import Any, Iterator, Optional

from kernel.data.cell import (BranchRef, Cell, MissingData, encoding, is_branch,
                              memory_size, value_id)
from kernel.data.decoding import Decoder, _branch_hashes

SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (id BLOB PRIMARY KEY, enc BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value BLOB);
CREATE TABLE IF NOT EXISTS blocks (n INTEGER PRIMARY KEY, block BLOB NOT NULL,
    results BLOB NOT NULL, state BLOB NOT NULL, timestamp INTEGER NOT NULL,
    peer BLOB, txcount INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS txs (hash BLOB PRIMARY KEY, block INTEGER NOT NULL,
    idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pinned (id BLOB PRIMARY KEY) WITHOUT ROWID;
"""

# How cells are split, recorded in meta "format". 2: signed data of at most 140 bytes is
# embedded in its parent like any small cell (1, unmarked, kept it as a separate cell: its
# blocks and beliefs have other encodings and IDs, so such a store can't be read on).
FORMAT = b"2"


class StoreFormatError(ValueError):
    """The store was written with another cell format."""


class Store:
    """Cells by value ID, plus named pointers and a block log, in one SQLite file."""

    SYNC = ("normal", "full")

    def __init__(self, path: str = ":memory:", keep_states: Optional[int] = None,
                 sync: str = "normal"):
        if sync not in self.SYNC:
            raise ValueError(f"sync must be one of {', '.join(self.SYNC)}, not {sync!r}")
        self.path = str(path)
        self.keep_states = keep_states      # None: every block's state is kept (prune_states)
        self._recent: dict = {}             # block -> its state value, the last keep_states
        self._genesis_cells: Optional[set] = None
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        self._depth = 0
        self._known: set = set()            # IDs certainly stored (prunes the novelty walk)
        self._cache: dict = {}              # decoded branch values by ID (bounded)
        with self._lock:
            if self.path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={sync.upper()}")
            self._db.executescript(SCHEMA)
            self._check_format()

    def _check_format(self) -> None:
        found = self.meta("format")
        if found == FORMAT:
            return
        used = self._db.execute("SELECT 1 FROM cells LIMIT 1").fetchone() is not None
        if found is None and not used:
            self.set_meta("format", FORMAT)
            return
        self._db.close()
        raise StoreFormatError(
            f"{self.path} holds data in an older cell format ({(found or b'1').decode()}; this "
            f"version writes {FORMAT.decode()}: signed data is embedded as the reference does); "
            f"start with a new data directory or delete it")

    # --- transactions -------------------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator["Store"]:
        """Everything written inside is committed together (or not at all)."""
        with self._lock:
            if self._depth == 0:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield self
            except BaseException:
                self._depth -= 1
                if self._depth == 0:
                    self._db.execute("ROLLBACK")
                    self._known.clear()     # some may not have been written after all
                raise
            self._depth -= 1
            if self._depth == 0:
                self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- cells --------------------------------------------------------------------------------
    def put(self, v: Any) -> bytes:
        """Store a value (its top cell always, and every branch cell not stored yet); its ID."""
        return self.put_all((v,))[0]

    def put_all(self, values: Any) -> list:
        """Store several values in one statement (each as `put` would); their IDs."""
        with self._lock:                    # `known` and the table change together
            known = self._known
            cells: list = []
            tops = []
            for v in values:
                new = novelty(v, known)
                known.update(h for h, _ in new)
                cells += new
                top = value_id(v)
                if top not in known:
                    cells.append((top, encoding(v)))
                    known.add(top)
                tops.append(top)
            try:
                with self.batch():
                    self._db.executemany("INSERT OR IGNORE INTO cells (id, enc) VALUES (?, ?)",
                                         cells)
            except BaseException:
                known.difference_update(h for h, _ in cells)
                raise
            return tops

    def has(self, h: bytes) -> bool:
        if h in self._known:
            return True
        with self._lock:
            row = self._db.execute("SELECT 1 FROM cells WHERE id = ?", (h,)).fetchone()
        return row is not None

    def raw(self, h: bytes) -> Optional[bytes]:
        with self._lock:
            row = self._db.execute("SELECT enc FROM cells WHERE id = ?", (h,)).fetchone()
        return None if row is None else bytes(row[0])

    def get(self, h: bytes) -> Any:
        """The value with ID h, every branch resolved from the store (MissingData if a cell
        is absent)."""
        cache = self._cache
        if h in cache:
            return cache[h]
        order, seen, stack = [], set(), [(h, False)]
        encs: dict = {}
        while stack:                     # post-order: children decoded before parents
            x, expanded = stack.pop()
            if expanded:
                order.append(x)
                continue
            if x in seen or x in cache:
                continue
            enc = self.raw(x)
            if enc is None:
                raise MissingData(x)
            seen.add(x)
            encs[x] = enc
            stack.append((x, True))
            stack.extend((c, False) for c in _branch_hashes(enc))
        for x in order:
            v, end = Decoder(encs[x], cache).value(0)
            if end != len(encs[x]):
                raise MissingData(x)
            cache[x] = v
            self._known.add(x)
        v = cache[h]
        if len(cache) > 200_000:
            cache.clear()
        return v

    # --- pointers and the block log -----------------------------------------------------------
    def set_meta(self, key: str, value: bytes) -> None:
        with self.batch():
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (key, value))

    def meta(self, key: str) -> Optional[bytes]:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def add_block(self, n: int, block: Any, results: Any, state: Any, timestamp: int,
                  peer: Optional[bytes], tx_hashes: list) -> None:
        """Record block n (its value, its results, the state after it) and its transactions,
        and make it the head; atomically."""
        with self.batch():
            b, r, s = self.put_all((block, results, state))
            self._db.execute("INSERT OR REPLACE INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?)",
                             (n, b, r, s, timestamp, peer, len(tx_hashes)))
            self._db.executemany("INSERT OR IGNORE INTO txs VALUES (?, ?, ?)",
                                 [(h, n, i) for i, h in enumerate(tx_hashes)])
            self.set_meta("head", n.to_bytes(8, "big") + s)
            keep = self.keep_states
            if keep is not None:
                if self._int_meta("pinned_to") == n - 1:     # else caught up when pruning
                    self._pin(self._ids(block, self._ids(results, set())))
                    self.set_meta("pinned_to", str(n).encode())
                self._recent[n] = state
                for old in [k for k in self._recent if k <= n - keep]:
                    del self._recent[old]
        if keep is not None and n % max(16, keep) == 0:
            self.prune_states(keep)

    def index_txs(self, rows: list) -> None:
        """Record where transactions are, (hash, block, index) rows, for blocks whose results
        we don't have (a peer that caught up from a state snapshot)."""
        with self.batch():
            self._db.executemany("INSERT OR IGNORE INTO txs VALUES (?, ?, ?)", rows)

    def head(self) -> Optional[tuple]:
        """(number of the last committed block, ID of the state after it), or None."""
        m = self.meta("head")
        if m is None:
            return None
        return int.from_bytes(m[:8], "big"), m[8:]

    def blocks(self, offset: int = 0, limit: int = 100) -> list:
        """Rows (n, block id, results id, state id, timestamp, peer, txcount) in order."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM blocks WHERE n >= ? ORDER BY n LIMIT ?",
                                    (offset, limit)).fetchall()
        return [(r[0], bytes(r[1]), bytes(r[2]), bytes(r[3]), r[4],
                 None if r[5] is None else bytes(r[5]), r[6]) for r in rows]

    def prune_states(self, keep: int) -> int:
        """Delete the cells only the states of blocks before the last `keep` reach; the
        number deleted. A cell stays if a kept state, the genesis state, any block or its
        results (the `pinned` cells) or a meta pointer (a belief...) reaches it. Only the
        states pruned since the last call are walked, each down to where it meets the kept
        states (a state shares almost every cell with the next), so a call costs a walk of
        the kept states plus what changed. Pruned blocks' rows stay, with their states'
        hashes; `get` of such a state is MissingData."""
        with self.batch():
            top = self.block_count() - 1
            upto, done = top - keep, self._int_meta("pruned_to")
            if upto <= done:
                return 0
            self._catch_up_pins(top)
            rows = self.blocks(done + 1, top - done)
            live: set = set(self._genesis())
            for n, _b, _r, sid, *_ in rows:
                if n > upto:
                    v = self._recent.get(n)
                    if v is not None and value_id(v) == sid:
                        self._ids(v, live)
                    else:
                        self._walk([sid], live, live)
            cand: set = set()
            self._walk([r[3] for r in rows if r[0] <= upto], cand, live)
            cand = self._unpinned(cand)
            keys = ("head", "genesis", "format", "pruned_to", "pinned_to")
            roots = [bytes(v)[-32:] for k, v in self._db.execute("SELECT key, value FROM meta")
                     if k not in keys and v is not None and len(v) >= 32]
            if cand and roots:
                reached: set = set()
                self._walk(roots, reached, live, pinned_stop=True)
                cand -= reached
            self._db.executemany("DELETE FROM cells WHERE id = ?", [(h,) for h in cand])
            self.set_meta("pruned_to", str(upto).encode())
            self._known = live                  # closed downward: safe to stop walks at
            for h in cand:
                self._cache.pop(h, None)
        return len(cand)

    def _walk(self, roots: list, into: set, stop: set, pinned_stop: bool = False) -> None:
        """Add to `into` the IDs of the stored cells reachable from `roots`, not descending
        into those in `stop` or `into` (nor, with pinned_stop, into pinned ones)."""
        stack = list(roots)
        while stack:
            h = stack.pop()
            if h in stop or h in into:
                continue
            if pinned_stop and self._db.execute("SELECT 1 FROM pinned WHERE id = ?",
                                                (h,)).fetchone():
                continue
            enc = self.raw(h)
            if enc is None:
                continue
            into.add(h)
            stack.extend(_branch_hashes(enc))

    def _ids(self, v: Any, into: set) -> set:
        """_cell_ids of a value in memory, its branches known only by reference walked in
        the store."""
        refs: list = []
        _cell_ids(v, into, refs)
        self._walk(refs, into, set())
        return into

    def _genesis(self) -> set:
        if self._genesis_cells is None:
            g = self.meta("genesis")
            found: set = set()
            if g is not None:
                self._walk([g], found, set())
            self._genesis_cells = found
        return self._genesis_cells

    def _pin(self, ids: set) -> None:
        self._db.executemany("INSERT OR IGNORE INTO pinned VALUES (?)", [(h,) for h in ids])

    def _catch_up_pins(self, top: int) -> None:
        """Pin the cells of the blocks and results written before pinning began."""
        start = self._int_meta("pinned_to") + 1
        if start > top:
            return
        pinned: set = set()
        for row in self.blocks(start, top - start + 1):
            self._walk([row[1], row[2]], pinned, set())
        self._pin(pinned)
        self.set_meta("pinned_to", str(top).encode())

    def _unpinned(self, ids: set) -> set:
        out, ids = set(), list(ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            found = {bytes(r[0]) for r in self._db.execute(
                f"SELECT id FROM pinned WHERE id IN ({marks})", chunk)}
            out.update(h for h in chunk if h not in found)
        return out

    def _int_meta(self, key: str) -> int:
        v = self.meta(key)
        return -1 if v is None else int(v)

    def has_state(self, n: int) -> bool:
        """Is the state after block n still stored (not pruned)?"""
        rows = self.blocks(n, 1)
        return bool(rows) and rows[0][0] == n and self.has(rows[0][3])

    def block_count(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT MAX(n) FROM blocks").fetchone()
        return 0 if row[0] is None else row[0] + 1

    def tx_location(self, h: bytes) -> Optional[tuple]:
        with self._lock:
            row = self._db.execute("SELECT block, idx FROM txs WHERE hash = ?", (h,)).fetchone()
        return None if row is None else (row[0], row[1])


def _cell_ids(v: Any, into: Optional[set] = None, refs: Optional[list] = None) -> set:
    """The IDs of v's branch cells and of v itself (as stored: put always stores the top),
    walking the values in memory (no decoding); branches only known by reference go to
    `refs` (the caller walks them in the store)."""
    out = set() if into is None else into
    out.add(value_id(v))
    stack = [v]
    while stack:
        c = stack.pop()
        for x in (c.children() if isinstance(c, Cell) else ()):
            t = type(x)
            if t is BranchRef:
                if refs is not None:
                    refs.append(x.hash)
            elif isinstance(x, Cell):
                if is_branch(x):
                    h = x.value_id()
                    if h in out:
                        continue
                    out.add(h)
                stack.append(x)
            elif t is int and memory_size(x):      # a huge integer is a branch cell
                out.add(value_id(x))
    return out


def novelty(v: Any, known: set) -> list:
    """(ID, encoding) of the branch cells reachable from v that are not in `known`, without
    descending into known ones (a state's unchanged accounts cost nothing), nor into
    embedded cells known to reach none (memory size 0)."""
    out: list = []
    seen: set = set()
    stack = [v]
    while stack:
        c = stack.pop()
        t = type(c)
        if t is BranchRef or not isinstance(c, Cell):
            # a huge integer is a branch cell too (memory_size tells without encoding it)
            if t is int and memory_size(c):
                h = value_id(c)
                if h not in known and h not in seen:
                    seen.add(h)
                    out.append((h, encoding(c)))
            continue
        if is_branch(c):
            h = c.value_id()
            if h in known or h in seen:
                continue
            seen.add(h)
            out.append((h, c.encoding()))
        elif c._cache[2] == 0:      # embedded, and its memory size says no branch below it
            continue                # (an account in a changed leaf beside the changed one)
        stack.extend(c.children())
    return out


__all__ = ["Store", "novelty"]
