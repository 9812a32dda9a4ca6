"""The user's local CVM between runs: a Session plus its journal, undo/redo and checkpoints.

Where it lives: the user's convex directory, `$CONVEX_HOME` or `~/.convex` (`convex_repl.home`).

How it persists (format 1, "journal"): `session.json` holds the current lineage of committed
transactions, each as `{"address": n, "source": text, "bindings": {"*1": printed, ...}}` (a
value printing past JOURNAL_TEXT_LIMIT characters as `{"cad3": hex}`, its encoding), plus
the acting address and named checkpoints (each its own entry list). Loading replays the
journal from genesis. States are immutable values, so undo, redo and checkpoints in memory are
just kept references to earlier states.

State snapshots: `encode_state` / `decode_state` (CAD3 `encode_multi`: the top cell and every
branch cell) are the one hook. `save` also writes `session.cad3` and records its hash in the
journal; `load` decodes the snapshot instead of replaying, and falls back to replaying the
journal if the snapshot is missing, does not match or does not decode; the cells it shares
with genesis are taken from genesis, not decoded again. Genesis is cached in the snapshot
format of convex_repl.repl.snapshot (`cache/genesis-<hash of kernel, lisp and stdlib
sources>.snap`, `cached_genesis`), which loads in about 60% of the time of CAD3. Both are
used only once a round trip of genesis has been checked to give back the same definitions
(`faithful`) for the current code; until then sessions are saved as the journal alone and
replayed.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Optional

from typing import TYPE_CHECKING

from convex_repl.repl.interface import short_hash

if TYPE_CHECKING:   # imported lazily: the kernel costs ~150 ms, off the REPL's start path
    from convex_repl.api import Result

FORMAT = 1
REPL_VARS = ("*1", "*2", "*3", "*e")


# --- state snapshot hook ------------------------------------------------------------------------

def encode_state(state: Any) -> Optional[bytes]:
    """The state as a self-contained CAD3 message (top cell and every branch cell), or None
    if the kernel cannot encode it."""
    try:
        import kernel
        data = kernel.encode_multi(state)
    except Exception:
        return None
    return bytes(data) if isinstance(data, (bytes, bytearray)) else None


def decode_state(data: bytes) -> Any:
    """A State from `encode_state`'s message, or None if it does not decode to one."""
    try:
        import kernel
        from kernel.state.state import State
        v = kernel.decode_multi(data)
    except Exception:
        return None
    return v if isinstance(v, State) else None


def _code_fingerprint(cache: Optional[Path] = None) -> str:
    """Hash of everything genesis is made from: the kernel, the compiler, the stdlib. With a
    cache directory, the hash is remembered there beside the files' sizes and modification
    times, and read back while those are unchanged (stat is ~8x cheaper than reading them)."""
    import kernel
    import lisp
    import stdlib
    files = []                            # (path relative to its package, full path)
    for pkg in (kernel, lisp, stdlib):
        base = os.path.dirname(pkg.__file__)
        found = []
        for root, dirs, names in os.walk(base):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            found += [(os.path.relpath(os.path.join(root, n), base).replace(os.sep, "/"),
                       os.path.join(root, n))
                      for n in names if n.endswith((".py", ".cvx", ".lark"))]
        files += sorted(found)
    sig = hashlib.sha3_256()
    for _, f in files:
        st = os.stat(f)
        sig.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    key = sig.hexdigest()[:32]
    memo = None if cache is None else cache / "fingerprint"
    if memo is not None:
        try:
            k, fp = memo.read_text().split()
            if k == key:
                return fp
        except (OSError, ValueError):
            pass
    h = hashlib.sha3_256()
    for rel, f in files:
        h.update(rel.encode())
        with open(f, "rb") as fh:
            h.update(fh.read())
    fp = h.hexdigest()[:16]
    if memo is not None:
        try:
            cache.mkdir(parents=True, exist_ok=True)
            _atomic_write(memo, f"{key} {fp}\n".encode())
        except OSError:
            pass
    return fp


def faithful(original: Any, decoded: Any) -> bool:
    """Does a decoded state behave like the original? Equal value IDs and, for every
    definition of every account, a value of the same Python type (so a closure that came back
    as a generic record is caught)."""
    try:
        if decoded is None or decoded.value_id() != original.value_id():
            return False
        for n in range(len(original.accounts)):
            a, b = original.account(n), decoded.account(n)
            for k, v in a.environment.items():
                if type(b.environment.get(k)) is not type(v):
                    return False
        return True
    except Exception:
        return False


