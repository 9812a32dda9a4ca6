"""State files and state differences.

A state file is the state as one CAD3 message (`encode_multi`: the top cell then every
branch cell, as the REPL's session.cad3 and GET /api/v1/data are), so a state moves between
sessions, networks and test fixtures byte for byte and keeps its hash. `diff` says what
changed between two states in terms a user reads: the globals, accounts added, and per
account its balance, sequence, key, controller, parent, allowance, holdings, metadata and
the definitions of its environment (added, removed, changed, with their values).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional


class StateFileError(Exception):
    """A file that is not a state file: one line naming the file."""


def dump(state: Any, path: Path) -> tuple:
    """Write the state to `path`: (bytes written, its hash as 0x...)."""
    from kernel.data.decoding import encode_multi
    data = bytes(encode_multi(state))
    tmp = Path(str(path) + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return len(data), "0x" + state.value_id().hex()


def load(path: Path) -> Any:
    from kernel.data.cell import DecodeError, MissingData
    from kernel.data.decoding import decode_multi
    from kernel.state.state import State
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise StateFileError(f"can't read {path}: {e.strerror}") from None
    try:
        v = decode_multi(data)
    except (DecodeError, MissingData, ValueError, IndexError) as e:
        raise StateFileError(f"{path}: not a CAD3 state file ({e})") from None
    if not isinstance(v, State):
        raise StateFileError(f"{path}: holds a {type(v).__name__}, not a state")
    return v


@dataclass
class Change:
    """One difference: where (`account` None: the state's globals), what (`field`, for a
    definition `env:name`), the value before and after (printed; None: absent)."""

    account: Optional[int]
    field: str
    before: Optional[str]
    after: Optional[str]
    delta: Optional[int] = None

    def as_json(self) -> dict:
        d = {"account": self.account, "field": self.field, "before": self.before,
             "after": self.after}
        if self.delta is not None:
            d["delta"] = self.delta
        return d

    def line(self) -> str:
        where = "state" if self.account is None else f"#{self.account}"
        if self.before is None:
            return f"{where} + {self.field} {self.after}"
        if self.after is None:
            return f"{where} - {self.field} (was {self.before})"
        d = "" if self.delta is None else f" ({self.delta:+,})"
        return f"{where} ~ {self.field} {self.before} -> {self.after}{d}"


def _p(v: Any, limit: int = 200) -> Optional[str]:
    if v is None:
        return "nil"
    from kernel.data.printer import print_head
    text, more = print_head(v, limit)
    return text + ("…" if more else "")


GLOBALS = ("timestamp", "fees", "juice-price", "memory", "memory-value", "block")


def diff(a: Any, b: Any) -> list:
    """The Changes from state a to state b (empty: the same state)."""
    out: list = []
    if a.value_id() == b.value_id():
        return out
    ga, gb = a.globals, b.globals
    for i, name in enumerate(GLOBALS):
        x = ga[i] if i < len(ga) else None
        y = gb[i] if i < len(gb) else None
        if x != y:
            delta = y - x if isinstance(x, int) and isinstance(y, int) else None
            out.append(Change(None, name, _p(x), _p(y), delta))
    na, nb = len(a.accounts), len(b.accounts)
    for n in range(max(na, nb)):
        x = a.account(n) if n < na else None
        y = b.account(n) if n < nb else None
        if x is y or (x is not None and y is not None and x.value_id() == y.value_id()):
            continue
        if x is None:
            kind = "actor" if y.is_actor else "user"
            out.append(Change(n, "account", None, f"({kind}, balance {y.balance:,}, "
                              f"{len(y.environment)} definitions)"))
            continue
        if y is None:
            out.append(Change(n, "account", "(present)", None))
            continue
        out += _account_diff(n, x, y)
    if a.peers.value_id() != b.peers.value_id():
        out += _peers_diff(a.peers, b.peers)
    if a.schedule.value_id() != b.schedule.value_id():
        out.append(Change(None, "schedule", _p(a.schedule, 80), _p(b.schedule, 80)))
    return out


def _peers_diff(pa: Any, pb: Any) -> list:
    """Per peer (by the first bytes of its key): added, removed, or each field that moved
    (stake, balance, timestamp...)."""
    out = []
    da, db = dict(pa.items()), dict(pb.items())
    for key in sorted(set(da) | set(db), key=lambda k: k.data):
        x, y = da.get(key), db.get(key)
        name = f"peer 0x{key.data.hex()[:8]}"
        if x is None or y is None:
            out.append(Change(None, name, None if x is None else "(present)",
                              None if y is None else "(staked)"))
            continue
        if x.value_id() == y.value_id():
            continue
        for kw, u, v in zip(type(x).KEYS, x._f, y._f):
            if u != v:
                delta = v - u if isinstance(u, int) and isinstance(v, int) else None
                out.append(Change(None, f"{name} {kw.name}", _p(u, 80), _p(v, 80), delta))
    return out


def _account_diff(n: int, x: Any, y: Any) -> list:
    out = []
    for f in ("balance", "sequence", "memory"):
        u, v = getattr(x, f), getattr(y, f)
        if u != v:
            out.append(Change(n, "allowance" if f == "memory" else f, f"{u:,}", f"{v:,}",
                              v - u))
    for f in ("key", "controller", "parent", "holdings", "metadata"):
        u, v = getattr(x, f), getattr(y, f)
        if u is not v and u != v:
            out.append(Change(n, f, _p(u), _p(v)))
    ea, eb = x.environment, y.environment
    if ea is not eb and ea != eb:
        names = sorted({k.name: k for k in list(ea.keys()) + list(eb.keys())}.items())
        for name, sym in names:
            u, v = ea.get(sym), eb.get(sym)
            has_u, has_v = sym in ea, sym in eb
            if has_u and has_v and (u is v or u == v):
                continue
            out.append(Change(n, "env:" + name, _p(u) if has_u else None,
                              _p(v) if has_v else None))
    return out


__all__ = ["dump", "load", "diff", "Change", "StateFileError"]
