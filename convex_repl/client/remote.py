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
import urllib.error
import urllib.request
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


class Remote:
    """The REST API of one peer."""

    def __init__(self, url: str, timeout: float = 60.0):
        self.url = normalise(url)
        self.timeout = timeout

    # --- HTTP ---------------------------------------------------------------------------------
    def request(self, method: str, path: str, body: Any = None, raw: Optional[bytes] = None,
                ctype: Optional[str] = None) -> tuple:
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        headers = {"Accept": "application/json"}
        if ctype:
            headers["Content-Type"] = ctype
        elif data is not None:
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                status, text = r.status, r.read()
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read()
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RemoteError(f"can't reach the peer at {self.url}: {reason}") from None
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            raise RemoteError(f"the peer at {self.url} answered {status} with "
                              f"{text[:200]!r}, not JSON", status) from None

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
        return res

    def transact(self, source: "str | list", address: int, key: Any = None) -> TxResult:
        """Build, sign and submit a transaction of `address` (see the module doc)."""
        from kernel.data.decoding import encode_multi
        from kernel.transition.ledger import command_transaction
        from kernel.data.scalars import Keyword
        from kernel.state.transactions import sign

        t0 = time.perf_counter()
        forms, bad = read_forms(source, TxResult)
        if bad is not None:
            return bad
        acct = self.account(address)
        if acct is None:
            return TxResult(error="NOBODY", message=f"Account #{address} does not exist",
                            error_value=Keyword("NOBODY"), source="PEER")
        key = key or self.signing_key(address, acct.get("key"))
        if key is None:
            return TxResult(error="SIGNATURE", message=f"No key for #{address}: set "
                            "CONVEX_SEED to its Ed25519 seed", error_value=Keyword("SIGNATURE"),
                            source="CLIENT")
        tx = command_transaction(_SequenceOnly(address, acct["sequence"]), address,
                                 forms or [None])
        signed = sign(key, tx)
        st, r = self.request("POST", "/api/v1/transact", raw=encode_multi(signed),
                             ctype="application/cvx-raw")
        res = to_result(self._ok(st, r), RemoteTxResult, len(forms) > 1)
        res.sequence = tx.sequence
        res.tx_hash = signed.value_id().hex()
        res.elapsed = time.perf_counter() - t0
        return res

    @staticmethod
    def signing_key(address: int, public_key: Optional[str]) -> Any:
        from nacl.signing import SigningKey

        from kernel.transition.ledger import genesis_signing_key
        seed = os.environ.get("CONVEX_SEED")
        if seed:
            try:
                return SigningKey(bytes.fromhex(seed.strip().removeprefix("0x")))
            except ValueError:
                pass
        if not public_key:
            return None
        pk = bytes.fromhex(public_key.removeprefix("0x"))
        for n in (address, 11, 13):
            sk = genesis_signing_key(n)
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
        r = self.remote.query("*juice-price*", self.address)
        return r.value if r.error is None else 0

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