def cached_genesis(home: Optional[Path]) -> tuple:
    """(genesis state, whether states survive CAD3 encoding here, {value ID: branch cell} of
    genesis when it was loaded from its snapshot, else None). Genesis is read from
    `home/cache/genesis-<fingerprint>.snap` (convex_repl.repl.snapshot: ~40% of the time of
    decoding CAD3, and the first transaction finds every memory size known) when the kernel,
    compiler and stdlib are unchanged since it was written and the round trip was checked
    then; else it is built, and the round trip checked once for this code (the verdict is
    kept beside the cache)."""
    from convex_repl.repl import snapshot
    from stdlib.genesis import genesis_state
    if home is None:
        return genesis_state(), False, None
    cache = home / "cache"
    try:
        fp = _code_fingerprint(cache)
    except OSError:
        return genesis_state(), False, None
    path = cache / f"genesis-{fp}.snap"
    if (cache / f"genesis-{fp}.no-roundtrip").exists():
        return genesis_state(), False, None
    try:
        loaded = snapshot.decode(path.read_bytes())
    except OSError:
        loaded = None
    from kernel.state.state import State
    if loaded is not None and isinstance(loaded[0], State):
        return loaded[0], True, loaded[1]
    st = genesis_state()
    data = snapshot.encode(st)
    back = snapshot.decode(data)
    ok = back is not None and faithful(st, back[0])
    try:
        cache.mkdir(parents=True, exist_ok=True)
        for old in cache.glob("genesis-*"):
            old.unlink()
        if ok:
            _atomic_write(path, data)
        else:
            (cache / f"genesis-{fp}.no-roundtrip").write_text(
                "states of this kernel do not survive CAD3 encoding yet: sessions are saved "
                "as a journal of transactions and replayed\n")
    except OSError:
        pass
    return st, ok, None


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)


# --- substitution of *1 *2 *3 *e ----------------------------------------------------------------

JOURNAL_TEXT_LIMIT = 100_000    # a REPL variable printing longer is journaled as its encoding


def _journaled(v: Any) -> Any:
    """A REPL variable's value as the journal keeps it: its printed text, or, when that is
    longer than JOURNAL_TEXT_LIMIT (a value sharing its parts can print to text exponentially
    longer than itself), {"cad3": hex of its encode_multi}, whose size is the value's own."""
    from kernel.data.printer import print_head
    text, more = print_head(v, JOURNAL_TEXT_LIMIT)
    if not more:
        return text
    from kernel.data.decoding import encode_multi
    return {"cad3": encode_multi(v).hex()}


def _unjournaled(j: Any, read: Any) -> Any:
    if isinstance(j, dict):
        from kernel.data.decoding import decode_multi
        return decode_multi(bytes.fromhex(j["cad3"]))
    return read(j)


def substitute(forms: list, bindings: dict) -> tuple:
    """Forms with the REPL variables replaced by quoted values; also the names used."""
    from kernel.data.hashmaps import Map, Set
    from kernel.data.scalars import Symbol
    from kernel.data.syntax import Syntax
    from kernel.data.vectors import List, Vector

    syms = {Symbol(k): v for k, v in bindings.items()}
    used: set = set()
    quote = Symbol("quote")

    def walk(x: Any) -> Any:
        t = type(x)
        if t is Symbol:
            if x in syms:
                used.add(x.name)
                return List.of(quote, syms[x])
            return x
        if t is Syntax:
            d = walk(x.datum)
            return x if d is x.datum else Syntax(d, x.meta)
        if isinstance(x, List):
            items = [walk(e) for e in x]
            return List.from_seq(items) if any(a is not b for a, b in zip(items, x)) else x
        if isinstance(x, Vector):
            items = [walk(e) for e in x]
            return Vector.from_seq(items) if any(a is not b for a, b in zip(items, x)) else x
        if isinstance(x, Map):
            pairs = [(walk(k), walk(v)) for k, v in x.items()]
            return Map.from_pairs(pairs)
        if isinstance(x, Set):
            return Set.from_seq([walk(e) for e in x])
        return x

    if not syms:
        return forms, used
    return [walk(f) for f in forms], used


# --- the workspace --------------------------------------------------------------------------------

