"""The Convex REST API of a local peer (/work/shared/spec/rest-api.md), on the standard
library's ThreadingHTTPServer.

    server = RestServer(peer, host="127.0.0.1", port=0)   # port 0: any free port
    server.start(); server.url                            # "http://127.0.0.1:PORT"
    server.stop()

Endpoints (all under /api/v1): POST createAccount, faucet, query, transaction/prepare,
transaction/submit, transact, data/encode, data/decode; GET accounts/{address}, status,
tx?hash=, blocks, blocks/{n}, data/{hash}. GET /openapi (or /openapi.json) is the OpenAPI
document. Request bodies are parsed as JSON whatever the Content-Type says; `null` counts as
absent. A malformed request gets a 4xx and `{"error": message}` and changes nothing.

Bounds, each a 4xx/503 with `{"error": ...}`: source text of at most `max_source` characters
before the reader runs (MAX_SOURCE); faucet amounts from 1 to the peer's faucet maximum, and
FaucetLimits per address and overall in a time window (429); at most `max_connections`
connections at once (REST_MAX_CONNECTIONS: when full, the one that has waited longest for a
request is closed to make room, or the newcomer gets 503 if every one is being served); a
request must arrive whole within `timeout` seconds of its first byte (REST_TIMEOUT, else 408
or close) and a keep-alive connection may idle REST_IDLE_TIMEOUT. Prepared transactions are
kept in memory only (Peer.remember). A client going away costs no log line.
"""
from __future__ import annotations

import io
import json
import queue
import re
import selectors
import socket
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlsplit

from kernel.data.cell import DecodeError, write_ref
from kernel.data.decoding import Decoder, decode_multi, encode_multi
from kernel.data.records import Signed
from kernel.data.scalars import Address, Keyword
from kernel.state.transactions import Invoke, Transaction

from convex_repl.peer.jsonval import printed, result_json
from convex_repl.peer.peer import GOLD, Peer, error_result, has_missing, log_event

MAX_BODY = 5_000_000
MAX_SOURCE = 100_000            # characters of source per request: ~1 s of reader at most
REST_MAX_CONNECTIONS = 256      # connections (threads) at once
REST_TIMEOUT = 10.0             # seconds for a request to arrive whole once begun
REST_IDLE_TIMEOUT = 30.0        # seconds a keep-alive connection may wait for its next request
LOBBY_GRACE = 2.0               # seconds a newcomer may take to send its request when full
FAUCET_WINDOW = 3600.0          # seconds over which the faucet limits below count
FAUCET_ADDRESS_LIMIT = 100 * GOLD       # coins one address may get per window
FAUCET_TOTAL_LIMIT = 10_000 * GOLD      # coins the faucet gives per window
FAUCET_ADDRESS_REQUESTS = 100   # requests for one address per window
FAUCET_TOTAL_REQUESTS = 10_000  # faucet and createAccount requests per window
API = "/api/v1"
MAX_ADDRESS = (1 << 63) - 1


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400, extra: Optional[dict] = None):
        super().__init__(message)
        self.status, self.extra = status, extra or {}


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
        state = self.peer.state_at(b)
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
        items = [_public(b) for b in self.peer.blocks(offset, limit)]
        return 200, {"count": self.peer.block_count, "offset": offset, "items": items}

    def block(self, text: str) -> tuple:
        n = parse_int(text, "block number")
        items = self.peer.blocks(n, 1) if n >= 0 else []
        if not items:
            return 404, {"error": f"No block {n}"}
        return 200, _public(items[0])

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


def _public(b: dict) -> dict:
    return {k: v for k, v in b.items() if not k.startswith("_")}


# --- HTTP --------------------------------------------------------------------------------------

class ClientGone(Exception):
    """The client closed its connection (or was closed) before its request was whole."""


def _busy_response(message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    return (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)) + body


class _TimedReader(io.RawIOBase):
    """A connection's request stream: while idle it waits at most REST_IDLE_TIMEOUT for a
    request, and a request must arrive whole within the server's timeout of its first
    byte, however slowly it trickles in (slowloris)."""

    def __init__(self, handler: "Handler", pre: bytes = b""):
        self.h = handler
        self.pre = pre                      # what the lobby read already

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        h = self.h
        if self.pre:
            n = min(len(b), len(self.pre))
            b[:n], self.pre = self.pre[:n], self.pre[n:]
            if h.phase == "idle":
                h.server.enter(h, "reading")
            return n
        if h.phase == "idle":
            left = h.server.idle_timeout
        else:
            left = h.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("request not received in time")
        h.connection.settimeout(left)
        n = h.connection.recv_into(b)
        if n and h.phase == "idle":
            h.server.enter(h, "reading")
        return n


