"""The workspace of a network the REPL started itself (`:local start`): a RemoteWorkspace
that signs for the funded accounts the network printed and, unlike any other peer, can go
back in time.

How: a *mark* is a copy of every peer's store (local.LocalNet.snapshot) with the state hash
and acting account it was taken at. Before each transaction the current state gets a mark
(the previous one is reused while the state hash is unchanged). A transaction that changed
more than every transaction does (fees, the sequence number: the same test as the local
CVM's, run as a query on the peer, see FINGERPRINT) pushes its mark on the undo stack.
`:undo`, `:redo`, `:restore` and `:reset` restart the network from a mark's copies
(LocalNet.restore: a second or two per peer), `:checkpoint` keeps a mark under a name, and
genesis is the mark taken when the network started. Marks no stack or checkpoint refers to
are deleted; all go when the network is stopped. `:advance` stays refused: the network's
time is the wall clock of its blocks."""
from __future__ import annotations

from typing import Any, Optional

from convex_repl.repl.interface import Unsupported
from convex_repl.repl.remote_workspace import RemoteWorkspace

MAX_UNDO = 50           # undo steps kept (each a copy of the stores)

# Everything a transaction of #{me} changes besides its fees and sequence number: the number
# of accounts, #{me}'s environment, metadata, holdings, controller, key and parent, and every
# other account except the balance of the reward pool #0 (workspace._meaningful, locally).
FINGERPRINT = ("(let [as (:accounts *state*) me (nth as {me})] (hash (encoding [(count as) "
               "[(:environment me) (:metadata me) (:holdings me) (:controller me) (:key me) "
               "(:parent me)] (assoc (assoc as {me} nil) 0 (assoc (nth as 0) :balance 0))])))")


class Mark:
    """A kept copy of the network's stores: its tag, state hash and acting account."""

    __slots__ = ("tag", "hash", "address", "fingerprints")

    def __init__(self, tag: str, hash_: str, address: int):
        self.tag, self.hash, self.address = tag, hash_, address
        self.fingerprints: dict = {}        # account -> FINGERPRINT of this state


class LocalNetWorkspace(RemoteWorkspace):
    """A RemoteWorkspace on `net` (a local.LocalNet) with undo, redo, checkpoints and reset
    through copies of its stores."""

    restarts = True         # going back in time restarts the network: commands say so first
    KIND = "the local network"

    def __init__(self, net: Any, address: int, seeds: dict):
        self.net = net
        self.seeds = seeds
        super().__init__(net.url, address, seeds.get(address))
        self.undo_stack: list = []
        self.redo_stack: list = []
        self._serial = 0
        self._current: Optional[Mark] = None    # the mark of the current state, if taken
        self.genesis: Optional[Mark] = None

    def describe(self) -> str:
        n = self.net.peers
        return f"the local network ({n} peer{'s' if n != 1 else ''})"

    def set_address(self, n: int, key: Any = None) -> None:
        super().set_address(n, key or self.seeds.get(n))

    # --- marks ----------------------------------------------------------------------------
    def start(self) -> None:
        """Keep the network's first state (genesis, for :reset)."""
        self.genesis = self._mark()

    def _mark(self) -> Mark:
        """A mark of the current state (the last one, while the state hash is unchanged)."""
        from convex_repl.repl.local import LocalNetError
        try:
            h = self.net.agreed_state()
            if self._current is not None and self._current.hash == h:
                if self._current.address != self.address:   # the same copy, acting as another
                    m = Mark(self._current.tag, h, self.address)
                    m.fingerprints = self._current.fingerprints
                    self._current = m
                return self._current
            self._serial += 1
            tag = f"m{self._serial}"
            h = self.net.snapshot(tag)
        except LocalNetError as e:
            raise Unsupported(f"can't keep the network's state: {e}") from None
        self._current = Mark(tag, h, self.address)
        return self._current

    def _fingerprint(self, mark: Optional[Mark], me: int) -> Any:
        if mark is not None and me in mark.fingerprints:
            return mark.fingerprints[me]
        r = self.peer.query(FINGERPRINT.format(me=me), me)
        v = r.value if r.error is None else None
        if mark is not None and v is not None:
            mark.fingerprints[me] = v
        return v

    def _go(self, mark: Mark) -> None:
        """Restart the network from `mark`'s copies; act as the account it was taken at."""
        from convex_repl.client.remote import Remote
        from convex_repl.repl.local import LocalNetError
        try:
            self.net.restore(mark.tag)
        except LocalNetError as e:
            raise Unsupported(f"the local network did not restart: {e}; :local stop goes "
                              "back to the local CVM") from None
        self._use(Remote(self.net.url))
        self.session.changed(everything=True)
        self.set_address(mark.address)
        self._current = mark

    def _prune(self) -> None:
        """Delete the copies no stack, checkpoint or genesis refers to any more."""
        del self.undo_stack[:-MAX_UNDO]
        keep = {m.tag for m in self.undo_stack + self.redo_stack
                + list(self.checkpoints.values())}
        for m in (self.genesis, self._current):
            if m is not None:
                keep.add(m.tag)
        kept = self.net.kept
        if kept.is_dir():
            for d in kept.iterdir():
                if d.name not in keep:
                    self.net.drop(d.name)

    # --- running code ---------------------------------------------------------------------
    def _submit(self, forms: Any, address: int, key: Any) -> Any:
        try:
            before: Optional[Mark] = self._mark()
            f0 = self._fingerprint(before, address)
        except Unsupported:
            before, f0 = None, None             # it runs, but can't be undone
        r = super()._submit(forms, address, key)
        self._current = None
        if before is not None:
            f1 = self._fingerprint(None, address)
            if f0 is None or f1 is None or f0 != f1:
                self.undo_stack.append(before)
                self.redo_stack.clear()
            self._prune()
        return r

    # --- history ----------------------------------------------------------------------------
    def undo(self) -> bool:
        return self._step(self.undo_stack, self.redo_stack)

    def redo(self) -> bool:
        return self._step(self.redo_stack, self.undo_stack)

    def _step(self, back: list, forth: list) -> bool:
        """Go to the mark on top of `back`, keeping where we are on `forth` (both stacks as
        they were if the network can't be restarted there)."""
        if not back:
            return False
        here = self._mark()
        target = back.pop()
        forth.append(here)
        try:
            self._go(target)
        except Unsupported:
            forth.pop()
            back.append(target)
            raise
        self._prune()
        return True

    def checkpoint(self, name: str) -> None:
        self.checkpoints[name] = self._mark()
        self._prune()

    def checkpoint_hashes(self) -> dict:
        return {k: m.hash for k, m in self.checkpoints.items()}

    def restore(self, name: str) -> bool:
        target = self.checkpoints.get(name)
        if target is None:
            return False
        self._back_to(target)
        return True

    def reset(self) -> None:
        if self.genesis is None:
            raise Unsupported("the network's first state was not kept: can't reset")
        self._back_to(self.genesis)

    def _back_to(self, target: Mark) -> None:
        here = self._mark()
        self._go(target)
        self.undo_stack.append(here)
        self.redo_stack.clear()
        self._prune()


__all__ = ["LocalNetWorkspace", "Mark"]