class Workspace:
    """A Session with a journal of its committed transactions, undo/redo and checkpoints,
    saved in `home` (None: nothing is saved). The local implementation of
    interface.WorkspaceAPI: it can do everything."""

    remote = False
    _genesis_cells: Optional[dict] = None   # genesis's cells by value ID, if from its snapshot

    def __init__(self, home: Optional[Path] = None, fresh: bool = False, save: bool = True):
        from convex_repl.api import Session
        self.home = home
        self.save_enabled = save and home is not None
        self.warnings: list = []
        self.notices: list = []      # "restored the saved session ...", shown once
        self.genesis, self.snapshots, cells = cached_genesis(home)
        if cells is not None:                 # else the class's None (as in a ForkWorkspace)
            self._genesis_cells = cells
        self.session = Session(state=self.genesis)
        self.entries: list = []
        self.undo_stack: list = []   # (state, address, entries) before each change
        self.redo_stack: list = []
        self.checkpoints: dict = {}  # name -> {"entries", "address", "state" (if replayed)}
        if home is not None and not fresh:
            self.load()

    # --- paths ---------------------------------------------------------------------------
    @property
    def journal_path(self) -> Optional[Path]:
        return None if self.home is None else self.home / "session.json"

    @property
    def snapshot_path(self) -> Optional[Path]:
        return None if self.home is None else self.home / "session.cad3"

    @property
    def address(self) -> int:
        return self.session.address

    def describe(self) -> str:
        return "the local CVM"

    # --- evaluation ------------------------------------------------------------------------
    def _read(self, source: str, bindings: Optional[dict]):
        from lisp import ReaderError, read_all
        try:
            forms = read_all(source)
        except ReaderError as e:
            from kernel.data.scalars import Keyword

            from convex_repl.api import Result
            return None, set(), Result(error="SYNTAX", message=str(e),
                                       error_value=Keyword("SYNTAX"))
        forms, used = substitute(forms, bindings or {})
        return forms, used, None

    def transact(self, source: str, bindings: Optional[dict] = None,
                 signed: bool = True, as_address: Optional[int] = None) -> Result:
        """Evaluate `source` as one transaction: a signed one (sequence, fees, memory: what
        the network does), or with `signed=False` an unsigned development-mode one. Every
        transaction that changed the state is journaled; one that changed more than the
        fees and sequence number is an undo step (undoing it also drops the reads after)."""
        forms, used, err = self._read(source, bindings)
        if err is not None:
            return err
        return self._commit(forms, source, {k: bindings[k] for k in used}, signed, as_address)

    def transact_form(self, form: Any, signed: bool = True) -> Result:
        """One already-read form as a transaction (journaled as its printed text, which
        reads back to an equal form)."""
        from lisp import print_value
        return self._commit([form], print_value(form), {}, signed)

    def _commit(self, forms: list, source: str, used: dict, signed: bool,
                as_address: Optional[int] = None) -> Result:
        before = self._snapshot()
        acting = self.session.address
        origin = acting if as_address is None else as_address
        self.session.address = origin
        try:
            if signed:
                r = self.session.transact(forms)
            else:
                r = self.session.eval_forms(forms)
        finally:
            self.session.address = acting
        after = self.session.state
        if after is not before[0]:
            entry: dict = {"address": origin, "source": source}
            if not r.ok:
                entry["ok"] = False         # failed, but paid its fees: replayed as such
            if not signed:
                entry["unsigned"] = True
            if used:
                entry["bindings"] = {k: _journaled(v) for k, v in sorted(used.items())}
            self.entries.append(entry)      # every change is journaled, for a faithful replay
            if _meaningful(before[0], after, self.session.address):
                self.undo_stack.append(before)   # but only real changes are undo steps
                self.redo_stack.clear()
        if after is not before[0]:
            self.save()
        return r

    def query(self, source: str, bindings: Optional[dict] = None,
              block: Optional[int] = None) -> Result:
        if block is not None:
            from convex_repl.repl.interface import Unsupported
            raise Unsupported("the local CVM keeps no blocks: a query of the state after a "
                              "block needs a peer")
        forms, used, err = self._read(source, bindings)
        if err is not None:
            return err
        return self.session.eval_forms(forms, commit=False)

    def compile(self, source: str, bindings: Optional[dict] = None) -> Result:
        """`(compile 'source)` as a query: the value is the Op the compiler makes."""
        return self.query(f"(compile (quote {source}))", bindings)

    def state_hash(self) -> str:
        return self.session.state_hash()

    # --- time travel ---------------------------------------------------------------------
    def _snapshot(self) -> tuple:
        return (self.session.state, self.session.address, list(self.entries))

    def _apply(self, snap: tuple) -> None:
        self.session.state, self.session.address, entries = snap
        self.entries = list(entries)

    def undo(self) -> bool:
        if not self.undo_stack:
            return False
        self.redo_stack.append(self._snapshot())
        self._apply(self.undo_stack.pop())
        self.save()
        return True

    def redo(self) -> bool:
        if not self.redo_stack:
            return False
        self.undo_stack.append(self._snapshot())
        self._apply(self.redo_stack.pop())
        self.save()
        return True

    def checkpoint(self, name: str) -> None:
        self.checkpoints[name] = {"entries": list(self.entries), "address": self.address,
                                  "state": self.session.state, "hash": self.state_hash()}
        self.save()

    def checkpoint_hashes(self) -> dict:
        out = {}
        for name, cp in self.checkpoints.items():
            h = cp.get("hash")
            if h is None and cp.get("state") is not None:
                h = cp["hash"] = cp["state"].value_id().hex()
            out[name] = h
        return out

    def restore(self, name: str) -> bool:
        cp = self.checkpoints.get(name)
        if cp is None:
            return False
        state = cp.get("state")
        if state is None:
            replayed = self._replay(cp["entries"])
            if replayed is None:
                from convex_repl.repl.interface import Unsupported
                raise Unsupported(f"checkpoint {name} no longer replays (a transaction of it "
                                  "fails with this version); the session is unchanged")
            state = cp["state"] = replayed
            cp["hash"] = replayed.value_id().hex()
        self.undo_stack.append(self._snapshot())
        self.redo_stack.clear()
        self._apply((state, cp["address"], cp["entries"]))
        self.save()
        return True

    def reset(self) -> None:
        """Back to genesis (undoable)."""
        self.undo_stack.append(self._snapshot())
        self.redo_stack.clear()
        self._apply((self.genesis, _first_user(), []))
        self.save()

    def set_address(self, n: int, key: Any = None) -> None:
        """Act as account #n, signing with `key` (a 32-byte seed or nacl SigningKey), by
        default the account's genesis key. The key is not saved: after a restart the session
        signs with the genesis key again."""
        if key is not None and not hasattr(key, "verify_key"):
            from nacl.signing import SigningKey
            key = SigningKey(bytes(key))
        self.session.address = n
        self.session.key = key
        self.save()

    def advance(self, ms: int) -> int:
        self.undo_stack.append(self._snapshot())
        t = self.session.advance(ms)
        self.entries.append({"address": self.address, "advance": ms})
        self.save()
        return t

    def status_report(self) -> tuple:
        """(JSON data, text) for `convex status`."""
        import convex_repl
        s = self.session
        data = {"ok": True, "home": None if self.home is None else str(self.home),
                "address": self.address, "accounts": s.account_count(),
                "timestamp": s.timestamp, "juice_price": s.juice_price,
                "state": "0x" + self.state_hash(), "transactions": len(self.entries),
                "checkpoints": sorted(self.checkpoints),
                "persistence": "snapshot" if self.snapshot_path is not None
                and self.snapshot_path.exists() else "journal replay",
                "version": convex_repl.__version__}
        text = "\n".join([
            f"convex-repl {data['version']} · local CVM",
            f"home          {data['home']}",
            f"acting as     #{data['address']}",
            f"accounts      {data['accounts']}",
            f"state         {data['state']}",
            f"timestamp     {data['timestamp']}",
            f"juice price   {data['juice_price']}",
            f"transactions  {data['transactions']} saved ({data['persistence']})",
            f"checkpoints   {', '.join(data['checkpoints']) or '-'}"])
        return data, text

    # --- persistence ---------------------------------------------------------------------
    def save(self) -> None:
        if not self.save_enabled:
            return
        doc: dict = {"format": FORMAT, "address": self.address, "entries": self.entries,
                     "checkpoints": {k: _saved_checkpoint(v)
                                     for k, v in self.checkpoints.items()}}
        data = encode_state(self.session.state) if self.snapshots else None
        if data is not None:
            _atomic_write(self.snapshot_path, data)
            doc["snapshot"] = hashlib.sha3_256(data).hexdigest()
        elif self.snapshot_path.exists():
            self.snapshot_path.unlink()
        try:
            _atomic_write(self.journal_path, json.dumps(doc, indent=1).encode())
        except OSError as e:
            self.warnings.append(f"could not save the session: {e}")

    def load(self) -> None:
        path = self.journal_path
        if path is None or not path.exists():
            return
        try:
            doc = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            self.warnings.append(f"saved session unreadable ({e}); starting from genesis")
            return
        if doc.get("format") != FORMAT:
            self.warnings.append("saved session has an unknown format; starting from genesis")
            return
        entries = doc.get("entries") or []
        for name, cp in (doc.get("checkpoints") or {}).items():
            self.checkpoints[name] = {"entries": cp.get("entries") or [],
                                      "address": cp.get("address", _first_user())}
            if isinstance(cp.get("hash"), str):
                self.checkpoints[name]["hash"] = cp["hash"]
        state = None
        snap = doc.get("snapshot")
        if snap and self.snapshots and self.snapshot_path.exists():
            data = self.snapshot_path.read_bytes()
            if hashlib.sha3_256(data).hexdigest() == snap:     # this REPL wrote it
                state = _decode_saved(data, self._genesis_cells)
        if state is None:
            state = self._replay(entries, partial=True)
            entries = self._replayed_entries
        self.session.state = state
        self.entries = list(entries)
        addr = doc.get("address", _first_user())
        if self.session.state.account(addr) is not None:
            self.session.address = addr
        if self.entries or self.checkpoints:
            n, k = len(self.entries), len(self.checkpoints)
            self.notices.append(
                f"restored the saved session: {n} transaction{'s' if n != 1 else ''}"
                + (f", {k} checkpoint{'s' if k != 1 else ''}" if k else "")
                + f", acting as #{self.address}, state {short_hash(self.state_hash())} "
                "(--fresh starts from genesis)")

    _replayed_entries: list = []

    def _replay(self, entries: list, partial: bool = False) -> Any:
        """The state after replaying entries from genesis; with `partial` stops at the first
        entry that fails (warning) and keeps what replayed, else returns None on failure."""
        from lisp import read

        from convex_repl.api import Session
        s = Session(state=self.genesis)
        s.juice_limit = self.session.juice_limit
        done = []
        for i, e in enumerate(entries):
            ok = True
            try:
                if "advance" in e:
                    s.advance(int(e["advance"]))
                else:
                    s.address = int(e.get("address", _first_user()))
                    bindings = {k: _unjournaled(v, read)
                                for k, v in (e.get("bindings") or {}).items()}
                    forms, _, err = self._read(e["source"], bindings)
                    if err is not None:
                        ok = False
                    else:
                        r = s.eval_forms(forms) if e.get("unsigned") else s.transact(forms)
                        ok = r.ok == e.get("ok", True)
            except Exception:
                ok = False
            if not ok:
                if not partial:
                    return None
                self.warnings.append(
                    f"saved session replay stopped at transaction {i + 1} of {len(entries)}"
                    f" (it no longer evaluates); later ones were dropped")
                break
            done.append(e)
        self._replayed_entries = done
        return s.state


