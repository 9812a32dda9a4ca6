"""A client of a peer's REST API, with the local Session's result types, so the CLI and the
REPL show remote results (values, errors, cost badges) as they show local ones.

    peer = Remote("http://127.0.0.1:8080")
    peer.query("(+ 1 2)", 13)               # api.Result: value, printed, error, juice...
    peer.transact("(def x 1) x", 13, key)   # api.TxResult: fee, memory, sequence, tx_hash...
    peer.account(13)                        # the REST account record, None if absent

Transactions are built and signed here, exactly as Session.transact builds them (one form:
an Invoke; several: a Multi of Invokes in mode ALL, run in order, all or nothing), and sent
as CAD3 SignedData to /api/v1/transact. Signing keys: the given one, else CONVEX_SEED (hex),
else the local genesis key of the account when its public key is one (local networks).

Where the URL comes from: --url, else CONVEX_URL, else the `url` of the profile named by
CONVEX_PROFILE in $CONVEX_HOME/profiles.json ({"local": {"url": ..., "address": 13}}).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Optional

from convex_repl.api import Result, TxResult, read_forms


class _PeerPrinted:
    """`printed` is the peer's printed text when it sent one."""

    _printed: Optional[str] = None

    @property
    def printed(self) -> Optional[str]:
        if self.error is not None:
            return None
        return self._printed if self._printed is not None else _print(self.value)


class RemoteResult(_PeerPrinted, Result):
    """A query's Result from a peer."""


class RemoteTxResult(_PeerPrinted, TxResult):
    """A transaction's TxResult from a peer."""


def _print(v: Any) -> str:
    from convex_repl.api import print_result
    return v.text if isinstance(v, _Printed) else print_result(v)


class RemoteError(Exception):
    """The peer could not be reached, or answered something that is not the REST API."""

    def __init__(self, message: str, status: Optional[int] = None):
        super().__init__(message)
        self.status = status


def resolve_url(url: Optional[str] = None, home: Optional[Path] = None) -> Optional[str]:
    """The peer URL to use: explicit, CONVEX_URL, or CONVEX_PROFILE's; None: local CVM."""
    if url:
        return normalise(url)
    if os.environ.get("CONVEX_URL"):
        return normalise(os.environ["CONVEX_URL"])
    prof = profile()
    return normalise(prof["url"]) if prof and prof.get("url") else None


def profile(name: Optional[str] = None, home: Optional[Path] = None) -> Optional[dict]:
    name = name or os.environ.get("CONVEX_PROFILE")
    if not name:
        return None
    from convex_repl.home import convex_home
    path = (home or convex_home()) / "profiles.json"
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    p = data.get(name)
    return p if isinstance(p, dict) else None


def normalise(url: str) -> str:
    u = url.strip().rstrip("/")
    if "://" not in u:
        u = "http://" + u
    if u.endswith("/api/v1"):
        u = u[: -len("/api/v1")]
    return u


CONNECT_TIMEOUT = 3.0   # seconds to open a TCP connection to a peer
PROBE_TIMEOUT = 5.0     # seconds for a URL's first answer (GET /api/v1/status)
PRICE_TTL = 30.0        # seconds a peer's juice price is remembered


