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
"""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Optional
from urllib.parse import parse_qs, urlsplit

from kernel.cell import DecodeError, write_ref
from kernel.decoding import Decoder, decode_multi, encode_multi
from kernel.records import Signed
from kernel.scalars import Address, Keyword
from kernel.transactions import Invoke, Transaction

from .jsonval import result_json
from .peer import Peer, error_result, has_missing

MAX_BODY = 5_000_000
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


def read_source(v: Any, what: str = "source") -> Any:
    """The one form a source string holds (several are run in order, as `do`)."""
    from lisp import ReaderError, read_all
    from kernel.scalars import Symbol
    from kernel.vectors import List

    if not isinstance(v, str):
        raise BadRequest(f"Missing or invalid {what}: expected a string of Convex Lisp")
    try:
        forms = read_all(v)
    except ReaderError as e:
        raise BadRequest(f"Could not parse source code: {e}") from None
    except RecursionError:
        raise BadRequest("Could not parse source code: nested too deeply") from None
    if not forms:
        raise BadRequest("Could not parse source code: no form")
    if len(forms) == 1:
        return forms[0]
    return List.from_seq([Symbol("do")] + list(forms))


# --- the handlers ------------------------------------------------------------------------------

class Api:
    """The endpoints as methods taking parsed JSON and returning (status, body)."""

    def __init__(self, peer: Peer):
        self.peer = peer

    # POST /createAccount
    def create_account(self, body: dict) -> tuple:
        if not self.peer.faucet_enabled:
            return 403, {"error": "Faucet use not authorised on this server"}
        key = parse_hex(body.get("accountKey"), "accountKey", 32)
        amount = body.get("faucet")
        k = "0x" + key.hex()
        if amount is not None:
            amount = min(parse_int(amount, "faucet"), self.peer.faucet_max)
            src = f"(let [a (create-account {k})] (transfer a {amount}) a)"
        else:
            src = f"(create-account {k})"
        from lisp import read
        r = self.peer.run_as_faucet(read(src))
        if r.error is not None or type(r.value) is not Address:
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
        amount = parse_int(body.get("amount"), "amount")
        amount = min(amount, self.peer.faucet_max)
        from lisp import read
        r = self.peer.run_as_faucet(read(f"(transfer #{n} {amount})"))
        if r.error is not None:
            rj = result_json(r)
            return status_for(rj), rj
        out = dict(body)
        out.update(address=n, amount=amount, value=amount)
        return 200, out

    # POST /query
    def query(self, body: dict) -> tuple:
        form = read_source(body.get("source"))
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
        form = read_source(src)
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
        form = read_source(body.get("source"))
        seed = parse_hex(body.get("seed"), "seed", 32)
        cur = self.peer.sequence(n)
        if cur is None:
            return 200, result_json(error_result("NOBODY", f"Account #{n} does not exist"))
        from kernel.transactions import sign
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
        from lisp.printer import print_value
        return 200, {"hash": "0x" + h.hex(), "cvx": print_value(v),
                     "cad3": encode_multi(v).hex()}

    def data_encode(self, body: dict) -> tuple:
        from kernel.cell import encoding, value_id
        from lisp import ReaderError, read
        src = body.get("data")
        if not isinstance(src, str):
            raise BadRequest("Missing data: expected Convex Lisp text")
        try:
            v = read(src)
        except ReaderError as e:
            raise BadRequest(f"Could not parse data: {e}") from None
        return 200, {"cad3": encoding(v).hex(), "hash": value_id(v).hex()}

    def data_decode(self, body: dict) -> tuple:
        from lisp.printer import print_value
        b = parse_hex(body.get("cad3"), "cad3")
        try:
            v = decode_multi(b)
        except (DecodeError, ValueError) as e:
            raise BadRequest(f"Invalid CAD3 data: {e}") from None
        return 200, {"cvx": print_value(v)}


def _public(b: dict) -> dict:
    return {k: v for k, v in b.items() if not k.startswith("_")}


# --- HTTP --------------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    server_version = "convex-repl-peer/0.1"
    protocol_version = "HTTP/1.1"
    api: Api  # set on the subclass made for each server

    def log_message(self, fmt: str, *args: Any) -> None:   # quiet by default
        if getattr(self.server, "verbose", False):
            super().log_message(fmt, *args)

    def _send(self, status: int, body: Any, ctype: str = "application/json") -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Access-Control-Allow-Origin", "*")
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
                raise BadRequest("Chunked bodies are not supported", 411)
            return b""
        try:
            n = int(n)
        except ValueError:
            raise BadRequest("Invalid Content-Length") from None
        if n < 0:
            raise BadRequest("Invalid Content-Length")
        if n > MAX_BODY:
            self.close_connection = True
            raise BadRequest(f"Request body too large ({n} bytes, at most {MAX_BODY})", 413)
        return self.rfile.read(n)

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
            status, body = self._route(method)
        except BadRequest as e:
            status, body = e.status, {"error": str(e), **e.extra}
        except Exception as e:              # a bug: 500, plain text, the server carries on
            self._send(500, f"Internal error: {type(e).__name__}: {e}".encode(),
                       "text/plain; charset=utf-8")
            return
        if isinstance(body, tuple):          # (bytes, content type)
            self._send(status, body[0], body[1])
        else:
            self._send(status, body)

    def _route(self, method: str) -> tuple:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        api = self.api
        if method == "POST":
            raw = self._body()
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
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    verbose = False


class RestServer:
    """The REST API of a peer, served on its own threads."""

    def __init__(self, peer: Peer, host: str = "127.0.0.1", port: int = 0,
                 verbose: bool = False):
        handler = type("BoundHandler", (Handler,), {"api": Api(peer)})
        self.peer = peer
        self.httpd = _Server((host, port), handler)
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


__all__ = ["RestServer", "Api", "openapi", "status_for"]