class Handler(BaseHTTPRequestHandler):
    server_version = "convex-repl-peer/0.1"
    protocol_version = "HTTP/1.1"
    api: Api  # set on the subclass made for each server
    phase = "idle"          # idle (between requests), reading (a request), busy, evicted
    since = 0.0             # when it entered its phase
    deadline = 0.0          # when the request being read must be whole

    def setup(self) -> None:
        super().setup()
        self.rfile.close()                  # the socket's own file: ours times requests
        self.rfile = io.BufferedReader(_TimedReader(self, self.server.register(self)))

    def handle_one_request(self) -> None:
        if not self.server.enter(self, "idle"):
            self.close_connection = True
            return
        super().handle_one_request()

    def log_message(self, fmt: str, *args: Any) -> None:   # quiet by default
        if getattr(self.server, "verbose", False):
            super().log_message(fmt, *args)

    def _send(self, status: int, body: Any, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.connection.settimeout(self.server.read_timeout)     # a client must read its answer
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _body(self) -> bytes:
        n = self.headers.get("Content-Length")
        if n is None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                self.close_connection = True
                raise BadRequest("Chunked bodies are not supported", 411)
            return b""
        try:
            n = int(n)
        except ValueError:
            self.close_connection = True
            raise BadRequest("Invalid Content-Length") from None
        if n < 0:
            self.close_connection = True
            raise BadRequest("Invalid Content-Length")
        if n > MAX_BODY:
            self.close_connection = True
            raise BadRequest(f"Request body too large ({n} bytes, at most {MAX_BODY})", 413)
        try:
            data = self.rfile.read(n)
        except TimeoutError:
            self.close_connection = True
            raise BadRequest(f"Request body not received within {self.server.read_timeout:g} s",
                             408) from None
        except OSError:
            raise ClientGone() from None
        if len(data) < n:
            raise ClientGone()
        return data

    def _json(self, raw: bytes) -> dict:
        if not raw.strip():
            raise BadRequest("Empty request body: expected a JSON object")
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError) as e:
            raise BadRequest(f"Invalid JSON: {e}") from None
        if not isinstance(body, dict):
            raise BadRequest("Expected a JSON object")
        return body

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        try:
            raw = self._body() if method == "POST" else b""
            if not self.server.enter(self, "busy"):
                raise ClientGone()
            status, body = self._route(method, raw)
        except ClientGone:
            self.close_connection = True
            if self.phase != "evicted":
                self.server.client_gone(self, "in the middle of its request")
            return
        except BadRequest as e:
            status, body = e.status, {"error": str(e), **e.extra}
        except Exception as e:              # a bug: 500, plain text, the server carries on
            status, body = 500, (f"Internal error: {type(e).__name__}: {e}".encode(),
                                 "text/plain; charset=utf-8")
        try:
            if isinstance(body, tuple):          # (bytes, content type)
                self._send(status, body[0], body[1])
            else:
                self._send(status, body)
        except OSError as e:                # gone, or not reading its answer
            self.close_connection = True
            self.server.client_gone(self, f"before its answer ({type(e).__name__})")

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
                      "/data/encode": api.data_encode, "/data/decode": api.data_decode}
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
        if path == API + "/tx":
            return api.tx(q)
        if path == API + "/blocks":
            return api.blocks(q)
        m = re.fullmatch(API + r"/(accounts|blocks|data)/([^/]+)", path)
        if m:
            kind, arg = m.groups()
            from urllib.parse import unquote
            arg = unquote(arg)
            return {"accounts": api.account, "blocks": api.block, "data": api.data}[kind](arg)
        if path == "/":
            return 200, {"name": "convex-repl local peer", "api": API, "openapi": "/openapi"}
        return 404, {"error": f"Not found: {path}"}