def _decode_saved(data: bytes, genesis_cells: Optional[dict]) -> Any:
    """A saved session's state: the cells it shares with genesis are genesis's own (only the
    ones that differ are decoded), else strict CAD3 decoding."""
    if genesis_cells is not None:
        from convex_repl.repl.snapshot import decode_sharing
        from kernel.state.state import State
        st = decode_sharing(data, genesis_cells)
        if isinstance(st, State):
            return st
    return decode_state(data)


def _saved_checkpoint(cp: dict) -> dict:
    out = {"entries": cp["entries"], "address": cp["address"]}
    if cp.get("hash"):
        out["hash"] = cp["hash"]
    return out


REWARD_POOL = 0     # account receiving half of every fee (the other half goes to the peer)


def _meaningful(before: Any, after: Any, addr: int) -> bool:
    """Did a transaction change more than every transaction does (the acting account's
    balance, sequence and memory; the fee arriving in the reward pool #0 and at the peer)?
    Only such transactions are journaled and undone by :undo."""
    try:
        n = len(after.accounts)
        if len(before.accounts) != n:
            return True
        a0, a1 = before.account(addr), after.account(addr)
        if a0 is None or a1 is None:
            return True
        for f in ("environment", "metadata", "holdings", "controller", "key", "parent"):
            x, y = getattr(a0, f, None), getattr(a1, f, None)
            if x is not y and x != y:
                return True
        for i in range(n):
            if i == addr:
                continue
            x, y = before.account(i), after.account(i)
            if x is y or x.value_id() == y.value_id():
                continue
            if i != REWARD_POOL or x.with_(balance=y.balance).value_id() != y.value_id():
                return True
        return False
    except Exception:
        return True


def _first_user() -> int:
    from stdlib.genesis import FIRST_USER
    return FIRST_USER


__all__ = ["Workspace", "encode_state", "decode_state", "substitute"]
