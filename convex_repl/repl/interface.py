"""The one interface every REPL and CLI target implements: what a workspace is asked for
(`WorkspaceAPI`) and what its `session` answers about the state (`SessionView`).

Three classes implement it completely, and `missing()` (run by the tests) checks they do:

- `workspace.Workspace`: the local CVM, with its journal, undo/redo and checkpoints;
- `remote_workspace.RemoteWorkspace`: any peer's REST API (`:connect URL`, `--url`);
- `local_workspace.LocalNetWorkspace`: a network the REPL started itself (`:local start`),
  which can also go back in time: it keeps copies of its peers' stores and restarts the
  network from one (see local_workspace.py).

What a target can't do it refuses by raising `Unsupported` with one line saying why (a peer
can't undo a transaction the network has confirmed); the REPL shows that line and goes on.
Commands never test which class they talk to: they call these methods, and ask `remote`
only to word their output (a peer's round trip is not the CVM's evaluation time).
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Protocol, runtime_checkable

if TYPE_CHECKING:
    from convex_repl.api import Result


class Unsupported(Exception):
    """This target can't do that: the message is the one line to show (the session goes
    on, unchanged)."""


def short_hash(h: Optional[str]) -> str:
    """A state hash as the REPL shows it: its first 8 hex digits."""
    if not h:
        return "?"
    h = h[2:] if h.startswith("0x") else h
    return h[:8]


@runtime_checkable
class SessionView(Protocol):
    """What the REPL and CLI read from a target's state (`ws.session`). Looking, never
    changing: no juice is charged, nothing is signed."""

    address: int                  # the acting account
    key: Any                      # the signing key set with :account #n key, or None
    juice_limit: Optional[int]

    @property
    def juice_price(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    def account_count(self) -> int: ...
    def account_info(self, addr: Optional[int] = None) -> Optional[dict]:
        """{address, balance, sequence, memory, actor, key, controller, parent,
        definitions}, or None if there is no such account."""
    def accounts(self) -> list:
        """account_info of every account, in address order."""
    def definitions(self, addr: Optional[int] = None) -> list:
        """(name, value, metadata) of an account's own definitions, by name."""
    def visible_names(self, addr: Optional[int] = None) -> list:
        """Names a symbol can resolve to from an account: its own, its parents', the core."""
    def metadata(self, name: str, addr: Optional[int] = None) -> Any:
        """The metadata of a definition (None if the name is not defined)."""
    def doc(self, name: str, addr: Optional[int] = None) -> Optional[dict]:
        """Its :doc as plain Python: description, signature, examples, errors."""
    def lookup(self, name: str, addr: Optional[int] = None) -> Any:
        """The value a name has (None if undefined)."""


@runtime_checkable
class WorkspaceAPI(Protocol):
    """A target of the REPL and CLI: where inputs run, and how to move through its history."""

    remote: bool                  # True: a peer holds the state (times are round trips)
    home: Optional[Path]          # the convex directory (None: nothing kept there)
    warnings: list                # lines to show once, as warnings, when it is ready
    notices: list                 # lines to show once, as information (a restored session)
    entries: list                 # the journal of transactions (empty for a peer)
    checkpoints: dict             # name -> checkpoint
    session: SessionView

    @property
    def address(self) -> int: ...
    def describe(self) -> str:
        """What it is, in a few words: "the local CVM", "the peer at URL"..."""
    def set_address(self, n: int, key: Any = None) -> None: ...

    # running code
    def transact(self, source: str, bindings: Optional[dict] = None, signed: bool = True,
                 as_address: Optional[int] = None) -> "Result": ...
    def transact_form(self, form: Any, signed: bool = True) -> "Result": ...
    def query(self, source: str, bindings: Optional[dict] = None,
              block: Optional[int] = None) -> "Result": ...
    def compile(self, source: str, bindings: Optional[dict] = None) -> "Result":
        """`(compile 'source)` on the target; the value an Op when it can be rebuilt here."""

    # history (each may raise Unsupported)
    def state_hash(self) -> str:
        """Hex value ID of the current state."""
    def undo(self) -> bool:
        """Take back the last transaction that changed more than fees; False: nothing to undo."""
    def redo(self) -> bool: ...
    def checkpoint(self, name: str) -> None: ...
    def checkpoint_hashes(self) -> dict:
        """name -> state hash (None when not known without replaying)."""
    def restore(self, name: str) -> bool:
        """Back to a checkpoint (undoable); False: no such checkpoint."""
    def reset(self) -> None:
        """Back to genesis (undoable)."""
    def advance(self, ms: int) -> int:
        """Move time on; the new timestamp."""

    # keeping and reporting
    def save(self) -> None: ...
    def status_report(self) -> tuple:
        """(JSON data, text) for `convex status`."""


def members(protocol: type) -> list:
    """The names a Protocol asks for (attributes, properties, methods)."""
    names = set(getattr(protocol, "__annotations__", {}))
    for k, v in vars(protocol).items():
        if not k.startswith("_") and (callable(v) or isinstance(v, property)):
            names.add(k)
    return sorted(names)


def _has(obj: Any, name: str) -> bool:
    """Without evaluating a property (a peer's would ask the peer)."""
    return name in getattr(obj, "__dict__", {}) or hasattr(type(obj), name)


def missing(obj: Any, protocol: type = WorkspaceAPI) -> list:
    """The members of `protocol` that `obj` lacks (for a WorkspaceAPI, also those its
    session lacks of SessionView, as `session.name`)."""
    out = [m for m in members(protocol) if not _has(obj, m)]
    if protocol is WorkspaceAPI and hasattr(obj, "session"):
        out += ["session." + m for m in missing(obj.session, SessionView)]
    return out


__all__ = ["Unsupported", "SessionView", "WorkspaceAPI", "missing", "members", "short_hash"]