class Remote:
    """The REST API of one peer. The first request to a URL checks, within a few seconds,
    that a Convex REST peer answers there (`check`); anything else (another scheme, nothing
    listening, an HTML or JSON server of another kind, a server that does not speak HTTP) is
    one RemoteError line instead of a long wait or raw bytes."""

    def __init__(self, url: str, timeout: float = 60.0):
        self.url = normalise(url)
        self.timeout = timeout
        self._status: Optional[dict] = None     # the first status the peer sent (check)
        self._price: Optional[tuple] = None     # (juice price, when it was asked)

    # --- HTTP ---------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, raw: Optional[bytes] = None,
                ctype: Optional[str] = None) -> tuple:
        """(status, JSON body) of a request; RemoteError if the URL is not a peer."""
        if self._status is None:
            self.check()
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        status, text, rtype = self._http(method, path, data, ctype, self.timeout)
        return status, self._json(status, text, rtype, path)

    def check(self) -> dict:
        """The peer's status, asked with short timeouts; RemoteError (one line) if what
        answers at the URL is not a Convex REST peer."""
        if self._status is None:
            status, text, rtype = self._http("GET", "/api/v1/status", None, None,
                                             PROBE_TIMEOUT)
            body = self._json(status, text, rtype, "/api/v1/status")
            if status != 200 or not isinstance(body, dict) or "state" not in body:
                raise RemoteError(f"{self.url} is not a Convex REST peer (GET /api/v1/status "
                                  f"answered {status} without a peer status)", status)
            self._status = body
        return self._status

    @property
    def network_id(self) -> Optional[str]:
        """The network's id: its genesis state hash ("0x..."), from the peer's status."""
        return self.check().get("genesis")

    def _http(self, method: str, path: str, data: Optional[bytes], ctype: Optional[str],
              timeout: float) -> tuple:
        """(status, body bytes, content type): connecting within CONNECT_TIMEOUT, then
        waiting at most `timeout` seconds for each read."""
        import http.client
        import socket
        from urllib.parse import urlsplit
        u = urlsplit(self.url)
        if u.scheme not in ("http", "https"):
            raise RemoteError(f"not a peer URL: {self.url} (a Convex REST API is at http:// "
                              "or https://, e.g. http://127.0.0.1:8080)")
        try:
            port = u.port
        except ValueError:
            raise RemoteError(f"not a peer URL: {self.url} (bad port)") from None
        if not u.hostname:
            raise RemoteError(f"not a peer URL: {self.url} (no host)")
        cls = http.client.HTTPSConnection if u.scheme == "https" else http.client.HTTPConnection
        conn = cls(u.hostname, port, timeout=CONNECT_TIMEOUT)
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = ctype or "application/json"
        try:
            try:
                conn.connect()
            except socket.timeout:
                raise RemoteError(f"can't reach the peer at {self.url}: no connection within "
                                  f"{CONNECT_TIMEOUT:g} s") from None
            conn.sock.settimeout(timeout)
            conn.request(method, u.path + path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.getheader("Content-Type") or ""
        except RemoteError:
            raise
        except socket.timeout:
            raise RemoteError(f"no answer from {self.url} within {timeout:g} s"
                              + (": is it a Convex REST peer?" if self._status is None
                                 else "")) from None
        except http.client.HTTPException as e:
            raise RemoteError(f"{self.url} does not answer HTTP ({type(e).__name__}): not a "
                              "Convex REST peer (is this the peer protocol port? the REST "
                              "API is on the peer's --port)") from None
        except OSError as e:
            reason = getattr(e, "strerror", None) or str(e) or type(e).__name__
            if "SSL" in type(e).__name__ or "ssl" in str(e).lower():
                reason = f"TLS failed ({e}); is it http:// rather than https://?"
            raise RemoteError(f"can't reach the peer at {self.url}: {reason}") from None
        finally:
            conn.close()

    def _json(self, status: int, text: bytes, rtype: str, path: str) -> Any:
        try:
            return json.loads(text) if text else None
        except ValueError:
            kind = rtype.split(";")[0].strip() or "text"
            raise RemoteError(f"{self.url} is not a Convex REST peer: {path} answered {status} "
                              f"with {kind}, not JSON", status) from None

    def _ok(self, status: int, body: Any) -> Any:
        if status >= 400 and not (isinstance(body, dict) and "errorCode" in body):
            msg = body.get("error") if isinstance(body, dict) else body
            raise RemoteError(f"the peer refused the request ({status}): {msg}", status)
        return body

    # --- API ----------------------------------------------------------------------------------
    def status(self) -> dict:
        return self._ok(*self.request("GET", "/api/v1/status"))

    def account(self, address: int) -> Optional[dict]:
        st, body = self.request("GET", f"/api/v1/accounts/{address}")
        if st == 404:
            return None
        return self._ok(st, body)

    def query(self, source: str, address: Optional[int] = None,
              block: Optional[int] = None) -> Result:
        """Run `source` read-only on the peer's current state, or the state after `block`."""
        t0 = time.perf_counter()
        body: dict = {"source": source}
        if address is not None:
            body["address"] = address
        if block is not None:
            body["block"] = block
        st, r = self.request("POST", "/api/v1/query", body)
        if st == 400 and isinstance(r, dict) and "Could not parse" in str(r.get("error")):
            from kernel.data.scalars import Keyword
            return RemoteResult(error="SYNTAX", message=r["error"], error_value=Keyword("SYNTAX"),
                          elapsed=time.perf_counter() - t0)
        res = to_result(self._ok(st, r), RemoteResult)
        res.elapsed = time.perf_counter() - t0
        res.juice_price = self.juice_price()
        return res

    def juice_price(self) -> int:
        """The peer's juice price (`*juice-price*` of its state), asked again after
        PRICE_TTL seconds; 0 if the peer would not say."""
        now = time.monotonic()
        if self._price is None or now - self._price[1] > PRICE_TTL:
            st, r = self.request("POST", "/api/v1/query", {"source": "*juice-price*"})
            v = r.get("value") if st == 200 and isinstance(r, dict) else None
            if not isinstance(v, int) or isinstance(v, bool):
                return 0
            self._price = (v, now)
        return self._price[0]

    def estimate(self, source: "str | list", address: int,
                 query_as: Optional[int] = None) -> TxResult:
        """What a transaction of `source` by `address` would cost now, found by running it
        as a query on the peer (nothing is signed or changed): its value or error, the
        execution juice, the peer's juice price and the fee for the juice (execution plus
        the per-transaction juice of the transaction it would be, at that price). Memory
        growth is not known from a query: `memory` is None and the fee leaves it out.
        `query_as` runs the query as another account (one whose rights the transaction
        will have by then), the fee still being that of `address`'s transaction."""
        from kernel.transition.ledger import command_transaction
        from kernel.transition.transaction import transaction_juice
        from lisp import print_value

        forms, acct, bad = self._prepare(source, address)
        if bad is not None:
            return bad
        text = source if isinstance(source, str) else " ".join(print_value(f) for f in forms)
        q = self.query(text, address if query_as is None else query_as)
        tx = command_transaction(_SequenceOnly(address, acct["sequence"]), address,
                                 forms or [None])
        est = RemoteTxResult(value=q.value, error=q.error, message=q.message, juice=q.juice,
                             trace=q.trace, error_value=q.error_value, elapsed=q.elapsed,
                             juice_price=q.juice_price, memory=None, sequence=tx.sequence)
        est._printed = q._printed
        est.fee = (q.juice + transaction_juice(tx)) * q.juice_price
        return est

    def _prepare(self, source: "str | list", address: int) -> tuple:
        """(forms, account info, None) for a transaction of `address`, or (.., .., the error
        result) when the source doesn't read or the account doesn't exist."""
        from kernel.data.scalars import Keyword
        forms, bad = read_forms(source, TxResult)
        if bad is not None:
            return forms, None, bad
        acct = self.account(address)
        if acct is None:
            return forms, None, TxResult(error="NOBODY", error_value=Keyword("NOBODY"),
                                         message=f"Account #{address} does not exist",
                                         source="PEER")
        return forms, acct, None

    def transact(self, source: "str | list", address: int, key: Any = None) -> TxResult:
        """Build, sign and submit a transaction of `address` (see the module doc)."""
        from kernel.data.decoding import encode_multi
        from kernel.transition.ledger import command_transaction
        from kernel.data.scalars import Keyword
        from kernel.state.transactions import sign

        t0 = time.perf_counter()
        forms, acct, bad = self._prepare(source, address)
        if bad is not None:
            return bad
        key = key or self.signing_key(address, acct.get("key"))
        if key is None:
            return TxResult(error="SIGNATURE", message=f"No key for #{address}: sign with "
                            "--key NAME (a stored key) or set CONVEX_SEED to its Ed25519 seed",
                            error_value=Keyword("SIGNATURE"), source="CLIENT")
        tx = command_transaction(_SequenceOnly(address, acct["sequence"]), address,
                                 forms or [None])
        signed = sign(key, tx)
        st, r = self.request("POST", "/api/v1/transact", raw=encode_multi(signed),
                             ctype="application/cvx-raw")
        res = to_result(self._ok(st, r), RemoteTxResult, len(forms) > 1)
        res.sequence = tx.sequence
        res.tx_hash = signed.value_id().hex()
        res.juice_price = self.juice_price()    # the fee is the peer's (info :fees)
        res.elapsed = time.perf_counter() - t0
        return res

    @staticmethod
    def signing_key(address: int, public_key: Optional[str]) -> Any:
        """A key for account #address whose public key is `public_key`: CONVEX_SEED's, else a
        local genesis key (local networks); CONVEX_SEED alone when the public key is not
        known; None if no key we have is the account's."""
        from nacl.signing import SigningKey

        from kernel.transition.ledger import genesis_signing_key
        candidates = []
        seed = os.environ.get("CONVEX_SEED")
        if seed:
            try:
                candidates.append(SigningKey(bytes.fromhex(seed.strip().removeprefix("0x"))))
            except ValueError:
                pass
        if not public_key:
            return candidates[0] if candidates else None
        pk = bytes.fromhex(public_key.removeprefix("0x"))
        candidates += [genesis_signing_key(n) for n in (address, 11, 13)]
        for sk in candidates:
            if bytes(sk.verify_key) == pk:
                return sk
        return None


class _SequenceOnly:
    """Just enough of a State for kernel.transition.ledger.command_transaction."""

    def __init__(self, address: int, sequence: int):
        self._a, self._s = address, sequence

    def account(self, n: int) -> Any:
        return type("A", (), {"sequence": self._s})() if n == self._a else None


def to_result(j: dict, cls: type = None, unwrap: bool = False) -> Any:
    """A REST Result object as an api.Result / TxResult (value read back from its text)."""
    from kernel.data.scalars import Keyword
    info = j.get("info") or {}
    cls = cls or RemoteResult
    r = cls()
    r.juice = info.get("juice") or 0
    if issubclass(cls, TxResult):
        r.fee = info.get("fees") or 0
        r.memory = info.get("mem") or 0
        if info.get("source"):
            r.source = info["source"]
    code = j.get("errorCode")
    if code is not None:
        r.error = code
        r.error_value = Keyword(code)
        r.message = None if j.get("value") is None else str(j.get("value"))
        r.trace = [str(t) for t in info.get("trace") or []]
        if unwrap and code == "CHILD":
            _unwrap_child(r, j)
        return r
    text = j.get("result")
    r.value = _read_back(text, j.get("value"))
    r._printed = text
    if unwrap:
        try:
            r.value = _fields(r.value[len(r.value) - 1])[1]     # the last form's Result
            r._printed = None
        except Exception:
            pass
    return r


def _unwrap_child(r: Any, j: dict) -> None:
    """A failed Multi: the failing form's code and message, as Session.transact reports."""
    from lisp import read
    try:
        results = read(j.get("value") or "")
        _id, value, error = _fields(results[len(results) - 1])[:3]
        if error is not None:
            r.error = error.name
            r.error_value = error
            r.message = _display(value)
    except Exception:
        pass


def _fields(x: Any) -> tuple:
    """(id, result, error, log, info) of a Result record, also one read back from text."""
    vals = getattr(x, "values", None)
    if vals is not None and len(vals) == 5:
        return tuple(vals)
    return (x.id, x.value, x.error, x.log, x.info)


def _display(v: Any) -> Optional[str]:
    from kernel.data.printer import display_brief
    return None if v is None else display_brief(v)


def _read_back(text: Optional[str], fallback: Any) -> Any:
    if text is None:
        return fallback
    from lisp import read
    try:
        return read(text)
    except Exception:
        from kernel.data.scalars import Symbol
        try:                    # shown as it was printed (a function, say)
            return Symbol(text)
        except Exception:
            return _Printed(text)


class _Printed:
    """A value that only exists as its printed text (a function, say)."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text




# --- a Workspace over a peer (for the CLI and the REPL) -------------------------------------------

class RemoteSession:
    """What the CLI and REPL ask of a Session, answered by a peer."""

    def __init__(self, remote: Remote, address: int, key: Any = None):
        self.remote = remote
        self.address = address
        self.key = key
        self.juice_limit = None

    # looking at the state
    def account_info(self, addr: Optional[int] = None) -> Optional[dict]:
        n = self.address if addr is None else addr
        a = self.remote.account(n)
        if a is None:
            return None
        return {"address": n, "balance": a["balance"], "sequence": a["sequence"],
                "memory": a.get("allowance"), "actor": a.get("type") == "actor",
                "key": a.get("key"), "controller": None, "parent": None,
                "definitions": self._definitions(n)}

    def _definitions(self, n: int) -> Optional[int]:
        r = self.remote.query(f"(count (:environment (account #{n})))", self.address)
        return r.value if r.error is None and isinstance(r.value, int) else None

    def account_count(self) -> int:
        r = self.remote.query("(count (:accounts *state*))", self.address)
        return r.value if r.error is None else 0

    @property
    def timestamp(self) -> int:
        r = self.remote.query("*timestamp*", self.address)
        return r.value if r.error is None else 0

    @property
    def juice_price(self) -> int:
        return self.remote.juice_price()

    def lookup(self, name: str, addr: Optional[int] = None) -> Any:
        r = self.remote.query(f"(defined? '{name})", self.address)
        return True if r.error is None and r.value is True else None

    def doc(self, name: str, addr: Optional[int] = None) -> Optional[dict]:
        return None

    def metadata(self, name: str, addr: Optional[int] = None) -> Any:
        return None

    def visible_names(self, addr: Optional[int] = None) -> list:
        return []

    def definitions(self, addr: Optional[int] = None) -> list:
        return []

    # evaluation
    def query(self, source: str) -> Result:
        return self.remote.query(source, self.address)

    def transact(self, source: Any) -> TxResult:
        return self.remote.transact(source, self.address, self.key)

    eval = transact


__all__ = ["Remote", "RemoteError", "RemoteResult", "RemoteTxResult", "resolve_url",
           "to_result", "RemoteSession"]
