"""The REPL's and CLI's workspace for a peer (interface.WorkspaceAPI over its REST API):
transactions are signed here and sent to the peer, queries run there, and what the REPL
reads from the state (documentation, definitions, accounts, names to complete) comes from
queries on the peer's state, so `:doc map` shows the peer's own metadata.

`PeerSession` answers the SessionView questions with queries. Whole accounts' names and
metadata come in one query each and are kept until a transaction could have changed them
(the core library's, #8, for the whole connection: only governance changes it).

A peer can't go back in time: `:undo`, `:redo`, `:checkpoint`, `:restore`, `:reset` and
`:advance` raise interface.Unsupported with the reason. A network the REPL started itself
can (local.LocalNetWorkspace, a subclass)."""
from __future__ import annotations

from typing import Any, Optional

from convex_repl.client.remote import Remote, RemoteSession, normalise, profile
from convex_repl.repl.interface import Unsupported
from convex_repl.repl.workspace import substitute
from lisp import ReaderError, read_all

CORE = 8                # the core library's account: its definitions only change by governance
MAX_ACCOUNTS = 2000     # :accounts lists at most this many accounts of a peer


class PeerSession(RemoteSession):
    """SessionView of a peer's state, through queries (cached per account)."""

    def __init__(self, remote: Remote, address: int, key: Any = None):
        super().__init__(remote, address, key)
        self._accounts: dict = {}          # n -> (names, metadata Map, parent) or None
        self._envs: dict = {}              # n -> its environment, as read back

    def changed(self, everything: bool = False) -> None:
        """Forget what a transaction may have changed (with `everything`, also the core's:
        after the state went back in time)."""
        core = self._accounts.get(CORE)
        self._accounts.clear()
        self._envs.clear()
        if core is not None and not everything:
            self._accounts[CORE] = core

    def _q(self, source: str) -> Any:
        """The value of a query, or None if it failed."""
        r = self.remote.query(source, self.address)
        return r.value if r.error is None else None

    def _account(self, n: int) -> Optional[tuple]:
        """(names, metadata map, parent address or None) of account #n, None if none."""
        if n in self._accounts:
            return self._accounts[n]
        from kernel.data.hashmaps import Map
        from kernel.data.scalars import Address
        v = self._q(f"(let [a (account #{n})] (if a [(if (:environment a) (keys (:environment "
                    "a))) (:metadata a) (:parent a)]))")
        got = None
        try:
            if v is not None:
                names = sorted(s.name for s in (v[0] or ()) if hasattr(s, "name"))
                meta = v[1] if isinstance(v[1], Map) else None
                parent = v[2].n if type(v[2]) is Address else None
                got = (names, meta, parent)
        except (TypeError, IndexError):
            got = None
        self._accounts[n] = got
        return got

    def _chain(self, addr: Optional[int]) -> list:
        """The accounts a symbol resolves through from `addr`: it, its parents, the core."""
        out: list = []
        n: Optional[int] = self.address if addr is None else addr
        while n is not None and n not in out:
            out.append(n)
            if n == CORE:
                break
            a = self._account(n)
            if a is None:
                break
            n = CORE if a[2] is None else a[2]
        return out

    # --- SessionView --------------------------------------------------------------------
    def accounts(self) -> list:
        v = self._q(f"(let [as (:accounts *state*)] [(count as) (mapv (fn [a] [(:balance a) "
                    f"(:sequence a) (nil? (:key a)) (count (:environment a))]) "
                    f"(if (> (count as) {MAX_ACCOUNTS}) (slice as 0 {MAX_ACCOUNTS}) as))])")
        if v is None:
            return []
        out = []
        for n, (bal, seq, actor, defs) in enumerate(v[1]):
            out.append({"address": n, "balance": bal, "sequence": seq, "memory": None,
                        "actor": bool(actor), "key": None, "controller": None,
                        "parent": None, "definitions": defs})
        return out

    def account_count(self) -> int:
        v = self._q("(count (:accounts *state*))")
        return v if isinstance(v, int) else 0

    def definitions(self, addr: Optional[int] = None) -> list:
        from kernel.data.hashmaps import Map
        from kernel.data.scalars import Symbol
        n = self.address if addr is None else addr
        a = self._account(n)
        if a is None:
            return []
        env = self._envs.get(n)
        if env is None:
            env = self._envs[n] = self._q(f"(:environment (account #{n}))")
        meta = a[1]
        out = []
        for name in a[0]:
            sym = Symbol(name)
            v = env.get(sym) if isinstance(env, Map) else None
            if v is None and not isinstance(env, Map):      # it doesn't read back: one by one
                r = self.remote.query(f"(lookup #{n} {name})", self.address)
                v = r.value if r.error is None else None
            out.append((name, v, meta.get(sym) if meta is not None else None))
        return out

    def visible_names(self, addr: Optional[int] = None) -> list:
        names: set = set()
        for n in self._chain(addr):
            a = self._account(n)
            if a is not None:
                names.update(a[0])
        return sorted(names)

    def metadata(self, name: str, addr: Optional[int] = None) -> Any:
        from kernel.data.hashmaps import Map
        from kernel.data.scalars import Symbol
        sym = Symbol(name)
        for n in self._chain(addr):
            a = self._account(n)
            if a is None or name not in a[0]:
                continue
            if a[1] is not None:
                m = a[1].get(sym)
                return m if m is not None else Map.from_pairs([])
            # the account's metadata did not read back: ask for this one
            r = self.remote.query(f"(lookup-meta #{n} (quote {name}))", self.address)
            return r.value if r.error is None and r.value is not None else Map.from_pairs([])
        return None

    def doc(self, name: str, addr: Optional[int] = None) -> Optional[dict]:
        from kernel.data.hashmaps import Map
        from kernel.data.scalars import Keyword

        from convex_repl.api import _doc_to_python
        meta = self.metadata(name, addr)
        if not isinstance(meta, Map):
            return None
        d = meta.get(Keyword("doc"))
        return None if d is None else _doc_to_python(d)

    def lookup(self, name: str, addr: Optional[int] = None) -> Any:
        where = "" if addr is None else f"#{addr} "
        r = self.remote.query(f"(lookup {where}{name})", self.address)
        return r.value if r.error is None else None


