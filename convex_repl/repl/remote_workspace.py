"""The REPL's and CLI's workspace for a peer: transactions and queries go to its REST API."""
from __future__ import annotations

from typing import Any, Optional

from convex_repl.client.remote import Remote, RemoteSession, normalise, profile
from convex_repl.repl.workspace import substitute
from lisp import ReaderError, read_all


class RemoteWorkspace:
    """The CLI's and REPL's Workspace for a peer: transactions and queries go to its REST
    API; there is no journal, undo or checkpoint (the network keeps the state)."""

    remote = True

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
        self.session = RemoteSession(self.peer, FIRST_USER if address is None else address,
                                     key)
        self.warnings: list = []
        self.entries: list = []
        self.checkpoints: dict = {}
        self.home = None

    @property
    def address(self) -> int:
        return self.session.address

    def set_address(self, n: int, key: Any = None) -> None:
        self.session.address = n
        self.session.key = key

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
        return self.peer.transact(forms, n, self.session.key if as_address is None else None)

    def transact_form(self, form: Any, signed: bool = True) -> Any:
        return self.peer.transact([form], self.address, self.session.key)

    def query(self, source: str, bindings: Optional[dict] = None,
              block: Optional[int] = None) -> Any:
        return self.peer.query(source, self.address, block)

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
