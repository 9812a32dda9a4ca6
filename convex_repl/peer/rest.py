"""The Convex REST API of a local peer (/work/shared/spec/rest-api.md): its routes and
handlers, the parsing and bounding of their fields, and the faucet's limits. The HTTP side
(connections, bounded reads, timeouts) is httpserver.py; the OpenAPI document openapi.py.

    server = RestServer(peer, host="127.0.0.1", port=0)   # port 0: any free port
    server.start(); server.url                            # "http://127.0.0.1:PORT"
    server.stop()

Endpoints (all under /api/v1): POST createAccount, faucet, query, transaction/prepare,
transaction/submit, transact, data/encode, data/decode; GET accounts/{address}, status,
health (200 in consensus, 503 halted or cut off), tx?hash=, blocks, blocks/{n}, data/{hash}. GET /openapi (or /openapi.json) is the OpenAPI
document. Request bodies are parsed as JSON whatever the Content-Type says; `null` counts as
absent. A malformed request gets a 4xx and `{"error": message}` and changes nothing.

Bounds, each a 4xx/503 with `{"error": ...}`: source text of at most `max_source` characters
before the reader runs (MAX_SOURCE); faucet amounts from 1 to the peer's faucet maximum, and
FaucetLimits per address and overall in a time window (429); and those of httpserver.py: at most
`max_connections` connections at once (REST_MAX_CONNECTIONS), a request whole within
`timeout` seconds of its first byte (REST_TIMEOUT), a keep-alive connection idle at most
REST_IDLE_TIMEOUT. Prepared transactions are kept in memory only (Peer.remember).
"""
from __future__ import annotations

import re
import threading
import time
from collections import deque
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, unquote, urlsplit

from kernel.data.cell import DecodeError, write_ref
from kernel.data.decoding import Decoder, decode_multi, encode_multi
from kernel.data.records import Signed
from kernel.data.scalars import Address, Keyword
from kernel.state.transactions import Invoke, Transaction

from convex_repl.peer.httpserver import (REST_IDLE_TIMEOUT, REST_MAX_CONNECTIONS, REST_TIMEOUT,
                                         BadRequest, Handler, Server)
from convex_repl.peer.jsonval import printed, result_json
from convex_repl.peer.openapi import API, openapi
from convex_repl.peer.peer import GOLD, Peer, error_result, has_missing

MAX_SOURCE = 100_000            # characters of source per request: ~1 s of reader at most
FAUCET_WINDOW = 3600.0          # seconds over which the faucet limits below count
FAUCET_ADDRESS_LIMIT = 100 * GOLD       # coins one address may get per window
FAUCET_TOTAL_LIMIT = 10_000 * GOLD      # coins the faucet gives per window
FAUCET_ADDRESS_REQUESTS = 100   # requests for one address per window
FAUCET_TOTAL_REQUESTS = 10_000  # faucet and createAccount requests per window
MAX_ADDRESS = (1 << 63) - 1


def status_for(result: dict) -> int:
    """HTTP status of a Result sent with a mapped status (rest-api.md 1, item 3)."""
    code = result.get("errorCode")
    if code is None:
        return 200
    source = (result.get("info") or {}).get("source")
    if source in ("CVM", "CODE"):
        return 200
    if source == "PEER":
        m = {"SIGNATURE": 403, "FUNDS": 402, "LIMIT": 413}
        if code in m:
            return m[code]
    return {"FORMAT": 400, "MISSING": 404, "TIMEOUT": 408}.get(code, 422)


# --- parsing request fields --------------------------------------------------------------------

def parse_address(v: Any, field: str = "address") -> int:
    """An address from a JSON integer, a numeric string or "#N" (also 0x-hex in paths)."""
    if isinstance(v, bool) or v is None:
        raise BadRequest(f"Invalid address: {v!r}", extra={"errorCode": "INCORRECT"})
    if isinstance(v, int):
        n = v
    elif isinstance(v, str):
        t = v.strip()
        if t.startswith("#"):
            t = t[1:]
        try:
            n = int(t, 16) if t.lower().startswith("0x") else int(t, 10)
        except ValueError:
            raise BadRequest(f"Invalid address: {v}", extra={"errorCode": "INCORRECT"}) from None
    else:
        raise BadRequest(f"Invalid {field}: {v!r}", extra={"errorCode": "INCORRECT"})
    if n < 0 or n > MAX_ADDRESS:
        raise BadRequest(f"Invalid address: {v}", extra={"errorCode": "INCORRECT"})
    return n