class _Server(ThreadingHTTPServer):
    """Bounded: at most `max_connections` connections (threads) at once. When full, a new
    connection whose request has arrived whole makes room by closing the one that has
    waited longest for a request (idle or still reading one: a served request is never
    cut); it gets 503 if every one is being served, and so does one whose request is not
    there yet."""

    daemon_threads = True
    block_on_close = False              # stop() closes connections instead of waiting
    allow_reuse_address = True
    request_queue_size = 128
    verbose = False

    def __init__(self, address: tuple, handler: type, max_connections: int, timeout: float,
                 idle_timeout: float = REST_IDLE_TIMEOUT):
        self.max_connections = max_connections
        self.read_timeout = timeout
        self.idle_timeout = idle_timeout
        self.count = 0                  # connections being served (threads)
        self.live: dict = {}            # socket -> its Handler, once set up
        self.preread: dict = {}         # socket -> request bytes the lobby read
        self.lock = threading.Lock()
        super().__init__(address, handler)
        self.lobby = _Lobby(self, 4 * max_connections, min(timeout, LOBBY_GRACE))

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            room = self.count < self.max_connections
            if room:
                self.count += 1
        if room:
            self._serve(request, client_address)
        elif not self.lobby.add(request, client_address):
            self.refuse(request, client_address)

    def admit(self, request: Any, client_address: Any, pre: bytes) -> None:
        """A newcomer whose request head has arrived (`pre`, read by the lobby) while the
        server was full: it takes the place of the connection waiting longest."""
        with self.lock:
            room = self.count < self.max_connections or self._evict()
            if room:
                self.count += 1
                self.preread[request] = pre
        if room:
            self._serve(request, client_address)
        else:
            self.refuse(request, client_address)

    def refuse(self, request: Any, client_address: Any, why: str = "") -> None:
        log_event("rest-connections", f"refused a REST connection from {client_address[0]}: "
                  f"{why or f'{self.max_connections} connections busy'}")
        _send_quietly(request, _busy_response("Server busy: too many connections"))
        self.shutdown_request(request)

    def _serve(self, request: Any, client_address: Any) -> None:
        """A thread for the connection (counted already)."""
        try:
            super().process_request(request, client_address)
        except Exception as e:          # no thread for it: it is not served
            self._done(request)
            self.refuse(request, client_address, f"{type(e).__name__}: {e}")

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._done(request)

    def _done(self, request: Any) -> None:
        with self.lock:
            self.count -= 1
            self.live.pop(request, None)
            self.preread.pop(request, None)

    def register(self, h: Handler) -> bytes:
        """Track h; the bytes of its request the lobby read already."""
        with self.lock:
            self.live[h.request] = h
            h.since = time.monotonic()
            return self.preread.pop(h.request, b"")

    def enter(self, h: Handler, phase: str) -> bool:
        """Move h to `phase`; False if it was closed to make room meanwhile."""
        with self.lock:
            if h.phase == "evicted":
                return False
            h.phase, h.since = phase, time.monotonic()
            if phase == "reading":
                h.deadline = h.since + self.read_timeout
            return True

    def _evict(self) -> bool:
        """Close the connection waiting longest for its request (under self.lock)."""
        waiting = [h for h in self.live.values() if h.phase in ("idle", "reading")]
        if not waiting:
            return False
        h = min(waiting, key=lambda x: x.since)
        log_event("rest-evicted", f"closed a REST connection from {h.client_address[0]} that "
                  f"had waited {time.monotonic() - h.since:.1f} s for its request: "
                  f"{self.max_connections} connections open")
        if h.phase == "reading":
            _send_quietly(h.request, _busy_response(
                "Server busy: request not received in time, connection closed"))
        h.phase = "evicted"                # its thread ends at once, and _done forgets it
        try:
            h.request.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        return True

    def close_all(self) -> None:
        self.lobby.stop()
        with self.lock:
            for h in self.live.values():
                h.phase = "evicted"
                try:
                    h.request.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def client_gone(self, h: Handler, when: str) -> None:
        """One line for a client that disconnected before it had its answer."""
        a = h.client_address
        log_event("rest-gone", f"REST client {a[0]}:{a[1]} disconnected {when}")

    def handle_error(self, request: Any, client_address: Any) -> None:
        """What escaped a handler is one line, never a traceback: a client disconnecting
        (reset) or a bug."""
        e = sys.exc_info()[1]
        if isinstance(e, OSError):
            with self.lock:
                h = self.live.get(request)
            if isinstance(e, TimeoutError):
                log_event("rest-timeout", f"closed a REST connection from {client_address[0]}: "
                          f"request not received within {self.read_timeout:g} s")
            elif h is None or h.phase != "evicted":
                log_event("rest-gone", f"REST client {client_address[0]}:{client_address[1]} "
                          f"disconnected ({type(e).__name__})")
            return
        log_event("rest-error", f"REST request from {client_address[0]} failed: "
                  f"{type(e).__name__}: {e}")


