"""Block logs to replay or compare: a peer's data directory (its store, read while the peer
is stopped) or a live peer (its REST API, values through the fork's cell cache). Both say
the same things: how many blocks, each block (signed), the hashes of the state after it
and of its results, and the states and results themselves."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional


class LogError(Exception):
    """The log can't be read (no such directory, not a peer, a state pruned): one line."""


class BlockLog:
    """What replay and bisect read. `state(-1)` is the genesis state."""

    name: str = ""

    def count(self) -> int: ...
    def block(self, n: int) -> Any: ...
    def state_hash(self, n: int) -> bytes: ...
    def results_hash(self, n: int) -> Optional[bytes]: ...
    def state(self, n: int) -> Any: ...
    def results(self, n: int) -> Any: ...
    def close(self) -> None: ...


class StoreLog(BlockLog):
    """A stopped peer's data directory (DIR/peer.db)."""

    def __init__(self, directory: Path):
        from convex_repl.peer.store import Store, StoreFormatError
        db = Path(directory) / "peer.db"
        if not db.is_file():
            raise LogError(f"{directory} is not a peer's data directory (no peer.db)")
        try:
            self.store = Store(str(db))
        except StoreFormatError as e:
            raise LogError(str(e)) from None
        self.name = str(directory)
        self._rows: dict = {}

    def _row(self, n: int) -> tuple:
        r = self._rows.get(n)
        if r is None:
            for row in self.store.blocks(n, 256):
                self._rows[row[0]] = row
            r = self._rows.get(n)
            if r is None:
                raise LogError(f"{self.name} has no block {n}")
        return r

    def count(self) -> int:
        return self.store.block_count()

    def block(self, n: int) -> Any:
        return self._get(self._row(n)[1], f"block {n}")

    def state_hash(self, n: int) -> bytes:
        if n < 0:
            return self.store.meta("genesis") or b""
        return self._row(n)[3]

    def results_hash(self, n: int) -> Optional[bytes]:
        return self._row(n)[2]

    def state(self, n: int) -> Any:
        what = "the genesis state" if n < 0 else f"the state after block {n}"
        return self._get(self.state_hash(n), what)

    def results(self, n: int) -> Any:
        return self._get(self._row(n)[2], f"the results of block {n}")

    def _get(self, h: bytes, what: str) -> Any:
        from kernel.data.cell import MissingData
        try:
            return self.store.get(h)
        except MissingData:
            raise LogError(f"{self.name} no longer holds {what} (pruned with --keep-states; "
                           "replay --from a block whose state is kept)") from None

    def close(self) -> None:
        self.store.close()


class RemoteLog(BlockLog):
    """A live peer: GET /api/v1/blocks for the hashes, the values by hash (cell cache)."""

    def __init__(self, url: str, home: Optional[Path] = None):
        from convex_repl.client.remote import Remote, RemoteError
        from convex_repl.history.fetch import open_cache
        self.remote = Remote(url)
        try:
            self.status = self.remote.check()
        except RemoteError as e:
            raise LogError(str(e)) from None
        self.name = self.remote.url
        self.cache = open_cache(home)
        self._items: dict = {}
        self._count: Optional[int] = None

    def _item(self, n: int) -> dict:
        it = self._items.get(n)
        if it is None:
            st, body = self.remote.request("GET", f"/api/v1/blocks?offset={n}&limit=1000")
            if st != 200 or not isinstance(body, dict):
                raise LogError(f"{self.name} refused GET /api/v1/blocks ({st})")
            self._count = body.get("count", self._count)
            for b in body.get("items") or []:
                self._items[b["index"]] = b
            it = self._items.get(n)
            if it is None:
                raise LogError(f"{self.name} has no block {n}")
        if "state" not in it:
            raise LogError(f"{self.name} lists blocks without their state hashes (an older "
                           "peer): it can't be replayed or bisected")
        return it

    def count(self) -> int:
        if self._count is None:
            st, body = self.remote.request("GET", "/api/v1/blocks?offset=0&limit=1")
            self._count = body.get("count", 0) if isinstance(body, dict) else 0
        return self._count

    def _hex(self, n: int, key: str) -> Optional[bytes]:
        v = self._item(n).get(key)
        return None if v is None else bytes.fromhex(v[2:])

    def block(self, n: int) -> Any:
        return self._get(self._hex(n, "hash"), f"block {n}")

    def state_hash(self, n: int) -> bytes:
        if n < 0:
            return bytes.fromhex(self.status["genesis"][2:])
        return self._hex(n, "state")

    def results_hash(self, n: int) -> Optional[bytes]:
        return self._hex(n, "results")

    def state(self, n: int) -> Any:
        return self._get(self.state_hash(n), "the genesis state" if n < 0 else
                         f"the state after block {n}")

    def results(self, n: int) -> Any:
        h = self.results_hash(n)
        return None if h is None else self._get(h, f"the results of block {n}")

    def _get(self, h: bytes, what: str) -> Any:
        from convex_repl.client.remote import RemoteError
        from convex_repl.history.fetch import fetch_cached
        try:
            return fetch_cached(self.remote, h.hex(), self.cache)
        except RemoteError as e:
            raise LogError(f"{self.name} did not give {what}: {e}") from None

    def close(self) -> None:
        self.cache.close()


def open_log(where: str, home: Optional[Path] = None) -> BlockLog:
    """A URL (http://, https://) is a live peer; anything else a data directory."""
    if where.startswith(("http://", "https://")):
        return RemoteLog(where, home)
    p = Path(where)
    if not p.exists():
        raise LogError(f"no such data directory: {where}")
    return StoreLog(p)


__all__ = ["BlockLog", "StoreLog", "RemoteLog", "LogError", "open_log"]