def parse_hex(v: Any, field: str, length: Optional[int] = None) -> bytes:
    if not isinstance(v, str):
        raise BadRequest(f"Missing or invalid {field}: expected a hex string")
    t = v.strip()
    if t[:2].lower() == "0x":
        t = t[2:]
    if len(t) % 2 or not re.fullmatch(r"[0-9a-fA-F]*", t):
        raise BadRequest(f"Invalid {field}: not hex")
    b = bytes.fromhex(t)
    if length is not None and len(b) != length:
        raise BadRequest(f"Invalid {field}: expected {length} bytes, got {len(b)}")
    if not b:
        raise BadRequest(f"Invalid {field}: empty")
    return b


def parse_int(v: Any, field: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        if isinstance(v, str) and re.fullmatch(r"-?\d+", v.strip()):
            return int(v)
        raise BadRequest(f"Invalid {field}: expected an integer")
    return v


def check_source(v: Any, max_source: int, what: str = "source") -> str:
    """v if it is source text the reader may be given: the reader costs ~15 us per token,
    before any juice is counted, so its length is bounded first (413 beyond)."""
    if not isinstance(v, str):
        raise BadRequest(f"Missing or invalid {what}: expected a string of Convex Lisp")
    if len(v) > max_source:
        raise BadRequest(f"Source too large: {len(v)} characters, at most {max_source}", 413)
    return v


def read_source(v: Any, max_source: int) -> Any:
    """The one form a source string holds (several are run in order, as `do`)."""
    from lisp import ReaderError, read_all
    from kernel.data.scalars import Symbol
    from kernel.data.vectors import List

    try:
        forms = read_all(check_source(v, max_source))
    except ReaderError as e:
        raise BadRequest(f"Could not parse source code: {e}") from None
    except RecursionError:
        raise BadRequest("Could not parse source code: nested too deeply") from None
    if not forms:
        raise BadRequest("Could not parse source code: no form")
    if len(forms) == 1:
        return forms[0]
    return List.from_seq([Symbol("do")] + list(forms))


def parse_amount(v: Any, field: str, most: int, zero: bool = False) -> int:
    """A faucet amount: a positive integer (or 0 when `zero`), lowered to `most` (the peer's
    faucet maximum) as the reference does; 400 for anything else, before any fee is paid."""
    n = parse_int(v, field)
    if n < 0 or (n == 0 and not zero):
        raise BadRequest(f"Invalid {field}: {n}, the amount must be "
                         f"{'0 or more' if zero else 'positive'}")
    return min(n, most)


class FaucetLimits:
    """What the faucet may give within a sliding time window: coins and requests per
    address and overall, so that nobody drains it (each request also costs it a fee).
    `clock` (seconds) is injectable for tests."""

    def __init__(self, window: float = FAUCET_WINDOW, per_address: int = FAUCET_ADDRESS_LIMIT,
                 total: int = FAUCET_TOTAL_LIMIT,
                 address_requests: int = FAUCET_ADDRESS_REQUESTS,
                 total_requests: int = FAUCET_TOTAL_REQUESTS,
                 clock: Callable[[], float] = time.monotonic):
        self.window, self.per_address, self.total = window, per_address, total
        self.address_requests, self.total_requests = address_requests, total_requests
        self.clock = clock
        self._grants: deque = deque()       # [time, address or None, amount], oldest first
        self._given = 0
        self._by_address: dict = {}          # address -> [coins, requests] in the window
        self._lock = threading.Lock()

    def take(self, address: Optional[int], amount: int) -> list:
        """Count a request for `amount` coins to `address` (None: a new account), or raise
        BadRequest(429) saying which limit it would pass and when to try again. The grant
        returned is given back with `refund` if the transfer fails."""
        with self._lock:
            now = self.clock()
            grants = self._grants
            while grants and grants[0][0] <= now - self.window:
                self._forget(grants.popleft())
            mine = self._by_address.get(address, [0, 0]) if address is not None else None
            why = None
            if len(grants) >= self.total_requests:
                why = f"at most {self.total_requests} faucet requests"
            elif self._given + amount > self.total:
                why = f"at most {self.total} coins from the faucet"
            elif mine is not None and mine[1] >= self.address_requests:
                why = f"at most {self.address_requests} faucet requests for #{address}"
            elif mine is not None and mine[0] + amount > self.per_address:
                why = f"at most {self.per_address} coins for #{address}"
            if why is not None:
                wait = max(1, int(grants[0][0] + self.window - now + 1)) if grants else 1
                raise BadRequest(f"Faucet limit: {why} per {self.window:g} s; try again in "
                                 f"{wait} s", 429)
            grant = [now, address, amount]
            grants.append(grant)
            self._given += amount
            if address is not None:
                self._by_address[address] = [mine[0] + amount, mine[1] + 1]
            return grant

    def refund(self, grant: list) -> None:
        """The transfer failed: its coins count no more (the request still does)."""
        with self._lock:
            if grant[2] and grant in self._grants:
                self._given -= grant[2]
                if grant[1] is not None:
                    self._by_address[grant[1]][0] -= grant[2]
                grant[2] = 0

    def _forget(self, grant: list) -> None:
        self._given -= grant[2]
        if grant[1] is not None:
            mine = self._by_address[grant[1]]
            mine[0] -= grant[2]
            mine[1] -= 1
            if not mine[1]:
                del self._by_address[grant[1]]


# --- the handlers ------------------------------------------------------------------------------

class Api:
    """The endpoints as methods taking parsed JSON and returning (status, body)."""

    def __init__(self, peer: Peer, max_source: int = MAX_SOURCE,
                 faucet_limits: Optional[FaucetLimits] = None):
        self.peer = peer
        self.max_source = max_source
        self.faucet_limits = faucet_limits or FaucetLimits()

    # POST /createAccount
    def create_account(self, body: dict) -> tuple:
        if not self.peer.faucet_enabled:
            return 403, {"error": "Faucet use not authorised on this server"}
        key = parse_hex(body.get("accountKey"), "accountKey", 32)
        amount = body.get("faucet")
        k = "0x" + key.hex()
        if amount is not None:
            amount = parse_amount(amount, "faucet", self.peer.faucet_max, zero=True)
        if amount:
            src = f"(let [a (create-account {k})] (transfer a {amount}) a)"
        else:
            src = f"(create-account {k})"
        grant = self.faucet_limits.take(None, amount or 0)
        from lisp import read
        r = self.peer.run_as_faucet(read(src))
        if r.error is not None or type(r.value) is not Address:
            self.faucet_limits.refund(grant)
            return 200, result_json(r)
        return 200, {"address": r.value.n}

    # POST /faucet
    def faucet(self, body: dict) -> tuple:
        if not self.peer.faucet_enabled:
            return 403, {"error": "Faucet use not authorised on this server"}
        if body.get("address") is None:
            raise BadRequest("Missing address")
        n = parse_address(body.get("address"))
        if body.get("amount") is None:
            raise BadRequest("Missing amount")
        amount = parse_amount(body.get("amount"), "amount", self.peer.faucet_max)
        grant = self.faucet_limits.take(n, amount)
        from lisp import read
        r = self.peer.run_as_faucet(read(f"(transfer #{n} {amount})"))
        if r.error is not None:
            self.faucet_limits.refund(grant)
            rj = result_json(r)
            return status_for(rj), rj
        out = dict(body)
        out.update(address=n, amount=amount, value=amount)
        return 200, out

    # POST /query
    def query(self, body: dict) -> tuple:
        form = read_source(body.get("source"), self.max_source)
        a = body.get("address")
        n = None if a is None else parse_address(a)
        if body.get("block") is None:
            return 200, result_json(self.peer.query(form, n))
        # an extension: the query runs on the state after block `block`, which peers keep
        b = parse_int(body["block"], "block")
        from kernel.data.cell import MissingData
        try:
            state = self.peer.state_at(b)
        except MissingData:
            raise BadRequest(f"The state after block {b} was pruned (--keep-states)", 404)
        if state is None:
            raise BadRequest(f"No state after block {b}: the peer has {self.peer.block_count} "
                           "blocks", 404)
        return 200, result_json(self.peer.query(form, n, state=state))

    # POST /transaction/prepare
    def prepare(self, body: dict) -> tuple:
        if body.get("address") is None:
            raise BadRequest("Missing address")
        n = parse_address(body.get("address"))
        src = body.get("source")
        form = read_source(src, self.max_source)
        seq = body.get("sequence")
        if seq is None:
            cur = self.peer.sequence(n)
            if cur is None:
                return 200, result_json(error_result(
                    "NOBODY", f"Account #{n} does not exist", Keyword("PEER")))
            seq = cur + 1
        else:
            seq = parse_int(seq, "sequence")
            if seq < 0:
                raise BadRequest("Invalid sequence: negative")
        tx = Invoke.create(n, seq, form)
        self.peer.remember(tx)
        return 200, {"address": n, "source": src, "sequence": seq,
                     "hash": write_ref(tx).hex(), "data": encode_multi(tx).hex()}

    # POST /transaction/submit
    def submit(self, body: dict) -> tuple:
        ref = parse_hex(body.get("hash"), "hash")
        key = parse_hex(body.get("accountKey"), "accountKey", 32)
        sig = parse_hex(body.get("sig"), "sig", 64)
        tx = self._resolve_ref(ref)
        if isinstance(tx, tuple):
            return tx
        if not isinstance(tx, Transaction):
            rj = result_json(error_result("FORMAT", "Not a transaction"))
            return 400, rj
        signed = Signed(key, sig, tx)
        return 200, result_json(self.peer.submit(signed))

    def _resolve_ref(self, ref: bytes) -> Any:
        missing = result_json(error_result(
            "MISSING", "Missing data for transaction. Possible need to prepare first?"))
        if ref[0] == 0x20:
            if len(ref) != 33:
                raise BadRequest("Invalid hash: a ref is 0x20 and 32 bytes")
            tx = self.peer.lookup(ref[1:])
            if tx is None:
                return 404, missing
        else:
            try:
                tx, end = Decoder(ref, self.peer.resolver()).value(0)
            except (DecodeError, ValueError) as e:
                raise BadRequest(f"Invalid hash: not a transaction encoding ({e})") from None
            if end != len(ref):
                raise BadRequest("Invalid hash: trailing bytes after the transaction")
        if has_missing(tx):
            return 404, missing
        return tx

    # POST /transact: {address, source, seed} (the server signs) or raw SignedData
    def transact(self, body: Any, raw: Optional[bytes] = None) -> tuple:
        if raw is not None:
            try:
                signed = decode_multi(raw)
            except (DecodeError, ValueError) as e:
                raise BadRequest(f"Invalid CAD3 data: {e}") from None
            if type(signed) is not Signed or has_missing(signed):
                rj = result_json(error_result("FORMAT", "Not a complete signed transaction"))
                return 400, rj
            return 200, result_json(self.peer.submit(signed))
        if body.get("address") is None:
            raise BadRequest("Missing address")
        n = parse_address(body.get("address"))
        form = read_source(body.get("source"), self.max_source)
        seed = parse_hex(body.get("seed"), "seed", 32)
        cur = self.peer.sequence(n)
        if cur is None:
            return 200, result_json(error_result("NOBODY", f"Account #{n} does not exist"))
        from kernel.state.transactions import sign
        signed = sign(seed, Invoke.create(n, cur + 1, form))
        return 200, result_json(self.peer.submit(signed))

    # GET /accounts/{address}
    def account(self, text: str) -> tuple:
        n = parse_address(text)
        info = self.peer.account(n)
        if info is None:
            return 404, {"errorCode": "NOBODY", "value": "The Account requested does not exist.",
                         "error": "The Account requested does not exist."}
        return 200, info

    def status(self) -> tuple:
        return 200, self.peer.status()

    def health(self) -> tuple:
        h = health(self.peer)
        return (200 if h["healthy"] else 503), h

    def tx(self, query: dict) -> tuple:
        h = parse_hex((query.get("hash") or [None])[0], "hash", 32)
        loc = self.peer.tx_location(h)
        if loc is None:
            return 404, {"error": "Transaction not found"}
        results = self.peer.block_results(loc[0])
        out: dict = {"tx": "0x" + h.hex(), "position": list(loc)}
        if results is not None and loc[1] < len(results):
            out["result"] = result_json(results[loc[1]])
        return 200, out

    def blocks(self, query: dict) -> tuple:
        offset = parse_int((query.get("offset") or ["0"])[0], "offset")
        limit = parse_int((query.get("limit") or ["100"])[0], "limit")
        if offset < 0 or not 1 <= limit <= 1000:
            raise BadRequest("offset must be >= 0 and limit 1 to 1000")
        items = self._with_hashes(self.peer.blocks(offset, limit))
        return 200, {"count": self.peer.block_count, "offset": offset, "items": items}

    def block(self, text: str) -> tuple:
        n = parse_int(text, "block number")
        items = self.peer.blocks(n, 1) if n >= 0 else []
        if not items:
            return 404, {"error": f"No block {n}"}
        return 200, self._with_hashes(items)[0]

    def _with_hashes(self, items: list) -> list:
        """Block summaries with the value IDs of the state after each block and of its
        results (`state`, `results`), from the store's block table or the kept values."""
        store = getattr(self.peer, "store", None)
        rows: dict = {}
        if store is not None and items:
            rows = {r[0]: r for r in store.blocks(items[0]["index"], len(items))}
        out = []
        for b in items:
            d = _public(b)
            r = rows.get(b["index"])
            if r is not None:
                d["state"], d["results"] = "0x" + r[3].hex(), "0x" + r[2].hex()
            else:
                for key in ("state", "results"):
                    v = b.get("_" + key)
                    if v is not None:
                        d[key] = "0x" + v.value_id().hex()
            out.append(d)
        return out

    def cells(self, body: dict) -> tuple:
        """POST /data/cells {"hashes": [hex...]}: each cell's own encoding (its branches by
        reference), or null: a value fetched cell by cell, skipping what the caller has."""
        hashes = body.get("hashes")
        if not isinstance(hashes, list) or not 1 <= len(hashes) <= 1000:
            raise BadRequest("hashes must be a list of 1 to 1000 hex value IDs")
        from kernel.data.cell import encoding
        out = []
        for text in hashes:
            h = parse_hex(text, "hash", 32)
            store = getattr(self.peer, "store", None)
            enc = store.raw(h) if store is not None else None
            if enc is None:
                v = self._state_cell(h)
                enc = None if v is None else encoding(v)
            out.append(None if enc is None else enc.hex())
        return 200, {"cells": out}

    def _state_cell(self, h: bytes) -> Any:
        """A branch cell of the current state (a peer without a store), by value ID."""
        from kernel.data.cell import Cell, is_branch
        state = self.peer.state
        sid = state.value_id()
        index = getattr(self, "_cell_index", None)
        if index is None or index[0] != sid:
            cells, stack = {sid: state}, [state]
            while stack:
                c = stack.pop()
                for x in (c.children() if isinstance(c, Cell) else ()):
                    if not isinstance(x, Cell):
                        continue
                    if not is_branch(x):            # embedded: its refs are branches too
                        stack.append(x)
                        continue
                    k = x.value_id()
                    if k not in cells:
                        cells[k] = x
                        stack.append(x)
            index = self._cell_index = (sid, cells)
        return index[1].get(h)

    def data(self, text: str) -> tuple:
        h = parse_hex(text, "hash", 32)
        v = self.peer.lookup(h)
        if v is None:
            return 404, {"error": "No data for this hash"}
        return 200, {"hash": "0x" + h.hex(), "cvx": printed(v)[0],
                     "cad3": encode_multi(v).hex()}

    def data_encode(self, body: dict) -> tuple:
        from kernel.data.cell import encoding, value_id
        from lisp import ReaderError, read
        src = check_source(body.get("data"), self.max_source, "data")
        try:
            v = read(src)
        except ReaderError as e:
            raise BadRequest(f"Could not parse data: {e}") from None
        return 200, {"cad3": encoding(v).hex(), "hash": value_id(v).hex()}

    def data_decode(self, body: dict) -> tuple:
        b = parse_hex(body.get("cad3"), "cad3")
        try:
            v = decode_multi(b)
        except (DecodeError, ValueError) as e:
            raise BadRequest(f"Invalid CAD3 data: {e}") from None
        return 200, {"cvx": printed(v)[0]}


LAG_LIMIT_MS = 10_000          # blocks pending and none final for this long: degraded


def health(peer: Any) -> dict:
    """GET /health, for monitoring. `status` is "halted" (the peer stopped confirming:
    consensus safety), "degraded" (cut off: it reaches at most 2/3 of the stake, so it
    confirms nothing; or some stake is out of reach, or blocks have waited more than
    LAG_LIMIT_MS to be final) or "ok"; `healthy` (HTTP 200, else 503) is false exactly when
    the peer is halted or cut off. A cluster peer's numbers are its status()'s; a lone peer
    is its whole network."""
    from kernel.consensus.cpos import stakes_of
    s = peer.status()
    now = int(time.time() * 1000)
    halted = s.get("halted")
    consensus = bool(s.get("consensus", True)) and halted is None
    total = s.get("total-stake")
    if total is None:                   # a lone peer: every stake is its own
        total = sum(stakes_of(peer.state).values())
    live = s.get("live-stake", total)
    final, known = s["consensus-point"], s["block-point"]
    last = s.get("timestamp")           # the consensus state's: its last final block's time
    since = None if not final or last is None else max(0, now - last)
    conns = [c for c in list(getattr(peer, "conns", ())) if c.peer_key and not c.closed]
    lag = known - final
    if halted is not None:
        status, reason = "halted", f"consensus safety: {halted}"
    elif not consensus:
        status = "degraded"
        reason = (f"cut off: it reaches {100 * live // max(1, total)}% of the stake, "
                  "consensus needs more than 2/3")
    elif lag > 0 and since is not None and since > LAG_LIMIT_MS:
        status, reason = "degraded", f"{lag} blocks not final for {since // 1000} s"
    elif live < total:
        status, reason = "degraded", f"{100 * (total - live) // max(1, total)}% of the " \
                                     "stake out of reach"
    else:
        status, reason = "ok", None
    return {"status": status, "healthy": status == "ok" or (status == "degraded"
                                                             and consensus),
            "reason": reason, "consensus": consensus, "halted": halted,
            "consensus-point": final, "block-point": known, "lag-blocks": lag,
            "since-final-ms": since, "last-block-time": last if final else None,
            "connected-stake": live, "total-stake": total,
            "stake-fraction": round(live / total, 6) if total else None,
            "peers-connected": len({c.peer_key for c in conns}),
            "peers": s.get("peers", 1), "timestamp": now}


def _public(b: dict) -> dict:
    return {k: v for k, v in b.items() if not k.startswith("_")}


# --- routes ------------------------------------------------------------------------------------

class RestHandler(Handler):
    """The HTTP handler of the REST API: routes a request to its Api method."""

    api: Api  # set on the subclass made for each server

    def _route(self, method: str, raw: bytes) -> tuple:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        api = self.api
        if method == "POST":
            if path == API + "/transact" and "cvx-raw" in (self.headers.get("Content-Type")
                                                            or ""):
                return api.transact(None, raw)
            routes = {"/createAccount": api.create_account, "/faucet": api.faucet,
                      "/query": api.query, "/transaction/prepare": api.prepare,
                      "/transaction/submit": api.submit, "/transact": api.transact,
                      "/data/encode": api.data_encode, "/data/decode": api.data_decode,
                      "/data/cells": api.cells}
            if path.startswith(API) and path[len(API):] in routes:
                return routes[path[len(API):]](self._json(raw))
            if path.startswith(API):
                return 404, {"error": f"No such endpoint: POST {path}"}
            return 404, {"error": f"Not found: {path}"}
        q = parse_qs(url.query)
        if path in ("/openapi", "/openapi.json", API + "/openapi"):
            return 200, openapi(self.server.server_address)
        if path == API + "/status":
            return api.status()
        if path == API + "/health":
            return api.health()
        if path == API + "/tx":
            return api.tx(q)
        if path == API + "/blocks":
            return api.blocks(q)
        m = re.fullmatch(API + r"/(accounts|blocks|data)/([^/]+)", path)
        if m:
            kind, arg = m.groups()
            arg = unquote(arg)
            return {"accounts": api.account, "blocks": api.block, "data": api.data}[kind](arg)
        if path == "/":
            return 200, {"name": "convex-repl local peer", "api": API, "openapi": "/openapi"}
        return 404, {"error": f"Not found: {path}"}


class RestServer:
    """The REST API of a peer, served on its own threads."""

    def __init__(self, peer: Peer, host: str = "127.0.0.1", port: int = 0,
                 verbose: bool = False, max_connections: int = REST_MAX_CONNECTIONS,
                 timeout: float = REST_TIMEOUT, max_source: int = MAX_SOURCE,
                 faucet_limits: Optional[FaucetLimits] = None,
                 idle_timeout: float = REST_IDLE_TIMEOUT):
        handler = type("BoundHandler", (RestHandler,),
                       {"api": Api(peer, max_source, faucet_limits)})
        self.peer = peer
        self.httpd = Server((host, port), handler, max_connections, timeout, idle_timeout)
        self.httpd.verbose = verbose
        self._thread: Optional[threading.Thread] = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        host = self.httpd.server_address[0]
        return f"http://{host}:{self.port}"

    def start(self) -> "RestServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.2}, name="rest", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.httpd.close_all()
        if self._thread is not None:
            self._thread.join(5)


__all__ = ["RestServer", "Api", "FaucetLimits", "BadRequest", "openapi", "status_for", "health",
           "REST_MAX_CONNECTIONS", "REST_TIMEOUT", "REST_IDLE_TIMEOUT"]