class _Lobby:
    """Where newcomers wait, without a thread, while every connection is taken: one whose
    request head (up to the blank line) arrives within `grace` seconds is admitted, making
    room by closing the connection waiting longest; one trickling its request in
    (slowloris) gets 503 once `grace` has passed, and never a thread. At most `capacity`
    wait; past that a newcomer gets 503 at once. One thread, started when first needed."""

    HEAD = 16384                        # bytes of request head read here at most

    def __init__(self, server: "_Server", capacity: int, grace: float):
        self.server, self.capacity, self.grace = server, capacity, grace
        self.incoming: queue.SimpleQueue = queue.SimpleQueue()
        self.n = 0                      # waiting, or on their way in
        self.lock = threading.Lock()
        self.thread: Optional[threading.Thread] = None
        self.stopped = False

    def add(self, sock: Any, addr: Any) -> bool:
        with self.lock:
            if self.stopped or self.n >= self.capacity:
                return False
            self.n += 1
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="rest-lobby",
                                               daemon=True)
                self.thread.start()
        self.incoming.put((sock, addr))
        return True

    def stop(self) -> None:
        with self.lock:
            self.stopped = True
        self.incoming.put(None)

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        waiting: dict = {}              # socket -> [address, deadline, bytes so far]

        def drop(sock: Any, refuse: str = "") -> None:
            addr = waiting.pop(sock)[0]
            sel.unregister(sock)
            with self.lock:
                self.n -= 1
            if refuse:
                self.server.refuse(sock, addr, refuse)
            else:
                self.server.shutdown_request(sock)

        while True:
            try:
                item = self.incoming.get(timeout=0.5) if not waiting else \
                    self.incoming.get_nowait()
            except queue.Empty:
                item = ()
            while item != ():
                if item is None:
                    for sock in list(waiting):
                        drop(sock)
                    return
                sock, addr = item
                sock.setblocking(False)
                waiting[sock] = [addr, time.monotonic() + self.grace, b""]
                sel.register(sock, selectors.EVENT_READ)
                try:
                    item = self.incoming.get_nowait()
                except queue.Empty:
                    item = ()
            for key, _ in (sel.select(0.02) if waiting else ()):
                sock = key.fileobj
                w = waiting[sock]
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    drop(sock)
                    continue
                w[2] += data
                if b"\r\n\r\n" in w[2]:
                    waiting.pop(sock)
                    sel.unregister(sock)
                    with self.lock:
                        self.n -= 1
                    sock.setblocking(True)
                    self.server.admit(sock, w[0], w[2])
                elif len(w[2]) > self.HEAD:
                    drop(sock, "request head too long")
            now = time.monotonic()
            for sock in [s for s, w in waiting.items() if w[1] <= now]:
                drop(sock, f"{self.server.max_connections} connections busy, and its "
                           f"request not there within {self.grace:g} s")


def _send_quietly(sock: Any, data: bytes) -> None:
    """Send a short answer without waiting: a client that does not read it gets nothing."""
    try:
        sock.send(data, socket.MSG_DONTWAIT)
    except OSError:
        pass


class RestServer:
    """The REST API of a peer, served on its own threads."""

    def __init__(self, peer: Peer, host: str = "127.0.0.1", port: int = 0,
                 verbose: bool = False, max_connections: int = REST_MAX_CONNECTIONS,
                 timeout: float = REST_TIMEOUT, max_source: int = MAX_SOURCE,
                 faucet_limits: Optional[FaucetLimits] = None,
                 idle_timeout: float = REST_IDLE_TIMEOUT):
        handler = type("BoundHandler", (Handler,), {"api": Api(peer, max_source,
                                                               faucet_limits)})
        self.peer = peer
        self.httpd = _Server((host, port), handler, max_connections, timeout, idle_timeout)
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


# --- OpenAPI -----------------------------------------------------------------------------------

def _obj(props: dict, required: tuple = ()) -> dict:
    d: dict = {"type": "object", "properties": props}
    if required:
        d["required"] = list(required)
    return d


_ADDR = {"oneOf": [{"type": "integer", "minimum": 0}, {"type": "string",
                                                        "example": "#13"}]}
_HEX = {"type": "string", "pattern": "^(0x)?[0-9a-fA-F]*$"}
_RESULT = {"$ref": "#/components/schemas/Result"}
_ERROR = {"$ref": "#/components/schemas/Error"}


def _post(summary: str, req: dict, ok: dict, errors: tuple = (400,)) -> dict:
    responses = {"200": {"description": "OK", "content": {"application/json": {"schema": ok}}}}
    for e in errors:
        responses[str(e)] = {"description": "Error",
                             "content": {"application/json": {"schema": _ERROR}}}
    return {"post": {"summary": summary, "requestBody": {
        "required": True, "content": {"application/json": {"schema": req}}},
        "responses": responses}}