class RemoteWorkspace:
    """The CLI's and REPL's Workspace for a peer: transactions and queries go to its REST
    API. The network keeps the state: there is no journal, and going back in time is
    refused with the reason (interface.Unsupported)."""

    remote = True
    CANT_GO_BACK = "the network keeps what it confirmed"   # (:local start networks can)
    KIND = "a peer"

    def __init__(self, url: str, address: Optional[int] = None, key: Any = None):
        from stdlib.genesis import FIRST_USER
        self.url = normalise(url)
        self.peer = Remote(self.url)
        prof = profile() or {}
        if address is None and prof.get("address") is not None:
            address = int(str(prof["address"]).lstrip("#"))
        if key is None and prof.get("seed"):
            from nacl.signing import SigningKey
            key = SigningKey(bytes.fromhex(str(prof["seed"]).removeprefix("0x")))
        self.session = PeerSession(self.peer, FIRST_USER if address is None else address,
                                   key)
        self.warnings: list = []
        self.notices: list = []
        self.entries: list = []
        self.checkpoints: dict = {}
        self.home = None

    @property
    def address(self) -> int:
        return self.session.address

    def describe(self) -> str:
        return f"the peer at {self.url}"

    def set_address(self, n: int, key: Any = None) -> None:
        self.session.address = n
        self.session.key = key

    def _use(self, peer: Remote) -> None:
        """Talk to another peer from now on (the network restarted elsewhere)."""
        self.url, self.peer = peer.url, peer
        self.session.remote = peer

    # --- running code -------------------------------------------------------------------
    def transact(self, source: str, bindings: Optional[dict] = None, signed: bool = True,
                 as_address: Optional[int] = None) -> Any:
        """A signed transaction on the peer (a peer has no unsigned development mode)."""
        n = self.address if as_address is None else as_address
        forms: Any = source
        if bindings:                    # *1 *2 *3 *e of the REPL, as values in the forms
            try:
                forms, _ = substitute(read_all(source), bindings)
            except ReaderError:
                forms = source
        return self._submit(forms, n, self.session.key if as_address is None else None)

    def transact_form(self, form: Any, signed: bool = True) -> Any:
        return self._submit([form], self.address, self.session.key)

    def _submit(self, forms: Any, address: int, key: Any) -> Any:
        try:
            return self.peer.transact(forms, address, key)
        finally:
            self.session.changed()

    def query(self, source: str, bindings: Optional[dict] = None,
              block: Optional[int] = None) -> Any:
        if bindings:
            try:
                forms, used = substitute(read_all(source), bindings)
            except ReaderError:
                used = ()
            if used:                    # the peer reads text: the values as printed, quoted
                from lisp import print_value
                source = " ".join(print_value(f) for f in forms)
        return self.peer.query(source, self.address, block)

    def compile(self, source: str, bindings: Optional[dict] = None) -> Any:
        """`(compile 'source)` on the peer. Ops come back printed as Lisp, so the op tree is
        rebuilt from the op's CAD3 encoding when that is one cell (small code); otherwise
        the value is the peer's printed text of the op."""
        r = self.query(f"(compile (quote {source}))", bindings)
        if not r.ok:
            return r
        enc = self.query(f"(encoding (compile (quote {source})))", bindings)
        op = _decode_op(enc.value) if enc.ok else None
        if op is not None:
            r.value = op
        return r

    # --- history: a peer can't go back ---------------------------------------------------
    def state_hash(self) -> str:
        s = self.peer.status().get("state") or ""
        return s[2:] if s.startswith("0x") else s

    def undo(self) -> bool:
        raise Unsupported(f"can't undo on {self.KIND}: {self.CANT_GO_BACK}")

    def redo(self) -> bool:
        raise Unsupported(f"can't redo on {self.KIND}: {self.CANT_GO_BACK}")

    def checkpoint(self, name: str) -> None:
        raise Unsupported(f"can't make a checkpoint on {self.KIND}: "
                          f"{self.CANT_GO_BACK}")

    def checkpoint_hashes(self) -> dict:
        return {}

    def restore(self, name: str) -> bool:
        raise Unsupported(f"can't restore a checkpoint on {self.KIND}: "
                          f"{self.CANT_GO_BACK}")

    def reset(self) -> None:
        raise Unsupported(f"can't reset {self.KIND} to genesis: {self.CANT_GO_BACK}")

    def advance(self, ms: int) -> int:
        raise Unsupported(f"can't move time on {self.KIND}: its time is the wall clock of "
                          "its blocks")

    def save(self) -> None:
        pass

    def status_report(self) -> tuple:
        """(JSON data, text) for `convex status`."""
        s = self.peer.status()
        data = {"ok": True, "url": self.url, "address": self.address, **s}
        lines = [f"peer          {self.url}",
                 f"acting as     #{self.address}",
                 f"state         {s.get('state')}",
                 f"blocks        {s.get('block-point')}",
                 f"timestamp     {s.get('timestamp')}",
                 f"peer key      {s.get('peer')}"]
        if s.get("total-stake"):            # a peer of a CPoS network
            pct = 100 * s.get("live-stake", 0) // s["total-stake"]
            lines += [f"consensus     final {s.get('consensus-point')}, precommit "
                      f"{s.get('precommit-point')}, proposal {s.get('proposal-point')}, round "
                      f"{s.get('round')}, {s.get('peers')} peers",
                      f"reaching      {pct}% of the stake"
                      + ("" if s.get("consensus") else "  (cut off: transactions get "
                                                        ":NETWORK)"),
                      f"protocol      {s.get('protocol')}"]
            if s.get("halted"):
                lines.append(f"HALTED        {s['halted']}")
        return data, "\n".join(lines)


def _decode_op(blob: Any) -> Any:
    """The Op whose one-cell CAD3 encoding is `blob`, or None (it refers to other cells, or
    is not an op)."""
    from kernel.cvm.ops import Op
    from kernel.data.decoding import _branch_hashes, decode
    try:
        data = bytes(blob)
    except TypeError:
        try:
            data = bytes(blob.data)        # a Blob
        except (AttributeError, TypeError):
            return None
    try:
        if _branch_hashes(data):
            return None
        v = decode(data)
    except Exception:
        return None
    return v if isinstance(v, Op) else None


__all__ = ["RemoteWorkspace", "PeerSession"]
