"""A fork: a local CVM started from a peer's state, as anvil forks a chain. Nothing is sent
to the peer; any account may act without its key (impersonation: the signature is not
checked, the sequence number, fees and memory are, as the network applies them); time can
be warped (`advance`, the REPL's `:advance`, or `warp_to`).

    ws = ForkWorkspace.open("http://127.0.0.1:8080", block=None, home=home)
    ws.transact("(def y (* x 2)) y")    # runs here only, on the copy
    ws.set_address(11)                  # act as #11, no key needed
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Optional

from convex_repl.api import Session, TxResult
from convex_repl.repl.workspace import Workspace


def apply_impersonated(state: Any, signed: Any) -> tuple:
    """Apply one transaction in a block of its own at the state's time, as
    kernel.transition.ledger.submit does, but without checking its signature (the origin
    need not be a key we hold, nor a user): (new state, Outcome)."""
    from kernel.cvm.errors import NOBODY, SEQUENCE
    from kernel.cvm.memory import Meter
    from kernel.transition.block import distribute_fees, local_peer
    from kernel.transition.schedule import apply_scheduled, apply_time
    from kernel.transition.transaction import apply_transaction, refused
    tx = signed.value
    ts = state.timestamp
    meter = Meter()
    s = apply_time(state.with_next_block(), ts)
    s, _, fees = apply_scheduled(s, meter=meter)
    acct = s.account(tx.origin.n)
    if acct is None:
        o = refused(s, NOBODY, f"Transaction for non-existent Account: #{tx.origin.n}")
    elif tx.sequence != acct.sequence + 1:
        o = refused(s, SEQUENCE, f"Sequence = {tx.sequence} but expected "
                    f"{acct.sequence + 1}")
    else:
        o = apply_transaction(s, tx, meter)
    fees += o.juice_fees
    return distribute_fees(o.state, local_peer(s), fees, ts), o


class ForkSession(Session):
    """A Session whose transactions are applied whatever their signature."""

    def submit(self, signed: Any, _unwrap: bool = False, _t0: Optional[float] = None
               ) -> TxResult:
        from kernel.data.scalars import Keyword
        t0 = time.perf_counter() if _t0 is None else _t0
        try:
            self.state, o = apply_impersonated(self.state, signed)
            r = TxResult.from_outcome(o, signed, _unwrap)
        except Exception as e:              # an interpreter bug must not escape
            r = TxResult(error="FATAL", message=f"{type(e).__name__}: {e}",
                         error_value=Keyword("FATAL"))
        r.elapsed = time.perf_counter() - t0
        return r

    def warp_to(self, timestamp: int) -> int:
        """Move time on to `timestamp` (never back); scheduled operations due run."""
        if timestamp > self.state.timestamp:
            self.advance(timestamp - self.state.timestamp)
        return self.state.timestamp


class ForkWorkspace(Workspace):
    """The local workspace on a fork: everything the local CVM does (undo, checkpoints,
    :advance, :reset back to the forked state), never saved, never sent anywhere."""

    def __init__(self, fetched: Any, home: Optional[Path] = None):
        # Workspace.__init__'s fields, without loading genesis or a saved session: a fork
        # starts from the peer's state, and :reset goes back to it.
        self.home = home
        self.save_enabled = False
        self.warnings: list = []
        self.notices: list = []
        self.genesis, self.snapshots = fetched.state, False
        self.session = ForkSession(state=fetched.state)
        self.entries: list = []
        self.undo_stack: list = []
        self.redo_stack: list = []
        self.checkpoints: dict = {}
        self.fetched = fetched

    @classmethod
    def open(cls, url: str, block: Optional[int] = None, home: Optional[Path] = None
             ) -> "ForkWorkspace":
        from convex_repl.history.fetch import fetch_state
        return cls(fetch_state(url, block, home), home)

    def describe(self) -> str:
        f = self.fetched
        at = "now" if f.block is None else f"after block {f.block}"
        return f"a fork of {f.url} ({at}, state {f.hash[2:10]})"

    def set_address(self, n: int, key: Any = None) -> None:
        self.session.address = n            # impersonation: no key needed
        self.session.key = None

    def status_report(self) -> tuple:
        data, text = super().status_report()
        f = self.fetched
        data.update(fork=f.url, block=f.block, forked_state=f.hash, fetched=f.fetched,
                    cached=f.cached)
        text = text.replace("local CVM", self.describe(), 1)
        return data, text


__all__ = ["ForkWorkspace", "ForkSession", "apply_impersonated"]