def openapi(addr: Any = None) -> dict:
    """The OpenAPI 3 document of this server."""
    servers = [{"url": f"http://{addr[0]}:{addr[1]}"}] if addr else []
    paths = {
        API + "/createAccount": _post(
            "Create an account for a public key (the faucet account runs create-account)",
            _obj({"accountKey": _HEX, "faucet": {"type": "integer"}}, ("accountKey",)),
            _obj({"address": {"type": "integer"}}), (400, 403)),
        API + "/faucet": _post(
            "Transfer coins from the faucet (capped at the server's faucet maximum)",
            _obj({"address": _ADDR, "amount": {"type": "integer"}}, ("address", "amount")),
            _obj({"address": {"type": "integer"}, "amount": {"type": "integer"},
                  "value": {"type": "integer"}}), (400, 403, 422)),
        API + "/query": _post(
            "Run Convex Lisp read-only (no fees, nothing kept)",
            _obj({"source": {"type": "string"}, "address": _ADDR}, ("source",)), _RESULT),
        API + "/transaction/prepare": _post(
            "Build an Invoke transaction; sign the bytes of `hash` with Ed25519",
            _obj({"address": _ADDR, "source": {"type": "string"},
                  "sequence": {"type": "integer"}}, ("address", "source")),
            _obj({"address": {"type": "integer"}, "source": {"type": "string"},
                  "sequence": {"type": "integer"}, "hash": _HEX, "data": _HEX})),
        API + "/transaction/submit": _post(
            "Submit a prepared transaction with its signature; the Result once it has run",
            _obj({"hash": _HEX, "accountKey": _HEX, "sig": _HEX, "address": _ADDR},
                 ("hash", "accountKey", "sig")), _RESULT, (400, 404)),
        API + "/transact": _post(
            "Prepare, sign with the given seed and submit in one call (or raw SignedData "
            "as application/cvx-raw)",
            _obj({"address": _ADDR, "source": {"type": "string"}, "seed": _HEX},
                 ("address", "source", "seed")), _RESULT),
        API + "/data/encode": _post("CAD3 encoding of Convex Lisp data",
                                    _obj({"data": {"type": "string"}}, ("data",)),
                                    _obj({"cad3": _HEX, "hash": _HEX})),
        API + "/data/decode": _post("Convex Lisp text of a CAD3 encoding",
                                    _obj({"cad3": _HEX}, ("cad3",)),
                                    _obj({"cvx": {"type": "string"}})),
        API + "/accounts/{address}": {"get": {
            "summary": "An account's balance, sequence, key, allowance and type",
            "parameters": [{"name": "address", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "OK", "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Account"}}}},
                "400": {"description": "Invalid address"},
                "404": {"description": "No such account"}}}},
        API + "/status": {"get": {"summary": "Peer status",
                                  "responses": {"200": {"description": "OK"}}}},
        API + "/tx": {"get": {"summary": "A transaction's position and result by its hash",
                              "parameters": [{"name": "hash", "in": "query", "required": True,
                                              "schema": _HEX}],
                              "responses": {"200": {"description": "OK"},
                                            "404": {"description": "Not found"}}}},
        API + "/blocks": {"get": {"summary": "Blocks, oldest first",
                                  "parameters": [
                                      {"name": "offset", "in": "query",
                                       "schema": {"type": "integer"}},
                                      {"name": "limit", "in": "query",
                                       "schema": {"type": "integer"}}],
                                  "responses": {"200": {"description": "OK"}}}},
        API + "/blocks/{n}": {"get": {"summary": "One block",
                                      "parameters": [{"name": "n", "in": "path",
                                                      "required": True,
                                                      "schema": {"type": "integer"}}],
                                      "responses": {"200": {"description": "OK"},
                                                    "404": {"description": "Not found"}}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Convex REST API (convex-repl local peer)", "version": "1"},
        "servers": servers,
        "paths": paths,
        "components": {"schemas": {
            "Result": _obj({"value": {}, "result": {"type": "string"},
                            "errorCode": {"type": "string"},
                            "info": _obj({"juice": {"type": "integer"},
                                          "fees": {"type": "integer"},
                                          "mem": {"type": "integer"},
                                          "tx": {"type": "string"},
                                          "loc": {"type": "array",
                                                  "items": {"type": "integer"}},
                                          "source": {"type": "string"}})}),
            "Error": _obj({"error": {"type": "string"}}, ("error",)),
            "Account": _obj({"address": {"type": "integer"}, "key": {"type": "string"},
                             "balance": {"type": "integer"}, "allowance": {"type": "integer"},
                             "memorySize": {"type": "integer"}, "sequence": {"type": "integer"},
                             "type": {"type": "string", "enum": ["user", "actor"]}},
                            ("address", "balance", "sequence", "type")),
        }},
    }


__all__ = ["RestServer", "Api", "FaucetLimits", "openapi", "status_for"]
